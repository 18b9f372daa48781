//! Admin endpoints (console tokens of role admin): issue, list and revoke tokens, read
//! the audit log. The same files as `dispatch token` and `dispatch audit`, so either
//! may be used while the engine runs.

use super::extract::{audit, authenticate, require};
use crate::app::App;
use crate::auth::claim::{valid_field, LEGACY_CONSOLE_ID, LEGACY_DRIVER_PREFIX};
use crate::auth::{audit as audit_log, registry, Action, Principal, Request as Issue, Role};
use crate::error::ApiError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use dispatch_protocol::validate::{validate_id, MAX_TEXT_LEN};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type AppState = State<Arc<App>>;

/// Runs blocking file work off the async threads; an I/O failure is a 500.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::internal("file task failed"))?
        .map_err(|e| ApiError::internal(format!("token files: {e}")))
}

pub async fn list_tokens(State(app): AppState, req: Request) -> Result<Json<Value>, ApiError> {
    let (parts, _) = req.into_parts();
    require(&authenticate(&app, &parts)?, Action::Admin)?;
    let dir = app.auth.data_dir().to_path_buf();
    let rows = blocking(move || registry::read(&dir).map(|e| registry::rows(&e))).await?;
    Ok(Json(json!({ "tokens": rows })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    name: String,
    /// A console token of this role; exclusive with `driver_id`.
    role: Option<String>,
    /// A driver token for this driver.
    driver_id: Option<String>,
    /// Lifetime in seconds; none: until revoked.
    ttl_s: Option<u64>,
}

fn principal_of(body: &IssueBody) -> Result<Principal, ApiError> {
    if body.name.is_empty() || body.name.len() > MAX_TEXT_LEN {
        return Err(ApiError::invalid(format!(
            "name: must be 1..={MAX_TEXT_LEN} bytes"
        )));
    }
    match (&body.role, &body.driver_id) {
        (Some(role), None) => Role::parse(role)
            .map(Principal::Console)
            .ok_or_else(|| ApiError::invalid("role: must be viewer, intake, dispatcher or admin")),
        (None, Some(d)) => {
            validate_id("driver_id", d).map_err(|e| ApiError::invalid(e.to_string()))?;
            Ok(Principal::Driver(d.clone()))
        }
        _ => Err(ApiError::invalid("give exactly one of role or driver_id")),
    }
}

pub async fn issue_token(State(app): AppState, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let who = authenticate(&app, &parts)?;
    require(&who, Action::Admin)?;
    let body: IssueBody = super::extract::read_json(&app, parts, body).await?;
    let issue = Issue {
        principal: principal_of(&body)?,
        name: body.name.clone(),
        ttl_ms: match body.ttl_s {
            Some(0) => return Err(ApiError::invalid("ttl_s: must be positive")),
            Some(s) => Some(s.saturating_mul(1000)),
            None => None,
        },
    };
    let app2 = app.clone();
    let by = who.id.clone();
    let (claims, token) = blocking(move || app2.auth.issue(&issue, &by)).await?;
    let mut answer = json!({
        "token": token,
        "id": claims.id,
        "name": body.name,
        "issued_ms": claims.issued_ms,
        "expires_ms": claims.expires_ms,
    });
    match claims.principal {
        Principal::Console(role) => answer["role"] = json!(role),
        Principal::Driver(d) => answer["driver_id"] = json!(d),
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

pub async fn revoke_token(
    State(app): AppState,
    Path(id): Path<String>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let (parts, _) = req.into_parts();
    let who = authenticate(&app, &parts)?;
    require(&who, Action::Admin)?;
    if !valid_field(&id) {
        return Err(ApiError::invalid("id: not a token id"));
    }
    let dir = app.auth.data_dir().to_path_buf();
    let rows = blocking(move || registry::read(&dir).map(|e| registry::rows(&e))).await?;
    let known = rows.iter().any(|r| r.id == id)
        || id == LEGACY_CONSOLE_ID
        || id.starts_with(LEGACY_DRIVER_PREFIX);
    if !known {
        return Err(ApiError::not_found(format!("token {id} not found")));
    }
    let (app2, id2, by) = (app.clone(), id.clone(), who.id.clone());
    blocking(move || app2.auth.revocations.revoke(&id2, &by)).await?;
    audit(&app, &who, "token.revoke", &id);
    Ok(Json(json!({ "id": id, "revoked": true })))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    limit: Option<String>,
    token_id: Option<String>,
}

pub async fn read_audit(
    State(app): AppState,
    query: Result<Query<AuditQuery>, QueryRejection>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let (parts, _) = req.into_parts();
    require(&authenticate(&app, &parts)?, Action::Admin)?;
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("invalid query: {e}")))?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::invalid("limit: must be an integer in 1..=1000"))?,
    };
    let dir = app.auth.data_dir().to_path_buf();
    let records = blocking(move || audit_log::tail(&dir, limit, q.token_id.as_deref())).await?;
    Ok(Json(json!({ "records": records })))
}
