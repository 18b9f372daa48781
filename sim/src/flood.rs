//! Hostile connections: N raw TCP connections that misbehave the ways a slowloris
//! attack does (half a request head, one byte, nothing at all; none carries a token)
//! stay open while honest clients keep asking — token-less `GET /healthz` and
//! console-token `GET /v1/stats`, each on a fresh connection. Reports whether every
//! honest request was answered, its latency, and how many misbehaving connections the
//! engine still held at the end (the unauthenticated cap closes the oldest ones).

use crate::common::{metric_sum, metrics_text, micros_histogram, wait_healthy, Summary};
use crate::target::EngineArgs;
use anyhow::{bail, Context};
use serde::Serialize;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Misbehaving connections to open and hold.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Honest requests made while they are open (half token-less, half with the
    /// console token).
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Serialize)]
struct Report {
    engine: String,
    connections_opened: usize,
    connect_errors: usize,
    honest_requests: usize,
    honest_answered_200: usize,
    honest_latency: Summary,
    /// Misbehaving connections the engine had not closed when the run ended.
    still_open_at_end: usize,
    engine_unauthenticated_closed: f64,
    engine_rss_mib: f64,
}

/// The ways a connection misbehaves, in turn: half a head, one byte, nothing.
const OPENINGS: [&[u8]; 3] = [b"GET / HTTP/1.1\r\nHo", b"G", b""];

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.connections == 0 || args.requests == 0 {
        bail!("--connections and --requests must be positive");
    }
    let target = args.engine.open().await?;
    let http = reqwest::Client::new();
    wait_healthy(&http, &target.base).await?;
    let addr = target.base.trim_start_matches("http://").to_string();
    let mut held = Vec::with_capacity(args.connections);
    let mut connect_errors = 0;
    for i in 0..args.connections {
        match TcpStream::connect(&addr).await {
            Ok(mut s) => {
                let _ = s.write_all(OPENINGS[i % OPENINGS.len()]).await;
                held.push(s);
            }
            Err(_) => connect_errors += 1,
        }
    }
    let mut latency = micros_histogram();
    let mut ok = 0;
    for i in 0..args.requests {
        let token = (i % 2 == 1).then_some(target.console.as_str());
        let path = if token.is_some() {
            "/v1/stats"
        } else {
            "/healthz"
        };
        let started = Instant::now();
        if honest_get(&addr, path, token).await? == 200 {
            ok += 1;
        }
        let _ = latency.record(started.elapsed().as_micros() as u64);
    }
    let still_open = count_open(&mut held).await;
    let metrics = metrics_text(&http, &target.base).await;
    let report = Report {
        engine: target.label(),
        connections_opened: held.len(),
        connect_errors,
        honest_requests: args.requests,
        honest_answered_200: ok,
        honest_latency: Summary::of(&latency),
        still_open_at_end: still_open,
        engine_unauthenticated_closed: metric_sum(
            &metrics,
            "dispatch_limited_total{limit=\"unauthenticated_connections\"}",
        ),
        engine_rss_mib: metric_sum(&metrics, "process_resident_memory_bytes") / 1048576.0,
    };
    drop(held);
    target.close().await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(())
}

/// One request on a fresh connection with `Connection: close`; the status code.
async fn honest_get(addr: &str, path: &str, token: Option<&str>) -> anyhow::Result<u16> {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
        s.write_all(head.as_bytes()).await?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await?;
        anyhow::Ok(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .context("an honest request got no answer within 10 s")??;
    let status = String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(status)
}

/// How many of the held connections the engine has not closed: a closed one reads
/// end-of-file (or an error) at once, an open one has nothing to read.
async fn count_open(held: &mut [TcpStream]) -> usize {
    let mut open = 0;
    for s in held.iter_mut() {
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(1), s.read(&mut byte)).await {
            Err(_) => open += 1,
            Ok(Ok(n)) if n > 0 => open += 1,
            Ok(_) => {}
        }
    }
    open
}

fn print_human(r: &Report) {
    println!("engine                {}", r.engine);
    println!(
        "misbehaving           {} connections held ({} could not connect)",
        r.connections_opened, r.connect_errors
    );
    let l = &r.honest_latency;
    println!(
        "honest requests       {} of {} answered 200; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        r.honest_answered_200, r.honest_requests, l.p50_ms, l.p99_ms, l.max_ms
    );
    println!(
        "at the end            {} misbehaving connections still open at the engine; {} closed by the unauthenticated cap; engine RSS {:.0} MiB",
        r.still_open_at_end, r.engine_unauthenticated_closed, r.engine_rss_mib
    );
}
