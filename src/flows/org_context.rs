//! The organisation a person acts for, as tokens carry it: the representation chosen in
//! the browser session travels with the code, the refresh-token family and the access
//! token; the `org` scope turns it into `vn_org` / `vn_account_type` (see
//! `protocol::org_claim`), looked up afresh each time so a revoked representation or a
//! disabled organisation stops being claimed at once.

use serde_json::{Map, Value};

use super::{Services, store_failed};
use crate::identity::{PersonId, RepresentationId};
use crate::protocol::OAuthError;
use crate::protocol::client::Client;
use crate::protocol::scope::Scopes;
use crate::protocol::{claim_policy, org_claim};

/// The claims the `org` scope releases for `person` acting through `acting_for` (empty
/// without the scope). A representation that is no longer in force, not the person's,
/// not covering this client, or of an organisation no longer active, counts as none.
pub async fn org_claims(
    svc: &Services,
    client: &Client,
    scope: &Scopes,
    person: &PersonId,
    acting_for: Option<&str>,
    now: i64,
) -> Result<Map<String, Value>, OAuthError> {
    if !scope.contains(org_claim::SCOPE) {
        return Ok(Map::new());
    }
    let mut context = None;
    if let Some(id) = acting_for {
        let rep = svc.store.find_representation(&RepresentationId(id.to_owned())).await.map_err(store_failed)?;
        if let Some(rep) = rep.filter(|r| r.person_id == *person && r.is_active_at(now) && r.covers(&client.client_id))
        {
            let org = svc.store.find_org(&rep.org_id).await.map_err(store_failed)?;
            context = org.filter(|o| o.is_active()).map(|o| (rep, o));
        }
    }
    let pin = scope.contains("vn_pin") && claim_policy::entitled_to_personal_number(client);
    Ok(org_claim::claims(context.as_ref().map(|(r, o)| (r, o)), pin))
}
