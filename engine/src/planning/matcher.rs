//! The dispatch policy seam: a matcher takes a region's batch of eligible orders and
//! the snapshots of their candidate drivers and returns the new routes to propose and
//! the orders no driver can take. It is pure (no actors, no store, time passed in);
//! `RegionActor::tick` gathers its inputs, calls it and sends the proposals.
//! `dispatch.policy` chooses one:
//! - `batch_regret` (default): the whole batch jointly, regret-2 insertion, then route
//!   improvement ([`assign_batch`]);
//! - `nearest`: each order in turn (priority, then age) to its nearest candidate that
//!   can take it, at that driver's cheapest insertion — what a simple dispatcher does.

use super::travel::Travel;
use super::{assign_batch, BatchOutcome, DriverPlan, Job, NewRoute, NoDriver, Params};
use crate::config::Policy;
use dispatch_protocol::Millis;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a region hands its matcher each tick.
pub struct MatchInput<'a> {
    /// Candidate drivers' plans (route snapshot and position now).
    pub drivers: &'a [Arc<DriverPlan>],
    /// The batch, in priority order (highest first, then oldest).
    pub jobs: &'a [Job],
    /// Per job: indices into `drivers`, nearest first.
    pub candidates: &'a [Vec<usize>],
    pub now_ms: Millis,
    pub travel: &'a Travel,
    pub params: &'a Params,
}

/// A dispatch policy.
pub trait Matcher: Send + Sync {
    fn assign(&self, input: &MatchInput<'_>) -> BatchOutcome;
}

/// The matcher of a `dispatch.policy`.
pub fn for_policy(policy: Policy) -> Box<dyn Matcher> {
    match policy {
        Policy::BatchRegret => Box::new(BatchRegret),
        Policy::Nearest => Box::new(Nearest),
    }
}

/// The whole batch jointly: regret insertion over every candidate route.
pub struct BatchRegret;

impl Matcher for BatchRegret {
    fn assign(&self, i: &MatchInput<'_>) -> BatchOutcome {
        assign_batch(
            i.drivers,
            i.jobs,
            i.candidates,
            i.now_ms,
            i.travel,
            i.params,
        )
    }
}

/// Each order in turn to the nearest candidate whose route can take it.
pub struct Nearest;

impl Matcher for Nearest {
    fn assign(&self, i: &MatchInput<'_>) -> BatchOutcome {
        // Routes grown so far in this batch, by driver index.
        let mut grown: BTreeMap<usize, (Arc<DriverPlan>, Vec<usize>)> = BTreeMap::new();
        let mut out = BatchOutcome::default();
        for (j, job) in i.jobs.iter().enumerate() {
            let mut why = NoDriver::NoneNearby;
            let mut placed = false;
            for &d in &i.candidates[j] {
                let plan = grown
                    .get(&d)
                    .map_or_else(|| i.drivers[d].clone(), |(p, _)| p.clone());
                let one = assign_batch(
                    std::slice::from_ref(&plan),
                    std::slice::from_ref(job),
                    &[vec![0]],
                    i.now_ms,
                    i.travel,
                    i.params,
                );
                match one.routes.into_iter().next() {
                    Some(NewRoute { stops, .. }) => {
                        let next = Arc::new(DriverPlan {
                            stops,
                            ..(*plan).clone()
                        });
                        let entry = grown.entry(d).or_insert_with(|| (next.clone(), Vec::new()));
                        entry.0 = next;
                        entry.1.push(j);
                        placed = true;
                        break;
                    }
                    None => {
                        if let Some((_, reason)) = one.unassigned.first() {
                            why = *reason;
                        }
                    }
                }
            }
            if !placed {
                out.unassigned.push((j, why));
            }
        }
        out.routes = grown
            .into_iter()
            .map(|(driver, (plan, jobs))| NewRoute {
                driver,
                stops: plan.stops.clone(),
                jobs,
            })
            .collect();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TravelConfig;
    use crate::orders::model::{created, job, sample_stop as stop};
    use dispatch_protocol::NewOrder;

    fn driver(id: &str, lat: f64, lon: f64, capacity: u32) -> Arc<DriverPlan> {
        Arc::new(DriverPlan {
            arrived_ms: None,
            driver_id: Arc::from(id),
            version: 0,
            capacity,
            position: (lat, lon),
            stops: Vec::new(),
        })
    }

    fn order_job(id: &str, lat: f64, lon: f64) -> Job {
        let new = NewOrder {
            id: Some(id.into()),
            pickup: stop(lat, lon),
            dropoff: stop(lat + 0.01, lon),
            size: 1,
            priority: 0,
            details: Default::default(),
        };
        job(&created(id.into(), new, 1_000))
    }

    fn run(
        m: &dyn Matcher,
        drivers: &[Arc<DriverPlan>],
        jobs: &[Job],
        cands: &[Vec<usize>],
    ) -> BatchOutcome {
        let travel = Travel::new(&TravelConfig::default());
        m.assign(&MatchInput {
            drivers,
            jobs,
            candidates: cands,
            now_ms: 1_000,
            travel: &travel,
            params: &Params::default(),
        })
    }

    /// Nearest gives each order to its first candidate that can take it, growing that
    /// route for the next order; full drivers are passed over; no candidate at all is
    /// `NoneNearby`.
    #[test]
    fn nearest_takes_the_first_candidate_that_fits() {
        let drivers = [driver("a", 60.17, 24.94, 1), driver("b", 60.20, 24.94, 4)];
        let jobs = [
            order_job("o1", 60.17, 24.94),
            order_job("o2", 60.17, 24.94),
            order_job("o3", 60.17, 24.94),
        ];
        let cands = [vec![0, 1], vec![0, 1], vec![]];
        let out = run(&Nearest, &drivers, &jobs, &cands);
        let by_driver: BTreeMap<usize, Vec<usize>> = out
            .routes
            .iter()
            .map(|r| (r.driver, r.jobs.clone()))
            .collect();
        // a holds one unit at a time, so it takes o1 and could take o2 after o1's
        // dropoff; either way every stop of a route belongs to its jobs.
        let total: usize = by_driver.values().map(Vec::len).sum();
        assert_eq!(total, 2);
        assert!(
            by_driver[&0].contains(&0),
            "o1 to the nearest: {by_driver:?}"
        );
        assert_eq!(out.unassigned, vec![(2, NoDriver::NoneNearby)]);
        for r in &out.routes {
            assert_eq!(r.stops.len(), 2 * r.jobs.len());
        }
    }

    /// Both policies place every order of a small batch and never give one order to
    /// two drivers.
    #[test]
    fn both_policies_assign_each_order_once() {
        let drivers = [driver("a", 60.17, 24.94, 4), driver("b", 60.18, 24.95, 4)];
        let jobs: Vec<Job> = (0..5)
            .map(|i| order_job(&format!("o{i}"), 60.17 + f64::from(i) * 0.002, 24.94))
            .collect();
        let cands = vec![vec![0, 1]; jobs.len()];
        for policy in [Policy::BatchRegret, Policy::Nearest] {
            let out = run(&*for_policy(policy), &drivers, &jobs, &cands);
            let mut placed: Vec<usize> = out.routes.iter().flat_map(|r| r.jobs.clone()).collect();
            placed.sort_unstable();
            assert_eq!(placed, vec![0, 1, 2, 3, 4], "{policy:?}");
            assert!(out.unassigned.is_empty(), "{policy:?}");
        }
    }
}
