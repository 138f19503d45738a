//! Verification outcomes for organisations and representations over the admin API and
//! the CLI: a representation recorded pending at a counter becomes active only after two
//! different officers approve its case (and the representative cannot approve it); an
//! organisation case raises the organisation's assurance; unknown subjects and revoked
//! representations are refused.

use dinhdanh::clock::Clock;
use dinhdanh::identity::{PersonId, RepresentationStatus};
use serde_json::{Value, json};

use crate::helpers::{REDIRECT, SECRET, T0, TestApp, admin_call as call, admin_token, json_of};

const TAX_CODE: &str = "0100109106";

async fn officer_token(app: &TestApp, username: &str) -> String {
    let t = app.tokens(&app.browser(), "console", username, &[("scope", "openid admin:verification")]).await;
    t["access_token"].as_str().unwrap().to_owned()
}

fn evidence(kind: &str) -> Value {
    json!({"document_type": kind, "document_number": "0100109106-GP", "issuer": "Sở Kế hoạch và Đầu tư Hà Nội",
           "date_of_issuance": "2020-03-02", "check_method": "pvp"})
}

fn case_body(kind: &str, id: &str, level: u8) -> Value {
    json!({"subject": {"type": kind, "id": id}, "level": level, "office": {"province": "001"},
           "evidence": [evidence("vn_giay_chung_nhan_dkdn")]})
}

async fn decide(app: &TestApp, token: &str, case: &str) -> reqwest::Response {
    call(
        app,
        "POST",
        &format!("/verification/cases/{case}/decisions"),
        Some(token),
        Some(json!({"outcome": "approve"})),
    )
    .await
}

#[tokio::test]
async fn a_pending_representation_needs_two_officers_and_an_organisation_case_raises_its_assurance() {
    let app = TestApp::spawn().await;
    app.client(json!({"client_id": "console", "client_secret": SECRET, "redirect_uris": [REDIRECT],
                      "scope": "openid admin:verification"}))
        .await;
    let representative = app.user("giam.doc").await;
    let a = app.user("can.bo.a").await;
    let b = app.user("can.bo.b").await;
    let admin = admin_token(&app).await;
    // The representative is an officer too: they still may not confirm their own claim.
    for who in [&a, &b, &representative] {
        let body = json!({"role": "verifier", "province": "001"});
        json_of(call(&app, "PUT", &format!("/officers/{who}"), Some(&admin), Some(body)).await, 200).await;
    }
    let org = json_of(
        call(&app, "POST", "/orgs", Some(&admin), Some(json!({"tax_code": TAX_CODE, "name": "Công ty Cổ phần A"})))
            .await,
        201,
    )
    .await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    assert_eq!(org["assurance_level"], 0);

    // At the counter: the claimed representation is recorded pending.
    let claim = json!({"username": "giam.doc", "role": "legal_representative", "status": "pending"});
    let rep =
        json_of(call(&app, "POST", &format!("/orgs/{org_id}/representations"), Some(&admin), Some(claim)).await, 201)
            .await;
    let rep_id = rep["id"].as_str().unwrap().to_owned();
    assert_eq!(rep["status"], "pending");
    let store = app.running.state.services.store.clone();
    let person = PersonId(representative.clone());
    assert!(store.representations_of_person(&person, app.clock.now()).await.unwrap().is_empty());

    let token_a = officer_token(&app, "can.bo.a").await;
    let token_b = officer_token(&app, "can.bo.b").await;
    let token_rep = officer_token(&app, "giam.doc").await;

    // Unknown subjects are refused with a clear error.
    for (kind, id) in [("organisation", "0100233488"), ("organisation", "no-such-org"), ("representation", "nope")] {
        let r =
            json_of(call(&app, "POST", "/verification/cases", Some(&token_a), Some(case_body(kind, id, 1))).await, 404)
                .await;
        assert!(r["error_description"].as_str().unwrap().contains(&format!("no such {kind}")), "{r}");
    }

    // The representation case: level 1, yet two approvals (four-eyes).
    let case = json_of(
        call(&app, "POST", "/verification/cases", Some(&token_a), Some(case_body("representation", &rep_id, 1))).await,
        201,
    )
    .await;
    let case_id = case["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (case["approvals_needed"].as_u64(), case["subject"]["type"].as_str()),
        (Some(2), Some("representation"))
    );
    let r = json_of(decide(&app, &token_rep, &case_id).await, 403).await;
    assert_eq!(r["error"], "self_decision", "the representative cannot confirm their own representation");
    let c = json_of(decide(&app, &token_a, &case_id).await, 200).await;
    assert_eq!(c["state"], "in_review");
    let listed =
        json_of(call(&app, "GET", &format!("/orgs/{org_id}/representations"), Some(&admin), None).await, 200).await;
    assert_eq!(listed["items"][0]["status"], "pending", "one approval confirms nothing");
    assert!(store.representations_of_person(&person, app.clock.now()).await.unwrap().is_empty());
    app.clock.advance(30);
    let c = json_of(decide(&app, &token_b, &case_id).await, 200).await;
    assert_eq!(c["state"], "approved");
    let listed =
        json_of(call(&app, "GET", &format!("/orgs/{org_id}/representations"), Some(&admin), None).await, 200).await;
    assert_eq!(
        (listed["items"][0]["status"].as_str(), listed["items"][0]["updated_at"].as_i64()),
        (Some("active"), Some(T0 + 30))
    );
    let mine = store.representations_of_person(&person, app.clock.now()).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].0.id.0.as_str(), mine[0].0.status, mine[0].1.id.0.as_str()),
        (rep_id.as_str(), RepresentationStatus::Active, org_id.as_str())
    );

    // The organisation case, named by its tax code: one officer at level 1.
    let case = json_of(
        call(&app, "POST", "/verification/cases", Some(&token_a), Some(case_body("organisation", TAX_CODE, 1))).await,
        201,
    )
    .await;
    assert_eq!(case["subject"]["id"], org_id.as_str(), "stored by internal id");
    let case_id = case["id"].as_str().unwrap().to_owned();
    // Someone who represents the organisation may not verify it.
    assert_eq!(json_of(decide(&app, &token_rep, &case_id).await, 403).await["error"], "self_decision");
    app.clock.advance(30);
    assert_eq!(json_of(decide(&app, &token_a, &case_id).await, 200).await["state"], "approved");
    let org = json_of(call(&app, "GET", &format!("/orgs/{org_id}"), Some(&admin), None).await, 200).await;
    assert_eq!(
        (org["assurance_level"].as_i64(), org["assurance_source"].as_str(), org["assurance_time"].as_i64()),
        (Some(1), Some("officer"), Some(T0 + 60))
    );

    // A revoked representation cannot be put up for confirmation.
    let r =
        json_of(call(&app, "POST", &format!("/representations/{rep_id}/revoke"), Some(&admin), None).await, 200).await;
    assert_eq!(r["status"], "revoked");
    let r = json_of(
        call(&app, "POST", "/verification/cases", Some(&token_a), Some(case_body("representation", &rep_id, 1))).await,
        409,
    )
    .await;
    assert!(r["error_description"].as_str().unwrap().contains("revoked"), "{r}");
    let verdict = dinhdanh::audit::verify(store.as_ref()).await.unwrap();
    assert!(matches!(verdict, dinhdanh::audit::Verdict::Intact { .. }), "{verdict:?}");
}

