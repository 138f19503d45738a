//! The admin REST API under `/admin/api/v1`: clients, people and initial access tokens,
//! each operation one call to `flows::admin` (the CLI's implementation too), guarded by
//! `flows::admin_api::authorize` (a client-credentials access token of ours with the
//! operation's admin scope). JSON in and out, never cached; errors are
//! `{"error", "error_description"}` with 400/401/403/404/409/503. The OpenAPI 3.1
//! document at `/admin/api/v1/openapi.json` is written by hand below (no generator: it
//! is one JSON value, checked by a test against the routes).

// A refusal is a ready `Response` returned early with `?`; its size is the response's.
#![allow(clippy::result_large_err)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::AppState;
use super::register::{bearer_token, is_json, json_response, unauthorized};
use crate::flows::admin::{self, AdminError, NewPerson, PersonPatch, SCOPE_CLIENTS, SCOPE_PEOPLE};
use crate::flows::admin_api::{self, BASE_PATH, Refusal};
use crate::identity::PersonStatus;
use crate::outbound::FetchLimits;
use crate::protocol::client::{ClientMetadata, MetadataError};
use crate::store::{ClientStatus, StoreError};

pub(super) type Outcome = Result<Response, Response>;

/// The admin API's routes (merged into the public router).
pub(super) fn routes() -> Router<AppState> {
    let p = |tail: &str| format!("{BASE_PATH}{tail}");
    Router::new()
        .route(&p("/openapi.json"), get(openapi))
        .route(&p("/clients"), get(list_clients).post(create_client))
        .route(&p("/clients/{id}"), get(get_client).put(update_client).delete(delete_client))
        .route(&p("/clients/{id}/disable"), post(disable_client))
        .route(&p("/clients/{id}/enable"), post(enable_client))
        .route(&p("/people"), get(list_people).post(create_person))
        .route(&p("/people/{id}"), get(get_person).patch(update_person).delete(delete_person))
        .route(&p("/people/{id}/disable"), post(disable_person))
        .route(&p("/people/{id}/enable"), post(enable_person))
        .route(&p("/registration-tokens"), post(create_registration_token))
        .merge(super::admin_orgs::routes())
        .merge(super::admin_verification::routes())
}

pub(super) fn error(status: StatusCode, code: &str, description: &str) -> Response {
    json_response(status, &json!({"error": code, "error_description": description}))
}

pub(super) fn admin_error(e: AdminError) -> Response {
    let code = e.code();
    match e {
        AdminError::Metadata(m) => {
            let d = match &m {
                MetadataError::InvalidRedirectUri(d) | MetadataError::InvalidClientMetadata(d) => d,
            };
            error(StatusCode::BAD_REQUEST, code, d)
        }
        AdminError::Invalid(d) => error(StatusCode::BAD_REQUEST, code, &d),
        AdminError::NotFound(d) => error(StatusCode::NOT_FOUND, code, &d),
        AdminError::Store(StoreError::Conflict(d)) => error(StatusCode::CONFLICT, code, &d),
        AdminError::Store(e @ StoreError::Unavailable(_)) => {
            tracing::error!(error = %e, "durable store failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again shortly")
        }
    }
}

/// Checks the caller's token for `scope` (RFC 6750 §3 on refusal); the caller as an
/// audit actor (`admin:<client id>`).
pub(super) async fn guard(state: &AppState, headers: &HeaderMap, scope: &'static str) -> Result<String, Response> {
    let token =
        bearer_token(headers).map_err(|_| unauthorized("the Authorization header must be `Bearer <token>`", true))?;
    match admin_api::authorize(&state.services, token.as_deref(), scope, state.now()).await {
        Ok(record) => Ok(format!("admin:{}", record.client_id)),
        Err(Refusal::NoToken) => Err(unauthorized("an access token with an admin scope is required", false)),
        Err(Refusal::InvalidToken(d)) => Err(unauthorized(d, true)),
        Err(Refusal::InsufficientScope(s)) => {
            let mut r = error(StatusCode::FORBIDDEN, "insufficient_scope", &format!("this operation needs scope {s}"));
            let challenge = format!("Bearer realm=\"dinhdanh\", error=\"insufficient_scope\", scope=\"{s}\"");
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            Err(r)
        }
        Err(Refusal::Unavailable) => {
            Err(error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again shortly"))
        }
    }
}

pub(super) fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Response> {
    if !is_json(headers) {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_request", "the body must be application/json"));
    }
    serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_request", &format!("body: {e}")))
}

/// Client metadata from a body; malformed metadata is `invalid_client_metadata`.
fn parse_metadata(headers: &HeaderMap, body: &[u8]) -> Result<ClientMetadata, Response> {
    let v: Value = parse_body(headers, body)?;
    if !v.is_object() {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "the body must be a JSON object"));
    }
    serde_json::from_value(v)
        .map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &format!("malformed metadata: {e}")))
}

