//! Phone trackers and trails over real sockets: the exact requests of Traccar's own
//! decoder tests (OsmAnd query strings, Traccar Client JSON bodies) with the device id
//! replaced by a driver token, on the main listener and on the tracker listener; bad
//! input refused with the API's error JSON; the trail endpoint in JSON and GeoJSON.

mod common;

use common::{Engine, WAIT};
use dispatch_engine::time::now_ms;
use serde_json::Value;
use std::time::Duration;

/// `OsmAndProtocolDecoderTest.testDecodeQuery`'s position requests, `ID` standing for
/// the device identifier.
const OSMAND: &[&str] = &[
    "/?id=ID&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0",
    "/?id=ID&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0&speed=0.0",
    "/?lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0&id=ID",
    "/?id=ID&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0&hdop=0.0",
    "/?id=ID&timestamp=1377177267&lat=60.0&lon=30.0",
    "/?lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=ID",
    "/?id=ID&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87",
    "/?id=ID&timestamp=1377177267&location=60.0,30.0",
    "/?id=ID&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24",
];

/// `testDecodeJson`'s bodies (the first, third and fourth), `ID` for the device id.
const TRACCAR_JSON: &[&str] = &[
    r#"{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},"activity":{"type":"still"},"extras":{},"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"ID"}"#,
    r#"{"location":{"extras":{},"mock":true,"coords":{"speed_accuracy":-1,"speed":-1,"longitude":-122.406417,"ellipsoidal_altitude":0,"floor":null,"heading_accuracy":-1,"latitude":37.785834000000001,"accuracy":5,"altitude_accuracy":-1,"altitude":0,"heading":-1},"is_moving":false,"age":188,"odometer":0,"uuid":"2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8","event":"motionchange","battery":{"level":-1,"is_charging":false},"activity":{"type":"unknown","confidence":100},"timestamp":"2025-05-09T04:11:30.579Z"},"device_id":"ID"}"#,
    r#"{"location":{"event":"motionchange","is_moving":false,"uuid":"0e9a2473-a9a7-4c00-997b-fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z","odometer":0,"coords":{"latitude":-6.1148096,"longitude":106.6837015,"accuracy":3.8,"speed":18.67,"speed_accuracy":0.26,"heading":63,"heading_accuracy":0.28,"altitude":35.7,"altitude_accuracy":3.8},"activity":{"type":"still","confidence":100},"battery":{"is_charging":false,"level":0.79},"extras":{}},"device_id":"ID"}"#,
];

/// Every point kept: the trail shows each applied position.
async fn engine(trackers_port: bool) -> Engine {
    Engine::start(|c| {
        c.trails.min_interval_ms = 0;
        c.trails.min_distance_m = 0.0;
        if trackers_port {
            c.trackers.listen = Some("127.0.0.1:0".parse().unwrap());
        }
    })
    .await
}

/// The driver as `GET /v1/drivers/{id}` shows it.
async fn driver(e: &Engine, id: &str) -> Value {
    e.get_json(&format!("/v1/drivers/{id}")).await
}

/// Polls the driver until it stands at (lat, lon); panics after the wait bound.
async fn wait_at(e: &Engine, id: &str, lat: f64, lon: f64) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    loop {
        let d = driver(e, id).await;
        if d["lat"].as_f64() == Some(lat) && d["lon"].as_f64() == Some(lon) {
            return d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "driver never reached {lat},{lon}: {d}"
        );
        tick.tick().await;
    }
}

/// A series' value in the Prometheus text (0 when absent). Tests share one process
/// and its recorder, so counts are at least what this test caused.
fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

