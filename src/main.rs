//! The `dinhdanh` command: `serve` (the default), `migrate`, `client create`, `user create`,
//! `keys list`. Reads configuration (flags > `DINHDANH_*` > `dinhdanh.toml` > defaults),
//! then hands over to `app`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use dinhdanh::clock::{Clock, SystemClock};
use dinhdanh::config::{Config, LogFormat, Settings};
use dinhdanh::flows::admin;
use dinhdanh::protocol::client::ClientMetadata;

#[derive(Parser)]
#[command(name = "dinhdanh", version, about = "Electronic-identity OpenID Connect Provider")]
struct Cli {
    /// Configuration file (TOML); `dinhdanh.toml` in the working directory is read when present.
    #[arg(long, env = "DINHDANH_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage relying parties.
    Client {
        #[command(subcommand)]
        action: ClientAction,
    },
    /// Manage local accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Inspect signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand)]
enum ClientAction {
    /// Register a client from an RFC 7591 metadata document; prints the registration
    /// response (with the secret, shown this once).
    Create {
        /// The metadata JSON file, or `-` for standard input.
        #[arg(long)]
        metadata: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a local account; prints the person (no secret).
    Create {
        #[arg(long)]
        username: String,
        /// The password (prefer --password-stdin: arguments are visible to other users).
        #[arg(long, conflicts_with = "password_stdin", required_unless_present = "password_stdin")]
        password: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, requires = "email")]
        email_verified: bool,
        #[arg(long)]
        phone: Option<String>,
        /// 12-digit personal identification number.
        #[arg(long)]
        personal_number: Option<String>,
        /// Postal address, one line.
        #[arg(long)]
        address: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// List the signing keys (kid, alg), as published in the JWKS.
    List,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("dinhdanh: {msg}");
    ExitCode::FAILURE
}

fn print_json(v: &serde_json::Value) -> ExitCode {
    match serde_json::to_string_pretty(v) {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn run(cli: Cli) -> ExitCode {
    let file = match &cli.config {
        Some(path) => Settings::from_toml_file(path, true),
        None => Settings::from_toml_file(std::path::Path::new("dinhdanh.toml"), false),
    };
    let settings = match file {
        Ok(f) => cli.settings.or(f),
        Err(e) => return fail(e),
    };
    let config = match Config::from_settings(settings.clone()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    init_logging(config.log_format);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let (listener, config) = match dinhdanh::app::bind(settings).await {
                Ok(x) => x,
                Err(e) => return fail(e),
            };
            let state = match dinhdanh::app::build(config.clone(), clock).await {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            tracing::info!(issuer = %config.issuer, listen = %config.listen, "dinhdanh is serving");
            match dinhdanh::app::serve(listener, state, shutdown_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
        Command::Migrate => match dinhdanh::app::open_store(&config).await {
            Ok(_) => {
                eprintln!("dinhdanh: migrations applied");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Client { action: ClientAction::Create { metadata } } => {
            let text = if metadata.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s).map(|_| s)
            } else {
                std::fs::read_to_string(&metadata)
            };
            let text = match text {
                Ok(t) => t,
                Err(e) => return fail(format!("{}: {e}", metadata.display())),
            };
            let md: ClientMetadata = match serde_json::from_str(&text) {
                Ok(m) => m,
                Err(e) => return fail(format!("invalid_client_metadata: {e}")),
            };
            let store = match dinhdanh::app::open_store(&config).await {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            match admin::register_client(store.as_ref(), &md, clock.now()).await {
                Ok(r) => print_json(&r.response()),
                Err(e) => fail(e),
            }
        }
        Command::User {
            action:
                UserAction::Create {
                    username,
                    password,
                    password_stdin,
                    name,
                    email,
                    email_verified,
                    phone,
                    personal_number,
                    address,
                },
        } => {
            let password = match (password, password_stdin) {
                (Some(p), _) => p,
                (None, _) => {
                    let mut line = String::new();
                    if let Err(e) = std::io::stdin().read_line(&mut line) {
                        return fail(e);
                    }
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let (store, hasher) = match (dinhdanh::app::open_store(&config).await, dinhdanh::app::hasher(&config)) {
                (Ok(s), Ok(h)) => (s, h),
                (Err(e), _) | (_, Err(e)) => return fail(e),
            };
            let new =
                admin::NewPerson { username, password, name, email, email_verified, phone, personal_number, address };
            match admin::create_person(store.as_ref(), &hasher, new, clock.now()).await {
                Ok(p) => print_json(&admin::person_json(&p)),
                Err(e) => fail(e),
            }
        }
        Command::Keys { action: KeysAction::List } => {
            match dinhdanh::crypto::keys::KeySet::load_or_generate(&config.keys_dir, false) {
                Ok(keys) => print_json(&serde_json::json!({
                    "development": keys.development,
                    "keys": keys.keys().iter().map(|k| serde_json::json!({"kid": k.kid, "alg": k.alg.as_str()})).collect::<Vec<_>>(),
                })),
                Err(e) => fail(e),
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    rt.block_on(run(cli))
}
