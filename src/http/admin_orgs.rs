//! The admin REST API for organisations and representation, under `/admin/api/v1`:
//! `GET/POST /orgs`, `GET /orgs/{id}`, `GET/POST /orgs/{id}/representations`,
//! `POST /representations/{id}/revoke`. Each handler checks the caller's token for scope
//! `admin:orgs`, makes one `flows::orgs` call (the CLI's implementation too, which audits)
//! and renders JSON, with the conventions of `http::admin` (errors `{"error",
//! "error_description"}`, 400/401/403/404/409/503). Its paths join the hand-written
//! OpenAPI document through [`extend_openapi`].

#![allow(clippy::result_large_err)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::AppState;
use super::admin::{Outcome, admin_error, guard, ok, paging, parse_body, store};
use super::register::json_response;
use crate::flows::admin::{self as admin_flows, SCOPE_ORGS};
use crate::flows::admin_api::BASE_PATH;
use crate::flows::orgs::{self, NewOrganisation, NewRepresentation};

/// The routes (merged into the admin router).
pub(super) fn routes() -> Router<AppState> {
    let p = |tail: &str| format!("{BASE_PATH}{tail}");
    Router::new()
        .route(&p("/orgs"), get(list_orgs).post(create_org))
        .route(&p("/orgs/{id}"), get(get_org))
        .route(&p("/orgs/{id}/representations"), get(list_representations).post(add_representation))
        .route(&p("/representations/{id}/revoke"), post(revoke_representation))
}

async fn list_orgs(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Outcome {
    guard(&state, &headers, SCOPE_ORGS).await?;
    let (limit, after) = paging(q.as_deref())?;
    let page = orgs::list_orgs(store(&state), limit, after.as_deref()).await.map_err(admin_error)?;
    let items: Vec<Value> = page.items.iter().map(|o| orgs::org_json(o, false)).collect();
    ok(&json!({"items": items, "next_cursor": page.next_cursor}))
}

async fn create_org(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_ORGS).await?;
    let new: NewOrganisation = parse_body(&headers, &body)?;
    let org = orgs::create_org(store(&state), &actor, new, state.now()).await.map_err(admin_error)?;
    Ok(json_response(StatusCode::CREATED, &orgs::org_json(&org, true)))
}

async fn get_org(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Outcome {
    guard(&state, &headers, SCOPE_ORGS).await?;
    ok(&orgs::org_json(&orgs::get_org(store(&state), &id).await.map_err(admin_error)?, true))
}

async fn list_representations(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Outcome {
    guard(&state, &headers, SCOPE_ORGS).await?;
    let reps = orgs::org_representations(store(&state), &id).await.map_err(admin_error)?;
    ok(&json!({"items": reps.iter().map(orgs::representation_json).collect::<Vec<_>>()}))
}

async fn add_representation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_ORGS).await?;
    let new: NewRepresentation = parse_body(&headers, &body)?;
    let rep = orgs::add_representation(store(&state), &actor, &id, new, state.now()).await.map_err(admin_error)?;
    Ok(json_response(StatusCode::CREATED, &orgs::representation_json(&rep)))
}

