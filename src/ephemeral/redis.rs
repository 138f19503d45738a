//! The Redis ephemeral store, shared by every node of a deployment (works with Redis 7 and
//! Valkey, standalone or behind Sentinel; not Redis Cluster, whose slots the grant index
//! would cross).
//!
//! Layout, under the `prefix` given to [`RedisStore::connect`]:
//! - a record is a hash at `{prefix}:{ns}:{key}` with fields `v` (the value), `exp` (the
//!   absolute expiry in unix seconds), `used` (set once consumed) and `g` (its grant
//!   set's key, when indexed);
//! - a counter is a hash at the same kind of key with fields `n` and `exp`;
//! - a grant index is a set at `{prefix}:grant:{grant}` of record keys (`grant` is no
//!   namespace prefix, so the two never meet).
//!
//! Expiry is decided by the `now` each call passes in, compared with `exp`; the Redis key
//! TTL is only the backstop that evicts what nobody reads again, set one second past the
//! logical expiry so Redis never drops a record the caller's clock still calls alive.
//! Every command is bounded by the timeout given at connection: a down or stalled Redis
//! yields [`EphemeralError::Unavailable`], never a hang.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};

use super::{EphemeralError, EphemeralStore, Namespace, Taken};
use crate::clock::UnixTime;

/// Replaces the record at `KEYS[1]` with a fresh one (ARGV: value, expires_at, backstop
/// ms); when `KEYS[2]` is given, indexes it in that grant set, whose TTL is kept at least
/// as long as its longest member's.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local old = redis.call('HGET', KEYS[1], 'g')
if old and old ~= KEYS[2] then redis.call('SREM', old, KEYS[1]) end
redis.call('DEL', KEYS[1])
if KEYS[2] then
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'exp', ARGV[2], 'g', KEYS[2])
  redis.call('SADD', KEYS[2], KEYS[1])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
  end
else
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'exp', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
",
    )
});

/// Consumes the record at `KEYS[1]` if it is alive at `ARGV[1]` (now): returns nil when
/// absent or expired, else `{1, value}` for the first caller and `{0, value}` after.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local r = redis.call('HMGET', KEYS[1], 'v', 'exp')
if not r[1] or not r[2] or tonumber(r[2]) <= tonumber(ARGV[1]) then return false end
return {redis.call('HSETNX', KEYS[1], 'used', '1'), r[1]}
",
    )
});

/// Deletes every record listed in the grant set `KEYS[1]` that still belongs to that grant
/// (a key re-put under another grant, or evicted and re-put, is left alone), then the set.
static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local members = redis.call('SMEMBERS', KEYS[1])
for _, k in ipairs(members) do
  if redis.call('HGET', k, 'g') == KEYS[1] then redis.call('DEL', k) end
end
redis.call('DEL', KEYS[1])
return #members
",
    )
});

/// Increments the counter at `KEYS[1]` if its window is still open at `ARGV[1]` (now); else
/// starts a new window ending at `ARGV[2]` (expires_at) with the count 1 and a backstop of
/// `ARGV[3]` ms.
static INCR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local r = redis.call('HMGET', KEYS[1], 'n', 'exp')
if r[1] and r[2] and tonumber(r[2]) > tonumber(ARGV[1]) then
  return redis.call('HINCRBY', KEYS[1], 'n', 1)
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'n', 1, 'exp', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
",
    )
});

/// The longest TTL honoured (ten years); longer ones are cut to it, so the backstop's
/// milliseconds never overflow Redis's expiry arithmetic.
const MAX_TTL_SECS: i64 = 10 * 365 * 24 * 3600;

/// The Redis key TTL for a record that lives `ttl` seconds: one second of grace past the
/// logical expiry, and at least one second.
fn backstop_ms(ttl: i64) -> i64 {
    ttl.clamp(0, MAX_TTL_SECS).saturating_add(1).saturating_mul(1000)
}

