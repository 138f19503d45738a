//! The composition root: opens the store (applying migrations), loads the keys, builds
//! the services and the router, and serves until told to stop. `main.rs` and the tests
//! boot exactly this.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::{Config, ConfigError, Settings};
use crate::crypto::CryptoError;
use crate::crypto::keys::KeySet;
use crate::crypto::opaque::random_bytes;
use crate::crypto::password::PasswordHasher;
use crate::ephemeral::memory::MemoryStore;
use crate::flows::Services;
use crate::http::{AppState, router};
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
    /// Keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] CryptoError),
    /// The listener could not be bound.
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the configured durable store and applies migrations.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    let store = SqliteStore::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(Arc::new(store))
}

/// The password hasher of this configuration.
pub fn hasher(config: &Config) -> Result<PasswordHasher, StartError> {
    Ok(PasswordHasher::new(config.argon2_memory_kib, config.argon2_iterations, config.hash_concurrency)?)
}

/// Builds everything the router needs.
pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
    let store = open_store(&config).await?;
    let keys = KeySet::load_or_generate(&config.keys_dir, config.dev_keys)?;
    if keys.development && !config.dev_keys {
        return Err(StartError::Keys(CryptoError::Keys(format!(
            "{} holds generated development keys (DEVELOPMENT-KEYS marker) but DINHDANH_DEV_KEYS=false: mount real keys",
            config.keys_dir.display()
        ))));
    }
    if keys.development {
        for line in [
            "################################################################",
            "  DEVELOPMENT SIGNING KEYS in use (generated under the keys dir).",
            "  Anyone with that folder can forge tokens. Never use in production:",
            "  mount real keys and set DINHDANH_DEV_KEYS=false.",
            "################################################################",
        ] {
            tracing::warn!("{line}");
        }
    }
    let pairwise_salt = store.instance_secret("pairwise_salt", &random_bytes::<32>()).await?;
    let services = Services {
        hasher: hasher(&config)?,
        config,
        store,
        ephemeral: Arc::new(MemoryStore::new()),
        keys: Arc::new(keys),
        pairwise_salt,
    };
    Ok(AppState::new(Arc::new(services), clock))
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

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
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
}

impl Running {
    /// Stops the server.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
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
    tokio::spawn(async move {
        if let Err(e) = serve(listener, serving, async move {
            let _ = rx.await;
        })
        .await
        {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(Running { addr, issuer, state, stop: Some(tx) })
}
