//! The authorization code flow end to end: sign-in, consent, code, tokens, SSO, prompt,
//! max_age, replay, PKCE, response modes, client kinds.

use crate::helpers::*;
use dinhdanh::crypto::jwt;

#[tokio::test]
async fn full_flow_issues_valid_tokens() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    let person = app.user("an.nguyen").await;
    let b = app.browser();
    let r = app.sign_in(&b, "portal", "an.nguyen", &[]).await;
    let code = code_of(&r);
    assert_eq!(code.state.as_deref(), Some("st-1"));
    assert_eq!(code.iss.as_deref(), Some(app.issuer.as_str()), "RFC 9207 iss");
    let t = app.redeem("portal", &code.code, VERIFIER).await;
    assert_eq!(t.status(), 200);
    assert_eq!(t.headers()["cache-control"], "no-store");
    let t: serde_json::Value = t.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "openid profile email");
    let id = t["id_token"].as_str().unwrap();
    let at = t["access_token"].as_str().unwrap();
    let keys = &app.running.state.services.keys;
    let v = jwt::verify(keys, id, Some("JWT")).expect("ID token verifies against our JWKS");
    assert_eq!(header(id)["alg"], "RS256", "OIDC Registration: RS256 when the client names no alg");
    assert_eq!(header(at)["alg"], "ES256");
    let c = v.claims;
    assert_eq!(c["iss"], app.issuer);
    assert_eq!(c["aud"], "portal");
    assert_eq!(c["azp"], "portal");
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["auth_time"], T0);
    assert_eq!(c["iat"], T0);
    assert!(c["exp"].as_i64().unwrap() > T0);
    assert_eq!(c["acr"], "urn:vn:local:basic");
    assert_eq!(c["amr"], serde_json::json!(["pwd"]));
    assert!(c["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(c["at_hash"], jwt::left_half_hash(at, dinhdanh::protocol::client::SigningAlg::RS256));
    // Pairwise by default: not the internal id, no personal number.
    let sub = c["sub"].as_str().unwrap();
    assert_ne!(sub, person);
    assert!(!sub.contains("001099012345"));
    // The access token is an RFC 9068 JWT.
    assert_eq!(header(at)["typ"], "at+jwt");
    let ac = claims(at);
    assert_eq!(ac["client_id"], "portal");
    assert_eq!(ac["sub"], sub);
    assert_eq!(ac["scope"], "openid profile email");
}

#[tokio::test]
async fn session_cookie_attributes_and_renewal() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let mut values = Vec::new();
    for extra in [&[][..], &[("prompt", "login")][..]] {
        let page = app.follow(&b, &app.authorize_url("portal", extra)).await.text().await.unwrap();
        let (action, csrf) = (form_action(&page), hidden(&page, "csrf"));
        let r = b
            .post(app.url(&action))
            .form(&[("csrf", csrf.as_str()), ("username", "an.nguyen"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("dd_session="))
            .expect("session cookie set at sign-in");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attr), "{cookie} lacks {attr}");
        }
        values.push(cookie.split(';').next().unwrap().to_owned());
    }
    assert_ne!(values[0], values[1], "a new session value at every sign-in");
}

#[tokio::test]
async fn single_sign_on_to_a_second_client_without_password() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.confidential("motcua").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    app.tokens(&b, "portal", "an.nguyen", &[]).await;
    // Second client: consent is asked (new client) but never the password.
    let r = app.follow(&b, &app.authorize_url("motcua", &[])).await;
    let page = r.text().await.unwrap();
    assert!(!page.contains("name=\"password\""), "SSO must not ask for the password again");
    assert!(page.contains("name=\"decision\" value=\"allow\""));
    let r = app.approve(&b, &page).await;
    let code = code_of(&r);
    let t = app.redeem("motcua", &code.code, VERIFIER).await;
    assert_eq!(t.status(), 200);
    let t: serde_json::Value = t.json().await.unwrap();
    assert_eq!(claims(t["id_token"].as_str().unwrap())["auth_time"], T0, "same authentication event");
    // Third visit to the first client: no page at all.
    let r = app.follow(&b, &app.authorize_url("portal", &[])).await;
    assert!(code_of(&r).code.len() > 20);
}

