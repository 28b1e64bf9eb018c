//! Provider tokens kept for the app (`OAUTH_{NAME}_STORE_TOKENS`): sealed at rest, handed out
//! valid, and refreshed by exactly one caller at a time across every instance.
//!
//! - **Sealed**: each token is AES-256-GCM-sealed under a key derived from `TOKEN_KEY`, bound
//!   to its identity and to which token it is (access or refresh), so a database dump alone
//!   reads nothing and a sealed value cannot be moved. The row names the key (`key_id`); keys
//!   in `TOKEN_KEYS_OLD` still open older rows during a rotation.
//! - **One refresh at a time**: a caller that finds the access token expiring within
//!   [`REFRESH_MARGIN_SECS`] takes a short lease on the row (an `UPDATE` that succeeds for one
//!   caller only, on PostgreSQL and SQLite alike, without holding a connection or a lock while
//!   the provider answers). The others wait for the row to change and read the new token.
//! - **Refused refresh**: the row is marked unusable and callers are told to send the person to
//!   `/authorize/{provider}` again. A rotated refresh token is saved in the same statement as
//!   the new access token.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::accounts::ProviderTokens;
use crate::config::TokenKeys;
use crate::db::models::{ProviderTokenRow, RefreshOutcome, now};
use crate::db::{Db, DbError};
use crate::providers::{HttpClient, Provider, ProviderError};
use crate::seal::Sealer;

/// An access token expiring within this is refreshed before it is handed out.
pub(crate) const REFRESH_MARGIN_SECS: i64 = 60;
/// How long one caller may take to refresh before another may try.
const LEASE: Duration = Duration::from_secs(15);
/// How often a caller waiting for another's refresh looks again.
const WAIT_STEP: Duration = Duration::from_millis(50);

/// Seals and opens provider tokens (`TOKEN_KEY`, `TOKEN_KEYS_OLD`).
pub(crate) struct TokenVault {
    current: (String, Sealer),
    old: Vec<(String, Sealer)>,
}

/// A provider access token of the signed-in user: what [`provider_token`] and
/// `GET /api/token/{provider}` hand out. Valid for at least another minute, except while the
/// provider cannot be asked to renew it: then the kept token is given until it expires (see
/// `expires_at`).
#[derive(serde::Serialize)]
#[non_exhaustive]
pub struct ProviderToken {
    /// Send it as `Authorization: Bearer {access_token}` to the provider's API.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// When it expires (Unix seconds), if the provider said.
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for ProviderToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderToken").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// Why [`provider_token`] has no token to give.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderTokenError {
    /// Nobody is signed in (`401`).
    #[error("sign-in required")]
    SignedOut,
    /// Nothing is kept: the provider does not keep tokens (`OAUTH_{NAME}_STORE_TOKENS`), the
    /// user has no identity there, or signed in before it kept them (`404`).
    #[error("no token is kept for this provider")]
    NotKept,
    /// The provider refused to renew the token (access revoked, refresh token expired): send
    /// the person to `authorize_url` to sign in with it again (`409`).
    #[error("the provider must be authorized again")]
    Reauthorize {
        /// `/authorize/{provider}` under gatehouse's path.
        authorize_url: String,
    },
    /// The provider or the database cannot be asked now; try again shortly (`503`).
    #[error("the token cannot be renewed now")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl actix_web::ResponseError for ProviderTokenError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match self {
            ProviderTokenError::SignedOut => StatusCode::UNAUTHORIZED,
            ProviderTokenError::NotKept => StatusCode::NOT_FOUND,
            ProviderTokenError::Reauthorize { .. } => StatusCode::CONFLICT,
            ProviderTokenError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// JSON, never cached: `{"error": "unauthorized" | "no_token" | "reauthorize" (with
    /// `authorize_url`) | "temporarily_unavailable"}`.
    fn error_response(&self) -> actix_web::HttpResponse {
        let body = match self {
            ProviderTokenError::SignedOut => serde_json::json!({"error": "unauthorized"}),
            ProviderTokenError::NotKept => serde_json::json!({"error": "no_token"}),
            ProviderTokenError::Reauthorize { authorize_url } => {
                serde_json::json!({"error": "reauthorize", "authorize_url": authorize_url})
            }
            ProviderTokenError::Unavailable(e) => {
                log::warn!("provider token unavailable: {e}");
                serde_json::json!({"error": "temporarily_unavailable"})
            }
        };
        actix_web::HttpResponse::build(self.status_code())
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(body)
    }
}

