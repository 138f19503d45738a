//! Token and userinfo endpoints: JSON in the RFC 6749 §5 / RFC 6750 §3 shapes, never
//! cached.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{AppState, is_form};
use crate::flows::token::{BasicCredentials, authenticate_client};
use crate::protocol::params::Params;
use crate::protocol::{ErrorCode, OAuthError};

fn no_store(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    no_store((status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response())
}

fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// RFC 6749 §5.2 error response; `invalid_client` is 401 with a Basic challenge.
pub(super) fn token_error(e: &OAuthError) -> Response {
    let mut r =
        json_response(status_of(e.code), &json!({"error": e.code.as_str(), "error_description": e.description}));
    if e.code == ErrorCode::InvalidClient {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"dinhdanh\""));
    }
    r
}

fn form_decode(s: &str) -> Option<String> {
    form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<BasicCredentials>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let bad = || OAuthError::new(ErrorCode::InvalidClient, "malformed Basic credentials");
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, rest)) = value.split_once(' ') else { return Err(bad()) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let (client_id, client_secret) = (form_decode(id).ok_or_else(bad)?, form_decode(secret).ok_or_else(bad)?);
    if client_id.is_empty() {
        return Err(bad());
    }
    Ok(Some(BasicCredentials { client_id, client_secret }))
}

/// The common front of the token, introspection and revocation endpoints: a form body
/// and client credentials.
fn client_request(headers: &HeaderMap, body: &[u8]) -> Result<(Params, Option<BasicCredentials>), OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let basic = basic_credentials(headers)?;
    let params = Params::parse(body)?;
    if let Some(dup) = params.first_duplicate() {
        return Err(OAuthError::invalid_request(format!("parameter `{dup}` is repeated")));
    }
    Ok((params, basic))
}

/// `POST /token`.
pub(super) async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (params, basic) = match client_request(&headers, &body) {
        Ok(x) => x,
        Err(e) => return token_error(&e),
    };
    match crate::flows::token::token(&state.services, &params, basic, state.now()).await {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => token_error(&e),
    }
}

/// `POST /introspect` (RFC 7662), JSON or, on `Accept: application/token-introspection+jwt`,
/// a signed JWT (RFC 9701). Public clients may not introspect.
pub(super) async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let svc = &state.services;
    let now = state.now();
    let result = async {
        let (params, basic) = client_request(&headers, &body)?;
        let caller = authenticate_client(svc, &params, basic, now).await?;
        if caller.is_public() {
            return Err(OAuthError::new(ErrorCode::InvalidClient, "public clients cannot introspect tokens"));
        }
        let response = crate::flows::introspect::introspect(svc, &caller, &params, now).await?;
        Ok((caller, response))
    }
    .await;
    let (caller, response) = match result {
        Ok(x) => x,
        Err(e) => return token_error(&e),
    };
    let wants_jwt = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().starts_with(INTROSPECTION_JWT)));
    if wants_jwt {
        return match crate::flows::introspect::as_jwt(svc, &caller, response, now) {
            Ok(jwt) => no_store((StatusCode::OK, [(header::CONTENT_TYPE, INTROSPECTION_JWT)], jwt).into_response()),
            Err(e) => token_error(&e),
        };
    }
    json_response(StatusCode::OK, &Value::Object(response))
}

const INTROSPECTION_JWT: &str = "application/token-introspection+jwt";

/// `POST /revoke` (RFC 7009): 200 with an empty body whether or not the token existed.
pub(super) async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let svc = &state.services;
    let now = state.now();
    let result = async {
        let (params, basic) = client_request(&headers, &body)?;
        let caller = authenticate_client(svc, &params, basic, now).await?;
        crate::flows::revoke::revoke(svc, &caller, &params, now).await
    }
    .await;
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => token_error(&e),
    }
}

/// RFC 6750 §3: errors with a `WWW-Authenticate: Bearer` challenge; a request with no
/// token gets the challenge without an error code.
fn bearer_error(e: Option<&OAuthError>) -> Response {
    let (status, challenge, body) = match e {
        None => (
            StatusCode::UNAUTHORIZED,
            "Bearer realm=\"dinhdanh\"".to_owned(),
            json!({"error": "invalid_token", "error_description": "no access token"}),
        ),
        Some(e) => {
            let desc = e.description.replace(['"', '\\'], "'");
            (
                status_of(e.code),
                format!("Bearer realm=\"dinhdanh\", error=\"{}\", error_description=\"{desc}\"", e.code.as_str()),
                json!({"error": e.code.as_str(), "error_description": e.description}),
            )
        }
    };
    let mut r = json_response(status, &body);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

fn bearer_header(headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| OAuthError::invalid_request("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(OAuthError::invalid_request("the Authorization header must use the Bearer scheme")),
    }
}

async fn userinfo_with(state: AppState, token: Result<Option<String>, OAuthError>) -> Response {
    let token = match token {
        Ok(Some(t)) => t,
        Ok(None) => return bearer_error(None),
        Err(e) => return bearer_error(Some(&e)),
    };
    match crate::flows::userinfo::userinfo(&state.services, &token, state.now()).await {
        Ok(claims) => json_response(StatusCode::OK, &Value::Object(claims)),
        Err(e) => bearer_error(Some(&e)),
    }
}

/// `GET /userinfo`: the token in the Authorization header only (RFC 9700 §2: not in
/// the query).
pub(super) async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    userinfo_with(state, bearer_header(&headers)).await
}

/// `POST /userinfo`: the token in the header or the form body (RFC 6750 §2.2), not both.
pub(super) async fn userinfo_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let header_token = bearer_header(&headers);
    let body_token = if is_form(&headers) {
        match Params::parse(&body) {
            Ok(p) => p.get("access_token").map(|t| t.map(str::to_owned)),
            Err(e) => Err(e),
        }
    } else {
        Ok(None)
    };
    let token = match (header_token, body_token) {
        (Err(e), _) | (_, Err(e)) => Err(e),
        (Ok(Some(_)), Ok(Some(_))) => {
            Err(OAuthError::invalid_request("send the access token once, not in header and body"))
        }
        (Ok(h), Ok(b)) => Ok(h.or(b)),
    };
    userinfo_with(state, token).await
}
