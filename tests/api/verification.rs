//! Officer verification over the admin API: officers sign in through the code flow and
//! act with their person-bound `admin:verification` tokens; level 2 needs two different
//! officers; self-approval, repeated approval, out-of-scope officers and decisions on
//! closed cases are refused, and every refusal is in the intact audit chain. Also the
//! CLI's refusals.

use dinhdanh::identity::{AssuranceLevel, AssuranceSource, Evidence, PersonId};
use serde_json::{Value, json};

use crate::helpers::{REDIRECT, SECRET, T0, TestApp, admin_call as call, admin_token, client_credentials, json_of};

const DOC_NUMBER: &str = "079203099999";

/// A person-bound token from the code flow through the console client.
async fn officer_token(app: &TestApp, username: &str) -> String {
    let t = app.tokens(&app.browser(), "console", username, &[("scope", "openid admin:verification")]).await;
    assert!(t["scope"].as_str().unwrap().contains("admin:verification"), "{t}");
    t["access_token"].as_str().unwrap().to_owned()
}

fn evidence() -> Value {
    json!({"document_type": "vn_the_can_cuoc", "document_number": DOC_NUMBER, "issuer": "Bộ Công an",
           "date_of_issuance": "2024-07-01", "date_of_expiry": "2039-07-01",
           "attachments": ["ab".repeat(32)], "check_method": "pvp"})
}

async fn decide(app: &TestApp, token: &str, case: &str, outcome: &str, reason: Option<&str>) -> reqwest::Response {
    let mut body = json!({"outcome": outcome});
    if let Some(r) = reason {
        body["reason"] = r.into();
    }
    call(app, "POST", &format!("/verification/cases/{case}/decisions"), Some(token), Some(body)).await
}

