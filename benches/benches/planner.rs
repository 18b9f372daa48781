//! Planner hot paths: insertion of one order into a 30-stop route, best insertion of one
//! order over 50 routes (live dispatch's primitive), one local-search pass over a
//! 100-stop solution. Synthetic, deterministic instances (no data files needed).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use dispatch_plan::insert::{apply, best_in_route, costs_over_routes};
use dispatch_plan::local_search::relocate_pass;
use dispatch_plan::model::{Node, NodeKind, Problem, Vehicle};
use dispatch_plan::rng::Rng;
use dispatch_plan::route::Route;
use dispatch_plan::search::{search, Budget, SearchParams};
use dispatch_plan::travel::{Euclidean, Matrix};

/// `pairs` pickup/delivery pairs on a 100 × 100 square, windows of a few hundred time
/// units in a 2000 horizon, `vehicles` vehicles of capacity 200 at the centre.
fn problem(pairs: usize, vehicles: usize, seed: u64) -> Problem {
    let mut rng = Rng::new(seed);
    let mut pts = vec![[50.0, 50.0]];
    let mut nodes = vec![Node {
        id: 0,
        kind: NodeKind::Depot,
        demand: 0,
        ready: 0.0,
        due: 5000.0,
        service: 0.0,
        vehicle: None,
    }];
    for _ in 0..pairs {
        let pu = nodes.len();
        let ready = rng.f64() * 1500.0;
        let due = ready + 300.0 + rng.f64() * 600.0;
        let q = 1 + rng.below(10) as i32;
        for (id, kind, demand, ready, due) in [
            (pu, NodeKind::Pickup { delivery: pu + 1 }, q, ready, due),
            (
                pu + 1,
                NodeKind::Delivery { pickup: pu },
                -q,
                ready,
                due + 1500.0,
            ),
        ] {
            pts.push([rng.f64() * 100.0, rng.f64() * 100.0]);
            nodes.push(Node {
                id,
                kind,
                demand,
                ready,
                due,
                service: 5.0,
                vehicle: None,
            });
        }
    }
    let veh = Vehicle {
        start: 0,
        end: Some(0),
        start_time: 0.0,
        shift_end: 5000.0,
        capacity: 200,
        start_load: 0,
        pinned: vec![],
    };
    let m = Matrix::from_points(&pts, &Euclidean);
    Problem::new("bench", nodes, vec![veh; vehicles], m).expect("valid")
}

/// A route of vehicle `v` filled with the first requests that fit until it has `stops`.
fn fill(p: &Problem, v: usize, reqs: impl Iterator<Item = usize>, stops: usize) -> Route {
    let mut r = Route::new(p, v);
    for ri in reqs {
        if r.len() >= stops {
            break;
        }
        let rq = p.requests[ri];
        if let Some(ins) = best_in_route(p, &r, rq, None) {
            apply(p, &mut r, rq, &ins);
        }
    }
    r
}

fn benches(c: &mut Criterion) {
    // one order into a 30-stop route
    let p = problem(60, 1, 1);
    let route = fill(&p, 0, 1..p.requests.len(), 30);
    assert_eq!(route.len(), 30);
    let order = p.requests[0];
    c.bench_function("plan/insert_pair_30_stop_route", |b| {
        b.iter(|| black_box(best_in_route(&p, black_box(&route), order, None)))
    });

    // best insertion of one order over 50 routes of ~20 stops
    let p = problem(600, 50, 2);
    let routes: Vec<Route> = (0..50)
        .map(|v| fill(&p, v, (1 + v * 11..p.requests.len()).step_by(7), 20))
        .collect();
    let order = p.requests[0];
    c.bench_function("plan/best_insertion_over_50_routes", |b| {
        b.iter(|| black_box(costs_over_routes(&p, black_box(&routes), order)))
    });

    // one relocation pass over a 100-stop solution
    let p = problem(50, 25, 3);
    let (sol, _) = search(&p, &SearchParams::new(Budget::Iterations(200), 1));
    assert!(sol.unassigned.is_empty());
    let max_routes = sol.vehicles();
    c.bench_function("plan/local_search_pass_100_stops", |b| {
        b.iter_batched(
            || sol.clone(),
            |mut s| {
                relocate_pass(&p, &mut s, max_routes);
                s
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(planner, benches);
criterion_main!(planner);
