//! [`LinkStore`] on PostgreSQL.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PostgresStore, conflict_or_unavailable, unavailable};
use crate::identity::{Person, PersonId};
use crate::store::{LinkStore, StoreError, UpstreamLink};

fn link_from_row(r: &PgRow) -> Result<UpstreamLink, StoreError> {
    Ok(UpstreamLink {
        issuer: r.try_get("issuer").map_err(unavailable)?,
        subject: r.try_get("subject").map_err(unavailable)?,
        person_id: PersonId(r.try_get("person_id").map_err(unavailable)?),
        created_at: r.try_get("created_at").map_err(unavailable)?,
        last_login_at: r.try_get("last_login_at").map_err(unavailable)?,
    })
}

#[async_trait]
impl LinkStore for PostgresStore {
    async fn find_link(&self, issuer: &str, subject: &str) -> Result<Option<UpstreamLink>, StoreError> {
        let row = sqlx::query(
            "SELECT issuer, subject, person_id, created_at, last_login_at FROM upstream_links \
             WHERE issuer = $1 AND subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.as_ref().map(link_from_row).transpose()
    }

    async fn create_linked_person(&self, p: &Person, issuer: &str, subject: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        super::insert_person(p, None)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_or_unavailable(e, "username or personal number is already registered"))?;
        sqlx::query(
            "INSERT INTO upstream_links (issuer, subject, person_id, created_at, last_login_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(issuer)
        .bind(subject)
        .bind(&p.id.0)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or_unavailable(e, "this upstream identity is already linked"))?;
        tx.commit().await.map_err(unavailable)
    }

    async fn touch_link(&self, issuer: &str, subject: &str, now: i64) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE upstream_links SET last_login_at = $1 WHERE issuer = $2 AND subject = $3")
            .bind(now)
            .bind(issuer)
            .bind(subject)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?
            .rows_affected();
        Ok(n > 0)
    }

    async fn links_of(&self, person: &PersonId) -> Result<Vec<UpstreamLink>, StoreError> {
        let rows = sqlx::query(
            "SELECT issuer, subject, person_id, created_at, last_login_at FROM upstream_links \
             WHERE person_id = $1 ORDER BY created_at, issuer, subject",
        )
        .bind(&person.0)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(link_from_row).collect()
    }

    async fn find_person_by_personal_number(&self, personal_number: &str) -> Result<Option<PersonId>, StoreError> {
        let row = sqlx::query("SELECT id FROM people WHERE personal_number = $1")
            .bind(personal_number)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| r.try_get::<String, _>("id").map(PersonId)).transpose().map_err(unavailable)
    }
}
