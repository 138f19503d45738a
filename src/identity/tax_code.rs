//! The Vietnamese tax code (mã số thuế), per DOMAIN.md §2.3: 10 digits `N1N2 N3…N9 N10`
//! (province of first registration, a sequence, a check digit); the 13-digit form of a
//! dependent unit or branch, the parent's 10 digits then `-001`…`-999`; and, since
//! 1 July 2025, the 12-digit personal identification number that individuals and household
//! businesses use as their tax code. A tax code is an attribute, never a key.

use std::fmt;

use super::personal_number::{PersonalNumber, PersonalNumberError};

/// Weights of the check digit over N1…N9 (python-stdnum `vn.mst`).
const WEIGHTS: [u32; 9] = [31, 29, 23, 19, 17, 13, 7, 5, 3];

/// A validated tax code of one of the three kinds.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum TaxCode {
    /// 10 digits with a valid check digit (an enterprise, cooperative, agency…).
    Enterprise(String),
    /// A dependent unit or branch: the parent's valid 10 digits, `-`, and 001…999;
    /// held in the canonical form `NNNNNNNNNN-NNN`.
    Branch(String),
    /// An individual's or household business's 12-digit personal number.
    Personal(PersonalNumber),
}

/// Which kind of tax code a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaxCodeKind {
    /// 10 digits.
    Enterprise10,
    /// 13 digits, `10-3`.
    Branch13,
    /// 12 digits (a personal number).
    Personal12,
}

/// What is wrong with a tax code, specific enough to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxCodeError {
    /// Not 10, 12 or 13 ASCII digits (a hyphen only before the branch suffix).
    #[error(
        "mã số thuế phải gồm 10 chữ số, 13 chữ số dạng NNNNNNNNNN-NNN (đơn vị phụ thuộc) hoặc 12 chữ số (số định danh cá nhân) / the tax code must be 10 digits, 13 digits as NNNNNNNNNN-NNN (branch) or a 12-digit personal number"
    )]
    Format,
    /// Digits 3-9 (the sequence) are all zero.
    #[error(
        "số thứ tự (chữ số 3-9) của mã số thuế không được là 0000000 / the sequence (digits 3-9) of the tax code must not be 0000000"
    )]
    Sequence,
    /// The first nine digits admit no check digit (their weighted sum is divisible by 11).
    #[error(
        "9 chữ số đầu của mã số thuế không thể có chữ số kiểm tra hợp lệ / the first 9 digits of the tax code cannot have a valid check digit"
    )]
    NoCheckDigit,
    /// The 10th digit is not the check digit of the first nine.
    #[error(
        "chữ số kiểm tra (chữ số thứ 10) của mã số thuế sai: phải là {expected} / the check digit (10th digit) of the tax code is wrong: it must be {expected}"
    )]
    CheckDigit {
        /// The digit the first nine call for.
        expected: u8,
    },
    /// The branch suffix (digits 11-13) is 000.
    #[error(
        "mã đơn vị phụ thuộc (3 chữ số cuối) phải từ 001 đến 999 / the branch suffix (last 3 digits) must be 001 to 999"
    )]
    BranchSuffix,
    /// A 12-digit value that is not a valid personal number.
    #[error("mã số thuế 12 chữ số là số định danh cá nhân: {0}")]
    Personal(PersonalNumberError),
}

/// The check digit of nine digits (each 0-9), or `None` when none exists (`S mod 11 == 0`).
pub fn check_digit(first9: &[u8; 9]) -> Option<u8> {
    let s: u32 = first9.iter().zip(WEIGHTS).map(|(d, w)| u32::from(*d) * w).sum();
    let r = s % 11;
    // r is 1..=10 here, so the digit is 0..=9.
    if r == 0 { None } else { u8::try_from(10 - r).ok() }
}

/// Checks a 10-digit string (ASCII digits, length checked by the caller).
fn check_ten(s: &str) -> Result<(), TaxCodeError> {
    let d: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
    let [n1, n2, n3, n4, n5, n6, n7, n8, n9, n10] = d[..] else { return Err(TaxCodeError::Format) };
    if [n3, n4, n5, n6, n7, n8, n9].iter().all(|&x| x == 0) {
        return Err(TaxCodeError::Sequence);
    }
    let expected = check_digit(&[n1, n2, n3, n4, n5, n6, n7, n8, n9]).ok_or(TaxCodeError::NoCheckDigit)?;
    if n10 != expected {
        return Err(TaxCodeError::CheckDigit { expected });
    }
    Ok(())
}

