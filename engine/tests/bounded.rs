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

/// Across the antimeridian a driver 1.6 km away is found and gets the order; the polar
/// caps, where grid cells are metres wide, are refused clearly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_works_across_the_antimeridian_and_refuses_the_poles() {
    let e = Engine::start(|c| c.dispatch.tick_ms = 20).await;
    let token = e.register("dateline").await;
    let mut ws = e.driver("dateline", &token).await;
    send(&mut ws, json!({"type": "status", "status": "available"})).await;
    send(
        &mut ws,
        json!({"type": "position", "lat": -17.0, "lon": 179.995, "ts_ms": 1}),
    )
    .await;
    let found = e
        .wait_nearest(-17.0, -179.995, 1, "available", |f| !f.is_empty())
        .await;
    assert_eq!(found[0]["id"], "dateline");
    assert!(
        found[0]["distance_m"].as_f64().unwrap() < 1_200.0,
        "{found:?}"
    );
    let r = e
        .http
        .post(e.url("/v1/orders"))
        .bearer_auth(&e.console)
        .json(&json!({"id": "fiji", "pickup": {"lat": -17.0, "lon": -179.995}, "dropoff": {"lat": -17.01, "lon": 179.99}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    loop {
        let m = recv_json(&mut ws).await;
        if m["type"] == "route" {
            assert_eq!(m["route"]["stops"][0]["order_id"], "fiji", "{m}");
            break;
        }
    }
    // The poles: a position and an order there are refused, saying why.
    send(
        &mut ws,
        json!({"type": "position", "seq": 7, "lat": 89.9, "lon": 0.0, "ts_ms": 2}),
    )
    .await;
    let m = recv_json(&mut ws).await;
    assert_eq!(
        (m["code"].as_str(), m["ref"].as_u64()),
        (Some("out_of_service_area"), Some(7)),
        "{m}"
    );
    assert!(m["message"].as_str().unwrap().contains("polar"), "{m}");
    let r = e
        .http
        .post(e.url("/v1/orders"))
        .bearer_auth(&e.console)
        .json(&json!({"pickup": {"lat": -89.9, "lon": 0.0}, "dropoff": {"lat": -89.9, "lon": 1.0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    e.spawned.stop().await.unwrap();
}

/// Every registered driver is an actor held in memory for good: registrations beyond
/// `limits.max_drivers` are refused with 503 `overloaded` naming the limit, nothing is
/// half-created, and an existing driver's idempotent registration still answers 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_beyond_the_driver_cap_are_refused() {
    let e = Engine::start(|c| c.limits.max_drivers = 2).await;
    e.register("d1").await;
    e.register("d2").await;
    let post = |id: &'static str| {
        e.http
            .post(e.url("/v1/drivers"))
            .bearer_auth(&e.console)
            .json(&json!({ "id": id }))
            .send()
    };
    let r = post("d3").await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("limits.max_drivers"), "{message}");
    let r = e
        .http
        .get(e.url("/v1/drivers/d3"))
        .bearer_auth(&e.console)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(post("d1").await.unwrap().status(), 200);
    e.spawned.stop().await.unwrap();
}
