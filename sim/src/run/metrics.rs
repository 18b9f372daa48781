//! What a run measures while it runs (lock-free per-order and per-minute counters, two
//! latency histograms) and how that becomes a `report::Report` with budgets.

use super::clock::Clock;
use super::demand::PlannedOrder;
use crate::common::{micros_histogram, prom_buckets, Summary};
use crate::report::{BudgetResult, Latencies, Minute, Percentiles, Report, Totals};
use crate::scenario::{clock_label, Budgets};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

// Order flags.
pub const CREATED: u32 = 1;
pub const POST_FAILED: u32 = 1 << 1;
pub const UNASSIGNABLE: u32 = 1 << 2;
pub const PICKED_UP: u32 = 1 << 3;
pub const DELIVERED: u32 = 1 << 4;
pub const FAILED: u32 = 1 << 5;
pub const CANCELLED: u32 = 1 << 6;
pub const CANCEL_REFUSED: u32 = 1 << 7;
pub const FINISHED: u32 = DELIVERED | FAILED | CANCELLED | POST_FAILED;

/// One order as the simulator saw it. Real times are nanoseconds since the tracker's
/// base + 1 (0: not yet); simulated arrivals are milliseconds since the start + 1.
#[derive(Default)]
pub struct OrderTrack {
    pub sent_ns: AtomicU64,
    pub assigned_ns: AtomicU64,
    pub routed_ns: AtomicU64,
    pub pickup_arrived_ms: AtomicU64,
    pub dropoff_arrived_ms: AtomicU64,
    pub flags: AtomicU32,
}

impl OrderTrack {
    pub fn has(&self, flag: u32) -> bool {
        self.flags.load(Relaxed) & flag != 0
    }

    /// Sets `flag`; true when this call set it first.
    pub fn set(&self, flag: u32) -> bool {
        self.flags.fetch_or(flag, Relaxed) & flag == 0
    }
}

/// One simulated minute's counters.
#[derive(Default)]
pub struct MinuteAcc {
    pub created: AtomicU64,
    pub assigned: AtomicU64,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub unassignable: AtomicU64,
    pub positions: AtomicU64,
    pub errors: AtomicU64,
    /// Driver-milliseconds (simulated) on shift and available, and of those with at
    /// least one order on the route.
    pub online_ms: AtomicU64,
    pub busy_ms: AtomicU64,
}

pub struct Stats {
    pub base: Instant,
    pub prefix: String,
    pub orders: Vec<OrderTrack>,
    pub minutes: Vec<MinuteAcc>,
    pub assigned_hist: Mutex<Histogram<u64>>,
    pub routed_hist: Mutex<Histogram<u64>>,
    pub errors: Mutex<BTreeMap<String, u64>>,
    pub positions: AtomicU64,
    pub disconnects: AtomicU64,
    pub reconnects: AtomicU64,
    /// Metres driven (along road paths, or straight lines × detour), summed over the fleet.
    pub metres: AtomicU64,
    /// Legs towards a stop driven along the road path the route carried.
    pub legs_on_roads: AtomicU64,
    /// Legs towards a stop driven in a straight line (no path, or one too far to join).
    pub legs_straight: AtomicU64,
    pub cancel_refused: AtomicU64,
    pub stop_races: AtomicU64,
    pub drivers_online: AtomicU64,
    /// Driver batches the console missed (the engine's `dropped`).
    pub console_dropped: AtomicU64,
}

impl Stats {
    pub fn new(prefix: String, orders: usize, minutes: usize) -> Self {
        Self {
            base: Instant::now(),
            prefix,
            orders: (0..orders).map(|_| OrderTrack::default()).collect(),
            minutes: (0..minutes.max(1)).map(|_| MinuteAcc::default()).collect(),
            assigned_hist: Mutex::new(micros_histogram()),
            routed_hist: Mutex::new(micros_histogram()),
            errors: Mutex::new(BTreeMap::new()),
            positions: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            metres: AtomicU64::new(0),
            legs_on_roads: AtomicU64::new(0),
            legs_straight: AtomicU64::new(0),
            cancel_refused: AtomicU64::new(0),
            stop_races: AtomicU64::new(0),
            drivers_online: AtomicU64::new(0),
            console_dropped: AtomicU64::new(0),
        }
    }

    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    pub fn order_id(&self, n: usize) -> String {
        format!("{}{n}", self.prefix)
    }

