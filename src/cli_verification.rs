//! `dinhdanh officer …` and `dinhdanh verification …`: the same `flows::verification`
//! operations as the admin API, for an operator at the server. The officer acting is
//! named with `--officer` (a username or person id) and the audit log records them as
//! the actor. Refusals exit non-zero with one line.

use std::process::ExitCode;

use clap::Subcommand;
use dinhdanh::config::Config;
use dinhdanh::flows::verification::{self as flow, Actor, OpenCase, VerificationFlowError};
use dinhdanh::identity::verification::{EvidenceItem, Office, OfficerRole, Outcome, Subject, parse_province};
use dinhdanh::store::{CaseFilter, Store};

use super::{fail, print_json};

/// `dinhdanh officer …`.
#[derive(Subcommand)]
pub enum OfficerAction {
    /// Make a person a verification officer (or change their role and scope).
    Add {
        /// The person's username (or id).
        #[arg(long)]
        username: String,
        /// verifier or supervisor.
        #[arg(long)]
        role: String,
        /// Province code, e.g. 001.
        #[arg(long)]
        province: String,
        /// Commune code, when the officer serves one commune only.
        #[arg(long)]
        commune: Option<String>,
    },
    /// Show a person's officer record.
    Show {
        /// Username or id.
        person: String,
    },
}

