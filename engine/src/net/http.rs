//! HTTP routes: health, metrics, drivers, and the two WebSocket endpoints on one
//! listener. Every request gets a tracing span and a latency histogram sample.

use super::body_end;
use super::conns::ConnState;
use super::extract::{audit, authenticate, query_param, read_json, require, token_of};
use super::ready::{gate, readyz};
use super::{
    actions, admin, backup, console_page, console_session, driver_page, driver_session, nearest,
    proof, roads, trackers, trail, ws,
};
use crate::actors::driver::{DriverInit, Observe};
use crate::app::App;
use crate::auth::{Action, Claims, Principal, Refusal};
use crate::error::ApiError;
use crate::orders::service::{self, Created};
use crate::telemetry;
use crate::time::now_ms;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use dispatch_protocol::validate::{validate_id, validate_size, MAX_TEXT_LEN};
use dispatch_protocol::{DriverStatus, ErrorCode, NewOrder, Order, OrderStatus};
use dispatch_storage::{DriverRecord, EventKind, EventRecord};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

type AppState = State<Arc<App>>;

/// Every route the router serves, as (method, path template): the OpenAPI document
/// must list exactly these (tested).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/console.js"),
    ("get", "/console.css"),
    ("get", "/console/{asset}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/v1/drivers"),
    ("get", "/v1/drivers/nearest"),
    ("get", "/v1/drivers/{id}"),
    ("get", "/v1/drivers/{id}/trail"),
    ("get", "/v1/trackers/osmand"),
    ("post", "/v1/trackers/osmand"),
    ("post", "/v1/orders"),
    ("get", "/v1/orders"),
    ("get", "/v1/orders/{id}"),
    ("post", "/v1/orders/{id}/cancel"),
    ("get", "/v1/stats"),
    ("get", "/v1/tokens"),
    ("post", "/v1/tokens"),
    ("post", "/v1/tokens/{id}/revoke"),
    ("get", "/v1/audit"),
    ("post", "/v1/admin/backup"),
    ("get", "/ws/driver"),
    ("get", "/ws/console"),
    // The driver app and proof of delivery.
    ("get", "/driver"),
    ("get", "/driver/{asset}"),
    ("put", "/v1/orders/{id}/proof"),
    ("get", "/v1/orders/{id}/proof"),
    // Road routes and matrices ([roads]).
    ("get", "/v1/route"),
    ("post", "/v1/matrix"),
];

/// Driver ids that name another endpoint under `/v1/drivers/`: such a driver could
/// never be read, so registration refuses them.
pub const RESERVED_DRIVER_IDS: &[&str] = &["nearest"];

pub fn router(app: Arc<App>) -> Router {
    let body_limit = app.config.limits.max_body_bytes;
    Router::new()
        .route("/", get(console_page::index))
        .route("/console.js", get(console_page::script))
        .route("/console.css", get(console_page::style))
        .route("/console/{asset}", get(console_page::module))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi))
        .route("/v1/drivers", post(register_driver))
        .route("/v1/drivers/nearest", get(nearest::nearest))
        .route("/v1/drivers/{id}", get(get_driver))
        .route("/v1/drivers/{id}/trail", get(trail::trail))
        .route(trackers::PATH, get(trackers::ingest).post(trackers::ingest))
        .route("/v1/orders", post(create_order).get(list_orders))
        .route("/v1/orders/{id}", get(get_order))
        .route("/v1/orders/{id}/cancel", post(cancel_order))
        .route("/v1/stats", get(stats))
        .route(
            "/v1/tokens",
            get(admin::list_tokens).post(admin::issue_token),
        )
        .route("/v1/tokens/{id}/revoke", post(admin::revoke_token))
        .route("/v1/audit", get(admin::read_audit))
        .route("/v1/admin/backup", post(backup::backup))
        .route("/ws/driver", get(ws_driver))
        .route("/ws/console", get(ws_console))
        // The driver app and proof of delivery.
        .route("/driver", get(driver_page::index))
        .route("/driver/{asset}", get(driver_page::asset))
        .route("/v1/orders/{id}/proof", put(proof::put).get(proof::get))
        .route("/v1/route", get(roads::route))
        .route("/v1/matrix", post(roads::matrix))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(app.clone(), front))
        .layer(cors(&app.config.cors_origins))
        .with_state(app)
}

