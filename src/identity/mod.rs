//! The identity domain: people and their Vietnamese identifiers. Pure: no IO, no async,
//! no HTTP or SQL types.

pub mod assurance;
pub mod person;
pub mod personal_number;
pub mod verification;

pub use assurance::{Assurance, AssuranceLevel, AssuranceSource, Evidence};
pub use person::{Person, PersonId, PersonStatus};
pub use personal_number::{PersonalNumber, PersonalNumberError};
