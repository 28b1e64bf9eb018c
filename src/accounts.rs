//! The people gatehouse knows: an [`Account`] is a [`User`] with the provider [`Identity`]s
//! linked to them, as [`crate::CurrentUser`] hands it to your handlers.
//!
//! (Inside gatehouse this module is also the only writer of users and identities: a returning
//! user is found by (provider, subject), never by email alone, and every sign-in is one
//! transaction, so a failed one writes nothing.)

mod cache;

pub use crate::db::models::{Identity, User, UserId};
pub use cache::Account;
pub(crate) use cache::AccountCache;

use crate::db::models::{EmailChange, NewIdentity, NewUser, now};
use crate::db::{AnyConnection, DbError, write_tx};

/// What a provider says about the person who just signed in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProviderUser {
    /// The provider's stable id: OIDC `sub`, GitHub's numeric `id`.
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub avatar_url: Option<String>,
    /// The groups the provider says the person is in (`CLAIM_GROUPS`; GitHub: orgs and
    /// `org/team-slug`), refreshed at every sign-in.
    pub groups: Vec<String>,
    /// OpenID Connect: the provider's session this sign-in belongs to, for signing out there.
    pub at_provider: Option<ProviderSession>,
    /// The tokens the provider issued; kept only for `STORE_TOKENS` providers.
    pub tokens: Option<ProviderTokens>,
}

/// An access token with what renews it, as a token endpoint answered. Never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct ProviderTokens {
    pub access: String,
    pub refresh: Option<String>,
    /// When the access token expires (Unix seconds), when the provider said.
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderTokens").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

impl ProviderTokens {
    /// What a token endpoint answered (an OAuth2 or OpenID Connect token response);
    /// `expires_in` counted from now.
    pub(crate) fn from_response(token: &impl oauth2::TokenResponse) -> Self {
        let now = chrono::Utc::now().timestamp();
        ProviderTokens {
            access: token.access_token().secret().clone(),
            refresh: token.refresh_token().map(|r| r.secret().clone()),
            expires_at: token
                .expires_in()
                .map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2))),
        }
    }
}

/// The provider's side of a sign-in (OpenID Connect): the ID token, sent back as
/// `id_token_hint` when the person signs out at the provider too, and its `sid`, which a
/// back-channel logout names. Never printed: the token is a credential.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct ProviderSession {
    pub id_token: String,
    pub sid: Option<String>,
}

impl std::fmt::Debug for ProviderSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSession").field("id_token", &"<redacted>").field("sid", &self.sid).finish()
    }
}

/// The user's email when a provider trusted to verify emails verified it: the only email the
/// access rules, the gate's headers and its assertion go by.
pub fn verified_email(user: &User) -> Option<&str> {
    user.email.as_deref().filter(|_| user.email_verified)
}

/// The most groups kept per identity; more are dropped (after sorting, so the same ones).
const MAX_GROUPS: usize = 200;

/// How a sign-in was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignIn {
    /// Found by (provider, subject).
    Returning(UserId),
    /// A new identity that joined an existing user through a verified, trusted email. ("Linked"
    /// means one thing only: a signed-in user adding an identity from `/profile`.)
    JoinedByEmail(UserId),
    /// A new user.
    Created(UserId),
}

