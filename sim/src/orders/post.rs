//! The order side of the order run: orders posted on a fixed schedule (open loop, at
//! most `--max-inflight` in flight; beyond that the schedule slips and the lag is
//! reported), and the progress line every 5 s.

use super::bot::{bump, BotStats};
use super::tracker::{Tracker, CREATED, EXISTING, FAILED, SENT};
use super::Args;
use crate::common::{micros_histogram, now_ms, order_body, random_trip, HELSINKI};
use hdrhistogram::Histogram;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

pub struct PostStats {
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// POST latency of the created orders, µs.
    pub latency: Mutex<Histogram<u64>>,
    pub max_lag_us: AtomicU64,
}

/// Posts the tracker's orders at `--rate` from now; returns the stats and the seconds
/// it took once every POST has answered.
pub async fn post_orders(
    args: &Args,
    http: &reqwest::Client,
    (base, console): (&str, &str),
    tracker: &Arc<Tracker>,
) -> anyhow::Result<(PostStats, f64)> {
    let posts = Arc::new(PostStats {
        errors: Mutex::default(),
        latency: Mutex::new(micros_histogram()),
        max_lag_us: AtomicU64::new(0),
    });
    let started = Instant::now();
    let sem = Arc::new(Semaphore::new(args.max_inflight));
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed ^ 0x5eed_04de);
    let every = Duration::from_secs_f64(1.0 / args.rate);
    let mut inflight = JoinSet::new();
    for n in 0..tracker.state.len() {
        let at = started + every.mul_f64(n as f64);
        tokio::time::sleep_until(at.into()).await;
        let permit = sem.clone().acquire_owned().await?;
        let lag = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
        posts.max_lag_us.fetch_max(lag, Ordering::Relaxed);
        let trip = random_trip(&mut rng, &args.area.unwrap_or(HELSINKI), 1_000.0, 3_000.0);
        let due = args.due_s.map(|s| now_ms() + s * 1000);
        let body = order_body(&tracker.id(n), trip, due);
        let request = http
            .post(format!("{base}/v1/orders"))
            .bearer_auth(console)
            .json(&body);
        let (tracker, posts) = (tracker.clone(), posts.clone());
        inflight.spawn(async move {
            let _permit = permit;
            post_one(request, n, &tracker, &posts).await;
        });
        while inflight.try_join_next().is_some() {}
    }
    while inflight.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let posts = Arc::into_inner(posts).expect("every POST has answered");
    Ok((posts, elapsed))
}

async fn post_one(
    request: reqwest::RequestBuilder,
    n: usize,
    tracker: &Tracker,
    posts: &PostStats,
) {
    tracker.state[n].store(SENT, Ordering::Relaxed);
    tracker.sent_ns[n].store(tracker.now(), Ordering::Relaxed);
    let t0 = Instant::now();
    let outcome = match request.send().await {
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
            posts.latency.lock().expect("lock").saturating_record(us);
        }
        Err(e) => {
            tracker.state[n].store(FAILED, Ordering::Relaxed);
            bump(&posts.errors, e);
        }
    }
}

/// A progress line every 5 s until `stop`.
pub async fn progress(
    tracker: Arc<Tracker>,
    stats: Arc<BotStats>,
    mut stop: watch::Receiver<bool>,
) {
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
        let stop_done = stats.stop_done.load(Ordering::Relaxed);
        let unacked = stop_done - stats.acks.load(Ordering::Relaxed).min(stop_done);
        eprintln!(
            "t={:>3.0}s created={created} routed={} unrouted={} routes={} delivered={} stop_done_unacked={unacked}",
            started.elapsed().as_secs_f64(),
            tracker.routed(),
            tracker.unrouted(),
            stats.routes.load(Ordering::Relaxed),
            stats.delivered.load(Ordering::Relaxed),
        );
    }
}
