//! What a dispatcher needs beyond the stops, end to end: an order's recipient, phone,
//! address text and notes (validated, stored, returned, part of an idempotent retry,
//! kept over a restart); the note a driver sends with `stop_done`, kept on the order's
//! history; driver names in the console's `driver_info`.

mod common;

use common::{get, post, recv_json, send, Engine, Ws, WAIT};
use serde_json::{json, Value};

const PICKUP: (f64, f64) = (60.1702, 24.9390);
const DROPOFF: (f64, f64) = (60.1650, 24.9300);

fn now_ms() -> u64 {
    dispatch_engine::time::now_ms()
}

fn flat(c: &mut dispatch_engine::config::Config) {
    c.travel.hourly_speed_factor = vec![1.0; 24];
    c.dispatch.tick_ms = 20;
}

fn detailed(id: &str) -> Value {
    json!({
        "id": id,
        "pickup": {"lat": PICKUP.0, "lon": PICKUP.1},
        "dropoff": {"lat": DROPOFF.0, "lon": DROPOFF.1},
        "recipient_name": "Aino Virtanen",
        "recipient_phone": "+358 40 123 4567",
        "address": "Mannerheimintie 1 A 3\n00100 Helsinki",
        "notes": "door code 1234",
    })
}

fn assert_details(o: &Value) {
    assert_eq!(o["recipient_name"], "Aino Virtanen", "{o}");
    assert_eq!(o["recipient_phone"], "+358 40 123 4567", "{o}");
    assert_eq!(o["address"], "Mannerheimintie 1 A 3\n00100 Helsinki", "{o}");
    assert_eq!(o["notes"], "door code 1234", "{o}");
}