#[tokio::test]
async fn prompt_login_and_max_age_force_a_new_sign_in() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    app.tokens(&b, "portal", "an.nguyen", &[]).await;
    let page = |r: reqwest::Response| async move { r.text().await.unwrap() };
    let p = page(app.follow(&b, &app.authorize_url("portal", &[("prompt", "login")])).await).await;
    assert!(p.contains("name=\"password\""), "prompt=login shows the login page");
    app.clock.advance(120);
    let r = app.follow(&b, &app.authorize_url("portal", &[("max_age", "300")])).await;
    assert!(location(&r).is_some(), "max_age not passed: SSO");
    let p = page(app.follow(&b, &app.authorize_url("portal", &[("max_age", "60")])).await).await;
    assert!(p.contains("name=\"password\""), "max_age passed: sign in again");
    let r = app.login(&b, &p, "an.nguyen", PASSWORD).await;
    let code = code_of(&r);
    let t: serde_json::Value = app.redeem("portal", &code.code, VERIFIER).await.json().await.unwrap();
    assert_eq!(claims(t["id_token"].as_str().unwrap())["auth_time"], T0 + 120, "auth_time of the new sign-in");
    app.clock.advance(1);
    let r = app.follow(&b, &app.authorize_url("portal", &[("prompt", "none"), ("max_age", "0")])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn prompt_none_without_session_is_login_required() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    let r = app.follow(&app.browser(), &app.authorize_url("portal", &[("prompt", "none")])).await;
    let p = redirect_params(&r);
    assert_eq!(param(&p, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&p, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&p, "iss").as_deref(), Some(app.issuer.as_str()));
    assert!(param(&p, "code").is_none());
}

#[tokio::test]
async fn prompt_none_needs_consent_first() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.confidential("motcua").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    app.tokens(&b, "portal", "an.nguyen", &[]).await;
    let r = app.follow(&b, &app.authorize_url("motcua", &[("prompt", "none")])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("consent_required"));
    let r = app.follow(&b, &app.authorize_url("portal", &[("prompt", "none")])).await;
    assert!(code_of(&r).code.len() > 20, "remembered consent + session: silent code");
}

#[tokio::test]
async fn consent_is_remembered_and_asked_again_when_scopes_grow_or_denied() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    app.tokens(&b, "portal", "an.nguyen", &[("scope", "openid email")]).await;
    let r = app.follow(&b, &app.authorize_url("portal", &[("scope", "openid email")])).await;
    assert!(location(&r).is_some(), "same scopes: no consent page");
    let r = app.follow(&b, &app.authorize_url("portal", &[("scope", "openid email phone")])).await;
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"decision\" value=\"allow\""), "more scopes: consent again");
    assert!(page.contains("Số điện thoại"), "the new scope is described in Vietnamese");
    let action = form_action(&page);
    let csrf = hidden(&page, "csrf");
    let r = app.post_form(&b, &action, &[("csrf", &csrf), ("decision", "deny")]).await;
    let p = redirect_params(&r);
    assert_eq!(param(&p, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&p, "state").as_deref(), Some("st-1"));
    // A forged consent post without the CSRF token is refused and issues nothing.
    let r = app.follow(&b, &app.authorize_url("portal", &[("scope", "openid email phone")])).await;
    let page = r.text().await.unwrap();
    let action = form_action(&page);
    let r = b.post(app.url(&action)).form(&[("csrf", "forged"), ("decision", "allow")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(location(&r).is_none());
}

#[tokio::test]
async fn replayed_code_is_refused_and_revokes_its_tokens() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let r = app.sign_in(&app.browser(), "portal", "an.nguyen", &[]).await;
    let code = code_of(&r);
    let first: serde_json::Value = app.redeem("portal", &code.code, VERIFIER).await.json().await.unwrap();
    let at = first["access_token"].as_str().unwrap().to_owned();
    let ui = app.api().get(app.url("/userinfo")).bearer_auth(&at).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    let again = app.redeem("portal", &code.code, VERIFIER).await;
    assert_eq!(again.status(), 400);
    let e: serde_json::Value = again.json().await.unwrap();
    assert_eq!(e["error"], "invalid_grant");
    let ui = app.api().get(app.url("/userinfo")).bearer_auth(&at).send().await.unwrap();
    assert_eq!(ui.status(), 401, "tokens of a replayed code are revoked");
}

