//! SISR ruin (Christiaens & Vanden Berghe, "Slack Induction by String Removals") and
//! greedy recreate with blinks.
//!
//! Ruin removes strings (consecutive stops, or a string with a preserved middle part)
//! from a few routes near a random seed customer; a pickup and its delivery always leave
//! and return together. Recreate sorts the removed requests by one of a few criteria and
//! inserts each at its cheapest feasible position over all routes, skipping each
//! position with a small probability (blinks).

use crate::insert::{apply_in_solution, best_in_solution};
use crate::model::{Problem, NONE};
use crate::rng::Rng;
use crate::route::{Route, Solution};

#[derive(Clone, Copy, Debug)]
pub struct RuinParams {
    /// Average number of removed customers (c̄).
    pub avg_removed: f64,
    /// c̄ grows to this share of the mean route length for long routes ...
    pub long_route_share: f64,
    /// ... but not above this.
    pub max_removed: f64,
    /// Maximum string length (L_max).
    pub max_string: f64,
    /// Probability of a split-string removal instead of a plain string.
    pub split_rate: f64,
    /// β: probability of stopping to grow the preserved part of a split string.
    pub split_depth: f64,
    /// Probability of skipping an insertion position.
    pub blink_rate: f64,
}

impl Default for RuinParams {
    fn default() -> Self {
        RuinParams {
            avg_removed: 10.0,
            long_route_share: 0.5,
            max_removed: 20.0,
            max_string: 10.0,
            split_rate: 0.5,
            split_depth: 0.01,
            blink_rate: 0.01,
        }
    }
}

/// Removes strings around a random customer; the removed requests are appended to
/// `s.unassigned`. Returns how many requests were removed.
pub fn ruin(p: &Problem, s: &mut Solution, rng: &mut Rng, prm: &RuinParams) -> usize {
    let Some(size) = RuinSize::of(s, prm) else {
        return 0;
    };
    let ks = (1.0 + rng.f64() * size.ks_max).floor() as usize;
    let seed = random_customer(s, rng);
    let before = s.unassigned.len();
    let mut ruined: Vec<usize> = Vec::with_capacity(ks);
    let mut remove: Vec<usize> = Vec::with_capacity(32);
    let neigh = &p.neighbors[seed];
    for c in std::iter::once(seed).chain(neigh.iter().map(|&x| x as usize)) {
        if ruined.len() >= ks {
            break;
        }
        let ri = s.route_of[c];
        if ri == NONE || ruined.contains(&ri) {
            continue;
        }
        remove.clear();
        if !pick_string(&s.routes[ri], c, size.ls_max, prm, rng, &mut remove) {
            continue;
        }
        with_siblings(p, &mut remove);
        for &x in &remove {
            let rq = p.request_of[x];
            if p.requests[rq].first == x {
                s.unassigned.push(rq);
            }
            s.route_of[x] = NONE;
        }
        s.routes[ri].remove_nodes(p, &remove);
        shed_until_feasible(p, s, ri);
        ruined.push(ri);
    }
    s.unassigned.len() - before
}

/// With releases, a removal can delay the rest of a route (see
/// [`Problem::set_release`]): removes the request of the first free stop at or after
/// the first position that starts too late (the last free stop before it if none),
/// until the route is feasible. Without releases a removal never makes a route later
/// and this checks nothing.
fn shed_until_feasible(p: &Problem, s: &mut Solution, ri: usize) {
    if !p.has_releases {
        return;
    }
    while !s.routes[ri].is_feasible(p) {
        let r = &s.routes[ri];
        let first_free = 1 + r.n_pinned;
        let last = r.seq.len() - 1;
        let bad = (0..r.seq.len())
            .find(|&k| r.start[k] > r.latest[k])
            .unwrap_or(last);
        let pos = if bad.max(first_free) < last {
            bad.max(first_free)
        } else if last > first_free {
            last - 1
        } else {
            return; // nothing free left to remove: the pinned part alone is late
        };
        let rq = p.request_of[r.seq[pos]];
        if rq == NONE {
            return;
        }
        let req = p.requests[rq];
        crate::insert::remove(p, &mut s.routes[ri], req);
        s.unassigned.push(rq);
        for x in req.nodes() {
            s.route_of[x] = NONE;
        }
    }
}

