//! Compact JWS (RFC 7515) signing with the parsed keys of [`KeySet`] (ES256, RS256,
//! PS256, EdDSA), and verification of tokens this server signed (ID token hints, access
//! tokens) against every key it publishes, so tokens signed before a rotation keep
//! verifying until their key leaves the JWKS. Claims are checked by the caller; this
//! module only answers "did one of our keys sign exactly these bytes".

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::CryptoError;
use super::keys::KeySet;
use crate::protocol::client::SigningAlg;

/// JWS `typ` of ID tokens.
pub const TYP_JWT: &str = "JWT";
/// RFC 9068 §2.1: `typ` of JWT access tokens.
pub const TYP_ACCESS_TOKEN: &str = "at+jwt";

/// Signs `claims` with the key for `alg`, with the given `typ` header.
pub fn sign(keys: &KeySet, alg: SigningAlg, typ: &str, claims: &Value) -> Result<String, CryptoError> {
    let snapshot = keys.current();
    let key = snapshot.signer(alg)?;
    let header = json!({"alg": alg.as_str(), "typ": typ, "kid": key.kid});
    let mut out = String::with_capacity(512);
    out.push_str(&URL_SAFE_NO_PAD.encode(header.to_string()));
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(sig));
    Ok(out)
}

/// The `kid` of a compact JWS header, unverified (`None` for anything that is not a
/// three-part JWS with a kid).
pub fn header_kid(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (Some(h), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    header["kid"].as_str().map(str::to_owned)
}

/// A verified token: its header and claims.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The JOSE header.
    pub header: Value,
    /// The claims.
    pub claims: Value,
}