#[tokio::test]
async fn a_representation_revoked_during_review_is_never_revived() {
    let app = TestApp::spawn().await;
    app.client(json!({"client_id": "console", "client_secret": SECRET, "redirect_uris": [REDIRECT],
                      "scope": "openid admin:verification"}))
        .await;
    app.user("nguoi.dai.dien").await;
    let a = app.user("can.bo.a").await;
    let b = app.user("can.bo.b").await;
    let admin = admin_token(&app).await;
    for who in [&a, &b] {
        let body = json!({"role": "verifier", "province": "001"});
        json_of(call(&app, "PUT", &format!("/officers/{who}"), Some(&admin), Some(body)).await, 200).await;
    }
    let org =
        json_of(call(&app, "POST", "/orgs", Some(&admin), Some(json!({"tax_code": TAX_CODE, "name": "A"}))).await, 201)
            .await;
    let claim = json!({"username": "nguoi.dai.dien", "role": "head", "status": "pending"});
    let path = format!("/orgs/{}/representations", org["id"].as_str().unwrap());
    let rep = json_of(call(&app, "POST", &path, Some(&admin), Some(claim)).await, 201).await;
    let rep_id = rep["id"].as_str().unwrap().to_owned();
    let token_a = officer_token(&app, "can.bo.a").await;
    let token_b = officer_token(&app, "can.bo.b").await;
    let case = json_of(
        call(&app, "POST", "/verification/cases", Some(&token_a), Some(case_body("representation", &rep_id, 1))).await,
        201,
    )
    .await;
    let case_id = case["id"].as_str().unwrap().to_owned();
    json_of(decide(&app, &token_a, &case_id).await, 200).await;
    json_of(call(&app, "POST", &format!("/representations/{rep_id}/revoke"), Some(&admin), None).await, 200).await;
    // The second approval is refused; the case stays in review and can be rejected.
    let r = json_of(decide(&app, &token_b, &case_id).await, 409).await;
    assert!(r["error_description"].as_str().unwrap().contains("revoked"), "{r}");
    let c =
        json_of(call(&app, "GET", &format!("/verification/cases/{case_id}"), Some(&token_b), None).await, 200).await;
    assert_eq!((c["state"].as_str(), c["decisions"].as_array().unwrap().len()), (Some("in_review"), 1));
    let body = json!({"outcome": "reject", "reason": "đại diện đã bị thu hồi"});
    let path = format!("/verification/cases/{case_id}/decisions");
    assert_eq!(json_of(call(&app, "POST", &path, Some(&token_b), Some(body)).await, 200).await["state"], "rejected");
    let store = app.running.state.services.store.clone();
    let rep = store.find_representation(&dinhdanh::identity::RepresentationId(rep_id)).await.unwrap().unwrap();
    assert_eq!(rep.status, RepresentationStatus::Revoked);
}