/// CORS for the configured origins; none configured: no CORS headers at all.
fn cors(origins: &[String]) -> tower::util::Either<CorsLayer, tower::layer::util::Identity> {
    if origins.is_empty() {
        return tower::util::Either::Right(tower::layer::util::Identity::new());
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        // Validated at start: every entry is a header value.
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    tower::util::Either::Left(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(3600)),
    )
}

/// In front of every route, in this order: [`observe`] (span and latency sample),
/// [`admit`] (body size, token, request rate), [`gate`] (readiness). One middleware
/// rather than three layers: each layer clones the service behind it per request.
async fn front(State(app): AppState, mut req: Request, next: Next) -> Response {
    let body = body_end::watch(&mut req);
    let limit = proof::body_limit(&app, req.uri().path());
    let timeout = Duration::from_millis(app.config.limits.http_body_timeout_ms);
    let mut res = observe(req, move |mut req| async move {
        match admit(&app, &mut req, limit) {
            None => gate(&app, req, next).await,
            Some(refused) => refused,
        }
    })
    .await;
    body_end::finish(body, &mut res, limit, timeout).await;
    res
}

/// A span and a latency sample per request, labelled by route template and method.
async fn observe<F, Fut>(req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = method_label(req.method());
    let span = tracing::info_span!("http", %method, %route);
    let started = Instant::now();
    let resp = next(req).instrument(span).await;
    if resp.status().is_server_error() {
        metrics::counter!(telemetry::HTTP_SERVER_ERRORS, "code" => resp.status().as_u16().to_string())
            .increment(1);
    }
    telemetry::http_duration(method, route, resp.status().as_u16())
        .record(started.elapsed().as_secs_f64());
    resp
}

/// The `method` label from a fixed set: a client must not add series by inventing
/// methods.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Admission of every request, before routing: a declared body over `body_limit` (the
/// endpoint's, `proof::body_limit`) is answered 413 from its `Content-Length` alone
/// (before hyper would send `100 Continue`); a valid token marks the connection authenticated (it leaves the
/// unauthenticated cap), counts against that token's request rate (429 with
/// Retry-After over it) and leaves its claims in the request for the handler.
/// Requests without a valid token are left to the handlers (401, or the open
/// endpoints). `Some`: the answer of a request refused here.
fn admit(app: &App, req: &mut Request, body_limit: u64) -> Option<Response> {
    if let Some(declared) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if declared > body_limit {
            telemetry::limited("body_size");
            return Some(body_too_large().into_response());
        }
    }
    if let Some(token) = token_of(req.headers(), req.uri()) {
        if let Ok(claims) = app.auth.verify(&token) {
            if let Some(conn) = req.extensions().get::<Arc<ConnState>>() {
                conn.authenticated();
            }
            if let Err(e) = app.guards.check_request(&claims.principal, &token) {
                return Some(e.into_response());
            }
            req.extensions_mut().insert(claims);
        }
    }
    None
}

fn body_too_large() -> ApiError {
    ApiError::new(ErrorCode::TooLarge, "request body exceeds the limit")
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn metrics_text(State(app): AppState) -> Response {
    // Queues that are not actor mailboxes are sampled when scraped.
    let depth = |queue: &'static str, n: usize| {
        metrics::gauge!(telemetry::QUEUE_DEPTH, "queue" => queue).set(n as f64);
    };
    depth("group_commit_waiters", app.commit.waiting());
    depth("position_writer", app.writer.depth());
    let mut text = telemetry::prometheus().render();
    text.push_str(&telemetry::process_metrics());
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}

async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on this endpoint", method_label(&method)),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterDriver {
    id: String,
    capacity: Option<u32>,
    name: Option<String>,
}

