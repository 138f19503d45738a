//! The `dinhdanh` command: `serve` (the default), `migrate`, `client …`, `user …`, `dev seed`,
//! `registration token create`, `admin bootstrap`, `keys list|rotate|retire`, `org create|list|represent`,
//! `officer …`, `verification …`. Reads configuration (flags > `DINHDANH_*` > `dinhdanh.toml` > defaults),
//! then hands over to `app`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use dinhdanh::clock::{Clock, SystemClock};
use dinhdanh::config::{Config, LogFormat, Settings};
use dinhdanh::flows::admin;
use dinhdanh::identity::PersonStatus;
use dinhdanh::outbound::FetchLimits;
use dinhdanh::protocol::client::ClientMetadata;
use dinhdanh::store::{ClientRecord, ClientStatus};

mod cli_verification;

/// mimalloc rather than glibc's allocator: every request allocates and frees small
/// objects (headers, futures, JSON), and glibc spent a tenth of the server's CPU on it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Dynamic client registration: initial access tokens.
    Registration {
        #[command(subcommand)]
        action: RegistrationAction,
    },
    /// Administration: the first admin API credential.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Signing keys: list, rotate, retire.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Organisations and the people who represent them.
    Org {
        #[command(subcommand)]
        action: OrgAction,
    },
    /// Verification officers: who may decide cases, in which province and commune.
    Officer {
        #[command(subcommand)]
        action: cli_verification::OfficerAction,
    },
    /// Verification cases: open, list, decide (four-eyes for level 2), withdraw.
    Verification {
        #[command(subcommand)]
        action: cli_verification::VerificationAction,
    },
    /// Development and benchmarking helpers (never on a production database).
    Dev {
        #[command(subcommand)]
        action: DevAction,
    },
}

