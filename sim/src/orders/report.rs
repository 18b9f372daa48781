//! What the order run reports (`--json` or the human summary), and how it reads the
//! orders that never got routed.

use super::bot::BotStats;
use super::post::PostStats;
use super::tracker::Outcomes;
use super::Args;
use crate::common::{bucket_quantile, counter_deltas, prom_buckets, Summary};
use crate::target::Target;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Serialize)]
pub struct Report {
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
    /// Connection attempts turned away before bots' sockets opened (each retried).
    connect_retries: u64,
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

/// What the engine says of the orders no route held: status counts over the first 200,
/// and a sample of five.
#[derive(Default)]
pub struct Unrouted {
    pub by_status: BTreeMap<String, u64>,
    pub sample: Vec<Value>,
}

impl Unrouted {
    pub async fn read(http: &reqwest::Client, engine: &Target, ids: &[String]) -> Self {
        let mut u = Self::default();
        for id in ids.iter().take(200) {
            let got = http
                .get(format!("{}/v1/orders/{id}", engine.base))
                .bearer_auth(&engine.console)
                .send()
                .await;
            let order: Value = match got {
                Ok(r) => r.json().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            };
            let status = order["status"].as_str().unwrap_or("?").to_string();
            *u.by_status.entry(status.clone()).or_default() += 1;
            if u.sample.len() < 5 {
                let last = order["history"]
                    .as_array()
                    .and_then(|h| h.last().cloned())
                    .unwrap_or(Value::Null);
                u.sample.push(json!({
                    "id": id, "status": status, "driver_id": order["driver_id"], "last": last,
                }));
            }
        }
        u
    }
}

/// Everything the run measured, before it becomes a `Report`.
pub struct Measured {
    pub engine: String,
    pub tick_ms: Option<u64>,
    pub connected: usize,
    pub outcomes: Outcomes,
    pub unrouted: Unrouted,
    pub posts: PostStats,
    pub post_elapsed_s: f64,
    pub stats: Arc<BotStats>,
    pub ended_ok: u64,
    /// `/metrics` before the first order and after the grace.
    pub metrics: (String, String),
}

impl Report {
    pub fn new(args: &Args, m: Measured) -> Self {
        let (before, after) = &m.metrics;
        let (pb, pa) = (
            prom_buckets(before, PUSH_HIST),
            prom_buckets(after, PUSH_HIST),
        );
        let (o, s, posts) = (&m.outcomes, &m.stats, m.posts);
        let mut bots_ended = std::mem::take(&mut *s.ended.lock().expect("lock"));
        bots_ended.insert("ok".into(), m.ended_ok);
        Self {
            engine: m.engine,
            tick_ms: m.tick_ms,
            drivers: args.drivers,
            drivers_connected: m.connected,
            capacity: args.capacity,
            rate: args.rate,
            duration_s: args.duration,
            grace_s: args.grace,
            stop_ms: args.stop_ms,
            orders_scheduled: o.scheduled,
            orders_sent: o.sent,
            orders_created: o.created,
            orders_existing: o.existing,
            post_errors: posts.errors.into_inner().expect("lock"),
            created_per_s: o.created as f64 / m.post_elapsed_s,
            max_schedule_lag_ms: posts.max_lag_us.load(Ordering::Relaxed) as f64 / 1000.0,
            orders_routed: o.created + o.existing - o.unrouted.len(),
            orders_unrouted: o.unrouted.len(),
            created_to_route_pushed: Summary::of(&o.latency),
            post_latency: Summary::of(&posts.latency.into_inner().expect("lock")),
            engine_route_pushed_p50_le_s: bucket_quantile(&pb, &pa, 0.5),
            engine_route_pushed_p99_le_s: bucket_quantile(&pb, &pa, 0.99),
            engine_counters: counter_deltas(&COUNTERS, before, after),
            routes_received: s.routes.load(Ordering::Relaxed),
            positions_sent: s.positions.load(Ordering::Relaxed),
            stop_done_sent: s.stop_done.load(Ordering::Relaxed),
            stop_acks: s.acks.load(Ordering::Relaxed),
            delivered_acked: s.delivered.load(Ordering::Relaxed),
            stops_abandoned: s.abandoned.load(Ordering::Relaxed),
            stop_errors: std::mem::take(&mut *s.errors.lock().expect("lock")),
            bots_ended,
            connect_retries: s.connect_retries.load(Ordering::Relaxed),
            unrouted_by_status: m.unrouted.by_status,
            unrouted_sample: m.unrouted.sample,
        }
    }
}

pub fn print_human(r: &Report) {
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
    println!("connect retries       {}", r.connect_retries);
    println!("engine counters (Δ)   {:?}", r.engine_counters);
}
