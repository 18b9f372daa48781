//! A driver's route as a value, and the rules that change it. Each rule takes the
//! current plan and a command and returns a refusal or a [`RouteChange`] — the next
//! plan (version bumped) and the orders that left it — without mutating anything. The
//! driver actor commits a change (store, then announce once durable) and only then
//! makes its plan the current one, so a failed write leaves nothing to undo.
//!
//! Invariants the rules keep (property-tested below):
//! - a proposal is taken only on the version it was computed on, from an available
//!   driver, and only if its stops are exactly the route's stops plus the new orders'
//!   (each pickup before its dropoff), so an order is never on a route twice and never
//!   silently dropped; the stop being served (`pinned` leading stops) stays in front;
//! - `stop_done` outcomes follow the stop kind; a delivery needs its pickup done;
//! - give back returns exactly the orders not picked up; picked-up ones stay.

use crate::orders::model::{job, set_status};
use crate::planning::{parse_stop_id, LiveStop};
use dispatch_protocol::{ErrorCode, Millis, Order, OrderStatus, StopKind, StopOutcome};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Why a command was not applied: an error code and a message for the client.
pub type Refusal = (ErrorCode, String);

/// A driver's plan: its stops in order and the orders on them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutePlan {
    /// Bumped by every change; proposals and releases name the version they were
    /// computed on.
    pub version: u64,
    pub stops: Vec<LiveStop>,
    /// Orders on the route (each has one or both of its stops there).
    pub orders: HashMap<Arc<str>, Order>,
}

/// The outcome of a command: the next plan and what left the current one.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteChange {
    /// Why the route changed (the `reason` label of the re-plan counter).
    pub reason: &'static str,
    pub next: RoutePlan,
    /// Orders that left the route finished (delivered, failed, cancelled).
    pub finished: Vec<Order>,
    /// Orders handed back, pending again, to be matched in their pickup region.
    pub requeue: Vec<Order>,
    /// Creation times of orders assigned for the first time by this change (for the
    /// created → route pushed latency).
    pub first_assigned: Vec<Millis>,
}

impl RoutePlan {
    pub fn has_stop(&self, order_id: &str, kind: StopKind) -> bool {
        self.stops
            .iter()
            .any(|s| s.kind == kind && &*s.order_id == order_id)
    }

    /// Units on board: dropoffs whose pickup is done.
    pub fn load(&self) -> u32 {
        self.stops
            .iter()
            .filter(|s| {
                s.kind == StopKind::Dropoff && !self.has_stop(&s.order_id, StopKind::Pickup)
            })
            .map(|s| s.size)
            .sum()
    }

    fn change(
        &self,
        reason: &'static str,
        stops: Vec<LiveStop>,
        orders: HashMap<Arc<str>, Order>,
    ) -> RouteChange {
        RouteChange {
            reason,
            next: RoutePlan {
                version: self.version + 1,
                stops,
                orders,
            },
            finished: Vec::new(),
            requeue: Vec::new(),
            first_assigned: Vec::new(),
        }
    }
}

/// A region's proposal: the whole new stop list computed on `base_version`, and the
/// orders it adds.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub base_version: u64,
    pub stops: Vec<LiveStop>,
    pub orders: Vec<Order>,
}

/// Why a proposal was refused (all are "plan again on the fresh route").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalRefused {
    /// The route moved on since the proposal was computed.
    StaleVersion,
    /// The driver takes no new work (offline, on a break).
    Unavailable,
    /// The stops are not the route's plus the new orders' (an order twice, one
    /// missing, a dropoff before its pickup, the stop being served moved).
    Inconsistent,
}

impl ProposalRefused {
    /// The `reason` label of the rejected-proposals counter.
    pub fn label(self) -> &'static str {
        match self {
            Self::StaleVersion => "stale_version",
            Self::Unavailable => "unavailable",
            Self::Inconsistent => "inconsistent",
        }
    }
}

/// Takes a proposal: the new orders become `Assigned` to `driver_id`. `pinned`
/// leading stops of the current route (the one being served) must stay in front.
pub fn propose(
    plan: &RoutePlan,
    driver_id: &str,
    available: bool,
    pinned: usize,
    p: Proposal,
    now: Millis,
) -> Result<RouteChange, ProposalRefused> {
    if p.base_version != plan.version {
        return Err(ProposalRefused::StaleVersion);
    }
    if !available {
        return Err(ProposalRefused::Unavailable);
    }
    if !consistent(plan, pinned, &p) {
        return Err(ProposalRefused::Inconsistent);
    }
    let mut orders = plan.orders.clone();
    let mut first_assigned = Vec::new();
    let reason = if p.orders.is_empty() {
        "reorder"
    } else {
        "insert"
    };
    for mut o in p.orders {
        // Latency is created → first assignment; an order moved on by a rebalance or
        // given back is counted by those, not as a slow assignment.
        if !o.history.iter().any(|h| h.status == OrderStatus::Assigned) {
            first_assigned.push(o.created_ms);
        }
        set_status(&mut o, OrderStatus::Assigned, now, None);
        o.driver_id = Some(driver_id.to_string());
        orders.insert(Arc::from(o.id.as_str()), o);
    }
    let mut change = plan.change(reason, p.stops, orders);
    change.first_assigned = first_assigned;
    Ok(change)
}