async fn revoke_representation(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Outcome {
    let actor = guard(&state, &headers, SCOPE_ORGS).await?;
    let rep = orgs::revoke_representation(store(&state), &actor, &id, state.now()).await.map_err(admin_error)?;
    ok(&orgs::representation_json(&rep))
}

/// Adds this API's paths, schemas and scope to the admin OpenAPI document.
pub(super) fn extend_openapi(doc: &mut Value) {
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let body = |name: &str| json!({"required": true, "content": {"application/json": {"schema": schema(name)}}});
    let resp = |desc: &str, name: &str| json!({"description": desc, "content": {"application/json": {"schema": schema(name)}}});
    let err = |desc: &str| resp(desc, "Error");
    let op = |id: &str, summary: &str, extra: Value, mut responses: Value| {
        if let Some(r) = responses.as_object_mut() {
            r.insert("401".into(), err("no valid access token"));
            r.insert("403".into(), err("the token lacks the scope"));
        }
        let mut o = json!({
            "operationId": id,
            "summary": summary,
            "security": [{"bearer": [SCOPE_ORGS]}, {"oauth2": [SCOPE_ORGS]}],
            "responses": responses,
        });
        if let (Some(obj), Some(more)) = (o.as_object_mut(), extra.as_object()) {
            obj.extend(more.clone());
        }
        o
    };
    let id_param = |what: &str| json!([{"name": "id", "in": "path", "required": true, "description": what, "schema": {"type": "string"}}]);
    let paging = json!([
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": admin_flows::MAX_PAGE, "default": admin_flows::DEFAULT_PAGE}},
        {"name": "cursor", "in": "query", "description": "next_cursor of the previous page", "schema": {"type": "string"}}
    ]);
    let nullable_str = json!({"type": ["string", "null"]});
    let nullable_int = json!({"type": ["integer", "null"]});
    let roles = json!({"enum": ["legal_representative", "head", "authorised_person", "employee"]});
    let types = json!({"enum": ["enterprise", "branch", "household_business", "cooperative", "agency"]});
    let paths = json!({
        "/orgs": {
            "get": op("listOrgs", "List organisations in creation order (personal-number tax codes masked)", json!({"parameters": paging}),
                json!({"200": resp("a page of organisations", "OrgPage"), "400": err("bad limit or cursor")})),
            "post": op("createOrg", "Register an organisation (tax code validated; type inferred from it when absent)", json!({"requestBody": body("NewOrg")}),
                json!({"201": resp("the organisation", "Org"), "400": err("invalid tax code (the message names the wrong part), type or name"), "409": err("tax code taken")})),
        },
        "/orgs/{id}": {
            "get": op("getOrg", "Read an organisation", json!({"parameters": id_param("organisation id")}),
                json!({"200": resp("the organisation", "Org"), "404": err("no such organisation")})),
        },
        "/orgs/{id}/representations": {
            "get": op("listRepresentations", "Every representation of an organisation, oldest first", json!({"parameters": id_param("organisation id")}),
                json!({"200": resp("the representations", "RepresentationList"), "404": err("no such organisation")})),
            "post": op("addRepresentation", "Record that a person represents the organisation (source officer)",
                json!({"parameters": id_param("organisation id"), "requestBody": body("NewRepresentation")}),
                json!({"201": resp("the representation", "Representation"), "400": err("invalid input"), "404": err("no such organisation or person")})),
        },
        "/representations/{id}/revoke": {
            "post": op("revokeRepresentation", "Revoke a representation (final)", json!({"parameters": id_param("representation id")}),
                json!({"200": resp("the representation", "Representation"), "404": err("no such representation")})),
        },
    });
    let schemas = json!({
        "Org": {"type": "object", "properties": {
            "id": {"type": "string"}, "type": types, "tax_code": nullable_str,
            "tax_code_kind": {"enum": ["enterprise_10", "branch_13", "personal_12", null]},
            "name": {"type": "string"}, "address": nullable_str, "status": {"enum": ["active", "disabled"]},
            "assurance_level": {"type": "integer"}, "assurance_source": {"type": "string"}, "assurance_time": nullable_int,
            "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}}},
        "OrgPage": {"type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": {"type": "array", "items": schema("Org")}, "next_cursor": nullable_str}},
        "NewOrg": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
            "tax_code": {"type": "string", "description": "10 digits, NNNNNNNNNN-NNN (branch), or a 12-digit personal number (household business)"},
            "name": {"type": "string"}, "type": types, "address": {"type": "string"}}},
        "Representation": {"type": "object", "properties": {
            "id": {"type": "string"}, "person_id": {"type": "string"}, "org_id": {"type": "string"}, "role": roles,
            "scope": {"type": "array", "items": {"type": "string"}}, "valid_from": {"type": "integer"}, "valid_until": nullable_int,
            "granted_by": nullable_str, "source": {"enum": ["upstream", "officer", "mandate"]},
            "status": {"enum": ["active", "pending", "revoked"]}, "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}}},
        "RepresentationList": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": schema("Representation")}}},
        "NewRepresentation": {"type": "object", "required": ["role"], "additionalProperties": false, "properties": {
            "person_id": {"type": "string"}, "username": {"type": "string", "description": "instead of person_id"},
            "role": roles, "scope": {"type": "array", "items": {"type": "string"}, "description": "procedure:<code>, client:<id>; empty for everything"},
            "valid_from": {"type": "integer"}, "valid_until": {"type": "integer"}, "status": {"enum": ["active", "pending"]}}},
    });
    if let (Some(p), Some(add)) = (doc["paths"].as_object_mut(), paths.as_object()) {
        p.extend(add.clone());
    }
    if let (Some(s), Some(add)) = (doc["components"]["schemas"].as_object_mut(), schemas.as_object()) {
        s.extend(add.clone());
    }
    if let Some(scopes) =
        doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["scopes"].as_object_mut()
    {
        scopes.insert(SCOPE_ORGS.into(), "manage organisations and representation".into());
    }
}