async fn status_and_json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osmand_requests_move_the_driver_but_never_back_in_time() {
    let e = engine(false).await;
    let token = e.register("van1").await;
    // (request, where the driver stands after it): an older fix leaves it in place.
    let at = |i: usize| match i {
        0..=4 => (42.06288, -88.23412),
        5 => (60.0, 30.0),
        _ => (41.666667, -0.883333),
    };
    for (i, q) in OSMAND.iter().enumerate() {
        let path = q
            .replacen("/?", "/v1/trackers/osmand?", 1)
            .replace("ID", &token);
        // Every other request is posted (OsmAnd's "POST" setting) instead of got.
        let resp = if i % 2 == 0 {
            e.http.get(e.url(&path)).send().await.unwrap()
        } else {
            e.http.post(e.url(&path)).send().await.unwrap()
        };
        assert_eq!(resp.status().as_u16(), 200, "{q}");
        assert_eq!(resp.text().await.unwrap(), "", "{q}");
        let (lat, lon) = at(i);
        let d = wait_at(&e, "van1", lat, lon).await;
        // Requests without a time take the engine's clock: let it tick, so the next
        // one is a later fix and not the same millisecond.
        let ts = d["ts_ms"].as_u64().unwrap();
        while now_ms() <= ts {
            tokio::task::yield_now().await;
        }
    }
    // The same fields as a form body (Traccar reads the body when the URL has none).
    let form = format!(
        "id={token}&lat=60.5&lon=25.0&timestamp={}",
        now_ms() / 1000 + 1
    );
    let resp = e
        .http
        .post(e.url("/v1/trackers/osmand"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    wait_at(&e, "van1", 60.5, 25.0).await;
    // The trail: the 2016 fix, then the two without a time (now), then the form's.
    // `to` in the future: the form's fix is a second ahead of the clock.
    let trail = e
        .get_json("/v1/drivers/van1/trail?from=0&to=4102444800000")
        .await;
    let points = trail["points"].as_array().unwrap();
    let coords: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p["lat"].as_f64().unwrap(), p["lon"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        coords,
        [
            (42.06288, -88.23412),
            (60.0, 30.0),
            (41.666667, -0.883333),
            (60.5, 25.0)
        ],
        "{trail}"
    );
    assert_eq!(points[0]["ts_ms"], 1_453_920_947_000_u64);
    let metrics = e.metrics_text().await;
    let accepted = r#"dispatch_tracker_positions_total{format="osmand",outcome="accepted"}"#;
    assert!(counter(&metrics, accepted) >= 10, "{metrics}");
    let out_of_order = r#"dispatch_positions_dropped_total{reason="out_of_order"}"#;
    assert!(counter(&metrics, out_of_order) >= 1, "{metrics}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traccar_client_json_and_forms_on_the_tracker_port() {
    let e = engine(true).await;
    let token = e.register("van2").await;
    let port = format!(
        "http://{}",
        e.spawned.trackers_addr.expect("tracker listener")
    );
    for body in TRACCAR_JSON {
        let resp = e
            .http
            .post(format!("{port}/"))
            .header("content-type", "application/json")
            .body(body.replace(
                "\"device_id\":\"ID\"",
                &format!("\"device_id\":\"{token}\""),
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{body}");
    }
    // The 2025-06-15 fix stays: the two later bodies are older (2025-05-09, 2021).
    let d = wait_at(&e, "van2", 37.4219983, -122.084).await;
    assert_eq!(d["ts_ms"], 1_749_995_112_862_u64);
    // OsmAnd on the bare port, any path.
    let q = format!(
        "{port}/?id={token}&lat=37.5&lon=-122.0&timestamp={}",
        now_ms()
    );
    assert_eq!(e.http.get(q).send().await.unwrap().status().as_u16(), 200);
    wait_at(&e, "van2", 37.5, -122.0).await;
    let trail = e.get_json("/v1/drivers/van2/trail?from=0").await;
    assert_eq!(trail["points"].as_array().unwrap().len(), 2, "{trail}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_and_unknown_devices_get_clear_errors() {
    let e = engine(true).await;
    let token = e.register("van3").await;
    let ghost = e.driver_token("ghost");
    let now_s = now_ms() / 1000;
    let future_s = now_s + 3_600;
    let cases: Vec<(String, u16, &str, &str)> = vec![
        (
            format!("id=123456&timestamp={now_s}&lat=60.0&lon=30.0"),
            401,
            "unauthenticated",
            "unknown device",
        ),
        (
            format!("id={}&lat=60.0&lon=30.0", e.console),
            403,
            "permission_denied",
            "driver token",
        ),
        (
            format!("id={ghost}&lat=60.0&lon=30.0"),
            404,
            "not_found",
            "ghost",
        ),
        (
            format!("timestamp={now_s}&lat=60.0&lon=30.0"),
            400,
            "invalid_argument",
            "id:",
        ),
        (
            format!("id={token}&lat=abc&lon=30.0"),
            400,
            "invalid_argument",
            "lat:",
        ),
        (
            format!("id={token}&lat=60.0"),
            400,
            "invalid_argument",
            "lon:",
        ),
        (
            format!("id={token}&lat=91&lon=30.0"),
            400,
            "invalid_argument",
            "lat:",
        ),
        (
            format!("id={token}&lat=60&lon=30&timestamp={future_s}"),
            400,
            "invalid_argument",
            "timestamp:",
        ),
        (
            format!("id={token}&lat=60&lon=30&timestamp=tomorrow"),
            400,
            "invalid_argument",
            "timestamp:",
        ),
        (
            format!("id={token}&lat=89&lon=30"),
            400,
            "out_of_service_area",
            "polar",
        ),
        (
            format!("id={token}&lat=60&lon=30&speed=-1"),
            400,
            "invalid_argument",
            "speed:",
        ),
        (String::new(), 400, "invalid_argument", "id:"),
    ];
    let port = e.spawned.trackers_addr.unwrap();
    for (i, (query, status, code, says)) in cases.iter().enumerate() {
        // Alternate the listeners: both answer alike.
        let url = if i % 2 == 0 {
            e.url(&format!("/v1/trackers/osmand?{query}"))
        } else {
            format!("http://{port}/?{query}")
        };
        let (got, body) = status_and_json(e.http.get(url).send().await.unwrap()).await;
        assert_eq!(got, *status, "{query}: {body}");
        assert_eq!(body["error"]["code"], *code, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }
    for (body, says) in [
        ("{", "body:"),
        (
            r#"{"device_id":"123456","location":{"coords":{"latitude":1,"longitude":1}}}"#,
            "unknown device",
        ),
        (r#"{"location":{}}"#, "device_id:"),
    ] {
        let resp = e
            .http
            .post(e.url("/v1/trackers/osmand"))
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, answer) = status_and_json(resp).await;
        assert!(status == 400 || status == 401, "{body}: {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    let put = e.http.put(format!("http://{port}/")).send().await.unwrap();
    assert_eq!(put.status().as_u16(), 405);
    // Nothing moved the driver, the engine still serves, the refusals are counted.
    let d = driver(&e, "van3").await;
    assert!(d["lat"].is_null(), "{d}");
    let metrics = e.metrics_text().await;
    let invalid = r#"dispatch_tracker_positions_total{format="osmand",outcome="invalid_argument"}"#;
    assert!(counter(&metrics, invalid) >= 8, "{metrics}");
    let unknown =
        r#"dispatch_tracker_positions_total{format="traccar_json",outcome="unauthenticated"}"#;
    assert!(counter(&metrics, unknown) >= 1, "{metrics}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_is_downsampled_and_served_as_json_and_geojson() {
    let e = Engine::start(|c| {
        c.trails.min_interval_ms = 2_000;
        c.trails.min_distance_m = 0.0;
    })
    .await;
    let token = e.register("van4").await;
    let t0 = now_ms() - 60_000;
    // Eleven fixes a second apart, 100 m apart: one in two is kept.
    for i in 0..11_u32 {
        let lat = 60.0 + f64::from(i) * 0.0009;
        let q = format!(
            "/v1/trackers/osmand?id={token}&lat={lat}&lon=24.94&timestamp={}",
            t0 + u64::from(i) * 1_000
        );
        assert_eq!(
            e.http
                .get(e.url(&q))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            200
        );
        wait_at(&e, "van4", lat, 24.94).await;
    }
    let json = e.get_json("/v1/drivers/van4/trail").await;
    let times: Vec<u64> = json["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ts_ms"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (0..6).map(|i| t0 + i * 2_000).collect();
    assert_eq!(times, want, "{json}");
    // GeoJSON by parameter and by Accept header: a LineString of [lon, lat].
    let by_param = e.get_json("/v1/drivers/van4/trail?format=geojson").await;
    let resp = e
        .http
        .get(e.url("/v1/drivers/van4/trail"))
        .bearer_auth(&e.console)
        .header("accept", "application/geo+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/geo+json");
    let by_accept: Value = resp.json().await.unwrap();
    // (Both default `to` to their own now.)
    assert_eq!(by_param["geometry"], by_accept["geometry"]);
    assert_eq!(
        by_param["properties"]["times_ms"],
        by_accept["properties"]["times_ms"]
    );
    assert_eq!(by_param["geometry"]["type"], "LineString");
    let coords = by_param["geometry"]["coordinates"].as_array().unwrap();
    assert_eq!(coords.len(), 6);
    assert_eq!(coords[0][0], 24.94);
    assert_eq!(coords[0][1], 60.0);
    // A window and a page.
    let window = format!(
        "/v1/drivers/van4/trail?from={}&to={}&limit=2",
        t0 + 1,
        t0 + 8_000
    );
    let page = e.get_json(&window).await;
    assert_eq!(page["points"].as_array().unwrap().len(), 2, "{page}");
    assert_eq!(page["next_from_ms"], t0 + 4_001);
    // Its own driver may read it; another driver, bad windows and unknown drivers not.
    let own = e
        .http
        .get(e.url("/v1/drivers/van4/trail"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status().as_u16(), 200);
    let other = e.register("van5").await;
    let theirs = e
        .http
        .get(e.url("/v1/drivers/van4/trail"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status().as_u16(), 403);
    for (path, code) in [
        ("/v1/drivers/van4/trail?from=10&to=5", "invalid_argument"),
        ("/v1/drivers/van4/trail?from=yesterday", "invalid_argument"),
        ("/v1/drivers/van4/trail?limit=0", "invalid_argument"),
        ("/v1/drivers/van4/trail?format=kml", "invalid_argument"),
        ("/v1/drivers/nobody/trail", "not_found"),
    ] {
        assert_eq!(e.get_json(path).await["error"]["code"], code, "{path}");
    }
    let iso = e
        .get_json("/v1/drivers/van4/trail?from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z")
        .await;
    assert_eq!(iso["points"].as_array().unwrap().len(), 6, "{iso}");
    e.spawned.stop().await.unwrap();
}
