//! The order load run: D driver bots (bincode sockets, capacity 4, a position every
//! second, stops completed in order after a simulated delay) and orders posted at R/s
//! through `POST /v1/orders`. Measures, per order, the time from just before its POST
//! until some driver socket receives a `route` holding it. Every loop is bounded by
//! `--duration` plus `--grace`.

mod bot;

use crate::client::DriverClient;
use crate::common::{
    bucket_quantile, http_client, metric_sum, metrics_text, micros_histogram, order_body,
    prom_buckets, random_trip, register_drivers, run_prefix, wait_healthy, Summary, HELSINKI,
};
use crate::target::EngineArgs;
use anyhow::bail;
use bot::{bump, BotCfg, BotStats};
use dispatch_protocol::{Encoding, RouteStop};
use hdrhistogram::Histogram;
use rand::SeedableRng;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Driver sockets to open (each registered with --capacity, available, in the box).
    #[arg(long, default_value_t = 5000)]
    drivers: usize,
    /// Orders per second through POST /v1/orders (open loop: a fixed schedule).
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Seconds of order creation.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Seconds to wait after the last order for routes still to come.
    #[arg(long, default_value_t = 5)]
    grace: u64,
    /// Simulated time a driver spends at each stop before reporting it done.
    #[arg(long, default_value_t = 2000)]
    stop_ms: u64,
    /// Capacity the drivers register with.
    #[arg(long, default_value_t = 4)]
    capacity: u32,
    /// Interval of each driver's position reports.
    #[arg(long, default_value_t = 1000)]
    position_ms: u64,
    /// Give each dropoff a loose deadline this many seconds after creation (default:
    /// no windows).
    #[arg(long)]
    due_s: Option<u64>,
    /// Most POSTs in flight at once; beyond it the schedule slips (reported as lag).
    #[arg(long, default_value_t = 256)]
    max_inflight: usize,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Order ids are `<prefix><n>`; per order n: when its POST was sent, what came back,
/// and when a route first held it (nanoseconds since `base` + 1; 0 = not yet).
struct Tracker {
    base: Instant,
    prefix: String,
    sent_ns: Vec<AtomicU64>,
    routed_ns: Vec<AtomicU64>,
    state: Vec<AtomicU8>,
}

const SENT: u8 = 1;
const CREATED: u8 = 2;
const EXISTING: u8 = 3;
const FAILED: u8 = 4;

