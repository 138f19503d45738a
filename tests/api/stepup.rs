//! Assurance and step-up: per-client minimum acr, no downgrade through SSO reuse,
//! `unmet_authentication_requirements`, `prompt=none`, `max_age`, and the TOTP second
//! factor of officials' local accounts (enrolment on the account page, sign-in with a
//! code or a recovery code, single use per time step).

use crate::helpers::*;
use dinhdanh::clock::Clock;
use dinhdanh::crypto::jwt;
use totp_rs::{Algorithm, Builder, Secret};

const STAFF: &str = "urn:vn:local:staff";
const BASIC: &str = "urn:vn:local:basic";

/// A confidential client that accepts only officials with a second factor.
async fn staff_client(app: &TestApp, id: &str) {
    app.client(serde_json::json!({
        "client_id": id, "client_secret": SECRET, "redirect_uris": [REDIRECT],
        "client_name": "Hệ thống một cửa", "scope": "openid profile email offline_access",
        "grant_types": ["authorization_code", "refresh_token"], "minimum_acr": STAFF,
    }))
    .await;
}

/// The code an authenticator app shows for `secret` at `time` (computed with totp-rs,
/// as an app would, from the base32 key the page showed).
fn app_code(manual_key: &str, time: i64) -> String {
    let bytes = dinhdanh::crypto::totp::decode_base32(manual_key).unwrap();
    let secret: [u8; 20] = bytes.try_into().unwrap();
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(Secret::new_stack(secret))
        .build()
        .unwrap();
    totp.generate(u64::try_from(time).unwrap()).to_string()
}

fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let s = page.find(start).unwrap_or_else(|| panic!("no {start} in {page}")) + start.len();
    let e = page[s..].find(end).unwrap() + s;
    &page[s..e]
}

/// Enrols `username` in TOTP through the account page; returns the manual key and the
/// recovery codes shown once.
async fn enrol(app: &TestApp, username: &str) -> (String, Vec<String>) {
    let b = app.browser();
    // Not signed in: the security page sends the browser to sign in first.
    let r = b.get(app.url("/account/security")).send().await.unwrap();
    assert_eq!(location(&r).as_deref(), Some("/account/login"));
    let page = app.follow(&b, &app.url("/account/login")).await.text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    let r =
        app.post_form(&b, "/account/login", &[("csrf", &csrf), ("username", username), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("<svg"), "QR code inline: {page}");
    assert!(!page.contains("<script"), "no script");
    let key = between(&page, "<code id=\"manual-key\">", "</code>").to_owned();
    assert_eq!(key.len(), 32);
    // The same pending secret is shown again on reload.
    let again = app.follow(&b, &app.url("/account/security")).await.text().await.unwrap();
    assert_eq!(between(&again, "<code id=\"manual-key\">", "</code>"), key);
    let csrf = hidden(&page, "csrf");
    // A wrong code does not confirm; a forged CSRF token is refused.
    let r = app.post_form(&b, "/account/security", &[("csrf", &csrf), ("action", "confirm"), ("otp", "000000")]).await;
    assert_eq!(r.status(), 401);
    let r = app.post_form(&b, "/account/security", &[("csrf", "forged"), ("action", "confirm"), ("otp", "1")]).await;
    assert_eq!(r.status(), 403);
    let code = app_code(&key, app.clock.now());
    let r = app.post_form(&b, "/account/security", &[("csrf", &csrf), ("action", "confirm"), ("otp", &code)]).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    let list = between(&page, "<ul class=\"recovery-codes\" id=\"recovery-codes\">", "</ul>");
    let codes: Vec<String> =
        list.split("<code>").skip(1).map(|c| c.split("</code>").next().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);
    // Shown once: the page now says enrolled, with ten codes left and no secret.
    let page = app.follow(&b, &app.url("/account/security")).await.text().await.unwrap();
    assert_eq!(between(&page, "<strong id=\"codes-left\">", "</strong>"), "10");
    assert!(!page.contains(&key) && !page.contains(&codes[0]));
    // The next step, so the enrolment code's step is not the one used at sign-in.
    app.clock.advance(30);
    (key, codes)
}

/// Authorize → password → second-factor page (returned as HTML with the interaction
/// action), for `client`.
async fn password_then_second_factor(app: &TestApp, b: &reqwest::Client, client: &str, username: &str) -> String {
    let page = app.follow(b, &app.authorize_url(client, &[])).await.text().await.unwrap();
    assert!(page.contains("name=\"password\""), "login page expected: {page}");
    let r = app.login(b, &page, username, PASSWORD).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"otp\""), "second-factor page expected: {page}");
    assert!(!page.contains("name=\"password\""));
    page
}

