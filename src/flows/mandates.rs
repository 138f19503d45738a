//! The person's own mandates page (`/account/mandates`, issue 5): what the signed-in
//! person may do for organisations (their representations) and, for the organisations
//! they represent as legal representative or head, the mandates given out, with a form
//! to grant an `authorised_person` mandate and a revoke button per live mandate.
//!
//! Granting and revoking need a session at `urn:vn:eid:loa:2`; the rules themselves and
//! their audit live in [`super::orgs::grant_mandate`] / [`super::orgs::revoke_mandate`].
//! Refusals decided here, before those functions can run (a wrong CSRF token, an
//! unknown personal number, an unreadable expiry, a weak session), are audited here in
//! the same shape (`mandate.grant.failed` / `mandate.revoke.failed`).

use serde_json::json;

use super::authorize::load_session;
use super::orgs::{MandateFlowError, MandateGrant, grant_mandate, parse_until, revoke_mandate};
use super::{BrowserSession, Services, store_failed};
use crate::audit::AuditEvent;
use crate::crypto::constant_time_eq;
use crate::crypto::opaque::token_digest;
use crate::identity::{
    MandateError, OrgId, Organisation, PersonId, PersonalNumber, Representation, RepresentationId, RepresentationSource,
};
use crate::protocol::OAuthError;
use crate::protocol::acr;

/// A mandate given out by an organisation, with who holds it.
#[derive(Debug, Clone)]
pub struct GivenMandate {
    /// The mandate.
    pub mandate: Representation,
    /// The holder's name, when known.
    pub holder_name: Option<String>,
    /// The holder's personal number, masked.
    pub holder_number: Option<String>,
    /// Whether the signed-in person granted it.
    pub granted_by_me: bool,
}

/// An organisation the signed-in person may give mandates for.
#[derive(Debug, Clone)]
pub struct GrantingOrg {
    /// The organisation.
    pub org: Organisation,
    /// Its mandates (source `mandate`), oldest first, any status.
    pub mandates: Vec<GivenMandate>,
}

/// What the mandates page shows to a signed-in person.
#[derive(Debug, Clone)]
pub struct MandatesView {
    /// Who is signed in.
    pub person_name: String,
    /// CSRF token of the forms (bound to the session cookie).
    pub csrf: String,
    /// Whether the session reaches `urn:vn:eid:loa:2` (granting and revoking need it).
    pub strong: bool,
    /// The session's `acr`, to explain a refusal.
    pub acr: String,
    /// The person's representations in force, with their organisations.
    pub representations: Vec<(Representation, Organisation)>,
    /// The organisations they may give mandates for.
    pub granting: Vec<GrantingOrg>,
}

/// The mandates page.
#[derive(Debug, Clone)]
pub enum MandatesPage {
    /// No browser session: ask the person to sign in.
    SignInNeeded,
    /// The page.
    Show(MandatesView),
}

/// A grant form as submitted.
#[derive(Debug, Clone, Default)]
pub struct GrantForm {
    /// Organisation id.
    pub org: String,
    /// The grantee's 12-digit personal number.
    pub personal_number: String,
    /// Scope: client ids and procedure codes, one per line.
    pub scope: String,
    /// Expiry date `YYYY-MM-DD` (the mandate ends at the end of that day, UTC).
    pub valid_until: String,
}

/// What the person asked for.
#[derive(Debug, Clone)]
pub enum MandateAction {
    /// Grant a mandate.
    Grant(GrantForm),
    /// Revoke the mandate with this id.
    Revoke(String),
}

/// Why a request was refused, for the page (nothing was written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MandateProblem {
    /// The session is below `urn:vn:eid:loa:2`.
    WeakSession,
    /// The personal number is not 12 valid digits.
    BadPersonalNumber,
    /// No person with this personal number is known here.
    UnknownPerson,
    /// The expiry is not a date.
    BadExpiry,
    /// A mandate rule refused it.
    Rule(MandateError),
    /// The organisation or mandate does not exist.
    NotFound,
    /// The store refused the write.
    Conflict,
}

/// The result of a POST.
#[derive(Debug)]
pub enum ActionOutcome {
    /// No browser session.
    SignInNeeded,
    /// The CSRF token does not match the session.
    Forbidden,
    /// Done: the mandate as stored.
    Done(Representation),
    /// Refused: the page again, with the problem and the form as submitted.
    Refused(Box<MandatesView>, MandateProblem, GrantForm),
}

