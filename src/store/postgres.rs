//! The durable store on PostgreSQL, for several stateless nodes sharing one database.
//! Migrations are embedded from `migrations/postgres/`, which pairs file by file with
//! `migrations/sqlite/` (a test checks the names). Behaviour is the SQLite store's, checked
//! by the same `store::contract` suite.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Row, SqlSafeStr};

use super::{
    AuditStore, ClientRecord, ClientStatus, ClientStore, ConsentStore, GrantStore, InitialAccessToken, InstanceStore,
    LogoutDelivery, LogoutStore, NewClient, PersonStore, RefreshFamily, RefreshLookup, Rotation, StoreError,
    StoredClient,
};
use crate::identity::{Assurance, AssuranceLevel, AssuranceSource, Person, PersonId, PersonStatus, PersonalNumber};
use crate::protocol::client::Client;
use crate::protocol::scope::Scopes;

/// At most this many connections per node.
const MAX_CONNECTIONS: u32 = 16;
/// How long getting a connection may take (also bounds `connect`), so a stalled database
/// gives a quick `Unavailable` rather than a hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

mod keys;
mod links;
mod orgs;
mod receipts;
mod second_factor;
mod verification;

/// The migrations, in order. Append only: never edit a released file. Each one has a
/// namesake in `migrations/sqlite/`.
fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "refresh tokens".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0002_refresh_tokens.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "client onboarding".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0003_client_onboarding.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            "signing keys".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0004_signing_keys.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            5,
            "logout".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0005_logout.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            6,
            "audit".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0006_audit.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            7,
            "person profile".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0007_person_profile.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            8,
            "organisations".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0008_organisations.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            9,
            "verification".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0009_verification.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            10,
            "upstream links".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0010_upstream_links.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            11,
            "second factor".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0011_second_factor.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            12,
            "consent receipts".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0012_consent_receipts.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            13,
            "acting for".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0013_acting_for.sql").into_sql_str(),
            false,
        ),
    ])
}

fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn conflict_or_unavailable(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.to_owned()),
        _ => unavailable(e),
    }
}

/// PostgreSQL-backed store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`)
    /// and checks one connection; `Unavailable` within a few seconds if the server is
    /// down, refuses, or does not answer. Statements are bounded by the default
    /// `DINHDANH_DATABASE_STATEMENT_TIMEOUT_MS` (see [`PostgresStore::connect_with`]).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let default = Duration::from_millis(crate::config::defaults::DATABASE_STATEMENT_TIMEOUT_MS);
        Self::connect_with(url, default).await
    }

    /// As [`PostgresStore::connect`], with every pooled connection's `statement_timeout`
    /// set to `statement_timeout` (through the startup options, so it holds for each new
    /// connection): a statement stalled on a lock or a slow plan is cancelled by the
    /// server and reported as `Unavailable`, and its connection returns to the pool.
    pub async fn connect_with(url: &str, statement_timeout: Duration) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(unavailable)?;
        Self::open(options, statement_timeout).await
    }

    async fn open(options: PgConnectOptions, statement_timeout: Duration) -> Result<Self, StoreError> {
        let millis = statement_timeout.as_millis().max(1).to_string();
        let options = options.options([("statement_timeout", millis.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| match e {
                sqlx::Error::PoolTimedOut => StoreError::Unavailable(format!(
                    "PostgreSQL did not accept a connection within {} s",
                    ACQUIRE_TIMEOUT.as_secs()
                )),
                e => unavailable(e),
            })?;
        Ok(Self { pool })
    }

    /// Applies pending migrations (under PostgreSQL's advisory lock, so nodes starting
    /// together apply each migration once).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrator().run(&self.pool).await.map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

/// Binds a person's profile columns, `name` through `status`, in that order: the part of
/// a person row that [`insert_person`] and `update_person` write alike.
fn bind_profile<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    p: &'q Person,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    q.bind(&p.name)
        .bind(&p.email)
        .bind(p.email_verified)
        .bind(&p.phone)
        .bind(p.phone_verified)
        .bind(&p.address)
        .bind(p.personal_number.as_ref().map(|n| n.as_str().to_owned()))
        .bind(&p.birthdate)
        .bind(&p.gender)
        .bind(&p.nationality)
        .bind(p.assurance.level.as_i64())
        .bind(p.assurance.source.as_str())
        .bind(p.assurance.verified_at)
        .bind(evidence_text(&p.assurance))
        .bind(p.status.as_str())
}

/// The one way a person row is written, ready to run on the pool or inside a
/// transaction.
pub(super) fn insert_person<'q>(
    p: &'q Person,
    password_hash: Option<&'q str>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let q = sqlx::query(
        "INSERT INTO people (id, username, password_hash, name, email, email_verified, phone, phone_verified, address, \
         personal_number, birthdate, gender, nationality, assurance_level, assurance_source, assurance_time, \
         assurance_evidence, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(&p.id.0)
    .bind(&p.username)
    .bind(password_hash);
    bind_profile(q, p).bind(p.created_at).bind(p.updated_at)
}

