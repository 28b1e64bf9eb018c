use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::provider_metadata;

/// The last-known discovery document and JWKS of an OIDC provider, as fetched.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = provider_metadata)]
pub struct CachedMetadata {
    pub provider: String,
    /// The configured issuer, followed by ` {discovery URL}` when discovery is not under it.
    pub issuer: String,
    pub discovery: String,
    pub jwks: String,
    pub fetched_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl CachedMetadata {
    pub fn find(conn: &mut AnyConnection, provider: &str) -> QueryResult<Option<CachedMetadata>> {
        provider_metadata::table.find(provider).select(CachedMetadata::as_select()).first(conn).optional()
    }

    /// Replaces the provider's row (delete + insert: `ON CONFLICT` does not compile on the
    /// MultiBackend, and this runs in one transaction).
    pub fn store(conn: &mut AnyConnection, row: &CachedMetadata) -> QueryResult<()> {
        crate::db::write_tx(conn, |c| {
            diesel::delete(provider_metadata::table.find(&row.provider)).execute(c)?;
            diesel::insert_into(provider_metadata::table).values(row).execute(c).map(|_| ())
        })
    }
}
