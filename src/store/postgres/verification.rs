//! [`VerificationStore`] on PostgreSQL. A case write is one `UPDATE … WHERE version = $n`:
//! of two racing officers the second waits on the row lock, then finds the version
//! changed and writes nothing.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PostgresStore, conflict_or_unavailable, unavailable};
use crate::identity::PersonId;
use crate::identity::RepresentationStatus;
use crate::identity::verification::{Officer, VerificationCase};
use crate::store::verification::{CASE_COLUMNS, CaseColumns, officer_of, person_assurance};
use crate::store::verification::{REPRESENTATION_REVOKED, SUBJECT_GONE, org_assurance, representation_confirmation};
use crate::store::{CaseFilter, CaseWrite, StoreError, VerificationStore};

fn case_from_row(r: &PgRow) -> Result<VerificationCase, StoreError> {
    CaseColumns {
        id: r.try_get("id").map_err(unavailable)?,
        subject_kind: r.try_get("subject_kind").map_err(unavailable)?,
        subject_id: r.try_get("subject_id").map_err(unavailable)?,
        requested_level: r.try_get("requested_level").map_err(unavailable)?,
        state: r.try_get("state").map_err(unavailable)?,
        province: r.try_get("province").map_err(unavailable)?,
        commune: r.try_get("commune").map_err(unavailable)?,
        opened_by: r.try_get("opened_by").map_err(unavailable)?,
        evidence: r.try_get("evidence").map_err(unavailable)?,
        decisions: r.try_get("decisions").map_err(unavailable)?,
        created_at: r.try_get("created_at").map_err(unavailable)?,
        updated_at: r.try_get("updated_at").map_err(unavailable)?,
        closed_at: r.try_get("closed_at").map_err(unavailable)?,
        version: r.try_get("version").map_err(unavailable)?,
    }
    .into_case()
}

fn officer_from_row(r: &PgRow) -> Result<Officer, StoreError> {
    officer_of(
        r.try_get("person_id").map_err(unavailable)?,
        &r.try_get::<String, _>("role").map_err(unavailable)?,
        r.try_get("province").map_err(unavailable)?,
        r.try_get("commune").map_err(unavailable)?,
        r.try_get("updated_at").map_err(unavailable)?,
    )
}

