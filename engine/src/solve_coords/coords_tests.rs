//! Coordinates instances: the format and every refusal, solved on great-circle and
//! road travel, checked.

use super::build::{build, great_circle};
use super::input::{place, DEFAULT_DETOUR_FACTOR, DEFAULT_SPEED_KMH};
use super::*;
use dispatch_plan::travel::{Haversine, LatLon, TravelModel};
use serde_json::{json, Value};
use std::sync::OnceLock;

const EXAMPLE: &str = include_str!("../../../docs/examples/solve-helsinki.json");

fn iterations() -> Budget {
    Budget::Iterations(300)
}

/// Two vans (one closed at a depot, one open) and five pickup-and-dropoff orders in
/// central Helsinki, with windows every plan can keep.
fn helsinki() -> Value {
    fn stop(lat: f64, lon: f64, ready: f64, due: f64) -> Value {
        json!({ "lat": lat, "lon": lon, "ready": ready, "due": due, "service": 60 })
    }
    fn order(id: &str, size: i64, pickup: Value, dropoff: Value) -> Value {
        json!({ "id": id, "size": size, "pickup": pickup, "dropoff": dropoff })
    }
    let (depot, open_start) = (
        json!({ "lat": 60.1665, "lon": 24.9360 }),
        json!({ "lat": 60.1705, "lon": 24.9415 }),
    );
    json!({
        "vehicles": [
            { "id": "van-1", "start": depot, "end": depot, "capacity": 3,
              "shift_start": 0, "shift_end": 14400 },
            { "id": "van-2", "start": open_start, "capacity": 3 }
        ],
        "orders": [
            order("a", 1, stop(60.1699, 24.9384, 0.0, 3600.0), stop(60.1770, 24.9500, 0.0, 9000.0)),
            order("b", 2, stop(60.1672, 24.9455, 300.0, 3600.0), stop(60.1660, 24.9400, 0.0, 9000.0)),
            order("c", 1, stop(60.1680, 24.9420, 0.0, 5400.0), stop(60.1750, 24.9420, 600.0, 9000.0)),
            order("d", 3, stop(60.1720, 24.9460, 0.0, 5400.0), stop(60.1775, 24.9425, 0.0, 10800.0)),
            order("e", 1, stop(60.1655, 24.9500, 900.0, 5400.0), stop(60.1710, 24.9520, 0.0, 10800.0)),
        ]
    })
}

/// The load on board along a route (goods of its orders without a pickup from the
/// start) stays within the vehicle's capacity; restricted orders ride their vehicle.
fn assert_load_within_capacity(inst: &Instance, rt: &report::RouteOut) {
    let v = inst
        .vehicles
        .iter()
        .position(|v| v.id == rt.vehicle)
        .unwrap();
    let mut load: i32 = inst
        .orders
        .iter()
        .filter(|o| o.pickup.is_none() && o.vehicle == Some(v))
        .map(|o| o.size)
        .sum();
    for s in &rt.stops {
        let o = inst.orders.iter().find(|o| o.id == s.order).unwrap();
        assert!(
            o.vehicle.is_none_or(|w| w == v),
            "{} on {}",
            o.id,
            rt.vehicle
        );
        load += if s.stop == "pickup" { o.size } else { -o.size };
        assert!(load >= 0 && load <= inst.vehicles[v].capacity, "{rt:?}");
    }
}

fn parsed(v: &Value) -> Result<Instance, CoordsError> {
    parse(&v.to_string(), "t")
}

