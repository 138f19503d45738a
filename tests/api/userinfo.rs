//! The userinfo endpoint: GET and POST, bearer header and form body, RFC 6750 errors,
//! claims by scope and by the claims parameter.

use crate::helpers::*;

#[tokio::test]
async fn userinfo_get_post_header_and_body() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let t = app.tokens(&app.browser(), "portal", "an.nguyen", &[("scope", "openid email")]).await;
    let at = t["access_token"].as_str().unwrap();
    let sub = claims(t["id_token"].as_str().unwrap())["sub"].clone();
    let c = app.api();
    let u = app.url("/userinfo");
    for req in [c.get(&u).bearer_auth(at), c.post(&u).bearer_auth(at), c.post(&u).form(&[("access_token", at)])] {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["sub"], sub);
        assert_eq!(body["email"], "an.nguyen@example.vn");
        assert_eq!(body["email_verified"], true);
        assert!(body.get("phone_number").is_none(), "phone scope not granted");
        assert!(body.get("name").is_none(), "profile scope not granted");
        assert!(body.get("vn_pin").is_none());
    }
}

#[tokio::test]
async fn userinfo_errors_follow_rfc6750() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    let t = app.tokens(&app.browser(), "portal", "an.nguyen", &[]).await;
    let at = t["access_token"].as_str().unwrap();
    let c = app.api();
    let u = app.url("/userinfo");
    let r = c.get(&u).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"dinhdanh\"");
    let r = c.get(&u).bearer_auth("garbage").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));
    let r = c.post(&u).bearer_auth(at).form(&[("access_token", at)]).send().await.unwrap();
    assert_eq!(r.status(), 400, "token twice");
    // The ID token is not an access token.
    let r = c.get(&u).bearer_auth(t["id_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // Expiry moves with the clock.
    app.clock.advance(601);
    let r = c.get(&u).bearer_auth(at).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn claims_by_scope_and_claims_parameter() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.client(serde_json::json!({"client_id": "noentitle", "client_secret": SECRET, "redirect_uris": [REDIRECT]}))
        .await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let claims_req = r#"{"userinfo":{"phone_number":null},"id_token":{"email":{"essential":true}}}"#;
    let t = app.tokens(&b, "portal", "an.nguyen", &[("scope", "openid profile vn_pin"), ("claims", claims_req)]).await;
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["email"], "an.nguyen@example.vn", "id_token member of claims");
    let u = userinfo_of(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(u["name"], "Nguyễn Văn An");
    assert_eq!(u["preferred_username"], "an.nguyen");
    assert_eq!(u["phone_number"], "+84901234567", "userinfo member of claims");
    assert_eq!(u["vn_pin"], "001099012345", "entitled client with vn_pin scope");
    // A client not registered for vn_pin never receives it, even when asking.
    let t = app
        .tokens(
            &b,
            "noentitle",
            "an.nguyen",
            &[("scope", "openid vn_pin"), ("claims", r#"{"userinfo":{"vn_pin":null}}"#)],
        )
        .await;
    assert_eq!(t["scope"], "openid");
    let u = userinfo_of(&app, t["access_token"].as_str().unwrap()).await;
    assert!(u.get("vn_pin").is_none());
}

#[tokio::test]
async fn browser_applications_may_call_token_and_userinfo_cross_origin() {
    let app = TestApp::spawn().await;
    for path in ["/token", "/userinfo", "/jwks", "/.well-known/openid-configuration"] {
        let r = app
            .api()
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", "https://spa.tinh.gov.vn")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
        assert!(r.headers().get("access-control-allow-credentials").is_none());
    }
    // The simple request itself carries the header too; a call without `Origin` does not.
    let r = app.api().get(app.url("/jwks")).header("origin", "https://spa.tinh.gov.vn").send().await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let r = app.api().get(app.url("/jwks")).send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // Pages are not opened to other origins, nor answered as preflights.
    let r = app
        .api()
        .request(reqwest::Method::OPTIONS, app.url("/authorize"))
        .header("origin", "https://spa.tinh.gov.vn")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = app.api().get(app.url("/authorize")).header("origin", "https://spa.tinh.gov.vn").send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
