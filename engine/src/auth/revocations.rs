//! The engine's view of the registry's revocations: a set read on every request, and
//! a watch channel that open sockets wait on (`Auth::invalidated`). Refreshed from
//! `tokens.jsonl` when its length or mtime changes, so a `dispatch token revoke` run
//! beside the engine takes effect within one poll.

use super::registry::{self, Entry};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;
use tokio::sync::watch;

/// How often the engine looks at the registry file for changes.
pub const POLL: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Revocations {
    data_dir: PathBuf,
    /// Revoked ids; replaced whole on a change, so readers hold the lock briefly.
    revoked: RwLock<Arc<HashSet<String>>>,
    /// (length, mtime) of the file when last read: a change means read it again.
    seen: Mutex<Option<(u64, Option<SystemTime>)>>,
    /// Bumped after every change of `revoked`; sockets re-check their token then.
    changed: watch::Sender<u64>,
}

impl Revocations {
    /// The registry under `data_dir`, read now (an unreadable file is an error: starting
    /// without the revocations would let revoked tokens back in).
    pub fn open(data_dir: PathBuf) -> std::io::Result<Self> {
        let this = Self {
            data_dir,
            revoked: RwLock::default(),
            seen: Mutex::new(None),
            changed: watch::Sender::new(0),
        };
        this.refresh()?;
        Ok(this)
    }

    pub fn is_revoked(&self, id: &str) -> bool {
        self.revoked.read().expect("revocations lock").contains(id)
    }

    /// Re-reads the file if it changed since the last read; returns whether the set
    /// of revoked ids changed. Blocking file I/O: call off the async threads.
    pub fn refresh(&self) -> std::io::Result<bool> {
        let mut seen = self.seen.lock().expect("revocations seen lock");
        let now = match std::fs::metadata(registry::path(&self.data_dir)) {
            Ok(m) => Some((m.len(), m.modified().ok())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if seen.is_some() && *seen == now {
            return Ok(false);
        }
        let entries = registry::read(&self.data_dir)?;
        *seen = now;
        Ok(self.replace(registry::revoked(&entries)))
    }

    fn replace(&self, set: HashSet<String>) -> bool {
        let mut revoked = self.revoked.write().expect("revocations lock");
        if **revoked == set {
            return false;
        }
        *revoked = Arc::new(set);
        drop(revoked);
        self.changed.send_modify(|n| *n += 1);
        true
    }

    /// Revokes `id` now (appends to the registry and applies it at once).
    pub fn revoke(&self, id: &str, by: &str) -> std::io::Result<()> {
        let entry = Entry::Revoke {
            id: id.to_string(),
            at_ms: crate::time::now_ms(),
            by: by.to_string(),
        };
        registry::append(&self.data_dir, &entry)?;
        self.refresh().map(|_| ())
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Polls the file every [`POLL`] until the task is aborted.
    pub fn spawn_poll(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(POLL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let me = this.clone();
                match tokio::task::spawn_blocking(move || me.refresh()).await {
                    Ok(Ok(true)) => tracing::info!("token revocations reloaded"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the token registry"),
                    _ => {}
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_appended_elsewhere_is_seen_on_refresh() {
        let dir = tempfile::tempdir().unwrap();
        let r = Revocations::open(dir.path().to_path_buf()).unwrap();
        let rx = r.subscribe();
        assert!(!r.is_revoked("tok-a"));
        // Another process (the CLI) appends.
        let entry = Entry::Revoke {
            id: "tok-a".into(),
            at_ms: 1,
            by: "cli".into(),
        };
        registry::append(dir.path(), &entry).unwrap();
        assert!(r.refresh().unwrap());
        assert!(r.is_revoked("tok-a"));
        assert!(rx.has_changed().unwrap());
        assert!(!r.refresh().unwrap(), "unchanged file: nothing to do");
        r.revoke("tok-b", "tok-admin").unwrap();
        assert!(r.is_revoked("tok-b"));
    }
}
