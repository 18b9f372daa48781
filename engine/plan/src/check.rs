//! The independent feasibility checker.
//!
//! It recomputes every route from scratch from the problem data only (no cached
//! schedule): each stop visited at most once (exactly once when all are required),
//! pinned prefixes kept, pickup before its delivery on the same vehicle, load within
//! `0..=capacity` at every point, service started by the due time (waiting when early),
//! return to the end depot by the shift end, vehicle restrictions.

use std::collections::HashMap;

use crate::model::{Node, NodeKind, Problem, NONE};

/// Times and loads are compared with this tolerance (published solutions are printed
/// with limited precision).
pub const EPS: f64 = 1e-6;

/// One vehicle's planned stops, node indices in visit order, start and end excluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePlan {
    pub vehicle: usize,
    pub stops: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Violation {
    #[error("vehicle {0} does not exist or has two routes")]
    BadVehicle(usize),
    #[error("node {0} is not a stop that can be visited")]
    NotAStop(usize),
    #[error("node {0} is visited more than once")]
    Duplicate(usize),
    #[error("node {0} is not visited")]
    Missing(usize),
    #[error("vehicle {vehicle}: pinned stops changed")]
    PinnedMoved { vehicle: usize },
    #[error("node {node} may only be served by vehicle {allowed}, not {vehicle}")]
    WrongVehicle {
        node: usize,
        allowed: usize,
        vehicle: usize,
    },
    #[error("delivery {delivery} is not preceded by its pickup on the same route")]
    Precedence { delivery: usize },
    #[error("pickup {pickup} is not followed by its delivery on the same route")]
    Unpaired { pickup: usize },
    #[error("vehicle {vehicle}: load {load} out of 0..={capacity} after node {node}")]
    Capacity {
        vehicle: usize,
        node: usize,
        load: i64,
        capacity: i32,
    },
    #[error("vehicle {vehicle}: service at node {node} starts at {start}, after due {due}")]
    Late {
        vehicle: usize,
        node: usize,
        start: f64,
        due: f64,
    },
    #[error("vehicle {vehicle}: arrives at its end at {arrival}, after shift end {shift_end}")]
    LateReturn {
        vehicle: usize,
        arrival: f64,
        shift_end: f64,
    },
}

/// What one feasible route costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RouteStats {
    pub distance: f64,
    /// Arrival at the end (or at the last stop of an open route).
    pub end_time: f64,
}

/// Checks one route on its own (pairs must be complete within the route).
pub fn check_route(p: &Problem, plan: &RoutePlan) -> Result<RouteStats, Violation> {
    let v = plan.vehicle;
    let veh = p.vehicles.get(v).ok_or(Violation::BadVehicle(v))?;
    if plan.stops.len() < veh.pinned.len() || plan.stops[..veh.pinned.len()] != veh.pinned[..] {
        return Err(Violation::PinnedMoved { vehicle: v });
    }
    let m = &p.matrix;
    let mut seen_at = HashMap::new();
    let mut t = veh.start_time;
    let mut load = veh.start_load as i64;
    let mut dist = 0.0;
    let mut prev = veh.start;
    for (pos, &s) in plan.stops.iter().enumerate() {
        let node = visitable(p, v, s, pos, &mut seen_at)?;
        dist += m.dist(prev, s);
        let arrival = p.arrival_at(prev, t, s);
        let start = arrival.max(node.ready);
        if start > node.due + EPS {
            return Err(Violation::Late {
                vehicle: v,
                node: s,
                start,
                due: node.due,
            });
        }
        t = start + node.service;
        load += node.demand as i64;
        if load < 0 || load > veh.capacity as i64 {
            return Err(Violation::Capacity {
                vehicle: v,
                node: s,
                load,
                capacity: veh.capacity,
            });
        }
        prev = s;
    }
    for &s in &plan.stops {
        if let NodeKind::Pickup { delivery } = p.nodes[s].kind {
            if !seen_at.contains_key(&delivery) {
                return Err(Violation::Unpaired { pickup: s });
            }
        }
    }
    let mut end_time = t;
    if let Some(e) = veh.end {
        dist += m.dist(prev, e);
        end_time = p.arrival_at(prev, t, e);
    }
    if end_time > veh.shift_end + EPS {
        return Err(Violation::LateReturn {
            vehicle: v,
            arrival: end_time,
            shift_end: veh.shift_end,
        });
    }
    Ok(RouteStats {
        distance: dist,
        end_time,
    })
}

/// The rules of stop `s` at `pos` of vehicle `v`'s route that do not depend on time or
/// load: a stop (not a depot), not seen before (recorded in `seen_at`), allowed on this
/// vehicle, after its pickup if it is a delivery.
fn visitable<'p>(
    p: &'p Problem,
    v: usize,
    s: usize,
    pos: usize,
    seen_at: &mut HashMap<usize, usize>,
) -> Result<&'p Node, Violation> {
    let node = p.nodes.get(s).ok_or(Violation::NotAStop(s))?;
    if node.kind == NodeKind::Depot {
        return Err(Violation::NotAStop(s));
    }
    if seen_at.insert(s, pos).is_some() {
        return Err(Violation::Duplicate(s));
    }
    if let Some(allowed) = node.vehicle {
        if allowed != v {
            return Err(Violation::WrongVehicle {
                node: s,
                allowed,
                vehicle: v,
            });
        }
    }
    if let NodeKind::Delivery { pickup } = node.kind {
        if !seen_at.contains_key(&pickup) {
            return Err(Violation::Precedence { delivery: s });
        }
    }
    Ok(node)
}

/// Totals of a feasible solution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SolutionStats {
    /// Routes with at least one stop.
    pub vehicles: usize,
    pub distance: f64,
}

/// Checks a whole solution. With `require_all`, every stop must be visited and every
/// vehicle with pinned stops must have its route.
pub fn check_solution(
    p: &Problem,
    plans: &[RoutePlan],
    require_all: bool,
) -> Result<SolutionStats, Violation> {
    let mut used = vec![false; p.vehicles.len()];
    let mut visited = vec![NONE; p.nodes.len()];
    let mut stats = SolutionStats {
        vehicles: 0,
        distance: 0.0,
    };
    for plan in plans {
        if plan.vehicle >= used.len() || used[plan.vehicle] {
            return Err(Violation::BadVehicle(plan.vehicle));
        }
        used[plan.vehicle] = true;
        for &s in &plan.stops {
            if s >= visited.len() {
                return Err(Violation::NotAStop(s));
            }
            if visited[s] != NONE {
                return Err(Violation::Duplicate(s));
            }
            visited[s] = plan.vehicle;
        }
        let r = check_route(p, plan)?;
        if !plan.stops.is_empty() {
            stats.vehicles += 1;
            stats.distance += r.distance;
        }
    }
    if require_all {
        for (v, veh) in p.vehicles.iter().enumerate() {
            if !used[v] && !veh.pinned.is_empty() {
                return Err(Violation::PinnedMoved { vehicle: v });
            }
        }
        for (i, node) in p.nodes.iter().enumerate() {
            if node.kind != NodeKind::Depot && visited[i] == NONE {
                return Err(Violation::Missing(i));
            }
        }
    }
    Ok(stats)
}