/// Applies an approved case to what it is about, inside the case's transaction: a
/// person's or an organisation's assurance is raised (never lowered); a representation
/// is confirmed (`pending` → `active`), a revoked one refused with `Conflict`.
async fn apply_approval(conn: &mut sqlx::PgConnection, case: &VerificationCase) -> Result<(), StoreError> {
    if let Some((person, level, at, evidence)) = person_assurance(case) {
        sqlx::query(
            "UPDATE people SET assurance_level = $1, assurance_source = 'officer', assurance_time = $2, \
             assurance_evidence = $3, updated_at = $4 WHERE id = $5 AND assurance_level <= $6",
        )
        .bind(level)
        .bind(at)
        .bind(evidence)
        .bind(at)
        .bind(&person.0)
        .bind(level)
        .execute(&mut *conn)
        .await
        .map_err(unavailable)?;
    }
    if let Some((org, level, at, evidence)) = org_assurance(case) {
        let current: Option<i64> =
            sqlx::query_scalar("SELECT assurance_level FROM organisations WHERE id = $1 FOR UPDATE")
                .bind(org)
                .fetch_optional(&mut *conn)
                .await
                .map_err(unavailable)?;
        let Some(current) = current else { return Err(StoreError::Conflict(SUBJECT_GONE.into())) };
        if current <= level {
            sqlx::query(
                "UPDATE organisations SET assurance_level = $1, assurance_source = 'officer', assurance_time = $2, \
                 assurance_evidence = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(level)
            .bind(at)
            .bind(evidence)
            .bind(at)
            .bind(org)
            .execute(&mut *conn)
            .await
            .map_err(unavailable)?;
        }
    }
    if let Some((rep, at)) = representation_confirmation(case) {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM representations WHERE id = $1 FOR UPDATE")
            .bind(rep)
            .fetch_optional(&mut *conn)
            .await
            .map_err(unavailable)?;
        match status.as_deref().map(RepresentationStatus::parse) {
            None => return Err(StoreError::Conflict(SUBJECT_GONE.into())),
            Some(RepresentationStatus::Revoked) => return Err(StoreError::Conflict(REPRESENTATION_REVOKED.into())),
            Some(RepresentationStatus::Active) => {}
            Some(RepresentationStatus::Pending) => {
                sqlx::query("UPDATE representations SET status = 'active', updated_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(rep)
                    .execute(&mut *conn)
                    .await
                    .map_err(unavailable)?;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl VerificationStore for PostgresStore {
    async fn create_case(&self, case: &VerificationCase) -> Result<(), StoreError> {
        let c = CaseColumns::of(case)?;
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO verification_cases ({CASE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ));
        sqlx::query(sql)
            .bind(c.id)
            .bind(c.subject_kind)
            .bind(c.subject_id)
            .bind(c.requested_level)
            .bind(c.state)
            .bind(c.province)
            .bind(c.commune)
            .bind(c.opened_by)
            .bind(c.evidence)
            .bind(c.decisions)
            .bind(c.created_at)
            .bind(c.updated_at)
            .bind(c.closed_at)
            .bind(c.version)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or_unavailable(e, "a verification case with this id exists"))?;
        Ok(())
    }

    async fn find_case(&self, id: &str) -> Result<Option<VerificationCase>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {CASE_COLUMNS} FROM verification_cases WHERE id = $1"));
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await.map_err(unavailable)?;
        row.as_ref().map(case_from_row).transpose()
    }

    async fn list_cases(
        &self,
        filter: &CaseFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<VerificationCase>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM verification_cases WHERE ($1::TEXT IS NULL OR state = $1) \
             AND ($2::BIGINT IS NULL OR province = $2) AND ($3::TEXT IS NULL OR commune = $3) AND id > $4 \
             ORDER BY id LIMIT $5"
        ));
        let state = filter.state.map(|s| s.as_str());
        let province = filter.province.map(i64::from);
        let rows = sqlx::query(sql)
            .bind(state)
            .bind(province)
            .bind(&filter.commune)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(case_from_row).collect()
    }

    async fn save_case(&self, case: &VerificationCase, expected_version: i64) -> Result<CaseWrite, StoreError> {
        let c = CaseColumns::of(case)?;
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let n = sqlx::query(
            "UPDATE verification_cases SET state = $1, evidence = $2, decisions = $3, updated_at = $4, closed_at = $5, \
             version = $6 WHERE id = $7 AND version = $8",
        )
        .bind(c.state)
        .bind(c.evidence)
        .bind(c.decisions)
        .bind(c.updated_at)
        .bind(c.closed_at)
        .bind(c.version)
        .bind(&c.id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        if n == 0 {
            tx.rollback().await.map_err(unavailable)?;
            return Ok(CaseWrite::Stale);
        }
        apply_approval(&mut tx, case).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(CaseWrite::Saved)
    }

    async fn upsert_officer(&self, o: &Officer) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO officers (person_id, role, province, commune, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (person_id) DO UPDATE SET role = excluded.role, province = excluded.province, \
             commune = excluded.commune, updated_at = excluded.updated_at",
        )
        .bind(&o.person_id.0)
        .bind(o.role.as_str())
        .bind(i64::from(o.province))
        .bind(&o.commune)
        .bind(o.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::Conflict("there is no such person".into())
            }
            _ => unavailable(e),
        })?;
        Ok(())
    }

    async fn find_officer(&self, person: &PersonId) -> Result<Option<Officer>, StoreError> {
        let row =
            sqlx::query("SELECT person_id, role, province, commune, updated_at FROM officers WHERE person_id = $1")
                .bind(&person.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
        row.as_ref().map(officer_from_row).transpose()
    }

    async fn list_officers(&self, after: Option<&str>, limit: u32) -> Result<Vec<Officer>, StoreError> {
        let rows = sqlx::query(
            "SELECT person_id, role, province, commune, updated_at FROM officers WHERE person_id > $1 \
             ORDER BY person_id LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(officer_from_row).collect()
    }

    async fn delete_officer(&self, person: &PersonId) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM officers WHERE person_id = $1")
            .bind(&person.0)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?
            .rows_affected();
        Ok(n > 0)
    }
}
