//! Outbound deliveries to clients: the HTTP side of back-channel logout — a form POST of
//! the logout token under `outbound`'s rules (https, public addresses only unless
//! `DINHDANH_ALLOW_PRIVATE_FETCH`, the checked address pinned, no redirects, a deadline).

use async_trait::async_trait;

use crate::flows::logout::LogoutNotifier;
use crate::outbound::{FetchError, FetchLimits, post_form};

/// Posts logout tokens over HTTP.
#[derive(Debug, Clone, Copy)]
pub struct HttpNotifier {
    limits: FetchLimits,
}

impl HttpNotifier {
    /// A notifier that dials only what `limits` allow.
    pub fn new(limits: FetchLimits) -> Self {
        Self { limits }
    }
}

#[async_trait]
impl LogoutNotifier for HttpNotifier {
    async fn post_logout_token(&self, uri: &str, logout_token: &str) -> Result<(), String> {
        match post_form(uri, &[("logout_token", logout_token)], &self.limits).await {
            // Back-Channel Logout §2.8: 200 (or 204) means the RP logged the session out.
            Ok(200 | 204) => Ok(()),
            Ok(status) => Err(format!("HTTP {status}")),
            Err(FetchError::Forbidden) => Err("forbidden target".to_owned()),
            Err(FetchError::Timeout) => Err("timeout".to_owned()),
            Err(e) => Err(e.to_string()),
        }
    }
}
