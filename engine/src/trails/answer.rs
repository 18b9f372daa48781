//! The answers of `GET /v1/drivers/{id}/trail` (pure): JSON points, or a GeoJSON
//! Feature whose geometry is the LineString of the points (`null` with fewer than two
//! points: a LineString needs two, RFC 7946 §3.1.4) and whose properties carry the
//! times.

use dispatch_storage::TrailPointRecord;
use serde_json::{json, Value};

/// What one answer covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Trail<'a> {
    pub driver_id: &'a str,
    pub from_ms: u64,
    pub to_ms: u64,
    /// Oldest first.
    pub points: &'a [TrailPointRecord],
    /// Where the next page starts when the answer hit its limit.
    pub next_from_ms: Option<u64>,
}

/// `{"driver_id","from_ms","to_ms","points":[{"ts_ms","lat","lon"}],"next_from_ms"?}`.
pub fn json(t: &Trail<'_>) -> Value {
    let points: Vec<Value> = t
        .points
        .iter()
        .map(|p| json!({"ts_ms": p.ts_ms, "lat": p.lat, "lon": p.lon}))
        .collect();
    let mut v = json!({
        "driver_id": t.driver_id,
        "from_ms": t.from_ms,
        "to_ms": t.to_ms,
        "points": points,
    });
    if let Some(next) = t.next_from_ms {
        v["next_from_ms"] = json!(next);
    }
    v
}

/// A GeoJSON Feature: LineString of `[lon, lat]` positions, times in `properties`.
pub fn geojson(t: &Trail<'_>) -> Value {
    let geometry = if t.points.len() >= 2 {
        let coordinates: Vec<[f64; 2]> = t.points.iter().map(|p| [p.lon, p.lat]).collect();
        json!({"type": "LineString", "coordinates": coordinates})
    } else {
        Value::Null
    };
    let times: Vec<u64> = t.points.iter().map(|p| p.ts_ms).collect();
    let mut properties = json!({
        "driver_id": t.driver_id,
        "from_ms": t.from_ms,
        "to_ms": t.to_ms,
        "times_ms": times,
    });
    if let Some(next) = t.next_from_ms {
        properties["next_from_ms"] = json!(next);
    }
    json!({"type": "Feature", "geometry": geometry, "properties": properties})
}

#[cfg(test)]
mod tests {
    use super::{geojson, json, Trail};
    use dispatch_storage::TrailPointRecord;

    fn trail(points: &[TrailPointRecord]) -> Trail<'_> {
        Trail {
            driver_id: "d1",
            from_ms: 0,
            to_ms: 10,
            points,
            next_from_ms: None,
        }
    }

    #[test]
    fn geojson_is_a_linestring_of_lon_lat() {
        let pts = [
            TrailPointRecord {
                ts_ms: 1,
                lat: 60.0,
                lon: 24.0,
            },
            TrailPointRecord {
                ts_ms: 2,
                lat: 60.1,
                lon: 24.1,
            },
        ];
        let g = geojson(&trail(&pts));
        assert_eq!(g["type"], "Feature");
        assert_eq!(g["geometry"]["type"], "LineString");
        assert_eq!(g["geometry"]["coordinates"][1][0], 24.1);
        assert_eq!(g["geometry"]["coordinates"][1][1], 60.1);
        assert_eq!(g["properties"]["times_ms"], serde_json::json!([1, 2]));
        assert!(geojson(&trail(&pts[..1]))["geometry"].is_null());
        let j = json(&trail(&pts));
        assert_eq!(j["points"][0]["ts_ms"], 1);
        assert!(j.get("next_from_ms").is_none());
    }
}
