//! The signing secret and the token codec: `<base64url(claim)>.<base64url(HMAC-SHA256
//! tag)>`, keyed by a secret generated into the data directory on first start. The
//! secret lives in its own file (not in sled) so that `dispatch token` works while the
//! engine holds the database lock. The claim formats are in `claim.rs`.

use super::claim::{encode_v1, Claims, Principal};
use super::AuthError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Write;
use std::path::Path;

const SECRET_FILE: &str = "secret.key";
const SECRET_BYTES: usize = 32;

/// Signs and verifies tokens.
#[derive(Clone)]
pub struct Signer {
    /// HMAC-SHA256 with the secret already absorbed (its inner and outer key blocks):
    /// each token costs a clone and its own blocks, not the key's two as well.
    keyed: Hmac<Sha256>,
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
        Ok((Self::from_secret(&secret), created))
    }

    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            keyed: Hmac::<Sha256>::new_from_slice(secret).expect("any key length"),
        }
    }

    fn mac(&self, claim: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(claim);
        mac
    }

    fn sign(&self, claim: &str) -> String {
        let tag = self.mac(claim.as_bytes()).finalize().into_bytes();
        format!("{}.{}", B64.encode(claim.as_bytes()), B64.encode(tag))
    }

    /// A v2 token carrying `claims`.
    pub fn issue(&self, claims: &Claims) -> String {
        self.sign(&claims.encode())
    }

    /// A v1 token (no id, issue time or expiry): what driver registration answers, so
    /// its idempotent repeat answers the same string; and old tokens in tests.
    pub fn issue_v1(&self, who: &Principal) -> String {
        self.sign(&encode_v1(who))
    }

    /// The claims of a token whose tag is valid; `None` for anything else. Expiry and
    /// revocation are the caller's to check (`Auth::verify`). The tag comparison is
    /// constant-time; the claim and tag decode into stack buffers.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let (claim_b64, tag_b64) = token.split_once('.')?;
        let mut claim = [0u8; MAX_CLAIM_BYTES];
        let mut tag = [0u8; 64];
        let claim_len = B64.decode_slice(claim_b64, &mut claim).ok()?;
        let tag_len = B64.decode_slice(tag_b64, &mut tag).ok()?;
        let (claim, tag) = (&claim[..claim_len], &tag[..tag_len]);
        self.mac(claim).verify_slice(tag).ok()?;
        Claims::decode(std::str::from_utf8(claim).ok()?)
    }
}

/// Longest claim accepted (a v2 claim with the longest ids is under 220 bytes).
const MAX_CLAIM_BYTES: usize = 256;

/// Files created through `opts` get mode 0600 (Unix): tokens, the registry and the
/// audit log are for the engine's operator only.
#[cfg(unix)]
pub(super) fn private(opts: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    opts.mode(0o600)
}

#[cfg(not(unix))]
pub(super) fn private(opts: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    opts
}

#[cfg(unix)]
pub(super) fn restrict_permissions(file: &std::fs::File) {
    use std::os::unix::fs::PermissionsExt;
    let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
pub(super) fn restrict_permissions(_file: &std::fs::File) {}

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

    use crate::auth::role::Role;

    fn v2(principal: Principal, expires_ms: Option<u64>) -> Claims {
        Claims {
            id: "tok-1".into(),
            principal,
            issued_ms: 5,
            expires_ms,
        }
    }

    #[test]
    fn issue_verify_and_tamper() {
        let s = Signer::from_secret(b"0123456789abcdef0123");
        let claims = v2(Principal::Driver("d-1".into()), Some(99));
        let t = s.issue(&claims);
        assert_eq!(s.verify(&t), Some(claims));
        let console = v2(Principal::Console(Role::Viewer), None);
        assert_eq!(s.verify(&s.issue(&console)), Some(console));
        let other = Signer::from_secret(b"another secret value");
        assert_eq!(other.verify(&t), None);
        // Raise a viewer to admin: the tag no longer matches.
        let viewer = s.issue(&v2(Principal::Console(Role::Viewer), None));
        let forged = format!(
            "{}.{}",
            B64.encode(v2(Principal::Console(Role::Admin), None).encode()),
            viewer.split_once('.').unwrap().1
        );
        assert_eq!(s.verify(&forged), None);
        let long = format!("{}.{}", B64.encode([b'a'; 300]), B64.encode([0u8; 32]));
        for junk in ["", ".", "abc", "a.b.c", "!!!.???", long.as_str()] {
            assert_eq!(s.verify(junk), None);
        }
    }

    #[test]
    fn v1_tokens_still_verify_with_fixed_ids() {
        let s = Signer::from_secret(b"0123456789abcdef0123");
        let console = s.issue_v1(&Principal::Console(Role::Admin));
        // The exact v1 console token: base64url("console"), then its tag.
        assert!(console.starts_with("Y29uc29sZQ."));
        let c = s.verify(&console).unwrap();
        assert_eq!(
            (c.id.as_str(), c.principal),
            ("legacy-console", Principal::Console(Role::Admin))
        );
        let d = s
            .verify(&s.issue_v1(&Principal::Driver("d-2".into())))
            .unwrap();
        assert_eq!(d.id, "legacy-driver:d-2");
        // Re-point a v1 driver token at another driver: refused.
        let forged = format!(
            "{}.{}",
            B64.encode("driver:d-3"),
            console.split_once('.').unwrap().1
        );
        assert_eq!(s.verify(&forged), None);
    }

    #[test]
    fn secret_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let (a, created) = Signer::load_or_create(dir.path()).unwrap();
        assert!(created);
        let (b, created) = Signer::load_or_create(dir.path()).unwrap();
        assert!(!created);
        let t = a.issue_v1(&Principal::Console(Role::Admin));
        assert!(b.verify(&t).is_some());
        std::fs::write(dir.path().join(SECRET_FILE), "zz").unwrap();
        assert!(Signer::load_or_create(dir.path()).is_err());
    }
}
