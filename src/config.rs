//! Configuration: raw settings from flags, environment (`DINHDANH_*`) and `dinhdanh.toml`,
//! merged in that order of precedence over defaults, then validated into a typed [`Config`].
//! Read once in `main.rs`/`app.rs` and passed down; no other module reads the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

pub mod upstream;

/// Settings as they arrive from the layers, every field optional. Clap fills this from
/// flags and `DINHDANH_*` variables; serde fills it from `dinhdanh.toml`.
#[derive(Debug, Default, Clone, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "DINHDANH_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Public issuer identifier (scheme, host, optional port and path; no query or fragment).
    #[arg(long, env = "DINHDANH_ISSUER", global = true)]
    pub issuer: Option<String>,
    /// Durable store: `sqlite://PATH` (embedded default) or `postgres://…`.
    #[arg(long, env = "DINHDANH_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Shared ephemeral store (`redis://…`); absent means in-process memory.
    #[arg(long, env = "DINHDANH_REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so deployments sharing a Redis never collide.
    #[arg(long, env = "DINHDANH_REDIS_PREFIX", global = true)]
    pub redis_prefix: Option<String>,
    /// Longest wait for one Redis command (and for connecting), milliseconds.
    #[arg(long, env = "DINHDANH_REDIS_TIMEOUT_MS", global = true)]
    pub redis_timeout_ms: Option<u64>,
    /// Folder with the signing keys.
    #[arg(long, env = "DINHDANH_KEYS_DIR", global = true)]
    pub keys_dir: Option<PathBuf>,
    /// Generate development signing keys when the keys folder has none.
    #[arg(long, env = "DINHDANH_DEV_KEYS", global = true)]
    pub dev_keys: Option<bool>,
    /// Key-encryption key sealing the private signing keys in the database: base64 of 32
    /// random bytes (`openssl rand -base64 32`). Prefer the file setting.
    #[arg(long, env = "DINHDANH_KEY_ENCRYPTION_KEY", global = true, hide_env_values = true)]
    pub key_encryption_key: Option<SecretString>,
    /// File holding the key-encryption key (base64 text).
    #[arg(long, env = "DINHDANH_KEY_ENCRYPTION_KEY_FILE", global = true)]
    pub key_encryption_key_file: Option<PathBuf>,
    /// How long a new signing key is published before it signs, seconds.
    #[arg(long, env = "DINHDANH_KEY_PREPUBLICATION", global = true)]
    pub key_prepublication: Option<i64>,
    /// Rotate signing keys every this many days (0: only by `dinhdanh keys rotate`).
    #[arg(long, env = "DINHDANH_KEY_ROTATION_DAYS", global = true)]
    pub key_rotation_days: Option<i64>,
    /// How often each node re-reads the signing keys from the database, seconds.
    #[arg(long, env = "DINHDANH_KEY_RELOAD_INTERVAL", global = true)]
    pub key_reload_interval: Option<i64>,
    /// Lifetime of an authorization code, seconds (at most 60).
    #[arg(long, env = "DINHDANH_CODE_TTL", global = true)]
    pub code_ttl: Option<i64>,
    /// Lifetime of access tokens, seconds.
    #[arg(long, env = "DINHDANH_ACCESS_TOKEN_TTL", global = true)]
    pub access_token_ttl: Option<i64>,
    /// Lifetime of ID tokens, seconds.
    #[arg(long, env = "DINHDANH_ID_TOKEN_TTL", global = true)]
    pub id_token_ttl: Option<i64>,
    /// Absolute lifetime of a refresh-token family, seconds (clients may set their own).
    #[arg(long, env = "DINHDANH_REFRESH_TOKEN_TTL", global = true)]
    pub refresh_token_ttl: Option<i64>,
    /// Idle lifetime of a refresh token, seconds (clients may set their own).
    #[arg(long, env = "DINHDANH_REFRESH_TOKEN_IDLE_TTL", global = true)]
    pub refresh_token_idle_ttl: Option<i64>,
    /// Lifetime of a single sign-on browser session, seconds.
    #[arg(long, env = "DINHDANH_SESSION_TTL", global = true)]
    pub session_ttl: Option<i64>,
    /// How long a person has to finish signing in and consenting, seconds.
    #[arg(long, env = "DINHDANH_INTERACTION_TTL", global = true)]
    pub interaction_ttl: Option<i64>,
    /// Require PKCE (S256) from confidential clients too (public clients always need it).
    #[arg(long, env = "DINHDANH_REQUIRE_PKCE", global = true)]
    pub require_pkce: Option<bool>,
    /// Argon2id memory cost in KiB.
    #[arg(long, env = "DINHDANH_ARGON2_MEMORY_KIB", global = true)]
    pub argon2_memory_kib: Option<u32>,
    /// Argon2id iterations.
    #[arg(long, env = "DINHDANH_ARGON2_ITERATIONS", global = true)]
    pub argon2_iterations: Option<u32>,
    /// Password hashes allowed to run at once (default: the number of cores).
    #[arg(long, env = "DINHDANH_HASH_CONCURRENCY", global = true)]
    pub hash_concurrency: Option<usize>,
    /// Sign-ins allowed to wait for a password hasher; beyond it they get 503.
    #[arg(long, env = "DINHDANH_HASH_QUEUE", global = true)]
    pub hash_queue: Option<usize>,
    /// How many nice steps (0-19) below the server the password-hashing threads run.
    #[arg(long, env = "DINHDANH_HASH_NICE", global = true)]
    pub hash_nice: Option<i32>,
    /// Seconds a node trusts a person record for userinfo (0 = never).
    #[arg(long, env = "DINHDANH_PERSON_CACHE_TTL", global = true)]
    pub person_cache_ttl: Option<i64>,
    /// Time a client has to send a request's headers (also the keep-alive idle limit), ms.
    #[arg(long, env = "DINHDANH_HEADER_TIMEOUT_MS", global = true)]
    pub header_timeout_ms: Option<u64>,
    /// Longest a request may take before it is answered 503, milliseconds.
    #[arg(long, env = "DINHDANH_REQUEST_TIMEOUT_MS", global = true)]
    pub request_timeout_ms: Option<u64>,
    /// On SIGTERM: how long `/readyz` says 503 while still serving, milliseconds.
    #[arg(long, env = "DINHDANH_SHUTDOWN_DRAIN_MS", global = true)]
    pub shutdown_drain_ms: Option<u64>,
    /// After the drain: how long in-flight requests may take before the process exits, ms.
    #[arg(long, env = "DINHDANH_SHUTDOWN_TIMEOUT_MS", global = true)]
    pub shutdown_timeout_ms: Option<u64>,
    /// Development only: let outbound fetches (sector documents, `jwks_uri`) reach
    /// loopback and private addresses, and plain http.
    #[arg(long, env = "DINHDANH_ALLOW_PRIVATE_FETCH", global = true)]
    pub allow_private_fetch: Option<bool>,
    /// Deadline of one outbound fetch (sector document, `jwks_uri`), milliseconds.
    #[arg(long, env = "DINHDANH_FETCH_TIMEOUT_MS", global = true)]
    pub fetch_timeout_ms: Option<u64>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "DINHDANH_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// A TOML file holding only `[[upstream]]` tables (upstream identity providers).
    #[arg(long, env = "DINHDANH_UPSTREAMS_FILE", global = true)]
    pub upstreams_file: Option<PathBuf>,
    /// Upstream identity providers (`[[upstream]]` tables; TOML only).
    #[arg(skip)]
    #[serde(default)]
    pub upstream: Option<Vec<upstream::UpstreamSettings>>,
    /// Longest one PostgreSQL statement may run before the server cancels it, milliseconds.
    #[arg(long, env = "DINHDANH_DATABASE_STATEMENT_TIMEOUT_MS", global = true)]
    pub database_statement_timeout_ms: Option<u64>,
    /// OpenTelemetry trace export over OTLP/HTTP (`http://collector:4318`); absent: none.
    #[arg(long, env = "DINHDANH_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
}

