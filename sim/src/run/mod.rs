//! `dispatch-sim run SCENARIO.toml`: the peak-load simulator. A city of real WebSocket
//! driver bots serving their routes, an order system posting orders along the demand
//! curve, injected disconnect storms, offline spells and cancellations, all in one
//! simulated clock (`speedup` simulated seconds per real second); measured per simulated
//! minute and overall into `report::Report`, checked against the scenario's budgets.
//!
//! Without `--url` the run starts the engine (a free 127.0.0.1 port, a temporary data
//! dir; in-process, or as a child process when the fleet needs more open files than one
//! process may hold: `crate::target`) with its travel model set to the scenario's world:
//! `travel.speed_kmh` = the fleet's speed × speed-up (the engine plans in real time),
//! the fleet's detour factor,
//! a flat hourly profile, the area widened by 2 km as `service_area`, and the engine's human-scale
//! timeouts (disconnect grace, silence, ETA push threshold, unassignable retry,
//! rebalance) divided by the speed-up with floors. With `--url` the engine is used as it
//! is configured; the run prints the matching `[travel]` settings.

mod bots;
mod clock;
mod console;
mod demand;
mod intake;
mod metrics;

use crate::common::{http_client, metrics_text, register_drivers, run_prefix, wait_healthy};
use crate::report::{self, Report};
use crate::scenario::Scenario;
use crate::target::{base_config, Config, EngineMode, Launch, Options, Target};
use anyhow::{bail, Context};
use bots::{Bot, Fleet};
use clock::Clock;
use demand::PlannedDriver;
use metrics::Stats;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario file (see sim/scenarios/).
    scenario: PathBuf,
    /// A running engine (http://127.0.0.1:8080); without it one runs in-process on a
    /// free 127.0.0.1 port with a temporary data dir.
    #[arg(long)]
    url: Option<String>,
    /// Console token for --url.
    #[arg(long, env = "DISPATCH_CONSOLE_TOKEN")]
    token: Option<String>,
    /// Simulated seconds per real second (overrides the scenario's).
    #[arg(long)]
    speedup: Option<f64>,
    /// Seed of orders, injections and driver behaviour (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Fleet size (overrides the scenario's; demand stays as written).
    #[arg(long)]
    drivers: Option<usize>,
    /// Simulated minutes (overrides the scenario's duration_min).
    #[arg(long)]
    minutes: Option<f64>,
    /// Where report.json and report.html go (default ./sim-out/<scenario>-<UTC time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the report as JSON on stdout instead of the summary table.
    #[arg(long)]
    json: bool,
    /// Without --url: run the engine in this process (embedded), as a child process
    /// (`dispatch serve` beside this binary), or embedded unless the open-file limit is
    /// too low for the fleet (auto).
    #[arg(long, value_enum, default_value_t = EngineMode::Auto)]
    engine: EngineMode,
    /// The `dispatch` binary for --engine process (default: beside this executable).
    #[arg(long, env = "DISPATCH_BIN")]
    engine_bin: Option<PathBuf>,
    /// Without --url: a TOML configuration file for the engine this run starts (as
    /// `dispatch serve --config`); the scenario's travel settings and time scaling are
    /// applied on top.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the engine configuration this scenario needs (TOML, for
    /// `dispatch serve --config FILE` before a --url run) and exit.
    #[arg(long)]
    print_engine_config: bool,
}

/// The engine refuses `travel.speed_kmh` above this and hourly factors above
/// `MAX_HOURLY_FACTOR`, so the fastest real-time speed it can plan with is their product.
const ENGINE_MAX_SPEED_KMH: f64 = 300.0;
const MAX_HOURLY_FACTOR: f64 = 10.0;

/// How far beyond the scenario's area the engine still takes positions: orders are
/// placed inside the area, but a driver on its way between two of them may leave it (a
/// road path bends out of a small area; a bot returning home crosses a corner).
const AREA_MARGIN_M: f64 = 2_000.0;