    pub fn index(&self, order_id: &str) -> Option<usize> {
        order_id
            .strip_prefix(&self.prefix)?
            .parse::<usize>()
            .ok()
            .filter(|&n| n < self.orders.len())
    }

    /// The accumulator of the simulated minute holding `t_s` (clamped to the run).
    pub fn minute(&self, t_s: f64) -> &MinuteAcc {
        let m = (t_s.max(0.0) / 60.0) as usize;
        &self.minutes[m.min(self.minutes.len() - 1)]
    }

    pub fn error(&self, code: impl Into<String>, clock: &Clock) {
        *self
            .errors
            .lock()
            .expect("errors lock")
            .entry(code.into())
            .or_default() += 1;
        self.minute(clock.now_s()).errors.fetch_add(1, Relaxed);
    }

    pub fn error_count(&self) -> u64 {
        self.errors.lock().expect("errors lock").values().sum()
    }

    /// The console saw order `n` assigned.
    pub fn saw_assigned(&self, n: usize, clock: &Clock) {
        let t = &self.orders[n];
        let now = self.now_ns();
        if t.assigned_ns
            .compare_exchange(0, now, Relaxed, Relaxed)
            .is_ok()
        {
            self.minute(clock.now_s()).assigned.fetch_add(1, Relaxed);
            let sent = t.sent_ns.load(Relaxed);
            if sent != 0 {
                self.assigned_hist
                    .lock()
                    .expect("histogram lock")
                    .saturating_record(now.saturating_sub(sent) / 1000);
            }
        }
    }

    pub fn saw_unassignable(&self, n: usize, clock: &Clock) {
        if self.orders[n].set(UNASSIGNABLE) {
            self.minute(clock.now_s())
                .unassignable
                .fetch_add(1, Relaxed);
        }
    }

    /// A bot received a route holding order `n`.
    pub fn saw_route(&self, n: usize) {
        let t = &self.orders[n];
        if t.routed_ns.load(Relaxed) != 0 {
            return;
        }
        let now = self.now_ns();
        if t.routed_ns
            .compare_exchange(0, now, Relaxed, Relaxed)
            .is_ok()
        {
            let sent = t.sent_ns.load(Relaxed);
            if sent != 0 {
                self.routed_hist
                    .lock()
                    .expect("histogram lock")
                    .saturating_record(now.saturating_sub(sent) / 1000);
            }
        }
    }

    pub fn counts(&self) -> (u64, u64, u64) {
        let (mut created, mut delivered, mut open) = (0, 0, 0);
        for t in &self.orders {
            let f = t.flags.load(Relaxed);
            if f & CREATED != 0 {
                created += 1;
                if f & DELIVERED != 0 {
                    delivered += 1;
                }
                if f & FINISHED == 0 {
                    open += 1;
                }
            }
        }
        (created, delivered, open)
    }

    /// Orders created and not yet delivered, failed or cancelled; orders whose POST was
    /// sent but has not answered count as open too.
    pub fn open_orders(&self, sent_upto: usize) -> u64 {
        self.orders[..sent_upto.min(self.orders.len())]
            .iter()
            .filter(|t| t.flags.load(Relaxed) & FINISHED == 0)
            .count() as u64
    }

    pub fn route_p99_ms(&self) -> f64 {
        Summary::of(&self.routed_hist.lock().expect("histogram lock")).p99_ms
    }
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let s = Summary::of(h);
    Percentiles {
        n: s.n,
        p50_ms: s.p50_ms,
        p90_ms: s.p90_ms,
        p99_ms: s.p99_ms,
        max_ms: s.max_ms,
    }
}