const PERSON_COLUMNS: &str = "id, username, name, email, email_verified, phone, phone_verified, address, personal_number, birthdate, gender, nationality, assurance_level, assurance_source, assurance_time, assurance_evidence, status, created_at, updated_at";

fn assurance_from_row(r: &PgRow) -> Result<Assurance, sqlx::Error> {
    let evidence: Option<String> = r.try_get("assurance_evidence")?;
    Ok(Assurance {
        level: AssuranceLevel::from_i64(r.try_get("assurance_level")?),
        source: AssuranceSource::parse(&r.try_get::<String, _>("assurance_source")?),
        verified_at: r.try_get("assurance_time")?,
        // Written by us from the typed value; an unreadable one is no evidence.
        evidence: evidence.and_then(|e| serde_json::from_str(&e).ok()),
    })
}

fn evidence_text(a: &Assurance) -> Option<String> {
    a.evidence.as_ref().and_then(|e| serde_json::to_string(e).ok())
}

// The struct update keeps fields added to `Person` later defaulted until read here.
#[allow(clippy::needless_update)]
fn person_from_row(r: &PgRow) -> Result<Person, sqlx::Error> {
    let pin: Option<String> = r.try_get("personal_number")?;
    Ok(Person {
        id: PersonId(r.try_get("id")?),
        username: r.try_get("username")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        email_verified: r.try_get("email_verified")?,
        phone: r.try_get("phone")?,
        phone_verified: r.try_get("phone_verified")?,
        address: r.try_get("address")?,
        // Stored values were validated on the way in; the year bound is irrelevant here.
        personal_number: pin.and_then(|p| PersonalNumber::parse(&p, i32::MAX).ok()),
        birthdate: r.try_get("birthdate")?,
        gender: r.try_get("gender")?,
        nationality: r.try_get("nationality")?,
        assurance: assurance_from_row(r)?,
        status: PersonStatus::parse(&r.try_get::<String, _>("status")?),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const CLIENT_COLUMNS: &str = "client_id, secret_digest, metadata, status, registration_token_digest, \
     registration_policy, COALESCE(updated_at, created_at) AS updated_at";

fn client_record_from_row(r: &PgRow) -> Result<ClientRecord, StoreError> {
    let metadata: String = r.try_get("metadata").map_err(unavailable)?;
    let client: Client =
        serde_json::from_str(&metadata).map_err(|e| StoreError::Unavailable(format!("client record: {e}")))?;
    let policy: Option<String> = r.try_get("registration_policy").map_err(unavailable)?;
    let registration_policy = policy
        .map(|p| serde_json::from_str(&p))
        .transpose()
        .map_err(|e| StoreError::Unavailable(format!("client record: {e}")))?;
    Ok(ClientRecord {
        client,
        secret_digest: r.try_get("secret_digest").map_err(unavailable)?,
        status: ClientStatus::parse(&r.try_get::<String, _>("status").map_err(unavailable)?),
        registration_token_digest: r.try_get("registration_token_digest").map_err(unavailable)?,
        registration_policy,
        updated_at: r.try_get("updated_at").map_err(unavailable)?,
    })
}

#[async_trait]
impl ClientStore for PostgresStore {
    async fn find_client(&self, client_id: &str) -> Result<Option<StoredClient>, StoreError> {
        let row = sqlx::query("SELECT secret_digest, metadata FROM clients WHERE client_id = $1 AND status = 'active'")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let metadata: String = row.try_get("metadata").map_err(unavailable)?;
        let client: Client =
            serde_json::from_str(&metadata).map_err(|e| StoreError::Unavailable(format!("client record: {e}")))?;
        Ok(Some(StoredClient { client, secret_digest: row.try_get("secret_digest").map_err(unavailable)? }))
    }

    async fn create_client(&self, new: NewClient<'_>, now: i64) -> Result<bool, StoreError> {
        let metadata = serde_json::to_string(new.client).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        if let Some(digest) = new.initial_token_digest {
            // The conditional update comes first, so it takes the token's row lock: two
            // registrations racing for the last use serialise here, and the later one re-checks
            // the condition after the first commits.
            let spent = sqlx::query(
                "UPDATE initial_access_tokens SET uses = uses + 1 WHERE token_digest = $1 AND revoked_at IS NULL \
                 AND expires_at > $2 AND (max_uses IS NULL OR uses < max_uses)",
            )
            .bind(digest)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
            if spent == 0 {
                tx.rollback().await.map_err(unavailable)?;
                return Ok(false);
            }
        }
        sqlx::query(
            "INSERT INTO clients (client_id, secret_digest, metadata, created_at, registration_token_digest, \
             registration_policy, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&new.client.client_id)
        .bind(new.secret_digest)
        .bind(metadata)
        .bind(new.client.client_id_issued_at)
        .bind(new.registration_token_digest)
        .bind(new.registration_policy.map(|p| p.to_string()))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or_unavailable(e, "client_id is already registered"))?;
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1"));
        let row = sqlx::query(sql).bind(client_id).fetch_optional(&self.pool).await.map_err(unavailable)?;
        row.map(|r| client_record_from_row(&r)).transpose()
    }

    async fn list_clients(&self, after: Option<&str>, limit: u32) -> Result<Vec<ClientRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id > $1 ORDER BY client_id LIMIT $2"
        ));
        let rows = sqlx::query(sql)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(client_record_from_row).collect()
    }

    async fn update_client(&self, client: &Client, secret_digest: Option<&str>, now: i64) -> Result<bool, StoreError> {
        let metadata = serde_json::to_string(client).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let n =
            sqlx::query("UPDATE clients SET metadata = $1, secret_digest = $2, updated_at = $3 WHERE client_id = $4")
                .bind(metadata)
                .bind(secret_digest)
                .bind(now)
                .bind(&client.client_id)
                .execute(&self.pool)
                .await
                .map_err(unavailable)?
                .rows_affected();
        Ok(n > 0)
    }

    async fn set_client_status(&self, client_id: &str, status: ClientStatus, now: i64) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE clients SET status = $1, updated_at = $2 WHERE client_id = $3")
            .bind(status.as_str())
            .bind(now)
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?
            .rows_affected();
        Ok(n > 0)
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?
            .rows_affected();
        Ok(n > 0)
    }

    async fn create_initial_token(&self, t: &InitialAccessToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO initial_access_tokens (id, token_digest, policy, created_at, expires_at, max_uses, uses, \
             revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&t.id)
        .bind(&t.token_digest)
        .bind(t.policy.to_string())
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.max_uses)
        .bind(t.uses)
        .bind(t.revoked_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or_unavailable(e, "initial access token exists"))?;
        Ok(())
    }

    async fn find_initial_token(&self, token_digest: &str) -> Result<Option<InitialAccessToken>, StoreError> {
        let row = sqlx::query(
            "SELECT id, token_digest, policy, created_at, expires_at, max_uses, uses, revoked_at \
             FROM initial_access_tokens WHERE token_digest = $1",
        )
        .bind(token_digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(r) = row else { return Ok(None) };
        let policy: String = r.try_get("policy").map_err(unavailable)?;
        Ok(Some(InitialAccessToken {
            id: r.try_get("id").map_err(unavailable)?,
            token_digest: r.try_get("token_digest").map_err(unavailable)?,
            policy: serde_json::from_str(&policy)
                .map_err(|e| StoreError::Unavailable(format!("initial access token record: {e}")))?,
            created_at: r.try_get("created_at").map_err(unavailable)?,
            expires_at: r.try_get("expires_at").map_err(unavailable)?,
            max_uses: r.try_get("max_uses").map_err(unavailable)?,
            uses: r.try_get("uses").map_err(unavailable)?,
            revoked_at: r.try_get("revoked_at").map_err(unavailable)?,
        }))
    }
}

