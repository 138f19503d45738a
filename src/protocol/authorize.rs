//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), validated in two
//! phases. Phase one establishes the client and redirect URI; until it succeeds an error
//! can only be shown on a page (RFC 6749 §4.1.2.1: never redirect to an unverified URI).
//! Phase two checks everything else, and its errors go back to the client.

use serde::{Deserialize, Serialize};

use super::acr;
use super::claims::ClaimsRequest;
use super::client::Client;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::pkce::CodeChallenge;
use super::prompt::Prompt;
use super::redirect_uri::{ResponseMode, matches_registered};
use super::scope::Scopes;

/// The language of the pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Locale {
    /// Vietnamese (the default).
    #[default]
    Vi,
    /// English.
    En,
}

impl Locale {
    /// The first supported tag of a space-separated `ui_locales` list (BCP 47, so `en-US`
    /// counts as `en`), else Vietnamese.
    pub fn from_ui_locales(raw: Option<&str>) -> Self {
        raw.unwrap_or("")
            .split(' ')
            .find_map(|tag| match tag.split('-').next().map(str::to_ascii_lowercase).as_deref() {
                Some("vi") => Some(Locale::Vi),
                Some("en") => Some(Locale::En),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The language tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Vi => "vi",
            Self::En => "en",
        }
    }
}

/// Where a response for this request may go, once phase one has validated it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The registered redirect URI the request named.
    pub redirect_uri: String,
    /// How to deliver (errors about `response_mode` itself go by query).
    pub response_mode: ResponseMode,
    /// The client's `state`, echoed in every response.
    pub state: Option<String>,
}

/// A phase-one failure: shown to the person, never redirected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError(pub String);

/// Phase one: the `client_id` and `redirect_uri` parameters, read so that a repeated one
/// is refused rather than guessed at.
pub fn client_id(params: &Params) -> Result<&str, PageError> {
    match params.get("client_id") {
        Err(_) => Err(PageError("client_id is repeated".into())),
        Ok(None) => Err(PageError("client_id is missing".into())),
        Ok(Some(id)) => Ok(id),
    }
}

/// Phase one, with the client loaded: the redirect URI must be given and registered.
pub fn check_target(params: &Params, client: &Client) -> Result<Target, PageError> {
    let redirect_uri = match params.get("redirect_uri") {
        Err(_) => return Err(PageError("redirect_uri is repeated".into())),
        // OIDC Core §3.1.2.1: redirect_uri is REQUIRED.
        Ok(None) => return Err(PageError("redirect_uri is missing".into())),
        Ok(Some(r)) => r,
    };
    if !matches_registered(redirect_uri, &client.redirect_uris, client.application_type) {
        return Err(PageError("redirect_uri is not registered for this client".into()));
    }
    let response_mode =
        params.get("response_mode").ok().flatten().and_then(ResponseMode::parse).unwrap_or(ResponseMode::Query);
    let state = params.get("state").ok().flatten().map(str::to_owned);
    Ok(Target { redirect_uri: redirect_uri.to_owned(), response_mode, state })
}

/// Server policy that shapes phase two.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// PKCE required from confidential clients too.
    pub require_pkce: bool,
}

/// A fully validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    /// The client.
    pub client_id: String,
    /// Where and how to answer.
    pub target: Target,
    /// Requested scopes the client may have.
    pub scope: Scopes,
    /// `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<CodeChallenge>,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` (or the client's default).
    pub max_age: Option<i64>,
    /// Raw `id_token_hint`, verified by the flow (it needs keys).
    pub id_token_hint: Option<String>,
    /// `login_hint`, prefilled on the login page.
    pub login_hint: Option<String>,
    /// Page language.
    pub locale: Locale,
    /// `claims`.
    pub claims: ClaimsRequest,
    /// Voluntary `acr_values`, canonical, in preference order.
    pub acr_values: Vec<String>,
    /// Essential acr values (from `claims`); empty when none is essential.
    pub essential_acr: Vec<String>,
    /// The client's minimum acr at the time of the request, enforced whatever the
    /// request says.
    #[serde(default)]
    pub minimum_acr: Option<String>,
}

/// The prefix of the consent items a `verified_claims` request adds to the scopes, one
/// per verified claim asked for (`verified_claims:birthdate`): verified identity data is
/// asked for (and remembered) claim by claim, so a client that was once allowed a scope,
/// or some verified claims, receives no other verified claim without the person saying
/// yes to it. A claim name that cannot be an item stands as the bare prefix.
pub const VERIFIED_CLAIMS_CONSENT: &str = "verified_claims";