/// `part` of `whole` in percent; of nothing it is all (no pickup was late).
fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        100.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Fills the report's totals, latencies, minutes and errors from what the run saw (its
/// `wall_s` and `simulated_s` already set).
pub fn fill(report: &mut Report, stats: &Stats, planned: &[PlannedOrder], start_s: f64) {
    let (mut t, route_by_minute) = order_totals(stats, planned);
    fleet_totals(&mut t, stats, report.wall_s);
    report.totals = t;
    report.latency = Latencies {
        created_to_assigned: percentiles(&stats.assigned_hist.lock().expect("histogram lock")),
        created_to_route: percentiles(&stats.routed_hist.lock().expect("histogram lock")),
    };
    // Minutes the run reached (it ends early once every order is finished).
    let reached = ((report.simulated_s / 60.0).ceil() as usize).clamp(1, stats.minutes.len());
    report.minutes = stats.minutes[..reached]
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let h = Summary::of(&route_by_minute[i]);
            let (online, busy) = (m.online_ms.load(Relaxed), m.busy_ms.load(Relaxed));
            Minute {
                minute: i as u32,
                clock: clock_label(start_s + i as f64 * 60.0),
                created: m.created.load(Relaxed),
                assigned: m.assigned.load(Relaxed),
                delivered: m.delivered.load(Relaxed),
                failed: m.failed.load(Relaxed),
                unassignable: m.unassignable.load(Relaxed),
                positions: m.positions.load(Relaxed),
                created_to_route_p50_ms: h.p50_ms,
                created_to_route_p99_ms: h.p99_ms,
                utilisation_pct: share_pct(busy, online),
                errors: m.errors.load(Relaxed),
            }
        })
        .collect();
    report.errors = stats.errors.lock().expect("errors lock").clone();
}

/// The order counts and on-time shares, and per minute of creation the created →
/// route latencies (µs).
fn order_totals(stats: &Stats, planned: &[PlannedOrder]) -> (Totals, Vec<Histogram<u64>>) {
    let mut t = Totals::default();
    let (mut pick_on_time, mut drop_on_time) = (0u64, 0u64);
    let mut route_by_minute: Vec<Histogram<u64>> =
        stats.minutes.iter().map(|_| micros_histogram()).collect();
    // Arrived (simulated ms + 1; 0: never) no later than the due time, if any.
    let on_time = |at: u64, due: Option<f64>| !matches!(due, Some(due) if at != 0 && (at - 1) as f64 > due * 1000.0);
    for (n, track) in stats.orders.iter().enumerate() {
        let f = track.flags.load(Relaxed);
        if f & CREATED == 0 {
            continue;
        }
        let o = &planned[n];
        t.created += 1;
        t.assigned += u64::from(track.assigned_ns.load(Relaxed) != 0);
        t.unassignable += u64::from(f & UNASSIGNABLE != 0);
        t.cancelled += u64::from(f & CANCELLED != 0);
        t.failed += u64::from(f & FAILED != 0);
        if f & PICKED_UP != 0 {
            t.picked_up += 1;
            pick_on_time += u64::from(on_time(
                track.pickup_arrived_ms.load(Relaxed),
                o.pickup_due_s,
            ));
        }
        if f & DELIVERED != 0 {
            t.delivered += 1;
            drop_on_time += u64::from(on_time(
                track.dropoff_arrived_ms.load(Relaxed),
                o.dropoff_due_s,
            ));
        }
        let (sent, routed) = (track.sent_ns.load(Relaxed), track.routed_ns.load(Relaxed));
        if sent != 0 && routed != 0 {
            let m = ((o.at_s / 60.0) as usize).min(route_by_minute.len() - 1);
            route_by_minute[m].saturating_record(routed.saturating_sub(sent) / 1000);
        }
    }
    t.on_time_pickup_pct = pct(pick_on_time, t.picked_up);
    t.on_time_delivery_pct = pct(drop_on_time, t.delivered);
    (t, route_by_minute)
}

/// The fleet's distance, utilisation, positions and socket injections.
fn fleet_totals(t: &mut Totals, stats: &Stats, wall_s: f64) {
    t.km_driven = stats.metres.load(Relaxed) as f64 / 1000.0;
    t.km_per_delivered = if t.delivered == 0 {
        0.0
    } else {
        t.km_driven / t.delivered as f64
    };
    let (online, busy) = stats.minutes.iter().fold((0u64, 0u64), |(o, b), m| {
        (o + m.online_ms.load(Relaxed), b + m.busy_ms.load(Relaxed))
    });
    t.utilisation_pct = share_pct(busy, online);
    t.positions_sent = stats.positions.load(Relaxed);
    t.positions_per_s = if wall_s > 0.0 {
        t.positions_sent as f64 / wall_s
    } else {
        0.0
    };
    t.disconnects_injected = stats.disconnects.load(Relaxed);
    t.reconnects = stats.reconnects.load(Relaxed);
}

