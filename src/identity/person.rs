//! A person known to the provider: internal id (never the personal number, which can be
//! re-issued), names and contact details, status. Local credentials live in the store,
//! not here.

use super::assurance::Assurance;
use super::personal_number::PersonalNumber;

/// Internal person identifier (UUID v7 text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PersonId(pub String);

/// Whether a person may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonStatus {
    /// May sign in.
    Active,
    /// Disabled by an administrator.
    Disabled,
}

impl PersonStatus {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    /// Parses the stored form; anything unknown is treated as disabled (fail closed).
    pub fn parse(s: &str) -> Self {
        if s == "active" { Self::Active } else { Self::Disabled }
    }
}

/// A person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Internal id.
    pub id: PersonId,
    /// Local username, for accounts that sign in with a password.
    pub username: Option<String>,
    /// Full name as written.
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Whether the e-mail address was verified.
    pub email_verified: bool,
    /// Phone number (E.164 preferred).
    pub phone: Option<String>,
    /// Whether the phone number was verified.
    pub phone_verified: bool,
    /// Postal address, as one formatted text.
    pub address: Option<String>,
    /// 12-digit personal identification number.
    pub personal_number: Option<PersonalNumber>,
    /// Date of birth, `YYYY-MM-DD` (OIDC `birthdate`).
    pub birthdate: Option<String>,
    /// `male`, `female` or `other` (OIDC `gender`).
    pub gender: Option<String>,
    /// Nationality, ISO 3166-1 alpha-2 (`VN`).
    pub nationality: Option<String>,
    /// How sure we are of who this is, and why.
    pub assurance: Assurance,
    /// Status.
    pub status: PersonStatus,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

impl Person {
    /// A person with nothing but an id and timestamps: active, unverified, no details.
    pub fn new(id: PersonId, now: i64) -> Self {
        Person {
            id,
            username: None,
            name: None,
            email: None,
            email_verified: false,
            phone: None,
            phone_verified: false,
            address: None,
            personal_number: None,
            birthdate: None,
            gender: None,
            nationality: None,
            assurance: Assurance::default(),
            status: PersonStatus::Active,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Usernames: 3-64 characters of lowercase letters, digits, `.`, `_`, `-`, `@`.
pub fn check_username(u: &str) -> Result<(), String> {
    let ok = (3..=64).contains(&u.len())
        && u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok { Ok(()) } else { Err("username must be 3-64 characters of a-z 0-9 . _ - @".into()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for (u, ok) in [("an.nguyen", true), ("ab", false), ("An", false), ("x y z", false), ("can.bo@tinh", true)] {
            assert_eq!(check_username(u).is_ok(), ok, "{u}");
        }
    }
}
