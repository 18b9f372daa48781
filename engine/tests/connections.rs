//! Connections that misbehave, over raw TCP: half-sent request heads, idle keep-alive
//! connections, bodies that never finish or announce too much, floods of token-less
//! connections, WebSockets that never say hello or only ping. Each test sets its limit
//! low and waits for the engine's answer (a close, a status) within a bounded wait, so
//! it fails where the limit is not enforced.

mod common;

use common::{expect_close, recv_json, series_value, Engine, WAIT};
use futures_util::SinkExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn tcp(e: &Engine) -> TcpStream {
    TcpStream::connect(e.spawned.addr).await.expect("connect")
}

/// Reads until the server closes the connection; panics if it is still open after the
/// wait bound. Returns what was read.
async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(WAIT, s.read(&mut buf))
            .await
            .expect("the server closes the connection within the wait bound")
            .unwrap_or(0);
        if n == 0 {
            return all;
        }
        all.extend_from_slice(&buf[..n]);
    }
}

/// Reads one HTTP/1.1 response (head and a `Content-Length` body); returns the status
/// and the body.
async fn read_response(s: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = find(&data, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + len {
                return (status, data[end + 4..end + 4 + len].to_vec());
            }
        }
        let n = tokio::time::timeout(WAIT, s.read(&mut buf))
            .await
            .expect("a response within the wait bound")
            .expect("read");
        assert!(n > 0, "closed before a full response: {data:?}");
        data.extend_from_slice(&buf[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn get(path: &str, token: Option<&str>) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n")
}

fn error_code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).expect("JSON error body");
    v["error"]["code"].as_str().unwrap().to_string()
}

async fn metric(e: &Engine, series: &str) -> f64 {
    series_value(&e.metrics_text().await, series)
}

