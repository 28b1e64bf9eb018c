use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};

use crate::db::AnyConnection;
use crate::db::models::UserId;
use crate::db::schema::{logout_token_uses, provider_sessions};

/// A provider session (`sid`) and the user it signed in: what a back-channel logout that
/// names only the sid finds.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = provider_sessions)]
pub struct ProviderSessionRow {
    pub provider: String,
    pub sid: String,
    pub user_id: i64,
    pub expires_at: NaiveDateTime,
}

impl ProviderSessionRow {
    /// Records (or moves to `row.user_id`) the provider session, and drops expired ones.
    pub fn record(conn: &mut AnyConnection, row: &ProviderSessionRow, now: NaiveDateTime) -> QueryResult<()> {
        diesel::delete(provider_sessions::table.filter(provider_sessions::expires_at.lt(now))).execute(conn)?;
        diesel::delete(provider_sessions::table.find((&row.provider, &row.sid))).execute(conn)?;
        diesel::insert_into(provider_sessions::table).values(row).execute(conn).map(|_| ())
    }

    /// The user the provider session signed in, if it is still known.
    pub fn user_of(
        conn: &mut AnyConnection,
        provider: &str,
        sid: &str,
        now: NaiveDateTime,
    ) -> QueryResult<Option<UserId>> {
        provider_sessions::table
            .find((provider, sid))
            .filter(provider_sessions::expires_at.ge(now))
            .select(provider_sessions::user_id)
            .first::<i64>(conn)
            .optional()
            .map(|id| id.map(UserId))
    }

    pub fn forget(conn: &mut AnyConnection, provider: &str, sid: &str) -> QueryResult<()> {
        diesel::delete(provider_sessions::table.find((provider, sid))).execute(conn).map(|_| ())
    }
}

/// Was this logout token (`jti`) used before, on any instance?
pub fn logout_token_used(conn: &mut AnyConnection, provider: &str, jti: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let found = logout_token_uses::table
        .find((provider, jti))
        .filter(logout_token_uses::expires_at.ge(now))
        .select(logout_token_uses::jti)
        .first::<String>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Marks a logout token (`jti`) used until `expires_at` (another instance may have just done
/// so too), and drops the expired marks.
pub fn mark_logout_token_used(
    conn: &mut AnyConnection,
    provider: &str,
    jti: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(logout_token_uses::table.filter(logout_token_uses::expires_at.lt(now))).execute(conn)?;
    let inserted = diesel::insert_into(logout_token_uses::table)
        .values((
            logout_token_uses::provider.eq(provider),
            logout_token_uses::jti.eq(jti),
            logout_token_uses::expires_at.eq(expires_at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) | Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
        Err(e) => Err(e),
    }
}
