//! Verifying the signature of an upstream provider's ID token against its JWK Set, with
//! only the algorithms the operator allowed. The claims are checked by
//! `protocol::upstream::check_id_token_claims` with the request's clock.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not a compact JWS, or its header does not parse.
    #[error("the ID token is not a signed JWT")]
    Malformed,
    /// The header's `alg` is not allowed for this upstream.
    #[error("the ID token algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// No key in the set carries the token's `kid` (the set may need a refresh).
    #[error("the ID token is signed with an unknown key")]
    UnknownKey,
    /// A key was found but the signature does not verify.
    #[error("the ID token signature does not verify")]
    BadSignature,
}

fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Verifies `token`'s signature with a key of `jwks` and returns its claims (unchecked).
pub fn verify(token: &str, jwks: &Value, allowed_algs: &[String]) -> Result<Value, SignatureError> {
    if token.len() > 32 * 1024 {
        return Err(SignatureError::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| SignatureError::Malformed)?;
    let allowed: Vec<Algorithm> = allowed_algs.iter().filter_map(|a| algorithm(a)).collect();
    if !allowed.contains(&header.alg) {
        return Err(SignatureError::AlgorithmNotAllowed);
    }
    let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|_| SignatureError::UnknownKey)?;
    let candidates: Vec<_> = match &header.kid {
        Some(kid) => set.find(kid).into_iter().collect(),
        None => set.keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(SignatureError::UnknownKey);
    }
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    for jwk in candidates {
        let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
        if let Ok(data) = jsonwebtoken::decode::<Value>(token, &key, &validation) {
            return Ok(data.claims);
        }
    }
    Err(SignatureError::BadSignature)
}
