//! Two nodes of one deployment: two servers in this process, each with its own listener,
//! on one fresh PostgreSQL database and one Redis (a unique key prefix), sharing the keys
//! folder and the issuer. What one node starts, the other continues: single sign-on,
//! codes (redeemable once, whichever node), refresh tokens, access tokens; discovery and
//! JWKS are byte-identical.

use dinhdanh::clock::{FixedClock, Stopwatch};
use dinhdanh::config::Settings;

use serde_json::json;

use crate::backends::{FreshDatabase, backends, fresh_prefix, guarded, purge_redis, rethrow};
use crate::helpers::*;

async fn get_bytes(url: &str) -> (u16, Vec<u8>, Option<String>) {
    let r = reqwest::get(url).await.unwrap();
    let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec(), etag)
}

async fn refresh(node: &TestApp, token: &str) -> reqwest::Response {
    node.api()
        .post(node.url("/token"))
        .basic_auth("portal", Some(SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap()
}

async fn userinfo(node: &TestApp, access_token: &str) -> reqwest::Response {
    node.api().get(node.url("/userinfo")).bearer_auth(access_token).send().await.unwrap()
}

/// Runs `body` on two nodes of one deployment: a fresh PostgreSQL database (prepared by
/// `dinhdanh migrate`; the nodes then find nothing to do) and a fresh Redis prefix, one
/// issuer (node A's URL, as it is in every token), one clock. Drops both afterwards.
async fn on_two_nodes<F, Fut>(test: &str, body: F)
where
    F: FnOnce(TestApp, TestApp, FixedClock) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some((Some(pg), Some(redis_url))) = backends(test, true, true) else {
        return;
    };
    let db = FreshDatabase::create(&pg).await;
    let prefix = fresh_prefix();
    let work = tempfile::tempdir().unwrap();
    let migrate = std::process::Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .arg("migrate")
        .current_dir(work.path())
        .env("DINHDANH_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(migrate.status.success(), "migrate: {}", String::from_utf8_lossy(&migrate.stderr));

    let (database_url, redis, prefix_for_body) = (db.url.clone(), redis_url.clone(), prefix.clone());
    let outcome = guarded(async move {
        let settings = |issuer: Option<String>| Settings {
            database_url: Some(database_url.clone()),
            redis_url: Some(redis.clone()),
            redis_prefix: Some(prefix_for_body.clone()),
            issuer,
            ..Default::default()
        };
        let clock = FixedClock::new(T0);
        let a = TestApp::spawn_node(settings(None), clock.clone()).await;
        let b = TestApp::spawn_node(settings(Some(a.issuer.clone())), clock.clone()).await;
        assert_ne!(a.base, b.base);
        assert_eq!(a.issuer, b.issuer);
        a.client(serde_json::json!({
            "client_id": "portal", "client_secret": SECRET, "redirect_uris": [REDIRECT],
            "client_name": "Cổng dịch vụ công", "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid profile email offline_access",
        }))
        .await;
        body(a, b, clock).await;
    })
    .await;
    db.drop_now().await;
    purge_redis(&redis_url, &prefix).await;
    rethrow(outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_sessions_codes_and_refresh_tokens() {
    on_two_nodes("two_nodes_share_sessions_codes_and_refresh_tokens", |a, b, clock| async move {
        a.user("an.nguyen").await;

        // Discovery and JWKS: the same bytes (and ETags) from both nodes.
        for path in ["/.well-known/openid-configuration", "/jwks"] {
            let (sa, ba, ea) = get_bytes(&a.url(path)).await;
            let (sb, bb, eb) = get_bytes(&b.url(path)).await;
            assert_eq!((sa, sb), (200, 200), "{path}");
            assert_eq!(ba, bb, "{path} differs between the nodes");
            assert_eq!(ea, eb, "{path} ETag differs");
        }
        for node in [&a, &b] {
            assert_eq!(node.api().get(node.url("/readyz")).send().await.unwrap().status(), 200);
        }

        // Sign in on A (login and consent), one browser: its cookies go to both nodes
        // (cookies are scoped to the host, not the port).
        let browser = a.browser();
        let first = code_of(&a.sign_in(&browser, "portal", "an.nguyen", &[]).await);
        assert_eq!(first.iss.as_deref(), Some(a.issuer.as_str()));

        // Single sign-on on B: no login page, straight back to the client with a code.
        let r = b.follow(&browser, &b.authorize_url("portal", &[("state", "st-b")])).await;
        let on_b = code_of(&r);
        assert_eq!(on_b.state.as_deref(), Some("st-b"));

        // A's code redeems at B, once; the replay at A fails and revokes what it gave.
        let t = b.redeem("portal", &first.code, VERIFIER).await;
        assert_eq!(t.status(), 200);
        let t: serde_json::Value = t.json().await.unwrap();
        let first_at = t["access_token"].as_str().unwrap().to_owned();
        assert_eq!(claims(t["id_token"].as_str().unwrap())["iss"], a.issuer.as_str());
        assert_eq!(userinfo(&a, &first_at).await.status(), 200, "B's access token works at A");
        let replay = a.redeem("portal", &first.code, VERIFIER).await;
        assert_eq!(replay.status(), 400);
        assert_eq!(replay.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
        assert_eq!(userinfo(&b, &first_at).await.status(), 401, "a replayed code revokes its tokens on every node");

        // 50 concurrent redemptions of B's code, alternating nodes: exactly one succeeds.
        let watch = Stopwatch::start();
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let url = if i % 2 == 0 { a.url("/token") } else { b.url("/token") };
                let (client, code) = (a.api(), on_b.code.clone());
                tokio::spawn(async move {
                    client
                        .post(url)
                        .basic_auth("portal", Some(SECRET))
                        .form(&[
                            ("grant_type", "authorization_code"),
                            ("code", code.as_str()),
                            ("redirect_uri", REDIRECT),
                            ("code_verifier", VERIFIER),
                        ])
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        let ok = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(ok, 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s == 400), "{statuses:?}");
        eprintln!("50 concurrent redemptions across two nodes: {:?}", watch.elapsed());

        // Refresh on B of a refresh token issued on A; the spent one fails on A.
        // offline_access is new to this person's consent: A asks for it, with no login.
        let r = a.follow(&browser, &a.authorize_url("portal", &[("scope", "openid offline_access")])).await;
        let page = r.text().await.unwrap();
        assert!(page.contains("name=\"decision\"") && !page.contains("name=\"password\""), "{page}");
        let r = a.approve(&browser, &page).await;
        let code = code_of(&r);
        let t = a.redeem("portal", &code.code, VERIFIER).await;
        assert_eq!(t.status(), 200);
        let t: serde_json::Value = t.json().await.unwrap();
        let rt1 = t["refresh_token"].as_str().expect("offline_access gives a refresh token").to_owned();
        clock.advance(30);
        let r = refresh(&b, &rt1).await;
        assert_eq!(r.status(), 200);
        let t2: serde_json::Value = r.json().await.unwrap();
        let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(rt1, rt2);
        assert_eq!(userinfo(&a, t2["access_token"].as_str().unwrap()).await.status(), 200);
        assert_eq!(refresh(&a, &rt2).await.status(), 200, "B's rotation is current on A");

        // Logout on A ends the session on B.
        let hint = t["id_token"].as_str().unwrap().to_owned();
        let r = browser.get(format!("{}?id_token_hint={hint}", a.url("/end_session"))).send().await.unwrap();
        assert_eq!(r.status(), 200, "signed out at A without a confirmation (the hint names the session)");
        let r = b.follow(&browser, &b.authorize_url("portal", &[("prompt", "none")])).await;
        assert_eq!(
            param(&redirect_params(&r), "error").as_deref(),
            Some("login_required"),
            "B knows the session ended"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_a_person_reaches_userinfo_on_this_node_at_once_and_on_others_within_the_cache_time() {
    let test = "a_change_to_a_person_reaches_userinfo_on_this_node_at_once_and_on_others_within_the_cache_time";
    on_two_nodes(test, |a, b, clock| async move {
        let ttl = dinhdanh::config::defaults::PERSON_CACHE_TTL;
        let id = a.user("an.nguyen").await;
        let browser = a.browser();
        let code = code_of(&a.sign_in(&browser, "portal", "an.nguyen", &[]).await);
        let t: serde_json::Value = a.redeem("portal", &code.code, VERIFIER).await.json().await.unwrap();
        let at = t["access_token"].as_str().unwrap().to_owned();
        // Both nodes read the person once and remember them.
        for node in [&a, &b] {
            assert_eq!(userinfo_of(node, &at).await["name"], "Nguyễn Văn An");
        }

        // Renamed through A's admin API: A shows it at once; B within the cache time.
        let admin = admin_token(&a).await;
        let path = format!("/people/{id}");
        json_of(admin_call(&a, "PATCH", &path, Some(&admin), Some(json!({"name": "Nguyễn Văn Ân"}))).await, 200).await;
        assert_eq!(userinfo_of(&a, &at).await["name"], "Nguyễn Văn Ân", "the node that made the change");
        assert_eq!(userinfo_of(&b, &at).await["name"], "Nguyễn Văn An", "B trusts what it read, for a while");
        clock.advance(ttl);
        assert_eq!(userinfo_of(&b, &at).await["name"], "Nguyễn Văn Ân", "B after the cache time");

        // A code from a sign-in just before the person is disabled.
        let pending = code_of(&a.follow(&browser, &a.authorize_url("portal", &[])).await);

        // Disabled through A: A refuses the token at once, B within the cache time.
        json_of(admin_call(&a, "POST", &format!("/people/{id}/disable"), Some(&admin), None).await, 200).await;
        let refused = userinfo(&a, &at).await;
        assert_eq!(refused.status(), 401);
        let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains("invalid_token"), "{challenge}");
        assert_eq!(userinfo(&b, &at).await.status(), 200, "B's userinfo still trusts what it read");
        // But no node issues new tokens on a record it remembers: the code exchange reads
        // the database, so B refuses the pending code although its cache still holds the
        // person as active.
        let r = b.redeem("portal", &pending.code, VERIFIER).await;
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
        clock.advance(ttl);
        assert_eq!(userinfo(&b, &at).await.status(), 401, "B after the cache time");
        // Enabled again: the token works on both (A at once, B having read the disabled
        // record, after the cache time), since disabling did not revoke it.
        json_of(admin_call(&a, "POST", &format!("/people/{id}/enable"), Some(&admin), None).await, 200).await;
        assert_eq!(userinfo(&a, &at).await.status(), 200);
        clock.advance(ttl);
        assert_eq!(userinfo(&b, &at).await.status(), 200);
    })
    .await;
}