impl Settings {
    /// Fills every field left empty here from `lower`.
    pub fn or(self, lower: Settings) -> Settings {
        Settings {
            listen: self.listen.or(lower.listen),
            issuer: self.issuer.or(lower.issuer),
            database_url: self.database_url.or(lower.database_url),
            redis_url: self.redis_url.or(lower.redis_url),
            redis_prefix: self.redis_prefix.or(lower.redis_prefix),
            redis_timeout_ms: self.redis_timeout_ms.or(lower.redis_timeout_ms),
            keys_dir: self.keys_dir.or(lower.keys_dir),
            dev_keys: self.dev_keys.or(lower.dev_keys),
            key_encryption_key: self.key_encryption_key.or(lower.key_encryption_key),
            key_encryption_key_file: self.key_encryption_key_file.or(lower.key_encryption_key_file),
            key_prepublication: self.key_prepublication.or(lower.key_prepublication),
            key_rotation_days: self.key_rotation_days.or(lower.key_rotation_days),
            key_reload_interval: self.key_reload_interval.or(lower.key_reload_interval),
            code_ttl: self.code_ttl.or(lower.code_ttl),
            access_token_ttl: self.access_token_ttl.or(lower.access_token_ttl),
            id_token_ttl: self.id_token_ttl.or(lower.id_token_ttl),
            refresh_token_ttl: self.refresh_token_ttl.or(lower.refresh_token_ttl),
            refresh_token_idle_ttl: self.refresh_token_idle_ttl.or(lower.refresh_token_idle_ttl),
            session_ttl: self.session_ttl.or(lower.session_ttl),
            interaction_ttl: self.interaction_ttl.or(lower.interaction_ttl),
            require_pkce: self.require_pkce.or(lower.require_pkce),
            argon2_memory_kib: self.argon2_memory_kib.or(lower.argon2_memory_kib),
            argon2_iterations: self.argon2_iterations.or(lower.argon2_iterations),
            hash_concurrency: self.hash_concurrency.or(lower.hash_concurrency),
            hash_queue: self.hash_queue.or(lower.hash_queue),
            hash_nice: self.hash_nice.or(lower.hash_nice),
            person_cache_ttl: self.person_cache_ttl.or(lower.person_cache_ttl),
            header_timeout_ms: self.header_timeout_ms.or(lower.header_timeout_ms),
            request_timeout_ms: self.request_timeout_ms.or(lower.request_timeout_ms),
            shutdown_drain_ms: self.shutdown_drain_ms.or(lower.shutdown_drain_ms),
            shutdown_timeout_ms: self.shutdown_timeout_ms.or(lower.shutdown_timeout_ms),
            allow_private_fetch: self.allow_private_fetch.or(lower.allow_private_fetch),
            fetch_timeout_ms: self.fetch_timeout_ms.or(lower.fetch_timeout_ms),
            log_format: self.log_format.or(lower.log_format),
            upstreams_file: self.upstreams_file.or(lower.upstreams_file),
            upstream: self.upstream.or(lower.upstream),
            database_statement_timeout_ms: self.database_statement_timeout_ms.or(lower.database_statement_timeout_ms),
            otlp_endpoint: self.otlp_endpoint.or(lower.otlp_endpoint),
        }
    }

