//! `restart`: how long the engine takes from process start to serving after a crash.
//! Writes a data dir of N orders and M drivers through the storage crate (`populate`),
//! then, run after run, starts `dispatch serve` on it, measures from the spawn to the
//! listener, `/healthz` 200, `/readyz` 200, the first non-empty `nearest`, every sampled
//! driver found by `nearest`, and the first `201` of `POST /v1/orders`, and SIGKILLs
//! it. The first run follows the populate's clean close; every later one a SIGKILL.
//!
//! The default run is small (seconds); the goal's size is
//! `dispatch-sim restart --drivers 50000 --orders 1000000 --open-orders 200000`
//! (10,000 of the open orders pending, 190,000 on 40,000 available drivers' routes).

mod populate;

use crate::common::{http_client, now_ms, order_body};
use anyhow::{bail, Context};
use dispatch_engine::auth::{Principal, Role};
use populate::{Sample, Shape};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Registered drivers (80 % available, 10 % break, 10 % offline).
    #[arg(long, default_value_t = 5_000)]
    drivers: usize,
    /// Stored orders, open and closed.
    #[arg(long, default_value_t = 100_000)]
    orders: usize,
    /// Of those, open ones: spread over the available drivers' routes, but for
    /// `--pending`.
    #[arg(long, default_value_t = 20_000)]
    open_orders: usize,
    /// Of the open orders, pending ones (queued in their pickup region). Default: 5 %
    /// of the open ones.
    #[arg(long)]
    pending: Option<usize>,
    /// Restarts measured (each ends with SIGKILL); 0 only writes the data dir.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Data dir to write (must not hold a store) or, with --reuse, to restart on.
    /// Default: a temporary one, removed at the end.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Restart on the store already in --data-dir (written by an earlier run).
    #[arg(long, requires = "data_dir")]
    reuse: bool,
    /// The `dispatch` binary (default: the one beside this executable).
    #[arg(long)]
    engine_bin: Option<PathBuf>,
    /// Give up on a milestone after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_s: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Seconds from the spawn of `dispatch serve` to each milestone (`None`: not reached,
/// or `/readyz` not served by this engine).
#[derive(Debug, Clone, Default, Serialize)]
struct Run {
    after: &'static str,
    listening_s: Option<f64>,
    healthz_s: Option<f64>,
    readyz_s: Option<f64>,
    nearest_s: Option<f64>,
    nearest_all_s: Option<f64>,
    create_s: Option<f64>,
    /// Answers to `POST /v1/orders` before the first 201, by status.
    create_refusals: u64,
    /// Engine CPU seconds and peak RSS when the last milestone was reached.
    cpu_s: Option<f64>,
    peak_rss_mib: Option<f64>,
    /// From the engine's log (`restart-engine-N.log` in the data dir): sled's open,
    /// the verification scan, and recovery, in ms.
    sled_open_ms: Option<u64>,
    verify_ms: Option<u64>,
    recovery_ms: Option<u64>,
}

#[derive(Serialize)]
struct Report<'a> {
    data: &'a str,
    runs: &'a [Run],
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let temp;
    let dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let sample = if args.reuse {
        populate::read_sample(&dir)?
    } else {
        let shape = Shape {
            drivers: args.drivers,
            orders: args.orders,
            open_orders: args.open_orders,
            pending: args.pending.unwrap_or(args.open_orders / 20),
            seed: args.seed,
        };
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || populate::populate(&dir, shape)).await??
    };
    let console = dispatch_engine::token(&dir, &Principal::Console(Role::Admin))?;
    let bin = engine_binary(args.engine_bin.as_deref())?;
    let sample = Arc::new(sample);
    let mut runs = Vec::new();
    for i in 0..args.runs {
        let after = match (i, args.reuse) {
            (0, false) => "clean close",
            (0, true) => "the data dir as found",
            _ => "SIGKILL",
        };
        let log = dir.join(format!("restart-engine-{}.log", i + 1));
        let mut r = measure(&bin, &dir, &log, &console, &sample, args.timeout_s).await?;
        r.after = after;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        r.sled_open_ms = took_ms(&text, "sled opened");
        r.verify_ms = took_ms(&text, "every record decoded and checked");
        r.recovery_ms = took_ms(&text, "recovered: ready");
        if !args.json {
            print_run(i + 1, &r);
        }
        runs.push(r);
    }
    if args.json {
        let report = Report {
            data: &sample.shape,
            runs: &runs,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("data: {}", sample.shape);
    }
    Ok(())
}

