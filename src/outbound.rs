//! Outbound HTTP fetches of documents that clients point us at (`sector_identifier_uri`,
//! `jwks_uri`): the one place the server dials a URL chosen by someone else, so the one
//! place that guards against server-side request forgery.
//!
//! [`fetch_json`] allows https only, resolves the host itself and refuses loopback,
//! private, link-local, shared, documentation and other non-public addresses before
//! connecting, then pins the connection to the address it checked (no second DNS answer
//! can move it). Redirects are not followed, the body is capped, and the whole exchange
//! (resolution included) has one deadline. [`FetchLimits::allow_private`]
//! (`DINHDANH_ALLOW_PRIVATE_FETCH`, development and tests only) lifts the address rule
//! and also allows plain `http://`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::redirect::Policy;
use url::{Host, Url};

use crate::config::Config;

/// Default deadline of one fetch, resolution to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default body cap: sector documents and JWK Sets are small.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024;

/// What a fetch may cost and where it may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Deadline of the whole fetch.
    pub timeout: Duration,
    /// Largest body accepted.
    pub max_bytes: usize,
    /// Development only: allow loopback/private targets and plain http.
    pub allow_private: bool,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self { timeout: DEFAULT_TIMEOUT, max_bytes: DEFAULT_MAX_BYTES, allow_private: false }
    }
}

impl FetchLimits {
    /// The limits of this configuration (`DINHDANH_ALLOW_PRIVATE_FETCH`,
    /// `DINHDANH_FETCH_TIMEOUT_MS`).
    pub fn from_config(config: &Config) -> Self {
        Self { timeout: config.fetch_timeout, max_bytes: DEFAULT_MAX_BYTES, allow_private: config.allow_private_fetch }
    }
}

/// Why a document could not be fetched. Messages are safe to show to the client that
/// registered the URL (they name the URL's problem, never our network).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Not an absolute https URL (or http where allowed), or it carries credentials.
    #[error("{0}")]
    BadUrl(String),
    /// The host resolves to an address we do not dial.
    #[error("the host resolves to a non-public address")]
    Forbidden,
    /// The host does not resolve, or the connection failed.
    #[error("the document could not be fetched: {0}")]
    Unreachable(String),
    /// The deadline passed.
    #[error("fetching the document took too long")]
    Timeout,
    /// A 3xx answer: redirects are not followed.
    #[error("the document URL answered with a redirect, which is not followed")]
    Redirect,
    /// Another non-2xx answer.
    #[error("the document URL answered HTTP {0}")]
    Status(u16),
    /// The body is over the cap.
    #[error("the document is larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not JSON.
    #[error("the document is not JSON")]
    NotJson,
}

/// Whether `ip` is a globally routable unicast address: not loopback, private (RFC 1918,
/// RFC 4193), link-local, shared (RFC 6598), unspecified, multicast, broadcast,
/// documentation, benchmarking or reserved, and not an IPv6 form that embeds such an
/// IPv4 address (mapped, compatible, NAT64, 6to4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space, RFC 6598
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, RFC 2544
        || a >= 240) // reserved, and broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return false;
    }
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible): judge the IPv4 address.
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return is_public_v4(embedded(s[6], s[7]));
    }
    // NAT64 64:ff9b::/96 and 6to4 2002::/16 reach an embedded IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    !((s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || (s[0] == 0x0100 && s[1..4] == [0; 3])) // discard-only 100::/64
}

/// Parses and checks a URL to fetch: https (http only with `allow_private`), a host, no
/// credentials, no fragment.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, FetchError> {
    let url = Url::parse(raw).map_err(|_| FetchError::BadUrl("not an absolute URL".into()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(FetchError::BadUrl("only https URLs are fetched".into())),
    }
    if url.host().is_none() {
        return Err(FetchError::BadUrl("the URL has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::BadUrl("the URL must not carry credentials".into()));
    }
    if url.fragment().is_some() {
        return Err(FetchError::BadUrl("the URL must not have a fragment".into()));
    }
    Ok(url)
}

/// Resolves the URL's host to the one address to dial, refusing non-public ones unless
/// allowed. Every resolved address must pass, so a name cannot mix a public answer with
/// a private one.
async fn resolve(url: &Url, allow_private: bool) -> Result<SocketAddr, FetchError> {
    let port = url.port_or_known_default().ok_or_else(|| FetchError::BadUrl("the URL has no port".into()))?;
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| FetchError::Unreachable("the host name does not resolve".into()))?
            .collect(),
        None => return Err(FetchError::BadUrl("the URL has no host".into())),
    };
    if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(FetchError::Forbidden);
    }
    addrs.into_iter().next().ok_or_else(|| FetchError::Unreachable("the host name does not resolve".into()))
}

