//! Interop with someone else's code: the `conformance` runner (an independent relying
//! party on the `openidconnect` crate, modelled on the OpenID Foundation's Basic and
//! Config OP plans) against a server on the real clock.

use std::sync::Arc;

use dinhdanh::clock::SystemClock;
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
        ..Default::default()
    };
    let running = dinhdanh::app::spawn(settings, Arc::new(SystemClock)).await.unwrap();
    let svc = &running.state.services;
    let redirect = "https://rp.example.vn/cb";
    let secret = "conformance-secret-0123456789abcdef012345";
    for (id, method) in [("rp-basic", "client_secret_basic"), ("rp-post", "client_secret_post")] {
        let md: ClientMetadata = serde_json::from_value(serde_json::json!({
            "client_id": id, "client_secret": secret, "redirect_uris": [redirect],
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
    };
    let report = conformance::run(&opts).await;
    for r in &report.results {
        println!("{} {:?}", r.name, r.outcome);
    }
    println!("{}", report.summary_line());
    assert_eq!(report.failed(), 0, "{}", report.summary_line());
    assert!(report.passed() >= 25, "{}", report.summary_line());
}
