//! A person's path in a real headless Chromium: login page, consent page, redirect with
//! a code; then single sign-on for a second client in the same browser. The browser is
//! driven by `tests/browser/login.mjs` (Node + playwright-core); both codes are redeemed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{REDIRECT, TestApp, VERIFIER, claims};

/// The browser run bounds itself at 30 s; this is the backstop.
const HARD_LIMIT: Duration = Duration::from_secs(90);

fn tool(var: &str, default: PathBuf) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
    assert!(
        path.exists(),
        "{var}: {} does not exist. Run `bash .ci/test` (it installs Chromium and playwright-core), \
         or set {var}.",
        path.display()
    );
    path
}

/// Runs the browser script to completion: (exit ok, stdout, stderr). tokio's `process`
/// feature is off, so the child is polled, never waited on in a blocking way.
async fn run_script(args: Vec<String>, chromium: PathBuf, playwright: PathBuf, dir: &Path) -> (bool, String, String) {
    let (out_path, err_path) = (dir.join("stdout.json"), dir.join("stderr.txt"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/login.mjs");
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .env("DINHDANH_CHROMIUM", chromium)
        .env("DINHDANH_PLAYWRIGHT", playwright)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}); run `bash .ci/test` to set up the browser test"));
    let finished = tokio::time::timeout(HARD_LIMIT, async {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let Ok(status) = finished else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the browser script ran longer than {HARD_LIMIT:?}");
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.success(), read(&out_path), read(&err_path))
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no {pointer} in {v}"))
}

fn screenshot(report: &Value, name: &str, dir: &Path) -> u64 {
    let path = PathBuf::from(text(report, &format!("/screenshots/{name}/path")));
    assert!(path.starts_with(dir), "{name} screenshot outside the temp dir: {}", path.display());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name} screenshot {}: {e}", path.display()));
    assert!(!bytes.is_empty(), "{name} screenshot is empty");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} screenshot is not a PNG");
    bytes.len() as u64
}

#[tokio::test]
async fn a_person_signs_in_with_a_real_browser() {
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let chromium = tool("DINHDANH_CHROMIUM", PathBuf::from("/usr/bin/chromium"));
    let playwright = tool("DINHDANH_PLAYWRIGHT", home.join(".cache/dinhdanh-browser/node_modules/playwright-core"));

    let app = TestApp::spawn().await;
    app.confidential("browser-rp").await;
    app.confidential("browser-sso").await;
    app.user("an.nguyen").await;
    let shots = tempfile::tempdir().unwrap().keep();

    let args = vec![
        "--authorize".into(),
        app.authorize_url("browser-rp", &[("state", "browser-state-1"), ("nonce", "browser-nonce-1")]),
        "--sso-authorize".into(),
        app.authorize_url("browser-sso", &[("state", "browser-state-2"), ("nonce", "browser-nonce-2")]),
        "--username".into(),
        "an.nguyen".into(),
        "--password".into(),
        crate::helpers::PASSWORD.into(),
        "--screenshots".into(),
        shots.display().to_string(),
    ];
    let (ok, stdout, stderr) = run_script(args, chromium, playwright, &shots).await;
    assert!(ok, "the browser run failed:\n{stderr}\n{stdout}");
    let report: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}\n{stderr}"));

    // The first sign-in: login page, consent page, back at the client with a code.
    let first = &report["first"];
    assert_eq!(first["pages"], serde_json::json!(["login", "consent", "client"]), "{report}");
    assert!(text(first, "/final_url").starts_with(&format!("{REDIRECT}?")), "{report}");
    assert_eq!(first["redirect_status"], 303, "{report}");
    assert!(text(first, "/redirected_from").starts_with(&app.issuer), "{report}");
    assert_eq!(text(first, "/state"), "browser-state-1");
    assert_eq!(text(first, "/iss"), app.issuer);

    // Single sign-on: the same browser goes straight to consent for the second client.
    let sso = &report["sso"];
    assert_eq!(sso["pages"], serde_json::json!(["consent", "client"]), "SSO showed a login page: {report}");
    assert!(text(sso, "/final_url").starts_with(&format!("{REDIRECT}?")), "{report}");
    assert_eq!(sso["redirect_status"], 303, "{report}");
    assert!(text(sso, "/redirected_from").starts_with(&app.issuer), "{report}");
    assert_eq!(text(sso, "/state"), "browser-state-2");
    assert_eq!(text(sso, "/iss"), app.issuer);

    // Both codes are good at the token endpoint, for the same person.
    let mut subjects = Vec::new();
    for (client, code, nonce) in [
        ("browser-rp", text(first, "/code"), "browser-nonce-1"),
        ("browser-sso", text(sso, "/code"), "browser-nonce-2"),
    ] {
        let r = app.redeem(client, code, VERIFIER).await;
        assert_eq!(r.status(), 200, "redeeming {client}'s code");
        let tokens: Value = r.json().await.unwrap();
        let id = claims(text(&tokens, "/id_token"));
        assert_eq!(id["aud"], serde_json::json!(client), "{id}");
        assert_eq!(id["nonce"], nonce, "{id}");
        assert_eq!(id["iss"], app.issuer.as_str(), "{id}");
        subjects.push(id["sub"].clone());
    }
    assert_eq!(subjects[0], subjects[1], "SSO signed in a different person");

    // The account area: both receipts; signing out (confirmed) ends the session; the
    // page then leads through the login page and back to it.
    let account = &report["account"];
    assert_eq!(account["status_signed_in"], 200, "{report}");
    assert_eq!(account["receipts_before"], 2, "{report}");
    assert!(text(account, "/signed_out_at").starts_with("/interaction/"), "{report}");
    assert_eq!(account["back_at"], "/account/consents", "{report}");
    assert_eq!(account["receipts_after"], 2, "{report}");

    // Accessibility basics of the login page, checked in the browser.
    let a11y = &report["a11y"];
    assert!(!text(a11y, "/lang").is_empty(), "login page has no lang: {a11y}");
    assert_eq!(a11y["username_labelled"], true, "username has no <label for>: {a11y}");
    assert_eq!(a11y["password_labelled"], true, "password has no <label for>: {a11y}");
    assert_eq!(a11y["tab_reaches_password"], true, "Tab from username does not reach password: {a11y}");
    assert_eq!(a11y["inline_scripts"], 0, "inline <script> on the login page: {a11y}");

    // Nothing outside the OP was loaded, and the pages ran without errors.
    assert_eq!(report["blocked_requests"], serde_json::json!([]), "{report}");
    assert_eq!(report["console_errors"], serde_json::json!([]), "{report}");

    let login = screenshot(&report, "login", &shots);
    let consent = screenshot(&report, "consent", &shots);
    screenshot(&report, "account", &shots);
    println!(
        "Chromium {}: {} ms; screenshots {}/login.png ({login} bytes), {}/consent.png ({consent} bytes)\n{report}",
        text(&report, "/chromium"),
        report["elapsed_ms"],
        shots.display(),
        shots.display(),
    );
}
