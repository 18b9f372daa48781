//! What the order run knows of each order it posts.

use crate::common::micros_histogram;
use dispatch_protocol::RouteStop;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Instant;

/// Order ids are `<prefix><n>`; per order n: when its POST was sent, what came back,
/// and when a route first held it (nanoseconds since `base` + 1; 0 = not yet).
pub struct Tracker {
    base: Instant,
    prefix: String,
    pub sent_ns: Vec<AtomicU64>,
    pub routed_ns: Vec<AtomicU64>,
    pub state: Vec<AtomicU8>,
}

pub const SENT: u8 = 1;
pub const CREATED: u8 = 2;
pub const EXISTING: u8 = 3;
pub const FAILED: u8 = 4;

impl Tracker {
    pub fn new(prefix: String, n: usize) -> Self {
        Self {
            base: Instant::now(),
            prefix,
            sent_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
            routed_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
            state: (0..n).map(|_| AtomicU8::new(0)).collect(),
        }
    }

    pub fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    pub fn id(&self, n: usize) -> String {
        format!("{}{n}", self.prefix)
    }

    fn index(&self, order_id: &str) -> Option<usize> {
        order_id
            .strip_prefix(&self.prefix)?
            .parse::<usize>()
            .ok()
            .filter(|&n| n < self.routed_ns.len())
    }

    pub fn saw_route(&self, stops: &[RouteStop]) {
        let mut now = 0;
        for s in stops {
            if let Some(n) = self.index(&s.order_id) {
                if now == 0 {
                    now = self.now();
                }
                let _ = self.routed_ns[n].compare_exchange(
                    0,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
    }

    pub fn is_created(&self, n: usize) -> bool {
        matches!(self.state[n].load(Ordering::Relaxed), CREATED | EXISTING)
    }

    pub fn unrouted(&self) -> usize {
        (0..self.state.len())
            .filter(|&n| self.is_created(n) && self.routed_ns[n].load(Ordering::Relaxed) == 0)
            .count()
    }

    pub fn routed(&self) -> usize {
        self.routed_ns
            .iter()
            .filter(|r| r.load(Ordering::Relaxed) != 0)
            .count()
    }
}

/// What became of the orders: counts, the latency of those routed, and the ids of the
/// created ones no route held.
pub struct Outcomes {
    pub scheduled: usize,
    pub sent: usize,
    pub created: usize,
    pub existing: usize,
    /// POST sent → a route holding it, µs.
    pub latency: Histogram<u64>,
    pub unrouted: Vec<String>,
}

impl Tracker {
    pub fn outcomes(&self) -> Outcomes {
        let mut o = Outcomes {
            scheduled: self.state.len(),
            sent: 0,
            created: 0,
            existing: 0,
            latency: micros_histogram(),
            unrouted: Vec::new(),
        };
        for n in 0..self.state.len() {
            let state = self.state[n].load(Ordering::Relaxed);
            if state != 0 {
                o.sent += 1;
            }
            match state {
                CREATED => o.created += 1,
                EXISTING => o.existing += 1,
                _ => continue,
            }
            let (s, r) = (
                self.sent_ns[n].load(Ordering::Relaxed),
                self.routed_ns[n].load(Ordering::Relaxed),
            );
            if r == 0 {
                o.unrouted.push(self.id(n));
            } else {
                o.latency.saturating_record(r.saturating_sub(s) / 1000);
            }
        }
        o
    }
}
