//! The engine a run drives: one already running (`--url`), one in this process
//! (embedded), or one started as a child process (`dispatch serve` beside this binary).
//!
//! Embedded is the default because it needs nothing but this binary. It holds both ends
//! of every driver socket in one process, so a large fleet can exceed the open-file
//! limit (10,000 drivers need about 20,256 descriptors); `--engine auto` (the default)
//! then starts the engine as its own process, which halves the need per process and
//! lets the run say how much CPU each side used.

use crate::scenario::Scenario;
use anyhow::{bail, Context};
use dispatch_engine::auth::Principal;
use dispatch_engine::config::Config;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Where the engine runs when no `--url` is given.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineMode {
    /// In this process when the open-file limit allows it, else as a child process.
    Auto,
    /// In this process.
    Embedded,
    /// As a child process: `dispatch serve` from beside this binary (or --engine-bin).
    Process,
}

/// Descriptors a process needs beyond its sockets (store files, HTTP client, stdio).
const FD_HEADROOM: u64 = 256;

/// The engine of a run and whatever keeps it alive.
pub struct Engine {
    pub base: String,
    pub token: String,
    held: Held,
}

enum Held {
    External,
    Embedded(dispatch_engine::Spawned, tempfile::TempDir),
    Child(Child),
}

struct Child {
    process: tokio::process::Child,
    pid: u32,
    _dir: tempfile::TempDir,
}

/// How to start the engine: the command-line choices that matter here.
pub struct Options<'a> {
    pub url: Option<&'a str>,
    pub token: Option<&'a str>,
    pub config: Option<&'a Path>,
    pub mode: EngineMode,
    pub engine_bin: Option<&'a Path>,
    /// The child engine's log goes here (`engine.log` in the output dir).
    pub log: &'a Path,
}

impl Engine {
    /// "embedded", "process" or the engine's URL, for the report.
    pub fn label(&self) -> String {
        match &self.held {
            Held::External => self.base.clone(),
            Held::Embedded(..) => "embedded".into(),
            Held::Child(_) => "process".into(),
        }
    }

    /// The child engine's process id, when there is one (to read its CPU time).
    pub fn pid(&self) -> Option<u32> {
        match &self.held {
            Held::Child(c) => Some(c.pid),
            _ => None,
        }
    }

    /// Stops the engine this run started: embedded gracefully (storage flushed), a
    /// child with SIGKILL (its data dir is temporary and is removed with it).
    pub async fn stop(self) -> anyhow::Result<()> {
        match self.held {
            Held::External => Ok(()),
            Held::Embedded(spawned, _dir) => spawned.stop().await,
            Held::Child(mut c) => {
                c.process.start_kill()?;
                c.process.wait().await?;
                Ok(())
            }
        }
    }
}

/// Opens the engine for scenario `s` (`config` is the engine configuration it needs)
/// and checks the open-file limit of each process against the fleet.
pub async fn open(o: &Options<'_>, s: &Scenario, config: Config) -> anyhow::Result<Engine> {
    let drivers = s.fleet.size as u64;
    let limit = dispatch_engine::raise_open_file_limit();
    if let Some(url) = o.url {
        if o.config.is_some() {
            bail!("--config configures the engine this run starts; with --url start the engine with `dispatch serve --config FILE`");
        }
        check_fds(drivers + FD_HEADROOM, limit, "")?;
        let token = o
            .token
            .context("--url needs --token or DISPATCH_CONSOLE_TOKEN")?
            .to_string();
        eprintln!(
            "note: the engine at {url} should plan in this scenario's time: [travel] speed_kmh = {}, detour_factor = {}, hourly_speed_factor = 24 × {}; [regions] service_area = {:?}",
            config.travel.speed_kmh, config.travel.detour_factor, config.travel.hourly_speed_factor[0], s.area.bbox
        );
        return Ok(Engine {
            base: url.trim_end_matches('/').to_string(),
            token,
            held: Held::External,
        });
    }
    let embedded_fds = 2 * drivers + FD_HEADROOM;
    let mode = match o.mode {
        EngineMode::Auto if limit.is_some_and(|l| embedded_fds > l) => {
            eprintln!(
                "note: {drivers} drivers need about {embedded_fds} open files with the engine embedded \
                 (both ends of every socket) but the limit is {}; starting the engine as its own process",
                limit.unwrap_or_default()
            );
            EngineMode::Process
        }
        EngineMode::Auto => EngineMode::Embedded,
        m => m,
    };
    let dir = tempfile::tempdir()?;
    let mut config = config;
    config.listen = "127.0.0.1:0".parse()?;
    config.data_dir = dir.path().to_path_buf();
    config.validate()?;
    // Created here, before a child engine reads it, so both agree on the secret.
    let token = dispatch_engine::token(dir.path(), &Principal::Console)?;
    if mode == EngineMode::Embedded {
        check_fds(
            embedded_fds,
            limit,
            " (both ends of every socket, engine embedded; --engine process halves it)",
        )?;
        let spawned = dispatch_engine::Spawned::start(config).await?;
        return Ok(Engine {
            base: format!("http://{}", spawned.addr),
            token,
            held: Held::Embedded(spawned, dir),
        });
    }
    check_fds(
        drivers + FD_HEADROOM,
        limit,
        " (the simulator's end of every socket)",
    )?;
    let child = spawn_child(o, &config, dir).await?;
    Ok(child)
}

