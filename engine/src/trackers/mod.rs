//! Phone tracker apps, decoded (pure: text in, a [`Fix`] or the reason out). Two
//! formats, as Traccar's `OsmAndProtocolDecoder` reads them:
//! - `osmand`: the OsmAnd protocol — query fields of a GET or POST, or, when the URL
//!   has none, the same fields form-encoded in the body (OsmAnd, the old Traccar
//!   Client, GPSLogger and most "custom URL" trackers);
//! - `traccar_json`: the JSON body the current Traccar Client posts
//!   (`{"device_id":…,"location":{"timestamp":…,"coords":{…}}}`).
//!
//! The HTTP side (who the device is, the position path) is `net/trackers.rs`.

mod json;
mod osmand;
pub mod timestamp;

use dispatch_protocol::Validate;

pub use json::decode_json;
pub use osmand::{decode_query, form_pairs};

/// Knots → metres per second (OsmAnd `speed` is in knots, as Traccar reads it).
pub const MPS_PER_KNOT: f64 = 1852.0 / 3600.0;

/// One position a tracker reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    /// What the app sent as its identifier (`id`, `deviceid` or `device_id`).
    pub device: String,
    pub lat: f64,
    pub lon: f64,
    /// When the fix was taken (ms since the epoch); `None` when the app sent no time
    /// (the engine then uses its own clock, as Traccar does).
    pub ts_ms: Option<u64>,
    /// Metres per second (converted from knots for OsmAnd).
    pub speed_mps: Option<f64>,
    /// Degrees clockwise from north.
    pub heading_deg: Option<f64>,
    pub altitude_m: Option<f64>,
    pub accuracy_m: Option<f64>,
    /// Battery level in percent.
    pub battery_pct: Option<f64>,
}

/// Why a request is not a fix; `field` names the offending field for the 400 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixError {
    pub field: String,
    pub why: String,
}

impl FixError {
    pub fn new(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            why: why.into(),
        }
    }
}

impl std::fmt::Display for FixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.why)
    }
}

/// The longest device identifier read (a driver token is about 100 bytes).
pub const MAX_DEVICE_LEN: usize = 512;

/// A finite number, or why not.
fn finite(field: &'static str, text: &str) -> Result<f64, FixError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| FixError::new(field, format!("{text:?} is not a number")))
}

/// Checks what every format shares: a device, coordinates in range, sane speed and
/// heading (the WebSocket `position` rules).
fn checked(fix: Fix) -> Result<Fix, FixError> {
    if fix.device.is_empty() {
        return Err(FixError::new("id", "must not be empty"));
    }
    if fix.device.len() > MAX_DEVICE_LEN {
        return Err(FixError::new(
            "id",
            format!("longer than {MAX_DEVICE_LEN} bytes"),
        ));
    }
    let as_position = dispatch_protocol::DriverMessage::Position {
        lat: fix.lat,
        lon: fix.lon,
        ts_ms: fix.ts_ms.unwrap_or(0),
        speed_mps: fix.speed_mps,
        heading_deg: fix.heading_deg,
    };
    as_position.validate().map_err(|e| {
        // The tracker's own names for the fields the WebSocket rules call otherwise.
        let field = match e.field.as_str() {
            "speed_mps" => "speed",
            "heading_deg" => "bearing",
            other => other,
        };
        FixError::new(field, e.reason)
    })?;
    Ok(fix)
}
