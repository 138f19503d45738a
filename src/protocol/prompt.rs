//! When a person must (re-)authenticate or consent: `prompt`, `max_age`, the requested
//! authentication context and the `id_token_hint` against the current session (OIDC Core
//! §3.1.2.1, §3.1.2.3).

use super::acr;
use super::error::{ErrorCode, OAuthError};
use super::scope::Scopes;
use crate::clock::UnixTime;

/// The parsed `prompt` parameter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prompt {
    /// `none`: no UI at all.
    pub none: bool,
    /// `login`: authenticate again.
    pub login: bool,
    /// `consent`: ask for consent again.
    pub consent: bool,
    /// `select_account`: let the person choose the account.
    pub select_account: bool,
}

impl Prompt {
    /// Parses the space-separated values. Unknown values and `none` combined with any
    /// other value are `invalid_request`.
    pub fn parse(raw: Option<&str>) -> Result<Self, OAuthError> {
        let mut p = Prompt::default();
        let Some(raw) = raw else { return Ok(p) };
        for v in raw.split(' ').filter(|v| !v.is_empty()) {
            match v {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" => p.consent = true,
                "select_account" => p.select_account = true,
                other => return Err(OAuthError::invalid_request(format!("prompt value `{other}` is not supported"))),
            }
        }
        if p.none && (p.login || p.consent || p.select_account) {
            return Err(OAuthError::invalid_request("prompt=none cannot be combined with other values"));
        }
        Ok(p)
    }
}

/// The browser session as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct SessionView<'a> {
    /// When the person last authenticated.
    pub auth_time: UnixTime,
    /// What that authentication achieved.
    pub acr: &'a str,
    /// Whether the `id_token_hint`, if any, names this session's person.
    pub hint_matches: bool,
}

/// What the authentication step requires.
#[derive(Debug, Clone, Copy)]
pub struct AuthnRequirements<'a> {
    /// The request's prompt.
    pub prompt: Prompt,
    /// The request's (or client's default) `max_age`; for `urn:vn:eid:loa:2:fresh` at
    /// most [`acr::FRESH_MAX_AGE`] (see `AuthorizeRequest::freshness_max_age`).
    pub max_age: Option<i64>,
    /// What the request and the client's policy demand of the authentication context.
    pub acr: &'a acr::Demand,
}

/// The outcome of the authentication step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginDecision {
    /// The session is good enough.
    UseSession,
    /// Show the login page (with the current session offered when `offer_session`).
    Login {
        /// The session may be offered ("continue as …") rather than a new sign-in.
        offer_session: bool,
    },
    /// Return this error to the client.
    Fail(OAuthError),
}

/// Whether the authentication at `auth_time` is recent enough for `max_age`.
pub fn is_fresh(auth_time: UnixTime, max_age: Option<i64>, now: UnixTime) -> bool {
    max_age.is_none_or(|m| now.saturating_sub(auth_time) <= m)
}

/// Decides whether the session can be used.
pub fn decide_login(req: AuthnRequirements<'_>, session: Option<SessionView<'_>>, now: UnixTime) -> LoginDecision {
    let need = |offer_session: bool| {
        if req.prompt.none {
            LoginDecision::Fail(OAuthError::new(ErrorCode::LoginRequired, "the person must sign in"))
        } else {
            LoginDecision::Login { offer_session }
        }
    };
    let Some(s) = session else { return need(false) };
    if req.prompt.login {
        return need(false);
    }
    if !s.hint_matches {
        return need(false);
    }
    let fresh = is_fresh(s.auth_time, req.max_age, now);
    if !fresh {
        return need(false);
    }
    // Never upgrade a session's context without a new authentication: a session below
    // what is demanded (minimum, essential or voluntary) is not reused.
    if !req.acr.session_ok(s.acr, fresh) {
        return need(false);
    }
    if req.prompt.select_account {
        return LoginDecision::Login { offer_session: true };
    }
    LoginDecision::UseSession
}

/// After an authentication: an essential context or the client minimum that was not
/// achieved is an error, never a silent downgrade. Voluntary values that were not reached
/// are not an error: the achieved context is reported as it is.
pub fn check_achieved(achieved: &str, fresh: bool, demand: &acr::Demand) -> Result<(), OAuthError> {
    if demand.hard_ok(achieved, fresh) {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::UnmetAuthenticationRequirements,
            "the requested authentication context could not be achieved",
        ))
    }
}

