//! Reveals the instance's requests to the engine as orders (`POST /v1/orders`): each at
//! its reveal time on the replay's clock, with the instance's windows as epoch
//! milliseconds and its service times in whole wall-clock seconds.

use super::bot::Shared;
use super::instance::{Clock, Instance};
use super::LilimArgs;
use crate::common::error_code;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::JoinSet;

/// When each request is revealed (instance time, request index), in order: all at
/// `--lead-s` before 0 with `--static`, else at its ready time or `margin` before the last moment a
/// vehicle waiting at the depot could still serve it.
pub fn schedule(a: &LilimArgs, inst: &Instance, margin: f64, lead: f64) -> Vec<(f64, usize)> {
    let mut schedule: Vec<(f64, usize)> = inst
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let at = if a.static_reveal {
                -lead
            } else {
                inst.reveal_at(*r, a.strict_ready, margin)
            };
            (at, i)
        })
        .collect();
    schedule.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    schedule
}

/// The engine and what the POSTs record: per request, when it was revealed (ns since
/// `shared.base` + 1), and errors in `shared`.
pub struct Poster {
    pub http: reqwest::Client,
    pub base: String,
    pub console: String,
    pub shared: Arc<Shared>,
    pub order_ids: Arc<Vec<String>>,
    pub reveal_ns: Arc<Vec<AtomicU64>>,
}

impl Poster {
    /// Posts every request at its time on `clock`; returns when all have answered.
    pub async fn reveal(self: Arc<Self>, schedule: Vec<(f64, usize)>, clock: Clock) {
        let mut posts = JoinSet::new();
        for (at, i) in schedule {
            tokio::time::sleep_until(clock.at(at)).await;
            let body = self.order(i, &clock);
            posts.spawn(self.clone().post(i, body));
            while posts.try_join_next().is_some() {}
        }
        while posts.join_next().await.is_some() {}
    }

    fn order(&self, i: usize, clock: &Clock) -> Value {
        let inst = &self.shared.inst;
        let r = inst.requests[i];
        let stop = |node: usize| {
            let n = &inst.problem.nodes[node];
            let (lat, lon) = clock.world.latlon(inst.xy[node]);
            json!({
                "lat": lat, "lon": lon,
                "ready_ms": clock.epoch_ms(n.ready),
                "due_ms": clock.epoch_ms(n.due),
                "service_s": clock.world.service_s(n.service),
            })
        };
        json!({
            "id": self.order_ids[i],
            "pickup": stop(r.pickup),
            "dropoff": stop(r.delivery),
            "size": inst.problem.nodes[r.pickup].demand.max(1),
        })
    }

    async fn post(self: Arc<Self>, i: usize, body: Value) {
        let shared = &self.shared;
        self.reveal_ns[i].store(
            u64::try_from(shared.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1,
            Ordering::Relaxed,
        );
        let sent = self
            .http
            .post(format!("{}/v1/orders", self.base))
            .bearer_auth(&self.console)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => {}
            Ok(resp) => shared.bump_error(error_code(resp).await),
            Err(_) => shared.bump_error("transport"),
        }
    }
}