/// Whether the proposal's stops are exactly the route's stops plus both stops of each
/// new order, every pickup before its dropoff, the pinned head in place.
fn consistent(plan: &RoutePlan, pinned: usize, p: &Proposal) -> bool {
    let key = |s: &LiveStop| (s.order_id.clone(), s.kind);
    let mut expected: HashSet<(Arc<str>, StopKind)> = plan.stops.iter().map(key).collect();
    for o in &p.orders {
        let j = job(o);
        if plan.orders.contains_key(o.id.as_str())
            || !expected.insert(key(&j.pickup))
            || !expected.insert(key(&j.dropoff))
        {
            return false;
        }
    }
    let mut seen = HashSet::with_capacity(p.stops.len());
    for s in &p.stops {
        let k = key(s);
        let pickup_later = s.kind == StopKind::Dropoff
            && expected.contains(&(s.order_id.clone(), StopKind::Pickup))
            && !seen.contains(&(s.order_id.clone(), StopKind::Pickup));
        if !expected.contains(&k) || pickup_later || !seen.insert(k) {
            return false;
        }
    }
    let head = pinned.min(plan.stops.len());
    seen.len() == expected.len()
        && p.stops.len() >= head
        && plan.stops[..head]
            .iter()
            .zip(&p.stops)
            .all(|(a, b)| key(a) == key(b))
}

/// The driver reports a stop done. A pickup picks the order up; a delivery (its pickup
/// done) or a failure at either stop finishes it.
pub fn stop_done(
    plan: &RoutePlan,
    stop_id: &str,
    outcome: StopOutcome,
    ts_ms: Millis,
    now: Millis,
) -> Result<RouteChange, Refusal> {
    let not_here = || {
        (
            ErrorCode::NotFound,
            format!("stop {stop_id} is not on this driver's route"),
        )
    };
    let (order_id, kind) = parse_stop_id(stop_id).ok_or_else(not_here)?;
    let idx = plan
        .stops
        .iter()
        .position(|s| s.kind == kind && &*s.order_id == order_id)
        .ok_or_else(not_here)?;
    let order_id = plan.stops[idx].order_id.clone();
    let (status, remove_both) = match (kind, outcome) {
        (StopKind::Pickup, StopOutcome::PickedUp) => (OrderStatus::PickedUp, false),
        (StopKind::Dropoff, StopOutcome::Delivered) => {
            if plan.has_stop(&order_id, StopKind::Pickup) {
                return Err((
                    ErrorCode::FailedPrecondition,
                    format!("order {order_id} has not been picked up yet"),
                ));
            }
            (OrderStatus::Delivered, true)
        }
        (_, StopOutcome::Failed) => (OrderStatus::Failed, true),
        (StopKind::Pickup, StopOutcome::Delivered) | (StopKind::Dropoff, StopOutcome::PickedUp) => {
            return Err((
                ErrorCode::InvalidArgument,
                format!("outcome {outcome:?} does not fit a {kind:?} stop").to_lowercase(),
            ))
        }
    };
    let mut stops = plan.stops.clone();
    let mut orders = plan.orders.clone();
    let mut finished = Vec::new();
    if remove_both {
        stops.retain(|s| s.order_id != order_id);
        if let Some(mut o) = orders.remove(&order_id) {
            set_status(&mut o, status, now, None);
            finished.push(o);
        }
    } else {
        stops.remove(idx);
        if let Some(o) = orders.get_mut(&order_id) {
            set_status(o, status, now, None);
            o.pickup_eta_ms = Some(ts_ms.min(now));
        }
    }
    let mut change = plan.change("stop_done", stops, orders);
    change.finished = finished;
    Ok(change)
}

/// Cancels an order on this route that is not picked up. `Ok(None)`: not on this
/// route (any more).
pub fn cancel(plan: &RoutePlan, id: &str, now: Millis) -> Result<Option<RouteChange>, Refusal> {
    let Some(o) = plan.orders.get(id) else {
        return Ok(None);
    };
    if o.status == OrderStatus::PickedUp || !plan.has_stop(id, StopKind::Pickup) {
        return Err((
            ErrorCode::Conflict,
            format!("order {id} is already picked up"),
        ));
    }
    let mut orders = plan.orders.clone();
    let mut o = orders.remove(id).expect("checked above");
    set_status(&mut o, OrderStatus::Cancelled, now, None);
    let stops = plan
        .stops
        .iter()
        .filter(|s| &*s.order_id != id)
        .cloned()
        .collect();
    let mut change = plan.change("cancel", stops, orders);
    change.finished.push(o);
    Ok(Some(change))
}

