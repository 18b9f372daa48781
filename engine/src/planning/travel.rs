//! The live travel model: great-circle distance × a detour factor, or the road network
//! of `[roads]` (`travel.model = "roads"`), at a speed that depends on the hour of day.
//! The planner and every ETA use this one model, so a plan and the ETAs pushed with it
//! agree.
//!
//! On roads the edge speeds are free-flow speeds; the hourly profile scales them the
//! way it scales `speed_kmh` (a factor of 0.7 at 8:00 makes every leg 1/0.7 as long).
//! A point the network cannot reach (off every road, or no path) falls back to the
//! great-circle model at `speed_kmh`, counted in `dispatch_roads_fallback_total`.

use crate::config::{TravelConfig, TravelModelKind};
use crate::core::geo_util::haversine_m;
use dispatch_plan::travel::{Haversine, LatLon, Matrix, TravelModel};
use dispatch_protocol::Millis;
use dispatch_roads::{Answer, RoadNetwork, RoadTravel};
use std::sync::Arc;

#[derive(Clone)]
pub struct Travel {
    detour_factor: f64,
    /// `speed_kmh` in metres per second.
    base_mps: f64,
    /// Metres per second at each hour of the (configured local) day.
    speed_by_hour: [f64; 24],
    utc_offset_ms: i64,
    /// Set when the model is `roads`.
    roads: Option<Arc<RoadTravel>>,
}

impl std::fmt::Debug for Travel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Travel")
            .field("detour_factor", &self.detour_factor)
            .field("speed_by_hour", &self.speed_by_hour)
            .field("roads", &self.roads.is_some())
            .finish()
    }
}

impl Travel {
    /// The great-circle model of `c` (whatever `c.model` says).
    pub fn new(c: &TravelConfig) -> Self {
        let base = c.speed_kmh / 3.6;
        let mut speed_by_hour = [base; 24];
        for (h, s) in speed_by_hour.iter_mut().enumerate() {
            *s = base * c.hourly_speed_factor.get(h).copied().unwrap_or(1.0);
        }
        Self {
            detour_factor: c.detour_factor,
            base_mps: base,
            speed_by_hour,
            utc_offset_ms: c.utc_offset_min * 60_000,
            roads: None,
        }
    }

    /// The model `c.model` names: on `network` when it is `roads` (configuration
    /// validation makes sure a network is configured then).
    pub fn configured(c: &TravelConfig, network: Option<Arc<RoadNetwork>>) -> Self {
        let mut travel = Self::new(c);
        if c.model == TravelModelKind::Roads {
            travel.roads = network.map(|n| Arc::new(RoadTravel::new(n, travel.great_circle())));
        }
        travel
    }

    /// Whether distances and times follow the road network (the tests' view of it).
    #[cfg(test)]
    fn on_roads(&self) -> bool {
        self.roads.is_some()
    }

    fn great_circle(&self) -> Haversine {
        Haversine {
            detour_factor: self.detour_factor,
            speed_mps: self.base_mps,
        }
    }

    /// Speed in metres per second at a moment (the great-circle model's).
    pub fn speed_at(&self, at_ms: Millis) -> f64 {
        let local = at_ms as i64 + self.utc_offset_ms;
        let hour = local.rem_euclid(86_400_000) / 3_600_000;
        self.speed_by_hour[hour as usize]
    }

    /// How much longer than free flow a drive takes at a moment (1 / the hour's factor).
    fn slowdown(&self, at_ms: Millis) -> f64 {
        self.base_mps / self.speed_at(at_ms)
    }

    /// Driving distance in metres.
    pub fn distance_m(&self, a: (f64, f64), b: (f64, f64)) -> f64 {
        match &self.roads {
            Some(r) => r.distance(&latlon(a), &latlon(b)),
            None => haversine_m(a.0, a.1, b.0, b.1) * self.detour_factor,
        }
    }

    /// Travel time in seconds when leaving at `at_ms`.
    pub fn duration_s(&self, a: (f64, f64), b: (f64, f64), at_ms: Millis) -> f64 {
        match &self.roads {
            Some(r) => r.duration(&latlon(a), &latlon(b)) * self.slowdown(at_ms),
            None => self.distance_m(a, b) / self.speed_at(at_ms),
        }
    }

    /// On roads, the road path from `a` to `b` as an encoded polyline (precision 5);
    /// `None` without roads or when either end is off the network.
    pub fn path(&self, a: (f64, f64), b: (f64, f64)) -> Option<String> {
        match self
            .roads
            .as_ref()?
            .network()
            .route([a.0, a.1], [b.0, b.1], true)
        {
            Answer::Route(r) => Some(r.polyline()),
            Answer::OffNetwork { .. } | Answer::NoPath => None,
        }
    }

