//! Development seeding: `dinhdanh dev seed --people N` fills the durable store with N
//! synthetic people for load and scale tests. Usernames `seed-000001…`, one shared
//! password hashed **once** (argon2id at the configured parameters, so sign-in costs what
//! it costs in production), personal numbers valid per the rules (province 001, born
//! 1960-1999, unique sequence). Writes go through the `PersonStore` port, one batch per
//! transaction (`create_people`); people that already exist are skipped, so an
//! interrupted run can simply be repeated.

use std::sync::Arc;

use crate::crypto::password::PasswordHasher;
use crate::identity::{Person, PersonId, PersonalNumber};
use crate::store::{Store, StoreError};

/// Most people one run may seed: the personal-number scheme below has room for 40 million.
pub const MAX_PEOPLE: u64 = 40_000_000;

/// What a seeding run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    /// People inserted by this run.
    pub created: u64,
    /// People that were already there (same id, username or personal number).
    pub existing: u64,
}

/// Why seeding stopped.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The arguments are out of range.
    #[error("{0}")]
    Invalid(String),
    /// The shared password could not be hashed.
    #[error("hashing the shared password: {0}")]
    Hash(#[from] crate::crypto::CryptoError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The username of seed person `n` (1-based): `seed-000001`.
pub fn username(n: u64) -> String {
    format!("seed-{n:06}")
}

/// Seed person `n` (1-based), without a password.
pub fn person(n: u64, now: i64) -> Result<Person, SeedError> {
    let female = n % 2 == 1;
    // PPP G YY RRRRRR: province 001, century-and-sex digit 0/1 (20th century), year
    // 60 + the millions block, a six-digit sequence: unique for n below 40 million.
    let year = 60 + n / 1_000_000;
    let number = format!("001{}{:02}{:06}", u8::from(female), year, n % 1_000_000);
    let personal_number =
        PersonalNumber::parse(&number, 2000).map_err(|e| SeedError::Invalid(format!("seed {n}: {e}")))?;
    Ok(Person {
        username: Some(username(n)),
        name: Some(format!("Người Thử {n}")),
        personal_number: Some(personal_number),
        birthdate: Some(format!("19{year:02}-01-01")),
        gender: Some(if female { "female" } else { "male" }.to_owned()),
        nationality: Some("VN".to_owned()),
        ..Person::new(PersonId(format!("seed-p-{n:08}")), now)
    })
}

/// Seeds people `1..=count` with `password` (hashed once), `batch` per transaction
/// (progress is reported to `progress` after each batch with the number done so far).
pub async fn seed_people(
    store: Arc<dyn Store>,
    hasher: &PasswordHasher,
    password: &str,
    count: u64,
    batch: u64,
    now: i64,
    mut progress: impl FnMut(u64),
) -> Result<SeedReport, SeedError> {
    if count == 0 || count > MAX_PEOPLE {
        return Err(SeedError::Invalid(format!("--people must be between 1 and {MAX_PEOPLE}")));
    }
    if batch == 0 {
        return Err(SeedError::Invalid("--batch must be at least 1".into()));
    }
    let hash = hasher.hash(password.to_owned()).await?;
    let mut report = SeedReport { created: 0, existing: 0 };
    let mut start = 1;
    while start <= count {
        let end = count.min(start.saturating_add(batch - 1));
        let people = (start..=end).map(|n| person(n, now)).collect::<Result<Vec<_>, _>>()?;
        let created = store.create_people(&people, Some(&hash)).await?;
        report.created += created;
        report.existing += people.len() as u64 - created;
        progress(end);
        start = end + 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[test]
    fn seed_people_are_valid_and_distinct() {
        let a = person(1, 10).unwrap();
        let b = person(1_000_001, 10).unwrap();
        let c = person(2, 10).unwrap();
        assert_eq!(a.username.as_deref(), Some("seed-000001"));
        assert_eq!(b.username.as_deref(), Some("seed-1000001"));
        let numbers: Vec<String> =
            [&a, &b, &c].iter().map(|p| p.personal_number.as_ref().unwrap().as_str().to_owned()).collect();
        assert_eq!(numbers, ["001160000001", "001161000001", "001060000002"]);
        assert_eq!(a.gender.as_deref(), Some("female"));
        assert!(person(MAX_PEOPLE - 1, 10).is_ok());
    }

    #[tokio::test]
    async fn seeds_once_with_one_shared_hash_and_repeats_safely() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let hasher = PasswordHasher::new(1024, 1, 1).unwrap();
        let mut seen = Vec::new();
        let r = seed_people(store.clone(), &hasher, "mat-khau-thu", 30, 8, 100, |n| seen.push(n)).await.unwrap();
        assert_eq!(r, SeedReport { created: 30, existing: 0 });
        assert_eq!(seen, [8, 16, 24, 30]);
        let (p, hash) = store.find_login("seed-000030").await.unwrap().unwrap();
        assert_eq!(p.id.0, "seed-p-00000030");
        let (_, first) = store.find_login("seed-000001").await.unwrap().unwrap();
        assert_eq!(hash, first, "one hash shared by every seed person");
        assert!(hasher.verify("mat-khau-thu".into(), hash).await);
        let again = seed_people(store.clone(), &hasher, "mat-khau-thu", 32, 100, 100, |_| {}).await.unwrap();
        assert_eq!(again, SeedReport { created: 2, existing: 30 });
        assert!(seed_people(store, &hasher, "x", 0, 10, 100, |_| {}).await.is_err());
    }
}
