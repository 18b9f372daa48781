//! The order system: posts the planned orders over HTTP at their simulated times
//! (`POST /v1/orders`, console token) and cancels the planned share
//! (`POST /v1/orders/{id}/cancel`). Engine-facing times are real epoch milliseconds
//! of the simulated moments; service times are scaled by the speed-up.

use super::clock::Clock;
use super::demand::PlannedOrder;
use super::metrics::{Stats, CANCELLED, CANCEL_REFUSED, CREATED, POST_FAILED};
use crate::common::error_code;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

pub struct Intake {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub stats: Arc<Stats>,
    pub planned: Arc<Vec<PlannedOrder>>,
    pub clock: Clock,
    /// The orders' `service_s` as the engine sees it (scenario service time / speed-up).
    pub engine_service_s: u32,
    /// Orders whose POST has been started.
    pub sent: AtomicUsize,
}

/// The JSON body of one planned order.
pub fn body(id: &str, o: &PlannedOrder, clock: &Clock, service_s: u32) -> Value {
    let mut pickup = json!({"lat": o.pickup.0, "lon": o.pickup.1, "service_s": service_s});
    let mut dropoff = json!({"lat": o.dropoff.0, "lon": o.dropoff.1, "service_s": service_s});
    if o.dropoff_due_s.is_some() || o.pickup_due_s.is_some() {
        pickup["ready_ms"] = clock.epoch_ms_at(o.at_s).into();
    }
    if let Some(due) = o.pickup_due_s {
        pickup["due_ms"] = clock.epoch_ms_at(due).into();
    }
    if let Some(due) = o.dropoff_due_s {
        dropoff["due_ms"] = clock.epoch_ms_at(due).into();
    }
    json!({"id": id, "pickup": pickup, "dropoff": dropoff, "size": o.size})
}

impl Intake {
    /// Posts every planned order at its time (at most `max_inflight` POSTs in flight;
    /// beyond that the schedule slips). Returns when all have answered or at `stop`.
    pub async fn post_orders(
        self: Arc<Self>,
        max_inflight: usize,
        mut stop: watch::Receiver<bool>,
    ) {
        let sem = Arc::new(Semaphore::new(max_inflight));
        let mut inflight = JoinSet::new();
        for (n, o) in self.planned.iter().enumerate() {
            tokio::select! {
                _ = tokio::time::sleep_until(self.clock.instant_at(o.at_s)) => {}
                _ = stop.changed() => break,
            }
            let Ok(permit) = sem.clone().acquire_owned().await else {
                break;
            };
            let this = self.clone();
            this.sent.store(n + 1, Relaxed);
            inflight.spawn(async move {
                let _permit = permit;
                this.post_one(n).await;
            });
            while inflight.try_join_next().is_some() {}
        }
        while inflight.join_next().await.is_some() {}
    }

    async fn post_one(&self, n: usize) {
        let o = &self.planned[n];
        let id = self.stats.order_id(n);
        let body = body(&id, o, &self.clock, self.engine_service_s);
        let track = &self.stats.orders[n];
        track.sent_ns.store(self.stats.now_ns(), Relaxed);
        let resp = self
            .http
            .post(format!("{}/v1/orders", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await;
        match resp {
            Ok(r) if r.status().as_u16() == 201 || r.status().as_u16() == 200 => {
                let _ = r.bytes().await;
                track.set(CREATED);
                self.stats.minute(o.at_s).created.fetch_add(1, Relaxed);
            }
            Ok(r) => {
                track.set(POST_FAILED);
                let code = error_code(r).await;
                self.stats.error(format!("create:{code}"), &self.clock);
            }
            Err(_) => {
                track.set(POST_FAILED);
                self.stats.error("create:transport", &self.clock);
            }
        }
    }

    /// Cancels the planned share at its times. An order already picked up answers 409:
    /// the order system lost the race, which is counted apart (not an error).
    pub async fn cancel_orders(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut due: Vec<(f64, usize)> = self
            .planned
            .iter()
            .enumerate()
            .filter_map(|(n, o)| o.cancel_at_s.map(|t| (t, n)))
            .collect();
        due.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut inflight = JoinSet::new();
        for (t, n) in due {
            tokio::select! {
                _ = tokio::time::sleep_until(self.clock.instant_at(t)) => {}
                _ = stop.changed() => break,
            }
            let this = self.clone();
            inflight.spawn(async move { this.cancel_one(n).await });
            while inflight.try_join_next().is_some() {}
        }
        while inflight.join_next().await.is_some() {}
    }

    async fn cancel_one(&self, n: usize) {
        let track = &self.stats.orders[n];
        // The creation may still be in flight (a cancel delay of 0, or a slow POST).
        for _ in 0..200 {
            if track.has(CREATED | POST_FAILED) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if !track.has(CREATED) {
            return;
        }
        let id = self.stats.order_id(n);
        // Marked first, so a driver's `stop_done` racing this cancel is recognised.
        track.set(CANCELLED);
        let resp = self
            .http
            .post(format!("{}/v1/orders/{id}/cancel", self.base))
            .bearer_auth(&self.token)
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
            }
            Ok(r) if r.status().as_u16() == 409 => {
                let _ = r.bytes().await;
                track.flags.fetch_and(!CANCELLED, Relaxed);
                track.set(CANCEL_REFUSED);
                self.stats.cancel_refused.fetch_add(1, Relaxed);
            }
            Ok(r) => {
                track.flags.fetch_and(!CANCELLED, Relaxed);
                let code = error_code(r).await;
                self.stats.error(format!("cancel:{code}"), &self.clock);
            }
            Err(_) => {
                track.flags.fetch_and(!CANCELLED, Relaxed);
                self.stats.error("cancel:transport", &self.clock);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_scales_times_to_the_engine_clock() {
        let clock = Clock::start(60.0);
        let o = PlannedOrder {
            at_s: 600.0,
            pickup: (60.1, 24.9),
            dropoff: (60.2, 25.0),
            size: 2,
            pickup_due_s: None,
            dropoff_due_s: Some(600.0 + 3600.0),
            cancel_at_s: None,
            fails: false,
        };
        let b = body("o1", &o, &clock, 2);
        let ready = b["pickup"]["ready_ms"].as_u64().unwrap();
        let due = b["dropoff"]["due_ms"].as_u64().unwrap();
        // One simulated hour at 60x is one real minute.
        assert_eq!(due - ready, 60_000);
        assert_eq!(ready, clock.epoch_ms_at(0.0) + 10_000);
        assert_eq!(b["size"], 2);
        assert_eq!(b["dropoff"]["service_s"], 2);
        assert!(b["pickup"].get("due_ms").is_none());
    }
}
