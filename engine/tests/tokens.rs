//! Credentials: token expiry, revocation (HTTP and open sockets), console roles, the
//! v1 console token's migration, the audit log. Real engine on 127.0.0.1:0.

mod common;

use common::{expect_close, post, recv_json, send, Engine, Ws};
use dispatch_engine::auth::registry::{self, Entry};
use dispatch_engine::auth::{self, Claims, Principal, Role, Signer};
use serde_json::{json, Value};

fn signer(e: &Engine) -> Signer {
    Signer::load_or_create(e.dir.path()).unwrap().0
}

/// A registered v2 token for `principal` (as `dispatch token` issues), and its id.
fn issue(e: &Engine, principal: Principal, ttl_ms: Option<u64>) -> (String, String) {
    let request = auth::Request {
        principal,
        name: "test".into(),
        ttl_ms,
    };
    let (claims, token) = auth::issue(e.dir.path(), &signer(e), &request, "cli:test").unwrap();
    (token, claims.id)
}

fn console(e: &Engine, role: Role) -> (String, String) {
    issue(e, Principal::Console(role), None)
}

/// Revokes `id` the way `dispatch token revoke` does: another process appends to the
/// registry file; the engine notices on its next poll.
fn revoke_from_cli(e: &Engine, id: &str) {
    let entry = Entry::Revoke {
        id: id.into(),
        at_ms: dispatch_engine::time::now_ms(),
        by: "cli:test".into(),
    };
    registry::append(e.dir.path(), &entry).unwrap();
}

