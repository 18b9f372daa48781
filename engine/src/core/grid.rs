//! The region grid: the service area is cut into square cells of `cell_deg` degrees,
//! each owned by one region actor, created on demand.

use super::geo_util::haversine_m;
use serde::Serialize;
use std::fmt;

/// A cell of the grid, by integer row and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RegionKey {
    pub row: i32,
    pub col: i32,
}

impl RegionKey {
    /// The eight cells around this one.
    pub fn neighbours(self) -> impl Iterator<Item = RegionKey> {
        (-1..=1).flat_map(move |dr| {
            (-1..=1)
                .filter(move |&dc| dr != 0 || dc != 0)
                .map(move |dc| RegionKey {
                    row: self.row + dr,
                    col: self.col + dc,
                })
        })
    }
}

impl fmt::Display for RegionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}c{}", self.row, self.col)
    }
}

/// Maps positions to cells and measures how far a point is from a cell.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    cell_deg: f64,
}

/// A cell's extent in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellBounds {
    pub min_lat: f64,
    pub min_lon: f64,
    pub max_lat: f64,
    pub max_lon: f64,
}

impl Grid {
    /// `cell_deg` must be in (0, 90]; the config validates it.
    pub fn new(cell_deg: f64) -> Self {
        Self { cell_deg }
    }

    pub fn key(&self, lat: f64, lon: f64) -> RegionKey {
        // Coordinates are validated (|lat| ≤ 90, |lon| ≤ 180) and cell_deg ≥ 1e-4, so
        // the quotients fit an i32 comfortably.
        let row = (lat / self.cell_deg).floor();
        let col = (lon / self.cell_deg).floor();
        RegionKey {
            row: row as i32,
            col: col as i32,
        }
    }

    pub fn bounds(&self, key: RegionKey) -> CellBounds {
        let min_lat = f64::from(key.row) * self.cell_deg;
        let min_lon = f64::from(key.col) * self.cell_deg;
        CellBounds {
            min_lat,
            min_lon,
            max_lat: min_lat + self.cell_deg,
            max_lon: min_lon + self.cell_deg,
        }
    }

    pub fn center_lat(&self, key: RegionKey) -> f64 {
        let b = self.bounds(key);
        (b.min_lat + b.max_lat) / 2.0
    }

    /// A lower bound of the distance in metres from a point to any point of the cell:
    /// the haversine distance to the clamped point, less 2 % for the small difference
    /// between a clamped lat/lon box and the true spherical nearest point.
    pub fn min_distance_m(&self, key: RegionKey, lat: f64, lon: f64) -> f64 {
        let b = self.bounds(key);
        let clat = lat.clamp(b.min_lat, b.max_lat);
        let clon = lon.clamp(b.min_lon, b.max_lon);
        if clat == lat && clon == lon {
            return 0.0;
        }
        haversine_m(lat, lon, clat, clon) * 0.98
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_bounds_agree() {
        let g = Grid::new(0.05);
        for (lat, lon) in [(60.17, 24.94), (-33.9, 151.2), (0.0, 0.0), (-0.01, -0.01)] {
            let k = g.key(lat, lon);
            let b = g.bounds(k);
            assert!(b.min_lat <= lat && lat <= b.max_lat, "{lat} {b:?}");
            assert!(b.min_lon <= lon && lon <= b.max_lon, "{lon} {b:?}");
            assert_eq!(g.min_distance_m(k, lat, lon), 0.0);
        }
    }

    #[test]
    fn min_distance_is_a_lower_bound() {
        let g = Grid::new(0.05);
        let k = g.key(60.17, 24.94);
        let b = g.bounds(k);
        let (lat, lon) = (b.max_lat + 0.03, b.max_lon + 0.02);
        let lower = g.min_distance_m(k, lat, lon);
        for i in 0..=10 {
            for j in 0..=10 {
                let plat = b.min_lat + (b.max_lat - b.min_lat) * f64::from(i) / 10.0;
                let plon = b.min_lon + (b.max_lon - b.min_lon) * f64::from(j) / 10.0;
                assert!(haversine_m(lat, lon, plat, plon) >= lower);
            }
        }
    }
}
