//! Password hashing with argon2id, always on the hash pool's own lower-priority threads
//! ([`super::hash_pool`]) and never more at once than the configured concurrency, so a
//! login flood can neither starve the async runtime nor crowd out token traffic. At most
//! `queue` callers wait for a turn; beyond that the hasher answers [`HasherBusy`] at once,
//! so a flood gets a quick "try again" instead of an ever longer wait. Unknown accounts
//! are checked against a dummy hash so timing does not reveal which exist.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use super::CryptoError;
use super::hash_pool::{DEFAULT_NICE, HashPool};

/// Longest password accepted, in bytes; longer ones are refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The argon2id hasher shared by the server.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    pool: HashPool,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
    dummy: Arc<OnceCell<String>>,
}

/// Every hasher is busy and the wait queue is full: the caller should answer "try again
/// shortly" (503 with `Retry-After`), not "wrong password".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is saturated")]
pub struct HasherBusy;

/// Counts one waiter while alive (also when the wait is cancelled).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("m_cost", &self.params.m_cost()).finish()
    }
}

impl PasswordHasher {
    /// A hasher with memory `m_kib`, `t` iterations, one lane, at most `concurrency` at once
    /// on threads [`DEFAULT_NICE`] steps below normal priority, and an unbounded wait queue
    /// (see [`PasswordHasher::with_queue`]).
    pub fn new(m_kib: u32, t: u32, concurrency: usize) -> Result<Self, CryptoError> {
        Self::with_nice(m_kib, t, concurrency, DEFAULT_NICE)
    }

    /// Like [`PasswordHasher::new`], with the hashing threads `nice` steps (0..=19) below
    /// the priority of the thread that creates the hasher.
    pub fn with_nice(m_kib: u32, t: u32, concurrency: usize, nice: i32) -> Result<Self, CryptoError> {
        let params = Params::new(m_kib, t, 1, None).map_err(|_| CryptoError::Hash)?;
        let pool = HashPool::start(concurrency.max(1), nice).map_err(|_| CryptoError::Hash)?;
        Ok(Self {
            params,
            pool,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue: usize::MAX,
            dummy: Arc::new(OnceCell::new()),
        })
    }

    /// Lets at most `queue` callers wait for a hasher; more get [`HasherBusy`] at once.
    pub fn with_queue(mut self, queue: usize) -> Self {
        self.queue = queue;
        self
    }

    /// Callers waiting for a hasher now (for metrics and tests).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, HasherBusy> {
        if let Ok(p) = self.permits.clone().try_acquire_owned() {
            return Ok(p);
        }
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(self.waiting.clone());
        if queued >= self.queue {
            return Err(HasherBusy);
        }
        self.permits.clone().acquire_owned().await.map_err(|_| HasherBusy)
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Runs `f` on the hash pool holding a permit; the permit goes with the work, so a
    /// caller that gives up (a timed-out request) does not free it while argon2 runs.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Result<T, CryptoError>, HasherBusy> {
        let permit = self.permit().await?;
        Ok(self
            .pool
            .run(move || {
                let _permit = permit;
                f()
            })
            .await
            .map_err(|_| CryptoError::Hash))
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, CryptoError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(CryptoError::Hash);
        }
        let params = self.params.clone();
        self.blocking(move || Self::argon2(params).hash_password(password.as_bytes()).map(|h| h.to_string()))
            .await
            .map_err(|_| CryptoError::Busy)??
            .map_err(|_| CryptoError::Hash)
    }

    /// Whether `password` matches `stored`; `false` also when the hasher is saturated (use
    /// [`PasswordHasher::check`] to tell the two apart). With no stored hash (unknown
    /// account) a dummy hash is checked so the answer takes as long, and is `false`.
    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        self.check(password, stored).await.unwrap_or(false)
    }

    /// Like [`PasswordHasher::verify`], but a saturated hasher is [`HasherBusy`], never
    /// a wrong password.
    pub async fn check(&self, password: String, stored: Option<String>) -> Result<bool, HasherBusy> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => match self.dummy_hash().await {
                Ok(Some(d)) => (d, false),
                Ok(None) => return Ok(false),
                Err(busy) => return Err(busy),
            },
        };
        let ok = self.blocking(move || verify_in_scratch(password.as_bytes(), &hash)).await?.unwrap_or(false);
        Ok(ok && real)
    }

    async fn dummy_hash(&self) -> Result<Option<String>, HasherBusy> {
        match self.dummy.get_or_try_init(|| self.hash(super::opaque::random_token())).await {
            Ok(d) => Ok(Some(d.clone())),
            Err(CryptoError::Busy) => Err(HasherBusy),
            Err(_) => Ok(None),
        }
    }
}