/// The signed-in user's access token at `provider` (the name in `OAUTH_PROVIDERS`, whose
/// `OAUTH_{NAME}_STORE_TOKENS` is true), refreshed first when it expires within a minute; with
/// several identities there, the most recently linked one's. The library form of
/// `GET /api/token/{provider}`, for your own handlers on an app [`crate::Gatehouse`] configures;
/// its error is a ready JSON answer (`?` in a handler returns it).
pub async fn provider_token(req: &actix_web::HttpRequest, provider: &str) -> Result<ProviderToken, ProviderTokenError> {
    use actix_web::{FromRequest, web};
    let unavailable = |why: &'static str| ProviderTokenError::Unavailable(why.into());
    let account = match crate::auth::CurrentUser::extract(req).await {
        Ok(crate::auth::CurrentUser(account)) => account,
        Err(crate::error::AppError::Unauthenticated { .. }) => return Err(ProviderTokenError::SignedOut),
        Err(e) => return Err(ProviderTokenError::Unavailable(Box::new(e))),
    };
    let registry =
        req.app_data::<web::Data<crate::providers::Registry>>().ok_or_else(|| unavailable("no providers"))?;
    let (Some(found), Some(vault)) =
        (registry.get(provider).filter(|p| p.settings().store_tokens), req.app_data::<web::Data<TokenVault>>())
    else {
        return Err(ProviderTokenError::NotKept);
    };
    let db = req.app_data::<web::Data<Db>>().ok_or_else(|| unavailable("no database"))?;
    let http = req.app_data::<web::Data<HttpClient>>().ok_or_else(|| unavailable("no HTTP client"))?;
    let identity = account.identities.iter().filter(|i| i.provider == provider).map(|i| i.id).max();
    let identity = identity.ok_or(ProviderTokenError::NotKept)?;
    access_token(db, vault, found.as_ref(), http, identity).await.map_err(|e| match e {
        TokenError::NotKept => ProviderTokenError::NotKept,
        TokenError::Reauthorize => {
            ProviderTokenError::Reauthorize { authorize_url: crate::site::path(&format!("/authorize/{provider}")) }
        }
        TokenError::Provider(e) => ProviderTokenError::Unavailable(Box::new(e)),
        TokenError::Db(e) => ProviderTokenError::Unavailable(Box::new(e)),
    })
}

