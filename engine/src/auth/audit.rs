//! The audit log: `<data_dir>/audit.jsonl`, one JSON line per state-changing request
//! (order created or cancelled, driver registered, token issued or revoked) naming the
//! token id that made it — never the token itself. Appended by the engine and by the
//! `dispatch token` CLI (`O_APPEND`, one `write` a line, so the two never interleave
//! inside a line); read back by `dispatch audit` and `GET /v1/audit`.
//!
//! A line is written after the change it records succeeded, and reaches the OS at
//! once; the engine fsyncs the file every few seconds (upkeep) and at shutdown, so a
//! crash may lose the last seconds of audit lines but never records a change that
//! did not happen. When the file passes [`ROTATE_BYTES`] it is renamed to
//! `audit.1.jsonl` (replacing the previous one) and a new one is started.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const AUDIT_FILE: &str = "audit.jsonl";
pub const ROTATED_FILE: &str = "audit.1.jsonl";
/// Size at which the log is rotated (checked at upkeep).
pub const ROTATE_BYTES: u64 = 64 * 1024 * 1024;

/// One audited change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub at_ms: u64,
    /// The acting token's id (`legacy-console` for the v1 console token), or
    /// `cli:<user>` for the command line.
    pub token_id: String,
    /// `order.create`, `order.cancel`, `driver.register`, `token.issue`, `token.revoke`.
    pub action: String,
    /// What it acted on: an order, driver or token id.
    pub target: String,
}

impl Record {
    pub fn now(token_id: &str, action: &str, target: &str) -> Self {
        Self {
            at_ms: crate::time::now_ms(),
            token_id: token_id.to_string(),
            action: action.to_string(),
            target: target.to_string(),
        }
    }
}

/// The engine's appender.
pub struct Audit {
    dir: PathBuf,
    file: Mutex<Option<File>>,
}

impl Audit {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.to_path_buf(),
            file: Mutex::new(None),
        }
    }

    /// Appends `record`; a failure is logged, never failing the change it records
    /// (which has already happened).
    pub fn record(&self, record: &Record) {
        let mut file = self.file.lock().expect("audit lock");
        let result = match file.as_mut() {
            Some(f) => write_line(f, record),
            None => open(&self.dir).and_then(|mut f| {
                write_line(&mut f, record)?;
                *file = Some(f);
                Ok(())
            }),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, action = %record.action, "cannot append to the audit log");
        }
    }

    /// Makes what was appended durable, and rotates a file grown past [`ROTATE_BYTES`].
    /// Blocking: call off the async threads.
    pub fn sync(&self) {
        let mut file = self.file.lock().expect("audit lock");
        let Some(f) = file.as_ref() else { return };
        if let Err(e) = f.sync_data() {
            tracing::warn!(error = %e, "cannot sync the audit log");
        }
        if f.metadata().is_ok_and(|m| m.len() >= ROTATE_BYTES) {
            let from = self.dir.join(AUDIT_FILE);
            match std::fs::rename(&from, self.dir.join(ROTATED_FILE)) {
                Ok(()) => *file = None,
                Err(e) => tracing::warn!(error = %e, "cannot rotate the audit log"),
            }
        }
    }
}

fn open(dir: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(dir)?;
    super::signer::private(std::fs::OpenOptions::new().create(true))
        .append(true)
        .open(dir.join(AUDIT_FILE))
}

fn write_line(f: &mut File, record: &Record) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    f.write_all(&line)
}

/// Appends one record from a short-lived process (the CLI), durable on return.
pub fn append_now(data_dir: &Path, record: &Record) -> std::io::Result<()> {
    let mut f = open(data_dir)?;
    write_line(&mut f, record)?;
    f.sync_data()
}

/// The last `limit` records (oldest first) of the current file, those with
/// `token_id` only when given. Unreadable lines are skipped.
pub fn tail(data_dir: &Path, limit: usize, token_id: Option<&str>) -> std::io::Result<Vec<Record>> {
    let text = match std::fs::read_to_string(data_dir.join(AUDIT_FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut out: Vec<Record> = text
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Record>(l).ok())
        .filter(|r| token_id.is_none_or(|t| r.token_id == t))
        .take(limit)
        .collect();
    out.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_and_cli_lines_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::new(dir.path());
        audit.record(&Record::now("tok-a", "order.create", "o1"));
        append_now(dir.path(), &Record::now("cli:ops", "token.revoke", "tok-b")).unwrap();
        audit.record(&Record::now("tok-a", "order.cancel", "o1"));
        audit.sync();
        let all = tail(dir.path(), 10, None).unwrap();
        let actions: Vec<_> = all.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["order.create", "token.revoke", "order.cancel"]);
        let last = tail(dir.path(), 1, Some("tok-a")).unwrap();
        assert_eq!(last[0].action, "order.cancel");
        assert!(tail(tempfile::tempdir().unwrap().path(), 5, None)
            .unwrap()
            .is_empty());
    }
}
