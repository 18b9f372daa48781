//! A new order reaches its region as soon as it is written, so the batch window runs
//! while the write is flushed, but the region proposes it only once it is durable and
//! published: a console hears of the order before it hears of its assignment, even when
//! publishing the creation is slow; and a client that hangs up while its creation is
//! being flushed does not leave a durable order that nobody dispatches. Fail point
//! `ledger::durable` (this test binary's own process; the tests take turns) delays the
//! creation's publication only.

mod common;

use common::{get_until, post, recv_json, send, Engine, Ws};
use serde_json::{json, Value};
use std::time::Duration;

const HEL: (f64, f64) = (60.1699, 24.9384);

/// Fail points are per process: one test at a time configures them.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn order(id: &str) -> Value {
    json!({
        "id": id,
        "pickup": {"lat": HEL.0 + 0.001, "lon": HEL.1},
        "dropoff": {"lat": HEL.0 + 0.01, "lon": HEL.1},
    })
}

/// An engine with driver d1 available at `HEL` (re-optimisation and rebalancing off).
async fn with_a_driver() -> (Engine, Ws) {
    let e = Engine::start(|c| {
        c.dispatch.rebalance_ms = 0;
        c.dispatch.reoptimise.every_ms = 0;
    })
    .await;
    let (st, body) = post(&e, "/v1/drivers", json!({"id": "d1", "capacity": 4})).await;
    assert_eq!(st, 201, "{body}");
    let mut driver = e.driver("d1", body["token"].as_str().unwrap()).await;
    send(
        &mut driver,
        json!({"type": "status", "status": "available"}),
    )
    .await;
    send(
        &mut driver,
        json!({"type": "position", "lat": HEL.0, "lon": HEL.1, "ts_ms": now_ms()}),
    )
    .await;
    e.wait_nearest(HEL.0, HEL.1, 1, "available", |f| {
        f.iter().any(|d| d["id"] == "d1")
    })
    .await;
    (e, driver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_never_overtakes_the_creation_it_waits_for() {
    let _turn = SERIAL.lock().await;
    let (e, mut driver) = with_a_driver().await;
    let mut console = e.ws("/ws/console", Some(&e.console)).await;
    send(&mut console, json!({"type": "subscribe"})).await;
    assert_eq!(recv_json(&mut console).await["type"], "snapshot");

    // The first publication from here on (the creation's) waits 400 ms after its
    // flush: many batch windows, in which a region that did not wait for it would have
    // proposed the order, and the driver's acceptance would have been published first.
    fail::cfg("ledger::durable", "1*sleep(400)").unwrap();
    let (st, v) = post(&e, "/v1/orders", order("o1")).await;
    assert_eq!(st, 201, "{v}");

    // What the console hears of o1, in order, until it is assigned.
    let mut heard: Vec<String> = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let m: Value = recv_json(&mut console).await;
            if m["type"] == "order" && m["order"]["id"] == "o1" {
                let status = m["order"]["status"].as_str().unwrap().to_string();
                let assigned = status == "assigned";
                heard.push(status);
                if assigned {
                    return;
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("o1 was not assigned; heard {heard:?}"));
    fail::remove("ledger::durable");
    assert_eq!(
        heard.first().map(String::as_str),
        Some("pending"),
        "{heard:?}"
    );
    // And the driver got it.
    let route = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let m = recv_json(&mut driver).await;
            if m["type"] == "route" && m["route"]["stops"].to_string().contains("o1") {
                return m;
            }
        }
    })
    .await
    .expect("the route with o1 reaches the driver");
    let stops = route["route"]["stops"].as_array().unwrap().len();
    assert_eq!(stops, 2, "{route}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_mid_creation_leaves_no_order_undispatched() {
    let _turn = SERIAL.lock().await;
    let (e, _driver) = with_a_driver().await;
    fail::cfg("ledger::durable", "1*sleep(600)").unwrap();
    let hung_up = reqwest::Client::new()
        .post(e.url("/v1/orders"))
        .bearer_auth(&e.console)
        .timeout(Duration::from_millis(150))
        .json(&order("o2"))
        .send()
        .await;
    assert!(hung_up.is_err(), "answered within 150 ms: {hung_up:?}");
    // The creation was written before the client went: it is published and
    // dispatched all the same.
    let found = get_until(&e, "/v1/orders/o2", |v| v["status"] == "assigned").await;
    fail::remove("ledger::durable");
    assert_eq!(found["driver_id"], "d1", "{found}");
    e.spawned.stop().await.unwrap();
}
