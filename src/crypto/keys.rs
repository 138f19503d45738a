//! Signing keys: loaded from the keys folder as PKCS#8 PEM (`es256.pem`, `rs256.pem`),
//! parsed once into ring key pairs for the hot path, and published as a JWK Set whose
//! bytes and ETag are computed once. Development keys are generated when the folder is
//! empty and generation is allowed, with a loud warning.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

use super::CryptoError;
use crate::protocol::client::SigningAlg;

/// A parsed key pair.
enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// One signing key.
pub struct SigningKey {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// Algorithm.
    pub alg: SigningAlg,
    pair: Pair,
    public_der: Vec<u8>,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Signs `msg` (the JWS signing input) into the JWS signature bytes.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ec(kp) => kp.sign(&rng, msg).map(|s| s.as_ref().to_vec()).map_err(|_| CryptoError::Sign),
            Pair::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public().modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig).map_err(|_| CryptoError::Sign)?;
                Ok(sig)
            }
        }
    }

    /// Verifies a JWS signature made by this key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let alg: &dyn signature::VerificationAlgorithm = match self.alg {
            SigningAlg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            SigningAlg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        signature::UnparsedPublicKey::new(alg, &self.public_der).verify(msg, sig).is_ok()
    }

    /// The public JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }
}

/// The server's signing keys.
pub struct KeySet {
    keys: Vec<SigningKey>,
    jwks: Vec<u8>,
    etag: String,
    /// Whether these are generated development keys.
    pub development: bool,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("keys", &self.keys).field("development", &self.development).finish()
    }
}

fn file_for(dir: &Path, alg: SigningAlg) -> PathBuf {
    dir.join(match alg {
        SigningAlg::ES256 => "es256.pem",
        SigningAlg::RS256 => "rs256.pem",
    })
}

fn pem_to_der(pem: &str) -> Result<Vec<u8>, CryptoError> {
    if !pem.contains("-----BEGIN PRIVATE KEY-----") {
        return Err(CryptoError::Keys("expected a PKCS#8 PEM (BEGIN PRIVATE KEY)".into()));
    }
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    STANDARD.decode(body).map_err(|_| CryptoError::Keys("PEM body is not base64".into()))
}

fn der_to_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

fn generate(alg: SigningAlg) -> Result<Vec<u8>, CryptoError> {
    match alg {
        SigningAlg::ES256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| CryptoError::Keys("EC key generation failed".into()))?;
            Ok(doc.as_ref().to_vec())
        }
        SigningAlg::RS256 => {
            // ring cannot generate RSA keys; the rsa crate is used for generation only,
            // every private-key operation afterwards goes through ring.
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                .map_err(|_| CryptoError::Keys("RSA key generation failed".into()))?;
            let doc = key.to_pkcs8_der().map_err(|_| CryptoError::Keys("RSA key encoding failed".into()))?;
            Ok(doc.as_bytes().to_vec())
        }
    }
}

fn write_private(path: &Path, contents: &str) -> Result<(), CryptoError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| CryptoError::Keys(format!("{}: {e}", path.display())))?;
    f.write_all(contents.as_bytes()).map_err(|e| CryptoError::Keys(format!("{}: {e}", path.display())))
}

fn thumbprint(canonical: &Value) -> String {
    URL_SAFE_NO_PAD.encode(super::digest::sha256(canonical.to_string().as_bytes()))
}

