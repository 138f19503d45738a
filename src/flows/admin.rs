//! Administrative operations, one implementation each, shared by the CLI (`main.rs`) and
//! the admin REST API (`http::admin`): clients (register from RFC 7591 metadata, read,
//! list, replace, disable/enable, delete), people (create, read, list, update,
//! disable/enable, delete), initial access tokens for dynamic registration, and the
//! bootstrap of the first administrative client.
//!
//! Nothing here returns a secret except once, at creation: client secrets and tokens
//! are stored as digests, password hashes never leave the store, and personal numbers
//! are masked in lists.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::registration::{RegistrationPolicy, check_remote_documents};
use crate::audit::AuditEvent;
use crate::crypto::opaque::{random_token, token_digest};
use crate::crypto::password::{MAX_PASSWORD_BYTES, PasswordHasher};
use crate::identity::person::check_username;
use crate::identity::{Person, PersonId, PersonStatus, PersonalNumber};
use crate::outbound::FetchLimits;
use crate::protocol::client::{AuthMethod, Client, ClientMetadata, MetadataError};
use crate::store::{ClientRecord, ClientStatus, InitialAccessToken, NewClient, Store, StoreError};

/// Why an administrative operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Client metadata was refused (RFC 7591 error code inside).
    #[error("{0}")]
    Metadata(#[from] MetadataError),
    /// An input was refused.
    #[error("{0}")]
    Invalid(String),
    /// There is no such client or person.
    #[error("not found: {0}")]
    NotFound(String),
    /// The store refused or failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl AdminError {
    /// The error code the admin API answers with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Metadata(m) => m.code(),
            Self::Invalid(_) => "invalid_request",
            Self::NotFound(_) => "not_found",
            Self::Store(StoreError::Conflict(_)) => "conflict",
            Self::Store(StoreError::Unavailable(_)) => "temporarily_unavailable",
        }
    }
}

/// Writes the audit line of an administrative change and passes its result through:
/// `action` on success, `action.failed` with the error code and reason on failure
/// (messages name fields and rules, never secrets or personal numbers). `actor` is
/// `cli` or `admin:<client id>`.
pub async fn audited<T>(
    store: &dyn Store,
    actor: &str,
    action: &str,
    subject: Option<&str>,
    now: i64,
    result: Result<T, AdminError>,
) -> Result<T, AdminError> {
    let (action, outcome, detail) = match &result {
        Ok(_) => (action.to_owned(), "success", json!({})),
        Err(e) => (format!("{action}.failed"), "failure", json!({"error": e.code(), "reason": e.to_string()})),
    };
    let event = AuditEvent {
        at: now,
        actor: actor.to_owned(),
        action,
        subject: subject.map(str::to_owned),
        outcome: outcome.to_owned(),
        detail,
    };
    let _ = crate::audit::record(store, event).await;
    result
}

/// The admin scope for clients and initial access tokens.
pub const SCOPE_CLIENTS: &str = "admin:clients";
/// The admin scope for people.
pub const SCOPE_PEOPLE: &str = "admin:people";
/// The admin scope for organisations and representation.
pub const SCOPE_ORGS: &str = "admin:orgs";
/// The client id `dinhdanh admin bootstrap` creates by default.
pub const BOOTSTRAP_CLIENT_ID: &str = "dinhdanh-admin";

/// A registered client and, for clients with a secret, the secret (shown once).
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

/// Whether a client authenticates with a secret we issue (not public, not
/// `private_key_jwt`).
fn has_secret(client: &Client) -> bool {
    !matches!(client.token_endpoint_auth_method, AuthMethod::None | AuthMethod::PrivateKeyJwt)
}

/// Registers a client from metadata the caller vouches for, without fetching its
/// `sector_identifier_uri` or `jwks_uri` (bootstrap, tests). The CLI and the admin API
/// use [`register_client_with`], which does.
pub async fn register_client(store: &dyn Store, metadata: &ClientMetadata, now: i64) -> Result<Registered, AdminError> {
    store_new_client(store, metadata, None, None, now).await
}

/// Registers a client. The metadata is validated, its `sector_identifier_uri` and
/// `jwks_uri` documents fetched and checked within `limits` (as `/register` does), then
/// the client is stored. The secret is generated (256 bits) unless fixed in the
/// metadata, and only its digest is stored.
/// `kek` seals the secret of a `client_secret_jwt` client (required for those).
pub async fn register_client_with(
    store: &dyn Store,
    limits: &FetchLimits,
    kek: Option<&crate::crypto::seal::Kek>,
    metadata: &ClientMetadata,
    now: i64,
) -> Result<Registered, AdminError> {
    store_new_client(store, metadata, Some(limits), kek, now).await
}