#[async_trait]
impl PersonStore for PostgresStore {
    async fn create_person(&self, p: &Person, password_hash: Option<&str>) -> Result<(), StoreError> {
        insert_person(p, password_hash)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or_unavailable(e, "username or personal number is already registered"))?;
        Ok(())
    }

    async fn create_people(&self, people: &[Person], password_hash: Option<&str>) -> Result<u64, StoreError> {
        if people.is_empty() {
            return Ok(0);
        }
        let text = |f: &dyn Fn(&Person) -> Option<String>| people.iter().map(f).collect::<Vec<Option<String>>>();
        let int = |f: &dyn Fn(&Person) -> Option<i64>| people.iter().map(f).collect::<Vec<Option<i64>>>();
        let flag = |f: &dyn Fn(&Person) -> bool| people.iter().map(f).collect::<Vec<bool>>();
        // One statement over column arrays: a batch is one round trip and one commit.
        let done = sqlx::query(
            "INSERT INTO people (id, username, password_hash, name, email, email_verified, phone, phone_verified, \
             address, personal_number, birthdate, gender, nationality, assurance_level, assurance_source, \
             assurance_time, assurance_evidence, status, created_at, updated_at) \
             SELECT t.id, t.username, $1, t.name, t.email, t.email_verified, t.phone, t.phone_verified, t.address, \
             t.personal_number, t.birthdate, t.gender, t.nationality, t.assurance_level, t.assurance_source, \
             t.assurance_time, t.assurance_evidence, t.status, t.created_at, t.updated_at \
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::bool[], \
             $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::text[], \
             $16::bigint[], $17::text[], $18::text[], $19::bigint[], $20::bigint[]) \
             AS t(id, username, name, email, email_verified, phone, phone_verified, address, personal_number, \
             birthdate, gender, nationality, assurance_level, assurance_source, assurance_time, \
             assurance_evidence, status, created_at, updated_at) \
             ON CONFLICT DO NOTHING",
        )
        .bind(password_hash)
        .bind(text(&|p| Some(p.id.0.clone())))
        .bind(text(&|p| p.username.clone()))
        .bind(text(&|p| p.name.clone()))
        .bind(text(&|p| p.email.clone()))
        .bind(flag(&|p| p.email_verified))
        .bind(text(&|p| p.phone.clone()))
        .bind(flag(&|p| p.phone_verified))
        .bind(text(&|p| p.address.clone()))
        .bind(text(&|p| p.personal_number.as_ref().map(|n| n.as_str().to_owned())))
        .bind(text(&|p| p.birthdate.clone()))
        .bind(text(&|p| p.gender.clone()))
        .bind(text(&|p| p.nationality.clone()))
        .bind(int(&|p| Some(p.assurance.level.as_i64())))
        .bind(text(&|p| Some(p.assurance.source.as_str().to_owned())))
        .bind(int(&|p| p.assurance.verified_at))
        .bind(text(&|p| evidence_text(&p.assurance)))
        .bind(text(&|p| Some(p.status.as_str().to_owned())))
        .bind(int(&|p| Some(p.created_at)))
        .bind(int(&|p| Some(p.updated_at)))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected())
    }

    async fn find_person(&self, id: &PersonId) -> Result<Option<Person>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = $1")))
            .bind(&id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| person_from_row(&r)).transpose().map_err(unavailable)
    }

    async fn find_login(&self, username: &str) -> Result<Option<(Person, Option<String>)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS}, password_hash FROM people WHERE username = $1"
        )))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(r) = row else { return Ok(None) };
        let person = person_from_row(&r).map_err(unavailable)?;
        Ok(Some((person, r.try_get("password_hash").map_err(unavailable)?)))
    }

    async fn list_people(&self, after: Option<&PersonId>, limit: u32) -> Result<Vec<Person>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after.map_or("", |p| p.0.as_str()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(person_from_row).collect::<Result<_, _>>().map_err(unavailable)
    }

    async fn update_person(&self, p: &Person, password_hash: Option<&str>) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE people SET username = $1, name = $2, email = $3, email_verified = $4, phone = $5, \
             phone_verified = $6, address = $7, personal_number = $8, birthdate = $9, gender = $10, \
             nationality = $11, assurance_level = $12, assurance_source = $13, assurance_time = $14, \
             assurance_evidence = $15, status = $16, updated_at = $17, \
             password_hash = COALESCE($18, password_hash) WHERE id = $19",
        )
        .bind(&p.username);
        let n = bind_profile(q, p)
            .bind(p.updated_at)
            .bind(password_hash)
            .bind(&p.id.0)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or_unavailable(e, "username or personal number is already registered"))?
            .rows_affected();
        Ok(n > 0)
    }

    async fn delete_person(&self, id: &PersonId) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM people WHERE id = $1")
            .bind(&id.0)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?
            .rows_affected();
        Ok(n > 0)
    }
}

