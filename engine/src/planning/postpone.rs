//! Postponement: an order whose best placement this round puts an idle driver to work
//! may wait for a later round instead, while waiting costs it nothing but time — the
//! driver could still set out a round later and meet every window of its new route.
//! Meanwhile more orders arrive and working drivers move on, and the next round may
//! place it on a route that is already driving, or bundle it with others on one new
//! route (the EURO-NeurIPS 2022 dynamic VRPTW winners' key idea). Pure: the region
//! decides which orders may still wait (`dispatch.postpone_ms` since creation).

use super::{etas, BatchOutcome, DriverPlan};
use crate::planning::travel::Travel;
use dispatch_protocol::Millis;
use std::sync::Arc;

/// Takes out of `outcome` every route that puts an idle driver to work when all of its
/// orders may wait (`may_wait[j]`) and the same stops, started from the driver's
/// position at `retry_ms` (the next round), still meet every window. Returns the jobs
/// held back, in job order.
pub fn hold_back(
    drivers: &[Arc<DriverPlan>],
    outcome: &mut BatchOutcome,
    may_wait: &[bool],
    retry_ms: Millis,
    travel: &Travel,
) -> Vec<usize> {
    let mut held = Vec::new();
    outcome.routes.retain(|r| {
        let d = &drivers[r.driver];
        let idle = d.stops.is_empty() && d.arrived_ms.is_none();
        if !idle || r.jobs.is_empty() || !r.jobs.iter().all(|&j| may_wait[j]) {
            return true;
        }
        let later = etas(d.position, &r.stops, retry_ms, travel);
        let in_time = r
            .stops
            .iter()
            .zip(&later)
            .all(|(s, &eta)| s.due_ms.is_none_or(|due| eta <= due));
        if in_time {
            held.extend_from_slice(&r.jobs);
        }
        !in_time
    });
    held.sort_unstable();
    held
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planning::live_tests::{at, driver, stop};
    use crate::planning::{LiveStop, NewRoute};
    use dispatch_protocol::StopKind;

    use crate::planning::live_tests::NOW;

    fn route(driver: usize, jobs: Vec<usize>, stops: Vec<LiveStop>) -> NewRoute {
        NewRoute {
            driver,
            stops,
            jobs,
        }
    }

    fn due(mut s: LiveStop, due_ms: Millis) -> LiveStop {
        s.due_ms = Some(due_ms);
        s
    }

    /// Two drivers at the origin, one idle and one with work; an order 1 km away on
    /// each.
    fn setup(due_ms: Option<Millis>) -> (Vec<Arc<DriverPlan>>, BatchOutcome) {
        let origin = at(0.0, 0.0);
        let busy_stop = stop("w", StopKind::Dropoff, at(0.0, 500.0));
        let drivers = vec![
            driver("idle", 4, origin, Vec::new()),
            driver("busy", 4, origin, vec![busy_stop.clone()]),
        ];
        let stops = |id: &str| {
            let p = stop(id, StopKind::Pickup, at(1_000.0, 0.0));
            let q = stop(id, StopKind::Dropoff, at(1_000.0, 0.0));
            match due_ms {
                Some(d) => vec![due(p, d), due(q, d + 60_000)],
                None => vec![p, q],
            }
        };
        let mut on_busy = vec![busy_stop];
        on_busy.extend(stops("b"));
        let outcome = BatchOutcome {
            routes: vec![route(0, vec![0], stops("a")), route(1, vec![1], on_busy)],
            unassigned: Vec::new(),
        };
        (drivers, outcome)
    }

    #[test]
    fn only_an_idle_drivers_route_whose_windows_allow_waiting_is_held_back() {
        let travel = crate::planning::live_tests::travel();
        let drive_ms = (travel.duration_s(at(0.0, 0.0), at(1_000.0, 0.0), NOW) * 1000.0) as Millis;
        // No windows: the idle driver's order waits, the working driver's does not.
        let (drivers, mut out) = setup(None);
        let held = hold_back(&drivers, &mut out, &[true, true], NOW + 200, &travel);
        assert_eq!(held, vec![0]);
        assert_eq!(out.routes.len(), 1);
        assert_eq!(out.routes[0].driver, 1);
        // Not allowed to wait any more (postponed long enough): proposed now.
        let (drivers, mut out) = setup(None);
        let held = hold_back(&drivers, &mut out, &[false, true], NOW + 200, &travel);
        assert!(held.is_empty());
        assert_eq!(out.routes.len(), 2);
        // A pickup due 100 ms after the drive from now: reachable now, not from the
        // next round.
        let (drivers, mut out) = setup(Some(NOW + drive_ms + 100));
        let held = hold_back(&drivers, &mut out, &[true, true], NOW + 200, &travel);
        assert!(held.is_empty(), "{held:?}");
        assert_eq!(out.routes.len(), 2);
        // Due 10 s after the drive: still reachable a round later.
        let (drivers, mut out) = setup(Some(NOW + drive_ms + 10_000));
        assert_eq!(
            hold_back(&drivers, &mut out, &[true, true], NOW + 200, &travel),
            vec![0]
        );
    }
}