/// The CSRF token of the mandates page, derived from the session cookie.
fn csrf_for(session_cookie: &str) -> String {
    token_digest(&format!("account-mandates-csrf\u{0}{session_cookie}"))
}

/// Whether a session may grant and revoke mandates: `urn:vn:eid:loa:2` (or its fresh form).
pub fn strong_enough(session: &BrowserSession, now: i64) -> bool {
    let fresh = now.saturating_sub(session.auth_time) <= acr::FRESH_MAX_AGE;
    acr::satisfies(&session.acr, fresh, acr::EID_LOA2)
}

/// Reads the scope box: one entry per line, blank lines skipped; a bare procedure code
/// (`1.000466`: digits and dots) is written `procedure:1.000466`.
pub fn parse_scope(raw: &str) -> Vec<String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let bare_procedure = l.starts_with(|c: char| c.is_ascii_digit())
                && l.contains('.')
                && l.chars().all(|c| c.is_ascii_digit() || c == '.');
            if bare_procedure { format!("procedure:{l}") } else { l.to_owned() }
        })
        .collect()
}

async fn load_view(
    svc: &Services,
    cookie: &str,
    session: &BrowserSession,
    now: i64,
) -> Result<Option<MandatesView>, OAuthError> {
    let me = PersonId(session.person_id.clone());
    let Some(person) = svc.store.find_person(&me).await.map_err(store_failed)? else { return Ok(None) };
    let representations = svc.store.representations_of_person(&me, now).await.map_err(store_failed)?;
    let mut granting: Vec<GrantingOrg> = Vec::new();
    for (rep, org) in &representations {
        if !rep.role.may_mandate() || granting.iter().any(|g| g.org.id == org.id) {
            continue;
        }
        let all = svc.store.representations_of_org(&org.id).await.map_err(store_failed)?;
        let mut mandates = Vec::new();
        for m in all.into_iter().filter(|m| m.source == RepresentationSource::Mandate) {
            let holder = svc.store.find_person(&m.person_id).await.map_err(store_failed)?;
            mandates.push(GivenMandate {
                holder_name: holder.as_ref().and_then(|h| h.name.clone()),
                holder_number: holder.as_ref().and_then(|h| h.personal_number.as_ref()).map(PersonalNumber::masked),
                granted_by_me: m.granted_by.as_ref() == Some(&me),
                mandate: m,
            });
        }
        granting.push(GrantingOrg { org: org.clone(), mandates });
    }
    Ok(Some(MandatesView {
        person_name: person.name.or(person.username).unwrap_or_default(),
        csrf: csrf_for(cookie),
        strong: strong_enough(session, now),
        acr: session.acr.clone(),
        representations,
        granting,
    }))
}

/// `GET /account/mandates`.
pub async fn page(svc: &Services, session_cookie: Option<&str>, now: i64) -> Result<MandatesPage, OAuthError> {
    let (Some(cookie), Some(session)) = (session_cookie, load_session(svc, session_cookie, now).await?) else {
        return Ok(MandatesPage::SignInNeeded);
    };
    Ok(load_view(svc, cookie, &session, now).await?.map_or(MandatesPage::SignInNeeded, MandatesPage::Show))
}

/// Audits a refusal decided here, in the shape `flows::orgs` uses.
async fn audit_refusal(
    svc: &Services,
    me: &PersonId,
    action: &str,
    subject: Option<String>,
    code: &str,
    reason: &str,
    now: i64,
) {
    let event = AuditEvent {
        at: now,
        actor: format!("person:{}", me.0),
        action: format!("{action}.failed"),
        subject,
        outcome: "failure".to_owned(),
        detail: json!({"error": code, "reason": reason}),
    };
    let _ = crate::audit::record(svc.store.as_ref(), event).await;
}

fn problem_of(e: MandateFlowError) -> Result<MandateProblem, OAuthError> {
    Ok(match e {
        MandateFlowError::Refused(MandateError::WeakAuthentication) => MandateProblem::WeakSession,
        MandateFlowError::Refused(r) => MandateProblem::Rule(r),
        MandateFlowError::NotFound(_) => MandateProblem::NotFound,
        MandateFlowError::Store(crate::store::StoreError::Conflict(_)) => MandateProblem::Conflict,
        MandateFlowError::Store(e) => return Err(store_failed(e)),
    })
}

