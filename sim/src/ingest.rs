//! The ingest load run. Without `--url` the engine runs in-process on a free
//! 127.0.0.1 port with a temporary data dir. Every loop is bounded by `--duration`.

use crate::client::{DriverClient, Incoming};
use crate::common::{
    metric_sum, metrics_text, micros_histogram, register_drivers, wait_healthy, Summary,
};
use crate::target::{Config, Options, Target};
use anyhow::{bail, Context};
use dispatch_protocol::{DriverStatus, Encoding};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Driver sockets to open.
    #[arg(long, default_value_t = 1000)]
    drivers: usize,
    /// Positions per second over all drivers.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Seconds of streaming.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// A running engine (http://127.0.0.1:8080); without it one runs in-process.
    #[arg(long)]
    url: Option<String>,
    /// Console token for --url (registers drivers, reads nearest and metrics).
    #[arg(long, env = "DISPATCH_CONSOLE_TOKEN")]
    token: Option<String>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Helsinki centre; drivers wander inside a box around it.
const CENTRE: (f64, f64) = (60.17, 24.94);

/// One fleet driver: available, then a position every `every` (first ones spread over
/// an interval), a random walk around the centre, until `stop`.
async fn stream_positions(
    mut client: DriverClient,
    seed: u64,
    every: Duration,
    (sent, stop): (Arc<AtomicU64>, Arc<AtomicBool>),
    ready: tokio::sync::mpsc::Sender<()>,
) -> anyhow::Result<()> {
    client.connect(false).await?;
    client.send_status(DriverStatus::Available).await?;
    let _ = ready.send(()).await;
    drop(ready);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut lat, mut lon) = (
        CENTRE.0 + rng.random_range(-0.05..0.05),
        CENTRE.1 + rng.random_range(-0.1..0.1),
    );
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    // Spread the first reports over one interval.
    tokio::time::sleep(every.mul_f64(rng.random_range(0.0..1.0))).await;
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            _ = tick.tick() => {
                lat += rng.random_range(-0.0002..0.0002);
                lon += rng.random_range(-0.0004..0.0004);
                client.send_position((lat, lon)).await?;
                sent.fetch_add(1, Ordering::Relaxed);
            }
            // Read whatever the server sends so it never backs up.
            msg = client.recv() => if let Incoming::Closed { why, .. } = msg {
                bail!(why);
            },
        }
    }
    client.close().await;
    Ok(())
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.drivers == 0 || args.rate <= 0.0 || args.duration == 0 {
        bail!("--drivers, --rate and --duration must be positive");
    }
    let options = Options {
        url: args.url.as_deref(),
        token: args.token.as_deref(),
        refused_with_url: None,
        launch: None,
    };
    let target = Target::open(&options, || Ok(Config::default())).await?;
    let http = reqwest::Client::new();
    wait_healthy(&http, &target.base).await?;
    let n = args.drivers + 1; // the last one is the latency probe
    let ids: Vec<String> = (0..n).map(|i| format!("sim-{i}")).collect();
    let console = (target.base.as_str(), target.console.as_str());
    let mut tokens = register_drivers(&http, console, &ids, None).await?;
    let probe_token = tokens.pop().context("probe")?;
    let fleet = Fleet::start(&args, &target, tokens).await;

    let applied_before = positions_applied(&http, &target).await;
    let started = Instant::now();
    let sent_before = fleet.sent.load(Ordering::Relaxed);
    let duration = Duration::from_secs(args.duration);
    let latency = probe(&http, &target, &probe_token, duration).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let sent = fleet.sent.load(Ordering::Relaxed) - sent_before;
    let applied = positions_applied(&http, &target).await - applied_before;
    let (connected, failures) = fleet.stop().await;
    println!("drivers connected     {connected} (failed tasks: {failures})");
    println!(
        "positions sent        {sent} in {elapsed:.1} s = {:.0}/s (target {:.0}/s)",
        sent as f64 / elapsed,
        args.rate
    );
    println!(
        "positions applied     {applied:.0} = {:.0}/s (the rest were coalesced)",
        applied / elapsed
    );
    println!("position→nearest      {}", Summary::of(&latency));
    target.close().await
}

/// The streaming drivers.
struct Fleet {
    drivers: JoinSet<anyhow::Result<()>>,
    connected: usize,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Fleet {
    /// Starts one driver per token, each reporting every `drivers / rate` seconds;
    /// returns once every driver is streaming or has failed.
    async fn start(args: &Args, target: &Target, tokens: Vec<String>) -> Self {
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let per_driver_interval = Duration::from_secs_f64(args.drivers as f64 / args.rate);
        let connect_started = Instant::now();
        let mut drivers = JoinSet::new();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(args.drivers);
        for (i, token) in tokens.into_iter().enumerate() {
            let (sent, stop, ready) = (sent.clone(), stop.clone(), ready_tx.clone());
            let seed = args.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
            let client = DriverClient::new(&target.ws_base(), &token, Encoding::Bincode);
            drivers.spawn(stream_positions(
                client,
                seed,
                per_driver_interval,
                (sent, stop),
                ready,
            ));
        }
        drop(ready_tx);
        let mut connected = 0usize;
        while ready_rx.recv().await.is_some() {
            connected += 1;
        }
        let connect_s = connect_started.elapsed().as_secs_f64();
        eprintln!(
            "{connected} drivers connected in {connect_s:.1} s; streaming for {} s",
            args.duration
        );
        Self {
            drivers,
            connected,
            sent,
            stop,
        }
    }

    /// Stops every driver; answers how many connected and how many tasks failed.
    async fn stop(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        let mut failures = 0;
        while let Some(r) = self.drivers.join_next().await {
            if !matches!(r, Ok(Ok(()))) {
                failures += 1;
            }
        }
        (self.connected, failures)
    }
}

async fn positions_applied(http: &reqwest::Client, target: &Target) -> f64 {
    let text = metrics_text(http, &target.base).await;
    metric_sum(&text, "dispatch_positions_applied_total")
}

/// Moves the probe driver to a fresh point every 50 ms and times how long until
/// `nearest` at that point returns it there. Microseconds.
async fn probe(
    http: &reqwest::Client,
    target: &Target,
    token: &str,
    duration: Duration,
) -> anyhow::Result<Histogram<u64>> {
    let mut client = DriverClient::new(&target.ws_base(), token, Encoding::Bincode);
    client.connect(false).await?;
    let mut hist = micros_histogram();
    let end = Instant::now() + duration;
    let mut i = 0u64;
    // The probe stays on a line of its own, far from the fleet, so k=1 finds it.
    while Instant::now() < end {
        i += 1;
        let lat = 61.0 + (i % 1000) as f64 * 1e-4;
        let lon = 26.0;
        let t0 = Instant::now();
        client.send_position((lat, lon)).await?;
        let url = format!(
            "{}/v1/drivers/nearest?lat={lat}&lon={lon}&k=1&status=any",
            target.base
        );
        loop {
            let body: Value = http
                .get(&url)
                .bearer_auth(&target.console)
                .send()
                .await?
                .json()
                .await?;
            let hit = &body["drivers"][0];
            if hit["lat"].as_f64() == Some(lat) {
                break;
            }
            if t0.elapsed() > Duration::from_secs(5) {
                bail!("probe position not visible after 5 s");
            }
        }
        hist.record(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX))?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(hist)
}