async fn store_new_client(
    store: &dyn Store,
    metadata: &ClientMetadata,
    limits: Option<&FetchLimits>,
    kek: Option<&crate::crypto::seal::Kek>,
    now: i64,
) -> Result<Registered, AdminError> {
    let client_id = metadata.client_id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let client = metadata.validate(client_id, now)?;
    if let Some(limits) = limits {
        check_remote_documents(&client, limits).await?;
    }
    let secret = has_secret(&client).then(|| metadata.client_secret.clone().unwrap_or_else(random_token));
    let recoverable = client.token_endpoint_auth_method == AuthMethod::ClientSecretJwt;
    let digest = match secret.as_deref() {
        Some(s) => Some(
            crate::crypto::client_secret::stored_form(&client.client_id, s, recoverable, kek)
                .map_err(|e| AdminError::Invalid(e.to_string()))?,
        ),
        None => None,
    };
    let new = NewClient {
        client: &client,
        secret_digest: digest.as_deref(),
        registration_token_digest: None,
        registration_policy: None,
        initial_token_digest: None,
    };
    store.create_client(new, now).await?;
    Ok(Registered { client, client_secret: secret })
}

/// The client as administration shows it: the metadata echo, status and times; never a
/// secret or token digest.
pub fn client_json(r: &ClientRecord) -> Value {
    let mut v = r.client.registration_response();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("status".into(), r.status.as_str().into());
        obj.insert("updated_at".into(), r.updated_at.into());
        obj.insert("dynamically_registered".into(), r.registration_token_digest.is_some().into());
    }
    v
}

/// A client by id, whatever its status.
pub async fn get_client(store: &dyn Store, client_id: &str) -> Result<ClientRecord, AdminError> {
    store.get_client(client_id).await?.ok_or_else(|| AdminError::NotFound(format!("client {client_id}")))
}

/// One page of a list, and the cursor of the next one.
#[derive(Debug)]
pub struct Page<T> {
    /// The items, in id order.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// The default page size.
pub const DEFAULT_PAGE: u32 = 50;
/// The largest page size.
pub const MAX_PAGE: u32 = 200;

/// Reads `limit` and `cursor` (an opaque token from a previous page).
pub fn paging(limit: Option<&str>, cursor: Option<&str>) -> Result<(u32, Option<String>), AdminError> {
    let limit = match limit {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| AdminError::Invalid(format!("limit must be a number from 1 to {MAX_PAGE}")))?,
    };
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| AdminError::Invalid("cursor is not one this server handed out".into()))?,
        ),
    };
    Ok((limit, after))
}

fn next_cursor<T>(items: &mut Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Option<String> {
    if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|last| URL_SAFE_NO_PAD.encode(key(last)))
    } else {
        None
    }
}

/// A page of clients in id order.
pub async fn list_clients(
    store: &dyn Store,
    limit: u32,
    after: Option<&str>,
) -> Result<Page<ClientRecord>, AdminError> {
    let mut items = store.list_clients(after, limit.saturating_add(1)).await?;
    let next_cursor = next_cursor(&mut items, limit, |r| r.client.client_id.clone());
    Ok(Page { items, next_cursor })
}

/// Replaces a client's metadata (validated, remote documents checked as at
/// registration). `client_id` in the metadata, if any, must be this client's; a
/// `client_secret` in it sets a new secret (at least 32 characters). A client that
/// needs a secret and has none gets a generated one, returned once.
pub async fn update_client(
    store: &dyn Store,
    limits: &FetchLimits,
    kek: Option<&crate::crypto::seal::Kek>,
    client_id: &str,
    metadata: &ClientMetadata,
    now: i64,
) -> Result<Registered, AdminError> {
    let current = get_client(store, client_id).await?;
    if metadata.client_id.as_deref().is_some_and(|id| id != client_id) {
        return Err(AdminError::Invalid("client_id cannot be changed".into()));
    }
    let client = metadata.validate(client_id.to_owned(), current.client.client_id_issued_at)?;
    check_remote_documents(&client, limits).await?;
    let recoverable = client.token_endpoint_auth_method == AuthMethod::ClientSecretJwt;
    let store_secret = |s: &str| {
        crate::crypto::client_secret::stored_form(client_id, s, recoverable, kek)
            .map_err(|e| AdminError::Invalid(e.to_string()))
    };
    // A kept secret must be stored the way the (possibly new) method needs it: sealed
    // for client_secret_jwt, a digest otherwise; if not, a new secret is issued.
    let kept = current.secret_digest.filter(|d| d.starts_with("sealed:") == recoverable);
    let (digest, secret) = match (has_secret(&client), &metadata.client_secret, kept) {
        (false, _, _) => (None, None),
        (true, Some(s), _) => (Some(store_secret(s)?), Some(s.clone())),
        (true, None, Some(d)) => (Some(d), None),
        (true, None, None) => {
            let s = random_token();
            (Some(store_secret(&s)?), Some(s))
        }
    };
    if !store.update_client(&client, digest.as_deref(), now).await? {
        return Err(AdminError::NotFound(format!("client {client_id}")));
    }
    Ok(Registered { client, client_secret: secret })
}

