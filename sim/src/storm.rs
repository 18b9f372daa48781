//! `dispatch-sim storm`: the reconnect storm. N driver sockets hold routes; at one
//! instant every socket drops and reconnects (`hello` with `resume_seq`); each must get
//! back, in its `welcome`, the route it last saw (or a newer version). Reports the
//! reconnect latency percentiles, failures and mismatches.

use crate::client::{DriverClient, Incoming};
use crate::common::{
    http_client, micros_histogram, order_body, random_trip, register_drivers, run_prefix,
    wait_healthy, Summary, HELSINKI,
};
use crate::target::{EngineArgs, Target};
use anyhow::{bail, Context};
use dispatch_protocol::{DriverStatus, Encoding, Route, ServerMessage};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Driver sockets.
    #[arg(long, default_value_t = 1_000)]
    pub drivers: usize,
    /// Orders created before the storm (so drivers hold routes), as a share of drivers.
    #[arg(long, default_value_t = 0.5)]
    pub orders_per_driver: f64,
    /// Seconds to let the matcher route the orders before the storm.
    #[arg(long, default_value_t = 5)]
    pub settle_s: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// What one driver saw across the storm.
#[derive(Debug)]
enum Outcome {
    /// Reconnected; `matched` when the welcome's route is the last one seen (or newer).
    Resumed {
        reconnect: Duration,
        matched: bool,
        had_stops: bool,
    },
    Failed(String),
}

/// One driver: online with a route, then at the storm its socket drops and it comes
/// straight back with `resume_seq`; the `welcome` must hold the route it last saw.
async fn driver(
    mut client: DriverClient,
    at: (f64, f64),
    gate: Arc<Semaphore>,
    mut storm: watch::Receiver<bool>,
    ready: tokio::sync::mpsc::Sender<()>,
) -> Outcome {
    let run = async {
        let mut last: Route = {
            let _handshake = gate.acquire().await?;
            client.connect(false).await?
        };
        client.send_status(DriverStatus::Available).await?;
        client.send_position(at).await?;
        let _ = ready.send(()).await;
        loop {
            tokio::select! {
                _ = storm.changed() => break,
                m = client.recv() => match m {
                    Incoming::Message(ServerMessage::Route { route }) => last = route,
                    Incoming::Message(_) | Incoming::Other => {}
                    Incoming::Closed { .. } => bail!("socket ended before the storm"),
                },
            }
        }
        // The storm: drop the socket and come straight back.
        client.drop_socket();
        let t0 = Instant::now();
        let route = client.connect(true).await.context("reconnect")?;
        let reconnect = t0.elapsed();
        let matched = route.version > last.version || route == last;
        Ok::<_, anyhow::Error>(Outcome::Resumed {
            reconnect,
            matched,
            had_stops: !route.stops.is_empty(),
        })
    };
    run.await
        .unwrap_or_else(|e| Outcome::Failed(format!("{e:#}")))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let target = args.engine.open().await?;
    let http = http_client(64)?;
    wait_healthy(&http, &target.base).await?;
    let prefix = run_prefix();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let ids: Vec<String> = (0..args.drivers)
        .map(|i| format!("{prefix}st{i}"))
        .collect();
    let tokens = register_drivers(&http, (&target.base, &target.console), &ids, Some(4)).await?;
    let (storm_tx, storm_rx) = watch::channel(false);
    let (bots, online) = connect(&args, &target, &tokens, &mut rng, storm_rx).await;
    // Orders, so that drivers hold routes.
    let n_orders = (args.drivers as f64 * args.orders_per_driver).round() as usize;
    post_orders(&http, &target, (&prefix, n_orders), &mut rng).await?;
    eprintln!("{n_orders} orders created; settling {} s", args.settle_s);
    tokio::time::sleep(Duration::from_secs(args.settle_s)).await;
    // The storm.
    let started = Instant::now();
    storm_tx.send(true).ok();
    let mut t = Tally::new();
    for b in bots {
        t.add(b.await?);
    }
    let storm_s = started.elapsed().as_secs_f64();
    let summary = Summary::of(&t.reconnect);
    let failed = t.failures.len();
    let out = serde_json::json!({
        "drivers": args.drivers,
        "online": online,
        "orders": n_orders,
        "resumed": t.resumed,
        "resumed_with_stops": t.with_stops,
        "mismatched_routes": t.mismatched,
        "failed": failed,
        "storm_wall_s": storm_s,
        "reconnect": summary,
        "engine": target.base,
    });
    if args.json {
        println!("{out}");
    } else {
        println!("drivers               {online} online of {}", args.drivers);
        println!("orders before storm   {n_orders}");
        println!(
            "resumed               {} ({} with stops), route mismatches {}, failures {failed}",
            t.resumed, t.with_stops, t.mismatched
        );
        println!("storm                 all reconnected in {storm_s:.2} s");
        println!(
            "reconnect → welcome   p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
            summary.p50_ms, summary.p90_ms, summary.p99_ms, summary.max_ms
        );
        for f in t.failures.iter().take(5) {
            println!("failure               {f}");
        }
    }
    target.close().await?;
    if t.mismatched > 0 || failed > 0 {
        bail!(
            "{} drivers resumed another route, {failed} failed",
            t.mismatched
        );
    }
    Ok(())
}