async fn submit_otp(app: &TestApp, b: &reqwest::Client, page: &str, otp: &str) -> reqwest::Response {
    let (action, csrf) = (form_action(page), hidden(page, "csrf"));
    app.post_form(b, &action, &[("csrf", &csrf), ("otp", otp), ("action", "verify")]).await
}

/// Consents if asked, and returns the final redirect to the client.
async fn finish(app: &TestApp, b: &reqwest::Client, r: reqwest::Response) -> reqwest::Response {
    if location(&r).is_some() {
        return r;
    }
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"decision\""), "consent expected: {page}");
    app.approve(b, &page).await
}

async fn introspect(app: &TestApp, client: &str, token: &str) -> serde_json::Value {
    let r = app.api().post(app.url("/introspect")).basic_auth(client, Some(SECRET)).form(&[("token", token)]).send();
    r.await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn minimum_acr_without_a_second_factor_is_unmet() {
    let app = TestApp::spawn().await;
    staff_client(&app, "mot-cua").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    // The client sends no acr_values; its minimum still holds, after the password.
    let r = app.sign_in(&b, "mot-cua", "an.nguyen", &[]).await;
    let p = redirect_params(&r);
    assert_eq!(param(&p, "error").as_deref(), Some("unmet_authentication_requirements"), "{p:?}");
    assert_eq!(param(&p, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&p, "code"), None);
}

#[tokio::test]
async fn unreachable_essential_or_minimum_levels_fail_at_once() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.client(serde_json::json!({
        "client_id": "eid-only", "client_secret": SECRET, "redirect_uris": [REDIRECT], "minimum_acr": "LoA1",
    }))
    .await;
    app.user("an.nguyen").await;
    // No upstream e-ID is configured: an essential e-ID level cannot be reached.
    let claims = r#"{"id_token":{"acr":{"essential":true,"values":["urn:vn:eid:loa:2"]}}}"#;
    let r = app.follow(&app.browser(), &app.authorize_url("portal", &[("claims", claims)])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("unmet_authentication_requirements"));
    let r = app.follow(&app.browser(), &app.authorize_url("eid-only", &[])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("unmet_authentication_requirements"));
    // Voluntary: proceed with what was achieved and report it truthfully.
    let t = app.tokens(&app.browser(), "portal", "an.nguyen", &[("acr_values", "LoA2")]).await;
    assert_eq!(claims_of(&t)["acr"], BASIC);
}

fn claims_of(t: &serde_json::Value) -> serde_json::Value {
    claims(t["id_token"].as_str().unwrap())
}