impl Tracker {
    fn new(prefix: String, n: usize) -> Self {
        Self {
            base: Instant::now(),
            prefix,
            sent_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
            routed_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
            state: (0..n).map(|_| AtomicU8::new(0)).collect(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn id(&self, n: usize) -> String {
        format!("{}{n}", self.prefix)
    }

    fn index(&self, order_id: &str) -> Option<usize> {
        order_id
            .strip_prefix(&self.prefix)?
            .parse::<usize>()
            .ok()
            .filter(|&n| n < self.routed_ns.len())
    }

    fn saw_route(&self, stops: &[RouteStop]) {
        let mut now = 0;
        for s in stops {
            if let Some(n) = self.index(&s.order_id) {
                if now == 0 {
                    now = self.now();
                }
                let _ = self.routed_ns[n].compare_exchange(
                    0,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
    }

    fn is_created(&self, n: usize) -> bool {
        matches!(self.state[n].load(Ordering::Relaxed), CREATED | EXISTING)
    }

    fn unrouted(&self) -> usize {
        (0..self.state.len())
            .filter(|&n| self.is_created(n) && self.routed_ns[n].load(Ordering::Relaxed) == 0)
            .count()
    }

    fn routed(&self) -> usize {
        self.routed_ns
            .iter()
            .filter(|r| r.load(Ordering::Relaxed) != 0)
            .count()
    }
}

#[derive(Default)]
struct PostStats {
    errors: Mutex<BTreeMap<String, u64>>,
    latency: Mutex<Option<Histogram<u64>>>,
    max_lag_us: AtomicU64,
}

#[derive(Serialize)]
struct Report {
    engine: String,
    tick_ms: Option<u64>,
    drivers: usize,
    drivers_connected: usize,
    capacity: u32,
    rate: f64,
    duration_s: u64,
    grace_s: u64,
    stop_ms: u64,
    orders_scheduled: usize,
    orders_sent: usize,
    orders_created: usize,
    orders_existing: usize,
    post_errors: BTreeMap<String, u64>,
    created_per_s: f64,
    max_schedule_lag_ms: f64,
    orders_routed: usize,
    orders_unrouted: usize,
    created_to_route_pushed: Summary,
    post_latency: Summary,
    /// Upper bounds of the engine's own histogram buckets holding p50 and p99 of the
    /// samples recorded during the run (`null`: none recorded, or above the largest
    /// bucket, 2.5 s).
    engine_route_pushed_p50_le_s: Option<f64>,
    engine_route_pushed_p99_le_s: Option<f64>,
    engine_counters: BTreeMap<String, f64>,
    routes_received: u64,
    positions_sent: u64,
    stop_done_sent: u64,
    stop_acks: u64,
    delivered_acked: u64,
    stops_abandoned: u64,
    stop_errors: BTreeMap<String, u64>,
    bots_ended: BTreeMap<String, u64>,
    unrouted_by_status: BTreeMap<String, u64>,
    unrouted_sample: Vec<Value>,
}

/// Engine counters worth reading next to the latency (deltas over the run).
const COUNTERS: [&str; 7] = [
    "dispatch_orders_created_total",
    "dispatch_proposals_accepted_total",
    "dispatch_proposals_rejected_total",
    "dispatch_orders_unassignable_total",
    "dispatch_orders_given_back_total",
    "dispatch_mailbox_full_total",
    "dispatch_ws_errors_total",
];
const PUSH_HIST: &str = "dispatch_order_created_to_route_pushed_seconds";

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.drivers == 0 || args.rate <= 0.0 || args.duration == 0 || args.max_inflight == 0 {
        bail!("--drivers, --rate, --duration and --max-inflight must be positive");
    }
    if args.capacity == 0 || args.position_ms == 0 {
        bail!("--capacity and --position-ms must be positive");
    }
    let target = args.engine.open().await?;
    let http = http_client(args.max_inflight)?;
    wait_healthy(&http, &target.base).await?;
    let base = target.base.clone();
    let console = target.console.clone();
    let ws_base = target.ws_base();

    let registered_at = Instant::now();
    let ids: Vec<String> = (0..args.drivers).map(|i| format!("ord-{i}")).collect();
    let tokens = register_drivers(&http, (&base, &console), &ids, Some(args.capacity)).await?;
    eprintln!(
        "{} drivers registered in {:.1} s",
        tokens.len(),
        registered_at.elapsed().as_secs_f64()
    );

    let total = (args.rate * args.duration as f64).round() as usize;
    let tracker = Arc::new(Tracker::new(run_prefix(), total));
    let stats = Arc::new(BotStats::default());
    let cfg = Arc::new(BotCfg {
        stop_delay: Duration::from_millis(args.stop_ms),
        position_every: Duration::from_millis(args.position_ms),
        area: HELSINKI,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(args.drivers);
    let connect_started = Instant::now();
    let mut bots = JoinSet::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let client = DriverClient::new(&ws_base, &token, Encoding::Bincode);
        let seed = args.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        let (cfg, tracker, stats) = (cfg.clone(), tracker.clone(), stats.clone());
        let (ready, stop) = (ready_tx.clone(), stop_rx.clone());
        bots.spawn(async move {
            let r = bot::run(client, seed, (&cfg, &tracker, &stats), ready, stop).await;
            if let Err(e) = &r {
                bump(&stats.ended, format!("{e:#}"));
            }
            r
        });
    }
    drop(ready_tx);
    let mut connected = 0usize;
    while ready_rx.recv().await.is_some() {
        connected += 1;
    }
    eprintln!(
        "{connected} drivers online in {:.1} s; letting positions settle",
        connect_started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let metrics_before = metrics_text(&http, &base).await;
    eprintln!(
        "posting {total} orders at {}/s for {} s",
        args.rate, args.duration
    );
    let posts = Arc::new(PostStats {
        latency: Mutex::new(Some(micros_histogram())),
        ..PostStats::default()
    });
    let progress = {
        let (tracker, stats) = (tracker.clone(), stats.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => break,
                }
                let created = (0..tracker.state.len())
                    .filter(|&n| tracker.is_created(n))
                    .count();
                let unacked = stats.stop_done.load(Ordering::Relaxed)
                    - stats
                        .acks
                        .load(Ordering::Relaxed)
                        .min(stats.stop_done.load(Ordering::Relaxed));
                eprintln!(
                    "t={:>3.0}s created={created} routed={} unrouted={} routes={} delivered={} stop_done_unacked={unacked}",
                    started.elapsed().as_secs_f64(),
                    tracker.routed(),
                    tracker.unrouted(),
                    stats.routes.load(Ordering::Relaxed),
                    stats.delivered.load(Ordering::Relaxed),
                );
            }
        })
    };

    let started = Instant::now();
    let sem = Arc::new(Semaphore::new(args.max_inflight));
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed ^ 0x5eed_04de);
    let every = Duration::from_secs_f64(1.0 / args.rate);
    let mut inflight = JoinSet::new();
    for n in 0..total {
        let at = started + every.mul_f64(n as f64);
        tokio::time::sleep_until(at.into()).await;
        let permit = sem.clone().acquire_owned().await?;
        let lag = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
        posts.max_lag_us.fetch_max(lag, Ordering::Relaxed);
        let trip = random_trip(&mut rng, &HELSINKI, 1_000.0, 3_000.0);
        let due = args.due_s.map(|s| crate::common::now_ms() + s * 1000);
        let (http, url, console) = (http.clone(), format!("{base}/v1/orders"), console.clone());
        let (tracker, posts) = (tracker.clone(), posts.clone());
        inflight.spawn(async move {
            let _permit = permit;
            let body = order_body(&tracker.id(n), trip, due);
            tracker.state[n].store(SENT, Ordering::Relaxed);
            tracker.sent_ns[n].store(tracker.now(), Ordering::Relaxed);
            let t0 = Instant::now();
            let resp = http.post(url).bearer_auth(console).json(&body).send().await;
            let outcome = match resp {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let _ = r.bytes().await;
                    match status {
                        201 => Ok(CREATED),
                        200 => Ok(EXISTING),
                        s => Err(format!("http {s}")),
                    }
                }
                Err(e) => Err(format!("transport: {e}")),
            };
            let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
            match outcome {
                Ok(s) => {
                    tracker.state[n].store(s, Ordering::Relaxed);
                    if let Some(h) = posts.latency.lock().expect("lock").as_mut() {
                        h.saturating_record(us);
                    }
                }
                Err(e) => {
                    tracker.state[n].store(FAILED, Ordering::Relaxed);
                    bump(&posts.errors, e);
                }
            }
        });
        while inflight.try_join_next().is_some() {}
    }
    while inflight.join_next().await.is_some() {}
    let post_elapsed = started.elapsed().as_secs_f64();

    // Grace: wait for the routes still to come.
    let grace_end = Instant::now() + Duration::from_secs(args.grace);
    while Instant::now() < grace_end && tracker.unrouted() > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics_after = metrics_text(&http, &base).await;

    // Latencies, counts and a sample of what never got routed.
    let mut latency = micros_histogram();
    let (mut created, mut existing, mut sent) = (0, 0, 0);
    let mut unrouted_ids = Vec::new();
    for n in 0..total {
        let state = tracker.state[n].load(Ordering::Relaxed);
        if state != 0 {
            sent += 1;
        }
        match state {
            CREATED => created += 1,
            EXISTING => existing += 1,
            _ => continue,
        }
        let (s, r) = (
            tracker.sent_ns[n].load(Ordering::Relaxed),
            tracker.routed_ns[n].load(Ordering::Relaxed),
        );
        if r == 0 {
            unrouted_ids.push(tracker.id(n));
        } else {
            latency.saturating_record(r.saturating_sub(s) / 1000);
        }
    }
    let mut unrouted_by_status = BTreeMap::new();
    let mut unrouted_sample = Vec::new();
    for id in unrouted_ids.iter().take(200) {
        let got = http
            .get(format!("{base}/v1/orders/{id}"))
            .bearer_auth(&console)
            .send()
            .await;
        let order: Value = match got {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        let status = order["status"].as_str().unwrap_or("?").to_string();
        *unrouted_by_status.entry(status.clone()).or_default() += 1;
        if unrouted_sample.len() < 5 {
            let last = order["history"]
                .as_array()
                .and_then(|h| h.last().cloned())
                .unwrap_or(Value::Null);
            unrouted_sample.push(json!({
                "id": id, "status": status, "driver_id": order["driver_id"], "last": last,
            }));
        }
    }

    // The bots stay online until here, so what the sample shows is what they would see.
    let _ = stop_tx.send(true);
    let _ = progress.await;
    let mut ended_ok = 0;
    while let Some(r) = tokio::time::timeout(Duration::from_secs(10), bots.join_next())
        .await
        .ok()
        .flatten()
    {
        if matches!(r, Ok(Ok(()))) {
            ended_ok += 1;
        }
    }
    bots.abort_all();
    let engine = target.label();
    let tick_ms = target.config().map(|c| c.dispatch.tick_ms);
    target.close().await?;

    let (pb, pa) = (
        prom_buckets(&metrics_before, PUSH_HIST),
        prom_buckets(&metrics_after, PUSH_HIST),
    );
    let counters = COUNTERS
        .iter()
        .map(|name| {
            (
                name.to_string(),
                metric_sum(&metrics_after, name) - metric_sum(&metrics_before, name),
            )
        })
        .collect();
    let post_latency = posts
        .latency
        .lock()
        .expect("lock")
        .take()
        .unwrap_or_else(micros_histogram);
    let report = Report {
        engine,
        tick_ms,
        drivers: args.drivers,
        drivers_connected: connected,
        capacity: args.capacity,
        rate: args.rate,
        duration_s: args.duration,
        grace_s: args.grace,
        stop_ms: args.stop_ms,
        orders_scheduled: total,
        orders_sent: sent,
        orders_created: created,
        orders_existing: existing,
        post_errors: std::mem::take(&mut *posts.errors.lock().expect("lock")),
        created_per_s: created as f64 / post_elapsed,
        max_schedule_lag_ms: posts.max_lag_us.load(Ordering::Relaxed) as f64 / 1000.0,
        orders_routed: created + existing - unrouted_ids.len(),
        orders_unrouted: unrouted_ids.len(),
        created_to_route_pushed: Summary::of(&latency),
        post_latency: Summary::of(&post_latency),
        engine_route_pushed_p50_le_s: bucket_quantile(&pb, &pa, 0.5),
        engine_route_pushed_p99_le_s: bucket_quantile(&pb, &pa, 0.99),
        engine_counters: counters,
        routes_received: stats.routes.load(Ordering::Relaxed),
        positions_sent: stats.positions.load(Ordering::Relaxed),
        stop_done_sent: stats.stop_done.load(Ordering::Relaxed),
        stop_acks: stats.acks.load(Ordering::Relaxed),
        delivered_acked: stats.delivered.load(Ordering::Relaxed),
        stops_abandoned: stats.abandoned.load(Ordering::Relaxed),
        stop_errors: std::mem::take(&mut *stats.errors.lock().expect("lock")),
        bots_ended: {
            let mut m = std::mem::take(&mut *stats.ended.lock().expect("lock"));
            m.insert("ok".into(), ended_ok);
            m
        },
        unrouted_by_status,
        unrouted_sample,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(())
}

fn print_human(r: &Report) {
    let le = |v: Option<f64>| match v {
        Some(s) if s.is_finite() => format!("≤ {:.1} ms", s * 1000.0),
        Some(_) => "> largest bucket".to_string(),
        None => "n/a".to_string(),
    };
    println!(
        "engine                {} (dispatch.tick_ms {})",
        r.engine,
        r.tick_ms
            .map_or("as configured there".to_string(), |t| t.to_string())
    );
    println!(
        "drivers               {} online of {} (capacity {}, {} ms per stop)",
        r.drivers_connected, r.drivers, r.capacity, r.stop_ms
    );
    println!(
        "orders                scheduled {} at {}/s, sent {}, created {} (+{} existing) = {:.1}/s; errors {:?}; max schedule lag {:.1} ms",
        r.orders_scheduled,
        r.rate,
        r.orders_sent,
        r.orders_created,
        r.orders_existing,
        r.created_per_s,
        r.post_errors,
        r.max_schedule_lag_ms
    );
    println!(
        "routed                {} ; never routed within the run + {} s grace: {} {:?}",
        r.orders_routed, r.grace_s, r.orders_unrouted, r.unrouted_by_status
    );
    for s in &r.unrouted_sample {
        println!("  unrouted            {s}");
    }
    println!("created→route pushed  {}", r.created_to_route_pushed);
    println!("POST /v1/orders       {}", r.post_latency);
    println!(
        "engine histogram      created→route pushed p50 {}, p99 {}",
        le(r.engine_route_pushed_p50_le_s),
        le(r.engine_route_pushed_p99_le_s)
    );
    println!(
        "bots                  routes {} positions {} stop_done {} acks {} delivered {} abandoned {} errors {:?}",
        r.routes_received,
        r.positions_sent,
        r.stop_done_sent,
        r.stop_acks,
        r.delivered_acked,
        r.stops_abandoned,
        r.stop_errors
    );
    println!("bot tasks ended       {:?}", r.bots_ended);
    println!("engine counters (Δ)   {:?}", r.engine_counters);
}
