//! Organisations and representation: the admin API (create, duplicates, invalid tax codes
//! with the specific message, representations, revocation, the `admin:orgs` scope), the
//! person-facing mandate flow with its refusals audited, and the CLI contract through the
//! real binary (`org create|list|represent`, `user create --personal-number`).

use dinhdanh::flows::orgs::{self, MandateFlowError, MandateGrant};
use dinhdanh::identity::{MandateError, OrgId, PersonId, RepresentationId, RepresentationStatus};
use serde_json::{Value, json};

use crate::helpers::{SECRET, T0, TestApp};

const API: &str = "/admin/api/v1";

async fn orgs_token(app: &TestApp, scope: &str) -> String {
    let id = format!("svc-{}", scope.replace(':', "-"));
    app.client(
        json!({"client_id": id, "client_secret": SECRET, "grant_types": ["client_credentials"], "scope": scope}),
    )
    .await;
    let r = app
        .api()
        .post(app.url("/token"))
        .basic_auth(&id, Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

/// Calls the admin API and checks the status; returns the JSON body.
async fn check(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>, status: u16) -> Value {
    let mut req = app.api().request(method.parse().unwrap(), app.url(&format!("{API}{path}"))).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let got = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{method} {path}: {text}");
    if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
}

#[tokio::test]
async fn organisations_through_the_admin_api() {
    let app = TestApp::spawn().await;
    let token = orgs_token(&app, "admin:orgs").await;
    // Another admin scope is not enough.
    let people_only = orgs_token(&app, "admin:people").await;
    let r = app.api().get(app.url(&format!("{API}/orgs"))).bearer_auth(&people_only).send().await.unwrap();
    assert_eq!(r.status(), 403);

    let made = check(
        &app,
        "POST",
        "/orgs",
        &token,
        Some(json!({"tax_code": "0100 109 106", "name": " Công ty Cổ phần Sữa ", "address": "Hà Nội"})),
        201,
    )
    .await;
    assert_eq!(made["tax_code"], "0100109106");
    assert_eq!((made["type"].as_str(), made["name"].as_str()), (Some("enterprise"), Some("Công ty Cổ phần Sữa")));
    assert_eq!(made["status"], "active");
    let id = made["id"].as_str().unwrap().to_owned();
    assert_ne!(id, "0100109106", "the key is internal, never the tax code");

    // The same tax code again (another spelling): 409 naming the rule, not the value.
    let dup = check(&app, "POST", "/orgs", &token, Some(json!({"tax_code": "0100109106", "name": "Khác"})), 409).await;
    assert_eq!(dup["error"], "conflict");
    assert!(dup["error_description"].as_str().unwrap().contains("tax code"));
    assert!(!dup["error_description"].as_str().unwrap().contains("0100109106"));

    // Invalid identifiers: 400 naming the part that is wrong.
    let cases = [
        (
            json!({"tax_code": "0100233480", "name": "X"}),
            "check digit (10th digit) of the tax code is wrong: it must be 8",
        ),
        (json!({"tax_code": "0100000000", "name": "X"}), "sequence (digits 3-9)"),
        (json!({"tax_code": "0100109106-000", "name": "X"}), "branch suffix (last 3 digits)"),
        (json!({"tax_code": "01001091", "name": "X"}), "must be 10 digits"),
        (json!({"tax_code": "003099012345", "name": "X"}), "province code 003"),
        (json!({"tax_code": "0100109106", "name": "X", "type": "branch"}), "type branch cannot have a 10-digit code"),
        (json!({"tax_code": "0100233488", "name": "X", "type": "company"}), "type must be one of"),
        (json!({"tax_code": "0100233488", "name": "  "}), "organisation name"),
        (json!({"name": "X", "type": "enterprise"}), "needs a tax code"),
    ];
    for (body, message) in cases {
        let e = check(&app, "POST", "/orgs", &token, Some(body.clone()), 400).await;
        assert_eq!(e["error"], "invalid_request");
        let d = e["error_description"].as_str().unwrap();
        assert!(d.contains(message), "{body}: {d}");
    }
    // A branch, a household business (masked in lists) and an agency without a code.
    let branch =
        check(&app, "POST", "/orgs", &token, Some(json!({"tax_code": "0100109106001", "name": "Chi nhánh Huế"})), 201)
            .await;
    assert_eq!((branch["type"].as_str(), branch["tax_code"].as_str()), (Some("branch"), Some("0100109106-001")));
    let hh = check(&app, "POST", "/orgs", &token, Some(json!({"tax_code": "001099012345", "name": "Hộ KD Bình"})), 201)
        .await;
    assert_eq!((hh["type"].as_str(), hh["tax_code"].as_str()), (Some("household_business"), Some("001099012345")));
    check(&app, "POST", "/orgs", &token, Some(json!({"name": "UBND xã Một", "type": "agency"})), 201).await;

    let page = check(&app, "GET", "/orgs?limit=2", &token, None, 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_str().unwrap();
    let rest = check(&app, "GET", &format!("/orgs?cursor={next}"), &token, None, 200).await;
    let all: Vec<Value> =
        page["items"].as_array().unwrap().iter().chain(rest["items"].as_array().unwrap()).cloned().collect();
    assert_eq!(all.len(), 4);
    let listed_hh = all.iter().find(|o| o["id"] == hh["id"]).unwrap();
    assert_eq!(listed_hh["tax_code"], "001******345", "personal numbers are masked in lists");
    assert_eq!(check(&app, "GET", &format!("/orgs/{id}"), &token, None, 200).await["name"], "Công ty Cổ phần Sữa");
    check(&app, "GET", "/orgs/nope", &token, None, 404).await;

    // Representations.
    let person = app.user("an.nguyen").await;
    let rep = check(
        &app,
        "POST",
        &format!("/orgs/{id}/representations"),
        &token,
        Some(json!({"username": "an.nguyen", "role": "legal_representative"})),
        201,
    )
    .await;
    assert_eq!((rep["person_id"].as_str(), rep["org_id"].as_str()), (Some(person.as_str()), Some(id.as_str())));
    assert_eq!((rep["source"].as_str(), rep["status"].as_str()), (Some("officer"), Some("active")));
    let bad = [
        (json!({"username": "an.nguyen", "role": "owner"}), 400),
        (json!({"role": "head"}), 400),
        (json!({"username": "nobody", "role": "head"}), 404),
        (json!({"person_id": person, "role": "head", "valid_from": T0, "valid_until": T0}), 400),
        (json!({"person_id": person, "role": "head", "scope": ["a b"]}), 400),
        (json!({"person_id": person, "role": "head", "extra": 1}), 400),
    ];
    for (body, status) in bad {
        check(&app, "POST", &format!("/orgs/{id}/representations"), &token, Some(body), status).await;
    }
    check(&app, "POST", "/orgs/nope/representations", &token, Some(json!({"person_id": person, "role": "head"})), 404)
        .await;
    let emp = check(
        &app,
        "POST",
        &format!("/orgs/{id}/representations"),
        &token,
        Some(json!({"person_id": person, "role": "employee", "scope": ["client:portal"], "status": "pending"})),
        201,
    )
    .await;
    let listed = check(&app, "GET", &format!("/orgs/{id}/representations"), &token, None, 200).await;
    let roles: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|r| r["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["legal_representative", "employee"]);
    let rid = rep["id"].as_str().unwrap();
    let revoked = check(&app, "POST", &format!("/representations/{rid}/revoke"), &token, None, 200).await;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(
        check(&app, "POST", &format!("/representations/{rid}/revoke"), &token, None, 200).await["status"],
        "revoked"
    );
    check(&app, "POST", "/representations/nope/revoke", &token, None, 404).await;
    // Only what is in force reaches the sign-in context picker.
    let store = app.running.state.services.store.clone();
    assert!(store.representations_of_person(&PersonId(person.clone()), T0).await.unwrap().is_empty());
    let eid = RepresentationId(emp["id"].as_str().unwrap().into());
    store.set_representation_status(&eid, RepresentationStatus::Active, T0).await.unwrap();
    let now_in_force = store.representations_of_person(&PersonId(person), T0).await.unwrap();
    assert_eq!(now_in_force.len(), 1);
    assert!(now_in_force[0].0.covers("portal") && !now_in_force[0].0.covers("other"));

    // Everything was audited, refusals too, without personal numbers.
    let events = store.audit_events(0, 500).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.event.action.as_str()).collect();
    for a in [
        "org.create",
        "org.create.failed",
        "representation.create",
        "representation.create.failed",
        "representation.revoke",
    ] {
        assert!(actions.contains(&a), "{a} not audited: {actions:?}");
    }
    for e in &events {
        assert!(!serde_json::to_string(&e.event).unwrap().contains("001099012345"));
    }
}

#[tokio::test]
async fn legal_representatives_grant_and_revoke_mandates() {
    let app = TestApp::spawn().await;
    let store = app.running.state.services.store.clone();
    let s = store.as_ref();
    let boss = PersonId(app.user("giam.doc").await);
    let clerk = PersonId(app.user("ke.toan").await);
    let other = PersonId(app.user("nguoi.ngoai").await);
    let new =
        orgs::NewOrganisation { tax_code: Some("0100233488".into()), name: "Công ty B".into(), ..Default::default() };
    let org = orgs::create_org(s, "cli", new, T0).await.unwrap();
    let lr = orgs::NewRepresentation {
        person_id: Some(boss.0.clone()),
        role: "legal_representative".into(),
        valid_until: Some(T0 + 1_000_000),
        ..Default::default()
    };
    orgs::add_representation(s, "cli", &org.id.0, lr, T0).await.unwrap();
    let grant = |grantee: &PersonId, until: Option<i64>| MandateGrant {
        org: org.id.clone(),
        grantee: grantee.clone(),
        scope: vec!["procedure:1.000466".into()],
        valid_until: until,
    };
    let refused = |r: Result<_, MandateFlowError>| match r {
        Err(MandateFlowError::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    };
    // Refusals: weak sign-in, no expiry, beyond the granter's validity, not a representative.
    let weak = orgs::grant_mandate(s, &boss, false, grant(&clerk, Some(T0 + 100)), T0).await;
    assert_eq!(refused(weak), MandateError::WeakAuthentication);
    assert_eq!(refused(orgs::grant_mandate(s, &boss, true, grant(&clerk, None), T0).await), MandateError::NoExpiry);
    let long = orgs::grant_mandate(s, &boss, true, grant(&clerk, Some(T0 + 2_000_000)), T0).await;
    assert_eq!(refused(long), MandateError::BeyondGranter);
    let outsider = orgs::grant_mandate(s, &other, true, grant(&clerk, Some(T0 + 100)), T0).await;
    assert_eq!(refused(outsider), MandateError::NotRepresentative);
    assert!(store.representations_of_person(&clerk, T0).await.unwrap().is_empty(), "nothing was written");
    // Granted: in force for the scope until expiry.
    let m = orgs::grant_mandate(s, &boss, true, grant(&clerk, Some(T0 + 100)), T0).await.unwrap();
    assert_eq!((m.granted_by.as_ref(), m.valid_until), (Some(&boss), Some(T0 + 100)));
    let mine = store.representations_of_person(&clerk, T0 + 50).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert!(mine[0].0.covers_procedure("1.000466") && mine[0].1.id == org.id);
    assert!(store.representations_of_person(&clerk, T0 + 100).await.unwrap().is_empty(), "expired");
    // An authorised person cannot pass it on or revoke it; the legal representative can.
    let passed = orgs::grant_mandate(s, &clerk, true, grant(&other, Some(T0 + 50)), T0 + 10).await;
    assert_eq!(refused(passed), MandateError::RoleMayNotMandate);
    assert_eq!(refused(orgs::revoke_mandate(s, &clerk, true, &m.id, T0 + 10).await), MandateError::RoleMayNotMandate);
    assert_eq!(refused(orgs::revoke_mandate(s, &boss, false, &m.id, T0 + 10).await), MandateError::WeakAuthentication);
    let gone = orgs::revoke_mandate(s, &boss, true, &m.id, T0 + 10).await.unwrap();
    assert_eq!(gone.status, RepresentationStatus::Revoked);
    assert!(store.representations_of_person(&clerk, T0 + 20).await.unwrap().is_empty());
    let unknown = orgs::revoke_mandate(s, &boss, true, &RepresentationId("nope".into()), T0).await;
    assert!(matches!(unknown, Err(MandateFlowError::NotFound(_))));
    let ghost_org = MandateGrant { org: OrgId("nope".into()), ..grant(&clerk, Some(T0 + 10)) };
    assert!(matches!(orgs::grant_mandate(s, &boss, true, ghost_org, T0).await, Err(MandateFlowError::NotFound(_))));
    // Each attempt is audited with the person as actor.
    let events = store.audit_events(0, 500).await.unwrap();
    let by_boss: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.event.actor == format!("person:{}", boss.0))
        .map(|e| (e.event.action.as_str(), e.event.outcome.as_str()))
        .collect();
    assert_eq!(by_boss.iter().filter(|(a, _)| *a == "mandate.grant.failed").count(), 4);
    assert!(by_boss.contains(&("mandate.grant", "success")) && by_boss.contains(&("mandate.revoke", "success")));
    assert!(by_boss.contains(&("mandate.revoke.failed", "failure")));
    let weak_event = events.iter().find(|e| e.event.action == "mandate.grant.failed").unwrap();
    assert!(weak_event.event.detail["reason"].as_str().unwrap().contains("urn:vn:eid:loa:2"));
}

#[tokio::test]
async fn the_cli_manages_organisations_and_refuses_bad_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
            .args(args)
            .current_dir(dir.path())
            .env("DINHDANH_DATABASE_URL", &db)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let one_line_error = |out: &std::process::Output, needle: &str| {
        assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one clear line: {err}");
        assert!(lines[0].contains(needle), "{err}");
        assert!(out.stdout.is_empty());
    };

    let out = cli(&["org", "create", "--tax-code", "0100109106", "--name", "Công ty A", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((made["tax_code"].as_str(), made["type"].as_str()), (Some("0100109106"), Some("enterprise")));
    one_line_error(&cli(&["org", "create", "--tax-code", "0100233480", "--name", "B"]), "check digit (10th digit)");
    one_line_error(&cli(&["org", "create", "--tax-code", "12345", "--name", "B"]), "must be 10 digits");
    one_line_error(
        &cli(&["org", "create", "--tax-code", "0100109106", "--name", "B", "--type", "branch"]),
        "NNNNNNNNNN-NNN",
    );
    one_line_error(&cli(&["org", "create", "--tax-code", "0100109106", "--name", "Again"]), "already registered");
    let out = cli(&["org", "create", "--tax-code", "0100109106-001", "--name", "Chi nhánh", "--type", "branch"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = cli(&["org", "list", "--json"]);
    assert!(out.status.success());
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> =
        listed["items"].as_array().unwrap().iter().map(|o| o["tax_code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["0100109106", "0100109106-001"]);

    // user create refuses an invalid personal number with one clear line.
    one_line_error(
        &cli(&[
            "user",
            "create",
            "--username",
            "an.tran",
            "--password",
            "mat-khau-dai",
            "--personal-number",
            "003099012345",
        ]),
        "province code 003",
    );
    let out = cli(&[
        "user",
        "create",
        "--username",
        "an.nguyen",
        "--password",
        "mat-khau-dai",
        "--personal-number",
        "001099012345",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let person: Value = serde_json::from_slice(&out.stdout).unwrap();

    // represent, by tax code (any spelling) or id, with an end date.
    let out = cli(&[
        "org",
        "represent",
        "--org",
        "0100.109.106",
        "--username",
        "an.nguyen",
        "--role",
        "authorised_person",
        "--scope",
        "procedure:1.000466",
        "--scope",
        "client:portal",
        "--until",
        "2030-12-31",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rep["person_id"], person["id"]);
    assert_eq!(rep["org_id"], made["id"]);
    assert_eq!(rep["scope"], json!(["procedure:1.000466", "client:portal"]));
    assert_eq!(rep["valid_until"], 1_924_992_000); // 2031-01-01T00:00:00Z
    let by_id =
        cli(&["org", "represent", "--org", made["id"].as_str().unwrap(), "--username", "an.nguyen", "--role", "head"]);
    assert!(by_id.status.success(), "{}", String::from_utf8_lossy(&by_id.stderr));
    one_line_error(
        &cli(&["org", "represent", "--org", "0100233488", "--username", "an.nguyen", "--role", "head"]),
        "not found",
    );
    one_line_error(
        &cli(&["org", "represent", "--org", "0100109106", "--username", "an.nguyen", "--role", "boss"]),
        "role must be",
    );
    one_line_error(
        &cli(&[
            "org",
            "represent",
            "--org",
            "0100109106",
            "--username",
            "an.nguyen",
            "--role",
            "head",
            "--until",
            "soon",
        ]),
        "--until",
    );
}
