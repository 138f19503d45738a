//! Dynamic client registration on the wire: `POST /register` (RFC 7591) and
//! `GET`/`PUT`/`DELETE /register/{client_id}` (RFC 7592). JSON in and out, never cached;
//! errors in the RFC 7591 §3.2.2 shape, token failures as RFC 6750 §3 `invalid_token`
//! with a `WWW-Authenticate: Bearer` challenge.

// A refusal is a ready `Response` returned early with `?`; its size is the response's.
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use crate::flows::registration::{self, RegistrationError};
use crate::protocol::client::MetadataError;

/// `application/json` JSON body with `Cache-Control: no-store`.
pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// A malformed `Authorization` header (not `Bearer <token>`).
#[derive(Debug)]
pub(super) struct MalformedAuthorization;

/// The bearer token of the request, if any (RFC 6750 §2.1; header only).
pub(super) fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, MalformedAuthorization> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| MalformedAuthorization)?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(MalformedAuthorization),
    }
}

/// RFC 6750 §3: 401 with a Bearer challenge; the error code is left out of the
/// challenge when the request had no token at all (§3.1).
pub(super) fn unauthorized(description: &str, had_token: bool) -> Response {
    let mut r =
        json_response(StatusCode::UNAUTHORIZED, &json!({"error": "invalid_token", "error_description": description}));
    let challenge = if had_token {
        format!(
            "Bearer realm=\"dinhdanh\", error=\"invalid_token\", error_description=\"{}\"",
            description.replace(['"', '\\'], "'")
        )
    } else {
        "Bearer realm=\"dinhdanh\"".to_owned()
    };
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// Whether the body is declared JSON (`application/json`, parameters allowed).
pub(super) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")))
}

fn error_response(e: &RegistrationError, had_token: bool) -> Response {
    match e {
        RegistrationError::InvalidToken(d) => unauthorized(d, had_token),
        RegistrationError::Metadata(m) => {
            let description = match m {
                MetadataError::InvalidRedirectUri(d) | MetadataError::InvalidClientMetadata(d) => d,
            };
            json_response(StatusCode::BAD_REQUEST, &json!({"error": m.code(), "error_description": description}))
        }
        RegistrationError::Unavailable => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "temporarily_unavailable", "error_description": "the service is temporarily unavailable"}),
        ),
    }
}

fn metadata_error(msg: &str) -> RegistrationError {
    RegistrationError::Metadata(MetadataError::InvalidClientMetadata(msg.to_owned()))
}

/// The token, or the response refusing a malformed `Authorization` header.
fn token_of(headers: &HeaderMap) -> Result<Option<String>, Response> {
    bearer_token(headers).map_err(|_| unauthorized("the Authorization header must be `Bearer <token>`", true))
}

fn body_of(headers: &HeaderMap, body: &[u8]) -> Result<Value, RegistrationError> {
    if !is_json(headers) {
        return Err(metadata_error("the body must be application/json"));
    }
    serde_json::from_slice(body).map_err(|_| metadata_error("the body is not valid JSON"))
}

/// `POST /register`: 201 with the client's metadata, secret, and management URL and token.
pub(super) async fn register(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let token = match token_of(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let had_token = token.is_some();
    // The token is checked before the body is looked at: no metadata errors for strangers.
    let result = async {
        if token.is_none() {
            return Err(RegistrationError::InvalidToken("registration needs an initial access token".into()));
        }
        let body = body_of(&headers, &body)?;
        registration::register(&state.services, token.as_deref(), &body, state.now()).await
    }
    .await;
    match result {
        Ok(v) => json_response(StatusCode::CREATED, &v),
        Err(e) => error_response(&e, had_token),
    }
}

/// `GET /register/{client_id}`.
pub(super) async fn read(State(state): State<AppState>, Path(client_id): Path<String>, headers: HeaderMap) -> Response {
    let token = match token_of(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    match registration::read(&state.services, &client_id, token.as_deref()).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => error_response(&e, token.is_some()),
    }
}

/// `PUT /register/{client_id}`.
pub(super) async fn update(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = match token_of(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let result = async {
        let body = match body_of(&headers, &body) {
            Ok(b) => b,
            // The token is judged first: no metadata errors for strangers.
            Err(e) => return registration::read(&state.services, &client_id, token.as_deref()).await.and(Err(e)),
        };
        registration::update(&state.services, &client_id, token.as_deref(), &body, state.now()).await
    }
    .await;
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => error_response(&e, token.is_some()),
    }
}

/// `DELETE /register/{client_id}`: 204.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let token = match token_of(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    match registration::delete(&state.services, &client_id, token.as_deref(), state.now()).await {
        Ok(()) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => error_response(&e, token.is_some()),
    }
}