impl SignIn {
    pub fn user_id(self) -> UserId {
        match self {
            SignIn::Returning(id) | SignIn::JoinedByEmail(id) | SignIn::Created(id) => id,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum AccountError {
    /// The email belongs to an account verified through `providers`; this sign-in may not join it.
    #[error("this email belongs to an account that signs in with {providers:?}")]
    EmailTaken { providers: Vec<String> },
    /// Linking: this provider account already belongs to another user (never merged silently).
    #[error("the identity is linked to another user")]
    LinkedElsewhere,
    /// Unlinking the last identity would leave a user who cannot sign in.
    #[error("the last identity cannot be unlinked")]
    LastIdentity,
    /// No such identity for this user.
    #[error("no such identity")]
    NoSuchIdentity,
    /// The access rules do not admit the account this sign-in ends in: nothing was written for a
    /// new user or identity.
    #[error("the access rules do not admit this account")]
    /// With the returning user whose identity this sign-in refreshed anyway (their groups or
    /// email changed, and the account cache must forget them).
    NotAllowed(Option<UserId>),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for AccountError {
    fn from(e: diesel::result::Error) -> Self {
        AccountError::Db(DbError::Query(e))
    }
}

/// The access rules' question at sign-in: may the account it ends in come in?
pub(crate) type Admits<'f> = dyn Fn(&Account) -> bool + Sync + 'f;

/// The provider a sign-in comes through, and which providers may vouch for an email.
pub(crate) struct Provenance<'a> {
    pub provider: &'a str,
    /// The access rules: may the account this sign-in ends in come in? A refusal rolls back a
    /// new user or identity; a returning user's refresh is kept (see [`sign_in`]). `None`: no
    /// rules, everyone comes in.
    pub admits: Option<&'a Admits<'a>>,
    pub trust_email: bool,
    pub is_trusted: &'a (dyn Fn(&str) -> bool + Sync),
    /// `LINK_ACCOUNTS_BY_EMAIL`: when false, a new identity always makes a new user.
    pub link_by_email: bool,
}

/// Finds the user for this provider identity, joins it to one by a trusted email, or creates
/// one, in one transaction.
pub(crate) fn sign_in(
    conn: &mut AnyConnection,
    from: &Provenance<'_>,
    who: &ProviderUser,
) -> Result<SignIn, AccountError> {
    // A refused new user or new identity is rolled back: nothing is written. A refused returning
    // user keeps what this sign-in learnt (left a group, lost an email), committed, so that the
    // gate refuses their other sessions too from the next request on.
    let attempt = |conn: &mut AnyConnection| {
        write_tx(conn, |c| {
            let outcome = resolve(c, from, who)?;
            let Some(admits) = from.admits else { return Ok(Ok(outcome)) };
            let account = Account::load(c, outcome.user_id())?;
            let admitted = account.as_ref().is_some_and(admits);
            match (admitted, outcome) {
                (true, outcome) => Ok(Ok(outcome)),
                (false, SignIn::Returning(user)) => Ok(Err(AccountError::NotAllowed(Some(user)))),
                (false, _) => Err(AccountError::NotAllowed(None)),
            }
        })
        .and_then(|admitted| admitted)
    };
    match attempt(conn) {
        // Two first sign-ins of the same identity raced; the loser now finds the winner's row.
        Err(AccountError::Db(DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )))) => attempt(conn),
        other => other,
    }
}

fn resolve(c: &mut AnyConnection, from: &Provenance<'_>, who: &ProviderUser) -> Result<SignIn, AccountError> {
    let at = now();
    let email = who.email.as_deref();
    let name = display_name(who);
    // Verified for the account only when this provider is trusted to verify emails.
    let verified = who.email_verified && from.trust_email;

    if let Some(identity) = Identity::find_by_subject(c, from.provider, &who.subject)? {
        let user = UserId(identity.user_id);
        Identity::refresh(c, identity.id, email, who.email_verified, &who.groups, at)?;
        let current = User::find(c, user)?;
        let change = account_email(current.as_ref(), email, verified);
        // No name this time (Apple sends it only at the first sign-in): keep the one held.
        User::update_profile(c, user, who.name.as_deref(), change, who.avatar_url.as_deref(), at)?;
        return Ok(SignIn::Returning(user));
    }

    if let Some(email) = email.filter(|e| from.link_by_email && !is_private_relay(e)) {
        let vouched: Vec<Identity> =
            Identity::verified_with_email(c, email)?.into_iter().filter(|i| (from.is_trusted)(&i.provider)).collect();
        if let Some(holder) = vouched.first() {
            if !(who.email_verified && from.trust_email) {
                let mut providers: Vec<String> = vouched.iter().map(|i| i.provider.clone()).collect();
                providers.dedup();
                return Err(AccountError::EmailTaken { providers });
            }
            let user = UserId(holder.user_id);
            insert_identity(c, user, from.provider, who, at)?;
            let change = EmailChange::Set { email, verified: true };
            User::update_profile(c, user, who.name.as_deref(), change, who.avatar_url.as_deref(), at)?;
            return Ok(SignIn::JoinedByEmail(user));
        }
    }

    let user = User::insert(
        c,
        &NewUser {
            name: &name,
            email,
            email_verified: verified && email.is_some(),
            avatar_url: who.avatar_url.as_deref(),
            created_at: at,
            updated_at: at,
        },
    )?;
    insert_identity(c, user, from.provider, who, at)?;
    Ok(SignIn::Created(user))
}

fn insert_identity(
    c: &mut AnyConnection,
    user: UserId,
    provider: &str,
    who: &ProviderUser,
    at: chrono::NaiveDateTime,
) -> Result<(), AccountError> {
    Identity::insert(
        c,
        &NewIdentity {
            user_id: user.0,
            provider,
            subject: &who.subject,
            email: who.email.as_deref(),
            email_verified: who.email_verified,
            created_at: at,
            updated_at: at,
            groups: Identity::groups_json(&who.groups),
        },
    )?;
    Ok(())
}

/// The account email after a sign-in offering `offered`: a verified email always wins; an
/// unverified one never replaces a verified one (else anyone could set their account email to
/// `admin@corp.example` through a provider that checks nothing); no email keeps the old one.
fn account_email<'a>(current: Option<&User>, offered: Option<&'a str>, verified: bool) -> EmailChange<'a> {
    let holds_verified = current.is_some_and(|u| u.email_verified && u.email.is_some());
    match offered {
        None => EmailChange::Keep,
        Some(email) if verified => EmailChange::Set { email, verified: true },
        Some(_) if holds_verified => EmailChange::Keep,
        Some(email) => EmailChange::Set { email, verified: false },
    }
}

/// Apple's Hide My Email addresses: real and verified, but one per person *and app*, made up
/// by Apple. Never a reason to join accounts, whichever provider offers one.
fn is_private_relay(email: &str) -> bool {
    email
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain.trim_end_matches('.').eq_ignore_ascii_case("privaterelay.appleid.com"))
}

