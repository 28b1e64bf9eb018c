use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};

use crate::db::AnyConnection;
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
    /// Records the provider session for `row.user_id`, and drops expired ones. A sid may sign
    /// in several users (an identity moved between accounts): each is found.
    pub fn record(conn: &mut AnyConnection, row: &ProviderSessionRow, now: NaiveDateTime) -> QueryResult<()> {
        diesel::delete(provider_sessions::table.filter(provider_sessions::expires_at.lt(now))).execute(conn)?;
        diesel::delete(provider_sessions::table.find((&row.provider, &row.sid, row.user_id))).execute(conn)?;
        match diesel::insert_into(provider_sessions::table).values(row).execute(conn) {
            // Another callback of the same provider session recorded it a moment ago.
            Ok(_) | Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The users the provider session signed in, while it is known.
    pub fn user_of(conn: &mut AnyConnection, provider: &str, sid: &str, now: NaiveDateTime) -> QueryResult<Vec<i64>> {
        provider_sessions::table
            .filter(provider_sessions::provider.eq(provider))
            .filter(provider_sessions::sid.eq(sid))
            .filter(provider_sessions::expires_at.ge(now))
            .select(provider_sessions::user_id)
            .load::<i64>(conn)
    }

    pub fn forget(conn: &mut AnyConnection, provider: &str, sid: &str) -> QueryResult<()> {
        let named = provider_sessions::provider.eq(provider).and(provider_sessions::sid.eq(sid));
        diesel::delete(provider_sessions::table.filter(named)).execute(conn).map(|_| ())
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