fn query_param(query: Option<&str>, name: &str) -> Result<Option<String>, Response> {
    let mut found = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k == name {
            if found.is_some() {
                return Err(error(StatusCode::BAD_REQUEST, "invalid_request", &format!("`{name}` is repeated")));
            }
            found = Some(v.into_owned());
        }
    }
    Ok(found)
}

pub(super) fn paging(query: Option<&str>) -> Result<(u32, Option<String>), Response> {
    let limit = query_param(query, "limit")?;
    let cursor = query_param(query, "cursor")?;
    admin::paging(limit.as_deref(), cursor.as_deref()).map_err(admin_error)
}

pub(super) fn ok(body: &Value) -> Outcome {
    Ok(json_response(StatusCode::OK, body))
}

fn limits(state: &AppState) -> FetchLimits {
    FetchLimits::from_config(&state.services.config)
}

pub(super) fn store(state: &AppState) -> &dyn crate::store::Store {
    state.services.store.as_ref()
}

async fn openapi(State(state): State<AppState>) -> Response {
    let mut r = json_response(StatusCode::OK, &openapi_document(&state.services.config.issuer));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

async fn list_clients(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Outcome {
    guard(&state, &headers, SCOPE_CLIENTS).await?;
    let (limit, after) = paging(q.as_deref())?;
    let page = admin::list_clients(store(&state), limit, after.as_deref()).await.map_err(admin_error)?;
    ok(
        &json!({"items": page.items.iter().map(admin::client_json).collect::<Vec<_>>(), "next_cursor": page.next_cursor}),
    )
}

async fn create_client(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_CLIENTS).await?;
    let md = parse_metadata(&headers, &body)?;
    let now = state.now();
    let done = admin::register_client_with(store(&state), &limits(&state), Some(&state.services.kek), &md, now).await;
    let id = done.as_ref().map(|r| r.client.client_id.clone()).ok().or_else(|| md.client_id.clone());
    let r = admin::audited(store(&state), &actor, "client.register", id.as_deref(), now, done)
        .await
        .map_err(admin_error)?;
    let record = admin::get_client(store(&state), &r.client.client_id).await.map_err(admin_error)?;
    let mut v = admin::client_json(&record);
    if let Some(s) = &r.client_secret {
        v["client_secret"] = s.clone().into();
    }
    Ok(json_response(StatusCode::CREATED, &v))
}

async fn get_client(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Outcome {
    guard(&state, &headers, SCOPE_CLIENTS).await?;
    ok(&admin::client_json(&admin::get_client(store(&state), &id).await.map_err(admin_error)?))
}

async fn update_client(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_CLIENTS).await?;
    let md = parse_metadata(&headers, &body)?;
    let now = state.now();
    let done = admin::update_client(store(&state), &limits(&state), Some(&state.services.kek), &id, &md, now).await;
    state.services.clients.forget(&id);
    let r = admin::audited(store(&state), &actor, "client.update", Some(&id), now, done).await.map_err(admin_error)?;
    let mut v = admin::client_json(&admin::get_client(store(&state), &id).await.map_err(admin_error)?);
    if let Some(s) = &r.client_secret {
        v["client_secret"] = s.clone().into();
    }
    ok(&v)
}

async fn client_status(state: AppState, id: String, headers: HeaderMap, status: ClientStatus) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_CLIENTS).await?;
    let now = state.now();
    let action = if status == ClientStatus::Active { "client.enable" } else { "client.disable" };
    let done = admin::set_client_status(store(&state), &id, status, now).await;
    state.services.clients.forget(&id);
    let r = admin::audited(store(&state), &actor, action, Some(&id), now, done).await.map_err(admin_error)?;
    ok(&admin::client_json(&r))
}