#[tokio::test]
async fn totp_enrolment_then_staff_sign_in_with_single_use_codes() {
    let app = TestApp::spawn().await;
    staff_client(&app, "mot-cua").await;
    app.user("an.nguyen").await;
    let (key, recovery) = enrol(&app, "an.nguyen").await;

    let b = app.browser();
    let page = password_then_second_factor(&app, &b, "mot-cua", "an.nguyen").await;
    let r = submit_otp(&app, &b, &page, "123").await;
    assert_eq!(r.status(), 401, "a wrong code shows the page again");
    let page = r.text().await.unwrap();
    let code = app_code(&key, app.clock.now());
    let r = finish(&app, &b, submit_otp(&app, &b, &page, &code).await).await;
    let code_param = code_of(&r);
    let t = app.redeem("mot-cua", &code_param.code, VERIFIER).await;
    assert_eq!(t.status(), 200);
    let t: serde_json::Value = t.json().await.unwrap();
    let keys = &app.running.state.services.keys;
    let id = jwt::verify(keys, t["id_token"].as_str().unwrap(), Some("JWT")).unwrap().claims;
    assert_eq!(id["acr"], STAFF);
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp"]));
    assert_eq!(id["auth_time"], app.clock.now());
    let at = t["access_token"].as_str().unwrap();
    let ac = claims(at);
    assert_eq!(ac["acr"], STAFF);
    assert_eq!(ac["amr"], serde_json::json!(["pwd", "otp"]));
    assert_eq!(ac["auth_time"], app.clock.now());
    let i = introspect(&app, "mot-cua", at).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["acr"], STAFF);
    assert_eq!(i["amr"], serde_json::json!(["pwd", "otp"]));
    assert_eq!(i["auth_time"], app.clock.now());

    // The same code, replayed within its step from another browser, is refused.
    let other = app.browser();
    let page = password_then_second_factor(&app, &other, "mot-cua", "an.nguyen").await;
    let r = submit_otp(&app, &other, &page, &code).await;
    assert_eq!(r.status(), 401, "a code is accepted once per time step");
    // A recovery code works, once.
    let page = r.text().await.unwrap();
    let r = finish(&app, &other, submit_otp(&app, &other, &page, &recovery[0].to_uppercase()).await).await;
    assert!(param(&redirect_params(&r), "code").is_some(), "recovery code accepted");
    let third = app.browser();
    let page = password_then_second_factor(&app, &third, "mot-cua", "an.nguyen").await;
    let r = submit_otp(&app, &third, &page, &recovery[0]).await;
    assert_eq!(r.status(), 401, "a recovery code is single use");
    // A code of the next step works again.
    app.clock.advance(30);
    let page = r.text().await.unwrap();
    let r = finish(&app, &third, submit_otp(&app, &third, &page, &app_code(&key, app.clock.now())).await).await;
    assert!(param(&redirect_params(&r), "code").is_some());

    // The audit log records the enrolment and the second-factor outcomes.
    let events = app.running.state.services.store.audit_events(0, 100).await.unwrap();
    let seen =
        |action: &str, outcome: &str| events.iter().any(|e| e.event.action == action && e.event.outcome == outcome);
    assert!(seen("account.totp.enrol", "success"));
    assert!(seen("signin.second_factor", "success"));
    assert!(seen("signin.second_factor", "success_recovery_code"));
    assert!(seen("signin.second_factor", "failure"));
}

