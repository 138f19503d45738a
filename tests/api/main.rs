//! The one integration-test binary: the real app booted in-process on port 0 with a
//! fresh database per test, driven over HTTP.

// Test code may panic: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account_console;
mod admin_api;
mod audit;
mod backends;
mod broker;
mod browser;
mod client_auth;
mod code_flow;
mod crash;
mod discovery;
mod errors;
mod helpers;
mod keys;
mod logout;
mod mandates;
mod multi_node;
mod org_context;
mod orgs;
mod registration;
mod resilience;
mod rp_interop;
mod stepup;
mod telemetry;
mod tidy;
mod tokens;
mod userinfo;
mod verification;
mod verification_outcomes;
mod verified_claims;
