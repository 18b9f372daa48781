//! A bot's simulated world: it drives towards the next stop at the scenario's speed,
//! along the stop's road path when the route carries one, else in a straight line
//! (positions follow from simulated time only), dwells for the service time, reports
//! the stop done and goes on; a new plan is followed from where it is.

use super::leg::Leg;
use super::{Bot, Phase};
use crate::client;
use crate::common::haversine_m;
use dispatch_protocol::{RouteStop, StopKind, StopOutcome};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

impl Bot {
    pub(super) fn move_to(&mut self, p: (f64, f64)) {
        self.metres += haversine_m(self.pos, p) * self.fleet.detour;
        self.pos = p;
    }

    /// `d` metres along `leg` (the part since the last call counted as driven).
    fn drive_along(&mut self, leg: &Leg, d: f64) {
        self.metres += (d - self.leg_m).max(0.0);
        self.leg_m = d;
        self.pos = leg.at(d);
    }

    /// Sets out along `leg` at `t` (towards `stop`, or home).
    fn set_out(&mut self, leg: Leg, stop: Option<RouteStop>, t: f64) {
        self.leg_m = 0.0;
        let arrive_s = t + leg.length_m() / self.fleet.speed_mps;
        self.phase = Phase::Driving {
            leg: Arc::new(leg),
            stop,
            depart_s: t,
            arrive_s,
        };
    }

    pub(super) fn order_of(&self, stop: &RouteStop) -> Option<usize> {
        self.fleet.stats.index(&stop.order_id)
    }

    pub(super) fn arrive(&mut self, stop: &RouteStop, t: f64) {
        if let Some(n) = self.order_of(stop) {
            let track = &self.fleet.stats.orders[n];
            let cell = match stop.kind {
                StopKind::Pickup => &track.pickup_arrived_ms,
                StopKind::Dropoff => &track.dropoff_arrived_ms,
            };
            let _ = cell.compare_exchange(0, (t * 1000.0) as u64 + 1, Relaxed, Relaxed);
        }
    }

    /// Heads for the plan's first stop from where the bot is at `t` (or home, or stays).
    pub(super) fn next_target(&mut self, t: f64) {
        if let Some(first) = self.plan.first().cloned() {
            let to = (first.lat, first.lon);
            let d = haversine_m(self.pos, to);
            if d < 1.0 {
                self.move_to(to);
                self.arrive(&first, t);
                self.phase = Phase::Dwelling {
                    stop: first,
                    until_s: t + self.fleet.service_s,
                };
            } else {
                let on_roads = first
                    .path
                    .as_deref()
                    .and_then(|p| Leg::along(self.pos, p, to));
                let stats = &self.fleet.stats;
                let counter = match on_roads {
                    Some(_) => &stats.legs_on_roads,
                    None => &stats.legs_straight,
                };
                counter.fetch_add(1, Relaxed);
                let leg =
                    on_roads.unwrap_or_else(|| Leg::straight(self.pos, to, self.fleet.detour));
                self.set_out(leg, Some(first), t);
            }
            return;
        }
        let home = if self.ending {
            None
        } else {
            self.fleet
                .homes
                .iter()
                .copied()
                .min_by(|a, b| haversine_m(self.pos, *a).total_cmp(&haversine_m(self.pos, *b)))
        };
        match home {
            Some(h) if haversine_m(self.pos, h) >= 1.0 => {
                let leg = Leg::straight(self.pos, h, self.fleet.detour);
                self.set_out(leg, None, t);
            }
            _ => self.phase = Phase::Idle,
        }
    }

    /// Plays the simulated world forward to `now`: arrivals, dwell ends, `stop_done`.
    pub(super) async fn advance(&mut self, now: f64) {
        loop {
            match self.phase.clone() {
                Phase::Driving {
                    leg,
                    stop,
                    depart_s,
                    arrive_s,
                } => {
                    if now >= arrive_s {
                        self.drive_along(&leg, leg.length_m());
                        match stop {
                            Some(stop) => {
                                // Pickups are ready at creation, so never before arrival.
                                self.arrive(&stop, arrive_s);
                                self.phase = Phase::Dwelling {
                                    stop,
                                    until_s: arrive_s + self.fleet.service_s,
                                };
                            }
                            None => self.phase = Phase::Idle,
                        }
                    } else {
                        let f = ((now - depart_s) / (arrive_s - depart_s)).clamp(0.0, 1.0);
                        self.drive_along(&leg, f * leg.length_m());
                        return;
                    }
                }
                Phase::Dwelling { stop, until_s } if now >= until_s => {
                    self.complete(stop, until_s).await;
                }
                _ => return,
            }
        }
    }

    /// The stop is served at `t`: report it (or hold it while the socket is down) and
    /// go on with the plan.
    pub(super) async fn complete(&mut self, stop: RouteStop, t: f64) {
        if !self.client.is_connected() {
            self.phase = Phase::Holding { stop };
            return;
        }
        let outcome = match stop.kind {
            StopKind::Pickup => StopOutcome::PickedUp,
            StopKind::Dropoff => {
                let fails = self
                    .order_of(&stop)
                    .is_some_and(|n| self.fleet.planned[n].fails);
                if fails {
                    StopOutcome::Failed
                } else {
                    StopOutcome::Delivered
                }
            }
        };
        self.seq += 1;
        let seq = self.seq;
        self.awaiting.insert(seq, (stop.clone(), outcome));
        self.done.insert(stop.stop_id.clone());
        self.plan.retain(|s| s.stop_id != stop.stop_id);
        self.send(Some(seq), client::stop_done(&stop.stop_id, outcome))
            .await;
        self.next_target(t);
    }

    /// A new plan arrived: keep doing what fits it, else head for its first stop.
    pub(super) async fn replan(&mut self, now: f64) {
        self.advance(now).await;
        let first = self.plan.first().map(|s| s.stop_id.clone());
        let in_plan = |id: &str| self.plan.iter().any(|s| s.stop_id == id);
        match self.phase.clone() {
            Phase::Dwelling { stop, .. } if in_plan(&stop.stop_id) => {}
            Phase::Holding { stop } if in_plan(&stop.stop_id) => {
                if self.client.is_connected() {
                    self.complete(stop, now).await;
                }
            }
            Phase::Driving { stop: Some(s), .. } if first.as_deref() == Some(&s.stop_id) => {}
            Phase::Driving { stop: None, .. } | Phase::Idle if self.plan.is_empty() => {}
            _ => self.next_target(now),
        }
    }
}
