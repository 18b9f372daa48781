//! `dispatch token ...` and `dispatch audit`: they work beside a running engine (they
//! touch only the secret, `tokens.jsonl` and `audit.jsonl`, never sled). Tokens are
//! printed on stdout, alone on their line; everything else goes to stderr.

use super::registry::{self, cli_actor, Row};
use super::{audit, Principal, Request, Role, Signer};
use anyhow::Context as _;
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a console token (default: role admin, name "console", no expiry).
    Console {
        /// Who holds it, shown by `dispatch token list`.
        #[arg(long, default_value = "console")]
        name: String,
        /// viewer | intake | dispatcher | admin.
        #[arg(long, default_value = "admin", value_parser = parse_role)]
        role: Role,
        /// Lifetime: 90s, 15m, 12h, 30d; none: until revoked.
        #[arg(long, value_parser = parse_ttl)]
        ttl: Option<u64>,
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Issue a token bound to one driver id.
    Driver {
        driver_id: String,
        /// Who holds it [default: the driver id].
        #[arg(long)]
        name: Option<String>,
        /// Lifetime: 90s, 15m, 12h, 30d; none: until revoked.
        #[arg(long, value_parser = parse_ttl)]
        ttl: Option<u64>,
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
    /// List issued and revoked tokens (ids, never the tokens).
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Revoke a token by id (`legacy-console` for the v1 console token); a running
    /// engine refuses it within a second and closes its sockets with 1008.
    Revoke {
        id: String,
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
}

pub fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Console {
            name,
            role,
            ttl,
            data_dir,
        } => issue_and_print(&data_dir, Principal::Console(role), name, ttl),
        TokenCommand::Driver {
            driver_id,
            name,
            ttl,
            data_dir,
        } => {
            dispatch_protocol::validate_id("driver_id", &driver_id)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let name = name.unwrap_or_else(|| driver_id.clone());
            issue_and_print(&data_dir, Principal::Driver(driver_id), name, ttl)
        }
        TokenCommand::List { json, data_dir } => list(&data_dir, json),
        TokenCommand::Revoke { id, data_dir } => revoke(&data_dir, &id),
    }
}

fn issue_and_print(
    data_dir: &Path,
    principal: Principal,
    name: String,
    ttl_ms: Option<u64>,
) -> anyhow::Result<()> {
    let (signer, _) = Signer::load_or_create(data_dir)?;
    let request = Request {
        principal,
        name,
        ttl_ms,
    };
    let (claims, token) = super::issue(data_dir, &signer, &request, &cli_actor())
        .context("record the token in the registry")?;
    let expires = claims.expires_ms.map_or_else(|| "never".into(), utc);
    eprintln!("issued {} (expires {expires})", claims.id);
    println!("{token}");
    Ok(())
}

fn list(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let rows = registry::rows(&registry::read(data_dir).context("read the token registry")?);
    if json {
        for r in &rows {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(());
    }
    println!(
        "{:<22} {:<16} {:<22} {:<20} {:<20} STATUS",
        "ID", "NAME", "ROLE/DRIVER", "ISSUED", "EXPIRES"
    );
    let now = crate::time::now_ms();
    for r in &rows {
        println!("{}", row_line(r, now));
    }
    Ok(())
}

fn row_line(r: &Row, now: u64) -> String {
    let (name, who, issued, expires) = match &r.issued {
        Some(i) => (
            i.name.clone(),
            match (&i.role, &i.driver_id) {
                (Some(role), _) => role.to_string(),
                (None, Some(d)) => format!("driver {d}"),
                (None, None) => "?".into(),
            },
            utc(i.issued_ms),
            i.expires_ms.map_or_else(|| "never".into(), utc),
        ),
        None => ("-".into(), "-".into(), "-".into(), "-".into()),
    };
    let status = match (&r.revoked_ms, r.issued.as_ref().and_then(|i| i.expires_ms)) {
        (Some(at), _) => format!("revoked {}", utc(*at)),
        (None, Some(exp)) if exp <= now => "expired".into(),
        _ => "active".into(),
    };
    format!(
        "{:<22} {:<16} {:<22} {issued:<20} {expires:<20} {status}",
        r.id, name, who
    )
}

fn revoke(data_dir: &Path, id: &str) -> anyhow::Result<()> {
    let entries = registry::read(data_dir).context("read the token registry")?;
    let known = registry::rows(&entries).iter().any(|r| r.id == id)
        || id == super::claim::LEGACY_CONSOLE_ID
        || id.starts_with(super::claim::LEGACY_DRIVER_PREFIX);
    if !known {
        anyhow::bail!("no token {id:?} in {}", registry::path(data_dir).display());
    }
    let by = cli_actor();
    let entry = registry::Entry::Revoke {
        id: id.to_string(),
        at_ms: crate::time::now_ms(),
        by: by.clone(),
    };
    registry::append(data_dir, &entry).context("append to the token registry")?;
    audit::append_now(data_dir, &audit::Record::now(&by, "token.revoke", id))?;
    eprintln!("revoked {id}");
    Ok(())
}

/// Where a first start leaves its admin token.
pub const INITIAL_TOKEN_FILE: &str = "initial-admin.token";

/// At first start: issues an admin token named `initial-admin` into
/// `<data_dir>/initial-admin.token` (mode 0600) and logs the file's path, never the
/// token: logs are collected and kept, the data dir already holds the secret that signs
/// every token, so the file exposes nothing new.
pub fn write_initial_token(auth: &super::Auth) -> anyhow::Result<()> {
    use std::io::Write as _;
    let request = Request {
        principal: Principal::Console(Role::Admin),
        name: "initial-admin".into(),
        ttl_ms: None,
    };
    let (claims, token) = auth.issue(&request, "engine")?;
    let path = auth.data_dir().join(INITIAL_TOKEN_FILE);
    let mut file = super::signer::private(std::fs::OpenOptions::new().create(true))
        .write(true)
        .truncate(true)
        .open(&path)
        .with_context(|| format!("write {}", path.display()))?;
    writeln!(file, "{token}")?;
    // The contract prints the console token once at first start; on a terminal it is
    // printed (on stdout, not in the logs), redirected output never carries it.
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        println!("console token (also in {}):\n{token}", path.display());
    }
    tracing::info!(
        path = %path.display(),
        token_id = %claims.id,
        "first start: an admin console token was written to this file; `dispatch token console` issues more"
    );
    Ok(())
}

/// `dispatch audit`: the last `limit` records, one JSON object a line.
pub fn print_audit(data_dir: &Path, limit: usize, token_id: Option<&str>) -> anyhow::Result<()> {
    for r in audit::tail(data_dir, limit, token_id).context("read the audit log")? {
        println!("{}", serde_json::to_string(&r)?);
    }
    Ok(())
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "one of viewer, intake, dispatcher, admin".into())
}

/// `90s`, `15m`, `12h`, `30d` → milliseconds.
pub fn parse_ttl(s: &str) -> Result<u64, String> {
    let split = s.len().saturating_sub(1);
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or("a positive number and a unit: 90s, 15m, 12h, 30d")?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err("unit must be s, m, h or d (e.g. 30d)".into()),
    };
    n.checked_mul(unit_ms).ok_or_else(|| "too long".into())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for ms since the Unix epoch (days to civil date: Howard
/// Hinnant's algorithm).
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_and_dates() {
        assert_eq!(parse_ttl("30d"), Ok(30 * 86_400_000));
        assert_eq!(parse_ttl("90s"), Ok(90_000));
        for bad in ["", "d", "0d", "5", "5w", "-1h"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_709_210_096_000), "2024-02-29T12:34:56Z");
    }
}
