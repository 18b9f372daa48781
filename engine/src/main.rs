//! `dispatch`: the engine binary. `serve` runs it; `token` issues, lists and revokes
//! tokens; `audit` prints the audit log; `store` checks, backs up and restores the
//! store; `config` prints the default configuration; `roads` builds a road graph;
//! `solve` plans a benchmark instance or one in coordinates (`solve_coords`).

use anyhow::Context;
use clap::{Parser, Subcommand};
use dispatch_engine::auth::cli::TokenCommand;
use dispatch_engine::config::Config;
use dispatch_engine::telemetry::LogFormat;
use std::net::SocketAddr;
use std::path::PathBuf;

mod roads_cli;

/// mimalloc rather than the system allocator: a restart on a large store allocates and
/// frees millions of small blocks (docs/BENCHMARKS.md, "Restart"). The feature
/// `system-alloc` leaves it out, so heap profilers that hook malloc (heaptrack) see the
/// engine's allocations.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "dispatch",
    version,
    about = "Real-time dispatch engine for last-mile delivery"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the engine: HTTP and WebSockets on one listener, sled under the data dir.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080, or the config file's].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Data directory [default: ./data, or the config file's].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// TOML configuration file (see `dispatch config --print-default`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Once listening, write the bound address (`127.0.0.1:PORT`) to this file: with
        /// `--listen 127.0.0.1:0` a supervisor or the simulator learns the port.
        #[arg(long)]
        addr_file: Option<PathBuf>,
        /// Log lines as `text` (colour only on a terminal) or `json` (one object a line).
        #[arg(long, default_value = "text", value_parser = LogFormat::parse)]
        log_format: LogFormat,
    },
    /// Issue, list and revoke tokens: `dispatch token console --name alice --role
    /// viewer --ttl 30d`, `dispatch token driver <ID>`, `dispatch token list`,
    /// `dispatch token revoke <TOKEN ID>`.
    Token {
        #[command(subcommand)]
        cmd: TokenCommand,
    },
    /// Print the audit log's last records (who changed what), one JSON object a line.
    Audit {
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Only the records of this token id.
        #[arg(long)]
        token: Option<String>,
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Solve a Solomon or Li & Lim benchmark file (or every file of a folder with --bench),
    /// or an instance in coordinates (JSON, docs/solve.md) on great-circle or road travel.
    Solve {
        /// Instance file (omit with --bench).
        file: Option<PathBuf>,
        /// Input format: solomon, lilim or coords; guessed from the file when absent
        /// (coords for a .json file or one starting with `{`).
        #[arg(long)]
        format: Option<String>,
        /// Wall-clock budget per instance (of a coordinates instance: of the search, once
        /// the road graph and the matrix are ready).
        #[arg(long, default_value_t = 1000)]
        time_limit_ms: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print exactly one JSON object.
        #[arg(long)]
        json: bool,
        /// Solve every instance in DIR and print a table against bks.csv.
        #[arg(long, value_name = "DIR")]
        bench: Option<PathBuf>,
        /// Travel model of a coordinates instance: haversine (great circle × detour
        /// factor, the default) or roads (needs --roads).
        #[arg(long, value_name = "haversine|roads")]
        travel: Option<String>,
        /// Prepared road graph directory (`dispatch roads build`) for --travel roads.
        #[arg(long, value_name = "DIR")]
        roads: Option<PathBuf>,
    },
    /// Check, back up or restore the store: `dispatch store check|backup|restore`.
    Store {
        #[command(subcommand)]
        cmd: dispatch_engine::store_cli::StoreCommand,
    },
    /// Road network: `dispatch roads build FILE.osm.pbf --out DIR`.
    Roads {
        #[command(subcommand)]
        cmd: roads_cli::RoadsCommand,
    },
    /// Configuration helpers.
    Config {
        /// Print the default configuration as TOML.
        #[arg(long)]
        print_default: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            listen,
            data_dir,
            config,
            addr_file,
            log_format,
        } => {
            dispatch_engine::telemetry::init_logging(log_format);
            serve(listen, data_dir, config, addr_file)
        }
        Command::Token { cmd } => dispatch_engine::auth::cli::run(cmd),
        Command::Audit {
            limit,
            token,
            data_dir,
        } => dispatch_engine::auth::cli::print_audit(&data_dir, limit, token.as_deref()),
        Command::Solve {
            file,
            format,
            time_limit_ms,
            seed,
            json,
            bench,
            travel,
            roads,
        } => {
            let coords = CoordsFlags { travel, roads };
            solve(file, format, time_limit_ms, seed, json, bench, coords)
        }
        Command::Store { cmd } => dispatch_engine::store_cli::run(cmd),
        Command::Roads { cmd } => roads_cli::run(cmd),
        Command::Config { print_default } => {
            if !print_default {
                anyhow::bail!("use `dispatch config --print-default`");
            }
            print!("{}", Config::default().to_toml());
            Ok(())
        }
    }
}

