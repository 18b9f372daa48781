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
mod instance;

use crate::client::DriverClient;
use crate::common::{
    http_client, metric_sum, metrics_text, register_drivers, run_prefix, wait_healthy, Summary,
};
use crate::target::{base_config, Config, Options, Target};
use anyhow::{bail, Context};
use bot::{BotResult, Shared};
use dispatch_protocol::{Encoding, StopKind};
use instance::{dist, Clock, Instance, World};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

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
    /// A running engine (http://127.0.0.1:8080); without it one runs in-process on a
    /// free port with a temporary data dir and the replay's travel configuration.
    #[arg(long)]
    pub url: Option<String>,
    /// Console token for --url.
    #[arg(long, env = "DISPATCH_CONSOLE_TOKEN")]
    pub token: Option<String>,
    /// Embedded engine only: base TOML configuration; the replay still sets the travel
    /// model, and its metric settings are read in simulated metres and scaled by 1/X.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Embedded engine only: `dispatch.tick_ms`.
    #[arg(long)]
    pub tick_ms: Option<u64>,
    /// Embedded engine only: `dispatch.candidates` (default: the instance's fleet size).
    #[arg(long)]
    pub candidates: Option<usize>,
}

/// The result of one replay.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayResult {
    pub instance: String,
    pub mode: &'static str,
    pub reveal: String,
    pub engine: String,
    pub encoding: &'static str,
    pub speedup: f64,
    /// Wall-clock milliseconds per instance time unit.
    pub ms_per_unit: f64,
    /// Metres per instance unit in the engine's scale model.
    pub engine_metres_per_unit: f64,
    /// Service times sent to the engine (whole seconds) differ from the instance's.
    pub service_rounded: bool,
    pub engine_config: Value,
    pub requests: usize,
    pub vehicles_available: usize,
    pub capacity: i32,
    pub horizon: f64,
    pub bks_vehicles: Option<usize>,
    pub bks_distance: Option<f64>,
    /// Instance units the bots drove.
    pub driven: f64,
    /// Straight legs from each used vehicle's last position back to the depot.
    pub return_to_depot: f64,
    /// `driven + return_to_depot`: comparable with the best-known distance.
    pub distance: f64,
    /// `distance / bks_distance − 1`, in percent.
    pub price_of_dynamism_pct: Option<f64>,
    pub vehicles_used: usize,
    pub delivered: usize,
    pub not_delivered: usize,
    /// Orders that were `unassignable` at some point.
    pub ever_unassignable: usize,
    pub final_status: BTreeMap<String, u64>,
    /// Stops whose service started after their due time (beyond 0.5 time units).
    pub late_pickups: usize,
    pub late_deliveries: usize,
    pub max_lateness: f64,
    /// Time units spent waiting at stops for their ready time, all vehicles together.
    pub waiting: f64,
    /// Instance time when the last stop was done.
    pub last_stop_at: f64,
    /// Instance time when the replay stopped.
    pub ended_at: f64,
    /// Order revealed (POST sent) → first route holding it, wall-clock ms.
    pub revealed_to_route: Summary,
    pub positions_sent: u64,
    pub routes_received: u64,
    pub stops_turned_away: u64,
    pub errors: BTreeMap<String, u64>,
    /// Engine counters (deltas over the replay).
    pub engine_counters: BTreeMap<String, f64>,
    pub wall_s: f64,
    pub timed_out: bool,
    pub notes: Vec<String>,
}

/// Lateness tolerated before a stop counts as late (timer jitter and engine latency on
/// the wall clock are a few milliseconds, i.e. a small fraction of a time unit).
const LATE_TOLERANCE: f64 = 0.5;

