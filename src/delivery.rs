//! Outbound deliveries to clients: the HTTP side of back-channel logout (a form POST of
//! the logout token with a short timeout, no redirects followed).

use std::time::Duration;

use async_trait::async_trait;

use crate::flows::logout::LogoutNotifier;

/// Posts logout tokens over HTTP.
#[derive(Debug, Clone)]
pub struct HttpNotifier {
    client: reqwest::Client,
}

impl HttpNotifier {
    /// A notifier whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("dinhdanh back-channel logout")
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client })
    }
}

#[async_trait]
impl LogoutNotifier for HttpNotifier {
    async fn post_logout_token(&self, uri: &str, logout_token: &str) -> Result<(), String> {
        let response = self.client.post(uri).form(&[("logout_token", logout_token)]).send().await.map_err(|e| {
            if e.is_timeout() {
                "timeout".to_owned()
            } else if e.is_connect() {
                "connection failed".to_owned()
            } else {
                "request failed".to_owned()
            }
        })?;
        // Back-Channel Logout §2.8: 200 (or 204) means the RP logged the session out.
        match response.status().as_u16() {
            200 | 204 => Ok(()),
            s => Err(format!("HTTP {s}")),
        }
    }
}