/// The provider's name, else the email's local part, else a neutral placeholder.
fn display_name(who: &ProviderUser) -> String {
    who.name
        .clone()
        .or_else(|| who.email.as_deref().and_then(|e| e.split('@').next()).map(str::to_string))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "User".to_string())
}

impl ProviderUser {
    /// Bounds and cleans what a provider sent before it reaches the database: a missing or
    /// oversized subject is no usable identity; odd names, emails and avatar URLs are dropped.
    pub fn sanitised(mut self) -> Option<Self> {
        if self.subject.is_empty() || self.subject.len() > 255 || self.subject.chars().any(char::is_control) {
            return None;
        }
        // Control characters, and the bidi overrides that make text read backwards.
        let unwanted = |c: char| {
            c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        };
        let clean = |s: Option<String>, max: usize| {
            s.map(|v| v.trim().chars().filter(|c| !unwanted(*c)).take(max).collect::<String>())
                .filter(|v| !v.is_empty())
        };
        self.name = clean(self.name, 200);
        // An email is an identifier: one with control characters or whitespace is dropped, not
        // repaired, and so is one beyond the RFC 5321 length.
        self.email = self
            .email
            .filter(|e| e.len() <= 320 && e.contains('@') && !e.chars().any(|c| c.is_control() || c.is_whitespace()));
        if self.email.is_none() {
            self.email_verified = false;
        }
        self.avatar_url = clean(self.avatar_url, 2048)
            .filter(|u| url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "https" | "http")));
        // Bounded, cleaned, without repeats; a group with a control character is dropped.
        let mut groups: Vec<String> = std::mem::take(&mut self.groups)
            .into_iter()
            .map(|g| g.trim().to_string())
            .filter(|g| !g.is_empty() && g.len() <= 200 && !g.chars().any(unwanted))
            .collect();
        groups.sort();
        groups.dedup();
        groups.truncate(MAX_GROUPS);
        self.groups = groups;
        Some(self)
    }
}

/// Whether [`link`] added the identity or found it already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Linked {
    Added,
    AlreadyLinked,
}

/// Links a provider identity to a signed-in user. An identity of another user is refused.
pub(crate) fn link(
    conn: &mut AnyConnection,
    user: UserId,
    provider: &str,
    who: &ProviderUser,
) -> Result<Linked, AccountError> {
    write_tx(conn, |c| {
        let at = now();
        match Identity::find_by_subject(c, provider, &who.subject)? {
            Some(existing) if existing.user_id != user.0 => Err(AccountError::LinkedElsewhere),
            Some(existing) => {
                Identity::refresh(c, existing.id, who.email.as_deref(), who.email_verified, &who.groups, at)?;
                Ok(Linked::AlreadyLinked)
            }
            None => {
                insert_identity(c, user, provider, who, at)?;
                Ok(Linked::Added)
            }
        }
    })
}

/// Removes one of the user's identities, as long as another remains.
pub(crate) fn unlink(conn: &mut AnyConnection, user: UserId, identity_id: i64) -> Result<(), AccountError> {
    write_tx(conn, |c| {
        // Two unlinks of a user's last two identities must not both see two: on PostgreSQL the
        // user's row is locked until commit (SQLite's BEGIN IMMEDIATE already serialises writers).
        lock_user(c, user)?;
        let identities = Identity::for_user(c, user)?;
        if !identities.iter().any(|i| i.id == identity_id) {
            return Err(AccountError::NoSuchIdentity);
        }
        if identities.len() < 2 {
            return Err(AccountError::LastIdentity);
        }
        Identity::delete(c, identity_id)?;
        Ok(())
    })
}

/// Holds the user's row for the rest of the transaction (PostgreSQL; a no-op on SQLite).
fn lock_user(c: &mut AnyConnection, user: UserId) -> Result<(), AccountError> {
    use diesel::RunQueryDsl;
    if let AnyConnection::Postgresql(pg) = c {
        diesel::sql_query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::BigInt, _>(user.0)
            .execute(pg)?;
    }
    Ok(())
}

/// "Sign out everywhere": every session of `user` signed in until `at` is refused from its
/// next request, on every store (see [`crate::auth::attach_identity`]). `false`: no such user.
pub(crate) fn end_sessions(
    conn: &mut AnyConnection,
    user: UserId,
    at: chrono::NaiveDateTime,
) -> Result<bool, AccountError> {
    write_tx(conn, |c| Ok(User::end_sessions(c, user, at)? > 0 || User::find(c, user)?.is_some()))
}

/// Deletes a user with every identity and server-side session, in one transaction.
pub(crate) fn delete_user(conn: &mut AnyConnection, user: UserId) -> Result<(), AccountError> {
    write_tx(conn, |c| {
        // identities and sessions go by ON DELETE CASCADE; SQLite needs foreign_keys=ON,
        // which every pooled connection sets.
        User::delete(c, user)?;
        Ok(())
    })
}
