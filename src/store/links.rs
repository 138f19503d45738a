//! The upstream-link port: which upstream identity (issuer, subject) is which person.
//! The first sign-in through an upstream creates the person and the link in one
//! transaction, so there is never a person without its link or a link to nobody.

use async_trait::async_trait;

use super::StoreError;
use crate::identity::{Person, PersonId};

/// One link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamLink {
    /// Upstream issuer.
    pub issuer: String,
    /// Upstream `sub`.
    pub subject: String,
    /// The person.
    pub person_id: PersonId,
    /// When it was made.
    pub created_at: i64,
    /// The last sign-in through it.
    pub last_login_at: i64,
}

/// Links between upstream identities and people.
#[async_trait]
pub trait LinkStore: Send + Sync {
    /// The link of (issuer, subject), if any.
    async fn find_link(&self, issuer: &str, subject: &str) -> Result<Option<UpstreamLink>, StoreError>;
    /// Creates `person` and links (issuer, subject) to it, in one transaction:
    /// `Conflict` (and nothing written) if the link exists, or the person's personal
    /// number or username is already registered.
    async fn create_linked_person(
        &self,
        person: &Person,
        issuer: &str,
        subject: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Records a sign-in through the link; `false` if there is no such link.
    async fn touch_link(&self, issuer: &str, subject: &str, now: i64) -> Result<bool, StoreError>;
    /// The links of a person, oldest first.
    async fn links_of(&self, person: &PersonId) -> Result<Vec<UpstreamLink>, StoreError>;
    /// The person holding `personal_number`, if any (to tell a person why a sign-in was
    /// refused, never to merge).
    async fn find_person_by_personal_number(&self, personal_number: &str) -> Result<Option<PersonId>, StoreError>;
}
