//! Input rules of the HTTP API: bodies with unknown fields are refused naming the field,
//! a stop must be an object (GeoJSON's `[lon, lat]` must not be read as `[lat, lon]`),
//! ids that name another endpoint are refused at registration, and a wrong method gets
//! the JSON error body like every other error.

mod common;

use common::{post, Engine};
use serde_json::{json, Value};

fn refused_naming(answer: &(u16, Value), field: &str) {
    assert_eq!(answer.0, 400, "{answer:?}");
    assert_eq!(answer.1["error"]["code"], "invalid_argument", "{answer:?}");
    let message = answer.1["error"]["message"].as_str().unwrap();
    assert!(message.contains(field), "{field} not named: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_and_array_stops_are_refused() {
    let e = Engine::start(|_| {}).await;
    let misspelled = json!({
        "pickup": {"lat": 60.17, "lon": 24.94, "servise_s": 30},
        "dropoff": {"lat": 60.16, "lon": 24.93}
    });
    refused_naming(&post(&e, "/v1/orders", misspelled).await, "servise_s");
    let prio = json!({
        "pickup": {"lat": 60.17, "lon": 24.94},
        "dropoff": {"lat": 60.16, "lon": 24.93},
        "prio": 2
    });
    refused_naming(&post(&e, "/v1/orders", prio).await, "prio");
    let geojson = json!({"pickup": [24.94, 60.17], "dropoff": {"lat": 60.16, "lon": 24.93}});
    refused_naming(&post(&e, "/v1/orders", geojson).await, "stop object");
    let driver = json!({"id": "d1", "capacity": 4, "colour": "red"});
    refused_naming(&post(&e, "/v1/drivers", driver).await, "colour");
    // Nothing was stored by the refusals.
    let r = e
        .http
        .get(e.url("/v1/orders"))
        .bearer_auth(&e.console)
        .send()
        .await
        .unwrap();
    let listed: Value = r.json().await.unwrap();
    assert_eq!(listed["orders"].as_array().unwrap().len(), 0, "{listed}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_id_naming_an_endpoint_is_refused() {
    let e = Engine::start(|_| {}).await;
    let answer = post(&e, "/v1/drivers", json!({"id": "nearest"})).await;
    refused_naming(&answer, "reserved");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_gets_405_with_the_json_error_body() {
    let e = Engine::start(|_| {}).await;
    let r = e
        .http
        .delete(e.url("/v1/orders"))
        .bearer_auth(&e.console)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let body: Value = r.json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_by_default_and_answers_configured_origins() {
    let origin = "https://console.example.com";
    let preflight = |e: &Engine| {
        e.http
            .request(reqwest::Method::OPTIONS, e.url("/v1/orders"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let off = Engine::start(|_| {}).await;
    let r = preflight(&off).await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    off.spawned.stop().await.unwrap();

    let on = Engine::start(|c| c.cors_origins = vec![origin.to_string()]).await;
    let r = preflight(&on).await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], origin);
    let r = on
        .http
        .get(on.url("/v1/stats"))
        .bearer_auth(&on.console)
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], origin);
    // Another site gets no permission.
    let r = on
        .http
        .get(on.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    on.spawned.stop().await.unwrap();
}
