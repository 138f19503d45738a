//! The organisations port: organisations (tax code unique when present) and the people who
//! represent them. `upsert_upstream_representation` is the one operation the upstream
//! broker needs for a national-portal account of type 2 or 3: find-or-create the
//! organisation by tax code and the person's upstream representation of it, in one
//! transaction, so concurrent sign-ins converge on one organisation and one
//! representation.

use async_trait::async_trait;

use super::StoreError;
use crate::identity::{
    OrgId, Organisation, PersonId, Representation, RepresentationId, RepresentationStatus, Role, TaxCode,
};

/// The `Conflict` rule of a taken tax code.
pub const TAX_CODE_TAKEN: &str = "an organisation with this tax code is already registered";
/// The `Conflict` rule of a representation naming an unknown person or organisation.
pub const UNKNOWN_PARTY: &str = "the person or organisation does not exist";

/// Organisations and representation.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Inserts an organisation; `Conflict` if its id or tax code is taken.
    async fn create_org(&self, org: &Organisation) -> Result<(), StoreError>;
    /// Finds an organisation by internal id, whatever its status.
    async fn find_org(&self, id: &OrgId) -> Result<Option<Organisation>, StoreError>;
    /// Finds an organisation by tax code (canonical form), whatever its status.
    async fn find_org_by_tax_code(&self, tax_code: &TaxCode) -> Result<Option<Organisation>, StoreError>;
    /// Up to `limit` organisations whose id sorts after `after`, in id order.
    async fn list_orgs(&self, after: Option<&OrgId>, limit: u32) -> Result<Vec<Organisation>, StoreError>;
    /// Replaces an organisation's details (everything but `id` and `created_at`); `false`
    /// if there is no such organisation; `Conflict` if the tax code is taken.
    async fn update_org(&self, org: &Organisation) -> Result<bool, StoreError>;
    /// Inserts a representation; `Conflict` if its id is taken, if the person or the
    /// organisation does not exist, or if it is a second live upstream representation of
    /// the same person, organisation and role.
    async fn create_representation(&self, rep: &Representation) -> Result<(), StoreError>;
    /// Finds a representation by id, whatever its status.
    async fn find_representation(&self, id: &RepresentationId) -> Result<Option<Representation>, StoreError>;
    /// The representations of `person` in force at `now`, with their organisations, for
    /// the sign-in context picker: active status, inside the validity window, of an active
    /// organisation; ordered by organisation name, then role.
    async fn representations_of_person(
        &self,
        person: &PersonId,
        now: i64,
    ) -> Result<Vec<(Representation, Organisation)>, StoreError>;
    /// Every representation of an organisation, whatever its status, oldest first.
    async fn representations_of_org(&self, org: &OrgId) -> Result<Vec<Representation>, StoreError>;
    /// Sets a representation's status (revoking or confirming it) at `now`; `false` if
    /// there is no such representation, or it is revoked already (revocation is final).
    async fn set_representation_status(
        &self,
        id: &RepresentationId,
        status: RepresentationStatus,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Find-or-create, in one transaction: the organisation with `org`'s tax code
    /// (inserted as given when there is none; an existing one is returned unchanged) and
    /// the live upstream representation of it by `person` in `role` (created active from
    /// `now` without end or scope; an existing one is returned unchanged). Returns both as
    /// stored. `Conflict` if `org` has no tax code or `person` does not exist.
    async fn upsert_upstream_representation(
        &self,
        org: &Organisation,
        person: &PersonId,
        role: Role,
        now: i64,
    ) -> Result<(Organisation, Representation), StoreError>;
}

/// The scope as stored (a JSON array).
pub(crate) fn scope_text(scope: &[String]) -> String {
    serde_json::to_string(scope).unwrap_or_else(|_| "[]".into())
}

/// The stored scope; an unreadable one is an empty list... which would mean everything,
/// so it is refused instead (fail closed).
pub(crate) fn scope_from_text(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Unavailable("representation record: unreadable scope".into()))
}

/// A new representation id (UUID v7).
pub(crate) fn new_representation_id() -> RepresentationId {
    RepresentationId(uuid::Uuid::now_v7().to_string())
}
