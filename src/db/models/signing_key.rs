use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::signing_keys;

/// One assertion-signing key: its id, the sealed private key and the public JWK.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub sealed_private_key: String,
    pub public_jwk: String,
    pub created_at: NaiveDateTime,
}

impl SigningKeyRow {
    /// Every key, oldest first (then by id): the order every instance agrees on.
    pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<SigningKeyRow>> {
        signing_keys::table
            .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
            .select(SigningKeyRow::as_select())
            .load(conn)
    }

    pub fn insert(conn: &mut AnyConnection, row: &SigningKeyRow) -> QueryResult<()> {
        diesel::insert_into(signing_keys::table).values(row).execute(conn).map(|_| ())
    }
}
