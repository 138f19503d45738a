//! Scopes (RFC 6749 §3.3): parsing, what the server offers, and narrowing a request to
//! what the client is allowed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Every scope this server knows. `vn_pin` releases the personal identification number
/// and is granted only to clients registered for it.
pub const KNOWN_SCOPES: &[&str] =
    &["openid", "profile", "email", "phone", "address", "offline_access", "vn_pin", "org"];

/// A set of scope tokens, kept in first-seen order, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Splits on spaces, dropping empties and repeats; tokens with characters outside
    /// RFC 6749's `scope-token` grammar are dropped too.
    pub fn parse(raw: &str) -> Self {
        let mut out: Vec<String> = Vec::new();
        for t in raw.split(' ') {
            let valid = !t.is_empty()
                && t.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if valid && !out.iter().any(|s| s == t) {
                out.push(t.to_owned());
            }
        }
        Self(out)
    }

    /// Whether the set has `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// The tokens.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The tokens of `self` that `allowed` also has, in `self`'s order. Unknown or
    /// disallowed scopes are dropped silently (RFC 6749 §3.3 lets the server grant less;
    /// the token response then names the granted scope).
    pub fn intersect(&self, allowed: &Scopes) -> Scopes {
        Scopes(self.0.iter().filter(|s| allowed.contains(s)).cloned().collect())
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.iter().all(|s| other.contains(s))
    }

    /// The union, `self` first.
    pub fn union(&self, other: &Scopes) -> Scopes {
        let mut out = self.0.clone();
        for s in &other.0 {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        Scopes(out)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl From<Scopes> for String {
    fn from(s: Scopes) -> String {
        s.to_string()
    }
}

impl From<String> for Scopes {
    fn from(s: String) -> Scopes {
        Scopes::parse(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_narrow() {
        let cases: &[(&str, &str, &str)] = &[
            ("openid profile", "openid profile email", "openid profile"),
            ("profile openid openid", "openid profile", "profile openid"),
            ("openid  email", "openid", "openid"),
            ("openid vn_pin", "openid profile", "openid"),
            ("openid unknown", "openid", "openid"),
            ("openid bad\"quote", "openid", "openid"),
            ("", "openid", ""),
        ];
        for (req, allowed, granted) in cases {
            let got = Scopes::parse(req).intersect(&Scopes::parse(allowed));
            assert_eq!(got.to_string(), *granted, "{req} ∩ {allowed}");
        }
        assert!(Scopes::parse("openid").is_subset_of(&Scopes::parse("openid email")));
        assert!(!Scopes::parse("openid phone").is_subset_of(&Scopes::parse("openid email")));
    }
}
