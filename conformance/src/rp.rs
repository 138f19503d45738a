//! The relying party shared by every check: discovery, client set-up,
//! authorization request building, response parsing (query and
//! `form_post`), the code exchange, ID token validation (OIDC Core 3.1.3.7)
//! and userinfo calls, built on the `openidconnect` crate.
//!
//! Checks return `Result<(), Stop>`: `Ok` is a pass, [`Stop::Fail`] a
//! failure and [`Stop::Skip`] a skip, so `?` ends a check at the first
//! broken assertion.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreHmacKey,
    CoreIdToken, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType, CoreTokenResponse,
    CoreTokenType, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AsyncHttpClient, AuthType, AuthorizationCode, AuthorizationRequest, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError, HttpRequest, HttpResponse,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PrivateSigningKey, RedirectUrl,
    RequestTokenError, StandardErrorResponse, SubjectIdentifier, TokenResponse,
};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderMap};
use serde_json::Value;
use url::Url;

use crate::Options;
use crate::browser::{Browser, Credentials, Landing, Start, Visit};

/// Why a check stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    Fail(String),
    Skip(String),
}

impl From<String> for Stop {
    fn from(msg: String) -> Self {
        Stop::Fail(msg)
    }
}

/// The outcome of a check body.
pub(crate) type Check = Result<(), Stop>;

/// Fails the current check with a formatted message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::rp::Stop::Fail(format!($($arg)+)));
        }
    };
}
pub(crate) use ensure;

/// Builds a failure.
pub(crate) fn fail<T>(msg: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Fail(msg.into()))
}

/// Builds a skip.
pub(crate) fn skip<T>(msg: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Skip(msg.into()))
}

/// An error and all its sources on one line.
pub(crate) fn error_chain(err: &dyn StdError) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A client configured from discovery: authorization endpoint set, token and
/// userinfo endpoints as discovered.
pub(crate) type OidcClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// An authorization request being built.
pub(crate) type AuthRequest<'a> = AuthorizationRequest<'a, CoreAuthDisplay, CoreAuthPrompt, CoreResponseType>;

/// The token endpoint error type of the core client.
pub(crate) type TokenError =
    RequestTokenError<HttpClientError<reqwest::Error>, StandardErrorResponse<CoreErrorResponseType>>;

/// Which of the configured clients to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    /// The `client_secret_basic` client.
    Basic,
    /// The optional `client_secret_post` client.
    Post,
}

/// What discovery returned.
pub(crate) struct Op {
    pub meta: CoreProviderMetadata,
    /// The raw discovery document, for members the crate does not model.
    pub raw: Value,
}

impl Op {
    /// A boolean discovery member (`None` when absent or not a boolean).
    pub(crate) fn flag(&self, name: &str) -> Option<bool> {
        self.raw.get(name).and_then(Value::as_bool)
    }

    /// A string-array discovery member (`None` when absent).
    pub(crate) fn strings(&self, name: &str) -> Option<Vec<String>> {
        self.raw
            .get(name)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
    }

    /// A string discovery member (`None` when absent or not a string).
    pub(crate) fn string(&self, name: &str) -> Option<&str> {
        self.raw.get(name).and_then(Value::as_str)
    }

    /// Whether `name` lists `value` (false when the member is absent).
    pub(crate) fn lists(&self, name: &str, value: &str) -> bool {
        self.strings(name).is_some_and(|v| v.iter().any(|s| s == value))
    }
}

/// Everything a check needs: the options, a back-channel HTTP client and
/// the discovered OP.
pub(crate) struct Ctx<'o> {
    pub opts: &'o Options,
    pub http: reqwest::Client,
    pub op: Result<Op, String>,
}

/// A prepared authorization request.
pub(crate) struct Prepared {
    pub url: Url,
    /// The `state` sent (None when the request carries none in the query).
    pub state: Option<String>,
    /// The `nonce` sent (None when the request carries none).
    pub nonce: Option<Nonce>,
    /// The PKCE code verifier matching the `code_challenge` sent.
    pub verifier: String,
}

impl Prepared {
    /// The first value of a query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    /// Removes a query parameter (and forgets the state/nonce if that is
    /// what was removed).
    pub(crate) fn remove_param(&mut self, name: &str) {
        let kept: Vec<(String, String)> =
            self.url.query_pairs().filter(|(k, _)| k != name).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        self.url.query_pairs_mut().clear().extend_pairs(kept);
        match name {
            "state" => self.state = None,
            "nonce" => self.nonce = None,
            _ => {}
        }
    }

    /// Sets a query parameter, replacing any existing value in place.
    pub(crate) fn set_param(&mut self, name: &str, value: &str) {
        let mut pairs: Vec<(String, String)> =
            self.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        match pairs.iter_mut().find(|(k, _)| k == name) {
            Some(pair) => pair.1 = value.to_string(),
            None => pairs.push((name.to_string(), value.to_string())),
        }
        self.url.query_pairs_mut().clear().extend_pairs(pairs);
        match name {
            "state" => self.state = Some(value.to_string()),
            "nonce" => self.nonce = Some(Nonce::new(value.to_string())),
            _ => {}
        }
    }

    /// Whether `max_age` is part of the request.
    pub(crate) fn has_max_age(&self) -> bool {
        self.param("max_age").is_some()
    }

