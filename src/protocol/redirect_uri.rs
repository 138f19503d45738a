//! Redirect URIs: the registration rules (absolute, no fragment, no wildcards, https or
//! loopback), exact matching of a requested URI against the registered ones, and the
//! shape of an authorization response (query or form_post).

use url::{Host, Url};

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUriProblem(pub String);

/// The kind of client, which decides which redirect URIs are acceptable (RFC 8252).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationType {
    /// A server-side or browser application reached over https.
    Web,
    /// A native application: loopback and private-use scheme redirects.
    Native,
}

fn is_loopback_ip(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

fn is_loopback(url: &Url) -> bool {
    is_loopback_ip(url) || url.host_str() == Some("localhost")
}

/// Checks one URI offered at registration. RFC 6749 §3.1.2 (absolute, no fragment),
/// RFC 9700 §2.1 (exact, no patterns), RFC 8252 §7 (native loopback and private-use
/// schemes), OIDC Registration §2 (web: https; http only on loopback for development).
pub fn check_registrable(raw: &str, app: ApplicationType) -> Result<Url, RedirectUriProblem> {
    let problem = |m: &str| RedirectUriProblem(format!("{m}: {raw}"));
    if raw.len() > 2000 {
        return Err(problem("redirect URI is too long"));
    }
    let url = Url::parse(raw).map_err(|_| problem("not an absolute URI"))?;
    if url.fragment().is_some() || raw.contains('#') {
        return Err(problem("a redirect URI must not contain a fragment"));
    }
    if raw.contains('*') {
        return Err(problem("wildcards are not allowed in redirect URIs"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(problem("credentials are not allowed in redirect URIs"));
    }
    match url.scheme() {
        "javascript" | "data" | "file" | "vbscript" | "about" | "blob" | "ftp" | "ws" | "wss" => {
            Err(problem("this scheme cannot be a redirect URI"))
        }
        "https" => {
            if url.host().is_none() {
                Err(problem("a https redirect URI needs a host"))
            } else {
                Ok(url)
            }
        }
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(problem("http is only allowed for loopback redirect URIs; use https")),
        scheme if app == ApplicationType::Native && scheme.contains('.') => Ok(url),
        _ => Err(problem("unsupported scheme (native apps may use a reverse-DNS private-use scheme)")),
    }
}

/// Whether `requested` is one of `registered`. Exact string comparison (RFC 9700
/// §4.1.3), with one exception: a native client's loopback IP redirect may use any port
/// (RFC 8252 §7.3).
pub fn matches_registered(requested: &str, registered: &[String], app: ApplicationType) -> bool {
    if registered.iter().any(|r| r == requested) {
        return true;
    }
    if app != ApplicationType::Native {
        return false;
    }
    let Ok(mut req) = Url::parse(requested) else { return false };
    if req.scheme() != "http" || !is_loopback_ip(&req) || req.fragment().is_some() {
        return false;
    }
    if req.set_port(None).is_err() {
        return false;
    }
    registered.iter().any(|r| {
        let Ok(mut reg) = Url::parse(r) else { return false };
        if reg.scheme() != "http" || !is_loopback_ip(&reg) {
            return false;
        }
        reg.set_port(None).is_ok() && reg == req
    })
}

/// How the authorization response reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ResponseMode {
    /// Parameters in the redirect URI's query (default for `code`).
    Query,
    /// An auto-submitting HTML form POSTed to the redirect URI (OAuth 2.0 Form Post).
    FormPost,
}

impl ResponseMode {
    /// Parses `response_mode`; `None` when the value is not supported.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "query" => Some(Self::Query),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }
}

/// An authorization response, ready for the HTTP layer to put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationResponse {
    /// 302/303 to this URL.
    Redirect(String),
    /// An HTML page that POSTs `fields` to `action`.
    FormPost {
        /// The client's redirect URI.
        action: String,
        /// Response parameters.
        fields: Vec<(String, String)>,
    },
}

/// Builds the response for a validated redirect URI.
pub fn build_response(redirect_uri: &str, mode: ResponseMode, fields: Vec<(String, String)>) -> AuthorizationResponse {
    match mode {
        ResponseMode::FormPost => AuthorizationResponse::FormPost { action: redirect_uri.to_owned(), fields },
        ResponseMode::Query => {
            let extra = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .finish();
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            AuthorizationResponse::Redirect(format!("{redirect_uri}{sep}{extra}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApplicationType::{Native, Web};

    fn reg(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matching_is_exact_with_many_mutations() {
        let registered = reg(&["https://portal.example.vn/cb", "https://portal.example.vn/cb?x=1"]);
        let cases: &[(&str, bool)] = &[
            ("https://portal.example.vn/cb", true),
            ("https://portal.example.vn/cb?x=1", true),
            ("https://portal.example.vn/cb/", false),
            ("https://portal.example.vn/CB", false),
            ("https://PORTAL.example.vn/cb", false),
            ("http://portal.example.vn/cb", false),
            ("https://portal.example.vn:443/cb", false),
            ("https://portal.example.vn:8443/cb", false),
            ("https://portal.example.vn/cb?x=2", false),
            ("https://portal.example.vn/cb?x=1&y=2", false),
            ("https://portal.example.vn/cb#frag", false),
            ("https://portal.example.vn/cb/../cb", false),
            ("https://portal.example.vn/cb%2F", false),
            ("https://portal.example.vn.evil.vn/cb", false),
            ("https://evil.vn/https://portal.example.vn/cb", false),
            ("https://user@portal.example.vn/cb", false),
            ("https://portal.example.vn/c", false),
            ("https://portal.example.vn/cbx", false),
            (" https://portal.example.vn/cb", false),
            ("https://portal.example.vn/cb ", false),
            ("", false),
        ];
        for (uri, expected) in cases {
            assert_eq!(matches_registered(uri, &registered, Web), *expected, "{uri}");
        }
    }

    #[test]
    fn loopback_port_varies_only_for_native_ip_literals() {
        let registered = reg(&["http://127.0.0.1/cb", "http://[::1]:8000/cb", "http://localhost:3000/cb"]);
        let cases: &[(&str, ApplicationType, bool)] = &[
            ("http://127.0.0.1:51234/cb", Native, true),
            ("http://127.0.0.1/cb", Native, true),
            ("http://[::1]:4000/cb", Native, true),
            ("http://127.0.0.1:51234/cb", Web, false),
            ("http://127.0.0.1:51234/other", Native, false),
            ("http://127.0.0.1:51234/cb?x", Native, false),
            ("http://localhost:3001/cb", Native, false),
            ("http://localhost:3000/cb", Native, true),
            ("https://127.0.0.1:51234/cb", Native, false),
            ("http://127.0.0.2:51234/cb", Native, false),
        ];
        for (uri, app, expected) in cases {
            assert_eq!(matches_registered(uri, &registered, *app), *expected, "{uri} {app:?}");
        }
    }

    #[test]
    fn registration_rules() {
        let cases: &[(&str, ApplicationType, bool)] = &[
            ("https://portal.example.vn/cb", Web, true),
            ("http://127.0.0.1:8080/cb", Web, true),
            ("http://localhost/cb", Web, true),
            ("http://portal.example.vn/cb", Web, false),
            ("https://portal.example.vn/cb#x", Web, false),
            ("https://portal.example.vn/cb#", Web, false),
            ("https://*.example.vn/cb", Web, false),
            ("javascript:alert(1)", Web, false),
            ("javascript:alert(1)", Native, false),
            ("data:text/html,hi", Native, false),
            ("/relative/cb", Web, false),
            ("https://u:p@portal.example.vn/cb", Web, false),
            ("vn.gov.dichvucong:/cb", Native, true),
            ("vn.gov.dichvucong:/cb", Web, false),
            ("myapp:/cb", Native, false),
        ];
        for (uri, app, ok) in cases {
            assert_eq!(check_registrable(uri, *app).is_ok(), *ok, "{uri} {app:?}");
        }
    }

    #[test]
    fn responses_keep_existing_query() {
        let r = build_response("https://rp.vn/cb?x=1", ResponseMode::Query, vec![("code".into(), "a b".into())]);
        assert_eq!(r, AuthorizationResponse::Redirect("https://rp.vn/cb?x=1&code=a+b".into()));
        let r = build_response("https://rp.vn/cb", ResponseMode::Query, vec![("state".into(), "s&t".into())]);
        assert_eq!(r, AuthorizationResponse::Redirect("https://rp.vn/cb?state=s%26t".into()));
    }
}
