// Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code)]

use std::path::PathBuf;

use dispatch_plan::model::{Node, NodeKind, Problem, Vehicle};
use dispatch_plan::rng::Rng;
use dispatch_plan::travel::{Euclidean, Matrix};

/// `../shared/data/vrp`, or `None` (with a message) when the data folder is absent.
pub fn vrp_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/vrp");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!("SKIPPED: benchmark data not found at {}", d.display());
        None
    }
}

/// A small random PDPTW + VRPTW instance that is always solvable (every request fits
/// alone in a vehicle and there are as many vehicles as requests). Vehicle 0 has the
/// first pair pinned; vehicle 1 has an open route.
pub fn random_problem(seed: u64, pairs: usize, singles: usize) -> Problem {
    let mut rng = Rng::new(seed);
    let mut pts = vec![[50.0, 50.0]];
    let mut nodes = vec![Node {
        id: 0,
        kind: NodeKind::Depot,
        demand: 0,
        ready: 0.0,
        due: 2000.0,
        service: 0.0,
        vehicle: None,
    }];
    let coord = |rng: &mut Rng| [rng.f64() * 100.0, rng.f64() * 100.0];
    for k in 0..pairs {
        let pu = nodes.len();
        let de = pu + 1;
        let q = 1 + rng.below(5) as i32;
        let ready = rng.f64() * 300.0;
        let due = ready + 200.0 + rng.f64() * 400.0;
        let (ready, due) = if k == 0 { (0.0, 1000.0) } else { (ready, due) };
        for (id, kind, demand, due) in [
            (pu, NodeKind::Pickup { delivery: de }, q, due),
            (de, NodeKind::Delivery { pickup: pu }, -q, due + 300.0),
        ] {
            pts.push(coord(&mut rng));
            nodes.push(Node {
                id,
                kind,
                demand,
                ready,
                due,
                service: 10.0,
                vehicle: None,
            });
        }
    }
    for _ in 0..singles {
        let ready = rng.f64() * 500.0;
        pts.push(coord(&mut rng));
        nodes.push(Node {
            id: nodes.len(),
            kind: NodeKind::Single,
            demand: 1 + rng.below(5) as i32,
            ready,
            due: ready + 100.0 + rng.f64() * 500.0,
            service: 10.0,
            vehicle: None,
        });
    }
    let base = Vehicle {
        start: 0,
        end: Some(0),
        start_time: 0.0,
        shift_end: 2000.0,
        capacity: 15,
        start_load: 0,
        pinned: vec![],
    };
    let mut vehicles = vec![base.clone(); (pairs + singles).max(2)];
    if pairs > 0 {
        vehicles[0].pinned = vec![1, 2];
    }
    vehicles[1].end = None;
    let m = Matrix::from_points(&pts, &Euclidean);
    Problem::new(format!("random{seed}"), nodes, vehicles, m).expect("valid problem")
}