/// Disables or re-enables a client. A disabled client is refused everywhere, as if
/// unknown, until enabled again.
pub async fn set_client_status(
    store: &dyn Store,
    client_id: &str,
    status: ClientStatus,
    now: i64,
) -> Result<ClientRecord, AdminError> {
    if !store.set_client_status(client_id, status, now).await? {
        return Err(AdminError::NotFound(format!("client {client_id}")));
    }
    get_client(store, client_id).await
}

/// Deletes a client with its consents and refresh tokens.
pub async fn delete_client(store: &dyn Store, client_id: &str) -> Result<(), AdminError> {
    if store.delete_client(client_id).await? {
        Ok(())
    } else {
        Err(AdminError::NotFound(format!("client {client_id}")))
    }
}

/// A new local account.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    /// Username.
    pub username: String,
    /// Password in clear (hashed here).
    pub password: String,
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the e-mail is verified.
    #[serde(default)]
    pub email_verified: bool,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Personal identification number.
    #[serde(default)]
    pub personal_number: Option<String>,
    /// Postal address (one line).
    #[serde(default)]
    pub address: Option<String>,
}

fn check_password(password: &str) -> Result<(), AdminError> {
    if password.chars().count() < 8 || password.len() > MAX_PASSWORD_BYTES {
        return Err(AdminError::Invalid(format!("password must be 8 to {MAX_PASSWORD_BYTES} bytes long")));
    }
    Ok(())
}

fn check_email(email: Option<&str>) -> Result<(), AdminError> {
    if let Some(e) = email
        && (!e.contains('@') || e.len() > 254)
    {
        return Err(AdminError::Invalid("email is not an e-mail address".into()));
    }
    Ok(())
}

fn parse_personal_number(raw: Option<&str>, now: i64) -> Result<Option<PersonalNumber>, AdminError> {
    raw.map(|r| PersonalNumber::parse(r, crate::clock::year_of(now)).map_err(|e| AdminError::Invalid(e.to_string())))
        .transpose()
}

fn normal_username(raw: &str) -> Result<String, AdminError> {
    let username = raw.trim().to_lowercase();
    check_username(&username).map_err(AdminError::Invalid)?;
    Ok(username)
}

/// Creates a local account with an argon2id password hash.
pub async fn create_person(
    store: &dyn Store,
    hasher: &PasswordHasher,
    new: NewPerson,
    now: i64,
) -> Result<Person, AdminError> {
    let username = normal_username(&new.username)?;
    check_password(&new.password)?;
    let personal_number = parse_personal_number(new.personal_number.as_deref(), now)?;
    check_email(new.email.as_deref())?;
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
        ..Person::new(PersonId(String::new()), 0)
    };
    store.create_person(&person, Some(&hash)).await?;
    Ok(person)
}

/// The person as printed by the CLI and listed by the API: no secret, the personal
/// number masked.
pub fn person_json(p: &Person) -> Value {
    json!({
        "id": p.id.0,
        "username": p.username,
        "name": p.name,
        "email": p.email,
        "email_verified": p.email_verified,
        "phone": p.phone,
        "phone_verified": p.phone_verified,
        "address": p.address,
        "personal_number": p.personal_number.as_ref().map(PersonalNumber::masked),
        "status": p.status.as_str(),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    })
}

/// One person as the admin API shows them when asked for that person: like
/// [`person_json`] but with the whole personal number (an administrator checking a
/// record needs it; lists never carry it).
pub fn person_detail_json(p: &Person) -> Value {
    let mut v = person_json(p);
    v["personal_number"] = p.personal_number.as_ref().map(|n| n.as_str().to_owned()).into();
    v
}

