//! Token revocation (RFC 7009): a client revokes its own access or refresh tokens;
//! revoking a refresh token ends its whole family and the access tokens issued from it.
//! Unknown tokens and other clients' tokens are answered like success (§2.2), and
//! nothing is revoked.

use super::token::mint::{find_access_token, forget_access_token};
use super::token::refresh_token::revoke_family;
use super::{Services, store_failed};
use crate::crypto::opaque::token_digest;
use crate::protocol::OAuthError;
use crate::protocol::client::Client;
use crate::protocol::params::Params;
use crate::store::RefreshLookup;

/// Revokes `token` if `caller` owns it.
pub async fn revoke(svc: &Services, caller: &Client, params: &Params, now: i64) -> Result<(), OAuthError> {
    let token = params.require("token")?;
    let _hint = params.get("token_type_hint")?; // §2.1: the search covers every type anyway
    match svc.store.find_refresh_token(&token_digest(token), now).await.map_err(store_failed)? {
        RefreshLookup::Current(f) if f.client_id == caller.client_id => {
            return revoke_family(svc, &f.family_id, now).await;
        }
        RefreshLookup::Current(_) => return Ok(()),
        RefreshLookup::Used { .. } | RefreshLookup::Invalid => {}
    }
    if let Some(record) = find_access_token(svc, token, now).await?
        && record.client_id == caller.client_id
    {
        forget_access_token(svc, token).await?;
    }
    Ok(())
}
