//! Live planning on top of `dispatch-plan`: turns drivers' current plans and a batch of
//! new orders into one planner problem, assigns the batch jointly (regret insertion:
//! the order that would lose most by waiting goes first), improves every route that
//! changed within a small budget, and maps the result back to stops. Pure code: the
//! region actor calls it on published driver snapshots.
//!
//! Modelling choices:
//! - Time is seconds from `now`; a driver's route starts at its position now.
//! - A driver's next stop is pinned once the driver is there (within `pin_radius_m`:
//!   service is in progress): it is folded into the route's start (its place, the time
//!   service there ends, the load after it), so nothing is planned before it. Stops
//!   done are not on the plan at all.
//! - Goods on board (a dropoff without its pickup on the plan) are single stops with a
//!   negative demand, restricted to their driver.
//! - A stop already running late keeps its window "as late as it is now": inserting
//!   before it may not make it later still.
//!
//! Files: this one holds the types the actors exchange and [`etas`]; `builder` turns
//! plans and jobs into the planner problem, `batch` is [`assign_batch`], `rebalance`
//! is [`rebalance`].

mod batch;
mod builder;
#[cfg(test)]
mod live_tests;
pub mod matcher;
pub mod objective;
mod polish;
pub mod postpone;
mod rebalance;
pub mod reopt;
#[cfg(test)]
mod reopt_tests;
#[cfg(test)]
mod static_batch_tests;
pub mod travel;

pub use batch::assign_batch;
pub use rebalance::{rebalance, Move};

use dispatch_protocol::{Millis, StopKind};
use std::sync::Arc;
use travel::Travel;

/// One stop of a driver's plan, with what the planner needs to schedule it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStop {
    pub order_id: Arc<str>,
    pub kind: StopKind,
    pub lat: f64,
    pub lon: f64,
    pub ready_ms: Option<Millis>,
    pub due_ms: Option<Millis>,
    pub service_s: u32,
    pub size: u32,
}

impl LiveStop {
    /// The stop id drivers report in `stop_done`: `p:<order id>` or `d:<order id>`.
    pub fn stop_id(&self) -> String {
        stop_id(&self.order_id, self.kind)
    }

    pub fn point(&self) -> (f64, f64) {
        (self.lat, self.lon)
    }
}

pub fn stop_id(order_id: &str, kind: StopKind) -> String {
    match kind {
        StopKind::Pickup => format!("p:{order_id}"),
        StopKind::Dropoff => format!("d:{order_id}"),
    }
}

/// Parses a stop id back into its order id and kind.
pub fn parse_stop_id(stop_id: &str) -> Option<(&str, StopKind)> {
    let (prefix, order) = stop_id.split_at_checked(2)?;
    let kind = match prefix {
        "p:" => StopKind::Pickup,
        "d:" => StopKind::Dropoff,
        _ => return None,
    };
    (!order.is_empty()).then_some((order, kind))
}

/// A driver's plan as regions see it (published by the driver actor after every
/// change; `version` is what a proposal is checked against).
#[derive(Debug, Clone, PartialEq)]
pub struct DriverPlan {
    pub driver_id: Arc<str>,
    pub version: u64,
    pub capacity: u32,
    pub position: (f64, f64),
    pub stops: Vec<LiveStop>,
    /// When the driver reached its first stop, if it is there: service started then
    /// (or at the stop's ready time), not when the plan is made.
    pub arrived_ms: Option<Millis>,
}

impl DriverPlan {
    /// Units on board now: dropoffs whose pickup is no longer on the plan.
    pub fn load(&self) -> u32 {
        self.stops
            .iter()
            .filter(|s| s.kind == StopKind::Dropoff && !self.has_pickup(&s.order_id))
            .map(|s| s.size)
            .sum()
    }

    fn has_pickup(&self, order_id: &str) -> bool {
        self.stops
            .iter()
            .any(|s| s.kind == StopKind::Pickup && &*s.order_id == order_id)
    }
}

/// An order waiting for a driver.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub order_id: Arc<str>,
    pub pickup: LiveStop,
    pub dropoff: LiveStop,
    pub priority: i32,
}

#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Improvement iterations per changed route.
    pub improve_iterations: usize,
    /// Routes end within this many seconds (stops without `due_ms` must be done by then).
    pub horizon_s: f64,
    /// A driver this close to its next stop is serving it: that stop is pinned.
    pub pin_radius_m: f64,
    pub seed: u64,
    /// A batch placing at least `batch_search_min_orders` jobs is searched as a whole
    /// for this long before it is proposed (0: never).
    pub batch_search_ms: u64,
    pub batch_search_min_orders: usize,
    /// Metres of detour an idle driver's first job costs extra in the matching round
    /// (the objective's fixed cost per driver; 0: none).
    pub activation_m: f64,
    /// Tests: the batch search's budget in iterations instead of `batch_search_ms`
    /// (which still sets when its routes are planned to land).
    pub batch_search_iterations: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            improve_iterations: 100,
            horizon_s: 12.0 * 3600.0,
            pin_radius_m: 150.0,
            seed: 1,
            batch_search_ms: 0,
            batch_search_min_orders: usize::MAX,
            batch_search_iterations: None,
            activation_m: 0.0,
        }
    }
}

/// Why an order found no driver this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDriver {
    NoneNearby,
    TooLarge,
    Windows,
    WindowClosed,
}

impl NoDriver {
    pub fn reason(self) -> &'static str {
        match self {
            Self::NoneNearby => "no available driver nearby",
            Self::TooLarge => "order size exceeds the capacity of nearby drivers",
            Self::Windows => "no nearby driver can meet its time windows",
            Self::WindowClosed => "its dropoff window has already closed",
        }
    }
}

/// The plan of one driver after a batch: the whole new stop list and the jobs added.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRoute {
    /// Index into the drivers given to [`assign_batch`].
    pub driver: usize,
    pub stops: Vec<LiveStop>,
    /// Indices into the jobs given to [`assign_batch`].
    pub jobs: Vec<usize>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    pub routes: Vec<NewRoute>,
    pub unassigned: Vec<(usize, NoDriver)>,
}

/// Expected service start of every stop, driving from `position` at `now_ms`.
pub fn etas(
    position: (f64, f64),
    stops: &[LiveStop],
    now_ms: Millis,
    travel: &Travel,
) -> Vec<Millis> {
    let mut t = now_ms as f64;
    let mut at = position;
    stops
        .iter()
        .map(|s| {
            t += travel.duration_s(at, s.point(), t as Millis) * 1000.0;
            if let Some(r) = s.ready_ms {
                t = t.max(r as f64);
            }
            let eta = t.round() as Millis;
            t += f64::from(s.service_s) * 1000.0;
            at = s.point();
            eta
        })
        .collect()
}
