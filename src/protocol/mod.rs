//! The rule book of OAuth 2.0 and OpenID Connect: pure, synchronous, no IO; `now` is an
//! argument. Request parsing into typed values, redirect-URI rules, PKCE, scopes and
//! claims release, prompt/max_age/acr decisions, client metadata, discovery, and the
//! error vocabulary. Nothing here imports axum, sqlx, redis or tokio.

pub mod acr;
pub mod authorize;
pub mod claim_policy;
pub mod claims;
pub mod client;
pub mod client_assertion;
pub mod discovery;
pub mod error;
pub mod org_claim;
pub mod params;
pub mod pkce;
pub mod prompt;
pub mod redirect_uri;
pub mod scope;
pub mod upstream;
pub mod verified_claims;

pub use error::{ErrorCode, OAuthError};
