//! dinhdanh: an electronic-identity OpenID Connect Provider for provincial e-government.
//!
//! Layers (see ARCHITECTURE.md): `http` (axum, thin) → `flows` (one use case per
//! endpoint) → `protocol` (pure rules) and `identity` (pure domain); `flows` talks to the
//! ports `store` (durable) and `ephemeral` (short-lived) and to `crypto` (keys, hashing,
//! randomness). `app` is the composition root; `config` and `clock` sit at the edge.

pub mod app;
pub mod audit;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod ephemeral;
pub mod flows;
pub mod http;
pub mod identity;
pub mod outbound;
pub mod protocol;
pub mod store;
pub mod telemetry;
