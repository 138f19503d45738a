//! An organisation people act for (DESIGN.md §3): an enterprise, a branch, a household
//! business, a cooperative or a state agency. Its key is an internal id (UUID v7), never
//! the tax code, which is an optional, validated attribute whose shape must fit the type:
//! a branch has the 13-digit `10-3` form, a household business may use a 12-digit personal
//! number, an agency may have none.

use super::assurance::Assurance;
use super::tax_code::{TaxCode, TaxCodeKind};

/// Internal organisation identifier (UUID v7 text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgId(pub String);

/// What kind of organisation it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgType {
    /// A company registered under the Law on Enterprises.
    Enterprise,
    /// A dependent unit or branch of another organisation.
    Branch,
    /// A household business (hộ kinh doanh).
    HouseholdBusiness,
    /// A cooperative (hợp tác xã).
    Cooperative,
    /// A state agency or public body.
    Agency,
}

impl OrgType {
    /// Every type, in a stable order.
    pub const ALL: [OrgType; 5] =
        [Self::Enterprise, Self::Branch, Self::HouseholdBusiness, Self::Cooperative, Self::Agency];

    /// Stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise",
            Self::Branch => "branch",
            Self::HouseholdBusiness => "household_business",
            Self::Cooperative => "cooperative",
            Self::Agency => "agency",
        }
    }

    /// Parses the stored or wire form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The type a tax code suggests when none is given: a 13-digit code is a branch's, a
    /// 12-digit one a household business's, a 10-digit one an enterprise's, none an
    /// agency's.
    pub fn inferred(tax_code: Option<&TaxCode>) -> Self {
        match tax_code.map(TaxCode::kind) {
            Some(TaxCodeKind::Enterprise10) => Self::Enterprise,
            Some(TaxCodeKind::Branch13) => Self::Branch,
            Some(TaxCodeKind::Personal12) => Self::HouseholdBusiness,
            None => Self::Agency,
        }
    }

    /// The tax-code shapes this type accepts, and whether it may have none.
    fn accepts(self) -> (&'static [TaxCodeKind], bool) {
        use TaxCodeKind::*;
        match self {
            Self::Enterprise | Self::Cooperative => (&[Enterprise10], false),
            Self::Branch => (&[Branch13], false),
            Self::HouseholdBusiness => (&[Personal12, Enterprise10], false),
            Self::Agency => (&[Enterprise10, Branch13], true),
        }
    }
}

/// Whether an organisation may be acted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgStatus {
    /// In use.
    Active,
    /// Disabled by an administrator: nobody may act for it.
    Disabled,
}

impl OrgStatus {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    /// Parses the stored form; anything unknown is disabled (fail closed).
    pub fn parse(s: &str) -> Self {
        if s == "active" { Self::Active } else { Self::Disabled }
    }
}

/// Why an organisation's details are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    /// The name is empty or too long.
    #[error("tên tổ chức phải có từ 1 đến {MAX_NAME} ký tự / the organisation name must be 1 to {MAX_NAME} characters")]
    Name,
    /// The address is too long.
    #[error("địa chỉ tối đa {MAX_ADDRESS} ký tự / the address must be at most {MAX_ADDRESS} characters")]
    Address,
    /// This type needs a tax code.
    #[error("loại tổ chức {0} phải có mã số thuế / an organisation of type {0} needs a tax code")]
    TaxCodeRequired(&'static str),
    /// The tax code's shape does not fit the type.
    #[error("{}", shape_message(.org_type, .kind))]
    TaxCodeShape {
        /// The organisation type.
        org_type: &'static str,
        /// The tax code's kind.
        kind: TaxCodeKind,
    },
}

fn shape_message(org_type: &str, kind: &TaxCodeKind) -> String {
    let (vi, en) = match kind {
        TaxCodeKind::Enterprise10 => ("mã 10 chữ số", "a 10-digit code"),
        TaxCodeKind::Branch13 => ("mã đơn vị phụ thuộc 13 chữ số", "a 13-digit branch code"),
        TaxCodeKind::Personal12 => ("số định danh cá nhân 12 chữ số", "a 12-digit personal number"),
    };
    let (need_vi, need_en) = match org_type {
        "branch" => ("mã 13 chữ số dạng NNNNNNNNNN-NNN", "the 13-digit form NNNNNNNNNN-NNN"),
        "household_business" => ("số định danh 12 chữ số hoặc mã 10 chữ số", "a 12-digit personal number or 10 digits"),
        "agency" => ("mã 10 hoặc 13 chữ số", "10 or 13 digits"),
        _ => ("mã 10 chữ số", "10 digits"),
    };
    format!(
        "tổ chức loại {org_type} không dùng {vi} làm mã số thuế, cần {need_vi} / an organisation of type {org_type} cannot have {en} as tax code, it needs {need_en}"
    )
}

