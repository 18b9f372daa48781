//! `POST /v1/admin/backup` (console token of role admin): a consistent online copy of
//! the store into a directory on the engine's host.

use super::extract::{audit, authenticate, read_json, require};
use crate::app::App;
use crate::auth::Action;
use crate::data_dir;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Deserialize)]
struct BackupRequest {
    /// Absolute path of a new or empty directory on the engine's host.
    out: PathBuf,
}

/// Copies the store into `out` (see `data_dir::backup`): writers pause while the
/// records are read, then the copy is written and verified off the async threads.
pub async fn backup(State(app): State<Arc<App>>, req: Request) -> Result<Json<Value>, ApiError> {
    let (parts, body) = req.into_parts();
    let who = authenticate(&app, &parts)?;
    require(&who, Action::Admin)?;
    let BackupRequest { out } = read_json(&app, parts, body).await?;
    if !out.is_absolute() {
        return Err(ApiError::invalid(
            "out: must be an absolute path on the engine's host",
        ));
    }
    let started = Instant::now();
    let (store, dir, target) = (app.store.clone(), app.config.data_dir.clone(), out.clone());
    let report = tokio::task::spawn_blocking(move || data_dir::backup(&*store, &dir, &target))
        .await
        .map_err(|e| ApiError::internal(format!("backup task failed: {e}")))?
        .map_err(|e| ApiError::internal(format!("backup failed: {e:#}")))?;
    let c = report.counts;
    tracing::info!(out = %out.display(), orders = c.orders, "store backed up");
    audit(&app, &who, "store_backup", &out.display().to_string());
    Ok(Json(json!({
        "out": out,
        "drivers": c.drivers,
        "orders": c.orders,
        "open_orders": c.open_orders,
        "routes": c.routes,
        "events": c.events,
        "driver_states": report.driver_states,
        "took_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })))
}