/// Whether consent must be asked: `prompt=consent`, or the remembered consent does not
/// cover every requested scope.
pub fn consent_needed(prompt: Prompt, remembered: Option<&Scopes>, requested: &Scopes) -> bool {
    prompt.consent || !remembered.is_some_and(|r| requested.is_subset_of(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use LoginDecision::*;

    const NOW: UnixTime = 1_000_000;

    fn p(raw: &str) -> Prompt {
        Prompt::parse(Some(raw)).unwrap()
    }

    fn check(
        prompt: &str,
        max_age: Option<i64>,
        essential: &[&'static str],
        session: Option<(i64, &str, bool)>,
    ) -> LoginDecision {
        let demand = acr::Demand { essential: essential.to_vec(), ..Default::default() };
        let req = AuthnRequirements { prompt: p(prompt), max_age, acr: &demand };
        let s = session.map(|(age, acr, hint_matches)| SessionView { auth_time: NOW - age, acr, hint_matches });
        decide_login(req, s, NOW)
    }

    fn code(d: LoginDecision) -> Option<ErrorCode> {
        if let Fail(e) = d { Some(e.code) } else { None }
    }

    #[test]
    fn prompt_parsing() {
        assert!(Prompt::parse(Some("none login")).is_err());
        assert!(Prompt::parse(Some("bogus")).is_err());
        assert_eq!(p("login consent"), Prompt { login: true, consent: true, ..Default::default() });
        assert_eq!(Prompt::parse(None).unwrap(), Prompt::default());
    }

    #[test]
    fn login_decisions() {
        let basic = acr::LOCAL_BASIC;
        assert_eq!(check("", None, &[], None), Login { offer_session: false });
        assert_eq!(code(check("none", None, &[], None)), Some(ErrorCode::LoginRequired));
        assert_eq!(check("", None, &[], Some((10, basic, true))), UseSession);
        assert_eq!(check("none", None, &[], Some((10, basic, true))), UseSession);
        assert_eq!(check("login", None, &[], Some((10, basic, true))), Login { offer_session: false });
        assert_eq!(check("select_account", None, &[], Some((10, basic, true))), Login { offer_session: true });
        // max_age
        assert_eq!(check("", Some(60), &[], Some((60, basic, true))), UseSession);
        assert_eq!(check("", Some(60), &[], Some((61, basic, true))), Login { offer_session: false });
        assert_eq!(check("", Some(0), &[], Some((1, basic, true))), Login { offer_session: false });
        assert_eq!(code(check("none", Some(1), &[], Some((5, basic, true)))), Some(ErrorCode::LoginRequired));
        // id_token_hint for someone else
        assert_eq!(check("", None, &[], Some((1, basic, false))), Login { offer_session: false });
        assert_eq!(code(check("none", None, &[], Some((1, basic, false)))), Some(ErrorCode::LoginRequired));
        // a basic session never satisfies an essential higher context
        assert_eq!(check("", None, &[acr::LOCAL_STAFF], Some((1, basic, true))), Login { offer_session: false });
        assert_eq!(check("", None, &[acr::LOCAL_BASIC], Some((1, basic, true))), UseSession);
        assert_eq!(check("", None, &[acr::EID_LOA2_FRESH], Some((1, acr::EID_LOA2, true))), UseSession);
        assert_eq!(
            check("", Some(0), &[acr::EID_LOA2_FRESH], Some((1, acr::EID_LOA2, true))),
            Login { offer_session: false }
        );
    }

    #[test]
    fn achieved_context_and_consent() {
        let essential = |v: &[&'static str]| acr::Demand { essential: v.to_vec(), ..Default::default() };
        assert!(check_achieved(acr::LOCAL_BASIC, true, &acr::Demand::default()).is_ok());
        assert_eq!(
            check_achieved(acr::LOCAL_BASIC, true, &essential(&[acr::EID_LOA2])).unwrap_err().code,
            ErrorCode::UnmetAuthenticationRequirements
        );
        let minimum = acr::Demand { minimum: Some(acr::LOCAL_STAFF), ..Default::default() };
        assert_eq!(
            check_achieved(acr::LOCAL_BASIC, true, &minimum).unwrap_err().code,
            ErrorCode::UnmetAuthenticationRequirements,
            "the client minimum is hard"
        );
        assert!(check_achieved(acr::LOCAL_STAFF, true, &minimum).is_ok());
        let voluntary = acr::Demand { voluntary: vec![acr::LOCAL_STAFF], ..Default::default() };
        assert!(check_achieved(acr::LOCAL_BASIC, true, &voluntary).is_ok(), "voluntary: proceed and report truthfully");
        let req = Scopes::parse("openid email");
        assert!(consent_needed(Prompt::default(), None, &req));
        assert!(!consent_needed(Prompt::default(), Some(&Scopes::parse("openid email profile")), &req));
        assert!(consent_needed(Prompt::default(), Some(&Scopes::parse("openid")), &req));
        assert!(consent_needed(p("consent"), Some(&Scopes::parse("openid email")), &req));
    }

    /// The table of the brief: which session is reused for which demand, with and
    /// without `prompt=none`.
    #[test]
    fn demand_decisions() {
        use acr::{Demand, LOCAL_BASIC, LOCAL_STAFF};
        let min_staff = Demand { minimum: Some(LOCAL_STAFF), ..Default::default() };
        let ess_staff = Demand { essential: vec![LOCAL_STAFF], ..Default::default() };
        let vol_staff = Demand { voluntary: vec![LOCAL_STAFF], ..Default::default() };
        let none = Demand::default();
        // (demand, prompt, session acr, expected: None = UseSession, Some(None) = Login, Some(Some(code)) = Fail)
        let cases: Vec<(&Demand, &str, &str, Option<Option<ErrorCode>>)> = vec![
            (&none, "", LOCAL_BASIC, None),
            (&min_staff, "", LOCAL_BASIC, Some(None)),
            (&min_staff, "none", LOCAL_BASIC, Some(Some(ErrorCode::LoginRequired))),
            (&min_staff, "", LOCAL_STAFF, None),
            (&min_staff, "none", LOCAL_STAFF, None),
            (&ess_staff, "", LOCAL_BASIC, Some(None)),
            (&ess_staff, "none", LOCAL_BASIC, Some(Some(ErrorCode::LoginRequired))),
            (&vol_staff, "", LOCAL_BASIC, Some(None)),
            (&vol_staff, "none", LOCAL_BASIC, Some(Some(ErrorCode::LoginRequired))),
            (&vol_staff, "", LOCAL_STAFF, None),
        ];
        for (demand, prompt, session_acr, expected) in cases {
            let req = AuthnRequirements { prompt: p(prompt), max_age: None, acr: demand };
            let got =
                decide_login(req, Some(SessionView { auth_time: NOW - 5, acr: session_acr, hint_matches: true }), NOW);
            let got = match got {
                UseSession => None,
                Login { .. } => Some(None),
                Fail(e) => Some(Some(e.code)),
            };
            assert_eq!(got, expected, "{demand:?} prompt={prompt} session={session_acr}");
        }
    }
}
