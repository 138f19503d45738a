//! The embedded durable store on SQLite (WAL mode, so the CLI can write while the server
//! runs). Migrations are embedded from `migrations/sqlite/`.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlSafeStr};

use super::{
    AuditStore, ClientRecord, ClientStatus, ClientStore, ConsentStore, GrantStore, InitialAccessToken, InstanceStore,
    LogoutDelivery, LogoutStore, NewClient, PersonStore, RefreshFamily, RefreshLookup, Rotation, StoreError,
    StoredClient,
};
use crate::identity::{Assurance, AssuranceLevel, AssuranceSource, Person, PersonId, PersonStatus, PersonalNumber};
use crate::protocol::client::Client;
use crate::protocol::scope::Scopes;

mod keys;
mod links;
mod orgs;
mod receipts;
mod second_factor;
mod verification;

/// The migrations, in order. Append only: never edit a released file.
fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "refresh tokens".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0002_refresh_tokens.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "client onboarding".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0003_client_onboarding.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            "signing keys".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0004_signing_keys.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            5,
            "logout".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0005_logout.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            6,
            "audit".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0006_audit.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            7,
            "person profile".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0007_person_profile.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            8,
            "organisations".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0008_organisations.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            9,
            "verification".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0009_verification.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            10,
            "upstream links".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0010_upstream_links.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            11,
            "second factor".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0011_second_factor.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            12,
            "consent receipts".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0012_consent_receipts.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            13,
            "acting for".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0013_acting_for.sql").into_sql_str(),
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

/// SQLite-backed store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating the file and its folder if needed) the database at `url`
    /// (`sqlite://PATH` or `sqlite::memory:`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(unavailable)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let path = opts.get_filename();
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", parent.display())))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(unavailable)?;
        Ok(Self { pool })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrator().run(&self.pool).await.map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

