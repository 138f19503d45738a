//! `conformance`: runs the OP checks against an issuer and prints one line
//! per check (`PASS name`, `FAIL name: reason`, `SKIP name: reason`), then
//! the summary line. Exits 1 when any check failed, 2 on bad arguments.

use std::process::ExitCode;

use clap::Parser;

/// Black-box OpenID Connect OP checks modelled on the OpenID Foundation
/// Basic, Config, RP-Initiated Logout, Back-Channel Logout and Dynamic OP
/// certification plans.
#[derive(Parser, Debug)]
#[command(name = "conformance", version, about)]
struct Cli {
    /// The OP's issuer identifier (discovery is fetched from
    /// ISSUER/.well-known/openid-configuration).
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// A confidential client registered with client_secret_basic.
    #[arg(long)]
    client_id: String,
    /// The client's secret.
    #[arg(long)]
    client_secret: String,
    /// An optional second client registered with client_secret_post.
    #[arg(long, requires = "client_post_secret")]
    client_post_id: Option<String>,
    /// The second client's secret.
    #[arg(long, requires = "client_post_id")]
    client_post_secret: Option<String>,
    /// A redirect URI registered for both clients (never contacted).
    #[arg(long, value_name = "URL")]
    redirect_uri: String,
    /// A local account on the OP.
    #[arg(long)]
    username: String,
    /// The account's password.
    #[arg(long)]
    password: String,
    /// Also run checks that wait for more than 30 seconds.
    #[arg(long)]
    slow: bool,
    /// A post-logout redirect URI registered for the client_secret_basic
    /// client (never contacted); enables the RP-Initiated Logout checks.
    #[arg(long, value_name = "URL")]
    post_logout_redirect_uri: Option<String>,
    /// An initial access token for the registration endpoint; enables the
    /// dynamic registration and back-channel logout checks.
    #[arg(long, value_name = "TOKEN", env = "CONFORMANCE_INITIAL_ACCESS_TOKEN", hide_env_values = true)]
    initial_access_token: Option<String>,
    /// Run only these checks (repeatable; see --list).
    #[arg(long, value_name = "NAME", num_args = 1..)]
    only: Vec<String>,
    /// List the check names and exit.
    #[arg(long, exclusive = true)]
    list: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    // `--list` needs none of the required arguments.
    if std::env::args().skip(1).any(|a| a == "--list") {
        return print_list();
    }
    let cli = Cli::parse();
    if cli.list {
        return print_list();
    }
    let unknown: Vec<&String> = cli.only.iter().filter(|n| !conformance::check_names().contains(&n.as_str())).collect();
    if !unknown.is_empty() {
        eprintln!(
            "unknown check name(s): {}; known checks:\n  {}",
            unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            conformance::check_names().join("\n  ")
        );
        return ExitCode::from(2);
    }
    let opts = conformance::Options {
        issuer: cli.issuer,
        client_id: cli.client_id,
        client_secret: cli.client_secret,
        client_post_id: cli.client_post_id,
        client_post_secret: cli.client_post_secret,
        redirect_uri: cli.redirect_uri,
        username: cli.username,
        password: cli.password,
        slow: cli.slow,
        post_logout_redirect_uri: cli.post_logout_redirect_uri,
        initial_access_token: cli.initial_access_token,
    };
    let report = conformance::run_with(&opts, &cli.only, |result| println!("{result}")).await;
    println!("{}", report.summary_line());
    if report.failed() > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn print_list() -> ExitCode {
    for name in conformance::check_names() {
        println!("{name}");
    }
    ExitCode::SUCCESS
}
