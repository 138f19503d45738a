//! Opaque random values (codes, session ids, secrets, CSRF tokens) and the digests under
//! which they are stored: the raw value is never persisted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

use super::digest::sha256;

/// `n` random bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // SystemRandom reads the OS generator. If the OS cannot give randomness there is no
    // secure fallback: stop rather than hand out predictable tokens.
    if SystemRandom::new().fill(&mut b).is_err() {
        tracing::error!("the operating system random generator failed; stopping");
        std::process::abort();
    }
    b
}

/// A 256-bit random token, base64url without padding (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// The storage key of a token: base64url SHA-256 of its bytes.
pub fn token_digest(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(token.as_bytes()))
}

/// Whether `presented` hashes to `stored_digest`, compared in constant time.
pub fn verify_digest(presented: &str, stored_digest: &str) -> bool {
    super::constant_time_eq(token_digest(presented).as_bytes(), stored_digest.as_bytes())
}

/// OIDC Core §8.1: a pairwise subject, HMAC-SHA-256 over sector and local id with a
/// per-installation salt, so it is stable per sector and unlinkable across sectors.
pub fn pairwise_subject(salt: &[u8], sector: &str, local_id: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, salt);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(sector.as_bytes());
    ctx.update(&[0]);
    ctx.update(local_id.as_bytes());
    URL_SAFE_NO_PAD.encode(ctx.sign().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_digests() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        let d = token_digest(&a);
        assert!(verify_digest(&a, &d));
        assert!(!verify_digest("other", &d));
    }

    #[test]
    fn pairwise_is_per_sector() {
        let s = b"salt-salt-salt-salt-salt-salt-32";
        let a = pairwise_subject(s, "portal.tinh.gov.vn", "p1");
        assert_eq!(a, pairwise_subject(s, "portal.tinh.gov.vn", "p1"));
        assert_ne!(a, pairwise_subject(s, "motcua.tinh.gov.vn", "p1"));
        assert_ne!(a, pairwise_subject(s, "portal.tinh.gov.vn", "p2"));
        assert_ne!(a, pairwise_subject(b"other", "portal.tinh.gov.vn", "p1"));
    }
}
