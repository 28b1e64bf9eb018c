//! One file per table: the row type, the insert type, and the queries, as associated functions
//! taking the connection.

mod identity;
mod provider_metadata;
mod provider_session;
mod provider_token;
mod session;
mod signing_key;
mod user;

pub use identity::{Identity, NewIdentity};
pub use provider_metadata::CachedMetadata;
pub use provider_session::{ProviderSessionRow, logout_token_used, mark_logout_token_used};
pub use provider_token::{ProviderTokenRow, RefreshOutcome};
pub use session::SessionRow;
pub use signing_key::SigningKeyRow;
pub use user::{EmailChange, NewUser, User, UserId};

diesel::define_sql_function! {
    /// SQL `lower()`, the same on PostgreSQL and SQLite; emails compare case-insensitively.
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Timestamps come from Rust, truncated to the microsecond so both backends read back what was
/// written (PostgreSQL keeps µs, SQLite keeps the text).
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}
