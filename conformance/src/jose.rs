//! The few JOSE operations the `openidconnect` crate does not offer as a
//! whole, built from its key types: signing an arbitrary JWT with a key the
//! runner generates (client assertions for `private_key_jwt`, a forged
//! `id_token_hint`), and verifying an arbitrary JWS (a logout token) against
//! the OP's JWK Set with the crate's `JsonWebKey::verify_signature`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKey, JsonWebKeyId, PrivateSigningKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs1::LineEnding;
use serde_json::{Value, json};

use crate::rp::{error_chain, random};

/// An RS256 key pair made for one check, with its public JWK.
pub(crate) struct RunnerKey {
    key: CoreRsaPrivateSigningKey,
    pub kid: String,
}

impl RunnerKey {
    /// A fresh 2048-bit RSA key with a random `kid`.
    pub(crate) fn generate() -> Result<Self, String> {
        let mut rng = rand::rngs::OsRng;
        let private =
            rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| format!("cannot generate an RSA key: {e}"))?;
        let pem = private.to_pkcs1_pem(LineEnding::LF).map_err(|e| format!("cannot encode the RSA key: {e}"))?;
        let kid = format!("conformance-{}", random(8));
        let key = CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.clone())))?;
        Ok(Self { key, kid })
    }

    /// The public key as a JWK (`kty`, `use`, `kid`, `n`, `e`).
    pub(crate) fn public_jwk(&self) -> Value {
        serde_json::to_value(self.key.as_verification_key()).unwrap_or(Value::Null)
    }

    /// `{"keys": [public JWK]}`.
    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk()] })
    }

    /// A compact RS256 JWS of `claims` with header `{"alg":"RS256","kid":…}`
    /// plus `extra_header` members.
    pub(crate) fn sign(&self, extra_header: &Value, claims: &Value) -> Result<String, String> {
        let mut header = json!({"alg": "RS256", "kid": self.kid});
        if let (Some(h), Some(extra)) = (header.as_object_mut(), extra_header.as_object()) {
            for (k, v) in extra {
                h.insert(k.clone(), v.clone());
            }
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string().as_bytes()),
            URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes())
        );
        let signature = self
            .key
            .sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, input.as_bytes())
            .map_err(|e| format!("cannot sign: {}", error_chain(&e)))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// A JWS split into its parts, header and payload decoded.
