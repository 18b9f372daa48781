//! Tokens and who may do what.
//!
//! # Layout
//! - `claim`: what a token says (id, principal, issue time, expiry); v2 and v1 formats.
//! - `signer`: the signing secret (`<data_dir>/secret.key`) and the token codec.
//! - `role`: console roles and the actions each may take.
//! - `registry`: `<data_dir>/tokens.jsonl`, issued and revoked tokens.
//! - `revocations`: the engine's live copy of the revoked ids.
//! - `audit`: `<data_dir>/audit.jsonl`, who changed what.
//! - `cli`: `dispatch token ...` and `dispatch audit`.

pub mod audit;
pub mod claim;
pub mod cli;
pub mod registry;
pub mod revocations;
pub mod role;
mod signer;

pub use claim::{Claims, Principal};
pub use role::{Action, Role};
pub use signer::Signer;

use revocations::Revocations;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AuthError {
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the signing secret at {0} is corrupt")]
    Corrupt(PathBuf),
}

/// Why a token was refused (the message of the 401 or of the 1008 close).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Invalid,
    Expired,
    Revoked,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Missing => "missing token: send Authorization: Bearer <token> or ?token=",
            Refusal::Invalid => "invalid token",
            Refusal::Expired => "token expired",
            Refusal::Revoked => "token revoked",
        }
    }
}

/// Everything the engine needs to check tokens and record who acted.
pub struct Auth {
    pub signer: Signer,
    pub revocations: Arc<Revocations>,
    pub audit: audit::Audit,
    data_dir: PathBuf,
    /// Tokens whose signature checked out, with their claims: a signature is a pure
    /// function of the token and this engine's secret (which never changes while it
    /// runs), so it is checked once per token; expiry and revocation are checked on
    /// every use all the same. Only valid tokens enter (nobody can mint many without
    /// the secret); emptied when full.
    verified: RwLock<HashMap<Box<str>, Claims>>,
}

/// Verified tokens kept (a console token and thousands of drivers' fit).
const VERIFIED_CACHE: usize = 16_384;

impl Auth {
    /// Loads (or creates) the secret and reads the registry. Returns whether the
    /// secret was created now (a first start).
    pub fn open(data_dir: &Path) -> Result<(Self, bool), AuthError> {
        let (signer, created) = Signer::load_or_create(data_dir)?;
        let revocations =
            Revocations::open(data_dir.to_path_buf()).map_err(|source| AuthError::Io {
                path: registry::path(data_dir),
                source,
            })?;
        let auth = Self {
            signer,
            revocations: Arc::new(revocations),
            audit: audit::Audit::new(data_dir),
            data_dir: data_dir.to_path_buf(),
            verified: RwLock::default(),
        };
        Ok((auth, created))
    }

    /// The claims of a token valid now: signed by this engine's secret, not expired,
    /// not revoked.
    pub fn verify(&self, token: &str) -> Result<Claims, Refusal> {
        self.verify_at(token, crate::time::now_ms())
    }

    pub fn verify_at(&self, token: &str, now_ms: u64) -> Result<Claims, Refusal> {
        let claims = self.signed(token).ok_or(Refusal::Invalid)?;
        if !claims.live_at(now_ms) {
            return Err(Refusal::Expired);
        }
        if self.revocations.is_revoked(&claims.id) {
            return Err(Refusal::Revoked);
        }
        Ok(claims)
    }

    /// The claims of a token whose signature is valid (see `verified`).
    fn signed(&self, token: &str) -> Option<Claims> {
        if let Some(claims) = self
            .verified
            .read()
            .expect("verified tokens lock")
            .get(token)
        {
            return Some(claims.clone());
        }
        let claims = self.signer.verify(token)?;
        let mut verified = self.verified.write().expect("verified tokens lock");
        if verified.len() >= VERIFIED_CACHE {
            verified.clear();
        }
        verified.insert(token.into(), claims.clone());
        Some(claims)
    }

    /// Resolves when a token accepted earlier stops being valid: revoked (checked on
    /// every change of the registry) or expired. Open sockets wait on it.
    pub async fn invalidated(&self, claims: &Claims) -> Refusal {
        // Subscribe before the first check, so a change in between is not missed.
        let mut changes = self.revocations.subscribe();
        let expiry = async {
            match claims.expires_ms {
                Some(at) => {
                    let left = at.saturating_sub(crate::time::now_ms());
                    tokio::time::sleep(std::time::Duration::from_millis(left)).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expiry);
        loop {
            if self.revocations.is_revoked(&claims.id) {
                return Refusal::Revoked;
            }
            tokio::select! {
                _ = &mut expiry => return Refusal::Expired,
                changed = changes.changed() => if changed.is_err() {
                    std::future::pending::<()>().await;
                },
            }
        }
    }

    /// Issues a registered token (see [`issue`]).
    pub fn issue(&self, request: &Request, by: &str) -> std::io::Result<(Claims, String)> {
        issue(&self.data_dir, &self.signer, request, by)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

/// What to issue.
#[derive(Debug, Clone)]
pub struct Request {
    pub principal: Principal,
    /// Who holds it (shown by `dispatch token list`).
    pub name: String,
    /// Lifetime from now; `None`: until revoked.
    pub ttl_ms: Option<u64>,
}

/// Issues a v2 token with a fresh id: recorded in the registry and the audit log
/// (acting as `by`) before the token string is returned.
pub fn issue(
    data_dir: &Path,
    signer: &Signer,
    request: &Request,
    by: &str,
) -> std::io::Result<(Claims, String)> {
    let now = crate::time::now_ms();
    let claims = Claims {
        id: claim::new_id(),
        principal: request.principal.clone(),
        issued_ms: now,
        expires_ms: request.ttl_ms.map(|t| now.saturating_add(t)),
    };
    let entry = registry::Entry::Issue(registry::Issued::new(&claims, &request.name, by));
    registry::append(data_dir, &entry)?;
    audit::append_now(data_dir, &audit::Record::now(by, "token.issue", &claims.id))?;
    let token = signer.issue(&claims);
    Ok((claims, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_token_is_still_refused_once_expired_or_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let (auth, _) = Auth::open(dir.path()).unwrap();
        let request = |ttl_ms| Request {
            principal: Principal::Console(Role::Viewer),
            name: "t".into(),
            ttl_ms,
        };
        let (claims, token) = auth.issue(&request(Some(1_000)), "test").unwrap();
        let now = claims.issued_ms;
        // Verified once (and cached), accepted again from the cache...
        assert_eq!(auth.verify_at(&token, now), Ok(claims.clone()));
        assert_eq!(auth.verify_at(&token, now + 999), Ok(claims.clone()));
        // ...but not past its expiry.
        assert_eq!(auth.verify_at(&token, now + 1_000), Err(Refusal::Expired));
        let (claims, token) = auth.issue(&request(None), "test").unwrap();
        assert_eq!(auth.verify(&token), Ok(claims.clone()));
        auth.revocations.revoke(&claims.id, "test").unwrap();
        assert_eq!(auth.verify(&token), Err(Refusal::Revoked));
        // A tampered token is refused, and never cached.
        let forged = format!("{}x", token);
        assert_eq!(auth.verify(&forged), Err(Refusal::Invalid));
        assert!(!auth.verified.read().unwrap().contains_key(forged.as_str()));
    }
}
