//! OpenID Identity Assurance over HTTP: `verified_claims` released in userinfo and the ID
//! token only when requested there and allowed for the client (`allowed_claims`), only
//! for verified people, only requested claims, constraints honoured; discovery metadata;
//! `vn_pin` refused at `/register`; consent receipts listed on `/account/consents`, and
//! withdrawal asking for consent again and killing the refresh token.

use dinhdanh::flows::admin;
use dinhdanh::identity::{Assurance, AssuranceLevel, AssuranceSource, Evidence, PersonId};
use serde_json::{Value, json};

use crate::helpers::{REDIRECT, SECRET, T0, TestApp, claims, code_of, form_action, hidden, location};

/// `verified_claims` for userinfo: name and birthdate under `vn_nd69`.
const UI_REQUEST: &str = r#"{"userinfo":{"verified_claims":{"verification":{"trust_framework":null,"assurance_level":null,"evidence":[{"type":null}]},"claims":{"name":null,"birthdate":null,"email":null}}}}"#;

async fn client_allowing(app: &TestApp, id: &str, allowed: Option<Value>) {
    let mut md = json!({
        "client_id": id, "client_secret": SECRET, "redirect_uris": [REDIRECT],
        "client_name": format!("Cổng {id}"), "scope": "openid profile email offline_access",
        "grant_types": ["authorization_code", "refresh_token"],
        "purpose": "Giải quyết thủ tục hộ tịch",
    });
    if let Some(a) = allowed {
        md["allowed_claims"] = a;
    }
    app.client(md).await;
}

/// Makes `username` a level-2 person verified upstream, with a birth date.
async fn verify(app: &TestApp, person: &str) {
    let store = app.running.state.services.store.as_ref();
    let mut p = store.find_person(&PersonId(person.into())).await.unwrap().unwrap();
    p.birthdate = Some("1999-01-02".into());
    p.assurance = Assurance {
        level: AssuranceLevel::Level2,
        source: AssuranceSource::Upstream,
        verified_at: Some(T0 - 3_600),
        evidence: Some(Evidence::ElectronicRecord {
            upstream: "https://vneid.example.vn".into(),
            check_method: "bvr".into(),
            time: T0 - 3_600,
        }),
    };
    assert!(store.update_person(&p, None).await.unwrap());
}

async fn userinfo(app: &TestApp, token: &Value) -> Value {
    let r = app.api().get(app.url("/userinfo")).bearer_auth(token["access_token"].as_str().unwrap()).send().await;
    let r = r.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn verified_claims_in_userinfo_only_for_allowed_clients_and_verified_people() {
    let app = TestApp::spawn().await;
    client_allowing(&app, "allowed", Some(json!(["name", "email", "verified_claims", "birthdate"]))).await;
    client_allowing(&app, "by-scope", None).await;
    let verified = app.user("an.nguyen").await;
    app.user("binh.tran").await;
    verify(&app, &verified).await;

    let b = app.browser();
    let t = app.tokens(&b, "allowed", "an.nguyen", &[("scope", "openid email"), ("claims", UI_REQUEST)]).await;
    let u = userinfo(&app, &t).await;
    let vc = &u["verified_claims"];
    assert_eq!(vc["verification"]["trust_framework"], "vn_nd69");
    assert_eq!(vc["verification"]["assurance_level"], "level2");
    assert_eq!(vc["verification"]["evidence"][0]["type"], "electronic_record");
    assert_eq!(vc["verification"]["evidence"][0]["record"]["source"]["name"], "Bộ Công an");
    assert!(vc["verification"].get("time").is_none(), "not requested, not released");
    assert_eq!(vc["claims"], json!({"name": "Nguyễn Văn An", "birthdate": "1999-01-02"}), "only requested, verified");
    assert_eq!(u["email"], "an.nguyen@example.vn", "plain claims as before");
    assert!(u.get("email_verified").is_none(), "outside the allow-list");
    let id = claims(t["id_token"].as_str().unwrap());
    assert!(id.get("verified_claims").is_none(), "requested under userinfo only");

    // A client without `verified_claims` in an allow-list gets none, whatever it asks.
    let t = app.tokens(&app.browser(), "by-scope", "an.nguyen", &[("claims", UI_REQUEST)]).await;
    let u = userinfo(&app, &t).await;
    assert!(u.get("verified_claims").is_none(), "{u}");
    assert_eq!(u["name"], "Nguyễn Văn An", "scope-based release is unchanged");

    // An unverified person gets none.
    let t = app.tokens(&app.browser(), "allowed", "binh.tran", &[("claims", UI_REQUEST)]).await;
    assert!(userinfo(&app, &t).await.get("verified_claims").is_none());

    // Trust framework constraint not met: omitted.
    let other = r#"{"userinfo":{"verified_claims":{"verification":{"trust_framework":{"value":"eidas"}},"claims":{"name":null}}}}"#;
    let t = app.tokens(&b, "allowed", "an.nguyen", &[("claims", other)]).await;
    assert!(userinfo(&app, &t).await.get("verified_claims").is_none());

    // A malformed request is refused at the authorization endpoint.
    let bad = r#"{"userinfo":{"verified_claims":{"verification":{"trust_framework":null},"claims":{}}}}"#;
    let r = app.follow(&b, &app.authorize_url("allowed", &[("claims", bad)])).await;
    let loc = location(&r).unwrap();
    assert!(loc.starts_with(REDIRECT) && loc.contains("error=invalid_request"), "{loc}");
}

#[tokio::test]
async fn verified_claims_in_the_id_token_only_when_requested_there() {
    let app = TestApp::spawn().await;
    client_allowing(&app, "allowed", Some(json!(["name", "verified_claims"]))).await;
    let p = app.user("an.nguyen").await;
    verify(&app, &p).await;
    let req = r#"{"id_token":{"verified_claims":{"verification":{"trust_framework":{"value":"vn_nd69"},"time":{"max_age":86400}},"claims":{"name":{"purpose":"Điền sẵn hồ sơ"}}}}}"#;
    let t = app.tokens(&app.browser(), "allowed", "an.nguyen", &[("claims", req)]).await;
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["verified_claims"]["claims"], json!({"name": "Nguyễn Văn An"}));
    assert_eq!(id["verified_claims"]["verification"]["time"], "2026-11-21T23:00:00Z");
    assert!(userinfo(&app, &t).await.get("verified_claims").is_none(), "requested under id_token only");
    // The verification is older than max_age allows: omitted.
    let old = req.replace("86400", "60");
    let t = app.tokens(&app.browser(), "allowed", "an.nguyen", &[("claims", &old)]).await;
    assert!(claims(t["id_token"].as_str().unwrap()).get("verified_claims").is_none());
}

