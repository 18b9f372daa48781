//! Proof of delivery: `PUT /v1/orders/{id}/proof` stores a photo a driver took at a
//! stop, `GET /v1/orders/{id}/proof` serves it back (the console shows it in the
//! order's detail). The driver whose route holds (or held) the order may upload and
//! read it; console tokens read it (viewer) and upload it (dispatcher). The image is
//! recognised by its first bytes (JPEG, PNG, WebP), at most `limits.max_proof_bytes`,
//! and stored through the `Store` — durable before the 2xx, like every answer.

use super::extract::{audit, authenticate, require};
use crate::app::App;
use crate::auth::{Action, Claims, Principal};
use crate::error::ApiError;
use crate::orders::service;
use crate::telemetry;
use crate::time::now_ms;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dispatch_protocol::validate::validate_id;
use dispatch_protocol::{ErrorCode, Order};
use dispatch_storage::ProofRecord;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The image types accepted, as their magic bytes identify them.
pub const TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// The largest body a request to `path` may declare: the proof limit on the proof
/// endpoint (photos are larger than JSON bodies), the body limit elsewhere.
pub fn body_limit(app: &App, path: &str) -> u64 {
    let limits = &app.config.limits;
    let proof = path.starts_with("/v1/orders/") && path.ends_with("/proof");
    let limit = if proof {
        limits.max_proof_bytes.max(limits.max_body_bytes)
    } else {
        limits.max_body_bytes
    };
    limit as u64
}

/// The type of an image from its first bytes, if it is one we keep.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(TYPES[0])
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(TYPES[1])
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(TYPES[2])
    } else {
        None
    }
}

fn unsupported(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::UnsupportedMediaType, message)
}

fn too_large(limit: usize) -> ApiError {
    telemetry::limited("proof_size");
    ApiError::new(
        ErrorCode::TooLarge,
        format!("a proof image is at most {limit} bytes (limits.max_proof_bytes)"),
    )
}

/// The order `id`, if `who` may see its proof: a console token of at least `action`'s
/// role, or the driver the order is (or was) assigned to. 404 for an unknown order.
fn order_for(app: &App, who: &Claims, id: &str, action: Action) -> Result<Order, ApiError> {
    validate_id("id", id).map_err(|e| ApiError::invalid(e.to_string()))?;
    if matches!(who.principal, Principal::Console(_)) {
        require(who, action)?;
    }
    let order = service::find(app, id)?
        .ok_or_else(|| ApiError::not_found(format!("order {id} not found")))?;
    if let Principal::Driver(own) = &who.principal {
        if order.driver_id.as_deref() != Some(own.as_str()) {
            return Err(ApiError::new(
                ErrorCode::PermissionDenied,
                format!("order {id} is not on driver {own}'s route"),
            ));
        }
    }
    Ok(order)
}

/// A declared `Content-Type` must be one we keep (or say nothing about the image).
fn check_declared(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    let declared = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if declared == "application/octet-stream" || TYPES.contains(&declared.as_str()) {
        return Ok(Some(declared));
    }
    Err(unsupported(format!(
        "Content-Type {declared:?}: a proof is image/jpeg, image/png or image/webp"
    )))
}

/// The body, within `limits.http_body_timeout_ms` and `limits.max_proof_bytes`.
async fn read_image(app: &App, body: Body) -> Result<Vec<u8>, ApiError> {
    use http_body_util::{BodyExt, LengthLimitError, Limited};
    let limit = app.config.limits.max_proof_bytes;
    let timeout = Duration::from_millis(app.config.limits.http_body_timeout_ms);
    let read = Limited::new(body, limit).collect();
    let Ok(read) = tokio::time::timeout(timeout, read).await else {
        telemetry::limited("body_timeout");
        return Err(ApiError::new(
            ErrorCode::DeadlineExceeded,
            format!(
                "request body not received within {} ms",
                timeout.as_millis()
            ),
        ));
    };
    match read {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large(limit)),
        Err(e) => Err(ApiError::invalid(format!("cannot read request body: {e}"))),
    }
}

/// `PUT /v1/orders/{id}/proof`: 201 when it is the order's first proof, 200 when it
/// replaces one; the answer describes what was stored.
pub async fn put(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let who = authenticate(&app, &parts)?;
    order_for(&app, &who, &id, Action::AttachProof)?;
    let declared = check_declared(&parts.headers)?;
    let bytes = read_image(&app, body).await?;
    let content_type =
        sniff(&bytes).ok_or_else(|| unsupported("the body is not a JPEG, PNG or WebP image"))?;
    if let Some(d) = declared.filter(|d| d.starts_with("image/") && d != content_type) {
        return Err(unsupported(format!(
            "Content-Type says {d} but the body is {content_type}"
        )));
    }
    let record = ProofRecord {
        content_type: content_type.to_string(),
        stored_ms: now_ms(),
        uploaded_by: who.id.clone(),
        bytes,
    };
    let (len, stored_ms) = (record.bytes.len(), record.stored_ms);
    let (store, key) = (app.store.clone(), id.clone());
    let existed = tokio::task::spawn_blocking(move || {
        let existed = store.get_proof(&key)?.is_some();
        store.put_proof(&key, &record).map(|()| existed)
    })
    .await
    .map_err(|_| ApiError::internal("proof write task failed"))??;
    // Acknowledged means durable.
    app.commit.durable().await?;
    audit(&app, &who, "order.proof", &id);
    tracing::info!(order = %id, bytes = len, content_type, "proof of delivery stored");
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let body =
        json!({"order_id": id, "content_type": content_type, "bytes": len, "stored_ms": stored_ms});
    Ok((status, Json(body)).into_response())
}

/// `GET /v1/orders/{id}/proof`: the image as stored, with its type.
pub async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = req.into_parts();
    let who = authenticate(&app, &parts)?;
    order_for(&app, &who, &id, Action::Read)?;
    let (store, key) = (app.store.clone(), id.clone());
    let proof = tokio::task::spawn_blocking(move || store.get_proof(&key))
        .await
        .map_err(|_| ApiError::internal("proof read task failed"))??
        .ok_or_else(|| ApiError::not_found(format!("order {id} has no proof of delivery")))?;
    let stored = proof.stored_ms.to_string();
    Ok((
        [
            (header::CONTENT_TYPE, proof.content_type),
            (header::CACHE_CONTROL, "private, no-cache".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::HeaderName::from_static("x-proof-stored-ms"), stored),
        ],
        proof.bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn images_are_told_by_their_first_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nIHDR"), Some("image/png"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }
}
