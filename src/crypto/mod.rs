//! The only module that touches key material, JOSE, password hashing and randomness:
//! signing keys and the JWKS view, their sealing at rest, JWT signing and verification,
//! argon2id off the async runtime, opaque tokens and their digests, pairwise subjects.

pub mod assertion;
pub mod client_secret;
pub mod hash_pool;
pub mod jwt;
pub mod keys;
pub mod opaque;
pub mod password;
pub mod seal;
pub mod totp;
pub mod upstream_jwt;

/// Digests that are not secrets themselves (PKCE, token digests, `at_hash`).
pub mod digest {
    /// SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> [u8; 32] {
        let d = ring::digest::digest(&ring::digest::SHA256, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Errors of the crypto layer. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Keys could not be read, parsed or written.
    #[error("signing keys: {0}")]
    Keys(String),
    /// Signing failed.
    #[error("signing failed")]
    Sign,
    /// A JWT is malformed or its signature does not verify.
    #[error("invalid JWT: {0}")]
    InvalidJwt(&'static str),
    /// Password hashing failed.
    #[error("password hashing failed")]
    Hash,
    /// Every password hasher is busy and the wait queue is full.
    #[error("password hashing is saturated; try again shortly")]
    Busy,
}
