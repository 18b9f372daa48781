//! `dispatch-sim replay lilim FILE`: reveals a Li & Lim instance's orders over time to
//! the live engine through its public HTTP and WebSocket interfaces and reports the
//! distance the driver bots drove against the instance's best-known static solution:
//! the price of dynamic dispatch.
//!
//! Mapping: 1 instance distance unit = 100 m, 1 time unit = 10 s, so the instance's
//! unit speed is 36 km/h. The engine runs on the wall clock, so at speed-up X it gets a
//! 1 : X scale model of that city (distances divided by X, still 36 km/h): its travel
//! model, its ETAs and the time windows (epoch ms) then agree with the bots, which
//! drive on the same wall clock. Requests are revealed at their pickup's ready time
//! (the usual dynamic PDPTW convention), or all at time 0 with `--static`.

mod bot;
mod fleet;
mod instance;
mod reference;
mod result;
mod reveal;

use crate::common::{
    counter_deltas, http_client, metrics_text, micros_histogram, now_ms, run_prefix, wait_healthy,
    Summary,
};
use crate::target::{base_config, Config, EngineArgs, Target};
use anyhow::bail;
use bot::Shared;
use dispatch_plan::parse::Bks;
use fleet::Fleet;
use instance::{Clock, Instance, World};
use result::{summary, ReplayResult};
use result::{FinalStates, Measured, COUNTERS};
use reveal::Poster;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub source: Source,
}

#[derive(clap::Subcommand, Debug)]
pub enum Source {
    /// Replay a Li & Lim PDPTW instance (e.g. ../shared/data/vrp/li_lim_100/lr101.txt).
    Lilim(LilimArgs),
}