async fn register_driver(State(app): AppState, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let who = authenticate(&app, &parts)?;
    require(&who, Action::RegisterDriver)?;
    let req: RegisterDriver = read_json(&app, parts, body).await?;
    validate_id("id", &req.id).map_err(|e| ApiError::invalid(e.to_string()))?;
    if RESERVED_DRIVER_IDS.contains(&req.id.as_str()) {
        return Err(ApiError::invalid(format!(
            "id: {:?} is reserved (GET /v1/drivers/{} is another endpoint)",
            req.id, req.id
        )));
    }
    let capacity = req.capacity.unwrap_or(app.config.drivers.default_capacity);
    validate_size("capacity", capacity).map_err(|e| ApiError::invalid(e.to_string()))?;
    if req.name.as_ref().is_some_and(|n| n.len() > MAX_TEXT_LEN) {
        return Err(ApiError::invalid(format!(
            "name: longer than {MAX_TEXT_LEN} bytes"
        )));
    }
    let _registering = app.register_lock.lock().await;
    // A v1 token (the same string on every call), so the idempotent 200 repeats the
    // 201's answer; `dispatch token driver` issues expiring, revocable v2 ones.
    let token = app.auth.signer.issue_v1(&Principal::Driver(req.id.clone()));
    if let Some(existing) = app.drivers.get(&req.id) {
        let view = existing
            .addr
            .send(Observe)
            .await
            .map_err(|_| ApiError::internal("driver actor unavailable"))?;
        if view.capacity != capacity || view.name != req.name {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("driver {} exists with other fields", req.id),
            ));
        }
        return Ok((StatusCode::OK, Json(with_token(&view, token))).into_response());
    }
    // Every driver is an actor held in memory for good: bounded, checked under the
    // registration lock so concurrent registrations cannot pass it together.
    let max = app.config.limits.max_drivers;
    if app.drivers.len() >= max {
        telemetry::limited("drivers");
        return Err(ApiError::new(
            ErrorCode::Overloaded,
            format!(
                "the engine holds its maximum of {max} registered drivers (limits.max_drivers)"
            ),
        ));
    }
    let now = now_ms();
    let record = DriverRecord {
        id: req.id.clone(),
        name: req.name.clone(),
        capacity,
        created_ms: now,
    };
    app.store.put_driver(&record)?;
    app.store.append_event(&EventRecord {
        at_ms: now,
        kind: EventKind::DriverRegistered { id: req.id.clone() },
    })?;
    // Acknowledged means durable: answer only after a flush covering the write.
    app.commit.durable().await?;
    audit(&app, &who, "driver.register", &req.id);
    let handle = app.spawn_driver(DriverInit::new(record, DriverStatus::Offline, now));
    tracing::info!(driver = %req.id, capacity, "driver registered");
    let view = handle
        .addr
        .send(Observe)
        .await
        .map_err(|_| ApiError::internal("driver actor unavailable"))?;
    Ok((StatusCode::CREATED, Json(with_token(&view, token))).into_response())
}

fn with_token(view: &crate::actors::DriverView, token: String) -> Value {
    let mut v = serde_json::to_value(view).expect("driver view serialises");
    v["token"] = Value::String(token);
    v
}

async fn get_driver(
    State(app): AppState,
    Path(id): Path<String>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let (parts, _) = req.into_parts();
    let who = authenticate(&app, &parts)?;
    validate_id("id", &id).map_err(|e| ApiError::invalid(e.to_string()))?;
    if let Principal::Driver(own) = &who.principal {
        if *own != id {
            return Err(ApiError::new(
                ErrorCode::PermissionDenied,
                "a driver token reads only its own driver",
            ));
        }
    }
    let handle = app
        .drivers
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("driver {id} not found")))?;
    let view = handle
        .addr
        .send(Observe)
        .await
        .map_err(|_| ApiError::internal("driver actor unavailable"))?;
    Ok(Json(
        serde_json::to_value(view).expect("driver view serialises"),
    ))
}

async fn create_order(State(app): AppState, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let who = authenticate(&app, &parts)?;
    // The role first: a viewer's body is not worth reading.
    require(&who, Action::CreateOrder)?;
    let new: NewOrder = read_json(&app, parts, body).await?;
    let (how, order) = actions::create_order(&app, &who, new).await?;
    let status = match how {
        Created::New => StatusCode::CREATED,
        Created::Existing => StatusCode::OK,
    };
    Ok((status, Json(order)).into_response())
}

async fn get_order(
    State(app): AppState,
    Path(id): Path<String>,
    req: Request,
) -> Result<Json<Order>, ApiError> {
    let (parts, _) = req.into_parts();
    require(&authenticate(&app, &parts)?, Action::Read)?;
    validate_id("id", &id).map_err(|e| ApiError::invalid(e.to_string()))?;
    service::find(&app, &id)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("order {id} not found")))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

