//! Tokens: HMAC-SHA256 over a small claim, keyed by a secret generated into the data
//! directory on first start. The secret lives in its own file (not in sled) so that
//! `dispatch token` works while the engine holds the database lock.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

const SECRET_FILE: &str = "secret.key";
const SECRET_BYTES: usize = 32;

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Reads everything; creates, cancels and reassigns orders; registers drivers.
    Console,
    /// Reports for and reads one driver only.
    Driver(String),
}

#[derive(Debug, Error)]
pub enum AuthError {
    #[error("cannot access the signing secret at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the signing secret at {0} is corrupt")]
    Corrupt(PathBuf),
}

/// Signs and verifies tokens.
#[derive(Clone)]
pub struct Signer {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// Loads the secret from `data_dir`, creating it when absent. Returns whether it was
    /// created now (the server prints the console token once, at first start).
    pub fn load_or_create(data_dir: &Path) -> Result<(Self, bool), AuthError> {
        let path = data_dir.join(SECRET_FILE);
        let io = |source| AuthError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let mut created = false;
        if !path.exists() {
            // Write the secret to a private temporary file, then hard-link it into
            // place: the link either fails because a racing starter won (then both use
            // its secret) or publishes a complete file, so no reader ever sees a
            // partial secret.
            let tmp = data_dir.join(format!(
                ".{SECRET_FILE}.{}.{}",
                std::process::id(),
                rand::random::<u64>()
            ));
            let secret: [u8; SECRET_BYTES] = rand::random();
            let mut file = std::fs::File::create(&tmp).map_err(io)?;
            restrict_permissions(&file);
            file.write_all(hex(&secret).as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            drop(file);
            match std::fs::hard_link(&tmp, &path) {
                Ok(()) => created = true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(io(e));
                }
            }
            let _ = std::fs::remove_file(&tmp);
        }
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let secret = unhex(text.trim()).ok_or_else(|| AuthError::Corrupt(path.clone()))?;
        if secret.len() < 16 {
            return Err(AuthError::Corrupt(path));
        }
        Ok((Self { secret }, created))
    }

    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            secret: secret.to_vec(),
        }
    }

    fn mac(&self, claim: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(claim);
        mac
    }

    pub fn issue(&self, who: &Principal) -> String {
        let claim = match who {
            Principal::Console => "console".to_string(),
            Principal::Driver(id) => format!("driver:{id}"),
        };
        let tag = self.mac(claim.as_bytes()).finalize().into_bytes();
        format!("{}.{}", B64.encode(claim.as_bytes()), B64.encode(tag))
    }

    /// The principal of a valid token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Principal> {
        let (claim_b64, tag_b64) = token.split_once('.')?;
        let claim = B64.decode(claim_b64).ok()?;
        let tag = B64.decode(tag_b64).ok()?;
        self.mac(&claim).verify_slice(&tag).ok()?;
        let claim = String::from_utf8(claim).ok()?;
        if claim == "console" {
            return Some(Principal::Console);
        }
        claim
            .strip_prefix("driver:")
            .map(|id| Principal::Driver(id.to_string()))
    }
}

#[cfg(unix)]
fn restrict_permissions(file: &std::fs::File) {
    use std::os::unix::fs::PermissionsExt;
    let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_file: &std::fs::File) {}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_verify_and_tamper() {
        let s = Signer::from_secret(b"0123456789abcdef0123");
        let t = s.issue(&Principal::Driver("d-1".into()));
        assert_eq!(s.verify(&t), Some(Principal::Driver("d-1".into())));
        assert_eq!(
            s.verify(&s.issue(&Principal::Console)),
            Some(Principal::Console)
        );
        let other = Signer::from_secret(b"another secret value");
        assert_eq!(other.verify(&t), None);
        // Re-point a driver token at another driver: the tag no longer matches.
        let forged = format!(
            "{}.{}",
            B64.encode("driver:d-2"),
            t.split_once('.').unwrap().1
        );
        assert_eq!(s.verify(&forged), None);
        for junk in ["", ".", "abc", "a.b.c", "!!!.???"] {
            assert_eq!(s.verify(junk), None);
        }
    }

    #[test]
    fn secret_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let (a, created) = Signer::load_or_create(dir.path()).unwrap();
        assert!(created);
        let (b, created) = Signer::load_or_create(dir.path()).unwrap();
        assert!(!created);
        let t = a.issue(&Principal::Console);
        assert_eq!(b.verify(&t), Some(Principal::Console));
        std::fs::write(dir.path().join(SECRET_FILE), "zz").unwrap();
        assert!(Signer::load_or_create(dir.path()).is_err());
    }
}