#[tokio::test]
async fn the_cli_records_a_pending_representation_and_confirms_it_with_two_officers() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
            .args(args)
            .current_dir(dir.path())
            .env("DINHDANH_DATABASE_URL", &db)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ok = |args: &[&str]| -> Value {
        let (success, stdout, stderr) = cli(args);
        assert!(success, "{args:?}: {stderr}");
        serde_json::from_str(&stdout).unwrap()
    };
    for u in ["giam.doc", "can.bo.a", "can.bo.b"] {
        let (success, _, stderr) = cli(&["user", "create", "--username", u, "--password", "mat-khau-dai-du"]);
        assert!(success, "{stderr}");
    }
    for u in ["can.bo.a", "can.bo.b"] {
        ok(&["officer", "add", "--username", u, "--role", "verifier", "--province", "001"]);
    }
    let org = ok(&["org", "create", "--tax-code", TAX_CODE, "--name", "Công ty Cổ phần A"]);
    let rep = ok(&[
        "org",
        "represent",
        "--org",
        TAX_CODE,
        "--username",
        "giam.doc",
        "--role",
        "legal_representative",
        "--pending",
    ]);
    assert_eq!(rep["status"], "pending");
    let rep_id = rep["id"].as_str().unwrap();
    let doc = [
        "--document-type",
        "vn_giay_chung_nhan_dkdn",
        "--document-number",
        "0100109106",
        "--document-issuer",
        "Sở KH&ĐT Hà Nội",
        "--province",
        "001",
        "--officer",
        "can.bo.a",
    ];
    let open = |subject: &[&str]| {
        let mut args = vec!["verification", "open", "--level", "1"];
        args.extend_from_slice(subject);
        args.extend_from_slice(&doc);
        cli(&args)
    };
    // Unknown subjects, and two subjects at once, are refused with one line.
    let (success, _, stderr) = open(&["--representation", "nope"]);
    assert!(!success && stderr.contains("no such representation") && stderr.lines().count() == 1, "{stderr}");
    let (success, _, stderr) = open(&["--org", "0100233488"]);
    assert!(!success && stderr.contains("no such organisation"), "{stderr}");
    let (success, _, _) = open(&["--org", TAX_CODE, "--representation", rep_id]);
    assert!(!success, "one subject only");

    let (success, stdout, stderr) = open(&["--representation", rep_id]);
    assert!(success, "{stderr}");
    let case: Value = serde_json::from_str(&stdout).unwrap();
    let id = case["id"].as_str().unwrap();
    let approve = |who: &str| ok(&["verification", "decide", id, "--officer", who, "--approve"]);
    assert_eq!(approve("can.bo.a")["state"], "in_review");
    assert_eq!(approve("can.bo.b")["state"], "approved");

    let (success, stdout, stderr) = open(&["--org", TAX_CODE]);
    assert!(success, "{stderr}");
    let case: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(case["subject"], json!({"type": "organisation", "id": org["id"]}));
    let decided = ok(&["verification", "decide", case["id"].as_str().unwrap(), "--officer", "can.bo.b", "--approve"]);
    assert_eq!(decided["state"], "approved");

    let app =
        TestApp::spawn_with(dinhdanh::config::Settings { database_url: Some(db.clone()), ..Default::default() }).await;
    let store = app.running.state.services.store.clone();
    let rep =
        store.find_representation(&dinhdanh::identity::RepresentationId(rep_id.to_owned())).await.unwrap().unwrap();
    assert_eq!(rep.status, RepresentationStatus::Active);
    let org =
        store.find_org(&dinhdanh::identity::OrgId(org["id"].as_str().unwrap().to_owned())).await.unwrap().unwrap();
    assert_eq!(org.assurance.level, dinhdanh::identity::AssuranceLevel::Level1);
}
