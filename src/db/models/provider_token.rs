use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::provider_tokens;

/// An identity's provider tokens, sealed (see [`crate::tokens`]).
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = provider_tokens)]
pub struct ProviderTokenRow {
    pub identity_id: i64,
    /// Which `TOKEN_KEY` sealed them.
    pub key_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
    pub unusable: bool,
    pub refreshing_until: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

impl ProviderTokenRow {
    pub fn find(conn: &mut AnyConnection, identity: i64) -> QueryResult<Option<ProviderTokenRow>> {
        provider_tokens::table.find(identity).select(ProviderTokenRow::as_select()).first(conn).optional()
    }

    /// Saves tokens a sign-in just received, replacing whatever was kept (and any lease).
    pub fn replace(conn: &mut AnyConnection, row: &ProviderTokenRow) -> QueryResult<()> {
        conn.transaction(|c| {
            diesel::delete(provider_tokens::table.find(row.identity_id)).execute(c)?;
            diesel::insert_into(provider_tokens::table).values(row).execute(c).map(|_| ())
        })
    }

    /// Takes the refresh lease until `until` when nobody holds it and the row is still the one
    /// read (`seen`, its `updated_at`): true for exactly one caller, on any instance.
    pub fn take_lease(
        conn: &mut AnyConnection,
        identity: i64,
        seen: NaiveDateTime,
        now: NaiveDateTime,
        until: NaiveDateTime,
    ) -> QueryResult<bool> {
        let free = provider_tokens::refreshing_until.is_null().or(provider_tokens::refreshing_until.lt(now));
        diesel::update(provider_tokens::table.find(identity).filter(provider_tokens::updated_at.eq(seen)).filter(free))
            .set(provider_tokens::refreshing_until.eq(Some(until)))
            .execute(conn)
            .map(|n| n == 1)
    }

    /// The refresh's outcome, in one statement, with the lease released: new tokens (a rotated
    /// refresh token with them), or `unusable` when the provider refused the refresh token.
    /// Only while the lease (`lease`, its end) is still the caller's: `false` when it was not
    /// (it ran out and another caller took over, or a sign-in replaced the row).
    pub fn finish_refresh(
        conn: &mut AnyConnection,
        identity: i64,
        lease: NaiveDateTime,
        outcome: RefreshOutcome<'_>,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let row = provider_tokens::table.find(identity).filter(provider_tokens::refreshing_until.eq(lease));
        let released = provider_tokens::refreshing_until.eq(None::<NaiveDateTime>);
        match outcome {
            RefreshOutcome::Renewed { key_id, access_token, refresh_token, expires_at } => diesel::update(row)
                .set((
                    released,
                    provider_tokens::key_id.eq(key_id),
                    provider_tokens::access_token.eq(access_token),
                    provider_tokens::refresh_token.eq(refresh_token),
                    provider_tokens::expires_at.eq(expires_at),
                    provider_tokens::updated_at.eq(now),
                ))
                .execute(conn),
            RefreshOutcome::Refused => diesel::update(row)
                .set((released, provider_tokens::unusable.eq(true), provider_tokens::updated_at.eq(now)))
                .execute(conn),
            RefreshOutcome::Failed => diesel::update(row).set(released).execute(conn),
        }
        .map(|n| n == 1)
    }
}

/// How a refresh ended.
pub enum RefreshOutcome<'a> {
    Renewed {
        key_id: &'a str,
        access_token: &'a str,
        refresh_token: Option<&'a str>,
        expires_at: Option<NaiveDateTime>,
    },
    /// The provider refused the refresh token: the identity must be authorized again.
    Refused,
    /// The provider could not be asked (down, slow): try again later.
    Failed,
}