/// `POST /account/mandates`: grants or revokes, after checking the CSRF token. A weak
/// session is refused (and audited) before anything else.
pub async fn act(
    svc: &Services,
    session_cookie: Option<&str>,
    csrf: &str,
    action: MandateAction,
    now: i64,
) -> Result<ActionOutcome, OAuthError> {
    let (Some(cookie), Some(session)) = (session_cookie, load_session(svc, session_cookie, now).await?) else {
        return Ok(ActionOutcome::SignInNeeded);
    };
    let me = PersonId(session.person_id.clone());
    let name = match &action {
        MandateAction::Grant(_) => "mandate.grant",
        MandateAction::Revoke(_) => "mandate.revoke",
    };
    if !constant_time_eq(csrf.as_bytes(), csrf_for(cookie).as_bytes()) {
        audit_refusal(svc, &me, name, None, "csrf", "the form's CSRF token does not match the session", now).await;
        return Ok(ActionOutcome::Forbidden);
    }
    let Some(view) = load_view(svc, cookie, &session, now).await? else { return Ok(ActionOutcome::SignInNeeded) };
    let strong = view.strong;
    let refused = |problem, form| Ok(ActionOutcome::Refused(Box::new(view.clone()), problem, form));
    match action {
        MandateAction::Revoke(id) => {
            match revoke_mandate(svc.store.as_ref(), &me, strong, &RepresentationId(id), now).await {
                Ok(rep) => Ok(ActionOutcome::Done(rep)),
                Err(e) => refused(problem_of(e)?, GrantForm::default()),
            }
        }
        MandateAction::Grant(form) => {
            let subject = Some(format!("org:{}", form.org));
            if !strong {
                let reason = MandateError::WeakAuthentication.to_string();
                audit_refusal(svc, &me, name, subject, "access_denied", &reason, now).await;
                return refused(MandateProblem::WeakSession, form);
            }
            let Ok(number) = PersonalNumber::parse(form.personal_number.trim(), crate::clock::year_of(now)) else {
                audit_refusal(svc, &me, name, subject, "invalid_request", "malformed personal number", now).await;
                return refused(MandateProblem::BadPersonalNumber, form);
            };
            let grantee = svc.store.find_person_by_personal_number(number.as_str()).await.map_err(store_failed)?;
            let Some(grantee) = grantee else {
                audit_refusal(svc, &me, name, subject, "not_found", "no person with this personal number", now).await;
                return refused(MandateProblem::UnknownPerson, form);
            };
            let valid_until = match form.valid_until.trim() {
                "" => None,
                raw => match parse_until(raw) {
                    Ok(u) => Some(u),
                    Err(_) => {
                        audit_refusal(svc, &me, name, subject, "invalid_request", "unreadable expiry", now).await;
                        return refused(MandateProblem::BadExpiry, form);
                    }
                },
            };
            let grant =
                MandateGrant { org: OrgId(form.org.clone()), grantee, scope: parse_scope(&form.scope), valid_until };
            match grant_mandate(svc.store.as_ref(), &me, strong, grant, now).await {
                Ok(rep) => Ok(ActionOutcome::Done(rep)),
                Err(e) => refused(problem_of(e)?, form),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lines() {
        assert_eq!(
            parse_scope(" client:portal \n\n1.000466\r\nmotcua\nprocedure:2.000001\n"),
            vec!["client:portal", "procedure:1.000466", "motcua", "procedure:2.000001"]
        );
        assert!(parse_scope(" \n \n").is_empty());
    }

    #[test]
    fn only_level_two_is_strong() {
        let s = |acr: &str| BrowserSession {
            sid: "s".into(),
            person_id: "p".into(),
            auth_time: 1000,
            acr: acr.into(),
            amr: vec![],
            acting_for: None,
            context_chosen: false,
            upstream: None,
        };
        assert!(strong_enough(&s(acr::EID_LOA2), 5000));
        assert!(!strong_enough(&s(acr::EID_LOA1), 1000));
        assert!(!strong_enough(&s(acr::LOCAL_STAFF), 1000));
        assert!(!strong_enough(&s(acr::LOCAL_BASIC), 1000));
        assert_eq!(crate::clock::year_of(1_798_761_599), 2026);
    }
}
