//! The metaheuristic: construction, route (fleet) minimisation, then simulated annealing
//! on distance with SISR ruin-and-recreate, then local search.
//!
//! Objective, hierarchical: serve every request, then fewest vehicles, then distance.
//! The budget is wall-clock time or a number of ruin-and-recreate iterations; with an
//! iteration budget the result depends only on the problem, the seed and the count.

use std::time::{Duration, Instant};

use crate::local_search::local_search;
use crate::model::Problem;
use crate::rng::Rng;
use crate::route::Solution;
use crate::ruin::{recreate, ruin, Order, RuinParams};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// Wall-clock time for the whole search.
    Time(Duration),
    /// Number of ruin-and-recreate iterations (deterministic).
    Iterations(u64),
    /// Whichever ends first: a search sized to its problem (iterations) that a busy
    /// machine still cannot stretch past its time.
    Either { time: Duration, iterations: u64 },
}

#[derive(Clone, Debug)]
pub struct SearchParams {
    pub budget: Budget,
    pub seed: u64,
    pub ruin: RuinParams,
    /// Share of the budget the fleet minimisation may use at most.
    pub fleet_share: f64,
    /// Start and final temperature, relative to the mean distance between customers.
    pub t_start: f64,
    pub t_end: f64,
}

impl SearchParams {
    pub fn new(budget: Budget, seed: u64) -> Self {
        SearchParams {
            budget,
            seed,
            ruin: RuinParams::default(),
            fleet_share: 0.4,
            t_start: 1.0,
            t_end: 0.005,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SearchStats {
    pub iterations: u64,
    pub fleet_iterations: u64,
    /// Distance-phase candidates dropped because a request found no place.
    pub incomplete: u64,
    /// Distance-phase candidates accepted.
    pub accepted: u64,
}

struct Clock {
    start: Instant,
    budget: Budget,
}

impl Clock {
    fn start(budget: Budget) -> Self {
        Clock {
            start: Instant::now(),
            budget,
        }
    }

    /// Progress in [0, 1] after `iter` iterations.
    fn frac(&self, iter: u64) -> f64 {
        match self.budget {
            Budget::Time(d) => self.time_frac(d),
            Budget::Iterations(n) => iter_frac(iter, n),
            Budget::Either { time, iterations } => {
                iter_frac(iter, iterations).max(self.time_frac(time))
            }
        }
    }

    fn time_frac(&self, d: Duration) -> f64 {
        let total = d.as_secs_f64();
        if total <= 0.0 {
            1.0
        } else {
            self.start.elapsed().as_secs_f64() / total
        }
    }
}

fn iter_frac(iter: u64, n: u64) -> f64 {
    if n == 0 {
        1.0
    } else {
        iter as f64 / n as f64
    }
}

/// Runs the whole search. The result may leave requests unassigned when no feasible
/// assignment was found; callers check `unassigned`.
pub fn search(p: &Problem, prm: &SearchParams) -> (Solution, SearchStats) {
    let clock = Clock::start(prm.budget);
    let mut rng = Rng::new(prm.seed);
    let mut stats = SearchStats::default();
    if p.requests.is_empty() {
        return (Solution::empty(p), stats);
    }
    let s = construct(p, &mut rng);
    let best = run(p, s, &mut rng, &clock, prm, &mut stats);
    (best, stats)
}

/// Continues the search from `start` (e.g. the routes a fleet drives now): route
/// minimisation, then annealing on distance, within the budget. Never returns a
/// solution worse than `start` (by [`Solution::better_than`]).
pub fn improve(p: &Problem, start: Solution, prm: &SearchParams) -> (Solution, SearchStats) {
    let clock = Clock::start(prm.budget);
    let mut rng = Rng::new(prm.seed);
    let mut stats = SearchStats::default();
    if p.requests.is_empty() {
        return (start, stats);
    }
    let best = run(p, start.clone(), &mut rng, &clock, prm, &mut stats);
    if best.better_than(&start) {
        (best, stats)
    } else {
        (start, stats)
    }
}

/// Construction: greedy insertion in each order, the best one after local search.
fn construct(p: &Problem, rng: &mut Rng) -> Solution {
    let fleet = p.vehicles.len();
    let empty = Solution::empty(p);
    let mut s = empty.clone();
    recreate(p, &mut s, rng, Order::Far, fleet, 0.0);
    local_search(p, &mut s, fleet, 3);
    for order in [
        Order::TimeWindow,
        Order::Demand,
        Order::Close,
        Order::Random,
    ] {
        let mut c = empty.clone();
        recreate(p, &mut c, rng, order, fleet, 0.0);
        local_search(p, &mut c, fleet, 3);
        if c.better_than(&s) {
            s = c;
        }
    }
    s
}

/// Fleet minimisation from `s`, then simulated annealing on distance from its result.
fn run(
    p: &Problem,
    s: Solution,
    rng: &mut Rng,
    clock: &Clock,
    prm: &SearchParams,
    stats: &mut SearchStats,
) -> Solution {
    let mut best = fleet_min(p, s, rng, clock, prm, stats);
    if !best.unassigned.is_empty() {
        return best;
    }
    let mut max_routes = best.vehicles();
    let t0 = prm.t_start * p.scale;
    let t1 = prm.t_end * p.scale;
    let f0 = clock.frac(stats.iterations).min(1.0);
    let mut cur = best.clone();
    let mut cand = cur.clone();
    loop {
        let f = clock.frac(stats.iterations);
        if f >= 1.0 {
            break;
        }
        let phase = ((f - f0) / (1.0 - f0)).clamp(0.0, 1.0);
        let temp = t0 * (t1 / t0).powf(phase);
        cand.clone_from(&cur);
        ruin(p, &mut cand, rng, &prm.ruin);
        let order = Order::pick(rng);
        recreate(p, &mut cand, rng, order, max_routes, prm.ruin.blink_rate);
        stats.iterations += 1;
        if !cand.unassigned.is_empty() {
            stats.incomplete += 1;
            continue;
        }
        let threshold = cur.distance() - temp * rng.f64().max(1e-300).ln();
        if cand.better_than(&best) {
            best.clone_from(&cand);
            max_routes = best.vehicles();
            std::mem::swap(&mut cur, &mut cand);
            stats.accepted += 1;
        } else if cand.distance() < threshold && cand.vehicles() <= max_routes {
            std::mem::swap(&mut cur, &mut cand);
            stats.accepted += 1;
        }
    }
    local_search(p, &mut best, max_routes, 20);
    best
}

/// Route minimisation (SISR's fleet minimisation): remove a route, then ruin and recreate
/// with one route fewer, accepting a candidate when it leaves fewer requests out or
/// requests that were absent less often. Returns the best complete solution (or the
/// input when it never completed).
fn fleet_min(
    p: &Problem,
    s0: Solution,
    rng: &mut Rng,
    clock: &Clock,
    prm: &SearchParams,
    stats: &mut SearchStats,
) -> Solution {
    let lb = p.capacity_lower_bound().max(1);
    let mut absences = vec![0u64; p.requests.len()];
    let mut best: Option<Solution> = s0.unassigned.is_empty().then(|| s0.clone());
    let mut max_routes = if s0.unassigned.is_empty() {
        s0.vehicles()
    } else {
        p.vehicles.len()
    };
    let mut cur = s0;
    let mut cand = cur.clone();
    let sum = |s: &Solution, abs: &[u64]| s.unassigned.iter().map(|&r| abs[r]).sum::<u64>();
    loop {
        if cur.unassigned.is_empty() {
            if best.as_ref().is_none_or(|b| cur.better_than(b)) {
                best = Some(cur.clone());
            }
            if cur.vehicles() <= lb {
                break;
            }
            // remove a random route without pinned stops (whose vehicle is not at work)
            let cands: Vec<usize> = (0..cur.routes.len())
                .filter(|&r| {
                    let route = &cur.routes[r];
                    !route.is_empty() && route.n_pinned == 0 && !route.working
                })
                .collect();
            if cands.is_empty() {
                break;
            }
            let r = cands[rng.below(cands.len())];
            let stops = cur.routes[r].free_stops().to_vec();
            for &x in &stops {
                let rq = p.request_of[x];
                if p.requests[rq].first == x {
                    cur.unassigned.push(rq);
                }
                cur.route_of[x] = crate::model::NONE;
            }
            cur.routes[r].remove_nodes(p, &stops);
            max_routes = cur.vehicles();
        }
        if clock.frac(stats.iterations) >= prm.fleet_share {
            break;
        }
        cand.clone_from(&cur);
        ruin(p, &mut cand, rng, &prm.ruin);
        let order = Order::pick(rng);
        recreate(p, &mut cand, rng, order, max_routes, prm.ruin.blink_rate);
        stats.iterations += 1;
        stats.fleet_iterations += 1;
        for &r in &cand.unassigned {
            absences[r] += 1;
        }
        if cand.unassigned.len() < cur.unassigned.len()
            || sum(&cand, &absences) < sum(&cur, &absences)
        {
            std::mem::swap(&mut cur, &mut cand);
        }
    }
    best.unwrap_or(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_either_budget_ends_at_whichever_comes_first() {
        let hour = Duration::from_secs(3600);
        let by_count = Clock::start(Budget::Either {
            time: hour,
            iterations: 10,
        });
        assert!((by_count.frac(5) - 0.5).abs() < 1e-3);
        assert!(by_count.frac(10) >= 1.0);
        let by_time = Clock::start(Budget::Either {
            time: Duration::ZERO,
            iterations: 1_000_000,
        });
        assert!(by_time.frac(0) >= 1.0);
    }
}