    /// The authorization endpoint without the query, and the query as form
    /// fields (for `POST` requests and request objects).
    pub(crate) fn split(&self) -> (Url, Vec<(String, String)>) {
        let mut endpoint = self.url.clone();
        let pairs = self.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        endpoint.set_query(None);
        (endpoint, pairs)
    }
}

/// The authorization response as the client received it.
#[derive(Debug, Default)]
pub(crate) struct Callback {
    pub params: Vec<(String, String)>,
    /// Parameters found in the URL fragment (never right for `code`).
    pub fragment: Vec<(String, String)>,
    /// Where the response was delivered.
    pub target: String,
}

impl Callback {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn from_landing(landing: &Landing) -> Option<Callback> {
        match landing {
            Landing::Redirect { url } => Some(Callback {
                params: url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
                fragment: url
                    .fragment()
                    .map(|f| {
                        url::form_urlencoded::parse(f.as_bytes())
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .filter(|(k, _)| !k.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
                target: url.to_string(),
            }),
            Landing::FormPost { action, params } => {
                Some(Callback { params: params.clone(), fragment: Vec::new(), target: action.clone() })
            }
            _ => None,
        }
    }
}

/// An error returned to the redirect URI.
#[derive(Debug)]
pub(crate) struct AuthError {
    pub error: String,
    pub description: Option<String>,
}

/// A token endpoint response with the HTTP details the crate drops.
pub(crate) struct Tokens {
    pub response: CoreTokenResponse,
    pub status: u16,
    pub headers: HeaderMap,
}

/// A validated ID token.
pub(crate) struct IdInfo {
    pub token: CoreIdToken,
    pub claims: CoreIdTokenClaims,
    /// The JOSE header, decoded.
    pub header: Value,
}

impl IdInfo {
    pub(crate) fn sub(&self) -> &str {
        self.claims.subject().as_str()
    }

    pub(crate) fn auth_time(&self) -> Option<i64> {
        self.claims.auth_time().map(|t| t.timestamp())
    }

    pub(crate) fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }
}

/// A whole successful code flow.
pub(crate) struct Flow {
    pub visit: Visit,
    pub tokens: Tokens,
    pub id: IdInfo,
}

/// What the ID token's `nonce` must be.
#[derive(Clone, Copy)]
pub(crate) enum NonceRule<'a> {
    /// Exactly this value (OIDC Core 3.1.3.7 step 11).
    Equals(&'a Nonce),
    /// No nonce claim (none was sent).
    Absent,
    /// Not checked (refreshed ID tokens).
    Any,
}

/// An HTTP client for the crate's requests that remembers the status and
/// headers of the last response, for assertions the crate does not make.
pub(crate) struct Recorder<'a> {
    inner: &'a reqwest::Client,
    last: Mutex<Option<(u16, HeaderMap, Vec<u8>)>>,
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(inner: &'a reqwest::Client) -> Self {
        Self { inner, last: Mutex::new(None) }
    }

    /// Status, headers and body of the last response.
    pub(crate) fn last(&self) -> Option<(u16, HeaderMap, Vec<u8>)> {
        self.last.lock().ok().and_then(|g| g.clone())
    }
}

impl<'c> AsyncHttpClient<'c> for Recorder<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.inner.call(request).await?;
            if let Ok(mut last) = self.last.lock() {
                *last = Some((response.status().as_u16(), response.headers().clone(), response.body().clone()));
            }
            Ok(response)
        })
    }
}

/// Whether a header's media type (before any parameters) is `essence`.
pub(crate) fn has_media_type(headers: &HeaderMap, essence: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(essence))
}

