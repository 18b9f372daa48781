//! Readiness over HTTP: `/readyz`, and the gate that holds the API while recovery
//! runs (`crate::readiness`). `/healthz` (liveness) stays in `http.rs`: it answers as
//! soon as the listener serves.

use crate::app::App;
use crate::auth::Claims;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

/// Routes served while recovery runs: liveness and readiness, metrics, the API
/// document, the console page and the driver app's files, and token and audit administration (none of which
/// reads drivers or orders). Every other route answers 503 `overloaded` with
/// Retry-After until the engine is ready, rather than an empty `nearest` or an order
/// creation that the order book cannot check yet.
pub const SERVED_WHILE_RECOVERING: &[&str] = &[
    "/",
    "/console.js",
    "/console.css",
    "/console/{asset}",
    "/driver",
    "/driver/{asset}",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/v1/tokens",
    "/v1/tokens/{id}/revoke",
    "/v1/audit",
];

/// The readiness gate: see [`SERVED_WHILE_RECOVERING`]. It holds requests with a
/// valid token (admission left its claims); the rest go on to their handlers, which
/// refuse them as ever (401) before reading any state — the tracker endpoint, whose
/// token is a device id, checks readiness itself. Requests matching no route pass
/// (404, 405).
pub async fn gate(app: &App, req: Request, next: Next) -> Response {
    if !app.readiness.is_ready() {
        let held = req.extensions().get::<Claims>().is_some()
            && req
                .extensions()
                .get::<MatchedPath>()
                .is_some_and(|p| !SERVED_WHILE_RECOVERING.contains(&p.as_str()));
        if held {
            if let Err(e) = app.readiness.check() {
                return e.into_response();
            }
        }
    }
    next.run(req).await
}

/// 200 `{"status":"ready",…}` once recovery has finished; until then 503
/// `{"status":"recovering","phase",…}` with its progress and Retry-After (`failed`
/// if it failed: the engine is stopping).
pub async fn readyz(State(app): State<Arc<App>>) -> Response {
    let view = app.readiness.view();
    if app.readiness.is_ready() {
        return Json(view).into_response();
    }
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, Json(view)).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(1u16));
    resp
}
