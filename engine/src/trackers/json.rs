//! The JSON body of the current Traccar Client (built on background-geolocation):
//! `device_id`, `location.timestamp` (ISO 8601), `location.coords.{latitude,
//! longitude, speed (m/s, −1 unknown), heading (−1 unknown), accuracy, altitude}`,
//! `location.battery.level` (0..1, −1 unknown). Everything else (`extras`,
//! `activity`, `odometer`, …) is accepted and ignored.

use super::{checked, timestamp, Fix, FixError};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Body {
    device_id: Option<Value>,
    location: Option<Location>,
}

#[derive(Deserialize)]
struct Location {
    timestamp: Option<Value>,
    coords: Option<Coords>,
    battery: Option<Battery>,
}

#[derive(Deserialize)]
struct Coords {
    latitude: Option<f64>,
    longitude: Option<f64>,
    speed: Option<f64>,
    heading: Option<f64>,
    accuracy: Option<f64>,
    altitude: Option<f64>,
}

#[derive(Deserialize)]
struct Battery {
    level: Option<f64>,
}

/// Decodes one Traccar Client JSON body.
pub fn decode_json(body: &[u8]) -> Result<Fix, FixError> {
    let body: Body = serde_json::from_slice(body)
        .map_err(|e| FixError::new("body", format!("not a Traccar Client JSON body: {e}")))?;
    let device = match body.device_id {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(FixError::new("device_id", "must be a string")),
        None => return Err(FixError::new("device_id", "missing")),
    };
    let location = body
        .location
        .ok_or_else(|| FixError::new("location", "missing"))?;
    let ts_ms = match location.timestamp {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(timestamp::parse(&s).map_err(|why| FixError::new("location.timestamp", why))?)
        }
        Some(Value::Number(n)) => Some(
            timestamp::parse(&n.to_string())
                .map_err(|why| FixError::new("location.timestamp", why))?,
        ),
        Some(_) => return Err(FixError::new("location.timestamp", "must be a string")),
    };
    let coords = location
        .coords
        .ok_or_else(|| FixError::new("location.coords", "missing"))?;
    let lat = coords
        .latitude
        .ok_or_else(|| FixError::new("location.coords.latitude", "missing"))?;
    let lon = coords
        .longitude
        .ok_or_else(|| FixError::new("location.coords.longitude", "missing"))?;
    // Negative speed, heading or battery level mean "unknown" to the app.
    let known = |v: Option<f64>| v.filter(|x| *x >= 0.0);
    checked(Fix {
        device,
        lat,
        lon,
        ts_ms,
        speed_mps: known(coords.speed),
        heading_deg: known(coords.heading),
        altitude_m: coords.altitude,
        accuracy_m: known(coords.accuracy),
        battery_pct: known(location.battery.and_then(|b| b.level)).map(|l| l * 100.0),
    })
}

#[cfg(test)]
mod tests {
    use super::decode_json;

    /// The bodies of Traccar's `OsmAndProtocolDecoderTest.testDecodeJson`, as sent.
    pub const TRACCAR_BODIES: &[&str] = &[
        r#"{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},"activity":{"type":"still"},"extras":{},"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}"#,
        r#"{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},"activity":{"type":"still"},"extras":{"device_string_test":"long_device_id","device_bool_test":true,"device_bool_false_test":false,"device_integer_test":1,"device_integer_twelve_test":12,"device_double_test":1.345,"device_very_long_double_test":1763636.3442},"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}"#,
        r#"{"location":{"extras":{},"mock":true,"coords":{"speed_accuracy":-1,"speed":-1,"longitude":-122.406417,"ellipsoidal_altitude":0,"floor":null,"heading_accuracy":-1,"latitude":37.785834000000001,"accuracy":5,"altitude_accuracy":-1,"altitude":0,"heading":-1},"is_moving":false,"age":188,"odometer":0,"uuid":"2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8","event":"motionchange","battery":{"level":-1,"is_charging":false},"activity":{"type":"unknown","confidence":100},"timestamp":"2025-05-09T04:11:30.579Z"},"device_id":"658765"}"#,
        r#"{"location":{"event":"motionchange","is_moving":false,"uuid":"0e9a2473-a9a7-4c00-997b-fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z","odometer":0,"coords":{"latitude":-6.1148096,"longitude":106.6837015,"accuracy":3.8,"speed":18.67,"speed_accuracy":0.26,"heading":63,"heading_accuracy":0.28,"altitude":35.7,"altitude_accuracy":3.8},"activity":{"type":"still","confidence":100},"battery":{"is_charging":false,"level":0.79},"extras":{}},"device_id":"8737767034"}"#,
    ];

    #[test]
    fn every_traccar_test_body_decodes() {
        for body in TRACCAR_BODIES {
            decode_json(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
        }
        let fix = decode_json(TRACCAR_BODIES[0].as_bytes()).unwrap();
        assert_eq!(fix.device, "48241179");
        assert_eq!((fix.lat, fix.lon), (37.4219983, -122.084));
        assert_eq!(fix.ts_ms, Some(1_749_995_112_862));
        assert_eq!((fix.speed_mps, fix.heading_deg), (Some(0.0), None));
        assert_eq!(fix.battery_pct, Some(100.0));
        let fix = decode_json(TRACCAR_BODIES[2].as_bytes()).unwrap();
        assert_eq!((fix.speed_mps, fix.battery_pct), (None, None));
        let fix = decode_json(TRACCAR_BODIES[3].as_bytes()).unwrap();
        assert_eq!((fix.speed_mps, fix.heading_deg), (Some(18.67), Some(63.0)));
        assert_eq!(fix.battery_pct, Some(79.0));
    }

    #[test]
    fn bad_bodies_name_the_field() {
        for (body, field) in [
            ("not json", "body"),
            ("[]", "body"),
            (r#"{"location":{}}"#, "device_id"),
            (r#"{"device_id":{},"location":{}}"#, "device_id"),
            (r#"{"device_id":"x"}"#, "location"),
            (
                r#"{"device_id":"x","location":{"timestamp":"2021-07-21T08:06:34.444Z"}}"#,
                "location.coords",
            ),
            (
                r#"{"device_id":"x","location":{"coords":{"longitude":1}}}"#,
                "location.coords.latitude",
            ),
            (
                r#"{"device_id":"x","location":{"coords":{"latitude":95,"longitude":1}}}"#,
                "lat",
            ),
            (
                r#"{"device_id":"x","location":{"timestamp":"soon","coords":{"latitude":1,"longitude":1}}}"#,
                "location.timestamp",
            ),
            (
                r#"{"device_id":"x","location":{"coords":{"latitude":"1","longitude":1}}}"#,
                "body",
            ),
        ] {
            let e = decode_json(body.as_bytes()).unwrap_err();
            assert_eq!(e.field, field, "{body}: {e}");
        }
    }
}
