//! The data dir and the store in it: `db/` (sled), `store.witness` beside it (what the
//! last flush made durable, see `dispatch_storage`'s integrity module), `secret.key`
//! (`auth`), and `dispatch.pid` (the engine that last opened it). Opening the store
//! with its checks, and the store operations behind `dispatch store`: check, backup
//! (online through the running engine, or offline), restore.
//!
//! A backup directory is itself a data dir (`db/`, `store.witness`, `secret.key`), so
//! `dispatch store check --data-dir BACKUP` verifies it and an engine could serve it.

use anyhow::{bail, Context as _};
use dispatch_storage::{Report, SledOptions, SledStore, Store, StoreError};
use std::path::{Path, PathBuf};

/// The sled database, under the data dir.
pub const DB_DIR: &str = "db";
/// The witness file, outside `db/` so that a deleted `db/` is noticed.
pub const WITNESS_FILE: &str = "store.witness";
/// The signing secret (owned by `auth`); a backup carries it so tokens stay valid.
const SECRET_FILE: &str = "secret.key";
/// Pid of the engine that last opened the store, to name it when a second is refused.
const PID_FILE: &str = "dispatch.pid";

/// sled settings for the store of `data_dir`, with its witness.
pub fn sled_options(data_dir: &Path, cache_mb: u64) -> SledOptions {
    SledOptions {
        cache_capacity_bytes: cache_mb * 1024 * 1024,
        witness: Some(data_dir.join(WITNESS_FILE)),
        ..SledOptions::default()
    }
}

/// Opens and verifies the engine's store. A damaged store or one held by another
/// process is an error that names the data dir and the reason; the engine must not
/// start on it.
pub fn open_store(data_dir: &Path, cache_mb: u64) -> anyhow::Result<SledStore> {
    let opts = sled_options(data_dir, cache_mb);
    match SledStore::open_with(&data_dir.join(DB_DIR), &opts) {
        Ok(store) => {
            let pid = data_dir.join(PID_FILE);
            if let Err(e) = std::fs::write(&pid, format!("{}\n", std::process::id())) {
                tracing::warn!(path = %pid.display(), error = %e, "cannot write the pid file");
            }
            let c = store.report().counts;
            tracing::info!(
                drivers = c.drivers,
                orders = c.orders,
                open_orders = c.open_orders,
                routes = c.routes,
                events = c.events,
                generation = store.report().generation,
                "store verified"
            );
            Ok(store)
        }
        Err(StoreError::Locked { .. }) => bail!(
            "the data dir {} is in use by another engine{}: one engine per data dir",
            data_dir.display(),
            holder(data_dir)
        ),
        Err(e) => Err(e)
            .with_context(|| format!("refusing to start on the data dir {}", data_dir.display())),
    }
}

/// " (pid N)" from the pid file, when there is one.
fn holder(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join(PID_FILE))
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        .map_or_else(String::new, |pid| format!(" (pid {pid})"))
}

/// Verifies the store of `data_dir` offline, writing nothing (`dispatch store check`).
pub fn check(data_dir: &Path) -> anyhow::Result<Report> {
    match SledStore::check(&data_dir.join(DB_DIR), &sled_options(data_dir, 16)) {
        Err(StoreError::Locked { .. }) => bail!(
            "the data dir {} is in use by a running engine{}: stop it first, or check a backup (`dispatch store backup --url`)",
            data_dir.display(),
            holder(data_dir)
        ),
        other => Ok(other?),
    }
}

/// Copies `store` into `out`, a new data dir: one consistent state holding every
/// write acknowledged before the call ([`Store::export`] pauses writers while it reads),
/// then verified like any open, and the signing secret of `data_dir`.
pub fn backup(store: &dyn Store, data_dir: &Path, out: &Path) -> anyhow::Result<Report> {
    empty_dir(out)?;
    let export = store.export().context("copy the store")?;
    let report = SledStore::create_from(&out.join(DB_DIR), &export, &sled_options(out, 16))
        .with_context(|| format!("write the backup into {}", out.display()))?;
    copy_secret(data_dir, out)?;
    Ok(report)
}

/// [`backup`] of a store no engine is running on.
pub fn backup_offline(data_dir: &Path, out: &Path) -> anyhow::Result<Report> {
    let store = match SledStore::open_with(&data_dir.join(DB_DIR), &sled_options(data_dir, 16)) {
        Err(StoreError::Locked { .. }) => bail!(
            "the data dir {} is in use by a running engine: back it up online with `--url URL --token T`",
            data_dir.display()
        ),
        other => other?,
    };
    backup(&store, data_dir, out)
}

/// Restores the backup `from` into `data_dir`, which must hold no store: the backup
/// is verified first (left unchanged), its records written to a new database, which
/// is verified again.
pub fn restore(from: &Path, data_dir: &Path) -> anyhow::Result<Report> {
    let db = data_dir.join(DB_DIR);
    if db.exists() || data_dir.join(WITNESS_FILE).exists() {
        bail!(
            "{} already holds a store: restore into a new data dir, or move {} and {} away",
            data_dir.display(),
            db.display(),
            data_dir.join(WITNESS_FILE).display()
        );
    }
    let (export, _) = SledStore::export_from(&from.join(DB_DIR), &sled_options(from, 16))
        .with_context(|| format!("verify the backup {}", from.display()))?;
    std::fs::create_dir_all(data_dir)?;
    let report = SledStore::create_from(&db, &export, &sled_options(data_dir, 16))?;
    copy_secret(from, data_dir)?;
    Ok(report)
}

/// Creates `dir`, or accepts it if it is empty.
fn empty_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    if std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} is not empty: a backup goes into a new directory",
            dir.display()
        );
    }
    Ok(())
}

/// Copies `from`'s signing secret into `to` unless `to` has one (`fs::copy` keeps the
/// file's owner-only permissions).
fn copy_secret(from: &Path, to: &Path) -> anyhow::Result<()> {
    let (src, dst): (PathBuf, PathBuf) = (from.join(SECRET_FILE), to.join(SECRET_FILE));
    if src.exists() && !dst.exists() {
        std::fs::copy(&src, &dst).with_context(|| format!("copy {}", src.display()))?;
    }
    Ok(())
}