/// Every order has both stops on one route, pickup first, served within its window;
/// the times along a route never go back.
fn assert_served_in_order(inst: &Instance, r: &CoordsReport) {
    assert!(r.unassigned.is_empty(), "{:?}", r.unassigned);
    for o in &inst.orders {
        let holding: Vec<&report::RouteOut> = r
            .routes
            .iter()
            .filter(|rt| rt.stops.iter().any(|s| s.order == o.id))
            .collect();
        assert_eq!(holding.len(), 1, "order {} on one route", o.id);
        let kinds: Vec<&str> = holding[0]
            .stops
            .iter()
            .filter(|s| s.order == o.id)
            .map(|s| s.stop)
            .collect();
        let want = if o.pickup.is_some() {
            vec!["pickup", "dropoff"]
        } else {
            vec!["dropoff"]
        };
        assert_eq!(kinds, want, "order {}", o.id);
        let visits = holding[0].stops.iter().filter(|s| s.order == o.id);
        for (visit, spec) in visits.zip(o.pickup.iter().chain([&o.dropoff])) {
            assert!(
                visit.start_s >= spec.ready - 0.1 && visit.start_s <= spec.due + 0.1,
                "order {}: {visit:?}",
                o.id
            );
        }
    }
    for rt in &r.routes {
        assert_load_within_capacity(inst, rt);
        let mut t = rt.start_s;
        for s in &rt.stops {
            assert!(s.arrival_s >= t - 0.1 && s.start_s >= s.arrival_s, "{rt:?}");
            t = s.start_s;
        }
        assert!(rt.end_s >= t, "{rt:?}");
    }
}

#[test]
fn solve_coords_the_documented_example_parses_with_its_values() {
    let inst = parse(EXAMPLE, "x").unwrap();
    assert_eq!(inst.name, "solve-helsinki");
    assert_eq!((inst.vehicles.len(), inst.orders.len()), (3, 10));
    let bike = &inst.vehicles[2];
    assert_eq!(
        (bike.id.as_str(), bike.end, bike.capacity),
        ("bike-1", None, 2)
    );
    assert_eq!((bike.shift_start, bike.shift_end), (1800.0, 5400.0));
    let parcel = inst.orders.last().unwrap();
    assert!(parcel.pickup.is_none() && parcel.size == 2 && parcel.vehicle == Some(1));
    for o in &inst.orders {
        for s in o.pickup.iter().chain([&o.dropoff]) {
            assert!((60.160..=60.1825).contains(&s.at.lat), "{}", o.id);
            assert!((24.9275..=24.96).contains(&s.at.lon), "{}", o.id);
        }
    }
}

#[test]
fn solve_coords_absent_fields_take_their_defaults() {
    let text = r#"{"vehicles": [{"id": "v", "start": {"lat": 60.17, "lon": 24.94}, "capacity": 1}],
                   "orders": [{"id": "o", "pickup": {"lat": 60.175, "lon": 24.94},
                               "dropoff": {"lat": 60.18, "lon": 24.95}}]}"#;
    let inst = parse(text, "from-file").unwrap();
    assert_eq!(inst.name, "from-file");
    assert_eq!(inst.speed_kmh, DEFAULT_SPEED_KMH);
    assert_eq!(inst.detour_factor, DEFAULT_DETOUR_FACTOR);
    let v = &inst.vehicles[0];
    assert_eq!(
        (v.end, v.shift_start, v.shift_end),
        (None, 0.0, f64::INFINITY)
    );
    let o = &inst.orders[0];
    assert_eq!((o.size, o.vehicle), (1, None));
    for d in [o.pickup.as_ref().unwrap(), &o.dropoff] {
        assert_eq!((d.ready, d.due, d.service), (0.0, f64::INFINITY, 0.0));
    }
    // The defaults are the planner's own great-circle model.
    let h = great_circle(&inst);
    assert!((h.speed_mps - Haversine::default().speed_mps).abs() < 1e-12);
    assert_eq!(h.detour_factor, Haversine::default().detour_factor);
}