/// The decoded JOSE header of a compact JWS/JWT.
pub(crate) fn jose_header(compact: &str) -> Result<Value, String> {
    let first = compact.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(first).map_err(|e| format!("JOSE header is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("JOSE header is not JSON: {e}"))
}

/// An unsigned (`alg: none`) JWT carrying `claims`.
pub(crate) fn unsigned_jwt(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
    format!("{header}.{payload}.")
}

/// A fresh random string (URL safe).
pub(crate) fn random(bytes: u32) -> String {
    CsrfToken::new_random_len(bytes).secret().clone()
}

/// Claims a scope value makes available (OIDC Core 5.4).
pub(crate) fn scope_claims(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
        "email" => &["email", "email_verified"],
        "address" => &["address"],
        "phone" => &["phone_number", "phone_number_verified"],
        _ => &[],
    }
}

impl<'o> Ctx<'o> {
    /// Builds the back-channel client and runs discovery (with the crate,
    /// plus a raw fetch of the same document for extension members).
    pub(crate) async fn new(opts: &'o Options) -> Self {
        let http = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .user_agent("dinhdanh-conformance/0.1")
            .build()
        {
            Ok(http) => http,
            Err(e) => {
                return Self {
                    opts,
                    http: reqwest::Client::new(),
                    op: Err(format!("cannot build an HTTP client: {e}")),
                };
            }
        };
        let op = discover(&http, &opts.issuer).await;
        Self { opts, http, op }
    }

    /// The discovered OP, or a failure explaining why discovery failed.
    pub(crate) fn op(&self) -> Result<&Op, Stop> {
        self.op.as_ref().map_err(|e| Stop::Fail(format!("discovery failed: {e}")))
    }

    pub(crate) fn creds(&self) -> Credentials<'_> {
        Credentials { username: &self.opts.username, password: &self.opts.password }
    }

    /// A fresh browser (empty cookie jar).
    pub(crate) fn browser(&self) -> Result<Browser, Stop> {
        Ok(Browser::new(&self.opts.redirect_uri)?)
    }

    /// A fresh browser that also stops at the given client-side URIs (a
    /// post-logout redirect URI, another client's redirect URI).
    pub(crate) fn browser_with(&self, also: &[&str]) -> Result<Browser, Stop> {
        let mut stops = vec![self.opts.redirect_uri.as_str()];
        stops.extend_from_slice(also);
        Ok(Browser::with_stops(&stops)?)
    }

    /// The `openidconnect` client for one of the configured clients.
    pub(crate) fn client(&self, which: Which) -> Result<OidcClient, Stop> {
        let (id, secret, auth) = match which {
            Which::Basic => (self.opts.client_id.clone(), self.opts.client_secret.clone(), AuthType::BasicAuth),
            Which::Post => match (&self.opts.client_post_id, &self.opts.client_post_secret) {
                (Some(id), Some(secret)) => (id.clone(), secret.clone(), AuthType::RequestBody),
                _ => {
                    return skip("no client_secret_post client configured (--client-post-id/--client-post-secret)");
                }
            },
        };
        self.client_for(&id, Some(&secret), &self.opts.redirect_uri, auth)
    }

    /// The `openidconnect` client for any client (one registered by a check,
    /// say). Without a secret and with [`AuthType::RequestBody`] the crate
    /// sends only `client_id`, so a client assertion can be added.
    pub(crate) fn client_for(
        &self,
        client_id: &str,
        secret: Option<&str>,
        redirect_uri: &str,
        auth: AuthType,
    ) -> Result<OidcClient, Stop> {
        let op = self.op()?;
        let redirect = RedirectUrl::new(redirect_uri.to_string()).map_err(|e| format!("bad redirect_uri: {e}"))?;
        Ok(CoreClient::from_provider_metadata(
            op.meta.clone(),
            ClientId::new(client_id.to_string()),
            secret.map(|s| ClientSecret::new(s.to_string())),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(auth))
    }

    /// The configured secret of a client.
    fn secret_for(&self, client_id: &str) -> &str {
        if self.opts.client_post_id.as_deref() == Some(client_id) {
            self.opts.client_post_secret.as_deref().unwrap_or_default()
        } else {
            &self.opts.client_secret
        }
    }

    /// Builds a code-flow authorization request (with state, nonce and an
    /// S256 PKCE challenge), letting `customize` add parameters.
    pub(crate) fn prepare<'c, F>(&self, client: &'c OidcClient, customize: F) -> Prepared
    where
        F: FnOnce(AuthRequest<'c>) -> AuthRequest<'c>,
    {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        let (url, state, nonce) = customize(request).url();
        Prepared { url, state: Some(state.secret().clone()), nonce: Some(nonce), verifier: verifier.secret().clone() }
    }

    /// Sends the browser to the authorization endpoint (GET).
    pub(crate) async fn authorize(&self, browser: &Browser, prep: &Prepared) -> Result<Visit, Stop> {
        Ok(browser.visit(Start::Get(prep.url.clone()), self.creds()).await?)
    }

    /// Sends the browser to the authorization endpoint with the request as
    /// a form POST (OIDC Core 3.1.2.1).
    pub(crate) async fn authorize_post(&self, browser: &Browser, prep: &Prepared) -> Result<Visit, Stop> {
        let (endpoint, fields) = prep.split();
        Ok(browser.visit(Start::Post(endpoint, fields), self.creds()).await?)
    }

    /// The authorization response, failing unless the OP sent one to the
    /// redirect URI.
    pub(crate) fn callback(&self, visit: &Visit) -> Result<Callback, Stop> {
        match Callback::from_landing(&visit.landing) {
            Some(cb) => Ok(cb),
            None => {
                let hint = if visit.logins >= 2 {
                    format!(
                        " (the login form was submitted {} times: are the username and password right?)",
                        visit.logins
                    )
                } else {
                    String::new()
                };
                fail(format!(
                    "expected the OP to send the user back to the redirect_uri, got {}{hint}",
                    visit.landing.describe()
                ))
            }
        }
    }

    /// Checks `state` (RFC 6749 4.1.2) and the RFC 9207 `iss` parameter.
    pub(crate) fn check_state_and_iss(&self, cb: &Callback, expected_state: Option<&str>) -> Check {
        if let Some(expected) = expected_state {
            match cb.get("state") {
                Some(got) => ensure!(
                    got == expected,
                    "state in the authorization response ({got:?}) differs from the one sent ({expected:?})"
                ),
                None => {
                    return fail("the authorization response has no state although one was sent");
                }
            }
        }
        let op = self.op()?;
        let issuer = op.meta.issuer().as_str();
        match cb.get("iss") {
            Some(iss) => ensure!(
                iss == issuer,
                "iss in the authorization response ({iss:?}) is not the issuer ({issuer:?}) (RFC 9207 2.4)"
            ),
            None => ensure!(
                op.flag("authorization_response_iss_parameter_supported") != Some(true),
                "discovery says authorization_response_iss_parameter_supported but the response has no iss (RFC 9207 2)"
            ),
        }
        Ok(())
    }

    /// The authorization code from a successful response, after checking
    /// state and iss.
    pub(crate) fn expect_code(&self, visit: &Visit, expected_state: Option<&str>) -> Result<(Callback, String), Stop> {
        let cb = self.callback(visit)?;
        ensure!(cb.fragment.is_empty(), "the code flow response carries parameters in the URL fragment: {}", cb.target);
        if let Some(error) = cb.get("error") {
            return fail(format!(
                "the OP returned error={error} ({}) instead of a code",
                cb.get("error_description").unwrap_or("no description")
            ));
        }
        self.check_state_and_iss(&cb, expected_state)?;
        match cb.get("code") {
            Some(code) if !code.is_empty() => {
                let code = code.to_string();
                Ok((cb, code))
            }
            _ => fail(format!("the authorization response has no code: {}", cb.target)),
        }
    }

    /// The error from an error response, after checking state and iss and
    /// that no code came with it.
    pub(crate) fn expect_error(&self, visit: &Visit, expected_state: Option<&str>) -> Result<AuthError, Stop> {
        let cb = self.callback(visit)?;
        ensure!(cb.get("code").is_none(), "expected an error but the OP issued an authorization code");
        let Some(error) = cb.get("error") else {
            return fail(format!("expected an error response, got {}", cb.target));
        };
        self.check_state_and_iss(&cb, expected_state)?;
        Ok(AuthError { error: error.to_string(), description: cb.get("error_description").map(str::to_string) })
    }

    /// Redeems a code at the token endpoint with the crate, recording the
    /// HTTP details.
    pub(crate) async fn exchange(
        &self,
        client: &OidcClient,
        code: &str,
        verifier: &str,
    ) -> Result<Result<Tokens, (TokenError, u16, HeaderMap)>, Stop> {
        self.exchange_with(client, code, verifier, &[]).await
    }

    /// [`Ctx::exchange`] with extra form parameters (a client assertion).
    pub(crate) async fn exchange_with(
        &self,
        client: &OidcClient,
        code: &str,
        verifier: &str,
        extra: &[(String, String)],
    ) -> Result<Result<Tokens, (TokenError, u16, HeaderMap)>, Stop> {
        let recorder = Recorder::new(&self.http);
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| format!("cannot build the token request: {e}"))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()));
        for (k, v) in extra {
            request = request.add_extra_param(k.clone(), v.clone());
        }
        let result = request.request_async(&recorder).await;
        let (status, headers) = recorder.last().map(|(s, h, _)| (s, h)).unwrap_or((0, HeaderMap::new()));
        Ok(match result {
            Ok(response) => Ok(Tokens { response, status, headers }),
            Err(e) => Err((e, status, headers)),
        })
    }

    /// Redeems a code and insists on success.
    pub(crate) async fn redeem(&self, client: &OidcClient, code: &str, verifier: &str) -> Result<Tokens, Stop> {
        self.redeem_with(client, code, verifier, &[]).await
    }

    /// [`Ctx::redeem`] with extra form parameters.
    pub(crate) async fn redeem_with(
        &self,
        client: &OidcClient,
        code: &str,
        verifier: &str,
        extra: &[(String, String)],
    ) -> Result<Tokens, Stop> {
        match self.exchange_with(client, code, verifier, extra).await? {
            Ok(tokens) => Ok(tokens),
            Err((e, status, _)) => fail(format!("token request failed (HTTP {status}): {}", describe_token_error(&e))),
        }
    }

    /// Validates an ID token per OIDC Core 3.1.3.7 (signature, iss, aud,
    /// azp, exp, iat, nonce, auth_time when max_age was sent) and at_hash
    /// per 3.1.3.8 when present.
    pub(crate) fn validate_id_token(
        &self,
        client: &OidcClient,
        token: &CoreIdToken,
        access_token: Option<&AccessToken>,
        nonce: NonceRule<'_>,
        auth_time_required: bool,
    ) -> Result<IdInfo, Stop> {
        let header = jose_header(&token.to_string())?;
        let verifier = client.id_token_verifier();
        let verified = match nonce {
            NonceRule::Equals(n) => token.claims(&verifier, n),
            NonceRule::Absent => token.claims(&verifier, |got: Option<&Nonce>| match got {
                None => Ok(()),
                Some(_) => Err("the ID token has a nonce although the request had none".to_string()),
            }),
            NonceRule::Any => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        };
        let claims = verified.map_err(|e| format!("ID token rejected: {}", error_chain(&e)))?.clone();

        // 3.1.3.7 steps 4 and 5: azp.
        let audiences = claims.audiences();
        if audiences.len() > 1 {
            ensure!(claims.authorized_party().is_some(), "the ID token has several audiences but no azp");
        }
        if let Some(azp) = claims.authorized_party() {
            ensure!(
                azp == client.client_id(),
                "azp {:?} is not the client_id {:?}",
                azp.as_str(),
                client.client_id().as_str()
            );
        }
        // sub (OIDC Core 2): present, at most 255 ASCII characters.
        let sub = claims.subject().as_str();
        ensure!(
            !sub.is_empty() && sub.len() <= 255 && sub.is_ascii(),
            "sub must be 1 to 255 ASCII characters, got {sub:?}"
        );
        // iat/exp sanity (a 5 minute clock skew allowance).
        let iat = claims.issue_time().timestamp();
        let exp = claims.expiration().timestamp();
        ensure!(iat <= now() + 300, "iat {iat} is in the future");
        ensure!(exp > iat, "exp {exp} is not after iat {iat}");
        if let Some(auth_time) = claims.auth_time() {
            ensure!(auth_time.timestamp() <= now() + 300, "auth_time {} is in the future", auth_time.timestamp());
        } else {
            ensure!(!auth_time_required, "max_age was requested but the ID token has no auth_time (OIDC Core 3.1.2.1)");
        }
        // 3.1.3.8: at_hash, when present, must match the access token.
        if let (Some(expected), Some(access_token)) = (claims.access_token_hash(), access_token) {
            let alg = token.signing_alg().map_err(|e| format!("cannot read the ID token alg: {}", error_chain(&e)))?;
            let key = match alg {
                // MACed tokens: the key is the client secret, not in the JWKS.
                CoreJwsSigningAlgorithm::HmacSha256
                | CoreJwsSigningAlgorithm::HmacSha384
                | CoreJwsSigningAlgorithm::HmacSha512 => {
                    CoreHmacKey::new(self.secret_for(client.client_id().as_str()).as_bytes()).as_verification_key()
                }
                _ => token
                    .signing_key(&verifier)
                    .map_err(|e| format!("cannot find the ID token key: {}", error_chain(&e)))?
                    .clone(),
            };
            let actual = AccessTokenHash::from_token(access_token, alg, &key)
                .map_err(|e| format!("cannot compute at_hash: {}", error_chain(&e)))?;
            ensure!(
                actual == *expected,
                "at_hash {:?} does not match the access token (expected {:?})",
                expected.as_str(),
                actual.as_str()
            );
        }
        Ok(IdInfo { token: token.clone(), claims, header })
    }

    /// Checks a successful token response (RFC 6749 5.1, OIDC Core 3.1.3.3)
    /// and validates its ID token.
    pub(crate) fn check_token_response(
        &self,
        client: &OidcClient,
        tokens: &Tokens,
        nonce: NonceRule<'_>,
        auth_time_required: bool,
    ) -> Result<IdInfo, Stop> {
        let response = &tokens.response;
        ensure!(!response.access_token().secret().is_empty(), "the token response has an empty access_token");
        ensure!(
            *response.token_type() == CoreTokenType::Bearer,
            "token_type is {:?}, expected Bearer",
            response.token_type().as_ref()
        );
        if let Some(expires_in) = response.expires_in() {
            ensure!(!expires_in.is_zero(), "expires_in is 0 (RFC 6749 5.1)");
        }
        let Some(id_token) = response.id_token() else {
            return fail("the token response has no id_token (OIDC Core 3.1.3.3)");
        };
        self.validate_id_token(client, id_token, Some(response.access_token()), nonce, auth_time_required)
    }

    /// The common successful code flow: authorize (GET), check the
    /// response, redeem the code and validate the tokens.
    pub(crate) async fn code_flow(&self, browser: &Browser, client: &OidcClient, prep: Prepared) -> Result<Flow, Stop> {
        let visit = self.authorize(browser, &prep).await?;
        self.finish_flow(client, prep, visit).await
    }

    /// Everything after the authorization endpoint visit.
    pub(crate) async fn finish_flow(&self, client: &OidcClient, prep: Prepared, visit: Visit) -> Result<Flow, Stop> {
        self.finish_flow_with(client, prep, visit, &[]).await
    }

    /// [`Ctx::finish_flow`] with extra token request parameters.
    pub(crate) async fn finish_flow_with(
        &self,
        client: &OidcClient,
        prep: Prepared,
        visit: Visit,
        extra: &[(String, String)],
    ) -> Result<Flow, Stop> {
        let (_, code) = self.expect_code(&visit, prep.state.as_deref())?;
        let tokens = self.redeem_with(client, &code, &prep.verifier, extra).await?;
        let nonce = match &prep.nonce {
            Some(n) => NonceRule::Equals(n),
            None => NonceRule::Absent,
        };
        let id = self.check_token_response(client, &tokens, nonce, prep.has_max_age())?;
        Ok(Flow { visit, tokens, id })
    }

    /// Userinfo with the crate (GET, bearer header), checking that `sub`
    /// matches the ID token (OIDC Core 5.3.2). Returns the claims as JSON.
    pub(crate) async fn userinfo_get(
        &self,
        client: &OidcClient,
        access_token: &AccessToken,
        sub: &str,
    ) -> Result<Value, Stop> {
        let recorder = Recorder::new(&self.http);
        let claims: CoreUserInfoClaims = client
            .user_info(access_token.clone(), Some(SubjectIdentifier::new(sub.to_string())))
            .map_err(|e| format!("no userinfo endpoint: {e}"))?
            .request_async(&recorder)
            .await
            .map_err(|e| {
                let status = recorder.last().map_or(0, |(s, _, _)| s);
                format!("userinfo request failed (HTTP {status}): {}", error_chain(&e))
            })?;
        let json = serde_json::to_value(&claims).map_err(|e| format!("cannot re-encode userinfo: {e}"))?;
        validate_userinfo_json(&json)?;
        Ok(json)
    }

    /// Userinfo by POST, with the token in the header or in the body
    /// (RFC 6750 2.1 / 2.2). The crate only does GET, so this is raw.
    pub(crate) async fn userinfo_post(&self, flow: &Flow, in_body: bool) -> Result<Value, Stop> {
        let op = self.op()?;
        let Some(endpoint) = op.meta.userinfo_endpoint() else {
            return fail("discovery has no userinfo_endpoint");
        };
        let token = flow.tokens.response.access_token().secret();
        let request = self.http.post(endpoint.url().clone());
        let request = if in_body {
            request.form(&[("access_token", token.as_str())])
        } else {
            request.bearer_auth(token).form(&[] as &[(&str, &str)])
        };
        let response = request.send().await.map_err(|e| format!("userinfo POST failed: {}", error_chain(&e)))?;
        let status = response.status();
        let json_type = has_media_type(response.headers(), "application/json");
        let body = response.bytes().await.map_err(|e| format!("cannot read the userinfo response: {e}"))?;
        ensure!(
            status == StatusCode::OK,
            "userinfo POST answered HTTP {status}: {}",
            String::from_utf8_lossy(&body).chars().take(200).collect::<String>()
        );
        ensure!(json_type, "userinfo POST did not answer application/json");
        let claims = CoreUserInfoClaims::from_json::<reqwest::Error>(
            &body,
            Some(&SubjectIdentifier::new(flow.id.sub().to_string())),
        )
        .map_err(|e| format!("userinfo response rejected: {}", error_chain(&e)))?;
        let json = serde_json::to_value(&claims).map_err(|e| format!("cannot re-encode userinfo: {e}"))?;
        validate_userinfo_json(&json)?;
        Ok(json)
    }
}

