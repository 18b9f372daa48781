//! Durable order creation throughput: C concurrent HTTP clients POST orders as fast as
//! the engine answers for `--duration` seconds. Each 201 is durable (the engine answers
//! after the group commit's fsync), so 201s per second are durable orders per second.
//! No drivers: the orders end unassignable, which is fine for this measurement.

use crate::common::{
    http_client, metric_sum, metrics_text, micros_histogram, order_body, random_trip, run_prefix,
    wait_healthy, Summary, HELSINKI,
};
use crate::target::EngineArgs;
use anyhow::bail;
use rand::SeedableRng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Concurrent HTTP clients (each keeps one request in flight).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds of posting.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Serialize)]
struct Report {
    engine: String,
    concurrency: usize,
    duration_s: f64,
    created: u64,
    created_per_s: f64,
    other_status: BTreeMap<String, u64>,
    transport_errors: u64,
    post_latency: Summary,
    engine_orders_created: f64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.duration == 0 {
        bail!("--concurrency and --duration must be positive");
    }
    let target = args.engine.open().await?;
    let http = http_client(args.concurrency)?;
    wait_healthy(&http, &target.base).await?;
    let base = target.base.clone();
    let metrics_before = metrics_text(&http, &base).await;
    let prefix = Arc::new(run_prefix());
    let next = Arc::new(AtomicU64::new(0));
    eprintln!(
        "posting orders with {} clients for {} s",
        args.concurrency, args.duration
    );
    let started = Instant::now();
    let end = started + Duration::from_secs(args.duration);
    let mut workers = JoinSet::new();
    for w in 0..args.concurrency {
        let (http, url, console) = (
            http.clone(),
            format!("{base}/v1/orders"),
            target.console.clone(),
        );
        let (prefix, next) = (prefix.clone(), next.clone());
        let seed = args.seed.wrapping_mul(7_919).wrapping_add(w as u64);
        workers.spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut hist = micros_histogram();
            let mut created = 0u64;
            let mut transport = 0u64;
            let mut other: BTreeMap<String, u64> = BTreeMap::new();
            while Instant::now() < end {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let body = order_body(
                    &format!("{prefix}{n}"),
                    random_trip(&mut rng, &HELSINKI, 1_000.0, 3_000.0),
                    None,
                );
                let t0 = Instant::now();
                match http
                    .post(&url)
                    .bearer_auth(&console)
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let _ = r.bytes().await;
                        if status == 201 {
                            created += 1;
                            hist.saturating_record(
                                u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX),
                            );
                        } else {
                            *other.entry(format!("http {status}")).or_default() += 1;
                        }
                    }
                    Err(_) => {
                        transport += 1;
                        // Do not spin on a dead engine.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (hist, created, transport, other)
        });
    }
    let mut hist = micros_histogram();
    let (mut created, mut transport) = (0u64, 0u64);
    let mut other: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(r) = workers.join_next().await {
        let (h, c, t, o) = r?;
        hist.add(&h)?;
        created += c;
        transport += t;
        for (k, v) in o {
            *other.entry(k).or_default() += v;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let metrics_after = metrics_text(&http, &base).await;
    let engine = target.label();
    target.close().await?;
    let name = "dispatch_orders_created_total";
    let report = Report {
        engine,
        concurrency: args.concurrency,
        duration_s: elapsed,
        created,
        created_per_s: created as f64 / elapsed,
        other_status: other,
        transport_errors: transport,
        post_latency: Summary::of(&hist),
        engine_orders_created: metric_sum(&metrics_after, name) - metric_sum(&metrics_before, name),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("engine                {}", report.engine);
        println!(
            "created (201)         {} in {:.1} s = {:.0} durable orders/s with {} clients",
            report.created, report.duration_s, report.created_per_s, report.concurrency
        );
        println!(
            "errors                other statuses {:?}, transport {}",
            report.other_status, report.transport_errors
        );
        println!("POST /v1/orders (201) {}", report.post_latency);
        println!(
            "engine counter        dispatch_orders_created_total Δ {:.0}",
            report.engine_orders_created
        );
    }
    Ok(())
}
