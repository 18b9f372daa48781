//! Road routes and matrices over HTTP (`[roads]`), against an engine that built its
//! road graph from the Helsinki extract at start.

mod common;

use common::{get, post, recv_json, send, Engine, WAIT};
use serde_json::{json, Value};
use std::path::Path;

const A: (f64, f64) = (60.1660, 24.9400);
const B: (f64, f64) = (60.1770, 24.9500);
const SEA: (f64, f64) = (60.150, 24.960);

async fn with_roads() -> Engine {
    let extract =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/osm/helsinki.osm.pbf");
    assert!(extract.exists(), "{} is missing", extract.display());
    Engine::start(|c| {
        c.roads.osm = Some(extract);
        c.roads.max_matrix_points = 3;
    })
    .await
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn route_path(from: (f64, f64), to: (f64, f64)) -> String {
    format!("/v1/route?from={},{}&to={},{}", from.0, from.1, to.0, to.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_follows_the_roads_and_a_matrix_agrees_with_it() {
    let e = with_roads().await;
    let (st, r) = get(&e, &route_path(A, B)).await;
    assert_eq!(st, 200, "{r}");
    let straight = common::haversine_m(A.0, A.1, B.0, B.1);
    let d = r["distance_m"].as_f64().unwrap();
    assert!(
        d >= straight && d < 3.0 * straight,
        "{d} m for {straight} m straight"
    );
    assert!(r["duration_s"].as_f64().unwrap() > 0.0, "{r}");
    assert_eq!(r["geometry_precision"], 5);
    let line = dispatch_roads::polyline::decode(r["geometry"].as_str().unwrap()).unwrap();
    assert!(line.len() >= 2);
    // Starts and ends near the points asked for (snapped onto the nearest road).
    for (p, q) in [(line[0], A), (*line.last().unwrap(), B)] {
        assert!(
            common::haversine_m(p[0], p[1], q.0, q.1) < 200.0,
            "{p:?} vs {q:?}"
        );
    }
    let (st, bare) = get(&e, &format!("{}&geometry=false", route_path(A, B))).await;
    assert_eq!(st, 200);
    assert!(bare.get("geometry").is_none(), "{bare}");

    let points = json!({"points": [{"lat": A.0, "lon": A.1}, {"lat": B.0, "lon": B.1}, {"lat": SEA.0, "lon": SEA.1}]});
    let (st, m) = post(&e, "/v1/matrix", points).await;
    assert_eq!(st, 200, "{m}");
    let dur = |i: usize, j: usize| m["durations_s"][i][j].as_f64();
    assert_eq!(dur(0, 0), Some(0.0));
    let one = r["duration_s"].as_f64().unwrap();
    assert!((dur(0, 1).unwrap() - one).abs() < 1e-6, "{m} vs {r}");
    // At sea: off the network, so null in its row and column.
    assert!(
        m["durations_s"][2][0].is_null() && m["durations_s"][0][2].is_null(),
        "{m}"
    );
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_road_questions_get_clear_errors() {
    let e = with_roads().await;
    let code = |v: &Value| v["error"]["code"].as_str().unwrap_or("").to_string();
    let (st, v) = get(&e, &route_path(SEA, B)).await;
    assert_eq!((st, code(&v).as_str()), (400, "invalid_argument"), "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().starts_with("from:"),
        "{v}"
    );
    for bad in [
        "/v1/route?from=60.1,abc&to=60.17,24.95",
        "/v1/route?to=60.17,24.95",
        "/v1/route?from=91,0&to=60.17,24.95",
    ] {
        let (st, v) = get(&e, bad).await;
        assert_eq!(
            (st, code(&v).as_str()),
            (400, "invalid_argument"),
            "{bad}: {v}"
        );
    }
    let four = json!({"points": [{"lat": A.0, "lon": A.1}, {"lat": A.0, "lon": A.1}, {"lat": A.0, "lon": A.1}, {"lat": A.0, "lon": A.1}]});
    let (st, v) = post(&e, "/v1/matrix", four).await;
    assert_eq!((st, code(&v).as_str()), (413, "too_large"), "{v}");
    let (st, v) = post(
        &e,
        "/v1/matrix",
        json!({"points": [{"lat": 95.0, "lon": 0.0}]}),
    )
    .await;
    assert_eq!((st, code(&v).as_str()), (400, "invalid_argument"), "{v}");
    let r = e.http.get(e.url(&route_path(A, B))).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    e.spawned.stop().await.unwrap();
    // No [roads]: the endpoints say what is missing.
    let plain = Engine::start(|_| {}).await;
    let (st, v) = get(&plain, &route_path(A, B)).await;
    assert_eq!((st, code(&v).as_str()), (400, "failed_precondition"), "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("[roads]"),
        "{v}"
    );
    plain.spawned.stop().await.unwrap();
}

/// `travel.model = "roads"`: the route pushed to the driver is timed along the roads —
/// the pickup's ETA is when the plan was made plus the road route's duration from the
/// driver to the pickup, exactly what `GET /v1/route` answers for that pair — and each
/// stop carries its leg's road path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_times_routes_along_the_roads_when_configured() {
    let extract =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/osm/helsinki.osm.pbf");
    let e = Engine::start(|c| {
        c.roads.osm = Some(extract);
        c.travel.model = dispatch_engine::config::TravelModelKind::Roads;
        c.travel.hourly_speed_factor = vec![1.0; 24];
        c.dispatch.tick_ms = 20;
    })
    .await;
    let (st, body) = post(&e, "/v1/drivers", json!({"id": "d1", "capacity": 4})).await;
    assert_eq!(st, 201, "{body}");
    let mut d = e.driver("d1", body["token"].as_str().unwrap()).await;
    send(&mut d, json!({"type": "status", "status": "available"})).await;
    send(
        &mut d,
        json!({"type": "position", "lat": A.0, "lon": A.1, "ts_ms": now_ms()}),
    )
    .await;
    e.wait_nearest(A.0, A.1, 10, "available", |f| {
        f.iter().any(|x| x["id"] == "d1")
    })
    .await;

    let (st, road) = get(&e, &format!("{}&geometry=false", route_path(A, B))).await;
    assert_eq!(st, 200, "{road}");
    let road_ms = road["duration_s"].as_f64().unwrap() * 1000.0;
    // The straight-line model would say something else entirely for this pair.
    let straight_ms = common::haversine_m(A.0, A.1, B.0, B.1) * 1.3 / (25.0 / 3.6) * 1000.0;
    assert!(
        (road_ms - straight_ms).abs() > 20_000.0,
        "{road_ms} vs {straight_ms}"
    );

    let before = now_ms();
    let order = json!({"id": "o1", "pickup": {"lat": B.0, "lon": B.1}, "dropoff": {"lat": A.0, "lon": A.1}});
    let (st, got) = post(&e, "/v1/orders", order).await;
    assert_eq!(st, 201, "{got}");
    let deadline = tokio::time::Instant::now() + WAIT;
    let route = loop {
        assert!(tokio::time::Instant::now() < deadline, "no route in time");
        let m = recv_json(&mut d).await;
        if m["type"] == "route"
            && m["route"]["stops"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
        {
            break m;
        }
    };
    let after = now_ms();
    let eta = route["route"]["stops"][0]["eta_ms"].as_u64().unwrap() as f64;
    let planned_at = eta - road_ms;
    assert!(
        planned_at >= before as f64 - 1.0 && planned_at <= after as f64 + 1.0,
        "pickup ETA {eta} - road {road_ms} ms is outside [{before}, {after}]"
    );
    // The legs' paths: driver → pickup is the road route GET /v1/route draws, and the
    // dropoff's leg runs from the pickup back to A.
    let stops = route["route"]["stops"].as_array().unwrap();
    let line = |i: usize| {
        let p = stops[i]["path"]
            .as_str()
            .unwrap_or_else(|| panic!("no path: {route}"));
        dispatch_roads::polyline::decode(p).unwrap()
    };
    let (st, drawn) = get(&e, &route_path(A, B)).await;
    assert_eq!(st, 200);
    assert_eq!(stops[0]["path"], drawn["geometry"], "{route}");
    let back = line(1);
    let near = |p: [f64; 2], q: (f64, f64)| common::haversine_m(p[0], p[1], q.0, q.1) < 200.0;
    assert!(back.len() >= 2 && near(back[0], B) && near(*back.last().unwrap(), A));
    e.spawned.stop().await.unwrap();
}
