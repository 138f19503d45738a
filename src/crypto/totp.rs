//! Time-based one-time passwords (RFC 6238) for officials' second factor, as authenticator
//! apps expect them: HMAC-SHA1, 6 digits, 30-second steps, one step of clock skew either
//! way. Secrets are 160 random bits, shown once as base32 (RFC 4648) and an `otpauth://`
//! URI, and kept sealed under the KEK with the person id as associated data. Recovery
//! codes are random, shown once, and kept as digests.

use totp_rs::{Algorithm, Builder, Secret};

use super::CryptoError;
use super::opaque::{random_bytes, token_digest};
use super::seal::Kek;

/// Length of a time step (s).
pub const STEP: i64 = 30;
/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Bytes of a secret (RFC 4226 §4 recommends 160 bits).
pub const SECRET_LEN: usize = 20;
/// Recovery codes issued at enrolment.
pub const RECOVERY_CODES: usize = 10;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn label(person_id: &str) -> String {
    format!("totp:{person_id}")
}

/// A new random secret.
pub fn new_secret() -> [u8; SECRET_LEN] {
    random_bytes::<SECRET_LEN>()
}

/// The secret sealed for storage, bound to its person.
pub fn seal_secret(kek: &Kek, person_id: &str, secret: &[u8]) -> Result<Vec<u8>, CryptoError> {
    kek.seal(&label(person_id), secret)
}

/// The stored secret opened; `None` when it does not open with this KEK for this person
/// (or has the wrong length).
pub fn open_secret(kek: &Kek, person_id: &str, sealed: &[u8]) -> Option<[u8; SECRET_LEN]> {
    kek.open(&label(person_id), sealed).ok().and_then(|v| v.as_slice().try_into().ok())
}

/// RFC 4648 base32 without padding: the "manual key" people type into an app.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (case-insensitive; spaces, dashes and padding ignored); `None` on any
/// other character.
pub fn decode_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !matches!(c, b' ' | b'-' | b'=')) {
        let v = BASE32.iter().position(|x| *x == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// The Key URI authenticator apps scan: `otpauth://totp/ISSUER:ACCOUNT?secret=…`.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20");
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

fn totp(secret: &[u8; SECRET_LEN]) -> Option<totp_rs::Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(STEP.unsigned_abs())
        .with_skew(1)
        .with_secret(Secret::new_stack(*secret))
        .build()
        .ok()
}

/// The time step of `code` at `now` (current step ± 1), or `None` when it is wrong.
/// Whether that step may still be used is the store's compare-and-set.
pub fn check(secret: &[u8; SECRET_LEN], code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret)?;
    t.check(&code, u64::try_from(now).ok()?).and_then(|s| i64::try_from(s).ok())
}

/// The code at `time` (for tests and tools).
pub fn code_at(secret: &[u8; SECRET_LEN], time: i64) -> Option<String> {
    Some(totp(secret)?.generate(u64::try_from(time).ok()?).to_string())
}

/// A new recovery code, `xxxxx-xxxxx` in lower-case base32 (50 random bits).
pub fn new_recovery_code() -> String {
    let raw = base32(&random_bytes::<7>()).to_ascii_lowercase();
    format!("{}-{}", &raw[..5], &raw[5..10])
}

/// Whether `input` looks like a recovery code rather than a TOTP code.
pub fn is_recovery_code(input: &str) -> bool {
    let n = normalise_recovery(input);
    n.len() == 10 && n.bytes().all(|b| BASE32.contains(&b.to_ascii_uppercase()))
}

fn normalise_recovery(input: &str) -> String {
    input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_ascii_lowercase()
}

/// The stored form of a recovery code (dashes, spaces and case do not matter).
pub fn recovery_digest(code: &str) -> String {
    token_digest(&format!("recovery:{}", normalise_recovery(code)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 Appendix B, SHA-1 seed "12345678901234567890", last 6 digits.
        let secret: [u8; 20] = *b"12345678901234567890";
        for (t, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(code_at(&secret, t).unwrap(), code, "T={t}");
            assert_eq!(check(&secret, code, t), Some(t / STEP));
        }
        // One step of skew either way, no more.
        let code = code_at(&secret, 1_000_000).unwrap();
        assert_eq!(check(&secret, &code, 1_000_000 + STEP), Some(1_000_000 / STEP));
        assert_eq!(check(&secret, &code, 1_000_000 - STEP), Some(1_000_000 / STEP));
        assert_eq!(check(&secret, &code, 1_000_000 + 3 * STEP), None);
        for bad in ["", "12345", "1234567", "abcdef", "+12345"] {
            assert_eq!(check(&secret, bad, 1_000_000), None, "{bad}");
        }
    }

    #[test]
    fn base32_round_trip_and_rfc4648_vectors() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(decode_base32("mzxw 6ytb-oi").unwrap(), b"foobar");
        assert!(decode_base32("0189").is_none());
        let s = new_secret();
        assert_eq!(decode_base32(&base32(&s)).unwrap(), s);
        assert_eq!(base32(&s).len(), 32);
    }

    #[test]
    fn sealing_binds_the_person_and_the_kek() {
        let kek = Kek::from_bytes(&[3u8; 32]).unwrap();
        let s = new_secret();
        let sealed = seal_secret(&kek, "p-1", &s).unwrap();
        assert_eq!(open_secret(&kek, "p-1", &sealed), Some(s));
        assert_eq!(open_secret(&kek, "p-2", &sealed), None);
        assert_eq!(open_secret(&Kek::from_bytes(&[4u8; 32]).unwrap(), "p-1", &sealed), None);
    }

    #[test]
    fn recovery_codes_and_uri() {
        let c = new_recovery_code();
        assert_eq!(c.len(), 11);
        assert!(is_recovery_code(&c));
        assert!(!is_recovery_code("123456"));
        assert_eq!(recovery_digest(&c), recovery_digest(&c.to_uppercase().replace('-', " ")));
        assert_ne!(recovery_digest(&c), recovery_digest(&new_recovery_code()));
        let uri = otpauth_uri("Tỉnh A", "an.nguyen", b"12345678901234567890");
        assert!(uri.starts_with("otpauth://totp/T%E1%BB%89nh%20A:an.nguyen?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        assert!(uri.ends_with("&algorithm=SHA1&digits=6&period=30"));
    }
}