#[tokio::test]
async fn level_2_needs_two_different_officers_and_every_refusal_is_audited() {
    let app = TestApp::spawn().await;
    app.client(json!({"client_id": "console", "client_secret": SECRET, "redirect_uris": [REDIRECT],
                      "scope": "openid admin:verification"}))
        .await;
    let citizen = app.user("an.nguyen").await;
    let a = app.user("can.bo.a").await;
    let b = app.user("can.bo.b").await;
    let far = app.user("can.bo.xa").await;
    let admin = admin_token(&app).await;
    // Officer records are data, set by an administrator; the citizen is an officer too.
    for (who, province, commune) in
        [(&a, "001", None), (&b, "1", Some("00004")), (&far, "079", None), (&citizen, "001", None)]
    {
        let mut body = json!({"role": "verifier", "province": province});
        if let Some(c) = commune {
            body["commune"] = c.into();
        }
        let o = json_of(call(&app, "PUT", &format!("/officers/{who}"), Some(&admin), Some(body)).await, 200).await;
        assert_eq!(o["person_id"], who.as_str());
    }
    let bad = json!({"role": "boss", "province": "001"});
    assert_eq!(call(&app, "PUT", &format!("/officers/{a}"), Some(&admin), Some(bad)).await.status(), 400);
    let nobody = json!({"role": "verifier", "province": "001"});
    assert_eq!(call(&app, "PUT", "/officers/nobody", Some(&admin), Some(nobody)).await.status(), 404);

    let token_a = officer_token(&app, "can.bo.a").await;
    let token_b = officer_token(&app, "can.bo.b").await;
    let token_far = officer_token(&app, "can.bo.xa").await;
    let token_self = officer_token(&app, "an.nguyen").await;
    let officer = json_of(call(&app, "GET", &format!("/officers/{b}"), Some(&token_a), None).await, 200).await;
    assert_eq!((officer["province"].as_str(), officer["commune"].as_str()), (Some("001"), Some("00004")));

    // Officer A opens a level-2 case for the citizen at a commune office.
    let body = json!({"subject": {"type": "person", "id": citizen}, "level": 2,
                      "office": {"province": "001", "commune": "00004"}, "evidence": [evidence()]});
    let case = json_of(call(&app, "POST", "/verification/cases", Some(&token_a), Some(body.clone())).await, 201).await;
    let id = case["id"].as_str().unwrap().to_owned();
    assert_eq!((case["state"].as_str(), case["opened_by"].as_str()), (Some("submitted"), Some(a.as_str())));
    assert_eq!(case["approvals_needed"], 2);
    // An officer of another province cannot open one here.
    assert_eq!(call(&app, "POST", "/verification/cases", Some(&token_far), Some(body)).await.status(), 403);

    // A service token may read the queue but not decide: there is no person behind it.
    app.client(json!({"client_id": "queue-reader", "client_secret": SECRET, "grant_types": ["client_credentials"],
                      "scope": "admin:verification"}))
        .await;
    let t = client_credentials(&app, "queue-reader", SECRET).await;
    let service = t["access_token"].as_str().unwrap().to_owned();
    let queue =
        json_of(call(&app, "GET", "/verification/cases?state=submitted", Some(&service), None).await, 200).await;
    assert_eq!(queue["items"][0]["id"], id.as_str());
    let r = json_of(decide(&app, &service, &id, "approve", None).await, 403).await;
    assert_eq!(r["error"], "officer_required");
    assert!(r["error_description"].as_str().unwrap().contains("signed-in officer"), "{r}");
    // The admin:people administrator token has no verification scope.
    assert_eq!(decide(&app, &admin, &id, "approve", None).await.status(), 403);

    // A approves: still in review. A again: refused.
    let c = json_of(decide(&app, &token_a, &id, "approve", None).await, 200).await;
    assert_eq!((c["state"].as_str(), c["decisions"].as_array().unwrap().len()), (Some("in_review"), 1));
    assert_eq!(json_of(decide(&app, &token_a, &id, "approve", None).await, 409).await["error"], "already_approved");
    // Self-approval, an out-of-scope officer, a rejection without a reason: refused.
    assert_eq!(json_of(decide(&app, &token_self, &id, "approve", None).await, 403).await["error"], "self_decision");
    assert_eq!(json_of(decide(&app, &token_far, &id, "approve", None).await, 403).await["error"], "out_of_scope");
    assert_eq!(json_of(decide(&app, &token_b, &id, "reject", None).await, 400).await["error"], "reason_required");
    assert_eq!(decide(&app, &token_b, &id, "maybe", None).await.status(), 400);
    // The far officer's queue does not show this province's case.
    let theirs = json_of(call(&app, "GET", "/verification/cases", Some(&token_far), None).await, 200).await;
    assert_eq!(theirs["items"], json!([]));
    assert_eq!(call(&app, "GET", &format!("/verification/cases/{id}"), Some(&token_far), None).await.status(), 404);

    let store = app.running.state.services.store.clone();
    let person = store.find_person(&PersonId(citizen.clone())).await.unwrap().unwrap();
    assert_eq!(person.assurance.level, AssuranceLevel::None, "one approval changes nothing");

    // B approves: approved, and the citizen is level 2 from an officer check.
    app.clock.advance(60);
    let c = json_of(decide(&app, &token_b, &id, "approve", Some("đã đối chiếu")).await, 200).await;
    assert_eq!((c["state"].as_str(), c["closed_at"].as_i64()), (Some("approved"), Some(T0 + 60)));
    let person = store.find_person(&PersonId(citizen.clone())).await.unwrap().unwrap();
    assert_eq!(
        (person.assurance.level, person.assurance.source, person.assurance.verified_at),
        (AssuranceLevel::Level2, AssuranceSource::Officer, Some(T0 + 60))
    );
    match &person.assurance.evidence {
        Some(Evidence::Document { document_type, document_number, case_id, organization, check_method, .. }) => {
            assert_eq!(
                (document_type.as_str(), document_number.as_str(), case_id.as_str()),
                ("vn_the_can_cuoc", DOC_NUMBER, id.as_str())
            );
            assert_eq!((organization.as_str(), check_method.as_str()), ("001/00004", "pvp"));
        }
        other => panic!("document evidence expected: {other:?}"),
    }
    // What the officers verified is what relying parties now receive: the citizen signs
    // in at a portal allowed `verified_claims` and asks for them.
    app.client(json!({"client_id": "ida-portal", "client_secret": SECRET, "redirect_uris": [REDIRECT],
                      "scope": "openid profile", "allowed_claims": ["name", "verified_claims"]}))
        .await;
    let request = r#"{"userinfo":{"verified_claims":{"verification":{"trust_framework":null,"assurance_level":null,"evidence":[{"type":null}]},"claims":{"name":null}}}}"#;
    let t = app
        .tokens(&app.browser(), "ida-portal", "an.nguyen", &[("scope", "openid profile"), ("claims", request)])
        .await;
    let info: Value = app
        .api()
        .get(app.url("/userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vc = &info["verified_claims"];
    assert_eq!(vc["verification"]["trust_framework"], "vn_nd69", "{info}");
    assert_eq!(vc["verification"]["assurance_level"], "level2");
    assert_eq!(vc["verification"]["evidence"][0]["type"], "document");
    assert_eq!(vc["verification"]["evidence"][0]["check_details"][0]["check_method"], "pvp");
    assert_eq!(vc["claims"]["name"], "Nguyễn Văn An");

    // Closed: no more decisions, evidence or withdrawal.
    assert_eq!(json_of(decide(&app, &token_a, &id, "reject", Some("x")).await, 409).await["error"], "case_closed");
    let r = call(&app, "POST", &format!("/verification/cases/{id}/evidence"), Some(&token_a), Some(evidence())).await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        call(&app, "POST", &format!("/verification/cases/{id}/withdraw"), Some(&token_a), None).await.status(),
        409
    );
    let read = json_of(call(&app, "GET", &format!("/verification/cases/{id}"), Some(&token_b), None).await, 200).await;
    let deciders: Vec<&str> =
        read["decisions"].as_array().unwrap().iter().map(|d| d["officer"].as_str().unwrap()).collect();
    assert_eq!(deciders, [a.as_str(), b.as_str()]);

    // A level-1 case the citizen opens about themselves: one approval; they may withdraw
    // their own open case.
    let mine = json!({"subject": {"type": "person", "id": citizen}, "level": 1, "office": {"province": "001"}});
    let own = json_of(call(&app, "POST", "/verification/cases", Some(&token_self), Some(mine)).await, 201).await;
    let own_id = own["id"].as_str().unwrap();
    let r = call(&app, "POST", &format!("/verification/cases/{own_id}/evidence"), Some(&token_self), Some(evidence()))
        .await;
    assert_eq!(json_of(r, 200).await["evidence"].as_array().unwrap().len(), 1);
    assert_eq!(
        call(&app, "POST", &format!("/verification/cases/{own_id}/withdraw"), Some(&token_b), None).await.status(),
        403
    );
    let w = call(&app, "POST", &format!("/verification/cases/{own_id}/withdraw"), Some(&token_self), None).await;
    assert_eq!(json_of(w, 200).await["state"], "withdrawn");

    // The audit chain holds every action and every refusal, with officers as actors and
    // no document number in clear.
    let events = store.audit_events(0, 1000).await.unwrap();
    let refused = |code: &str, actor: &str| {
        events.iter().any(|e| {
            e.event.action.starts_with("verification.")
                && e.event.action.ends_with(".refused")
                && e.event.detail["error"] == code
                && e.event.actor == format!("person:{actor}")
                && e.event.subject.as_deref() == Some(id.as_str())
        })
    };
    assert!(refused("already_approved", &a), "same officer twice audited");
    assert!(refused("self_decision", &citizen), "self-approval audited");
    assert!(refused("out_of_scope", &far), "out of scope audited");
    assert!(refused("case_closed", &a), "closed case audited");
    assert!(refused("reason_required", &b));
    assert!(
        events
            .iter()
            .any(|e| e.event.action == "verification.approve.refused" && e.event.actor == "admin:queue-reader")
    );
    let approvals: Vec<&str> = events
        .iter()
        .filter(|e| e.event.action == "verification.approve" && e.event.subject.as_deref() == Some(id.as_str()))
        .map(|e| e.event.detail["state"].as_str().unwrap())
        .collect();
    assert_eq!(approvals, ["in_review", "approved"]);
    for e in &events {
        let text = serde_json::to_string(&e.event).unwrap();
        assert!(!text.contains(DOC_NUMBER), "document number in clear in the audit log: {text}");
        assert!(!text.contains("001099012345"), "personal number in the audit log");
    }
    assert!(events.iter().any(|e| e.event.detail["documents"] == json!(["079******999"])));
    let verdict = dinhdanh::audit::verify(store.as_ref()).await.unwrap();
    assert_eq!(verdict, dinhdanh::audit::Verdict::Intact { events: i64::try_from(events.len()).unwrap() });
}

#[tokio::test]
async fn the_cli_opens_and_decides_cases_and_refuses_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
            .args(args)
            .current_dir(dir.path())
            .env("DINHDANH_DATABASE_URL", &db)
            .output()
            .unwrap()
    };
    for u in ["cong.dan", "can.bo.a", "can.bo.b"] {
        let out = cli(&["user", "create", "--username", u, "--password", "mat-khau-dai-du"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for (u, role) in [("can.bo.a", "verifier"), ("can.bo.b", "supervisor")] {
        let out = cli(&["officer", "add", "--username", u, "--role", role, "--province", "001"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = cli(&["officer", "add", "--username", "ai.do", "--role", "verifier", "--province", "001"]);
    assert!(!out.status.success());
    let out = cli(&[
        "verification",
        "open",
        "--person",
        "cong.dan",
        "--level",
        "2",
        "--document-type",
        "vn_the_can_cuoc",
        "--document-number",
        DOC_NUMBER,
        "--document-issuer",
        "Bộ Công an",
        "--issued",
        "2024-07-01",
        "--check-method",
        "pvp",
        "--province",
        "001",
        "--officer",
        "can.bo.a",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let case: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = case["id"].as_str().unwrap();
    let approve = |who: &str| cli(&["verification", "decide", id, "--officer", who, "--approve"]);
    assert!(approve("can.bo.a").status.success());
    let again = approve("can.bo.a");
    assert!(!again.status.success());
    let line = String::from_utf8_lossy(&again.stderr).into_owned();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains("different officer"), "{line}");
    let self_approval = approve("cong.dan");
    assert!(!self_approval.status.success(), "the citizen is no officer");
    let listed = cli(&["verification", "list", "--state", "in_review", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["items"][0]["id"], id);
    let table = String::from_utf8_lossy(&cli(&["verification", "list"]).stdout).into_owned();
    assert!(table.contains(id) && table.contains("1/2"), "{table}");
    let done = approve("can.bo.b");
    assert!(done.status.success());
    assert_eq!(serde_json::from_slice::<Value>(&done.stdout).unwrap()["state"], "approved");
    assert!(!cli(&["verification", "decide", id, "--officer", "can.bo.b", "--reject"]).status.success());
    let verify = cli(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}
