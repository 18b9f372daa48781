//! The token registry: `<data_dir>/tokens.jsonl`, an append-only log of issues and
//! revocations, one JSON object a line. Both the `dispatch token` CLI and the running
//! engine (admin endpoints, the first-start token) append to it; `O_APPEND` writes of
//! one line each need no lock between the two processes and lose no update, where a
//! rewrite-and-rename would need one. The engine re-reads the file when its length or
//! mtime changes (`Revocations::refresh`, polled every second).
//!
//! Tokens are self-contained (signed claims with their expiry): the registry is what
//! `dispatch token list` shows and the revocation list `Auth::verify` consults. A valid
//! token missing from it (issued before it existed, or v1) is still accepted.

use super::claim::{Claims, Principal};
use super::role::Role;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const TOKENS_FILE: &str = "tokens.jsonl";

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    Issue(Issued),
    Revoke {
        id: String,
        at_ms: u64,
        /// The acting token id, or `cli:<user>`.
        by: String,
    },
}

/// A token as issued (never the token string itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued {
    pub id: String,
    /// Who holds it, for people reading the list (`--name`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_id: Option<String>,
    pub issued_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
    /// The acting token id, or `cli:<user>`.
    pub by: String,
}

impl Issued {
    pub fn new(claims: &Claims, name: &str, by: &str) -> Self {
        let (role, driver_id) = match &claims.principal {
            Principal::Console(r) => (Some(*r), None),
            Principal::Driver(d) => (None, Some(d.clone())),
        };
        Self {
            id: claims.id.clone(),
            name: name.to_string(),
            role,
            driver_id,
            issued_ms: claims.issued_ms,
            expires_ms: claims.expires_ms,
            by: by.to_string(),
        }
    }
}

/// A row of `dispatch token list` / `GET /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    /// `None` for a revoked token never issued through the registry (a v1 token).
    #[serde(flatten)]
    pub issued: Option<Issued>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_ms: Option<u64>,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKENS_FILE)
}

/// Appends one entry as one `write` (mode 0600 when created), durable on return.
/// After a line torn by a crash the entry starts on a new line, so it never merges
/// with the torn one.
pub fn append(data_dir: &Path, entry: &Entry) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let mut file = super::signer::private(std::fs::OpenOptions::new().create(true))
        .read(true)
        .append(true)
        .open(path(data_dir))?;
    let mut line = Vec::with_capacity(256);
    if !ends_with_newline(&file)? {
        line.push(b'\n');
    }
    serde_json::to_writer(&mut line, entry).map_err(std::io::Error::other)?;
    line.push(b'\n');
    file.write_all(&line)?;
    file.sync_data()
}

/// Whether an empty file or its last byte is a newline.
fn ends_with_newline(file: &std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    let mut f = file;
    f.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Every entry of the log, in order; lines that do not parse (a write torn by a crash)
/// are skipped with a warning. No file: no entries.
pub fn read(data_dir: &Path) -> std::io::Result<Vec<Entry>> {
    let text = match std::fs::read_to_string(path(data_dir)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str(l) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(error = %e, "skipping an unreadable line of the token registry");
                None
            }
        })
        .collect())
}

/// The log folded into one row per id, in id order.
pub fn rows(entries: &[Entry]) -> Vec<Row> {
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for e in entries {
        let id = match e {
            Entry::Issue(i) => &i.id,
            Entry::Revoke { id, .. } => id,
        };
        let row = rows.entry(id.clone()).or_insert_with(|| Row {
            id: id.clone(),
            issued: None,
            revoked_ms: None,
        });
        match e {
            Entry::Issue(i) => row.issued = Some(i.clone()),
            Entry::Revoke { at_ms, .. } => {
                row.revoked_ms.get_or_insert(*at_ms);
            }
        }
    }
    rows.into_values().collect()
}

/// The ids revoked in the log.
pub fn revoked(entries: &[Entry]) -> HashSet<String> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Revoke { id, .. } => Some(id.clone()),
            Entry::Issue(_) => None,
        })
        .collect()
}

/// Who acts from the command line: `cli:<user>` ($USER), else `cli`.
pub fn cli_actor() -> String {
    match std::env::var("USER") {
        Ok(u) if !u.is_empty() => format!("cli:{u}"),
        _ => "cli".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(id: &str) -> Issued {
        Issued {
            id: id.into(),
            name: "alice".into(),
            role: Some(Role::Viewer),
            driver_id: None,
            issued_ms: 1,
            expires_ms: Some(2),
            by: "cli".into(),
        }
    }

    #[test]
    fn log_folds_into_rows_and_a_revocation_list() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_empty());
        append(dir.path(), &Entry::Issue(issued("tok-a"))).unwrap();
        append(dir.path(), &Entry::Issue(issued("tok-b"))).unwrap();
        let revoke = |id: &str, at_ms| Entry::Revoke {
            id: id.into(),
            at_ms,
            by: "cli".into(),
        };
        append(dir.path(), &revoke("tok-a", 7)).unwrap();
        append(dir.path(), &revoke("legacy-console", 8)).unwrap();
        append(dir.path(), &revoke("tok-a", 9)).unwrap();
        // A torn last line is skipped.
        std::fs::OpenOptions::new()
            .append(true)
            .open(path(dir.path()))
            .unwrap()
            .write_all(b"{\"op\":\"iss")
            .unwrap();
        append(dir.path(), &revoke("tok-b", 10)).unwrap();
        let entries = read(dir.path()).unwrap();
        assert_eq!(entries.len(), 6);
        let rows = rows(&entries);
        let ids: Vec<_> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["legacy-console", "tok-a", "tok-b"]);
        assert_eq!(rows[0].issued, None);
        assert_eq!(rows[1].revoked_ms, Some(7));
        assert_eq!(rows[2].revoked_ms, Some(10));
        let gone = revoked(&entries);
        assert!(gone.contains("tok-a") && gone.contains("legacy-console"));
        assert!(
            gone.contains("tok-b"),
            "the entry after a torn line survives"
        );
    }
}
