//! The yardstick of a dynamic replay. The best-known value assumes every request is
//! known at time 0; a dispatcher that learns of a request when the replay reveals it
//! cannot send a vehicle towards it before then. The reference is the offline
//! planner's best plan under exactly that rule (no vehicle sets out towards a pickup
//! before its reveal time plus a reaction time): what a dispatcher who knew every
//! future assignment, but moved no vehicle ahead of the information, could reach. The
//! gap between the best-known value and this reference is the price of the late
//! information itself; the gap between the reference and the live engine is what the
//! engine's decisions cost. (A dispatcher that sends idle vehicles towards likely
//! demand can beat it; the engine does not.)

use super::instance::Instance;
use dispatch_plan::check::check_solution;
use dispatch_plan::search::{search, Budget, SearchParams};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Reference {
    pub vehicles: usize,
    pub distance: f64,
    /// Requests the plan does not serve (no vehicle could reach them in time once
    /// revealed, or the search found no place for them within its budget).
    pub unserved: usize,
    /// Instance time units added to every reveal time (the engine's reaction).
    pub reaction_units: f64,
    /// Wall-clock seconds the planner searched.
    pub search_s: f64,
}

/// The planner's best plan for `inst` when request `i` cannot be driven towards before
/// `reveal[i] + reaction` (instance units), searched for `budget`. An error only if
/// the planner's own checker refused the plan.
pub fn causal(
    inst: &Instance,
    reveal: &[(f64, usize)],
    reaction: f64,
    budget: Duration,
    seed: u64,
) -> Result<Reference, String> {
    let mut p = inst.problem.clone();
    for &(at, i) in reveal {
        p.set_release(inst.requests[i].pickup, at + reaction);
    }
    let t0 = std::time::Instant::now();
    let (sol, _) = search(&p, &SearchParams::new(Budget::Time(budget), seed));
    check_solution(&p, &sol.plans(), false).map_err(|v| format!("{v}"))?;
    Ok(Reference {
        vehicles: sol.vehicles(),
        distance: sol.distance(),
        unserved: sol.unassigned.len(),
        reaction_units: reaction,
        search_s: t0.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn set_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/vrp/li_lim_100")
    }

    /// Each request at its ready time, `margin` before the depot could no longer serve it.
    fn at_ready(inst: &Instance, margin: f64) -> Vec<(f64, usize)> {
        let reveal = |(i, r)| (inst.reveal_at(r, false, margin), i);
        inst.requests
            .iter()
            .copied()
            .enumerate()
            .map(reveal)
            .collect()
    }

    #[test]
    fn late_information_costs_vehicles_or_distance() {
        let inst = Instance::load(&set_dir().join("lr101.txt")).expect("lr101");
        let late = at_ready(&inst, 0.0);
        let budget = Duration::from_millis(500);
        let dynamic = causal(&inst, &late, 0.0, budget, 1).expect("a checked plan");
        let at_zero: Vec<(f64, usize)> = (0..inst.requests.len()).map(|i| (0.0, i)).collect();
        let known = causal(&inst, &at_zero, 0.0, budget, 1).expect("plan");
        assert_eq!(known.unserved, 0);
        assert!(
            (dynamic.unserved, dynamic.vehicles, dynamic.distance)
                > (0, known.vehicles, known.distance),
            "revealed at ready: {dynamic:?}, known at 0: {known:?}"
        );
    }

    #[test]
    fn every_reference_plan_passes_the_checker() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(set_dir())
            .expect("li_lim_100")
            .map(|e| e.expect("entry").path())
            .filter(|f| f.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        assert!(files.len() >= 29);
        for file in files {
            let name = file.display();
            let inst = Instance::load(&file).expect("instance");
            let r = causal(
                &inst,
                &at_ready(&inst, 5.0),
                1.0,
                Duration::from_millis(200),
                1,
            );
            assert!(r.is_ok(), "{name}: {r:?}");
        }
    }
}