#[tokio::test]
async fn discovery_advertises_identity_assurance() {
    let app = TestApp::spawn().await;
    let m: Value =
        app.api().get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(m["verified_claims_supported"], true);
    assert_eq!(m["trust_frameworks_supported"], json!(["vn_nd69"]));
    assert_eq!(m["evidence_supported"], json!(["electronic_record", "document"]));
    for field in [
        "documents_supported",
        "documents_check_methods_supported",
        "electronic_records_supported",
        "claims_in_verified_claims_supported",
    ] {
        assert!(m[field].as_array().is_some_and(|a| !a.is_empty()), "{field}");
    }
    assert!(m["claims_in_verified_claims_supported"].as_array().unwrap().contains(&json!("birthdate")));
}

#[tokio::test]
async fn register_refuses_vn_pin() {
    let app = TestApp::spawn().await;
    let store = app.running.state.services.store.as_ref();
    assert!(
        admin::create_initial_token(store, Some(&json!({"scope": "openid vn_pin"})), None, None, T0).await.is_err(),
        "no policy may hand out vn_pin"
    );
    let token = admin::create_initial_token(store, None, None, None, T0).await.unwrap().token;
    let r = app
        .api()
        .post(app.url("/register"))
        .bearer_auth(&token)
        .json(&json!({"redirect_uris": [REDIRECT], "scope": "openid profile vn_pin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
    // allowed_claims is accepted and echoed.
    let r = app
        .api()
        .post(app.url("/register"))
        .bearer_auth(&token)
        .json(&json!({"redirect_uris": [REDIRECT], "allowed_claims": ["name", "verified_claims"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["allowed_claims"], json!(["name", "verified_claims"]));
}

#[tokio::test]
async fn receipts_are_listed_and_withdrawal_asks_again_and_kills_the_refresh_token() {
    let app = TestApp::spawn().await;
    client_allowing(&app, "allowed", Some(json!(["name", "email", "verified_claims", "birthdate"]))).await;
    let p = app.user("an.nguyen").await;
    verify(&app, &p).await;
    let b = app.browser();

    // Without a session: to the sign-in, no receipts.
    let r = b.get(app.url("/account/consents")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), location(&r).as_deref()), (303, Some("/account/signin?next=consents")));

    let t = app
        .tokens(&b, "allowed", "an.nguyen", &[("scope", "openid email offline_access"), ("claims", UI_REQUEST)])
        .await;
    let refresh = t["refresh_token"].as_str().unwrap().to_owned();

    let page = b.get(app.url("/account/consents")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Cổng allowed"), "{page}");
    assert!(page.contains("Giải quyết thủ tục hộ tịch"), "purpose");
    assert!(page.contains("verified_claims.birthdate"), "released claims listed");
    assert!(page.contains("urn:vn:local:basic"), "acr");
    assert!(!page.contains("<script"), "no script");
    let english = b.get(app.url("/account/consents?lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(english.contains("Withdraw my consent"), "{english}");

    // A forged form (wrong CSRF token) changes nothing.
    let r = b
        .post(app.url("/account/consents/withdraw"))
        .form(&[("csrf", "forged"), ("client_id", "allowed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Another browser without the session cannot withdraw either.
    let csrf = hidden(&page, "csrf");
    let r = app
        .browser()
        .post(app.url("/account/consents/withdraw"))
        .form(&[("csrf", csrf.as_str()), ("client_id", "allowed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "to the sign-in, having withdrawn nothing");
    assert_eq!(r.headers()["location"], "/account/signin?next=consents");
    let still = app.tokens(&b, "allowed", "an.nguyen", &[]).await;
    assert!(still["access_token"].is_string(), "consent remembered: no consent page");

    let action = form_action(&page);
    assert_eq!(action, "/account/consents/withdraw");
    let r = b.post(app.url(&action)).form(&[("csrf", csrf.as_str()), ("client_id", "allowed")]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let page = b.get(app.url("/account/consents")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Đã rút lại lúc"), "{page}");
    assert!(!page.contains("name=\"client_id\""), "nothing left to withdraw");

    // The refresh token is dead, and its access token with it.
    let r = app
        .api()
        .post(app.url("/token"))
        .basic_auth("allowed", Some(SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app.api().get(app.url("/userinfo")).bearer_auth(t["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // The next authorization asks for consent again.
    let r = app.follow(&b, &app.authorize_url("allowed", &[])).await;
    assert!(location(&r).is_none(), "a page, not a redirect with a code");
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"decision\""), "consent page again: {page}");
    let r = app.approve(&b, &page).await;
    code_of(&r);

    // The withdrawal was audited.
    let events = app.running.state.services.store.audit_events(0, 1_000).await.unwrap();
    assert!(events.iter().any(|e| e.event.action == "consent.withdraw" && e.event.outcome == "success"));
    assert!(events.iter().any(|e| e.event.action == "consent.withdraw" && e.event.outcome == "refused_csrf"));

    // The account pages offer signing out: asked once, then the session is over.
    let page = b.get(app.url("/account/consents")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<a href=\"/end_session\">Đăng xuất</a>"), "{page}");
    let english = b.get(app.url("/account/consents?lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(english.contains("<a href=\"/end_session?ui_locales=en\">Sign out</a>"), "{english}");
    let confirm = b.get(app.url("/end_session")).send().await.unwrap().text().await.unwrap();
    let form = [("id", hidden(&confirm, "id")), ("csrf", hidden(&confirm, "csrf")), ("logout", "yes".to_owned())];
    let r = b.post(app.url("/end_session/confirm")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200, "signed out");
    let r = b.get(app.url("/account/consents")).send().await.unwrap();
    assert_eq!(r.status(), 303, "the account page needs a new sign-in");
}

#[tokio::test]
async fn verified_claims_need_their_own_consent() {
    let app = TestApp::spawn().await;
    client_allowing(&app, "allowed", Some(json!(["name", "email", "verified_claims", "birthdate"]))).await;
    let p = app.user("an.nguyen").await;
    verify(&app, &p).await;
    let b = app.browser();
    // Consent to the scopes alone…
    let t = app.tokens(&b, "allowed", "an.nguyen", &[("scope", "openid email")]).await;
    assert!(t["access_token"].is_string());
    // …does not cover verified claims: the consent page asks again, naming them.
    let r = app.follow(&b, &app.authorize_url("allowed", &[("scope", "openid email"), ("claims", UI_REQUEST)])).await;
    assert!(location(&r).is_none(), "no silent code for a verified_claims request");
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"decision\""), "{page}");
    assert!(
        page.contains("Thông tin định danh đã được xác minh (kèm cách thức và thời điểm xác minh): ngày sinh, thư điện tử, họ và tên"),
        "the consent names each verified claim: {page}"
    );
    let r = app.approve(&b, &page).await;
    let code = code_of(&r);
    assert!(!code.code.is_empty());
    // Remembered from now on, with its receipt.
    let r = app.follow(&b, &app.authorize_url("allowed", &[("scope", "openid email"), ("claims", UI_REQUEST)])).await;
    assert!(location(&r).is_some_and(|l| l.starts_with(REDIRECT)), "remembered");
    let store = app.running.state.services.store.as_ref();
    let receipts = store.consent_receipts(&PersonId(p.clone())).await.unwrap();
    assert!(receipts.iter().any(|r| r.scopes.contains("verified_claims:birthdate")), "the receipt says so");
    // One more verified claim is asked for again, by name; fewer are covered.
    let more = UI_REQUEST.replace(r#""email":null"#, r#""email":null,"place_of_birth":null"#);
    let r = app.follow(&b, &app.authorize_url("allowed", &[("scope", "openid email"), ("claims", &more)])).await;
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"decision\"") && page.contains("nơi sinh"), "{page}");
    let fewer = UI_REQUEST.replace(r#","email":null"#, "");
    let r = app.follow(&b, &app.authorize_url("allowed", &[("scope", "openid email"), ("claims", &fewer)])).await;
    assert!(location(&r).is_some_and(|l| l.starts_with(REDIRECT)), "a subset is remembered");
}
