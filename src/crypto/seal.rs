//! Encryption at rest of private signing keys. A key-encryption key (KEK, 32 bytes from
//! configuration) seals each PKCS#8 document with AES-256-GCM (ring::aead): a fresh
//! random 96-bit nonce per seal, and the key id as associated data, so a sealed key
//! copied onto another row does not open. The database never holds a private key in
//! clear, and a database dump without the KEK forges nothing.
//!
//! Sealed layout: `0x01` (version) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes).
//!
//! In development (no KEK configured, development keys allowed) a KEK is generated once
//! into the keys folder (`DEVELOPMENT-KEK`), beside the `DEVELOPMENT-KEYS` marker.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::CryptoError;
use super::opaque::random_bytes;

/// Version byte of the sealed layout.
const VERSION: u8 = 1;
/// File name of the generated development KEK, in the keys folder.
pub const DEV_KEK_FILE: &str = "DEVELOPMENT-KEK";
/// File name of the marker that says the keys folder holds development material.
pub const DEV_MARKER_FILE: &str = "DEVELOPMENT-KEYS";

/// A key-encryption key.
#[derive(Clone)]
pub struct Kek {
    key: LessSafeKey,
    id: String,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kek").field("id", &self.id).finish_non_exhaustive()
    }
}

fn aad(kid: &str) -> Vec<u8> {
    let mut a = b"dinhdanh signing key v1\0".to_vec();
    a.extend_from_slice(kid.as_bytes());
    a
}