#[tokio::test]
async fn a_basic_session_never_satisfies_a_staff_request() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    staff_client(&app, "mot-cua").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    // SSO session at basic.
    let t = app.tokens(&b, "portal", "an.nguyen", &[]).await;
    assert_eq!(claims_of(&t)["acr"], BASIC);
    // The same session is reused for another basic request...
    let r = app.follow(&b, &app.authorize_url("portal", &[])).await;
    assert!(param(&redirect_params(&r), "code").is_some(), "SSO");
    // ...but not for staff, whether asked through the client minimum or acr_values.
    for (client, extra) in [("mot-cua", &[][..]), ("portal", &[("acr_values", STAFF)][..])] {
        let r = app.follow(&b, &app.authorize_url(client, extra)).await;
        assert_eq!(location(&r), None, "{client}: no silent code");
        let page = r.text().await.unwrap();
        assert!(page.contains("name=\"password\""), "{client}: sign in again");
        assert!(!page.contains("value=\"continue\""), "{client}: the lower session is not offered");
        // prompt=none: login_required, never a code.
        let mut none = extra.to_vec();
        none.push(("prompt", "none"));
        let r = app.follow(&b, &app.authorize_url(client, &none)).await;
        assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("login_required"), "{client}");
    }
    // The same essential acr through the claims parameter.
    let claims_param = format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{STAFF}"]}}}}}}"#);
    let r = app.follow(&b, &app.authorize_url("portal", &[("claims", &claims_param), ("prompt", "none")])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn staff_session_is_reused_and_max_age_zero_forces_reauthentication() {
    let app = TestApp::spawn().await;
    staff_client(&app, "mot-cua").await;
    app.user("an.nguyen").await;
    let (key, _) = enrol(&app, "an.nguyen").await;
    let b = app.browser();
    let page = password_then_second_factor(&app, &b, "mot-cua", "an.nguyen").await;
    let r = finish(&app, &b, submit_otp(&app, &b, &page, &app_code(&key, app.clock.now())).await).await;
    assert!(param(&redirect_params(&r), "code").is_some());
    let signed_in_at = app.clock.now();
    app.clock.advance(5);
    // A staff session satisfies the minimum: SSO, and prompt=none works.
    let r = app.follow(&b, &app.authorize_url("mot-cua", &[("prompt", "none")])).await;
    let code = code_of(&r);
    let t: serde_json::Value = app.redeem("mot-cua", &code.code, VERIFIER).await.json().await.unwrap();
    assert_eq!(claims_of(&t)["acr"], STAFF);
    assert_eq!(claims_of(&t)["auth_time"], signed_in_at, "auth_time of the session, not now");
    // max_age=0: a fresh authentication, both factors again.
    let r = app.follow(&b, &app.authorize_url("mot-cua", &[("max_age", "0")])).await;
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"password\""), "max_age=0 forces a new sign-in");
    let r = app.follow(&b, &app.authorize_url("mot-cua", &[("max_age", "0"), ("prompt", "none")])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn disabling_needs_a_current_code_and_refresh_honours_a_raised_minimum() {
    let app = TestApp::spawn().await;
    app.client(serde_json::json!({
        "client_id": "portal", "client_secret": SECRET, "redirect_uris": [REDIRECT],
        "scope": "openid offline_access", "grant_types": ["authorization_code", "refresh_token"],
    }))
    .await;
    app.user("an.nguyen").await;
    // A family issued at basic...
    let t = app.tokens(&app.browser(), "portal", "an.nguyen", &[("scope", "openid offline_access")]).await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: String| {
        let api = app.api();
        let url = app.url("/token");
        async move {
            api.post(url)
                .basic_auth("portal", Some(SECRET))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    let r = refresh(rt).await;
    assert_eq!(r.status(), 200);
    let rt: String = r.json::<serde_json::Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned();
    // ...is refused once the client's minimum is raised to staff.
    let svc = &app.running.state.services;
    let stored = svc.store.find_client("portal").await.unwrap().unwrap();
    let mut c = stored.client.clone();
    c.minimum_acr = Some(STAFF.into());
    assert!(svc.store.update_client(&c, stored.secret_digest.as_deref(), T0).await.unwrap());
    svc.clients.forget("portal");
    let r = refresh(rt).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");

    // Disabling TOTP needs a current code.
    let (key, _) = enrol(&app, "an.nguyen").await;
    let b = app.browser();
    let page = app.follow(&b, &app.url("/account/login")).await.text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    // With a second factor enrolled, the account sign-in needs the code too.
    let r = app
        .post_form(&b, "/account/login", &[("csrf", &csrf), ("username", "an.nguyen"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status(), 401);
    let code = app_code(&key, app.clock.now());
    let r = app
        .post_form(
            &b,
            "/account/login",
            &[("csrf", &csrf), ("username", "an.nguyen"), ("password", PASSWORD), ("otp", &code)],
        )
        .await;
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"codes-left\""), "enrolled page: {page}");
    let csrf = hidden(&page, "csrf");
    let r = app.post_form(&b, "/account/security", &[("csrf", &csrf), ("action", "disable"), ("otp", &code)]).await;
    assert_eq!(r.status(), 401, "the sign-in code cannot be used twice");
    app.clock.advance(30);
    let code = app_code(&key, app.clock.now());
    let r = app.post_form(&b, "/account/security", &[("csrf", &csrf), ("action", "disable"), ("otp", &code)]).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"manual-key\""), "disabled: a new enrolment is offered");
    let pid = dinhdanh::identity::PersonId(person_id(&app, "an.nguyen").await);
    let cred = svc.store.totp_credential(&pid).await.unwrap().unwrap();
    assert_eq!(cred.confirmed_at, None, "only a new pending secret is left");
    let events = svc.store.audit_events(0, 100).await.unwrap();
    assert!(events.iter().any(|e| e.event.action == "account.totp.disabled" && e.event.outcome == "success"));
}

async fn person_id(app: &TestApp, username: &str) -> String {
    let svc = &app.running.state.services;
    svc.store.find_login(username).await.unwrap().unwrap().0.id.0
}

#[tokio::test]
async fn second_factor_is_rate_limited_and_the_secret_is_sealed() {
    let app = TestApp::spawn().await;
    staff_client(&app, "mot-cua").await;
    let pid = dinhdanh::identity::PersonId(app.user("an.nguyen").await);
    let (key, _) = enrol(&app, "an.nguyen").await;
    // At rest the secret is sealed under the KEK, never in clear.
    let svc = &app.running.state.services;
    let stored = svc.store.totp_credential(&pid).await.unwrap().unwrap();
    let raw = dinhdanh::crypto::totp::decode_base32(&key).unwrap();
    assert!(!stored.sealed_secret.windows(raw.len()).any(|w| w == raw.as_slice()));
    assert!(stored.confirmed_at.is_some());

    let b = app.browser();
    let mut page = password_then_second_factor(&app, &b, "mot-cua", "an.nguyen").await;
    for _ in 0..dinhdanh::flows::stepup::MAX_OTP_FAILURES {
        let r = submit_otp(&app, &b, &page, "000000").await;
        assert_eq!(r.status(), 401);
        page = r.text().await.unwrap();
    }
    // Locked: even the right code is refused until the window passes.
    let r = submit_otp(&app, &b, &page, &app_code(&key, app.clock.now())).await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("name=\"otp\""));
    // After the window, a new sign-in with a valid code goes through.
    app.clock.advance(dinhdanh::flows::stepup::OTP_WINDOW + 1);
    let page = password_then_second_factor(&app, &b, "mot-cua", "an.nguyen").await;
    let r = finish(&app, &b, submit_otp(&app, &b, &page, &app_code(&key, app.clock.now())).await).await;
    assert!(param(&redirect_params(&r), "code").is_some());
    let events = svc.store.audit_events(0, 100).await.unwrap();
    assert!(events.iter().any(|e| e.event.action == "signin.second_factor" && e.event.outcome == "throttled"));
}

#[tokio::test]
async fn default_acr_values_apply_when_the_request_names_none() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.client(serde_json::json!({
        "client_id": "prefers-staff", "client_secret": SECRET, "redirect_uris": [REDIRECT],
        "default_acr_values": [STAFF],
    }))
    .await;
    app.user("an.nguyen").await;
    let b = app.browser();
    app.tokens(&b, "portal", "an.nguyen", &[]).await;
    // The client's default (voluntary) staff is not met by the basic session: sign in again...
    let page = app.follow(&b, &app.authorize_url("prefers-staff", &[])).await.text().await.unwrap();
    assert!(page.contains("name=\"password\""));
    // ...and without a second factor the result is reported truthfully as basic.
    let t = app.tokens(&b, "prefers-staff", "an.nguyen", &[]).await;
    assert_eq!(claims_of(&t)["acr"], BASIC);
    // An explicit acr_values replaces the default: the basic session is reused.
    let r = app.follow(&b, &app.authorize_url("prefers-staff", &[("acr_values", BASIC)])).await;
    assert!(param(&redirect_params(&r), "code").is_some());
}
