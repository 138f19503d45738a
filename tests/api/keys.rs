//! Signing keys across rotation and across nodes: tokens signed before a rotation keep
//! verifying against `/jwks`, a new key signs only after pre-publication, a retired key
//! leaves the JWKS once its tokens have expired, two nodes on one database agree, sealed
//! keys need the KEK, and every algorithm (PS256 and EdDSA included) verifies with an
//! independent JOSE library (`jsonwebtoken`, RustCrypto).

use std::path::Path;
use std::sync::Arc;

use dinhdanh::app::Running;
use dinhdanh::clock::{Clock, FixedClock};
use dinhdanh::config::Settings;
use dinhdanh::flows::keys as key_flows;
use dinhdanh::protocol::client::SigningAlg;
use dinhdanh::store::{KeyState, Retirement};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::helpers::*;

/// Default pre-publication (DINHDANH_KEY_PREPUBLICATION).
const PREPUBLICATION: i64 = 3600;
/// How long a retired key stays published with the default settings: the longest token
/// lifetime (600 s) + the reload interval (60 s) + one minute of clock skew.
const RETENTION: i64 = 600 + 60 + 60;

async fn jwks_of(base: &str) -> (Value, String) {
    let r = reqwest::get(format!("{base}/jwks")).await.unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    (r.json().await.unwrap(), etag)
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

/// Verifies `token` against a published JWK Set the way a relying party would: find the
/// key by `kid`, check the signature with the header's algorithm. Returns the claims.
fn verify(jwks: &Value, token: &str) -> Result<Value, String> {
    let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| format!("JWK Set: {e}"))?;
    let h = header(token);
    let kid = h["kid"].as_str().ok_or("no kid")?;
    let jwk = set.find(kid).ok_or_else(|| format!("kid {kid} is not in the JWK Set"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let alg: Algorithm =
        h["alg"].as_str().ok_or("no alg")?.parse().map_err(|e: jsonwebtoken::errors::Error| e.to_string())?;
    let mut v = Validation::new(alg);
    // Only the signature: the clocks of these tests are not the real one.
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &key, &v).map(|d| d.claims).map_err(|e| e.to_string())
}

async fn service_client(app: &TestApp, id: &str) {
    app.client(json!({
        "client_id": id, "client_secret": SECRET, "grant_types": ["client_credentials"], "scope": "api:read",
    }))
    .await;
}

/// A client-credentials access token (ES256) from the node at `base`.
async fn access_token(base: &str, client: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(client, Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    t["access_token"].as_str().unwrap().to_owned()
}

fn kid_of(token: &str) -> String {
    header(token)["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rotation_keeps_outstanding_tokens_valid_and_switches_after_prepublication() {
    let app = TestApp::spawn().await;
    let svc = app.running.state.services.clone();
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    service_client(&app, "lgsp").await;
    let browser = app.browser();
    let before = app.tokens(&browser, "portal", "an.nguyen", &[]).await;
    let (id_before, at_before) = (before["id_token"].as_str().unwrap(), before["access_token"].as_str().unwrap());
    let (jwks0, etag0) = jwks_of(&app.issuer).await;
    verify(&jwks0, id_before).unwrap();
    verify(&jwks0, at_before).unwrap();
    let (old_rs, old_es) = (kid_of(id_before), kid_of(at_before));

    // Rotate: the new keys are published at once, the old ones still sign.
    let mut new_kids = Vec::new();
    for alg in [SigningAlg::RS256, SigningAlg::ES256] {
        let row = key_flows::rotate_here(&svc, alg, "test", app.clock.now()).await.unwrap();
        assert_eq!(row.state, KeyState::Next);
        assert_eq!(row.activates_at, T0 + PREPUBLICATION);
        new_kids.push(row.kid);
    }
    let (jwks1, etag1) = jwks_of(&app.issuer).await;
    assert_ne!(etag0, etag1, "a changed JWK Set has a new ETag");
    for kid in new_kids.iter().chain([&old_rs, &old_es]) {
        assert!(kids(&jwks1).contains(kid), "{kid} not published");
    }
    verify(&jwks1, id_before).expect("an ID token from before the rotation verifies against the new JWKS");
    verify(&jwks1, at_before).expect("an access token from before the rotation verifies against the new JWKS");
    let during = app.tokens(&browser, "portal", "an.nguyen", &[]).await;
    assert_eq!(
        kid_of(during["id_token"].as_str().unwrap()),
        old_rs,
        "the new key does not sign during pre-publication"
    );
    assert_eq!(kid_of(&access_token(&app.issuer, "lgsp").await), old_es);
    // A second rotation of the same algorithm is refused and writes nothing.
    let rows_before = key_flows::list(svc.store.as_ref(), true).await.unwrap().len();
    let err = key_flows::rotate_here(&svc, SigningAlg::ES256, "test", app.clock.now()).await.unwrap_err();
    assert!(err.to_string().contains("already published and waiting"), "{err}");
    assert_eq!(key_flows::list(svc.store.as_ref(), true).await.unwrap().len(), rows_before, "no half-written row");
    let audited = svc.store.audit_events(0, 1000).await.unwrap();
    let actions: Vec<(&str, Option<&str>)> =
        audited.iter().map(|r| (r.event.action.as_str(), r.event.subject.as_deref())).collect();
    assert!(actions.contains(&("keys.rotate", Some(new_kids[0].as_str()))), "{actions:?}");
    assert!(actions.contains(&("keys.rotate.failed", None)), "the refused rotation leaves its audit line: {actions:?}");
    // Unchanged keys: a reload keeps the very same JWKS bytes and ETag.
    assert!(!key_flows::reload_here(&svc, app.clock.now()).await.unwrap());
    assert_eq!(jwks_of(&app.issuer).await.1, etag1);

    // Pre-publication over: the new keys sign, the old ones stay published.
    app.clock.advance(PREPUBLICATION - 1);
    key_flows::reload_here(&svc, app.clock.now()).await.unwrap();
    assert_eq!(kid_of(&access_token(&app.issuer, "lgsp").await), old_es, "one second early");
    app.clock.advance(1);
    assert!(key_flows::reload_here(&svc, app.clock.now()).await.unwrap());
    let after = app.tokens(&browser, "portal", "an.nguyen", &[]).await;
    let id_after = after["id_token"].as_str().unwrap();
    assert_eq!(kid_of(id_after), new_kids[0]);
    assert_eq!(kid_of(after["access_token"].as_str().unwrap()), new_kids[1]);
    let (jwks2, _) = jwks_of(&app.issuer).await;
    verify(&jwks2, id_after).unwrap();
    verify(&jwks2, id_before).expect("the retired key is still published");
    verify(&jwks2, during["id_token"].as_str().unwrap()).unwrap();
    let states: Vec<(String, KeyState)> =
        key_flows::list(svc.store.as_ref(), false).await.unwrap().into_iter().map(|k| (k.kid, k.state)).collect();
    assert!(states.contains(&(old_rs.clone(), KeyState::Retired)), "{states:?}");
    assert!(states.contains(&(new_kids[0].clone(), KeyState::Active)), "{states:?}");

    // Every token the old keys signed has expired: they leave the JWKS.
    app.clock.advance(RETENTION - 1);
    key_flows::reload_here(&svc, app.clock.now()).await.unwrap();
    assert!(kids(&jwks_of(&app.issuer).await.0).contains(&old_rs), "one second early");
    app.clock.advance(1);
    assert!(key_flows::reload_here(&svc, app.clock.now()).await.unwrap());
    let (jwks3, _) = jwks_of(&app.issuer).await;
    assert!(!kids(&jwks3).contains(&old_rs) && !kids(&jwks3).contains(&old_es), "retired keys removed");
    assert!(verify(&jwks3, id_before).is_err());
    verify(&jwks3, id_after).unwrap();
    let removed = key_flows::list(svc.store.as_ref(), true).await.unwrap();
    let old = removed.iter().find(|k| k.kid == old_rs).unwrap();
    assert_eq!(old.state, KeyState::Removed);
    assert!(old.sealed_private_key.is_empty(), "a removed key's private key is erased");
}

fn node_settings(dir: &Path, reload: i64) -> Settings {
    Settings {
        listen: Some("127.0.0.1:0".into()),
        database_url: Some(format!("sqlite://{}", dir.join("db.sqlite").display())),
        keys_dir: Some(dir.join("keys")),
        dev_keys: Some(true),
        key_reload_interval: Some(reload),
        argon2_memory_kib: Some(8 * 1024),
        argon2_iterations: Some(1),
        ..Default::default()
    }
}

/// Polls until `f` holds, for at most `secs` seconds of real time.
async fn eventually<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..secs * 10 {
        if f().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("not within {secs} s: {what}");
}

async fn jwks_bytes(r: &Running) -> Vec<u8> {
    reqwest::get(format!("{}/jwks", r.issuer)).await.unwrap().bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_agree_after_a_rotation_within_the_reload_interval() {
    let dir = tempfile::tempdir().unwrap();
    two_nodes_agree(node_settings(dir.path(), 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_postgres_agree_after_a_rotation_within_the_reload_interval() {
    let test = "two_nodes_on_postgres_agree_after_a_rotation_within_the_reload_interval";
    let Some((Some(pg), _)) = crate::backends::backends(test, true, false) else { return };
    let db = crate::backends::FreshDatabase::create(&pg).await;
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings { database_url: Some(db.url.clone()), ..node_settings(dir.path(), 1) };
    let outcome = crate::backends::guarded(two_nodes_agree(settings)).await;
    db.drop_now().await;
    crate::backends::rethrow(outcome);
}

/// Two nodes on the database of `settings`, reloading keys every second.
async fn two_nodes_agree(settings: Settings) {
    let clock = FixedClock::new(T0);
    let a = dinhdanh::app::spawn(settings.clone(), Arc::new(clock.clone())).await.unwrap();
    let b = dinhdanh::app::spawn(settings, Arc::new(clock.clone())).await.unwrap();
    assert_eq!(jwks_bytes(&a).await, jwks_bytes(&b).await, "both nodes serve the keys of the database");
    let md = serde_json::from_value(json!({
        "client_id": "lgsp", "client_secret": SECRET, "grant_types": ["client_credentials"], "scope": "api:read",
    }))
    .unwrap();
    dinhdanh::flows::admin::register_client(a.state.services.store.as_ref(), &md, T0).await.unwrap();
    let old = kid_of(&access_token(&b.issuer, "lgsp").await);
    assert_eq!(old, kid_of(&access_token(&a.issuer, "lgsp").await), "nodes sign with the same key");

    // Rotate on node A: node B publishes the new key within its reload interval.
    let new = key_flows::rotate_here(&a.state.services, SigningAlg::ES256, "test", clock.now()).await.unwrap().kid;
    let on_a = jwks_bytes(&a).await;
    assert!(String::from_utf8_lossy(&on_a).contains(&new), "published at once on the rotating node");
    let (a, b, on_a, new) = (&a, &b, &on_a, &new);
    eventually(5, "node B publishes the new key", || async move { jwks_bytes(b).await == *on_a }).await;
    assert_eq!(kid_of(&access_token(&b.issuer, "lgsp").await), old, "pre-publication: the old key still signs");

    // Pre-publication over: whichever node reloads first moves the database on; both sign
    // with the new key and serve identical JWKS.
    clock.advance(PREPUBLICATION);
    eventually(5, "both nodes sign with the new key", || async move {
        kid_of(&access_token(&a.issuer, "lgsp").await) == *new && kid_of(&access_token(&b.issuer, "lgsp").await) == *new
    })
    .await;
    eventually(5, "identical JWKS", || async move { jwks_bytes(a).await == jwks_bytes(b).await }).await;
    let jwks: Value = serde_json::from_slice(&jwks_bytes(b).await).unwrap();
    assert!(kids(&jwks).contains(&old), "the old key stays published on both nodes");
}

fn kek_text(byte: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn sealed_settings(dir: &Path, kek: Option<String>) -> Settings {
    Settings { dev_keys: Some(false), key_encryption_key: kek.map(|k| k.parse().unwrap()), ..node_settings(dir, 60) }
}

/// 16 bytes of the private key inside a PKCS#8 document: after the `04 20` that opens the
/// 32-byte EC scalar or Ed25519 seed, else (RSA) from the middle (the private exponent
/// and primes make up most of the document).
fn private_part(der: &[u8]) -> Vec<u8> {
    let at = der.windows(2).take(60).position(|w| w == [0x04, 0x20]).map(|i| i + 2).unwrap_or(der.len() / 2);
    der[at..at + 16].to_vec()
}

/// The bytes of the database as they lie on disk (main file and write-ahead log).
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for f in ["db.sqlite", "db.sqlite-wal"] {
        if let Ok(b) = std::fs::read(dir.join(f)) {
            all.extend(b);
        }
    }
    all
}

#[tokio::test]
async fn sealed_keys_are_unreadable_without_the_kek_and_a_wrong_kek_fails_to_start() {
    let dir = tempfile::tempdir().unwrap();
    // Production mode importing existing PEM keys (as a deployment from before this version).
    let pems = tempfile::tempdir().unwrap();
    dinhdanh::crypto::keys::KeySet::load_or_generate(pems.path(), true).unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    let mut private_parts = Vec::new();
    for f in ["es256.pem", "rs256.pem", "ps256.pem", "eddsa.pem"] {
        let pem = std::fs::read_to_string(pems.path().join(f)).unwrap();
        std::fs::write(dir.path().join("keys").join(f), &pem).unwrap();
        use base64::Engine;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
        private_parts.push(private_part(&der));
    }
    let clock = || Arc::new(FixedClock::new(T0));
    let first = dinhdanh::app::spawn(sealed_settings(dir.path(), Some(kek_text(1))), clock()).await.unwrap();
    let (jwks, _) = jwks_of(&first.issuer).await;
    let imported = first.state.services.keys.current();
    assert_eq!(imported.keys().len(), 4);
    assert!(!first.state.services.keys.development);
    let rows = key_flows::list(first.state.services.store.as_ref(), true).await.unwrap();
    assert_eq!(rows.len(), 4);
    drop(imported);
    drop(first);
    // Never in clear: neither in the rows nor anywhere in the database files.
    let disk = database_bytes(dir.path());
    for part in &private_parts {
        assert!(!disk.windows(part.len()).any(|w| w == part.as_slice()), "a private key lies in the database in clear");
        for r in &rows {
            assert!(!r.sealed_private_key.windows(part.len()).any(|w| w == part.as_slice()));
        }
    }
    // The PEM files are not read again: the database is the source of truth.
    for f in ["es256.pem", "rs256.pem", "ps256.pem", "eddsa.pem"] {
        std::fs::remove_file(dir.path().join("keys").join(f)).unwrap();
    }

    let wrong = dinhdanh::app::spawn(sealed_settings(dir.path(), Some(kek_text(2))), clock()).await.err().unwrap();
    let msg = wrong.to_string();
    assert!(msg.contains("does not open with the configured key-encryption key"), "{msg}");
    assert!(msg.contains("DINHDANH_KEY_ENCRYPTION_KEY"), "{msg}");
    let none = dinhdanh::app::spawn(sealed_settings(dir.path(), None), clock()).await.err().unwrap();
    assert!(none.to_string().contains("DINHDANH_KEY_ENCRYPTION_KEY"), "{none}");

    // The right KEK, given as a file: same keys, same JWKS.
    let kek_file = dir.path().join("kek");
    std::fs::write(&kek_file, kek_text(1)).unwrap();
    let settings = Settings { key_encryption_key_file: Some(kek_file), ..sealed_settings(dir.path(), None) };
    let again = dinhdanh::app::spawn(settings, clock()).await.unwrap();
    assert_eq!(jwks_of(&again.issuer).await.0, jwks);
}

#[tokio::test]
async fn ps256_and_eddsa_id_tokens_verify_against_the_jwks() {
    let app = TestApp::spawn().await;
    app.user("an.nguyen").await;
    let (jwks, _) = jwks_of(&app.issuer).await;
    let algs: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
    for alg in ["ES256", "RS256", "PS256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg} not published: {algs:?}");
    }
    let d: Value = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    for alg in ["RS256", "ES256", "PS256", "EdDSA"] {
        assert!(d["id_token_signing_alg_values_supported"].as_array().unwrap().iter().any(|a| a == alg), "{alg}");
    }
    for (client, alg) in [("rp-ps", "PS256"), ("rp-ed", "EdDSA"), ("rp-es", "ES256"), ("rp-rs", "RS256")] {
        app.client(json!({
            "client_id": client, "client_secret": SECRET, "redirect_uris": [REDIRECT],
            "id_token_signed_response_alg": alg,
        }))
        .await;
        let t = app.tokens(&app.browser(), client, "an.nguyen", &[]).await;
        let id = t["id_token"].as_str().unwrap();
        assert_eq!(header(id)["alg"], alg);
        let claims = verify(&jwks, id).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(claims["aud"], client);
        // at_hash: left half of SHA-256 (SHA-512 for Ed25519) of the access token.
        let at = t["access_token"].as_str().unwrap();
        let digest = match alg {
            "EdDSA" => ring::digest::digest(&ring::digest::SHA512, at.as_bytes()),
            _ => ring::digest::digest(&ring::digest::SHA256, at.as_bytes()),
        };
        let half = &digest.as_ref()[..digest.as_ref().len() / 2];
        use base64::Engine;
        assert_eq!(claims["at_hash"], base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half), "{alg}");
    }
}

#[tokio::test]
async fn retiring_an_active_key_replaces_it_at_once_and_removal_unpublishes_it() {
    let app = TestApp::spawn().await;
    let svc = app.running.state.services.clone();
    service_client(&app, "lgsp").await;
    let first = access_token(&app.issuer, "lgsp").await;
    let old = kid_of(&first);
    let out = key_flows::retire_here(&svc, &old, false, "test", app.clock.now()).await.unwrap();
    let Retirement::Retired { successor: Some(new) } = out else { panic!("{out:?}") };
    assert_ne!(new, old);
    let second = access_token(&app.issuer, "lgsp").await;
    assert_eq!(kid_of(&second), new, "the replacement signs at once");
    let (jwks, _) = jwks_of(&app.issuer).await;
    verify(&jwks, &first).expect("a retired key stays published");
    verify(&jwks, &second).unwrap();
    // Compromised: remove at once, and the token it signed no longer verifies.
    let out = key_flows::retire_here(&svc, &old, true, "test", app.clock.now()).await.unwrap();
    assert_eq!(out, Retirement::Removed { successor: None });
    let (jwks, _) = jwks_of(&app.issuer).await;
    assert!(!kids(&jwks).contains(&old));
    assert!(verify(&jwks, &first).is_err());
    let r = app
        .api()
        .post(app.url("/introspect"))
        .basic_auth("lgsp", Some(SECRET))
        .form(&[("token", first.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["active"], false, "a removed key's token is not active");
    assert!(key_flows::retire_here(&svc, "no-such-kid", false, "test", app.clock.now()).await.is_err());
}

#[tokio::test]
async fn scheduled_rotation_publishes_ahead_and_switches_at_the_period() {
    let day = 86_400;
    let app = TestApp::spawn_with(Settings { key_rotation_days: Some(1), ..Default::default() }).await;
    let svc = app.running.state.services.clone();
    let start: Vec<String> = svc.keys.current().keys().iter().map(|k| k.kid.clone()).collect();
    assert_eq!(start.len(), 4);
    app.clock.advance(day - PREPUBLICATION - 1);
    assert!(!key_flows::reload_here(&svc, app.clock.now()).await.unwrap(), "not due yet");
    app.clock.advance(1);
    assert!(key_flows::reload_here(&svc, app.clock.now()).await.unwrap());
    let rows = key_flows::list(svc.store.as_ref(), false).await.unwrap();
    assert_eq!(rows.iter().filter(|k| k.state == KeyState::Next).count(), 4, "one next key per algorithm");
    for alg in SigningAlg::ALL {
        assert!(start.contains(&svc.keys.current().signer(alg).unwrap().kid), "old keys sign until the period ends");
    }
    app.clock.advance(PREPUBLICATION);
    assert!(key_flows::reload_here(&svc, app.clock.now()).await.unwrap());
    for alg in SigningAlg::ALL {
        assert!(!start.contains(&svc.keys.current().signer(alg).unwrap().kid), "{alg:?} rotated");
    }
    assert_eq!(svc.keys.current().keys().len(), 8, "old keys stay published while their tokens live");
}

#[test]
fn the_keys_cli_lists_rotates_and_retires() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
            .args(args)
            .current_dir(dir.path())
            .env("DINHDANH_DATABASE_URL", format!("sqlite://{}", dir.path().join("db.sqlite").display()))
            .env("DINHDANH_KEYS_DIR", dir.path().join("keys"))
            .env("DINHDANH_DEV_KEYS", "true")
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        let json = serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null);
        (out.status.success(), json, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, listed, err) = run(&["keys", "list"]);
    assert!(ok, "{err}");
    assert_eq!(listed["keys"], json!([]));
    let (ok, rotated, err) = run(&["keys", "rotate", "--alg", "EdDSA"]);
    assert!(ok, "{err}");
    let kid = rotated["rotated"][0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(rotated["rotated"][0]["state"], "next");
    assert_eq!(rotated["rotated"][0]["published"], true);
    assert!(rotated["rotated"][0]["signs_from"].as_str().unwrap().ends_with('Z'));
    let (ok, _, err) = run(&["keys", "rotate", "--alg", "EdDSA"]);
    assert!(!ok && err.contains("already published and waiting"), "{err}");
    let (ok, _, err) = run(&["keys", "rotate", "--alg", "HS256"]);
    assert!(!ok && err.contains("--alg HS256"), "{err}");
    let (ok, listed, _) = run(&["keys", "list"]);
    assert!(ok);
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1, "failed rotations left no row");
    let (ok, retired, err) = run(&["keys", "retire", "--kid", &kid]);
    assert!(ok, "{err}");
    assert_eq!(retired["state"], "removed", "a next key that never signed is removed");
    let (_, listed, _) = run(&["keys", "list"]);
    assert_eq!(listed["keys"], json!([]));
    let (_, listed, _) = run(&["keys", "list", "--all"]);
    assert_eq!(listed["keys"][0]["state"], "removed");
    let (ok, _, err) = run(&["keys", "retire", "--kid", "nope"]);
    assert!(!ok && err.contains("nope"), "{err}");
}