/// The longest name accepted (characters).
pub const MAX_NAME: usize = 300;
/// The longest address accepted (characters).
pub const MAX_ADDRESS: usize = 500;

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// Internal id.
    pub id: OrgId,
    /// Kind of organisation.
    pub org_type: OrgType,
    /// Tax code, when it has one (unique among organisations).
    pub tax_code: Option<TaxCode>,
    /// Registered name.
    pub name: String,
    /// Head-office address, as one formatted text.
    pub address: Option<String>,
    /// Status.
    pub status: OrgStatus,
    /// How sure we are that it exists as described (level, source, time, evidence).
    pub assurance: Assurance,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

impl Organisation {
    /// A new, active, unverified organisation (name trimmed), checked with
    /// [`Organisation::check`].
    pub fn new(
        id: OrgId,
        org_type: OrgType,
        tax_code: Option<TaxCode>,
        name: &str,
        address: Option<&str>,
        now: i64,
    ) -> Result<Self, OrgError> {
        let org = Organisation {
            id,
            org_type,
            tax_code,
            name: name.trim().to_owned(),
            address: address.map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned),
            status: OrgStatus::Active,
            assurance: Assurance::default(),
            created_at: now,
            updated_at: now,
        };
        org.check()?;
        Ok(org)
    }

    /// Whether name, address and tax code fit together and the type.
    pub fn check(&self) -> Result<(), OrgError> {
        let len = self.name.chars().count();
        if self.name.trim().is_empty() || len > MAX_NAME {
            return Err(OrgError::Name);
        }
        if self.address.as_ref().is_some_and(|a| a.chars().count() > MAX_ADDRESS) {
            return Err(OrgError::Address);
        }
        let (kinds, optional) = self.org_type.accepts();
        match &self.tax_code {
            None if optional => Ok(()),
            None => Err(OrgError::TaxCodeRequired(self.org_type.as_str())),
            Some(t) if kinds.contains(&t.kind()) => Ok(()),
            Some(t) => Err(OrgError::TaxCodeShape { org_type: self.org_type.as_str(), kind: t.kind() }),
        }
    }

    /// Whether people may act for it.
    pub fn is_active(&self) -> bool {
        self.status == OrgStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc(s: &str) -> Option<TaxCode> {
        Some(TaxCode::parse(s, 2026).unwrap())
    }

    #[test]
    fn types_round_trip_and_are_inferred() {
        for t in OrgType::ALL {
            assert_eq!(OrgType::parse(t.as_str()), Some(t));
        }
        assert_eq!(OrgType::parse("company"), None);
        assert_eq!(OrgType::inferred(tc("0100109106").as_ref()), OrgType::Enterprise);
        assert_eq!(OrgType::inferred(tc("0100109106-001").as_ref()), OrgType::Branch);
        assert_eq!(OrgType::inferred(tc("001099012345").as_ref()), OrgType::HouseholdBusiness);
        assert_eq!(OrgType::inferred(None), OrgType::Agency);
        assert_eq!(OrgStatus::parse("weird"), OrgStatus::Disabled);
    }

    #[test]
    fn the_tax_code_shape_fits_the_type() {
        let new =
            |t: OrgType, code: Option<TaxCode>| Organisation::new(OrgId("o".into()), t, code, " Công ty A ", None, 5);
        use OrgType::*;
        let ten = tc("0100109106");
        let branch = tc("0100109106-001");
        let pin = tc("001099012345");
        let cases = [
            (Enterprise, ten.clone(), true),
            (Enterprise, branch.clone(), false),
            (Enterprise, pin.clone(), false),
            (Enterprise, None, false),
            (Cooperative, ten.clone(), true),
            (Cooperative, None, false),
            (Branch, branch.clone(), true),
            (Branch, ten.clone(), false),
            (Branch, None, false),
            (HouseholdBusiness, pin.clone(), true),
            (HouseholdBusiness, ten.clone(), true),
            (HouseholdBusiness, branch.clone(), false),
            (Agency, None, true),
            (Agency, ten.clone(), true),
            (Agency, pin.clone(), false),
        ];
        for (t, code, ok) in cases {
            assert_eq!(new(t, code.clone()).is_ok(), ok, "{t:?} {code:?}");
        }
        let o = new(Enterprise, ten).unwrap();
        assert_eq!((o.name.as_str(), o.status, o.created_at), ("Công ty A", OrgStatus::Active, 5));
        let e = new(Branch, tc("0100109106")).unwrap_err();
        assert!(e.to_string().contains("NNNNNNNNNN-NNN"), "{e}");
        assert_eq!(new(Enterprise, None).unwrap_err(), OrgError::TaxCodeRequired("enterprise"));
        let blank = Organisation::new(OrgId("o".into()), Agency, None, "  ", None, 5);
        assert_eq!(blank.unwrap_err(), OrgError::Name);
        let long = "x".repeat(MAX_ADDRESS + 1);
        assert_eq!(Organisation::new(OrgId("o".into()), Agency, None, "UBND", Some(&long), 5), Err(OrgError::Address));
    }
}