/// Fleet and order counts and assignment latency percentiles (console token): the
/// same totals consoles get as `stats` messages.
async fn stats(
    State(app): AppState,
    req: Request,
) -> Result<Json<dispatch_protocol::Stats>, ApiError> {
    let (parts, _) = req.into_parts();
    require(&authenticate(&app, &parts)?, Action::Read)?;
    Ok(Json(crate::orders::stats::collect(
        &app.shared.stats,
        &app.shared.book,
        || app.drivers.counts(),
    )))
}

async fn list_orders(
    State(app): AppState,
    query: Result<Query<ListQuery>, QueryRejection>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let (parts, _) = req.into_parts();
    require(&authenticate(&app, &parts)?, Action::Read)?;
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("invalid query: {e}")))?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            serde_json::from_value::<OrderStatus>(Value::String(s.to_string())).map_err(|_| {
                ApiError::invalid(
                    "status: must be pending, assigned, picked_up, delivered, cancelled, failed or unassignable",
                )
            })
        })
        .transpose()?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|k| (1..=1000).contains(k))
            .ok_or_else(|| ApiError::invalid("limit: must be an integer in 1..=1000"))?,
    };
    if let Some(after) = &q.after {
        validate_id("after", after).map_err(|e| ApiError::invalid(e.to_string()))?;
    }
    let (orders, next) = service::list(&app, status, q.after.as_deref(), limit)?;
    let mut body = json!({ "orders": orders });
    if let Some(next) = next {
        body["next"] = Value::String(next);
    }
    Ok(Json(body))
}

async fn cancel_order(
    State(app): AppState,
    Path(id): Path<String>,
    req: Request,
) -> Result<Json<Order>, ApiError> {
    let (parts, _) = req.into_parts();
    let who = authenticate(&app, &parts)?;
    require(&who, Action::CancelOrder)?;
    validate_id("id", &id).map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(Json(actions::cancel_order(&app, &who, &id).await?))
}

async fn ws_driver(State(app): AppState, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let who = socket_claims(&app, &parts);
    let watch = who.as_ref().ok().map(|c| token_watch(&app, c));
    let auth =
        driver_session::authorize(&app, who, query_param(&parts.uri, "driver_id").as_deref());
    let span = tracing::info_span!(
        "driver_session",
        driver = auth.as_ref().map(|d| d.id.to_string()).unwrap_or_default()
    );
    let session_app = app.clone();
    ws::upgrade(
        &app,
        Request::from_parts(parts, body),
        "driver",
        move |mut conn| {
            if let (Some(w), Ok(_)) = (watch, &auth) {
                conn.watch_token(w);
            }
            driver_session::run(session_app, conn, auth).instrument(span)
        },
    )
}

/// The claims of a socket's token (header or `?token=`), or why there are none.
fn socket_claims(app: &App, parts: &axum::http::request::Parts) -> Result<Claims, Refusal> {
    let token = token_of(&parts.headers, &parts.uri).ok_or(Refusal::Missing)?;
    app.auth.verify(&token)
}

/// Closes an open socket once its token is revoked or expires (`Incoming::Invalidated`).
fn token_watch(app: &Arc<App>, claims: &Claims) -> ws::TokenWatch {
    let (app, claims) = (app.clone(), claims.clone());
    Box::pin(async move { app.auth.invalidated(&claims).await })
}

async fn ws_console(State(app): AppState, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let auth = console_session::authorize(socket_claims(&app, &parts));
    let watch = auth.as_ref().ok().map(|c| token_watch(&app, c));
    let session_app = app.clone();
    ws::upgrade(
        &app,
        Request::from_parts(parts, body),
        "console",
        move |mut conn| {
            if let Some(w) = watch {
                conn.watch_token(w);
            }
            console_session::run(session_app, conn, auth)
                .instrument(tracing::info_span!("console_session"))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::ROUTES;
    use std::collections::BTreeSet;

    #[test]
    fn openapi_lists_exactly_the_served_routes() {
        let doc = super::super::openapi::document();
        let mut documented = BTreeSet::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                documented.insert((method.clone(), path.clone()));
            }
        }
        let served: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(documented, served);
        // Every $ref points at a defined schema.
        let text = doc.to_string();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(doc["components"]["schemas"].get(&name).is_some(), "{name}");
        }
    }
}
