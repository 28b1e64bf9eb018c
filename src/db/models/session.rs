use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::sessions;

/// A server-side session row; `id` is the SHA-256 of the cookie's session key.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub user_id: Option<i64>,
    pub state: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl SessionRow {
    /// A live (unexpired) session.
    pub fn find_live(conn: &mut AnyConnection, id: &str, now: NaiveDateTime) -> QueryResult<Option<SessionRow>> {
        sessions::table
            .find(id)
            .filter(sessions::expires_at.gt(now))
            .select(SessionRow::as_select())
            .first(conn)
            .optional()
    }

    pub fn insert(conn: &mut AnyConnection, row: &SessionRow) -> QueryResult<()> {
        diesel::insert_into(sessions::table).values(row).execute(conn).map(|_| ())
    }

    /// Rewrites a session's state and expiry; false when it no longer exists.
    pub fn update(
        conn: &mut AnyConnection,
        id: &str,
        state: &str,
        user_id: Option<i64>,
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> QueryResult<bool> {
        // An expired row is not brought back either: it is gone as far as readers can tell.
        diesel::update(sessions::table.find(id).filter(sessions::expires_at.gt(now)))
            .set((
                sessions::state.eq(state),
                sessions::user_id.eq(user_id),
                sessions::last_seen_at.eq(now),
                sessions::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .map(|n| n > 0)
    }

    pub fn touch(conn: &mut AnyConnection, id: &str, now: NaiveDateTime, expires_at: NaiveDateTime) -> QueryResult<()> {
        // An expired row is not brought back either: it is gone as far as readers can tell.
        diesel::update(sessions::table.find(id).filter(sessions::expires_at.gt(now)))
            .set((sessions::last_seen_at.eq(now), sessions::expires_at.eq(expires_at)))
            .execute(conn)
            .map(|_| ())
    }

    pub fn delete(conn: &mut AnyConnection, id: &str) -> QueryResult<()> {
        diesel::delete(sessions::table.find(id)).execute(conn).map(|_| ())
    }

    /// A user's live sessions, most recently seen first.
    pub fn for_user(conn: &mut AnyConnection, user: i64, now: NaiveDateTime) -> QueryResult<Vec<SessionRow>> {
        sessions::table
            .filter(sessions::user_id.eq(user))
            .filter(sessions::expires_at.gt(now))
            .order(sessions::last_seen_at.desc())
            .select(SessionRow::as_select())
            .load(conn)
    }

    /// Ends one of a user's sessions; false when it is not theirs (or gone).
    pub fn delete_for_user(conn: &mut AnyConnection, id: &str, user: i64) -> QueryResult<bool> {
        diesel::delete(sessions::table.find(id).filter(sessions::user_id.eq(user))).execute(conn).map(|n| n > 0)
    }

    /// Ends every session of a user ("sign out everywhere").
    pub fn delete_all_for_user(conn: &mut AnyConnection, user: i64) -> QueryResult<usize> {
        diesel::delete(sessions::table.filter(sessions::user_id.eq(user))).execute(conn)
    }

    /// Signed-in sessions that have not expired.
    pub fn count_active(conn: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<i64> {
        sessions::table
            .filter(sessions::user_id.is_not_null())
            .filter(sessions::expires_at.gt(now))
            .count()
            .get_result(conn)
    }

    pub fn delete_expired(conn: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)
    }
}
