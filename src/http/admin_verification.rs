//! The verification part of the admin REST API: cases (open, read, list the queue, add
//! evidence, decide, withdraw) and officer records, each one call to
//! `flows::verification` (the CLI's implementation too). The acting officer is whoever
//! the access token names: a person-bound token from the authorization-code flow with
//! scope `admin:verification`. Client-credentials tokens with that scope may read; a
//! decision without a person behind the token is 403. Officer records are set with
//! `admin:people` (administrators), read with either scope.

// A refusal is a ready `Response` returned early with `?`; its size is the response's.
#![allow(clippy::result_large_err)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::AppState;
use super::register::{bearer_token, is_json, json_response, unauthorized};
use crate::flows::admin::{self, SCOPE_PEOPLE};
use crate::flows::admin_api::{self, BASE_PATH, Refusal};
use crate::flows::verification::{self as flow, Actor, OpenCase, SCOPE_VERIFICATION, VerificationFlowError};
use crate::identity::PersonId;
use crate::identity::verification::{
    EvidenceItem, Office, OfficerRole, Outcome, Subject, VerificationError, parse_province,
};
use crate::store::{CaseFilter, StoreError};

type Reply = Result<Response, Response>;

/// The verification routes (merged into the admin router).
pub(super) fn routes() -> Router<AppState> {
    let p = |tail: &str| format!("{BASE_PATH}{tail}");
    Router::new()
        .route(&p("/verification/cases"), get(list_cases).post(open_case))
        .route(&p("/verification/cases/{id}"), get(get_case))
        .route(&p("/verification/cases/{id}/evidence"), post(add_evidence))
        .route(&p("/verification/cases/{id}/decisions"), post(decide))
        .route(&p("/verification/cases/{id}/withdraw"), post(withdraw))
        .route(&p("/officers/{id}"), get(get_officer).put(put_officer))
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    json_response(status, &json!({"error": code, "error_description": description}))
}

fn flow_error(e: VerificationFlowError) -> Response {
    let status = match &e {
        VerificationFlowError::Rule(
            VerificationError::SelfDecision | VerificationError::OutOfScope(_) | VerificationError::NotWithdrawer,
        )
        | VerificationFlowError::NotOfficer
        | VerificationFlowError::NoPerson => StatusCode::FORBIDDEN,
        VerificationFlowError::Rule(VerificationError::Closed(_) | VerificationError::AlreadyApproved)
        | VerificationFlowError::Busy
        | VerificationFlowError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
        VerificationFlowError::Rule(_) | VerificationFlowError::Invalid(_) => StatusCode::BAD_REQUEST,
        VerificationFlowError::NotFound(_) => StatusCode::NOT_FOUND,
        VerificationFlowError::Store(StoreError::Unavailable(d)) => {
            tracing::error!(error = %d, "durable store failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again shortly");
        }
    };
    error(status, e.code(), &e.to_string())
}