#[derive(Subcommand)]
enum DevAction {
    /// Seed N synthetic people (`seed-000001`…) sharing one password, hashed once; people
    /// already there are skipped. Prints counts and the time taken.
    Seed {
        /// How many people.
        #[arg(long)]
        people: u64,
        /// People per batch (progress is printed after each).
        #[arg(long, default_value_t = 5000)]
        batch: u64,
        /// The password every seed person gets.
        #[arg(long, env = "DINHDANH_SEED_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check the hash chain from the first event; exits non-zero at the first broken link.
    Verify,
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
    /// Replace a client's metadata (a `client_secret` in it sets a new secret).
    Update {
        client_id: String,
        /// The metadata JSON file, or `-` for standard input.
        #[arg(long)]
        metadata: PathBuf,
    },
    /// List clients, one page at a time (no secrets).
    List {
        #[arg(long)]
        limit: Option<String>,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one client (no secret).
    Show { client_id: String },
    /// Disable a client: refused everywhere until enabled.
    Disable { client_id: String },
    /// Enable a disabled client.
    Enable { client_id: String },
    /// Delete a client with its consents and refresh tokens.
    Delete { client_id: String },
}

#[derive(Subcommand)]
enum RegistrationAction {
    /// Initial access tokens for `POST /register`.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Mint an initial access token; prints `{"token", "id", "expires_at", "max_uses",
    /// "policy"}` (the token is shown this once and stored as a digest).
    Create {
        /// Policy JSON file (`grant_types`, `scope`, `token_endpoint_auth_methods`,
        /// `redirect_uri_hosts`); the default policy without it.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Lifetime in seconds (default 7 days).
        #[arg(long)]
        expires_in: Option<i64>,
        /// How many registrations it allows (default: any number until it expires).
        #[arg(long)]
        max_uses: Option<i64>,
        /// Print JSON (the only format; accepted for scripts).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Create the admin API's service client (client credentials, scopes `admin:clients
    /// admin:people admin:orgs`) and print its client_id and secret once; if it exists,
    /// print how to use it. Verification decisions need an officer's own sign-in.
    Bootstrap {
        #[arg(long, default_value = admin::BOOTSTRAP_CLIENT_ID)]
        client_id: String,
        /// Print JSON (the only format; accepted for scripts).
        #[arg(long)]
        json: bool,
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
    /// List people, one page at a time (personal numbers masked).
    List {
        #[arg(long)]
        limit: Option<String>,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one person by id.
    Show { id: String },
    /// Disable a person: no sign-in, tokens stop working.
    Disable { id: String },
    /// Enable a disabled person.
    Enable { id: String },
    /// Delete a person with their consents and refresh tokens.
    Delete { id: String },
}

#[derive(Subcommand)]
enum KeysAction {
    /// List the signing keys with their states (next, active, retired) and times.
    List {
        /// Also list removed keys.
        #[arg(long)]
        all: bool,
    },
    /// Start a rotation: a new key is published now and signs after the pre-publication
    /// period (DINHDANH_KEY_PREPUBLICATION); the key it replaces stays published until
    /// the tokens it signed have expired.
    Rotate {
        /// Only this algorithm (ES256, RS256, PS256, EdDSA); default: all of them.
        #[arg(long)]
        alg: Option<String>,
    },
    /// Take a key out of service now; an active key is replaced at once (by the waiting
    /// next key of its algorithm, or a new one).
    Retire {
        /// The key id.
        #[arg(long, allow_hyphen_values = true)] // thumbprints are base64url: they may start with `-`
        kid: String,
        /// Also unpublish it at once (a compromised key): tokens it signed stop verifying.
        #[arg(long)]
        remove: bool,
    },
}

fn init_logging(format: LogFormat, otlp_endpoint: Option<&str>) -> Result<(), String> {
    dinhdanh::telemetry::init_tracing(format, otlp_endpoint).map_err(|e| e.to_string())
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

/// Reads a JSON document from a file, or standard input for `-`.
fn read_json(path: &std::path::Path) -> Result<serde_json::Value, String> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map(|_| s)
    } else {
        std::fs::read_to_string(path)
    };
    let text = text.map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

fn read_metadata(path: &std::path::Path) -> Result<ClientMetadata, String> {
    serde_json::from_value(read_json(path)?).map_err(|e| format!("invalid_client_metadata: {e}"))
}

/// `dinhdanh client …`: the same `flows::admin` operations as the admin API.
async fn client_command(config: &Config, now: i64, action: ClientAction) -> ExitCode {
    let store = match dinhdanh::app::open_store(config).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let store = store.as_ref();
    let limits = FetchLimits::from_config(config);
    let shown = |r: Result<ClientRecord, admin::AdminError>| match r {
        Ok(r) => print_json(&admin::client_json(&r)),
        Err(e) => fail(e),
    };
    match action {
        ClientAction::Create { metadata } => {
            let md = match read_metadata(&metadata) {
                Ok(m) => m,
                Err(e) => return fail(e),
            };
            // The key-encryption key seals client_secret_jwt secrets (only those need it).
            let kek = dinhdanh::flows::keys::open_kek(config).ok().map(|(k, _)| k);
            let done = admin::register_client_with(store, &limits, kek.as_ref(), &md, now).await;
            let id = done.as_ref().map(|r| r.client.client_id.clone()).ok().or_else(|| md.client_id.clone());
            match admin::audited(store, "cli", "client.register", id.as_deref(), now, done).await {
                Ok(r) => print_json(&r.response()),
                Err(e) => fail(e),
            }
        }
        ClientAction::Update { client_id, metadata } => {
            let md = match read_metadata(&metadata) {
                Ok(m) => m,
                Err(e) => return fail(e),
            };
            let kek = dinhdanh::flows::keys::open_kek(config).ok().map(|(k, _)| k);
            let done = admin::update_client(store, &limits, kek.as_ref(), &client_id, &md, now).await;
            match admin::audited(store, "cli", "client.update", Some(&client_id), now, done).await {
                Ok(r) => print_json(&r.response()),
                Err(e) => fail(e),
            }
        }
        ClientAction::List { limit, cursor } => {
            let page = match admin::paging(limit.as_deref(), cursor.as_deref()) {
                Ok((limit, after)) => admin::list_clients(store, limit, after.as_deref()).await,
                Err(e) => Err(e),
            };
            match page {
                Ok(p) => print_json(&serde_json::json!({
                    "items": p.items.iter().map(admin::client_json).collect::<Vec<_>>(),
                    "next_cursor": p.next_cursor,
                })),
                Err(e) => fail(e),
            }
        }
        ClientAction::Show { client_id } => shown(admin::get_client(store, &client_id).await),
        ClientAction::Disable { client_id } => {
            let done = admin::set_client_status(store, &client_id, ClientStatus::Disabled, now).await;
            shown(admin::audited(store, "cli", "client.disable", Some(&client_id), now, done).await)
        }
        ClientAction::Enable { client_id } => {
            let done = admin::set_client_status(store, &client_id, ClientStatus::Active, now).await;
            shown(admin::audited(store, "cli", "client.enable", Some(&client_id), now, done).await)
        }
        ClientAction::Delete { client_id } => match admin::audited(
            store,
            "cli",
            "client.delete",
            Some(&client_id),
            now,
            admin::delete_client(store, &client_id).await,
        )
        .await
        {
            Ok(()) => print_json(&serde_json::json!({"deleted": client_id})),
            Err(e) => fail(e),
        },
    }
}

/// `dinhdanh user list|show|disable|enable|delete` (`user create` is in `run`).
async fn user_command(config: &Config, now: i64, action: UserAction) -> ExitCode {
    let store = match dinhdanh::app::open_store(config).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let store = store.as_ref();
    let shown = |r: Result<dinhdanh::identity::Person, admin::AdminError>| match r {
        Ok(p) => print_json(&admin::person_json(&p)),
        Err(e) => fail(e),
    };
    match action {
        UserAction::Create { .. } => fail("user create is handled in run"),
        UserAction::List { limit, cursor } => {
            let page = match admin::paging(limit.as_deref(), cursor.as_deref()) {
                Ok((limit, after)) => admin::list_people(store, limit, after.as_deref()).await,
                Err(e) => Err(e),
            };
            match page {
                Ok(p) => print_json(&serde_json::json!({
                    "items": p.items.iter().map(admin::person_json).collect::<Vec<_>>(),
                    "next_cursor": p.next_cursor,
                })),
                Err(e) => fail(e),
            }
        }
        UserAction::Show { id } => shown(admin::get_person(store, &id).await),
        UserAction::Disable { id } => {
            let done = admin::set_person_status(store, &id, PersonStatus::Disabled, now).await;
            shown(admin::audited(store, "cli", "person.disable", Some(&id), now, done).await)
        }
        UserAction::Enable { id } => {
            let done = admin::set_person_status(store, &id, PersonStatus::Active, now).await;
            shown(admin::audited(store, "cli", "person.enable", Some(&id), now, done).await)
        }
        UserAction::Delete { id } => {
            match admin::audited(store, "cli", "person.delete", Some(&id), now, admin::delete_person(store, &id).await)
                .await
            {
                Ok(()) => print_json(&serde_json::json!({"deleted": id})),
                Err(e) => fail(e),
            }
        }
    }
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
    if let Err(e) = init_logging(config.log_format, config.otlp_endpoint.as_deref()) {
        return fail(e);
    }
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
            let served = dinhdanh::app::serve(listener, state, shutdown_signal()).await;
            // Spans still batched are sent before the process ends.
            let _ = tokio::task::spawn_blocking(dinhdanh::telemetry::shutdown_tracing).await;
            match served {
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
        Command::Client { action } => client_command(&config, clock.now(), action).await,
        Command::Registration { action: RegistrationAction::Token { action } } => {
            let TokenAction::Create { policy, expires_in, max_uses, json: _ } = action;
            let policy = match policy.map(|p| read_json(&p)).transpose() {
                Ok(p) => p,
                Err(e) => return fail(e),
            };
            let store = match dinhdanh::app::open_store(&config).await {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let now = clock.now();
            let done = admin::create_initial_token(store.as_ref(), policy.as_ref(), expires_in, max_uses, now).await;
            let id = done.as_ref().map(|t| t.record.id.clone()).ok();
            match admin::audited(store.as_ref(), "cli", "registration_token.create", id.as_deref(), now, done).await {
                Ok(t) => print_json(&t.response()),
                Err(e) => fail(e),
            }
        }
        Command::Admin { action: AdminAction::Bootstrap { client_id, json: _ } } => {
            let store = match dinhdanh::app::open_store(&config).await {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let token_endpoint = format!("{}/token", config.issuer);
            let now = clock.now();
            let done = admin::bootstrap_admin(store.as_ref(), &client_id, now).await;
            let done = match done {
                Ok(admin::Bootstrap::Created(r)) => {
                    admin::audited(store.as_ref(), "cli", "admin.bootstrap", Some(&client_id), now, Ok(r))
                        .await
                        .map(admin::Bootstrap::Created)
                }
                other => other,
            };
            match done {
                Ok(admin::Bootstrap::Created(r)) => print_json(&serde_json::json!({
                    "client_id": r.client.client_id,
                    "client_secret": r.client_secret,
                    "scope": r.client.scope.to_string(),
                    "token_endpoint": token_endpoint,
                    "admin_api": format!("{}/admin/api/v1", config.issuer),
                    "usage": format!("curl -u {}:SECRET {token_endpoint} -d grant_type=client_credentials -d scope='{}'; then send the access token as `Authorization: Bearer` to the admin API. The secret is shown this once.", r.client.client_id, r.client.scope),
                })),
                Ok(admin::Bootstrap::Exists(rec)) => print_json(&serde_json::json!({
                    "client_id": rec.client.client_id,
                    "client_secret": null,
                    "exists": true,
                    "scope": rec.client.scope.to_string(),
                    "token_endpoint": token_endpoint,
                    "admin_api": format!("{}/admin/api/v1", config.issuer),
                    "usage": format!("The client exists; its secret was shown when it was created. Get a token with `curl -u {}:SECRET {token_endpoint} -d grant_type=client_credentials`, or set a new secret with `dinhdanh client update {} --metadata FILE` (a client_secret of at least 32 characters in FILE), or bootstrap another id with --client-id.", rec.client.client_id, rec.client.client_id),
                })),
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
            let now = clock.now();
            let done = admin::create_person(store.as_ref(), &hasher, new, now).await;
            let id = done.as_ref().map(|p| p.id.0.clone()).ok();
            match admin::audited(store.as_ref(), "cli", "person.create", id.as_deref(), now, done).await {
                Ok(p) => print_json(&admin::person_json(&p)),
                Err(e) => fail(e),
            }
        }
        Command::User { action } => user_command(&config, clock.now(), action).await,
        Command::Keys { action } => keys_command(&config, clock.now(), action).await,
        Command::Org { action } => org_command(&config, clock.now(), action).await,
        Command::Officer { action } => cli_verification::officer_command(&config, clock.now(), action).await,
        Command::Verification { action } => cli_verification::verification_command(&config, clock.now(), action).await,
        Command::Dev { action: DevAction::Seed { people, batch, password } } => {
            seed_command(&config, clock.now(), people, batch, &password).await
        }
        Command::Audit { action: AuditAction::Verify } => {
            let store = match dinhdanh::app::open_store(&config).await {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            match dinhdanh::audit::verify(store.as_ref()).await {
                Ok(dinhdanh::audit::Verdict::Intact { events }) => {
                    print_json(&serde_json::json!({"intact": true, "events": events}))
                }
                Ok(dinhdanh::audit::Verdict::Broken { seq, reason }) => {
                    let _ = print_json(&serde_json::json!({"intact": false, "first_broken": seq, "reason": reason}));
                    fail(format!("audit chain broken at event {seq}: {reason}"))
                }
                Err(e) => fail(e),
            }
        }
    }
}

/// `dinhdanh keys …`: works on the database the servers share; they see a change at
/// their next key reload (DINHDANH_KEY_RELOAD_INTERVAL).
async fn seed_command(config: &Config, now: i64, people: u64, batch: u64, password: &str) -> ExitCode {
    if !config.dev_keys {
        return fail("dev seed: refused with DINHDANH_DEV_KEYS=false, which marks a production configuration");
    }
    let store = match dinhdanh::app::open_store(config).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let hasher = match dinhdanh::app::hasher(config) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let watch = dinhdanh::clock::Stopwatch::start();
    let progress = |done: u64| eprintln!("dinhdanh: seeded {done}/{people} ({:.1} s)", watch.elapsed().as_secs_f64());
    match dinhdanh::flows::seed::seed_people(store, &hasher, password, people, batch, now, progress).await {
        Ok(r) => {
            let seconds = watch.elapsed().as_secs_f64();
            print_json(&serde_json::json!({
                "created": r.created,
                "existing": r.existing,
                "seconds": (seconds * 10.0).round() / 10.0,
                "people_per_second": (r.created as f64 / seconds.max(0.001)).round(),
            }))
        }
        Err(e) => fail(e),
    }
}

async fn keys_command(config: &Config, now: i64, action: KeysAction) -> ExitCode {
    use dinhdanh::flows::keys::{self as key_flows, KeyPolicy};
    use dinhdanh::protocol::client::SigningAlg;
    let store = match dinhdanh::app::open_store(config).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let policy = KeyPolicy::from_config(config);
    if let KeysAction::List { all } = action {
        return match key_flows::list(store.as_ref(), all).await {
            Ok(rows) => print_json(&serde_json::json!({
                "now": key_flows::rfc3339(now),
                "keys": rows.iter().map(key_flows::describe).collect::<Vec<_>>(),
            })),
            Err(e) => fail(e),
        };
    }
    let kek = match key_flows::open_kek(config) {
        Ok((kek, _)) => kek,
        Err(e) => return fail(e),
    };
    match action {
        KeysAction::List { .. } => ExitCode::SUCCESS,
        KeysAction::Rotate { alg } => {
            let algs: Vec<SigningAlg> = match alg.as_deref() {
                None => SigningAlg::ALL.to_vec(),
                Some(name) => match SigningAlg::parse(name) {
                    Some(a) => vec![a],
                    None => return fail(format!("--alg {name}: not one of ES256, RS256, PS256, EdDSA")),
                },
            };
            let mut started = Vec::new();
            for alg in algs {
                match key_flows::rotate(store.as_ref(), &kek, &policy, alg, "cli", now).await {
                    Ok(row) => started.push(key_flows::describe(&row)),
                    Err(e) => {
                        let _ = print_json(&serde_json::json!({"rotated": started}));
                        return fail(e);
                    }
                }
            }
            print_json(&serde_json::json!({"rotated": started}))
        }
        KeysAction::Retire { kid, remove } => {
            match key_flows::retire(store.as_ref(), &kek, &policy, &kid, remove, "cli", now).await {
                Ok(outcome) => {
                    let (state, successor) = match outcome {
                        dinhdanh::store::Retirement::Retired { successor } => ("retired", successor),
                        dinhdanh::store::Retirement::Removed { successor } => ("removed", successor),
                        _ => ("unchanged", None),
                    };
                    print_json(&serde_json::json!({"kid": kid, "state": state, "now_signing": successor}))
                }
                Err(e) => fail(e),
            }
        }
    }
}

#[derive(Subcommand)]
enum OrgAction {
    /// Register an organisation; an invalid tax code exits non-zero naming the wrong part.
    Create {
        /// 10 digits, NNNNNNNNNN-NNN for a branch, or a 12-digit personal number for a
        /// household business (an agency may have none).
        #[arg(long)]
        tax_code: Option<String>,
        #[arg(long)]
        name: String,
        /// enterprise, branch, household_business, cooperative or agency (default: from
        /// the tax code's shape).
        #[arg(long = "type")]
        org_type: Option<String>,
        #[arg(long)]
        address: Option<String>,
        /// Print JSON (the only format; accepted for scripts).
        #[arg(long)]
        json: bool,
    },
    /// List organisations, one page at a time.
    List {
        #[arg(long)]
        limit: Option<String>,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
        /// Print JSON (the only format; accepted for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Record that a local user represents an organisation.
    Represent {
        /// The organisation's id or tax code.
        #[arg(long)]
        org: String,
        #[arg(long)]
        username: String,
        /// legal_representative, head, authorised_person or employee.
        #[arg(long)]
        role: String,
        /// A procedure (`procedure:1.000466`) or client (`client:portal`) it covers;
        /// repeat for several; none for everything.
        #[arg(long)]
        scope: Vec<String>,
        /// Until when: unix seconds, or a date YYYY-MM-DD (to the end of that day, UTC).
        #[arg(long)]
        until: Option<String>,
        /// Record it pending: not in force until a verification case about it is
        /// approved by two officers (`dinhdanh verification open --representation ID`).
        #[arg(long)]
        pending: bool,
        /// Print JSON (the only format; accepted for scripts).
        #[arg(long)]
        json: bool,
    },
}

/// `dinhdanh org …`: the same `flows::orgs` operations as the admin API.
async fn org_command(config: &Config, now: i64, action: OrgAction) -> ExitCode {
    use dinhdanh::flows::orgs;
    let store = match dinhdanh::app::open_store(config).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let store = store.as_ref();
    match action {
        OrgAction::Create { tax_code, name, org_type, address, json: _ } => {
            let new = orgs::NewOrganisation { tax_code, name, org_type, address };
            match orgs::create_org(store, "cli", new, now).await {
                Ok(o) => print_json(&orgs::org_json(&o, true)),
                Err(e) => fail(e),
            }
        }
        OrgAction::List { limit, cursor, json: _ } => {
            let page = match admin::paging(limit.as_deref(), cursor.as_deref()) {
                Ok((limit, after)) => orgs::list_orgs(store, limit, after.as_deref()).await,
                Err(e) => Err(e),
            };
            match page {
                Ok(p) => print_json(&serde_json::json!({
                    "items": p.items.iter().map(|o| orgs::org_json(o, false)).collect::<Vec<_>>(),
                    "next_cursor": p.next_cursor,
                })),
                Err(e) => fail(e),
            }
        }
        OrgAction::Represent { org, username, role, scope, until, pending, json: _ } => {
            let valid_until = match until.as_deref().map(orgs::parse_until).transpose() {
                Ok(u) => u,
                Err(e) => return fail(format!("--until: {e}")),
            };
            let status = pending.then(|| "pending".to_owned());
            let new = orgs::NewRepresentation {
                username: Some(username),
                role,
                scope,
                valid_until,
                status,
                ..Default::default()
            };
            match orgs::add_representation(store, "cli", &org, new, now).await {
                Ok(r) => print_json(&orgs::representation_json(&r)),
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
