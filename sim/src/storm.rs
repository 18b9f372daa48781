//! `dispatch-sim storm`: the reconnect storm. N driver sockets hold routes; at one
//! instant every socket drops and reconnects (`hello` with `resume_seq`); each must get
//! back, in its `welcome`, the route it last saw (or a newer version). Reports the
//! reconnect latency percentiles, failures and mismatches.

use crate::common::{
    http_client, micros_histogram, order_body, random_trip, run_prefix, wait_healthy, EngineArgs,
    Summary, Target, HELSINKI,
};
use anyhow::{bail, Context};
use dispatch_protocol::{
    decode_raw, encode, ClientFrame, DriverMessage, DriverStatus, Encoded, Encoding, Route,
    ServerFrame, ServerMessage,
};
use futures_util::{SinkExt, StreamExt};
use rand::SeedableRng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

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

fn frame(msg: DriverMessage) -> Message {
    match encode(Encoding::Bincode, &ClientFrame { seq: None, msg }) {
        Encoded::Binary(b) => Message::Binary(b.into()),
        Encoded::Text(t) => Message::Text(t.into()),
    }
}

fn decode(msg: &Message) -> Option<ServerMessage> {
    let f: ServerFrame = match msg {
        Message::Binary(b) => decode_raw(Encoding::Bincode, b, usize::MAX).ok()?,
        Message::Text(t) => decode_raw(Encoding::Json, t.as_bytes(), usize::MAX).ok()?,
        _ => return None,
    };
    Some(f.msg)
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

async fn driver(
    url: String,
    at: (f64, f64),
    mut storm: watch::Receiver<bool>,
    ready: tokio::sync::mpsc::Sender<()>,
) -> Outcome {
    let run = async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .context("connect")?;
        ws.send(frame(DriverMessage::Hello { resume_seq: None }))
            .await?;
        let mut last: Route = match ws.next().await.context("no welcome")?.map(|m| decode(&m))? {
            Some(ServerMessage::Welcome { route, .. }) => route,
            other => bail!("expected welcome, got {other:?}"),
        };
        ws.send(frame(DriverMessage::Status {
            status: DriverStatus::Available,
        }))
        .await?;
        ws.send(frame(DriverMessage::Position {
            lat: at.0,
            lon: at.1,
            ts_ms: crate::common::now_ms(),
            speed_mps: None,
            heading_deg: None,
        }))
        .await?;
        let _ = ready.send(()).await;
        let mut seq = 0u64;
        loop {
            tokio::select! {
                _ = storm.changed() => break,
                m = ws.next() => match m {
                    Some(Ok(m)) => {
                        seq += 1;
                        if let Some(ServerMessage::Route { route }) = decode(&m) {
                            last = route;
                        }
                    }
                    _ => bail!("socket ended before the storm"),
                },
            }
        }
        // The storm: drop the socket and come straight back.
        drop(ws);
        let t0 = Instant::now();
        let (mut ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .context("reconnect")?;
        ws.send(frame(DriverMessage::Hello {
            resume_seq: Some(seq),
        }))
        .await?;
        let route = match ws
            .next()
            .await
            .context("no welcome after reconnect")?
            .map(|m| decode(&m))?
        {
            Some(ServerMessage::Welcome { route, .. }) => route,
            other => bail!("expected welcome after reconnect, got {other:?}"),
        };
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
    let target = Target::open(&args.engine).await?;
    let http = http_client(64)?;
    wait_healthy(&http, &target.base).await?;
    let prefix = run_prefix();
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    // Register.
    let sem = Arc::new(Semaphore::new(64));
    let mut regs = Vec::new();
    for i in 0..args.drivers {
        let (http, base, console, sem) = (
            http.clone(),
            target.base.clone(),
            target.console.clone(),
            sem.clone(),
        );
        let id = format!("{prefix}st{i}");
        regs.push(tokio::spawn(async move {
            let _p = sem.acquire().await?;
            let r = http
                .post(format!("{base}/v1/drivers"))
                .bearer_auth(&console)
                .json(&serde_json::json!({"id": id, "capacity": 4}))
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("register {id}: {}", r.status());
            }
            let v: serde_json::Value = r.json().await?;
            Ok::<_, anyhow::Error>(v["token"].as_str().context("token")?.to_string())
        }));
    }
    let mut tokens = Vec::with_capacity(args.drivers);
    for r in regs {
        tokens.push(r.await??);
    }
    // Connect every driver (at most 500 handshakes at once).
    let (storm_tx, storm_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(args.drivers.max(1));
    let connect_gate = Arc::new(Semaphore::new(500));
    let mut bots = Vec::with_capacity(args.drivers);
    for token in &tokens {
        let url = format!("{}/ws/driver?token={token}", target.ws_base());
        let at = HELSINKI.random_point(&mut rng);
        let (rx, ready, gate) = (storm_rx.clone(), ready_tx.clone(), connect_gate.clone());
        bots.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let fut = driver(url, at, rx, ready);
            drop(permit);
            fut.await
        }));
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
    // Orders, so that drivers hold routes.
    let n_orders = (args.drivers as f64 * args.orders_per_driver).round() as usize;
    let mut posts = Vec::new();
    for i in 0..n_orders {
        let trip = random_trip(&mut rng, &HELSINKI, 1_000.0, 3_000.0);
        let body = order_body(&format!("{prefix}so{i}"), trip, None);
        let (http, base, console, sem) = (
            http.clone(),
            target.base.clone(),
            target.console.clone(),
            sem.clone(),
        );
        posts.push(tokio::spawn(async move {
            let _p = sem.acquire().await;
            http.post(format!("{base}/v1/orders"))
                .bearer_auth(&console)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for p in posts {
        let _ = p.await?;
    }
    eprintln!("{n_orders} orders created; settling {} s", args.settle_s);
    tokio::time::sleep(Duration::from_secs(args.settle_s)).await;
    // The storm.
    let started = Instant::now();
    storm_tx.send(true).ok();
    let mut hist = micros_histogram();
    let (mut resumed, mut mismatched, mut with_stops) = (0usize, 0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();
    for b in bots {
        match b.await? {
            Outcome::Resumed {
                reconnect,
                matched,
                had_stops,
            } => {
                resumed += 1;
                let _ = hist.record(reconnect.as_micros() as u64);
                if !matched {
                    mismatched += 1;
                }
                if had_stops {
                    with_stops += 1;
                }
            }
            Outcome::Failed(why) => failures.push(why),
        }
    }
    let storm_s = started.elapsed().as_secs_f64();
    let summary = Summary::of(&hist);
    let out = serde_json::json!({
        "drivers": args.drivers,
        "online": online,
        "orders": n_orders,
        "resumed": resumed,
        "resumed_with_stops": with_stops,
        "mismatched_routes": mismatched,
        "failed": failures.len(),
        "storm_wall_s": storm_s,
        "reconnect": summary,
        "engine": target.base,
    });
    if args.json {
        println!("{out}");
    } else {
        println!(
            "drivers               {} online of {}",
            online, args.drivers
        );
        println!("orders before storm   {n_orders}");
        println!("resumed               {resumed} ({with_stops} with stops), route mismatches {mismatched}, failures {}", failures.len());
        println!("storm                 all reconnected in {storm_s:.2} s");
        println!(
            "reconnect → welcome   p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
            summary.p50_ms, summary.p90_ms, summary.p99_ms, summary.max_ms
        );
        for f in failures.iter().take(5) {
            println!("failure               {f}");
        }
    }
    target.close().await?;
    if mismatched > 0 || !failures.is_empty() {
        bail!(
            "{mismatched} drivers resumed another route, {} failed",
            failures.len()
        );
    }
    Ok(())
}
