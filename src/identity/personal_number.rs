//! The 12-digit personal identification number (số định danh cá nhân), per Decree
//! 137/2015 Art. 13 and Circular 07/2016 Annex 1: `PPP G YY RRRRRR` — province (or
//! country) code of birth registration, century-and-sex digit, two-digit birth year and
//! a random sequence. There is no check digit. Never a key, never in a log unmasked.

use std::fmt;

/// Province codes of birth registration (63 codes, unchanged by the 2025 merger for
/// existing numbers).
const PROVINCE_CODES: &[u16] = &[
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42, 44, 45,
    46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92,
    93, 94, 95, 96,
];

/// A validated personal identification number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonalNumber(String);

/// What is wrong with a personal number, specific enough to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalNumberError {
    /// Not exactly 12 ASCII digits.
    #[error("số định danh phải gồm đúng 12 chữ số / the personal number must be exactly 12 digits")]
    Format,
    /// The first three digits are not a province code.
    #[error("mã tỉnh {0:03} (3 chữ số đầu) không hợp lệ / the province code {0:03} (first 3 digits) is not valid")]
    Province(u16),
    /// The birth year encoded in digits 4-6 lies in the future.
    #[error("năm sinh {0} (chữ số 4-6) ở tương lai / the birth year {0} (digits 4-6) is in the future")]
    FutureYear(i32),
}

impl PersonalNumber {
    /// Parses a number, ignoring spaces, dots and dashes; `current_year` bounds the birth
    /// year (the clock is the caller's).
    pub fn parse(raw: &str, current_year: i32) -> Result<Self, PersonalNumberError> {
        let s: String = raw.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
        if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PersonalNumberError::Format);
        }
        let digits: Vec<u16> = s.bytes().map(|b| u16::from(b - b'0')).collect();
        let [p1, p2, p3, g, y1, y2, ..] = digits[..] else { return Err(PersonalNumberError::Format) };
        let province = p1 * 100 + p2 * 10 + p3;
        if !PROVINCE_CODES.contains(&province) {
            return Err(PersonalNumberError::Province(province));
        }
        let year = 1900 + 100 * i32::from(g / 2) + i32::from(y1 * 10 + y2);
        if year > current_year {
            return Err(PersonalNumberError::FutureYear(year));
        }
        Ok(Self(s))
    }

    /// The 12 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form allowed in logs: `001*******123`.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks anything that may be a personal number: first three and last three characters
/// kept, the rest starred.
pub fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars.iter().take(3).collect();
    let tail: String = chars.iter().skip(chars.len() - 3).collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 6))
}

/// Debug output is masked, so a stray `{:?}` cannot leak the number.
impl fmt::Debug for PersonalNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonalNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_numbers() {
        let cases: &[(&str, Result<(), PersonalNumberError>)] = &[
            ("001099012345", Ok(())),
            ("079 203 012 345", Ok(())),
            ("096-1-85-000001", Ok(())),
            ("00109901234", Err(PersonalNumberError::Format)),
            ("0010990123456", Err(PersonalNumberError::Format)),
            ("00109901234a", Err(PersonalNumberError::Format)),
            ("００1099012345", Err(PersonalNumberError::Format)),
            ("003099012345", Err(PersonalNumberError::Province(3))),
            ("097099012345", Err(PersonalNumberError::Province(97))),
            ("001299012345", Err(PersonalNumberError::FutureYear(2099))),
            ("001430012345", Err(PersonalNumberError::FutureYear(2130))),
        ];
        for (raw, expected) in cases {
            assert_eq!(PersonalNumber::parse(raw, 2026).map(|_| ()), *expected, "{raw}");
        }
    }

    #[test]
    fn masking() {
        let n = PersonalNumber::parse("001099012345", 2026).unwrap();
        assert_eq!(n.masked(), "001******345");
        assert!(!format!("{n:?}").contains("099012"));
        assert_eq!(mask("12"), "**");
    }

    #[test]
    fn every_generated_valid_number_parses_and_every_bad_province_fails() {
        // Exhaustive over the structure rather than random: every province code, every
        // century digit whose years can be past, a spread of sequences.
        for &p in PROVINCE_CODES {
            for g in 0..=3u8 {
                for yy in [0u8, 26, 99] {
                    let year = 1900 + 100 * i32::from(g / 2) + i32::from(yy);
                    let s = format!("{p:03}{g}{yy:02}{:06}", u32::from(p) * 7919 % 1_000_000);
                    assert_eq!(PersonalNumber::parse(&s, 2026).is_ok(), year <= 2026, "{s}");
                }
            }
        }
        for p in 0..1000u16 {
            let s = format!("{p:03}099000001");
            assert_eq!(PersonalNumber::parse(&s, 2026).is_ok(), PROVINCE_CODES.contains(&p), "{s}");
        }
    }
}