#[derive(clap::Args, Debug, Clone)]
// The engine flags are the other tools'; what they mean for a replay is its own.
#[command(
    mut_arg("url", |a| a.help("A running engine (http://127.0.0.1:8080); without it one runs in-process on a free port with a temporary data dir and the replay's travel configuration")),
    mut_arg("config", |a| a.help("Embedded engine only: base TOML configuration; the replay still sets the travel model, and its metric settings are read in simulated metres and scaled by 1/X")),
    mut_arg("tick_ms", |a| a.help("Embedded engine only: `dispatch.tick_ms`")),
    mut_arg("candidates", |a| a.help("Embedded engine only: `dispatch.candidates` (default: the instance's fleet size)")),
)]
pub struct LilimArgs {
    /// The instance file.
    pub file: PathBuf,
    /// Best-known values (default: bks.csv beside the file's folder, as `dispatch solve
    /// --bench` finds it).
    #[arg(long)]
    pub bks: Option<PathBuf>,
    /// Simulated seconds per wall-clock second. Default: at least 100, so that the
    /// horizon takes about 30 s, preferring values that keep service times whole seconds.
    #[arg(long)]
    pub speedup: Option<f64>,
    /// Reveal every request at time 0 instead of at its pickup's ready time (measures
    /// the engine's batch quality rather than the price of dynamism).
    #[arg(long = "static")]
    pub static_reveal: bool,
    /// With --static: wall-clock seconds before the shift starts (instance time 0) at
    /// which every request is revealed, as orders imported before a shift: the engine
    /// plans while the drivers wait at the depot, and no bot leaves it before time 0.
    /// Default: the embedded engine's planning time for the batch
    /// (`dispatch.batch_window_ms` + `dispatch.reoptimise.batch_budget_ms`), so its
    /// routes land as the shift starts; 0 with --url. With 0 the engine's planning
    /// time delays the fleet (at 100× a second of search is 10 instance time units).
    #[arg(long, requires = "static_reveal")]
    pub lead_s: Option<f64>,
    /// Reveal each request exactly at its pickup's ready time, even when a vehicle
    /// waiting at the depot could then no longer reach it in time (by default such a
    /// request is revealed --reaction-s wall-clock seconds before the last moment it
    /// still could).
    #[arg(long, conflicts_with = "static_reveal")]
    pub strict_ready: bool,
    /// Wall-clock seconds the engine is given to react (batch window, tick, route push)
    /// when a request has to be revealed before its ready time.
    #[arg(long, default_value_t = 0.5)]
    pub reaction_s: f64,
    /// Dynamic replays: after the run, search this many seconds for the reference plan
    /// (the offline planner when no vehicle may set out towards a request before it is
    /// revealed plus the engine's median reaction in this run) and report the gap to
    /// it. 0: no reference.
    #[arg(long, default_value_t = 0.0, conflicts_with = "static_reveal")]
    pub reference_s: f64,
    /// When a bot sets out for its next stop: `now`, as soon as the stop is first on its
    /// route, or `on-time`, at the stop's ETA less the drive: it waits where it is
    /// rather than at the stop (the same start of service), so it is still near its
    /// last stop when new requests come in.
    #[arg(long, value_enum, default_value_t = Depart::Now)]
    pub depart: Depart,
    /// With `--depart on-time`: simulated seconds a bot sets out earlier than the drive
    /// needs (timers and the engine's latency are a few wall-clock milliseconds, i.e. a
    /// fraction of a time unit at 450×).
    #[arg(long, default_value_t = 60.0)]
    pub depart_early_s: f64,
    /// Seed of the bots' position-report phases.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated seconds between position reports (at most 20 per wall-clock second).
    #[arg(long, default_value_t = 10.0)]
    pub position_s: f64,
    /// Driver sockets speak JSON text frames instead of bincode.
    #[arg(long)]
    pub json_frames: bool,
    /// Safety cap on the wall-clock time of the replay itself.
    #[arg(long, default_value_t = 120.0)]
    pub time_limit_s: f64,
    /// Write replay.json into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the result as JSON instead of the human summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Depart {
    Now,
    OnTime,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.source {
        Source::Lilim(a) => {
            let json = a.json;
            let out = a.out.clone();
            let r = replay_lilim(a).await?;
            if let Some(dir) = out {
                std::fs::create_dir_all(&dir)?;
                let path = dir.join("replay.json");
                std::fs::write(&path, serde_json::to_string_pretty(&r)?)?;
                eprintln!("wrote {}", path.display());
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", summary(&r));
            }
            Ok(())
        }
    }
}

/// The embedded engine's configuration: the instance's travel model (no detour, 36 km/h
/// all day), every candidate within reach, and the metric settings scaled to the model.
fn engine_config(a: &LilimArgs, inst: &Instance, world: &World) -> anyhow::Result<Config> {
    let mut c = base_config(a.engine.config.as_deref())?;
    c.travel.detour_factor = 1.0;
    c.travel.speed_kmh = instance::SPEED_KMH;
    c.travel.hourly_speed_factor = vec![1.0; 24];
    c.travel.utc_offset_min = 0;
    let d = &mut c.dispatch;
    d.pin_radius_m = world.engine_metres(d.pin_radius_m);
    d.rebalance_margin_m = world.engine_metres(d.rebalance_margin_m);
    d.reoptimise.commit_radius_m = world.engine_metres(d.reoptimise.commit_radius_m);
    // A margin before windows close is a time of the world (drivers are late by
    // minutes, not by the model's milliseconds): scaled like the model's clock.
    let margin = d.reoptimise.window_margin_ms as f64 / world.speedup;
    d.reoptimise.window_margin_ms = margin.round() as u64;
    // The engine's km and hours are the model's (1/X of the city's): per km, per hour
    // and per late minute weigh X times as much, so plans cost what they would at scale.
    let o = &mut d.objective;
    o.per_km *= world.speedup;
    o.per_hour *= world.speedup;
    o.per_late_minute *= world.speedup;
    // Every driver of the instance is within reach of every pickup.
    let reach = 2.0 * inst.diagonal() * world.metres_per_unit;
    d.candidate_radius_m = world.engine_metres(d.candidate_radius_m).max(reach);
    d.candidates = a
        .engine
        .candidates
        .unwrap_or(inst.vehicles.max(d.candidates));
    if let Some(t) = a.engine.tick_ms {
        d.tick_ms = t;
    }
    c.validate()?;
    Ok(c)
}