/// Starts one driver per token at a random point (at most 500 handshakes at once) and
/// waits until they are online (60 s at most between two); answers how many are.
async fn connect(
    args: &Args,
    target: &Target,
    tokens: &[String],
    rng: &mut StdRng,
    storm: watch::Receiver<bool>,
) -> (Vec<JoinHandle<Outcome>>, usize) {
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(args.drivers.max(1));
    let connect_gate = Arc::new(Semaphore::new(500));
    let mut bots = Vec::with_capacity(args.drivers);
    for token in tokens {
        let client = DriverClient::new(&target.ws_base(), token, Encoding::Bincode);
        let at = HELSINKI.random_point(rng);
        let (rx, ready, gate) = (storm.clone(), ready_tx.clone(), connect_gate.clone());
        bots.push(tokio::spawn(driver(client, at, gate, rx, ready)));
    }
    drop(ready_tx);
    let mut online = 0;
    while online < args.drivers {
        match tokio::time::timeout(Duration::from_secs(60), ready_rx.recv()).await {
            Ok(Some(())) => online += 1,
            _ => break,
        }
    }
    eprintln!("{online}/{} drivers online", args.drivers);
    (bots, online)
}

/// Posts `n` orders `<prefix>so<i>` (64 in flight at most) and waits for their answers.
async fn post_orders(
    http: &reqwest::Client,
    target: &Target,
    (prefix, n): (&str, usize),
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let sem = Arc::new(Semaphore::new(64));
    let mut posts = Vec::new();
    for i in 0..n {
        let trip = random_trip(rng, &HELSINKI, 1_000.0, 3_000.0);
        let request = http
            .post(format!("{}/v1/orders", target.base))
            .bearer_auth(&target.console)
            .json(&order_body(&format!("{prefix}so{i}"), trip, None));
        let sem = sem.clone();
        posts.push(tokio::spawn(async move {
            let _p = sem.acquire().await;
            request.send().await.map(|r| r.status().as_u16())
        }));
    }
    for p in posts {
        let _ = p.await?;
    }
    Ok(())
}

/// The storm's outcomes over all drivers.
struct Tally {
    resumed: usize,
    mismatched: usize,
    with_stops: usize,
    failures: Vec<String>,
    /// Socket dropped → `welcome` again, µs.
    reconnect: Histogram<u64>,
}

impl Tally {
    fn new() -> Self {
        Self {
            resumed: 0,
            mismatched: 0,
            with_stops: 0,
            failures: Vec::new(),
            reconnect: micros_histogram(),
        }
    }

    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Resumed {
                reconnect,
                matched,
                had_stops,
            } => {
                self.resumed += 1;
                let _ = self.reconnect.record(reconnect.as_micros() as u64);
                if !matched {
                    self.mismatched += 1;
                }
                if had_stops {
                    self.with_stops += 1;
                }
            }
            Outcome::Failed(why) => self.failures.push(why),
        }
    }
}