/// A person by id.
pub async fn get_person(store: &dyn Store, id: &str) -> Result<Person, AdminError> {
    store.find_person(&PersonId(id.to_owned())).await?.ok_or_else(|| AdminError::NotFound(format!("person {id}")))
}

/// A page of people in id (creation) order.
pub async fn list_people(store: &dyn Store, limit: u32, after: Option<&str>) -> Result<Page<Person>, AdminError> {
    let after = after.map(|a| PersonId(a.to_owned()));
    let mut items = store.list_people(after.as_ref(), limit.saturating_add(1)).await?;
    let next_cursor = next_cursor(&mut items, limit, |p| p.id.0.clone());
    Ok(Page { items, next_cursor })
}

/// `Some(v)` for a member present in the JSON (`v` may be `None` for `null`), `None`
/// for an absent one.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A change to a person: members left out stay as they are; `null` clears an optional
/// one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonPatch {
    /// New username.
    #[serde(default)]
    pub username: Option<String>,
    /// New password (hashed here).
    #[serde(default)]
    pub password: Option<String>,
    /// Full name.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    /// E-mail.
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    /// Whether the e-mail is verified.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Phone.
    #[serde(default, deserialize_with = "present")]
    pub phone: Option<Option<String>>,
    /// Whether the phone is verified.
    #[serde(default)]
    pub phone_verified: Option<bool>,
    /// Postal address.
    #[serde(default, deserialize_with = "present")]
    pub address: Option<Option<String>>,
    /// Personal identification number.
    #[serde(default, deserialize_with = "present")]
    pub personal_number: Option<Option<String>>,
}

/// Applies a change to a person (checked like a new account).
pub async fn update_person(
    store: &dyn Store,
    hasher: &PasswordHasher,
    id: &str,
    patch: PersonPatch,
    now: i64,
) -> Result<Person, AdminError> {
    let mut p = get_person(store, id).await?;
    if let Some(u) = &patch.username {
        p.username = Some(normal_username(u)?);
    }
    if let Some(e) = patch.email {
        check_email(e.as_deref())?;
        if e != p.email {
            p.email_verified = false;
        }
        p.email = e;
    }
    if let Some(pin) = patch.personal_number {
        p.personal_number = parse_personal_number(pin.as_deref(), now)?;
    }
    if let Some(phone) = patch.phone {
        if phone != p.phone {
            p.phone_verified = false;
        }
        p.phone = phone;
    }
    if let Some(v) = patch.name {
        p.name = v;
    }
    if let Some(v) = patch.address {
        p.address = v;
    }
    if let Some(v) = patch.email_verified {
        p.email_verified = v && p.email.is_some();
    }
    if let Some(v) = patch.phone_verified {
        p.phone_verified = v && p.phone.is_some();
    }
    let hash = match patch.password {
        Some(pw) => {
            check_password(&pw)?;
            Some(hasher.hash(pw).await.map_err(|e| AdminError::Invalid(e.to_string()))?)
        }
        None => None,
    };
    p.updated_at = now;
    if !store.update_person(&p, hash.as_deref()).await? {
        return Err(AdminError::NotFound(format!("person {id}")));
    }
    Ok(p)
}

/// Disables or re-enables a person. A disabled person cannot sign in, and their tokens
/// stop working at userinfo and refresh.
pub async fn set_person_status(
    store: &dyn Store,
    id: &str,
    status: PersonStatus,
    now: i64,
) -> Result<Person, AdminError> {
    let mut p = get_person(store, id).await?;
    p.status = status;
    p.updated_at = now;
    if !store.update_person(&p, None).await? {
        return Err(AdminError::NotFound(format!("person {id}")));
    }
    Ok(p)
}

/// Deletes a person with their consents and refresh tokens.
pub async fn delete_person(store: &dyn Store, id: &str) -> Result<(), AdminError> {
    if store.delete_person(&PersonId(id.to_owned())).await? {
        Ok(())
    } else {
        Err(AdminError::NotFound(format!("person {id}")))
    }
}

/// The default lifetime of an initial access token (7 days).
pub const INITIAL_TOKEN_TTL: i64 = 7 * 86_400;
/// The longest lifetime of an initial access token (1 year).
pub const INITIAL_TOKEN_MAX_TTL: i64 = 365 * 86_400;

/// A minted initial access token: the token in clear (shown this once) and its record.
#[derive(Debug)]
pub struct MintedToken {
    /// The bearer token for `/register`.
    pub token: String,
    /// What is stored (the digest, the policy, limits).
    pub record: InitialAccessToken,
}