pub(crate) struct Jws {
    pub header: Value,
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jws {
    /// Splits and decodes a compact JWS (three parts, JSON header and payload).
    pub(crate) fn parse(compact: &str) -> Result<Self, String> {
        let parts: Vec<&str> = compact.trim().split('.').collect();
        let [h, p, s] = parts.as_slice() else {
            return Err(format!("not a compact JWS: {} parts instead of 3", parts.len()));
        };
        let decode = |part: &str, what: &str| {
            URL_SAFE_NO_PAD.decode(part).map_err(|e| format!("the JWS {what} is not base64url: {e}"))
        };
        let header: Value =
            serde_json::from_slice(&decode(h, "header")?).map_err(|e| format!("the JWS header is not JSON: {e}"))?;
        let claims: Value =
            serde_json::from_slice(&decode(p, "payload")?).map_err(|e| format!("the JWS payload is not JSON: {e}"))?;
        if !header.is_object() || !claims.is_object() {
            return Err("the JWS header or payload is not a JSON object".into());
        }
        Ok(Self { header, claims, signing_input: format!("{h}.{p}"), signature: decode(s, "signature")? })
    }

    /// The header's `alg`.
    pub(crate) fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// Verifies the signature with a key of `jwks` (by `kid` when the header
    /// has one). `none` and MAC algorithms are refused: an OP signs with its
    /// asymmetric keys.
    pub(crate) fn verify(&self, jwks: &CoreJsonWebKeySet) -> Result<(), String> {
        let alg_name = self.alg().ok_or("the JWS header has no alg")?;
        let alg: CoreJwsSigningAlgorithm =
            serde_json::from_value(json!(alg_name)).map_err(|_| format!("unknown JWS alg {alg_name:?}"))?;
        if matches!(
            alg,
            CoreJwsSigningAlgorithm::None
                | CoreJwsSigningAlgorithm::HmacSha256
                | CoreJwsSigningAlgorithm::HmacSha384
                | CoreJwsSigningAlgorithm::HmacSha512
        ) {
            return Err(format!("the JWS uses alg {alg_name}, not an asymmetric signature"));
        }
        let kid = self.header.get("kid").and_then(Value::as_str);
        let candidates: Vec<&CoreJsonWebKey> = jwks
            .keys()
            .iter()
            .filter(|k| match kid {
                Some(kid) => k.key_id().is_some_and(|id| id.as_str() == kid),
                None => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(match kid {
                Some(kid) => format!("no key with kid {kid:?} in the OP's JWK Set"),
                None => "the OP's JWK Set has no keys".into(),
            });
        }
        let mut last = String::new();
        for key in candidates {
            match key.verify_signature(&alg, self.signing_input.as_bytes(), &self.signature) {
                Ok(()) => return Ok(()),
                Err(e) => last = error_chain(&e),
            }
        }
        Err(format!("the {alg_name} signature does not verify with the OP's JWK Set: {last}"))
    }
}

/// The decoded payload of a compact JWT, unverified (for claims the crate
/// does not model, such as an ID token's `sid`).
pub(crate) fn payload(compact: &str) -> Result<Value, String> {
    let part = compact.split('.').nth(1).ok_or("not a compact JWT")?;
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|e| format!("the JWT payload is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the JWT payload is not JSON: {e}"))
}

/// The same JWT with its header changed to `alg: none` and the signature
/// dropped (the plan's ChangeIdTokenToAlgNone).
pub(crate) fn to_alg_none(compact: &str) -> Result<String, String> {
    let mut parts = compact.split('.');
    let (Some(h), Some(p)) = (parts.next(), parts.next()) else {
        return Err("not a compact JWT".into());
    };
    let bytes = URL_SAFE_NO_PAD.decode(h).map_err(|e| format!("the JWT header is not base64url: {e}"))?;
    let mut header: Value = serde_json::from_slice(&bytes).map_err(|e| format!("the JWT header is not JSON: {e}"))?;
    header["alg"] = json!("none");
    if let Some(h) = header.as_object_mut() {
        h.remove("kid");
    }
    Ok(format!("{}.{p}.", URL_SAFE_NO_PAD.encode(header.to_string().as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let key = RunnerKey::generate().unwrap();
        let jwks: CoreJsonWebKeySet = serde_json::from_value(key.jwks()).unwrap();
        let token = key.sign(&json!({"typ": "logout+jwt"}), &json!({"iss": "https://op.test", "n": 1})).unwrap();
        let jws = Jws::parse(&token).unwrap();
        assert_eq!(jws.alg(), Some("RS256"));
        assert_eq!(jws.header["typ"], "logout+jwt");
        assert_eq!(jws.header["kid"], json!(key.kid));
        assert!(jws.verify(&jwks).is_ok());
        assert_eq!(payload(&token).unwrap()["n"], 1);

        // Another key with the same kid does not verify it.
        let other = RunnerKey::generate().unwrap();
        let mut other_jwk = other.public_jwk();
        other_jwk["kid"] = json!(key.kid);
        let wrong: CoreJsonWebKeySet = serde_json::from_value(json!({"keys": [other_jwk]})).unwrap();
        assert!(jws.verify(&wrong).unwrap_err().contains("does not verify"));
        // An unknown kid.
        let unknown: CoreJsonWebKeySet = serde_json::from_value(other.jwks()).unwrap();
        assert!(jws.verify(&unknown).unwrap_err().contains("kid"));

        // A changed payload breaks the signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://evil.test","n":1}"#);
        assert!(Jws::parse(&parts.join(".")).unwrap().verify(&jwks).is_err());

        // alg none is refused outright.
        let none = to_alg_none(&token).unwrap();
        assert!(none.ends_with('.'));
        let parsed = Jws::parse(&none).unwrap();
        assert_eq!(parsed.alg(), Some("none"));
        assert!(parsed.header.get("kid").is_none());
        assert!(parsed.verify(&jwks).unwrap_err().contains("none"));
        assert!(Jws::parse("a.b").is_err());
    }
}