/// The scenario's area (`[min_lon, min_lat, max_lon, max_lat]`) widened by
/// `AREA_MARGIN_M` on every side: the engine's service area.
fn service_area(b: &[f64; 4]) -> [f64; 4] {
    let dlat = AREA_MARGIN_M / 111_195.0;
    let mid = ((b[1] + b[3]) / 2.0).to_radians().cos().max(0.01);
    let dlon = dlat / mid;
    [
        (b[0] - dlon).max(-180.0),
        (b[1] - dlat).max(-90.0),
        (b[2] + dlon).min(180.0),
        (b[3] + dlat).min(90.0),
    ]
}

/// The engine configuration that matches the scenario's world at `speedup`. The engine
/// plans in real time, so it drives `speed_kmh × speedup`; above its 300 km/h limit the
/// rest goes into a flat hourly factor (at most 10).
pub fn engine_config(s: &Scenario, base: Config) -> anyhow::Result<Config> {
    let mut c = base;
    let x = s.speedup;
    let want = s.fleet.speed_kmh * x;
    let (speed, factor) = if want <= ENGINE_MAX_SPEED_KMH {
        (want, 1.0)
    } else {
        (ENGINE_MAX_SPEED_KMH, want / ENGINE_MAX_SPEED_KMH)
    };
    if factor > MAX_HOURLY_FACTOR {
        bail!(
            "speed-up {x} is too high for the engine's travel model: it needs {want:.0} km/h in real time, \
             the engine plans with at most {:.0} km/h (travel.speed_kmh ≤ {ENGINE_MAX_SPEED_KMH} × hourly factor ≤ {MAX_HOURLY_FACTOR}); \
             at {} km/h the highest speed-up is {:.0}",
            ENGINE_MAX_SPEED_KMH * MAX_HOURLY_FACTOR,
            s.fleet.speed_kmh,
            (ENGINE_MAX_SPEED_KMH * MAX_HOURLY_FACTOR / s.fleet.speed_kmh).floor()
        );
    }
    c.travel.speed_kmh = speed;
    c.travel.detour_factor = s.fleet.detour_factor;
    c.travel.hourly_speed_factor = vec![factor; 24];
    c.regions.service_area = Some(service_area(&s.area.bbox));
    let scale = |ms: u64, floor: u64| ((ms as f64 / x).round() as u64).max(floor);
    let d = &mut c.dispatch;
    // The bots' positions come every interval / speed-up; silence must be far longer.
    let position_ms = (s.fleet.position_interval_s * 1000.0 / x).ceil() as u64;
    d.silent_timeout_ms = scale(d.silent_timeout_ms, (position_ms * 10).max(3_000));
    d.disconnect_grace_ms = scale(d.disconnect_grace_ms, 1_000);
    d.unassignable_retry_ms = scale(d.unassignable_retry_ms, 500);
    d.rebalance_ms = if d.rebalance_ms == 0 {
        0
    } else {
        scale(d.rebalance_ms, 2_000)
    };
    d.eta_push_threshold_s = ((d.eta_push_threshold_s as f64 / x).round() as u64).max(1);
    Ok(c)
}

