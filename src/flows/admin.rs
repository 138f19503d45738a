//! Administrative operations shared by the CLI and (later) the admin API: registering a
//! client from RFC 7591 metadata, creating a local account. One implementation each.

use serde_json::Value;

use crate::crypto::opaque::{random_token, token_digest};
use crate::crypto::password::{MAX_PASSWORD_BYTES, PasswordHasher};
use crate::identity::person::check_username;
use crate::identity::{Person, PersonId, PersonStatus, PersonalNumber};
use crate::protocol::client::{Client, ClientMetadata, MetadataError};
use crate::store::{Store, StoreError};

/// Why an administrative operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Client metadata was refused (RFC 7591 error code inside).
    #[error("{0}")]
    Metadata(#[from] MetadataError),
    /// An input was refused.
    #[error("{0}")]
    Invalid(String),
    /// The store refused or failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// A registered client and, for confidential clients, its secret (shown once).
#[derive(Debug)]
pub struct Registered {
    /// The client.
    pub client: Client,
    /// The secret in clear, only in this response.
    pub client_secret: Option<String>,
}

impl Registered {
    /// The RFC 7591 §3.2.1 response.
    pub fn response(&self) -> Value {
        let mut v = self.client.registration_response();
        if let (Some(obj), Some(secret)) = (v.as_object_mut(), &self.client_secret) {
            obj.insert("client_secret".into(), secret.clone().into());
        }
        v
    }
}

/// Registers a client. The secret is generated (256 bits) unless fixed in the metadata,
/// and only its digest is stored.
pub async fn register_client(store: &dyn Store, metadata: &ClientMetadata, now: i64) -> Result<Registered, AdminError> {
    let client_id = metadata.client_id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let client = metadata.validate(client_id, now)?;
    let secret =
        if client.is_public() { None } else { Some(metadata.client_secret.clone().unwrap_or_else(random_token)) };
    store.register_client(&client, secret.as_deref().map(token_digest).as_deref()).await?;
    Ok(Registered { client, client_secret: secret })
}

/// A new local account.
#[derive(Debug, Default)]
pub struct NewPerson {
    /// Username.
    pub username: String,
    /// Password in clear (hashed here).
    pub password: String,
    /// Full name.
    pub name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Whether the e-mail is verified.
    pub email_verified: bool,
    /// Phone.
    pub phone: Option<String>,
    /// Personal identification number.
    pub personal_number: Option<String>,
    /// Postal address (one line).
    pub address: Option<String>,
}

/// The current year for a Unix time (proleptic Gregorian, UTC).
fn year_of(unix: i64) -> i32 {
    // Days since 1970-01-01 to civil year (Howard Hinnant's algorithm).
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    i32::try_from(yoe + era * 400 + i64::from(month <= 2)).unwrap_or(i32::MAX)
}

/// Creates a local account with an argon2id password hash.
pub async fn create_person(
    store: &dyn Store,
    hasher: &PasswordHasher,
    new: NewPerson,
    now: i64,
) -> Result<Person, AdminError> {
    let username = new.username.trim().to_lowercase();
    check_username(&username).map_err(AdminError::Invalid)?;
    let chars = new.password.chars().count();
    if chars < 8 || new.password.len() > MAX_PASSWORD_BYTES {
        return Err(AdminError::Invalid(format!("password must be 8 to {MAX_PASSWORD_BYTES} bytes long")));
    }
    let personal_number = match new.personal_number.as_deref() {
        Some(raw) => Some(PersonalNumber::parse(raw, year_of(now)).map_err(|e| AdminError::Invalid(e.to_string()))?),
        None => None,
    };
    if let Some(e) = &new.email
        && (!e.contains('@') || e.len() > 254)
    {
        return Err(AdminError::Invalid("email is not an e-mail address".into()));
    }
    let hash = hasher.hash(new.password).await.map_err(|e| AdminError::Invalid(e.to_string()))?;
    let person = Person {
        id: PersonId(uuid::Uuid::now_v7().to_string()),
        username: Some(username),
        name: new.name,
        email: new.email,
        email_verified: new.email_verified,
        phone: new.phone,
        phone_verified: false,
        address: new.address,
        personal_number,
        status: PersonStatus::Active,
        created_at: now,
        updated_at: now,
    };
    store.create_person(&person, Some(&hash)).await?;
    Ok(person)
}

/// The person as printed by the CLI: no secret, the personal number masked.
pub fn person_json(p: &Person) -> Value {
    serde_json::json!({
        "id": p.id.0,
        "username": p.username,
        "name": p.name,
        "email": p.email,
        "email_verified": p.email_verified,
        "phone": p.phone,
        "address": p.address,
        "personal_number": p.personal_number.as_ref().map(PersonalNumber::masked),
        "status": p.status.as_str(),
        "created_at": p.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years() {
        assert_eq!(year_of(0), 1970);
        assert_eq!(year_of(1_795_305_600), 2026); // 2026-11-22
        assert_eq!(year_of(1_767_225_599), 2025); // 2025-12-31T23:59:59Z
        assert_eq!(year_of(1_767_225_600), 2026);
    }
}