fn parse(alg: SigningAlg, der: &[u8]) -> Result<SigningKey, CryptoError> {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let (pair, public_der, canonical) = match alg {
        SigningAlg::ES256 => {
            let kp = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
                .map_err(|_| CryptoError::Keys("es256.pem is not a P-256 PKCS#8 key".into()))?;
            let point = kp.public_key().as_ref().to_vec();
            let (x, y) = match point.as_slice() {
                [4, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                _ => return Err(CryptoError::Keys("unexpected EC public key encoding".into())),
            };
            // RFC 7638 §3.2: members in lexicographic order, no whitespace.
            let canonical = json!({"crv": "P-256", "kty": "EC", "x": b64(x), "y": b64(y)});
            (Pair::Ec(kp), point, canonical)
        }
        SigningAlg::RS256 => {
            let kp = RsaKeyPair::from_pkcs8(der)
                .map_err(|_| CryptoError::Keys("rs256.pem is not an RSA PKCS#8 key".into()))?;
            let comps: signature::RsaPublicKeyComponents<Vec<u8>> = kp.public().into();
            let (n, e) = (comps.n, comps.e);
            let public_der = kp.public().as_ref().to_vec();
            let canonical = json!({"e": b64(&e), "kty": "RSA", "n": b64(&n)});
            (Pair::Rsa(kp), public_der, canonical)
        }
    };
    let kid = thumbprint(&canonical);
    let mut jwk = canonical;
    if let Some(o) = jwk.as_object_mut() {
        o.insert("kid".into(), kid.clone().into());
        o.insert("use".into(), "sig".into());
        o.insert("alg".into(), alg.as_str().into());
    }
    Ok(SigningKey { kid, alg, pair, public_der, jwk })
}

impl KeySet {
    /// Loads `es256.pem` and `rs256.pem` from `dir`, generating missing ones when
    /// `allow_generate` (development), and refusing to start otherwise.
    pub fn load_or_generate(dir: &Path, allow_generate: bool) -> Result<KeySet, CryptoError> {
        let mut keys = Vec::new();
        let mut generated = false;
        for alg in SigningAlg::ALL {
            let path = file_for(dir, alg);
            let der = match std::fs::read_to_string(&path) {
                Ok(pem) => pem_to_der(&pem).map_err(|e| CryptoError::Keys(format!("{}: {e}", path.display())))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && allow_generate => {
                    std::fs::create_dir_all(dir).map_err(|e| CryptoError::Keys(format!("{}: {e}", dir.display())))?;
                    let der = generate(alg)?;
                    write_private(&path, &der_to_pem(&der))?;
                    generated = true;
                    der
                }
                Err(e) => {
                    return Err(CryptoError::Keys(format!(
                        "{}: {e} (put a PKCS#8 PEM key there, or allow development keys with DINHDANH_DEV_KEYS=true)",
                        path.display()
                    )));
                }
            };
            keys.push(parse(alg, &der)?);
        }
        let marker = dir.join("DEVELOPMENT-KEYS");
        if generated {
            let _ =
                std::fs::write(&marker, "These keys were generated for development. Never use them in production.\n");
        }
        let development = marker.exists();
        Ok(Self::from_keys(keys, development))
    }

    fn from_keys(keys: Vec<SigningKey>, development: bool) -> KeySet {
        let jwks = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}).to_string().into_bytes();
        let etag = format!("\"{}\"", &URL_SAFE_NO_PAD.encode(super::digest::sha256(&jwks))[..16]);
        KeySet { keys, jwks, etag, development }
    }

    /// The key that signs with `alg`.
    pub fn signer(&self, alg: SigningAlg) -> Result<&SigningKey, CryptoError> {
        self.keys.iter().find(|k| k.alg == alg).ok_or_else(|| CryptoError::Keys(format!("no {} key", alg.as_str())))
    }

    /// The key with id `kid`.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Every key.
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The serialized public JWK Set.
    pub fn jwks_bytes(&self) -> &[u8] {
        &self.jwks
    }

    /// A strong ETag of the JWK Set.
    pub fn jwks_etag(&self) -> &str {
        &self.etag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_then_reload_gives_same_kids_and_private_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(KeySet::load_or_generate(dir.path(), false).is_err());
        let a = KeySet::load_or_generate(dir.path(), true).unwrap();
        assert!(a.development);
        let b = KeySet::load_or_generate(dir.path(), false).unwrap();
        let kids = |k: &KeySet| k.keys().iter().map(|k| k.kid.clone()).collect::<Vec<_>>();
        assert_eq!(kids(&a), kids(&b));
        let jwks: Value = serde_json::from_slice(a.jwks_bytes()).unwrap();
        let text = jwks.to_string();
        assert!(!text.contains("\"d\""), "private parts must not be published");
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("es256.pem")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0);
        }
        for k in a.keys() {
            let sig = k.sign(b"msg").unwrap();
            assert!(b.find(&k.kid).unwrap().verify(b"msg", &sig));
            assert!(!k.verify(b"other", &sig));
        }
    }
}
