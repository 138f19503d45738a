//! The upstream broker end to end, against a real upstream OP: a second dinhdanh started
//! as its own process from the built binary (own SQLite file, development keys,
//! `DINHDANH_ALLOW_PRIVATE_FETCH`), playing the national e-ID with a client registered
//! under the `national_portal` claim profile. The browser is the test's HTTP client
//! with one cookie jar; the upstream is reached as `localhost` and the broker as
//! `127.0.0.1`, so their cookies stay apart. ID-token tampering is tested on the
//! validation function with tokens signed here.

use std::process::{Child, Command, Stdio};

use dinhdanh::clock::{Clock, FixedClock, SystemClock};
use dinhdanh::config::Settings;
use dinhdanh::config::upstream::UpstreamSettings;
use dinhdanh::identity::{AssuranceLevel, AssuranceSource, Evidence, PersonalNumber};
use dinhdanh::protocol::upstream::{IdTokenError, IdTokenRules};
use dinhdanh::store::PersonStore;
use serde_json::{Value, json};

use crate::helpers::*;

const UP_CLIENT: &str = "broker-at-upstream";
const UP_SECRET: &str = "upstream-secret-0123456789abcdef0123456789";
const UP_USER: &str = "citizen";
const UP_PASSWORD: &str = "mật-khẩu-công-dân-1";
pub(crate) const UP_PIN: &str = "079199000123";

/// The upstream OP process; killed when dropped.
pub(crate) struct Upstream {
    child: Child,
    issuer: String,
    pub(crate) db_url: String,
    _dir: tempfile::TempDir,
}