impl TaxCode {
    /// Parses a tax code: spaces and dots are ignored, a 13-digit code may be written with
    /// or without its hyphen. `current_year` bounds the birth year of a 12-digit personal
    /// number (the clock is the caller's).
    pub fn parse(raw: &str, current_year: i32) -> Result<Self, TaxCodeError> {
        let s: String = raw.chars().filter(|c| !matches!(c, ' ' | '.')).collect();
        let digits: String = s.chars().filter(|&c| c != '-').collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TaxCodeError::Format);
        }
        let hyphens = s.len() - digits.len();
        match digits.len() {
            10 if hyphens == 0 => {
                check_ten(&digits)?;
                Ok(Self::Enterprise(digits))
            }
            13 if hyphens == 0 || (hyphens == 1 && s.as_bytes().get(10) == Some(&b'-')) => {
                let (parent, suffix) = digits.split_at(10);
                check_ten(parent)?;
                if suffix == "000" {
                    return Err(TaxCodeError::BranchSuffix);
                }
                Ok(Self::Branch(format!("{parent}-{suffix}")))
            }
            12 => PersonalNumber::parse(&s, current_year).map(Self::Personal).map_err(TaxCodeError::Personal),
            _ => Err(TaxCodeError::Format),
        }
    }

    /// The canonical form: 10 digits, `NNNNNNNNNN-NNN`, or the 12 digits.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Enterprise(s) | Self::Branch(s) => s,
            Self::Personal(p) => p.as_str(),
        }
    }

    /// Which kind it is.
    pub fn kind(&self) -> TaxCodeKind {
        match self {
            Self::Enterprise(_) => TaxCodeKind::Enterprise10,
            Self::Branch(_) => TaxCodeKind::Branch13,
            Self::Personal(_) => TaxCodeKind::Personal12,
        }
    }

    /// The parent's tax code of a branch.
    pub fn parent(&self) -> Option<TaxCode> {
        match self {
            Self::Branch(s) => s.get(..10).map(|p| Self::Enterprise(p.to_owned())),
            _ => None,
        }
    }

    /// The form allowed in lists and logs: a personal number masked, other codes whole
    /// (they are public business identifiers).
    pub fn masked(&self) -> String {
        match self {
            Self::Personal(p) => p.masked(),
            other => other.as_str().to_owned(),
        }
    }
}

impl TaxCodeKind {
    /// Short name (`enterprise_10`, `branch_13`, `personal_12`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise10 => "enterprise_10",
            Self::Branch13 => "branch_13",
            Self::Personal12 => "personal_12",
        }
    }
}

