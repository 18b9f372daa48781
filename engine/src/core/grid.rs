//! The region grid: the service area is cut into square cells of `cell_deg` degrees,
//! each owned by one region actor, created on demand.

use super::geo_util::{haversine_m, near_lon};
use serde::Serialize;
use std::fmt;

/// A cell of the grid, by integer row and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RegionKey {
    pub row: i32,
    pub col: i32,
}

/// The widest ring of cells a search looks at (a candidate radius far above the cell
/// size would otherwise visit thousands of cells).
pub const MAX_RINGS: i32 = 64;

impl RegionKey {
    /// The eight cells around this one.
    pub fn neighbours(self) -> impl Iterator<Item = RegionKey> {
        self.ring(1)
    }

    /// The cells at Chebyshev distance `r` from this one: the 8·r cells of the square
    /// ring `r` (this cell alone for r = 0).
    pub fn ring(self, r: i32) -> impl Iterator<Item = RegionKey> {
        (-r..=r).flat_map(move |dr| {
            (-r..=r)
                .filter(move |&dc| dr.abs() == r || dc.abs() == r)
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
        self.wrap(RegionKey {
            row: row as i32,
            col: col as i32,
        })
        .expect("a validated coordinate lies on the grid")
    }

    /// The cell a key names on the globe: columns wrap around the antimeridian (a ring
    /// of cells east of 180° continues at -180°, and 180° itself is -180°); rows beyond
    /// a pole name no cell (`None`).
    pub fn wrap(&self, key: RegionKey) -> Option<RegionKey> {
        let first_col = (-180.0 / self.cell_deg).floor() as i32;
        let cols = (360.0 / self.cell_deg).round() as i32;
        let last_row = (90.0 / self.cell_deg).floor() as i32;
        if key.row < -last_row - 1 || key.row > last_row {
            return None;
        }
        Some(RegionKey {
            row: key.row,
            col: (key.col - first_col).rem_euclid(cols.max(1)) + first_col,
        })
    }

    /// The cells of ring `r` around `key` (see [`RegionKey::ring`]) as they lie on the
    /// globe: wrapped across the antimeridian, none beyond a pole, none twice.
    pub fn ring(&self, key: RegionKey, r: i32) -> Vec<RegionKey> {
        let mut cells: Vec<RegionKey> = key.ring(r).filter_map(|k| self.wrap(k)).collect();
        cells.sort_unstable();
        cells.dedup();
        cells
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

    /// The cell's centre `(lat, lon)`.
    pub fn center(&self, key: RegionKey) -> (f64, f64) {
        let b = self.bounds(key);
        ((b.min_lat + b.max_lat) / 2.0, (b.min_lon + b.max_lon) / 2.0)
    }

    /// How many rings of cells around `key` can hold a point within `radius_m` of some
    /// point of `key` (at least 1, at most `MAX_RINGS`): the radius over the cell's
    /// shorter side, measured at its poleward edge where the cell is narrowest.
    pub fn rings_within(&self, key: RegionKey, radius_m: f64) -> i32 {
        let b = self.bounds(key);
        let poleward = b.min_lat.abs().max(b.max_lat.abs()).min(89.9);
        let width_m = self.cell_deg * 111_320.0 * poleward.to_radians().cos();
        let height_m = self.cell_deg * 110_574.0;
        let side = width_m.min(height_m).max(1.0);
        ((radius_m / side).ceil() as i32).clamp(1, MAX_RINGS)
    }

    /// A lower bound of the distance in metres from a point to any point of the cell:
    /// the haversine distance to the clamped point, less 2 % for the small difference
    /// between a clamped lat/lon box and the true spherical nearest point.
    pub fn min_distance_m(&self, key: RegionKey, lat: f64, lon: f64) -> f64 {
        let b = self.bounds(key);
        // The point's longitude on the cell's side of the antimeridian, so the clamp
        // finds the near edge rather than the far one.
        let lon = near_lon(lon, (b.min_lon + b.max_lon) / 2.0);
        let clat = lat.clamp(b.min_lat, b.max_lat);
        let clon = lon.clamp(b.min_lon, b.max_lon);
        if clat == lat && clon == lon {
            return 0.0;
        }
        haversine_m(lat, lon, clat, clon) * 0.98
    }

    /// A lower bound of the distance in metres from a point to any point outside the
    /// square of cells within `r` rings of `home` (the point's own cell): no path
    /// leaves the square without crossing its edges, two parallels (at least the
    /// latitude difference away) and two meridians (at least the distance to their
    /// great circle, `asin(cos φ · |sin Δλ|)`). `None` when the square is not such a
    /// plain box on the globe — it would cross the antimeridian (its keys would wrap)
    /// or come within half a degree of a pole — so the caller looks at every cell
    /// instead. Shrunk by 1e-9 for rounding, so it stays below the haversine distance
    /// of a point on the edge.
    pub fn outside_lower_bound_m(
        &self,
        home: RegionKey,
        r: i32,
        lat: f64,
        lon: f64,
    ) -> Option<f64> {
        let first_col = (-180.0 / self.cell_deg).floor() as i32;
        let last_col = first_col + (360.0 / self.cell_deg).round() as i32 - 1;
        if home.col - r < first_col || home.col + r > last_col {
            return None;
        }
        let south = f64::from(home.row - r) * self.cell_deg;
        let north = f64::from(home.row + r + 1) * self.cell_deg;
        let west = f64::from(home.col - r) * self.cell_deg;
        let east = f64::from(home.col + r + 1) * self.cell_deg;
        if south < -89.5 || north > 89.5 || !(south..=north).contains(&lat) {
            return None;
        }
        let lon = near_lon(lon, (west + east) / 2.0);
        if !(west..=east).contains(&lon) {
            return None;
        }
        let cos_lat = lat.to_radians().cos();
        let to_meridian = |m: f64| {
            (cos_lat * (lon - m).to_radians().sin().abs())
                .min(1.0)
                .asin()
        };
        let radians = (lat - south)
            .min(north - lat)
            .to_radians()
            .min(to_meridian(west))
            .min(to_meridian(east));
        Some(radians * EARTH_RADIUS_M * (1.0 - 1e-9))
    }
}

/// The sphere `haversine_m` measures on (GRS80 mean radius).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rings_hold_every_cell_once() {
        let k = RegionKey { row: 10, col: -3 };
        assert_eq!(k.ring(0).collect::<Vec<_>>(), vec![k]);
        let mut seen = std::collections::HashSet::new();
        for r in 0..=4 {
            let ring: Vec<_> = k.ring(r).collect();
            assert_eq!(ring.len(), if r == 0 { 1 } else { 8 * r as usize });
            for c in ring {
                assert_eq!((c.row - k.row).abs().max((c.col - k.col).abs()), r);
                assert!(seen.insert(c), "{c} twice");
            }
        }
        assert_eq!(seen.len(), 81);
        assert_eq!(k.neighbours().count(), 8);
    }

    #[test]
    fn rings_cover_the_radius() {
        let g = Grid::new(0.05);
        let hel = g.key(60.17, 24.94);
        // 0.05° of longitude at 60.2° N is about 2.77 km: 15 km needs 6 rings.
        assert_eq!(g.rings_within(hel, 15_000.0), 6);
        assert_eq!(g.rings_within(hel, 100.0), 1);
        assert_eq!(g.rings_within(hel, 1e9), MAX_RINGS);
        // At the equator the cell is 5.5 km either way.
        let eq = g.key(0.01, 10.0);
        assert_eq!(g.rings_within(eq, 15_000.0), 3);
    }

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
    fn cells_wrap_around_the_antimeridian_and_stop_at_the_poles() {
        let g = Grid::new(0.05);
        let east = g.key(10.0, 179.99);
        let west = g.key(10.0, -179.99);
        assert_eq!(g.key(10.0, 180.0), g.key(10.0, -180.0));
        // The first ring around the easternmost cell holds the westernmost one.
        assert!(g.ring(east, 1).contains(&west), "{:?}", g.ring(east, 1));
        assert!(g.ring(west, 1).contains(&east));
        // A point 1 km east of the antimeridian is about 1 km from the cell west of it.
        let d = g.min_distance_m(east, 10.0, -179.99);
        assert!(d < 1_500.0, "{d}");
        // Around the pole's cell there is nothing beyond it.
        let pole = g.key(90.0, 0.0);
        assert!(g.ring(pole, 1).iter().all(|k| k.row <= pole.row));
        assert_eq!(g.ring(pole, 1).len(), 5);
        assert!(g
            .wrap(RegionKey {
                row: pole.row + 1,
                col: 0
            })
            .is_none());
    }

    proptest! {
        /// Every point outside the square of rings is at least the bound away, and
        /// the bound is tight to within a cell (a point just outside an edge is
        /// about that far).
        #[test]
        fn outside_lower_bound_holds(
            lat in -88.0f64..88.0,
            lon in -180.0f64..180.0,
            r in 0i32..4,
            far in prop::collection::vec((-89.9f64..89.9, -180.0f64..180.0), 50),
            near in prop::collection::vec((-0.5f64..0.5, -0.5f64..0.5), 50),
            cell in prop::sample::select(vec![0.05, 0.01, 0.2, 1.0]),
        ) {
            let g = Grid::new(cell);
            let home = g.key(lat, lon);
            let Some(bound) = g.outside_lower_bound_m(home, r, lat, lon) else {
                // Only a square that wraps or nears a pole has none.
                let rows = (f64::from(home.row - r) * cell, f64::from(home.row + r + 1) * cell);
                let wraps = g.wrap(RegionKey { row: home.row, col: home.col - r }).map(|k| k.col) != Some(home.col - r)
                    || g.wrap(RegionKey { row: home.row, col: home.col + r }).map(|k| k.col) != Some(home.col + r);
                prop_assert!(wraps || rows.0 < -89.5 || rows.1 > 89.5);
                return Ok(());
            };
            let inside = |plat: f64, plon: f64| {
                let k = g.key(plat, plon);
                (k.row - home.row).abs() <= r && (k.col - home.col).abs() <= r
            };
            let near = near.iter().map(|(a, b)| (lat + a * cell * f64::from(2 * r + 2), lon + b * cell * f64::from(2 * r + 2)));
            for (plat, plon) in far.iter().copied().chain(near) {
                if !(-90.0..=90.0).contains(&plat) {
                    continue;
                }
                let plon = if plon >= 180.0 { plon - 360.0 } else if plon < -180.0 { plon + 360.0 } else { plon };
                if inside(plat, plon) {
                    continue;
                }
                let d = haversine_m(lat, lon, plat, plon);
                prop_assert!(d >= bound, "({plat}, {plon}) at {d} m, bound {bound} m");
            }
            prop_assert!(bound <= cell * f64::from(r + 1) * 111_200.0, "{bound}");
        }
    }

    #[test]
    fn outside_lower_bound_is_the_nearest_edge() {
        let g = Grid::new(0.05);
        // 10 m north of the southern edge of its cell, in the middle of its columns.
        let home = g.key(60.1504, 24.925);
        let lat = 60.15 + 10.0 / 111_195.0;
        let d = g.outside_lower_bound_m(home, 0, lat, 24.925).unwrap();
        assert!((d - 10.0).abs() < 0.01, "{d}");
        // One ring out the square reaches 0.05° further in every direction: now the
        // meridians 0.075° east and west are nearer (at 60° N) than the southern edge.
        let d1 = g.outside_lower_bound_m(home, 1, lat, 24.925).unwrap();
        assert!((d1 - 4_150.88).abs() < 0.01, "{d1}");
        assert!(d1 < haversine_m(lat, 24.925, lat, 24.85));
        // Squares that would wrap around the antimeridian or touch a pole have none.
        let east = g.key(10.0, 179.99);
        assert!(g.outside_lower_bound_m(east, 0, 10.0, 179.99).is_some());
        assert!(g.outside_lower_bound_m(east, 1, 10.0, 179.99).is_none());
        let north = g.key(89.3, 0.0);
        assert!(g.outside_lower_bound_m(north, 0, 89.3, 0.0).is_some());
        assert!(g.outside_lower_bound_m(north, 6, 89.3, 0.0).is_none());
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