    /// Reads a TOML settings file. A missing file is not an error when `required` is false.
    pub fn from_toml_file(path: &std::path::Path, required: bool) -> Result<Settings, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| ConfigError { setting: path.display().to_string(), problem: e.message().to_owned() }),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(ConfigError { setting: path.display().to_string(), problem: e.to_string() }),
        }
    }
}

/// A setting that cannot be used, named so the operator can fix it in one go.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {setting}: {problem}")]
pub struct ConfigError {
    /// The setting (flag/env/toml key) at fault.
    pub setting: String,
    /// What is wrong with it.
    pub problem: String,
}

fn bad(setting: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError { setting: setting.to_owned(), problem: problem.into() }
}

/// Output format of the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Socket address the server binds.
    pub listen: SocketAddr,
    /// Issuer identifier, without a trailing slash.
    pub issuer: String,
    /// Durable store URL.
    pub database_url: String,
    /// Shared ephemeral store URL, if any.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key.
    pub redis_prefix: String,
    /// Bound on each Redis command.
    pub redis_timeout: Duration,
    /// Signing keys folder.
    pub keys_dir: PathBuf,
    /// Whether development keys may be generated.
    pub dev_keys: bool,
    /// Where the key-encryption key comes from (`None`: not configured).
    pub key_encryption_key: Option<KekSource>,
    /// Pre-publication of new signing keys (s).
    pub key_prepublication: i64,
    /// Scheduled rotation period (days; 0 = off).
    pub key_rotation_days: i64,
    /// Key reload interval (s).
    pub key_reload_interval: i64,
    /// Authorization code lifetime (s).
    pub code_ttl: i64,
    /// Access token lifetime (s).
    pub access_token_ttl: i64,
    /// ID token lifetime (s).
    pub id_token_ttl: i64,
    /// Refresh-token family absolute lifetime (s).
    pub refresh_token_ttl: i64,
    /// Refresh-token idle lifetime (s).
    pub refresh_token_idle_ttl: i64,
    /// Browser session lifetime (s).
    pub session_ttl: i64,
    /// Login/consent interaction lifetime (s).
    pub interaction_ttl: i64,
    /// PKCE required for confidential clients as well.
    pub require_pkce: bool,
    /// Argon2id memory (KiB).
    pub argon2_memory_kib: u32,
    /// Argon2id iterations.
    pub argon2_iterations: u32,
    /// Concurrent password hashes.
    pub hash_concurrency: usize,
    /// Sign-ins that may wait for a hasher.
    pub hash_queue: usize,
    /// Nice steps below the server's priority that password hashes run at.
    pub hash_nice: i32,
    /// Seconds a node trusts a person record it read for userinfo;
    /// a change made on another node reaches this one within it (0: always read).
    pub person_cache_ttl: i64,
    /// Time to receive a request's headers.
    pub header_timeout: Duration,
    /// Bound on a whole request.
    pub request_timeout: Duration,
    /// Readiness-off period before a graceful shutdown.
    pub shutdown_drain: Duration,
    /// Deadline for in-flight requests at shutdown.
    pub shutdown_timeout: Duration,
    /// Outbound fetches may reach loopback/private addresses and plain http (development).
    pub allow_private_fetch: bool,
    /// Deadline of one outbound fetch.
    pub fetch_timeout: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// Upstream identity providers we broker (national e-ID first).
    pub upstreams: Vec<upstream::UpstreamConfig>,
    /// Bound on one PostgreSQL statement (`statement_timeout` of every pooled connection).
    pub database_statement_timeout: Duration,
    /// OTLP/HTTP collector base URL for trace export (`None`: no exporter).
    pub otlp_endpoint: Option<String>,
}