/// Debug output masks a personal number, so a stray `{:?}` cannot leak it.
impl fmt::Debug for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaxCode({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const YEAR: i32 = 2026;

    fn parse(s: &str) -> Result<TaxCode, TaxCodeError> {
        TaxCode::parse(s, YEAR)
    }

    #[test]
    fn worked_examples() {
        assert_eq!(parse("0100109106"), Ok(TaxCode::Enterprise("0100109106".into())));
        assert_eq!(parse("0100233488").map(|t| t.kind()), Ok(TaxCodeKind::Enterprise10));
        assert_eq!(parse("0100233480"), Err(TaxCodeError::CheckDigit { expected: 8 }));
        assert_eq!(check_digit(&[0, 1, 0, 0, 1, 0, 9, 1, 0]), Some(6));
    }

    #[test]
    fn forms_and_errors() {
        let cases: &[(&str, Result<&str, TaxCodeError>)] = &[
            ("0100109106", Ok("0100109106")),
            (" 0100.109.106 ", Ok("0100109106")),
            ("0100109106-001", Ok("0100109106-001")),
            ("0100109106001", Ok("0100109106-001")),
            ("0100 109 106-999", Ok("0100109106-999")),
            ("001099012345", Ok("001099012345")),
            ("0100109106-000", Err(TaxCodeError::BranchSuffix)),
            ("0100109107-001", Err(TaxCodeError::CheckDigit { expected: 6 })),
            ("010010910-6001", Err(TaxCodeError::Format)),
            ("01001-09106", Err(TaxCodeError::Format)),
            ("0100109106--001", Err(TaxCodeError::Format)),
            ("010010910", Err(TaxCodeError::Format)),
            ("01001091061", Err(TaxCodeError::Format)),
            ("01001091060011", Err(TaxCodeError::Format)),
            ("01001O9106", Err(TaxCodeError::Format)),
            ("０100109106", Err(TaxCodeError::Format)),
            ("", Err(TaxCodeError::Format)),
            ("0100000000", Err(TaxCodeError::Sequence)),
            ("003099012345", Err(TaxCodeError::Personal(PersonalNumberError::Province(3)))),
            ("001299012345", Err(TaxCodeError::Personal(PersonalNumberError::FutureYear(2099)))),
        ];
        for (raw, expected) in cases {
            let got = parse(raw);
            assert_eq!(got.as_ref().map(TaxCode::as_str).map_err(Clone::clone), *expected, "{raw}");
        }
        // A weighted sum divisible by 11 has no check digit, whatever the 10th digit.
        let first9 = (0..1_000_000_000u32)
            .step_by(7919)
            .map(|n| format!("{n:09}"))
            .find(|s| {
                let d: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
                s[2..9] != *"0000000" && check_digit(&d.clone().try_into().unwrap()).is_none()
            })
            .unwrap();
        for last in 0..=9 {
            assert_eq!(parse(&format!("{first9}{last}")), Err(TaxCodeError::NoCheckDigit), "{first9}{last}");
        }
    }

    #[test]
    fn branches_know_their_parent_and_personal_codes_are_masked() {
        let b = parse("0100109106-007").unwrap();
        assert_eq!(b.parent(), Some(parse("0100109106").unwrap()));
        assert_eq!(b.kind(), TaxCodeKind::Branch13);
        let p = parse("001099012345").unwrap();
        assert_eq!(p.masked(), "001******345");
        assert!(!format!("{p:?}").contains("099012"));
        assert_eq!(format!("{b:?}"), "TaxCode(0100109106-007)");
        // Messages name the part that is wrong, in both languages.
        let m = TaxCodeError::CheckDigit { expected: 8 }.to_string();
        assert!(m.contains("chữ số kiểm tra") && m.contains("check digit") && m.contains('8'), "{m}");
        let m = parse("003099012345").unwrap_err().to_string();
        assert!(m.contains("province code 003"), "{m}");
    }

    /// Nine digits whose sequence is not all zero and that admit a check digit.
    fn valid_first9() -> impl Strategy<Value = [u8; 9]> {
        proptest::array::uniform9(0u8..=9)
            .prop_filter("sequence and check digit", |d| d[2..].iter().any(|&x| x != 0) && check_digit(d).is_some())
    }

    fn ten(d: &[u8; 9]) -> String {
        let c = check_digit(d).unwrap_or(0);
        d.iter().chain(std::iter::once(&c)).map(|x| char::from(b'0' + x)).collect()
    }

    fn is_valid_ten(s: &str) -> bool {
        check_ten(s).is_ok()
    }

    proptest! {
        #[test]
        fn generated_tax_codes_parse_and_round_trip(d in valid_first9(), suffix in 1u16..=999) {
            let t = ten(&d);
            let parsed = parse(&t).unwrap();
            prop_assert_eq!(parsed.as_str(), t.as_str());
            prop_assert_eq!(parse(parsed.as_str()).unwrap(), parsed.clone());
            let b = format!("{t}-{suffix:03}");
            let branch = parse(&b).unwrap();
            prop_assert_eq!(branch.as_str(), b.as_str());
            prop_assert_eq!(parse(&b.replace('-', "")).unwrap(), branch.clone());
            prop_assert_eq!(branch.parent(), Some(parsed));
        }

        #[test]
        fn single_digit_mutations_are_rejected_unless_valid(d in valid_first9(), pos in 0usize..10, delta in 1u8..=9) {
            let t = ten(&d);
            let mut bytes = t.clone().into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let mutated = String::from_utf8(bytes).unwrap();
            // Compute independently whether the mutation happens to be another valid code.
            let md: Vec<u32> = mutated.bytes().map(|b| u32::from(b - b'0')).collect();
            let s: u32 = md.iter().take(9).zip(WEIGHTS).map(|(x, w)| x * w).sum();
            let r = s % 11;
            let also_valid = r != 0 && md[9] == 10 - r && md[2..9].iter().any(|&x| x != 0);
            prop_assert_eq!(is_valid_ten(&mutated), also_valid);
            prop_assert_eq!(parse(&mutated).is_ok(), also_valid, "{} from {}", mutated, t);
            // Changing only the check digit never gives another valid code.
            if pos == 9 {
                prop_assert!(parse(&mutated).is_err());
            }
        }

        #[test]
        fn generated_personal_numbers_parse_round_trip_or_name_the_province(p in 0u16..1000, g in 0u8..=1, yy in 0u8..=99, rest in 0u32..1_000_000) {
            let s = format!("{p:03}{g}{yy:02}{rest:06}");
            match PersonalNumber::parse(&s, YEAR) {
                Ok(n) => {
                    prop_assert_eq!(n.as_str(), s.as_str());
                    prop_assert_eq!(PersonalNumber::parse(&format!("{} {}", &s[..6], &s[6..]), YEAR).unwrap(), n);
                    prop_assert_eq!(parse(&s).unwrap().as_str().to_owned(), s.clone());
                }
                Err(e) => prop_assert_eq!(e, PersonalNumberError::Province(p)),
            }
            if p == 0 || p == 3 || p >= 97 {
                prop_assert_eq!(parse(&s), Err(TaxCodeError::Personal(PersonalNumberError::Province(p))));
            }
        }

        #[test]
        fn wrong_lengths_are_rejected(s in "[0-9]{0,20}") {
            prop_assume!(![10, 12, 13].contains(&s.len()));
            prop_assert_eq!(parse(&s), Err(TaxCodeError::Format));
        }

        #[test]
        fn generated_personal_tax_codes(p in proptest::sample::select(vec![1u16, 2, 79, 96]), g in 0u8..=3, yy in 0u8..=99, rest in 0u32..1_000_000) {
            let s = format!("{p:03}{g}{yy:02}{rest:06}");
            let year = 1900 + 100 * i32::from(g / 2) + i32::from(yy);
            let got = parse(&s);
            if year <= YEAR {
                let t = got.unwrap();
                prop_assert_eq!(t.kind(), TaxCodeKind::Personal12);
                prop_assert_eq!(t.as_str(), s.as_str());
            } else {
                prop_assert_eq!(got, Err(TaxCodeError::Personal(PersonalNumberError::FutureYear(year))));
            }
        }
    }
}