/// The engine for the replay: embedded with the replay's configuration, or `--url`.
async fn open_engine(a: &LilimArgs, inst: &Instance, world: &World) -> anyhow::Result<Target> {
    let target = Target::open(&a.engine.options(), || engine_config(a, inst, world)).await?;
    if target.is_external() {
        eprintln!(
            "warning: with --url the engine's own configuration applies; the comparison \
             assumes travel.detour_factor = 1.0, travel.speed_kmh = {}, a flat \
             travel.hourly_speed_factor, dispatch.candidates ≥ {} and \
             dispatch.pin_radius_m ≈ {:.3} (150 m / {})",
            instance::SPEED_KMH,
            inst.vehicles,
            world.engine_metres(150.0),
            world.speedup
        );
    }
    Ok(target)
}

/// With `--static`, how long before the shift starts the requests are revealed (see
/// [`LilimArgs::lead_s`]): from the configuration of an engine this tool started, 0
/// for one at `--url`.
fn static_lead_s(a: &LilimArgs, inst: &Instance, engine: &Target) -> f64 {
    if let Some(s) = a.lead_s {
        return s;
    }
    let Some(d) = engine.config().map(|c| &c.dispatch) else {
        return 0.0;
    };
    let search = if inst.requests.len() >= d.reoptimise.batch_min_orders {
        d.reoptimise.batch_budget_ms
    } else {
        0
    };
    (d.batch_window_ms + search) as f64 / 1000.0
}

/// What the replay knows before the engine runs.
pub struct Setup {
    pub inst: Arc<Instance>,
    pub world: World,
    /// `--static`: wall-clock seconds before time 0 the requests are revealed.
    pub lead_s: f64,
    pub bks: Option<Bks>,
    pub service_rounded: bool,
}

pub async fn replay_lilim(a: LilimArgs) -> anyhow::Result<ReplayResult> {
    let wall_start = Instant::now();
    let inst = Arc::new(Instance::load(&a.file)?);
    let bks_csv = a.bks.clone().unwrap_or_else(|| {
        let dir = a.file.parent().unwrap_or(Path::new("."));
        dispatch_plan::solve::default_bks_csv(dir)
    });
    let bks = match inst.bks(&bks_csv) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("warning: no best-known value: {e}");
            None
        }
    };
    let services = inst.service_times();
    let speedup = match a.speedup {
        Some(x) if x.is_finite() && x > 0.0 => x,
        Some(x) => bail!("--speedup must be positive, got {x}"),
        None => instance::auto_speedup(inst.horizon, &services),
    };
    if !(a.position_s > 0.0 && a.time_limit_s > 0.0) {
        bail!("--position-s and --time-limit-s must be positive");
    }
    let world = World::new(speedup, inst.centre());
    let service_rounded = services
        .iter()
        .any(|&s| (f64::from(world.service_s(s)) - s * world.ms_per_unit / 1000.0).abs() > 1e-9);
    let mut notes = vec![
        format!(
            "1 unit = {} m and 1 time unit = {} s simulated ({} km/h); the engine sees a 1:{} scale model ({:.4} m per unit, {:.2} ms per time unit)",
            instance::METRES_PER_UNIT,
            instance::SECONDS_PER_UNIT,
            instance::SPEED_KMH,
            speedup,
            world.metres_per_unit,
            world.ms_per_unit
        ),
        "distance = driven + a straight return to the depot from each used vehicle's last stop (the engine plans open routes)".to_string(),
    ];
    if service_rounded {
        notes.push(format!(
            "service times rounded to whole wall-clock seconds at {speedup}x: {:?} units → {:?} s",
            services,
            services
                .iter()
                .map(|&s| world.service_s(s))
                .collect::<Vec<_>>()
        ));
    }
    let engine = open_engine(&a, &inst, &world).await?;
    let setup = Setup {
        lead_s: static_lead_s(&a, &inst, &engine),
        inst,
        world,
        bks,
        service_rounded,
    };
    let result = drive(&a, &setup, &engine, notes)
        .await
        .and_then(|m| ReplayResult::new(&a, &setup, &engine, m));
    let closed = engine.close().await;
    let mut r = result?;
    closed?;
    if a.reference_s > 0.0 {
        add_reference(&a, &setup, &mut r).await?;
    }
    r.wall_s = wall_start.elapsed().as_secs_f64();
    Ok(r)
}

