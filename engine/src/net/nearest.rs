//! `GET /v1/drivers/nearest`: the fleet's hottest read. The query string is parsed and
//! the answer written without serde's `Query` and `Value` detours, which cost more than
//! the search itself (docs/BENCHMARKS.md "Nearest against Redis and PostGIS").

use super::extract::{authenticate, require};
use crate::app::App;
use crate::auth::Action;
use crate::core::region_index::StatusFilter;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use dispatch_protocol::{validate_coords, DriverStatus};
use std::borrow::Cow;
use std::sync::Arc;

/// The query of `GET /v1/drivers/nearest`, borrowed from the URI where no
/// percent-decoding was needed.
#[derive(Debug, Default)]
struct NearestQuery<'a> {
    lat: Option<Cow<'a, str>>,
    lon: Option<Cow<'a, str>>,
    k: Option<Cow<'a, str>>,
    status: Option<Cow<'a, str>>,
    radius_m: Option<Cow<'a, str>>,
}

impl<'a> NearestQuery<'a> {
    /// Decoded as axum's `Query` would (`application/x-www-form-urlencoded`), other
    /// parameters (`token`) ignored, a parameter given twice refused; without
    /// `Query`'s serde machinery, which cost more than the search on this hot path.
    fn parse(uri: &'a Uri) -> Result<Self, ApiError> {
        let mut q = Self::default();
        for (name, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
            let field = match &*name {
                "lat" => &mut q.lat,
                "lon" => &mut q.lon,
                "k" => &mut q.k,
                "status" => &mut q.status,
                "radius_m" => &mut q.radius_m,
                _ => continue,
            };
            if field.replace(value).is_some() {
                return Err(ApiError::invalid(format!(
                    "invalid query: duplicate field `{name}`"
                )));
            }
        }
        Ok(q)
    }
}

fn parse_f64(name: &str, v: Option<&str>) -> Result<Option<f64>, ApiError> {
    v.map(|s| {
        s.parse::<f64>()
            .map_err(|_| ApiError::invalid(format!("{name}: not a number")))
    })
    .transpose()
}

pub async fn nearest(State(app): State<Arc<App>>, req: Request) -> Result<Response, ApiError> {
    let (parts, _) = req.into_parts();
    require(&authenticate(&app, &parts)?, Action::Read)?;
    let q = NearestQuery::parse(&parts.uri)?;
    let lat =
        parse_f64("lat", q.lat.as_deref())?.ok_or_else(|| ApiError::invalid("lat is required"))?;
    let lon =
        parse_f64("lon", q.lon.as_deref())?.ok_or_else(|| ApiError::invalid("lon is required"))?;
    validate_coords(lat, lon).map_err(|e| ApiError::invalid(e.to_string()))?;
    let k = match q.k.as_deref() {
        None => 10,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|k| (1..=100).contains(k))
            .ok_or_else(|| ApiError::invalid("k: must be an integer in 1..=100"))?,
    };
    let filter = match q.status.as_deref() {
        None => StatusFilter::Only(DriverStatus::Available),
        Some("any") => StatusFilter::Any,
        Some(s) => StatusFilter::Only(DriverStatus::parse(s).ok_or_else(|| {
            ApiError::invalid("status: must be any, available, offline or break")
        })?),
    };
    let radius_m = parse_f64("radius_m", q.radius_m.as_deref())?;
    if radius_m.is_some_and(|r| !r.is_finite() || r <= 0.0) {
        return Err(ApiError::invalid("radius_m: must be a positive number"));
    }
    let found = app.regions.nearest(lat, lon, k, filter, radius_m).await;
    Ok(json_response(
        &NearestAnswer { drivers: &found },
        96 * found.len(),
    ))
}

/// The answer of `GET /v1/drivers/nearest`.
#[derive(serde::Serialize)]
struct NearestAnswer<'a> {
    drivers: &'a [crate::core::region_index::Nearby],
}

/// A 200 with `value` as JSON, serialised straight into a body of about `size_hint`
/// bytes (no intermediate `serde_json::Value`, no regrowing).
fn json_response(value: &impl serde::Serialize, size_hint: usize) -> Response {
    let mut body = Vec::with_capacity(size_hint + 32);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => ApiError::internal(format!("cannot serialise the answer: {e}")).into_response(),
    }
}