/// `dinhdanh verification …`.
#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum VerificationAction {
    /// Open a case at a counter, with the document checked: for a person (`--person`),
    /// an organisation (`--org`) or a representation to confirm (`--representation`).
    #[command(group(clap::ArgGroup::new("subject").required(true).multiple(false)))]
    Open {
        /// The person to verify: username or id.
        #[arg(long, group = "subject")]
        person: Option<String>,
        /// The organisation to verify: its id or tax code.
        #[arg(long, group = "subject")]
        org: Option<String>,
        /// The representation to confirm (pending → active; two officers' approvals).
        #[arg(long, group = "subject")]
        representation: Option<String>,
        /// The level asked for: 1 or 2 (level 2 and representations need two officers'
        /// approvals).
        #[arg(long)]
        level: String,
        /// Document type, e.g. vn_the_can_cuoc.
        #[arg(long)]
        document_type: String,
        /// Document number.
        #[arg(long)]
        document_number: String,
        /// Issuing authority of the document (`--issuer` is the server's own issuer URL).
        #[arg(long)]
        document_issuer: String,
        /// Issue date YYYY-MM-DD.
        #[arg(long)]
        issued: Option<String>,
        /// Expiry date YYYY-MM-DD.
        #[arg(long)]
        expires: Option<String>,
        /// How it was checked: pvp (physically, in person), vpip, vri, …
        #[arg(long, default_value = "pvp")]
        check_method: String,
        /// SHA-256 (hex) of a scan kept elsewhere; repeatable.
        #[arg(long)]
        attachment: Vec<String>,
        /// Province code of the office, e.g. 001.
        #[arg(long)]
        province: String,
        /// Commune code of the office.
        #[arg(long)]
        commune: Option<String>,
        /// The officer opening it: username or id.
        #[arg(long)]
        officer: String,
    },
    /// List cases (all offices), oldest first.
    List {
        /// submitted, in_review, approved, rejected or withdrawn.
        #[arg(long)]
        state: Option<String>,
        /// Only this province.
        #[arg(long)]
        province: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one case.
    Show { case_id: String },
    /// Approve or reject a case as an officer.
    Decide {
        case_id: String,
        /// The deciding officer: username or id.
        #[arg(long)]
        officer: String,
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        approve: bool,
        #[arg(long)]
        reject: bool,
        /// Why (required to reject).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Withdraw an open case, as its opener or subject.
    Withdraw {
        case_id: String,
        /// Who withdraws it: username or id.
        #[arg(long)]
        by: String,
    },
}

async fn store_of(config: &Config) -> Result<std::sync::Arc<dyn Store>, ExitCode> {
    dinhdanh::app::open_store(config).await.map_err(fail)
}

fn done(r: Result<serde_json::Value, VerificationFlowError>) -> ExitCode {
    match r {
        Ok(v) => print_json(&v),
        Err(e) => fail(e),
    }
}

/// Runs `dinhdanh officer …`.
pub async fn officer_command(config: &Config, now: i64, action: OfficerAction) -> ExitCode {
    let store = match store_of(config).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = store.as_ref();
    match action {
        OfficerAction::Add { username, role, province, commune } => {
            let Some(role) = OfficerRole::parse(&role) else { return fail("--role must be verifier or supervisor") };
            let province = match parse_province(&province) {
                Ok(p) => p,
                Err(e) => return fail(e),
            };
            done(
                async {
                    let person = flow::resolve_person(store, &username).await?;
                    let o = flow::set_officer(store, &Actor::Cli, &person, role, province, commune, now).await?;
                    Ok(flow::officer_json(&o))
                }
                .await,
            )
        }
        OfficerAction::Show { person } => done(
            async {
                let person = flow::resolve_person(store, &person).await?;
                Ok(flow::officer_json(&flow::get_officer(store, &person).await?))
            }
            .await,
        ),
    }
}

/// Runs `dinhdanh verification …`.
pub async fn verification_command(config: &Config, now: i64, action: VerificationAction) -> ExitCode {
    let store = match store_of(config).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = store.as_ref();
    match action {
        VerificationAction::Open {
            person,
            org,
            representation,
            level,
            document_type,
            document_number,
            document_issuer,
            issued,
            expires,
            check_method,
            attachment,
            province,
            commune,
            officer,
        } => done(
            async {
                let subject = match (person, org, representation) {
                    (Some(p), _, _) => Subject::Person(flow::resolve_person(store, &p).await?),
                    (None, Some(o), _) => Subject::Organisation(o),
                    (None, None, Some(r)) => Subject::Representation(r),
                    (None, None, None) => {
                        return Err(VerificationFlowError::Invalid(
                            "give one of --person, --org and --representation".into(),
                        ));
                    }
                };
                let officer = flow::resolve_person(store, &officer).await?;
                let req = OpenCase {
                    subject,
                    level: flow::parse_level(&level)?,
                    office: Office { province: parse_province(&province)?, commune },
                    evidence: vec![EvidenceItem {
                        document_type,
                        document_number,
                        issuer: document_issuer,
                        date_of_issuance: issued,
                        date_of_expiry: expires,
                        attachments: attachment,
                        check_method,
                    }],
                };
                let case = flow::open_case(store, &Actor::Person(officer.clone()), &officer, req, now).await?;
                Ok(flow::case_json(&case))
            }
            .await,
        ),
        VerificationAction::List { state, province, limit, json } => {
            let listed = async {
                let filter = CaseFilter {
                    state: state.as_deref().map(flow::parse_state).transpose()?,
                    province: province.as_deref().map(parse_province).transpose()?,
                    commune: None,
                };
                flow::list_cases(store, &Actor::Cli, filter, None, limit.clamp(1, 1000)).await
            }
            .await;
            match listed {
                Err(e) => fail(e),
                Ok(page) if json => print_json(&serde_json::json!({
                    "items": page.items.iter().map(flow::case_json).collect::<Vec<_>>(),
                })),
                Ok(page) => {
                    println!(
                        "{:<36}  {:<10}  {:<5}  {:<10}  {:<14}  SUBJECT",
                        "CASE", "STATE", "LEVEL", "OFFICE", "APPROVALS"
                    );
                    for c in &page.items {
                        let approvals = c.decisions.iter().filter(|d| d.outcome == Outcome::Approve).count();
                        let needed = dinhdanh::identity::verification::approvals_needed(&c.subject, c.requested_level);
                        println!(
                            "{:<36}  {:<10}  {:<5}  {:<10}  {:<14}  {}:{}",
                            c.id,
                            c.state.as_str(),
                            c.requested_level.as_i64(),
                            c.office.label(),
                            format!("{approvals}/{needed}"),
                            c.subject.kind(),
                            c.subject.id()
                        );
                    }
                    ExitCode::SUCCESS
                }
            }
        }
        VerificationAction::Show { case_id } => {
            done(async { Ok(flow::case_json(&flow::find_case(store, &case_id).await?)) }.await)
        }
        VerificationAction::Decide { case_id, officer, approve, reject: _, reason } => done(
            async {
                let officer = flow::resolve_person(store, &officer).await?;
                let outcome = if approve { Outcome::Approve } else { Outcome::Reject };
                let actor = Actor::Person(officer.clone());
                let case =
                    flow::decide(store, &actor, Some(&officer), &case_id, outcome, reason.as_deref(), now).await?;
                Ok(flow::case_json(&case))
            }
            .await,
        ),
        VerificationAction::Withdraw { case_id, by } => done(
            async {
                let by = flow::resolve_person(store, &by).await?;
                let case = flow::withdraw(store, &Actor::Person(by.clone()), Some(&by), &case_id, now).await?;
                Ok(flow::case_json(&case))
            }
            .await,
        ),
    }
}