/// Applies `edit` to the Helsinki instance and returns the error message.
fn refused(edit: impl FnOnce(&mut Value)) -> String {
    let mut v = helsinki();
    edit(&mut v);
    match parsed(&v) {
        Ok(_) => panic!("accepted: {v}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn solve_coords_bad_input_is_refused_naming_the_field() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    fn e(edit: impl FnOnce(&mut Value) + 'static) -> Edit {
        Box::new(edit)
    }
    let cases: Vec<(Edit, &str)> = vec![
        (
            e(|v| {
                drop(
                    v["orders"][0]["pickup"]
                        .as_object_mut()
                        .unwrap()
                        .remove("lat"),
                )
            }),
            "orders[0].pickup: missing field `lat`",
        ),
        (
            e(|v| drop(v["vehicles"][1].as_object_mut().unwrap().remove("capacity"))),
            "vehicles[1]: missing field `capacity`",
        ),
        (
            e(|v| drop(v.as_object_mut().unwrap().remove("vehicles"))),
            "missing field `vehicles`",
        ),
        (
            e(|v| v["orders"][1]["dropoff"]["lat"] = json!(91.0)),
            "orders[1].dropoff.lat: 91",
        ),
        (
            e(|v| v["vehicles"][0]["start"]["lon"] = json!(-181)),
            "vehicles[0].start.lon",
        ),
        (
            e(|v| v["vehicles"][0]["end"]["lat"] = json!("north")),
            "vehicles[0].end: invalid type",
        ),
        (
            e(|v| v["orders"][2]["size"] = json!(-1)),
            "orders[2].size: -1 is negative",
        ),
        (
            e(|v| v["orders"][2]["size"] = json!(4)),
            "orders[2].size: 4 is above every vehicle's capacity (largest 3)",
        ),
        (
            e(|v| v["orders"][0]["pickup"]["due"] = json!(-5)),
            "orders[0].pickup.due",
        ),
        (
            e(|v| {
                v["orders"][3]["dropoff"]["ready"] = json!(500);
                v["orders"][3]["dropoff"]["due"] = json!(400);
            }),
            "orders[3].dropoff.due: 400 is before ready 500",
        ),
        (
            e(|v| v["orders"][4]["id"] = json!("a")),
            "orders[4].id: duplicate id \"a\"",
        ),
        (
            e(|v| v["vehicles"][1]["id"] = json!("van-1")),
            "vehicles[1].id: duplicate id",
        ),
        (
            e(|v| v["orders"][0]["id"] = json!(" ")),
            "orders[0].id: must not be empty",
        ),
        (e(|v| v["vehicles"] = json!([])), "vehicles: no vehicles"),
        (
            e(|v| v["vehicles"][0]["capacity"] = json!(-2)),
            "vehicles[0].capacity: -2",
        ),
        (
            e(|v| {
                v["vehicles"][0]["shift_start"] = json!(100);
                v["vehicles"][0]["shift_end"] = json!(10);
            }),
            "vehicles[0].shift_end: 10 is before shift_start 100",
        ),
        (
            e(|v| drop(v["orders"][1].as_object_mut().unwrap().remove("pickup"))),
            "orders[1].vehicle: an order without a pickup names the vehicle",
        ),
        (
            e(|v| v["orders"][1]["vehicle"] = json!("truck")),
            "orders[1].vehicle: no vehicle has id \"truck\"",
        ),
        (
            e(|v| {
                v["vehicles"][1]["capacity"] = json!(1);
                v["orders"][0]["vehicle"] = json!("van-2");
                v["orders"][0]["size"] = json!(2);
            }),
            "orders[0].size: 2 is above vehicle \"van-2\"'s capacity (1)",
        ),
        (
            e(|v| {
                for k in [1, 3] {
                    v["orders"][k]["vehicle"] = json!("van-1");
                    v["orders"][k].as_object_mut().unwrap().remove("pickup");
                }
            }),
            "orders[3].size: the orders without a pickup put 5 on board \"van-1\" at its start, \
             above its capacity 3",
        ),
        (
            e(|v| v["vehicles"][0]["capcity"] = json!(3)),
            "unknown field `capcity`",
        ),
        (e(|v| v["speed_kmh"] = json!(0)), "speed_kmh: 0"),
        (e(|v| v["detour_factor"] = json!(0.5)), "detour_factor: 0.5"),
    ];
    for (edit, want) in cases {
        let got = refused(edit);
        assert!(got.contains(want), "want {want:?} in {got:?}");
    }
}

#[test]
fn solve_coords_invalid_json_and_non_finite_positions_are_refused() {
    for text in [
        "{ \"vehicles\": [",
        "[1, 2]",
        "{\"vehicles\": [], \"orders\": [], }",
    ] {
        let e = parse(text, "t").unwrap_err();
        assert!(matches!(e, CoordsError::Json(_)), "{e}");
        assert!(e.to_string().contains("line"), "{e}");
    }
    // JSON has no NaN; a file that writes one is not JSON.
    let nan = helsinki().to_string().replacen("60.1699", "NaN", 1);
    assert!(parse(&nan, "t")
        .unwrap_err()
        .to_string()
        .contains("invalid JSON"));
    let e = place("orders[0].pickup", f64::NAN, 24.9)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("orders[0].pickup.lat: NaN"), "{e}");
    let e = place("p", 60.0, f64::INFINITY).unwrap_err().to_string();
    assert!(e.starts_with("p.lon: inf"), "{e}");
    assert!(place("p", -90.0, 180.0).is_ok());
    let e = input::seconds("x.ready", Some(f64::NAN), 0.0).unwrap_err();
    assert!(e.to_string().starts_with("x.ready"), "{e}");
}

