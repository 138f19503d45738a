//! Configuration: raw settings from flags, environment (`DINHDANH_*`) and `dinhdanh.toml`,
//! merged in that order of precedence over defaults, then validated into a typed [`Config`].
//! Read once in `main.rs`/`app.rs` and passed down; no other module reads the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

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
    /// Shared ephemeral store; absent means in-process memory.
    #[arg(long, env = "DINHDANH_REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// Folder with the signing keys.
    #[arg(long, env = "DINHDANH_KEYS_DIR", global = true)]
    pub keys_dir: Option<PathBuf>,
    /// Generate development signing keys when the keys folder has none.
    #[arg(long, env = "DINHDANH_DEV_KEYS", global = true)]
    pub dev_keys: Option<bool>,
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
    /// Log format: `text` or `json`.
    #[arg(long, env = "DINHDANH_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
}

impl Settings {
    /// Fills every field left empty here from `lower`.
    pub fn or(self, lower: Settings) -> Settings {
        Settings {
            listen: self.listen.or(lower.listen),
            issuer: self.issuer.or(lower.issuer),
            database_url: self.database_url.or(lower.database_url),
            redis_url: self.redis_url.or(lower.redis_url),
            keys_dir: self.keys_dir.or(lower.keys_dir),
            dev_keys: self.dev_keys.or(lower.dev_keys),
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
            log_format: self.log_format.or(lower.log_format),
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
    /// Signing keys folder.
    pub keys_dir: PathBuf,
    /// Whether development keys may be generated.
    pub dev_keys: bool,
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
    /// Log format.
    pub log_format: LogFormat,
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
        if !database_url.starts_with("sqlite:") {
            return Err(bad(
                "DINHDANH_DATABASE_URL",
                "only sqlite:// URLs are supported by this build (PostgreSQL support is planned)",
            ));
        }
        if s.redis_url.is_some() {
            return Err(bad(
                "DINHDANH_REDIS_URL",
                "this build keeps ephemeral state in memory only (Redis support is planned); unset it",
            ));
        }
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
        Ok(Config {
            listen,
            issuer,
            database_url,
            redis_url: None,
            keys_dir: s.keys_dir.unwrap_or_else(|| PathBuf::from(defaults::KEYS_DIR)),
            dev_keys: s.dev_keys.unwrap_or(true),
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
            log_format,
        })
    }

    /// Whether the issuer is served over HTTPS (decides `Secure` and `__Host-` cookies).
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
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
        ] {
            let e = Config::from_settings(s).unwrap_err();
            assert_eq!(e.setting, name, "{e}");
        }
    }
}
