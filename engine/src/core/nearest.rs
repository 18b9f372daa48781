//! The k nearest drivers over many regions: which cells to ask, in what order, when to
//! stop, and how their answers merge. Pure: the router runs it over the region actors'
//! shared indexes; tests and benches over plain [`RegionIndex`]es.
//!
//! Cells are visited ring by ring around the query's own cell. A cell that cannot hold a
//! driver nearer than the k-th answer so far (or within the radius) is skipped, every
//! other one is asked for its k nearest within that bound, and the search ends once no
//! cell outside the rings visited can be nearer ([`Grid::outside_lower_bound_m`]). Where
//! the rings would cross the antimeridian or near a pole, or fewer regions are left than
//! the next ring has cells, the regions left are asked in order of their distance
//! instead. The answers equal a brute-force haversine ranking over every region
//! (property-tested below).

use super::grid::{Grid, RegionKey};
use super::region_index::{Nearby, RegionIndex, StatusFilter};
use std::collections::HashMap;

/// One nearest query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Query {
    pub lat: f64,
    pub lon: f64,
    pub k: usize,
    pub filter: StatusFilter,
    pub radius_m: Option<f64>,
}

impl Query {
    /// This query answered by one region's index.
    pub fn ask(&self, index: &RegionIndex) -> Vec<Nearby> {
        index.nearest(self.lat, self.lon, self.k, self.filter, self.radius_m)
    }
}

/// A query and the answers of the regions asked so far.
#[derive(Debug)]
pub struct Search {
    query: Query,
    /// Every answer so far, nearest first (not cut to k: a driver reported by two
    /// regions during a hand-off keeps its newer report, wherever that ranks).
    found: Vec<Nearby>,
}

impl Search {
    pub fn new(query: Query) -> Self {
        Self {
            query,
            found: Vec::with_capacity(2 * query.k),
        }
    }

    /// How far an answer may still be: the radius, and the k-th answer once there are
    /// k (one as far may rank before it by id, so it still counts).
    pub fn bound(&self) -> Option<f64> {
        let k = self.query.k;
        let kth = (k > 0 && self.found.len() >= k).then(|| self.found[k - 1].distance_m);
        match (self.query.radius_m, kth) {
            (Some(r), Some(d)) => Some(r.min(d)),
            (r, d) => r.or(d),
        }
    }

    /// Whether a cell at least `min_d` metres away can hold no answer.
    pub fn excludes(&self, min_d: f64) -> bool {
        self.bound().is_some_and(|b| min_d > b)
    }

    /// What to ask the next region: its k nearest within the bound so far.
    pub fn next_query(&self) -> Query {
        Query {
            radius_m: self.bound(),
            ..self.query
        }
    }

    /// Adds a region's answers.
    pub fn merge(&mut self, answers: Vec<Nearby>) {
        if answers.is_empty() {
            return;
        }
        for n in answers {
            // During a hand-off a driver can briefly sit in two regions: keep the
            // newer report.
            match self.found.iter_mut().find(|have| have.id == n.id) {
                Some(have) if have.ts_ms >= n.ts_ms => {}
                Some(have) => *have = n,
                None => self.found.push(n),
            }
        }
        self.found
            .sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id)));
    }

    /// The k nearest, nearest first (ties by id).
    pub fn into_nearest(mut self) -> Vec<Nearby> {
        self.found.truncate(self.query.k);
        self.found
    }

    /// Asks every region of `cells` that may hold an answer: `ask(search, min_d,
    /// region)` is called with the region's lower-bound distance and is expected to
    /// [`merge`](Self::merge) its answer to [`next_query`](Self::next_query) (or to
    /// keep the region for later: skipping cells by a bound found without its answer is
    /// safe, since the bound only shrinks).
    pub fn visit<R>(
        &mut self,
        grid: &Grid,
        cells: &HashMap<RegionKey, R>,
        mut ask: impl FnMut(&mut Self, f64, &R),
    ) {
        let (lat, lon) = (self.query.lat, self.query.lon);
        let home = grid.key(lat, lon);
        let mut seen = 0;
        let mut r = 0;
        let mut ring: Vec<(f64, &R)> = Vec::new();
        while let Some(outside) = grid.outside_lower_bound_m(home, r, lat, lon) {
            ring.clear();
            ring.extend(home.ring(r).filter_map(|key| {
                cells
                    .get(&key)
                    .map(|region| (grid.min_distance_m(key, lat, lon), region))
            }));
            seen += ring.len();
            ring.sort_by(|a, b| a.0.total_cmp(&b.0));
            for &(min_d, region) in &ring {
                if !self.excludes(min_d) {
                    ask(self, min_d, region);
                }
            }
            if seen == cells.len() || self.excludes(outside) {
                return;
            }
            r += 1;
            if 8 * r as usize > cells.len() - seen {
                break;
            }
        }
        // The regions outside the rings visited (rings 0..r), nearest first.
        let inner = r - 1;
        let mut rest: Vec<(f64, &R)> = cells
            .iter()
            .filter(|(key, _)| (key.row - home.row).abs().max((key.col - home.col).abs()) > inner)
            .map(|(&key, region)| (grid.min_distance_m(key, lat, lon), region))
            .collect();
        rest.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (min_d, region) in rest {
            if !self.excludes(min_d) {
                ask(self, min_d, region);
            }
        }
    }
}

