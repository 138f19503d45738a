//! A black-box OpenID Connect OP test runner: an independent relying party,
//! built on the `openidconnect` crate, that runs checks modelled on the
//! OpenID Foundation's "Basic OP" (`oidcc-basic-certification-test-plan`),
//! "Config OP", "RP-Initiated Logout OP", "Back-Channel Logout OP" and
//! "Dynamic OP" plans against any OP it can reach. Each check carries the
//! name of the plan's test module it mirrors.
//!
//! ```no_run
//! # async fn demo() {
//! let opts = conformance::Options {
//!     issuer: "http://127.0.0.1:8080".into(),
//!     client_id: "rp".into(),
//!     client_secret: "secret".into(),
//!     client_post_id: None,
//!     client_post_secret: None,
//!     redirect_uri: "https://rp.example/cb".into(),
//!     username: "alice".into(),
//!     password: "correct horse".into(),
//!     slow: false,
//!     post_logout_redirect_uri: Some("https://rp.example/logged-out".into()),
//!     initial_access_token: None,
//! };
//! let report = conformance::run(&opts).await;
//! println!("{}", report.summary_line());
//! # }
//! ```

mod browser;
mod checks;
mod jose;
mod listener;
mod rp;

use std::fmt;
use std::time::Duration;

use rp::{Ctx, Stop};

/// What to test and how to log in.
#[derive(Clone, Default)]
pub struct Options {
    /// The OP's issuer identifier, e.g. `http://127.0.0.1:8080`.
    pub issuer: String,
    /// A confidential client registered with `client_secret_basic`.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// An optional second client registered with `client_secret_post`.
    pub client_post_id: Option<String>,
    /// Its secret.
    pub client_post_secret: Option<String>,
    /// A redirect URI registered for both clients. It is never contacted:
    /// the runner reads the `Location` header (or the `form_post` page).
    pub redirect_uri: String,
    /// A local account on the OP.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Also run the checks that need more than 30 s of waiting.
    pub slow: bool,
    /// A post-logout redirect URI registered for the `client_secret_basic`
    /// client (RP-Initiated Logout 1.0 §3). It is never contacted. The
    /// RP-Initiated Logout checks are skipped when it is `None`.
    pub post_logout_redirect_uri: Option<String>,
    /// An initial access token for the OP's registration endpoint (RFC 7591
    /// §3). The dynamic registration and back-channel logout checks register
    /// their own clients with it and are skipped when it is `None`.
    pub initial_access_token: Option<String>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("client_post_id", &self.client_post_id)
            .field("client_post_secret", &self.client_post_secret.as_ref().map(|_| "<redacted>"))
            .field("redirect_uri", &self.redirect_uri)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("slow", &self.slow)
            .field("post_logout_redirect_uri", &self.post_logout_redirect_uri)
            .field("initial_access_token", &self.initial_access_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// How one check ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every assertion held.
    Passed,
    /// An assertion failed; the message says which.
    Failed(String),
    /// The check does not apply to this OP (or needs `--slow`); the message
    /// says why.
    Skipped(String),
}

/// One check and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// The name of the plan test module the check mirrors.
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
}

impl fmt::Display for CheckResult {
    /// `PASS name`, `FAIL name: reason` or `SKIP name: reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Passed => write!(f, "PASS {}", self.name),
            Outcome::Failed(why) => write!(f, "FAIL {}: {}", self.name, one_line(why)),
            Outcome::Skipped(why) => write!(f, "SKIP {}: {}", self.name, one_line(why)),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The results of a run, in execution order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// One entry per check that was run.
    pub results: Vec<CheckResult>,
}

impl Report {
    fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.results.iter().filter(|r| pred(&r.outcome)).count()
    }

    /// How many checks passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }

    /// How many checks failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    /// How many checks were skipped.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }

    /// Exactly `"N passed, N failed, N skipped"`.
    pub fn summary_line(&self) -> String {
        format!("{} passed, {} failed, {} skipped", self.passed(), self.failed(), self.skipped())
    }
}

/// The names of every check, in the order they run.
pub fn check_names() -> &'static [&'static str] {
    checks::ALL
}

/// Runs every check.
pub async fn run(opts: &Options) -> Report {
    run_with(opts, &[], |_| {}).await
}

/// Runs the checks named in `only` (all of them when `only` is empty; names
/// that match no check are ignored, see [`check_names`]), calling
/// `on_result` as each one finishes.
pub async fn run_with(opts: &Options, only: &[String], mut on_result: impl FnMut(&CheckResult)) -> Report {
    let ctx = Ctx::new(opts).await;
    let mut report = Report::default();
    for &name in checks::ALL {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let limit = checks::time_limit(name);
        let outcome = match tokio::time::timeout(limit, checks::run_one(name, &ctx)).await {
            Ok(Ok(())) => Outcome::Passed,
            Ok(Err(Stop::Fail(why))) => Outcome::Failed(why),
            Ok(Err(Stop::Skip(why))) => Outcome::Skipped(why),
            Err(_) => Outcome::Failed(format!("did not finish within {} s", limit.as_secs())),
        };
        let result = CheckResult { name, outcome };
        on_result(&result);
        report.results.push(result);
    }
    report
}

/// The default per-check time limit.
pub(crate) const DEFAULT_LIMIT: Duration = Duration::from_secs(120);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_lines() {
        let report = Report {
            results: vec![
                CheckResult { name: "a", outcome: Outcome::Passed },
                CheckResult { name: "b", outcome: Outcome::Failed("bad\nthing".into()) },
                CheckResult { name: "c", outcome: Outcome::Skipped("n/a".into()) },
                CheckResult { name: "d", outcome: Outcome::Passed },
            ],
        };
        assert_eq!(report.summary_line(), "2 passed, 1 failed, 1 skipped");
        assert_eq!(report.results[1].to_string(), "FAIL b: bad thing");
        assert_eq!(report.results[2].to_string(), "SKIP c: n/a");
        assert_eq!(report.results[0].to_string(), "PASS a");
    }

    #[test]
    fn names_are_unique_and_plan_styled() {
        let names = check_names();
        for (i, n) in names.iter().enumerate() {
            assert!(n.starts_with("oidcc-"), "{n}");
            assert!(!names[..i].contains(n), "duplicate {n}");
        }
    }

    #[test]
    fn run_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let opts = Options::default();
        let fut = run(&opts);
        assert_send(&fut);
    }

    #[tokio::test]
    async fn unreachable_op_fails_every_check_without_hanging() {
        let opts = Options {
            issuer: "http://127.0.0.1:9".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            redirect_uri: "https://rp.example/cb".into(),
            username: "u".into(),
            password: "p".into(),
            ..Options::default()
        };
        let report = run(&opts).await;
        assert_eq!(report.results.len(), check_names().len());
        assert_eq!(report.passed(), 0);
        assert!(report.failed() > 0);
    }
}
