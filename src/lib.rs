//! gatehouse: sign-in with OAuth2 / OpenID Connect providers for actix-web.

pub mod accounts;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod metrics;
pub mod net;
pub mod providers;
pub mod rate_limit;
pub mod routes;
pub mod session;
pub mod startup;
pub mod templates;