/// `YYYYMMDD-HHMMSS` (UTC) of now, for the default output directory.
fn utc_stamp() -> String {
    let secs = crate::common::now_ms() / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut s = Scenario::read(&args.scenario)?;
    if let Some(x) = args.speedup {
        s.speedup = x;
    }
    if let Some(seed) = args.seed {
        s.seed = seed;
    }
    if let Some(n) = args.drivers {
        s.fleet.size = n;
    }
    if let Some(m) = args.minutes {
        s.duration_min = m;
        // Injections after a shortened end are left out.
        let end = s.duration_s();
        let (before, inj) = (
            s.injections.disconnects.len() + s.injections.offline.len(),
            &mut s.injections,
        );
        let start = crate::scenario::parse_clock(&s.start).unwrap_or(0.0);
        let inside = |at: &str| {
            crate::scenario::parse_clock(at).map_or(true, |t| (0.0..=end).contains(&(t - start)))
        };
        inj.disconnects.retain(|d| inside(&d.at));
        inj.offline.retain(|d| inside(&d.at));
        let dropped = before - inj.disconnects.len() - inj.offline.len();
        if dropped > 0 {
            eprintln!("note: {dropped} injection(s) after the shortened end left out");
        }
    }
    s.validate().with_context(|| {
        format!(
            "scenario {} (with the command-line overrides)",
            args.scenario.display()
        )
    })?;
    if args.print_engine_config {
        let base = base_config(args.config.as_deref())?;
        print!("{}", engine_config(&s, base)?.to_toml());
        return Ok(());
    }
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("sim-out").join(format!("{}-{}", s.name, utc_stamp())));
    let report = simulate(&s, &args, &dir).await?;
    let (json_path, html_path) = report::write(&report, &dir)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report::summary_table(&report));
    }
    eprintln!("wrote {} and {}", json_path.display(), html_path.display());
    let missed: Vec<String> = report
        .budgets
        .iter()
        .filter(|b| !b.passed)
        .map(|b| format!("{} (limit {}, actual {:.2})", b.name, b.limit, b.actual))
        .collect();
    if !missed.is_empty() {
        bail!("budgets missed: {}", missed.join("; "));
    }
    Ok(())
}

/// The engine the scenario runs against (`config` is the configuration it needs). With
/// --url the engine is used as it is configured: print what it should plan with.
async fn open_engine(
    args: &Args,
    s: &Scenario,
    config: &Config,
    log: &Path,
) -> anyhow::Result<Target> {
    let options = Options {
        url: args.url.as_deref(),
        token: args.token.as_deref(),
        refused_with_url: args.config.is_some().then_some("--config"),
        launch: Some(Launch {
            mode: args.engine,
            engine_bin: args.engine_bin.as_deref(),
            log,
            sockets: s.fleet.size as u64,
        }),
    };
    let engine = Target::open(&options, || Ok(config.clone())).await?;
    if engine.is_external() {
        eprintln!(
            "note: the engine at {} should plan in this scenario's time: [travel] speed_kmh = {}, detour_factor = {}, hourly_speed_factor = 24 × {}; [regions] service_area = {:?}",
            engine.base, config.travel.speed_kmh, config.travel.detour_factor, config.travel.hourly_speed_factor[0], config.regions.service_area
        );
    }
    Ok(engine)
}