/// Searches the reference plan of a dynamic replay (after the run: it takes both
/// cores) and the replay's gap to it.
async fn add_reference(a: &LilimArgs, setup: &Setup, r: &mut ReplayResult) -> anyhow::Result<()> {
    let (inst, world) = (setup.inst.clone(), setup.world);
    let margin = world.units(Duration::from_secs_f64(a.reaction_s.max(0.0)));
    let schedule = reveal::schedule(a, &inst, margin, 0.0);
    let reaction = world.units(Duration::from_secs_f64(r.revealed_to_route.p50_ms / 1000.0));
    let budget = Duration::from_secs_f64(a.reference_s);
    let seed = a.seed;
    let found = tokio::task::spawn_blocking(move || {
        reference::causal(&inst, &schedule, reaction, budget, seed)
    })
    .await?;
    match &found {
        Ok(x) => {
            r.gap_to_reference_pct = (r.not_delivered == 0 && x.unserved == 0)
                .then(|| (r.distance / x.distance - 1.0) * 100.0);
        }
        Err(v) => r
            .notes
            .push(format!("no reference plan: the checker refused it ({v})")),
    }
    r.reference = found.ok();
    Ok(())
}

/// The replay itself: the fleet online at the depot, the clock started, the requests
/// revealed until the end, then what the engine and the bots say.
async fn drive(
    a: &LilimArgs,
    setup: &Setup,
    engine: &Target,
    mut notes: Vec<String>,
) -> anyhow::Result<Measured> {
    let (inst, world) = (&setup.inst, setup.world);
    let http = http_client(64)?;
    wait_healthy(&http, &engine.base).await?;
    let prefix = run_prefix();
    let order_ids: Arc<Vec<String>> = Arc::new(
        inst.requests
            .iter()
            .map(|r| format!("{prefix}{}-p{}", inst.name, r.pickup))
            .collect(),
    );
    let position_every = world
        .wall(a.position_s / instance::SECONDS_PER_UNIT)
        .max(Duration::from_millis(50));
    let mut shared = Shared::new(inst.clone(), world, &order_ids, position_every);
    shared.depart = a.depart;
    shared.depart_early = world.wall(a.depart_early_s.max(0.0) / instance::SECONDS_PER_UNIT);
    let shared = Arc::new(shared);
    let fleet = Fleet::start(a, &shared, engine, &http, &prefix).await?;

    let metrics_before = metrics_text(&http, &engine.base).await;
    let lead = if a.static_reveal {
        Duration::from_secs_f64(setup.lead_s.max(0.0))
    } else {
        Duration::ZERO
    };
    let clock = Clock {
        start: tokio::time::Instant::now() + lead,
        start_ms: now_ms() + lead.as_millis() as u64,
        world,
    };
    fleet.go(clock);
    let margin = world.units(Duration::from_secs_f64(a.reaction_s.max(0.0)));
    let poster = Arc::new(Poster {
        http: http.clone(),
        base: engine.base.clone(),
        console: engine.console.clone(),
        shared: shared.clone(),
        order_ids: order_ids.clone(),
        reveal_ns: Arc::new(inst.requests.iter().map(|_| AtomicU64::new(0)).collect()),
    });
    let feeder = tokio::spawn(
        poster
            .clone()
            .reveal(reveal::schedule(a, inst, margin, world.units(lead)), clock),
    );
    let timed_out = run_to_the_end(a, &shared, &feeder, clock, &mut notes).await;
    let ended_at = clock.now();
    feeder.abort();
    let metrics_after = metrics_text(&http, &engine.base).await;

    let finals = FinalStates::read(&http, engine, &order_ids).await;
    if !finals.undelivered.is_empty() {
        notes.push(format!("not delivered: {}", finals.undelivered.join("; ")));
    }
    let bots = fleet.stop(&shared, &mut notes).await;
    let errors = std::mem::take(&mut *shared.errors.lock().expect("errors lock"));
    Ok(Measured {
        delivered: shared.delivered_count.load(Ordering::Relaxed) as usize,
        revealed_early: inst
            .requests
            .iter()
            .filter(|r| inst.reveal_at(**r, false, margin) < inst.problem.nodes[r.pickup].ready)
            .count(),
        margin,
        finals,
        bots,
        revealed_to_route: revealed_to_route(&poster.reveal_ns, &shared),
        errors,
        engine_counters: counter_deltas(&COUNTERS, &metrics_before, &metrics_after),
        ended_at,
        timed_out,
        notes,
    })
}