/// Checks a token endpoint success response carries `Cache-Control: no-store`
/// (RFC 6749 5.1) and JSON.
pub(crate) fn check_token_http(tokens: &Tokens) -> Check {
    ensure!(tokens.status == 200, "token endpoint answered HTTP {} instead of 200", tokens.status);
    ensure!(has_media_type(&tokens.headers, "application/json"), "token endpoint response is not application/json");
    let no_store = tokens
        .headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("no-store"));
    ensure!(no_store, "token endpoint response lacks Cache-Control: no-store (RFC 6749 5.1)");
    Ok(())
}

/// A readable token error, with the OAuth error code when there is one.
pub(crate) fn describe_token_error(e: &TokenError) -> String {
    match e {
        RequestTokenError::ServerResponse(r) => {
            format!("error={} ({})", r.error().as_ref(), r.error_description().map_or("no description", String::as_str))
        }
        RequestTokenError::Parse(err, body) => format!(
            "unparsable response ({err}): {}",
            String::from_utf8_lossy(body).chars().take(200).collect::<String>()
        ),
        other => error_chain(other),
    }
}

/// Extra userinfo claim checks beyond what the crate's types enforce
/// (the plan's EnsureUserInfoBirthDateValid / ValidateUserInfoStandardClaims).
pub(crate) fn validate_userinfo_json(json: &Value) -> Check {
    ensure!(json.get("sub").and_then(Value::as_str).is_some_and(|s| !s.is_empty()), "userinfo has no sub");
    if let Some(birthdate) = json.get("birthdate") {
        let ok = birthdate.as_str().is_some_and(valid_birthdate);
        ensure!(ok, "birthdate {birthdate} is not YYYY, YYYY-MM-DD or 0000-MM-DD (OIDC Core 5.1)");
    }
    if let Some(updated_at) = json.get("updated_at") {
        ensure!(updated_at.is_number(), "updated_at {updated_at} is not a number (OIDC Core 5.1)");
    }
    Ok(())
}