/// Why no access token can be handed out.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    /// Nothing is kept for this identity (the provider keeps no tokens, or the person signed
    /// in before it did).
    #[error("no token is kept")]
    NotKept,
    /// The provider refused the refresh token, or there is none, or its key is gone: the
    /// person must authorize again.
    #[error("the person must authorize again")]
    Reauthorize,
    /// The provider could not be asked now.
    #[error("the provider cannot refresh the token now: {0}")]
    Provider(ProviderError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl TokenVault {
    pub(crate) fn new(keys: &TokenKeys) -> Self {
        let keyed = |secret: &crate::config::Secret| {
            let id = Sha256::digest([b"gatehouse token key id:", secret.expose().as_bytes()].concat());
            let id: String = id.iter().take(8).map(|b| format!("{b:02x}")).collect();
            (id, Sealer::derive(secret.expose().as_bytes(), b"gatehouse provider tokens v1"))
        };
        TokenVault { current: keyed(&keys.current), old: keys.old.iter().map(keyed).collect() }
    }

    fn seal(&self, identity: i64, which: &str, token: &str) -> Option<String> {
        self.current.1.seal(&format!("{identity}|{which}"), token.as_bytes())
    }

    fn open(&self, key_id: &str, identity: i64, which: &str, sealed: &str) -> Option<String> {
        let sealer = std::iter::once(&self.current).chain(&self.old).find(|(id, _)| id == key_id)?;
        sealer.1.open(&format!("{identity}|{which}"), sealed).and_then(|t| String::from_utf8(t).ok())
    }

    /// The refresh token a kept row holds, if it still opens.
    pub(crate) fn refresh_of(&self, row: &ProviderTokenRow) -> Option<String> {
        self.open(&row.key_id, row.identity_id, "refresh", row.refresh_token.as_deref()?)
    }

    /// The row that keeps `tokens` for `identity`, sealed with the current key.
    pub(crate) fn row(&self, identity: i64, tokens: &ProviderTokens) -> Option<ProviderTokenRow> {
        let refresh = match &tokens.refresh {
            Some(r) => Some(self.seal(identity, "refresh", r)?),
            None => None,
        };
        Some(ProviderTokenRow {
            identity_id: identity,
            key_id: self.current.0.clone(),
            access_token: self.seal(identity, "access", &tokens.access)?,
            refresh_token: refresh,
            expires_at: tokens.expires_at.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(|t| t.naive_utc()),
            unusable: false,
            refreshing_until: None,
            updated_at: now(),
        })
    }
}

/// A valid access token for `identity` at `provider`: the kept one, or a refreshed one when it
/// expires within [`REFRESH_MARGIN_SECS`].
pub(crate) async fn access_token(
    db: &Db,
    vault: &TokenVault,
    provider: &dyn Provider,
    http: &HttpClient,
    identity: i64,
) -> Result<ProviderToken, TokenError> {
    let give_up = std::time::Instant::now() + LEASE + Duration::from_secs(5);
    loop {
        let row = db.run(move |c| ProviderTokenRow::find(c, identity).map_err(DbError::from)).await?;
        let row = row.ok_or(TokenError::NotKept)?;
        if row.unusable {
            return Err(TokenError::Reauthorize);
        }
        let access = vault.open(&row.key_id, identity, "access", &row.access_token).ok_or(TokenError::Reauthorize)?;
        let expires_at = row.expires_at.map(|t| t.and_utc().timestamp());
        let at = now();
        if expires_at.is_none_or(|t| t > at.and_utc().timestamp() + REFRESH_MARGIN_SECS) {
            return Ok(ProviderToken { access_token: access, token_type: "Bearer", expires_at });
        }
        let refresh = row
            .refresh_token
            .as_deref()
            .and_then(|sealed| vault.open(&row.key_id, identity, "refresh", sealed))
            .ok_or(TokenError::Reauthorize)?;
        let (seen, until) = (row.updated_at, at + LEASE);
        // While another caller's lease is live, only look again (no write).
        let leased = row.refreshing_until.is_some_and(|t| t >= at);
        let mine = !leased
            && db
                .run(move |c| ProviderTokenRow::take_lease(c, identity, seen, at, until).map_err(DbError::from))
                .await?;
        if mine {
            let kept = ProviderToken { access_token: access, token_type: "Bearer", expires_at };
            return refresh_now(db, vault, provider, http, identity, (kept, refresh), until).await;
        }
        // Another caller (here or on another instance) is refreshing: wait for its result.
        if std::time::Instant::now() > give_up {
            return Err(TokenError::Provider(ProviderError::Timeout));
        }
        actix_web::rt::time::sleep(WAIT_STEP).await;
    }
}

/// The OAuth error codes that mean the refresh token itself is dead (revoked, expired, rotated
/// away), not that the provider is having a bad moment: RFC 6749's `invalid_grant`, and
/// GitHub's `bad_refresh_token`.
fn refresh_token_is_dead(code: &str) -> bool {
    matches!(code, "invalid_grant" | "bad_refresh_token")
}

/// Asks the provider (this caller holds the lease until `lease`) and saves the outcome, if the
/// lease is still this caller's. The provider gets less time than the lease, so a slow answer
/// cannot outlive it and meet a second refresh with the same refresh token.
async fn refresh_now(
    db: &Db,
    vault: &TokenVault,
    provider: &dyn Provider,
    http: &HttpClient,
    identity: i64,
    kept: (ProviderToken, String),
    lease: chrono::NaiveDateTime,
) -> Result<ProviderToken, TokenError> {
    let (old, refresh) = kept;
    let name = &provider.settings().name;
    let asked =
        actix_web::rt::time::timeout(LEASE - Duration::from_secs(3), provider.renew_tokens(http, &refresh)).await;
    let answer = asked.unwrap_or(Err(ProviderError::Timeout));
    let (saved, refused) = match &answer {
        Ok(tokens) => {
            // Keep the refresh token the provider did not replace.
            let tokens = ProviderTokens { refresh: tokens.refresh.clone().or(Some(refresh.clone())), ..tokens.clone() };
            (vault.row(identity, &tokens), false)
        }
        Err(ProviderError::Rejected(code)) if refresh_token_is_dead(code) => {
            log::warn!("provider={name} refused a refresh token ({code}); the identity must authorize again");
            (None, true)
        }
        Err(e) => {
            log::warn!("provider={name} could not refresh a token: {e}");
            (None, false)
        }
    };
    let finished = db
        .run(move |c| {
            let outcome = match &saved {
                Some(row) => RefreshOutcome::Renewed {
                    key_id: &row.key_id,
                    access_token: &row.access_token,
                    refresh_token: row.refresh_token.as_deref(),
                    expires_at: row.expires_at,
                },
                None if refused => RefreshOutcome::Refused,
                None => RefreshOutcome::Failed,
            };
            ProviderTokenRow::finish_refresh(c, identity, lease, outcome, now()).map_err(DbError::from)
        })
        .await;
    match answer {
        Ok(tokens) => {
            match finished {
                Ok(true) => log::info!("provider={name} refreshed a kept access token"),
                // The token is good whatever happened to the row: hand it out.
                Ok(false) => log::warn!("provider={name}: a refresh outlived its lease; its tokens were not saved"),
                Err(e) => log::error!("provider={name}: a refreshed token could not be saved: {e}"),
            }
            Ok(ProviderToken { access_token: tokens.access, token_type: "Bearer", expires_at: tokens.expires_at })
        }
        Err(_) if refused => Err(TokenError::Reauthorize),
        // The provider could not be asked: the kept token, while it has not expired yet.
        Err(_) if old.expires_at.is_some_and(|t| t > chrono::Utc::now().timestamp()) => Ok(old),
        Err(e) => Err(TokenError::Provider(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn keys(current: &str, old: &[&str]) -> TokenKeys {
        TokenKeys {
            current: Secret::new(current),
            old: old.iter().map(|k| Secret::new(*k)).collect(),
            ephemeral: false,
        }
    }

    #[test]
    fn tokens_open_with_their_key_identity_and_kind_and_survive_a_rotation() {
        let (a, b) = ("a".repeat(32) + &"b".repeat(32), "c".repeat(32) + &"d".repeat(32));
        let before = TokenVault::new(&keys(&a, &[]));
        let tokens = ProviderTokens { access: "at-1".into(), refresh: Some("rt-1".into()), expires_at: Some(1) };
        let row = before.row(7, &tokens).unwrap();
        assert!(!row.access_token.contains("at-1") && !row.refresh_token.clone().unwrap().contains("rt-1"));
        assert_eq!(before.open(&row.key_id, 7, "access", &row.access_token).as_deref(), Some("at-1"));
        assert_eq!(before.open(&row.key_id, 8, "access", &row.access_token), None, "another identity");
        assert_eq!(before.open(&row.key_id, 7, "refresh", &row.access_token), None, "the access token as refresh");

        let rotated = TokenVault::new(&keys(&b, &[&a]));
        assert_eq!(
            rotated.open(&row.key_id, 7, "refresh", row.refresh_token.as_deref().unwrap()).as_deref(),
            Some("rt-1")
        );
        assert_ne!(rotated.row(7, &tokens).unwrap().key_id, row.key_id, "new rows use the new key");
        assert_eq!(TokenVault::new(&keys(&b, &[])).open(&row.key_id, 7, "access", &row.access_token), None);
    }
}
