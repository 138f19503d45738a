//! Bad input: the right OAuth error and status, never a panic or a 500, nothing issued.

use crate::helpers::*;

async fn token_error(app: &TestApp, req: reqwest::RequestBuilder) -> (u16, serde_json::Value, Option<String>) {
    let _ = app;
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let www = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(r.headers()["cache-control"], "no-store");
    (status, r.json().await.unwrap(), www)
}

#[tokio::test]
async fn token_endpoint_errors() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    let url = app.url("/token");
    let c = app.api();
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "no grant_type",
            c.post(&url).basic_auth("portal", Some(SECRET)).form(&[("code", "x")]),
            400,
            "invalid_request",
        ),
        (
            "unknown grant",
            c.post(&url).basic_auth("portal", Some(SECRET)).form(&[("grant_type", "password")]),
            400,
            "unsupported_grant_type",
        ),
        (
            "bad code",
            c.post(&url).basic_auth("portal", Some(SECRET)).form(&[
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("redirect_uri", REDIRECT),
            ]),
            400,
            "invalid_grant",
        ),
        (
            "missing code",
            c.post(&url).basic_auth("portal", Some(SECRET)).form(&[("grant_type", "authorization_code")]),
            400,
            "invalid_request",
        ),
        (
            "wrong secret",
            c.post(&url).basic_auth("portal", Some("wrong")).form(&[("grant_type", "authorization_code")]),
            401,
            "invalid_client",
        ),
        (
            "unknown client",
            c.post(&url).basic_auth("ghost", Some(SECRET)).form(&[("grant_type", "authorization_code")]),
            401,
            "invalid_client",
        ),
        ("no client auth", c.post(&url).form(&[("grant_type", "authorization_code")]), 401, "invalid_client"),
        (
            "secret_post for a basic client",
            c.post(&url).form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "portal"),
                ("client_secret", SECRET),
            ]),
            401,
            "invalid_client",
        ),
        (
            "two methods",
            c.post(&url)
                .basic_auth("portal", Some(SECRET))
                .form(&[("grant_type", "authorization_code"), ("client_secret", SECRET)]),
            400,
            "invalid_request",
        ),
        (
            "repeated parameter",
            c.post(&url)
                .basic_auth("portal", Some(SECRET))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=authorization_code&code=a&code=b"),
            400,
            "invalid_request",
        ),
        (
            "json body",
            c.post(&url)
                .basic_auth("portal", Some(SECRET))
                .json(&serde_json::json!({"grant_type": "authorization_code"})),
            400,
            "invalid_request",
        ),
        (
            "malformed basic",
            c.post(&url).header("authorization", "Basic !!!").form(&[("grant_type", "authorization_code")]),
            401,
            "invalid_client",
        ),
        (
            "oversized value",
            c.post(&url)
                .basic_auth("portal", Some(SECRET))
                .form(&[("grant_type", "authorization_code"), ("code", &"x".repeat(9000))]),
            400,
            "invalid_request",
        ),
    ];
    for (name, req, status, error) in cases {
        let (s, body, www) = token_error(&app, req).await;
        assert_eq!((s, body["error"].as_str().unwrap()), (status, error), "{name}: {body}");
        if error == "invalid_client" {
            assert!(www.unwrap().starts_with("Basic"), "{name}: 401 carries a challenge");
        }
    }
    let r = c
        .post(&url)
        .basic_auth("portal", Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413, "body size limit");
}

#[tokio::test]
async fn authorize_errors_before_and_after_the_redirect_uri_is_known() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    let b = app.browser();
    // Page errors: client or redirect URI not established.
    let base = app.authorize_url("portal", &[]);
    let page_cases = [
        app.url("/authorize"),
        app.url("/authorize?client_id=portal"),
        format!("{base}&client_id=other"),
        format!("{base}&redirect_uri=https%3A%2F%2Frp.example.vn%2Fcb"),
        app.authorize_url("portal", &[("redirect_uri", "")]),
    ];
    for url in page_cases {
        let r = b.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 400, "{url}");
        assert!(r.headers().get("location").is_none(), "{url}");
    }
    let r = b.get(format!("{base}&pad={}", "x".repeat(17 * 1024))).send().await.unwrap();
    assert_eq!(r.status(), 414);
    // Redirected errors, always with state and iss.
    let redirect_cases: &[(&[(&str, &str)], &str)] = &[
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("response_type", "code id_token")], "unsupported_response_type"),
        (&[("response_type", "")], "invalid_request"),
        (&[("scope", "profile")], "invalid_scope"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("prompt", "none login")], "invalid_request"),
        (&[("max_age", "soon")], "invalid_request"),
        (&[("claims", "{not json")], "invalid_request"),
        (&[("request", "eyJhbGciOiJub25lIn0.e30.")], "request_not_supported"),
        (&[("request_uri", "https://rp.example.vn/req")], "request_uri_not_supported"),
        (&[("response_mode", "fragment")], "invalid_request"),
    ];
    for (edit, error) in redirect_cases {
        let r = b.get(app.authorize_url("portal", edit)).send().await.unwrap();
        let p = redirect_params(&r);
        assert_eq!(param(&p, "error").as_deref(), Some(*error), "{edit:?}");
        assert_eq!(param(&p, "state").as_deref(), Some("st-1"), "{edit:?}");
        assert_eq!(param(&p, "iss").as_deref(), Some(app.issuer.as_str()), "{edit:?}");
    }
    // A repeated non-client parameter is redirected as invalid_request.
    let r = b.get(format!("{base}&scope=openid")).send().await.unwrap();
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn authorize_by_post_and_english_pages() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    let b = app.browser();
    let url = app.authorize_url("portal", &[("ui_locales", "en")]);
    let query = url::Url::parse(&url).unwrap().query().unwrap().to_owned();
    let r = b
        .post(app.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query)
        .send()
        .await
        .unwrap();
    let loc = location(&r).expect("interaction redirect");
    let page = b.get(app.url(&loc)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("lang=\"en\""));
    assert!(page.contains("<label for=\"username\">Username</label>"));
    let vi = app.follow(&app.browser(), &app.authorize_url("portal", &[])).await.text().await.unwrap();
    assert!(vi.contains("lang=\"vi\""));
    assert!(vi.contains("Mật khẩu"));
    // An interaction cannot be continued from another browser.
    let other = app.browser();
    let r = other.get(app.url(&loc)).send().await.unwrap();
    assert_eq!(r.status(), 400);
}
