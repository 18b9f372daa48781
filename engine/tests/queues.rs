//! Queue depths on /metrics (`dispatch_queue_depth{queue}`): every bounded queue has
//! its gauge, and the counted ones (actor mailboxes, session outboxes) return to zero
//! once the traffic has been handled — a send counted without its handler, or the
//! reverse, would leave them off zero. Its own test binary: the metrics registry is
//! per process, and other tests' engines would move the same gauges.

mod common;

use common::{recv_json, send, Engine, WAIT};
use serde_json::json;
use std::time::Instant;

fn depth(text: &str, queue: &str) -> Option<f64> {
    let key = format!("dispatch_queue_depth{{queue=\"{queue}\"}}");
    text.lines()
        .find(|l| l.starts_with(&key))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_depths_are_exported_and_settle_at_zero() {
    let e = Engine::start(|c| {
        c.travel.hourly_speed_factor = vec![1.0; 24];
        c.dispatch.tick_ms = 20;
    })
    .await;
    let token = e.register("q1").await;
    let mut ws = e.driver("q1", &token).await;
    send(&mut ws, json!({"type": "status", "status": "available"})).await;
    for i in 0..20 {
        let lat = 60.17 + f64::from(i) * 0.0001;
        send(
            &mut ws,
            json!({"type": "position", "lat": lat, "lon": 24.94, "ts_ms": 1000 + i}),
        )
        .await;
    }
    e.wait_nearest(60.17, 24.94, 1, "available", |d| !d.is_empty())
        .await;
    let r = e
        .http
        .post(e.url("/v1/orders"))
        .bearer_auth(&e.console)
        .json(&json!({"id": "q-o", "pickup": {"lat": 60.171, "lon": 24.941}, "dropoff": {"lat": 60.165, "lon": 24.93}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let deadline = Instant::now() + WAIT;
    loop {
        let m = tokio::time::timeout(deadline - Instant::now(), recv_json(&mut ws))
            .await
            .expect("route in time");
        if m["type"] == "route"
            && m["route"]["stops"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
        {
            break;
        }
    }

    // Every queue has its gauge; the counted ones come back to zero when idle.
    let deadline = Instant::now() + WAIT;
    loop {
        let text = e.metrics_text().await;
        let all: Vec<(&str, Option<f64>)> = [
            "region_mailbox",
            "driver_mailbox",
            "session_outbox",
            "group_commit_waiters",
            "position_writer",
        ]
        .into_iter()
        .map(|q| (q, depth(&text, q)))
        .collect();
        let settled = all.iter().all(|(q, v)| match *q {
            // Refilled by the writer's own clock; only its presence is checked.
            "position_writer" => v.is_some(),
            _ => *v == Some(0.0),
        });
        if settled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "queue depths did not settle: {all:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    e.spawned.stop().await.unwrap();
}
