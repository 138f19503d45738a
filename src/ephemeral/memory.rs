//! The in-process ephemeral store: one map behind a mutex, expiry driven by the `now`
//! each call passes in, and a sweep of expired records as the map grows.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{EphemeralError, EphemeralStore, Namespace, Taken};
use crate::clock::UnixTime;

type Key = (Namespace, String);

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires_at: UnixTime,
    consumed: bool,
    grant: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    by_grant: HashMap<String, HashSet<Key>>,
    sweep_at: usize,
}

impl Inner {
    fn live(&self, key: &Key, now: UnixTime) -> Option<&Entry> {
        self.entries.get(key).filter(|e| e.expires_at > now)
    }

    fn remove(&mut self, key: &Key) {
        if let Some(e) = self.entries.remove(key)
            && let Some(g) = e.grant
            && let Some(set) = self.by_grant.get_mut(&g)
        {
            set.remove(key);
            if set.is_empty() {
                self.by_grant.remove(&g);
            }
        }
    }

    /// Drops expired records once the map has doubled since the last sweep, so memory
    /// stays proportional to live records at amortised O(1) per insert.
    fn maybe_sweep(&mut self, now: UnixTime) {
        if self.entries.len() < self.sweep_at.max(1024) {
            return;
        }
        let expired: Vec<Key> =
            self.entries.iter().filter(|(_, e)| e.expires_at <= now).map(|(k, _)| k.clone()).collect();
        for k in expired {
            self.remove(&k);
        }
        self.sweep_at = self.entries.len() * 2;
    }
}

/// In-memory implementation of [`EphemeralStore`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, EphemeralError> {
        self.inner.lock().map_err(|_| EphemeralError::Unavailable("memory store lock poisoned".into()))
    }
}

#[async_trait]
impl EphemeralStore for MemoryStore {
    async fn put(
        &self,
        ns: Namespace,
        key: &str,
        value: Vec<u8>,
        ttl: i64,
        grant: Option<&str>,
        now: UnixTime,
    ) -> Result<(), EphemeralError> {
        let mut inner = self.lock()?;
        inner.maybe_sweep(now);
        let k = (ns, key.to_owned());
        inner.remove(&k);
        if let Some(g) = grant {
            inner.by_grant.entry(g.to_owned()).or_default().insert(k.clone());
        }
        inner.entries.insert(
            k,
            Entry { value, expires_at: now.saturating_add(ttl), consumed: false, grant: grant.map(str::to_owned) },
        );
        Ok(())
    }

    async fn get(&self, ns: Namespace, key: &str, now: UnixTime) -> Result<Option<Vec<u8>>, EphemeralError> {
        let inner = self.lock()?;
        Ok(inner.live(&(ns, key.to_owned()), now).filter(|e| !e.consumed).map(|e| e.value.clone()))
    }

    async fn take(&self, ns: Namespace, key: &str, now: UnixTime) -> Result<Taken, EphemeralError> {
        let mut inner = self.lock()?;
        let k = (ns, key.to_owned());
        if inner.live(&k, now).is_none() {
            return Ok(Taken::Missing);
        }
        let Some(e) = inner.entries.get_mut(&k) else { return Ok(Taken::Missing) };
        if e.consumed {
            Ok(Taken::Replayed(e.value.clone()))
        } else {
            e.consumed = true;
            Ok(Taken::Fresh(e.value.clone()))
        }
    }

    async fn delete(&self, ns: Namespace, key: &str) -> Result<(), EphemeralError> {
        self.lock()?.remove(&(ns, key.to_owned()));
        Ok(())
    }

    async fn revoke_by_grant(&self, grant: &str) -> Result<(), EphemeralError> {
        let mut inner = self.lock()?;
        let keys: Vec<Key> = inner.by_grant.remove(grant).map(|s| s.into_iter().collect()).unwrap_or_default();
        for k in keys {
            inner.entries.remove(&k);
        }
        Ok(())
    }

    async fn incr(&self, ns: Namespace, key: &str, ttl: i64, now: UnixTime) -> Result<u64, EphemeralError> {
        let mut inner = self.lock()?;
        let k = (ns, key.to_owned());
        let current = inner.live(&k, now).and_then(|e| e.value.as_slice().try_into().ok()).map(u64::from_be_bytes);
        match current {
            Some(n) => {
                let next = n.saturating_add(1);
                if let Some(e) = inner.entries.get_mut(&k) {
                    e.value = next.to_be_bytes().to_vec();
                }
                Ok(next)
            }
            None => {
                inner.entries.insert(
                    k,
                    Entry {
                        value: 1u64.to_be_bytes().to_vec(),
                        expires_at: now.saturating_add(ttl),
                        consumed: false,
                        grant: None,
                    },
                );
                Ok(1)
            }
        }
    }

    async fn ping(&self) -> Result<(), EphemeralError> {
        self.lock().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn contract_on_memory() {
        super::super::contract::run_all(&MemoryStore::new()).await;
        super::super::contract::concurrent_take(std::sync::Arc::new(MemoryStore::new())).await;
    }

    #[tokio::test]
    async fn sweeps_expired_records() {
        let s = MemoryStore::new();
        for i in 0..2000 {
            s.put(Namespace::Code, &i.to_string(), vec![1], 10, None, 0).await.unwrap();
        }
        for i in 0..100 {
            s.put(Namespace::Code, &format!("late{i}"), vec![1], 10, None, 100).await.unwrap();
        }
        // The sweep at 2048 records dropped the 2000 expired ones.
        assert!(s.lock().unwrap().entries.len() <= 100);
    }
}
