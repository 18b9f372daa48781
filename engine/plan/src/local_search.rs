//! Local search: request relocation (a pickup and its delivery move together; intra- and
//! inter-route, including into an empty vehicle while the fleet allows) and a small
//! ruin-and-recreate improvement of one route for live dispatch.

use crate::insert::{apply, apply_in_solution, best_in_route, best_in_solution};
use crate::model::{Problem, Request, NONE};
use crate::rng::Rng;
use crate::route::{Route, Solution};

const IMPROVEMENT: f64 = 1e-9;

/// One pass of best-improvement relocation over every assigned request, in index order.
/// Returns whether the solution improved. Never uses more than `max_routes` routes.
pub fn relocate_pass(p: &Problem, s: &mut Solution, max_routes: usize) -> bool {
    let mut improved = false;
    let mut backup = Route::default();
    for (ri, req) in p.requests.iter().enumerate() {
        let r = s.route_of[req.first];
        if r == NONE {
            continue;
        }
        backup.clone_from(&s.routes[r]);
        let old = s.routes[r].distance;
        crate::insert::remove(p, &mut s.routes[r], *req);
        if p.has_releases && !s.routes[r].is_feasible(p) {
            s.routes[r].clone_from(&backup);
            continue;
        }
        let gain = old - s.routes[r].distance;
        let used = s.vehicles();
        match best_in_solution(p, s, *req, max_routes, None, used) {
            Some(ins) if ins.cost < gain - IMPROVEMENT => {
                s.unassigned.push(ri);
                apply_in_solution(p, s, ri, &ins);
                improved = true;
            }
            _ => s.routes[r].clone_from(&backup),
        }
    }
    improved
}

/// Relocation passes until no request moves (at most `max_passes`).
pub fn local_search(p: &Problem, s: &mut Solution, max_routes: usize, max_passes: usize) {
    for _ in 0..max_passes {
        if !relocate_pass(p, s, max_routes) {
            break;
        }
    }
}

/// Improves one route on its own: `iterations` times, remove 1–3 random free requests and
/// reinsert them greedily (random order); keep the result when it is shorter. Pinned
/// stops never move. Deterministic for a given seed. Returns the new distance.
pub fn improve_route(p: &Problem, route: &mut Route, iterations: usize, seed: u64) -> f64 {
    let mut rng = Rng::new(seed);
    let mut cand = route.clone();
    let mut reqs: Vec<Request> = Vec::new();
    for _ in 0..iterations {
        let free = route.free_stops();
        if free.len() < 2 {
            break;
        }
        cand.clone_from(route);
        reqs.clear();
        let k = 1 + rng.below(3);
        for _ in 0..k {
            let x = free[rng.below(free.len())];
            let rq = p.requests[p.request_of[x]];
            if !reqs.contains(&rq) {
                reqs.push(rq);
            }
        }
        let nodes: Vec<usize> = reqs.iter().flat_map(|r| r.nodes()).collect();
        cand.remove_nodes(p, &nodes);
        rng.shuffle(&mut reqs);
        let mut ok = true;
        for rq in &reqs {
            match best_in_route(p, &cand, *rq, None) {
                Some(ins) => apply(p, &mut cand, *rq, &ins),
                None => {
                    ok = false;
                    break;
                }
            }
        }
        // Removing a driver-bound unload (goods on board) leaves the prefix over
        // capacity, which single-stop insertion does not re-check: check the whole route.
        if ok && cand.distance < route.distance - IMPROVEMENT && cand.is_feasible(p) {
            route.clone_from(&cand);
        }
    }
    route.distance
}
