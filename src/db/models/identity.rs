use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{UserId, lower};
use crate::db::AnyConnection;
use crate::db::schema::identities;

/// An account at a provider, linked to one user.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = identities)]
pub struct Identity {
    /// gatehouse's id for this link (what `/profile/identities/{id}/unlink` names).
    pub id: i64,
    /// The user it belongs to.
    pub user_id: i64,
    /// The provider's name in `OAUTH_PROVIDERS` (`google`, `corp`, …).
    pub provider: String,
    /// The provider's stable id for the person: OIDC `sub`, GitHub's numeric `id`.
    pub subject: String,
    /// The email this provider last gave, if any.
    pub email: Option<String>,
    /// Whether this provider said it verified `email` (whether or not gatehouse trusts it to).
    pub email_verified: bool,
    /// When the identity was first linked (UTC).
    pub created_at: NaiveDateTime,
    /// When a sign-in through it last refreshed it (UTC).
    pub updated_at: NaiveDateTime,
    /// The groups as stored: a JSON array; read them with [`Identity::groups`].
    pub(crate) groups: String,
}

#[derive(Insertable)]
#[diesel(table_name = identities)]
pub struct NewIdentity<'a> {
    pub user_id: i64,
    pub provider: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub email_verified: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// A JSON array of strings.
    pub groups: String,
}

impl Identity {
    /// The groups this provider said the person is in at their last sign-in through it
    /// (`OAUTH_{NAME}_CLAIM_GROUPS`; GitHub: orgs and `org/team-slug` when a rule asks).
    pub fn groups(&self) -> Vec<String> {
        serde_json::from_str(&self.groups).unwrap_or_default()
    }

    /// `groups` as stored.
    pub(crate) fn groups_json(groups: &[String]) -> String {
        serde_json::to_string(groups).unwrap_or_else(|_| "[]".into())
    }

    /// The one way a returning user is recognised: the provider's stable subject id.
    pub(crate) fn find_by_subject(
        conn: &mut AnyConnection,
        provider: &str,
        subject: &str,
    ) -> QueryResult<Option<Identity>> {
        identities::table
            .filter(identities::provider.eq(provider))
            .filter(identities::subject.eq(subject))
            .select(Identity::as_select())
            .first(conn)
            .optional()
    }

    pub(crate) fn for_user(conn: &mut AnyConnection, user: UserId) -> QueryResult<Vec<Identity>> {
        identities::table
            .filter(identities::user_id.eq(user.0))
            .order(identities::id)
            .select(Identity::as_select())
            .load(conn)
    }

    /// Identities whose provider reported this email (any case) as verified.
    pub(crate) fn verified_with_email(conn: &mut AnyConnection, email: &str) -> QueryResult<Vec<Identity>> {
        identities::table
            .filter(lower(identities::email).eq(email.to_lowercase()))
            .filter(identities::email_verified.eq(true))
            .order(identities::id)
            .select(Identity::as_select())
            .load(conn)
    }

    pub(crate) fn insert(conn: &mut AnyConnection, new: &NewIdentity<'_>) -> QueryResult<()> {
        diesel::insert_into(identities::table).values(new).execute(conn).map(|_| ())
    }

    /// What a sign-in through the identity says now: its email and groups.
    pub(crate) fn refresh(
        conn: &mut AnyConnection,
        id: i64,
        email: Option<&str>,
        email_verified: bool,
        groups: &[String],
        at: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(identities::table.find(id))
            .set((
                identities::email.eq(email),
                identities::email_verified.eq(email_verified),
                identities::groups.eq(Identity::groups_json(groups)),
                identities::updated_at.eq(at),
            ))
            .execute(conn)
            .map(|_| ())
    }

    pub(crate) fn delete(conn: &mut AnyConnection, id: i64) -> QueryResult<()> {
        diesel::delete(identities::table.find(id)).execute(conn).map(|_| ())
    }
}