impl AuthorizeRequest {
    /// What the person consents to: the scope, plus one [`VERIFIED_CLAIMS_CONSENT`] item
    /// per verified claim the `claims` parameter asks for.
    pub fn consent_items(&self) -> Scopes {
        let names: std::collections::BTreeSet<&str> = self
            .claims
            .id_token_verified
            .iter()
            .chain(&self.claims.userinfo_verified)
            .flat_map(|v| v.claims.keys().map(String::as_str))
            .collect();
        if names.is_empty() {
            return self.scope.clone();
        }
        let item = |n: &str| {
            let plain = (1..=64).contains(&n.len())
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if plain { format!("{VERIFIED_CLAIMS_CONSENT}:{n}") } else { VERIFIED_CLAIMS_CONSENT.to_owned() }
        };
        let items: Vec<String> = names.into_iter().map(item).collect();
        self.scope.union(&Scopes::parse(&items.join(" ")))
    }

    /// Essential acr values as static strings.
    pub fn essential_acr(&self) -> Vec<&'static str> {
        self.essential_acr.iter().filter_map(|v| acr::canonical(v)).collect()
    }

    /// Requested acr values (essential first, then voluntary) as static strings.
    pub fn requested_acr(&self) -> Vec<&'static str> {
        self.essential_acr.iter().chain(self.acr_values.iter()).filter_map(|v| acr::canonical(v)).collect()
    }

    /// Everything demanded of the authentication context: essential and voluntary
    /// values and the client minimum.
    pub fn acr_demand(&self) -> acr::Demand {
        acr::Demand {
            essential: self.essential_acr(),
            voluntary: self.acr_values.iter().filter_map(|v| acr::canonical(v)).collect(),
            minimum: self.minimum_acr.as_deref().and_then(acr::canonical),
        }
    }

    /// The strongest authentication context this request demands, the client minimum
    /// included: what a sign-in method (the upstream e-ID broker) must ask for. `None`
    /// when nothing is demanded.
    pub fn required_acr(&self) -> Option<&'static str> {
        self.acr_demand().required()
    }

    /// The `max_age` that decides freshness: the request's (or the client's default);
    /// when `urn:vn:eid:loa:2:fresh` is demanded, at most [`acr::FRESH_MAX_AGE`].
    pub fn freshness_max_age(&self) -> Option<i64> {
        if self.acr_demand().wants_fresh() {
            Some(self.max_age.map_or(acr::FRESH_MAX_AGE, |m| m.min(acr::FRESH_MAX_AGE)))
        } else {
            self.max_age
        }
    }
}