/// Fetches `url` and parses its body as JSON, within `limits` (see the module doc).
pub async fn fetch_json(url: &str, limits: &FetchLimits) -> Result<serde_json::Value, FetchError> {
    let url = check_url(url, limits.allow_private)?;
    match tokio::time::timeout(limits.timeout, fetch(url, limits)).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout),
    }
}

async fn fetch(url: Url, limits: &FetchLimits) -> Result<serde_json::Value, FetchError> {
    let addr = resolve(&url, limits.allow_private).await?;
    let mut builder = reqwest::Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .timeout(limits.timeout)
        .connect_timeout(limits.timeout)
        .user_agent(concat!("dinhdanh/", env!("CARGO_PKG_VERSION")));
    if let Some(Host::Domain(name)) = url.host() {
        // Dial exactly the address that was checked (the port comes from the URL).
        builder = builder.resolve(name, addr);
    }
    let client = builder.build().map_err(|e| FetchError::Unreachable(e.to_string()))?;
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json, application/jwk-set+json")
        .send()
        .await
        .map_err(|e| if e.is_timeout() { FetchError::Timeout } else { FetchError::Unreachable(connect_problem(&e)) })?;
    let status = response.status();
    if status.is_redirection() {
        return Err(FetchError::Redirect);
    }
    if !status.is_success() {
        return Err(FetchError::Status(status.as_u16()));
    }
    if response.content_length().is_some_and(|n| n > limits.max_bytes as u64) {
        return Err(FetchError::TooLarge(limits.max_bytes));
    }
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| if e.is_timeout() { FetchError::Timeout } else { FetchError::Unreachable(connect_problem(&e)) })?
    {
        if body.len() + chunk.len() > limits.max_bytes {
            return Err(FetchError::TooLarge(limits.max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| FetchError::NotJson)
}

/// POSTs a form to `url` under the same address rules as [`fetch_json`] (no redirects
/// followed); returns the response status. Used for back-channel logout deliveries to the
/// URI a client registered.
pub async fn post_form(url: &str, form: &[(&str, &str)], limits: &FetchLimits) -> Result<u16, FetchError> {
    let url = check_url(url, limits.allow_private)?;
    let send = async {
        let addr = resolve(&url, limits.allow_private).await?;
        let mut builder = reqwest::Client::builder()
            .redirect(Policy::none())
            .no_proxy()
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            .user_agent(concat!("dinhdanh/", env!("CARGO_PKG_VERSION")));
        if let Some(Host::Domain(name)) = url.host() {
            builder = builder.resolve(name, addr);
        }
        let client = builder.build().map_err(|e| FetchError::Unreachable(e.to_string()))?;
        let response = client.post(url.clone()).form(form).send().await.map_err(|e| {
            if e.is_timeout() { FetchError::Timeout } else { FetchError::Unreachable(connect_problem(&e)) }
        })?;
        Ok(response.status().as_u16())
    };
    match tokio::time::timeout(limits.timeout, send).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout),
    }
}

/// How a request to an upstream identity provider authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Credentials<'a> {
    /// None.
    None,
    /// HTTP Basic (`client_secret_basic`; RFC 6749 §2.3.1 form-encodes both parts).
    Basic {
        /// Client id.
        user: &'a str,
        /// Secret.
        password: &'a str,
    },
    /// `Authorization: Bearer` (userinfo).
    Bearer(&'a str),
}

/// POSTs a form (a token request) under the same address rules as [`fetch_json`] and
/// returns the status with the JSON body — also for 4xx answers, whose body carries the
/// OAuth error.
pub async fn post_form_json(
    url: &str,
    form: &[(&str, &str)],
    credentials: Credentials<'_>,
    limits: &FetchLimits,
) -> Result<(u16, serde_json::Value), FetchError> {
    let url = check_url(url, limits.allow_private)?;
    let send = exchange(url, Some(form), credentials, limits);
    match tokio::time::timeout(limits.timeout, send).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout),
    }
}

