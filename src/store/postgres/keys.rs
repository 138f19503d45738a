//! [`KeyStore`] on PostgreSQL. Every write transaction first takes a transaction-scoped
//! advisory lock, so key changes from concurrent nodes serialise (they are rare), and the
//! partial unique indexes catch anything else.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PostgresStore, conflict_or_unavailable, unavailable};
use crate::protocol::client::SigningAlg;
use crate::store::{KeyState, KeyStore, Retirement, StoreError, StoredSigningKey};

const COLUMNS: &str = "kid, alg, state, private_key_sealed, kek_id, public_jwk, created_at, activates_at, \
     activated_at, retired_at, not_after";

fn key_from_row(r: &PgRow) -> Result<StoredSigningKey, StoreError> {
    let bad = |what: &str| StoreError::Unavailable(format!("signing key record: {what}"));
    let alg: String = r.try_get("alg").map_err(unavailable)?;
    let state: String = r.try_get("state").map_err(unavailable)?;
    Ok(StoredSigningKey {
        kid: r.try_get("kid").map_err(unavailable)?,
        alg: SigningAlg::parse(&alg).ok_or_else(|| bad("unknown alg"))?,
        state: KeyState::parse(&state).ok_or_else(|| bad("unknown state"))?,
        sealed_private_key: r.try_get("private_key_sealed").map_err(unavailable)?,
        kek_id: r.try_get("kek_id").map_err(unavailable)?,
        public_jwk: r.try_get("public_jwk").map_err(unavailable)?,
        created_at: r.try_get("created_at").map_err(unavailable)?,
        activates_at: r.try_get("activates_at").map_err(unavailable)?,
        activated_at: r.try_get("activated_at").map_err(unavailable)?,
        retired_at: r.try_get("retired_at").map_err(unavailable)?,
        not_after: r.try_get("not_after").map_err(unavailable)?,
    })
}

async fn insert(
    conn: &mut sqlx::PgConnection,
    k: &StoredSigningKey,
    state: KeyState,
    activated_at: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, state, private_key_sealed, kek_id, public_jwk, created_at, activates_at, \
         activated_at, retired_at, not_after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&k.kid)
    .bind(k.alg.as_str())
    .bind(state.as_str())
    .bind(&k.sealed_private_key)
    .bind(&k.kek_id)
    .bind(&k.public_jwk)
    .bind(k.created_at)
    .bind(k.activates_at)
    .bind(activated_at)
    .bind(k.retired_at)
    .bind(k.not_after)
    .execute(conn)
    .await
    .map_err(|e| conflict_or_unavailable(e, "signing key exists, or its algorithm already has a key in that state"))?;
    Ok(())
}

