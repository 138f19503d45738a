//! Password hashing with argon2id, always on the blocking pool and never more at once than
//! the configured concurrency, so a login flood cannot starve the async runtime. Unknown
//! accounts are checked against a dummy hash so timing does not reveal which exist.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::{OnceCell, Semaphore};

use super::CryptoError;

/// Longest password accepted, in bytes; longer ones are refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The argon2id hasher shared by the server.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    dummy: Arc<OnceCell<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("m_cost", &self.params.m_cost()).finish()
    }
}

impl PasswordHasher {
    /// A hasher with memory `m_kib`, `t` iterations, one lane, at most `concurrency` at once.
    pub fn new(m_kib: u32, t: u32, concurrency: usize) -> Result<Self, CryptoError> {
        let params = Params::new(m_kib, t, 1, None).map_err(|_| CryptoError::Hash)?;
        Ok(Self { params, permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy: Arc::new(OnceCell::new()) })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, CryptoError> {
        let _permit = self.permits.acquire().await.map_err(|_| CryptoError::Hash)?;
        tokio::task::spawn_blocking(f).await.map_err(|_| CryptoError::Hash)
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, CryptoError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(CryptoError::Hash);
        }
        let params = self.params.clone();
        self.blocking(move || Self::argon2(params).hash_password(password.as_bytes()).map(|h| h.to_string()))
            .await?
            .map_err(|_| CryptoError::Hash)
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown account) a dummy
    /// hash is checked so the answer takes as long, and is `false`.
    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        if password.len() > MAX_PASSWORD_BYTES {
            return false;
        }
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => match self.dummy_hash().await {
                Some(d) => (d, false),
                None => return false,
            },
        };
        let params = self.params.clone();
        let ok = self
            .blocking(move || Self::argon2(params).verify_password(password.as_bytes(), hash.as_str()).is_ok())
            .await
            .unwrap_or(false);
        ok && real
    }

    async fn dummy_hash(&self) -> Option<String> {
        self.dummy.get_or_try_init(|| self.hash(super::opaque::random_token())).await.ok().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = PasswordHasher::new(8 * 1024, 1, 2).unwrap();
        let stored = h.hash("mật khẩu đúng".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(h.verify("mật khẩu đúng".into(), Some(stored.clone())).await);
        assert!(!h.verify("sai".into(), Some(stored.clone())).await);
        assert!(!h.verify("mật khẩu đúng".into(), None).await);
        assert!(!h.verify("x".repeat(MAX_PASSWORD_BYTES + 1), Some(stored)).await);
        assert!(h.hash("x".repeat(MAX_PASSWORD_BYTES + 1)).await.is_err());
    }
}
