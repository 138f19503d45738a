//! [`OrgStore`] on PostgreSQL. The upstream upsert is one transaction of
//! `INSERT … ON CONFLICT DO NOTHING` statements followed by reads: a concurrent insert of
//! the same tax code (or live upstream representation) waits on the unique index for the
//! other transaction, then does nothing, and the read that follows sees the winner's row.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PostgresStore, unavailable};
use crate::identity::{
    Assurance, AssuranceLevel, AssuranceSource, OrgId, OrgStatus, OrgType, Organisation, PersonId, Representation,
    RepresentationId, RepresentationSource, RepresentationStatus, Role, TaxCode,
};
use crate::store::orgs::{TAX_CODE_TAKEN, UNKNOWN_PARTY, new_representation_id, scope_from_text, scope_text};
use crate::store::{OrgStore, StoreError};

const ORG_COLUMNS: &str = "o.id, o.org_type, o.tax_code, o.name, o.address, o.status, o.assurance_level, \
     o.assurance_source, o.assurance_time, o.assurance_evidence, o.created_at, o.updated_at";

const REP_COLUMNS: &str = "r.id AS rep_id, r.person_id AS rep_person_id, r.org_id AS rep_org_id, r.role AS rep_role, \
     r.scope AS rep_scope, r.valid_from AS rep_valid_from, r.valid_until AS rep_valid_until, \
     r.granted_by AS rep_granted_by, r.source AS rep_source, r.status AS rep_status, \
     r.created_at AS rep_created_at, r.updated_at AS rep_updated_at";

fn bad(what: &str) -> StoreError {
    StoreError::Unavailable(format!("organisation record: {what}"))
}

/// Unique violations name `rule`; foreign-key violations name the unknown party.
fn refused(e: sqlx::Error, rule: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(rule.to_owned()),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Conflict(UNKNOWN_PARTY.to_owned()),
        _ => unavailable(e),
    }
}

fn org_from_row(r: &PgRow) -> Result<Organisation, StoreError> {
    let org_type: String = r.try_get("org_type").map_err(unavailable)?;
    let tax_code: Option<String> = r.try_get("tax_code").map_err(unavailable)?;
    let evidence: Option<String> = r.try_get("assurance_evidence").map_err(unavailable)?;
    Ok(Organisation {
        id: OrgId(r.try_get("id").map_err(unavailable)?),
        org_type: OrgType::parse(&org_type).ok_or_else(|| bad("unknown type"))?,
        // Stored values were validated on the way in; the year bound is irrelevant here.
        tax_code: tax_code.map(|t| TaxCode::parse(&t, i32::MAX).map_err(|_| bad("unreadable tax code"))).transpose()?,
        name: r.try_get("name").map_err(unavailable)?,
        address: r.try_get("address").map_err(unavailable)?,
        status: OrgStatus::parse(&r.try_get::<String, _>("status").map_err(unavailable)?),
        assurance: Assurance {
            level: AssuranceLevel::from_i64(r.try_get("assurance_level").map_err(unavailable)?),
            source: AssuranceSource::parse(&r.try_get::<String, _>("assurance_source").map_err(unavailable)?),
            verified_at: r.try_get("assurance_time").map_err(unavailable)?,
            evidence: evidence.and_then(|e| serde_json::from_str(&e).ok()),
        },
        created_at: r.try_get("created_at").map_err(unavailable)?,
        updated_at: r.try_get("updated_at").map_err(unavailable)?,
    })
}

fn rep_from_row(r: &PgRow) -> Result<Representation, StoreError> {
    let role: String = r.try_get("rep_role").map_err(unavailable)?;
    let source: String = r.try_get("rep_source").map_err(unavailable)?;
    let scope: String = r.try_get("rep_scope").map_err(unavailable)?;
    let granted_by: Option<String> = r.try_get("rep_granted_by").map_err(unavailable)?;
    Ok(Representation {
        id: RepresentationId(r.try_get("rep_id").map_err(unavailable)?),
        person_id: PersonId(r.try_get("rep_person_id").map_err(unavailable)?),
        org_id: OrgId(r.try_get("rep_org_id").map_err(unavailable)?),
        role: Role::parse(&role).ok_or_else(|| bad("unknown role"))?,
        scope: scope_from_text(&scope)?,
        valid_from: r.try_get("rep_valid_from").map_err(unavailable)?,
        valid_until: r.try_get("rep_valid_until").map_err(unavailable)?,
        granted_by: granted_by.map(PersonId),
        source: RepresentationSource::parse(&source).ok_or_else(|| bad("unknown source"))?,
        status: RepresentationStatus::parse(&r.try_get::<String, _>("rep_status").map_err(unavailable)?),
        created_at: r.try_get("rep_created_at").map_err(unavailable)?,
        updated_at: r.try_get("rep_updated_at").map_err(unavailable)?,
    })
}

