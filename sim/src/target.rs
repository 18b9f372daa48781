//! The engine a tool drives, and the one place the simulator embeds the engine (through
//! its public embedding API): one already running (`--url` + `--token`), one in this
//! process (embedded: a free 127.0.0.1 port, a temporary data dir, the tool's
//! configuration), or, for `run`, a child process (`dispatch serve` beside this binary).
//!
//! Embedded is the default because it needs nothing but this binary. It holds both ends
//! of every driver socket in one process, so a large fleet can exceed the open-file
//! limit (10,000 drivers need about 20,256 descriptors); `run --engine auto` (its
//! default) then starts the engine as its own process, which halves the need per
//! process and lets the run say how much CPU each side used.

use anyhow::{bail, Context};
use dispatch_engine::auth::{Principal, Role};
pub use dispatch_engine::config::Config;
pub use dispatch_engine::raise_open_file_limit;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The engine flags of `orders`, `create`, `storm` and `replay` (which words their
/// help its own way).
#[derive(clap::Args, Debug, Clone)]
pub struct EngineArgs {
    /// A running engine (http://127.0.0.1:8080); without it one runs in-process on a
    /// free 127.0.0.1 port with a temporary data dir.
    #[arg(long)]
    pub url: Option<String>,
    /// Console token for --url.
    #[arg(long, env = "DISPATCH_CONSOLE_TOKEN")]
    pub token: Option<String>,
    /// Embedded engine only: TOML configuration file (as `dispatch serve --config`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Embedded engine only: `dispatch.tick_ms` (the engine's default is 200).
    #[arg(long)]
    pub tick_ms: Option<u64>,
    /// Embedded engine only: `dispatch.candidates`.
    #[arg(long)]
    pub candidates: Option<usize>,
}

impl EngineArgs {
    /// Opens the engine: --url, or in-process with --config, --tick-ms, --candidates.
    pub async fn open(&self) -> anyhow::Result<Target> {
        Target::open(&self.options(), || {
            let mut config = base_config(self.config.as_deref())?;
            if let Some(t) = self.tick_ms {
                config.dispatch.tick_ms = t;
            }
            if let Some(c) = self.candidates {
                config.dispatch.candidates = c;
            }
            Ok(config)
        })
        .await
    }

    /// The flags as `Target::open` takes them (the tool builds the configuration).
    pub fn options(&self) -> Options<'_> {
        Options {
            url: self.url.as_deref(),
            token: self.token.as_deref(),
            refused_with_url: (self.config.is_some()
                || self.tick_ms.is_some()
                || self.candidates.is_some())
            .then_some("--config, --tick-ms and --candidates"),
            launch: None,
        }
    }
}

/// The configuration file given (as `dispatch serve --config`), else the defaults.
pub fn base_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Ok(Config::from_file(path)?),
        None => Ok(Config::default()),
    }
}

/// Where `run` starts the engine when no `--url` is given.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineMode {
    /// In this process when the open-file limit allows it, else as a child process.
    Auto,
    /// In this process.
    Embedded,
    /// As a child process: `dispatch serve` from beside this binary (or --engine-bin).
    Process,
}

/// How to reach or start the engine.
pub struct Options<'a> {
    pub url: Option<&'a str>,
    pub token: Option<&'a str>,
    /// The flags given that only configure an engine this tool starts (refused with --url).
    pub refused_with_url: Option<&'a str>,
    /// Without it the engine is embedded and the open-file limit is not checked.
    pub launch: Option<Launch<'a>>,
}

/// `run`'s choices: a fleet checked against the open-file limit, a child process.
pub struct Launch<'a> {
    pub mode: EngineMode,
    pub engine_bin: Option<&'a Path>,
    /// The child engine's log goes here (`engine.log` in the output dir).
    pub log: &'a Path,
    /// Driver sockets the tool will hold.
    pub sockets: u64,
}

/// Descriptors a process needs beyond its sockets (store files, HTTP client, stdio).
const FD_HEADROOM: u64 = 256;

/// The engine of a run and whatever keeps it alive.
pub struct Target {
    pub base: String,
    pub console: String,
    /// The configuration it runs with, when this tool started it.
    config: Option<Config>,
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

impl Target {
    /// Reaches the engine at `--url`, or starts one with `config()` on a free port and a
    /// temporary data dir.
    pub async fn open(
        o: &Options<'_>,
        config: impl FnOnce() -> anyhow::Result<Config>,
    ) -> anyhow::Result<Self> {
        let limit = o.launch.as_ref().and_then(|_| raise_open_file_limit());
        if let Some(url) = o.url {
            if let Some(flags) = o.refused_with_url {
                bail!("{flags}: only for the engine this tool starts; with --url start the engine with `dispatch serve --config FILE`");
            }
            if let Some(l) = &o.launch {
                check_fds(l.sockets + FD_HEADROOM, limit, "")?;
            }
            let console = o
                .token
                .context("--url needs --token or DISPATCH_CONSOLE_TOKEN")?
                .to_string();
            return Ok(Self {
                base: url.trim_end_matches('/').to_string(),
                console,
                config: None,
                held: Held::External,
            });
        }
        let dir = tempfile::tempdir()?;
        let mut config = config()?;
        config.listen = "127.0.0.1:0".parse()?;
        config.data_dir = dir.path().to_path_buf();
        config.validate()?;
        // Made before the engine starts, so a child engine reads the same secret and an
        // embedded one never prints a first-start token on this tool's stdout.
        let console = dispatch_engine::token(dir.path(), &Principal::Console(Role::Admin))?;
        if let Some(l) = &o.launch {
            if in_child(l, limit)? {
                check_fds(
                    l.sockets + FD_HEADROOM,
                    limit,
                    " (the simulator's end of every socket)",
                )?;
                return spawn_child(l, config, console, dir).await;
            }
        }
        let spawned = dispatch_engine::Spawned::start(config.clone()).await?;
        Ok(Self {
            base: format!("http://{}", spawned.addr),
            console,
            config: Some(config),
            held: Held::Embedded(spawned, dir),
        })
    }