#[test]
fn solve_coords_flags_that_do_not_go_together_are_refused() {
    assert!(matches!(
        SolveTravel::from_flags(None, None),
        Ok(SolveTravel::Haversine)
    ));
    assert!(matches!(
        SolveTravel::from_flags(Some("Haversine"), None),
        Ok(SolveTravel::Haversine)
    ));
    let msg = |t: Option<&str>, r: Option<&Path>| match SolveTravel::from_flags(t, r) {
        Ok(_) => panic!("accepted {t:?} {r:?}"),
        Err(e) => e.to_string(),
    };
    assert!(msg(Some("roads"), None).contains("--travel roads needs --roads DIR"));
    assert!(msg(None, Some(Path::new("/x"))).contains("--roads DIR is used with --travel roads"));
    assert!(msg(Some("car"), None).contains("--travel \"car\": expected haversine or roads"));
    let missing = msg(Some("roads"), Some(Path::new("/nonexistent/roads-dir")));
    assert!(
        missing.starts_with("--roads /nonexistent/roads-dir: no such directory"),
        "{missing}"
    );
    let empty = tempfile::tempdir().unwrap();
    let unloadable = msg(Some("roads"), Some(empty.path()));
    assert!(
        unloadable.starts_with(&format!("--roads {}:", empty.path().display())),
        "{unloadable}"
    );
    assert!(refuse_benchmark_travel(None, None, "c101.txt").is_ok());
    let e = refuse_benchmark_travel(Some("roads"), None, "c101.txt").unwrap_err();
    assert!(e
        .to_string()
        .contains("c101.txt is a Solomon or Li & Lim benchmark"));
    assert!(refuse_benchmark_travel(None, Some(Path::new("d")), "x").is_err());
}

#[test]
fn solve_coords_format_is_guessed_from_the_name_or_the_first_brace() {
    let dir = tempfile::tempdir().unwrap();
    let (json, braced, solomon) = (
        dir.path().join("a.JSON"),
        dir.path().join("b.txt"),
        dir.path().join("c101.txt"),
    );
    std::fs::write(&json, "").unwrap();
    std::fs::write(&braced, "\n  {\"vehicles\": []}").unwrap();
    std::fs::write(&solomon, "C101\n\nVEHICLE\nNUMBER CAPACITY\n").unwrap();
    assert!(is_coords(None, &json));
    assert!(is_coords(None, &braced));
    assert!(!is_coords(None, &solomon));
    assert!(!is_coords(None, &dir.path().join("missing.txt")));
    assert!(is_coords(Some("COORDS"), &solomon));
    assert!(!is_coords(Some("solomon"), &json));
}