/// How much one ruin removes, from the current routes' lengths.
struct RuinSize {
    /// Longest string removed from a route (L_s^max).
    ls_max: f64,
    /// Most routes ruined, minus one (k_s^max).
    ks_max: f64,
}

impl RuinSize {
    /// `None` when no route has a free stop.
    fn of(s: &Solution, prm: &RuinParams) -> Option<RuinSize> {
        let mut free = 0usize;
        let mut nonempty = 0usize;
        for r in &s.routes {
            let f = r.free_stops().len();
            if f > 0 {
                free += f;
                nonempty += 1;
            }
        }
        if free == 0 {
            return None;
        }
        let avg = free as f64 / nonempty as f64;
        let ls_max = prm.max_string.min(avg);
        // long routes (few vehicles) need bigger ruins to move between local optima
        let cbar = prm
            .avg_removed
            .max((avg * prm.long_route_share).min(prm.max_removed));
        Some(RuinSize {
            ls_max,
            ks_max: (4.0 * cbar / (1.0 + ls_max) - 1.0).max(1.0),
        })
    }
}

/// A random assigned free customer (some route must have one).
fn random_customer(s: &Solution, rng: &mut Rng) -> usize {
    loop {
        let r = &s.routes[rng.below(s.routes.len())];
        let f = r.free_stops();
        if !f.is_empty() {
            break f[rng.below(f.len())];
        }
    }
}

/// Puts into `remove` a string of the free part of `route` that contains customer `c`:
/// a plain string, or a split string whose preserved middle stays. `false` when `c` is
/// not a free stop of the route.
fn pick_string(
    route: &Route,
    c: usize,
    ls_max: f64,
    prm: &RuinParams,
    rng: &mut Rng,
    remove: &mut Vec<usize>,
) -> bool {
    let seq = &route.seq;
    let lo = 1 + route.n_pinned;
    let hi = seq.len() - 1; // exclusive
    let t_len = hi - lo;
    let Some(pos) = seq[lo..hi].iter().position(|&x| x == c).map(|x| x + lo) else {
        return false;
    };
    let lt_max = ls_max.min(t_len as f64);
    let lt = ((1.0 + rng.f64() * lt_max).floor() as usize).clamp(1, t_len);
    if lt == t_len || rng.f64() >= prm.split_rate {
        let first = pos.saturating_sub(lt - 1).max(lo);
        let last = pos.min(hi - lt);
        let st = first + rng.below(last - first + 1);
        remove.extend_from_slice(&seq[st..st + lt]);
        return true;
    }
    let mut m = 1;
    while lt + m < t_len && rng.f64() >= prm.split_depth {
        m += 1;
    }
    let len = lt + m;
    let first = pos.saturating_sub(len - 1).max(lo);
    let last = pos.min(hi - len);
    let st = first + rng.below(last - first + 1);
    let keep = st + rng.below(lt + 1); // preserved part [keep, keep + m)
    for (k, &x) in seq[st..st + len].iter().enumerate() {
        let k = st + k;
        if k < keep || k >= keep + m {
            remove.push(x);
        }
    }
    true
}

/// Adds the missing sibling of every pickup or delivery in `remove`: a pair leaves
/// together.
fn with_siblings(p: &Problem, remove: &mut Vec<usize>) {
    let n0 = remove.len();
    for k in 0..n0 {
        let req = p.requests[p.request_of[remove[k]]];
        for x in req.nodes() {
            if !remove.contains(&x) {
                remove.push(x);
            }
        }
    }
}

/// Orders in which recreate inserts requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Random,
    Demand,
    Far,
    Close,
    TimeWindow,
}

impl Order {
    /// SISR's weights (random 4, demand 4, far 2, close 1) plus narrow time windows first.
    pub fn pick(rng: &mut Rng) -> Order {
        match rng.below(13) {
            0..=3 => Order::Random,
            4..=7 => Order::Demand,
            8..=9 => Order::Far,
            10 => Order::Close,
            _ => Order::TimeWindow,
        }
    }
}

