//! PKCE (RFC 7636) with S256 only: `plain` is refused (RFC 9700 §2.1.1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::{ErrorCode, OAuthError};
use crate::crypto::digest::sha256;

/// A validated S256 code challenge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeChallenge(String);

/// RFC 7636 §4.1: 43-128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
fn is_unreserved_43_128(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl CodeChallenge {
    /// Parses `code_challenge` and `code_challenge_method` from an authorization request.
    /// Returns `Ok(None)` when neither is present.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Option<Self>, OAuthError> {
        match (challenge, method) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(OAuthError::invalid_request("code_challenge_method without code_challenge")),
            (Some(_), None | Some("plain")) => {
                Err(OAuthError::invalid_request("code_challenge_method must be S256 (plain is not allowed)"))
            }
            (Some(c), Some("S256")) => {
                // S256 challenges are base64url of 32 bytes: exactly 43 characters.
                if c.len() == 43 && is_unreserved_43_128(c) {
                    Ok(Some(Self(c.to_owned())))
                } else {
                    Err(OAuthError::invalid_request("code_challenge is not a base64url SHA-256 value"))
                }
            }
            (Some(_), Some(_)) => Err(OAuthError::invalid_request("unsupported code_challenge_method")),
        }
    }

    /// RFC 7636 §4.6: `BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge`.
    pub fn verify(&self, verifier: Option<&str>) -> Result<(), OAuthError> {
        let Some(verifier) = verifier else {
            return Err(OAuthError::new(ErrorCode::InvalidGrant, "code_verifier is required"));
        };
        if !is_unreserved_43_128(verifier) {
            return Err(OAuthError::new(ErrorCode::InvalidGrant, "code_verifier is malformed"));
        }
        let computed = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
        if crate::crypto::constant_time_eq(computed.as_bytes(), self.0.as_bytes()) {
            Ok(())
        } else {
            Err(OAuthError::new(ErrorCode::InvalidGrant, "code_verifier does not match the code_challenge"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn parse_cases() {
        let cases: &[(Option<&str>, Option<&str>, bool)] = &[
            (None, None, true),
            (Some(CHALLENGE), Some("S256"), true),
            (Some(CHALLENGE), None, false),
            (Some(CHALLENGE), Some("plain"), false),
            (Some(CHALLENGE), Some("s256"), false),
            (None, Some("S256"), false),
            (Some("short"), Some("S256"), false),
            (Some(&CHALLENGE[..42]), Some("S256"), false),
            (Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"), Some("S256"), false),
        ];
        for (c, m, ok) in cases {
            assert_eq!(CodeChallenge::parse(*c, *m).is_ok(), *ok, "{c:?} {m:?}");
        }
    }

    #[test]
    fn verify_cases() {
        let ch = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap().unwrap();
        assert!(ch.verify(Some(VERIFIER)).is_ok());
        assert!(ch.verify(None).is_err());
        assert!(ch.verify(Some(&VERIFIER.replace('d', "e"))).is_err());
        assert!(ch.verify(Some("too-short")).is_err());
        assert!(ch.verify(Some(CHALLENGE)).is_err());
    }
}
