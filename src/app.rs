//! The composition root: opens the store (applying migrations), loads the keys, builds
//! the services and the router, and serves until told to stop. `main.rs` and the tests
//! boot exactly this.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::clock::{Clock, Stopwatch};
use crate::config::{Config, ConfigError, DatabaseKind, Settings};
use crate::crypto::CryptoError;
use crate::crypto::keys::KeySet;
use crate::crypto::opaque::random_bytes;
use crate::crypto::password::PasswordHasher;
use crate::crypto::seal::DEV_MARKER_FILE;
use crate::ephemeral::memory::MemoryStore;
use crate::ephemeral::redis::RedisStore;
use crate::ephemeral::{EphemeralError, EphemeralStore};
use crate::flows::Services;
use crate::http::{AppState, router};
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// Redis could not be reached.
    #[error("DINHDANH_REDIS_URL: {0}")]
    Ephemeral(#[from] EphemeralError),
    /// Keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] CryptoError),
    /// The signing keys in the store could not be set up or opened.
    #[error(transparent)]
    SigningKeys(#[from] crate::flows::keys::KeyError),
    /// The listener could not be bound.
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the configured durable store (SQLite or PostgreSQL, by the URL's scheme) and
/// applies migrations.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    Ok(match config.database_kind() {
        DatabaseKind::Postgres => {
            let store = PostgresStore::connect_with(&config.database_url, config.database_statement_timeout).await?;
            store.migrate().await?;
            Arc::new(store)
        }
        DatabaseKind::Sqlite => {
            let store = SqliteStore::connect(&config.database_url).await?;
            store.migrate().await?;
            Arc::new(store)
        }
    })
}

/// Opens the configured ephemeral store: Redis when `DINHDANH_REDIS_URL` is set (it must
/// answer now), else in-process memory.
pub async fn open_ephemeral(config: &Config) -> Result<Arc<dyn EphemeralStore>, StartError> {
    Ok(match &config.redis_url {
        Some(url) => Arc::new(RedisStore::connect(url, &config.redis_prefix, config.redis_timeout).await?),
        None => Arc::new(MemoryStore::new()),
    })
}

/// The password hasher of this configuration.
pub fn hasher(config: &Config) -> Result<PasswordHasher, StartError> {
    Ok(PasswordHasher::with_nice(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.hash_concurrency,
        config.hash_nice,
    )?
    .with_queue(config.hash_queue))
}

/// Builds everything the router needs.
pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
    // The metrics recorder is process-wide; installing it is idempotent.
    crate::telemetry::start_upkeep();
    let store = open_store(&config).await?;
    let ephemeral = open_ephemeral(&config).await?;
    let keys = load_keys(&config, store.as_ref(), clock.now()).await?;
    let key_reload_every = Duration::from_secs(u64::try_from(config.key_reload_interval).unwrap_or(60));
    let pairwise_salt = store.instance_secret("pairwise_salt", &random_bytes::<32>()).await?;
    let fetch_limits = crate::outbound::FetchLimits::from_config(&config);
    let (kek, _) = crate::flows::keys::open_kek(&config)?;
    let people = crate::flows::PersonCache::new(config.person_cache_ttl, crate::flows::PERSON_CACHE_MAX);
    let services = Services {
        hasher: hasher(&config)?,
        config,
        store,
        ephemeral,
        keys: Arc::new(keys),
        pairwise_salt,
        clients: crate::flows::ClientCache::default(),
        people,
        kek: Arc::new(kek),
        notifier: Arc::new(crate::delivery::HttpNotifier::new(fetch_limits)),
    };
    let services = Arc::new(services);
    // Rotation on any node (or by the CLI) reaches this one within the reload interval.
    tokio::spawn(crate::flows::keys::reload_periodically(Arc::downgrade(&services), clock.clone(), key_reload_every));
    Ok(AppState::new(services, clock))
}