/// Defaults, the single source the README's configuration table is written from.
pub mod defaults {
    /// `DINHDANH_LISTEN`
    pub const LISTEN: &str = "127.0.0.1:8080";
    /// `DINHDANH_DATABASE_URL` (the issuer defaults to `http://` + the listen address)
    pub const DATABASE_URL: &str = "sqlite://./data/dinhdanh.sqlite";
    /// `DINHDANH_KEYS_DIR`
    pub const KEYS_DIR: &str = "./keys";
    /// `DINHDANH_CODE_TTL`
    pub const CODE_TTL: i64 = 60;
    /// The `Cache-Control: max-age` of `/jwks` (seconds): a relying party may use a JWK Set
    /// this long, so a new key is published longer than this before it signs.
    pub const JWKS_MAX_AGE: i64 = 300;
    /// `DINHDANH_KEY_PREPUBLICATION` (one hour: well past the JWKS max-age plus a reload)
    pub const KEY_PREPUBLICATION: i64 = 3600;
    /// `DINHDANH_KEY_RELOAD_INTERVAL`
    pub const KEY_RELOAD_INTERVAL: i64 = 60;
    /// `DINHDANH_ACCESS_TOKEN_TTL`
    pub const ACCESS_TOKEN_TTL: i64 = 600;
    /// `DINHDANH_ID_TOKEN_TTL`
    pub const ID_TOKEN_TTL: i64 = 600;
    /// `DINHDANH_REFRESH_TOKEN_TTL` (30 days)
    pub const REFRESH_TOKEN_TTL: i64 = 30 * 86_400;
    /// `DINHDANH_REFRESH_TOKEN_IDLE_TTL` (7 days)
    pub const REFRESH_TOKEN_IDLE_TTL: i64 = 7 * 86_400;
    /// `DINHDANH_SESSION_TTL`
    pub const SESSION_TTL: i64 = 8 * 3600;
    /// `DINHDANH_INTERACTION_TTL`
    pub const INTERACTION_TTL: i64 = 15 * 60;
    /// `DINHDANH_ARGON2_MEMORY_KIB` (OWASP: 19 MiB)
    pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
    /// `DINHDANH_ARGON2_ITERATIONS` (OWASP: 2)
    pub const ARGON2_ITERATIONS: u32 = 2;
    /// `DINHDANH_FETCH_TIMEOUT_MS`
    pub const FETCH_TIMEOUT_MS: u64 = 5_000;
    /// `DINHDANH_REDIS_PREFIX`
    pub const REDIS_PREFIX: &str = "dd";
    /// `DINHDANH_REDIS_TIMEOUT_MS`
    pub const REDIS_TIMEOUT_MS: u64 = 1000;
    /// `DINHDANH_HASH_QUEUE`, per concurrent hash (default concurrency × this)
    pub const HASH_QUEUE_PER_HASHER: usize = 16;
    /// `DINHDANH_HASH_NICE`
    pub const HASH_NICE: i32 = crate::crypto::hash_pool::DEFAULT_NICE;
    /// `DINHDANH_PERSON_CACHE_TTL`
    pub const PERSON_CACHE_TTL: i64 = 5;
    /// `DINHDANH_HEADER_TIMEOUT_MS`
    pub const HEADER_TIMEOUT_MS: u64 = 10_000;
    /// `DINHDANH_REQUEST_TIMEOUT_MS`
    pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
    /// `DINHDANH_SHUTDOWN_DRAIN_MS`
    pub const SHUTDOWN_DRAIN_MS: u64 = 2_000;
    /// `DINHDANH_SHUTDOWN_TIMEOUT_MS`
    pub const SHUTDOWN_TIMEOUT_MS: u64 = 10_000;
    /// `DINHDANH_DATABASE_STATEMENT_TIMEOUT_MS`
    pub const DATABASE_STATEMENT_TIMEOUT_MS: u64 = 5_000;
}

