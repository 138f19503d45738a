//! [`ReceiptStore`] on PostgreSQL: each write is one transaction; the remembered consent
//! is widened under a row lock, as `ConsentStore::record_consent` does.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PostgresStore, conflict_or_unavailable, unavailable};
use crate::identity::PersonId;
use crate::protocol::scope::Scopes;
use crate::store::{ConsentReceipt, ReceiptStore, StoreError, Withdrawal};

const COLUMNS: &str =
    "id, person_id, client_id, client_name, purpose, scopes, claims, acr, policy_version, granted_at, withdrawn_at";

fn receipt_from_row(r: &PgRow) -> Result<ConsentReceipt, StoreError> {
    let claims: String = r.try_get("claims").map_err(unavailable)?;
    let scopes: String = r.try_get("scopes").map_err(unavailable)?;
    Ok(ConsentReceipt {
        id: r.try_get("id").map_err(unavailable)?,
        person_id: PersonId(r.try_get("person_id").map_err(unavailable)?),
        client_id: r.try_get("client_id").map_err(unavailable)?,
        client_name: r.try_get("client_name").map_err(unavailable)?,
        purpose: r.try_get("purpose").map_err(unavailable)?,
        scopes: Scopes::parse(&scopes),
        claims: serde_json::from_str(&claims)
            .map_err(|e| StoreError::Unavailable(format!("consent receipt record: {e}")))?,
        acr: r.try_get("acr").map_err(unavailable)?,
        policy_version: r.try_get("policy_version").map_err(unavailable)?,
        granted_at: r.try_get("granted_at").map_err(unavailable)?,
        withdrawn_at: r.try_get("withdrawn_at").map_err(unavailable)?,
    })
}

#[async_trait]
impl ReceiptStore for PostgresStore {
    async fn record_consent_with_receipt(&self, receipt: &ConsentReceipt) -> Result<(), StoreError> {
        let claims = serde_json::to_string(&receipt.claims).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO consent_receipts (id, person_id, client_id, client_name, purpose, scopes, claims, acr, \
             policy_version, granted_at, withdrawn_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
        )
        .bind(&receipt.id)
        .bind(&receipt.person_id.0)
        .bind(&receipt.client_id)
        .bind(&receipt.client_name)
        .bind(&receipt.purpose)
        .bind(receipt.scopes.to_string())
        .bind(claims)
        .bind(&receipt.acr)
        .bind(&receipt.policy_version)
        .bind(receipt.granted_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or_unavailable(e, "consent receipt exists"))?;
        // As in `record_consent`: make sure the row exists, lock it, widen it.
        sqlx::query(
            "INSERT INTO consents (person_id, client_id, scope, granted_at) VALUES ($1, $2, '', $3) \
             ON CONFLICT (person_id, client_id) DO NOTHING",
        )
        .bind(&receipt.person_id.0)
        .bind(&receipt.client_id)
        .bind(receipt.granted_at)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        let existing: String =
            sqlx::query_scalar("SELECT scope FROM consents WHERE person_id = $1 AND client_id = $2 FOR UPDATE")
                .bind(&receipt.person_id.0)
                .bind(&receipt.client_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(unavailable)?;
        let merged = Scopes::parse(&existing).union(&receipt.scopes);
        sqlx::query("UPDATE consents SET scope = $3, granted_at = $4 WHERE person_id = $1 AND client_id = $2")
            .bind(&receipt.person_id.0)
            .bind(&receipt.client_id)
            .bind(merged.to_string())
            .bind(receipt.granted_at)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn consent_receipts(&self, person: &PersonId) -> Result<Vec<ConsentReceipt>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM consent_receipts WHERE person_id = $1 ORDER BY granted_at DESC, id DESC"
        ));
        let rows = sqlx::query(sql).bind(&person.0).fetch_all(&self.pool).await.map_err(unavailable)?;
        rows.iter().map(receipt_from_row).collect()
    }

    async fn withdraw_consent(&self, person: &PersonId, client_id: &str, now: i64) -> Result<Withdrawal, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let receipts = sqlx::query(
            "UPDATE consent_receipts SET withdrawn_at = $1 WHERE person_id = $2 AND client_id = $3 \
             AND withdrawn_at IS NULL",
        )
        .bind(now)
        .bind(&person.0)
        .bind(client_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        sqlx::query("DELETE FROM consents WHERE person_id = $1 AND client_id = $2")
            .bind(&person.0)
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let families: Vec<String> = sqlx::query_scalar(
            "UPDATE refresh_families SET revoked_at = $1 WHERE person_id = $2 AND client_id = $3 \
             AND revoked_at IS NULL RETURNING family_id",
        )
        .bind(now)
        .bind(&person.0)
        .bind(client_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Withdrawal { receipts, families })
    }
}
