//! Cookies: reading the `Cookie` header and writing `Set-Cookie` with secure attributes.
//! Over HTTPS the names carry the `__Host-` prefix (Secure, Path=/, no Domain).

use axum::http::{HeaderMap, HeaderValue, header};

/// Which cookie.
#[derive(Debug, Clone, Copy)]
pub enum Cookie {
    /// The single sign-on session.
    Session,
    /// A random browser identifier that binds interactions to the browser that began them.
    Browser,
}

/// Cookie naming and attributes for this deployment.
#[derive(Debug, Clone, Copy)]
pub struct CookieJar {
    /// Whether the issuer is https (Secure and `__Host-`).
    pub secure: bool,
}

impl CookieJar {
    /// The cookie's name.
    pub fn name(self, c: Cookie) -> &'static str {
        match (c, self.secure) {
            (Cookie::Session, true) => "__Host-dd_session",
            (Cookie::Session, false) => "dd_session",
            (Cookie::Browser, true) => "__Host-dd_browser",
            (Cookie::Browser, false) => "dd_browser",
        }
    }

    /// The value of cookie `c` in the request, if present and well-formed.
    pub fn get(self, headers: &HeaderMap, c: Cookie) -> Option<&str> {
        let name = self.name(c);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            // Our values are 43 base64url characters; anything else is not ours.
            .filter(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure over https;
    /// `max_age` None makes a browser-session cookie.
    pub fn set(self, c: Cookie, value: &str, max_age: Option<i64>) -> HeaderValue {
        let mut s = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax", self.name(c));
        if self.secure {
            s.push_str("; Secure");
        }
        if let Some(m) = max_age {
            s.push_str(&format!("; Max-Age={m}"));
        }
        HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_attributes() {
        let v = "a".repeat(43);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; dd_session={v}; __Host-dd_session=zzz")).unwrap(),
        );
        let plain = CookieJar { secure: false };
        assert_eq!(plain.get(&h, Cookie::Session), Some(v.as_str()));
        let secure = CookieJar { secure: true };
        assert_eq!(secure.get(&h, Cookie::Session), None, "malformed value is ignored");
        let set = secure.set(Cookie::Session, &v, Some(60));
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-dd_session="));
        for attr in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure", "Max-Age=60"] {
            assert!(set.contains(attr), "{attr}");
        }
        assert!(!plain.set(Cookie::Browser, &v, None).to_str().unwrap().contains("Secure"));
    }
}
