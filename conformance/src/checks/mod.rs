//! The check registry: every check's name (the plan test module it mirrors),
//! its order, its time limit and the function that runs it.

mod acr;
mod backchannel;
mod code_flow;
mod discovery;
mod dynamic;
mod errors;
mod logout;
mod prompt;
mod request_object;
mod userinfo;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::rp::{Check, Ctx, fail};

/// Every check, in the order of the Config OP plan followed by the Basic OP
/// plan (with the `form_post` variant of `oidcc-server` and the Config
/// plan's `oidcc-idtoken-rs256` / `oidcc-userinfo-rs256` where they fit),
/// then the RP-Initiated Logout, Back-Channel Logout and Dynamic OP plans.
pub(crate) const ALL: &[&str] = &[
    "oidcc-discovery-endpoint-verification",
    "oidcc-server",
    "oidcc-server[form_post]",
    "oidcc-response-type-missing",
    "oidcc-idtoken-signature",
    "oidcc-idtoken-rs256",
    "oidcc-idtoken-unsigned",
    "oidcc-userinfo-get",
    "oidcc-userinfo-post-header",
    "oidcc-userinfo-post-body",
    "oidcc-userinfo-rs256",
    "oidcc-ensure-request-without-nonce-succeeds-for-code-flow",
    "oidcc-scope-profile",
    "oidcc-scope-email",
    "oidcc-scope-address",
    "oidcc-scope-phone",
    "oidcc-scope-all",
    "oidcc-ensure-other-scope-order-succeeds",
    "oidcc-display-page",
    "oidcc-display-popup",
    "oidcc-prompt-login",
    "oidcc-prompt-none-not-logged-in",
    "oidcc-prompt-none-logged-in",
    "oidcc-max-age-1",
    "oidcc-max-age-10000",
    "oidcc-ensure-request-with-unknown-parameter-succeeds",
    "oidcc-id-token-hint",
    "oidcc-login-hint",
    "oidcc-ui-locales",
    "oidcc-claims-locales",
    "oidcc-ensure-request-with-acr-values-succeeds",
    "oidcc-id-token-acr-amr-auth-time",
    "oidcc-acr-essential-never-weaker",
    "oidcc-codereuse",
    "oidcc-codereuse-30seconds",
    "oidcc-ensure-registered-redirect-uri",
    "oidcc-ensure-post-request-succeeds",
    "oidcc-server-client-secret-post",
    "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported",
    "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported",
    "oidcc-claims-essential",
    "oidcc-ensure-request-object-with-redirect-uri",
    "oidcc-refresh-token",
    "oidcc-ensure-request-with-valid-pkce-succeeds",
    "oidcc-ensure-redirect-uri-in-authorization-request",
    // RP-Initiated Logout OP plan.
    "oidcc-rp-initiated-logout",
    "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri",
    "oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri",
    "oidcc-rp-initiated-logout-modified-id-token-hint",
    "oidcc-rp-initiated-logout-no-id-token-hint",
    "oidcc-rp-initiated-logout-no-params",
    "oidcc-rp-initiated-logout-no-state",
    "oidcc-rp-initiated-logout-only-state",
    "oidcc-rp-initiated-logout-no-post-logout-redirect-uri",
    "oidcc-rp-initiated-logout-bad-id-token-hint",
    // Back-Channel Logout OP plan.
    "oidcc-backchannel-rp-initiated-logout",
    // Dynamic OP plan.
    "oidcc-registration-jwks-uri",
    "oidcc-registration-sector-uri",
    "oidcc-registration-sector-bad",
    "oidcc-redirect-uri-query-OK",
    "oidcc-redirect-uri-query-mismatch",
    "oidcc-redirect-uri-query-added",
    "oidcc-registration-logo-uri",
    "oidcc-registration-policy-uri",
    "oidcc-registration-tos-uri",
    "oidcc-server-rotate-keys",
];

