//! Shared helpers for the integration tests: an engine on 127.0.0.1:0 with a temporary
//! data dir, an HTTP client, and WebSocket clients with bounded waits.
#![allow(dead_code)]

use dispatch_engine::auth::{Principal, Role};
use dispatch_engine::config::Config;
use dispatch_engine::Spawned;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The default configuration on an ephemeral 127.0.0.1 port with its data in `dir`.
fn on_loopback(dir: &std::path::Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        ..Config::default()
    }
}

/// How long any single wait for an event may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);

pub struct Engine {
    pub spawned: Spawned,
    pub dir: tempfile::TempDir,
    pub console: String,
    pub http: reqwest::Client,
    pub base: String,
}

impl Engine {
    pub async fn start(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = on_loopback(dir.path());
        adjust(&mut config);
        let spawned = Spawned::start(config).await.expect("engine starts");
        // Races the engine's own first-start creation of the secret on purpose: the
        // secret is published atomically, so both agree on it.
        let console = dispatch_engine::token(dir.path(), &Principal::Console(Role::Admin)).unwrap();
        let base = format!("http://{}", spawned.addr);
        let http = reqwest::Client::new();
        if let Err(e) = http.get(format!("{base}/healthz")).send().await {
            let why = spawned.stop().await;
            panic!("engine is not serving ({e}); it stopped with {why:?}");
        }
        Self {
            spawned,
            dir,
            console,
            http,
            base,
        }
    }

    /// Stops the engine and starts a new one on the same data directory (same secret,
    /// so the console token still works), once `/readyz` says recovery is done.
    pub async fn restart(self, adjust: impl FnOnce(&mut Config)) -> Self {
        let Engine {
            spawned,
            dir,
            console,
            http,
            ..
        } = self;
        spawned.stop().await.expect("engine stops");
        let mut config = on_loopback(dir.path());
        adjust(&mut config);
        let spawned = Spawned::start(config).await.expect("engine restarts");
        let base = format!("http://{}", spawned.addr);
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        loop {
            let ready = http.get(format!("{base}/readyz")).send().await;
            if ready.is_ok_and(|r| r.status().as_u16() == 200) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "never ready");
            tick.tick().await;
        }
        Self {
            spawned,
            dir,
            console,
            http,
            base,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn driver_token(&self, id: &str) -> String {
        dispatch_engine::token(self.dir.path(), &Principal::Driver(id.to_string())).unwrap()
    }

    /// Registers a driver with the console token; returns its driver token.
    pub async fn register(&self, id: &str) -> String {
        let resp = self
            .http
            .post(self.url("/v1/drivers"))
            .bearer_auth(&self.console)
            .json(&json!({ "id": id }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201, "register {id}");
        let body: Value = resp.json().await.unwrap();
        body["token"].as_str().expect("token field").to_string()
    }

    /// `GET path` with the console token, as JSON (whatever the status).
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.console)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn ws(&self, path: &str, token: Option<&str>) -> Ws {
        let url = format!("ws://{}{}", self.spawned.addr, path);
        connect(&url, token).await
    }

    /// A driver socket after a successful hello.
    pub async fn driver(&self, id: &str, token: &str) -> Ws {
        let mut ws = self.ws("/ws/driver", Some(token)).await;
        send(&mut ws, json!({"type": "hello"})).await;
        let welcome = recv_json(&mut ws).await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        assert_eq!(welcome["driver_id"], id);
        ws
    }

    pub async fn nearest(&self, lat: f64, lon: f64, k: usize, status: &str) -> Vec<Value> {
        let resp = self
            .http
            .get(self.url(&format!(
                "/v1/drivers/nearest?lat={lat}&lon={lon}&k={k}&status={status}"
            )))
            .bearer_auth(&self.console)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let body: Value = resp.json().await.unwrap();
        body["drivers"].as_array().cloned().unwrap_or_default()
    }

    /// Polls nearest (bounded by a deadline) until `done` holds for the answer.
    pub async fn wait_nearest(
        &self,
        lat: f64,
        lon: f64,
        k: usize,
        status: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        loop {
            let found = self.nearest(lat, lon, k, status).await;
            if done(&found) {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "nearest never satisfied the condition; last answer {found:?}"
            );
            tick.tick().await;
        }
    }
}

pub async fn connect(url: &str, token: Option<&str>) -> Ws {
    let mut req = url.into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
        );
    }
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("connect in time")
        .expect("websocket handshake");
    ws
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next data or close message (pings and pongs skipped); `None` when the stream ended.
pub async fn recv_msg(ws: &mut Ws) -> Option<Message> {
    loop {
        let next = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame within the wait bound");
        match next {
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(m)) => return Some(m),
            Some(Err(_)) | None => return None,
        }
    }
}

pub async fn recv_json(ws: &mut Ws) -> Value {
    match recv_msg(ws).await {
        Some(Message::Text(t)) => serde_json::from_str(t.as_str()).expect("JSON frame"),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// Reads until the server closes; returns the close code and the error codes seen before it.
pub async fn expect_close(ws: &mut Ws) -> (Option<u16>, Vec<String>) {
    let mut errors = Vec::new();
    loop {
        match recv_msg(ws).await {
            Some(Message::Close(frame)) => return (frame.map(|f| u16::from(f.code)), errors),
            Some(Message::Text(t)) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "error" {
                    errors.push(v["code"].as_str().unwrap_or_default().to_string());
                }
            }
            Some(_) => {}
            None => return (None, errors),
        }
    }
}

/// POSTs a JSON body with the console token; the status and the JSON answer (`Null`
/// when it is not JSON).
pub async fn post(e: &Engine, path: &str, body: Value) -> (u16, Value) {
    let r = e
        .http
        .post(e.url(path))
        .bearer_auth(&e.console)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// GET with the console token: status and JSON body (null when not JSON).
pub async fn get(e: &Engine, path: &str) -> (u16, Value) {
    let r = e
        .http
        .get(e.url(path))
        .bearer_auth(&e.console)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// GETs `path` until the answer satisfies `pred` (bounded by [`WAIT`]).
pub async fn get_until(e: &Engine, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    loop {
        let (_, v) = get(e, path).await;
        if pred(&v) {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "{path}: {v}");
        tick.tick().await;
    }
}

/// Great-circle distance in metres.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let r = 6_371_008.8_f64;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * r * a.sqrt().asin()
}

/// The value of one series in a Prometheus text (0 when absent).
pub fn series_value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}
