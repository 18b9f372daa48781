//! Reconnect storm: every driver drops its socket and reconnects at once; each one
//! resumes with exactly its current route. (The 10,000-driver version is
//! `dispatch-sim storm`; this one runs in CI.)

mod common;

use common::{recv_json, send, Engine, Ws, WAIT};
use serde_json::{json, Value};

const DRIVERS: usize = 150;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn spot(i: usize) -> (f64, f64) {
    (
        60.10 + (i / 15) as f64 * 0.01,
        24.80 + (i % 15) as f64 * 0.02,
    )
}

/// Reads until a route with stops arrives; returns it.
async fn route_with_stops(ws: &mut Ws) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT * 3;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "no route in time");
        let m = recv_json(ws).await;
        if m["type"] == "route" && !m["route"]["stops"].as_array().unwrap().is_empty() {
            return m["route"].clone();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_driver_resumes_its_route_after_a_reconnect_storm() {
    let e = Engine::start(|c| c.dispatch.rebalance_ms = 0).await;
    let mut tokens = Vec::new();
    let mut sockets = Vec::new();
    for i in 0..DRIVERS {
        let id = format!("s{i}");
        let token = e.register(&id).await;
        let mut ws = e.driver(&id, &token).await;
        send(&mut ws, json!({"type": "status", "status": "available"})).await;
        let (lat, lon) = spot(i);
        send(
            &mut ws,
            json!({"type": "position", "lat": lat, "lon": lon, "ts_ms": now_ms()}),
        )
        .await;
        tokens.push(token);
        sockets.push(ws);
    }
    e.wait_nearest(60.15, 24.95, 100, "available", |f| f.len() == 100)
        .await;
    // One order at each driver's spot: every driver ends up with a route.
    for i in 0..DRIVERS {
        let (lat, lon) = spot(i);
        let body = json!({"id": format!("o{i}"), "pickup": {"lat": lat, "lon": lon}, "dropoff": {"lat": lat + 0.002, "lon": lon}});
        let r = e
            .http
            .post(e.url("/v1/orders"))
            .bearer_auth(&e.console)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    for ws in sockets.iter_mut() {
        route_with_stops(ws).await;
    }
    // Routes settle (later batches may still change them): take the engine's view as
    // the truth to compare against after the storm.
    let mut current = Vec::new();
    for i in 0..DRIVERS {
        let v = e.get_json(&format!("/v1/drivers/s{i}")).await;
        current.push(v["route"].clone());
    }
    // The storm: every socket drops, then all reconnect at once.
    drop(sockets);
    let reconnects = tokens.iter().enumerate().map(|(i, token)| {
        let url = format!("ws://{}/ws/driver", e.spawned.addr);
        let token = token.clone();
        async move {
            let mut ws = common::connect(&url, Some(&token)).await;
            send(&mut ws, json!({"type": "hello", "resume_seq": 2})).await;
            let welcome = recv_json(&mut ws).await;
            assert_eq!(welcome["type"], "welcome", "s{i}: {welcome}");
            (i, welcome["route"].clone(), ws)
        }
    });
    let resumed = futures_util::future::join_all(reconnects).await;
    let mut with_stops = 0;
    for (i, route, _ws) in &resumed {
        assert_eq!(route, &current[*i], "s{i} resumed another route");
        if !route["stops"].as_array().unwrap().is_empty() {
            with_stops += 1;
        }
    }
    assert_eq!(with_stops, DRIVERS, "every driver had an order to resume");
    e.spawned.stop().await.unwrap();
}
