//! The planner's travel model on the road network: [`RoadTravel`] answers from the
//! graph and falls back to haversine × detour for points off the network (or pairs no
//! path joins), counting every fallback.

use crate::network::{Answer, RoadNetwork};
use dispatch_plan::travel::{Haversine, LatLon, Matrix, TravelModel};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Metric name of the fallback counter.
pub const FALLBACK_METRIC: &str = "dispatch_roads_fallback_total";

/// Road distances (metres) and durations (seconds) for the planner.
pub struct RoadTravel {
    network: Arc<RoadNetwork>,
    /// What answers where the network cannot.
    fallback: Haversine,
    /// Pairs answered by `fallback` since creation (also `dispatch_roads_fallback_total`).
    fallbacks: AtomicU64,
}

impl RoadTravel {
    pub fn new(network: Arc<RoadNetwork>, fallback: Haversine) -> RoadTravel {
        RoadTravel {
            network,
            fallback,
            fallbacks: AtomicU64::new(0),
        }
    }

    /// The network it answers from.
    pub fn network(&self) -> &RoadNetwork {
        &self.network
    }

    /// How many pairs the haversine fallback has answered.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    fn fall_back(&self, a: &LatLon, b: &LatLon) -> (f64, f64) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(FALLBACK_METRIC).increment(1);
        self.fallback.distance_duration(a, b)
    }

    /// The planner's matrix between `points`, one bucket many-to-many on the hierarchy;
    /// pairs the network cannot answer fall back (each counted).
    pub fn matrix(&self, points: &[LatLon]) -> Matrix {
        let n = points.len();
        let coords: Vec<[f64; 2]> = points.iter().map(|p| [p.lat, p.lon]).collect();
        let cells = self.network.matrix(&coords);
        let (mut dist, mut time) = (vec![0.0; n * n], vec![0.0; n * n]);
        for (k, cell) in cells.into_iter().enumerate() {
            let (i, j) = (k / n, k % n);
            let (d, t) = match cell {
                _ if i == j => (0.0, 0.0),
                Some((t, d)) => (d, t),
                None => self.fall_back(&points[i], &points[j]),
            };
            dist[k] = d;
            time[k] = t;
        }
        Matrix::from_vecs(n, dist, time).unwrap_or_else(|| Matrix::from_points(points, self))
    }
}

impl TravelModel for RoadTravel {
    type Point = LatLon;

    fn distance(&self, a: &LatLon, b: &LatLon) -> f64 {
        self.distance_duration(a, b).0
    }

    fn duration(&self, a: &LatLon, b: &LatLon) -> f64 {
        self.distance_duration(a, b).1
    }

    fn distance_duration(&self, a: &LatLon, b: &LatLon) -> (f64, f64) {
        match self.network.route([a.lat, a.lon], [b.lat, b.lon], false) {
            Answer::Route(r) => (r.distance_m, r.duration_s),
            Answer::OffNetwork { .. } | Answer::NoPath => self.fall_back(a, b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Edge, RoadGraph};

    /// A 4 × 4 grid of two-way streets, 0.001° apart, at 10 m/s; one one-way row.
    fn grid() -> Arc<RoadNetwork> {
        let at = |r: u32, c: u32| r * 4 + c;
        let coords = (0..16)
            .map(|v| {
                [
                    60.0 + f64::from(v / 4) * 1e-3,
                    24.0 + f64::from(v % 4) * 1e-3,
                ]
            })
            .collect::<Vec<_>>();
        let mut edges = Vec::new();
        let mut link = |a: u32, b: u32, both: bool| {
            let m = crate::graph::haversine_m(coords[a as usize], coords[b as usize]);
            let e = |from, to| Edge {
                from,
                to,
                time_ms: (m * 100.0) as u32,
                dist_mm: (m * 1000.0) as u32,
            };
            edges.push(e(a, b));
            if both {
                edges.push(e(b, a));
            }
        };
        for r in 0..4 {
            for c in 0..3 {
                link(at(r, c), at(r, c + 1), r != 0);
                link(at(c, r), at(c + 1, r), true);
            }
        }
        let g = RoadGraph::from_edges(coords, edges).unwrap();
        Arc::new(RoadNetwork::from_graph(g).unwrap())
    }

    fn p(lat: f64, lon: f64) -> LatLon {
        LatLon { lat, lon }
    }

    #[test]
    fn roads_answer_and_off_network_falls_back() {
        let travel = RoadTravel::new(grid(), Haversine::default());
        let (a, b) = (p(60.0, 24.0), p(60.0, 24.003));
        let (d_ab, t_ab) = travel.distance_duration(&a, &b);
        let (d_ba, t_ba) = travel.distance_duration(&b, &a);
        assert!((d_ab - 167.0).abs() < 2.0, "{d_ab}");
        assert!(t_ba > t_ab && d_ba > d_ab, "one-way row: {t_ab} {t_ba}");
        assert_eq!(travel.fallbacks(), 0);
        let far = p(61.0, 24.0);
        let (d, t) = travel.distance_duration(&a, &far);
        assert_eq!((d, t), Haversine::default().distance_duration(&a, &far));
        assert_eq!(travel.fallbacks(), 1);
        assert!(!travel.symmetric());
    }

    #[test]
    fn matrix_equals_pair_by_pair() {
        let travel = RoadTravel::new(grid(), Haversine::default());
        let pts = [
            p(60.0, 24.0005),
            p(60.0021, 24.0029),
            p(60.003, 24.001),
            p(59.0, 24.0),
        ];
        let m = travel.matrix(&pts);
        let fallbacks = travel.fallbacks();
        assert_eq!(fallbacks, 6, "the far point's pairs");
        let reference = Matrix::from_points(&pts, &travel);
        for i in 0..pts.len() {
            for j in 0..pts.len() {
                assert!(
                    (m.time(i, j) - reference.time(i, j)).abs() < 1e-9,
                    "{i} {j}"
                );
                assert!(
                    (m.dist(i, j) - reference.dist(i, j)).abs() < 1e-2,
                    "{i} {j}"
                );
            }
        }
    }

    #[test]
    fn no_path_falls_back() {
        // two islands, not reduced to one component: nothing joins them
        let coords = vec![[60.0, 24.0], [60.0, 24.001], [60.1, 24.0], [60.1, 24.001]];
        let e = |from, to| Edge {
            from,
            to,
            time_ms: 5000,
            dist_mm: 55_000,
        };
        let edges = vec![e(0, 1), e(1, 0), e(2, 3), e(3, 2)];
        let net = RoadNetwork::from_graph(RoadGraph::from_edges(coords, edges).unwrap()).unwrap();
        let (a, b) = ([60.0, 24.0005], [60.1, 24.0005]);
        assert_eq!(net.route(a, b, false), Answer::NoPath);
        assert_eq!(net.matrix(&[a, b])[1], None);
        let travel = RoadTravel::new(Arc::new(net), Haversine::default());
        let m = travel.matrix(&[p(a[0], a[1]), p(b[0], b[1])]);
        assert!(m.dist(0, 1) > 11_000.0);
        assert_eq!(travel.fallbacks(), 2);
        let empty = RoadGraph::from_edges(vec![[60.0, 24.0]], vec![]).unwrap();
        assert!(matches!(
            RoadNetwork::from_graph(empty),
            Err(crate::BuildError::NoRoads)
        ));
    }
}
