//! Raw request parameters: a form body or query string parsed into a map that refuses
//! repeated names (RFC 6749 §3.1: "Request and response parameters MUST NOT be included
//! more than once") and oversized values.

use std::collections::HashMap;

use super::error::OAuthError;

/// Longest accepted parameter value, in bytes. Generous for `claims`/`id_token_hint`.
pub const MAX_VALUE_LEN: usize = 8 * 1024;
/// Most parameters accepted in one request.
pub const MAX_PARAMS: usize = 64;

/// Parameters by name, each present at most once. Empty values count as absent
/// (RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were
/// omitted").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    map: HashMap<String, String>,
    duplicated: Vec<String>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes (a body or a query string).
    pub fn parse(raw: &[u8]) -> Result<Self, OAuthError> {
        let mut map: HashMap<String, String> = HashMap::new();
        let mut duplicated = Vec::new();
        for (count, (k, v)) in form_urlencoded::parse(raw).enumerate() {
            if count >= MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            if v.len() > MAX_VALUE_LEN || k.len() > 128 {
                return Err(OAuthError::invalid_request(format!("parameter `{}` is too long", truncate(&k))));
            }
            if v.is_empty() {
                continue;
            }
            if map.contains_key(k.as_ref()) {
                if !duplicated.iter().any(|d: &String| d == k.as_ref()) {
                    duplicated.push(k.into_owned());
                }
                continue;
            }
            map.insert(k.into_owned(), v.into_owned());
        }
        Ok(Self { map, duplicated })
    }

    /// Builds parameters from pairs (tests and internal callers).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let raw: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        Self::parse(raw.as_bytes()).unwrap_or_default()
    }

    /// The value of a parameter that appeared exactly once; an error if it was repeated.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        if self.duplicated.iter().any(|d| d == name) {
            return Err(OAuthError::invalid_request(format!("parameter `{name}` is repeated")));
        }
        Ok(self.map.get(name).map(String::as_str))
    }

    /// Like [`Params::get`], but absence is an error too.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?.ok_or_else(|| OAuthError::invalid_request(format!("parameter `{name}` is missing")))
    }

    /// The first repeated parameter, if any.
    pub fn first_duplicate(&self) -> Option<&str> {
        self.duplicated.first().map(String::as_str)
    }

    /// Whether a parameter is present (once or more).
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_empty_parameters() {
        let p = Params::parse(b"a=1&b=2&a=3&c=&d=x%20y").unwrap();
        assert!(p.get("a").is_err());
        assert_eq!(p.get("b").unwrap(), Some("2"));
        assert_eq!(p.get("c").unwrap(), None);
        assert_eq!(p.get("d").unwrap(), Some("x y"));
        assert_eq!(p.first_duplicate(), Some("a"));
        assert!(p.require("zz").is_err());
    }

    #[test]
    fn oversized_and_too_many_are_refused() {
        let long = format!("a={}", "x".repeat(MAX_VALUE_LEN + 1));
        assert!(Params::parse(long.as_bytes()).is_err());
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert!(Params::parse(many.join("&").as_bytes()).is_err());
    }
}