fn check_fds(needed: u64, limit: Option<u64>, why: &str) -> anyhow::Result<()> {
    if let Some(limit) = limit {
        if needed > limit {
            bail!(
                "this fleet needs about {needed} open files in this process{why} but the limit is {limit} \
                 (ulimit -Hn caps it); raise it or use --drivers N"
            );
        }
    }
    Ok(())
}

/// The `dispatch` binary: `--engine-bin`, else the one beside this executable (cargo
/// builds both into the same target directory).
fn engine_binary(o: &Options<'_>) -> anyhow::Result<PathBuf> {
    if let Some(p) = o.engine_bin {
        return Ok(p.to_path_buf());
    }
    let me = std::env::current_exe().context("locate dispatch-sim")?;
    let beside = me.with_file_name(format!("dispatch{}", std::env::consts::EXE_SUFFIX));
    if !beside.is_file() {
        bail!(
            "the engine as its own process needs the `dispatch` binary beside {} (cargo build --release --bin dispatch) or --engine-bin PATH",
            me.display()
        );
    }
    Ok(beside)
}

/// Starts `dispatch serve` on a free port with `config` and waits until it answers.
async fn spawn_child(
    o: &Options<'_>,
    config: &Config,
    dir: tempfile::TempDir,
) -> anyhow::Result<Engine> {
    let bin = engine_binary(o)?;
    let config_path = dir.path().join("engine.toml");
    std::fs::write(&config_path, config.to_toml())?;
    let addr_file = dir.path().join("listen.addr");
    if let Some(parent) = o.log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let log = std::fs::File::create(o.log)
        .with_context(|| format!("create the engine log {}", o.log.display()))?;
    let mut process = tokio::process::Command::new(&bin)
        .arg("serve")
        .arg("--config")
        .arg(&config_path)
        .arg("--addr-file")
        .arg(&addr_file)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", bin.display()))?;
    let pid = process.id().context("engine process id")?;
    // The engine writes its bound address once listening (renamed into place, so it is
    // never read half-written). Starting takes well under a second; 30 s means broken.
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        if let Ok(text) = std::fs::read_to_string(&addr_file) {
            break text.trim().to_string();
        }
        if let Some(status) = process.try_wait()? {
            bail!(
                "the engine process exited ({status}) before listening; its log: {}",
                o.log.display()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "the engine process did not listen within 30 s; its log: {}",
                o.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "engine: {} (pid {pid}) on {addr}, log {}",
        bin.display(),
        o.log.display()
    );
    Ok(Engine {
        base: format!("http://{addr}"),
        token: dispatch_engine::token(dir.path(), &Principal::Console)?,
        held: Held::Child(Child {
            process,
            pid,
            _dir: dir,
        }),
    })
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`
/// (Linux; `None` elsewhere). `pid` None reads this process.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name (which may hold spaces); utime and
    // stime are fields 14 and 15, in clock ticks of USER_HZ (100 on Linux).
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_of_this_process_grow_with_work() {
        let before = cpu_seconds(None).expect("/proc/self/stat on Linux");
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = cpu_seconds(None).unwrap();
        // 0.3 s of spinning: at least a tick (0.01 s) more, whatever else the machine does.
        assert!(after > before, "{before} -> {after}");
    }
}