pub fn sort_requests(p: &Problem, list: &mut [usize], order: Order, rng: &mut Rng) {
    rng.shuffle(list);
    let depot = p.vehicles[0].start;
    let key = |ri: usize| -> f64 {
        let rq = p.requests[ri];
        match order {
            Order::Random => 0.0,
            Order::Demand => -(p.demand[rq.first].abs() as f64),
            Order::Far => -rq
                .nodes()
                .map(|x| p.matrix.dist(depot, x))
                .fold(0.0, f64::max),
            Order::Close => rq
                .nodes()
                .map(|x| p.matrix.dist(depot, x))
                .fold(0.0, f64::max),
            Order::TimeWindow => rq
                .nodes()
                .map(|x| p.due[x] - p.ready[x])
                .fold(f64::INFINITY, f64::min),
        }
    };
    if order != Order::Random {
        list.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
    }
}

/// Greedy insertion of every unassigned request (in the given order) at its cheapest
/// position; requests that fit nowhere stay unassigned. At most `max_routes` routes are
/// used.
pub fn recreate(
    p: &Problem,
    s: &mut Solution,
    rng: &mut Rng,
    order: Order,
    max_routes: usize,
    blink_rate: f64,
) {
    let mut list = std::mem::take(&mut s.unassigned);
    sort_requests(p, &mut list, order, rng);
    let mut used = s.vehicles();
    for &ri in &list {
        let req = p.requests[ri];
        let ins = if blink_rate > 0.0 {
            best_in_solution(p, s, req, max_routes, Some((&mut *rng, blink_rate)), used)
        } else {
            best_in_solution(p, s, req, max_routes, None, used)
        };
        match ins {
            Some(ins) => {
                if !s.routes[ins.route].in_use() {
                    used += 1;
                }
                s.unassigned.push(ri); // apply_in_solution removes it again
                apply_in_solution(p, s, ri, &ins);
            }
            None => s.unassigned.push(ri),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insert::{apply_in_solution, best_in_solution};
    use crate::model::{Node, NodeKind, Vehicle};
    use crate::travel::{Euclidean, Matrix};

    /// Pickups 1 (x = 10) and 2 (x = 11, known from 20, due by 22), deliveries beside
    /// them. Served together the vehicle waits at 1 for 2's release and is on time;
    /// without 1 it waits at the depot and reaches 2 at 31.
    fn released_pair() -> Problem {
        let pts = [
            [0.0, 0.0],
            [10.0, 0.0],
            [11.0, 0.0],
            [10.0, 1.0],
            [11.0, 1.0],
        ];
        let mk = |id, kind, demand, due| Node {
            id,
            kind,
            demand,
            ready: 0.0,
            due,
            service: 0.0,
            vehicle: None,
        };
        let nodes = vec![
            mk(0, NodeKind::Depot, 0, 1000.0),
            mk(1, NodeKind::Pickup { delivery: 3 }, 1, 100.0),
            mk(2, NodeKind::Pickup { delivery: 4 }, 1, 22.0),
            mk(3, NodeKind::Delivery { pickup: 1 }, -1, 100.0),
            mk(4, NodeKind::Delivery { pickup: 2 }, -1, 100.0),
        ];
        let veh = Vehicle {
            start: 0,
            end: Some(0),
            start_time: 0.0,
            shift_end: 1000.0,
            capacity: 2,
            start_load: 0,
            pinned: vec![],
        };
        let mut p = Problem::new(
            "released",
            nodes,
            vec![veh],
            Matrix::from_points(&pts, &Euclidean),
        )
        .unwrap();
        p.set_release(2, 20.0);
        p
    }

    #[test]
    fn a_removal_that_delays_a_released_stop_takes_it_out_too() {
        let p = released_pair();
        let mut s = Solution::empty(&p);
        for ri in 0..p.requests.len() {
            let ins = best_in_solution(&p, &s, p.requests[ri], usize::MAX, None, 0).unwrap();
            apply_in_solution(&p, &mut s, ri, &ins);
        }
        assert!(s.unassigned.is_empty() && s.routes[0].is_feasible(&p));
        let first = p.requests[0];
        let nodes: Vec<usize> = first.nodes().collect();
        s.routes[0].remove_nodes(&p, &nodes);
        s.unassigned.push(0);
        assert!(!s.routes[0].is_feasible(&p), "2 is late once 1 is gone");
        shed_until_feasible(&p, &mut s, 0);
        assert!(s.routes[0].is_feasible(&p));
        assert!(s.routes[0].is_empty());
        assert_eq!(s.unassigned, vec![0, 1]);
        assert!(p.requests[1].nodes().all(|x| s.route_of[x] == NONE));
    }
}