    pub fn ws_base(&self) -> String {
        self.base.replacen("http", "ws", 1)
    }

    /// "embedded", "process" or the engine's URL, for reports.
    pub fn label(&self) -> String {
        match &self.held {
            Held::External => self.base.clone(),
            Held::Embedded(..) => "embedded".into(),
            Held::Child(_) => "process".into(),
        }
    }

    /// Whether this tool reached an engine it did not start (`--url`).
    pub fn is_external(&self) -> bool {
        matches!(self.held, Held::External)
    }

    /// The configuration the engine runs with, when this tool started it.
    pub fn config(&self) -> Option<&Config> {
        self.config.as_ref()
    }

    /// CPU seconds used so far by this process and by the child engine, when there is
    /// one (Linux; `None` elsewhere).
    pub fn cpu_seconds(&self) -> (Option<f64>, Option<f64>) {
        let child = match &self.held {
            Held::Child(c) => cpu_seconds(Some(c.pid)),
            _ => None,
        };
        (cpu_seconds(None), child)
    }

    /// Stops the engine this tool started: embedded gracefully (storage flushed), a
    /// child with SIGKILL (its data dir is temporary and is removed with it).
    pub async fn close(self) -> anyhow::Result<()> {
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

/// Whether `run` starts the engine as a child process: asked to, or `auto` with too few
/// open files for both ends of every socket in one process (checked when embedded).
fn in_child(l: &Launch<'_>, limit: Option<u64>) -> anyhow::Result<bool> {
    let embedded_fds = 2 * l.sockets + FD_HEADROOM;
    let child = match l.mode {
        EngineMode::Auto if limit.is_some_and(|limit| embedded_fds > limit) => {
            eprintln!(
                "note: {} drivers need about {embedded_fds} open files with the engine embedded \
                 (both ends of every socket) but the limit is {}; starting the engine as its own process",
                l.sockets,
                limit.unwrap_or_default()
            );
            true
        }
        EngineMode::Process => true,
        EngineMode::Auto | EngineMode::Embedded => false,
    };
    if !child {
        check_fds(
            embedded_fds,
            limit,
            " (both ends of every socket, engine embedded; --engine process halves it)",
        )?;
    }
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
fn engine_binary(l: &Launch<'_>) -> anyhow::Result<PathBuf> {
    engine_binary_for(l.engine_bin, "the engine as its own process")
}

/// The `dispatch` binary `given`, else the one beside this executable; `needs` names
/// what needs it in the error.
pub fn engine_binary_for(given: Option<&Path>, needs: &str) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let me = std::env::current_exe().context("locate dispatch-sim")?;
    let beside = me.with_file_name(format!("dispatch{}", std::env::consts::EXE_SUFFIX));
    if !beside.is_file() {
        bail!(
            "{needs} needs the `dispatch` binary beside {} (cargo build --release --bin dispatch) or --engine-bin PATH",
            me.display()
        );
    }
    Ok(beside)
}

/// Starts `dispatch serve` on a free port with `config` and waits until it listens.
async fn spawn_child(
    l: &Launch<'_>,
    config: Config,
    console: String,
    dir: tempfile::TempDir,
) -> anyhow::Result<Target> {
    let bin = engine_binary(l)?;
    let config_path = dir.path().join("engine.toml");
    std::fs::write(&config_path, config.to_toml())?;
    let addr_file = dir.path().join("listen.addr");
    if let Some(parent) = l.log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let log = std::fs::File::create(l.log)
        .with_context(|| format!("create the engine log {}", l.log.display()))?;
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
    let addr = listening_addr(&mut process, &addr_file, l.log).await?;
    eprintln!(
        "engine: {} (pid {pid}) on {addr}, log {}",
        bin.display(),
        l.log.display()
    );
    Ok(Target {
        base: format!("http://{addr}"),
        console,
        config: Some(config),
        held: Held::Child(Child {
            process,
            pid,
            _dir: dir,
        }),
    })
}

/// The child engine writes its bound address once listening (renamed into place, so it
/// is never read half-written). Starting takes well under a second; 30 s means broken.
async fn listening_addr(
    process: &mut tokio::process::Child,
    addr_file: &Path,
    log: &Path,
) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(addr_file) {
            return Ok(text.trim().to_string());
        }
        if let Some(status) = process.try_wait()? {
            bail!(
                "the engine process exited ({status}) before listening; its log: {}",
                log.display()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "the engine process did not listen within 30 s; its log: {}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`
/// (Linux; `None` elsewhere). `pid` None reads this process.
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
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
