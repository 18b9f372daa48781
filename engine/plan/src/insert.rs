//! Cheapest feasible insertion of a request into a route, O(1) per candidate position.
//!
//! For a pickup/delivery pair the pickup position `i` and delivery position `j >= i` are
//! scanned together: the delay the pickup causes is propagated incrementally along
//! `i+1..=j`, so each `(i, j)` costs O(1), and both loops stop early as soon as a time
//! window or the capacity makes every later position infeasible. Feasibility of the
//! rest of the route comes from the cached latest start times (see [`crate::route`]).

use crate::model::{Problem, Request, NONE};
use crate::rng::Rng;
use crate::route::{Route, Solution};

/// Where and at what cost a request goes into a route. Positions index `Route::seq`: the
/// first node goes right after `seq[after_first]`, the second (delivery) right after
/// `seq[after_second]` of the original sequence (`after_second >= after_first`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Insertion {
    /// Route index (in the slice or solution it was computed for).
    pub route: usize,
    /// Added distance.
    pub cost: f64,
    pub after_first: usize,
    pub after_second: usize,
}

/// Cheapest feasible insertion of `req` into `route`; `blink` skips each position with
/// the given probability (the SISR "blinks"), `None` evaluates every position.
pub fn best_in_route(
    p: &Problem,
    route: &Route,
    req: Request,
    mut blink: Option<(&mut Rng, f64)>,
) -> Option<Insertion> {
    for x in req.nodes() {
        if let Some(v) = p.nodes[x].vehicle {
            if v != route.vehicle {
                return None;
            }
        }
    }
    let mut skip = move || match blink.as_mut() {
        Some((rng, rate)) => rng.f64() < *rate,
        None => false,
    };
    match req.second {
        None => single(p, route, req.first, &mut skip),
        Some(d) => pair(p, route, req.first, d, &mut skip),
    }
}

fn single(p: &Problem, r: &Route, c: usize, skip: &mut impl FnMut() -> bool) -> Option<Insertion> {
    let m = &p.matrix;
    let cap = p.vehicles[r.vehicle].capacity;
    let (due, serv, q) = (p.due[c], p.service[c], p.demand[c]);
    let n = r.seq.len();
    let mut best: Option<Insertion> = None;
    // Goods on board unloaded at `c` (q < 0) weigh on every stop before it: with `c`
    // out of the route (ruined, or being relocated) the loads ahead of its old place
    // may be over capacity, and putting it back later must not leave them so.
    let mut prefix_max = r.load[..r.n_pinned]
        .iter()
        .copied()
        .max()
        .unwrap_or(i32::MIN);
    for i in r.n_pinned..n - 1 {
        prefix_max = prefix_max.max(r.load[i]);
        if q < 0 && prefix_max > cap {
            break; // the prefix only grows with i
        }
        let (a, b) = (r.seq[i], r.seq[i + 1]);
        let st = p.start_at(a, r.start[i] + p.service[a], c);
        if st > due {
            // start[i] only grows with i; with releases a later position may still do
            // (the wait for the release happens closer to the stop).
            if p.has_releases {
                continue;
            }
            break;
        }
        if (q >= 0 && r.smax[i] + q > cap) || (q < 0 && r.smin[i] + q < 0) {
            continue;
        }
        if p.arrival_at(c, st + serv, b) > r.latest[i + 1] {
            continue;
        }
        let cost = m.dist(a, c) + m.dist(c, b) - m.dist(a, b);
        if best.is_none_or(|x| cost < x.cost) && !skip() {
            best = Some(Insertion {
                route: NONE,
                cost,
                after_first: i,
                after_second: i,
            });
        }
    }
    best
}