/// Checks the caller's token for `scope`; the caller as a flow actor.
async fn guard(state: &AppState, headers: &HeaderMap, scope: &'static str) -> Result<Actor, Response> {
    let token =
        bearer_token(headers).map_err(|_| unauthorized("the Authorization header must be `Bearer <token>`", true))?;
    match admin_api::authorize(&state.services, token.as_deref(), scope, state.now()).await {
        Ok(record) => Ok(match record.person_id {
            Some(p) => Actor::Person(PersonId(p)),
            None => Actor::Service(record.client_id),
        }),
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

/// The person an action needs, or 403.
fn person(actor: &Actor) -> Result<&PersonId, Response> {
    match actor {
        Actor::Person(p) => Ok(p),
        Actor::Service(_) | Actor::Cli => Err(flow_error(VerificationFlowError::NoPerson)),
    }
}

fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Response> {
    if !is_json(headers) {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_request", "the body must be application/json"));
    }
    serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_request", &format!("body: {e}")))
}

fn store(state: &AppState) -> &dyn crate::store::Store {
    state.services.store.as_ref()
}

fn ok(v: &Value) -> Reply {
    Ok(json_response(StatusCode::OK, v))
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

/// Body of `POST /verification/cases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCaseBody {
    subject: SubjectBody,
    level: u8,
    office: OfficeBody,
    #[serde(default)]
    evidence: Vec<EvidenceItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectBody {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficeBody {
    province: String,
    #[serde(default)]
    commune: Option<String>,
}

async fn open_case(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Reply {
    let actor = guard(&state, &headers, SCOPE_VERIFICATION).await?;
    let by = person(&actor)?.clone();
    let req: NewCaseBody = parse_body(&headers, &body)?;
    let subject =
        Subject::from_parts(&req.subject.kind, &req.subject.id).filter(|s| !s.id().is_empty()).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "subject.type must be person, organisation or representation, with an id",
            )
        })?;
    let level = flow::parse_level(&req.level.to_string()).map_err(flow_error)?;
    let province = parse_province(&req.office.province).map_err(|e| flow_error(e.into()))?;
    let open =
        OpenCase { subject, level, office: Office { province, commune: req.office.commune }, evidence: req.evidence };
    let case = flow::open_case(store(&state), &actor, &by, open, state.now()).await.map_err(flow_error)?;
    Ok(json_response(StatusCode::CREATED, &flow::case_json(&case)))
}

async fn list_cases(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    let actor = guard(&state, &headers, SCOPE_VERIFICATION).await?;
    let q = q.as_deref();
    let (limit, after) = admin::paging(query_param(q, "limit")?.as_deref(), query_param(q, "cursor")?.as_deref())
        .map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()))?;
    let mut filter = CaseFilter::default();
    if let Some(s) = query_param(q, "state")? {
        filter.state = Some(flow::parse_state(&s).map_err(flow_error)?);
    }
    if let Some(p) = query_param(q, "province")? {
        filter.province = Some(parse_province(&p).map_err(|e| flow_error(e.into()))?);
    }
    filter.commune = query_param(q, "commune")?;
    let page = flow::list_cases(store(&state), &actor, filter, after.as_deref(), limit).await.map_err(flow_error)?;
    ok(&json!({
        "items": page.items.iter().map(flow::case_json).collect::<Vec<_>>(),
        "next_cursor": page.next_after.map(|a| URL_SAFE_NO_PAD.encode(a)),
    }))
}

async fn get_case(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Reply {
    let actor = guard(&state, &headers, SCOPE_VERIFICATION).await?;
    ok(&flow::case_json(&flow::read_case(store(&state), &actor, &id).await.map_err(flow_error)?))
}

async fn add_evidence(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Reply {
    let actor = guard(&state, &headers, SCOPE_VERIFICATION).await?;
    let by = person(&actor)?.clone();
    let item: EvidenceItem = parse_body(&headers, &body)?;
    let case = flow::add_evidence(store(&state), &actor, &by, &id, item, state.now()).await.map_err(flow_error)?;
    ok(&flow::case_json(&case))
}

/// Body of `POST …/decisions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    outcome: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn decide(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Reply {
    let actor = guard(&state, &headers, SCOPE_VERIFICATION).await?;
    let req: DecisionBody = parse_body(&headers, &body)?;
    let outcome = Outcome::parse(&req.outcome)
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "invalid_request", "outcome must be approve or reject"))?;
    let by = match &actor {
        Actor::Person(p) => Some(p.clone()),
        Actor::Service(_) | Actor::Cli => None,
    };
    let case = flow::decide(store(&state), &actor, by.as_ref(), &id, outcome, req.reason.as_deref(), state.now())
        .await
        .map_err(flow_error)?;
    // An approval may have raised the person's assurance: userinfo shows it at once here.
    if let Subject::Person(p) = &case.subject {
        state.services.people.forget(&p.0);
    }
    ok(&flow::case_json(&case))
}

async fn withdraw(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Reply {
    let actor = guard(&state, &headers, SCOPE_VERIFICATION).await?;
    let by = match &actor {
        Actor::Person(p) => Some(p.clone()),
        Actor::Service(_) | Actor::Cli => None,
    };
    let case = flow::withdraw(store(&state), &actor, by.as_ref(), &id, state.now()).await.map_err(flow_error)?;
    ok(&flow::case_json(&case))
}

async fn get_officer(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Reply {
    guard(&state, &headers, SCOPE_VERIFICATION).await?;
    ok(&flow::officer_json(&flow::get_officer(store(&state), &PersonId(id)).await.map_err(flow_error)?))
}

/// Body of `PUT /officers/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficerBody {
    role: String,
    province: String,
    #[serde(default)]
    commune: Option<String>,
}

async fn put_officer(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Reply {
    let actor = guard(&state, &headers, SCOPE_PEOPLE).await?;
    let req: OfficerBody = parse_body(&headers, &body)?;
    let role = OfficerRole::parse(&req.role)
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "invalid_request", "role must be verifier or supervisor"))?;
    let province = parse_province(&req.province).map_err(|e| flow_error(e.into()))?;
    let o = flow::set_officer(store(&state), &actor, &PersonId(id), role, province, req.commune, state.now())
        .await
        .map_err(flow_error)?;
    ok(&flow::officer_json(&o))
}