/// Serialises key changes across nodes until the transaction ends.
async fn lock(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Result<(), StoreError> {
    // An arbitrary constant naming "signing_keys" among this database's advisory locks.
    sqlx::query("SELECT pg_advisory_xact_lock(7305912004)").execute(&mut **tx).await.map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn signing_keys(&self, include_removed: bool) -> Result<Vec<StoredSigningKey>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM signing_keys WHERE $1 OR state <> 'removed' ORDER BY created_at, kid"
        ));
        let rows = sqlx::query(sql).bind(include_removed).fetch_all(&self.pool).await.map_err(unavailable)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        if !matches!(key.state, KeyState::Next | KeyState::Active) {
            return Err(StoreError::Conflict("a new signing key is next or active".into()));
        }
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        insert(&mut conn, key, key.state, key.activated_at).await
    }

    async fn advance_signing_keys(&self, now: i64, retention: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        lock(&mut tx).await?;
        // Retire first: the unique index allows one active key per algorithm.
        let retired = sqlx::query(
            "UPDATE signing_keys SET state = 'retired', retired_at = $1, not_after = $2 WHERE state = 'active' \
             AND alg IN (SELECT alg FROM signing_keys WHERE state = 'next' AND activates_at <= $3)",
        )
        .bind(now)
        .bind(now.saturating_add(retention))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        let activated = sqlx::query(
            "UPDATE signing_keys SET state = 'active', activated_at = $1 WHERE state = 'next' AND activates_at <= $2",
        )
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        let removed = sqlx::query(
            "UPDATE signing_keys SET state = 'removed', private_key_sealed = ''::bytea WHERE state = 'retired' \
             AND not_after <= $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        tx.commit().await.map_err(unavailable)?;
        Ok(retired + activated + removed)
    }

    async fn retire_signing_key(
        &self,
        kid: &str,
        now: i64,
        not_after: i64,
        replacement: Option<&StoredSigningKey>,
    ) -> Result<Retirement, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        lock(&mut tx).await?;
        let row: Option<(String, String)> = sqlx::query_as("SELECT alg, state FROM signing_keys WHERE kid = $1")
            .bind(kid)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        let Some((alg, state)) = row else { return Ok(Retirement::NotFound) };
        let remove_now = not_after <= now;
        let take_out = |to: &'static str| {
            // `removed` erases the sealed private key; `retired` keeps it (not that it signs).
            sqlx::query(if to == "removed" {
                "UPDATE signing_keys SET state = 'removed', private_key_sealed = ''::bytea, \
                 retired_at = COALESCE(retired_at, $1), not_after = $2 WHERE kid = $3"
            } else {
                "UPDATE signing_keys SET state = 'retired', retired_at = COALESCE(retired_at, $1), \
                 not_after = LEAST(COALESCE(not_after, $2), $3) WHERE kid = $4"
            })
        };
        match KeyState::parse(&state) {
            None | Some(KeyState::Removed) => Ok(Retirement::NotFound),
            Some(KeyState::Next) => {
                take_out("removed").bind(now).bind(now).bind(kid).execute(&mut *tx).await.map_err(unavailable)?;
                tx.commit().await.map_err(unavailable)?;
                Ok(Retirement::Removed { successor: None })
            }
            Some(KeyState::Retired) => {
                if remove_now {
                    take_out("removed").bind(now).bind(now).bind(kid).execute(&mut *tx).await.map_err(unavailable)?;
                } else {
                    let q = take_out("retired").bind(now).bind(not_after).bind(not_after).bind(kid);
                    q.execute(&mut *tx).await.map_err(unavailable)?;
                }
                tx.commit().await.map_err(unavailable)?;
                Ok(if remove_now {
                    Retirement::Removed { successor: None }
                } else {
                    Retirement::Retired { successor: None }
                })
            }
            Some(KeyState::Active) => {
                if remove_now {
                    take_out("removed").bind(now).bind(now).bind(kid).execute(&mut *tx).await.map_err(unavailable)?;
                } else {
                    let q = take_out("retired").bind(now).bind(not_after).bind(not_after).bind(kid);
                    q.execute(&mut *tx).await.map_err(unavailable)?;
                }
                let waiting: Option<String> =
                    sqlx::query_scalar("SELECT kid FROM signing_keys WHERE alg = $1 AND state = 'next'")
                        .bind(&alg)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(unavailable)?;
                let successor = match (waiting, replacement) {
                    (Some(next), _) => {
                        sqlx::query("UPDATE signing_keys SET state = 'active', activated_at = $1 WHERE kid = $2")
                            .bind(now)
                            .bind(&next)
                            .execute(&mut *tx)
                            .await
                            .map_err(unavailable)?;
                        next
                    }
                    (None, Some(r)) if r.alg.as_str() == alg => {
                        insert(&mut tx, r, KeyState::Active, Some(now)).await?;
                        r.kid.clone()
                    }
                    (None, _) => {
                        tx.rollback().await.map_err(unavailable)?;
                        return Ok(Retirement::NeedsReplacement);
                    }
                };
                tx.commit().await.map_err(unavailable)?;
                let successor = Some(successor);
                Ok(if remove_now { Retirement::Removed { successor } } else { Retirement::Retired { successor } })
            }
        }
    }
}
