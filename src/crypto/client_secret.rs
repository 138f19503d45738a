//! How a client's secret is kept. For `client_secret_basic`/`_post` only a digest: the
//! secret is compared, never needed again. For `client_secret_jwt` the server must
//! recompute the client's HMAC, so the secret is kept sealed under the key-encryption
//! key (AES-256-GCM, the client id as associated data) — never in clear.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::CryptoError;
use super::opaque::token_digest;
use super::seal::Kek;

const SEALED: &str = "sealed:";

fn label(client_id: &str) -> String {
    format!("client-secret:{client_id}")
}

/// The stored form of `secret`: sealed when `recoverable` (the client authenticates with
/// `client_secret_jwt`), else its digest.
pub fn stored_form(client_id: &str, secret: &str, recoverable: bool, kek: Option<&Kek>) -> Result<String, CryptoError> {
    if !recoverable {
        return Ok(token_digest(secret));
    }
    let kek = kek.ok_or_else(|| CryptoError::Keys("client_secret_jwt needs the key-encryption key".into()))?;
    Ok(format!("{SEALED}{}", URL_SAFE_NO_PAD.encode(kek.seal(&label(client_id), secret.as_bytes())?)))
}

/// The secret itself, for verifying a `client_secret_jwt` assertion; `None` when the
/// stored form is a digest or does not open with this KEK for this client.
pub fn open(client_id: &str, stored: &str, kek: &Kek) -> Option<Vec<u8>> {
    let sealed = URL_SAFE_NO_PAD.decode(stored.strip_prefix(SEALED)?).ok()?;
    kek.open(&label(client_id), &sealed).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_unless_recoverable_and_sealed_per_client() {
        let kek = Kek::from_bytes(&[7u8; 32]).unwrap();
        let digest = stored_form("rp", "s3cret-s3cret-s3cret-s3cret-s3cret", false, Some(&kek)).unwrap();
        assert!(!digest.starts_with(SEALED));
        assert!(open("rp", &digest, &kek).is_none());
        let sealed = stored_form("rp", "s3cret-s3cret-s3cret-s3cret-s3cret", true, Some(&kek)).unwrap();
        assert!(!sealed.contains("s3cret"));
        assert_eq!(open("rp", &sealed, &kek).unwrap(), b"s3cret-s3cret-s3cret-s3cret-s3cret");
        assert!(open("other", &sealed, &kek).is_none(), "bound to its client");
        assert!(open("rp", &sealed, &Kek::from_bytes(&[8u8; 32]).unwrap()).is_none(), "bound to the KEK");
        assert!(stored_form("rp", "x", true, None).is_err());
    }
}