/// [`metric`] over a connection of its own: an engine that closes idle keep-alive
/// connections within 300 ms may have closed the one the shared client pooled.
async fn metric_on_a_new_connection(e: &Engine, series: &str) -> f64 {
    let text = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
        .get(e.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    series_value(&text, series)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_head_is_closed_after_the_header_timeout() {
    let e = Engine::start(|c| c.limits.http_header_timeout_ms = 300).await;
    let mut s = tcp(&e).await;
    s.write_all(b"GET /heal").await.unwrap();
    assert!(read_to_close(&mut s).await.is_empty());
    // A connection that sends nothing at all is held to the same deadline.
    let mut silent = tcp(&e).await;
    assert!(read_to_close(&mut silent).await.is_empty());
    assert!(metric(&e, "dispatch_http_timeouts_total{phase=\"head\"}").await >= 2.0);
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let e = Engine::start(|c| c.limits.http_idle_timeout_ms = 300).await;
    let mut s = tcp(&e).await;
    s.write_all(get("/healthz", None).as_bytes()).await.unwrap();
    let (status, _) = read_response(&mut s).await;
    assert_eq!(status, 200);
    // Kept alive for a second request within the timeout...
    s.write_all(get("/healthz", None).as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut s).await.0, 200);
    // ...and closed once idle past it.
    assert!(read_to_close(&mut s).await.is_empty());
    let closed = metric_on_a_new_connection(&e, "dispatch_http_timeouts_total{phase=\"idle\"}");
    assert!(closed.await >= 1.0);
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_that_never_completes_gets_408() {
    let e = Engine::start(|c| c.limits.http_body_timeout_ms = 300).await;
    let mut s = tcp(&e).await;
    let head = format!(
        "POST /v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"pickup\":",
        e.console
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let (status, body) = read_response(&mut s).await;
    assert_eq!(status, 408);
    assert_eq!(error_code(&body), "deadline_exceeded");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_limit_is_413_before_100_continue() {
    let e = Engine::start(|c| c.limits.max_body_bytes = 1000).await;
    let mut s = tcp(&e).await;
    let head = format!(
        "POST /v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n",
        e.console
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // The first answer is the refusal, not `100 Continue`, and no body byte was sent.
    // It says the connection closes (the body it announced is unread), and it does:
    // a client that reused it would see its next request fail half-sent.
    let all = read_to_close(&mut s).await;
    let end = find(&all, b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&all[..end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
    assert_eq!(error_code(&all[end + 4..]), "too_large");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_client_goes_on_after_refusals_that_leave_the_body_unread() {
    let e = Engine::start(|c| c.limits.max_body_bytes = 1000).await;
    // One keep-alive pool: no refusal may leave a connection hyper is closing in it.
    for _ in 0..50 {
        let r = e
            .http
            .post(e.url("/v1/orders"))
            .bearer_auth(&e.console)
            .header("content-type", "application/json")
            .body(vec![b' '; 64 * 1024])
            .send()
            .await
            .expect("the refusal arrives");
        assert_eq!(r.status().as_u16(), 413);
        // Refused on its headers, within the size limit, its body never read.
        let r = e
            .http
            .put(e.url("/v1/orders/nope/proof"))
            .bearer_auth(&e.console)
            .header("content-type", "image/gif")
            .body(vec![b'G'; 512 * 1024])
            .send()
            .await
            .expect("the refusal arrives");
        assert_eq!(r.status().as_u16(), 404);
        let r = e
            .http
            .get(e.url("/v1/stats"))
            .bearer_auth(&e.console)
            .send()
            .await
            .expect("the next request on the pool is served");
        assert_eq!(r.status().as_u16(), 200);
    }
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_less_connections_are_capped_and_honest_clients_are_served() {
    const CAP: usize = 16;
    let e = Engine::start(|c| c.limits.max_unauthenticated_connections = CAP).await;
    // An authenticated keep-alive connection, made before the flood.
    let mut console = tcp(&e).await;
    console
        .write_all(get("/v1/stats", Some(&e.console)).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut console).await.0, 200);
    // The flood: connections that send half a request head and stop.
    let mut flood = Vec::new();
    for _ in 0..CAP * 8 {
        let mut s = tcp(&e).await;
        s.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
        flood.push(s);
    }
    // The oldest were closed to admit the newer ones (the head timeout is 10 s, far
    // beyond the wait bound, so only the cap can have closed them)...
    assert!(read_to_close(&mut flood[0]).await.is_empty());
    // ...an honest client on a new connection is served...
    let mut honest = tcp(&e).await;
    honest
        .write_all(get("/healthz", None).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut honest).await.0, 200);
    // ...and the authenticated connection was never counted against the cap.
    console
        .write_all(get("/v1/stats", Some(&e.console)).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut console).await.0, 200);
    let evicted = metric(
        &e,
        "dispatch_limited_total{limit=\"unauthenticated_connections\"}",
    )
    .await;
    assert!(evicted >= (CAP * 7) as f64, "{evicted}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_tcp_cap_are_closed_at_once() {
    let e = Engine::start(|c| c.limits.max_tcp_connections = 4).await;
    // Engine::start's client keeps its connection alive: with it, four slots are
    // taken before the last of these connections arrives.
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut s = tcp(&e).await;
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    let last = held.last_mut().unwrap();
    assert!(
        read_to_close(last).await.is_empty(),
        "no answer, just a close"
    );
    // Read once the held connections are gone, over a new connection each try: the
    // shared client's pooled one may be among those the cap turned away.
    drop(held);
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(10));
    loop {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        if let Ok(r) = client.get(e.url("/metrics")).send().await {
            let text = r.text().await.unwrap_or_default();
            if series_value(&text, "dispatch_limited_total{limit=\"tcp_connections\"}") >= 1.0 {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no tcp_connections limit counted"
        );
        tick.tick().await;
    }
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_add_no_metric_series() {
    let e = Engine::start(|_| {}).await;
    for i in 0..5 {
        let mut s = tcp(&e).await;
        s.write_all(format!("BREW{i} /healthz HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(read_response(&mut s).await.0, 405);
    }
    let text = e.metrics_text().await;
    assert!(
        !text.contains("BREW"),
        "a client-chosen method became a label"
    );
    assert!(text.contains("method=\"other\""));
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_socket_without_hello_is_closed_1008() {
    let e = Engine::start(|c| c.limits.ws_hello_timeout_ms = 300).await;
    let token = e.register("quiet").await;
    let mut ws = e.ws("/ws/driver", Some(&token)).await;
    let (code, errors) = expect_close(&mut ws).await;
    assert_eq!(code, Some(1008));
    assert_eq!(errors, ["failed_precondition"]);
    // A driver that says hello in time is kept.
    let mut ok = e.ws("/ws/driver", Some(&token)).await;
    common::send(&mut ok, serde_json::json!({"type": "hello"})).await;
    assert_eq!(recv_json(&mut ok).await["type"], "welcome");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_is_refused_then_closed_1008() {
    let e = Engine::start(|c| {
        c.limits.ws_messages_per_s = 5;
        c.limits.ws_message_burst = 5;
        c.limits.ws_rate_strikes = 3;
    })
    .await;
    let token = e.register("pinger").await;
    let mut ws = e.ws("/ws/driver", Some(&token)).await;
    for _ in 0..50 {
        if ws.send(Message::Ping(vec![1u8; 8].into())).await.is_err() {
            break;
        }
    }
    let (code, errors) = expect_close(&mut ws).await;
    assert_eq!(code, Some(1008));
    assert!(errors.iter().all(|c| c == "rate_limited") && !errors.is_empty());
    e.spawned.stop().await.unwrap();
}
