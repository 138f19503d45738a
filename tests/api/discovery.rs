//! Discovery and JWKS.

use crate::helpers::*;

#[tokio::test]
async fn discovery_document_is_complete_and_cached() {
    let app = TestApp::spawn().await;
    let r = app.api().get(app.url("/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let d: serde_json::Value = r.json().await.unwrap();
    assert_eq!(d["issuer"], app.issuer);
    for (field, expected) in [
        ("authorization_endpoint", format!("{}/authorize", app.issuer)),
        ("token_endpoint", format!("{}/token", app.issuer)),
        ("userinfo_endpoint", format!("{}/userinfo", app.issuer)),
        ("jwks_uri", format!("{}/jwks", app.issuer)),
    ] {
        assert_eq!(d[field], expected.as_str(), "{field}");
    }
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(d["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(d["request_uri_parameter_supported"], false);
    for alg in ["ES256", "RS256"] {
        assert!(d["id_token_signing_alg_values_supported"].as_array().unwrap().iter().any(|a| a == alg));
    }
    assert!(d["acr_values_supported"].as_array().unwrap().iter().any(|a| a == "urn:vn:local:basic"));
    let r = app
        .api()
        .get(app.url("/.well-known/openid-configuration"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
}

#[tokio::test]
async fn jwks_publishes_public_es256_and_rs256_keys() {
    let app = TestApp::spawn().await;
    let r = app.api().get(app.url("/jwks")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/jwk-set+json");
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    for h in ["content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy", "x-request-id"]
    {
        assert!(r.headers().get(h).is_some(), "{h} missing on the JWKS");
    }
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let jwks: serde_json::Value = r.json().await.unwrap();
    // A cache that holds this set gets 304 without a body; another ETag gets the set.
    let again = app.api().get(app.url("/jwks")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());
    let other = app.api().get(app.url("/jwks")).header("if-none-match", "\"stale\"").send().await.unwrap();
    assert_eq!(other.status(), 200);
    let keys = jwks["keys"].as_array().unwrap();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert!(algs.contains(&"ES256") && algs.contains(&"RS256"));
    for k in keys {
        assert!(k["kid"].as_str().is_some());
        assert_eq!(k["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "private member {private} published");
        }
    }
}

#[tokio::test]
async fn health_and_security_headers() {
    let app = TestApp::spawn().await;
    assert_eq!(app.api().get(app.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(app.api().get(app.url("/readyz")).send().await.unwrap().status(), 200);
    let r = app.api().get(app.url("/authorize")).send().await.unwrap();
    for h in ["content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"] {
        assert!(r.headers().get(h).is_some(), "{h}");
    }
    assert_eq!(app.api().get(app.url("/nothing-here")).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn development_keys_are_refused_when_dev_keys_is_off() {
    use dinhdanh::config::Settings;
    let dir = tempfile::tempdir().unwrap();
    let settings = |dev: bool| Settings {
        listen: Some("127.0.0.1:0".into()),
        database_url: Some(format!("sqlite://{}", dir.path().join("db.sqlite").display())),
        keys_dir: Some(dir.path().join("keys")),
        dev_keys: Some(dev),
        ..Default::default()
    };
    let clock = || std::sync::Arc::new(dinhdanh::clock::FixedClock::new(T0));
    let missing = dinhdanh::app::spawn(settings(false), clock()).await.err().expect("no KEK in production: refuse");
    assert!(missing.to_string().contains("DINHDANH_KEY_ENCRYPTION_KEY"), "{missing}");
    drop(dinhdanh::app::spawn(settings(true), clock()).await.expect("development start generates keys"));
    let refused =
        dinhdanh::app::spawn(settings(false), clock()).await.err().expect("generated keys refused in production mode");
    assert!(refused.to_string().contains("DEVELOPMENT-KEYS"), "{refused}");
}

#[tokio::test]
async fn metrics_and_request_ids() {
    let app = TestApp::spawn().await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    app.tokens(&app.browser(), "portal", "an.nguyen", &[]).await;
    let ids: Vec<String> = futures_ids(&app).await;
    assert!(ids.iter().all(|id| id.len() >= 10), "{ids:?}");
    assert_ne!(ids[0], ids[1], "every request gets its own id");
    let r = app.api().get(app.url("/jwks")).header("x-request-id", "proxy-given-1").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "proxy-given-1");
    // An id no proxy would send (too long, or with spaces) is replaced, not logged.
    for junk in ["x".repeat(129), "a b c".to_owned()] {
        let r = app.api().get(app.url("/jwks")).header("x-request-id", &junk).send().await.unwrap();
        let echoed = r.headers()["x-request-id"].to_str().unwrap();
        assert!(echoed != junk && echoed.len() <= 25 && echoed.contains('-'), "{echoed}");
    }
    assert_eq!(app.api().get(app.url("/readyz")).send().await.unwrap().status(), 200);
    let text = app.api().get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for needle in [
        "dinhdanh_http_requests_total{endpoint=\"/jwks\"",
        "dinhdanh_http_request_duration_seconds_bucket{endpoint=\"/token\"",
        "dinhdanh_tokens_issued_total{grant=\"authorization_code\"}",
        "dinhdanh_logins_total{outcome=\"success\"}",
        "dinhdanh_password_hash_queue",
        "dinhdanh_backend_ping_seconds_bucket{backend=\"database\"",
    ] {
        assert!(text.contains(needle), "{needle} missing from /metrics");
    }
    assert!(text.contains("endpoint=\"/interaction/{id}\""), "route templates, not raw paths with ids");
    assert!(!text.contains("an.nguyen"), "no personal data in labels");
}

async fn futures_ids(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = app.api().get(app.url("/jwks")).send().await.unwrap();
        ids.push(r.headers()["x-request-id"].to_str().unwrap().to_owned());
    }
    ids
}