impl Config {
    /// Validates merged settings; the error names the setting and the problem.
    pub fn from_settings(s: Settings) -> Result<Config, ConfigError> {
        let listen_raw = s.listen.unwrap_or_else(|| defaults::LISTEN.to_owned());
        let listen: SocketAddr = listen_raw
            .parse()
            .map_err(|_| bad("DINHDANH_LISTEN", format!("`{listen_raw}` is not an IP:port address")))?;
        let issuer = match s.issuer {
            Some(i) => validate_issuer(&i)?,
            None => format!("http://{listen}"),
        };
        let database_url = s.database_url.unwrap_or_else(|| defaults::DATABASE_URL.to_owned());
        if DatabaseKind::of(&database_url).is_none() {
            return Err(bad("DINHDANH_DATABASE_URL", "must be a sqlite://… or postgres://… URL"));
        }
        let redis_url = s.redis_url.filter(|u| !u.is_empty());
        if let Some(url) = &redis_url {
            validate_redis_url(url)?;
        }
        let redis_prefix = s.redis_prefix.unwrap_or_else(|| defaults::REDIS_PREFIX.to_owned());
        if redis_prefix.is_empty()
            || redis_prefix.len() > 64
            || !redis_prefix.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        {
            return Err(bad("DINHDANH_REDIS_PREFIX", "1 to 64 visible ASCII characters, no `:`"));
        }
        let millis = |name: &str, v: Option<u64>, d: u64| -> Result<Duration, ConfigError> {
            match v.unwrap_or(d) {
                0 => Err(bad(name, "must be a positive number of milliseconds")),
                ms => Ok(Duration::from_millis(ms)),
            }
        };
        let redis_timeout = millis("DINHDANH_REDIS_TIMEOUT_MS", s.redis_timeout_ms, defaults::REDIS_TIMEOUT_MS)?;
        let positive = |name: &str, v: Option<i64>, d: i64| -> Result<i64, ConfigError> {
            let v = v.unwrap_or(d);
            if v <= 0 { Err(bad(name, "must be a positive number of seconds")) } else { Ok(v) }
        };
        let code_ttl = positive("DINHDANH_CODE_TTL", s.code_ttl, defaults::CODE_TTL)?;
        if code_ttl > 60 {
            return Err(bad("DINHDANH_CODE_TTL", "authorization codes live at most 60 seconds"));
        }
        let log_format = match s.log_format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(bad("DINHDANH_LOG_FORMAT", format!("`{other}` is neither `text` nor `json`"))),
        };
        let argon2_memory_kib = s.argon2_memory_kib.unwrap_or(defaults::ARGON2_MEMORY_KIB);
        if argon2_memory_kib < 8 * 1024 {
            return Err(bad("DINHDANH_ARGON2_MEMORY_KIB", "below 8192 KiB is too weak"));
        }
        let argon2_iterations = s.argon2_iterations.unwrap_or(defaults::ARGON2_ITERATIONS);
        if argon2_iterations == 0 {
            return Err(bad("DINHDANH_ARGON2_ITERATIONS", "must be at least 1"));
        }
        let hash_concurrency =
            s.hash_concurrency.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
        if hash_concurrency == 0 {
            return Err(bad("DINHDANH_HASH_CONCURRENCY", "must be at least 1"));
        }
        let hash_queue =
            s.hash_queue.unwrap_or_else(|| hash_concurrency.saturating_mul(defaults::HASH_QUEUE_PER_HASHER));
        let hash_nice = s.hash_nice.unwrap_or(defaults::HASH_NICE);
        if !(0..=19).contains(&hash_nice) {
            return Err(bad("DINHDANH_HASH_NICE", "must be 0 (same priority as the server) to 19 (lowest)"));
        }
        let person_cache_ttl = s.person_cache_ttl.unwrap_or(defaults::PERSON_CACHE_TTL);
        if !(0..=60).contains(&person_cache_ttl) {
            return Err(bad("DINHDANH_PERSON_CACHE_TTL", "must be 0 (always read the database) to 60 seconds"));
        }
        let fetch_timeout_ms = s.fetch_timeout_ms.unwrap_or(defaults::FETCH_TIMEOUT_MS);
        if !(1..=60_000).contains(&fetch_timeout_ms) {
            return Err(bad("DINHDANH_FETCH_TIMEOUT_MS", "must be 1 to 60000 milliseconds"));
        }
        let fetch_timeout = Duration::from_millis(fetch_timeout_ms);
        let key_encryption_key = match (s.key_encryption_key, s.key_encryption_key_file) {
            (Some(_), Some(_)) => {
                return Err(bad("DINHDANH_KEY_ENCRYPTION_KEY", "set it or DINHDANH_KEY_ENCRYPTION_KEY_FILE, not both"));
            }
            (Some(k), None) => {
                check_kek_text(k.expose())?;
                Some(KekSource::Inline(k))
            }
            (None, Some(f)) => Some(KekSource::File(f)),
            (None, None) => None,
        };
        let key_reload_interval =
            positive("DINHDANH_KEY_RELOAD_INTERVAL", s.key_reload_interval, defaults::KEY_RELOAD_INTERVAL)?;
        if key_reload_interval > 3600 {
            return Err(bad("DINHDANH_KEY_RELOAD_INTERVAL", "at most 3600 seconds"));
        }
        let key_prepublication =
            positive("DINHDANH_KEY_PREPUBLICATION", s.key_prepublication, defaults::KEY_PREPUBLICATION)?;
        // Every relying party's cached JWK Set and every node must know a key before it signs.
        let least = defaults::JWKS_MAX_AGE + key_reload_interval;
        if key_prepublication < least {
            return Err(bad(
                "DINHDANH_KEY_PREPUBLICATION",
                format!(
                    "must be at least {least} s: the JWKS cache lifetime ({} s) plus the key reload interval",
                    defaults::JWKS_MAX_AGE
                ),
            ));
        }
        let key_rotation_days = s.key_rotation_days.unwrap_or(0);
        if !(0..=3650).contains(&key_rotation_days) {
            return Err(bad("DINHDANH_KEY_ROTATION_DAYS", "0 (off) to 3650 days"));
        }
        if key_rotation_days > 0 && key_rotation_days * 86_400 <= key_prepublication {
            return Err(bad("DINHDANH_KEY_ROTATION_DAYS", "the rotation period must exceed the key pre-publication"));
        }
        let allow_private_fetch = s.allow_private_fetch.unwrap_or(false);
        let mut raw_upstreams = s.upstream.unwrap_or_default();
        if let Some(path) = &s.upstreams_file {
            raw_upstreams.extend(upstream::read_upstreams_file(path)?);
        }
        let upstreams = upstream::validate(raw_upstreams, allow_private_fetch)?;
        Ok(Config {
            listen,
            issuer,
            database_url,
            redis_url,
            redis_prefix,
            redis_timeout,
            keys_dir: s.keys_dir.unwrap_or_else(|| PathBuf::from(defaults::KEYS_DIR)),
            dev_keys: s.dev_keys.unwrap_or(true),
            key_encryption_key,
            key_prepublication,
            key_rotation_days,
            key_reload_interval,
            code_ttl,
            access_token_ttl: positive("DINHDANH_ACCESS_TOKEN_TTL", s.access_token_ttl, defaults::ACCESS_TOKEN_TTL)?,
            id_token_ttl: positive("DINHDANH_ID_TOKEN_TTL", s.id_token_ttl, defaults::ID_TOKEN_TTL)?,
            refresh_token_ttl: positive(
                "DINHDANH_REFRESH_TOKEN_TTL",
                s.refresh_token_ttl,
                defaults::REFRESH_TOKEN_TTL,
            )?,
            refresh_token_idle_ttl: positive(
                "DINHDANH_REFRESH_TOKEN_IDLE_TTL",
                s.refresh_token_idle_ttl,
                defaults::REFRESH_TOKEN_IDLE_TTL,
            )?,
            session_ttl: positive("DINHDANH_SESSION_TTL", s.session_ttl, defaults::SESSION_TTL)?,
            interaction_ttl: positive("DINHDANH_INTERACTION_TTL", s.interaction_ttl, defaults::INTERACTION_TTL)?,
            require_pkce: s.require_pkce.unwrap_or(true),
            argon2_memory_kib,
            argon2_iterations,
            hash_concurrency,
            hash_queue,
            hash_nice,
            person_cache_ttl,
            header_timeout: millis("DINHDANH_HEADER_TIMEOUT_MS", s.header_timeout_ms, defaults::HEADER_TIMEOUT_MS)?,
            request_timeout: millis("DINHDANH_REQUEST_TIMEOUT_MS", s.request_timeout_ms, defaults::REQUEST_TIMEOUT_MS)?,
            // Zero is allowed: no drain period.
            shutdown_drain: Duration::from_millis(s.shutdown_drain_ms.unwrap_or(defaults::SHUTDOWN_DRAIN_MS)),
            shutdown_timeout: millis(
                "DINHDANH_SHUTDOWN_TIMEOUT_MS",
                s.shutdown_timeout_ms,
                defaults::SHUTDOWN_TIMEOUT_MS,
            )?,
            allow_private_fetch,
            fetch_timeout,
            log_format,
            upstreams,
            database_statement_timeout: millis(
                "DINHDANH_DATABASE_STATEMENT_TIMEOUT_MS",
                s.database_statement_timeout_ms,
                defaults::DATABASE_STATEMENT_TIMEOUT_MS,
            )?,
            otlp_endpoint: match s.otlp_endpoint.filter(|e| !e.trim().is_empty()) {
                Some(e) => Some(validate_otlp_endpoint(&e)?),
                None => None,
            },
        })
    }

    /// Whether the issuer is served over HTTPS (decides `Secure` and `__Host-` cookies).
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// Which durable store the database URL selects.
    pub fn database_kind(&self) -> DatabaseKind {
        DatabaseKind::of(&self.database_url).unwrap_or(DatabaseKind::Sqlite)
    }
}