/// Adds the verification operations and schemas to the admin API's OpenAPI document.
pub(super) fn document(doc: &mut Value) {
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let body = |name: &str| json!({"required": true, "content": {"application/json": {"schema": schema(name)}}});
    let resp = |desc: &str, name: &str| json!({"description": desc, "content": {"application/json": {"schema": schema(name)}}});
    let err = |desc: &str| resp(desc, "Error");
    let op = |id: &str, summary: &str, scope: &str, extra: Value, mut responses: Value| {
        if let Some(r) = responses.as_object_mut() {
            r.insert("401".into(), err("no valid access token"));
            r.entry("403").or_insert_with(|| err("the token lacks the scope"));
        }
        let mut o = json!({"operationId": id, "summary": summary,
            "security": [{"bearer": [scope]}, {"oauth2": [scope]}], "responses": responses});
        if let (Some(obj), Some(more)) = (o.as_object_mut(), extra.as_object()) {
            for (k, v) in more {
                obj.insert(k.clone(), v.clone());
            }
        }
        o
    };
    let id_param = |what: &str| json!([{"name": "id", "in": "path", "required": true, "description": what, "schema": {"type": "string"}}]);
    let v = SCOPE_VERIFICATION;
    let paths = json!({
        "/verification/cases": {
            "get": op("listVerificationCases", "The queue: cases in opening order (an officer sees their office's scope)", v,
                json!({"parameters": [
                    {"name": "state", "in": "query", "schema": {"enum": ["submitted", "in_review", "approved", "rejected", "withdrawn"]}},
                    {"name": "province", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,3}$"}},
                    {"name": "commune", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": admin::MAX_PAGE, "default": admin::DEFAULT_PAGE}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}}]}),
                json!({"200": resp("a page of cases", "VerificationCasePage"), "400": err("bad filter or paging"), "403": err("not an officer, or the scope is missing")})),
            "post": op("openVerificationCase", "Open a case (an officer in scope at a counter, or the person about themselves)", v,
                json!({"requestBody": body("NewVerificationCase")}),
                json!({"201": resp("the case", "VerificationCase"), "400": err("invalid level, office or evidence"), "403": err("no person behind the token, not an officer, or out of scope"), "404": err("no such person, organisation (id or tax code) or representation"), "409": err("the representation is revoked")})),
        },
        "/verification/cases/{id}": {
            "get": op("getVerificationCase", "Read a case", v, json!({"parameters": id_param("case id")}),
                json!({"200": resp("the case", "VerificationCase"), "404": err("no such case (or not yours to see)")})),
        },
        "/verification/cases/{id}/evidence": {
            "post": op("addVerificationEvidence", "Attach a document to an open case", v,
                json!({"parameters": id_param("case id"), "requestBody": body("Evidence")}),
                json!({"200": resp("the case", "VerificationCase"), "400": err("invalid evidence"), "409": err("the case is closed")})),
        },
        "/verification/cases/{id}/decisions": {
            "post": op("decideVerificationCase", "Approve or reject as the signed-in officer (four-eyes: level 2 and representations need two different officers)", v,
                json!({"parameters": id_param("case id"), "requestBody": body("Decision")}),
                json!({"200": resp("the case", "VerificationCase"), "400": err("a rejection needs a reason; no evidence"),
                       "403": err("no person behind the token, not an officer, own case (including one's own representation or organisation), or out of scope"),
                       "404": err("no such case"), "409": err("the case is closed, this officer already approved, or the representation was revoked (the case stays open)")})),
        },
        "/verification/cases/{id}/withdraw": {
            "post": op("withdrawVerificationCase", "Withdraw an open case (its subject or opener)", v, json!({"parameters": id_param("case id")}),
                json!({"200": resp("the case", "VerificationCase"), "403": err("not the subject or opener"), "409": err("the case is closed")})),
        },
        "/officers/{id}": {
            "get": op("getOfficer", "Read an officer record", v, json!({"parameters": id_param("person id")}),
                json!({"200": resp("the officer", "Officer"), "404": err("no such officer")})),
            "put": op("putOfficer", "Make a person an officer, or change their role and scope", SCOPE_PEOPLE,
                json!({"parameters": id_param("person id"), "requestBody": body("OfficerInput")}),
                json!({"200": resp("the officer", "Officer"), "400": err("invalid role or scope"), "404": err("no such person")})),
        },
    });
    let evidence = json!({"type": "object", "required": ["document_type", "document_number", "issuer", "check_method"], "additionalProperties": false, "properties": {
        "document_type": {"type": "string", "examples": ["vn_the_can_cuoc"]}, "document_number": {"type": "string"},
        "issuer": {"type": "string"}, "date_of_issuance": {"type": "string", "format": "date"},
        "date_of_expiry": {"type": "string", "format": "date"},
        "attachments": {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}, "description": "SHA-256 digests of scans"},
        "check_method": {"enum": crate::identity::verification::CHECK_METHODS}}});
    let office = json!({"type": "object", "required": ["province"], "properties": {
        "province": {"type": "string", "pattern": "^[0-9]{1,3}$"}, "commune": {"type": ["string", "null"]}}});
    let schemas = json!({
        "Evidence": evidence,
        "Office": office,
        "NewVerificationCase": {"type": "object", "required": ["subject", "level", "office"], "additionalProperties": false, "properties": {
            "subject": {"type": "object", "required": ["type", "id"], "properties": {
                "type": {"enum": ["person", "organisation", "representation"]}, "id": {"type": "string"}}},
            "level": {"enum": [1, 2]}, "office": schema("Office"),
            "evidence": {"type": "array", "items": schema("Evidence")}}},
        "VerificationCase": {"type": "object", "properties": {
            "id": {"type": "string"}, "subject": {"type": "object"}, "requested_level": {"enum": [1, 2]},
            "state": {"enum": ["submitted", "in_review", "approved", "rejected", "withdrawn"]},
            "office": schema("Office"), "opened_by": {"type": "string"},
            "evidence": {"type": "array", "items": schema("Evidence")},
            "decisions": {"type": "array", "items": {"type": "object", "properties": {
                "officer": {"type": "string"}, "outcome": {"enum": ["approve", "reject"]},
                "reason": {"type": ["string", "null"]}, "at": {"type": "integer"}}}},
            "approvals_needed": {"type": "integer"}, "created_at": {"type": "integer"},
            "updated_at": {"type": "integer"}, "closed_at": {"type": ["integer", "null"]}, "version": {"type": "integer"}}},
        "VerificationCasePage": {"type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": {"type": "array", "items": schema("VerificationCase")}, "next_cursor": {"type": ["string", "null"]}}},
        "Decision": {"type": "object", "required": ["outcome"], "additionalProperties": false, "properties": {
            "outcome": {"enum": ["approve", "reject"]}, "reason": {"type": "string", "maxLength": 500, "description": "required to reject"}}},
        "Officer": {"type": "object", "properties": {
            "person_id": {"type": "string"}, "role": {"enum": ["verifier", "supervisor"]},
            "province": {"type": "string"}, "commune": {"type": ["string", "null"]}, "updated_at": {"type": "integer"}}},
        "OfficerInput": {"type": "object", "required": ["role", "province"], "additionalProperties": false, "properties": {
            "role": {"enum": ["verifier", "supervisor"]}, "province": {"type": "string", "pattern": "^[0-9]{1,3}$"},
            "commune": {"type": "string"}}},
    });
    let merge = |target: Option<&mut Value>, more: Value| {
        if let (Some(Value::Object(t)), Value::Object(m)) = (target, more) {
            t.extend(m);
        }
    };
    merge(doc.pointer_mut("/paths"), paths);
    merge(doc.pointer_mut("/components/schemas"), schemas);
    merge(
        doc.pointer_mut("/components/securitySchemes/oauth2/flows/clientCredentials/scopes"),
        json!({SCOPE_VERIFICATION: "read the verification queue; with a person-bound token, act as that officer"}),
    );
}
