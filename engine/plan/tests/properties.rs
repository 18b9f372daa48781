//! Property tests on small random instances with tiny iteration budgets.

mod common;

use dispatch_plan::check::check_solution;
use dispatch_plan::insert::{apply, best_in_route, costs_over_routes, remove};
use dispatch_plan::local_search::improve_route;
use dispatch_plan::route::Route;
use dispatch_plan::route::Solution;
use dispatch_plan::search::{improve, search, Budget, SearchParams};
use dispatch_plan::solve::solve_problem;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_output_passes_the_checker_and_keeps_pins(seed in any::<u64>(), pairs in 1usize..8, singles in 0usize..6) {
        let p = common::random_problem(seed, pairs, singles);
        let (sol, _) = search(&p, &SearchParams::new(Budget::Iterations(40), seed));
        prop_assert!(sol.unassigned.is_empty());
        let plans = sol.plans();
        prop_assert!(check_solution(&p, &plans, true).is_ok(), "{:?}", check_solution(&p, &plans, true));
        // pinned stops keep their order at the head of their vehicle's route
        for plan in &plans {
            let pinned = &p.vehicles[plan.vehicle].pinned;
            prop_assert_eq!(&plan.stops[..pinned.len()], &pinned[..]);
        }
        prop_assert!(plans.iter().any(|r| r.vehicle == 0));
        // cached distances agree with the checker
        let stats = check_solution(&p, &plans, true).unwrap();
        prop_assert!((stats.distance - sol.distance()).abs() < 1e-6);
    }

    /// With releases (a request known only from some time on) removals can delay a
    /// route; whatever the search outputs still passes the checker, which honours them.
    #[test]
    fn with_releases_every_output_passes_the_checker(seed in any::<u64>(), pairs in 2usize..10, singles in 0usize..4, spread in 0.0f64..200.0) {
        let mut p = common::random_problem(seed, pairs, singles);
        let mut rng = seed;
        let firsts: Vec<usize> = p.requests.iter().map(|r| r.first).collect();
        for node in firsts {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let at = (rng >> 11) as f64 / (1u64 << 53) as f64 * spread;
            p.set_release(node, at.min(p.nodes[node].due));
        }
        let (sol, _) = search(&p, &SearchParams::new(Budget::Iterations(60), seed));
        let plans = sol.plans();
        prop_assert!(check_solution(&p, &plans, false).is_ok(), "{:?}", check_solution(&p, &plans, false));
    }

    #[test]
    fn improving_a_plan_keeps_pins_and_never_worsens_it(seed in any::<u64>(), pairs in 1usize..8, singles in 0usize..6) {
        let p = common::random_problem(seed, pairs, singles);
        // A poor but feasible start: the search's own result after a single iteration
        // with every request moved to its own route where it fits.
        let (first, _) = search(&p, &SearchParams::new(Budget::Iterations(1), seed));
        let start = Solution::from_routes(&p, first.routes.clone());
        prop_assert_eq!(&start.unassigned, &first.unassigned);
        let (better, _) = improve(&p, start.clone(), &SearchParams::new(Budget::Iterations(40), seed ^ 1));
        prop_assert!(!start.better_than(&better));
        prop_assert!(better.unassigned.len() <= start.unassigned.len());
        let plans = better.plans();
        prop_assert!(check_solution(&p, &plans, better.unassigned.is_empty()).is_ok());
        for plan in &plans {
            let pinned = &p.vehicles[plan.vehicle].pinned;
            prop_assert_eq!(&plan.stops[..pinned.len()], &pinned[..]);
        }
    }

    #[test]
    fn insert_then_remove_restores_the_route(seed in any::<u64>(), pairs in 2usize..10, singles in 0usize..5) {
        let p = common::random_problem(seed, pairs, singles);
        let mut route = Route::new(&p, 0);
        let base = route.distance;
        // fill the route with whatever fits
        for rq in p.requests.iter().skip(1) {
            if let Some(ins) = best_in_route(&p, &route, *rq, None) {
                let before = route.distance;
                apply(&p, &mut route, *rq, &ins);
                prop_assert!((route.distance - before - ins.cost).abs() < 1e-9);
                prop_assert!(route.is_feasible(&p));
            }
        }
        prop_assert!(route.distance >= base - 1e-9);
        let rq = p.requests[0];
        if let Some(ins) = best_in_route(&p, &route, rq, None) {
            let seq = route.seq.clone();
            let d = route.distance;
            apply(&p, &mut route, rq, &ins);
            remove(&p, &mut route, rq);
            prop_assert_eq!(&route.seq, &seq);
            prop_assert!((route.distance - d).abs() < 1e-9);
        }
        let improved = improve_route(&p, &mut route, 30, seed);
        prop_assert!(route.is_feasible(&p));
        prop_assert!(check_solution(&p, &[route.plan()], false).is_ok());
        prop_assert!(improved <= route.distance + 1e-12);
    }
}

#[test]
fn same_seed_same_iterations_same_result() {
    let p = common::random_problem(42, 7, 5);
    let prm = SearchParams::new(Budget::Iterations(60), 9);
    let a = solve_problem(&p, &prm).unwrap();
    let b = solve_problem(&p, &prm).unwrap();
    assert_eq!(a.routes, b.routes);
    assert_eq!(a.distance, b.distance);
}

#[test]
fn costs_over_k_routes_match_applied_costs() {
    let p = common::random_problem(5, 8, 0);
    let (sol, _) = search(&p, &SearchParams::new(Budget::Iterations(20), 1));
    let rq = p.requests[3];
    let mut routes = sol.routes.clone();
    for r in routes.iter_mut() {
        let free: Vec<usize> = r
            .free_stops()
            .iter()
            .copied()
            .filter(|&x| rq.nodes().any(|y| y == x))
            .collect();
        r.remove_nodes(&p, &free);
    }
    let costs = costs_over_routes(&p, &routes, rq);
    assert_eq!(costs.len(), routes.len());
    assert!(costs.iter().any(Option::is_some));
    for c in costs.into_iter().flatten() {
        let mut r = routes[c.route].clone();
        let d = r.distance;
        apply(&p, &mut r, rq, &c);
        assert!((r.distance - d - c.cost).abs() < 1e-9);
        let chk = check_solution(&p, &[r.plan()], false);
        assert!(chk.is_ok(), "{chk:?} {:?}", r.seq);
    }
}

#[test]
fn a_problem_without_requests_returns_at_once() {
    let p = common::random_problem(1, 0, 0);
    let r = solve_problem(
        &p,
        &SearchParams::new(Budget::Time(std::time::Duration::from_secs(60)), 1),
    )
    .unwrap();
    assert_eq!(r.vehicles, 0);
    assert!(r.routes.is_empty());
}
