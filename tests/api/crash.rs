//! `kill -9` under load, then a restart: nothing committed is lost (clients, people,
//! consents, refresh-token families, the audit chain), and a code issued before the
//! crash is still redeemed exactly once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::backends::{FreshDatabase, backends, fresh_prefix, purge_redis};
use crate::helpers::*;

struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(env: &[(&str, String)], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dinhdanh"));
    c.args(args).env_remove("DINHDANH_REDIS_URL").env_remove("DINHDANH_DATABASE_URL");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn start(env: &[(&str, String)]) -> Node {
    let mut child = command(env, &["serve"]).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("the server did not start");
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if v["fields"]["message"] == "dinhdanh is serving" {
            break v["fields"]["listen"].as_str().unwrap().to_owned();
        }
    };
    Node { child, base: format!("http://{addr}") }
}

fn location(r: &reqwest::Response) -> Option<String> {
    r.headers().get("location").map(|v| v.to_str().unwrap().to_owned())
}

/// Browser part of the code flow against a node: returns the code.
async fn sign_in(base: &str, browser: &reqwest::Client, scope: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", "portal"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "s"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let mut r = browser.get(format!("{base}/authorize?{q}")).send().await.unwrap();
    for _ in 0..6 {
        match location(&r) {
            Some(loc) if loc.starts_with(REDIRECT) => {
                let url = url::Url::parse(&loc).unwrap();
                return url.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
            }
            Some(loc) => r = browser.get(format!("{base}{loc}")).send().await.unwrap(),
            None => {
                let page = r.text().await.unwrap();
                let action = form_action(&page);
                let csrf = hidden(&page, "csrf");
                let form: Vec<(&str, &str)> = if page.contains("name=\"password\"") {
                    vec![("csrf", &csrf), ("username", "an.nguyen"), ("password", PASSWORD), ("action", "login")]
                } else {
                    vec![("csrf", &csrf), ("decision", "allow")]
                };
                r = browser.post(format!("{base}{action}")).form(&form).send().await.unwrap();
            }
        }
    }
    panic!("no code after six steps");
}

async fn redeem(base: &str, code: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth("portal", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_committed_and_redeems_no_code_twice() {
    let Some((Some(pg), Some(redis))) = backends("kill_9_under_load_loses_nothing_committed", true, true) else {
        return;
    };
    let db = FreshDatabase::create(&pg).await;
    let prefix = fresh_prefix();
    let work = tempfile::tempdir().unwrap();
    let env = vec![
        ("DINHDANH_LISTEN", "127.0.0.1:0".to_owned()),
        ("DINHDANH_DATABASE_URL", db.url.clone()),
        ("DINHDANH_REDIS_URL", redis.clone()),
        ("DINHDANH_REDIS_PREFIX", prefix.clone()),
        ("DINHDANH_KEYS_DIR", work.path().join("keys").display().to_string()),
        ("DINHDANH_ARGON2_MEMORY_KIB", "8192".to_owned()),
        ("DINHDANH_ARGON2_ITERATIONS", "1".to_owned()),
        ("DINHDANH_LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    // Committed through the CLI before the server ever runs.
    let md = work.path().join("portal.json");
    std::fs::write(
        &md,
        serde_json::json!({
            "client_id": "portal", "client_secret": SECRET, "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "scope": "openid profile offline_access api:read",
        })
        .to_string(),
    )
    .unwrap();
    assert!(
        command(&env, &["client", "create", "--metadata", md.to_str().unwrap()]).output().unwrap().status.success()
    );
    let user = command(&env, &["user", "create", "--username", "an.nguyen", "--password", PASSWORD]).output().unwrap();
    assert!(user.status.success(), "{}", String::from_utf8_lossy(&user.stderr));

    let mut node = start(&env);
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // A refresh token (durable) and a code (ephemeral, in Redis) issued before the crash.
    let code = sign_in(&node.base, &browser, "openid offline_access").await;
    let t: serde_json::Value = redeem(&node.base, &code).await.json().await.unwrap();
    let refresh = t["refresh_token"].as_str().unwrap().to_owned();
    let pending = sign_in(&node.base, &browser, "openid offline_access").await;

    // Load while the process dies.
    let base = node.base.clone();
    let load = tokio::spawn(async move {
        let c = reqwest::Client::new();
        let mut ok = 0u32;
        for _ in 0..100_000 {
            let r = c
                .post(format!("{base}/token"))
                .basic_auth("portal", Some(SECRET))
                .form(&[("grant_type", "client_credentials"), ("scope", "api:read")])
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 200 => ok += 1,
                Ok(r) => assert!(r.status() == 503, "only success or a clean refusal, got {}", r.status()),
                Err(_) => break, // the process is gone
            }
        }
        ok
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(Command::new("kill").args(["-KILL", &node.child.id().to_string()]).status().unwrap().success());
    let served = load.await.unwrap();
    assert!(served > 0, "the load ran before the crash");
    let _ = node.child.wait();

    node = start(&env);
    // The code issued before the crash: exactly once.
    assert_eq!(redeem(&node.base, &pending).await.status(), 200);
    assert_eq!(redeem(&node.base, &pending).await.status(), 400);
    // The refresh family survived; the client and the person still work.
    let r = reqwest::Client::new()
        .post(format!("{}/token", node.base))
        .basic_auth("portal", Some(SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a refresh token committed before the crash still rotates");
    let fresh_browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let code = sign_in(&node.base, &fresh_browser, "openid").await;
    assert_eq!(redeem(&node.base, &code).await.status(), 200);
    drop(node);
    let verify = command(&env, &["audit", "verify"]).output().unwrap();
    assert!(verify.status.success(), "the audit chain survives a crash: {}", String::from_utf8_lossy(&verify.stdout));
    db.drop_now().await;
    purge_redis(&redis, &prefix).await;
}
