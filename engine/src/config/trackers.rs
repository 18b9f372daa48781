//! `[trackers]` (phone tracker apps speaking the OsmAnd protocol or Traccar Client's
//! JSON, see `net/trackers.rs`) and `[trails]` (the position history kept per driver,
//! see `trails/`).

use super::validate::{check_float, check_ints, range, MS};
use super::ConfigError;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// A second listener for tracker apps, which are usually pointed at a bare
    /// `http://host:5055` (Traccar's port): every path there is the tracker endpoint.
    /// Unset (the default): trackers use `/v1/trackers/osmand` on the main listener only.
    pub listen: Option<SocketAddr>,
    /// How far in the future a tracker's fix time may lie (phone clocks drift); a later
    /// one is refused, since a driver never moves back in time and a fix from the
    /// future would freeze it: 0 to 86,400,000 ms.
    pub max_future_ms: u64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            listen: None,
            max_future_ms: 300_000,
        }
    }
}

impl TrackerConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check_ints(&[(
            "trackers.max_future_ms",
            self.max_future_ms,
            range(0, super::validate::DAY_MS, "ms"),
        )])
    }
}

/// The history of positions: every position a driver actor applies is offered to the
/// trail recorder, which keeps at most one point per `min_interval_ms` and
/// `min_distance_m`, writes them in batches and trims them by age and count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrailConfig {
    /// Keep trails at all; off, nothing is recorded and the trail endpoint answers empty.
    pub enabled: bool,
    /// Points older than this (by fix time) are dropped: 60 to 31,536,000 s (a year).
    pub retention_s: u64,
    /// The newest points kept per driver (the size bound; about 40 bytes a point on
    /// disk): 10 to 10,000,000.
    pub max_points_per_driver: u64,
    /// A point is kept only this long after the driver's previous kept one (fix time):
    /// 0 to 86,400,000 ms.
    pub min_interval_ms: u64,
    /// ... and only this far from it (a parked van adds no points): 0 to 100,000 m.
    pub min_distance_m: f64,
    /// How often the points waiting are written as one batch: 1 to 86,400,000 ms.
    pub write_ms: u64,
    /// How often old points are trimmed: 1 to 86,400,000 ms.
    pub trim_ms: u64,
    /// Most points one `GET /v1/drivers/{id}/trail` answers (`limit` up to this):
    /// 1 to 1,000,000.
    pub max_answer_points: u64,
}

impl Default for TrailConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            retention_s: 86_400,
            max_points_per_driver: 20_000,
            min_interval_ms: 5_000,
            min_distance_m: 10.0,
            write_ms: 1_000,
            trim_ms: 60_000,
            max_answer_points: 50_000,
        }
    }
}

impl TrailConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check_ints(&[
            (
                "trails.retention_s",
                self.retention_s,
                range(60, 31_536_000, "s"),
            ),
            (
                "trails.max_points_per_driver",
                self.max_points_per_driver,
                range(10, 10_000_000, "points"),
            ),
            (
                "trails.min_interval_ms",
                self.min_interval_ms,
                range(0, super::validate::DAY_MS, "ms"),
            ),
            ("trails.write_ms", self.write_ms, MS),
            ("trails.trim_ms", self.trim_ms, MS),
            (
                "trails.max_answer_points",
                self.max_answer_points,
                range(1, 1_000_000, "points"),
            ),
        ])?;
        check_float(
            "trails.min_distance_m",
            self.min_distance_m,
            (0.0, 100_000.0),
            false,
            "m",
        )
    }
}