/// A region's rebalance takes an order back: granted only on the version the move was
/// computed on, for an order not picked up whose pickup is not the next stop.
pub fn release(
    plan: &RoutePlan,
    order_id: &str,
    base_version: u64,
    now: Millis,
) -> Option<RouteChange> {
    let heading_there = plan.stops.first().is_some_and(|s| &*s.order_id == order_id);
    if base_version != plan.version || heading_there || !plan.has_stop(order_id, StopKind::Pickup) {
        return None;
    }
    let change = hand_back(plan, "rebalance", &[Arc::from(order_id)], "rebalanced", now);
    (!change.requeue.is_empty()).then_some(change)
}

/// Whether the driver, at `position`, is within `radius_m` of the pickup of one of
/// `ids`: it may be serving that stop (a route reordered under a driver at a stop that is
/// no longer its first), so the order is not taken away from it — the driver would report
/// the stop done a moment later on a route that no longer holds it.
pub fn at_a_pickup_of<'a>(
    plan: &RoutePlan,
    ids: impl IntoIterator<Item = &'a str>,
    position: Option<(f64, f64)>,
    radius_m: f64,
) -> bool {
    let Some((lat, lon)) = position else {
        return false;
    };
    ids.into_iter().any(|id| {
        plan.stops.iter().any(|s| {
            s.kind == StopKind::Pickup
                && &*s.order_id == id
                && crate::core::geo_util::haversine_m(lat, lon, s.lat, s.lon) <= radius_m
        })
    })
}

/// A region's re-optimisation takes orders back to hand them to other drivers at once:
/// granted only on the version the plan was computed on, all or nothing, for orders not
/// picked up, and never the order of the next stop once the driver is committed to it
/// (`head_committed`: close to it, so a change would turn the driver around).
pub fn withdraw(
    plan: &RoutePlan,
    ids: &[Arc<str>],
    base_version: u64,
    head_committed: bool,
    now: Millis,
) -> Option<RouteChange> {
    let head = plan.stops.first().filter(|_| head_committed);
    let distinct: HashSet<&Arc<str>> = ids.iter().collect();
    let refused = base_version != plan.version
        || ids.is_empty()
        || distinct.len() != ids.len()
        || ids.iter().any(|id| {
            head.is_some_and(|h| h.order_id == *id) || !plan.has_stop(id, StopKind::Pickup)
        });
    (!refused).then(|| hand_back(plan, "reoptimise", ids, "reoptimised", now))
}

/// Gives back every order not picked up (the driver went offline or silent): pending
/// again, for their pickup region. Picked-up orders stay. `None` when there are none.
pub fn give_back(plan: &RoutePlan, why: &str, now: Millis) -> Option<RouteChange> {
    let back: Vec<Arc<str>> = plan
        .stops
        .iter()
        .filter(|s| s.kind == StopKind::Pickup)
        .map(|s| s.order_id.clone())
        .collect();
    (!back.is_empty()).then(|| hand_back(plan, "give_back", &back, why, now))
}

fn hand_back(
    plan: &RoutePlan,
    reason: &'static str,
    ids: &[Arc<str>],
    why: &str,
    now: Millis,
) -> RouteChange {
    let stops = plan
        .stops
        .iter()
        .filter(|s| !ids.contains(&s.order_id))
        .cloned()
        .collect();
    let mut orders = plan.orders.clone();
    let mut requeue = Vec::new();
    for id in ids {
        if let Some(mut o) = orders.remove(id) {
            set_status(&mut o, OrderStatus::Pending, now, Some(why));
            o.driver_id = None;
            o.pickup_eta_ms = None;
            o.dropoff_eta_ms = None;
            requeue.push(o);
        }
    }
    let mut change = plan.change(reason, stops, orders);
    change.requeue = requeue;
    change
}

/// Whether fresh ETAs moved from the announced ones by more than `threshold_ms`.
pub fn etas_drifted(announced: &[Millis], fresh: &[Millis], threshold_ms: u64) -> bool {
    fresh
        .iter()
        .zip(announced)
        .any(|(a, b)| a.abs_diff(*b) > threshold_ms)
}

/// The same route announced again with fresh ETAs (computed when it is committed).
pub fn refresh_etas(plan: &RoutePlan) -> RouteChange {
    plan.change("eta", plan.stops.clone(), plan.orders.clone())
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