    /// The planner's distance and time matrix between `points` for problems built at
    /// `at_ms` (one hour's speed for the whole plan: live plans span minutes to a few
    /// hours). On roads: one bucket many-to-many search on the hierarchy.
    pub fn matrix(&self, points: &[LatLon], at_ms: Millis) -> Matrix {
        match &self.roads {
            Some(r) => r.matrix(points).with_time_scaled(self.slowdown(at_ms)),
            None => Matrix::from_points(
                points,
                &Haversine {
                    detour_factor: self.detour_factor,
                    speed_mps: self.speed_at(at_ms),
                },
            ),
        }
    }
}

fn latlon((lat, lon): (f64, f64)) -> LatLon {
    LatLon { lat, lon }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_profile_applies() {
        let mut c = TravelConfig {
            hourly_speed_factor: vec![1.0; 24],
            ..TravelConfig::default()
        };
        c.hourly_speed_factor[8] = 0.5;
        let t = Travel::new(&c);
        let eight = 8 * 3_600_000 + 5;
        let nine = 9 * 3_600_000 + 5;
        assert!((t.speed_at(eight) * 2.0 - t.speed_at(nine)).abs() < 1e-9);
        let a = (60.17, 24.94);
        let b = (60.18, 24.95);
        assert!((t.duration_s(a, b, eight) - 2.0 * t.duration_s(a, b, nine)).abs() < 1e-9);
        let m = t.matrix(&[latlon(a), latlon(b)], eight);
        assert!((m.time(0, 1) - t.duration_s(a, b, eight)).abs() < 1e-9);
        assert!((m.dist(0, 1) - t.distance_m(a, b)).abs() < 1e-9);
        c.utc_offset_min = 60;
        let shifted = Travel::new(&c);
        assert_eq!(shifted.speed_at(7 * 3_600_000 + 5), t.speed_at(eight));
    }

    /// A street along a row of 5 nodes 0.001° of longitude apart (≈ 55 m at 60° N),
    /// two-way, at 5 m/s; nothing else.
    fn street() -> Arc<RoadNetwork> {
        use dispatch_roads::graph::{Edge, RoadGraph};
        let coords: Vec<[f64; 2]> = (0..5).map(|i| [60.0, 24.0 + f64::from(i) * 1e-3]).collect();
        let mut edges = Vec::new();
        for i in 0..4u32 {
            let m = haversine_m(60.0, coords[i as usize][1], 60.0, coords[i as usize + 1][1]);
            for (from, to) in [(i, i + 1), (i + 1, i)] {
                let (time_ms, dist_mm) = ((m / 5.0 * 1000.0) as u32, (m * 1000.0) as u32);
                edges.push(Edge {
                    from,
                    to,
                    time_ms,
                    dist_mm,
                });
            }
        }
        let graph = RoadGraph::from_edges(coords, edges).unwrap();
        Arc::new(RoadNetwork::from_graph(graph).unwrap())
    }

    #[test]
    fn on_roads_times_follow_the_edges_at_the_hours_traffic_and_fall_back_off_them() {
        let mut c = TravelConfig {
            model: TravelModelKind::Roads,
            hourly_speed_factor: vec![1.0; 24],
            ..TravelConfig::default()
        };
        c.hourly_speed_factor[8] = 0.5;
        let (eight, nine) = (8 * 3_600_000 + 5, 9 * 3_600_000 + 5);
        let t = Travel::configured(&c, Some(street()));
        assert!(t.on_roads());
        let (a, b) = ((60.0, 24.0), (60.0, 24.004));
        let along = haversine_m(a.0, a.1, b.0, b.1);
        // The street's length at its 5 m/s (not the great circle's 25 km/h × detour).
        assert!(
            (t.distance_m(a, b) - along).abs() < 1.0,
            "{}",
            t.distance_m(a, b)
        );
        assert!((t.duration_s(a, b, nine) - along / 5.0).abs() < 0.01);
        assert!((t.duration_s(a, b, eight) - 2.0 * along / 5.0).abs() < 0.02);
        let m = t.matrix(&[latlon(a), latlon(b)], eight);
        assert!((m.time(0, 1) - t.duration_s(a, b, eight)).abs() < 0.01);
        assert!((m.dist(1, 0) - t.distance_m(b, a)).abs() < 0.01);
        // Far from the street: the great-circle model at `speed_kmh` (counted).
        let far = (60.05, 24.0);
        let flat = Travel::new(&c);
        assert!((t.duration_s(a, far, nine) - flat.duration_s(a, far, nine)).abs() < 1e-6);
        // The leg's path runs along the street, from one end to the other.
        let line = dispatch_roads::polyline::decode(&t.path(a, b).unwrap()).unwrap();
        assert_eq!(line.len(), 5, "{line:?}");
        assert!((line[0][1] - a.1).abs() < 1e-5 && (line[4][1] - b.1).abs() < 1e-5);
        assert_eq!(t.path(a, far), None);
        assert_eq!(flat.path(a, b), None);
        // `haversine` ignores a network it is given.
        let plain = TravelConfig {
            model: TravelModelKind::Haversine,
            ..c
        };
        assert!(!Travel::configured(&plain, Some(street())).on_roads());
    }
}