async fn disable_client(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Outcome {
    client_status(state, id, headers, ClientStatus::Disabled).await
}

async fn enable_client(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Outcome {
    client_status(state, id, headers, ClientStatus::Active).await
}

async fn delete_client(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_CLIENTS).await?;
    let now = state.now();
    let done = admin::delete_client(store(&state), &id).await;
    state.services.clients.forget(&id);
    admin::audited(store(&state), &actor, "client.delete", Some(&id), now, done).await.map_err(admin_error)?;
    Ok(no_content())
}

fn no_content() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn list_people(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Outcome {
    guard(&state, &headers, SCOPE_PEOPLE).await?;
    let (limit, after) = paging(q.as_deref())?;
    let page = admin::list_people(store(&state), limit, after.as_deref()).await.map_err(admin_error)?;
    ok(
        &json!({"items": page.items.iter().map(admin::person_json).collect::<Vec<_>>(), "next_cursor": page.next_cursor}),
    )
}

async fn create_person(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_PEOPLE).await?;
    let new: NewPerson = parse_body(&headers, &body)?;
    let svc = &state.services;
    let now = state.now();
    let done = admin::create_person(store(&state), &svc.hasher, new, now).await;
    let id = done.as_ref().map(|p| p.id.0.clone()).ok();
    let p =
        admin::audited(store(&state), &actor, "person.create", id.as_deref(), now, done).await.map_err(admin_error)?;
    Ok(json_response(StatusCode::CREATED, &admin::person_detail_json(&p)))
}

async fn get_person(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Outcome {
    guard(&state, &headers, SCOPE_PEOPLE).await?;
    ok(&admin::person_detail_json(&admin::get_person(store(&state), &id).await.map_err(admin_error)?))
}

async fn update_person(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_PEOPLE).await?;
    let patch: PersonPatch = parse_body(&headers, &body)?;
    let svc = &state.services;
    let now = state.now();
    let done = admin::update_person(store(&state), &svc.hasher, &id, patch, now).await;
    svc.people.forget(&id);
    let p = admin::audited(store(&state), &actor, "person.update", Some(&id), now, done).await.map_err(admin_error)?;
    ok(&admin::person_detail_json(&p))
}

async fn person_status(state: AppState, id: String, headers: HeaderMap, status: PersonStatus) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_PEOPLE).await?;
    let now = state.now();
    let action = if status == PersonStatus::Active { "person.enable" } else { "person.disable" };
    let done = admin::set_person_status(store(&state), &id, status, now).await;
    state.services.people.forget(&id);
    let p = admin::audited(store(&state), &actor, action, Some(&id), now, done).await.map_err(admin_error)?;
    ok(&admin::person_detail_json(&p))
}

async fn disable_person(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Outcome {
    person_status(state, id, headers, PersonStatus::Disabled).await
}

async fn enable_person(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Outcome {
    person_status(state, id, headers, PersonStatus::Active).await
}

async fn delete_person(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_PEOPLE).await?;
    let now = state.now();
    let done = admin::delete_person(store(&state), &id).await;
    state.services.people.forget(&id);
    admin::audited(store(&state), &actor, "person.delete", Some(&id), now, done).await.map_err(admin_error)?;
    Ok(no_content())
}

/// Body of `POST /registration-tokens`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRegistrationToken {
    #[serde(default)]
    policy: Option<Value>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    max_uses: Option<i64>,
}