impl MintedToken {
    /// `{"token", "id", "expires_at", "max_uses", "policy"}`.
    pub fn response(&self) -> Value {
        json!({
            "token": self.token,
            "id": self.record.id,
            "expires_at": self.record.expires_at,
            "max_uses": self.record.max_uses,
            "policy": self.record.policy,
        })
    }
}

/// Mints an initial access token for `/register` with a policy (`None`: the default
/// policy, see [`RegistrationPolicy`]), a lifetime (default 7 days, at most a year) and
/// an optional number of uses.
pub async fn create_initial_token(
    store: &dyn Store,
    policy: Option<&Value>,
    expires_in: Option<i64>,
    max_uses: Option<i64>,
    now: i64,
) -> Result<MintedToken, AdminError> {
    let policy = match policy {
        Some(v) => RegistrationPolicy::from_json(v).map_err(AdminError::Invalid)?,
        None => RegistrationPolicy::default(),
    };
    let ttl = expires_in.unwrap_or(INITIAL_TOKEN_TTL);
    if !(1..=INITIAL_TOKEN_MAX_TTL).contains(&ttl) {
        return Err(AdminError::Invalid(format!("expires_in must be 1 to {INITIAL_TOKEN_MAX_TTL} seconds")));
    }
    if max_uses.is_some_and(|n| n < 1) {
        return Err(AdminError::Invalid("max_uses must be at least 1".into()));
    }
    let token = random_token();
    let record = InitialAccessToken {
        id: uuid::Uuid::now_v7().simple().to_string(),
        token_digest: token_digest(&token),
        policy: policy.to_json(),
        created_at: now,
        expires_at: now + ttl,
        max_uses,
        uses: 0,
        revoked_at: None,
    };
    store.create_initial_token(&record).await?;
    tracing::info!(id = %record.id, expires_at = record.expires_at, "initial access token minted");
    Ok(MintedToken { token, record })
}

/// What `dinhdanh admin bootstrap` did.
#[derive(Debug)]
pub enum Bootstrap {
    /// The administrative client was created; its secret is in here, this once.
    Created(Registered),
    /// A client with that id exists already (its secret was shown when it was made).
    Exists(ClientRecord),
}

/// Creates the administrative service client (client credentials, `admin:clients
/// admin:people admin:orgs`), unless a client with that id exists. Verification
/// decisions are not among its powers: they need an officer's own sign-in.
pub async fn bootstrap_admin(store: &dyn Store, client_id: &str, now: i64) -> Result<Bootstrap, AdminError> {
    if let Some(existing) = store.get_client(client_id).await? {
        return Ok(Bootstrap::Exists(existing));
    }
    let md: ClientMetadata = serde_json::from_value(json!({
        "client_id": client_id,
        "client_name": "dinhdanh administration",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": format!("{SCOPE_CLIENTS} {SCOPE_PEOPLE} {SCOPE_ORGS}"),
    }))
    .map_err(|e| AdminError::Invalid(e.to_string()))?;
    Ok(Bootstrap::Created(register_client(store, &md, now).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years() {
        assert_eq!(crate::clock::year_of(0), 1970);
        assert_eq!(crate::clock::year_of(1_795_305_600), 2026); // 2026-11-22
        assert_eq!(crate::clock::year_of(1_767_225_599), 2025); // 2025-12-31T23:59:59Z
        assert_eq!(crate::clock::year_of(1_767_225_600), 2026);
    }

    #[test]
    fn paging_parameters() {
        assert_eq!(paging(None, None).unwrap(), (DEFAULT_PAGE, None));
        let c = URL_SAFE_NO_PAD.encode("abc");
        assert_eq!(paging(Some("2"), Some(&c)).unwrap(), (2, Some("abc".into())));
        for (l, c) in [(Some("0"), None), (Some("201"), None), (Some("x"), None), (None, Some("%%%"))] {
            assert!(paging(l, c).is_err(), "{l:?} {c:?}");
        }
    }

    #[test]
    fn patches_tell_null_from_absent() {
        let p: PersonPatch = serde_json::from_value(json!({"name": null, "email": "a@b.vn"})).unwrap();
        assert_eq!(p.name, Some(None));
        assert_eq!(p.email, Some(Some("a@b.vn".into())));
        assert_eq!(p.phone, None);
        assert!(serde_json::from_value::<PersonPatch>(json!({"password_hash": "x"})).is_err());
    }
}
