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

/// A valid access token, as the app gets it.
#[derive(Debug, serde::Serialize)]
pub(crate) struct AccessToken {
    pub access_token: String,
    pub token_type: &'static str,
    /// Unix seconds, when the provider said.
    pub expires_at: Option<i64>,
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
) -> Result<AccessToken, TokenError> {
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
            return Ok(AccessToken { access_token: access, token_type: "Bearer", expires_at });
        }
        let refresh = row
            .refresh_token
            .as_deref()
            .and_then(|sealed| vault.open(&row.key_id, identity, "refresh", sealed))
            .ok_or(TokenError::Reauthorize)?;
        let (seen, until) = (row.updated_at, at + LEASE);
        let mine =
            db.run(move |c| ProviderTokenRow::take_lease(c, identity, seen, at, until).map_err(DbError::from)).await?;
        if mine {
            return refresh_now(db, vault, provider, http, identity, &refresh).await;
        }
        // Another caller (here or on another instance) is refreshing: wait for its result.
        if std::time::Instant::now() > give_up {
            return Err(TokenError::Provider(ProviderError::Timeout));
        }
        actix_web::rt::time::sleep(WAIT_STEP).await;
    }
}

/// Asks the provider (this caller holds the lease) and saves the outcome.
async fn refresh_now(
    db: &Db,
    vault: &TokenVault,
    provider: &dyn Provider,
    http: &HttpClient,
    identity: i64,
    refresh: &str,
) -> Result<AccessToken, TokenError> {
    let name = &provider.settings().name;
    let answer = provider.refresh(http, refresh).await;
    let result = match &answer {
        Ok(tokens) => vault.row(identity, tokens).ok_or(TokenError::Reauthorize),
        Err(ProviderError::Rejected(code)) => {
            log::warn!("provider={name} refused a refresh token ({code}); the identity must authorize again");
            Err(TokenError::Reauthorize)
        }
        Err(e) => {
            log::warn!("provider={name} could not refresh a token: {e}");
            Err(TokenError::Provider(ProviderError::Unavailable("refresh failed".into())))
        }
    };
    let saved = result.as_ref().ok().cloned();
    let refused = matches!(result, Err(TokenError::Reauthorize));
    db.run(move |c| {
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
        ProviderTokenRow::finish_refresh(c, identity, outcome, now()).map_err(DbError::from)
    })
    .await?;
    result?;
    let tokens = answer.map_err(TokenError::Provider)?;
    log::info!("provider={name} refreshed a kept access token");
    Ok(AccessToken { access_token: tokens.access, token_type: "Bearer", expires_at: tokens.expires_at })
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
