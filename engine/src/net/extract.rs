//! Request helpers shared by handlers: who is calling (bearer header or `?token=`),
//! and JSON bodies whose failures answer in the contract's error shape.

use crate::app::App;
use crate::auth::{Action, Claims, Principal, Refusal};
use crate::error::ApiError;
use crate::telemetry;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode, Uri};
use dispatch_protocol::ErrorCode;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The token of a request: `Authorization: Bearer <token>` or the `token` query parameter.
pub fn token_of(headers: &axum::http::HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().ok()?;
        let (scheme, token) = text.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    query_param(uri, "token")
}

/// One query parameter, percent-decoded.
pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let Query(q) = Query::<HashMap<String, String>>::try_from_uri(uri).ok()?;
    q.get(name).cloned()
}

/// The caller's claims, or 401 (missing, invalid, expired or revoked token). The
/// admission middleware leaves the claims it verified in the request's extensions, so
/// a token is checked once per request.
pub fn authenticate(app: &App, parts: &Parts) -> Result<Claims, ApiError> {
    if let Some(claims) = parts.extensions.get::<Claims>() {
        return Ok(claims.clone());
    }
    let token = token_of(&parts.headers, &parts.uri).ok_or(Refusal::Missing);
    token
        .and_then(|t| app.auth.verify(&t))
        .map_err(|why| ApiError::new(ErrorCode::Unauthenticated, why.message()))
}

/// 403 unless the caller is a console whose role may do `action`.
pub fn require(who: &Claims, action: Action) -> Result<(), ApiError> {
    match &who.principal {
        Principal::Console(role) if role.may(action) => Ok(()),
        Principal::Console(role) => Err(ApiError::new(
            ErrorCode::PermissionDenied,
            format!(
                "{} needs a console token of role {} or above; this one is {role}",
                action.describe(),
                action.needs()
            ),
        )),
        Principal::Driver(_) => Err(ApiError::new(
            ErrorCode::PermissionDenied,
            "this call needs a console token",
        )),
    }
}

/// Records a change made by `who` in the audit log.
pub fn audit(app: &App, who: &Claims, action: &str, target: &str) {
    app.auth
        .audit
        .record(&crate::auth::audit::Record::now(&who.id, action, target));
}

/// Parses a JSON body read under the configured body limit.
pub fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::TooLarge, "request body exceeds the limit")
        } else {
            ApiError::invalid(format!("cannot read request body: {rejection}"))
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

/// Reads and parses the JSON body of a request already authenticated from its parts:
/// within `limits.http_body_timeout_ms` of the head (else 408 `deadline_exceeded`)
/// and under the body limit (else 413).
pub async fn read_json<T: DeserializeOwned>(
    app: &Arc<App>,
    parts: axum::http::request::Parts,
    body: axum::body::Body,
) -> Result<T, ApiError> {
    let read = <Bytes as axum::extract::FromRequest<Arc<App>>>::from_request(
        Request::from_parts(parts, body),
        app,
    );
    let limit = Duration::from_millis(app.config.limits.http_body_timeout_ms);
    let Ok(bytes) = tokio::time::timeout(limit, read).await else {
        telemetry::limited("body_timeout");
        return Err(ApiError::new(
            ErrorCode::DeadlineExceeded,
            format!("request body not received within {} ms", limit.as_millis()),
        ));
    };
    json_body(bytes)
}