/// Redis implementation of [`EphemeralStore`]. Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    // Not the connection: its URL may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.prefix).field("timeout", &self.timeout).finish()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`) and checks
    /// that it answers. Every key is put under `prefix`, so deployments (and tests)
    /// sharing a Redis never collide. Every later command fails with
    /// [`EphemeralError::Unavailable`] after `timeout`. Connecting makes two attempts of
    /// `timeout` each, then a `PING`, so a down or silent server is reported within about
    /// twice `timeout`, and connecting never takes more than four times `timeout`.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> Result<Self, EphemeralError> {
        let client = redis::Client::open(url).map_err(|e| unavailable("url", &e))?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(timeout)
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let limit = timeout.saturating_mul(3);
        let conn = match tokio::time::timeout(limit, ConnectionManager::new_with_config(client, config)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(unavailable("connect", &e)),
            Err(_) => return Err(too_slow("connect", limit)),
        };
        let store = Self { conn, prefix: prefix.into(), timeout };
        store.ping().await?;
        Ok(store)
    }

    /// Checks that Redis answers within the timeout (for start-up and health checks).
    pub async fn ping(&self) -> Result<(), EphemeralError> {
        let mut conn = self.conn.clone();
        let _: String = self.bounded("ping", redis::cmd("PING").query_async(&mut conn)).await?;
        Ok(())
    }

    fn record_key(&self, ns: Namespace, key: &str) -> String {
        format!("{}:{}:{}", self.prefix, ns.prefix(), key)
    }

    fn grant_key(&self, grant: &str) -> String {
        format!("{}:grant:{}", self.prefix, grant)
    }

    /// Runs one Redis exchange within the timeout, turning every failure into
    /// [`EphemeralError::Unavailable`].
    async fn bounded<T>(
        &self,
        what: &'static str,
        exchange: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, EphemeralError> {
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(unavailable(what, &e)),
            Err(_) => Err(too_slow(what, self.timeout)),
        }
    }
}

fn unavailable(what: &str, e: &redis::RedisError) -> EphemeralError {
    EphemeralError::Unavailable(format!("redis {what}: {e}"))
}

fn too_slow(what: &str, limit: Duration) -> EphemeralError {
    EphemeralError::Unavailable(format!("redis {what}: no answer within {} ms", limit.as_millis()))
}

#[async_trait]
impl EphemeralStore for RedisStore {
    async fn put(
        &self,
        ns: Namespace,
        key: &str,
        value: Vec<u8>,
        ttl: i64,
        grant: Option<&str>,
        now: UnixTime,
    ) -> Result<(), EphemeralError> {
        let mut invocation = PUT.prepare_invoke();
        invocation.key(self.record_key(ns, key));
        if let Some(g) = grant {
            invocation.key(self.grant_key(g));
        }
        invocation.arg(value).arg(now.saturating_add(ttl)).arg(backstop_ms(ttl));
        let mut conn = self.conn.clone();
        let _: i64 = self.bounded("put", invocation.invoke_async(&mut conn)).await?;
        Ok(())
    }

    async fn get(&self, ns: Namespace, key: &str, now: UnixTime) -> Result<Option<Vec<u8>>, EphemeralError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.record_key(ns, key)).arg("v").arg("exp").arg("used");
        let (value, expires_at, used): (Option<Vec<u8>>, Option<i64>, Option<Vec<u8>>) =
            self.bounded("get", cmd.query_async(&mut conn)).await?;
        Ok(value.filter(|_| used.is_none() && expires_at.is_some_and(|exp| exp > now)))
    }

    async fn take(&self, ns: Namespace, key: &str, now: UnixTime) -> Result<Taken, EphemeralError> {
        let mut invocation = TAKE.prepare_invoke();
        invocation.key(self.record_key(ns, key)).arg(now);
        let mut conn = self.conn.clone();
        let taken: Option<(i64, Vec<u8>)> = self.bounded("take", invocation.invoke_async(&mut conn)).await?;
        Ok(match taken {
            None => Taken::Missing,
            Some((1, value)) => Taken::Fresh(value),
            Some((_, value)) => Taken::Replayed(value),
        })
    }

    async fn delete(&self, ns: Namespace, key: &str) -> Result<(), EphemeralError> {
        // A grant set may still list the key; `REVOKE` skips members that no longer carry
        // its grant, and the set expires with its longest member.
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.record_key(ns, key));
        let _: i64 = self.bounded("delete", cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    async fn revoke_by_grant(&self, grant: &str) -> Result<(), EphemeralError> {
        let mut invocation = REVOKE.prepare_invoke();
        invocation.key(self.grant_key(grant));
        let mut conn = self.conn.clone();
        let _: i64 = self.bounded("revoke_by_grant", invocation.invoke_async(&mut conn)).await?;
        Ok(())
    }

    async fn incr(&self, ns: Namespace, key: &str, ttl: i64, now: UnixTime) -> Result<u64, EphemeralError> {
        let mut invocation = INCR.prepare_invoke();
        invocation.key(self.record_key(ns, key)).arg(now).arg(now.saturating_add(ttl)).arg(backstop_ms(ttl));
        let mut conn = self.conn.clone();
        self.bounded("incr", invocation.invoke_async(&mut conn)).await
    }

    async fn ping(&self) -> Result<(), EphemeralError> {
        RedisStore::ping(self).await
    }
}

