//! Failing safely: a stalled or lost Redis or PostgreSQL (through a TCP proxy the test
//! controls) gives quick 503s with `Retry-After`, never a 500 and never a token, while
//! discovery and JWKS keep working, and everything recovers without a restart; SIGTERM
//! turns readiness off, lets in-flight requests finish and exits within a deadline; slow
//! or oversized request heads are cut off; a login flood is refused with 503 while token
//! traffic keeps flowing.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use dinhdanh::clock::Stopwatch;
use dinhdanh::config::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backends::{DOWN, FreshDatabase, PASS, Proxy, STALL, backends, fresh_prefix, guarded, purge_redis, rethrow};
use crate::helpers::*;

/// A failure must be reported within this (the backend timeouts are well below it).
const QUICK: Duration = Duration::from_secs(2);

async fn service_client(app: &TestApp) {
    app.client(serde_json::json!({
        "client_id": "svc", "client_secret": SECRET, "grant_types": ["client_credentials"],
        "scope": "api:read",
    }))
    .await;
}

async fn client_credentials(app: &TestApp) -> reqwest::Response {
    app.api()
        .post(app.url("/token"))
        .basic_auth("svc", Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "api:read")])
        .send()
        .await
        .unwrap()
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let watch = Stopwatch::start();
    let out = f.await;
    (out, watch.elapsed())
}

/// 503, `Retry-After`, and the RFC 6749 `temporarily_unavailable` JSON error, quickly.
async fn assert_unavailable_json(what: &str, r: reqwest::Response, took: Duration, within: Duration) {
    eprintln!("{what}: {} in {took:?}", r.status());
    assert_eq!(r.status(), 503, "{what}");
    assert!(r.headers().contains_key("retry-after"), "{what}: no Retry-After");
    assert!(took < within, "{what} took {took:?}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{what}: {body}");
}

async fn assert_still_public(app: &TestApp) {
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let (r, took) = timed(app.api().get(app.url(path)).send()).await;
        assert_eq!(r.unwrap().status(), 200, "{path}");
        assert!(took < Duration::from_millis(500), "{path} took {took:?}");
    }
}

async fn readyz(app: &TestApp) -> reqwest::Response {
    app.api().get(app.url("/readyz")).send().await.unwrap()
}