/// `part` of `whole` in percent (0 when `whole` is 0).
fn share_pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Checks every budget the scenario sets against the filled report.
pub fn budgets(b: &Budgets, r: &Report) -> Vec<BudgetResult> {
    checks(b, r)
        .into_iter()
        .filter_map(|(name, limit, actual, bound)| {
            let limit = limit?;
            Some(BudgetResult {
                name: name.to_string(),
                limit,
                actual,
                passed: match bound {
                    Bound::AtMost => actual <= limit,
                    Bound::AtLeast => actual >= limit,
                },
            })
        })
        .collect()
}

/// Which side of its limit a budget's actual value must stay.
enum Bound {
    AtMost,
    AtLeast,
}

/// Every budget in report order: name, limit (when the scenario sets one), actual.
fn checks(b: &Budgets, r: &Report) -> [(&'static str, Option<f64>, f64, Bound); 10] {
    use Bound::{AtLeast, AtMost};
    let t = &r.totals;
    let a = &r.latency.created_to_assigned;
    let rt = &r.latency.created_to_route;
    // A latency budget with no samples is missed: nothing was measured.
    let lat = |p: &Percentiles, v: f64| if p.n == 0 { f64::INFINITY } else { v };
    let unassignable = share_pct(t.unassignable, t.created);
    let delivered = share_pct(t.delivered, t.created.saturating_sub(t.cancelled));
    let errors = r.errors.values().sum::<u64>() as f64;
    [
        (
            "p50_created_to_assigned_ms",
            b.p50_created_to_assigned_ms,
            lat(a, a.p50_ms),
            AtMost,
        ),
        (
            "p99_created_to_assigned_ms",
            b.p99_created_to_assigned_ms,
            lat(a, a.p99_ms),
            AtMost,
        ),
        (
            "p50_created_to_route_ms",
            b.p50_created_to_route_ms,
            lat(rt, rt.p50_ms),
            AtMost,
        ),
        (
            "p99_created_to_route_ms",
            b.p99_created_to_route_ms,
            lat(rt, rt.p99_ms),
            AtMost,
        ),
        ("max_errors", b.max_errors.map(|v| v as f64), errors, AtMost),
        (
            "max_unassignable_pct",
            b.max_unassignable_pct,
            unassignable,
            AtMost,
        ),
        ("min_delivered_pct", b.min_delivered_pct, delivered, AtLeast),
        (
            "min_delivered_on_time_pct",
            b.min_delivered_on_time_pct,
            t.on_time_delivery_pct,
            AtLeast,
        ),
        (
            "min_pickup_on_time_pct",
            b.min_pickup_on_time_pct,
            t.on_time_pickup_pct,
            AtLeast,
        ),
        (
            "min_positions_per_s",
            b.min_positions_per_s,
            t.positions_per_s,
            AtLeast,
        ),
    ]
}

/// The report's engine metrics: the selected series of the final `/metrics` scrape and
/// the simulator's own race counters.
pub fn fill_engine_metrics(report: &mut Report, stats: &Stats, text: &str) {
    report.engine_metrics = engine_metrics(text);
    for (k, v) in [
        (
            "sim:cancel_refused_after_pickup",
            stats.cancel_refused.load(Relaxed),
        ),
        ("sim:stop_done_cancel_races", stats.stop_races.load(Relaxed)),
        ("sim:legs_on_roads", stats.legs_on_roads.load(Relaxed)),
        ("sim:legs_straight", stats.legs_straight.load(Relaxed)),
        (
            "sim:console_driver_batches_dropped",
            stats.console_dropped.load(Relaxed),
        ),
    ] {
        report.engine_metrics.insert(k.to_string(), v as f64);
    }
}

/// The engine series kept in the report (every label set of each).
pub const ENGINE_SERIES: [&str; 26] = [
    "dispatch_orders_created_total",
    "dispatch_orders_finished_total",
    "dispatch_orders_open",
    "dispatch_proposals_accepted_total",
    "dispatch_proposals_rejected_total",
    "dispatch_orders_unassignable_total",
    "dispatch_orders_given_back_total",
    "dispatch_orders_rebalanced_total",
    "dispatch_replans_total",
    "dispatch_positions_applied_total",
    "dispatch_positions_dropped_total",
    "dispatch_mailbox_full_total",
    "dispatch_ws_errors_total",
    "dispatch_watcher_batches_dropped_total",
    "dispatch_order_watcher_dropped_total",
    "dispatch_connections",
    "dispatch_region_handoffs_total",
    "dispatch_regions",
    // Re-optimisation: searches by outcome, what they changed, and their size and work
    // (histogram sums and counts: mean orders and iterations per search).
    "dispatch_reopt_runs_total",
    "dispatch_reopt_routes_changed_total",
    "dispatch_reopt_moved_orders_total",
    "dispatch_reopt_seconds_sum",
    "dispatch_reopt_orders_sum",
    "dispatch_reopt_orders_count",
    "dispatch_reopt_iterations_sum",
    "dispatch_reopt_iterations_count",
];

/// Engine histograms summarised by the upper bound of the bucket holding p50 / p99.
pub const ENGINE_HISTOGRAMS: [&str; 4] = [
    "dispatch_order_created_to_assigned_seconds",
    "dispatch_order_created_to_route_pushed_seconds",
    "dispatch_match_tick_seconds",
    "dispatch_http_request_duration_seconds",
];

/// The selected series of a `/metrics` scrape: `name{labels}` → value, plus
/// `<histogram>:p50_le` / `:p99_le` / `:count` (bucket bounds: Prometheus buckets only
/// bound a quantile; +Inf is reported as -1).
pub fn engine_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = key.split('{').next().unwrap_or(key);
        if ENGINE_SERIES.contains(&name) {
            if let Ok(v) = value.parse::<f64>() {
                *out.entry(key.to_string()).or_insert(0.0) += v;
            }
        }
    }
    for h in ENGINE_HISTOGRAMS {
        let buckets = prom_buckets(text, h);
        let Some(&(_, total)) = buckets.last() else {
            continue;
        };
        out.insert(format!("{h}:count"), total);
        for (label, q) in [("p50_le", 0.5), ("p99_le", 0.99)] {
            if let Some(le) = crate::common::bucket_quantile(&[], &buckets, q) {
                out.insert(
                    format!("{h}:{label}"),
                    if le.is_finite() { le } else { -1.0 },
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_pass_and_fail() {
        let mut r = Report::default();
        r.totals.created = 100;
        r.totals.delivered = 95;
        r.totals.cancelled = 2;
        r.totals.on_time_delivery_pct = 99.0;
        r.totals.unassignable = 1;
        r.latency.created_to_assigned = Percentiles {
            n: 100,
            p50_ms: 10.0,
            p90_ms: 20.0,
            p99_ms: 60.0,
            max_ms: 80.0,
        };
        r.errors.insert("not_found".into(), 1);
        let b = Budgets {
            p99_created_to_assigned_ms: Some(50.0),
            max_errors: Some(0),
            min_delivered_pct: Some(96.0),
            min_delivered_on_time_pct: Some(99.0),
            max_unassignable_pct: Some(1.0),
            p99_created_to_route_ms: Some(1000.0),
            ..Budgets::default()
        };
        let res = budgets(&b, &r);
        let get = |n: &str| res.iter().find(|x| x.name == n).unwrap().clone();
        assert!(!get("p99_created_to_assigned_ms").passed);
        assert!(!get("max_errors").passed);
        // 95 of 98 not cancelled = 96.9 %.
        assert!(get("min_delivered_pct").passed);
        assert!(get("min_delivered_on_time_pct").passed);
        assert!(get("max_unassignable_pct").passed);
        // No route samples: the budget is missed, not vacuously met.
        assert!(!get("p99_created_to_route_ms").passed);
        assert_eq!(res.len(), 6);
    }

    #[test]
    fn engine_metrics_keep_the_selected_series() {
        let text = "# HELP x\ndispatch_orders_open 3\ndispatch_positions_dropped_total{reason=\"coalesced\"} 5\nother_total 9\ndispatch_match_tick_seconds_bucket{le=\"0.01\"} 9\ndispatch_match_tick_seconds_bucket{le=\"+Inf\"} 10\n";
        let m = engine_metrics(text);
        assert_eq!(m["dispatch_orders_open"], 3.0);
        assert_eq!(
            m["dispatch_positions_dropped_total{reason=\"coalesced\"}"],
            5.0
        );
        assert!(!m.contains_key("other_total"));
        assert_eq!(m["dispatch_match_tick_seconds:count"], 10.0);
        assert_eq!(m["dispatch_match_tick_seconds:p50_le"], 0.01);
        assert_eq!(m["dispatch_match_tick_seconds:p99_le"], -1.0);
    }
}
