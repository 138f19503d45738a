//! Interop with someone else's code: the `conformance` runner (an independent relying
//! party on the `openidconnect` crate, modelled on the OpenID Foundation's Basic, Config,
//! RP-Initiated Logout, Back-Channel Logout and Dynamic OP plans) against a server on the
//! real clock.

use std::sync::Arc;

use dinhdanh::clock::{Clock, SystemClock};
use dinhdanh::config::Settings;
use dinhdanh::flows::admin::{self, NewPerson};
use dinhdanh::protocol::client::ClientMetadata;

#[tokio::test]
async fn conformance_suite_passes() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        listen: Some("127.0.0.1:0".into()),
        database_url: Some(format!("sqlite://{}", dir.path().join("db.sqlite").display())),
        keys_dir: Some(dir.path().join("keys")),
        dev_keys: Some(true),
        argon2_memory_kib: Some(8 * 1024),
        argon2_iterations: Some(1),
        // The runner serves the sector identifier document and the jwks_uri it registers
        // (and receives back-channel logout tokens) on 127.0.0.1 over plain http.
        allow_private_fetch: Some(true),
        ..Default::default()
    };
    let running = dinhdanh::app::spawn(settings, Arc::new(SystemClock)).await.unwrap();
    let svc = &running.state.services;
    let redirect = "https://rp.example.vn/cb";
    let post_logout = "https://rp.example.vn/logged-out";
    let secret = "conformance-secret-0123456789abcdef012345";
    for (id, method) in [("rp-basic", "client_secret_basic"), ("rp-post", "client_secret_post")] {
        let md: ClientMetadata = serde_json::from_value(serde_json::json!({
            "client_id": id, "client_secret": secret, "redirect_uris": [redirect],
            "post_logout_redirect_uris": [post_logout],
            "token_endpoint_auth_method": method, "scope": "openid profile email phone address offline_access",
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "Conformance RP",
        }))
        .unwrap();
        admin::register_client(svc.store.as_ref(), &md, 0).await.unwrap();
    }
    let new = NewPerson {
        username: "conformance".into(),
        password: "conformance-password".into(),
        name: Some("Lê Thị Hoa".into()),
        email: Some("hoa@example.vn".into()),
        email_verified: true,
        phone: Some("+84912345678".into()),
        personal_number: None,
        address: Some("Số 8 Lê Thánh Tông, Thành phố Huế".into()),
    };
    admin::create_person(svc.store.as_ref(), &svc.hasher, new, 0).await.unwrap();
    // For the dynamic registration and back-channel logout checks (the default policy).
    let now = SystemClock.now();
    let initial = admin::create_initial_token(svc.store.as_ref(), None, Some(3600), None, now).await.unwrap();
    let opts = conformance::Options {
        issuer: running.issuer.clone(),
        client_id: "rp-basic".into(),
        client_secret: secret.into(),
        client_post_id: Some("rp-post".into()),
        client_post_secret: Some(secret.into()),
        redirect_uri: redirect.into(),
        username: "conformance".into(),
        password: "conformance-password".into(),
        slow: false,
        post_logout_redirect_uri: Some(post_logout.into()),
        initial_access_token: Some(initial.token.clone()),
    };
    let report = conformance::run(&opts).await;
    for r in &report.results {
        println!("{} {:?}", r.name, r.outcome);
    }
    println!("{}", report.summary_line());
    assert_eq!(report.failed(), 0, "{}", report.summary_line());
    assert!(report.passed() >= 59, "{}", report.summary_line());
    // The logout, back-channel and dynamic registration families must really run here,
    // not skip for want of configuration.
    for name in [
        "oidcc-rp-initiated-logout",
        "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri",
        "oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri",
        "oidcc-rp-initiated-logout-modified-id-token-hint",
        "oidcc-rp-initiated-logout-no-id-token-hint",
        "oidcc-rp-initiated-logout-no-params",
        "oidcc-rp-initiated-logout-no-state",
        "oidcc-rp-initiated-logout-only-state",
        "oidcc-rp-initiated-logout-no-post-logout-redirect-uri",
        "oidcc-rp-initiated-logout-bad-id-token-hint",
        "oidcc-backchannel-rp-initiated-logout",
        "oidcc-registration-jwks-uri",
        "oidcc-registration-sector-uri",
        "oidcc-redirect-uri-query-OK",
        "oidcc-redirect-uri-query-mismatch",
        "oidcc-redirect-uri-query-added",
        "oidcc-registration-logo-uri",
        "oidcc-registration-policy-uri",
        "oidcc-registration-tos-uri",
        "oidcc-id-token-acr-amr-auth-time",
        "oidcc-acr-essential-never-weaker",
    ] {
        let outcome = report.results.iter().find(|r| r.name == name).map(|r| &r.outcome);
        assert_eq!(outcome, Some(&conformance::Outcome::Passed), "{name}");
    }
}