/// Verifies that one of our keys signed `token`, with the `alg` the key is for, and, when
/// `typ` is given, that the header says so (RFC 8725 §3.11: explicit typing).
pub fn verify(keys: &KeySet, token: &str, typ: Option<&str>) -> Result<Verified, CryptoError> {
    if token.len() > 16 * 1024 {
        return Err(CryptoError::InvalidJwt("too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(CryptoError::InvalidJwt("not a compact JWS"));
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| CryptoError::InvalidJwt("bad base64url"));
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| CryptoError::InvalidJwt("bad header"))?;
    let kid = header["kid"].as_str().ok_or(CryptoError::InvalidJwt("no kid"))?;
    let snapshot = keys.current();
    let key = snapshot.find(kid).ok_or(CryptoError::InvalidJwt("unknown kid"))?;
    if header["alg"].as_str() != Some(key.alg.as_str()) {
        return Err(CryptoError::InvalidJwt("alg does not match the key"));
    }
    if let Some(t) = typ
        && header["typ"].as_str() != Some(t)
    {
        return Err(CryptoError::InvalidJwt("wrong typ"));
    }
    let signing_input_len = h.len() + 1 + c.len();
    let signing_input = token.get(..signing_input_len).ok_or(CryptoError::InvalidJwt("not a compact JWS"))?;
    if !key.verify(signing_input.as_bytes(), &decode(s)?) {
        return Err(CryptoError::InvalidJwt("signature does not verify"));
    }
    let claims: Value = serde_json::from_slice(&decode(c)?).map_err(|_| CryptoError::InvalidJwt("bad claims"))?;
    if !claims.is_object() {
        return Err(CryptoError::InvalidJwt("claims are not an object"));
    }
    Ok(Verified { header, claims })
}

/// OIDC Core §3.1.3.6 `at_hash` (and `c_hash`): the left half of the hash of the token's
/// ASCII bytes, with the hash of the signing alg: SHA-256 for ES256, RS256 and PS256;
/// SHA-512 for EdDSA with Ed25519 (OIDC Core errata set 2, as RP libraries compute it).
pub fn left_half_hash(value: &str, alg: SigningAlg) -> String {
    match alg {
        SigningAlg::EdDSA => {
            let d = ring::digest::digest(&ring::digest::SHA512, value.as_bytes());
            URL_SAFE_NO_PAD.encode(&d.as_ref()[..32])
        }
        SigningAlg::ES256 | SigningAlg::RS256 | SigningAlg::PS256 => {
            let d = super::digest::sha256(value.as_bytes());
            URL_SAFE_NO_PAD.encode(&d[..16])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeySet::load_or_generate(dir.path(), true).unwrap();
        for alg in SigningAlg::ALL {
            let t = sign(&keys, alg, TYP_JWT, &json!({"sub": "a", "n": 1})).unwrap();
            let v = verify(&keys, &t, Some(TYP_JWT)).unwrap();
            assert_eq!(v.claims["sub"], "a");
            assert_eq!(v.header["alg"], alg.as_str());
            assert!(verify(&keys, &t, Some(TYP_ACCESS_TOKEN)).is_err());
            // Change the claims but keep the signature.
            let mut parts: Vec<&str> = t.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(json!({"sub": "b", "n": 1}).to_string());
            parts[1] = &forged;
            assert!(verify(&keys, &parts.join("."), None).is_err());
            assert!(verify(&keys, "a.b", None).is_err());
            assert!(verify(&keys, &format!("{t}.x"), None).is_err());
        }
        // alg=none is never accepted.
        let none =
            format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"x"}"#), URL_SAFE_NO_PAD.encode("{}"));
        assert!(verify(&keys, &none, None).is_err());
    }

    #[test]
    fn at_hash_is_the_left_half_of_sha256() {
        // SHA-256("") = e3b0c442 98fc1c14 9afbf4c8 996fb924 …; its first 16 bytes, base64url.
        assert_eq!(left_half_hash("", SigningAlg::RS256), "47DEQpj8HBSa-_TImW-5JA");
        assert_eq!(left_half_hash("", SigningAlg::PS256), "47DEQpj8HBSa-_TImW-5JA");
        // SHA-512("") = cf83e135 7eefb8bd f1542850 d66d8007 d620e405 0b5715dc 83f4a921 d36ce9ce …
        let expected = URL_SAFE_NO_PAD.encode([
            0xcf, 0x83, 0xe1, 0x35, 0x7e, 0xef, 0xb8, 0xbd, 0xf1, 0x54, 0x28, 0x50, 0xd6, 0x6d, 0x80, 0x07, 0xd6, 0x20,
            0xe4, 0x05, 0x0b, 0x57, 0x15, 0xdc, 0x83, 0xf4, 0xa9, 0x21, 0xd3, 0x6c, 0xe9, 0xce,
        ]);
        assert_eq!(left_half_hash("", SigningAlg::EdDSA), expected);
    }

    #[test]
    fn a_key_that_no_longer_signs_still_verifies_until_unpublished() {
        use super::super::keys::{KeySnapshot, SigningKey, generate};
        use std::sync::Arc;
        let key = |alg| Arc::new(SigningKey::from_pkcs8(alg, &generate(alg, 2048).unwrap()).unwrap());
        let (old, new) = (key(SigningAlg::EdDSA), key(SigningAlg::EdDSA));
        let keys = KeySet::new(KeySnapshot::new(vec![(old.clone(), true), (new.clone(), false)]), None, false);
        let before = sign(&keys, SigningAlg::EdDSA, TYP_JWT, &json!({"n": 1})).unwrap();
        assert_eq!(verify(&keys, &before, None).unwrap().header["kid"], old.kid.as_str());
        keys.replace(KeySnapshot::new(vec![(new.clone(), true), (old.clone(), false)]));
        let after = sign(&keys, SigningAlg::EdDSA, TYP_JWT, &json!({"n": 2})).unwrap();
        assert_eq!(verify(&keys, &after, None).unwrap().header["kid"], new.kid.as_str());
        assert!(verify(&keys, &before, None).is_ok(), "retired but published");
        keys.replace(KeySnapshot::new(vec![(new.clone(), true)]));
        assert!(verify(&keys, &before, None).is_err(), "removed");
    }
}