fn pair(
    p: &Problem,
    r: &Route,
    pu: usize,
    de: usize,
    skip: &mut impl FnMut() -> bool,
) -> Option<Insertion> {
    let m = &p.matrix;
    let cap = p.vehicles[r.vehicle].capacity;
    let q = p.demand[pu];
    let n = r.seq.len();
    let (pd, ps) = (p.due[pu], p.service[pu]);
    let (dd, ds) = (p.due[de], p.service[de]);
    let d_pd = m.dist(pu, de);
    let mut best: Option<Insertion> = None;
    let mut best_cost = f64::INFINITY;
    for i in r.n_pinned..n - 1 {
        let (a, b) = (r.seq[i], r.seq[i + 1]);
        let st_p = p.start_at(a, r.start[i] + p.service[a], pu);
        // Later positions start later, except for a released stop (see `single`).
        if st_p > pd && !p.has_releases {
            break;
        }
        if st_p > pd || r.load[i] + q > cap {
            continue;
        }
        let dep_p = st_p + ps;
        let d_ap = m.dist(a, pu);
        // delivery right after the pickup
        let st_d = p.start_at(pu, dep_p, de);
        if st_d > dd {
            continue; // later delivery positions are even later
        }
        let cost = d_ap + d_pd + m.dist(de, b) - m.dist(a, b);
        if cost < best_cost && p.arrival_at(de, st_d + ds, b) <= r.latest[i + 1] && !skip() {
            best_cost = cost;
            best = Some(Insertion {
                route: NONE,
                cost,
                after_first: i,
                after_second: i,
            });
        }
        let base = d_ap + m.dist(pu, b) - m.dist(a, b);
        if base >= best_cost {
            continue; // the delivery detour is never negative (triangle inequality aside)
        }
        let mut prev = pu;
        let mut prev_dep = dep_p;
        for j in i + 1..n - 1 {
            let k = r.seq[j];
            let st_k = p.start_at(prev, prev_dep, k);
            if st_k > r.latest[j] || r.load[j] + q > cap {
                break;
            }
            prev_dep = st_k + p.service[k];
            prev = k;
            let st_d = p.start_at(k, prev_dep, de);
            if st_d > dd && !p.has_releases {
                break;
            }
            let nx = r.seq[j + 1];
            let cost = base + m.dist(k, de) + m.dist(de, nx) - m.dist(k, nx);
            let fits = st_d <= dd && p.arrival_at(de, st_d + ds, nx) <= r.latest[j + 1];
            if fits && cost < best_cost && !skip() {
                best_cost = cost;
                best = Some(Insertion {
                    route: NONE,
                    cost,
                    after_first: i,
                    after_second: j,
                });
            }
        }
    }
    best
}

/// Inserts `req` into `route` at `ins` and updates the cache.
pub fn apply(p: &Problem, route: &mut Route, req: Request, ins: &Insertion) {
    if let Some(d) = req.second {
        route.seq.insert(ins.after_second + 1, d);
    }
    route.seq.insert(ins.after_first + 1, req.first);
    route.update(p);
}

/// Removes `req` from `route` and updates the cache.
pub fn remove(p: &Problem, route: &mut Route, req: Request) {
    route
        .seq
        .retain(|&x| x != req.first && Some(x) != req.second);
    route.update(p);
}

/// Cost of inserting one request into each of the given routes (the primitive of live
/// dispatch: one order against k candidate vehicles). `None` where infeasible.
pub fn costs_over_routes(p: &Problem, routes: &[Route], req: Request) -> Vec<Option<Insertion>> {
    routes
        .iter()
        .enumerate()
        .map(|(k, r)| best_in_route(p, r, req, None).map(|ins| Insertion { route: k, ..ins }))
        .collect()
}

/// Cheapest insertion over the routes of a solution. Empty routes are tried once per
/// vehicle class, and only while fewer than `max_routes` routes are in use.
pub fn best_in_solution(
    p: &Problem,
    s: &Solution,
    req: Request,
    max_routes: usize,
    mut blink: Option<(&mut Rng, f64)>,
    used: usize,
) -> Option<Insertion> {
    let mut best: Option<Insertion> = None;
    let mut seen_class: u128 = 0;
    for (k, r) in s.routes.iter().enumerate() {
        if !r.in_use() {
            if used >= max_routes {
                continue;
            }
            let c = p.class_of[r.vehicle];
            if c < 128 {
                if seen_class & (1 << c) != 0 {
                    continue;
                }
                seen_class |= 1 << c;
            }
        }
        let b = match blink.as_mut() {
            Some((rng, rate)) => best_in_route(p, r, req, Some((&mut **rng, *rate))),
            None => best_in_route(p, r, req, None),
        };
        if let Some(ins) = b {
            if best.is_none_or(|x| ins.cost < x.cost) {
                best = Some(Insertion { route: k, ..ins });
            }
        }
    }
    best
}