/// Runs the scenario against the engine and returns the filled report.
async fn simulate(s: &Scenario, args: &Args, out_dir: &Path) -> anyhow::Result<Report> {
    let plan = demand::plan(s, s.seed);
    let config = engine_config(s, base_config(args.config.as_deref())?)?;
    let engine = open_engine(args, s, &config, &out_dir.join("engine.log")).await?;
    let http = http_client(256)?;
    wait_healthy(&http, &engine.base).await?;
    let prefix = run_prefix();
    let tokens = register(s, &engine, &http, &prefix, plan.orders.len()).await?;
    let total_s = s.duration_s() + s.drain_s();
    let minutes = (total_s / 60.0).ceil() as usize + 1;
    let stats = Arc::new(Stats::new(format!("{prefix}o"), plan.orders.len(), minutes));
    let planned = Arc::new(plan.orders);
    let fleet = Fleet::new(s, engine.ws_base(), stats.clone(), planned.clone());
    // The console first, so no order change is missed.
    let console_ws = console::subscribe(&engine.ws_base(), &engine.console, s.area.bbox).await?;
    let (clock_tx, clock_rx) = watch::channel::<Option<Clock>>(None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let bots = start_bots(Arc::new(fleet), &plan.drivers, &tokens, clock_rx, &stop_rx).await;

    // The clock starts.
    let cpu_at_start = engine.cpu_seconds();
    let clock = Clock::start(s.speedup);
    let _ = clock_tx.send(Some(clock));
    let watcher = tokio::spawn(console::watch_orders(
        console_ws,
        (engine.ws_base(), engine.console.clone(), s.area.bbox),
        stats.clone(),
        clock,
        stop_rx.clone(),
    ));
    let progress = tokio::spawn(console::progress(
        stats.clone(),
        clock,
        s.start_s(),
        total_s,
        stop_rx,
    ));
    let intake = Arc::new(intake::Intake {
        http: http.clone(),
        base: engine.base.clone(),
        token: engine.console.clone(),
        stats: stats.clone(),
        planned: planned.clone(),
        clock,
        engine_service_s: (s.fleet.service_s / s.speedup).round() as u32,
        sent: AtomicUsize::new(0),
    });
    let (simulated_s, wall_s) = demand_then_drain(s, intake, clock).await;
    let _ = stop_tx.send(true);
    let _ = progress.await;
    let _ = tokio::time::timeout(Duration::from_secs(10), watcher).await;
    stop_bots(bots).await;
    let metrics = metrics_text(&http, &engine.base).await;
    let cpu = cpu_use(cpu_at_start, engine.cpu_seconds());
    let mut report = Report {
        scenario: s.name.clone(),
        seed: s.seed,
        engine: engine.label(),
        cpu,
        wall_s,
        simulated_s,
        speedup: s.speedup,
        drivers: s.fleet.size as u64,
        ..Report::default()
    };
    metrics::fill(&mut report, &stats, &planned, s.start_s());
    metrics::fill_engine_metrics(&mut report, &stats, &metrics);
    report.budgets = metrics::budgets(&s.budgets, &report);
    report.passed = report.budgets.iter().all(|b| b.passed);
    engine.close().await?;
    Ok(report)
}

/// Registers the fleet's drivers `<prefix>d<i>` and answers their tokens.
async fn register(
    s: &Scenario,
    engine: &Target,
    http: &reqwest::Client,
    prefix: &str,
    orders: usize,
) -> anyhow::Result<Vec<String>> {
    let setup = Instant::now();
    let ids: Vec<String> = (0..s.fleet.size).map(|i| format!("{prefix}d{i}")).collect();
    let console = (engine.base.as_str(), engine.console.as_str());
    let tokens = register_drivers(http, console, &ids, Some(s.fleet.capacity)).await?;
    eprintln!(
        "{}: {} drivers registered in {:.1} s; {orders} orders planned over {} simulated minutes at {}x",
        s.name,
        ids.len(),
        setup.elapsed().as_secs_f64(),
        s.duration_min,
        s.speedup
    );
    Ok(tokens)
}

/// Starts a bot per driver: those on shift at the start connect now (this waits for
/// them), the others at their shift start.
async fn start_bots(
    fleet: Arc<Fleet>,
    drivers: &[PlannedDriver],
    tokens: &[String],
    clock: watch::Receiver<Option<Clock>>,
    stop: &watch::Receiver<bool>,
) -> JoinSet<()> {
    let (ready_tx, mut ready_rx) = mpsc::channel::<bool>(1024);
    let mut bots = JoinSet::new();
    let connect_started = Instant::now();
    for (d, token) in drivers.iter().zip(tokens) {
        let bot = Bot::new(fleet.clone(), token, d);
        bots.spawn(bot.run(clock.clone(), ready_tx.clone(), stop.clone()));
    }
    drop(ready_tx);
    let (mut early, mut early_failed) = (0usize, 0usize);
    while let Some(ok) = ready_rx.recv().await {
        if ok {
            early += 1;
        } else {
            early_failed += 1;
        }
    }
    eprintln!(
        "{early} drivers on shift at the start connected in {:.1} s{}",
        connect_started.elapsed().as_secs_f64(),
        if early_failed > 0 {
            format!(" ({early_failed} failed; they retry)")
        } else {
            String::new()
        }
    );
    bots
}

/// Posts (and cancels) the demand for the simulated duration (bounded: a slipping
/// schedule may take at most a quarter longer in real time), then drains until no
/// order is open or the drain time is over. Answers simulated and wall seconds.
async fn demand_then_drain(s: &Scenario, intake: Arc<intake::Intake>, clock: Clock) -> (f64, f64) {
    let stats = &intake.stats;
    let (gen_stop_tx, gen_stop_rx) = watch::channel(false);
    let posting = tokio::spawn(intake.clone().post_orders(256, gen_stop_rx.clone()));
    let cancelling = tokio::spawn(intake.clone().cancel_orders(gen_stop_rx));
    let demand_deadline = clock.instant_at(s.duration_s())
        + Duration::from_secs_f64(s.duration_s() / s.speedup * 0.25 + 30.0);
    tokio::time::sleep_until(clock.instant_at(s.duration_s())).await;
    if tokio::time::timeout_at(demand_deadline, posting)
        .await
        .is_err()
    {
        eprintln!("order posting did not finish in time; stopping it");
        stats.error("intake_overrun", &clock);
    }
    let drain_end = clock.instant_at(s.duration_s() + s.drain_s());
    loop {
        let open = stats.open_orders(intake.sent.load(Relaxed));
        if open == 0 || tokio::time::Instant::now() >= drain_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let times = (clock.now_s(), clock.wall_s());
    let _ = gen_stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), cancelling).await;
    times
}

