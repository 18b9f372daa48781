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
use hdrhistogram::Histogram;
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
    let metrics_before = metrics_text(&http, &target.base).await;
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
        let url = format!("{}/v1/orders", target.base);
        let client = (http.clone(), url, target.console.clone());
        let ids = (prefix.clone(), next.clone());
        let seed = args.seed.wrapping_mul(7_919).wrapping_add(w as u64);
        workers.spawn(post_until(end, client, ids, seed));
    }
    let mut total = Posted::new();
    while let Some(r) = workers.join_next().await {
        total.add(r?)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let metrics_after = metrics_text(&http, &target.base).await;
    let engine = target.label();
    target.close().await?;
    let name = "dispatch_orders_created_total";
    let report = Report {
        engine,
        concurrency: args.concurrency,
        duration_s: elapsed,
        created: total.created,
        created_per_s: total.created as f64 / elapsed,
        other_status: total.other,
        transport_errors: total.transport,
        post_latency: Summary::of(&total.latency),
        engine_orders_created: metric_sum(&metrics_after, name) - metric_sum(&metrics_before, name),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(())
}

/// What one client's POSTs got.
struct Posted {
    /// POST latency of the 201s, µs.
    latency: Histogram<u64>,
    created: u64,
    transport: u64,
    other: BTreeMap<String, u64>,
}

impl Posted {
    fn new() -> Self {
        Self {
            latency: micros_histogram(),
            created: 0,
            transport: 0,
            other: BTreeMap::new(),
        }
    }

    fn add(&mut self, o: Posted) -> anyhow::Result<()> {
        self.latency.add(&o.latency)?;
        self.created += o.created;
        self.transport += o.transport;
        for (k, v) in o.other {
            *self.other.entry(k).or_default() += v;
        }
        Ok(())
    }
}

/// One client: POSTs order after order (ids `<prefix><n>` from the shared counter)
/// until `end`.
async fn post_until(
    end: Instant,
    (http, url, console): (reqwest::Client, String, String),
    (prefix, next): (Arc<String>, Arc<AtomicU64>),
    seed: u64,
) -> Posted {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut p = Posted::new();
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
                    p.created += 1;
                    p.latency.saturating_record(
                        u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX),
                    );
                } else {
                    *p.other.entry(format!("http {status}")).or_default() += 1;
                }
            }
            Err(_) => {
                p.transport += 1;
                // Do not spin on a dead engine.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    p
}

fn print_human(report: &Report) {
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