#[tokio::test]
async fn wrong_verifier_burns_the_code() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let r = app.sign_in(&app.browser(), "portal", "an.nguyen", &[]).await;
    let code = code_of(&r);
    let wrong = app.redeem("portal", &code.code, &VERIFIER.replace('d', "x")).await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(wrong.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
    let right = app.redeem("portal", &code.code, VERIFIER).await;
    assert_eq!(right.status(), 400, "the code is burnt after a wrong verifier");
}

#[tokio::test]
async fn code_bindings_expiry_and_other_clients() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.confidential("other").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    // Issued to portal, redeemed by other.
    let code = code_of(&app.sign_in(&b, "portal", "an.nguyen", &[]).await);
    assert_eq!(app.redeem("other", &code.code, VERIFIER).await.status(), 400);
    // Wrong redirect_uri at the token endpoint.
    let code = code_of(&app.follow(&b, &app.authorize_url("portal", &[])).await);
    let r = app
        .api()
        .post(app.url("/token"))
        .basic_auth("portal", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code.code),
            ("redirect_uri", "https://rp.example.vn/other"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
    // Expired after 60 s.
    let code = code_of(&app.follow(&b, &app.authorize_url("portal", &[])).await);
    app.clock.advance(61);
    let r = app.redeem("portal", &code.code, VERIFIER).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn unregistered_redirect_uri_is_never_redirected_to() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    for evil in [
        "https://evil.example/cb",
        "https://rp.example.vn/cb/",
        "https://rp.example.vn/cb?x=1",
        "https://rp.example.vn/CB",
    ] {
        let r = app.browser().get(app.authorize_url("portal", &[("redirect_uri", evil)])).send().await.unwrap();
        assert_eq!(r.status(), 400, "{evil}");
        assert!(r.headers().get("location").is_none(), "{evil}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let body = r.text().await.unwrap();
        assert!(!body.contains("evil.example"), "the page does not link to it");
    }
    let r = app.browser().get(app.authorize_url("nobody", &[])).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}

#[tokio::test]
async fn form_post_response_mode() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    app.tokens(&b, "portal", "an.nguyen", &[]).await;
    let r = app.follow(&b, &app.authorize_url("portal", &[("response_mode", "form_post")])).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(!csp.contains("unsafe-inline"));
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!("action=\"{}\"", REDIRECT.replace('/', "&#x2f;")))
            || page.contains(&format!("action=\"{REDIRECT}\"")),
        "{page}"
    );
    assert!(!page.contains("<script>"), "no inline script");
    let code = hidden(&page, "code");
    assert_eq!(hidden(&page, "state"), "st-1");
    assert_eq!(app.redeem("portal", &code, VERIFIER).await.status(), 200);
}

