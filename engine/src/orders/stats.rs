//! Live totals for dispatch consoles (`stats` messages, `GET /v1/stats`): fleet and
//! order counts, and assignment latency percentiles over a sliding window. Prometheus
//! histograms only bound a percentile by their buckets and never forget; a console
//! wants "p99 of the last minute" in milliseconds.

use super::book::OrderBook;
use crate::time::now_ms;
use dispatch_protocol::DriverCounts;
use dispatch_protocol::{LatencySummary, Stats};
use hdrhistogram::Histogram;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Latencies of the last `window` (between half of it and all of it): two histograms of
/// half a window each; the older one is dropped when the newer one has been filling for
/// half a window.
pub struct LatencyWindow {
    half: Duration,
    inner: Mutex<Halves>,
}

struct Halves {
    current: Histogram<u64>,
    previous: Histogram<u64>,
    started: Instant,
}

/// Microseconds from 1 µs to one hour, three significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

impl LatencyWindow {
    pub fn new(window: Duration) -> Self {
        Self {
            half: (window / 2).max(Duration::from_millis(1)),
            inner: Mutex::new(Halves {
                current: histogram(),
                previous: histogram(),
                started: Instant::now(),
            }),
        }
    }

    pub fn record(&self, latency: Duration) {
        self.record_at(latency, Instant::now());
    }

    fn record_at(&self, latency: Duration, now: Instant) {
        let mut h = self.inner.lock().expect("latency window lock");
        self.rotate(&mut h, now);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        h.current.saturating_record(us.max(1));
    }

    pub fn summary(&self) -> LatencySummary {
        self.summary_at(Instant::now())
    }

    fn summary_at(&self, now: Instant) -> LatencySummary {
        let mut h = self.inner.lock().expect("latency window lock");
        self.rotate(&mut h, now);
        let mut all = h.previous.clone();
        all.add(&h.current).expect("same bounds");
        if all.is_empty() {
            return LatencySummary::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: all.len(),
            p50_ms: ms(all.value_at_quantile(0.50)),
            p90_ms: ms(all.value_at_quantile(0.90)),
            p99_ms: ms(all.value_at_quantile(0.99)),
            max_ms: ms(all.max()),
        }
    }

    fn rotate(&self, h: &mut Halves, now: Instant) {
        let age = now.saturating_duration_since(h.started);
        if age < self.half {
            return;
        }
        if age >= self.half * 2 {
            // Nothing recorded in the last half window belongs to the new one either.
            h.previous.reset();
            h.current.reset();
        } else {
            std::mem::swap(&mut h.previous, &mut h.current);
            h.current.reset();
        }
        h.started = now;
    }
}

/// What the live totals are made of beyond the registries: created → assigned and
/// created → route pushed as the driver actors record them, and the last totals
/// collected (every console asks every `console.stats_ms`; they share one collection).
pub struct LiveStats {
    pub window: Duration,
    pub assign: LatencyWindow,
    pub route: LatencyWindow,
    last: Mutex<Option<(Instant, Stats)>>,
}

/// Totals younger than this are served again instead of counting the fleet anew.
const REUSE_FOR: Duration = Duration::from_millis(100);

impl LiveStats {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            assign: LatencyWindow::new(window),
            route: LatencyWindow::new(window),
            last: Mutex::new(None),
        }
    }
}

/// The engine's live totals (collected at most every `REUSE_FOR`; `drivers` counts the
/// fleet, called only when the cached totals are too old).
pub fn collect(
    live: &LiveStats,
    book: &OrderBook,
    drivers: impl FnOnce() -> DriverCounts,
) -> Stats {
    let mut last = live.last.lock().expect("stats cache lock");
    if let Some((at, stats)) = last.as_ref() {
        if at.elapsed() < REUSE_FOR {
            return stats.clone();
        }
    }
    let stats = Stats {
        ts_ms: now_ms(),
        drivers: drivers(),
        orders: book.counts(),
        assign_latency: live.assign.summary(),
        route_latency: live.route.summary(),
        window_s: u32::try_from(live.window.as_secs()).unwrap_or(u32::MAX),
    };
    *last = Some((Instant::now(), stats.clone()));
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_what_was_recorded() {
        let w = LatencyWindow::new(Duration::from_secs(60));
        assert_eq!(w.summary().count, 0);
        let t0 = Instant::now();
        for ms in 1..=100u64 {
            w.record_at(Duration::from_millis(ms), t0);
        }
        let s = w.summary_at(t0);
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() < 0.1, "{s:?}");
        assert!((s.max_ms - 100.0).abs() < 0.1, "{s:?}");
    }

    #[test]
    fn old_samples_leave_the_window() {
        let w = LatencyWindow::new(Duration::from_secs(60));
        let t0 = Instant::now();
        w.record_at(Duration::from_millis(500), t0);
        // Half a window later the sample is in the older half: still counted.
        let t1 = t0 + Duration::from_secs(31);
        w.record_at(Duration::from_millis(5), t1);
        let s = w.summary_at(t1);
        assert_eq!(s.count, 2);
        assert!((s.max_ms - 500.0).abs() < 1.0, "{s:?}");
        // Another half later the first sample is gone, the second still counted.
        let s = w.summary_at(t1 + Duration::from_secs(31));
        assert_eq!(s.count, 1);
        assert!((s.max_ms - 5.0).abs() < 0.1, "{s:?}");
        // A whole window of silence forgets everything.
        let s = w.summary_at(t1 + Duration::from_secs(200));
        assert_eq!(s, LatencySummary::default());
    }
}
