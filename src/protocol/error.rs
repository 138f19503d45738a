//! The OAuth 2.0 / OpenID Connect error vocabulary. An [`OAuthError`] keeps the RFC error
//! code and a client-safe description apart from internal detail, which is only logged.

use std::fmt;

/// Error codes of RFC 6749 §4.1.2.1 / §5.2, RFC 6750 §3.1, OIDC Core §3.1.2.6 and the
/// OpenID Connect Unmet Authentication Requirements spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// The grant (code, verifier, redirect URI binding) is invalid.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The response type is not supported.
    UnsupportedResponseType,
    /// The requested scope is invalid.
    InvalidScope,
    /// The person or the server refused the request.
    AccessDenied,
    /// An unexpected condition.
    ServerError,
    /// Temporarily unable to handle the request.
    TemporarilyUnavailable,
    /// `prompt=none` but the person must sign in.
    LoginRequired,
    /// `prompt=none` but consent is needed.
    ConsentRequired,
    /// OIDC Core §3.1.2.6: the person must choose an account (here: whom they act for).
    AccountSelectionRequired,
    /// `prompt=none` but some interaction is needed.
    InteractionRequired,
    /// `request` objects are not supported.
    RequestNotSupported,
    /// `request_uri` is not supported.
    RequestUriNotSupported,
    /// The requested (essential) authentication context cannot be met.
    UnmetAuthenticationRequirements,
    /// RFC 6750: the access token is invalid, expired or revoked.
    InvalidToken,
    /// RFC 6750: the token lacks the scope the resource requires.
    InsufficientScope,
    /// RFC 8707: the `resource` is not acceptable.
    InvalidTarget,
    /// RFC 7009: the server cannot revoke this type of token.
    UnsupportedTokenType,
}

impl ErrorCode {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
        }
    }
}

/// An error as the protocol reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The RFC error code.
    pub code: ErrorCode,
    /// A description safe to show to the client (`error_description`).
    pub description: String,
}

impl OAuthError {
    /// An error with a client-safe description.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }

    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `server_error`; the cause is logged by the caller, never shown.
    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "the server could not complete the request")
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}