/// Waits for the bots to end (15 s at most), then ends the rest.
async fn stop_bots(mut bots: JoinSet<()>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, bots.join_next()).await {}
    bots.abort_all();
}

/// CPU each side used between two readings of `Target::cpu_seconds`.
fn cpu_use(start: (Option<f64>, Option<f64>), end: (Option<f64>, Option<f64>)) -> report::CpuUse {
    report::CpuUse {
        simulator_s: end.0.unwrap_or(0.0) - start.0.unwrap_or(0.0),
        engine_s: end.1.zip(start.1).map(|(end, start)| end - start),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_config_follows_the_scenario_world() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml");
        let s = Scenario::load(&path).unwrap();
        let c = engine_config(&s, Config::default()).unwrap();
        let real_kmh = c.travel.speed_kmh * c.travel.hourly_speed_factor[0];
        assert!((real_kmh - s.fleet.speed_kmh * s.speedup).abs() < 1e-6);
        assert_eq!(c.travel.detour_factor, s.fleet.detour_factor);
        assert!(c
            .travel
            .hourly_speed_factor
            .iter()
            .all(|f| *f == c.travel.hourly_speed_factor[0]));
        let area = c.regions.service_area.unwrap();
        let b = s.area.bbox;
        assert!(area[0] < b[0] && area[1] < b[1] && area[2] > b[2] && area[3] > b[3]);
        assert!((b[1] - area[1] - AREA_MARGIN_M / 111_195.0).abs() < 1e-9);
        assert!(c.dispatch.disconnect_grace_ms >= 1_000);
        assert!(c.dispatch.silent_timeout_ms >= 3_000);
        c.validate().unwrap();
        // Slow enough: no factor.
        let mut slow = s.clone();
        slow.speedup = 4.0;
        let c = engine_config(&slow, Config::default()).unwrap();
        assert_eq!(c.travel.speed_kmh, slow.fleet.speed_kmh * 4.0);
        assert_eq!(c.travel.hourly_speed_factor[0], 1.0);
        // Beyond 3,000 km/h in real time the engine cannot follow.
        let mut fast = s.clone();
        fast.speedup = 3_001.0 / s.fleet.speed_kmh;
        let e = engine_config(&fast, Config::default()).unwrap_err();
        assert!(format!("{e}").contains("too high"), "{e}");
    }

    #[test]
    fn every_shipped_scenario_fits_the_engine() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let s = Scenario::load(&path).unwrap();
            let c = engine_config(&s, Config::default())
                .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            c.validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }

    #[test]
    fn utc_stamp_has_the_shape() {
        let s = utc_stamp();
        assert_eq!(s.len(), 15, "{s}");
        assert_eq!(&s[8..9], "-");
        assert!(s.starts_with("20"));
    }
}