/// Runs until every request is delivered, nothing more can be (every window closed,
/// every bot idle), the horizon is well past, or the cap (then `true`: timed out).
async fn run_to_the_end(
    a: &LilimArgs,
    shared: &Shared,
    feeder: &tokio::task::JoinHandle<()>,
    clock: Clock,
    notes: &mut Vec<String>,
) -> bool {
    let inst = &shared.inst;
    let n_req = inst.requests.len();
    let end_units = inst.horizon * 1.25;
    let last_due = inst
        .requests
        .iter()
        .map(|r| inst.problem.nodes[r.delivery].due)
        .fold(0.0, f64::max);
    let cap = Duration::from_secs_f64(a.time_limit_s);
    let wall_started = Instant::now();
    let mut last_progress = Instant::now();
    loop {
        let delivered = shared.delivered_count.load(Ordering::Relaxed) as usize;
        if delivered >= n_req {
            return false;
        }
        if feeder.is_finished()
            && clock.now() > last_due
            && shared.busy.load(Ordering::Relaxed) == 0
        {
            notes.push(format!(
                "stopped after the last delivery window closed ({last_due:.0}) with {delivered} of {n_req} delivered and every vehicle idle"
            ));
            return false;
        }
        if clock.now() > end_units {
            notes.push(format!(
                "stopped at 1.25 × the horizon ({end_units:.0} units) with {delivered} of {n_req} delivered"
            ));
            return false;
        }
        if wall_started.elapsed() > cap {
            notes.push(format!("stopped by --time-limit-s {}", a.time_limit_s));
            return true;
        }
        if last_progress.elapsed() > Duration::from_secs(5) {
            last_progress = Instant::now();
            eprintln!(
                "t={:>6.1} units ({:>4.1} s wall) delivered {delivered}/{n_req}",
                clock.now(),
                wall_started.elapsed().as_secs_f64()
            );
        }
        tokio::select! {
            _ = shared.progress.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// Request revealed (POST sent) → first route holding it, over the requests both
/// happened to.
fn revealed_to_route(reveal_ns: &[AtomicU64], shared: &Shared) -> Summary {
    let mut latency = micros_histogram();
    for (revealed, routed) in reveal_ns.iter().zip(&shared.first_routed_ns) {
        let (s, r) = (
            revealed.load(Ordering::Relaxed),
            routed.load(Ordering::Relaxed),
        );
        if s != 0 && r >= s {
            latency.saturating_record((r - s) / 1000);
        }
    }
    Summary::of(&latency)
}