#[async_trait]
impl ConsentStore for PostgresStore {
    async fn find_consent(&self, person: &PersonId, client_id: &str) -> Result<Option<Scopes>, StoreError> {
        let row = sqlx::query("SELECT scope FROM consents WHERE person_id = $1 AND client_id = $2")
            .bind(&person.0)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| r.try_get::<String, _>("scope").map(|s| Scopes::parse(&s))).transpose().map_err(unavailable)
    }

    async fn record_consent(
        &self,
        person: &PersonId,
        client_id: &str,
        scopes: &Scopes,
        now: i64,
    ) -> Result<(), StoreError> {
        // One transaction: make sure the row exists, lock it, widen it. Under READ
        // COMMITTED a bare `SELECT … FOR UPDATE` locks nothing when there is no row yet,
        // so two first consents would both insert and the later would overwrite the
        // earlier. Inserting an empty row first serialises them: a concurrent insert
        // waits for ours to commit, then finds the row and locks it. The merge stays in
        // `Scopes::union` (existing scopes first, then new ones), like SQLite's.
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO consents (person_id, client_id, scope, granted_at) VALUES ($1, $2, '', $3) \
             ON CONFLICT (person_id, client_id) DO NOTHING",
        )
        .bind(&person.0)
        .bind(client_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        let existing: String =
            sqlx::query_scalar("SELECT scope FROM consents WHERE person_id = $1 AND client_id = $2 FOR UPDATE")
                .bind(&person.0)
                .bind(client_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(unavailable)?;
        let merged = Scopes::parse(&existing).union(scopes);
        sqlx::query("UPDATE consents SET scope = $3, granted_at = $4 WHERE person_id = $1 AND client_id = $2")
            .bind(&person.0)
            .bind(client_id)
            .bind(merged.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }
}

fn family_from_row(r: &PgRow) -> Result<RefreshFamily, StoreError> {
    let get_s = |c: &str| r.try_get::<String, _>(c).map_err(unavailable);
    let get_i = |c: &str| r.try_get::<i64, _>(c).map_err(unavailable);
    let json_err = |e: serde_json::Error| StoreError::Unavailable(format!("refresh family record: {e}"));
    Ok(RefreshFamily {
        family_id: get_s("family_id")?,
        client_id: get_s("client_id")?,
        person_id: PersonId(get_s("person_id")?),
        scope: Scopes::parse(&get_s("scope")?),
        claims: serde_json::from_str(&get_s("claims")?).map_err(json_err)?,
        acr: get_s("acr")?,
        amr: serde_json::from_str(&get_s("amr")?).map_err(json_err)?,
        auth_time: get_i("auth_time")?,
        sid: get_s("sid")?,
        acting_for: r.try_get("acting_for").map_err(unavailable)?,
        created_at: get_i("created_at")?,
        expires_at: get_i("expires_at")?,
    })
}

#[async_trait]
impl GrantStore for PostgresStore {
    async fn create_refresh_family(
        &self,
        f: &RefreshFamily,
        token_digest: &str,
        idle_expires_at: i64,
    ) -> Result<(), StoreError> {
        let json = |v: serde_json::Result<String>| v.map_err(|e| StoreError::Unavailable(e.to_string()));
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO refresh_families (family_id, client_id, person_id, scope, claims, acr, amr, auth_time, sid, \
             acting_for, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&f.family_id)
        .bind(&f.client_id)
        .bind(&f.person_id.0)
        .bind(f.scope.to_string())
        .bind(json(serde_json::to_string(&f.claims))?)
        .bind(&f.acr)
        .bind(json(serde_json::to_string(&f.amr))?)
        .bind(f.auth_time)
        .bind(&f.sid)
        .bind(&f.acting_for)
        .bind(f.created_at)
        .bind(f.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or_unavailable(e, "refresh family exists"))?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_digest, family_id, issued_at, idle_expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_digest)
        .bind(&f.family_id)
        .bind(f.created_at)
        .bind(idle_expires_at.min(f.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or_unavailable(e, "refresh token exists"))?;
        tx.commit().await.map_err(unavailable)
    }

    async fn find_refresh_token(&self, token_digest: &str, now: i64) -> Result<RefreshLookup, StoreError> {
        let row = sqlx::query(
            "SELECT f.family_id, f.client_id, f.person_id, f.scope, f.claims, f.acr, f.amr, f.auth_time, f.sid, f.acting_for, \
             f.created_at, f.expires_at, t.used_at, t.idle_expires_at, f.revoked_at FROM refresh_tokens t \
             JOIN refresh_families f ON f.family_id = t.family_id WHERE t.token_digest = $1",
        )
        .bind(token_digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else { return Ok(RefreshLookup::Invalid) };
        let family = family_from_row(&row)?;
        let used: Option<i64> = row.try_get("used_at").map_err(unavailable)?;
        let idle: i64 = row.try_get("idle_expires_at").map_err(unavailable)?;
        let revoked: Option<i64> = row.try_get("revoked_at").map_err(unavailable)?;
        Ok(if revoked.is_some() || family.expires_at <= now {
            RefreshLookup::Invalid
        } else if used.is_some() {
            RefreshLookup::Used { family_id: family.family_id }
        } else if idle <= now {
            RefreshLookup::Invalid
        } else {
            RefreshLookup::Current(family)
        })
    }

    async fn rotate_refresh_token(
        &self,
        presented: &str,
        new_digest: &str,
        now: i64,
        new_idle_expires_at: i64,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // Compare-and-set first. Concurrent rotations of one token queue on its row lock;
        // under READ COMMITTED each waiter re-checks `used_at IS NULL` against the
        // committed row, so only the first claims it and the others see it used.
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_digest = $2 AND used_at IS NULL AND idle_expires_at > $1",
        )
        .bind(now)
        .bind(presented)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        if claimed == 0 {
            let row: Option<(String, Option<i64>)> =
                sqlx::query_as("SELECT family_id, used_at FROM refresh_tokens WHERE token_digest = $1")
                    .bind(presented)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(unavailable)?;
            tx.rollback().await.map_err(unavailable)?;
            return Ok(match row {
                Some((family_id, Some(_))) => Rotation::Reused { family_id },
                _ => Rotation::Invalid,
            });
        }
        let row = sqlx::query(
            "SELECT f.family_id, f.client_id, f.person_id, f.scope, f.claims, f.acr, f.amr, f.auth_time, f.sid, f.acting_for, \
             f.created_at, f.expires_at FROM refresh_tokens t JOIN refresh_families f ON f.family_id = t.family_id \
             WHERE t.token_digest = $1 AND f.expires_at > $2 AND f.revoked_at IS NULL",
        )
        .bind(presented)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else {
            // Expired or revoked family: leave the token as it was.
            tx.rollback().await.map_err(unavailable)?;
            return Ok(Rotation::Invalid);
        };
        let family = family_from_row(&row)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_digest, family_id, issued_at, idle_expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(new_digest)
        .bind(&family.family_id)
        .bind(now)
        .bind(new_idle_expires_at.min(family.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or_unavailable(e, "refresh token exists"))?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Rotation::Rotated(family))
    }

    async fn revoke_refresh_family(&self, family_id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE refresh_families SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(family_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn revoke_session_families(&self, sid: &str, client_id: &str, now: i64) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE refresh_families SET revoked_at = $1 WHERE sid = $2 AND client_id = $3 AND revoked_at IS NULL \
             AND (' ' || scope || ' ') NOT LIKE '% offline_access %' RETURNING family_id",
        )
        .bind(now)
        .bind(sid)
        .bind(client_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(ids)
    }
}

#[async_trait]
impl LogoutStore for PostgresStore {
    async fn record_logout_delivery(&self, d: &LogoutDelivery) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO logout_deliveries (id, client_id, sid, status, attempts, last_error, created_at, finished_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&d.id)
        .bind(&d.client_id)
        .bind(&d.sid)
        .bind(&d.status)
        .bind(d.attempts)
        .bind(&d.last_error)
        .bind(d.created_at)
        .bind(d.finished_at)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn logout_deliveries(&self, client_id: &str, limit: i64) -> Result<Vec<LogoutDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, client_id, sid, status, attempts, last_error, created_at, finished_at FROM logout_deliveries \
             WHERE client_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(client_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                Ok(LogoutDelivery {
                    id: r.try_get("id")?,
                    client_id: r.try_get("client_id")?,
                    sid: r.try_get("sid")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                    created_at: r.try_get("created_at")?,
                    finished_at: r.try_get("finished_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(unavailable)
    }
}

#[async_trait]
impl InstanceStore for PostgresStore {
    async fn instance_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        // A concurrent insert of the same name waits for the first to commit, then does
        // nothing; the SELECT (a new snapshot) then sees the winner's value.
        sqlx::query("INSERT INTO instance_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        sqlx::query_scalar("SELECT value FROM instance_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(unavailable)
    }
}

fn audit_from_row(r: &PgRow) -> Result<crate::audit::AuditRecord, StoreError> {
    let detail: String = r.try_get("detail").map_err(unavailable)?;
    Ok(crate::audit::AuditRecord {
        seq: r.try_get("seq").map_err(unavailable)?,
        event: crate::audit::AuditEvent {
            at: r.try_get("at").map_err(unavailable)?,
            actor: r.try_get("actor").map_err(unavailable)?,
            action: r.try_get("action").map_err(unavailable)?,
            subject: r.try_get("subject").map_err(unavailable)?,
            outcome: r.try_get("outcome").map_err(unavailable)?,
            detail: serde_json::from_str(&detail).map_err(|e| StoreError::Unavailable(format!("audit record: {e}")))?,
        },
        prev_hash: r.try_get("prev_hash").map_err(unavailable)?,
        hash: r.try_get("hash").map_err(unavailable)?,
    })
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit(&self, event: &crate::audit::AuditEvent) -> Result<crate::audit::AuditRecord, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // One writer at a time: the chain must not fork.
        sqlx::query("SELECT pg_advisory_xact_lock(7004240)").execute(&mut *tx).await.map_err(unavailable)?;
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?;
        let (seq, prev_hash) = match last {
            Some((s, h)) => (s + 1, h),
            None => (1, crate::audit::GENESIS.to_owned()),
        };
        let hash = crate::audit::chain_hash(&prev_hash, seq, event);
        sqlx::query(
            "INSERT INTO audit_events (seq, at, actor, action, subject, outcome, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(seq)
        .bind(event.at)
        .bind(&event.actor)
        .bind(&event.action)
        .bind(&event.subject)
        .bind(&event.outcome)
        .bind(event.detail.to_string())
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(crate::audit::AuditRecord { seq, event: event.clone(), prev_hash, hash })
    }

    async fn audit_events(&self, after_seq: i64, limit: i64) -> Result<Vec<crate::audit::AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, subject, outcome, detail, prev_hash, hash FROM audit_events \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(audit_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    //! The contract suite and PostgreSQL specifics, each on a fresh database created from
    //! `TEST_POSTGRES_URL` (an admin URL); without it these print NOT RUN and pass. The
    //! connection-failure and migration-pairing tests need no database.

    use std::future::Future;
    use std::path::Path;

    use super::*;
    use crate::protocol::client::ClientMetadata;

    const ADMIN_URL_VAR: &str = "TEST_POSTGRES_URL";

    /// Creates a database, connects and migrates, runs `body` on a task (so a failing
    /// assertion still lets us drop the database), drops it, then re-raises any panic.
    async fn with_fresh_db<F, Fut>(test: &str, body: F)
    where
        F: FnOnce(PostgresStore) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Ok(admin_url) = std::env::var(ADMIN_URL_VAR) else {
            eprintln!(
                "PostgreSQL store suite NOT RUN ({test}): set {ADMIN_URL_VAR}=postgres://USER@HOST:PORT/postgres"
            );
            return;
        };
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{ADMIN_URL_VAR}: cannot connect: {e}"));
        // A generated lowercase identifier: safe to splice into the statement.
        let name = format!("dd_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        let outcome = tokio::spawn(async move {
            let store = PostgresStore::connect(url.as_str()).await.unwrap();
            store.migrate().await.unwrap();
            body(store.clone()).await;
            store.pool.close().await;
        })
        .await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&admin).await.unwrap();
        admin.close().await;
        if let Err(e) = outcome {
            match e.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(e) => panic!("test task: {e}"),
            }
        }
    }

    #[tokio::test]
    async fn contract_on_postgres() {
        with_fresh_db("contract_on_postgres", |s| async move {
            crate::store::contract::run_all(&s).await;
        })
        .await;
    }

    #[tokio::test]
    async fn migrations_are_idempotent() {
        with_fresh_db("migrations_are_idempotent", |s| async move {
            s.migrate().await.unwrap();
            s.migrate().await.unwrap();
            s.ping().await.unwrap();
            let applied: i64 =
                sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations").fetch_one(&s.pool).await.unwrap();
            assert_eq!(applied, i64::try_from(migrator().iter().count()).unwrap());
        })
        .await;
    }

    fn person(id: &str) -> Person {
        Person {
            id: PersonId(id.into()),
            username: Some(format!("user-{id}")),
            name: None,
            email: None,
            email_verified: false,
            phone: None,
            phone_verified: false,
            address: None,
            personal_number: None,
            status: PersonStatus::Active,
            created_at: 1,
            updated_at: 1,
            ..Person::new(PersonId(String::new()), 0)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_first_consents_all_survive() {
        with_fresh_db("concurrent_first_consents_all_survive", |s| async move {
            let md: ClientMetadata =
                serde_json::from_value(serde_json::json!({"redirect_uris": ["https://rp.example.vn/cb"]})).unwrap();
            let c = md.validate("race-rp".into(), 1).unwrap();
            assert!(s.create_client(crate::store::contract::plain(&c, None), 1).await.unwrap());
            s.create_person(&person("p-race"), None).await.unwrap();
            let pid = PersonId("p-race".into());
            let tasks: Vec<_> = (0..12)
                .map(|i| {
                    let (s, pid) = (s.clone(), pid.clone());
                    tokio::spawn(async move {
                        s.record_consent(&pid, "race-rp", &Scopes::parse(&format!("openid s{i}")), 100 + i).await
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            let got = s.find_consent(&pid, "race-rp").await.unwrap().unwrap().to_string();
            let got: Vec<&str> = got.split(' ').collect();
            assert_eq!(got.first(), Some(&"openid"), "{got:?}");
            assert_eq!(got.len(), 13, "a concurrent consent was lost: {got:?}");
            for i in 0..12 {
                assert!(got.contains(&format!("s{i}").as_str()), "s{i} lost: {got:?}");
            }
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_instance_secrets_agree() {
        with_fresh_db("concurrent_instance_secrets_agree", |s| async move {
            let tasks: Vec<_> = (0..12u8)
                .map(|i| {
                    let s = s.clone();
                    tokio::spawn(async move { s.instance_secret("pairwise", &[i; 32]).await })
                })
                .collect();
            let mut seen = Vec::new();
            for t in tasks {
                seen.push(t.await.unwrap().unwrap());
            }
            assert!(seen.windows(2).all(|w| w[0] == w[1]), "nodes disagree on the secret");
            assert_eq!(s.instance_secret("pairwise", b"late").await.unwrap(), seen[0]);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_rotation_on_postgres() {
        with_fresh_db("concurrent_rotation_on_postgres", |s| async move {
            crate::store::contract::concurrent_rotation(std::sync::Arc::new(s)).await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_initial_token_uses_on_postgres() {
        with_fresh_db("concurrent_initial_token_uses_on_postgres", |s| async move {
            crate::store::contract::concurrent_initial_token_uses(std::sync::Arc::new(s)).await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_second_factor_on_postgres() {
        with_fresh_db("concurrent_second_factor_on_postgres", |s| async move {
            crate::store::contract::second_factor::concurrent_second_factor(std::sync::Arc::new(s)).await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_audit_on_postgres() {
        with_fresh_db("concurrent_audit_on_postgres", |s| async move {
            crate::store::contract::concurrent_audit(std::sync::Arc::new(s)).await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_signing_keys_on_postgres() {
        with_fresh_db("concurrent_signing_keys_on_postgres", |s| async move {
            crate::store::contract::keys::concurrent_signing_keys(std::sync::Arc::new(s)).await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_upstream_upsert_on_postgres() {
        with_fresh_db("concurrent_upstream_upsert_on_postgres", |s| async move {
            crate::store::contract::orgs::concurrent_upstream_upsert(std::sync::Arc::new(s)).await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_verification_decisions_on_postgres() {
        with_fresh_db("concurrent_verification_decisions_on_postgres", |s| async move {
            crate::store::contract::verification::concurrent_decisions(std::sync::Arc::new(s)).await;
        })
        .await;
    }

    /// Bounds a connect attempt and checks it fails as `Unavailable`.
    async fn assert_connect_fails_fast(url: &str) {
        let result = tokio::time::timeout(Duration::from_secs(10), PostgresStore::connect(url))
            .await
            .unwrap_or_else(|_| panic!("connect to {url} hung for 10 s"));
        match result {
            Err(StoreError::Unavailable(msg)) => assert!(!msg.is_empty()),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn connect_to_a_closed_port_is_unavailable_quickly() {
        assert_connect_fails_fast("postgres://postgres@127.0.0.1:1/postgres").await;
    }

    #[tokio::test]
    async fn connect_to_a_silent_server_is_unavailable_quickly() {
        // Accepts TCP connections and never says a word, like a stalled database.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                open.push(sock);
            }
        });
        assert_connect_fails_fast(&format!("postgres://postgres@127.0.0.1:{port}/postgres")).await;
        hold.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn statement_timeout_bounds_a_stalled_statement() {
        with_fresh_db("statement_timeout_bounds_a_stalled_statement", |s| async move {
            let shown: String = sqlx::query_scalar("SHOW statement_timeout").fetch_one(&s.pool).await.unwrap();
            assert_eq!(shown, "5s", "the default bound applies to every pooled connection");
            let short =
                PostgresStore::open((*s.pool.connect_options()).clone(), Duration::from_millis(300)).await.unwrap();
            let shown: String = sqlx::query_scalar("SHOW statement_timeout").fetch_one(&short.pool).await.unwrap();
            assert_eq!(shown, "300ms");
            // Another connection holds the people table: sign-in lookups wait on the lock.
            let mut holder = s.pool.begin().await.unwrap();
            sqlx::query("LOCK TABLE people IN ACCESS EXCLUSIVE MODE").execute(&mut *holder).await.unwrap();
            let watch = crate::clock::Stopwatch::start();
            let stalled = tokio::time::timeout(Duration::from_secs(5), short.find_login("someone"))
                .await
                .expect("the statement timeout did not end the stalled lookup");
            assert!(matches!(stalled, Err(StoreError::Unavailable(_))), "{stalled:?}");
            assert!(watch.elapsed() < Duration::from_secs(3), "took {:?}", watch.elapsed());
            // A plain slow statement ends the same way.
            let slept = sqlx::query("SELECT pg_sleep(10)").execute(&short.pool).await.map_err(unavailable);
            assert!(matches!(slept, Err(StoreError::Unavailable(_))), "{slept:?}");
            holder.rollback().await.unwrap();
            // The pool keeps working: every connection is still usable.
            for _ in 0..(MAX_CONNECTIONS + 2) {
                assert!(short.find_login("someone").await.unwrap().is_none());
            }
            short.ping().await.unwrap();
            short.pool.close().await;
        })
        .await;
    }

    fn sql_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn migration_folders_pair_up_and_are_all_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let sqlite = sql_files(&root.join("sqlite"));
        let postgres = sql_files(&root.join("postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres, "migrations/sqlite and migrations/postgres must have the same files");
        let embedded: Vec<String> =
            migrator().iter().map(|m| format!("{:04}_{}.sql", m.version, m.description.replace(' ', "_"))).collect();
        assert_eq!(embedded, postgres, "every file of migrations/postgres is embedded, in order");
    }
}