/// Polls `/readyz` until it says ready; panics after `limit`.
async fn wait_ready(app: &TestApp, limit: Duration) -> Duration {
    let watch = Stopwatch::start();
    loop {
        if readyz(app).await.status() == 200 {
            return watch.elapsed();
        }
        assert!(watch.elapsed() < limit, "not ready again after {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stalled_or_down_gives_quick_503s_and_recovers_without_restart() {
    let Some((_, Some(redis_url))) =
        backends("redis_stalled_or_down_gives_quick_503s_and_recovers_without_restart", false, true)
    else {
        return;
    };
    let prefix = fresh_prefix();
    let proxy = Proxy::to_url(&redis_url).await;
    let through = proxy.url_through(&redis_url);
    let p = prefix.clone();
    let outcome = guarded(async move {
        let app = TestApp::spawn_with(Settings {
            redis_url: Some(through),
            redis_prefix: Some(p),
            redis_timeout_ms: Some(300),
            ..Default::default()
        })
        .await;
        app.confidential("portal").await;
        service_client(&app).await;
        app.user("an.nguyen").await;
        let browser = app.browser();
        let t = app.tokens(&browser, "portal", "an.nguyen", &[]).await;
        let at = t["access_token"].as_str().unwrap().to_owned();
        assert_eq!(readyz(&app).await.status(), 200);

        for (mode, name) in [(STALL, "stalled"), (DOWN, "down")] {
            proxy.set(mode);
            let (r, took) = timed(client_credentials(&app)).await;
            assert_unavailable_json(&format!("{name}: client credentials"), r, took, QUICK).await;
            let (r, took) = timed(app.redeem("portal", "a-code-nobody-issued", VERIFIER)).await;
            assert_unavailable_json(&format!("{name}: code redemption"), r, took, QUICK).await;
            let (r, took) = timed(app.api().get(app.url("/userinfo")).bearer_auth(&at).send()).await;
            assert_unavailable_json(&format!("{name}: userinfo"), r.unwrap(), took, QUICK).await;
            let (r, took) = timed(
                app.api()
                    .post(app.url("/introspect"))
                    .basic_auth("portal", Some(SECRET))
                    .form(&[("token", &at)])
                    .send(),
            )
            .await;
            assert_unavailable_json(&format!("{name}: introspection"), r.unwrap(), took, QUICK).await;
            let (r, took) = timed(
                app.api().post(app.url("/revoke")).basic_auth("portal", Some(SECRET)).form(&[("token", &at)]).send(),
            )
            .await;
            assert_unavailable_json(&format!("{name}: revocation"), r.unwrap(), took, QUICK).await;

            // The browser has a session: no code while its state cannot be read, only
            // the standard error for the client (or a 503 page).
            let (r, took) = timed(app.follow(&browser, &app.authorize_url("portal", &[]))).await;
            assert!(took < QUICK, "{name}: authorize took {took:?}");
            if location(&r).is_some() {
                let p = redirect_params(&r);
                assert_eq!(param(&p, "error").as_deref(), Some("temporarily_unavailable"), "{name}: {p:?}");
                assert_eq!(param(&p, "code"), None);
            } else {
                assert_eq!(r.status(), 503, "{name}: authorize");
                assert!(r.headers().contains_key("retry-after"));
            }

            let (r, took) = timed(readyz(&app)).await;
            assert_eq!(r.status(), 503, "{name}: readyz");
            assert!(r.headers().contains_key("retry-after"));
            assert!(took < QUICK, "{name}: readyz took {took:?}");
            assert!(r.text().await.unwrap().contains("redis"));
            assert_still_public(&app).await;

            proxy.set(PASS);
            let back = wait_ready(&app, Duration::from_secs(10)).await;
            eprintln!("redis {name}: 503s within {QUICK:?}; ready again {back:?} after it returned");
            // Full recovery, same process: what was stored survives, new flows work.
            let r = app.api().get(app.url("/userinfo")).bearer_auth(&at).send().await.unwrap();
            assert_eq!(r.status(), 200, "{name}: the earlier access token after recovery");
            let t = app.tokens(&browser, "portal", "an.nguyen", &[]).await;
            let r = app.api().get(app.url("/userinfo")).bearer_auth(t["access_token"].as_str().unwrap()).send().await;
            assert_eq!(r.unwrap().status(), 200);
            assert_eq!(client_credentials(&app).await.status(), 200);
        }
    })
    .await;
    purge_redis(&redis_url, &prefix).await;
    rethrow(outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stalled_or_down_gives_503_within_the_acquire_timeout_and_recovers() {
    let Some((Some(pg), _)) =
        backends("postgres_stalled_or_down_gives_503_within_the_acquire_timeout_and_recovers", true, false)
    else {
        return;
    };
    let db = FreshDatabase::create(&pg).await;
    let proxy = Proxy::to_url(&db.url).await;
    let through = proxy.url_through(&db.url);
    let outcome = guarded(async move {
        let app = TestApp::spawn_with(Settings { database_url: Some(through), ..Default::default() }).await;
        service_client(&app).await;
        assert_eq!(client_credentials(&app).await.status(), 200);
        assert_eq!(readyz(&app).await.status(), 200);
        // The pool's acquire timeout (3 s) bounds a stalled database.
        let bound = Duration::from_secs(5);
        for (mode, name) in [(STALL, "stalled"), (DOWN, "down")] {
            proxy.set(mode);
            // A client this node read in the last few seconds is served from its cache:
            // service tokens keep flowing through a short database outage.
            assert_eq!(client_credentials(&app).await.status(), 200, "{name}: cached client");
            app.clock.advance(dinhdanh::flows::CLIENT_CACHE_TTL + 1);
            let (r, took) = timed(client_credentials(&app)).await;
            assert_unavailable_json(&format!("{name}: client credentials"), r, took, bound).await;
            let (r, took) = timed(readyz(&app)).await;
            assert_eq!(r.status(), 503, "{name}: readyz");
            assert!(took < bound, "{name}: readyz took {took:?}");
            assert!(r.text().await.unwrap().contains("database"));
            assert_still_public(&app).await;
            eprintln!("postgres {name}: 503 after {took:?}");

            proxy.set(PASS);
            let back = wait_ready(&app, Duration::from_secs(15)).await;
            eprintln!("postgres {name}: ready again {back:?} after it returned");
            assert_eq!(client_credentials(&app).await.status(), 200, "{name}: after recovery");
        }
    })
    .await;
    db.drop_now().await;
    rethrow(outcome);
}

#[tokio::test]
async fn unreachable_backends_stop_start_up_quickly_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let base = Settings {
        listen: Some("127.0.0.1:0".into()),
        database_url: Some(format!("sqlite://{}", dir.path().join("db.sqlite").display())),
        keys_dir: Some(shared_keys()),
        ..Default::default()
    };
    for (overrides, named) in [
        (Settings { redis_url: Some("redis://127.0.0.1:1".into()), ..Default::default() }, "DINHDANH_REDIS_URL"),
        (
            Settings { database_url: Some("postgres://postgres@127.0.0.1:1/none".into()), ..Default::default() },
            "database",
        ),
    ] {
        let clock = std::sync::Arc::new(dinhdanh::clock::FixedClock::new(T0));
        let (started, took) = timed(dinhdanh::app::spawn(overrides.or(base.clone()), clock)).await;
        let e = started.err().unwrap_or_else(|| panic!("started without {named}"));
        assert!(e.to_string().contains(named), "{e}");
        eprintln!("start-up without {named}: refused in {took:?}");
        assert!(took < Duration::from_secs(8), "{named}: {took:?}");
    }
}

/// Reads from `stream` until the peer closes it or `limit` passes.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

const TOKEN_HEAD: &str = "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n\
     Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_turns_readiness_off_finishes_in_flight_requests_and_exits_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .arg("serve")
        .current_dir(dir.path())
        .env("DINHDANH_LISTEN", "127.0.0.1:0")
        .env("DINHDANH_DATABASE_URL", format!("sqlite://{}", dir.path().join("db.sqlite").display()))
        .env("DINHDANH_KEYS_DIR", shared_keys())
        .env("DINHDANH_LOG_FORMAT", "json")
        .env("DINHDANH_SHUTDOWN_DRAIN_MS", "1000")
        .env("DINHDANH_SHUTDOWN_TIMEOUT_MS", "1500")
        .env("RUST_LOG", "info")
        .env_remove("DINHDANH_REDIS_URL")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The address is in the "serving" log line; the rest of the log is drained on a thread.
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
    let base = format!("http://{addr}");
    let api = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    assert_eq!(api.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);

    // Two requests in flight: one will finish its body after the signal, one never will.
    let mut finishing = TcpStream::connect(&addr).await.unwrap();
    finishing.write_all(format!("{TOKEN_HEAD}grant_type=client_").as_bytes()).await.unwrap();
    let mut stuck = TcpStream::connect(&addr).await.unwrap();
    stuck.write_all(format!("{TOKEN_HEAD}grant_type=").as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let since_signal = Stopwatch::start();

    // Readiness goes first, while requests are still served.
    loop {
        let r = api.get(format!("{base}/readyz")).send().await.unwrap();
        if r.status() == 503 {
            assert!(r.headers().contains_key("retry-after"));
            assert_eq!(r.text().await.unwrap(), "shutting down");
            break;
        }
        assert!(since_signal.elapsed() < Duration::from_millis(900), "readiness still on after the signal");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = api.get(format!("{base}/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(r.status(), 200, "still serving while draining");

    // The in-flight request completes after the drain began.
    finishing.write_all(b"credentials").await.unwrap();
    let (response, closed) = read_until_closed(&mut finishing, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 401"), "in-flight request: {response}");
    assert!(response.contains("invalid_client"), "{response}");
    assert!(closed, "the connection stays open during shutdown");

    // The process exits by drain + deadline although one request never finishes.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(since_signal.elapsed() < Duration::from_secs(6), "no exit 6 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = since_signal.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(took >= Duration::from_millis(1000), "exited before the drain period: {took:?}");
    eprintln!("SIGTERM → exit in {took:?} (drain 1 s, deadline 1.5 s, one request stuck)");
    let (_, closed) = read_until_closed(&mut stuck, Duration::from_secs(2)).await;
    assert!(closed, "the stuck connection was left open");
    let log: Vec<String> = rx.iter().collect(); // ends at the closed pipe
    assert!(log.iter().any(|l| l.contains("deadline reached")), "{log:?}");
}

#[tokio::test]
async fn slow_or_oversized_request_heads_are_cut_off() {
    let app = TestApp::spawn_with(Settings { header_timeout_ms: Some(300), ..Default::default() }).await;
    let addr = app.running.addr;

    // Slowloris: a head that never ends, a header line every 100 ms.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    let (mut reader, mut writer) = slow.into_split();
    let dribble = tokio::spawn(async move {
        for i in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let watch = Stopwatch::start();
    let mut seen = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), reader.read_to_end(&mut seen)).await.is_ok();
    let took = watch.elapsed();
    dribble.abort();
    assert!(closed && took < Duration::from_millis(1500), "slow head not cut off ({took:?})");
    assert!(!String::from_utf8_lossy(&seen).contains("200 OK"));
    // Others are served meanwhile and after.
    assert_eq!(app.api().get(app.url("/healthz")).send().await.unwrap().status(), 200);

    // A head over 32 KiB, and too many header fields: 431.
    for head in [
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n", "a".repeat(40 * 1024)),
        format!(
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\r\n",
            (0..80).map(|i| format!("X-H{i}: 1\r\n")).collect::<String>()
        ),
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(head.as_bytes()).await;
        let (response, _) = read_until_closed(&mut s, Duration::from_secs(3)).await;
        assert!(response.starts_with("HTTP/1.1 431"), "{}", response.lines().next().unwrap_or(""));
    }

    // A body over 64 KiB: 413.
    let r = app
        .api()
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&x={}", "a".repeat(100 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_gets_503_with_retry_after_while_tokens_keep_flowing() {
    // One hasher at the OWASP cost and two places in its queue.
    let app = TestApp::spawn_with(Settings {
        hash_concurrency: Some(1),
        hash_queue: Some(2),
        argon2_memory_kib: Some(19 * 1024),
        argon2_iterations: Some(2),
        ..Default::default()
    })
    .await;
    app.confidential("portal").await;
    service_client(&app).await;
    app.user("an.nguyen").await;
    let browser = app.browser();
    let page = app.follow(&browser, &app.authorize_url("portal", &[])).await.text().await.unwrap();
    let (action, csrf) = (form_action(&page), hidden(&page, "csrf"));

    let logins: Vec<_> = (0..30)
        .map(|i| {
            let (browser, url, csrf) = (browser.clone(), app.url(&action), csrf.clone());
            tokio::spawn(async move {
                let r = browser
                    .post(url)
                    .form(&[
                        ("csrf", csrf.as_str()),
                        ("username", format!("nobody-{i}").as_str()),
                        ("password", "not the password"),
                        ("action", "login"),
                    ])
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.headers().contains_key("retry-after"))
            })
        })
        .collect();
    // Client credentials during the flood: none waits for a hasher.
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let (r, took) = timed(client_credentials(&app)).await;
        assert_eq!(r.status(), 200);
        slowest = slowest.max(took);
    }
    let mut refused = 0;
    let mut checked = 0;
    for l in logins {
        match l.await.unwrap() {
            (503, retry_after) => {
                assert!(retry_after, "503 without Retry-After");
                refused += 1;
            }
            (401, _) => checked += 1,
            (status, _) => panic!("login during the flood answered {status}"),
        }
    }
    eprintln!("login flood: {checked} checked, {refused} refused with 503; slowest token {slowest:?}");
    assert!(refused > 0 && checked > 0, "checked {checked}, refused {refused}");
    assert!(slowest < Duration::from_secs(1), "token requests waited {slowest:?} behind the hashes");
    // The flood is over: the person signs in.
    let r = app.login(&browser, &page, "an.nguyen", PASSWORD).await;
    assert!(r.status() == 200 || location(&r).is_some(), "{}", r.status());
    let body = if location(&r).is_none() { r.text().await.unwrap() } else { String::new() };
    assert!(!body.contains("name=\"password\""), "the sign-in after the flood failed");
}
