//! Verifying JWTs that clients sign (RFC 7523 client assertions for `private_key_jwt`)
//! against the client's registered JWK Set, with an independent JOSE library. Only the
//! signature and the algorithm are checked here; the claims are the protocol's business
//! (`protocol::client_assertion`), with the request's clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::CryptoError;

fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "PS256" => Algorithm::PS256,
        "ES256" => Algorithm::ES256,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The claims of a compact JWS, NOT verified: only to learn who claims to have signed it
/// before its keys are looked up.
pub fn peek_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// Verifies a `client_secret_jwt` assertion: HMAC with the client's secret and its
/// registered algorithm; returns its claims.
pub fn verify_with_secret(token: &str, secret: &[u8], expected_alg: &str) -> Result<Value, CryptoError> {
    if token.len() > 16 * 1024 {
        return Err(CryptoError::InvalidJwt("too long"));
    }
    let alg = match expected_alg {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        _ => return Err(CryptoError::InvalidJwt("unsupported algorithm")),
    };
    let header = jsonwebtoken::decode_header(token).map_err(|_| CryptoError::InvalidJwt("bad header"))?;
    if header.alg != alg {
        return Err(CryptoError::InvalidJwt("alg is not the registered one"));
    }
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(secret), &validation)
        .map(|d| d.claims)
        .map_err(|_| CryptoError::InvalidJwt("the MAC does not verify"))
}

/// Verifies `token`'s signature with a key of `jwks` made for `expected_alg` (the
/// client's registered `token_endpoint_auth_signing_alg`); returns its claims.
pub fn verify_with_jwks(token: &str, jwks: &Value, expected_alg: &str) -> Result<Value, CryptoError> {
    if token.len() > 16 * 1024 {
        return Err(CryptoError::InvalidJwt("too long"));
    }
    let alg = algorithm(expected_alg).ok_or(CryptoError::InvalidJwt("unsupported algorithm"))?;
    let header = jsonwebtoken::decode_header(token).map_err(|_| CryptoError::InvalidJwt("bad header"))?;
    if header.alg != alg {
        return Err(CryptoError::InvalidJwt("alg is not the registered one"));
    }
    let set: JwkSet = serde_json::from_value(jwks.clone())
        .map_err(|_| CryptoError::InvalidJwt("the client's JWK Set does not parse"))?;
    let candidates: Vec<_> = match &header.kid {
        Some(kid) => set.find(kid).into_iter().collect(),
        None => set.keys.iter().collect(),
    };
    let mut validation = Validation::new(alg);
    // Time and audience are checked by the protocol layer with the request's clock.
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
    Err(CryptoError::InvalidJwt("no registered key verifies the signature"))
}