const COUNTERS: [&str; 7] = [
    "dispatch_orders_created_total",
    "dispatch_proposals_accepted_total",
    "dispatch_proposals_rejected_total",
    "dispatch_orders_unassignable_total",
    "dispatch_orders_rebalanced_total",
    "dispatch_orders_given_back_total",
    "dispatch_replans_total",
];

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
    let mut c = base_config(a.config.as_deref())?;
    c.travel.detour_factor = 1.0;
    c.travel.speed_kmh = instance::SPEED_KMH;
    c.travel.hourly_speed_factor = vec![1.0; 24];
    c.travel.utc_offset_min = 0;
    let d = &mut c.dispatch;
    d.pin_radius_m = world.engine_metres(d.pin_radius_m);
    d.rebalance_margin_m = world.engine_metres(d.rebalance_margin_m);
    // Every driver of the instance is within reach of every pickup.
    let reach = 2.0 * inst.diagonal() * world.metres_per_unit;
    d.candidate_radius_m = world.engine_metres(d.candidate_radius_m).max(reach);
    d.candidates = a.candidates.unwrap_or(inst.vehicles.max(d.candidates));
    if let Some(t) = a.tick_ms {
        d.tick_ms = t;
    }
    c.validate()?;
    Ok(c)
}

/// The engine for the replay: embedded with the replay's configuration, or `--url`.
async fn open_engine(a: &LilimArgs, inst: &Instance, world: &World) -> anyhow::Result<Target> {
    let options = Options {
        url: a.url.as_deref(),
        token: a.token.as_deref(),
        refused_with_url: (a.config.is_some() || a.tick_ms.is_some() || a.candidates.is_some())
            .then_some("--config, --tick-ms and --candidates"),
        launch: None,
    };
    let target = Target::open(&options, || engine_config(a, inst, world)).await?;
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

/// The travel and dispatch settings of an engine the replay started (`null` with --url).
fn shown_config(engine: &Target) -> anyhow::Result<Value> {
    Ok(match engine.config() {
        Some(c) => json!({
            "travel": serde_json::to_value(&c.travel)?,
            "dispatch": serde_json::to_value(&c.dispatch)?,
        }),
        None => Value::Null,
    })
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
    let result = drive(
        &a,
        inst.clone(),
        world,
        &engine,
        bks,
        notes,
        service_rounded,
    )
    .await;
    let closed = engine.close().await;
    let mut r = result?;
    closed?;
    r.wall_s = wall_start.elapsed().as_secs_f64();
    Ok(r)
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    a: &LilimArgs,
    inst: Arc<Instance>,
    world: World,
    engine: &Target,
    bks: Option<dispatch_plan::parse::Bks>,
    mut notes: Vec<String>,
    service_rounded: bool,
) -> anyhow::Result<ReplayResult> {
    let http = http_client(64)?;
    let base = engine.base.clone();
    let console = engine.console.clone();
    wait_healthy(&http, &base).await?;
    let prefix = run_prefix();
    let n_req = inst.requests.len();
    let order_ids: Vec<String> = inst
        .requests
        .iter()
        .map(|r| format!("{prefix}{}-p{}", inst.name, r.pickup))
        .collect();

    // Drivers: the instance's fleet, at the depot.
    let ids: Vec<String> = (0..inst.vehicles)
        .map(|i| format!("{prefix}v{i}"))
        .collect();
    let capacity = u32::try_from(inst.capacity).context("vehicle capacity")?;
    let tokens = register_drivers(&http, (&base, &console), &ids, Some(capacity)).await?;

    let encoding = if a.json_frames {
        Encoding::Json
    } else {
        Encoding::Bincode
    };
    let position_every = world
        .wall(a.position_s / instance::SECONDS_PER_UNIT)
        .max(Duration::from_millis(50));
    let shared = Arc::new(Shared {
        inst: inst.clone(),
        world,
        order_index: order_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect(),
        service: inst
            .problem
            .nodes
            .iter()
            .map(|n| Duration::from_secs(u64::from(world.service_s(n.service))))
            .collect(),
        position_every,
        first_routed_ns: (0..n_req).map(|_| AtomicU64::new(0)).collect(),
        delivered: (0..n_req).map(|_| AtomicU64::new(0)).collect(),
        delivered_count: AtomicU64::new(0),
        busy: AtomicU64::new(0),
        progress: Notify::new(),
        errors: Mutex::new(BTreeMap::new()),
        base: Instant::now(),
    });

    // Bots: connect, go available at the depot, then wait for the clock.
    let (go_tx, go_rx) = watch::channel(None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(inst.vehicles);
    let ws_base = base.replacen("http", "ws", 1);
    let mut bots = JoinSet::new();
    for (i, token) in tokens.iter().enumerate() {
        let client = DriverClient::new(&ws_base, token, encoding);
        // Evenly spread, seed-shuffled report phases.
        let phase =
            ((i as u64).wrapping_mul(0x9E37_79B9).wrapping_add(a.seed) % 1000) as f64 / 1000.0;
        let fut = bot::run(
            client,
            inst.depot(),
            (shared.clone(), phase),
            ready_tx.clone(),
            go_rx.clone(),
            stop_rx.clone(),
        );
        bots.spawn(async move { (i, fut.await) });
    }
    drop(ready_tx);
    let mut online = 0;
    let connect_deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while online < inst.vehicles {
        match tokio::time::timeout_at(connect_deadline, ready_rx.recv()).await {
            Ok(Some(())) => online += 1,
            Ok(None) | Err(_) => break,
        }
    }
    if online < inst.vehicles {
        let _ = stop_tx.send(true);
        let mut why = Vec::new();
        while let Ok(Some(r)) = tokio::time::timeout(Duration::from_secs(2), bots.join_next()).await
        {
            if let Ok((i, Err(e))) = r {
                why.push(format!("bot {i}: {e:#}"));
            }
        }
        bots.abort_all();
        bail!(
            "only {online} of {} driver bots came online: {why:?}",
            inst.vehicles
        );
    }
    // Bounded wait until the engine answers with the whole fleet available at the depot.
    let (dlat, dlon) = world.latlon(inst.depot());
    let k = inst.vehicles.min(100);
    let visible_deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got: Value = http
            .get(format!(
                "{base}/v1/drivers/nearest?lat={dlat}&lon={dlon}&k={k}"
            ))
            .bearer_auth(&console)
            .send()
            .await?
            .json()
            .await
            .unwrap_or(Value::Null);
        let n = got["drivers"].as_array().map_or(0, |d| {
            d.iter()
                .filter(|x| x["id"].as_str().is_some_and(|id| id.starts_with(&prefix)))
                .count()
        });
        if n >= k {
            break;
        }
        if Instant::now() > visible_deadline {
            bail!("the engine shows {n} of {k} drivers available at the depot after 10 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let metrics_before = metrics_text(&http, &base).await;
    let clock = Clock {
        start: tokio::time::Instant::now(),
        start_ms: crate::common::now_ms(),
        world,
    };
    let _ = go_tx.send(Some(clock));
    let wall_started = Instant::now();

    // Reveal the requests.
    let margin = world.units(Duration::from_secs_f64(a.reaction_s.max(0.0)));
    let reveal_ns: Arc<Vec<AtomicU64>> = Arc::new((0..n_req).map(|_| AtomicU64::new(0)).collect());
    let mut schedule: Vec<(f64, usize)> = inst
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let at = if a.static_reveal {
                0.0
            } else {
                inst.reveal_at(*r, a.strict_ready, margin)
            };
            (at, i)
        })
        .collect();
    schedule.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    let feeder = {
        let (http, base, console, shared, reveal_ns, inst) = (
            http.clone(),
            base.clone(),
            console.clone(),
            shared.clone(),
            reveal_ns.clone(),
            inst.clone(),
        );
        let order_ids = order_ids.clone();
        tokio::spawn(async move {
            let mut posts = JoinSet::new();
            for (at, i) in schedule {
                tokio::time::sleep_until(clock.at(at)).await;
                let r = inst.requests[i];
                let stop = |node: usize| {
                    let n = &inst.problem.nodes[node];
                    let (lat, lon) = clock.world.latlon(inst.xy[node]);
                    json!({
                        "lat": lat, "lon": lon,
                        "ready_ms": clock.epoch_ms(n.ready),
                        "due_ms": clock.epoch_ms(n.due),
                        "service_s": clock.world.service_s(n.service),
                    })
                };
                let body = json!({
                    "id": order_ids[i],
                    "pickup": stop(r.pickup),
                    "dropoff": stop(r.delivery),
                    "size": inst.problem.nodes[r.pickup].demand.max(1),
                });
                let (http, url, console, shared, reveal_ns) = (
                    http.clone(),
                    format!("{base}/v1/orders"),
                    console.clone(),
                    shared.clone(),
                    reveal_ns.clone(),
                );
                posts.spawn(async move {
                    reveal_ns[i].store(
                        u64::try_from(shared.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1,
                        Ordering::Relaxed,
                    );
                    match http.post(url).bearer_auth(console).json(&body).send().await {
                        Ok(resp) if resp.status().is_success() => {}
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            let body: Value = resp.json().await.unwrap_or(Value::Null);
                            shared.bump_error(
                                body["error"]["code"]
                                    .as_str()
                                    .map_or(format!("http_{status}"), str::to_string),
                            );
                        }
                        Err(_) => shared.bump_error("transport"),
                    }
                });
                while posts.try_join_next().is_some() {}
            }
            while posts.join_next().await.is_some() {}
        })
    };

    // Run until every request is delivered, nothing more can be (every window closed,
    // every bot idle), the horizon is well past, or the cap.
    let end_units = inst.horizon * 1.25;
    let last_due = inst
        .requests
        .iter()
        .map(|r| inst.problem.nodes[r.delivery].due)
        .fold(0.0, f64::max);
    let cap = Duration::from_secs_f64(a.time_limit_s);
    let mut last_progress = Instant::now();
    let timed_out = loop {
        let delivered = shared.delivered_count.load(Ordering::Relaxed) as usize;
        if delivered >= n_req {
            break false;
        }
        if feeder.is_finished()
            && clock.now() > last_due
            && shared.busy.load(Ordering::Relaxed) == 0
        {
            notes.push(format!(
                "stopped after the last delivery window closed ({last_due:.0}) with {delivered} of {n_req} delivered and every vehicle idle"
            ));
            break false;
        }
        if clock.now() > end_units {
            notes.push(format!(
                "stopped at 1.25 × the horizon ({end_units:.0} units) with {} of {n_req} delivered",
                delivered
            ));
            break false;
        }
        if wall_started.elapsed() > cap {
            notes.push(format!("stopped by --time-limit-s {}", a.time_limit_s));
            break true;
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
    };
    let ended_at = clock.now();
    feeder.abort();
    let metrics_after = metrics_text(&http, &base).await;

    // Final order states (what the engine says).
    let mut final_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut ever_unassignable = 0;
    let mut undelivered = Vec::new();
    let mut set = JoinSet::new();
    for id in &order_ids {
        let (http, base, console, id) = (http.clone(), base.clone(), console.clone(), id.clone());
        set.spawn(async move {
            let r = http
                .get(format!("{base}/v1/orders/{id}"))
                .bearer_auth(&console)
                .send()
                .await;
            match r {
                Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            }
        });
        if set.len() >= 16 {
            if let Some(Ok(v)) = set.join_next().await {
                tally(
                    &v,
                    &mut final_status,
                    &mut ever_unassignable,
                    &mut undelivered,
                );
            }
        }
    }
    while let Some(r) = set.join_next().await {
        if let Ok(v) = r {
            tally(
                &v,
                &mut final_status,
                &mut ever_unassignable,
                &mut undelivered,
            );
        }
    }

    undelivered.sort();
    if !undelivered.is_empty() {
        notes.push(format!("not delivered: {}", undelivered.join("; ")));
    }
    let _ = stop_tx.send(true);
    let mut results: Vec<BotResult> = Vec::new();
    while let Ok(Some(r)) = tokio::time::timeout(Duration::from_secs(10), bots.join_next()).await {
        match r {
            Ok((_, Ok(b))) => results.push(b),
            Ok((i, Err(e))) => {
                shared.bump_error("bot_ended");
                notes.push(format!("bot {i} ended early: {e:#}"));
            }
            Err(e) => notes.push(format!("bot task failed: {e}")),
        }
    }
    bots.abort_all();

    // Measures.
    let depot = inst.depot();
    let used: Vec<&BotResult> = results.iter().filter(|b| !b.served.is_empty()).collect();
    let driven: f64 = results.iter().map(|b| b.driven).sum();
    let return_to_depot: f64 = used.iter().map(|b| dist(b.position, depot)).sum();
    let distance = driven + return_to_depot;
    let served = results.iter().flat_map(|b| b.served.iter());
    let (mut late_pickups, mut late_deliveries, mut max_lateness, mut last_stop_at) =
        (0, 0, f64::NEG_INFINITY, 0.0f64);
    let mut waiting = 0.0;
    for s in served {
        waiting += s.started - s.arrived;
        if s.lateness > LATE_TOLERANCE {
            match s.kind {
                StopKind::Pickup => late_pickups += 1,
                StopKind::Dropoff => late_deliveries += 1,
            }
        }
        max_lateness = max_lateness.max(s.lateness);
        last_stop_at = last_stop_at.max(s.started);
    }
    let mut latency = crate::common::micros_histogram();
    for i in 0..n_req {
        let (s, r) = (
            reveal_ns[i].load(Ordering::Relaxed),
            shared.first_routed_ns[i].load(Ordering::Relaxed),
        );
        if s != 0 && r >= s {
            latency.saturating_record((r - s) / 1000);
        }
    }
    let delivered = shared.delivered_count.load(Ordering::Relaxed) as usize;
    let early = inst
        .requests
        .iter()
        .filter(|r| inst.reveal_at(**r, false, margin) < inst.problem.nodes[r.pickup].ready)
        .count();
    let engine_counters = COUNTERS
        .iter()
        .map(|name| {
            (
                name.to_string(),
                metric_sum(&metrics_after, name) - metric_sum(&metrics_before, name),
            )
        })
        .collect();
    let price = bks
        .as_ref()
        .filter(|b| b.distance > 0.0 && delivered == n_req)
        .map(|b| (distance / b.distance - 1.0) * 100.0);
    if bks.is_some() && delivered < n_req {
        notes.push("not every request was delivered: no price of dynamism computed".into());
    }
    let errors = std::mem::take(&mut *shared.errors.lock().expect("errors lock"));
    Ok(ReplayResult {
        instance: inst.name.clone(),
        mode: if a.static_reveal { "static" } else { "dynamic" },
        reveal: if a.static_reveal {
            "every request at time 0".into()
        } else if a.strict_ready {
            "each request at its pickup's ready time".into()
        } else {
            format!(
                "each request at its pickup's ready time ({early} of {n_req} earlier: {margin:.1} units before the last moment a vehicle waiting at the depot could still serve them)"
            )
        },
        engine: engine.label(),
        encoding: if a.json_frames { "json" } else { "bincode" },
        speedup: world.speedup,
        ms_per_unit: world.ms_per_unit,
        engine_metres_per_unit: world.metres_per_unit,
        service_rounded,
        engine_config: shown_config(engine)?,
        requests: n_req,
        vehicles_available: inst.vehicles,
        capacity: inst.capacity,
        horizon: inst.horizon,
        bks_vehicles: bks.as_ref().map(|b| b.vehicles),
        bks_distance: bks.as_ref().map(|b| b.distance),
        driven,
        return_to_depot,
        distance,
        price_of_dynamism_pct: price,
        vehicles_used: used.len(),
        delivered,
        not_delivered: n_req - delivered,
        ever_unassignable,
        final_status,
        late_pickups,
        late_deliveries,
        max_lateness: if max_lateness.is_finite() {
            max_lateness
        } else {
            0.0
        },
        waiting,
        last_stop_at,
        ended_at,
        revealed_to_route: Summary::of(&latency),
        positions_sent: results.iter().map(|b| b.positions_sent).sum(),
        routes_received: results.iter().map(|b| b.routes).sum(),
        stops_turned_away: results.iter().map(|b| b.turned_away).sum(),
        errors,
        engine_counters,
        wall_s: 0.0,
        timed_out,
        notes,
    })
}

fn tally(
    order: &Value,
    status: &mut BTreeMap<String, u64>,
    ever_unassignable: &mut usize,
    undelivered: &mut Vec<String>,
) {
    let s = order["status"].as_str().unwrap_or("unknown").to_string();
    if s != "delivered" {
        let reason = order["history"]
            .as_array()
            .and_then(|h| h.iter().rev().find_map(|c| c["reason"].as_str()))
            .unwrap_or("");
        undelivered.push(format!(
            "{} {s} {reason}",
            order["id"].as_str().unwrap_or("?")
        ));
    }
    *status.entry(s).or_default() += 1;
    if order["history"]
        .as_array()
        .is_some_and(|h| h.iter().any(|c| c["status"] == "unassignable"))
    {
        *ever_unassignable += 1;
    }
}

/// The human summary.
pub fn summary(r: &ReplayResult) -> String {
    let mut s = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "Li & Lim replay {} ({}: {}), engine {}, {}× speed-up, {:.1} s wall{}",
        r.instance,
        r.mode,
        r.reveal,
        r.engine,
        r.speedup,
        r.wall_s,
        if r.timed_out { " (TIME LIMIT)" } else { "" }
    );
    let _ = writeln!(
        s,
        "  requests {:>4}   delivered {:>4}   not delivered {:>3}   ever unassignable {:>3}   final {:?}",
        r.requests, r.delivered, r.not_delivered, r.ever_unassignable, r.final_status
    );
    let _ = writeln!(
        s,
        "  late pickups {:>3}   late deliveries {:>3}   max lateness {:.1} units   last stop at {:.1} of horizon {}",
        r.late_pickups, r.late_deliveries, r.max_lateness, r.last_stop_at, r.horizon
    );
    let bks = match (r.bks_vehicles, r.bks_distance) {
        (Some(v), Some(d)) => format!("{v} vehicles, {d:.2}"),
        _ => "unknown".into(),
    };
    let _ = writeln!(
        s,
        "  vehicles used {:>3} of {:<3}  distance {:.2} (driven {:.2} + return {:.2})   best known {}",
        r.vehicles_used, r.vehicles_available, r.distance, r.driven, r.return_to_depot, bks
    );
    let _ = writeln!(
        s,
        "  {}: {}",
        if r.mode == "static" {
            "gap to the best known (all requests known at time 0)"
        } else {
            "price of dynamic dispatch"
        },
        r.price_of_dynamism_pct
            .map_or("n/a (not every request was delivered)".into(), |p| format!(
                "{p:+.1} % distance"
            ))
    );
    let _ = writeln!(
        s,
        "  revealed → route (wall) {}   positions {}   routes {}   stops turned away {}",
        r.revealed_to_route, r.positions_sent, r.routes_received, r.stops_turned_away
    );
    if !r.errors.is_empty() {
        let _ = writeln!(s, "  errors {:?}", r.errors);
    }
    let _ = writeln!(s, "  engine counters (Δ) {:?}", r.engine_counters);
    for n in &r.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    s
}
