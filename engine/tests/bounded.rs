//! State that one client could grow without bound is bounded: region actors (a driver
//! scattering positions over the globe) and an order's history (a driver flapping
//! between offline and available).

mod common;

use common::{recv_json, send, Engine};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_scattered_over_the_globe_create_no_more_regions_than_the_cap() {
    let e = Engine::start(|c| c.regions.max_regions = 3).await;
    let token = e.register("roamer").await;
    let mut ws = e.driver("roamer", &token).await;
    // Ten cells far apart, each answered in order: the first three are served (each
    // creates its region), the rest refused.
    let mut refused = 0;
    for i in 0..10 {
        let lat = -80.0 + f64::from(i) * 16.0;
        send(
            &mut ws,
            json!({"type": "position", "seq": i + 1, "lat": lat, "lon": 10.0 * f64::from(i), "ts_ms": 1}),
        )
        .await;
        // A served position gets no answer. A stop_done for no stop is answered with
        // an error, after whatever the position got: the fence.
        let fence = 100 + i;
        send(
            &mut ws,
            json!({"type": "stop_done", "seq": fence, "stop_id": "p:none", "outcome": "picked_up", "ts_ms": 1}),
        )
        .await;
        loop {
            let m = recv_json(&mut ws).await;
            assert_eq!(m["type"], "error", "{m}");
            if m["ref"] == fence {
                break;
            }
            assert_eq!(m["code"], "out_of_service_area", "{m}");
            assert!(
                m["message"].as_str().unwrap().contains("max_regions"),
                "{m}"
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 7);
    // An order whose pickup would need a fourth region is refused the same way.
    let r = e
        .http
        .post(e.url("/v1/orders"))
        .bearer_auth(&e.console)
        .json(&json!({"pickup": {"lat": 45.0, "lon": 100.0}, "dropoff": {"lat": 45.0, "lon": 100.01}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "out_of_service_area");
    e.spawned.stop().await.unwrap();
}
