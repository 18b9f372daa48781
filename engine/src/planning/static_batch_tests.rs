//! Batch assignment against the objective. A batch known in advance (every request
//! of a Li & Lim instance, every driver idle at the depot) ends at the offline
//! planner's vehicle count: the live adapter —
//! regret insertion, then the batch search over the same planner — loses nothing to
//! the way it builds the problem (one start node per place, plans for when they land).
//! Reads `../shared/data/vrp` and says it skipped when the data is absent. And the
//! fixed cost per driver, when the matching round weighs it, keeps an order on a
//! driver already at work.

use super::live_tests::{at, NOW};
use super::{assign_batch, DriverPlan, Job, LiveStop, Params};
use crate::config::TravelConfig;
use crate::planning::travel::Travel;
use dispatch_plan::parse::{parse_lilim, read_to_string};
use dispatch_plan::search::{search, Budget, SearchParams};
use dispatch_protocol::StopKind;
use std::path::PathBuf;
use std::sync::Arc;

/// The same search effort on both sides.
const ITERATIONS: u64 = 1_500;

/// One instance unit = 1 m and 1 s: 1 m/s, no detour.
fn unit_travel() -> Travel {
    Travel::new(&TravelConfig {
        detour_factor: 1.0,
        speed_kmh: 3.6,
        ..super::live_tests::flat_config()
    })
}

/// `(id, x, y, demand, ready, due, service, pickup, delivery)` rows of a Li & Lim file.
fn rows(text: &str) -> Vec<Vec<f64>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect())
        .collect()
}

fn stop(r: &[f64], kind: StopKind, order_id: &Arc<str>) -> LiveStop {
    let (lat, lon) = at(r[1], r[2]);
    LiveStop {
        order_id: order_id.clone(),
        kind,
        lat,
        lon,
        ready_ms: Some(NOW + (r[4] * 1000.0) as u64),
        due_ms: Some(NOW + (r[5] * 1000.0) as u64),
        service_s: r[6] as u32,
        size: r[3].abs() as u32,
    }
}

#[test]
fn a_batch_known_in_advance_ends_at_the_planners_vehicle_count() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/vrp/li_lim_100");
    if !dir.is_dir() {
        eprintln!("SKIPPED: benchmark data not found at {}", dir.display());
        return;
    }
    for name in ["lr101", "lc105"] {
        let text = read_to_string(&dir.join(format!("{name}.txt"))).unwrap();
        let offline = parse_lilim(name, &text).unwrap();
        let prm = SearchParams::new(Budget::Iterations(ITERATIONS), 1);
        let (best, _) = search(&offline, &prm);
        assert!(best.unassigned.is_empty());

        let rows = rows(&text);
        let depot = at(rows[0][1], rows[0][2]);
        let fleet = offline.vehicles.len();
        let capacity = offline.vehicles[0].capacity as u32;
        let drivers: Vec<Arc<DriverPlan>> = (0..fleet)
            .map(|i| {
                Arc::new(DriverPlan {
                    arrived_ms: None,
                    driver_id: format!("v{i}").into(),
                    version: 1,
                    capacity,
                    position: depot,
                    stops: Vec::new(),
                })
            })
            .collect();
        let jobs: Vec<Job> = rows[1..]
            .iter()
            .filter(|r| r[3] > 0.0)
            .map(|r| {
                let id: Arc<str> = format!("o{}", r[0]).into();
                Job {
                    order_id: id.clone(),
                    pickup: stop(r, StopKind::Pickup, &id),
                    dropoff: stop(&rows[r[8] as usize], StopKind::Dropoff, &id),
                    priority: 0,
                }
            })
            .collect();
        let candidates = vec![(0..fleet).collect::<Vec<_>>(); jobs.len()];
        let params = Params {
            batch_search_ms: 1,
            batch_search_min_orders: 1,
            batch_search_iterations: Some(ITERATIONS),
            horizon_s: rows[0][5],
            ..Params::default()
        };
        let out = assign_batch(&drivers, &jobs, &candidates, NOW, &unit_travel(), &params);
        assert!(out.unassigned.is_empty(), "{name}: {:?}", out.unassigned);
        let placed: usize = out.routes.iter().map(|r| r.jobs.len()).sum();
        assert_eq!(placed, jobs.len(), "{name}");
        assert!(
            out.routes.len() <= best.vehicles(),
            "{name}: live {} vehicles, offline {}",
            out.routes.len(),
            best.vehicles()
        );
    }
}

#[test]
fn idle_drivers_at_one_place_share_a_start_node() {
    use super::builder::Builder;
    let idle = |id: &str, position| {
        Arc::new(DriverPlan {
            arrived_ms: None,
            driver_id: id.into(),
            version: 1,
            capacity: 4,
            position,
            stops: Vec::new(),
        })
    };
    let depot = at(0.0, 0.0);
    let drivers = [
        idle("a", depot),
        idle("b", depot),
        idle("c", at(500.0, 0.0)),
    ];
    let (travel, params) = (unit_travel(), Params::default());
    let (b, vehicle_of) = Builder::with_drivers(&drivers, &[0, 1, 2], NOW, &travel, &params);
    let lp = b.finish().unwrap();
    let start = |d: usize| lp.problem.vehicles[vehicle_of[d]].start;
    assert_eq!(start(0), start(1));
    assert_ne!(start(0), start(2));
}

#[test]
fn the_fixed_cost_per_driver_keeps_an_order_on_a_working_driver() {
    let stop_at = |order: &Arc<str>, kind, (e, n): (f64, f64)| {
        let (lat, lon) = at(e, n);
        LiveStop {
            order_id: order.clone(),
            kind,
            lat,
            lon,
            ready_ms: None,
            due_ms: None,
            service_s: 0,
            size: 1,
        }
    };
    let old: Arc<str> = "old".into();
    let new: Arc<str> = "new".into();
    // Working: from the origin to (1000, 0) and on to (2000, 0); the new order beside
    // that road, 600 m north, costs it ~1,200 m of detour. Idle: at the new pickup,
    // ~1,000 m (the order's own leg).
    let working = Arc::new(DriverPlan {
        arrived_ms: None,
        driver_id: "working".into(),
        version: 1,
        capacity: 4,
        position: at(0.0, 0.0),
        stops: vec![
            stop_at(&old, StopKind::Pickup, (1000.0, 0.0)),
            stop_at(&old, StopKind::Dropoff, (2000.0, 0.0)),
        ],
    });
    let idle = Arc::new(DriverPlan {
        arrived_ms: None,
        driver_id: "idle".into(),
        version: 1,
        capacity: 4,
        position: at(1000.0, 600.0),
        stops: Vec::new(),
    });
    let job = Job {
        order_id: new.clone(),
        pickup: stop_at(&new, StopKind::Pickup, (1000.0, 600.0)),
        dropoff: stop_at(&new, StopKind::Dropoff, (2000.0, 600.0)),
        priority: 0,
    };
    let drivers = [working, idle];
    let winner = |activation_m| {
        let params = Params {
            activation_m,
            ..Params::default()
        };
        let out = assign_batch(
            &drivers,
            std::slice::from_ref(&job),
            &[vec![0, 1]],
            NOW,
            &unit_travel(),
            &params,
        );
        assert_eq!(out.routes.len(), 1);
        out.routes[0].driver
    };
    assert_eq!(winner(0.0), 1, "the cheaper detour: the idle driver");
    assert_eq!(
        winner(5_000.0),
        0,
        "an idle driver costs 5 km more: the working one"
    );
}
