//! The live objective: what a plan costs the business, by the weights of
//! `[dispatch.objective]`. Re-optimisation takes a plan only if it costs less; the
//! replay reports the same terms.

use super::builder::LiveProblem;
use crate::config::ObjectiveConfig;
use dispatch_plan::route::Solution;
use dispatch_protocol::Millis;

/// The terms of a plan's cost and their weighted sum.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// Drivers whose plan holds any work.
    pub drivers: usize,
    pub km: f64,
    /// From now to the end of each route with work.
    pub hours: f64,
    /// Over every stop, minutes its service starts after its window's end.
    pub late_minutes: f64,
    pub unassigned: usize,
    pub total: f64,
}

impl Cost {
    pub fn new(
        w: &ObjectiveConfig,
        drivers: usize,
        km: f64,
        hours: f64,
        late_minutes: f64,
        unassigned: usize,
    ) -> Self {
        let total = w.per_driver * drivers as f64
            + w.per_km * km
            + w.per_hour * hours
            + w.per_late_minute * late_minutes
            + w.per_unassigned * unassigned as f64;
        Self {
            drivers,
            km,
            hours,
            late_minutes,
            unassigned,
            total,
        }
    }
}

/// The cost of `sol` on `lp` (times in seconds from `now_ms`, distances in metres). A
/// vehicle whose stop being served was folded into its start counts as working.
pub(super) fn of_solution(
    lp: &LiveProblem,
    sol: &Solution,
    now_ms: Millis,
    w: &ObjectiveConfig,
) -> Cost {
    let mut drivers = 0;
    let (mut metres, mut seconds, mut late_s) = (0.0, 0.0, 0.0);
    for (v, route) in sol.routes.iter().enumerate() {
        if route.is_empty() && lp.head[v].is_none() {
            continue;
        }
        drivers += 1;
        metres += route.distance;
        seconds += route.end_time().max(0.0);
        let schedule = route.schedule();
        for (k, &node) in route.seq.iter().enumerate() {
            let due = lp.node_stop.get(node).and_then(|s| s.as_ref()?.due_ms);
            if let Some(due) = due {
                let due_s = (due as f64 - now_ms as f64) / 1000.0;
                late_s += (schedule[k] - due_s).max(0.0);
            }
        }
    }
    Cost::new(
        w,
        drivers,
        metres / 1000.0,
        seconds / 3600.0,
        late_s / 60.0,
        sol.unassigned.len(),
    )
}