impl Upstream {
    /// Runs the upstream's CLI on its database (as its operator would, while it runs).
    fn cli(&self, args: &[&str]) -> String {
        let port: u16 = self.issuer.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap();
        run_cli(self._dir.path(), port, args)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn upstream_command(dir: &std::path::Path, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dinhdanh"));
    c.current_dir(dir)
        .env_clear()
        .env("DINHDANH_LISTEN", format!("127.0.0.1:{port}"))
        .env("DINHDANH_ISSUER", format!("http://localhost:{port}"))
        .env("DINHDANH_DATABASE_URL", format!("sqlite://{}", dir.join("up.sqlite").display()))
        .env("DINHDANH_KEYS_DIR", dir.join("keys"))
        .env("DINHDANH_DEV_KEYS", "true")
        .env("DINHDANH_ALLOW_PRIVATE_FETCH", "true")
        .env("DINHDANH_ARGON2_MEMORY_KIB", "8192")
        .env("DINHDANH_ARGON2_ITERATIONS", "1")
        .env("DINHDANH_LOG_FORMAT", "text")
        .env("RUST_LOG", "warn")
        // The tests change the upstream's citizen in its database behind its back (as
        // another node would); it reads them afresh rather than after its cache time.
        .env("DINHDANH_PERSON_CACHE_TTL", "0")
        .stdin(Stdio::null());
    c
}

fn run_cli(dir: &std::path::Path, port: u16, args: &[&str]) -> String {
    let out = upstream_command(dir, port).args(args).stderr(Stdio::piped()).stdout(Stdio::piped()).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Starts the upstream with a client for the broker at `broker_issuer` and one citizen
/// at level 1.
async fn start_upstream(broker_issuer: &str, port: u16) -> Upstream {
    let dir = tempfile::tempdir().unwrap();
    let metadata = dir.path().join("client.json");
    std::fs::write(
        &metadata,
        json!({
            "client_id": UP_CLIENT, "client_secret": UP_SECRET, "client_name": "Cổng tỉnh (broker)",
            "redirect_uris": [format!("{broker_issuer}/broker/callback")],
            "post_logout_redirect_uris": [format!("{broker_issuer}/broker/logged-out")],
            "backchannel_logout_uri": format!("{broker_issuer}/broker/backchannel-logout"),
            "backchannel_logout_session_required": true,
            "scope": "openid profile email phone vn_pin org", "claim_profile": "national_portal",
        })
        .to_string(),
    )
    .unwrap();
    run_cli(dir.path(), port, &["client", "create", "--metadata", metadata.to_str().unwrap()]);
    run_cli(
        dir.path(),
        port,
        &[
            "user",
            "create",
            "--username",
            UP_USER,
            "--password",
            UP_PASSWORD,
            "--name",
            "Phạm Thị Dung",
            "--email",
            "dung@example.vn",
            "--phone",
            "0912345678",
            "--personal-number",
            UP_PIN,
        ],
    );
    let db_url = format!("sqlite://{}", dir.path().join("up.sqlite").display());
    set_upstream_person(&db_url, AssuranceLevel::Level1, Some("Phạm Thị Dung")).await;
    let child = upstream_command(dir.path(), port).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let issuer = format!("http://localhost:{port}");
    let up = Upstream { child, issuer, db_url, _dir: dir };
    let probe = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = probe.get(format!("{}/healthz", up.issuer)).send().await
            && r.status() == 200
        {
            return up;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the upstream did not start");
}

/// Changes the upstream's citizen directly in its database (as its operator would).
pub(crate) async fn set_upstream_person(db_url: &str, level: AssuranceLevel, name: Option<&str>) {
    let store = dinhdanh::store::sqlite::SqliteStore::connect(db_url).await.unwrap();
    let (mut p, _) = store.find_login(UP_USER).await.unwrap().unwrap();
    p.birthdate = Some("1999-07-30".into());
    p.gender = Some("female".into());
    p.name = name.map(str::to_owned);
    p.assurance.level = level;
    p.assurance.source = AssuranceSource::Officer;
    p.updated_at += 1;
    assert!(store.update_person(&p, None).await.unwrap());
}

fn upstream_settings(issuer: &str) -> UpstreamSettings {
    UpstreamSettings {
        id: Some("vneid".into()),
        display_name: Some("VNeID".into()),
        issuer: Some(issuer.into()),
        client_id: Some(UP_CLIENT.into()),
        client_secret: Some(UP_SECRET.parse().unwrap()),
        scopes: Some(vec!["openid".into(), "vn_pin".into(), "org".into()]),
        ..Default::default()
    }
}

/// The broker (in process, clock at the real time: the upstream is a real process).
async fn broker(upstreams: Vec<UpstreamSettings>, fetch_timeout_ms: Option<u64>) -> TestApp {
    let settings =
        Settings { upstream: Some(upstreams), allow_private_fetch: Some(true), fetch_timeout_ms, ..Default::default() };
    let app = TestApp::spawn_node(settings, FixedClock::new(SystemClock.now())).await;
    app.confidential("rp").await;
    app.confidential("rp2").await;
    app
}

/// The broker's port is only known once it runs, and the upstream registers the broker's
/// callback: so the upstream's port is chosen first, the broker starts knowing it (it
/// reads the upstream's discovery lazily), then the upstream starts.
pub(crate) async fn pair() -> (TestApp, Upstream) {
    let port = free_port();
    let issuer = format!("http://localhost:{port}");
    let app = broker(vec![upstream_settings(&issuer)], None).await;
    let up = start_upstream(&app.issuer, port).await;
    assert_eq!(up.issuer, issuer);
    (app, up)
}

/// Where a browser journey ended.
#[derive(Debug)]
pub(crate) enum End {
    /// A redirect to the downstream client (its query).
    Client(Vec<(String, String)>),
    /// A page that is not a step we drive (status, HTML).
    Page(u16, String),
}

pub(crate) struct Journey {
    pub(crate) end: End,
    /// Every URL the browser requested.
    pub(crate) visited: Vec<String>,
}

fn absolute(base: &str, loc: &str) -> String {
    url::Url::parse(base).unwrap().join(loc).unwrap().to_string()
}

fn form_with_action(page: &str, needle: &str) -> String {
    let marker = "<form method=\"post\" action=\"";
    page.match_indices(marker)
        .map(|(i, _)| {
            let start = i + marker.len();
            let end = page[start..].find('"').unwrap() + start;
            page[start..end].replace("&#x2f;", "/").replace("&#47;", "/")
        })
        .find(|a| a.contains(needle))
        .unwrap_or_else(|| panic!("no form with {needle} in {page}"))
}

/// Drives a browser from `url`: clicks the national e-ID button on the broker's login
/// page, signs in at the upstream (or cancels when `cancel`), approves consents, and
/// stops at the client or at any other page.
pub(crate) async fn drive(app: &TestApp, browser: &reqwest::Client, url: &str, cancel: bool) -> Journey {
    drive_acting(app, browser, url, cancel, None).await
}

/// [`drive`], answering context pickers with the organisation whose label contains
/// `upstream_org` on the upstream, and with "self" everywhere else.
pub(crate) async fn drive_acting(
    app: &TestApp,
    browser: &reqwest::Client,
    url: &str,
    cancel: bool,
    upstream_org: Option<&str>,
) -> Journey {
    let mut visited = Vec::new();
    let mut next = (url.to_owned(), None::<Vec<(String, String)>>);
    for _ in 0..20 {
        let (url, form) = next.clone();
        visited.push(url.clone());
        let r = match &form {
            Some(f) => browser.post(&url).form(f).send().await.unwrap(),
            None => browser.get(&url).send().await.unwrap(),
        };
        if let Some(loc) = location(&r) {
            if loc.starts_with(REDIRECT) {
                let u = url::Url::parse(&loc).unwrap();
                return Journey { end: End::Client(u.query_pairs().into_owned().collect()), visited };
            }
            next = (absolute(&url, &loc), None);
            continue;
        }
        let status = r.status().as_u16();
        let page = r.text().await.unwrap();
        let csrf = || hidden(&page, "csrf");
        let on_broker = url.starts_with(&app.issuer);
        next = if status == 200 && on_broker && page.contains("/upstream/vneid") {
            (absolute(&url, &form_with_action(&page, "/upstream/vneid")), Some(vec![("csrf".into(), csrf())]))
        } else if status == 200 && !on_broker && page.contains("name=\"password\"") {
            let action = if cancel { "cancel" } else { "login" };
            let f = vec![
                ("csrf".into(), csrf()),
                ("username".into(), UP_USER.into()),
                ("password".into(), UP_PASSWORD.into()),
                ("action".into(), action.into()),
            ];
            (absolute(&url, &form_action(&page)), Some(f))
        } else if status == 200 && page.contains("name=\"decision\"") {
            let f = vec![("csrf".into(), csrf()), ("decision".into(), "allow".into())];
            (absolute(&url, &form_action(&page)), Some(f))
        } else if status == 200 && page.contains("name=\"context\"") {
            let choice = match upstream_org.filter(|_| !on_broker) {
                Some(label) => context_value(&page, label),
                None => "self".to_owned(),
            };
            (absolute(&url, &form_action(&page)), Some(vec![("csrf".into(), csrf()), ("context".into(), choice)]))
        } else {
            return Journey { end: End::Page(status, page), visited };
        };
    }
    panic!("too many steps: {visited:?}");
}

/// The `value` of the context button whose label contains `label`.
fn context_value(page: &str, label: &str) -> String {
    page.split("<button")
        .find(|b| b.contains("name=\"context\"") && b.contains(label))
        .and_then(|b| b.split("value=\"").nth(1))
        .and_then(|v| v.split('"').next())
        .unwrap_or_else(|| panic!("no context button for {label}: {page}"))
        .to_owned()
}

pub(crate) fn code_from(j: &Journey) -> String {
    match &j.end {
        End::Client(q) => param(q, "code").unwrap_or_else(|| panic!("no code: {q:?}")),
        End::Page(s, p) => panic!("ended on a page {s}: {p}"),
    }
}

async fn id_token_of(app: &TestApp, client: &str, code: &str) -> (Value, String) {
    let t = app.redeem(client, code, VERIFIER).await;
    assert_eq!(t.status(), 200);
    let t: Value = t.json().await.unwrap();
    (claims(t["id_token"].as_str().unwrap()), t["access_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn broker_happy_path_links_updates_and_gives_sso() {
    let (app, up) = pair().await;
    let browser = app.browser();
    let login = app.follow(&browser, &app.authorize_url("rp", &[("scope", "openid profile")])).await;
    let page = login.text().await.unwrap();
    assert!(page.contains("Đăng nhập bằng tài khoản định danh điện tử"), "{page}");
    assert!(page.contains("name=\"password\""), "the local form stays for officials");

    let j = drive(&app, &browser, &app.authorize_url("rp", &[("scope", "openid profile")]), false).await;
    assert!(j.visited.iter().any(|u| u.starts_with(&up.issuer)), "went through the upstream");
    let callback = j.visited.iter().find(|u| u.contains("/broker/callback")).unwrap().clone();
    let start = j.visited.iter().find(|u| u.starts_with(&format!("{}/authorize", up.issuer))).unwrap();
    let q: Vec<(String, String)> = url::Url::parse(start).unwrap().query_pairs().into_owned().collect();
    assert_eq!(param(&q, "acr_values").as_deref(), Some("LoA1"));
    assert_eq!(param(&q, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&q, "redirect_uri"), Some(format!("{}/broker/callback", app.issuer)));
    let (id_token, _) = id_token_of(&app, "rp", &code_from(&j)).await;
    assert_eq!(id_token["acr"], "urn:vn:eid:loa:1", "level from the upstream");
    assert_eq!(id_token["amr"], json!(["pwd"]), "the upstream's method");

    // The person was created and linked, with the mapped attributes.
    let store = &app.running.state.services.store;
    let people = store.list_people(None, 10).await.unwrap();
    assert_eq!(people.len(), 1);
    let p = &people[0];
    assert_eq!(p.name.as_deref(), Some("Phạm Thị Dung"));
    assert_eq!(p.birthdate.as_deref(), Some("1999-07-30"));
    assert_eq!(p.gender.as_deref(), Some("female"));
    assert_eq!(p.personal_number, Some(PersonalNumber::parse(UP_PIN, 2026).unwrap()));
    assert_eq!(p.username, None, "no local password account");
    assert_eq!((p.assurance.level, p.assurance.source), (AssuranceLevel::Level1, AssuranceSource::Upstream));
    assert!(matches!(&p.assurance.evidence, Some(Evidence::ElectronicRecord { upstream, check_method, .. })
        if *upstream == up.issuer && check_method == "vri"));
    let links = store.links_of(&p.id).await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].issuer, up.issuer);

    // The callback is single use.
    let again = browser.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    let text = again.text().await.unwrap();
    assert!(text.contains("đã được sử dụng"), "{text}");

    // SSO: a second client needs no upstream.
    let j2 = drive(&app, &browser, &app.authorize_url("rp2", &[]), false).await;
    assert!(!j2.visited.iter().any(|u| u.starts_with(&up.issuer)), "{:?}", j2.visited);
    let (id2, _) = id_token_of(&app, "rp2", &code_from(&j2)).await;
    assert_eq!(id2["acr"], "urn:vn:eid:loa:1");

    // A later sign-in updates the person from upstream.
    set_upstream_person(&up.db_url, AssuranceLevel::Level1, Some("Phạm Thị Dung Mới")).await;
    let fresh = app.browser();
    let j3 = drive(&app, &fresh, &app.authorize_url("rp", &[]), false).await;
    code_from(&j3);
    let people = store.list_people(None, 10).await.unwrap();
    assert_eq!(people.len(), 1, "the same person, not a new one");
    assert_eq!(people[0].name.as_deref(), Some("Phạm Thị Dung Mới"));

    // Audited.
    let events = store.audit_events(0, 100).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.event.action.as_str()).collect();
    assert!(actions.contains(&"upstream.person_create"), "{actions:?}");
    assert!(actions.contains(&"upstream.sign_in"), "{actions:?}");
    let all = serde_json::to_string(&events.iter().map(|e| &e.event.detail).collect::<Vec<_>>()).unwrap();
    assert!(!all.contains(UP_PIN), "no personal numbers in the audit log");
}

/// Whether the upstream still holds a session in `browser`: a `prompt=none` request of the
/// broker's client there answers with a code (yes) or `login_required` (no).
async fn upstream_session_alive(app: &TestApp, up: &Upstream, browser: &reqwest::Client) -> bool {
    let mut u = url::Url::parse(&format!("{}/authorize", up.issuer)).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", UP_CLIENT)
        .append_pair("redirect_uri", &format!("{}/broker/callback", app.issuer))
        .append_pair("scope", "openid")
        .append_pair("state", "probe")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "none");
    let r = browser.get(u.as_str()).send().await.unwrap();
    let loc = location(&r).unwrap_or_else(|| panic!("no redirect from the upstream: {}", r.status()));
    let q: Vec<(String, String)> = url::Url::parse(&loc).unwrap().query_pairs().into_owned().collect();
    match param(&q, "error").as_deref() {
        None => param(&q, "code").is_some(),
        Some("login_required") => false,
        Some(e) => panic!("unexpected upstream error {e}"),
    }
}

#[tokio::test]
async fn broker_sign_out_here_signs_out_at_the_upstream_too() {
    let (app, up) = pair().await;
    let after = "https://rp.example.vn/after";
    app.client(json!({
        "client_id": "rp-out", "client_secret": SECRET, "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": [after],
    }))
    .await;
    let browser = app.browser();
    let j = drive(&app, &browser, &app.authorize_url("rp-out", &[]), false).await;
    let t = app.redeem("rp-out", &code_from(&j), VERIFIER).await;
    let t: Value = t.json().await.unwrap();
    let hint = t["id_token"].as_str().unwrap().to_owned();
    assert!(upstream_session_alive(&app, &up, &browser).await, "signed in upstream");

    // Sign out here: the browser is sent on to the upstream's end-session endpoint with
    // the upstream's own ID token as the hint, and back to us afterwards.
    let mut out = url::Url::parse(&app.url("/end_session")).unwrap();
    out.query_pairs_mut()
        .append_pair("id_token_hint", &hint)
        .append_pair("post_logout_redirect_uri", after)
        .append_pair("state", "bye");
    let r = browser.get(out.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let to_upstream = location(&r).unwrap();
    assert!(to_upstream.starts_with(&format!("{}/end_session?", up.issuer)), "{to_upstream}");
    let q: Vec<(String, String)> = url::Url::parse(&to_upstream).unwrap().query_pairs().into_owned().collect();
    assert_eq!(param(&q, "post_logout_redirect_uri"), Some(format!("{}/broker/logged-out", app.issuer)));
    assert_eq!(param(&q, "client_id").as_deref(), Some(UP_CLIENT));
    let up_hint = claims(&param(&q, "id_token_hint").unwrap());
    assert_eq!(up_hint["iss"], up.issuer.as_str(), "the hint is the upstream's ID token, not ours");
    // Our session has already ended, before the browser leaves.
    let r = app.follow(&browser, &app.authorize_url("rp-out", &[("prompt", "none")])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("login_required"));

    let r = browser.get(&to_upstream).send().await.unwrap();
    assert_eq!(r.status(), 303, "the upstream accepts its hint without asking");
    let back = location(&r).unwrap();
    assert!(back.starts_with(&format!("{}/broker/logged-out?", app.issuer)), "{back}");
    let r = browser.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r).as_deref(), Some("https://rp.example.vn/after?state=bye"), "on to the client");
    assert!(!upstream_session_alive(&app, &up, &browser).await, "signed out upstream too");

    // The way back is single use, and an unknown one is only a "signed out" page.
    for url in [back.clone(), app.url("/broker/logged-out?state=forged")] {
        let r = browser.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert!(location(&r).is_none());
    }

    // A session signed in with a password here is not sent upstream.
    app.user("an.nguyen").await;
    let local = app.browser();
    let t = app.tokens(&local, "rp-out", "an.nguyen", &[]).await;
    let mut out = url::Url::parse(&app.url("/end_session")).unwrap();
    out.query_pairs_mut()
        .append_pair("id_token_hint", t["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", after);
    let r = local.get(out.as_str()).send().await.unwrap();
    assert_eq!(location(&r).as_deref(), Some(after));
}

#[tokio::test]
async fn broker_level_two_needs_the_upstream_to_vouch_for_it() {
    let (app, up) = pair().await;
    let browser = app.browser();
    let essential = r#"{"id_token":{"acr":{"essential":true,"values":["urn:vn:eid:loa:2"]}}}"#;
    let url = app.authorize_url("rp", &[("claims", essential)]);
    let j = drive(&app, &browser, &url, false).await;
    let start = j.visited.iter().find(|u| u.starts_with(&format!("{}/authorize", up.issuer))).unwrap();
    assert!(start.contains("acr_values=LoA2"), "{start}");
    match &j.end {
        End::Client(q) => assert_eq!(param(q, "error").as_deref(), Some("unmet_authentication_requirements")),
        other => panic!("{other:?}"),
    }
    // The upstream raises the person to level 2; a new authentication yields level 2.
    set_upstream_person(&up.db_url, AssuranceLevel::Level2, Some("Phạm Thị Dung")).await;
    let j = drive(&app, &browser, &url, false).await;
    let (id_token, _) = id_token_of(&app, "rp", &code_from(&j)).await;
    assert_eq!(id_token["acr"], "urn:vn:eid:loa:2");
    let p = app.running.state.services.store.list_people(None, 10).await.unwrap().remove(0);
    assert_eq!(p.assurance.level, AssuranceLevel::Level2);
    assert!(
        matches!(&p.assurance.evidence, Some(Evidence::ElectronicRecord { check_method, .. }) if check_method == "bvr")
    );
}

#[tokio::test]
async fn broker_sign_out_at_the_upstream_ends_the_session_here() {
    let (app, up) = pair().await;
    let browser = app.browser();
    code_from(&drive(&app, &browser, &app.authorize_url("rp", &[]), false).await);
    let silent = || app.authorize_url("rp", &[("prompt", "none")]);
    let r = app.follow(&browser, &silent()).await;
    assert!(code_of(&r).code.len() > 20, "single sign-on here");

    // The person signs out at the upstream, on its own confirmation page.
    let page = browser.get(format!("{}/end_session", up.issuer)).send().await.unwrap().text().await.unwrap();
    let form = [("id", hidden(&page, "id")), ("csrf", hidden(&page, "csrf")), ("logout", "yes".to_owned())];
    let r = browser.post(format!("{}/end_session/confirm", up.issuer)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // Its logout token (delivered in the background) ends the session here too.
    let mut ended = false;
    for _ in 0..100 {
        let r = app.follow(&browser, &silent()).await;
        if param(&redirect_params(&r), "error").as_deref() == Some("login_required") {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ended, "the session here outlived the upstream's");
    let events = app.running.state.services.store.audit_events(0, 200).await.unwrap();
    assert!(
        events.iter().any(|e| e.event.action == "upstream.logout" && e.event.detail["reason"] == "1 session(s) ended"),
        "audited"
    );

    // Tokens that are not the upstream's are refused, and end nothing.
    let (keys, _) = signing_keys();
    let now = SystemClock.now();
    let forged = sign(
        &keys,
        dinhdanh::protocol::client::SigningAlg::ES256,
        &json!({
            "iss": up.issuer, "aud": UP_CLIENT, "iat": now, "jti": "forged-1", "sid": "whatever",
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        }),
    );
    let post = |body: Vec<(&'static str, String)>| {
        let url = app.url("/broker/backchannel-logout");
        async move { reqwest::Client::new().post(url).form(&body).send().await.unwrap() }
    };
    for (body, why) in [
        (vec![("logout_token", forged)], "signed with a key the upstream does not publish"),
        (vec![("logout_token", "not-a-jwt".to_owned())], "not a JWT"),
        (vec![], "no token"),
    ] {
        let r = post(body).await;
        assert_eq!(r.status(), 400, "{why}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"], "invalid_request", "{why}");
    }

    // A genuine token (signed with the upstream's own key) counts once: its replay is
    // refused. One naming only a subject with no session here ends nothing, and says so.
    use dinhdanh::protocol::client::SigningAlg::{ES256, EdDSA, RS256};
    let up_keys = upstream_keys(&up).await;
    let genuine = |jti: &str, extra: Value| {
        let mut c = json!({
            "iss": up.issuer, "aud": UP_CLIENT, "iat": SystemClock.now(), "jti": jti,
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        });
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        [RS256, ES256, EdDSA]
            .into_iter()
            .find_map(|alg| dinhdanh::crypto::jwt::sign(&up_keys, alg, "logout+jwt", &c).ok())
            .unwrap()
    };
    let token = genuine("genuine-1", json!({"sub": "nobody-here"}));
    assert_eq!(post(vec![("logout_token", token.clone())]).await.status(), 200);
    assert_eq!(post(vec![("logout_token", token)]).await.status(), 400, "a replayed jti");
    let with_nonce = genuine("genuine-2", json!({"sid": "s", "nonce": "n"}));
    assert_eq!(post(vec![("logout_token", with_nonce)]).await.status(), 400, "an ID token is no logout token");
}

/// The upstream's own signing keys, read from its database and keys folder as its
/// operator could.
async fn upstream_keys(up: &Upstream) -> dinhdanh::crypto::keys::KeySet {
    let settings = Settings {
        issuer: Some(up.issuer.clone()),
        database_url: Some(up.db_url.clone()),
        keys_dir: Some(up._dir.path().join("keys")),
        dev_keys: Some(true),
        ..Default::default()
    };
    let config = dinhdanh::config::Config::from_settings(settings).unwrap();
    let store = dinhdanh::store::sqlite::SqliteStore::connect(&up.db_url).await.unwrap();
    dinhdanh::app::load_keys(&config, &store, SystemClock.now()).await.unwrap()
}

#[tokio::test]
async fn broker_upstream_access_denied_ends_the_request() {
    let (app, _up) = pair().await;
    let j = drive(&app, &app.browser(), &app.authorize_url("rp", &[]), true).await;
    match &j.end {
        End::Client(q) => {
            assert_eq!(param(q, "error").as_deref(), Some("access_denied"));
            assert_eq!(param(q, "state").as_deref(), Some("st-1"));
        }
        other => panic!("{other:?}"),
    }
    assert!(app.running.state.services.store.list_people(None, 10).await.unwrap().is_empty());
}

/// A listener that accepts connections and never answers.
async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (format!("http://{addr}"), task)
}

/// Clicks the upstream button `id` on a fresh login page; returns the browser, the
/// response and the login page's interaction form action.
async fn click_upstream(app: &TestApp, upstream: &str) -> (reqwest::Client, reqwest::Response) {
    let browser = app.browser();
    let page = app.follow(&browser, &app.authorize_url("rp", &[])).await.text().await.unwrap();
    let action = form_with_action(&page, "/login").replace("/login", &format!("/upstream/{upstream}"));
    let csrf = hidden(&page, "csrf");
    let r = browser.post(app.url(&action)).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    (browser, r)
}

#[tokio::test]
async fn broker_token_endpoint_timeout_is_a_clear_page_and_writes_nothing() {
    let (hole, _task) = black_hole().await;
    let slow = UpstreamSettings {
        id: Some("slow".into()),
        display_name: Some("Chậm".into()),
        issuer: Some("http://127.0.0.1:9".into()),
        authorization_endpoint: Some("http://127.0.0.1:9/authorize".into()),
        token_endpoint: Some(format!("{hole}/token")),
        jwks_uri: Some(format!("{hole}/jwks")),
        userinfo_endpoint: Some(format!("{hole}/userinfo")),
        client_id: Some("c".into()),
        client_secret: Some("s".parse().unwrap()),
        ..Default::default()
    };
    let app = broker(vec![slow], Some(800)).await;
    let (browser, r) = click_upstream(&app, "slow").await;
    let loc = location(&r).unwrap();
    assert!(loc.starts_with("http://127.0.0.1:9/authorize?"), "{loc}");
    let state = url::Url::parse(&loc).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let cb = browser.get(app.url(&format!("/broker/callback?state={state}&code=abc"))).send().await.unwrap();
    assert_eq!(cb.status(), 504);
    let text = cb.text().await.unwrap();
    assert!(text.contains("không phản hồi kịp"), "{text}");
    assert!(app.running.state.services.store.list_people(None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn broker_refuses_unknown_providers_and_unknown_states() {
    let app = broker(vec![upstream_settings("http://localhost:9")], None).await;
    let (_, r) = click_upstream(&app, "no-such-idp").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("không được cấu hình"));
    let (browser, _) = click_upstream(&app, "vneid").await;
    let r = browser.get(app.url("/broker/callback?state=forged&code=x")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = browser.get(app.url("/broker/callback?code=x")).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

// ------------------------------------------------------------- ID token validation

fn signing_keys() -> (dinhdanh::crypto::keys::KeySet, Value) {
    let keys = dinhdanh::crypto::keys::KeySet::load_or_generate(&shared_keys(), true).unwrap();
    let jwks: Value = serde_json::from_slice(keys.current().jwks_bytes()).unwrap();
    (keys, jwks)
}

const ISS: &str = "https://sso.dancuquocgia.gov.vn/auth/realms/citizen";

fn good_claims(now: i64) -> Value {
    json!({"iss": ISS, "sub": "u-1", "aud": "dinhdanh-broker", "azp": "dinhdanh-broker",
           "iat": now, "exp": now + 300, "nonce": "n-0123456789"})
}

fn sign(keys: &dinhdanh::crypto::keys::KeySet, alg: dinhdanh::protocol::client::SigningAlg, c: &Value) -> String {
    dinhdanh::crypto::jwt::sign(keys, alg, "JWT", c).unwrap()
}

#[test]
fn broker_id_token_validation_refuses_tampering() {
    use dinhdanh::flows::broker::validate_id_token;
    use dinhdanh::protocol::client::SigningAlg::{ES256, EdDSA, RS256};
    let (keys, jwks) = signing_keys();
    let now = T0;
    let algs: Vec<String> = ["RS256", "ES256", "PS256"].iter().map(|s| (*s).to_owned()).collect();
    let rules = IdTokenRules { issuer: ISS, client_id: "dinhdanh-broker", nonce: "n-0123456789", now };
    let check = |token: &str| validate_id_token(token, &jwks, &algs, &rules);

    let good = sign(&keys, ES256, &good_claims(now));
    assert_eq!(check(&good).unwrap()["sub"], "u-1");
    assert!(check(&sign(&keys, RS256, &good_claims(now))).is_ok());

    // Bad signature: flip a byte of the signature.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let sig = parts[2].clone();
    let (first, rest) = sig.split_at(1);
    let flipped = format!("{}{rest}", if first == "A" { "B" } else { "A" });
    parts[2] = flipped;
    assert!(matches!(check(&parts.join(".")), Err(IdTokenError::Signature(_))));
    // Claims changed after signing.
    let mut forged = good_claims(now);
    forged["sub"] = "someone-else".into();
    let body = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, forged.to_string());
    let spliced = format!("{}.{body}.{}", good.split('.').next().unwrap(), good.split('.').nth(2).unwrap());
    assert!(matches!(check(&spliced), Err(IdTokenError::Signature(_))));
    // An algorithm the operator did not allow.
    assert!(matches!(check(&sign(&keys, EdDSA, &good_claims(now))), Err(IdTokenError::Signature(_))));
    // alg=none.
    let none = format!(
        "{}.{}.",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, r#"{"alg":"none"}"#),
        good.split('.').nth(1).unwrap()
    );
    assert!(check(&none).is_err());
    // A key the upstream does not publish.
    assert!(matches!(validate_id_token(&good, &json!({"keys": []}), &algs, &rules), Err(IdTokenError::Signature(_))));

    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Change, IdTokenError)> = vec![
        ("wrong aud", Box::new(|c| c["aud"] = "another-rp".into()), IdTokenError::Audience),
        ("aud list without us", Box::new(|c| c["aud"] = json!(["a", "b"])), IdTokenError::Audience),
        ("azp of another party", Box::new(|c| c["azp"] = "another-rp".into()), IdTokenError::Audience),
        ("wrong iss", Box::new(|c| c["iss"] = "https://evil.example".into()), IdTokenError::Issuer),
        ("iss with a slash", Box::new(|c| c["iss"] = format!("{ISS}/").into()), IdTokenError::Issuer),
        ("wrong nonce", Box::new(|c| c["nonce"] = "n-other".into()), IdTokenError::Nonce),
        ("no nonce", Box::new(|c| drop(c.as_object_mut().unwrap().remove("nonce"))), IdTokenError::Nonce),
        ("expired", Box::new(move |c| c["exp"] = (now - 120).into()), IdTokenError::Time),
        ("issued in the future", Box::new(move |c| c["iat"] = (now + 600).into()), IdTokenError::Time),
        ("not yet valid", Box::new(move |c| c["nbf"] = (now + 600).into()), IdTokenError::Time),
        ("no exp", Box::new(|c| drop(c.as_object_mut().unwrap().remove("exp"))), IdTokenError::Time),
        ("no sub", Box::new(|c| drop(c.as_object_mut().unwrap().remove("sub"))), IdTokenError::Subject),
    ];
    for (name, change, expected) in cases {
        let mut c = good_claims(now);
        change(&mut c);
        assert_eq!(check(&sign(&keys, ES256, &c)).unwrap_err(), expected, "{name}");
    }
    // Within the leeway is fine.
    let mut skew = good_claims(now);
    skew["iat"] = (now + 30).into();
    skew["exp"] = (now - 30).into();
    assert!(check(&sign(&keys, ES256, &skew)).is_ok());
    let mut multi = good_claims(now);
    multi["aud"] = json!(["dinhdanh-broker", "other"]);
    assert!(check(&sign(&keys, ES256, &multi)).is_ok(), "azp names us");
}

#[tokio::test]
async fn broker_national_portal_profile_for_downstream_clients() {
    let app = TestApp::spawn().await;
    app.client(json!({
        "client_id": "legacy", "client_secret": SECRET, "redirect_uris": [REDIRECT],
        "scope": "openid profile vn_pin", "claim_profile": "national_portal",
    }))
    .await;
    app.user("an.nguyen").await;
    let t = app.tokens(&app.browser(), "legacy", "an.nguyen", &[("scope", "openid vn_pin")]).await;
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["HoVaTen"], "Nguyễn Văn An");
    assert_eq!(id["TechID"], id["sub"]);
    assert!(id.get("SoDinhDanh").is_none(), "never in the ID token");
    let info = userinfo_of(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["SoDinhDanh"], "001099012345");
    assert_eq!(info["LoaiTaiKhoan"], "1");
    // Without vn_pin granted, no personal number.
    let t = app.tokens(&app.browser(), "legacy", "an.nguyen", &[("scope", "openid profile")]).await;
    let info = userinfo_of(&app, t["access_token"].as_str().unwrap()).await;
    assert!(info.get("SoDinhDanh").is_none(), "{info}");
    assert_eq!(info["HoVaTen"], "Nguyễn Văn An");
    // A bad profile name is refused at registration.
    let md: dinhdanh::protocol::client::ClientMetadata =
        serde_json::from_value(json!({"redirect_uris": [REDIRECT], "claim_profile": "dvcqg"})).unwrap();
    assert!(md.validate("x".into(), 0).is_err());
}

#[tokio::test]
async fn broker_refuses_a_personal_number_held_by_another_person() {
    let (app, _up) = pair().await;
    let svc = &app.running.state.services;
    let local = dinhdanh::flows::admin::create_person(
        svc.store.as_ref(),
        &svc.hasher,
        dinhdanh::flows::admin::NewPerson {
            username: "can.bo".into(),
            password: PASSWORD.into(),
            name: Some("Cán bộ".into()),
            email: None,
            email_verified: false,
            phone: None,
            personal_number: Some(UP_PIN.into()),
            address: None,
        },
        T0,
    )
    .await
    .unwrap();
    let j = drive(&app, &app.browser(), &app.authorize_url("rp", &[]), false).await;
    match &j.end {
        End::Page(409, page) => assert!(page.contains("đã gắn với một tài khoản khác"), "{page}"),
        other => panic!("{other:?}"),
    }
    let people = svc.store.list_people(None, 10).await.unwrap();
    assert_eq!(people.len(), 1, "nothing created, nothing merged");
    assert_eq!(people[0].id, local.id);
    assert_eq!(people[0].name.as_deref(), Some("Cán bộ"), "the local account is untouched");
    let events = svc.store.audit_events(0, 100).await.unwrap();
    assert!(
        events.iter().any(|e| e.event.action == "upstream.link" && e.event.outcome == "failure"),
        "the refusal is audited"
    );
}

#[tokio::test]
async fn broker_organisation_account_links_the_business_and_acts_for_it() {
    let (app, up) = pair().await;
    // Upstream, the citizen represents a business (the national portal's type-2 account).
    up.cli(&["org", "create", "--tax-code", "0100109106", "--name", "Công ty TNHH Sao Mai"]);
    up.cli(&["org", "represent", "--org", "0100109106", "--username", UP_USER, "--role", "legal_representative"]);
    app.client(json!({
        "client_id": "biz", "client_secret": SECRET, "redirect_uris": [REDIRECT],
        "client_name": "Dịch vụ công doanh nghiệp", "scope": "openid profile org",
    }))
    .await;
    let browser = app.browser();
    let url = app.authorize_url("biz", &[("scope", "openid org")]);
    let j = drive_acting(&app, &browser, &url, false, Some("Sao Mai")).await;
    let code = code_from(&j);
    let (id, access) = id_token_of(&app, "biz", &code).await;
    assert_eq!(id["acr"], "urn:vn:eid:loa:1");
    assert_eq!(id["vn_account_type"], "enterprise", "{id}");
    assert_eq!(id["vn_org"]["tax_code"], "0100109106");
    assert_eq!(id["vn_org"]["name"], "Công ty TNHH Sao Mai");
    assert_eq!(id["vn_org"]["source"], "vneid");
    assert_eq!(id["vn_org"]["role"], "authorised_person", "the upstream does not say in which capacity");
    assert_eq!(claims(&access)["vn_org"]["tax_code"], "0100109106");
    // The business and the representation are now ours, linked once.
    let store = app.running.state.services.store.as_ref();
    let tax = dinhdanh::identity::TaxCode::parse("0100109106", 2026).unwrap();
    let org = store.find_org_by_tax_code(&tax).await.unwrap().expect("organisation recorded");
    let reps = store.representations_of_org(&org.id).await.unwrap();
    assert_eq!(reps.len(), 1);
    let events = store.audit_events(0, 1000).await.unwrap();
    assert!(events.iter().any(|e| e.event.action == "upstream.organisation_link" && e.event.outcome == "success"));
    // Signing in again for the business does not duplicate it.
    let browser = app.browser();
    let j = drive_acting(&app, &browser, &url, false, Some("Sao Mai")).await;
    code_from(&j);
    assert_eq!(store.representations_of_org(&org.id).await.unwrap().len(), 1);
}