#[test]
fn solve_coords_haversine_instance_is_solved_checked_and_reported() {
    let inst = parsed(&helsinki()).unwrap();
    let r = solve(&inst, &SolveTravel::Haversine, iterations(), 7).unwrap();
    assert_served_in_order(&inst, &r);
    assert_eq!(
        (r.travel, r.roads.as_deref(), r.fallback_pairs),
        ("haversine", None, None)
    );
    assert!(r.vehicles_used >= 1 && r.vehicles_used <= 2);
    assert!(r.distance_km > 1.0 && r.driving_h > 0.0, "{r:?}");
    // The routes also pass the checker when built and searched again from outside.
    let built = build(&inst, &SolveTravel::Haversine).unwrap();
    let (sol, _) = search(&built.problem, &SearchParams::new(iterations(), 7));
    let stats = check_solution(&built.problem, &sol.plans(), true).unwrap();
    assert!((stats.distance / 1000.0 - r.distance_km).abs() < 1e-3);
    // van-1 comes back to its depot; the driving time is its distance at 25 km/h.
    let total_m: f64 = r.routes.iter().map(|rt| rt.distance_km * 1000.0).sum();
    assert!(
        (r.driving_h * 3600.0 - total_m / (25.0 / 3.6)).abs() < 1.0,
        "{r:?}"
    );
    let text = r.to_text();
    assert!(
        text.contains("5 orders, 2 vehicles, travel haversine"),
        "{text}"
    );
    assert!(
        text.contains("pickup   a") && !text.contains("unassigned"),
        "{text}"
    );
    let back: Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(back["orders"], 5);
    assert_eq!(back["unassigned"], json!([]));
    assert!(back.get("fallback_pairs").is_none(), "{back}");
    assert_eq!(back["routes"][0]["stops"][0]["stop"], "pickup");
}

#[test]
fn solve_coords_orders_no_vehicle_can_serve_are_reported_unassigned() {
    let mut v = helsinki();
    // Due at time 0, away from every vehicle's start; and a dropoff-only order.
    v["orders"][1]["pickup"]["ready"] = json!(0);
    v["orders"][1]["pickup"]["due"] = json!(0);
    v["orders"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "id": "parcel", "size": 1, "vehicle": "van-2", "dropoff": { "lat": 60.175, "lon": 24.95 } }));
    let inst = parsed(&v).unwrap();
    let r = solve(&inst, &SolveTravel::Haversine, iterations(), 1).unwrap();
    assert_eq!(r.unassigned, vec!["b".to_string()]);
    let stops: usize = r.routes.iter().map(|rt| rt.stops.len()).sum();
    assert_eq!(stops, 2 * 4 + 1, "{r:?}");
    assert!(r.to_text().contains("unassigned (1): b"));
    // An iteration budget: the same plan again.
    let mut again = solve(&inst, &SolveTravel::Haversine, iterations(), 1).unwrap();
    (again.matrix_ms, again.search_ms) = (r.matrix_ms, r.search_ms);
    assert_eq!(again, r);
}

#[test]
fn solve_coords_an_instance_without_orders_is_solved_empty() {
    let mut v = helsinki();
    v["orders"] = json!([]);
    let r = solve(
        &parsed(&v).unwrap(),
        &SolveTravel::Haversine,
        iterations(),
        1,
    )
    .unwrap();
    assert_eq!((r.vehicles_used, r.routes.len(), r.orders), (0, 0, 0));
    let back: Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(back["driving_h"].to_string(), "0.0", "not -0.0: {back}");
}

#[test]
fn solve_coords_goods_on_board_from_the_start_leave_room_for_pickups_only_once_delivered() {
    // A bike of capacity 2 starts with a 2-unit parcel; a 1-unit order is picked up
    // beside its start. It must deliver the parcel first, though that drives farther.
    let v = json!({
        "vehicles": [{ "id": "bike", "start": { "lat": 60.1705, "lon": 24.9415 }, "capacity": 2 }],
        "orders": [
            { "id": "pair", "pickup": { "lat": 60.1706, "lon": 24.9416 },
              "dropoff": { "lat": 60.1770, "lon": 24.9500 } },
            { "id": "parcel", "size": 2, "vehicle": "bike",
              "dropoff": { "lat": 60.1660, "lon": 24.9400 } }
        ]
    });
    let inst = parsed(&v).unwrap();
    let r = solve(&inst, &SolveTravel::Haversine, iterations(), 1).unwrap();
    assert_served_in_order(&inst, &r);
    let visits: Vec<(&str, &str)> = r.routes[0]
        .stops
        .iter()
        .map(|s| (s.order.as_str(), s.stop))
        .collect();
    assert_eq!(
        visits,
        [
            ("parcel", "dropoff"),
            ("pair", "pickup"),
            ("pair", "dropoff")
        ]
    );
}