fn valid_birthdate(s: &str) -> bool {
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [year] => digits(year, 4),
        [year, month, day] => {
            digits(year, 4)
                && digits(month, 2)
                && digits(day, 2)
                && matches!(month.parse::<u8>(), Ok(1..=12))
                && matches!(day.parse::<u8>(), Ok(1..=31))
        }
        _ => false,
    }
}

/// Discovery with the crate (which checks `issuer` and fetches the JWKS),
/// plus the raw JSON for members the crate does not model.
async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Op, String> {
    let issuer_url = IssuerUrl::new(issuer.to_string()).map_err(|e| format!("bad issuer URL: {e}"))?;
    let meta = CoreProviderMetadata::discover_async(issuer_url, http).await.map_err(|e| error_chain(&e))?;
    let raw_url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let raw = http
        .get(&raw_url)
        .send()
        .await
        .map_err(|e| format!("GET {raw_url}: {}", error_chain(&e)))?
        .json::<Value>()
        .await
        .map_err(|e| format!("{raw_url} is not JSON: {e}"))?;
    Ok(Op { meta, raw })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) const ISSUER: &str = "https://op.test";

    pub(crate) fn opts() -> Options {
        Options {
            issuer: ISSUER.into(),
            client_id: "rp".into(),
            client_secret: "a-long-enough-shared-secret-for-hs256-tests".into(),
            redirect_uri: "https://rp.example/cb".into(),
            username: "u".into(),
            password: "p".into(),
            ..Options::default()
        }
    }

    /// A context for an OP that was never contacted: discovery is given.
    pub(crate) fn ctx(opts: &Options, extra: Value) -> Ctx<'_> {
        let mut raw = json!({
            "issuer": ISSUER,
            "authorization_endpoint": "https://op.test/authorize",
            "token_endpoint": "https://op.test/token",
            "userinfo_endpoint": "https://op.test/userinfo",
            "jwks_uri": "https://op.test/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["HS256"],
            "authorization_response_iss_parameter_supported": true
        });
        if let (Some(raw), Some(extra)) = (raw.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                raw.insert(k.clone(), v.clone());
            }
        }
        let meta: CoreProviderMetadata = serde_json::from_value(raw.clone()).unwrap();
        Ctx { opts, http: reqwest::Client::new(), op: Ok(Op { meta, raw }) }
    }

    pub(crate) fn visit_to(url: &str) -> Visit {
        Visit { landing: Landing::Redirect { url: Url::parse(url).unwrap() }, logins: 1, consents: 0 }
    }

    fn failed<T>(r: Result<T, Stop>) -> String {
        match r {
            Err(Stop::Fail(m)) => m,
            Err(Stop::Skip(m)) => format!("unexpected skip: {m}"),
            Ok(_) => "unexpected success".into(),
        }
    }

    #[test]
    fn authorization_response_state_and_iss() {
        let o = opts();
        let c = ctx(&o, json!({}));
        let good = "https://rp.example/cb?code=c&state=s&iss=https%3A%2F%2Fop.test";
        assert_eq!(c.expect_code(&visit_to(good), Some("s")).unwrap().1, "c");
        let m = failed(c.expect_code(&visit_to(good), Some("other")));
        assert!(m.contains("state"), "{m}");
        let m = failed(c.expect_code(&visit_to("https://rp.example/cb?code=c&state=s"), Some("s")));
        assert!(m.contains("RFC 9207"), "{m}");
        let m = failed(
            c.expect_code(&visit_to("https://rp.example/cb?code=c&state=s&iss=https%3A%2F%2Fevil.test"), Some("s")),
        );
        assert!(m.contains("iss"), "{m}");
        let m = failed(c.expect_code(&visit_to("https://rp.example/cb#code=c&state=s"), Some("s")));
        assert!(m.contains("fragment"), "{m}");
        let m = failed(c.expect_code(
            &visit_to("https://rp.example/cb?error=access_denied&state=s&iss=https%3A%2F%2Fop.test"),
            Some("s"),
        ));
        assert!(m.contains("access_denied"), "{m}");
        let page = Visit {
            landing: Landing::Page {
                status: 401,
                url: Url::parse("https://op.test/login").unwrap(),
                body: "<title>Sign in</title>".into(),
            },
            logins: 2,
            consents: 0,
        };
        let m = failed(c.expect_code(&page, Some("s")));
        assert!(m.contains("Sign in") && m.contains("password"), "{m}");
        // Without RFC 9207 support advertised, a missing iss is fine.
        let c = ctx(&o, json!({"authorization_response_iss_parameter_supported": false}));
        assert!(c.expect_code(&visit_to("https://rp.example/cb?code=c&state=s"), Some("s")).is_ok());
    }

    #[test]
    fn error_responses() {
        let o = opts();
        let c = ctx(&o, json!({}));
        let e = c
            .expect_error(
                &visit_to("https://rp.example/cb?error=login_required&state=s&iss=https%3A%2F%2Fop.test"),
                Some("s"),
            )
            .unwrap();
        assert_eq!(e.error, "login_required");
        let m = failed(
            c.expect_error(&visit_to("https://rp.example/cb?code=c&state=s&iss=https%3A%2F%2Fop.test"), Some("s")),
        );
        assert!(m.contains("code"), "{m}");
        let m = failed(c.expect_error(
            &visit_to("https://rp.example/cb?error=login_required&iss=https%3A%2F%2Fop.test"),
            Some("s"),
        ));
        assert!(m.contains("state"), "{m}");
    }

    fn tokens(headers: &[(&str, &str)], status: u16, id_token: Option<CoreIdToken>, access: &str) -> Tokens {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        let mut body = json!({"access_token": access, "token_type": "Bearer", "expires_in": 300});
        if let Some(t) = id_token {
            body["id_token"] = json!(t.to_string());
        }
        Tokens { response: serde_json::from_value(body).unwrap(), status, headers: map }
    }

    #[test]
    fn token_http_details() {
        let ok = tokens(
            &[("content-type", "application/json;charset=UTF-8"), ("cache-control", "no-store")],
            200,
            None,
            "at",
        );
        assert!(check_token_http(&ok).is_ok());
        let no_cache = tokens(&[("content-type", "application/json")], 200, None, "at");
        assert!(failed(check_token_http(&no_cache)).contains("no-store"));
        let html = tokens(&[("content-type", "text/html"), ("cache-control", "no-store")], 200, None, "at");
        assert!(failed(check_token_http(&html)).contains("application/json"));
    }

    fn id_token(claims: Value, secret: &str, access: Option<&str>) -> CoreIdToken {
        let mut claims = claims;
        let now = now();
        for (k, v) in [
            ("iss", json!(ISSUER)),
            ("aud", json!(["rp"])),
            ("sub", json!("alice")),
            ("iat", json!(now)),
            ("exp", json!(now + 300)),
        ] {
            if claims.get(k).is_none() {
                claims[k] = v;
            }
        }
        let claims: CoreIdTokenClaims = serde_json::from_value(claims).unwrap();
        let access = access.map(|a| AccessToken::new(a.into()));
        CoreIdToken::new(
            claims,
            &CoreHmacKey::new(secret.as_bytes()),
            CoreJwsSigningAlgorithm::HmacSha256,
            access.as_ref(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn id_token_validation_catches_each_rule() {
        let o = opts();
        let c = ctx(&o, json!({}));
        let client = c.client(Which::Basic).unwrap();
        let secret = o.client_secret.clone();
        let nonce = Nonce::new("n-1".into());
        let check = |token: CoreIdToken, access: &str, rule: NonceRule<'_>, auth_time: bool| {
            let t = tokens(&[], 200, Some(token), access);
            c.check_token_response(&client, &t, rule, auth_time).map(|_| ())
        };

        let good = id_token(json!({"nonce": "n-1", "auth_time": now()}), &secret, Some("at"));
        assert_eq!(failed(check(good.clone(), "at", NonceRule::Equals(&nonce), true)), "unexpected success");
        // at_hash computed for another access token.
        assert!(failed(check(good.clone(), "other-at", NonceRule::Equals(&nonce), true)).contains("at_hash"));
        // Nonce mismatch, and a nonce where none was sent.
        let other = Nonce::new("n-2".into());
        assert!(failed(check(good.clone(), "at", NonceRule::Equals(&other), true)).contains("nonce"));
        assert!(failed(check(good, "at", NonceRule::Absent, false)).contains("nonce"));
        // auth_time required by max_age.
        let no_auth_time = id_token(json!({"nonce": "n-1"}), &secret, None);
        assert!(failed(check(no_auth_time, "at", NonceRule::Equals(&nonce), true)).contains("auth_time"));
        // azp.
        let bad_azp = id_token(json!({"nonce": "n-1", "azp": "someone-else"}), &secret, None);
        assert!(failed(check(bad_azp, "at", NonceRule::Equals(&nonce), false)).contains("azp"));
        let no_azp = id_token(json!({"nonce": "n-1", "aud": ["rp", "api"]}), &secret, None);
        // (an untrusted extra audience is itself a reason to reject, 3.1.3.7 step 3)
        let m = failed(check(no_azp, "at", NonceRule::Equals(&nonce), false));
        assert!(m.contains("azp") || m.contains("audience"), "{m}");
        // Wrong issuer, audience, signature, expiry.
        let wrong_iss = id_token(json!({"nonce": "n-1", "iss": "https://evil.test"}), &secret, None);
        assert!(failed(check(wrong_iss, "at", NonceRule::Equals(&nonce), false)).contains("issuer"));
        let wrong_aud = id_token(json!({"nonce": "n-1", "aud": ["x"]}), &secret, None);
        assert!(failed(check(wrong_aud, "at", NonceRule::Equals(&nonce), false)).contains("audience"));
        let forged = id_token(json!({"nonce": "n-1"}), "another-secret-of-sufficient-length-xx", None);
        assert!(failed(check(forged, "at", NonceRule::Equals(&nonce), false)).contains("ignature"));
        let expired = id_token(json!({"nonce": "n-1", "iat": now() - 600, "exp": now() - 300}), &secret, None);
        assert!(failed(check(expired, "at", NonceRule::Equals(&nonce), false)).contains("xpired"));
        // A missing ID token.
        let t = tokens(&[], 200, None, "at");
        assert!(failed(c.check_token_response(&client, &t, NonceRule::Any, false)).contains("id_token"));
    }

    #[test]
    fn userinfo_claim_rules() {
        assert!(validate_userinfo_json(&json!({"sub": "a", "birthdate": "2000-01-31", "updated_at": 1})).is_ok());
        assert!(failed(validate_userinfo_json(&json!({"sub": ""}))).contains("sub"));
        assert!(failed(validate_userinfo_json(&json!({"sub": "a", "birthdate": "31.01.2000"}))).contains("birthdate"));
        assert!(failed(validate_userinfo_json(&json!({"sub": "a", "updated_at": "yesterday"}))).contains("updated_at"));
    }

    #[test]
    fn birthdates() {
        assert!(valid_birthdate("1990"));
        assert!(valid_birthdate("1990-12-31"));
        assert!(valid_birthdate("0000-02-29"));
        assert!(!valid_birthdate("1990-13-01"));
        assert!(!valid_birthdate("31/12/1990"));
        assert!(!valid_birthdate("90-1-1"));
    }

    #[test]
    fn unsigned_jwt_round_trips_header() {
        let jwt = unsigned_jwt(&serde_json::json!({"a": 1}));
        assert!(jwt.ends_with('.'));
        assert_eq!(jose_header(&jwt).ok(), Some(serde_json::json!({"alg": "none"})));
    }

    #[test]
    fn prepared_params() {
        let url = Url::parse("https://op.test/authorize?scope=openid&state=s&nonce=n").ok();
        let Some(url) = url else {
            return assert_eq!("unparsable", "url");
        };
        let mut prep =
            Prepared { url, state: Some("s".into()), nonce: Some(Nonce::new("n".into())), verifier: String::new() };
        prep.remove_param("nonce");
        assert!(prep.nonce.is_none());
        prep.set_param("scope", "email openid");
        prep.set_param("extra", "1");
        assert_eq!(prep.url.as_str(), "https://op.test/authorize?scope=email+openid&state=s&extra=1");
        let (endpoint, fields) = prep.split();
        assert_eq!(endpoint.as_str(), "https://op.test/authorize");
        assert_eq!(fields.len(), 3);
    }
}
