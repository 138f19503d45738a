//! The identity domain: people, organisations, representation and their Vietnamese
//! identifiers. Pure: no IO, no async, no HTTP or SQL types.

pub mod assurance;
pub mod legacy_id;
pub mod organisation;
pub mod person;
pub mod personal_number;
pub mod representation;
pub mod tax_code;
pub mod verification;

pub use assurance::{Assurance, AssuranceLevel, AssuranceSource, Evidence};
pub use legacy_id::{LegacyIdError, LegacyIdNumber};
pub use organisation::{OrgError, OrgId, OrgStatus, OrgType, Organisation};
pub use person::{Person, PersonId, PersonStatus};
pub use personal_number::{PersonalNumber, PersonalNumberError};
pub use representation::{
    MandateError, MandateRequest, Representation, RepresentationId, RepresentationSource, RepresentationStatus, Role,
};
pub use tax_code::{TaxCode, TaxCodeError, TaxCodeKind};
