//! `private_key_jwt` client authentication (RFC 7523, OIDC Core §9): assertions signed
//! with the client's registered key (inline `jwks` or `jwks_uri`), addressed to us,
//! short-lived and single-use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

use crate::helpers::*;

struct ClientKey {
    pair: EcdsaKeyPair,
    jwk: serde_json::Value,
}

fn client_key(kid: &str) -> ClientKey {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    ClientKey { pair, jwk }
}

fn assertion(key: &ClientKey, claims: serde_json::Value) -> String {
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": key.jwk["kid"]});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = key.pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn claims_for(app: &TestApp, client: &str, jti: &str) -> serde_json::Value {
    serde_json::json!({"iss": client, "sub": client, "aud": app.url("/token"), "exp": T0 + 60, "iat": T0, "jti": jti})
}

async fn token_with(app: &TestApp, assertion: &str, basic: bool) -> (u16, serde_json::Value) {
    let mut req = app.api().post(app.url("/token"));
    if basic {
        req = req.basic_auth("signed", Some(SECRET));
    }
    let r = req
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn private_key_jwt_with_inline_jwks() {
    let app = TestApp::spawn().await;
    let key = client_key("k1");
    let stranger = client_key("k1");
    app.client(serde_json::json!({
        "client_id": "signed", "grant_types": ["client_credentials"], "scope": "api:read",
        "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256",
        "jwks": {"keys": [key.jwk]},
    }))
    .await;
    let good = assertion(&key, claims_for(&app, "signed", "a-1"));
    let (status, body) = token_with(&app, &good, false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["sub"], "signed");
    // Single use.
    let (status, body) = token_with(&app, &good, false).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "replayed assertion");
    // Also accepted: the issuer as audience.
    let mut c = claims_for(&app, "signed", "a-2");
    c["aud"] = app.issuer.clone().into();
    assert_eq!(token_with(&app, &assertion(&key, c), false).await.0, 200);
    // Refused: another key, wrong audience, too long-lived, expired, or two methods at once.
    let cases: Vec<(&str, String, bool, u16)> = vec![
        ("other key", assertion(&stranger, claims_for(&app, "signed", "b-1")), false, 401),
        (
            "wrong aud",
            assertion(
                &key,
                serde_json::json!({"iss": "signed", "sub": "signed", "aud": "https://evil.vn", "exp": T0 + 60, "jti": "b-2"}),
            ),
            false,
            401,
        ),
        (
            "too long",
            assertion(
                &key,
                serde_json::json!({"iss": "signed", "sub": "signed", "aud": app.url("/token"), "exp": T0 + 3600, "jti": "b-3"}),
            ),
            false,
            401,
        ),
        (
            "expired",
            assertion(
                &key,
                serde_json::json!({"iss": "signed", "sub": "signed", "aud": app.url("/token"), "exp": T0 - 120, "jti": "b-4"}),
            ),
            false,
            401,
        ),
        (
            "no jti",
            assertion(
                &key,
                serde_json::json!({"iss": "signed", "sub": "signed", "aud": app.url("/token"), "exp": T0 + 60}),
            ),
            false,
            401,
        ),
        ("garbage", "not.a.jwt".to_owned(), false, 401),
        ("two methods", assertion(&key, claims_for(&app, "signed", "b-5")), true, 400),
    ];
    for (name, a, basic, status) in cases {
        let (s, body) = token_with(&app, &a, basic).await;
        assert_eq!(s, status, "{name}: {body}");
    }
    // alg=none is never accepted.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims_for(&app, "signed", "c-1").to_string())
    );
    assert_eq!(token_with(&app, &none, false).await.0, 401);
}

#[tokio::test]
async fn private_key_jwt_with_jwks_uri() {
    let key = client_key("remote");
    let jwks = serde_json::json!({"keys": [key.jwk]});
    let app_rp = axum::Router::new().route("/jwks.json", axum::routing::get(move || async move { axum::Json(jwks) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app_rp).await.unwrap() });
    let app =
        TestApp::spawn_with(dinhdanh::config::Settings { allow_private_fetch: Some(true), ..Default::default() }).await;
    app.client(serde_json::json!({
        "client_id": "signed", "grant_types": ["client_credentials"], "scope": "api:read",
        "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256",
        "jwks_uri": format!("http://{addr}/jwks.json"),
    }))
    .await;
    let (status, body) = token_with(&app, &assertion(&key, claims_for(&app, "signed", "u-1")), false).await;
    assert_eq!(status, 200, "{body}");
    // Introspection accepts the same method.
    let at = body["access_token"].as_str().unwrap().to_owned();
    let r = app
        .api()
        .post(app.url("/introspect"))
        .form(&[
            ("token", at.as_str()),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &assertion(&key, claims_for(&app, "signed", "u-2"))),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["active"], true);
}

#[tokio::test]
async fn client_secret_jwt_uses_the_sealed_secret() {
    let app = TestApp::spawn().await;
    let svc = &app.running.state.services;
    let md = |id: &str| -> dinhdanh::protocol::client::ClientMetadata {
        serde_json::from_value(serde_json::json!({
            "client_id": id, "grant_types": ["client_credentials"], "scope": "api:read",
            "token_endpoint_auth_method": "client_secret_jwt",
        }))
        .unwrap()
    };
    let limits = dinhdanh::outbound::FetchLimits::default();
    let registered =
        dinhdanh::flows::admin::register_client_with(svc.store.as_ref(), &limits, Some(&svc.kek), &md("hmac"), T0)
            .await
            .unwrap();
    let secret = registered.client_secret.expect("a secret is issued once");
    // Stored sealed, never in clear.
    let stored = svc.store.find_client("hmac").await.unwrap().unwrap().secret_digest.unwrap();
    assert!(stored.starts_with("sealed:") && !stored.contains(&secret));
    // Without the key-encryption key such a client cannot be registered.
    assert!(dinhdanh::flows::admin::register_client(svc.store.as_ref(), &md("hmac2"), T0).await.is_err());

    let sign = |key: &[u8], jti: &str| {
        let claims =
            serde_json::json!({"iss": "hmac", "sub": "hmac", "aud": app.url("/token"), "exp": T0 + 60, "jti": jti});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    let post = |assertion: String| {
        let app = &app;
        async move {
            let r = app
                .api()
                .post(app.url("/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let good = sign(secret.as_bytes(), "h-1");
    let (status, body) = post(good.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["sub"], "hmac");
    assert_eq!(post(good).await.0, 401, "single use");
    assert_eq!(post(sign(b"not-the-secret-not-the-secret-00", "h-2")).await.0, 401, "wrong secret");
    // The secret is not a Basic credential for this client.
    let r = app
        .api()
        .post(app.url("/token"))
        .basic_auth("hmac", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
