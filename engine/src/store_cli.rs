//! `dispatch store`: check, back up and restore the store of a data dir (the work is
//! in `data_dir`; this is the command line and the one HTTP call of an online backup).

use crate::data_dir;
use anyhow::{bail, Context as _};
use clap::Subcommand;
use dispatch_storage::Report;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The `store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Verify the store offline (engine stopped): every record decodes, the counts
    /// agree with the manifest and the witness. Exit 0 if sound, 1 if damaged.
    Check {
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Copy the store into a new directory DIR: a consistent state holding every
    /// write acknowledged before the call. With --url the running engine makes the copy
    /// (DIR is on its host); without, the engine must be stopped.
    Backup {
        /// New or empty directory to write the backup into (a data dir of its own).
        #[arg(long)]
        out: PathBuf,
        /// The running engine, e.g. http://127.0.0.1:8080.
        #[arg(long, requires = "token")]
        url: Option<String>,
        /// A console token of that engine.
        #[arg(long)]
        token: Option<String>,
        /// Data dir of a stopped engine (without --url).
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Restore a backup into a data dir that holds no store (engine stopped).
    Restore {
        /// The backup directory (`dispatch store backup --out`).
        #[arg(long)]
        from: PathBuf,
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
}

/// Runs one `store` subcommand; an error means a non-zero exit.
pub fn run(cmd: StoreCommand) -> anyhow::Result<()> {
    match cmd {
        StoreCommand::Check { data_dir } => {
            let report = data_dir::check(&data_dir)?;
            print!("store at {}\n{report}result: ok\n", data_dir.display());
        }
        StoreCommand::Backup {
            out,
            url: Some(url),
            token,
            ..
        } => {
            let out = std::path::absolute(&out)?;
            let answer = post_backup(&url, token.as_deref().unwrap_or_default(), &out)?;
            println!("{answer}");
        }
        StoreCommand::Backup { out, data_dir, .. } => {
            let report = data_dir::backup_offline(&data_dir, &out)?;
            print_done("backup written to", &out, &report);
        }
        StoreCommand::Restore { from, data_dir } => {
            let report = data_dir::restore(&from, &data_dir)?;
            print_done("restored into", &data_dir, &report);
        }
    }
    Ok(())
}

fn print_done(what: &str, dir: &Path, report: &Report) {
    print!("{what} {}\n{report}result: ok\n", dir.display());
}

/// `POST {url}/v1/admin/backup` with `{"out": DIR}`; returns the JSON answer. A plain
/// HTTP/1.1 exchange on a std socket: one request, so no HTTP client dependency.
fn post_backup(url: &str, token: &str, out: &Path) -> anyhow::Result<String> {
    let host = url
        .strip_prefix("http://")
        .context("--url must start with http://")?
        .trim_end_matches('/');
    let body = serde_json::json!({ "out": out }).to_string();
    let mut conn = std::net::TcpStream::connect(host).with_context(|| format!("connect {host}"))?;
    write!(
        conn,
        "POST /v1/admin/backup HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer)?;
    let status = answer.split(' ').nth(1).unwrap_or_default().to_owned();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b).trim();
    if status != "200" {
        bail!("the engine refused the backup ({status}): {body}");
    }
    Ok(body.to_owned())
}