/// Checks `password` against the PHC string `stored` (any argon2 variant, version and
/// parameters it names), computing in this thread's reused working memory
/// ([`super::hash_pool::with_scratch`]) rather than a fresh allocation, and comparing
/// the outputs in constant time. A string that does not parse never matches.
fn verify_in_scratch(password: &[u8], stored: &str) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else { return false };
    let version = match phc.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&phc) else { return false };
    let argon = Argon2::new(algorithm, version, params);
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let Some(out) = buffer.get_mut(..expected.len()) else { return false };
    let blocks = argon.params().block_count();
    let computed = super::hash_pool::with_scratch(blocks, |memory| {
        argon.hash_password_into_with_memory(password, salt.as_ref(), out, memory)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok() && Output::new(out).is_ok_and(|o| o == *expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifying_in_reused_memory_agrees_with_the_crate_for_every_variant() {
        use argon2::PasswordVerifier as _;
        let cases = [
            (Algorithm::Argon2id, Version::V0x13, Params::new(8 * 1024, 2, 1, None).unwrap()),
            (Algorithm::Argon2id, Version::V0x13, Params::new(4 * 1024, 3, 2, Some(16)).unwrap()),
            (Algorithm::Argon2i, Version::V0x13, Params::new(1024, 2, 1, None).unwrap()),
            (Algorithm::Argon2d, Version::V0x10, Params::new(2048, 1, 1, Some(48)).unwrap()),
        ];
        for (alg, ver, params) in cases {
            let argon = Argon2::new(alg, ver, params);
            let stored = argon.hash_password("mật khẩu".as_bytes()).unwrap().to_string();
            // The same memory serves one string after another (dirty from the last).
            for _ in 0..2 {
                assert!(verify_in_scratch("mật khẩu".as_bytes(), &stored), "{stored}");
                assert!(!verify_in_scratch(b"mat khau", &stored), "{stored}");
                assert!(argon.verify_password("mật khẩu".as_bytes(), stored.as_str()).is_ok());
            }
        }
        for bad in ["", "$argon2id$v=19$m=8192,t=2,p=1$c2FsdHNhbHQ", "$pbkdf2$i=1$c2FsdHNhbHQ$aGFzaA", "not a phc"] {
            assert!(!verify_in_scratch(b"x", bad), "{bad}");
        }
    }

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_at_once_and_drains() {
        // One hasher, one waiter: of many concurrent checks, the extra ones are refused
        // without waiting, and the hasher serves again once the flood is over.
        let h = PasswordHasher::new(32 * 1024, 3, 1).unwrap().with_queue(1);
        let stored = h.hash("pw".into()).await.unwrap();
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (h, stored) = (h.clone(), stored.clone());
                tokio::spawn(async move { h.check("pw".into(), Some(stored)).await })
            })
            .collect();
        let mut ok = 0;
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(true) => ok += 1,
                Ok(false) => panic!("a right password was refused"),
                Err(HasherBusy) => busy += 1,
            }
        }
        assert!(ok >= 2 && busy >= 1, "ok {ok}, busy {busy}");
        assert_eq!(h.waiting(), 0);
        assert!(h.check("pw".into(), Some(stored.clone())).await.unwrap());
        assert!(!h.verify("wrong".into(), Some(stored)).await);
    }
}