fn evidence_text(a: &Assurance) -> Option<String> {
    a.evidence.as_ref().and_then(|e| serde_json::to_string(e).ok())
}

/// `INSERT` of an organisation; `or_nothing` adds `ON CONFLICT DO NOTHING`. Returns the
/// rows inserted.
async fn insert_org(conn: &mut sqlx::PgConnection, o: &Organisation, or_nothing: bool) -> Result<u64, StoreError> {
    let sql = if or_nothing {
        "INSERT INTO organisations (id, org_type, tax_code, name, address, status, assurance_level, assurance_source, \
         assurance_time, assurance_evidence, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT DO NOTHING"
    } else {
        "INSERT INTO organisations (id, org_type, tax_code, name, address, status, assurance_level, assurance_source, \
         assurance_time, assurance_evidence, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    };
    let n = sqlx::query(sql)
        .bind(&o.id.0)
        .bind(o.org_type.as_str())
        .bind(o.tax_code.as_ref().map(|t| t.as_str().to_owned()))
        .bind(&o.name)
        .bind(&o.address)
        .bind(o.status.as_str())
        .bind(o.assurance.level.as_i64())
        .bind(o.assurance.source.as_str())
        .bind(o.assurance.verified_at)
        .bind(evidence_text(&o.assurance))
        .bind(o.created_at)
        .bind(o.updated_at)
        .execute(conn)
        .await
        .map_err(|e| refused(e, TAX_CODE_TAKEN))?
        .rows_affected();
    Ok(n)
}

async fn insert_rep(conn: &mut sqlx::PgConnection, r: &Representation, or_nothing: bool) -> Result<u64, StoreError> {
    let sql = if or_nothing {
        "INSERT INTO representations (id, person_id, org_id, role, scope, valid_from, valid_until, granted_by, source, \
         status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING"
    } else {
        "INSERT INTO representations (id, person_id, org_id, role, scope, valid_from, valid_until, granted_by, source, \
         status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    };
    let n = sqlx::query(sql)
        .bind(&r.id.0)
        .bind(&r.person_id.0)
        .bind(&r.org_id.0)
        .bind(r.role.as_str())
        .bind(scope_text(&r.scope))
        .bind(r.valid_from)
        .bind(r.valid_until)
        .bind(r.granted_by.as_ref().map(|p| p.0.clone()))
        .bind(r.source.as_str())
        .bind(r.status.as_str())
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(conn)
        .await
        .map_err(|e| refused(e, "representation exists, or a live upstream one of this person, organisation and role"))?
        .rows_affected();
    Ok(n)
}

#[async_trait]
impl OrgStore for PostgresStore {
    async fn create_org(&self, org: &Organisation) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        insert_org(&mut conn, org, false).await.map(|_| ())
    }

    async fn find_org(&self, id: &OrgId) -> Result<Option<Organisation>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {ORG_COLUMNS} FROM organisations o WHERE o.id = $1"));
        let row = sqlx::query(sql).bind(&id.0).fetch_optional(&self.pool).await.map_err(unavailable)?;
        row.as_ref().map(org_from_row).transpose()
    }

    async fn find_org_by_tax_code(&self, tax_code: &TaxCode) -> Result<Option<Organisation>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {ORG_COLUMNS} FROM organisations o WHERE o.tax_code = $1"));
        let row = sqlx::query(sql).bind(tax_code.as_str()).fetch_optional(&self.pool).await.map_err(unavailable)?;
        row.as_ref().map(org_from_row).transpose()
    }

    async fn list_orgs(&self, after: Option<&OrgId>, limit: u32) -> Result<Vec<Organisation>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {ORG_COLUMNS} FROM organisations o WHERE o.id > $1 ORDER BY o.id LIMIT $2"
        ));
        let rows = sqlx::query(sql)
            .bind(after.map_or("", |o| o.0.as_str()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(org_from_row).collect()
    }

    async fn update_org(&self, o: &Organisation) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE organisations SET org_type = $1, tax_code = $2, name = $3, address = $4, status = $5, \
             assurance_level = $6, assurance_source = $7, assurance_time = $8, assurance_evidence = $9, updated_at = $10 \
             WHERE id = $11",
        )
        .bind(o.org_type.as_str())
        .bind(o.tax_code.as_ref().map(|t| t.as_str().to_owned()))
        .bind(&o.name)
        .bind(&o.address)
        .bind(o.status.as_str())
        .bind(o.assurance.level.as_i64())
        .bind(o.assurance.source.as_str())
        .bind(o.assurance.verified_at)
        .bind(evidence_text(&o.assurance))
        .bind(o.updated_at)
        .bind(&o.id.0)
        .execute(&self.pool)
        .await
        .map_err(|e| refused(e, TAX_CODE_TAKEN))?
        .rows_affected();
        Ok(n > 0)
    }

    async fn create_representation(&self, rep: &Representation) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        insert_rep(&mut conn, rep, false).await.map(|_| ())
    }

    async fn find_representation(&self, id: &RepresentationId) -> Result<Option<Representation>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {REP_COLUMNS} FROM representations r WHERE r.id = $1"));
        let row = sqlx::query(sql).bind(&id.0).fetch_optional(&self.pool).await.map_err(unavailable)?;
        row.as_ref().map(rep_from_row).transpose()
    }

    async fn representations_of_person(
        &self,
        person: &PersonId,
        now: i64,
    ) -> Result<Vec<(Representation, Organisation)>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {REP_COLUMNS}, {ORG_COLUMNS} FROM representations r JOIN organisations o ON o.id = r.org_id \
             WHERE r.person_id = $1 AND r.status = 'active' AND r.valid_from <= $2 \
             AND (r.valid_until IS NULL OR r.valid_until > $3) AND o.status = 'active' \
             ORDER BY o.name, o.id, r.role, r.id"
        ));
        let rows =
            sqlx::query(sql).bind(&person.0).bind(now).bind(now).fetch_all(&self.pool).await.map_err(unavailable)?;
        rows.iter().map(|r| Ok((rep_from_row(r)?, org_from_row(r)?))).collect()
    }

    async fn representations_of_org(&self, org: &OrgId) -> Result<Vec<Representation>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {REP_COLUMNS} FROM representations r WHERE r.org_id = $1 ORDER BY r.created_at, r.id"
        ));
        let rows = sqlx::query(sql).bind(&org.0).fetch_all(&self.pool).await.map_err(unavailable)?;
        rows.iter().map(rep_from_row).collect()
    }

    async fn set_representation_status(
        &self,
        id: &RepresentationId,
        status: RepresentationStatus,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE representations SET status = $1, updated_at = $2 WHERE id = $3 AND status <> 'revoked'",
        )
        .bind(status.as_str())
        .bind(now)
        .bind(&id.0)
        .execute(&self.pool)
        .await
        .map_err(|e| refused(e, "a live upstream representation of this person, organisation and role exists"))?
        .rows_affected();
        Ok(n > 0)
    }

    async fn upsert_upstream_representation(
        &self,
        org: &Organisation,
        person: &PersonId,
        role: Role,
        now: i64,
    ) -> Result<(Organisation, Representation), StoreError> {
        let Some(tax_code) = &org.tax_code else {
            return Err(StoreError::Conflict("an upstream organisation needs a tax code".into()));
        };
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // A write first, so this transaction holds the write lock before it reads.
        insert_org(&mut tx, org, true).await?;
        let sql = sqlx::AssertSqlSafe(format!("SELECT {ORG_COLUMNS} FROM organisations o WHERE o.tax_code = $1"));
        let row = sqlx::query(sql).bind(tax_code.as_str()).fetch_optional(&mut *tx).await.map_err(unavailable)?;
        let stored = org_from_row(&row.ok_or_else(|| bad("upserted organisation not found"))?)?;
        let rep = Representation {
            id: new_representation_id(),
            person_id: person.clone(),
            org_id: stored.id.clone(),
            role,
            scope: vec![],
            valid_from: now,
            valid_until: None,
            granted_by: None,
            source: RepresentationSource::Upstream,
            status: RepresentationStatus::Active,
            created_at: now,
            updated_at: now,
        };
        insert_rep(&mut tx, &rep, true).await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {REP_COLUMNS} FROM representations r WHERE r.person_id = $1 AND r.org_id = $2 AND r.role = $3 \
             AND r.source = 'upstream' AND r.status <> 'revoked'"
        ));
        let row = sqlx::query(sql)
            .bind(&person.0)
            .bind(&stored.id.0)
            .bind(role.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        let rep = rep_from_row(&row.ok_or_else(|| bad("upserted representation not found"))?)?;
        tx.commit().await.map_err(unavailable)?;
        Ok((stored, rep))
    }
}
