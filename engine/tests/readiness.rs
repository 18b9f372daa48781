//! Readiness after a start: `/healthz` answers as soon as the store is verified
//! (liveness), while recovery runs `/readyz` answers 503 with its progress and the API
//! 503 `overloaded` with Retry-After (never an empty `nearest`); once every stored
//! driver and open order is back, `/readyz` 200 and the API serves them. Recovery is
//! held by the fail point `recovery::load` (`pause`), so nothing here races a timer.
//!
//! One test in this file: fail points are process-wide.

mod common;

use common::{recv_json, send, Engine, WAIT};
use dispatch_engine::auth::{Principal, Role};
use dispatch_engine::config::Config;
use dispatch_engine::Spawned;
use serde_json::{json, Value};

const AT: (f64, f64) = (60.1699, 24.9384);

/// A data dir with driver d1 available at `AT` and one order, stopped cleanly.
async fn stored() -> tempfile::TempDir {
    let e = Engine::start(|_| {}).await;
    let token = e.register("d1").await;
    let mut ws = e.driver("d1", &token).await;
    send(&mut ws, json!({"type": "status", "status": "available"})).await;
    send(
        &mut ws,
        json!({"type": "position", "lat": AT.0, "lon": AT.1, "ts_ms": 1_700_000_000_000u64}),
    )
    .await;
    e.wait_nearest(AT.0, AT.1, 1, "available", |d| d.len() == 1)
        .await;
    let order = json!({"id": "o1", "pickup": {"lat": AT.0, "lon": AT.1},
                       "dropoff": {"lat": 60.17, "lon": 24.95}});
    let r = e
        .http
        .post(e.url("/v1/orders"))
        .bearer_auth(&e.console)
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // The route push, so the order is on d1's route when the engine stops.
    let pushed = recv_json(&mut ws).await;
    assert_eq!(pushed["type"], "route", "{pushed}");
    drop(ws);
    e.spawned.stop().await.unwrap();
    e.dir
}

/// Status, Retry-After and JSON body of `GET`/`POST path` with `token`.
async fn call(
    http: &reqwest::Client,
    base: &str,
    post: Option<Value>,
    path: &str,
    token: &str,
) -> (u16, Option<String>, Value) {
    let url = format!("{base}{path}");
    let req = match post {
        Some(body) => http.post(url).json(&body),
        None => http.get(url),
    };
    let r = req.bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_until_recovery_is_done_and_the_api_waits_for_it() {
    let dir = stored().await;
    fail::cfg("recovery::load", "pause").unwrap();
    let spawned = Spawned::start_recovering(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    })
    .await
    .unwrap();
    let console = dispatch_engine::token(dir.path(), &Principal::Console(Role::Admin)).unwrap();
    let (http, base) = (reqwest::Client::new(), format!("http://{}", spawned.addr));
    let ask = |post, path: &'static str| call(&http, &base, post, path, &console);

    // Live, not ready.
    let (status, _, body) = ask(None, "/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, retry, body) = ask(None, "/readyz").await;
    assert_eq!((status, retry.as_deref()), (503, Some("1")), "{body}");
    assert_eq!(body["status"], "recovering", "{body}");
    assert_eq!(body["phase"], "loading", "{body}");
    // The API refuses rather than answering empty, in the contract's error format.
    let new_order = json!({"id": "o2", "pickup": {"lat": AT.0, "lon": AT.1},
                           "dropoff": {"lat": 60.17, "lon": 24.95}});
    for (post, path) in [
        (None, "/v1/drivers/nearest?lat=60.1699&lon=24.9384"),
        (Some(new_order.clone()), "/v1/orders"),
        (None, "/v1/orders/o1"),
        (None, "/v1/drivers/d1"),
    ] {
        let (status, retry, body) = ask(post, path).await;
        assert_eq!(
            (status, retry.as_deref()),
            (503, Some("1")),
            "{path}: {body}"
        );
        assert_eq!(body["error"]["code"], "overloaded", "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("recovering"),
            "{body}"
        );
    }
    let driver_token = dispatch_engine::token(dir.path(), &Principal::Driver("d1".into())).unwrap();
    let socket = format!("ws://{}/ws/driver?token={driver_token}", spawned.addr);
    match tokio_tungstenite::connect_async(socket.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 503),
        other => panic!("a driver socket before ready: {:?}", other.map(|_| ())),
    }
    // A bad token is still told so; tokens and metrics are served.
    let bad = call(&http, &base, None, "/v1/orders/o1", "not-a-token").await;
    assert_eq!(bad.0, 401, "{}", bad.2);
    assert_eq!(ask(None, "/v1/tokens").await.0, 200);
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert!(metrics.text().await.unwrap().contains("dispatch_ready 0"));

    fail::remove("recovery::load");
    tokio::time::timeout(WAIT, spawned.readiness().wait())
        .await
        .expect("ready in time")
        .unwrap();

    let (status, _, body) = ask(None, "/readyz").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ready")),
        "{body}"
    );
    assert_eq!(
        body["drivers"],
        json!({"restored": 1, "total": 1}),
        "{body}"
    );
    assert_eq!(
        body["open_orders"],
        json!({"restored": 1, "total": 1}),
        "{body}"
    );
    let (status, _, body) = ask(None, "/v1/drivers/nearest?lat=60.1699&lon=24.9384").await;
    assert_eq!(status, 200);
    assert_eq!(body["drivers"][0]["id"], "d1", "{body}");
    let (status, _, body) = ask(None, "/v1/orders/o1").await;
    assert_eq!(
        (status, body["driver_id"].as_str()),
        (200, Some("d1")),
        "{body}"
    );
    assert_eq!(ask(Some(new_order), "/v1/orders").await.0, 201);
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert!(metrics.text().await.unwrap().contains("dispatch_ready 1"));
    spawned.stop().await.unwrap();
}