/// Phase two: every other parameter. Errors here are returned to the client.
pub fn parse_request(
    params: &Params,
    client: &Client,
    target: Target,
    policy: Policy,
) -> Result<AuthorizeRequest, OAuthError> {
    if let Some(dup) = params.first_duplicate() {
        return Err(OAuthError::invalid_request(format!("parameter `{dup}` is repeated")));
    }
    if params.has("request") {
        return Err(OAuthError::new(ErrorCode::RequestNotSupported, "request objects are not supported"));
    }
    if params.has("request_uri") {
        return Err(OAuthError::new(ErrorCode::RequestUriNotSupported, "request_uri is not supported"));
    }
    match params.get("response_type")? {
        None => return Err(OAuthError::invalid_request("response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(ErrorCode::UnsupportedResponseType, "only response_type=code is supported"));
        }
    }
    if !client.response_types.iter().any(|r| r == "code")
        || !client.grant_types.iter().any(|g| g == "authorization_code")
    {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client may not use the authorization code flow",
        ));
    }
    if let Some(mode) = params.get("response_mode")?
        && ResponseMode::parse(mode).is_none()
    {
        return Err(OAuthError::invalid_request("response_mode must be query or form_post"));
    }
    let requested = Scopes::parse(params.get("scope")?.unwrap_or(""));
    if !requested.contains("openid") {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "the openid scope is required"));
    }
    let scope = requested.intersect(&client.scope);
    let code_challenge = CodeChallenge::parse(params.get("code_challenge")?, params.get("code_challenge_method")?)?;
    if code_challenge.is_none() && (client.is_public() || policy.require_pkce) {
        return Err(OAuthError::invalid_request("code_challenge (PKCE, S256) is required"));
    }
    let nonce = params.get("nonce")?.map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err(OAuthError::invalid_request("nonce is too long"));
    }
    let max_age = match params.get("max_age")? {
        None => client.default_max_age,
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| OAuthError::invalid_request("max_age must be a non-negative integer"))?,
        ),
    };
    let prompt = Prompt::parse(params.get("prompt")?)?;
    let claims = ClaimsRequest::parse(params.get("claims")?)?;
    let raw_acr_values = params.get("acr_values")?;
    let mut acr_values: Vec<String> =
        raw_acr_values.unwrap_or("").split(' ').filter_map(acr::canonical).map(str::to_owned).collect();
    // OIDC Registration §2: default_acr_values apply when the request asks for none.
    if raw_acr_values.is_none() && !claims.id_token.contains_key("acr") {
        acr_values = client.default_acr_values.clone();
    }
    let mut essential_acr = Vec::new();
    if let Some(req) = claims.id_token.get("acr")
        && req.essential
    {
        let known: Vec<String> = req.values.iter().filter_map(|v| acr::canonical(v)).map(str::to_owned).collect();
        if known.is_empty() {
            // Essential, and nothing we can ever achieve: fail now rather than after a login.
            return Err(OAuthError::new(
                ErrorCode::UnmetAuthenticationRequirements,
                "none of the essential acr values is supported",
            ));
        }
        essential_acr = known;
    }
    let login_hint = params.get("login_hint")?.map(|h| h.chars().take(256).collect());
    Ok(AuthorizeRequest {
        client_id: client.client_id.clone(),
        target,
        scope,
        nonce,
        code_challenge,
        prompt,
        max_age,
        id_token_hint: params.get("id_token_hint")?.map(str::to_owned),
        login_hint,
        locale: Locale::from_ui_locales(params.get("ui_locales")?),
        claims,
        acr_values,
        essential_acr,
        minimum_acr: client.minimum_acr.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::client::ClientMetadata;

    const CH: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client(public: bool) -> Client {
        let mut md: ClientMetadata = serde_json::from_value(serde_json::json!({
            "redirect_uris": ["https://rp.example.vn/cb"], "scope": "openid profile email"
        }))
        .unwrap();
        if public {
            md.token_endpoint_auth_method = Some("none".into());
        }
        md.validate("rp".into(), 0).unwrap()
    }

    fn base() -> Vec<(&'static str, String)> {
        vec![
            ("client_id", "rp".into()),
            ("redirect_uri", "https://rp.example.vn/cb".into()),
            ("response_type", "code".into()),
            ("scope", "openid profile".into()),
            ("state", "s1".into()),
            ("code_challenge", CH.into()),
            ("code_challenge_method", "S256".into()),
        ]
    }

    fn check(
        edit: &[(&'static str, Option<&str>)],
        require_pkce: bool,
    ) -> Result<AuthorizeRequest, Result<ErrorCode, PageError>> {
        let mut pairs = base();
        for (k, v) in edit {
            pairs.retain(|(n, _)| n != k);
            if let Some(v) = v {
                pairs.push((k, v.to_string()));
            }
        }
        let params = Params::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        let c = client(false);
        let target = check_target(&params, &c).map_err(Err)?;
        parse_request(&params, &c, target, Policy { require_pkce }).map_err(|e| Ok(e.code))
    }

    #[test]
    fn phase_one_errors_are_pages() {
        let c = client(false);
        assert!(client_id(&Params::parse(b"client_id=a&client_id=b").unwrap()).is_err());
        assert!(client_id(&Params::parse(b"").unwrap()).is_err());
        for q in [
            "redirect_uri=https%3A%2F%2Fevil.vn%2Fcb",
            "",
            "redirect_uri=https%3A%2F%2Frp.example.vn%2Fcb&redirect_uri=https%3A%2F%2Frp.example.vn%2Fcb",
            "redirect_uri=https%3A%2F%2Frp.example.vn%2Fcb%2F",
        ] {
            assert!(check_target(&Params::parse(q.as_bytes()).unwrap(), &c).is_err(), "{q}");
        }
    }

    #[test]
    fn phase_two_cases() {
        use ErrorCode::*;
        type Edit<'a> = &'a [(&'a str, Option<&'a str>)];
        let cases: &[(Edit, Result<(), ErrorCode>)] = &[
            (&[], Ok(())),
            (&[("response_type", None)], Err(InvalidRequest)),
            (&[("response_type", Some("token"))], Err(UnsupportedResponseType)),
            (&[("response_type", Some("code id_token"))], Err(UnsupportedResponseType)),
            (&[("response_mode", Some("fragment"))], Err(InvalidRequest)),
            (&[("response_mode", Some("form_post"))], Ok(())),
            (&[("scope", Some("profile"))], Err(InvalidScope)),
            (&[("scope", None)], Err(InvalidScope)),
            (&[("code_challenge", None), ("code_challenge_method", None)], Err(InvalidRequest)),
            (&[("code_challenge_method", Some("plain"))], Err(InvalidRequest)),
            (&[("max_age", Some("-1"))], Err(InvalidRequest)),
            (&[("max_age", Some("abc"))], Err(InvalidRequest)),
            (&[("max_age", Some("0"))], Ok(())),
            (&[("prompt", Some("none login"))], Err(InvalidRequest)),
            (&[("claims", Some("{bad"))], Err(InvalidRequest)),
            (
                &[("claims", Some(r#"{"id_token":{"acr":{"essential":true,"values":["gold"]}}}"#))],
                Err(UnmetAuthenticationRequirements),
            ),
            (&[("claims", Some(r#"{"id_token":{"acr":{"essential":true,"values":["LoA2"]}}}"#))], Ok(())),
            (&[("request", Some("eyJ..."))], Err(RequestNotSupported)),
            (&[("request_uri", Some("https://x"))], Err(RequestUriNotSupported)),
            (&[("unknown_param", Some("x"))], Ok(())),
            (&[("display", Some("popup"))], Ok(())),
        ];
        for (edit, expected) in cases {
            let got = check(edit, true).map(|_| ()).map_err(|e| e.unwrap());
            assert_eq!(got, *expected, "{edit:?}");
        }
        // Without the PKCE policy a confidential client may omit it.
        assert!(check(&[("code_challenge", None), ("code_challenge_method", None)], false).is_ok());
    }

    #[test]
    fn verified_claims_are_consent_items_claim_by_claim() {
        let vc = |claims: &str| {
            format!(
                r#"{{"userinfo":{{"verified_claims":{{"verification":{{"trust_framework":null}},"claims":{claims}}}}}}}"#
            )
        };
        let plain = check(&[], true).unwrap();
        assert_eq!(plain.consent_items().to_string(), "openid profile");
        let two = vc(r#"{"name":null,"birthdate":null}"#);
        let r = check(&[("claims", Some(&two))], true).unwrap();
        assert_eq!(r.consent_items().to_string(), "openid profile verified_claims:birthdate verified_claims:name");
        // A name that cannot be an item (a space would split it) stands as the bare prefix.
        let odd = vc(r#"{"name":null,"odd name":null}"#);
        let r = check(&[("claims", Some(&odd))], true).unwrap();
        assert_eq!(r.consent_items().to_string(), "openid profile verified_claims:name verified_claims");
    }

    #[test]
    fn granted_scope_and_locale() {
        let r = check(&[("scope", Some("openid email vn_pin")), ("ui_locales", Some("fr en-US"))], true).unwrap();
        assert_eq!(r.scope.to_string(), "openid email");
        assert_eq!(r.locale, Locale::En);
        assert_eq!(r.target.state.as_deref(), Some("s1"));
        assert_eq!(Locale::from_ui_locales(None), Locale::Vi);
    }

    #[test]
    fn client_acr_policy_reaches_the_request() {
        let mut c = client(false);
        c.minimum_acr = Some(acr::LOCAL_STAFF.into());
        c.default_acr_values = vec![acr::LOCAL_BASIC.into()];
        let parse = |extra: &[(&str, &str)]| {
            let mut pairs = base();
            pairs.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
            let params = Params::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
            let target = check_target(&params, &c).unwrap();
            parse_request(&params, &c, target, Policy { require_pkce: true }).unwrap()
        };
        // No acr_values: the client's defaults, and the minimum always.
        let r = parse(&[]);
        assert_eq!(r.acr_values, vec![acr::LOCAL_BASIC.to_owned()]);
        assert_eq!(r.minimum_acr.as_deref(), Some(acr::LOCAL_STAFF));
        assert_eq!(r.required_acr(), Some(acr::LOCAL_STAFF), "the minimum counts in the required level");
        // acr_values given: no defaults; the minimum stays.
        let r = parse(&[("acr_values", "LoA2")]);
        assert_eq!(r.acr_values, vec![acr::EID_LOA2.to_owned()]);
        assert_eq!(r.required_acr(), Some(acr::EID_LOA2));
        assert_eq!(r.acr_demand().minimum, Some(acr::LOCAL_STAFF));
        // An essential acr claim replaces the defaults too.
        let r = parse(&[("claims", r#"{"id_token":{"acr":{"essential":true,"values":["urn:vn:eid:loa:2:fresh"]}}}"#)]);
        assert!(r.acr_values.is_empty());
        assert_eq!(r.required_acr(), Some(acr::EID_LOA2_FRESH));
        assert_eq!(r.freshness_max_age(), Some(acr::FRESH_MAX_AGE), "loa2:fresh forces a fresh authentication");
        let r = parse(&[("acr_values", "urn:vn:eid:loa:2:fresh"), ("max_age", "60")]);
        assert_eq!(r.freshness_max_age(), Some(60));
        assert_eq!(parse(&[("max_age", "0")]).freshness_max_age(), Some(0));
        assert_eq!(parse(&[]).freshness_max_age(), None);
    }
}
