//! Phone trackers over HTTP: `GET|POST /v1/trackers/osmand` on the main listener, and
//! every path of the optional tracker listener (`trackers.listen`, e.g. `:5055`, where
//! apps are pointed at a bare `http://host:5055`). Requests carry no headers of ours,
//! so the device identifier the app sends (`id`, `deviceid` or `device_id`) **is a
//! driver token**: it names the driver, and revoking or expiring it retires the
//! device. Anything else is an unknown device (401). A position then takes the
//! WebSocket position's path: the same validation, the driver token's request rate,
//! `App::serves`, and the driver actor's one-slot inbox (`offer_position`), whose
//! actor never moves a driver back in time. Success is an empty 200 (what the apps
//! expect); a refusal is the API's error JSON.

use super::conns::ConnState;
use crate::actors::driver::PositionReport;
use crate::app::App;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::telemetry;
use crate::time::now_ms;
use crate::trackers::{self, Fix};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use dispatch_protocol::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

/// Where trackers report on the main listener.
pub const PATH: &str = "/v1/trackers/osmand";

/// The tracker listener's router: every path and method goes to [`ingest`].
pub fn router(app: Arc<App>) -> Router {
    let body_limit = app.config.limits.max_body_bytes;
    Router::new()
        .fallback(ingest)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(app)
}

/// One tracker request: a position applied (200, empty) or the reason it was not.
pub async fn ingest(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let format = if json { "traccar_json" } else { "osmand" };
    let result = accept(&app, parts, body, json).await;
    let outcome = match &result {
        Ok(()) => "accepted",
        Err(e) => e.code.as_str(),
    };
    metrics::counter!(telemetry::TRACKER_POSITIONS, "format" => format, "outcome" => outcome)
        .increment(1);
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::debug!(format, code = e.code.as_str(), message = %e.message, "tracker request refused");
            e.into_response()
        }
    }
}

async fn accept(app: &Arc<App>, parts: Parts, body: Body, json: bool) -> Result<(), ApiError> {
    // The tracker listener has no readiness gate of its own.
    app.readiness.check()?;
    if parts.method != Method::GET && parts.method != Method::POST {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            "trackers report with GET or POST",
        ));
    }
    let query = parts.uri.query().unwrap_or("").to_string();
    let conn = parts.extensions.get::<Arc<ConnState>>().cloned();
    let fix = if json {
        trackers::decode_json(&read_body(app, parts, body).await?)
    } else {
        let mut pairs = trackers::form_pairs(&query);
        if pairs.is_empty() {
            // No query fields: Traccar reads the same fields from a form body.
            let bytes = read_body(app, parts, body).await?;
            pairs = trackers::form_pairs(&String::from_utf8_lossy(&bytes));
        } else {
            drop(body);
        }
        trackers::decode_query(&pairs)
    }
    .map_err(|e| ApiError::invalid(e.to_string()))?;
    apply(app, fix, conn.as_deref())
}

/// Who the device is, then the position path. A known device's connection leaves the
/// unauthenticated cap, as a valid bearer token's does.
fn apply(app: &App, fix: Fix, conn: Option<&ConnState>) -> Result<(), ApiError> {
    let claims = app.auth.verify(&fix.device).map_err(|why| {
        ApiError::new(
            ErrorCode::Unauthenticated,
            format!(
                "unknown device: its id must be a driver token ({})",
                why.message()
            ),
        )
    })?;
    let Principal::Driver(driver_id) = &claims.principal else {
        return Err(ApiError::new(
            ErrorCode::PermissionDenied,
            "a tracker's id must be a driver token, not a console token",
        ));
    };
    if let Some(conn) = conn {
        conn.authenticated();
    }
    app.guards.check_request(&claims.principal, &fix.device)?;
    let driver = app
        .drivers
        .get(driver_id)
        .ok_or_else(|| ApiError::not_found(format!("driver {driver_id} is not registered")))?;
    let now = now_ms();
    let ts_ms = fix.ts_ms.unwrap_or(now);
    let latest = now.saturating_add(app.config.trackers.max_future_ms);
    if ts_ms > latest {
        return Err(ApiError::invalid(format!(
            "timestamp: {ts_ms} ms is more than {} ms ahead of the engine's clock ({now} ms)",
            app.config.trackers.max_future_ms
        )));
    }
    app.serves(fix.lat, fix.lon)
        .map_err(|why| ApiError::new(ErrorCode::OutOfServiceArea, format!("position is {why}")))?;
    driver.offer_position(PositionReport {
        lat: fix.lat,
        lon: fix.lon,
        ts_ms,
    });
    Ok(())
}

/// The body, within `limits.http_body_timeout_ms` (408) and the body limit (413).
async fn read_body(app: &Arc<App>, parts: Parts, body: Body) -> Result<Bytes, ApiError> {
    let read = <Bytes as axum::extract::FromRequest<Arc<App>>>::from_request(
        Request::from_parts(parts, body),
        app,
    );
    let limit = Duration::from_millis(app.config.limits.http_body_timeout_ms);
    match tokio::time::timeout(limit, read).await {
        Err(_) => {
            telemetry::limited("body_timeout");
            Err(ApiError::new(
                ErrorCode::DeadlineExceeded,
                format!("request body not received within {} ms", limit.as_millis()),
            ))
        }
        Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(
            ApiError::new(ErrorCode::TooLarge, "request body exceeds the limit"),
        ),
        Ok(Err(rejection)) => Err(ApiError::invalid(format!(
            "cannot read request body: {rejection}"
        ))),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}