/// How long a check may take before it is failed.
pub(crate) fn time_limit(name: &str) -> Duration {
    match name {
        "oidcc-codereuse-30seconds" => Duration::from_secs(180),
        "oidcc-server-rotate-keys" => dynamic::ROTATION_WAIT + Duration::from_secs(60),
        _ => crate::DEFAULT_LIMIT,
    }
}

type CheckFuture<'a> = Pin<Box<dyn Future<Output = Check> + Send + 'a>>;

/// Runs one check by name.
pub(crate) fn run_one<'a>(name: &str, ctx: &'a Ctx<'a>) -> CheckFuture<'a> {
    match name {
        "oidcc-discovery-endpoint-verification" => Box::pin(discovery::endpoint_verification(ctx)),
        "oidcc-server" => Box::pin(code_flow::server(ctx)),
        "oidcc-server[form_post]" => Box::pin(code_flow::server_form_post(ctx)),
        "oidcc-response-type-missing" => Box::pin(errors::response_type_missing(ctx)),
        "oidcc-idtoken-signature" => Box::pin(code_flow::idtoken_signature(ctx)),
        "oidcc-idtoken-rs256" => Box::pin(code_flow::idtoken_signature(ctx)),
        "oidcc-idtoken-unsigned" => Box::pin(code_flow::idtoken_unsigned(ctx)),
        "oidcc-userinfo-get" => Box::pin(userinfo::get(ctx)),
        "oidcc-userinfo-post-header" => Box::pin(userinfo::post(ctx, false)),
        "oidcc-userinfo-post-body" => Box::pin(userinfo::post(ctx, true)),
        "oidcc-userinfo-rs256" => Box::pin(userinfo::signed_rs256(ctx)),
        "oidcc-ensure-request-without-nonce-succeeds-for-code-flow" => Box::pin(code_flow::without_nonce(ctx)),
        "oidcc-scope-profile" => Box::pin(userinfo::scopes(ctx, &["profile"])),
        "oidcc-scope-email" => Box::pin(userinfo::scopes(ctx, &["email"])),
        "oidcc-scope-address" => Box::pin(userinfo::scopes(ctx, &["address"])),
        "oidcc-scope-phone" => Box::pin(userinfo::scopes(ctx, &["phone"])),
        "oidcc-scope-all" => Box::pin(userinfo::scopes(ctx, &["profile", "email", "address", "phone"])),
        "oidcc-ensure-other-scope-order-succeeds" => Box::pin(code_flow::other_scope_order(ctx)),
        "oidcc-display-page" => Box::pin(code_flow::display(ctx, "page")),
        "oidcc-display-popup" => Box::pin(code_flow::display(ctx, "popup")),
        "oidcc-prompt-login" => Box::pin(prompt::prompt_login(ctx)),
        "oidcc-prompt-none-not-logged-in" => Box::pin(prompt::prompt_none_not_logged_in(ctx)),
        "oidcc-prompt-none-logged-in" => Box::pin(prompt::prompt_none_logged_in(ctx)),
        "oidcc-max-age-1" => Box::pin(prompt::max_age_1(ctx)),
        "oidcc-max-age-10000" => Box::pin(prompt::max_age_10000(ctx)),
        "oidcc-ensure-request-with-unknown-parameter-succeeds" => Box::pin(code_flow::unknown_parameter(ctx)),
        "oidcc-id-token-hint" => Box::pin(prompt::id_token_hint(ctx)),
        "oidcc-login-hint" => Box::pin(code_flow::login_hint(ctx)),
        "oidcc-ui-locales" => Box::pin(code_flow::ui_locales(ctx)),
        "oidcc-claims-locales" => Box::pin(code_flow::claims_locales(ctx)),
        "oidcc-ensure-request-with-acr-values-succeeds" => Box::pin(code_flow::acr_values(ctx)),
        "oidcc-id-token-acr-amr-auth-time" => Box::pin(acr::acr_amr_auth_time(ctx)),
        "oidcc-acr-essential-never-weaker" => Box::pin(acr::essential_never_weaker(ctx)),
        "oidcc-codereuse" => Box::pin(code_flow::code_reuse(ctx, false)),
        "oidcc-codereuse-30seconds" => Box::pin(code_flow::code_reuse(ctx, true)),
        "oidcc-ensure-registered-redirect-uri" => Box::pin(errors::registered_redirect_uri(ctx)),
        "oidcc-ensure-post-request-succeeds" => Box::pin(code_flow::post_request(ctx)),
        "oidcc-server-client-secret-post" => Box::pin(code_flow::server_client_secret_post(ctx)),
        "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported" => {
            Box::pin(request_object::request_uri_unsigned(ctx))
        }
        "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported" => {
            Box::pin(request_object::unsigned_request_object(ctx))
        }
        "oidcc-claims-essential" => Box::pin(userinfo::claims_essential(ctx)),
        "oidcc-ensure-request-object-with-redirect-uri" => {
            Box::pin(request_object::request_object_with_redirect_uri(ctx))
        }
        "oidcc-refresh-token" => Box::pin(code_flow::refresh_token(ctx)),
        "oidcc-ensure-request-with-valid-pkce-succeeds" => Box::pin(code_flow::valid_pkce(ctx)),
        "oidcc-ensure-redirect-uri-in-authorization-request" => {
            Box::pin(errors::redirect_uri_in_authorization_request(ctx))
        }
        "oidcc-rp-initiated-logout" => Box::pin(logout::rp_initiated_logout(ctx)),
        "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri" => Box::pin(logout::bad_post_logout_redirect_uri(ctx)),
        "oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri" => {
            Box::pin(logout::query_added_to_post_logout_redirect_uri(ctx))
        }
        "oidcc-rp-initiated-logout-modified-id-token-hint" => Box::pin(logout::modified_id_token_hint(ctx)),
        "oidcc-rp-initiated-logout-no-id-token-hint" => Box::pin(logout::no_id_token_hint(ctx)),
        "oidcc-rp-initiated-logout-no-params" => Box::pin(logout::no_params(ctx)),
        "oidcc-rp-initiated-logout-no-state" => Box::pin(logout::no_state(ctx)),
        "oidcc-rp-initiated-logout-only-state" => Box::pin(logout::only_state(ctx)),
        "oidcc-rp-initiated-logout-no-post-logout-redirect-uri" => Box::pin(logout::no_post_logout_redirect_uri(ctx)),
        "oidcc-rp-initiated-logout-bad-id-token-hint" => Box::pin(logout::bad_id_token_hint(ctx)),
        "oidcc-backchannel-rp-initiated-logout" => Box::pin(backchannel::backchannel_rp_initiated_logout(ctx)),
        "oidcc-registration-jwks-uri" => Box::pin(dynamic::registration_jwks_uri(ctx)),
        "oidcc-registration-sector-uri" => Box::pin(dynamic::registration_sector_uri(ctx)),
        "oidcc-registration-sector-bad" => Box::pin(dynamic::registration_sector_bad(ctx)),
        "oidcc-redirect-uri-query-OK" => Box::pin(dynamic::redirect_uri_query_ok(ctx)),
        "oidcc-redirect-uri-query-mismatch" => Box::pin(dynamic::redirect_uri_query_mismatch(ctx)),
        "oidcc-redirect-uri-query-added" => Box::pin(dynamic::redirect_uri_query_added(ctx)),
        "oidcc-registration-logo-uri" => Box::pin(dynamic::registration_with_uri(ctx, "logo_uri", "/logo.png")),
        "oidcc-registration-policy-uri" => Box::pin(dynamic::registration_with_uri(ctx, "policy_uri", "/policy.html")),
        "oidcc-registration-tos-uri" => Box::pin(dynamic::registration_with_uri(ctx, "tos_uri", "/tos.html")),
        "oidcc-server-rotate-keys" => Box::pin(dynamic::server_rotate_keys(ctx)),
        other => {
            let msg = format!("unknown check {other}");
            Box::pin(async move { fail(msg) })
        }
    }
}
