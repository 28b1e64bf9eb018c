//! gatehouse: sign-in with OAuth2 / OpenID Connect providers for actix-web.
//!
//! Run it as a service (the `gatehouse` binary), or mount it into an actix-web app of your own
//! with [`Gatehouse`] and guard your handlers with [`CurrentUser`] or [`auth::require_login`].

pub(crate) mod access;
pub mod accounts;
pub mod auth;
pub mod config;
pub mod db;
pub(crate) mod demo;
pub mod error;
pub(crate) mod gate;
mod gatehouse;
pub(crate) mod metrics;
pub(crate) mod net;
pub(crate) mod presets;
pub(crate) mod providers;
pub(crate) mod rate_limit;
pub(crate) mod routes;
pub(crate) mod seal;
pub(crate) mod security_headers;
pub(crate) mod session;
pub(crate) mod signin;
pub(crate) mod site;
pub mod startup;
pub(crate) mod templates;
pub(crate) mod tokens;

pub use accounts::Account;
pub use auth::{CurrentUser, OptionalUser};
pub use config::Settings;
pub use db::Db;
pub use gatehouse::{Gatehouse, StartupError};
pub use tokens::{ProviderToken, ProviderTokenError, provider_token};
