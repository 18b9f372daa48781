//! The order load run: D driver bots (bincode sockets, capacity 4, a position every
//! second, stops completed in order after a simulated delay) and orders posted at R/s
//! through `POST /v1/orders`. Measures, per order, the time from just before its POST
//! until some driver socket receives a `route` holding it. Every loop is bounded by
//! `--duration` plus `--grace`.

mod bot;
mod post;
mod report;
mod tracker;

use crate::client::DriverClient;
use crate::common::{
    haversine_m, http_client, metrics_text, register_drivers, run_prefix, wait_healthy, Area,
    HELSINKI,
};
use crate::target::{EngineArgs, Target};
use anyhow::bail;
use bot::{bump, BotCfg, BotStats};
use dispatch_protocol::Encoding;
use report::{print_human, Measured, Report, Unrouted};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracker::Tracker;

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
    /// Where drivers start and orders are placed: MIN_LAT,MIN_LON,MAX_LAT,MAX_LON
    /// (default: Helsinki, 60.10,24.80,60.25,25.10; trips are 1–3 km, so at least that
    /// wide). With a road network, the extract's box keeps every point on it.
    #[arg(long, value_parser = Area::parse)]
    area: Option<Area>,
    #[command(flatten)]
    engine: EngineArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.drivers == 0 || args.rate <= 0.0 || args.duration == 0 || args.max_inflight == 0 {
        bail!("--drivers, --rate, --duration and --max-inflight must be positive");
    }
    if args.capacity == 0 || args.position_ms == 0 {
        bail!("--capacity and --position-ms must be positive");
    }
    if let Some(a) = args.area {
        let (sw, nw, se) = (
            (a.min_lat, a.min_lon),
            (a.max_lat, a.min_lon),
            (a.min_lat, a.max_lon),
        );
        // Trips are 1–3 km long and must fit inside.
        if haversine_m(sw, nw) < 1_000.0 || haversine_m(sw, se) < 1_000.0 {
            bail!("--area must be at least 1 km across in both directions");
        }
    }
    let target = args.engine.open().await?;
    let http = http_client(args.max_inflight)?;
    wait_healthy(&http, &target.base).await?;
    let total = (args.rate * args.duration as f64).round() as usize;
    let tracker = Arc::new(Tracker::new(run_prefix(), total));
    let stats = Arc::new(BotStats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (bots, connected) =
        start_bots(&args, &target, &http, (&tracker, &stats), stop_rx.clone()).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let metrics_before = metrics_text(&http, &target.base).await;
    eprintln!(
        "posting {total} orders at {}/s for {} s",
        args.rate, args.duration
    );
    let progress = tokio::spawn(post::progress(tracker.clone(), stats.clone(), stop_rx));
    let console = (target.base.as_str(), target.console.as_str());
    let (posts, post_elapsed_s) = post::post_orders(&args, &http, console, &tracker).await?;
    // Grace: wait for the routes still to come.
    let grace_end = Instant::now() + Duration::from_secs(args.grace);
    while Instant::now() < grace_end && tracker.unrouted() > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics_after = metrics_text(&http, &target.base).await;
    let outcomes = tracker.outcomes();
    let unrouted = Unrouted::read(&http, &target, &outcomes.unrouted).await;

    // The bots stay online until here, so what the sample shows is what they would see.
    let _ = stop_tx.send(true);
    let _ = progress.await;
    let ended_ok = stop_bots(bots).await;
    let (engine, tick_ms) = (target.label(), target.config().map(|c| c.dispatch.tick_ms));
    target.close().await?;
    let measured = Measured {
        engine,
        tick_ms,
        connected,
        outcomes,
        unrouted,
        posts,
        post_elapsed_s,
        stats,
        ended_ok,
        metrics: (metrics_before, metrics_after),
    };
    let report = Report::new(&args, measured);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(())
}

type Bots = JoinSet<anyhow::Result<()>>;

/// Registers the drivers `ord-<i>` and starts their bots; returns once every bot is
/// online or has failed, with the number online.
async fn start_bots(
    args: &Args,
    target: &Target,
    http: &reqwest::Client,
    (tracker, stats): (&Arc<Tracker>, &Arc<BotStats>),
    stop: watch::Receiver<bool>,
) -> anyhow::Result<(Bots, usize)> {
    let registered_at = Instant::now();
    let ids: Vec<String> = (0..args.drivers).map(|i| format!("ord-{i}")).collect();
    let console = (target.base.as_str(), target.console.as_str());
    let tokens = register_drivers(http, console, &ids, Some(args.capacity)).await?;
    eprintln!(
        "{} drivers registered in {:.1} s",
        tokens.len(),
        registered_at.elapsed().as_secs_f64()
    );
    let cfg = Arc::new(BotCfg {
        stop_delay: Duration::from_millis(args.stop_ms),
        position_every: Duration::from_millis(args.position_ms),
        area: args.area.unwrap_or(HELSINKI),
    });
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(args.drivers);
    let connect_started = Instant::now();
    let mut bots = JoinSet::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let client = DriverClient::new(&target.ws_base(), &token, Encoding::Bincode);
        let seed = args.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        let (cfg, tracker, stats) = (cfg.clone(), tracker.clone(), stats.clone());
        let (ready, stop) = (ready_tx.clone(), stop.clone());
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
    Ok((bots, connected))
}

/// Waits (10 s at most per bot) for the bots to end; answers how many ended well.
async fn stop_bots(mut bots: Bots) -> u64 {
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
    ended_ok
}
