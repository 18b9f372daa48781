//! `GET /v1/route` (like OSRM's `route` service) and `POST /v1/matrix` (like its
//! `table`) over the road network of `[roads]` (see `road_network.rs`). Without one
//! configured they answer `failed_precondition`.

use super::extract::{authenticate, read_json, require};
use crate::app::App;
use crate::auth::Action;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::Json;
use dispatch_protocol::{validate_coords, ErrorCode};
use dispatch_roads::{Answer, RoadNetwork};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Encoded polylines carry 5 decimals (Google's algorithm, OSRM's default).
const POLYLINE_PRECISION: u32 = 5;

fn network(app: &App) -> Result<&RoadNetwork, ApiError> {
    app.roads.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::FailedPrecondition,
            "no road network: set [roads] osm or graph in the configuration",
        )
    })
}

/// `lat,lon` as one query value.
fn point(name: &str, v: Option<&str>) -> Result<[f64; 2], ApiError> {
    let v = v.ok_or_else(|| ApiError::invalid(format!("{name} is required (lat,lon)")))?;
    let bad = || ApiError::invalid(format!("{name}: expected lat,lon in degrees"));
    let (lat, lon) = v.split_once(',').ok_or_else(bad)?;
    let (lat, lon) = (
        lat.trim().parse::<f64>().map_err(|_| bad())?,
        lon.trim().parse::<f64>().map_err(|_| bad())?,
    );
    validate_coords(lat, lon).map_err(|e| ApiError::invalid(format!("{name}: {e}")))?;
    Ok([lat, lon])
}

/// `GET /v1/route?from=lat,lon&to=lat,lon[&geometry=false]`: the fastest road route's
/// duration, distance and (unless `geometry=false`) its encoded polyline.
pub async fn route(State(app): State<Arc<App>>, req: Request) -> Result<Json<Value>, ApiError> {
    let (parts, _) = req.into_parts();
    require(&authenticate(&app, &parts)?, Action::Read)?;
    let net = network(&app)?;
    let query = parts.uri.query().unwrap_or("");
    let mut from = None;
    let mut to = None;
    let mut geometry = true;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "from" => from = Some(value),
            "to" => to = Some(value),
            "geometry" => {
                geometry = match &*value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(ApiError::invalid("geometry: true or false")),
                }
            }
            _ => {}
        }
    }
    let from = point("from", from.as_deref())?;
    let to = point("to", to.as_deref())?;
    match net.route(from, to, geometry) {
        Answer::Route(r) => {
            let mut body = json!({"duration_s": r.duration_s, "distance_m": r.distance_m});
            if geometry {
                body["geometry"] = json!(r.polyline());
                body["geometry_precision"] = json!(POLYLINE_PRECISION);
            }
            Ok(Json(body))
        }
        Answer::OffNetwork { start } => Err(ApiError::invalid(format!(
            "{}: no road within {} m",
            if start { "from" } else { "to" },
            app.config.roads.snap_radius_m
        ))),
        Answer::NoPath => Err(ApiError::not_found("no road path joins the two points")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixRequest {
    points: Vec<LatLon>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatLon {
    lat: f64,
    lon: f64,
}

/// `POST /v1/matrix` with `{"points": [{"lat", "lon"}, …]}`: the durations (s) and
/// distances (m) of the fastest road routes between every pair, row = from, column =
/// to; `null` where a point is off the network. At most `roads.max_matrix_points`.
pub async fn matrix(State(app): State<Arc<App>>, req: Request) -> Result<Json<Value>, ApiError> {
    let (parts, body) = req.into_parts();
    require(&authenticate(&app, &parts)?, Action::Read)?;
    network(&app)?;
    let m: MatrixRequest = read_json(&app, parts, body).await?;
    let max = app.config.roads.max_matrix_points;
    if m.points.len() > max {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "{} points: at most {max} (roads.max_matrix_points)",
                m.points.len()
            ),
        ));
    }
    let mut points = Vec::with_capacity(m.points.len());
    for (i, p) in m.points.iter().enumerate() {
        validate_coords(p.lat, p.lon)
            .map_err(|e| ApiError::invalid(format!("points[{i}]: {e}")))?;
        points.push([p.lat, p.lon]);
    }
    let n = points.len();
    // A large matrix takes milliseconds: off the async threads.
    let worker = app.clone();
    let cells = tokio::task::spawn_blocking(move || network(&worker).map(|n| n.matrix(&points)))
        .await
        .map_err(|_| ApiError::internal("matrix computation failed"))??;
    let rows = |f: fn(&(f64, f64)) -> f64| -> Vec<Vec<Option<f64>>> {
        cells
            .chunks(n.max(1))
            .map(|row| row.iter().map(|c| c.as_ref().map(f)).collect())
            .collect()
    };
    Ok(Json(json!({
        "durations_s": rows(|c| c.0),
        "distances_m": rows(|c| c.1),
    })))
}