/// Inserts request `ri` into the solution at `ins` (removes it from `unassigned`).
pub fn apply_in_solution(p: &Problem, s: &mut Solution, ri: usize, ins: &Insertion) {
    let req = p.requests[ri];
    apply(p, &mut s.routes[ins.route], req, ins);
    for x in req.nodes() {
        s.route_of[x] = ins.route;
    }
    if let Some(pos) = s.unassigned.iter().position(|&u| u == ri) {
        s.unassigned.swap_remove(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Node, NodeKind, Vehicle};
    use crate::travel::{Euclidean, Matrix};

    fn line_problem() -> Problem {
        // depot at 0, pairs along a line
        let pts = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]];
        let mk = |id, kind, demand| Node {
            id,
            kind,
            demand,
            ready: 0.0,
            due: 100.0,
            service: 0.0,
            vehicle: None,
        };
        let nodes = vec![
            mk(0, NodeKind::Depot, 0),
            mk(1, NodeKind::Pickup { delivery: 3 }, 1),
            mk(2, NodeKind::Pickup { delivery: 4 }, 1),
            mk(3, NodeKind::Delivery { pickup: 1 }, -1),
            mk(4, NodeKind::Delivery { pickup: 2 }, -1),
        ];
        let veh = Vehicle {
            start: 0,
            end: Some(0),
            start_time: 0.0,
            shift_end: 100.0,
            capacity: 1,
            start_load: 0,
            pinned: vec![],
        };
        Problem::new(
            "line",
            nodes,
            vec![veh],
            Matrix::from_points(&pts, &Euclidean),
        )
        .unwrap()
    }

    #[test]
    fn pair_insertion_respects_capacity() {
        let p = line_problem();
        let mut r = Route::new(&p, 0);
        let a = best_in_route(&p, &r, p.requests[0], None).unwrap();
        assert_eq!(a.cost, 6.0);
        apply(&p, &mut r, p.requests[0], &a);
        assert_eq!(r.stops(), &[1, 3]);
        // capacity 1: the second pair cannot overlap the first
        let b = best_in_route(&p, &r, p.requests[1], None).unwrap();
        apply(&p, &mut r, p.requests[1], &b);
        assert_eq!(r.stops(), &[1, 3, 2, 4]);
        assert!((r.distance - 10.0).abs() < 1e-12);
        assert!(r.is_feasible(&p));
    }

    #[test]
    fn a_released_node_is_driven_to_only_from_its_release() {
        let mut p = line_problem();
        // Pickup 2 (x = 2) becomes known at 10: the vehicle leaves the depot then.
        p.set_release(2, 10.0);
        let mut r = Route::new(&p, 0);
        let a = best_in_route(&p, &r, p.requests[1], None).unwrap();
        apply(&p, &mut r, p.requests[1], &a);
        assert_eq!(r.stops(), &[2, 4]);
        assert_eq!(r.schedule(), &[0.0, 12.0, 14.0, 18.0]);
        assert!(r.is_feasible(&p));
        let plan = r.plan();
        assert!(crate::check::check_route(&p, &plan).is_ok());
        // Due before release + travel: nowhere to put it.
        let mut q = line_problem();
        q.set_release(1, 99.5);
        assert!(best_in_route(&q, &Route::new(&q, 0), q.requests[0], None).is_none());
        // After another stop: the vehicle waits at that stop, not on the way.
        let mut w = line_problem();
        w.set_release(2, 5.0);
        let mut r = Route::new(&w, 0);
        for req in [w.requests[0], w.requests[1]] {
            let ins = best_in_route(&w, &r, req, None).unwrap();
            apply(&w, &mut r, req, &ins);
        }
        assert_eq!(r.stops(), &[1, 3, 2, 4]);
        // 1 at 1, 3 at 3, leaves 3 at max(3, 5) = 5, reaches 2 at 6.
        assert_eq!(r.schedule()[3], 6.0);
    }
}
