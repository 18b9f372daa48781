//! The periodic rebalance: moves not-yet-picked-up orders between drivers while that
//! saves distance.

use super::builder::{Builder, LiveProblem};
use super::{DriverPlan, Params};
use crate::planning::travel::Travel;
use dispatch_plan::insert::{apply, best_in_route, Insertion};
use dispatch_plan::model::{Request, NONE};
use dispatch_protocol::{Millis, StopKind};
use std::sync::Arc;

/// An order the periodic rebalance would move: off driver `from` (its plan's version
/// is the one the move was computed on) onto `to`, saving `gain_m` metres net.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub order_id: Arc<str>,
    pub from: usize,
    pub to: usize,
    pub gain_m: f64,
}

/// Moves not-yet-picked-up orders between drivers while that lowers the total
/// distance by more than `margin_m` per move (at most `max_moves`). `movable` lists
/// `(driver, order id, receivers)`: an order on that driver's plan that may move, and
/// the drivers that may take it. An order whose pickup is its driver's next stop never
/// moves (no flip-flopping where a driver is heading).
pub fn rebalance(
    drivers: &[Arc<DriverPlan>],
    movable: &[(usize, Arc<str>, Vec<usize>)],
    now_ms: Millis,
    travel: &Travel,
    params: &Params,
    margin_m: f64,
    max_moves: usize,
) -> Vec<Move> {
    let mut used: Vec<usize> = movable
        .iter()
        .flat_map(|(d, _, r)| std::iter::once(*d).chain(r.iter().copied()))
        .collect();
    used.sort_unstable();
    used.dedup();
    if used.len() < 2 {
        return Vec::new();
    }
    let (b, vehicle_of) = Builder::with_drivers(drivers, &used, now_ms, travel, params);
    let Some(mut lp) = b.finish() else {
        return Vec::new();
    };
    let options: Vec<MovableOrder> = movable
        .iter()
        .filter_map(|m| MovableOrder::of(drivers, m, &lp, &vehicle_of))
        .collect();
    let mut moves = Vec::new();
    let mut moved = vec![false; options.len()];
    while moves.len() < max_moves {
        let Some((gain, k, w, ins)) = best_move(&lp, &options, &moved, margin_m) else {
            break;
        };
        let o = &options[k];
        let nodes: Vec<usize> = o.req.nodes().collect();
        lp.routes[o.from]
            .as_mut()
            .expect("checked")
            .remove_nodes(&lp.problem, &nodes);
        apply(
            &lp.problem,
            lp.routes[w].as_mut().expect("checked"),
            o.req,
            &ins,
        );
        moved[k] = true;
        moves.push(Move {
            order_id: o.order_id.clone(),
            from: lp.driver_of[o.from],
            to: lp.driver_of[w],
            gain_m: gain,
        });
    }
    moves
}

/// A movable order on its driver's route.
struct MovableOrder {
    /// The vehicle it is on.
    from: usize,
    req: Request,
    order_id: Arc<str>,
    /// Vehicles (other than `from`, with a route) that may take it.
    to: Vec<usize>,
}

impl MovableOrder {
    /// `None` when the order may not or cannot move: its pickup is the driver's next
    /// stop, the driver's route could not be rebuilt, or its pickup is not on the route
    /// as a free request.
    fn of(
        drivers: &[Arc<DriverPlan>],
        (d, order_id, receivers): &(usize, Arc<str>, Vec<usize>),
        lp: &LiveProblem,
        vehicle_of: &[usize],
    ) -> Option<MovableOrder> {
        if drivers[*d]
            .stops
            .first()
            .is_some_and(|s| s.order_id == *order_id)
        {
            return None;
        }
        let v = vehicle_of[*d];
        let route = lp.routes[v].as_ref()?;
        let pickup = route.stops().iter().copied().find(|&n| {
            lp.node_stop[n]
                .as_ref()
                .is_some_and(|s| s.kind == StopKind::Pickup && s.order_id == *order_id)
        })?;
        let ri = lp.problem.request_of[pickup];
        if ri == NONE {
            return None;
        }
        let to = receivers
            .iter()
            .map(|&r| vehicle_of[r])
            .filter(|&w| w != v && lp.routes[w].is_some())
            .collect();
        Some(MovableOrder {
            from: v,
            req: lp.problem.requests[ri],
            order_id: order_id.clone(),
            to,
        })
    }
}

/// The move not yet made with the highest gain above `margin_m`: (gain, index in
/// `options`, receiving vehicle, insertion there).
fn best_move(
    lp: &LiveProblem,
    options: &[MovableOrder],
    moved: &[bool],
    margin_m: f64,
) -> Option<(f64, usize, usize, Insertion)> {
    let mut best: Option<(f64, usize, usize, Insertion)> = None;
    for (k, o) in options.iter().enumerate() {
        if moved[k] {
            continue;
        }
        let from = lp.routes[o.from].as_ref().expect("checked");
        let mut without = from.clone();
        let nodes: Vec<usize> = o.req.nodes().collect();
        without.remove_nodes(&lp.problem, &nodes);
        let saving = from.distance - without.distance;
        for &w in &o.to {
            let Some(ins) = best_in_route(
                &lp.problem,
                lp.routes[w].as_ref().expect("checked"),
                o.req,
                None,
            ) else {
                continue;
            };
            let gain = saving - ins.cost;
            if gain > margin_m && best.as_ref().is_none_or(|(g, ..)| gain > *g) {
                best = Some((gain, k, w, ins));
            }
        }
    }
    best
}
