//! `[roads]`: a road network for `GET /v1/route` and `POST /v1/matrix` (see
//! `net/roads.rs`), from a graph prepared by `dispatch roads build` or built from an
//! OpenStreetMap extract on the first start.

use super::validate::{check_float, check_ints, range};
use super::ConfigError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoadsConfig {
    /// The prepared graph's directory (`graph.bin`). Unset with `osm` set:
    /// `<data_dir>/roads`. Neither set (the default): no road network, and the road
    /// endpoints answer `failed_precondition`.
    pub graph: Option<PathBuf>,
    /// An OpenStreetMap PBF extract, built into `graph` when no valid prepared graph is
    /// there (a first start, or a damaged `graph.bin`).
    pub osm: Option<PathBuf>,
    /// A point farther than this from every road is off the network: 1 to 100,000 m.
    pub snap_radius_m: f64,
    /// Most points in one `POST /v1/matrix` (its answer has the square of it): 1 to
    /// 2,000.
    pub max_matrix_points: usize,
}

impl Default for RoadsConfig {
    fn default() -> Self {
        Self {
            graph: None,
            osm: None,
            snap_radius_m: dispatch_roads::DEFAULT_SNAP_RADIUS_M,
            max_matrix_points: 100,
        }
    }
}

impl RoadsConfig {
    /// Whether a road network is configured at all.
    pub fn enabled(&self) -> bool {
        self.graph.is_some() || self.osm.is_some()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check_float(
            "roads.snap_radius_m",
            self.snap_radius_m,
            (1.0, 100_000.0),
            false,
            "m",
        )?;
        check_ints(&[(
            "roads.max_matrix_points",
            self.max_matrix_points as u64,
            range(1, 2_000, "points"),
        )])
    }
}