/// The road network of the Helsinki extract, built once for this test binary.
fn helsinki_roads() -> Arc<RoadNetwork> {
    static NETWORK: OnceLock<Arc<RoadNetwork>> = OnceLock::new();
    NETWORK
        .get_or_init(|| {
            let pbf = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/data/osm/helsinki.osm.pbf");
            assert!(pbf.exists(), "{} is missing", pbf.display());
            Arc::new(RoadNetwork::build(&pbf).unwrap().0)
        })
        .clone()
}

#[test]
fn solve_coords_on_roads_the_matrix_follows_the_streets_and_the_routes_check() {
    let roads = SolveTravel::Roads {
        network: helsinki_roads(),
        source: "helsinki".into(),
    };
    let inst = parse(EXAMPLE, "x").unwrap();
    let on_roads = build(&inst, &roads).unwrap();
    let flat = build(&inst, &SolveTravel::Haversine).unwrap();
    assert_eq!(on_roads.fallbacks, Some(0), "every point is on the network");
    let straight = Haversine {
        detour_factor: 1.0,
        speed_mps: 1.0,
    };
    let network = helsinki_roads();
    let snapped: Vec<LatLon> = on_roads
        .points
        .iter()
        .map(|p| {
            let s = network.snap([p.lat, p.lon]).expect("on the network");
            LatLon {
                lat: s.point[0],
                lon: s.point[1],
            }
        })
        .collect();
    let (m, h) = (&on_roads.problem.matrix, &flat.problem.matrix);
    let mut differ = 0;
    for i in 0..snapped.len() {
        for j in (0..snapped.len()).filter(|&j| j != i) {
            let line = straight.distance(&snapped[i], &snapped[j]);
            assert!(
                m.dist(i, j) >= line - 1.0,
                "{i}→{j}: {} < {line}",
                m.dist(i, j)
            );
            differ += usize::from((m.dist(i, j) - h.dist(i, j)).abs() > 1.0);
        }
    }
    assert!(
        differ > on_roads.pairs / 2,
        "{differ} of {}",
        on_roads.pairs
    );
    let r = solve(&inst, &roads, iterations(), 3).unwrap();
    assert_served_in_order(&inst, &r);
    assert_eq!((r.travel, r.fallback_pairs), ("roads", Some(0)));
    assert!(r.to_text().contains("(helsinki; 0 of"), "{}", r.to_text());
    let back: Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(back["fallback_pairs"], 0);
    assert_eq!(back["roads"], "helsinki");
}

#[test]
fn solve_coords_on_roads_a_point_off_the_network_falls_back_and_is_counted() {
    let roads = SolveTravel::Roads {
        network: helsinki_roads(),
        source: "helsinki".into(),
    };
    let mut v = helsinki();
    // Out at sea, kilometres south of the extract.
    v["orders"][0]["dropoff"] = json!({ "lat": 60.10, "lon": 24.95 });
    let inst = parsed(&v).unwrap();
    let built = build(&inst, &roads).unwrap();
    let n = built.points.len();
    assert_eq!(
        built.fallbacks,
        Some(2 * (n as u64 - 1)),
        "every pair of the sea point"
    );
    let r = solve(&inst, &roads, iterations(), 3).unwrap();
    assert_served_in_order(&inst, &r);
    assert_eq!(r.fallback_pairs, Some(2 * (n as u64 - 1)));
}
