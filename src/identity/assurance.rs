//! How sure we are of who a person is (DOMAIN §1, §4): the level of identity assurance
//! reached, where it came from (the national e-ID upstream, an officer's check at a
//! counter, or nothing but the person's own word), when, and the evidence behind it —
//! what `verified_claims` later tells relying parties.

use serde::{Deserialize, Serialize};

/// Identity assurance level, after Decree 69/2024: level 1 (data matched against the
/// national population database) and level 2 (additionally verified in person or by
/// biometrics). `None` is a self-asserted identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssuranceLevel {
    /// Nothing verified.
    #[default]
    None,
    /// Level 1.
    Level1,
    /// Level 2.
    Level2,
}

impl AssuranceLevel {
    /// Stored form (0, 1, 2).
    pub fn as_i64(self) -> i64 {
        match self {
            Self::None => 0,
            Self::Level1 => 1,
            Self::Level2 => 2,
        }
    }

    /// Parses the stored form; anything unknown is `None` (fail closed).
    pub fn from_i64(v: i64) -> Self {
        match v {
            1 => Self::Level1,
            2 => Self::Level2,
            _ => Self::None,
        }
    }

    /// The `assurance_level` value of `verified_claims` (`level1`, `level2`); `None` for
    /// an unverified identity, which has no `verified_claims` at all.
    pub fn ida_name(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Level1 => Some("level1"),
            Self::Level2 => Some("level2"),
        }
    }
}

/// Where the assurance came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssuranceSource {
    /// The person's own word (a local account created by an administrator or the person).
    #[default]
    SelfAsserted,
    /// An upstream national e-ID provider vouched for it.
    Upstream,
    /// Officers checked documents (four-eyes for level 2).
    Officer,
}

impl AssuranceSource {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SelfAsserted => "self_asserted",
            Self::Upstream => "upstream",
            Self::Officer => "officer",
        }
    }

    /// Parses the stored form; anything unknown is self-asserted (fail closed).
    pub fn parse(s: &str) -> Self {
        match s {
            "upstream" => Self::Upstream,
            "officer" => Self::Officer,
            _ => Self::SelfAsserted,
        }
    }
}

/// The evidence behind an assurance, shaped after OpenID Identity Assurance evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// The upstream e-ID provider's record from the national population database.
    ElectronicRecord {
        /// The upstream issuer that asserted it.
        upstream: String,
        /// Check method per the IDA predefined values (`vri`: verified against a
        /// register; `bvr`: biometric verification in person).
        check_method: String,
        /// When the upstream verified it (or when we first linked it), unix seconds.
        time: i64,
    },
    /// A document an officer checked at a counter.
    Document {
        /// Document type (`vn_the_can_cuoc`, `vn_cccd`, `passport`, …).
        document_type: String,
        /// Document number.
        document_number: String,
        /// Issuing authority.
        issuer: String,
        /// Issue date `YYYY-MM-DD`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        date_of_issuance: Option<String>,
        /// Expiry date `YYYY-MM-DD`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        date_of_expiry: Option<String>,
        /// Check method (`pvp`: physical verification in person, …).
        check_method: String,
        /// The office that checked it.
        organization: String,
        /// The verification case.
        case_id: String,
        /// When it was approved, unix seconds.
        time: i64,
    },
}

/// A person's assurance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assurance {
    /// Level reached.
    pub level: AssuranceLevel,
    /// Where it came from.
    pub source: AssuranceSource,
    /// When it was established, unix seconds.
    pub verified_at: Option<i64>,
    /// The evidence.
    pub evidence: Option<Evidence>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_forms_round_trip_and_unknowns_fail_closed() {
        for l in [AssuranceLevel::None, AssuranceLevel::Level1, AssuranceLevel::Level2] {
            assert_eq!(AssuranceLevel::from_i64(l.as_i64()), l);
        }
        assert_eq!(AssuranceLevel::from_i64(7), AssuranceLevel::None);
        for s in [AssuranceSource::SelfAsserted, AssuranceSource::Upstream, AssuranceSource::Officer] {
            assert_eq!(AssuranceSource::parse(s.as_str()), s);
        }
        assert_eq!(AssuranceSource::parse("officer "), AssuranceSource::SelfAsserted);
        assert!(AssuranceLevel::Level2 > AssuranceLevel::Level1);
        let e = Evidence::ElectronicRecord { upstream: "https://up".into(), check_method: "vri".into(), time: 5 };
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains("\"type\":\"electronic_record\""), "{text}");
        assert_eq!(serde_json::from_str::<Evidence>(&text).unwrap(), e);
    }
}
