//! Every admission limit, over real sockets: each test sets the limit low and shows the
//! refusal the contract names (so it fails if the limit is not enforced).

mod common;

use common::{expect_close, recv_json, send, Engine, WAIT};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

fn order(id: &str) -> Value {
    json!({"id": id, "pickup": {"lat": 60.17, "lon": 24.94}, "dropoff": {"lat": 60.16, "lon": 24.93}})
}

/// Tries a WebSocket handshake; returns the HTTP status of a refusal, or 101.
async fn handshake_status(e: &Engine, path: &str, token: &str) -> (u16, Option<String>) {
    let url = format!("ws://{}{}", e.spawned.addr, path);
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let attempt = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("handshake in time");
    match attempt {
        Ok((ws, _)) => {
            // Keep it open for the caller's count: leak into a task that holds it.
            tokio::spawn(async move {
                let _hold = ws;
                std::future::pending::<()>().await;
            });
            (101, None)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => (
            resp.status().as_u16(),
            resp.headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string()),
        ),
        Err(other) => panic!("unexpected handshake error {other}"),
    }
}

/// Four GETs of `path` with `token`: the `left` still in the burst pass, the rest get
/// 429 `rate_limited` with `Retry-After: 1`.
async fn assert_quota(e: &Engine, path: &str, token: &str, left: usize) {
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..4 {
        let r = e
            .http
            .get(e.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
        }
    }
    assert!(statuses[..left].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses[left..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(retry_after.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_per_driver_token_are_rate_limited_with_retry_after() {
    let e = Engine::start(|c| {
        c.limits.driver_requests_per_s = 1;
        c.limits.driver_request_burst = 2;
    })
    .await;
    let token = e.register("d1").await;
    assert_quota(&e, "/v1/drivers/d1", &token, 2).await;
    // Another token (the console) has its own quota.
    let r = e
        .http
        .get(e.url("/v1/drivers/d1"))
        .bearer_auth(&e.console)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_per_console_token_have_their_own_quota() {
    let e = Engine::start(|c| {
        c.limits.console_requests_per_s = 1;
        c.limits.console_request_burst = 3;
    })
    .await;
    // One console request of the burst: the registration.
    let token = e.register("d1").await;
    assert_quota(&e, "/v1/orders", &e.console, 2).await;
    // The driver's token is not charged for the console's requests.
    let r = e
        .http
        .get(e.url("/v1/drivers/d1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_over_its_message_rate_gets_errors_then_close_1008() {
    let e = Engine::start(|c| {
        c.limits.ws_messages_per_s = 1;
        c.limits.ws_message_burst = 2;
        c.limits.ws_rate_strikes = 3;
    })
    .await;
    let token = e.register("d1").await;
    let mut ws = e.driver("d1", &token).await; // hello: 1 of the burst
    let pos = json!({"type": "position", "lat": 60.17, "lon": 24.94, "ts_ms": 1});
    send(&mut ws, pos.clone()).await; // 2 of the burst: accepted, no answer
    send(&mut ws, pos.clone()).await;
    let first = recv_json(&mut ws).await;
    assert_eq!(
        (first["type"].as_str(), first["code"].as_str()),
        (Some("error"), Some("rate_limited"))
    );
    // The third refusal closes the socket, so a later send may already find it gone.
    for _ in 0..4 {
        use futures_util::SinkExt;
        let _ = ws
            .send(tokio_tungstenite::tungstenite::Message::text(
                pos.to_string(),
            ))
            .await;
    }
    let (code, errors) = expect_close(&mut ws).await;
    assert_eq!(code, Some(1008));
    assert!(errors.iter().all(|c| c == "rate_limited"), "{errors:?}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_per_token_and_in_total_are_bounded() {
    let e = Engine::start(|c| {
        c.limits.max_connections_per_token = 2;
        c.limits.max_connections = 3;
    })
    .await;
    let a = e.register("a").await;
    let b = e.register("b").await;
    assert_eq!(handshake_status(&e, "/ws/driver", &a).await.0, 101);
    assert_eq!(handshake_status(&e, "/ws/driver", &a).await.0, 101);
    let (status, retry) = handshake_status(&e, "/ws/driver", &a).await;
    assert_eq!((status, retry.as_deref()), (429, Some("1")));
    assert_eq!(handshake_status(&e, "/ws/driver", &b).await.0, 101);
    let (status, retry) = handshake_status(&e, "/ws/console", &e.console).await;
    assert_eq!((status, retry.as_deref()), (503, Some("1")));
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_beyond_the_open_order_bound_get_503_not_a_queue() {
    let e = Engine::start(|c| c.limits.max_open_orders = 2).await;
    let post = |id: &'static str| {
        e.http
            .post(e.url("/v1/orders"))
            .bearer_auth(&e.console)
            .json(&order(id))
            .send()
    };
    assert_eq!(post("o1").await.unwrap().status(), 201);
    assert_eq!(post("o2").await.unwrap().status(), 201);
    let r = post("o3").await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded");
    // Nothing was half-created.
    let r = e
        .http
        .get(e.url("/v1/orders/o3"))
        .bearer_auth(&e.console)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Cancelling one frees room.
    let r = e
        .http
        .post(e.url("/v1/orders/o1/cancel"))
        .bearer_auth(&e.console)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(post("o3").await.unwrap().status(), 201);
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served_and_openapi_needs_no_token() {
    let e = Engine::start(|_| {}).await;
    let doc: Value = e
        .http
        .get(e.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    for (method, path) in dispatch_engine::net::http::ROUTES {
        let url = e.url(&path.replace("{id}", "x").replace("{asset}", "app.js"));
        let req = match *method {
            "get" => e.http.get(url),
            "post" => e.http.post(url),
            "put" => e.http.put(url),
            other => panic!("method {other}"),
        };
        let r = req.bearer_auth(&e.console).send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("no such endpoint"),
            "{method} {path} is documented but not served ({status})"
        );
        assert!(status < 500, "{method} {path}: {status} {body}");
    }
    e.spawned.stop().await.unwrap();
}

async fn metric(e: &Engine, name: &str) -> f64 {
    e.metrics_text()
        .await
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_socket_dropped_without_a_close_frame_is_a_disconnect_not_an_error() {
    let e = Engine::start(|_| {}).await;
    let token = e.register("gone").await;
    let ws = e.driver("gone", &token).await;
    let driver = e.get_json("/v1/drivers/gone").await;
    assert_eq!(driver["connected"], 1, "{driver}");
    // As a phone losing its network: the TCP connection ends with no close handshake.
    drop(ws);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let driver = e.get_json("/v1/drivers/gone").await;
        if driver["connected"] == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still attached: {driver}"
        );
    }
    assert_eq!(metric(&e, "dispatch_ws_errors_total").await, 0.0);
    // The same driver comes back and works.
    let _ws = e.driver("gone", &token).await;
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_socket_that_stops_reading_is_closed_1013_and_resumes() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let e = Engine::start(|c| {
        c.travel.hourly_speed_factor = vec![1.0; 24];
        c.dispatch.tick_ms = 20;
        // An ETA push every 10 ms (a parked driver's ETAs move with the clock), into
        // an outbox of 4 behind a socket whose writes block: the outbox fills long
        // before the slow-send timeout would.
        c.dispatch.eta_check_ms = 10;
        c.dispatch.eta_push_threshold_s = 0;
        c.limits.session_outbox = 4;
        c.limits.slow_send_timeout_ms = 60_000;
        c.limits.ws_max_write_buffer_bytes = 8192;
        c.limits.tcp_send_buffer_bytes = 8192;
    })
    .await;
    let token = e.register("slow").await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(e.spawned.addr).await.unwrap();
    let mut req = format!("ws://{}/ws/driver", e.spawned.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let (mut slow, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    for m in [
        json!({"type": "hello"}),
        json!({"type": "status", "status": "available"}),
        json!({"type": "position", "lat": 60.17, "lon": 24.94, "ts_ms": 1000}),
    ] {
        slow.send(Message::text(m.to_string())).await.unwrap();
    }
    e.wait_nearest(60.17, 24.94, 1, "available", |d| !d.is_empty())
        .await;
    let r = e
        .http
        .post(e.url("/v1/orders"))
        .bearer_auth(&e.console)
        .json(&order("slow-o"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Never read: the pushes pile up until the engine gives the session up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while metric(&e, "dispatch_mailbox_full_total{actor=\"session\"}").await < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the driver socket that stopped reading was never given up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Reading now, the socket ends with 1013 (try again later) after what was queued.
    let code = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(m) = slow.next().await {
            match m {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("the socket closes");
    assert_eq!(code, Some(1013));
    // The engine kept the driver's route: a new socket resumes it in `welcome`.
    let mut again = e.ws("/ws/driver", Some(&token)).await;
    send(&mut again, json!({"type": "hello", "resume_seq": 1})).await;
    let welcome = recv_json(&mut again).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let stops = welcome["route"]["stops"].as_array().unwrap();
    assert!(stops.iter().any(|s| s["order_id"] == "slow-o"), "{welcome}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_that_stops_reading_is_dropped_and_slows_nothing() {
    use futures_util::StreamExt;
    let e = Engine::start(|c| {
        c.limits.slow_send_timeout_ms = 300;
        c.limits.max_open_orders = 1_000_000;
    })
    .await;
    // A console with a tiny receive window that never reads.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(e.spawned.addr).await.unwrap();
    let url = format!("ws://{}/ws/console", e.spawned.addr);
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {}", e.console)).unwrap(),
    );
    let (mut slow, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    {
        use futures_util::SinkExt;
        let subscribe = json!({"type": "subscribe"}).to_string();
        slow.send(tokio_tungstenite::tungstenite::Message::text(subscribe))
            .await
            .unwrap();
    }
    // A console that reads.
    let mut good = e.ws("/ws/console", Some(&e.console)).await;
    send(&mut good, json!({"type": "subscribe"})).await;
    assert_eq!(recv_json(&mut good).await["type"], "snapshot");
    let reader = tokio::spawn(async move {
        let mut last = String::new();
        while let Some(Ok(m)) = good.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "order" {
                    last = v["order"]["id"].as_str().unwrap().to_string();
                    if last == "stop" {
                        break;
                    }
                }
            }
        }
        last
    });
    // Flood order messages until the engine gives up on the slow console.
    let mut n = 0;
    while metric(&e, "dispatch_slow_consumers_total").await < 1.0 {
        assert!(n < 20_000, "the slow console was never dropped");
        let batch: Vec<_> = (0..50)
            .map(|i| {
                e.http
                    .post(e.url("/v1/orders"))
                    .bearer_auth(&e.console)
                    .json(&order(&format!("f{}", n + i)))
                    .send()
            })
            .collect();
        for r in futures_util::future::join_all(batch).await {
            assert_eq!(r.unwrap().status(), 201);
        }
        n += 50;
    }
    // Nothing else slowed down: the reading console sees the next order.
    let r = e
        .http
        .post(e.url("/v1/orders"))
        .bearer_auth(&e.console)
        .json(&order("stop"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let last = tokio::time::timeout(WAIT, reader)
        .await
        .expect("good console kept up")
        .unwrap();
    assert_eq!(last, "stop");
    // The slow socket ends once its buffered bytes are read.
    let drained = tokio::time::timeout(WAIT * 2, async {
        while let Some(Ok(_)) = slow.next().await {}
    })
    .await;
    assert!(drained.is_ok(), "the slow console's socket was not closed");
    e.spawned.stop().await.unwrap();
}