/// GETs JSON with credentials (a userinfo request), under the rules of [`fetch_json`].
pub async fn get_json_with(
    url: &str,
    credentials: Credentials<'_>,
    limits: &FetchLimits,
) -> Result<serde_json::Value, FetchError> {
    let url = check_url(url, limits.allow_private)?;
    match tokio::time::timeout(limits.timeout, exchange(url, None, credentials, limits)).await {
        Ok(Ok((200..=299, v))) => Ok(v),
        Ok(Ok((status, _))) => Err(FetchError::Status(status)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(FetchError::Timeout),
    }
}

async fn exchange(
    url: Url,
    form: Option<&[(&str, &str)]>,
    credentials: Credentials<'_>,
    limits: &FetchLimits,
) -> Result<(u16, serde_json::Value), FetchError> {
    let addr = resolve(&url, limits.allow_private).await?;
    let mut builder = reqwest::Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .timeout(limits.timeout)
        .connect_timeout(limits.timeout)
        .user_agent(concat!("dinhdanh/", env!("CARGO_PKG_VERSION")));
    if let Some(Host::Domain(name)) = url.host() {
        builder = builder.resolve(name, addr);
    }
    let client = builder.build().map_err(|e| FetchError::Unreachable(e.to_string()))?;
    let mut request = match form {
        Some(f) => client.post(url).form(f),
        None => client.get(url),
    };
    request = request.header(reqwest::header::ACCEPT, "application/json");
    request = match credentials {
        Credentials::None => request,
        Credentials::Basic { user, password } => {
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request.basic_auth(enc(user), Some(enc(password)))
        }
        Credentials::Bearer(token) => request.bearer_auth(token),
    };
    let transport = |e: reqwest::Error| {
        if e.is_timeout() { FetchError::Timeout } else { FetchError::Unreachable(connect_problem(&e)) }
    };
    let mut response = request.send().await.map_err(transport)?;
    let status = response.status();
    if status.is_redirection() {
        return Err(FetchError::Redirect);
    }
    if response.content_length().is_some_and(|n| n > limits.max_bytes as u64) {
        return Err(FetchError::TooLarge(limits.max_bytes));
    }
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > limits.max_bytes {
            return Err(FetchError::TooLarge(limits.max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    match serde_json::from_slice(&body) {
        Ok(v) => Ok((status.as_u16(), v)),
        Err(_) if !status.is_success() => Err(FetchError::Status(status.as_u16())),
        Err(_) => Err(FetchError::NotJson),
    }
}

/// A short, client-safe reason for a transport failure.
fn connect_problem(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "the connection failed".into()
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read".into()
    } else {
        "the request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for (ip, public) in [
            ("8.8.8.8", true),
            ("203.113.131.1", true),
            ("127.0.0.1", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false), // cloud metadata
            ("100.64.0.1", false),
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("255.255.255.255", false),
            ("224.0.0.1", false),
            ("192.0.2.1", false),
            ("198.18.0.1", false),
            ("240.0.0.1", false),
            ("2001:4860:4860::8888", true),
            ("::1", false),
            ("::", false),
            ("fd00::1", false),
            ("fe80::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            ("2001:db8::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("::127.0.0.1", false),
            ("64:ff9b::a9fe:a9fe", false), // NAT64 of 169.254.169.254
            ("2002:7f00:1::", false),      // 6to4 of 127.0.0.1
            ("2001::1", false),            // Teredo
        ] {
            assert_eq!(is_public(ip.parse().unwrap()), public, "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_before_any_io() {
        assert!(check_url("https://sector.tinh.gov.vn/redirects.json", false).is_ok());
        for bad in [
            "http://sector.tinh.gov.vn/x",
            "ftp://a.vn/x",
            "https://user:pw@a.vn/x",
            "https://a.vn/x#frag",
            "/relative",
            "javascript:alert(1)",
            "data:application/json,[]",
        ] {
            assert!(matches!(check_url(bad, false), Err(FetchError::BadUrl(_))), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
    }

    #[tokio::test]
    async fn private_targets_are_refused_before_connecting() {
        let limits = FetchLimits::default();
        for url in ["https://127.0.0.1:1/x", "https://[::1]:1/x", "https://10.0.0.1/x", "https://localhost:1/x"] {
            assert_eq!(fetch_json(url, &limits).await, Err(FetchError::Forbidden), "{url}");
        }
    }
}
