//! Live dispatch hot paths (`dispatch_engine::planning`): one region tick's joint
//! assignment of a batch of orders over candidate drivers that already carry routes
//! (problem build + regret insertion + improvement of changed routes), and the ETA
//! recomputation a driver does on every route change. Synthetic, deterministic city
//! around Helsinki; no data files needed.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use dispatch_engine::config::TravelConfig;
use dispatch_engine::planning::travel::Travel;
use dispatch_engine::planning::{assign_batch, etas, DriverPlan, Job, LiveStop, Params};
use dispatch_protocol::StopKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const NOW: u64 = 1_764_140_000_000;

fn point(rng: &mut StdRng) -> (f64, f64) {
    (
        rng.random_range(60.12..60.22),
        rng.random_range(24.85..25.05),
    )
}

fn stop(order: &Arc<str>, kind: StopKind, at: (f64, f64), due_ms: Option<u64>) -> LiveStop {
    LiveStop {
        order_id: order.clone(),
        kind,
        lat: at.0,
        lon: at.1,
        ready_ms: None,
        due_ms,
        service_s: 60,
        size: 1,
    }
}

/// `n` drivers with `per` orders each on their routes (pickups not done yet).
fn fleet(rng: &mut StdRng, n: usize, per: usize) -> Vec<Arc<DriverPlan>> {
    (0..n)
        .map(|d| {
            let mut stops = Vec::new();
            for k in 0..per {
                let id: Arc<str> = Arc::from(format!("d{d}-o{k}").as_str());
                stops.push(stop(&id, StopKind::Pickup, point(rng), None));
            }
            for k in 0..per {
                let id: Arc<str> = Arc::from(format!("d{d}-o{k}").as_str());
                stops.push(stop(&id, StopKind::Dropoff, point(rng), None));
            }
            Arc::new(DriverPlan {
                arrived_ms: None,
                driver_id: Arc::from(format!("d{d}").as_str()),
                version: 1,
                capacity: 8,
                position: point(rng),
                stops,
            })
        })
        .collect()
}

fn jobs(rng: &mut StdRng, n: usize) -> Vec<Job> {
    (0..n)
        .map(|j| {
            let id: Arc<str> = Arc::from(format!("new{j}").as_str());
            Job {
                order_id: id.clone(),
                pickup: stop(&id, StopKind::Pickup, point(rng), None),
                dropoff: stop(
                    &id,
                    StopKind::Dropoff,
                    point(rng),
                    Some(NOW + 3 * 3_600_000),
                ),
                priority: 0,
            }
        })
        .collect()
}

fn bench_assign(c: &mut Criterion) {
    let travel = Travel::new(&TravelConfig::default());
    let params = Params::default();
    let mut group = c.benchmark_group("dispatch");
    for (orders, drivers) in [(1, 8), (10, 50), (40, 100)] {
        let mut rng = StdRng::seed_from_u64(7);
        let plans = fleet(&mut rng, drivers, 2);
        let batch = jobs(&mut rng, orders);
        // 8 candidates per order, like the default `dispatch.candidates`.
        let candidates: Vec<Vec<usize>> = (0..orders)
            .map(|_| {
                let mut c: Vec<usize> = (0..8).map(|_| rng.random_range(0..drivers)).collect();
                c.sort_unstable();
                c.dedup();
                c
            })
            .collect();
        group.bench_function(
            format!("assign_batch {orders} orders / {drivers} drivers"),
            |b| {
                b.iter(|| {
                    black_box(assign_batch(
                        &plans,
                        &batch,
                        &candidates,
                        NOW,
                        &travel,
                        &params,
                    ))
                })
            },
        );
    }
    let mut rng = StdRng::seed_from_u64(9);
    let plan = &fleet(&mut rng, 1, 10)[0];
    group.bench_function("etas 20 stops", |b| {
        b.iter(|| black_box(etas(plan.position, &plan.stops, NOW, &travel)))
    });
    group.finish();
}

criterion_group!(benches, bench_assign);
criterion_main!(benches);
