//! Black-box tests: the app on a random port, real providers on loopback, a browser-like
//! client. Storage tests run on both SQLite and PostgreSQL.

#[path = "../providers/apple_standin.rs"]
mod apple_standin;
#[path = "../providers/github_standin.rs"]
mod github_standin;
#[path = "../providers/oauth2_standin.rs"]
mod oauth2_standin;
#[path = "../providers/oidc_provider.rs"]
mod oidc_provider;
#[path = "../providers/scripted_op.rs"]
mod scripted_op;

mod helpers;

mod account_cache;
mod apple;
mod behind_a_proxy;
mod conformance;
mod demo;
mod embedded;
mod gate;
mod github;
mod id_token;
mod linking;
mod mounted;
mod oidc;
mod outages;
mod pages;
mod presets;
mod proxies;
mod restart;
mod scale_out;
pub mod security;
mod session_stores;
mod session_trust;
mod shutdown;
mod sign_out;
mod state;
mod tokens;
mod unavailable;
