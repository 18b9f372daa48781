//! Orders and live dispatch end to end over real sockets: orders in, routes out on the
//! driver's socket, stops completed and seen by a console; cancellation; re-dispatch
//! after a disconnect; bad input; racing for the last unit of capacity.

mod common;

use common::{get, get_until, post, recv_json, send, series_value, Engine, Ws, WAIT};
use serde_json::{json, Value};
use std::time::Duration;

const HEL: (f64, f64) = (60.1699, 24.9384);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Flat speeds all day, so windows in tests do not depend on the hour they run at.
fn flat(c: &mut dispatch_engine::config::Config) {
    c.travel.hourly_speed_factor = vec![1.0; 24];
    c.dispatch.tick_ms = 20;
}

/// Registers a driver with a capacity, connects it, sets it available at a position
/// and waits until the fleet index shows it.
async fn online(e: &Engine, id: &str, capacity: u32, at: (f64, f64)) -> Ws {
    let (st, body) = post(e, "/v1/drivers", json!({"id": id, "capacity": capacity})).await;
    assert_eq!(st, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    let mut ws = e.driver(id, &token).await;
    send(&mut ws, json!({"type": "status", "status": "available"})).await;
    send(
        &mut ws,
        json!({"type": "position", "lat": at.0, "lon": at.1, "ts_ms": now_ms()}),
    )
    .await;
    e.wait_nearest(at.0, at.1, 100, "available", |f| {
        f.iter().any(|d| d["id"] == id)
    })
    .await;
    ws
}

/// Reads until a message satisfies `pred` (bounded by the common wait per frame and an
/// overall deadline).
async fn recv_until(ws: &mut Ws, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no matching message in time"
        );
        let m = recv_json(ws).await;
        if pred(&m) {
            return m;
        }
    }
}

fn route_with(m: &Value, order: &str) -> bool {
    m["type"] == "route"
        && m["route"]["stops"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["order_id"] == order)
}

fn order_body(id: &str, pickup: (f64, f64), dropoff: (f64, f64)) -> Value {
    json!({
        "id": id,
        "pickup": {"lat": pickup.0, "lon": pickup.1},
        "dropoff": {"lat": dropoff.0, "lon": dropoff.1},
    })
}