#[tokio::test]
async fn client_secret_post_and_public_clients() {
    let app = TestApp::spawn().await;
    app.client(serde_json::json!({"client_id": "post", "client_secret": SECRET, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post"})).await;
    app.client(
        serde_json::json!({"client_id": "spa", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let code = code_of(&app.sign_in(&b, "post", "an.nguyen", &[]).await);
    // Basic is not this client's method.
    assert_eq!(app.redeem("post", &code.code, VERIFIER).await.status(), 401);
    let code = code_of(&app.follow(&b, &app.authorize_url("post", &[])).await);
    let r = app
        .api()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code.code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", "post"),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Public client: no secret, PKCE required.
    let r = app.follow(&b, &app.authorize_url("spa", &[("code_challenge", ""), ("code_challenge_method", "")])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("invalid_request"));
    let r = app.sign_in(&b, "spa", "an.nguyen", &[]).await;
    let code = code_of(&r);
    let r = app
        .api()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code.code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", "spa"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn es256_client_and_public_subject() {
    let app = TestApp::spawn().await;
    app.client(serde_json::json!({"client_id": "rsa", "client_secret": SECRET, "redirect_uris": [REDIRECT], "id_token_signed_response_alg": "ES256", "subject_type": "public"})).await;
    let person = app.user("an.nguyen").await;
    let t = app.tokens(&app.browser(), "rsa", "an.nguyen", &[]).await;
    let id = t["id_token"].as_str().unwrap();
    assert_eq!(header(id)["alg"], "ES256");
    let v = jwt::verify(&app.running.state.services.keys, id, Some("JWT")).unwrap();
    assert_eq!(v.claims["sub"], person, "public subject is the stable internal id");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let page = app.follow(&b, &app.authorize_url("portal", &[])).await.text().await.unwrap();
    let wrong_pw = app.login(&b, &page, "an.nguyen", "not-the-password").await;
    let (s1, p1) = (wrong_pw.status(), wrong_pw.text().await.unwrap());
    let unknown = app.login(&b, &p1, "nobody.here", "not-the-password").await;
    let (s2, p2) = (unknown.status(), unknown.text().await.unwrap());
    assert_eq!(s1, 401);
    assert_eq!(s1, s2);
    let msg = |p: &str| p[p.find("role=\"alert\"").unwrap()..].split("</p>").next().unwrap().to_owned();
    assert_eq!(msg(&p1), msg(&p2));
    // The right password still works after failures.
    let r = app.login(&b, &p2, "an.nguyen", PASSWORD).await;
    assert!(r.text().await.unwrap().contains("name=\"decision\""));
}

#[tokio::test]
async fn too_many_failures_are_throttled() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let mut page = app.follow(&b, &app.authorize_url("portal", &[])).await.text().await.unwrap();
    for _ in 0..10 {
        page = app.login(&b, &page, "an.nguyen", "wrong-password").await.text().await.unwrap();
    }
    let r = app.login(&b, &page, "an.nguyen", PASSWORD).await;
    assert_eq!(r.status(), 429, "even the right password waits after 10 failures");
    app.clock.advance(15 * 60 + 1);
    let page = app.follow(&b, &app.authorize_url("portal", &[])).await.text().await.unwrap();
    let r = app.login(&b, &page, "an.nguyen", PASSWORD).await;
    assert!(r.text().await.unwrap().contains("name=\"decision\""));
}

#[tokio::test]
async fn id_token_hint_of_another_person_needs_a_new_sign_in() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    app.user("binh.tran").await;
    let t = app.tokens(&app.browser(), "portal", "binh.tran", &[]).await;
    let binh_hint = t["id_token"].as_str().unwrap().to_owned();
    let b = app.browser();
    let t = app.tokens(&b, "portal", "an.nguyen", &[]).await;
    let an_hint = t["id_token"].as_str().unwrap().to_owned();
    let r = app.follow(&b, &app.authorize_url("portal", &[("prompt", "none"), ("id_token_hint", &binh_hint)])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("login_required"));
    let r = app.follow(&b, &app.authorize_url("portal", &[("prompt", "none"), ("id_token_hint", &an_hint)])).await;
    assert!(code_of(&r).code.len() > 20);
    let r = app.follow(&b, &app.authorize_url("portal", &[("id_token_hint", "not.a.jwt")])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn essential_acr_is_never_silently_downgraded() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let claims_req = r#"{"id_token":{"acr":{"essential":true,"values":["urn:vn:local:staff"]}}}"#;
    let page = app.follow(&b, &app.authorize_url("portal", &[("claims", claims_req)])).await.text().await.unwrap();
    let r = app.login(&b, &page, "an.nguyen", PASSWORD).await;
    let p = redirect_params(&r);
    assert_eq!(param(&p, "error").as_deref(), Some("unmet_authentication_requirements"));
    assert!(param(&p, "code").is_none());
    // Voluntary acr_values are answered with what was achieved.
    let t = app.tokens(&b, "portal", "an.nguyen", &[("acr_values", "urn:vn:eid:loa:2 urn:vn:local:basic")]).await;
    assert_eq!(claims(t["id_token"].as_str().unwrap())["acr"], "urn:vn:local:basic");
}

#[tokio::test]
async fn select_account_offers_the_current_session() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    app.tokens(&b, "portal", "an.nguyen", &[]).await;
    let page =
        app.follow(&b, &app.authorize_url("portal", &[("prompt", "select_account")])).await.text().await.unwrap();
    assert!(page.contains("name=\"action\" value=\"continue\""), "continue-as is offered");
    assert!(page.contains("Nguyễn Văn An"));
    assert!(page.contains("name=\"password\""), "and another account can sign in");
    let csrf = hidden(&page, "csrf");
    let r = app.post_form(&b, &form_action(&page), &[("csrf", &csrf), ("action", "continue")]).await;
    let code = code_of(&r);
    assert_eq!(app.redeem("portal", &code.code, VERIFIER).await.status(), 200);
    // Continuing is refused without the session (another browser cannot use it).
    let other = app.browser();
    let page =
        app.follow(&other, &app.authorize_url("portal", &[("prompt", "select_account")])).await.text().await.unwrap();
    assert!(!page.contains("value=\"continue\""), "no session, nothing to continue");
}
