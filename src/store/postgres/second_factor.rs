//! [`SecondFactorStore`] on PostgreSQL. Single use is a conditional `UPDATE` (one statement:
//! the row lock and the re-checked `WHERE` make the compare-and-set atomic across
//! nodes); multi-row changes are one transaction.

use async_trait::async_trait;
use sqlx::Row;

use super::{PostgresStore, unavailable};
use crate::identity::PersonId;
use crate::store::{SecondFactorStore, StoreError, TotpCredential};

#[async_trait]
impl SecondFactorStore for PostgresStore {
    async fn totp_credential(&self, person: &PersonId) -> Result<Option<TotpCredential>, StoreError> {
        let row = sqlx::query(
            "SELECT secret_sealed, last_used_step, confirmed_at, created_at FROM totp_credentials WHERE person_id = $1",
        )
        .bind(&person.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.map(|r| {
            Ok(TotpCredential {
                person_id: person.clone(),
                sealed_secret: r.try_get("secret_sealed").map_err(unavailable)?,
                last_used_step: r.try_get("last_used_step").map_err(unavailable)?,
                confirmed_at: r.try_get("confirmed_at").map_err(unavailable)?,
                created_at: r.try_get("created_at").map_err(unavailable)?,
            })
        })
        .transpose()
    }

    async fn put_pending_totp(&self, person: &PersonId, sealed_secret: &[u8], now: i64) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO totp_credentials (person_id, secret_sealed, last_used_step, confirmed_at, created_at) \
             VALUES ($1, $2, NULL, NULL, $3) ON CONFLICT (person_id) DO UPDATE SET \
             secret_sealed = excluded.secret_sealed, last_used_step = NULL, created_at = excluded.created_at \
             WHERE totp_credentials.confirmed_at IS NULL",
        )
        .bind(&person.0)
        .bind(sealed_secret)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::Conflict("a confirmed second factor exists".into()));
        }
        Ok(())
    }

    async fn confirm_totp(
        &self,
        person: &PersonId,
        step: i64,
        recovery_digests: &[String],
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let confirmed = sqlx::query(
            "UPDATE totp_credentials SET confirmed_at = $1, last_used_step = $2 \
             WHERE person_id = $3 AND confirmed_at IS NULL",
        )
        .bind(now)
        .bind(step)
        .bind(&person.0)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        if confirmed == 0 {
            tx.rollback().await.map_err(unavailable)?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1")
            .bind(&person.0)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        for d in recovery_digests {
            sqlx::query("INSERT INTO recovery_codes (person_id, code_digest, used_at) VALUES ($1, $2, NULL)")
                .bind(&person.0)
                .bind(d)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    async fn use_totp_step(&self, person: &PersonId, step: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE totp_credentials SET last_used_step = $1 WHERE person_id = $2 AND confirmed_at IS NOT NULL \
             AND (last_used_step IS NULL OR last_used_step < $3)",
        )
        .bind(step)
        .bind(&person.0)
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn use_recovery_code(&self, person: &PersonId, digest: &str, now: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE person_id = $2 AND code_digest = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(&person.0)
        .bind(digest)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn recovery_codes_left(&self, person: &PersonId) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT count(*) FROM recovery_codes WHERE person_id = $1 AND used_at IS NULL")
            .bind(&person.0)
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn delete_totp(&self, person: &PersonId) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let n = sqlx::query("DELETE FROM totp_credentials WHERE person_id = $1")
            .bind(&person.0)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
        sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1")
            .bind(&person.0)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(n == 1)
    }
}
