//! Real PostgreSQL and Redis for the multi-node and failure tests: a fresh database per
//! test (created from `TEST_POSTGRES_URL`, dropped after), a unique Redis key prefix per
//! test (purged after), a TCP proxy the test can stall or cut, and a guard that cleans up
//! even when the test body panics. Without the variables the tests say NOT RUN and pass.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// `TEST_POSTGRES_URL` and `TEST_REDIS_URL` as needed, or a NOT RUN line and `None`.
pub fn backends(test: &str, postgres: bool, redis: bool) -> Option<(Option<String>, Option<String>)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let pg = if postgres { var("TEST_POSTGRES_URL") } else { None };
    let rd = if redis { var("TEST_REDIS_URL") } else { None };
    if (postgres && pg.is_none()) || (redis && rd.is_none()) {
        let mut need = Vec::new();
        if postgres {
            need.push("TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres");
        }
        if redis {
            need.push("TEST_REDIS_URL=redis://127.0.0.1:6379");
        }
        eprintln!("NOT RUN: {test} needs {} (bash .ci/test sets them)", need.join(" and "));
        return None;
    }
    Some((pg, rd))
}

/// A database created for one test.
pub struct FreshDatabase {
    admin_url: String,
    name: String,
    /// URL of the new database.
    pub url: String,
}

impl FreshDatabase {
    pub async fn create(admin_url: &str) -> FreshDatabase {
        let admin = sqlx::PgPool::connect(admin_url).await.unwrap();
        // A generated lowercase identifier: safe to splice into the statement.
        let name = format!("dd_api_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
        admin.close().await;
        let mut url = url::Url::parse(admin_url).unwrap();
        url.set_path(&name);
        FreshDatabase { admin_url: admin_url.to_owned(), name, url: url.to_string() }
    }

    pub async fn drop_now(self) {
        let admin = sqlx::PgPool::connect(&self.admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
    }
}

/// A unique key prefix in Redis, for one test.
pub fn fresh_prefix() -> String {
    format!("dd-api-{}", uuid::Uuid::new_v4().simple())
}

/// Deletes every key under `prefix`.
pub async fn purge_redis(url: &str, prefix: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let pattern = format!("{prefix}:*");
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// Runs `body` on its own task so that a failing assertion still lets the caller clean
/// up; pass the result to [`rethrow`] afterwards.
pub async fn guarded(body: impl Future<Output = ()> + Send + 'static) -> Option<Box<dyn Any + Send>> {
    match tokio::spawn(body).await {
        Ok(()) => None,
        Err(e) => Some(match e.try_into_panic() {
            Ok(p) => p,
            Err(e) => Box::new(format!("test task: {e}")),
        }),
    }
}

pub fn rethrow(outcome: Option<Box<dyn Any + Send>>) {
    if let Some(p) = outcome {
        std::panic::resume_unwind(p);
    }
}

pub const PASS: u8 = 0;
pub const STALL: u8 = 1;
pub const DOWN: u8 = 2;

/// A TCP proxy in front of a backend that passes traffic, holds it (a stalled server), or
/// drops every connection and refuses new ones (a server that went down).
pub struct Proxy {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
}

impl Proxy {
    /// A proxy to the host and port of `url` (`redis://…` or `postgres://…`).
    pub async fn to_url(url: &str) -> Proxy {
        let u = url::Url::parse(url).unwrap();
        let host = u.host_str().unwrap().to_owned();
        let port = u.port().unwrap_or(if u.scheme() == "redis" { 6379 } else { 5432 });
        let upstream = tokio::net::lookup_host((host.as_str(), port)).await.unwrap().next().unwrap();
        Proxy::start(upstream).await
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url_through(&self, url: &str) -> String {
        let mut u = url::Url::parse(url).unwrap();
        u.set_host(Some(&self.addr.ip().to_string())).unwrap();
        u.set_port(Some(self.addr.port())).unwrap();
        u.to_string()
    }

    pub async fn start(upstream: SocketAddr) -> Proxy {
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
                tokio::spawn(pump(client.clone(), server.clone(), m.clone()));
                tokio::spawn(pump(server, client, m.clone()));
            }
        });
        Proxy { addr, mode }
    }

    pub fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

/// Copies `from` → `to` while passing; holds the bytes while stalled; ends (closing both
/// sockets once the other direction ends too) when down.
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