/// The k nearest over `cells` (each region's own index): what the router answers.
pub fn nearest(grid: &Grid, cells: &HashMap<RegionKey, RegionIndex>, query: Query) -> Vec<Nearby> {
    let mut search = Search::new(query);
    search.visit(grid, cells, |s, _, index| {
        let found = s.next_query().ask(index);
        s.merge(found);
    });
    search.into_nearest()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::geo_util::haversine_m;
    use crate::core::region_index::DriverPoint;
    use dispatch_protocol::DriverStatus;
    use proptest::prelude::*;

    /// Drivers in the regions of `grid` that hold them, and the same drivers as a list.
    fn fleet(
        grid: &Grid,
        points: &[(f64, f64, usize)],
    ) -> (HashMap<RegionKey, RegionIndex>, Vec<(String, DriverPoint)>) {
        let mut cells: HashMap<RegionKey, RegionIndex> = HashMap::new();
        let mut all = Vec::new();
        for (i, &(lat, lon, s)) in points.iter().enumerate() {
            let lon = if lon >= 180.0 { lon - 360.0 } else { lon };
            let p = DriverPoint {
                lat,
                lon,
                status: DriverStatus::ALL[s],
                ts_ms: 0,
            };
            let key = grid.key(lat, lon);
            let (clat, clon) = grid.center(key);
            let id = format!("d{i}");
            cells
                .entry(key)
                .or_insert_with(|| RegionIndex::new(clat, clon))
                .upsert(&id, p.clone());
            all.push((id, p));
        }
        (cells, all)
    }

    fn brute_force(all: &[(String, DriverPoint)], q: &Query) -> Vec<(f64, String)> {
        let mut want: Vec<(f64, String)> = all
            .iter()
            .filter(|(_, p)| q.filter.accepts(p.status))
            .map(|(id, p)| (haversine_m(q.lat, q.lon, p.lat, p.lon), id.clone()))
            .filter(|(d, _)| q.radius_m.is_none_or(|r| *d <= r))
            .collect();
        want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        want.truncate(q.k);
        want
    }

    fn check(grid: &Grid, points: &[(f64, f64, usize)], q: Query) -> Result<(), TestCaseError> {
        let (cells, all) = fleet(grid, points);
        let got = nearest(grid, &cells, q);
        let want = brute_force(&all, &q);
        prop_assert_eq!(got.len(), want.len(), "{:?}", q);
        for (g, w) in got.iter().zip(&want) {
            prop_assert!(
                (g.distance_m - w.0).abs() < 1e-6,
                "{} vs {} ({:?})",
                g.distance_m,
                w.0,
                q
            );
        }
        Ok(())
    }

    fn status_filter(any: bool) -> StatusFilter {
        if any {
            StatusFilter::Any
        } else {
            StatusFilter::Only(DriverStatus::Available)
        }
    }

    proptest! {
        /// Across many small cells (so answers cross borders), the search answers as a
        /// brute-force haversine scan over every driver would.
        #[test]
        fn nearest_over_regions_matches_brute_force(
            pts in prop::collection::vec((60.10f64..60.25, 24.80f64..25.05, 0usize..3), 0..300),
            q in (60.0f64..60.35, 24.6f64..25.2),
            k in 1usize..15,
            radius in prop::option::of(50.0f64..20_000.0),
            any in any::<bool>(),
            cell in prop::sample::select(vec![0.01, 0.02, 0.05]),
        ) {
            let grid = Grid::new(cell);
            let query = Query { lat: q.0, lon: q.1, k, filter: status_filter(any), radius_m: radius };
            check(&grid, &pts, query)?;
        }

        /// Across the antimeridian, where the rings give way to the ordered scan.
        #[test]
        fn nearest_across_the_antimeridian_matches_brute_force(
            pts in prop::collection::vec((59.95f64..60.05, 179.9f64..180.1, 0usize..3), 1..150),
            q in (59.95f64..60.05, 179.9f64..180.1),
            k in 1usize..12,
            any in any::<bool>(),
        ) {
            let grid = Grid::new(0.01);
            let lon = if q.1 >= 180.0 { q.1 - 360.0 } else { q.1 };
            let query = Query { lat: q.0, lon, k, filter: status_filter(any), radius_m: None };
            check(&grid, &pts, query)?;
        }

        /// A few clusters far apart: most cells are empty, so the search leaves the
        /// rings for the ordered scan early.
        #[test]
        fn nearest_over_sparse_clusters_matches_brute_force(
            centres in prop::collection::vec((40.0f64..70.0, -20.0f64..40.0), 1..5),
            pts in prop::collection::vec((0usize..5, -0.02f64..0.02, -0.02f64..0.02, 0usize..3), 1..80),
            q in (40.0f64..70.0, -20.0f64..40.0),
            k in 1usize..12,
            any in any::<bool>(),
        ) {
            let grid = Grid::new(0.05);
            let points: Vec<(f64, f64, usize)> = pts
                .iter()
                .map(|&(c, dlat, dlon, s)| {
                    let (lat, lon) = centres[c % centres.len()];
                    (lat + dlat, lon + dlon, s)
                })
                .collect();
            let query = Query { lat: q.0, lon: q.1, k, filter: status_filter(any), radius_m: None };
            check(&grid, &points, query)?;
        }
    }

    #[test]
    fn a_driver_in_two_regions_keeps_its_newer_report() {
        let grid = Grid::new(0.05);
        let mut cells: HashMap<RegionKey, RegionIndex> = HashMap::new();
        let mut put = |lat: f64, lon: f64, ts_ms: u64| {
            let key = grid.key(lat, lon);
            let (clat, clon) = grid.center(key);
            let p = DriverPoint {
                lat,
                lon,
                status: DriverStatus::Available,
                ts_ms,
            };
            cells
                .entry(key)
                .or_insert_with(|| RegionIndex::new(clat, clon))
                .upsert("x", p);
        };
        // Handed off east across a border; the old region has not removed it yet.
        put(60.17, 24.949, 1);
        put(60.17, 24.951, 2);
        let q = Query {
            lat: 60.17,
            lon: 24.949,
            k: 3,
            filter: StatusFilter::Any,
            radius_m: None,
        };
        let found = nearest(&grid, &cells, q);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].lon, found[0].ts_ms), (24.951, 2));
    }

    #[test]
    fn only_the_cells_that_can_hold_an_answer_are_asked() {
        let grid = Grid::new(0.05);
        // A driver every ~100 m over 5 × 5 cells around Helsinki.
        let mut pts = Vec::new();
        for i in 0..125 {
            for j in 0..125 {
                pts.push((
                    60.05 + f64::from(i) * 0.002,
                    24.80 + f64::from(j) * 0.002,
                    0,
                ));
            }
        }
        let (cells, _) = fleet(&grid, &pts);
        // In the middle of a cell: its own cell is enough.
        let (lat, lon) = grid.center(grid.key(60.17, 24.94));
        let mut asked = 0;
        let mut search = Search::new(Query {
            lat,
            lon,
            k: 10,
            filter: StatusFilter::Any,
            radius_m: None,
        });
        search.visit(&grid, &cells, |s, _, index| {
            asked += 1;
            let found = s.next_query().ask(index);
            s.merge(found);
        });
        assert_eq!(asked, 1);
        assert_eq!(search.into_nearest().len(), 10);
        // No driver of the status asked for: every region is asked, once.
        let mut asked = 0;
        let mut search = Search::new(Query {
            lat,
            lon,
            k: 10,
            filter: StatusFilter::Only(DriverStatus::Offline),
            radius_m: None,
        });
        search.visit(&grid, &cells, |s, _, index| {
            asked += 1;
            let found = s.next_query().ask(index);
            s.merge(found);
        });
        assert_eq!(asked, cells.len());
    }
}
