//! `TestApp::spawn()`: a fresh server (own SQLite file, memory ephemeral store, fixed
//! clock, shared pre-generated keys) and a browser-like HTTP client.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dinhdanh::app::{Running, spawn};
use dinhdanh::clock::FixedClock;
use dinhdanh::config::Settings;
use dinhdanh::flows::admin::{self, NewPerson};
use dinhdanh::protocol::client::ClientMetadata;
use reqwest::redirect::Policy;
use serde_json::Value;

/// RFC 7636 Appendix B pair.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const REDIRECT: &str = "https://rp.example.vn/cb";
pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
pub const PASSWORD: &str = "mật-khẩu-thử-nghiệm";
/// 2026-11-22T00:00:00Z
pub const T0: i64 = 1_795_305_600;

pub fn shared_keys() -> PathBuf {
    static KEYS: OnceLock<PathBuf> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        dinhdanh::crypto::keys::KeySet::load_or_generate(&dir, true).unwrap();
        dir
    })
    .clone()
}

pub struct TestApp {
    pub running: Running,
    pub clock: FixedClock,
    pub issuer: String,
    /// Where this server listens (the issuer, unless the issuer was set to another node's).
    pub base: String,
    _dir: tempfile::TempDir,
}

pub struct Code {
    pub code: String,
    pub state: Option<String>,
    pub iss: Option<String>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Settings::default()).await
    }

    pub async fn spawn_with(overrides: Settings) -> TestApp {
        Self::spawn_node(overrides, FixedClock::new(T0)).await
    }

    /// A server on `clock` (several nodes of one deployment share one clock).
    pub async fn spawn_node(overrides: Settings, clock: FixedClock) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            listen: Some("127.0.0.1:0".into()),
            database_url: Some(format!("sqlite://{}", dir.path().join("db.sqlite").display())),
            keys_dir: Some(shared_keys()),
            dev_keys: Some(true),
            argon2_memory_kib: Some(8 * 1024),
            argon2_iterations: Some(1),
            ..Default::default()
        };
        let running = spawn(overrides.or(settings), Arc::new(clock.clone())).await.unwrap();
        let issuer = running.issuer.clone();
        let base = format!("http://{}", running.addr);
        TestApp { running, clock, issuer, base, _dir: dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers a client from metadata (client_id and secret may be fixed in it).
    pub async fn client(&self, metadata: Value) -> Value {
        let md: ClientMetadata = serde_json::from_value(metadata).unwrap();
        let svc = &self.running.state.services;
        admin::register_client(svc.store.as_ref(), &md, T0).await.unwrap().response()
    }

    /// A confidential client `id` with the standard redirect URI and secret.
    pub async fn confidential(&self, id: &str) -> Value {
        self.client(serde_json::json!({
            "client_id": id, "client_secret": SECRET, "redirect_uris": [REDIRECT],
            "client_name": format!("Client {id}"), "scope": "openid profile email phone vn_pin",
        }))
        .await
    }

    pub async fn user(&self, username: &str) -> String {
        let svc = &self.running.state.services;
        let p = admin::create_person(
            svc.store.as_ref(),
            &svc.hasher,
            NewPerson {
                username: username.into(),
                password: PASSWORD.into(),
                name: Some("Nguyễn Văn An".into()),
                email: Some(format!("{username}@example.vn")),
                email_verified: true,
                phone: Some("+84901234567".into()),
                // Personal numbers are unique: only the first test person has one.
                personal_number: (username == "an.nguyen").then(|| "001099012345".into()),
                address: None,
            },
            T0,
        )
        .await
        .unwrap();
        p.id.0
    }

    /// A browser: its own cookie jar, redirects not followed.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap()
    }

    pub fn api(&self) -> reqwest::Client {
        reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
    }

    pub fn authorize_url(&self, client_id: &str, extra: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid profile email"),
            ("state", "st-1"),
            ("nonce", "n-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in extra {
            pairs.retain(|(n, _)| n != k);
            if !v.is_empty() {
                pairs.push((k, v));
            }
        }
        let q = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        self.url(&format!("/authorize?{q}"))
    }

    /// GETs `url` and follows redirects on the OP itself, stopping at the first response
    /// that is not a redirect to the OP (a page, or a redirect to the client).
    pub async fn follow(&self, browser: &reqwest::Client, url: &str) -> reqwest::Response {
        let mut url = url.to_owned();
        loop {
            let r = browser.get(&url).send().await.unwrap();
            match location(&r) {
                Some(loc) if loc.starts_with('/') => url = self.url(&loc),
                Some(loc) if loc.starts_with(&self.issuer) => url = loc,
                _ => return r,
            }
        }
    }

    /// Posts a form on the OP and follows OP-internal redirects.
    pub async fn post_form(&self, browser: &reqwest::Client, action: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let r = browser.post(self.url(action)).form(form).send().await.unwrap();
        match location(&r) {
            Some(loc) if loc.starts_with('/') => self.follow(browser, &self.url(&loc)).await,
            _ => r,
        }
    }

    /// Signs in on a login page (`page` is its HTML) and returns the next response.
    pub async fn login(
        &self,
        browser: &reqwest::Client,
        page: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let action = form_action(page);
        let csrf = hidden(page, "csrf");
        self.post_form(
            browser,
            &action,
            &[("csrf", &csrf), ("username", username), ("password", password), ("action", "login")],
        )
        .await
    }

    /// Approves a consent page.
    pub async fn approve(&self, browser: &reqwest::Client, page: &str) -> reqwest::Response {
        let action = form_action(page);
        let csrf = hidden(page, "csrf");
        self.post_form(browser, &action, &[("csrf", &csrf), ("decision", "allow")]).await
    }

    /// Runs the whole browser part: authorize, log in if asked, consent if asked; returns
    /// the final redirect to the client.
    pub async fn sign_in(
        &self,
        browser: &reqwest::Client,
        client_id: &str,
        username: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut r = self.follow(browser, &self.authorize_url(client_id, extra)).await;
        for _ in 0..3 {
            if location(&r).is_some() {
                return r;
            }
            let page = r.text().await.unwrap();
            r = if page.contains("name=\"password\"") {
                self.login(browser, &page, username, PASSWORD).await
            } else if page.contains("name=\"decision\"") {
                self.approve(browser, &page).await
            } else {
                panic!("unexpected page: {page}");
            };
        }
        r
    }

    pub async fn redeem(&self, client_id: &str, code: &str, verifier: &str) -> reqwest::Response {
        self.api()
            .post(self.url("/token"))
            .basic_auth(client_id, Some(SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Signs in and redeems: the token response JSON.
    pub async fn tokens(
        &self,
        browser: &reqwest::Client,
        client_id: &str,
        username: &str,
        extra: &[(&str, &str)],
    ) -> Value {
        let r = self.sign_in(browser, client_id, username, extra).await;
        let code = code_of(&r);
        let t = self.redeem(client_id, &code.code, VERIFIER).await;
        assert_eq!(t.status(), 200);
        t.json().await.unwrap()
    }
}

pub fn location(r: &reqwest::Response) -> Option<String> {
    if !r.status().is_redirection() {
        return None;
    }
    r.headers().get("location").map(|v| v.to_str().unwrap().to_owned())
}

/// Query parameters of a redirect to the client.
pub fn redirect_params(r: &reqwest::Response) -> Vec<(String, String)> {
    let loc = location(r).unwrap_or_else(|| panic!("expected a redirect, got {}", r.status()));
    assert!(loc.starts_with(REDIRECT), "redirected to {loc}");
    let url = url::Url::parse(&loc).unwrap();
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

pub fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

pub fn code_of(r: &reqwest::Response) -> Code {
    let p = redirect_params(r);
    Code {
        code: param(&p, "code").unwrap_or_else(|| panic!("no code in {p:?}")),
        state: param(&p, "state"),
        iss: param(&p, "iss"),
    }
}

pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in {page}")) + marker.len();
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].to_owned()
}

pub fn form_action(page: &str) -> String {
    // The last form on the page is the main one (login: after "continue as").
    let start = page.rfind("<form method=\"post\" action=\"").unwrap() + "<form method=\"post\" action=\"".len();
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].replace("&#x2f;", "/").replace("&#47;", "/")
}

