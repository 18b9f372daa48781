//! `GET /v1/drivers/{id}/trail?from=&to=&limit=&format=`: where a driver went, from
//! the trail history (`trails/`), as JSON points or a GeoJSON LineString Feature
//! (`format=geojson` or `Accept: application/geo+json`). Console tokens (any role) or
//! the driver's own token.

use super::extract::authenticate;
use crate::app::App;
use crate::auth::{Action, Principal};
use crate::error::ApiError;
use crate::time::now_ms;
use crate::trackers::timestamp;
use crate::trails::answer::{self, Trail};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use dispatch_protocol::validate::validate_id;
use dispatch_protocol::ErrorCode;
use serde::Deserialize;
use std::sync::Arc;

/// The window a request without `from` covers: the last day.
const DEFAULT_WINDOW_MS: u64 = 86_400_000;
/// Points an answer holds without `limit` (at most `trails.max_answer_points`).
const DEFAULT_LIMIT: u64 = 10_000;

#[derive(Debug, Deserialize)]
pub struct TrailQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    format: Option<String>,
}

pub async fn trail(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    query: Result<Query<TrailQuery>, QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = req.into_parts();
    let who = authenticate(&app, &parts)?;
    validate_id("id", &id).map_err(|e| ApiError::invalid(e.to_string()))?;
    match &who.principal {
        Principal::Driver(own) if *own != id => {
            return Err(ApiError::new(
                ErrorCode::PermissionDenied,
                "a driver token reads only its own trail",
            ))
        }
        Principal::Driver(_) => {}
        Principal::Console(_) => super::extract::require(&who, Action::Read)?,
    }
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("invalid query: {e}")))?;
    let to_ms = time_param("to", q.to.as_deref())?.unwrap_or_else(now_ms);
    let from_ms = time_param("from", q.from.as_deref())?
        .unwrap_or_else(|| to_ms.saturating_sub(DEFAULT_WINDOW_MS));
    if from_ms > to_ms {
        return Err(ApiError::invalid("from: must not be after to"));
    }
    let max = app.config.trails.max_answer_points;
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT.min(max),
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("limit: must be an integer in 1..={max}")))?,
    };
    let geojson = match q.format.as_deref() {
        None => parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/geo+json")),
        Some("json") => false,
        Some("geojson") => true,
        Some(_) => return Err(ApiError::invalid("format: must be json or geojson")),
    };
    if app.drivers.get(&id).is_none() {
        return Err(ApiError::not_found(format!("driver {id} not found")));
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let (driver, recorder) = (id.clone(), app.shared.trails.clone());
    // One more than asked tells whether the answer is complete.
    let mut points = tokio::task::spawn_blocking(move || {
        recorder.read(&driver, from_ms, to_ms, limit.saturating_add(1))
    })
    .await
    .map_err(|_| ApiError::internal("trail read failed"))??;
    let next_from_ms = (points.len() > limit).then(|| {
        points.truncate(limit);
        points.last().map_or(from_ms, |p| p.ts_ms + 1)
    });
    let t = Trail {
        driver_id: &id,
        from_ms,
        to_ms,
        points: &points,
        next_from_ms,
    };
    Ok(if geojson {
        (
            [(header::CONTENT_TYPE, "application/geo+json")],
            Json(answer::geojson(&t)),
        )
            .into_response()
    } else {
        Json(answer::json(&t)).into_response()
    })
}

/// `from` / `to`: ms since the epoch (bare integers are always milliseconds here, the
/// API's unit), or ISO 8601 with a zone.
fn time_param(name: &str, value: Option<&str>) -> Result<Option<u64>, ApiError> {
    let Some(v) = value.map(str::trim) else {
        return Ok(None);
    };
    let parsed = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse::<u64>().map_err(|_| "too large".to_string())
    } else {
        timestamp::parse(v)
    };
    parsed.map(Some).map_err(|why| {
        ApiError::invalid(format!(
            "{name}: {why} (ms since the epoch or ISO 8601, e.g. 2026-05-01T08:00:00Z)"
        ))
    })
}