/// Opens the key-encryption key and loads this node's signing keys from the store (on
/// first start importing the keys folder's PEM files, else generating). Refuses
/// development material when development keys are off, and says loudly when it is used.
pub async fn load_keys(config: &Config, store: &dyn Store, now: i64) -> Result<KeySet, StartError> {
    let marker = config.keys_dir.join(DEV_MARKER_FILE);
    if !config.dev_keys && marker.exists() {
        return Err(StartError::Keys(CryptoError::Keys(format!(
            "{} holds generated development keys (DEVELOPMENT-KEYS marker) but DINHDANH_DEV_KEYS=false: mount real keys",
            config.keys_dir.display()
        ))));
    }
    let (kek, development_kek) = crate::flows::keys::open_kek(config)?;
    let development = development_kek || marker.exists();
    if development {
        for line in [
            "################################################################",
            "  DEVELOPMENT SIGNING KEYS in use: the key-encryption key (and any",
            "  generated PEM keys) lie in the keys dir. Anyone with that folder",
            "  and the database can forge tokens. Never use in production: set",
            "  DINHDANH_KEY_ENCRYPTION_KEY(_FILE) and DINHDANH_DEV_KEYS=false.",
            "################################################################",
        ] {
            tracing::warn!("{line}");
        }
    }
    Ok(crate::flows::keys::start(store, kek, development, config, now).await?)
}

/// Binds the listen address; when no issuer was configured it is derived from the bound
/// address (so port 0 works in tests).
pub async fn bind(settings: Settings) -> Result<(TcpListener, Config), StartError> {
    let config = Config::from_settings(settings.clone())?;
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let config = if settings.issuer.is_none() {
        Config::from_settings(Settings {
            issuer: Some(format!("http://{addr}")),
            listen: Some(addr.to_string()),
            ..settings
        })?
    } else {
        config
    };
    Ok((listener, config))
}

/// Accepts connections and serves each on its own task until `until` resolves. Each
/// connection is HTTP/1.1 with a header-read timeout (slowloris; it also bounds idle
/// keep-alive) and head size limits (431 beyond them), watched for graceful shutdown.
async fn accept_until(
    listener: &TcpListener,
    app: &crate::http::App,
    http: &hyper::server::conn::http1::Builder,
    graceful: &GracefulShutdown,
    connections: &mut tokio::task::JoinSet<()>,
    until: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(until);
    loop {
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            () = &mut until => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: pause rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        connections.spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// Serves until `shutdown` resolves, then shuts down in three steps: readiness goes 503
/// (`/readyz`) while requests are still served for `shutdown_drain`, so load balancers
/// move away; then no new connections are accepted and in-flight requests finish; after
/// `shutdown_timeout` whatever is left is dropped and this returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = &state.services.config;
    let (drain, deadline) = (config.shutdown_drain, config.shutdown_timeout);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_header_size(crate::http::MAX_HEADER_BYTES)
        .max_headers(crate::http::MAX_HEADERS)
        .max_buf_size(2 * crate::http::MAX_HEADER_BYTES);
    let app = router(state.clone());
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();

    accept_until(&listener, &app, &http, &graceful, &mut connections, shutdown).await;
    tracing::info!(drain_ms = drain.as_millis() as u64, "shutdown: readiness off, draining");
    state.start_draining();
    accept_until(&listener, &app, &http, &graceful, &mut connections, tokio::time::sleep(drain)).await;
    drop(listener);

    let open = graceful.count();
    let watch = Stopwatch::start();
    tracing::info!(connections = open, deadline_ms = deadline.as_millis() as u64, "shutdown: finishing requests");
    match tokio::time::timeout(deadline, graceful.shutdown()).await {
        Ok(()) => tracing::info!(took_ms = watch.elapsed().as_millis() as u64, "shutdown: done"),
        Err(_) => tracing::warn!("shutdown: deadline reached, dropping the connections still open"),
    }
    connections.shutdown().await;
    Ok(())
}

/// A server running in the background (tests, embedding).
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The issuer.
    pub issuer: String,
    /// The state, for direct use of the services.
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Starts shutting the server down (see [`serve`]) without waiting.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// Starts shutting down if not yet, and waits until the server has stopped.
    pub async fn shutdown(&mut self) {
        self.stop();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the server on a background task.
pub async fn spawn(settings: Settings, clock: Arc<dyn Clock>) -> Result<Running, StartError> {
    let (listener, config) = bind(settings).await?;
    let addr = listener.local_addr()?;
    let issuer = config.issuer.clone();
    let state = build(config, clock).await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = state.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = serve(listener, serving, async move {
            let _ = rx.await;
        })
        .await
        {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(Running { addr, issuer, state, stop: Some(tx), task: Some(task) })
}
