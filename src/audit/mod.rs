//! The audit log: append-only and hash-chained, so any edit or deletion of a past event
//! breaks the chain at that point (`dinhdanh audit verify` finds the first broken link).
//! Events say who did what to whom, when, and how it ended — never secrets, tokens or
//! unmasked personal numbers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{Store, StoreError};

/// The hash that precedes the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When (unix seconds).
    pub at: i64,
    /// Who acted: `cli`, `system`, `client:<id>`, `person:<id>`, `admin:<client id>`.
    pub actor: String,
    /// What, as `noun.verb[.failed]`, e.g. `client.register`, `keys.rotate.failed`.
    pub action: String,
    /// To whom or what (a client id, a person id, a kid).
    pub subject: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// Secret-free details (reasons, error codes).
    pub detail: Value,
}

/// A stored event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position, from 1.
    pub seq: i64,
    /// The event.
    pub event: AuditEvent,
    /// Hash of the previous record (`GENESIS` for the first).
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

/// SHA-256 (hex) over the previous hash, the position and the canonical event JSON.
pub fn chain_hash(prev_hash: &str, seq: i64, event: &AuditEvent) -> String {
    let body = serde_json::json!({
        "prev": prev_hash, "seq": seq, "at": event.at, "actor": event.actor, "action": event.action,
        "subject": event.subject, "outcome": event.outcome, "detail": event.detail,
    });
    let digest = crate::crypto::digest::sha256(body.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends an event; a failure to audit is logged, never hidden.
pub async fn record(store: &dyn Store, event: AuditEvent) -> Result<AuditRecord, StoreError> {
    let r = store.append_audit(&event).await;
    if let Err(e) = &r {
        tracing::error!(error = %e, action = %event.action, "could not write the audit log");
    }
    r
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds.
    Intact {
        /// Events checked.
        events: i64,
    },
    /// The first record whose link or hash does not hold.
    Broken {
        /// Its position.
        seq: i64,
        /// What is wrong.
        reason: String,
    },
}

/// Walks the whole chain.
pub async fn verify(store: &dyn Store) -> Result<Verdict, StoreError> {
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1;
    let mut after = 0;
    loop {
        let page = store.audit_events(after, 500).await?;
        if page.is_empty() {
            return Ok(Verdict::Intact { events: expected_seq - 1 });
        }
        for r in page {
            if r.seq != expected_seq {
                return Ok(Verdict::Broken { seq: expected_seq, reason: format!("record {expected_seq} is missing") });
            }
            if r.prev_hash != prev {
                return Ok(Verdict::Broken { seq: r.seq, reason: "does not link to the previous record".into() });
            }
            if chain_hash(&r.prev_hash, r.seq, &r.event) != r.hash {
                return Ok(Verdict::Broken { seq: r.seq, reason: "its content does not match its hash".into() });
            }
            prev = r.hash;
            after = r.seq;
            expected_seq += 1;
        }
    }
}
