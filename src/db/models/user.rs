use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::AnyConnection;
use crate::db::schema::users;

/// A user's id: the only thing the session remembers about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, diesel::FromSqlRow)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A person who signs in: what every signed-in page and `/api/me` show of them.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    /// gatehouse's stable id for the person: what to authorise on.
    pub id: i64,
    /// The display name the provider last gave (or the email's local part).
    pub name: String,
    /// The account's email, if any provider gave one; see `email_verified`.
    pub email: Option<String>,
    /// True when a provider trusted to verify emails (`OAUTH_{NAME}_TRUST_EMAIL`) verified
    /// `email`. Authorise on `id`, or on an email only when this is true.
    pub email_verified: bool,
    /// An http(s) picture URL from the provider, if any.
    pub avatar_url: Option<String>,
    /// When the user was created (UTC).
    pub created_at: NaiveDateTime,
    /// When a sign-in last refreshed the profile (UTC).
    pub updated_at: NaiveDateTime,
    /// Sessions signed in before this moment (UTC) are refused on every store: set by "sign
    /// out everywhere" and back-channel logout. `None` until one of them happens.
    pub sessions_valid_after: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub email_verified: bool,
    pub avatar_url: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The account email a sign-in leaves: a new one with whether it is verified, or the old one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailChange<'a> {
    Keep,
    Set { email: &'a str, verified: bool },
}

impl User {
    /// The id as the typed [`UserId`].
    pub fn id(&self) -> UserId {
        UserId(self.id)
    }

    pub(crate) fn find(conn: &mut AnyConnection, id: UserId) -> QueryResult<Option<User>> {
        users::table.find(id.0).select(User::as_select()).first(conn).optional()
    }

    pub(crate) fn insert(conn: &mut AnyConnection, new: &NewUser<'_>) -> QueryResult<UserId> {
        // `.returning(User::as_returning())` does not compile on the MultiBackend; the id does.
        diesel::insert_into(users::table).values(new).returning(users::id).get_result(conn).map(UserId)
    }

    /// Refreshes what the provider just told us about the person; a `name` of `None` keeps
    /// the one held.
    pub(crate) fn update_profile(
        conn: &mut AnyConnection,
        id: UserId,
        name: Option<&str>,
        email: EmailChange<'_>,
        avatar_url: Option<&str>,
        at: NaiveDateTime,
    ) -> QueryResult<()> {
        let row = users::table.find(id.0);
        // `None` (no name this time) leaves the name as it is.
        let profile = (name.map(|n| users::name.eq(n)), users::avatar_url.eq(avatar_url), users::updated_at.eq(at));
        match email {
            EmailChange::Keep => diesel::update(row).set(profile).execute(conn),
            EmailChange::Set { email, verified } => diesel::update(row)
                .set((profile, users::email.eq(email), users::email_verified.eq(verified)))
                .execute(conn),
        }
        .map(|_| ())
    }

    /// Ends every session signed in until now, on every store: moves `sessions_valid_after`
    /// to `at` (never back, should two instances race).
    pub(crate) fn end_sessions(conn: &mut AnyConnection, id: UserId, at: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(
            users::table
                .find(id.0)
                .filter(users::sessions_valid_after.is_null().or(users::sessions_valid_after.lt(at))),
        )
        .set(users::sessions_valid_after.eq(at))
        .execute(conn)
    }

    pub(crate) fn delete(conn: &mut AnyConnection, id: UserId) -> QueryResult<()> {
        diesel::delete(users::table.find(id.0)).execute(conn).map(|_| ())
    }
}