/// An OTLP/HTTP collector base URL: `http` or `https`, a host, no query or fragment.
/// Returned without a trailing slash (`/v1/traces` is appended by the exporter).
fn validate_otlp_endpoint(raw: &str) -> Result<String, ConfigError> {
    let name = "DINHDANH_OTLP_ENDPOINT";
    let url = Url::parse(raw.trim()).map_err(|e| bad(name, format!("`{raw}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(name, "must be an http(s) URL with a host, e.g. http://collector:4318"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad(name, "must not carry a query, fragment or credentials"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The durable store a `DINHDANH_DATABASE_URL` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// `sqlite:…`: the embedded default.
    Sqlite,
    /// `postgres://…` or `postgresql://…`: for several nodes.
    Postgres,
}

impl DatabaseKind {
    fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// `redis://[:password@]host[:port][/db]`, or a Unix socket (`redis+unix:///path`,
/// `unix:///path`). `rediss://` needs TLS, which this build does not include.
fn validate_redis_url(raw: &str) -> Result<(), ConfigError> {
    let url = Url::parse(raw).map_err(|e| bad("DINHDANH_REDIS_URL", format!("not a URL: {e}")))?;
    match url.scheme() {
        "redis" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "redis+unix" | "unix" if !url.path().is_empty() => Ok(()),
        "rediss" => Err(bad(
            "DINHDANH_REDIS_URL",
            "rediss:// (TLS) is not supported by this build: use redis:// on a private network or a TLS tunnel",
        )),
        _ => Err(bad("DINHDANH_REDIS_URL", "must be redis://HOST[:PORT][/DB] or redis+unix:///PATH")),
    }
}

/// A secret setting: its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl std::str::FromStr for SecretString {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretString(s.to_owned()))
    }
}

/// Where the key-encryption key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekSource {
    /// `DINHDANH_KEY_ENCRYPTION_KEY`: the base64 text itself.
    Inline(SecretString),
    /// `DINHDANH_KEY_ENCRYPTION_KEY_FILE`: a file holding it.
    File(PathBuf),
}

/// The inline key-encryption key must be base64 of 32 bytes (checked here so the error
/// names the setting; `crypto::seal` decodes it).
fn check_kek_text(text: &str) -> Result<(), ConfigError> {
    use base64::Engine;
    let t = text.trim().trim_end_matches('=');
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(t)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t));
    match decoded {
        Ok(raw) if raw.len() == 32 => Ok(()),
        Ok(raw) => Err(bad(
            "DINHDANH_KEY_ENCRYPTION_KEY",
            format!("decodes to {} bytes; it must be 32 (openssl rand -base64 32)", raw.len()),
        )),
        Err(_) => Err(bad("DINHDANH_KEY_ENCRYPTION_KEY", "not base64 (make one with `openssl rand -base64 32`)")),
    }
}