#[cfg(test)]
mod tests {
    //! Against the Redis named by `TEST_REDIS_URL` (CI sets it); without it the suite says
    //! so on stderr and passes. The down/stalled-server tests need no Redis.

    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicU8, Ordering};

    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(1);

    fn redis_url() -> Option<String> {
        match std::env::var("TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                eprintln!("Redis ephemeral suite NOT RUN: set TEST_REDIS_URL=redis://127.0.0.1:6379 (CI does)");
                None
            }
        }
    }

    fn fresh_prefix() -> String {
        format!("dinhdanh-test-{}", uuid::Uuid::new_v4())
    }

    /// Every key under the store's prefix.
    async fn keys_of(store: &RedisStore) -> Vec<String> {
        let mut conn = store.conn.clone();
        let pattern = format!("{}:*", store.prefix);
        let mut cursor = 0u64;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .unwrap();
            keys.extend(batch);
            if next == 0 {
                return keys;
            }
            cursor = next;
        }
    }

    async fn purge(store: &RedisStore) {
        let keys = keys_of(store).await;
        if !keys.is_empty() {
            let mut conn = store.conn.clone();
            let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
        }
    }

    async fn pttl(store: &RedisStore, key: &str) -> i64 {
        let mut conn = store.conn.clone();
        redis::cmd("PTTL").arg(key).query_async(&mut conn).await.unwrap()
    }

    /// Runs `body` against a store under a fresh prefix, then deletes every key under that
    /// prefix, also when `body` panics.
    async fn with_store<F, Fut>(body: F)
    where
        F: FnOnce(RedisStore) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(url) = redis_url() else { return };
        let store = RedisStore::connect(&url, &fresh_prefix(), TIMEOUT).await.unwrap();
        let outcome = tokio::spawn(body(store.clone())).await;
        purge(&store).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    #[tokio::test]
    async fn contract_on_redis() {
        with_store(|store| async move { crate::ephemeral::contract::run_all(&store).await }).await;
    }

    #[tokio::test]
    async fn concurrent_take_on_redis() {
        with_store(|store| async move { crate::ephemeral::contract::concurrent_take(Arc::new(store)).await }).await;
    }

    #[tokio::test]
    async fn keys_really_expire_in_redis() {
        with_store(|store| async move {
            store.put(Namespace::Code, "c", b"x".to_vec(), 10, Some("g"), 0).await.unwrap();
            store.incr(Namespace::RateLimit, "r", 30, 0).await.unwrap();
            for (key, ttl) in [
                (store.record_key(Namespace::Code, "c"), 10),
                (store.grant_key("g"), 10),
                (store.record_key(Namespace::RateLimit, "r"), 30),
            ] {
                let left = pttl(&store, &key).await;
                assert!(left > 0 && left <= backstop_ms(ttl), "{key}: PTTL {left}");
            }
            // The grant set lives as long as its longest member.
            store.put(Namespace::AccessToken, "a", b"y".to_vec(), 3600, Some("g"), 0).await.unwrap();
            store.put(Namespace::Session, "s", b"z".to_vec(), 5, Some("g"), 0).await.unwrap();
            assert!(pttl(&store, &store.grant_key("g")).await > 3_000_000);
            // Zero and negative TTLs still get a backstop.
            store.put(Namespace::Interaction, "i", b"w".to_vec(), -5, None, 0).await.unwrap();
            assert!(pttl(&store, &store.record_key(Namespace::Interaction, "i")).await > 0);
            assert_eq!(store.get(Namespace::Interaction, "i", 0).await.unwrap(), None);
        })
        .await;
    }

    #[tokio::test]
    async fn revoke_leaves_nothing_behind_and_spares_moved_keys() {
        with_store(|store| async move {
            store.put(Namespace::Code, "c", b"1".to_vec(), 60, Some("g"), 0).await.unwrap();
            store.put(Namespace::AccessToken, "a", b"2".to_vec(), 60, Some("g"), 0).await.unwrap();
            // Re-put under another grant: no longer g's.
            store.put(Namespace::Session, "s", b"3".to_vec(), 60, Some("g"), 0).await.unwrap();
            store.put(Namespace::Session, "s", b"4".to_vec(), 60, Some("h"), 0).await.unwrap();
            // Deleted, then re-put under another grant while g's set still lists it.
            store.put(Namespace::Interaction, "i", b"5".to_vec(), 60, Some("g"), 0).await.unwrap();
            store.delete(Namespace::Interaction, "i").await.unwrap();
            store.put(Namespace::Interaction, "i", b"6".to_vec(), 60, None, 0).await.unwrap();
            assert_eq!(store.take(Namespace::Code, "c", 1).await.unwrap(), Taken::Fresh(b"1".to_vec()));

            store.revoke_by_grant("g").await.unwrap();

            let mut left = keys_of(&store).await;
            left.sort();
            let mut expected = vec![
                store.record_key(Namespace::Interaction, "i"),
                store.record_key(Namespace::Session, "s"),
                store.grant_key("h"),
            ];
            expected.sort();
            assert_eq!(left, expected);
            assert_eq!(store.get(Namespace::Session, "s", 1).await.unwrap(), Some(b"4".to_vec()));
            assert_eq!(store.get(Namespace::Interaction, "i", 1).await.unwrap(), Some(b"6".to_vec()));
            assert_eq!(store.take(Namespace::Code, "c", 1).await.unwrap(), Taken::Missing);
            // Revoking an unknown grant is fine.
            store.revoke_by_grant("nobody").await.unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn put_refreshes_a_consumed_record_and_keys_are_opaque() {
        with_store(|store| async move {
            let key = "a:b*c?[d] é\u{0}";
            store.put(Namespace::Code, key, Vec::new(), 60, None, 0).await.unwrap();
            assert_eq!(store.take(Namespace::Code, key, 1).await.unwrap(), Taken::Fresh(Vec::new()));
            assert_eq!(store.take(Namespace::Code, key, 1).await.unwrap(), Taken::Replayed(Vec::new()));
            store.put(Namespace::Code, key, vec![0, 255], 60, None, 2).await.unwrap();
            assert_eq!(store.get(Namespace::Code, key, 2).await.unwrap(), Some(vec![0, 255]));
            assert_eq!(store.take(Namespace::Code, key, 3).await.unwrap(), Taken::Fresh(vec![0, 255]));
            // Expiry is the caller's clock, not Redis's.
            assert_eq!(store.take(Namespace::Code, key, 62).await.unwrap(), Taken::Missing);
        })
        .await;
    }

    #[tokio::test]
    async fn a_down_redis_fails_fast() {
        let attempt = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::time::timeout(
                Duration::from_secs(5),
                RedisStore::connect("redis://127.0.0.1:1", &fresh_prefix(), TIMEOUT),
            ),
        )
        .await;
        let Ok(Ok(outcome)) = attempt else { panic!("connecting to a closed port took 5 s or more") };
        assert!(matches!(outcome, Err(EphemeralError::Unavailable(_))), "{outcome:?}");
    }

    #[tokio::test]
    async fn a_silent_server_fails_fast() {
        // Accepts connections and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let url = format!("redis://{addr}");
        let attempt =
            tokio::time::timeout(Duration::from_secs(5), RedisStore::connect(&url, &fresh_prefix(), TIMEOUT)).await;
        let Ok(outcome) = attempt else { panic!("connecting to a silent server took 5 s or more") };
        assert!(matches!(outcome, Err(EphemeralError::Unavailable(_))), "{outcome:?}");
    }

    const PASS: u8 = 0;
    const STALL: u8 = 1;
    const DOWN: u8 = 2;

    /// A TCP proxy in front of Redis that can pass traffic, hold it (a stalled server) or
    /// drop every connection and refuse service (a server that went down).
    struct Proxy {
        addr: SocketAddr,
        mode: Arc<AtomicU8>,
    }

    impl Proxy {
        async fn start(upstream: SocketAddr) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mode = Arc::new(AtomicU8::new(PASS));
            let m = mode.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    if m.load(Ordering::SeqCst) == DOWN {
                        continue; // dropped: closed at once
                    }
                    let Ok(server) = TcpStream::connect(upstream).await else { continue };
                    let (client, server) = (Arc::new(client), Arc::new(server));
                    tokio::spawn(Self::pump(client.clone(), server.clone(), m.clone()));
                    tokio::spawn(Self::pump(server, client, m.clone()));
                }
            });
            Self { addr, mode }
        }

        fn set(&self, mode: u8) {
            self.mode.store(mode, Ordering::SeqCst);
        }

        /// Copies `from` → `to` while passing; holds the bytes while stalled; ends (closing
        /// both sockets once the other direction ends too) when down.
        async fn pump(from: Arc<TcpStream>, to: Arc<TcpStream>, mode: Arc<AtomicU8>) {
            let tick = Duration::from_millis(10);
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                if mode.load(Ordering::SeqCst) == DOWN {
                    return;
                }
                match tokio::time::timeout(tick, from.readable()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => continue,
                }
                let n = match from.try_read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(_) => return,
                };
                while mode.load(Ordering::SeqCst) == STALL {
                    tokio::time::sleep(tick).await;
                }
                let mut rest = &buf[..n];
                while !rest.is_empty() {
                    if mode.load(Ordering::SeqCst) == DOWN || to.writable().await.is_err() {
                        return;
                    }
                    match to.try_write(rest) {
                        Ok(w) => rest = &rest[w..],
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
            }
        }
    }

    /// Every operation of the port, on keys the other checks do not read; each must fail
    /// with `Unavailable` (the caller bounds the time).
    async fn every_operation_fails(store: &RedisStore) {
        let checks: Vec<(&str, Result<(), EphemeralError>)> = vec![
            ("ping", store.ping().await),
            ("get", store.get(Namespace::Code, "k1", 1).await.map(|_| ())),
            ("take", store.take(Namespace::Code, "other", 1).await.map(|_| ())),
            ("put", store.put(Namespace::Session, "other", b"x".to_vec(), 60, Some("other"), 1).await),
            ("delete", store.delete(Namespace::Interaction, "other").await),
            ("revoke_by_grant", store.revoke_by_grant("nobody").await),
            ("incr", store.incr(Namespace::RateLimit, "other", 60, 1).await.map(|_| ())),
        ];
        for (what, outcome) in checks {
            assert!(matches!(outcome, Err(EphemeralError::Unavailable(_))), "{what}: {outcome:?}");
        }
    }

    #[tokio::test]
    async fn a_stalled_or_lost_redis_fails_fast_and_recovers() {
        let Some(url) = redis_url() else { return };
        let mut target = url::Url::parse(&url).unwrap();
        let host = target.host_str().unwrap().to_owned();
        let port = target.port().unwrap_or(6379);
        let upstream = tokio::net::lookup_host((host.as_str(), port)).await.unwrap().next().unwrap();
        let proxy = Proxy::start(upstream).await;
        target.set_host(Some(&proxy.addr.ip().to_string())).unwrap();
        target.set_port(Some(proxy.addr.port())).unwrap();

        let timeout = Duration::from_millis(300);
        let store = RedisStore::connect(target.as_str(), &fresh_prefix(), timeout).await.unwrap();
        let body = {
            let store = store.clone();
            async move {
                store.put(Namespace::Code, "k1", b"v1".to_vec(), 60, None, 0).await.unwrap();
                store.put(Namespace::Code, "k2", b"v2".to_vec(), 60, None, 0).await.unwrap();

                proxy.set(STALL);
                let seven_ops = Duration::from_secs(5);
                tokio::time::timeout(seven_ops, every_operation_fails(&store))
                    .await
                    .unwrap_or_else(|_| panic!("a stalled Redis held the store for {seven_ops:?}"));
                // The held requests (and their late replies) go through now; no reply may
                // be taken for another request's.
                proxy.set(PASS);
                assert_eq!(store.get(Namespace::Code, "k2", 1).await.unwrap(), Some(b"v2".to_vec()));
                assert_eq!(store.get(Namespace::Code, "k1", 1).await.unwrap(), Some(b"v1".to_vec()));

                proxy.set(DOWN);
                tokio::time::timeout(seven_ops, every_operation_fails(&store))
                    .await
                    .unwrap_or_else(|_| panic!("a lost Redis held the store for {seven_ops:?}"));
                proxy.set(PASS);
                // The connection manager reconnects on a later call.
                let mut back = None;
                for _ in 0..50 {
                    if let Ok(v) = store.get(Namespace::Code, "k2", 1).await {
                        back = Some(v);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                assert_eq!(back, Some(Some(b"v2".to_vec())), "no recovery after Redis came back");
            }
        };
        let outcome = tokio::spawn(body).await;
        // Clean up over a direct connection: the proxy may have been left stalled or down.
        let direct = RedisStore::connect(&url, &store.prefix, TIMEOUT).await.unwrap();
        purge(&direct).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}