async fn create_registration_token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_CLIENTS).await?;
    let req: NewRegistrationToken =
        if body.is_empty() { NewRegistrationToken::default() } else { parse_body(&headers, &body)? };
    let now = state.now();
    let done = admin::create_initial_token(store(&state), req.policy.as_ref(), req.expires_in, req.max_uses, now).await;
    let id = done.as_ref().map(|t| t.record.id.clone()).ok();
    let minted = admin::audited(store(&state), &actor, "registration_token.create", id.as_deref(), now, done)
        .await
        .map_err(admin_error)?;
    Ok(json_response(StatusCode::CREATED, &minted.response()))
}

/// The OpenAPI 3.1 description of this API.
pub fn openapi_document(issuer: &str) -> Value {
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let body = |name: &str| json!({"required": true, "content": {"application/json": {"schema": schema(name)}}});
    let resp = |desc: &str, name: Option<&str>| match name {
        Some(n) => json!({"description": desc, "content": {"application/json": {"schema": schema(n)}}}),
        None => json!({"description": desc}),
    };
    let err = |desc: &str| resp(desc, Some("Error"));
    let op = |id: &str, summary: &str, scope: &str, extra: Value, responses: Value| {
        let mut o = json!({
            "operationId": id,
            "summary": summary,
            "security": [{"bearer": [scope]}, {"oauth2": [scope]}],
            "responses": responses,
        });
        if let (Some(obj), Some(more)) = (o.as_object_mut(), extra.as_object()) {
            for (k, v) in more {
                obj.insert(k.clone(), v.clone());
            }
        }
        if let Some(r) = o["responses"].as_object_mut() {
            r.insert("401".into(), err("no valid access token"));
            r.insert("403".into(), err("the token lacks the scope"));
        }
        o
    };
    let id_param = |what: &str| json!([{"name": "id", "in": "path", "required": true, "description": what, "schema": {"type": "string"}}]);
    let paging = json!([
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": admin::MAX_PAGE, "default": admin::DEFAULT_PAGE}},
        {"name": "cursor", "in": "query", "description": "next_cursor of the previous page", "schema": {"type": "string"}}
    ]);
    let c = SCOPE_CLIENTS;
    let pp = SCOPE_PEOPLE;
    let nullable_str = json!({"type": ["string", "null"]});
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "dinhdanh admin API",
            "version": "1",
            "description": "Clients, people and initial access tokens. Call with a client-credentials access token of a service client registered for admin:clients and/or admin:people (`dinhdanh admin bootstrap` makes one).",
        },
        "servers": [{"url": format!("{issuer}{BASE_PATH}")}],
        "paths": {
            "/clients": {
                "get": op("listClients", "List clients in id order", c, json!({"parameters": paging}),
                    json!({"200": resp("a page of clients", Some("ClientPage")), "400": err("bad limit or cursor")})),
                "post": op("createClient", "Register a client from RFC 7591 metadata (client_id and client_secret may be fixed)", c,
                    json!({"requestBody": body("ClientMetadata")}),
                    json!({"201": resp("the client, with its secret shown this once", Some("Client")), "400": err("invalid_client_metadata / invalid_redirect_uri"), "409": err("client_id taken")})),
            },
            "/clients/{id}": {
                "get": op("getClient", "Read a client", c, json!({"parameters": id_param("client_id")}),
                    json!({"200": resp("the client", Some("Client")), "404": err("no such client")})),
                "put": op("replaceClient", "Replace a client's metadata (a client_secret in the body sets a new one)", c,
                    json!({"parameters": id_param("client_id"), "requestBody": body("ClientMetadata")}),
                    json!({"200": resp("the client", Some("Client")), "400": err("invalid metadata"), "404": err("no such client")})),
                "delete": op("deleteClient", "Delete a client with its consents and refresh tokens", c,
                    json!({"parameters": id_param("client_id")}),
                    json!({"204": resp("deleted", None), "404": err("no such client")})),
            },
            "/clients/{id}/disable": {
                "post": op("disableClient", "Disable a client (refused everywhere until enabled)", c, json!({"parameters": id_param("client_id")}),
                    json!({"200": resp("the client", Some("Client")), "404": err("no such client")})),
            },
            "/clients/{id}/enable": {
                "post": op("enableClient", "Enable a disabled client", c, json!({"parameters": id_param("client_id")}),
                    json!({"200": resp("the client", Some("Client")), "404": err("no such client")})),
            },
            "/people": {
                "get": op("listPeople", "List people in creation order (personal numbers masked)", pp, json!({"parameters": paging}),
                    json!({"200": resp("a page of people", Some("PersonPage")), "400": err("bad limit or cursor")})),
                "post": op("createPerson", "Create a local account", pp, json!({"requestBody": body("NewPerson")}),
                    json!({"201": resp("the person", Some("Person")), "400": err("invalid input"), "409": err("username or personal number taken")})),
            },
            "/people/{id}": {
                "get": op("getPerson", "Read a person", pp, json!({"parameters": id_param("person id")}),
                    json!({"200": resp("the person", Some("Person")), "404": err("no such person")})),
                "patch": op("updatePerson", "Change a person: members left out stay, null clears", pp,
                    json!({"parameters": id_param("person id"), "requestBody": body("PersonPatch")}),
                    json!({"200": resp("the person", Some("Person")), "400": err("invalid input"), "404": err("no such person"), "409": err("username or personal number taken")})),
                "delete": op("deletePerson", "Delete a person with their consents and refresh tokens", pp,
                    json!({"parameters": id_param("person id")}),
                    json!({"204": resp("deleted", None), "404": err("no such person")})),
            },
            "/people/{id}/disable": {
                "post": op("disablePerson", "Disable a person (no sign-in, tokens stop working)", pp, json!({"parameters": id_param("person id")}),
                    json!({"200": resp("the person", Some("Person")), "404": err("no such person")})),
            },
            "/people/{id}/enable": {
                "post": op("enablePerson", "Enable a disabled person", pp, json!({"parameters": id_param("person id")}),
                    json!({"200": resp("the person", Some("Person")), "404": err("no such person")})),
            },
            "/registration-tokens": {
                "post": op("createRegistrationToken", "Mint an initial access token for POST /register", c,
                    json!({"requestBody": {"required": false, "content": {"application/json": {"schema": schema("NewRegistrationToken")}}}}),
                    json!({"201": resp("the token, shown this once", Some("RegistrationToken")), "400": err("invalid policy or limits")})),
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (RFC 9068) or opaque"},
                "oauth2": {"type": "oauth2", "flows": {"clientCredentials": {
                    "tokenUrl": format!("{issuer}/token"),
                    "scopes": {SCOPE_CLIENTS: "manage clients and initial access tokens", SCOPE_PEOPLE: "manage people"},
                }}},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"}, "error_description": {"type": "string"}}},
                "ClientMetadata": {"type": "object", "description": "RFC 7591 §2 client metadata (see the README for every member)", "properties": {
                    "client_id": {"type": "string"}, "client_secret": {"type": "string", "minLength": 32},
                    "redirect_uris": {"type": "array", "items": {"type": "string", "format": "uri"}},
                    "post_logout_redirect_uris": {"type": "array", "items": {"type": "string", "format": "uri"}},
                    "grant_types": {"type": "array", "items": {"enum": ["authorization_code", "refresh_token", "client_credentials"]}},
                    "response_types": {"type": "array", "items": {"enum": ["code"]}},
                    "token_endpoint_auth_method": {"enum": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]},
                    "scope": {"type": "string"}, "client_name": {"type": "string"},
                    "id_token_signed_response_alg": {"type": "string"}, "subject_type": {"enum": ["pairwise", "public"]},
                    "application_type": {"enum": ["web", "native"]}, "sector_identifier_uri": {"type": "string", "format": "uri"},
                    "jwks_uri": {"type": "string", "format": "uri"}, "jwks": {"type": "object"},
                    "token_endpoint_auth_signing_alg": {"type": "string"},
                    "backchannel_logout_uri": {"type": "string", "format": "uri"}, "backchannel_logout_session_required": {"type": "boolean"},
                    "frontchannel_logout_uri": {"type": "string", "format": "uri"}, "frontchannel_logout_session_required": {"type": "boolean"},
                    "default_max_age": {"type": "integer"}, "default_acr_values": {"type": "array", "items": {"type": "string"}},
                    "minimum_acr": {"type": "string"},
                    "require_auth_time": {"type": "boolean"}, "access_token_strategy": {"enum": ["jwt", "opaque"]},
                    "refresh_token_absolute_lifetime": {"type": "integer"}, "refresh_token_idle_lifetime": {"type": "integer"}}},
                "Client": {"allOf": [schema("ClientMetadata"), {"type": "object", "properties": {
                    "client_id_issued_at": {"type": "integer"}, "client_secret_expires_at": {"type": "integer"},
                    "status": {"enum": ["active", "disabled"]}, "updated_at": {"type": "integer"},
                    "dynamically_registered": {"type": "boolean"},
                    "client_secret": {"type": "string", "description": "only when created or replaced with a new secret"}}}]},
                "ClientPage": {"type": "object", "required": ["items", "next_cursor"], "properties": {
                    "items": {"type": "array", "items": schema("Client")}, "next_cursor": nullable_str}},
                "Person": {"type": "object", "properties": {
                    "id": {"type": "string"}, "username": nullable_str, "name": nullable_str, "email": nullable_str,
                    "email_verified": {"type": "boolean"}, "phone": nullable_str, "phone_verified": {"type": "boolean"},
                    "address": nullable_str,
                    "personal_number": {"type": ["string", "null"], "description": "masked in lists, whole when one person is read"},
                    "status": {"enum": ["active", "disabled"]}, "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}}},
                "PersonPage": {"type": "object", "required": ["items", "next_cursor"], "properties": {
                    "items": {"type": "array", "items": schema("Person")}, "next_cursor": nullable_str}},
                "NewPerson": {"type": "object", "required": ["username", "password"], "additionalProperties": false, "properties": {
                    "username": {"type": "string"}, "password": {"type": "string", "minLength": 8}, "name": {"type": "string"},
                    "email": {"type": "string"}, "email_verified": {"type": "boolean"}, "phone": {"type": "string"},
                    "personal_number": {"type": "string", "pattern": "^[0-9]{12}$"}, "address": {"type": "string"}}},
                "PersonPatch": {"type": "object", "additionalProperties": false, "properties": {
                    "username": {"type": "string"}, "password": {"type": "string", "minLength": 8}, "name": nullable_str,
                    "email": nullable_str, "email_verified": {"type": "boolean"}, "phone": nullable_str,
                    "phone_verified": {"type": "boolean"}, "address": nullable_str, "personal_number": nullable_str}},
                "RegistrationPolicy": {"type": "object", "additionalProperties": false, "properties": {
                    "grant_types": {"type": "array", "items": {"type": "string"}, "default": ["authorization_code", "refresh_token"]},
                    "scope": {"type": "string", "default": "openid profile email phone address offline_access"},
                    "token_endpoint_auth_methods": {"type": "array", "items": {"type": "string"}},
                    "redirect_uri_hosts": {"type": "array", "items": {"type": "string"}, "description": "host.example.vn, *.example.vn (hosts strictly below), or an IP address; absent: any host"}}},
                "NewRegistrationToken": {"type": "object", "additionalProperties": false, "properties": {
                    "policy": schema("RegistrationPolicy"),
                    "expires_in": {"type": "integer", "minimum": 1, "maximum": admin::INITIAL_TOKEN_MAX_TTL, "default": admin::INITIAL_TOKEN_TTL},
                    "max_uses": {"type": "integer", "minimum": 1}}},
                "RegistrationToken": {"type": "object", "required": ["token", "id", "expires_at", "policy"], "properties": {
                    "token": {"type": "string"}, "id": {"type": "string"}, "expires_at": {"type": "integer"},
                    "max_uses": {"type": ["integer", "null"]}, "policy": schema("RegistrationPolicy")}},
            },
        },
    });
    super::admin_orgs::extend_openapi(&mut doc);
    super::admin_verification::document(&mut doc);
    doc
}