/// Reads until a message satisfies `pred` (overall deadline [`WAIT`]).
async fn recv_until(ws: &mut Ws, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no matching message"
        );
        let m = recv_json(ws).await;
        if pred(&m) {
            return m;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_details_are_validated_stored_returned_and_kept_over_a_restart() {
    let e = Engine::start(|_| {}).await;
    e.register("d1").await;
    // Each field has a limit, and the error names the field.
    let too_long = |field: &str, n: usize| {
        let mut body = detailed("bad");
        body[field] = json!("x".repeat(n));
        body
    };
    let cases = [
        (too_long("recipient_name", 201), "recipient_name"),
        (too_long("address", 501), "address"),
        (too_long("notes", 2001), "notes"),
        (too_long("recipient_phone", 41), "recipient_phone"),
        (
            {
                let mut b = detailed("bad");
                b["recipient_phone"] = json!("call me");
                b
            },
            "recipient_phone",
        ),
        (
            {
                let mut b = detailed("bad");
                b["notes"] = json!("a\u{7}b");
                b
            },
            "notes",
        ),
    ];
    // Another JSON type is refused too (serde's message names the type, not the field).
    let mut wrong_type = detailed("bad");
    wrong_type["address"] = json!(12);
    let (status, err) = post(&e, "/v1/orders", wrong_type).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["code"], "invalid_argument", "{err}");
    for (body, field) in cases {
        let (status, err) = post(&e, "/v1/orders", body).await;
        assert_eq!(status, 400, "{field}: {err}");
        assert_eq!(err["error"]["code"], "invalid_argument", "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
    }
    let (status, _) = get(&e, "/v1/orders/bad").await;
    assert_eq!(status, 404, "a refused order is not stored");

    // Created with its details, answered and read back with them.
    let (status, created) = post(&e, "/v1/orders", detailed("o1")).await;
    assert_eq!(status, 201, "{created}");
    assert_details(&created);
    let (_, got) = get(&e, "/v1/orders/o1").await;
    assert_details(&got);
    // A retry with the same details is the same order; other details are a conflict.
    let (status, again) = post(&e, "/v1/orders", detailed("o1")).await;
    assert_eq!(status, 200, "{again}");
    let mut other = detailed("o1");
    other["notes"] = json!("leave at the back door");
    let (status, err) = post(&e, "/v1/orders", other).await;
    assert_eq!(status, 409, "{err}");
    // An order without details has none of the fields.
    let mut plain = detailed("o2");
    for f in ["recipient_name", "recipient_phone", "address", "notes"] {
        plain.as_object_mut().unwrap().remove(f);
    }
    let (status, plain) = post(&e, "/v1/orders", plain).await;
    assert_eq!(status, 201, "{plain}");
    assert!(plain.get("recipient_name").is_none(), "{plain}");

    // Consoles see them in the snapshot.
    let mut console = e.ws("/ws/console", Some(&e.console)).await;
    send(&mut console, json!({"type": "subscribe"})).await;
    let snap = recv_until(&mut console, |m| m["type"] == "snapshot").await;
    let o1 = snap["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "o1")
        .cloned()
        .expect("o1 in the snapshot");
    assert_details(&o1);
    drop(console);

    // A restart reads them back from the store.
    let e = e.restart(|_| {}).await;
    let (_, got) = get(&e, "/v1/orders/o1").await;
    assert_details(&got);
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_done_note_is_kept_on_the_orders_history() {
    let e = Engine::start(flat).await;
    let token = e.register("d1").await;
    let mut d = e.driver("d1", &token).await;
    send(&mut d, json!({"type": "status", "status": "available"})).await;
    send(
        &mut d,
        json!({"type": "position", "lat": PICKUP.0, "lon": PICKUP.1, "ts_ms": now_ms()}),
    )
    .await;
    e.wait_nearest(PICKUP.0, PICKUP.1, 10, "available", |f| !f.is_empty())
        .await;
    let mut console = e.ws("/ws/console", Some(&e.console)).await;
    send(&mut console, json!({"type": "subscribe"})).await;
    recv_until(&mut console, |m| m["type"] == "snapshot").await;

    let (status, _) = post(&e, "/v1/orders", detailed("o1")).await;
    assert_eq!(status, 201);
    recv_until(&mut d, |m| {
        m["type"] == "route" && m["route"]["stops"].as_array().is_some_and(|s| s.len() == 2)
    })
    .await;
    let done = |stop: &str, outcome: &str, note: &str, seq: u64| {
        json!({"type": "stop_done", "seq": seq, "stop_id": stop, "outcome": outcome,
               "ts_ms": now_ms(), "note": note})
    };
    send(&mut d, done("p:o1", "picked_up", "parcel was wet", 1)).await;
    let ack = recv_until(&mut d, |m| m["ref"] == 1).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    // A blank note is no note.
    send(&mut d, done("d:o1", "delivered", "   ", 2)).await;
    let ack = recv_until(&mut d, |m| m["ref"] == 2).await;
    assert_eq!(ack["type"], "ack", "{ack}");

    let seen = recv_until(&mut console, |m| {
        m["type"] == "order" && m["order"]["status"] == "delivered"
    })
    .await;
    let check = |o: &Value| {
        let history = o["history"].as_array().unwrap();
        let entry = |status: &str| history.iter().find(|h| h["status"] == status).unwrap();
        assert_eq!(entry("picked_up")["note"], "parcel was wet", "{o}");
        assert!(entry("delivered").get("note").is_none(), "{o}");
        assert!(entry("pending").get("note").is_none(), "{o}");
    };
    check(&seen["order"]);
    let (_, got) = get(&e, "/v1/orders/o1").await;
    check(&got);
    drop((d, console));
    let e = e.restart(flat).await;
    let (_, got) = get(&e, "/v1/orders/o1").await;
    check(&got);
    assert_details(&got);
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consoles_learn_driver_names_once_with_their_first_positions() {
    let e = Engine::start(|_| {}).await;
    let (status, body) = post(
        &e,
        "/v1/drivers",
        json!({"id": "d1", "capacity": 6, "name": "Ann Lee"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut d1 = e.driver("d1", body["token"].as_str().unwrap()).await;
    send(
        &mut d1,
        json!({"type": "position", "lat": PICKUP.0, "lon": PICKUP.1, "ts_ms": now_ms()}),
    )
    .await;
    e.wait_nearest(PICKUP.0, PICKUP.1, 10, "offline", |f| !f.is_empty())
        .await;
    let mut console = e.ws("/ws/console", Some(&e.console)).await;
    send(&mut console, json!({"type": "subscribe"})).await;
    // The contract's `snapshot` comes first, the names of its drivers right after.
    let snap = recv_json(&mut console).await;
    assert_eq!(snap["type"], "snapshot", "{snap}");
    let info = recv_json(&mut console).await;
    assert_eq!(info["type"], "driver_info", "{info}");
    assert_eq!(
        info["drivers"],
        json!([{"id": "d1", "name": "Ann Lee", "capacity": 6}])
    );

    // A driver coming online later is described before its first batch, once.
    let token = e.register("d2").await;
    let mut d2 = e.driver("d2", &token).await;
    send(
        &mut d2,
        json!({"type": "position", "lat": DROPOFF.0, "lon": DROPOFF.1, "ts_ms": now_ms()}),
    )
    .await;
    let has_d2 = |m: &Value| {
        m["type"] == "drivers"
            && m["updates"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["id"] == "d2")
    };
    let first = recv_until(&mut console, |m| m["type"] == "driver_info" || has_d2(m)).await;
    assert_eq!(first["type"], "driver_info", "{first}");
    assert_eq!(first["drivers"][0]["id"], "d2", "{first}");
    assert!(first["drivers"][0].get("name").is_none(), "{first}");
    recv_until(&mut console, has_d2).await;
    send(
        &mut d2,
        json!({"type": "position", "lat": PICKUP.0, "lon": PICKUP.1, "ts_ms": now_ms()}),
    )
    .await;
    let next = recv_until(&mut console, |m| m["type"] == "driver_info" || has_d2(m)).await;
    assert_eq!(next["type"], "drivers", "described only once: {next}");
    e.spawned.stop().await.unwrap();
}