/// OIDC Discovery §3 / RFC 8414 §2: an https URL with no query or fragment. Plain http
/// is accepted only for loopback hosts, for development.
fn validate_issuer(raw: &str) -> Result<String, ConfigError> {
    let url = Url::parse(raw).map_err(|e| bad("DINHDANH_ISSUER", format!("not a URL: {e}")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("DINHDANH_ISSUER", "must not have a query or fragment"));
    }
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("DINHDANH_ISSUER", "must be https (http only for loopback development)")),
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = Config::from_settings(Settings::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.issuer, "http://127.0.0.1:8080");
        assert!(c.database_url.starts_with("sqlite:"));
        assert!(c.require_pkce);
    }

    #[test]
    fn higher_layer_wins() {
        let flags = Settings { listen: Some("127.0.0.1:9".into()), ..Default::default() };
        let file = Settings {
            listen: Some("127.0.0.1:7".into()),
            issuer: Some("https://id.example.vn".into()),
            ..Default::default()
        };
        let c = Config::from_settings(flags.or(file)).unwrap();
        assert_eq!(c.listen.port(), 9);
        assert_eq!(c.issuer, "https://id.example.vn");
    }

    #[test]
    fn bad_settings_name_themselves() {
        for (s, name) in [
            (Settings { issuer: Some("http://id.example.vn".into()), ..Default::default() }, "DINHDANH_ISSUER"),
            (Settings { issuer: Some("https://id.example.vn/?x=1".into()), ..Default::default() }, "DINHDANH_ISSUER"),
            (Settings { listen: Some("nowhere".into()), ..Default::default() }, "DINHDANH_LISTEN"),
            (Settings { code_ttl: Some(600), ..Default::default() }, "DINHDANH_CODE_TTL"),
            (Settings { log_format: Some("xml".into()), ..Default::default() }, "DINHDANH_LOG_FORMAT"),
            (Settings { database_url: Some("mysql://x".into()), ..Default::default() }, "DINHDANH_DATABASE_URL"),
            (Settings { redis_url: Some("http://x".into()), ..Default::default() }, "DINHDANH_REDIS_URL"),
            (Settings { redis_url: Some("rediss://x".into()), ..Default::default() }, "DINHDANH_REDIS_URL"),
            (Settings { redis_prefix: Some("a:b".into()), ..Default::default() }, "DINHDANH_REDIS_PREFIX"),
            (Settings { redis_prefix: Some(String::new()), ..Default::default() }, "DINHDANH_REDIS_PREFIX"),
            (Settings { redis_timeout_ms: Some(0), ..Default::default() }, "DINHDANH_REDIS_TIMEOUT_MS"),
            (Settings { header_timeout_ms: Some(0), ..Default::default() }, "DINHDANH_HEADER_TIMEOUT_MS"),
            (Settings { shutdown_timeout_ms: Some(0), ..Default::default() }, "DINHDANH_SHUTDOWN_TIMEOUT_MS"),
            (Settings { hash_nice: Some(20), ..Default::default() }, "DINHDANH_HASH_NICE"),
            (Settings { hash_nice: Some(-1), ..Default::default() }, "DINHDANH_HASH_NICE"),
            (Settings { person_cache_ttl: Some(-1), ..Default::default() }, "DINHDANH_PERSON_CACHE_TTL"),
            (Settings { person_cache_ttl: Some(61), ..Default::default() }, "DINHDANH_PERSON_CACHE_TTL"),
        ] {
            let e = Config::from_settings(s).unwrap_err();
            assert_eq!(e.setting, name, "{e}");
        }
    }

    #[test]
    fn postgres_and_redis_are_selected_by_url() {
        let c = Config::from_settings(Settings::default()).unwrap();
        assert_eq!(c.database_kind(), DatabaseKind::Sqlite);
        assert_eq!(c.redis_url, None);
        assert_eq!(c.redis_prefix, "dd");
        assert_eq!(c.redis_timeout, Duration::from_millis(1000));
        assert_eq!(c.hash_queue, c.hash_concurrency * defaults::HASH_QUEUE_PER_HASHER);
        assert_eq!(c.hash_nice, 10);
        assert_eq!(c.person_cache_ttl, 5);
        let c = Config::from_settings(Settings {
            database_url: Some("postgres://dinhdanh@db.internal:5432/dinhdanh".into()),
            redis_url: Some("redis://:secret@cache.internal:6379/2".into()),
            redis_prefix: Some("tinh-ha-noi".into()),
            redis_timeout_ms: Some(250),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.database_kind(), DatabaseKind::Postgres);
        assert_eq!(c.redis_url.as_deref(), Some("redis://:secret@cache.internal:6379/2"));
        assert_eq!(c.redis_prefix, "tinh-ha-noi");
        assert_eq!(c.redis_timeout, Duration::from_millis(250));
        let c = Config::from_settings(Settings {
            database_url: Some("postgresql://localhost/x".into()),
            redis_url: Some("redis+unix:///run/redis.sock".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.database_kind(), DatabaseKind::Postgres);
        assert!(c.redis_url.is_some());
    }

    #[test]
    fn key_settings_are_checked_and_the_kek_never_shows() {
        let kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let c =
            Config::from_settings(Settings { key_encryption_key: Some(kek.parse().unwrap()), ..Default::default() })
                .unwrap();
        assert!(matches!(c.key_encryption_key, Some(KekSource::Inline(_))));
        assert!(!format!("{c:?}").contains(kek), "the KEK leaks through Debug");
        assert_eq!(c.key_prepublication, defaults::KEY_PREPUBLICATION);
        assert!(c.key_prepublication > defaults::JWKS_MAX_AGE + c.key_reload_interval);
        assert_eq!(c.key_rotation_days, 0);
        for (s, name) in [
            (
                Settings { key_encryption_key: Some("c2hvcnQ=".parse().unwrap()), ..Default::default() },
                "DINHDANH_KEY_ENCRYPTION_KEY",
            ),
            (
                Settings {
                    key_encryption_key: Some(kek.parse().unwrap()),
                    key_encryption_key_file: Some("/run/kek".into()),
                    ..Default::default()
                },
                "DINHDANH_KEY_ENCRYPTION_KEY",
            ),
            (Settings { key_prepublication: Some(300), ..Default::default() }, "DINHDANH_KEY_PREPUBLICATION"),
            (
                Settings { key_reload_interval: Some(600), key_prepublication: Some(800), ..Default::default() },
                "DINHDANH_KEY_PREPUBLICATION",
            ),
            (Settings { key_reload_interval: Some(0), ..Default::default() }, "DINHDANH_KEY_RELOAD_INTERVAL"),
            (Settings { key_rotation_days: Some(-1), ..Default::default() }, "DINHDANH_KEY_ROTATION_DAYS"),
        ] {
            let e = Config::from_settings(s).unwrap_err();
            assert_eq!(e.setting, name, "{e}");
            assert!(!e.to_string().contains(kek));
        }
    }

    #[test]
    fn statement_timeout_and_otlp_endpoint() {
        let c = Config::from_settings(Settings::default()).unwrap();
        assert_eq!(c.database_statement_timeout, Duration::from_millis(defaults::DATABASE_STATEMENT_TIMEOUT_MS));
        assert_eq!(c.otlp_endpoint, None);
        let c = Config::from_settings(Settings {
            database_statement_timeout_ms: Some(750),
            otlp_endpoint: Some("http://collector:4318/".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.database_statement_timeout, Duration::from_millis(750));
        assert_eq!(c.otlp_endpoint.as_deref(), Some("http://collector:4318"));
        for (s, name) in [
            (
                Settings { database_statement_timeout_ms: Some(0), ..Default::default() },
                "DINHDANH_DATABASE_STATEMENT_TIMEOUT_MS",
            ),
            (Settings { otlp_endpoint: Some("collector:4318".into()), ..Default::default() }, "DINHDANH_OTLP_ENDPOINT"),
            (
                Settings { otlp_endpoint: Some("ftp://collector".into()), ..Default::default() },
                "DINHDANH_OTLP_ENDPOINT",
            ),
            (
                Settings { otlp_endpoint: Some("http://c:4318/?k=v".into()), ..Default::default() },
                "DINHDANH_OTLP_ENDPOINT",
            ),
        ] {
            let e = Config::from_settings(s).unwrap_err();
            assert_eq!(e.setting, name, "{e}");
        }
    }
}