impl Kek {
    /// A KEK from its 32 raw bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<Kek, CryptoError> {
        if raw.len() != 32 {
            return Err(CryptoError::Keys("a key-encryption key is exactly 32 bytes".into()));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, raw)
            .map_err(|_| CryptoError::Keys("the key-encryption key is not an AES-256 key".into()))?;
        // A public fingerprint (domain-separated hash) to tell KEKs apart in errors and
        // rows; it reveals nothing usable about the key.
        let mut tagged = b"dinhdanh kek id\0".to_vec();
        tagged.extend_from_slice(raw);
        let id = URL_SAFE_NO_PAD.encode(&super::digest::sha256(&tagged)[..9]);
        Ok(Kek { key: LessSafeKey::new(unbound), id })
    }

    /// A KEK from base64 text (standard or URL-safe alphabet, padding optional,
    /// surrounding whitespace ignored). `source` names the setting in errors.
    pub fn from_base64(text: &str, source: &str) -> Result<Kek, CryptoError> {
        let t = text.trim();
        let raw = STANDARD
            .decode(t)
            .or_else(|_| URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')))
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(t.trim_end_matches('=')))
            .map_err(|_| {
                CryptoError::Keys(format!("{source}: not base64 (make one with `openssl rand -base64 32`)"))
            })?;
        if raw.len() != 32 {
            return Err(CryptoError::Keys(format!(
                "{source}: decodes to {} bytes, a key-encryption key is 32 (openssl rand -base64 32)",
                raw.len()
            )));
        }
        Self::from_bytes(&raw)
    }

    /// A KEK from a file holding its base64 text. Warns when others may read the file.
    pub fn from_file(path: &Path) -> Result<Kek, CryptoError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CryptoError::Keys(format!("key-encryption key file {}: {e}", path.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(m) = std::fs::metadata(path)
                && m.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(file = %path.display(), "the key-encryption key file is readable by group or others: chmod 600 it");
            }
        }
        Self::from_base64(&text, &format!("key-encryption key file {}", path.display()))
    }

    /// The development KEK of `dir`: read from `DEVELOPMENT-KEK`, or generated there
    /// (mode 0600) with the `DEVELOPMENT-KEYS` marker. Never for production.
    pub fn development(dir: &Path) -> Result<Kek, CryptoError> {
        let path = dir.join(DEV_KEK_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => return Self::from_base64(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CryptoError::Keys(format!("{}: {e}", path.display()))),
        }
        std::fs::create_dir_all(dir).map_err(|e| CryptoError::Keys(format!("{}: {e}", dir.display())))?;
        // Written whole under a temporary name, then linked into place: a concurrent
        // start either links first or reads the complete file the other one linked.
        let tmp = dir.join(format!(".{DEV_KEK_FILE}.{}", URL_SAFE_NO_PAD.encode(random_bytes::<9>())));
        super::keys::write_private(&tmp, &format!("{}\n", STANDARD.encode(random_bytes::<32>())))?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                let _ = std::fs::write(
                    dir.join(DEV_MARKER_FILE),
                    "These keys were generated for development. Never use them in production.\n",
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(CryptoError::Keys(format!("{}: {e}", path.display()))),
        }
        let text = std::fs::read_to_string(&path).map_err(|e| CryptoError::Keys(format!("{}: {e}", path.display())))?;
        Self::from_base64(&text, &path.display().to_string())
    }

    /// The public fingerprint of this KEK (stored beside each sealed key).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plaintext` (a private key document) for the key `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut in_out = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(aad(kid)), &mut in_out)
            .map_err(|_| CryptoError::Keys("sealing a private key failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    /// Opens what [`Kek::seal`] sealed for `kid`. Fails for another KEK, another kid, or
    /// any changed byte.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let cannot =
            || CryptoError::Keys(format!("signing key {kid} does not open with key-encryption key {}", self.id));
        let (version, rest) = sealed.split_first().ok_or_else(cannot)?;
        if *version != VERSION || rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(cannot());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| cannot())?;
        let mut in_out = ciphertext.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(aad(kid)), &mut in_out).map_err(|_| cannot())?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_every_way_it_must_fail() {
        let kek = Kek::from_bytes(&[7u8; 32]).unwrap();
        let other = Kek::from_bytes(&[8u8; 32]).unwrap();
        assert_ne!(kek.id(), other.id());
        let sealed = kek.seal("kid-1", b"private key document").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"private"), "sealed bytes show the plaintext");
        assert_eq!(kek.open("kid-1", &sealed).unwrap(), b"private key document");
        // Fresh nonce per seal.
        assert_ne!(kek.seal("kid-1", b"private key document").unwrap(), sealed);
        assert!(other.open("kid-1", &sealed).is_err(), "wrong KEK");
        assert!(kek.open("kid-2", &sealed).is_err(), "moved to another kid");
        let mut flipped = sealed.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert!(kek.open("kid-1", &flipped).is_err(), "tampered");
        assert!(kek.open("kid-1", &[]).is_err());
        assert!(kek.open("kid-1", &sealed[..10]).is_err());
        let msg = other.open("kid-1", &sealed).unwrap_err().to_string();
        assert!(msg.contains("kid-1") && msg.contains(other.id()), "{msg}");
    }

    #[test]
    fn base64_forms_and_wrong_lengths() {
        let b64 = STANDARD.encode([1u8; 32]);
        let a = Kek::from_base64(&format!("  {b64}\n"), "X").unwrap();
        let b = Kek::from_base64(&URL_SAFE_NO_PAD.encode([1u8; 32]), "X").unwrap();
        assert_eq!(a.id(), b.id());
        let e = Kek::from_base64(&STANDARD.encode([1u8; 16]), "DINHDANH_KEY_ENCRYPTION_KEY").unwrap_err().to_string();
        assert!(e.contains("DINHDANH_KEY_ENCRYPTION_KEY") && e.contains("16 bytes"), "{e}");
        assert!(Kek::from_base64("not base64 at all!", "X").is_err());
        assert!(!format!("{a:?}").contains(&b64));
    }

    #[test]
    fn development_kek_is_generated_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = Kek::development(dir.path()).unwrap();
        let b = Kek::development(dir.path()).unwrap();
        assert_eq!(a.id(), b.id());
        assert!(dir.path().join(DEV_MARKER_FILE).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(DEV_KEK_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0);
        }
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'));
        assert_eq!(leftovers.count(), 0);
    }
}