fn assurance_from_row(r: &SqliteRow) -> Result<Assurance, sqlx::Error> {
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

fn person_from_row(r: &SqliteRow) -> Result<Person, sqlx::Error> {
    let pin: Option<String> = r.try_get("personal_number")?;
    Ok(Person {
        id: PersonId(r.try_get("id")?),
        username: r.try_get("username")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        email_verified: r.try_get::<i64, _>("email_verified")? != 0,
        phone: r.try_get("phone")?,
        phone_verified: r.try_get::<i64, _>("phone_verified")? != 0,
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

const INSERT_PERSON: &str = "INSERT INTO people (id, username, password_hash, name, email, email_verified, phone, \
     phone_verified, address, personal_number, birthdate, gender, nationality, assurance_level, assurance_source, \
     assurance_time, assurance_evidence, status, created_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const INSERT_PERSON_OR_IGNORE: &str = "INSERT OR IGNORE INTO people (id, username, password_hash, name, email, \
     email_verified, phone, phone_verified, address, personal_number, birthdate, gender, nationality, assurance_level, \
     assurance_source, assurance_time, assurance_evidence, status, created_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// Binds a person's profile columns, `name` through `status`, in that order: the part of
/// a person row that [`insert_person`] and `update_person` write alike.
fn bind_profile<'q>(
    q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    p: &'q Person,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    q.bind(&p.name)
        .bind(&p.email)
        .bind(i64::from(p.email_verified))
        .bind(&p.phone)
        .bind(i64::from(p.phone_verified))
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

/// The one way a person row is written (`or_ignore`: a clash inserts nothing), ready to
/// run on the pool or inside a transaction.
pub(super) fn insert_person<'q>(
    p: &'q Person,
    password_hash: Option<&'q str>,
    or_ignore: bool,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    let q = sqlx::query(if or_ignore { INSERT_PERSON_OR_IGNORE } else { INSERT_PERSON })
        .bind(&p.id.0)
        .bind(&p.username)
        .bind(password_hash);
    bind_profile(q, p).bind(p.created_at).bind(p.updated_at)
}

const PERSON_COLUMNS: &str = "id, username, name, email, email_verified, phone, phone_verified, address, personal_number, birthdate, gender, nationality, assurance_level, assurance_source, assurance_time, assurance_evidence, status, created_at, updated_at";

const CLIENT_COLUMNS: &str = "client_id, secret_digest, metadata, status, registration_token_digest, \
     registration_policy, COALESCE(updated_at, created_at) AS updated_at";

fn client_record_from_row(r: &SqliteRow) -> Result<ClientRecord, StoreError> {
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
impl ClientStore for SqliteStore {
    async fn find_client(&self, client_id: &str) -> Result<Option<StoredClient>, StoreError> {
        let row = sqlx::query("SELECT secret_digest, metadata FROM clients WHERE client_id = ? AND status = 'active'")
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
            // The conditional update comes first, so it takes SQLite's write lock: two
            // registrations racing for the last use serialise here.
            let spent = sqlx::query(
                "UPDATE initial_access_tokens SET uses = uses + 1 WHERE token_digest = ? AND revoked_at IS NULL \
                 AND expires_at > ? AND (max_uses IS NULL OR uses < max_uses)",
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
             registration_policy, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        let sql = sqlx::AssertSqlSafe(format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = ?"));
        let row = sqlx::query(sql).bind(client_id).fetch_optional(&self.pool).await.map_err(unavailable)?;
        row.map(|r| client_record_from_row(&r)).transpose()
    }

    async fn list_clients(&self, after: Option<&str>, limit: u32) -> Result<Vec<ClientRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id > ? ORDER BY client_id LIMIT ?"
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
        let n = sqlx::query("UPDATE clients SET metadata = ?, secret_digest = ?, updated_at = ? WHERE client_id = ?")
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
        let n = sqlx::query("UPDATE clients SET status = ?, updated_at = ? WHERE client_id = ?")
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
        let n = sqlx::query("DELETE FROM clients WHERE client_id = ?")
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
             revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
             FROM initial_access_tokens WHERE token_digest = ?",
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
impl PersonStore for SqliteStore {
    async fn create_person(&self, p: &Person, password_hash: Option<&str>) -> Result<(), StoreError> {
        insert_person(p, password_hash, false)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or_unavailable(e, "username or personal number is already registered"))?;
        Ok(())
    }

    async fn create_people(&self, people: &[Person], password_hash: Option<&str>) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let mut inserted = 0;
        for p in people {
            let done = insert_person(p, password_hash, true).execute(&mut *tx).await.map_err(unavailable)?;
            inserted += done.rows_affected();
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(inserted)
    }

    async fn find_person(&self, id: &PersonId) -> Result<Option<Person>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = ?"));
        let row = sqlx::query(sql).bind(&id.0).fetch_optional(&self.pool).await.map_err(unavailable)?;
        row.map(|r| person_from_row(&r)).transpose().map_err(unavailable)
    }

    async fn find_login(&self, username: &str) -> Result<Option<(Person, Option<String>)>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {PERSON_COLUMNS}, password_hash FROM people WHERE username = ?"));
        let row = sqlx::query(sql).bind(username).fetch_optional(&self.pool).await.map_err(unavailable)?;
        let Some(r) = row else { return Ok(None) };
        let person = person_from_row(&r).map_err(unavailable)?;
        Ok(Some((person, r.try_get("password_hash").map_err(unavailable)?)))
    }

    async fn list_people(&self, after: Option<&PersonId>, limit: u32) -> Result<Vec<Person>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {PERSON_COLUMNS} FROM people WHERE id > ? ORDER BY id LIMIT ?"));
        let rows = sqlx::query(sql)
            .bind(after.map_or("", |p| p.0.as_str()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(person_from_row).collect::<Result<_, _>>().map_err(unavailable)
    }

    async fn update_person(&self, p: &Person, password_hash: Option<&str>) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE people SET username = ?, name = ?, email = ?, email_verified = ?, phone = ?, phone_verified = ?, \
             address = ?, personal_number = ?, birthdate = ?, gender = ?, nationality = ?, assurance_level = ?, \
             assurance_source = ?, assurance_time = ?, assurance_evidence = ?, status = ?, updated_at = ?, \
             password_hash = COALESCE(?, password_hash) WHERE id = ?",
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
        let n = sqlx::query("DELETE FROM people WHERE id = ?")
            .bind(&id.0)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?
            .rows_affected();
        Ok(n > 0)
    }
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn find_consent(&self, person: &PersonId, client_id: &str) -> Result<Option<Scopes>, StoreError> {
        let row = sqlx::query("SELECT scope FROM consents WHERE person_id = ? AND client_id = ?")
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
        // One transaction: read the remembered scopes and widen them atomically.
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT scope FROM consents WHERE person_id = ? AND client_id = ?")
                .bind(&person.0)
                .bind(client_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?;
        let merged = existing.map(|e| Scopes::parse(&e).union(scopes)).unwrap_or_else(|| scopes.clone());
        sqlx::query(
            "INSERT INTO consents (person_id, client_id, scope, granted_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (person_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
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

const FAMILY_COLUMNS: &str = "f.family_id, f.client_id, f.person_id, f.scope, f.claims, f.acr, f.amr, f.auth_time, f.sid, f.acting_for, \
     f.created_at, f.expires_at";

fn family_from_row(r: &SqliteRow) -> Result<RefreshFamily, StoreError> {
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
impl GrantStore for SqliteStore {
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
             acting_for, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            "INSERT INTO refresh_tokens (token_digest, family_id, issued_at, idle_expires_at) VALUES (?, ?, ?, ?)",
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
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {FAMILY_COLUMNS}, t.used_at, t.idle_expires_at, f.revoked_at FROM refresh_tokens t \
             JOIN refresh_families f ON f.family_id = t.family_id WHERE t.token_digest = ?"
        ));
        let row = sqlx::query(sql).bind(token_digest).fetch_optional(&self.pool).await.map_err(unavailable)?;
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
        // The compare-and-set comes first, so this transaction takes SQLite's write lock
        // before reading: concurrent rotations of one token serialise here and only the
        // first sees `used_at IS NULL`.
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_at = ? WHERE token_digest = ? AND used_at IS NULL AND idle_expires_at > ?",
        )
        .bind(now)
        .bind(presented)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        if claimed == 0 {
            let row: Option<(String, Option<i64>)> =
                sqlx::query_as("SELECT family_id, used_at FROM refresh_tokens WHERE token_digest = ?")
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
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {FAMILY_COLUMNS} FROM refresh_tokens t JOIN refresh_families f ON f.family_id = t.family_id \
             WHERE t.token_digest = ? AND f.expires_at > ? AND f.revoked_at IS NULL"
        ));
        let row = sqlx::query(sql).bind(presented).bind(now).fetch_optional(&mut *tx).await.map_err(unavailable)?;
        let Some(row) = row else {
            tx.rollback().await.map_err(unavailable)?;
            return Ok(Rotation::Invalid);
        };
        let family = family_from_row(&row)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_digest, family_id, issued_at, idle_expires_at) VALUES (?, ?, ?, ?)",
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
        sqlx::query("UPDATE refresh_families SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(family_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn revoke_session_families(&self, sid: &str, client_id: &str, now: i64) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE refresh_families SET revoked_at = ? WHERE sid = ? AND client_id = ? AND revoked_at IS NULL \
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
impl LogoutStore for SqliteStore {
    async fn record_logout_delivery(&self, d: &LogoutDelivery) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO logout_deliveries (id, client_id, sid, status, attempts, last_error, created_at, finished_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
             WHERE client_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
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
impl InstanceStore for SqliteStore {
    async fn instance_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query("INSERT INTO instance_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        sqlx::query_scalar("SELECT value FROM instance_secrets WHERE name = ?")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(unavailable)
    }
}

fn audit_from_row(r: &SqliteRow) -> Result<crate::audit::AuditRecord, StoreError> {
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
impl AuditStore for SqliteStore {
    async fn append_audit(&self, event: &crate::audit::AuditEvent) -> Result<crate::audit::AuditRecord, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?;
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
             WHERE seq > ? ORDER BY seq LIMIT ?",
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
    use super::*;

    async fn fresh() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.sqlite").display());
        let s = SqliteStore::connect(&url).await.unwrap();
        s.migrate().await.unwrap();
        (dir, s)
    }

    #[tokio::test]
    async fn contract_on_sqlite() {
        let (_dir, s) = fresh().await;
        super::super::contract::run_all(&s).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_rotation_on_sqlite() {
        let (_dir, s) = fresh().await;
        super::super::contract::concurrent_rotation(std::sync::Arc::new(s)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_initial_token_uses_on_sqlite() {
        let (_dir, s) = fresh().await;
        super::super::contract::concurrent_initial_token_uses(std::sync::Arc::new(s)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_signing_keys_on_sqlite() {
        let (_dir, s) = fresh().await;
        super::super::contract::keys::concurrent_signing_keys(std::sync::Arc::new(s)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_second_factor_on_sqlite() {
        let (_dir, s) = fresh().await;
        super::super::contract::second_factor::concurrent_second_factor(std::sync::Arc::new(s)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_audit_on_sqlite() {
        let (_dir, s) = fresh().await;
        super::super::contract::concurrent_audit(std::sync::Arc::new(s)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_upstream_upsert_on_sqlite() {
        let (_dir, s) = fresh().await;
        super::super::contract::orgs::concurrent_upstream_upsert(std::sync::Arc::new(s)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_verification_decisions_on_sqlite() {
        let (_dir, s) = fresh().await;
        super::super::contract::verification::concurrent_decisions(std::sync::Arc::new(s)).await;
    }

    #[tokio::test]
    async fn migrations_are_idempotent() {
        let (_dir, s) = fresh().await;
        s.migrate().await.unwrap();
        s.ping().await.unwrap();
    }
}