fn print_run(n: usize, r: &Run) {
    let s = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2} s"));
    let ms = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| format!("{v} ms"));
    println!(
        "run {n} (after {}): listening {}, healthz {}, readyz {}, nearest {}, nearest all {}, create {} ({} refused before), engine cpu {}, peak rss {}; engine log: sled open {}, verification {}, recovery {}",
        r.after,
        s(r.listening_s),
        s(r.healthz_s),
        s(r.readyz_s),
        s(r.nearest_s),
        s(r.nearest_all_s),
        s(r.create_s),
        r.create_refusals,
        s(r.cpu_s),
        r.peak_rss_mib
            .map_or_else(|| "-".to_string(), |m| format!("{m:.0} MiB")),
        ms(r.sled_open_ms),
        ms(r.verify_ms),
        ms(r.recovery_ms),
    );
}

/// `took_ms=N` from the engine's log line whose message is `message`.
fn took_ms(log: &str, message: &str) -> Option<u64> {
    let line = log.lines().find(|l| l.contains(message))?;
    let rest = &line[line.find("took_ms=")? + "took_ms=".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The `dispatch` binary: `--engine-bin`, else the one beside this executable.
fn engine_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    crate::target::engine_binary_for(given, "restart")
}

/// One restart: spawn, poll every milestone concurrently, SIGKILL.
async fn measure(
    bin: &Path,
    dir: &Path,
    log: &Path,
    console: &str,
    sample: &Arc<Sample>,
    timeout_s: u64,
) -> anyhow::Result<Run> {
    let addr_file = dir.join("restart.addr");
    let _ = std::fs::remove_file(&addr_file);
    let log = std::fs::File::create(log)?;
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--addr-file"])
        .arg(&addr_file)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("FAILPOINTS")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", bin.display()))?;
    let pid = child.id().context("engine pid")?;
    let deadline = t0 + Duration::from_secs(timeout_s);
    let mut run = Run::default();
    let base = loop {
        if let Ok(text) = std::fs::read_to_string(&addr_file) {
            run.listening_s = Some(t0.elapsed().as_secs_f64());
            break format!("http://{}", text.trim());
        }
        if let Some(status) = child.try_wait()? {
            bail!("the engine exited ({status}) before listening; see its log in the data dir");
        }
        if Instant::now() > deadline {
            bail!("the engine did not listen within {timeout_s} s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let probe = Probe {
        http: http_client(8)?,
        base,
        console: console.to_string(),
        sample: sample.clone(),
        t0,
        deadline,
    };
    let (healthz, readyz, nearest, all, create) = tokio::join!(
        probe.until(|p| p.status_is("/healthz", 200)),
        probe.until(|p| p.readyz()),
        probe.until(|p| p.nearest_any()),
        probe.until(|p| p.nearest_every_sample()),
        probe.create(),
    );
    (run.healthz_s, run.readyz_s) = (healthz, readyz.flatten());
    (run.nearest_s, run.nearest_all_s) = (nearest, all);
    (run.create_s, run.create_refusals) = create;
    run.cpu_s = proc_cpu_s(pid);
    run.peak_rss_mib = proc_peak_rss_mib(pid);
    child.start_kill()?; // SIGKILL
    child.wait().await?;
    Ok(run)
}

/// What each milestone's poll needs.
struct Probe {
    http: reqwest::Client,
    base: String,
    console: String,
    sample: Arc<Sample>,
    t0: Instant,
    deadline: Instant,
}

/// The poll interval of every milestone.
const POLL: Duration = Duration::from_millis(20);

impl Probe {
    /// What `check` first answers (it answers `None` until its milestone is reached);
    /// `None` at the deadline.
    async fn until<'a, F, Fut, T>(&'a self, check: F) -> Option<T>
    where
        F: Fn(&'a Self) -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        while Instant::now() < self.deadline {
            if let Some(v) = check(self).await {
                return Some(v);
            }
            tokio::time::sleep(POLL).await;
        }
        None
    }

    fn since(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    async fn status_is(&self, path: &str, want: u16) -> Option<f64> {
        let r = self.http.get(format!("{}{path}", self.base)).send().await;
        (r.ok()?.status().as_u16() == want).then(|| self.since())
    }

    /// `Some(Some(s))` at 200; `Some(None)` when the engine has no `/readyz` (404).
    async fn readyz(&self) -> Option<Option<f64>> {
        let r = self
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .ok()?;
        match r.status().as_u16() {
            200 => Some(Some(self.since())),
            404 => Some(None),
            _ => None,
        }
    }

    async fn nearest(&self, (lat, lon): (f64, f64), status: &str) -> Option<Vec<String>> {
        let url = format!(
            "{}/v1/drivers/nearest?lat={lat}&lon={lon}&k=1&status={status}",
            self.base
        );
        let r = self
            .http
            .get(url)
            .bearer_auth(&self.console)
            .send()
            .await
            .ok()?;
        if r.status() != 200 {
            return None;
        }
        let body: serde_json::Value = r.json().await.ok()?;
        Some(
            body["drivers"]
                .as_array()?
                .iter()
                .filter_map(|d| d["id"].as_str().map(str::to_owned))
                .collect(),
        )
    }

    /// The first answer of `nearest` (available drivers, at the centre) with a driver.
    async fn nearest_any(&self) -> Option<f64> {
        let found = self.nearest(self.sample.centre, "available").await?;
        (!found.is_empty()).then(|| self.since())
    }

    /// Every sampled driver is the nearest to its own position (status any).
    async fn nearest_every_sample(&self) -> Option<f64> {
        for d in &self.sample.drivers {
            let found = self.nearest((d.lat, d.lon), "any").await?;
            if found.first() != Some(&d.id) {
                return None;
            }
        }
        Some(self.since())
    }

    /// Seconds to the first 201, and how many answers came before it.
    async fn create(&self) -> (Option<f64>, u64) {
        let (lat, lon) = self.sample.centre;
        let trip = ((lat, lon), (lat + 0.01, lon + 0.01));
        let mut refused = 0;
        while Instant::now() < self.deadline {
            let id = format!("restart-{}-{refused}", now_ms());
            let r = self
                .http
                .post(format!("{}/v1/orders", self.base))
                .bearer_auth(&self.console)
                .json(&order_body(&id, trip, None))
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 201 => return (Some(self.since()), refused),
                Ok(_) => refused += 1,
                Err(_) => {}
            }
            tokio::time::sleep(POLL).await;
        }
        (None, refused)
    }
}

/// CPU seconds (user + system) of a process, from `/proc/PID/stat` (Linux).
fn proc_cpu_s(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Peak resident memory of a process (`VmHWM`), MiB (Linux).
fn proc_peak_rss_mib(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::took_ms;

    #[test]
    fn phase_durations_come_from_the_engine_log() {
        let log = "2026-01-01T00:00:00Z  INFO sled opened dir=/x/db took_ms=79\n\
                   2026-01-01T00:00:01Z  INFO recovered: ready drivers=5 took_ms=463\n";
        assert_eq!(took_ms(log, "sled opened"), Some(79));
        assert_eq!(took_ms(log, "recovered: ready"), Some(463));
        assert_eq!(took_ms(log, "every record decoded"), None);
    }
}
