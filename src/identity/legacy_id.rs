//! The legacy 9-digit identity card number (số CMND), per DOMAIN.md §2.2: nine digits, no
//! check digit. Invalid as a document since 1 January 2025, it still appears in old case
//! files and as `SoCMND` in national-portal data, so it is kept as a historical alias of a
//! person, never as a key, and masked like a personal number.

use std::fmt;

use super::personal_number::mask;

/// A legacy 9-digit identity card number (format checked only).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LegacyIdNumber(String);

/// What is wrong with a legacy number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegacyIdError {
    /// Not exactly 9 ASCII digits.
    #[error("số CMND cũ phải gồm đúng 9 chữ số / the legacy identity card number must be exactly 9 digits")]
    Format,
}

impl LegacyIdNumber {
    /// Parses a number, ignoring spaces, dots and dashes.
    pub fn parse(raw: &str) -> Result<Self, LegacyIdError> {
        let s: String = raw.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
        if s.len() != 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LegacyIdError::Format);
        }
        Ok(Self(s))
    }

    /// The 9 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form allowed in logs: `123***789`.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Debug output is masked, so a stray `{:?}` cannot leak the number.
impl fmt::Debug for LegacyIdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LegacyIdNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn format_and_masking() {
        for (raw, ok) in [
            ("123456789", true),
            ("123 456 789", true),
            ("12345678", false),
            ("1234567890", false),
            ("12345678a", false),
        ] {
            assert_eq!(LegacyIdNumber::parse(raw).is_ok(), ok, "{raw}");
        }
        let n = LegacyIdNumber::parse("123-456-789").unwrap();
        assert_eq!(n.as_str(), "123456789");
        assert_eq!(n.masked(), "123***789");
        assert!(!format!("{n:?}").contains("456"));
        assert!(LegacyIdError::Format.to_string().contains("9 chữ số"));
    }

    proptest! {
        #[test]
        fn nine_digits_round_trip_other_lengths_fail(s in "[0-9]{0,14}") {
            let got = LegacyIdNumber::parse(&s);
            if s.len() == 9 {
                prop_assert_eq!(got.unwrap().as_str().to_owned(), s.clone());
            } else {
                prop_assert_eq!(got, Err(LegacyIdError::Format));
            }
        }
    }
}