async fn stop_done(ws: &mut Ws, stop_id: &str, outcome: &str, seq: u64) -> Value {
    send(
        ws,
        json!({"type": "stop_done", "seq": seq, "stop_id": stop_id, "outcome": outcome, "ts_ms": now_ms()}),
    )
    .await;
    recv_until(ws, |m| {
        (m["type"] == "ack" || m["type"] == "error") && m["ref"] == seq
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_is_assigned_completed_and_seen_delivered_by_a_console() {
    let e = Engine::start(flat).await;
    let mut d = online(&e, "d1", 4, HEL).await;
    let mut console = e.ws("/ws/console", Some(&e.console)).await;
    send(&mut console, json!({"type": "subscribe"})).await;
    let snap = recv_until(&mut console, |m| m["type"] == "snapshot").await;
    assert!(snap["orders"].as_array().unwrap().is_empty());

    let (st, order) = post(
        &e,
        "/v1/orders",
        order_body("o1", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201, "{order}");
    assert_eq!(order["status"], "pending");

    let route = recv_until(&mut d, |m| route_with(m, "o1")).await;
    let stops = route["route"]["stops"].as_array().unwrap().clone();
    assert_eq!(stops.len(), 2);
    assert_eq!(stops[0]["stop_id"], "p:o1");
    assert_eq!(stops[0]["kind"], "pickup");
    assert_eq!(stops[1]["kind"], "dropoff");
    let (e0, e1) = (
        stops[0]["eta_ms"].as_u64().unwrap(),
        stops[1]["eta_ms"].as_u64().unwrap(),
    );
    assert!(e0 >= now_ms() - 60_000 && e1 > e0, "etas {e0} {e1}");

    let (_, got) = get(&e, "/v1/orders/o1").await;
    assert_eq!(got["status"], "assigned");
    assert_eq!(got["driver_id"], "d1");
    assert_eq!(got["pickup_eta_ms"], stops[0]["eta_ms"]);

    let ack = stop_done(&mut d, "p:o1", "picked_up", 1).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["stop_id"], "p:o1");
    let (_, got) = get(&e, "/v1/orders/o1").await;
    assert_eq!(got["status"], "picked_up");
    let (_, driver) = get(&e, "/v1/drivers/d1").await;
    assert_eq!(driver["load"], 1);

    let ack = stop_done(&mut d, "d:o1", "delivered", 2).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    recv_until(&mut console, |m| {
        m["type"] == "order" && m["order"]["status"] == "delivered"
    })
    .await;
    let (_, got) = get(&e, "/v1/orders/o1").await;
    let history: Vec<&str> = got["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["pending", "assigned", "picked_up", "delivered"]);
    let (_, driver) = get(&e, "/v1/drivers/d1").await;
    assert_eq!(driver["load"], 0);
    assert!(driver["route"]["stops"].as_array().unwrap().is_empty());

    // The stop is gone now: reporting it again is not found, and nothing changes.
    let err = stop_done(&mut d, "d:o1", "delivered", 3).await;
    assert_eq!(err["code"], "not_found", "{err}");

    // A reconnecting driver gets its current route in welcome.
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_is_idempotent_by_id_and_lists_page_by_cursor() {
    let e = Engine::start(flat).await;
    let body = order_body("same", HEL, (60.17, 24.95));
    let (st, first) = post(&e, "/v1/orders", body.clone()).await;
    assert_eq!(st, 201);
    let (st, again) = post(&e, "/v1/orders", body.clone()).await;
    assert_eq!(st, 200);
    assert_eq!(again["id"], "same");
    assert_eq!(again["created_ms"], first["created_ms"]);
    let mut other = body.clone();
    other["size"] = json!(2);
    let (st, err) = post(&e, "/v1/orders", other).await;
    assert_eq!(st, 409);
    assert_eq!(err["error"]["code"], "conflict");

    // Without an id the server makes one.
    let mut anon = body.clone();
    anon.as_object_mut().unwrap().remove("id");
    let (st, made) = post(&e, "/v1/orders", anon).await;
    assert_eq!(st, 201);
    assert!(made["id"].as_str().unwrap().starts_with("o-"));

    for i in 0..5 {
        let (st, _) = post(
            &e,
            "/v1/orders",
            order_body(&format!("page-{i}"), HEL, (60.17, 24.95)),
        )
        .await;
        assert_eq!(st, 201);
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let q = match &after {
            Some(a) => format!("/v1/orders?limit=3&after={a}"),
            None => "/v1/orders?limit=3".to_string(),
        };
        let (st, page) = get(&e, &q).await;
        assert_eq!(st, 200);
        for o in page["orders"].as_array().unwrap() {
            seen.push(o["id"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    // No driver: every order ends unassignable, and the status filter finds them.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, page) = get(&e, "/v1/orders?status=unassignable&limit=1000").await;
        if page["orders"].as_array().unwrap().len() == 7 {
            let o = &page["orders"][0];
            assert_eq!(
                o["history"].as_array().unwrap().last().unwrap()["reason"],
                "no available driver nearby"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "orders never became unassignable: {page}"
        );
        tokio::task::yield_now().await;
    }
    let (st, _) = get(&e, "/v1/orders?status=lost").await;
    assert_eq!(st, 400);
    let (st, _) = get(&e, "/v1/orders?limit=0").await;
    assert_eq!(st, 400);
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_orders_get_clear_errors_and_change_nothing() {
    let e = Engine::start(|c| {
        flat(c);
        c.regions.service_area = Some([24.0, 59.0, 26.0, 61.0]);
    })
    .await;
    let _d = online(&e, "small", 4, HEL).await;
    let cases = [
        (
            order_body("bad-lat", (91.0, 24.9), HEL),
            400,
            "invalid_argument",
        ),
        (
            json!({"id": "bad-window", "pickup": {"lat": 60.17, "lon": 24.94, "ready_ms": 2000, "due_ms": 1000}, "dropoff": {"lat": 60.16, "lon": 24.93}}),
            400,
            "invalid_argument",
        ),
        (
            json!({"id": "too-big", "size": 5, "pickup": {"lat": 60.17, "lon": 24.94}, "dropoff": {"lat": 60.16, "lon": 24.93}}),
            400,
            "invalid_argument",
        ),
        (
            order_body("far", (52.52, 13.40), HEL),
            400,
            "out_of_service_area",
        ),
        (order_body("bad id!", HEL, HEL), 400, "invalid_argument"),
        (
            json!({"id": "no-dropoff", "pickup": {"lat": 60.17, "lon": 24.94}}),
            400,
            "invalid_argument",
        ),
    ];
    for (body, status, code) in cases {
        let (st, err) = post(&e, "/v1/orders", body.clone()).await;
        assert_eq!(
            (st, err["error"]["code"].as_str().unwrap()),
            (status, code),
            "{body}"
        );
    }
    let (_, page) = get(&e, "/v1/orders").await;
    assert!(page["orders"].as_array().unwrap().is_empty(), "{page}");
    let (st, err) = post(&e, "/v1/orders/nope/cancel", json!({})).await;
    assert_eq!(
        (st, err["error"]["code"].as_str().unwrap()),
        (404, "not_found")
    );
    let (st, _) = get(&e, "/v1/orders/nope").await;
    assert_eq!(st, 404);
    // A driver token may not create orders.
    let token = e.driver_token("small");
    let r = e
        .http
        .post(e.url("/v1/orders"))
        .bearer_auth(token)
        .json(&order_body("x", HEL, HEL))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // The console socket answers the same errors in-band and stays open.
    let mut console = e.ws("/ws/console", Some(&e.console)).await;
    send(&mut console, json!({"type": "create_order", "seq": 7, "order": {"pickup": {"lat": 60.17, "lon": 24.94}, "dropoff": {"lat": 60.16, "lon": 24.93}, "size": 99}})).await;
    let err = recv_until(&mut console, |m| m["type"] == "error").await;
    assert_eq!(
        (err["code"].as_str().unwrap(), err["ref"].as_u64()),
        ("invalid_argument", Some(7))
    );
    send(
        &mut console,
        json!({"type": "cancel_order", "seq": 8, "id": "nope"}),
    )
    .await;
    let err = recv_until(&mut console, |m| m["type"] == "error").await;
    assert_eq!(
        (err["code"].as_str().unwrap(), err["ref"].as_u64()),
        ("not_found", Some(8))
    );
    send(&mut console, json!({"type": "create_order", "seq": 9, "order": order_body("via-ws", HEL, (60.16, 24.93))})).await;
    let made = recv_until(&mut console, |m| m["type"] == "order").await;
    assert_eq!(made["order"]["id"], "via-ws");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_before_pickup_frees_the_route_and_after_pickup_conflicts() {
    let e = Engine::start(flat).await;
    let mut d = online(&e, "d1", 4, HEL).await;
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("c1", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut d, |m| route_with(m, "c1")).await;
    let (st, cancelled) = post(&e, "/v1/orders/c1/cancel", json!({})).await;
    assert_eq!(st, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    recv_until(&mut d, |m| m["type"] == "route" && !route_with(m, "c1")).await;
    // Cancelling again answers the cancelled order.
    let (st, again) = post(&e, "/v1/orders/c1/cancel", json!({})).await;
    assert_eq!((st, again["status"].as_str().unwrap()), (200, "cancelled"));
    // Its stops are gone: reporting one is not found.
    let err = stop_done(&mut d, "p:c1", "picked_up", 1).await;
    assert_eq!(err["code"], "not_found");

    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("c2", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut d, |m| route_with(m, "c2")).await;
    let ack = stop_done(&mut d, "p:c2", "picked_up", 2).await;
    assert_eq!(ack["type"], "ack");
    let (st, err) = post(&e, "/v1/orders/c2/cancel", json!({})).await;
    assert_eq!(
        (st, err["error"]["code"].as_str().unwrap()),
        (409, "conflict")
    );
    let (_, got) = get(&e, "/v1/orders/c2").await;
    assert_eq!(got["status"], "picked_up");
    let ack = stop_done(&mut d, "d:c2", "delivered", 3).await;
    assert_eq!(ack["type"], "ack");
    let (st, _) = post(&e, "/v1/orders/c2/cancel", json!({})).await;
    assert_eq!(st, 409);

    // A pending order (no driver can reach it in time) cancels from its region queue.
    let (st, _) = post(&e, "/v1/orders", json!({"id": "c3", "pickup": {"lat": 60.17, "lon": 24.94, "due_ms": now_ms() - 1}, "dropoff": {"lat": 60.16, "lon": 24.93}})).await;
    assert_eq!(st, 201);
    let (st, got) = post(&e, "/v1/orders/c3/cancel", json!({})).await;
    assert_eq!((st, got["status"].as_str().unwrap()), (200, "cancelled"));
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_done_is_checked_against_the_drivers_own_route() {
    let e = Engine::start(flat).await;
    let mut a = online(&e, "a", 4, HEL).await;
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("s1", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut a, |m| route_with(m, "s1")).await;
    // B is far away: it never gets s1, and may not report a's stops.
    let mut b = online(&e, "b", 4, (60.30, 25.20)).await;
    let err = stop_done(&mut b, "p:s1", "picked_up", 1).await;
    assert_eq!(err["code"], "not_found", "{err}");
    let err = stop_done(&mut a, "garbage", "picked_up", 2).await;
    assert_eq!(err["code"], "not_found");
    let err = stop_done(&mut a, "d:s1", "delivered", 3).await;
    assert_eq!(err["code"], "failed_precondition", "{err}");
    let err = stop_done(&mut a, "p:s1", "delivered", 4).await;
    assert_eq!(err["code"], "invalid_argument", "{err}");
    let (_, got) = get(&e, "/v1/orders/s1").await;
    assert_eq!(got["status"], "assigned");
    // A failed pickup ends the order.
    let ack = stop_done(&mut a, "p:s1", "failed", 5).await;
    assert_eq!(ack["type"], "ack");
    let (_, got) = get(&e, "/v1/orders/s1").await;
    assert_eq!(got["status"], "failed");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_driver_gives_back_what_it_has_not_picked_up() {
    let e = Engine::start(|c| {
        flat(c);
        c.dispatch.disconnect_grace_ms = 50;
    })
    .await;
    let mut a = online(&e, "a", 4, HEL).await;
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("keep", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut a, |m| route_with(m, "keep")).await;
    let ack = stop_done(&mut a, "p:keep", "picked_up", 1).await;
    assert_eq!(ack["type"], "ack");
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("move", (60.1705, 24.9395), (60.1655, 24.9305)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut a, |m| route_with(m, "move")).await;
    let mut b = online(&e, "b", 4, (60.1750, 24.9500)).await;
    drop(a);
    let route = recv_until(&mut b, |m| route_with(m, "move")).await;
    assert!(!route_with(&route, "keep"));
    let (_, got) = get(&e, "/v1/orders/move").await;
    assert_eq!(got["driver_id"], "b");
    let statuses: Vec<&str> = got["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending", "assigned", "pending", "assigned"]);
    let (_, kept) = get(&e, "/v1/orders/keep").await;
    assert_eq!(
        (
            kept["status"].as_str().unwrap(),
            kept["driver_id"].as_str().unwrap()
        ),
        ("picked_up", "a")
    );
    let (_, driver) = get(&e, "/v1/drivers/a").await;
    assert_eq!(driver["status"], "offline");
    e.spawned.stop().await.unwrap();
}

/// Load along a pushed route, starting from what is on board.
fn max_load(stops: &[Value], on_board: i64) -> i64 {
    let mut load = on_board;
    let mut max = load;
    for s in stops {
        load += if s["kind"] == "pickup" { 1 } else { -1 };
        max = max.max(load);
    }
    max
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_orders_racing_for_the_last_unit_of_capacity_never_both_land() {
    let e = Engine::start(flat).await;
    // `a` has capacity 2 and one order on board (for a place 3 km east): one unit left.
    let mut a = online(&e, "a", 2, HEL).await;
    let drop_at = (60.1850, 24.9384); // ~1.7 km north
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("onboard", HEL, (60.1699, 24.9924)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut a, |m| route_with(m, "onboard")).await;
    assert_eq!(
        stop_done(&mut a, "p:onboard", "picked_up", 1).await["type"],
        "ack"
    );
    let _b = online(&e, "b", 5, (60.1600, 24.9384)).await;
    // Two orders from where `a` stands to the same place, due so soon that only
    // carrying both at once (two free units) would serve both from `a`.
    let due = now_ms() + 14 * 60_000;
    let racing = |id: &str| json!({"id": id, "pickup": {"lat": HEL.0, "lon": HEL.1}, "dropoff": {"lat": drop_at.0, "lon": drop_at.1, "due_ms": due}});
    let (r1, r2) = tokio::join!(
        post(&e, "/v1/orders", racing("x")),
        post(&e, "/v1/orders", racing("y"))
    );
    assert_eq!((r1.0, r2.0), (201, 201));
    let deadline = tokio::time::Instant::now() + WAIT;
    let (ox, oy) = loop {
        let (_, ox) = get(&e, "/v1/orders/x").await;
        let (_, oy) = get(&e, "/v1/orders/y").await;
        let settled = |o: &Value| o["status"] == "assigned" || o["status"] == "unassignable";
        if settled(&ox) && settled(&oy) {
            break (ox, oy);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "orders did not settle: {ox} {oy}"
        );
        tokio::task::yield_now().await;
    };
    // `a` is the cheaper driver for each of them alone, so exactly one lands there and
    // the other goes to `b`.
    let on_a = [&ox, &oy].iter().filter(|o| o["driver_id"] == "a").count();
    let on_b = [&ox, &oy].iter().filter(|o| o["driver_id"] == "b").count();
    assert_eq!((on_a, on_b), (1, 1), "{ox} {oy}");
    let (_, da) = get(&e, "/v1/drivers/a").await;
    let stops = da["route"]["stops"].as_array().unwrap();
    assert!(max_load(stops, 1) <= 2, "over capacity: {stops:?}");
    // Every order is on at most one route.
    let (_, db) = get(&e, "/v1/drivers/b").await;
    for id in ["x", "y"] {
        let on = [&da, &db]
            .iter()
            .filter(|d| {
                d["route"]["stops"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["order_id"] == id)
            })
            .count();
        assert!(on <= 1, "{id} on {on} routes");
    }
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_driver_gets_its_route_in_welcome() {
    let e = Engine::start(flat).await;
    let mut a = online(&e, "a", 4, HEL).await;
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("w1", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    let pushed = recv_until(&mut a, |m| route_with(m, "w1")).await;
    drop(a);
    let mut again = e.ws("/ws/driver", Some(&e.driver_token("a"))).await;
    send(&mut again, json!({"type": "hello", "resume_seq": 3})).await;
    let welcome = recv_until(&mut again, |m| m["type"] == "welcome").await;
    assert_eq!(welcome["route"], pushed["route"]);
    tokio::time::timeout(Duration::from_secs(5), e.spawned.stop())
        .await
        .unwrap()
        .unwrap();
}

/// A driver whose socket dropped stays available through its grace period (it may be
/// back in a second), but takes no new order meanwhile: the route would reach nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_without_a_socket_gets_no_new_orders_until_it_is_back() {
    let e = Engine::start(|c| {
        flat(c);
        c.dispatch.disconnect_grace_ms = 60_000;
        c.dispatch.unassignable_retry_ms = 60_000;
        c.dispatch.rebalance_ms = 0;
    })
    .await;
    let gone = online(&e, "gone", 4, HEL).await;
    let mut far = online(&e, "far", 4, (60.1790, 24.9384)).await;
    drop(gone);
    let d = get_until(&e, "/v1/drivers/gone", |d| d["connected"] == 0).await;
    assert_eq!(d["status"], "available", "{d}");
    // `gone` is at the pickup, `far` 1 km north: the order goes to the one listening.
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("while-away", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut far, |m| route_with(m, "while-away")).await;
    let (_, o) = get(&e, "/v1/orders/while-away").await;
    assert_eq!(o["driver_id"], "far", "{o}");
    // `far` takes a break (keeps its route, takes nothing new): the next order has no
    // candidate and waits as unassignable (retried only in a minute, or on new supply).
    send(&mut far, json!({"type": "status", "status": "break"})).await;
    e.wait_nearest(HEL.0, HEL.1, 10, "break", |f| {
        f.iter().any(|d| d["id"] == "far")
    })
    .await;
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("after", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    get_until(&e, "/v1/orders/after", |o| o["status"] == "unassignable").await;
    // `gone` is back on a socket within the grace period: that is new supply.
    let mut back = e.ws("/ws/driver", Some(&e.driver_token("gone"))).await;
    send(&mut back, json!({"type": "hello", "resume_seq": 0})).await;
    recv_until(&mut back, |m| route_with(m, "after")).await;
    let (_, o) = get(&e, "/v1/orders/after").await;
    assert_eq!(o["driver_id"], "gone", "{o}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_moves_an_order_to_a_driver_who_serves_it_cheaper() {
    let e = Engine::start(|c| {
        flat(c);
        c.dispatch.rebalance_ms = 100;
        c.dispatch.rebalance_margin_m = 300.0;
    })
    .await;
    let mut a = online(&e, "a", 4, HEL).await;
    // `q` is where `a` is heading next (never moved); `r` waits 2.5 km east.
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("q", (60.1702, 24.9390), (60.1690, 24.9370)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut a, |m| route_with(m, "q")).await;
    let r_pickup = (60.1699, 24.9834);
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("r", r_pickup, (60.1720, 24.9900)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut a, |m| route_with(m, "r")).await;
    // `b` comes online right at r's pickup.
    let mut b = online(&e, "b", 4, r_pickup).await;
    recv_until(&mut b, |m| route_with(m, "r")).await;
    let back = recv_until(&mut a, |m| m["type"] == "route" && !route_with(m, "r")).await;
    assert!(route_with(&back, "q"), "q stays with a: {back}");
    let (_, r) = get(&e, "/v1/orders/r").await;
    assert_eq!(r["driver_id"], "b");
    let reasons: Vec<(&str, &str)> = r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["status"].as_str().unwrap(),
                h["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("pending", ""),
            ("assigned", ""),
            ("pending", "rebalanced"),
            ("assigned", "")
        ]
    );
    // Two orders, two first assignments: r's move to b is not a slow assignment.
    let (_, stats) = get(&e, "/v1/stats").await;
    assert_eq!(stats["assign_latency"]["count"], 2, "{stats}");
    assert_eq!(stats["route_latency"]["count"], 2, "{stats}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_driver_goes_offline_and_gives_back_its_orders() {
    let e = Engine::start(|c| {
        flat(c);
        c.dispatch.silent_timeout_ms = 300;
    })
    .await;
    let mut a = online(&e, "a", 4, HEL).await;
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("quiet", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut a, |m| route_with(m, "quiet")).await;
    // The socket stays open but says nothing: the route is taken back.
    recv_until(&mut a, |m| m["type"] == "route" && !route_with(m, "quiet")).await;
    let (_, driver) = get(&e, "/v1/drivers/a").await;
    assert_eq!(driver["status"], "offline");
    assert_eq!(driver["connected"], 1);
    let (_, got) = get(&e, "/v1/orders/quiet").await;
    assert_ne!(got["status"], "assigned", "{got}");
    let back = got["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["status"] == "pending" && h["reason"] == "driver went offline");
    assert!(back.is_some(), "{got}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test]
async fn consoles_get_fleet_and_order_stats_and_the_page_needs_no_token() {
    let e = Engine::start(|c| {
        flat(c);
        c.console.stats_ms = 50;
    })
    .await;
    let mut d1 = online(&e, "d1", 4, HEL).await;
    let mut d2 = online(&e, "d2", 4, (60.20, 24.99)).await;
    send(&mut d2, json!({"type": "status", "status": "break"})).await;
    let mut console = e.ws("/ws/console", Some(&e.console)).await;
    send(&mut console, json!({"type": "subscribe"})).await;
    recv_until(&mut console, |m| m["type"] == "snapshot").await;
    let stats = recv_until(&mut console, |m| {
        m["type"] == "stats" && m["stats"]["drivers"]["break"] == 1
    })
    .await;
    let drivers = &stats["stats"]["drivers"];
    assert_eq!(
        (
            &drivers["total"],
            &drivers["available"],
            &drivers["on_route"],
            &drivers["offline"]
        ),
        (&json!(2), &json!(1), &json!(0), &json!(0)),
        "{stats}"
    );
    assert_eq!(stats["stats"]["assign_latency"]["count"], 0);

    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("o1", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut d1, |m| route_with(m, "o1")).await;
    // The next stats count the assignment, its latency and the driver on its route.
    let stats = recv_until(&mut console, |m| {
        m["type"] == "stats" && m["stats"]["orders"]["assigned"] == 1
    })
    .await;
    let s = &stats["stats"];
    assert_eq!(s["orders"]["pending"], 0, "{stats}");
    assert_eq!(s["drivers"]["on_route"], 1, "{stats}");
    assert_eq!(s["assign_latency"]["count"], 1, "{stats}");
    assert_eq!(s["route_latency"]["count"], 1, "{stats}");
    let p99 = s["assign_latency"]["p99_ms"].as_f64().unwrap();
    assert!(p99 > 0.0 && p99 <= s["assign_latency"]["max_ms"].as_f64().unwrap());
    assert_eq!(s["window_s"], 60);

    // The same totals over HTTP, for console tokens only.
    let (st, http) = get(&e, "/v1/stats").await;
    assert_eq!(st, 200);
    assert_eq!(http["orders"]["assigned"], 1, "{http}");
    assert_eq!(http["drivers"]["total"], 2, "{http}");
    let driver_token = e.driver_token("d1");
    let resp = e
        .http
        .get(e.url("/v1/stats"))
        .bearer_auth(&driver_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let resp = e.http.get(e.url("/v1/stats")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    // The console page and its assets are served without a token.
    for (path, kind, needle) in [
        ("/", "text/html", "/console.js"),
        ("/console.js", "text/javascript", "/ws/console"),
        ("/console.css", "text/css", "#map"),
    ] {
        let resp = e.http.get(e.url(path)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(kind), "{path}: {ct}");
        assert!(resp.text().await.unwrap().contains(needle), "{path}");
    }
}

#[tokio::test]
async fn a_driver_several_cells_away_within_the_radius_gets_the_order() {
    let e = Engine::start(flat).await;
    // 0.05° cells are about 2.8 km wide here: 0.16° east is 8.9 km and four cells away,
    // within the 15 km candidate radius but beyond the adjacent cells.
    let mut d = online(&e, "far", 4, (60.1699, 25.10)).await;
    let (st, body) = post(
        &e,
        "/v1/orders",
        order_body("o-far", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    recv_until(&mut d, |m| route_with(m, "o-far")).await;
    let (_, got) = get(&e, "/v1/orders/o-far").await;
    assert_eq!(got["status"], "assigned", "{got}");
    assert_eq!(got["driver_id"], "far");
}

#[tokio::test]
async fn an_unassignable_order_is_assigned_when_a_driver_comes_online() {
    // The timed retry is an hour away: only the new supply can place the order.
    let e = Engine::start(|c| {
        flat(c);
        c.dispatch.unassignable_retry_ms = 3_600_000;
    })
    .await;
    let mut console = e.ws("/ws/console", Some(&e.console)).await;
    send(&mut console, json!({"type": "subscribe"})).await;
    recv_until(&mut console, |m| m["type"] == "snapshot").await;
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("lonely", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    let m = recv_until(&mut console, |m| {
        m["type"] == "order" && m["order"]["status"] == "unassignable"
    })
    .await;
    let reason = m["order"]["history"].as_array().unwrap().last().unwrap()["reason"].clone();
    assert_eq!(reason, "no available driver nearby", "{m}");

    let mut d = online(&e, "newcomer", 4, HEL).await;
    recv_until(&mut d, |m| route_with(m, "lonely")).await;
    let (_, got) = get(&e, "/v1/orders/lonely").await;
    assert_eq!(got["status"], "assigned", "{got}");
    assert_eq!(got["driver_id"], "newcomer");
    let statuses: Vec<&str> = got["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending", "unassignable", "assigned"]);
}

#[tokio::test]
async fn dispatch_metrics_are_exported() {
    let e = Engine::start(flat).await;
    let mut d = online(&e, "m1", 4, HEL).await;
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("metered", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    recv_until(&mut d, |m| route_with(m, "metered")).await;
    let text = e.metrics_text().await;
    for name in [
        "dispatch_orders_open{status=\"assigned\"}",
        "dispatch_orders_created_total",
        "dispatch_order_created_to_assigned_seconds_bucket",
        "dispatch_order_created_to_route_pushed_seconds_bucket",
        "dispatch_match_batch_orders_bucket",
        "dispatch_match_tick_seconds_bucket",
        "dispatch_proposals_accepted_total",
        "dispatch_replans_total{reason=\"insert\"}",
        "dispatch_region_pending_orders",
    ] {
        assert!(text.contains(name), "/metrics lacks {name}");
    }
}

#[tokio::test]
async fn a_snapshot_larger_than_the_write_buffer_arrives_in_parts() {
    // 40 drivers are about 3.6 KB of JSON: more than a 2 KiB write buffer takes in one
    // message, so the snapshot must come in parts (10 drivers each) or not at all.
    let e = Engine::start(|c| {
        flat(c);
        c.limits.ws_max_write_buffer_bytes = 2048;
        c.console.max_drivers_per_message = 10;
    })
    .await;
    let mut sockets = Vec::new();
    for i in 0..40 {
        let at = (
            60.16 + f64::from(i) * 0.001,
            24.93 + f64::from(i % 7) * 0.002,
        );
        sockets.push(online(&e, &format!("p{i:02}"), 4, at).await);
    }
    let mut console = e.ws("/ws/console", Some(&e.console)).await;
    send(&mut console, json!({"type": "subscribe"})).await;
    let snap = recv_until(&mut console, |m| m["type"] == "snapshot").await;
    let mut seen: std::collections::HashSet<String> = snap["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen.len(), 10, "{snap}");
    while seen.len() < 40 {
        let m = recv_until(&mut console, |m| m["type"] == "drivers").await;
        let updates = m["updates"].as_array().unwrap();
        assert!(updates.len() <= 10, "{m}");
        seen.extend(
            updates
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_string()),
        );
    }
    drop(sockets);
}

#[tokio::test]
async fn etas_are_pushed_when_the_driver_drifts_off_plan() {
    let e = Engine::start(|c| {
        flat(c);
        c.dispatch.eta_check_ms = 50;
        c.dispatch.eta_push_threshold_s = 30;
        // No rebalance or other re-plan may push a route in between.
        c.dispatch.rebalance_ms = 0;
    })
    .await;
    let mut d = online(&e, "drift", 4, HEL).await;
    let (st, _) = post(
        &e,
        "/v1/orders",
        order_body("drifting", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201);
    let first = recv_until(&mut d, |m| route_with(m, "drifting")).await;
    let eta = |m: &Value| m["route"]["stops"][0]["eta_ms"].as_u64().unwrap();
    let version = |m: &Value| m["route"]["version"].as_u64().unwrap();
    // 5 km away from the pickup: the plan's ETAs are minutes off now.
    send(
        &mut d,
        json!({"type": "position", "lat": 60.215, "lon": 24.94, "ts_ms": now_ms()}),
    )
    .await;
    let pushed = recv_until(&mut d, |m| m["type"] == "route").await;
    assert!(version(&pushed) > version(&first), "{pushed}");
    assert!(route_with(&pushed, "drifting"), "{pushed}");
    assert!(
        eta(&pushed) > eta(&first) + 30_000,
        "pickup ETA moved by less than the threshold: {first} then {pushed}"
    );
    e.spawned.stop().await.unwrap();
}

#[tokio::test]
async fn an_idle_driver_beyond_the_nearest_loaded_ones_gets_the_order() {
    let e = Engine::start(|c| {
        flat(c);
        c.dispatch.candidates = 2;
        c.dispatch.idle_candidates = 1;
        c.dispatch.rebalance_ms = 0;
    })
    .await;
    // Two drivers at the pickup point, each busy for over an hour: a load to pick up
    // now (capacity 1) and drop 12 km away.
    let due = |min: u64| now_ms() + min * 60_000;
    let mut near = Vec::new();
    for (i, id) in ["full-a", "full-b"].into_iter().enumerate() {
        let mut ws = online(&e, id, 1, HEL).await;
        let order = format!("load-{i}");
        let body = json!({
            "id": order,
            "pickup": {"lat": 60.1702, "lon": 24.9390, "due_ms": due(3)},
            "dropoff": {"lat": 60.2780, "lon": 24.9390},
        });
        let (st, _) = post(&e, "/v1/orders", body).await;
        assert_eq!(st, 201);
        recv_until(&mut ws, |m| route_with(m, &order)).await;
        near.push(ws);
    }
    // An idle driver 3 km away (10 minutes): not among the 2 nearest, but the nearest
    // idle one, and the only driver who can be at the pickup within 20 minutes.
    let mut idle = online(&e, "idle-c", 1, (60.1970, 24.9384)).await;
    let body = json!({
        "id": "for-idle",
        "pickup": {"lat": 60.1702, "lon": 24.9390, "due_ms": due(20)},
        "dropoff": {"lat": 60.1650, "lon": 24.9300},
    });
    let (st, _) = post(&e, "/v1/orders", body).await;
    assert_eq!(st, 201);
    recv_until(&mut idle, |m| route_with(m, "for-idle")).await;
    let (_, o) = get(&e, "/v1/orders/for-idle").await;
    assert_eq!(o["driver_id"], "idle-c", "{o}");
    e.spawned.stop().await.unwrap();
}

/// The dispatch policy is a seam: with `dispatch.policy = "nearest"` an order goes to
/// its nearest available driver and completes like under the default policy.
#[tokio::test]
async fn the_nearest_policy_dispatches_end_to_end() {
    let e = Engine::start(|c| {
        flat(c);
        c.dispatch.policy = dispatch_engine::config::Policy::Nearest;
    })
    .await;
    let mut near = online(&e, "near", 4, (60.1700, 24.9400)).await;
    let _far = online(&e, "far", 4, (60.1900, 24.9700)).await;
    let (st, body) = post(
        &e,
        "/v1/orders",
        order_body("o-near", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    recv_until(&mut near, |m| route_with(m, "o-near")).await;
    assert_eq!(
        stop_done(&mut near, "p:o-near", "picked_up", 1).await["type"],
        "ack"
    );
    assert_eq!(
        stop_done(&mut near, "d:o-near", "delivered", 2).await["type"],
        "ack"
    );
    let got = get_until(&e, "/v1/orders/o-near", |v| v["status"] == "delivered").await;
    assert_eq!(got["driver_id"], "near");
}

/// A backlog of unassignable orders is not retried while nothing changes, and a driver
/// coming online wakes only the few nearest to it (`dispatch.retry_per_supply`), not the
/// whole backlog: a driver with room for all of them gets the nearest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_supply_retries_only_the_unassignable_orders_nearest_to_it() {
    let e = Engine::start(|c| {
        flat(c);
        // The backstop is an hour away: only new supply wakes an order.
        c.dispatch.unassignable_retry_ms = 3_600_000;
        c.dispatch.retry_per_supply = 1;
        c.dispatch.rebalance_ms = 0;
    })
    .await;
    // 20 orders 220 m apart going north, in one region cell (0.05°).
    let at = |i: u32| (60.152 + f64::from(i) * 0.002, 24.905);
    for i in 0..20 {
        let (st, body) = post(&e, "/v1/orders", order_body(&format!("b{i}"), at(i), at(i))).await;
        assert_eq!(st, 201, "{body}");
    }
    for i in 0..20 {
        get_until(&e, &format!("/v1/orders/b{i}"), |o| {
            o["status"] == "unassignable"
        })
        .await;
    }
    // Room for every one of them, standing at the first.
    let mut d = online(&e, "roomy", 100, at(0)).await;
    recv_until(&mut d, |m| route_with(m, "b0")).await;
    let mut still = 0;
    for i in 1..20 {
        let (_, o) = get(&e, &format!("/v1/orders/b{i}")).await;
        still += usize::from(o["status"] == "unassignable");
    }
    // The driver's change reaches its region twice at most (its index and its actor),
    // each waking one order: the rest of the backlog was never looked at.
    assert!(still >= 17, "{still} of 19 left unassignable");
    e.spawned.stop().await.unwrap();
}

/// The time of an order's first history entry with `status`.
fn at_status(order: &Value, status: &str) -> u64 {
    order["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["status"] == status)
        .and_then(|h| h["at_ms"].as_u64())
        .unwrap_or_else(|| panic!("no {status} in {order}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_waits_rather_than_put_an_idle_driver_to_work_while_it_may() {
    const POSTPONE: &str = "dispatch_orders_postponed_total";
    let e = Engine::start(|c| {
        flat(c);
        c.dispatch.postpone_ms = 300;
    })
    .await;
    let mut d = online(&e, "p1", 4, HEL).await;
    // Only an idle driver can take it: held back round after round until it is 300 ms
    // old, then assigned to that driver.
    let (st, body) = post(
        &e,
        "/v1/orders",
        order_body("later", (60.1702, 24.9390), (60.1650, 24.9300)),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    recv_until(&mut d, |m| route_with(m, "later")).await;
    let got = get_until(&e, "/v1/orders/later", |o| o["status"] == "assigned").await;
    let waited = at_status(&got, "assigned") - got["created_ms"].as_u64().unwrap();
    assert!(waited >= 300, "assigned {waited} ms after creation");
    let held = series_value(&e.metrics_text().await, POSTPONE);
    assert!(held >= 1.0, "{POSTPONE} = {held}");
    // The driver is at work now: an order its route can take goes at once, never held.
    let (st, body) = post(
        &e,
        "/v1/orders",
        order_body("now", (60.1701, 24.9388), (60.1652, 24.9305)),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    recv_until(&mut d, |m| route_with(m, "now")).await;
    assert_eq!(series_value(&e.metrics_text().await, POSTPONE), held);
    e.spawned.stop().await.unwrap();
}
