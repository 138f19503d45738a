//! Dynamic client registration (RFC 7591) and management (RFC 7592): initial access
//! tokens and their policies, every metadata rule, the sector identifier and `jwks_uri`
//! documents fetched from a local server (with `DINHDANH_ALLOW_PRIVATE_FETCH`) and refused
//! without it, and the registration access token.

use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use dinhdanh::config::Settings;
use dinhdanh::flows::admin;
use dinhdanh::store::ClientStatus;
use serde_json::{Value, json};

use crate::helpers::{REDIRECT, T0, TestApp, VERIFIER, code_of};

/// A server with private fetches allowed and a 1 s fetch deadline.
async fn dev_app() -> TestApp {
    TestApp::spawn_with(Settings {
        allow_private_fetch: Some(true),
        fetch_timeout_ms: Some(1_000),
        ..Default::default()
    })
    .await
}

async fn mint(app: &TestApp, policy: Value, max_uses: Option<i64>) -> String {
    let store = app.running.state.services.store.as_ref();
    admin::create_initial_token(store, Some(&policy), None, max_uses, T0).await.unwrap().token
}

async fn register(app: &TestApp, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = app.api().post(app.url("/register")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn error_of(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (status, body["error"].as_str().unwrap_or_default().to_owned(), body["error_description"].to_string())
}

/// (actor, action) of every audit event so far.
async fn audit_log(app: &TestApp) -> Vec<(String, String, Value)> {
    let events = app.running.state.services.store.audit_events(0, 1_000).await.unwrap();
    events.into_iter().map(|r| (r.event.actor, r.event.action, r.event.detail)).collect()
}

async fn client_count(app: &TestApp) -> usize {
    app.running.state.services.store.list_clients(None, 1_000).await.unwrap().len()
}

/// Serves the documents the tests point clients at, on 127.0.0.1.
async fn documents() -> String {
    let listed = json!(["https://a.tinh.gov.vn/cb", "https://b.tinh.gov.vn/cb"]);
    let big: Vec<String> = (0..4_000).map(|i| format!("https://a.tinh.gov.vn/cb/{i:020}")).collect();
    let json_body = |v: Value| ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response();
    let router = Router::new()
        .route("/sector.json", get(move || async move { json_body(listed.clone()) }))
        .route("/sector-partial.json", get(move || async move { json_body(json!(["https://a.tinh.gov.vn/cb"])) }))
        .route("/object.json", get(move || async move { json_body(json!({"redirect_uris": []})) }))
        .route("/not-json", get(|| async { "hello" }))
        .route("/big.json", get(move || async move { json_body(json!(big.clone())) }))
        .route(
            "/slow.json",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "[]"
            }),
        )
        .route("/redirect", get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/sector.json")]).into_response() }))
        .route("/jwks.json", get(move || async move { json_body(json!({"keys": []})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

#[tokio::test]
async fn registration_needs_a_valid_initial_access_token() {
    let app = TestApp::spawn().await;
    let body = json!({"redirect_uris": [REDIRECT]});
    let r = register(&app, None, &body).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(error_of(r).await.1, "invalid_token");
    let r = register(&app, Some("not-a-token"), &body).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));
    let r = app.api().post(app.url("/register")).basic_auth("x", Some("y")).json(&body).send().await.unwrap();
    assert_eq!(error_of(r).await.0, 401);
    // A stranger learns nothing about metadata rules.
    let r = register(&app, Some("not-a-token"), &json!({"redirect_uris": ["javascript:alert(1)"]})).await;
    assert_eq!(error_of(r).await.1, "invalid_token");
    assert_eq!(client_count(&app).await, 0);
}

#[tokio::test]
async fn a_registered_client_signs_people_in() {
    let app = TestApp::spawn().await;
    app.user("an.nguyen").await;
    let token = mint(&app, json!({}), None).await;
    let r = register(
        &app,
        Some(&token),
        &json!({"redirect_uris": [REDIRECT], "client_name": "Cổng một cửa", "client_id": "chosen",
                "client_secret": "chosen-secret-0123456789abcdef0123456789"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let reg: Value = r.json().await.unwrap();
    let client_id = reg["client_id"].as_str().unwrap().to_owned();
    assert_ne!(client_id, "chosen", "the server issues client ids");
    let secret = reg["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(secret, "chosen-secret-0123456789abcdef0123456789");
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert_eq!(reg["client_id_issued_at"], T0);
    assert_eq!(reg["registration_client_uri"], format!("{}/register/{client_id}", app.issuer));
    assert!(reg["registration_access_token"].as_str().unwrap().len() >= 43);
    // Default policy: the default scope without vn_pin.
    assert_eq!(reg["scope"], "openid profile email phone address");
    // The client works: code flow with its own secret.
    let browser = app.browser();
    let r = app.sign_in(&browser, &client_id, "an.nguyen", &[]).await;
    let code = code_of(&r);
    let t = app
        .api()
        .post(app.url("/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(t.status(), 200);
}

#[tokio::test]
async fn initial_tokens_expire_and_run_out() {
    let app = TestApp::spawn().await;
    let once = mint(&app, json!({}), Some(1)).await;
    let body = json!({"redirect_uris": [REDIRECT]});
    // A refused registration does not spend the use.
    let r = register(&app, Some(&once), &json!({"redirect_uris": ["http://rp.example.vn/cb"]})).await;
    assert_eq!(error_of(r).await.1, "invalid_redirect_uri");
    assert_eq!(register(&app, Some(&once), &body).await.status(), 201);
    let (status, error, _) = error_of(register(&app, Some(&once), &body).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));
    let week = mint(&app, json!({}), None).await;
    assert_eq!(register(&app, Some(&week), &body).await.status(), 201);
    app.clock.advance(admin::INITIAL_TOKEN_TTL);
    assert_eq!(register(&app, Some(&week), &body).await.status(), 401);
    assert_eq!(client_count(&app).await, 2);
}

#[tokio::test]
async fn the_policy_bounds_what_may_be_registered() {
    let app = TestApp::spawn().await;
    let token = mint(
        &app,
        json!({"grant_types": ["authorization_code"], "scope": "openid profile",
               "token_endpoint_auth_methods": ["client_secret_basic", "none"],
               "redirect_uri_hosts": ["*.tinh.gov.vn"]}),
        Some(1),
    )
    .await;
    let ok = "https://dvc.tinh.gov.vn/cb";
    for (body, code) in [
        (json!({"redirect_uris": ["https://dvc.other.gov.vn/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://tinh.gov.vn/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://dvc.tinh.gov.vn.evil.vn/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://eviltinh.gov.vn/cb"]}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [ok], "grant_types": ["authorization_code", "refresh_token"]}),
            "invalid_client_metadata",
        ),
        (json!({"grant_types": ["client_credentials"], "scope": "lgsp:read"}), "invalid_client_metadata"),
        (json!({"redirect_uris": [ok], "scope": "openid email"}), "invalid_client_metadata"),
        (json!({"redirect_uris": [ok], "scope": "openid vn_pin"}), "invalid_client_metadata"),
        (json!({"redirect_uris": [ok], "token_endpoint_auth_method": "client_secret_post"}), "invalid_client_metadata"),
        (json!({"redirect_uris": [ok], "post_logout_redirect_uris": ["https://evil.vn/"]}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": [ok], "backchannel_logout_uri": "https://internal.corp.vn/logout"}),
            "invalid_client_metadata",
        ),
    ] {
        let (status, error, _) = error_of(register(&app, Some(&token), &body).await).await;
        assert_eq!((status, error.as_str()), (400, code), "{body}");
    }
    assert_eq!(client_count(&app).await, 0, "refusals leave nothing behind");
    // ... but their audit lines, with the reason.
    // (Key set-up at start-up writes its own lines: look at the client ones.)
    let log: Vec<_> =
        audit_log(&app).await.into_iter().filter(|(_, action, _)| action.starts_with("client.")).collect();
    assert_eq!(log.iter().filter(|(_, action, _)| action == "client.register.failed").count(), 11);
    assert!(log.iter().all(|(actor, _, _)| actor.starts_with("initial_token:")));
    assert_eq!(log[0].2["error"], "invalid_redirect_uri");
    // Without a scope the client gets the default narrowed to the policy.
    let r = register(
        &app,
        Some(&token),
        &json!({"redirect_uris": [ok, "https://a.b.tinh.gov.vn/cb"], "subject_type": "public"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let reg: Value = r.json().await.unwrap();
    assert_eq!(reg["scope"], "openid profile");
    assert_eq!(reg["grant_types"], json!(["authorization_code"]));
    assert_eq!(audit_log(&app).await.last().unwrap().1, "client.register");
}

#[tokio::test]
async fn bad_metadata_is_refused_with_its_rfc_7591_code() {
    let app = TestApp::spawn().await;
    let token =
        mint(&app, json!({"grant_types": ["authorization_code", "refresh_token", "client_credentials"]}), None).await;
    let cases = [
        (json!({"redirect_uris": ["javascript:alert(1)"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["data:text/html,<script>alert(1)</script>"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["http://rp.example.vn/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://rp.example.vn/cb#frag"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://*.example.vn/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://rp.example.vn/*"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["/relative/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://user:pw@rp.example.vn/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["file:///etc/passwd"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["com.example.app:/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (json!({}), "invalid_redirect_uri"),
        (json!({"redirect_uris": "https://rp.example.vn/cb"}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT], "grant_types": ["implicit"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT], "grant_types": ["password"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT], "response_types": ["code id_token"]}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "tls_client_auth"}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": [REDIRECT], "id_token_signed_response_alg": "none"}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT], "id_token_signed_response_alg": "HS256"}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT], "subject_type": "anonymous"}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT], "application_type": "desktop"}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT], "client_name": ""}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT], "default_max_age": -1}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT], "scope": "profile"}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": [REDIRECT], "jwks": {"keys": []}, "jwks_uri": "https://rp.example.vn/jwks"}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": [REDIRECT], "jwks": {"kty": "RSA"}}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": [REDIRECT], "jwks_uri": "http://rp.example.vn/jwks"}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": [REDIRECT], "sector_identifier_uri": "http://rp.example.vn/s.json"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "sector_identifier_uri": "https://rp.example.vn/s.json#x"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "backchannel_logout_uri": "javascript:alert(1)"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "frontchannel_logout_uri": "https://other.example.vn/fc"}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": [REDIRECT], "post_logout_redirect_uris": ["data:,bye"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": [REDIRECT], "default_acr_values": ["urn:unknown"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT, "https://other.example.vn/cb"]}), "invalid_client_metadata"),
        (json!(["https://rp.example.vn/cb"]), "invalid_client_metadata"),
    ];
    for (body, code) in cases {
        let (status, error, _) = error_of(register(&app, Some(&token), &body).await).await;
        assert_eq!((status, error.as_str()), (400, code), "{body}");
    }
    // Not JSON at all, or not declared JSON.
    for (ctype, raw) in [("application/json", "{not json"), ("application/x-www-form-urlencoded", "redirect_uris=x")] {
        let r = app
            .api()
            .post(app.url("/register"))
            .bearer_auth(&token)
            .header("content-type", ctype)
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(r).await.1, "invalid_client_metadata", "{ctype}");
    }
    assert_eq!(client_count(&app).await, 0, "nothing half-written");
    // A native app may use loopback and a private-use scheme.
    let r = register(
        &app,
        Some(&token),
        &json!({"application_type": "native", "token_endpoint_auth_method": "none",
                "redirect_uris": ["http://127.0.0.1/cb", "vn.example.app:/cb"], "subject_type": "public"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let reg: Value = r.json().await.unwrap();
    assert!(reg.get("client_secret").is_none(), "public clients get no secret");
}

#[tokio::test]
async fn sector_identifier_and_jwks_documents_are_fetched_and_checked() {
    let app = dev_app().await;
    let docs = documents().await;
    let token = mint(&app, json!({}), None).await;
    let both = json!(["https://a.tinh.gov.vn/cb", "https://b.tinh.gov.vn/cb"]);
    let with_sector = |path: &str| json!({"redirect_uris": both, "sector_identifier_uri": format!("{docs}{path}")});
    let r = register(&app, Some(&token), &with_sector("/sector.json")).await;
    assert_eq!(r.status(), 201);
    let reg: Value = r.json().await.unwrap();
    assert_eq!(reg["sector_identifier_uri"], format!("{docs}/sector.json"));
    for (path, code, says) in [
        ("/sector-partial.json", "invalid_client_metadata", "not listed"),
        ("/object.json", "invalid_client_metadata", "JSON array"),
        ("/not-json", "invalid_client_metadata", "not JSON"),
        ("/big.json", "invalid_client_metadata", "larger than"),
        ("/slow.json", "invalid_client_metadata", "too long"),
        ("/redirect", "invalid_client_metadata", "redirect"),
        ("/missing", "invalid_client_metadata", "HTTP 404"),
    ] {
        // Each refusal comes within the fetch deadline (1 s here), whatever the server does.
        let r = tokio::time::timeout(Duration::from_secs(4), register(&app, Some(&token), &with_sector(path)))
            .await
            .unwrap_or_else(|_| panic!("{path} was not cut off"));
        let (status, error, description) = error_of(r).await;
        assert_eq!((status, error.as_str()), (400, code), "{path}: {description}");
        assert!(description.contains(says), "{path}: {description}");
    }
    let jwks = |path: &str| json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": format!("{docs}{path}")});
    let r = register(&app, Some(&token), &jwks("/jwks.json")).await;
    assert_eq!(r.status(), 201);
    let reg: Value = r.json().await.unwrap();
    assert!(reg.get("client_secret").is_none(), "private_key_jwt clients get no secret");
    for path in ["/sector.json", "/redirect", "/not-json"] {
        let (status, error, description) = error_of(register(&app, Some(&token), &jwks(path)).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_client_metadata"), "{path}");
        assert!(description.contains("jwks_uri"), "{description}");
    }
    assert_eq!(client_count(&app).await, 2);
}

#[tokio::test]
async fn private_targets_are_refused_when_the_setting_is_off() {
    let app = TestApp::spawn().await;
    let docs = documents().await; // http://127.0.0.1:PORT
    let token = mint(&app, json!({}), None).await;
    let https_loopback = docs.replace("http://", "https://");
    for (uri, says) in [
        (format!("{docs}/sector.json"), "only https"),
        (format!("{https_loopback}/sector.json"), "non-public"),
        ("https://localhost/sector.json".to_owned(), "non-public"),
        ("https://10.1.2.3/sector.json".to_owned(), "non-public"),
        ("https://[::1]/sector.json".to_owned(), "non-public"),
        ("https://169.254.169.254/latest/meta-data".to_owned(), "non-public"),
    ] {
        let body = json!({"redirect_uris": [REDIRECT], "sector_identifier_uri": uri});
        let (status, error, description) = error_of(register(&app, Some(&token), &body).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_client_metadata"), "{uri}");
        assert!(description.contains(says), "{uri}: {description}");
        let body = json!({"redirect_uris": [REDIRECT], "jwks_uri": uri});
        let (status, _, description) = error_of(register(&app, Some(&token), &body).await).await;
        assert_eq!(status, 400, "{uri}");
        assert!(description.contains(says), "{uri}: {description}");
    }
    assert_eq!(client_count(&app).await, 0);
}

#[tokio::test]
async fn rfc7592_read_update_and_delete_need_the_registration_token() {
    let app = TestApp::spawn().await;
    let token = mint(&app, json!({"redirect_uri_hosts": ["rp.example.vn"]}), None).await;
    let r = register(&app, Some(&token), &json!({"redirect_uris": [REDIRECT], "client_name": "Một"})).await;
    let reg: Value = r.json().await.unwrap();
    let id = reg["client_id"].as_str().unwrap().to_owned();
    let rat = reg["registration_access_token"].as_str().unwrap().to_owned();
    let secret = reg["client_secret"].as_str().unwrap().to_owned();
    let other: Value = register(&app, Some(&token), &json!({"redirect_uris": [REDIRECT]})).await.json().await.unwrap();
    let other_rat = other["registration_access_token"].as_str().unwrap().to_owned();
    let uri = app.url(&format!("/register/{id}"));

    // Read.
    let r = app.api().get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let read: Value = r.json().await.unwrap();
    assert_eq!((read["client_id"].as_str(), read["client_name"].as_str()), (Some(id.as_str()), Some("Một")));
    assert!(read.get("client_secret").is_none(), "the secret is not shown again");
    for bad in [None, Some("wrong"), Some(other_rat.as_str()), Some(token.as_str())] {
        let mut req = app.api().get(&uri);
        if let Some(t) = bad {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert!(r.headers().contains_key("www-authenticate"));
        assert_eq!(error_of(r).await.0, 401, "{bad:?}");
    }
    let r = app.api().get(app.url("/register/nobody")).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(r.status(), 401, "an unknown client is 401 too (RFC 7592 §2)");

    // Update: the whole metadata is replaced, under the original policy.
    let put = |body: Value, t: &str| app.api().put(&uri).bearer_auth(t.to_owned()).json(&body).send();
    let r = put(json!({"client_id": id, "redirect_uris": [REDIRECT], "client_name": "Hai"}), &rat).await.unwrap();
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["client_name"], "Hai");
    assert_eq!(updated["registration_access_token"], rat.as_str());
    assert!(updated.get("client_secret").is_none(), "the secret is kept");
    for (body, code) in [
        (json!({"redirect_uris": [REDIRECT]}), "invalid_client_metadata"),
        (json!({"client_id": other["client_id"], "redirect_uris": [REDIRECT]}), "invalid_client_metadata"),
        (
            json!({"client_id": id, "client_secret": "not-the-secret", "redirect_uris": [REDIRECT]}),
            "invalid_client_metadata",
        ),
        (json!({"client_id": id, "redirect_uris": ["https://elsewhere.example.vn/cb"]}), "invalid_redirect_uri"),
        (json!({"client_id": id, "redirect_uris": ["javascript:alert(1)"]}), "invalid_redirect_uri"),
    ] {
        let (status, error, _) = error_of(put(body.clone(), &rat).await.unwrap()).await;
        assert_eq!((status, error.as_str()), (400, code), "{body}");
    }
    let r = put(json!({"client_id": id, "redirect_uris": [REDIRECT]}), &other_rat).await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app.api().put(&uri).bearer_auth("wrong").body("not json").send().await.unwrap();
    assert_eq!(r.status(), 401, "a stranger learns nothing about the body");
    let r =
        put(json!({"client_id": id, "client_secret": secret, "redirect_uris": [REDIRECT], "client_name": "Ba"}), &rat)
            .await
            .unwrap();
    assert_eq!(r.status(), 200, "the current secret may be sent back");
    // The secret still works at the token endpoint.
    let t = app
        .api()
        .post(app.url("/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(t.status(), 200);

    // A client an administrator disabled cannot manage itself.
    let store = app.running.state.services.store.as_ref();
    admin::set_client_status(store, &id, ClientStatus::Disabled, T0).await.unwrap();
    assert_eq!(app.api().get(&uri).bearer_auth(&rat).send().await.unwrap().status(), 401);
    admin::set_client_status(store, &id, ClientStatus::Active, T0).await.unwrap();
    assert_eq!(app.api().get(&uri).bearer_auth(&rat).send().await.unwrap().status(), 200);

    // Delete.
    let r = app.api().delete(&uri).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app.api().delete(&uri).bearer_auth(&other_rat).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app.api().delete(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.api().get(&uri).bearer_auth(&rat).send().await.unwrap().status(), 401);
    let t = app
        .api()
        .post(app.url("/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(t.status(), 401, "a deleted client cannot authenticate");
    let log = audit_log(&app).await;
    let by_client: Vec<&str> =
        log.iter().filter(|(actor, _, _)| *actor == format!("client:{id}")).map(|(_, a, _)| a.as_str()).collect();
    assert_eq!(
        by_client,
        ["client.update", "client.update.failed", "client.update.failed", "client.update", "client.delete"],
        "the secret and id checks refuse before validation; policy and URI refusals are audited"
    );
}

#[tokio::test]
async fn public_clients_turning_confidential_get_a_secret() {
    let app = TestApp::spawn().await;
    let token = mint(&app, json!({}), None).await;
    let reg: Value =
        register(&app, Some(&token), &json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
            .await
            .json()
            .await
            .unwrap();
    assert!(reg.get("client_secret").is_none());
    let id = reg["client_id"].as_str().unwrap();
    let r = app
        .api()
        .put(app.url(&format!("/register/{id}")))
        .bearer_auth(reg["registration_access_token"].as_str().unwrap())
        .json(&json!({"client_id": id, "redirect_uris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    let secret = updated["client_secret"].as_str().unwrap();
    let t = app
        .api()
        .post(app.url("/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(t.status(), 200);
}

#[tokio::test]
async fn discovery_names_the_registration_endpoint() {
    let app = TestApp::spawn().await;
    let d: Value =
        app.api().get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(d["registration_endpoint"], format!("{}/register", app.issuer));
}

#[tokio::test]
async fn the_cli_mints_initial_tokens_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    std::fs::write(
        dir.path().join("policy.json"),
        r#"{"redirect_uri_hosts": ["*.example.vn"], "scope": "openid profile"}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .args([
            "registration",
            "token",
            "create",
            "--policy",
            "policy.json",
            "--expires-in",
            "3600",
            "--max-uses",
            "2",
            "--json",
        ])
        .current_dir(dir.path())
        .env("DINHDANH_DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let minted: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(minted["max_uses"], 2);
    assert_eq!(minted["policy"]["redirect_uri_hosts"], json!(["*.example.vn"]));
    assert_eq!(minted["policy"]["scope"], "openid profile");
    let token = minted["token"].as_str().unwrap();
    // A bad policy is refused with one line.
    std::fs::write(dir.path().join("bad.json"), r#"{"redirect_uri_hosts": ["*"]}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .args(["registration", "token", "create", "--policy", "bad.json"])
        .current_dir(dir.path())
        .env("DINHDANH_DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("host pattern"));

    let app = TestApp::spawn_with(Settings { database_url: Some(db), ..Default::default() }).await;
    let r = register(&app, Some(token), &json!({"redirect_uris": [REDIRECT]})).await;
    assert_eq!(r.status(), 201);
    let reg: Value = r.json().await.unwrap();
    assert_eq!(reg["scope"], "openid profile");
    let r = register(&app, Some(token), &json!({"redirect_uris": ["https://rp.other.vn/cb"]})).await;
    assert_eq!(error_of(r).await.1, "invalid_redirect_uri");
}