/// Decodes a JWT's claims without verifying (tests verify separately).
pub fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The admin API's base path.
pub const ADMIN_API: &str = "/admin/api/v1";

/// Calls the admin API at `path` (below [`ADMIN_API`]) with `token` as the bearer and
/// `body` as JSON.
pub async fn admin_call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.api().request(method.parse().unwrap(), app.url(&format!("{ADMIN_API}{path}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

/// Checks the status of `r` and returns its JSON body (`Null` when empty).
pub async fn json_of(r: reqwest::Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
}

/// Bootstraps the admin client (as `dinhdanh admin bootstrap` would) and returns its
/// token: `admin:clients admin:people admin:orgs`.
pub async fn admin_token(app: &TestApp) -> String {
    use dinhdanh::flows::admin;
    let store = app.running.state.services.store.as_ref();
    let admin::Bootstrap::Created(r) = admin::bootstrap_admin(store, admin::BOOTSTRAP_CLIENT_ID, T0).await.unwrap()
    else {
        panic!("the admin client existed already");
    };
    let t = client_credentials(app, admin::BOOTSTRAP_CLIENT_ID, &r.client_secret.unwrap()).await;
    assert_eq!(t["scope"], "admin:clients admin:people admin:orgs");
    t["access_token"].as_str().unwrap().to_owned()
}

/// A client-credentials token response (`client_secret_basic`), as JSON.
pub async fn client_credentials(app: &TestApp, client_id: &str, secret: &str) -> Value {
    let r = app
        .api()
        .post(app.url("/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    r.json().await.unwrap()
}

/// The userinfo response for `access_token`, as JSON.
pub async fn userinfo_of(app: &TestApp, access_token: &str) -> Value {
    app.api().get(app.url("/userinfo")).bearer_auth(access_token).send().await.unwrap().json().await.unwrap()
}