/// `dispatch solve`'s flags for instances in coordinates.
struct CoordsFlags {
    travel: Option<String>,
    roads: Option<PathBuf>,
}

fn solve(
    file: Option<PathBuf>,
    format: Option<String>,
    time_limit_ms: u64,
    seed: u64,
    json: bool,
    bench: Option<PathBuf>,
    coords: CoordsFlags,
) -> anyhow::Result<()> {
    use dispatch_engine::solve_coords;
    use dispatch_plan::solve::{bench_dir, default_bks_csv, solve_file, Format, SolveOptions};
    let opts = SolveOptions {
        time_limit_ms,
        seed,
    };
    let (travel, roads) = (coords.travel.as_deref(), coords.roads.as_deref());
    if let Some(dir) = bench {
        solve_coords::refuse_benchmark_travel(travel, roads, "every --bench instance")?;
        let table = bench_dir(&dir, &default_bks_csv(&dir), &opts)?;
        print!("{}", table.to_markdown());
        return Ok(());
    }
    let file = file.context("give an instance FILE or --bench DIR")?;
    if solve_coords::is_coords(format.as_deref(), &file) {
        let report = solve_coords::solve_file(&file, travel, roads, time_limit_ms, seed)?;
        if json {
            println!("{}", report.to_json());
        } else {
            print!("{}", report.to_text());
        }
        return Ok(());
    }
    solve_coords::refuse_benchmark_travel(travel, roads, &file.display().to_string())?;
    let format = format
        .map(|f| {
            f.parse::<Format>()
                .map_err(|_| anyhow::anyhow!("--format {f:?}: expected solomon, lilim or coords"))
        })
        .transpose()?;
    let report = solve_file(&file, format, &opts)?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

fn serve(
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    config_file: Option<PathBuf>,
    addr_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    // Fail points named in FAILPOINTS (crash tests); none otherwise.
    let _failpoints = fail::FailScenario::setup();
    if let Some(limit) = dispatch_engine::raise_open_file_limit() {
        tracing::info!(limit, "open-file limit");
    }
    let mut config = match &config_file {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(l) = listen {
        config.listen = l;
    }
    if let Some(d) = data_dir {
        config.data_dir = d;
    }
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("dispatch-net")
        .build()?;
    runtime.block_on(async move {
        let listener = dispatch_engine::bind(config.listen, config.limits.tcp_send_buffer_bytes)
            .with_context(|| format!("bind {}", config.listen))?;
        if let Some(path) = addr_file {
            write_addr_file(&path, listener.local_addr()?)?;
        }
        dispatch_engine::run(listener, config, shutdown_signal()).await
    })
}

/// Writes `addr` to `path` through a temporary file renamed into place, so a reader
/// polling for the file never sees it half-written.
fn write_addr_file(path: &std::path::Path, addr: SocketAddr) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{addr}\n"))
        .with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}