async fn call(
    e: &Engine,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = match method {
        "GET" => e.http.get(e.url(path)),
        _ => e.http.post(e.url(path)),
    }
    .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn order(id: &str) -> Value {
    json!({"id": id, "pickup": {"lat": 60.1702, "lon": 24.9390},
           "dropoff": {"lat": 60.1650, "lon": 24.9300}})
}

/// Polls `GET /v1/orders` with `token` until it answers `status` (bounded).
async fn wait_status(e: &Engine, token: &str, status: u16) -> Value {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
    loop {
        let (got, body) = call(e, "GET", "/v1/orders", token, None).await;
        if got == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {got}: {body}"
        );
        tick.tick().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused() {
    let e = Engine::start(|_| {}).await;
    let expired = signer(&e).issue(&Claims {
        id: "tok-old".into(),
        principal: Principal::Console(Role::Admin),
        issued_ms: 1,
        expires_ms: Some(2),
    });
    let (status, body) = call(&e, "GET", "/v1/orders", &expired, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(body["error"]["message"], "token expired");
    let mut ws = e.ws("/ws/console", Some(&expired)).await;
    let (code, errors) = expect_close(&mut ws).await;
    assert_eq!(
        (code, errors),
        (Some(1008), vec!["unauthenticated".to_string()])
    );
    // A token expiring while its socket is open: the socket is closed at expiry.
    let (short, _) = issue(&e, Principal::Console(Role::Viewer), Some(300));
    let mut ws = e.ws("/ws/console", Some(&short)).await;
    let (code, _) = expect_close(&mut ws).await;
    assert_eq!(code, Some(1008));
    e.spawned.stop().await.unwrap();
}

async fn subscribed_console(e: &Engine, token: &str) -> Ws {
    let mut ws = e.ws("/ws/console", Some(token)).await;
    send(&mut ws, json!({"type": "subscribe"})).await;
    assert_eq!(recv_json(&mut ws).await["type"], "snapshot");
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_and_its_open_sockets_close_1008() {
    let e = Engine::start(|_| {}).await;
    e.register("d1").await;
    let (viewer, viewer_id) = console(&e, Role::Viewer);
    let (driver, driver_id) = issue(&e, Principal::Driver("d1".into()), None);
    let (other, _) = console(&e, Role::Viewer);
    let mut console_ws = subscribed_console(&e, &viewer).await;
    let mut driver_ws = e.driver("d1", &driver).await;
    wait_status(&e, &viewer, 200).await;

    revoke_from_cli(&e, &viewer_id);
    revoke_from_cli(&e, &driver_id);
    let body = wait_status(&e, &viewer, 401).await;
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(body["error"]["message"], "token revoked");
    let (code, errors) = expect_close(&mut console_ws).await;
    assert_eq!(code, Some(1008));
    assert!(
        errors.contains(&"unauthenticated".to_string()),
        "{errors:?}"
    );
    let (code, _) = expect_close(&mut driver_ws).await;
    assert_eq!(code, Some(1008));
    // A new socket with the revoked token is refused; other tokens are untouched.
    let mut again = e.ws("/ws/driver", Some(&driver)).await;
    assert_eq!(expect_close(&mut again).await.0, Some(1008));
    assert_eq!(call(&e, "GET", "/v1/orders", &other, None).await.0, 200);
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_limit_what_a_console_token_may_do() {
    let e = Engine::start(|_| {}).await;
    let (viewer, _) = console(&e, Role::Viewer);
    let (intake, _) = console(&e, Role::Intake);
    let (dispatcher, _) = console(&e, Role::Dispatcher);
    let denied = |(status, body): (u16, Value)| {
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "permission_denied");
    };
    assert_eq!(call(&e, "GET", "/v1/orders", &viewer, None).await.0, 200);
    assert_eq!(call(&e, "GET", "/v1/stats", &viewer, None).await.0, 200);
    denied(call(&e, "POST", "/v1/orders", &viewer, Some(order("o1"))).await);
    assert_eq!(
        call(&e, "POST", "/v1/orders", &intake, Some(order("o1")))
            .await
            .0,
        201
    );
    denied(call(&e, "POST", "/v1/orders/o1/cancel", &intake, None).await);
    denied(
        call(
            &e,
            "POST",
            "/v1/drivers",
            &intake,
            Some(json!({"id": "d9"})),
        )
        .await,
    );
    assert_eq!(
        call(&e, "POST", "/v1/orders/o1/cancel", &dispatcher, None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(
            &e,
            "POST",
            "/v1/drivers",
            &dispatcher,
            Some(json!({"id": "d9"}))
        )
        .await
        .0,
        201
    );
    denied(call(&e, "GET", "/v1/tokens", &dispatcher, None).await);
    denied(call(&e, "GET", "/v1/audit", &dispatcher, None).await);
    assert_eq!(call(&e, "GET", "/v1/tokens", &e.console, None).await.0, 200);
    // On the console socket a viewer reads but may not create; the socket stays open.
    let mut ws = subscribed_console(&e, &viewer).await;
    send(
        &mut ws,
        json!({"type": "create_order", "order": order("o2"), "seq": 7}),
    )
    .await;
    let answer = loop {
        let m = recv_json(&mut ws).await;
        if m["type"] == "error" {
            break m;
        }
    };
    assert_eq!(
        (answer["code"].as_str(), answer["ref"].as_u64()),
        (Some("permission_denied"), Some(7))
    );
    assert_eq!(call(&e, "GET", "/v1/orders/o2", &viewer, None).await.0, 404);
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_console_token_works_until_revoked() {
    let e = Engine::start(|_| {}).await;
    // The one console token every deployment had before token ids.
    let legacy = signer(&e).issue_v1(&Principal::Console(Role::Admin));
    assert_eq!(
        call(&e, "POST", "/v1/orders", &legacy, Some(order("o1")))
            .await
            .0,
        201
    );
    assert_eq!(call(&e, "GET", "/v1/tokens", &legacy, None).await.0, 200);
    let (status, body) = call(
        &e,
        "POST",
        "/v1/tokens/legacy-console/revoke",
        &e.console,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Revoked through the engine: refused at once, no poll to wait for.
    let (status, body) = call(&e, "GET", "/v1/orders", &legacy, None).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (401, Some("token revoked"))
    );
    assert_eq!(call(&e, "GET", "/v1/orders", &e.console, None).await.0, 200);
    let rows = call(&e, "GET", "/v1/tokens", &e.console, None).await.1;
    let row = rows["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "legacy-console")
        .cloned();
    assert!(row.is_some_and(|r| r["revoked_ms"].is_u64()), "{rows}");
    e.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_issue_tokens_over_http_and_the_audit_log_names_who_acted() {
    let e = Engine::start(|_| {}).await;
    let issued = |role: &str| {
        let e = &e;
        let body = json!({"name": format!("{role}-bob"), "role": role, "ttl_s": 3600});
        async move {
            let (status, v) = call(e, "POST", "/v1/tokens", &e.console, Some(body)).await;
            assert_eq!(status, 201, "{v}");
            assert!(v["expires_ms"].as_u64() > v["issued_ms"].as_u64());
            (
                v["token"].as_str().unwrap().to_string(),
                v["id"].as_str().unwrap().to_string(),
            )
        }
    };
    let (intake, intake_id) = issued("intake").await;
    let (dispatcher, dispatcher_id) = issued("dispatcher").await;
    assert_eq!(
        call(&e, "POST", "/v1/orders", &intake, Some(order("o1")))
            .await
            .0,
        201
    );
    // An idempotent repeat changes nothing and is not audited.
    assert_eq!(
        call(&e, "POST", "/v1/orders", &intake, Some(order("o1")))
            .await
            .0,
        200
    );
    assert_eq!(
        call(&e, "POST", "/v1/orders/o1/cancel", &dispatcher, None)
            .await
            .0,
        200
    );
    assert_eq!(post(&e, "/v1/drivers", json!({"id": "d1"})).await.0, 201);
    let (status, body) = call(&e, "GET", "/v1/audit", &e.console, None).await;
    assert_eq!(status, 200);
    let seen: Vec<(String, String, String)> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["action"].as_str().unwrap().starts_with("token."))
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap().to_string();
            (field("action"), field("target"), field("token_id"))
        })
        .collect();
    let admin_id = signer(&e).verify(&e.console).unwrap().id;
    assert_eq!(
        seen,
        [
            ("order.create".into(), "o1".into(), intake_id.clone()),
            ("order.cancel".into(), "o1".into(), dispatcher_id),
            ("driver.register".into(), "d1".into(), admin_id.clone()),
        ]
    );
    let issues = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "token.issue" && r["token_id"] == admin_id.as_str())
        .count();
    assert_eq!(issues, 2, "{body}");
    // Tokens themselves are never written to the audit log or the registry.
    let files = ["audit.jsonl", "tokens.jsonl"]
        .map(|f| std::fs::read_to_string(e.dir.path().join(f)).unwrap());
    for t in [&intake, &dispatcher, &e.console] {
        assert!(files.iter().all(|f| !f.contains(t.as_str())));
    }
    // Revoked over HTTP: refused at once.
    let (status, _) = call(
        &e,
        "POST",
        &format!("/v1/tokens/{intake_id}/revoke"),
        &e.console,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(call(&e, "GET", "/v1/orders", &intake, None).await.0, 401);
    assert_eq!(
        call(&e, "POST", "/v1/tokens/tok-nope/revoke", &e.console, None)
            .await
            .0,
        404
    );
    e.spawned.stop().await.unwrap();
}
