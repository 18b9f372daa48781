//! Proof of delivery over HTTP against a real engine on 127.0.0.1: the order's driver
//! uploads a photo (`PUT /v1/orders/{id}/proof`), consoles and that driver read it
//! back; wrong types (415), too large (413, also above `limits.max_body_bytes` only
//! when over `limits.max_proof_bytes`), another driver or a viewer (403), an unknown
//! order (404); the photo survives a restart.

mod common;

use common::{get_until, post, send, Engine, WAIT};
use dispatch_engine::auth::{Principal, Role};
use dispatch_engine::config::Config;
use dispatch_engine::Spawned;
use serde_json::{json, Value};
use std::time::Duration;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-not-really-a-picture";

fn jpeg(len: usize) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.resize(len, 7);
    b
}

fn limits(c: &mut Config) {
    c.limits.max_body_bytes = 16 * 1024;
    c.limits.max_proof_bytes = 64 * 1024;
}

async fn put(e: &Engine, order: &str, token: &str, ctype: &str, body: Vec<u8>) -> (u16, Value) {
    let r = e
        .http
        .put(e.url(&format!("/v1/orders/{order}/proof")))
        .bearer_auth(token)
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Status, content type and bytes of `GET /v1/orders/{order}/proof`.
async fn get(base: &str, order: &str, token: &str) -> (u16, String, Vec<u8>) {
    let r = reqwest::Client::new()
        .get(format!("{base}/v1/orders/{order}/proof"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ctype, r.bytes().await.unwrap().to_vec())
}

/// An engine where driver d1 (available) holds order o1; d2 is registered too.
async fn with_assigned_order() -> (Engine, String, String, common::Ws) {
    let e = Engine::start(limits).await;
    let d1 = e.register("d1").await;
    let d2 = e.register("d2").await;
    let mut ws = e.driver("d1", &d1).await;
    send(&mut ws, json!({"type": "status", "status": "available"})).await;
    send(
        &mut ws,
        json!({"type": "position", "lat": 60.17, "lon": 24.94, "ts_ms": dispatch_engine::time::now_ms()}),
    )
    .await;
    e.wait_nearest(60.17, 24.94, 5, "available", |d| d.len() == 1)
        .await;
    let order = json!({"id": "o1", "pickup": {"lat": 60.171, "lon": 24.941}, "dropoff": {"lat": 60.165, "lon": 24.93}});
    assert_eq!(post(&e, "/v1/orders", order).await.0, 201);
    get_until(&e, "/v1/orders/o1", |o| o["driver_id"] == "d1").await;
    (e, d1, d2, ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_driver_uploads_a_proof_that_consoles_read_and_a_restart_keeps() {
    let (e, d1, d2, _ws) = with_assigned_order().await;
    // No proof yet.
    assert_eq!(get(&e.base, "o1", &e.console).await.0, 404);
    // The driver uploads a PNG: 201; larger than the body limit, under the proof limit.
    let (status, body) = put(&e, "o1", &d1, "image/png", PNG.to_vec()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["content_type"], "image/png");
    assert_eq!(body["bytes"], PNG.len());
    let big = jpeg(40 * 1024);
    let (status, body) = put(&e, "o1", &d1, "image/jpeg", big.clone()).await;
    assert_eq!(status, 200, "a second upload replaces the first: {body}");
    // Consoles (any role) and the driver read it back.
    let viewer = dispatch_engine::token(e.dir.path(), &Principal::Console(Role::Viewer)).unwrap();
    for token in [&e.console, &viewer, &d1] {
        let (status, ctype, bytes) = get(&e.base, "o1", token).await;
        assert_eq!((status, ctype.as_str()), (200, "image/jpeg"));
        assert_eq!(bytes, big);
    }
    // Another driver: 403 both ways.
    assert_eq!(put(&e, "o1", &d2, "image/png", PNG.to_vec()).await.0, 403);
    assert_eq!(get(&e.base, "o1", &d2).await.0, 403);
    // A viewer may not upload.
    assert_eq!(
        put(&e, "o1", &viewer, "image/png", PNG.to_vec()).await.0,
        403
    );
    // The photo survives a restart.
    let Engine { spawned, dir, .. } = e;
    spawned.stop().await.unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let spawned = Spawned::start(config).await.expect("engine restarts");
    let base = format!("http://{}", spawned.addr);
    let console = dispatch_engine::token(dir.path(), &Principal::Console(Role::Admin)).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, ctype, bytes) = get(&base, "o1", &console).await;
        if status == 200 {
            assert_eq!(ctype, "image/jpeg");
            assert_eq!(bytes, big);
            break;
        }
        // 503 while recovering.
        assert_eq!(status, 503);
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_types_too_large_and_unknown_orders_are_refused_in_the_error_format() {
    let (e, d1, _d2, _ws) = with_assigned_order().await;
    let check = |(status, body): (u16, Value), want: u16, code: &str| {
        assert_eq!(status, want, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
    };
    // Not an image we keep, whatever it is called.
    check(
        put(&e, "o1", &d1, "image/gif", b"GIF89a....".to_vec()).await,
        415,
        "unsupported_media_type",
    );
    check(
        put(&e, "o1", &d1, "image/png", b"GIF89a....".to_vec()).await,
        415,
        "unsupported_media_type",
    );
    check(
        put(&e, "o1", &d1, "text/plain", PNG.to_vec()).await,
        415,
        "unsupported_media_type",
    );
    // Declared as JPEG, but the bytes are a PNG.
    check(
        put(&e, "o1", &d1, "image/jpeg", PNG.to_vec()).await,
        415,
        "unsupported_media_type",
    );
    // Over limits.max_proof_bytes.
    check(
        put(&e, "o1", &d1, "image/jpeg", jpeg(64 * 1024 + 1)).await,
        413,
        "too_large",
    );
    // Unknown order, for a console and for a driver.
    check(
        put(&e, "nope", &e.console, "image/png", PNG.to_vec()).await,
        404,
        "not_found",
    );
    check(
        put(&e, "nope", &d1, "image/png", PNG.to_vec()).await,
        404,
        "not_found",
    );
    assert_eq!(get(&e.base, "nope", &e.console).await.0, 404);
    // Nothing was stored by the refusals; a dispatcher's upload is.
    assert_eq!(get(&e.base, "o1", &e.console).await.0, 404);
    check(
        put(&e, "o1", "not-a-token", "image/png", PNG.to_vec()).await,
        401,
        "unauthenticated",
    );
    let (status, _) = put(&e, "o1", &e.console, "image/png", PNG.to_vec()).await;
    assert_eq!(status, 201);
    // Other JSON endpoints keep their body limit.
    let (status, _) = post(&e, "/v1/orders", json!({"pad": "x".repeat(20 * 1024)})).await;
    assert_eq!(status, 413);
    e.spawned.stop().await.unwrap();
}
