//! The leg a bot drives towards its next stop: the road path the engine sent with the
//! stop (`RouteStop.path`, when it plans on roads), joined from where the bot is, or a
//! straight line whose length is the great circle × the scenario's detour factor.
//! Positions along it follow from the distance driven.

use crate::common::haversine_m;

/// Farthest a bot may be from the road path's nearest vertex to join it there (it has
/// moved since the route was made; farther, the path is someone else's guess).
pub const JOIN_M: f64 = 300.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Leg {
    points: Vec<(f64, f64)>,
    /// Metres along the leg at each point (`at_m[0] = 0`).
    at_m: Vec<f64>,
}

impl Leg {
    /// A straight line, `detour` times as long as the great circle.
    pub fn straight(from: (f64, f64), to: (f64, f64), detour: f64) -> Leg {
        Leg {
            points: vec![from, to],
            at_m: vec![0.0, haversine_m(from, to) * detour],
        }
    }

    /// The encoded road path `path` (precision 5), joined at its vertex nearest `from`
    /// and ending at `to`; `None` when it is malformed, empty, or farther than `JOIN_M`.
    pub fn along(from: (f64, f64), path: &str, to: (f64, f64)) -> Option<Leg> {
        let road = dispatch_roads::polyline::decode(path)?;
        let (k, gap) = road
            .iter()
            .enumerate()
            .map(|(i, p)| (i, haversine_m(from, (p[0], p[1]))))
            .min_by(|a, b| a.1.total_cmp(&b.1))?;
        if gap > JOIN_M {
            return None;
        }
        let mut points = vec![from];
        points.extend(road[k..].iter().map(|p| (p[0], p[1])));
        if points.last().is_some_and(|&p| haversine_m(p, to) > 1.0) {
            points.push(to);
        }
        let mut at_m = Vec::with_capacity(points.len());
        let mut d = 0.0;
        at_m.push(d);
        for w in points.windows(2) {
            d += haversine_m(w[0], w[1]);
            at_m.push(d);
        }
        Some(Leg { points, at_m })
    }

    pub fn length_m(&self) -> f64 {
        self.at_m.last().copied().unwrap_or(0.0)
    }

    pub fn end(&self) -> (f64, f64) {
        self.points.last().copied().unwrap_or_default()
    }

    /// The position `d` metres along the leg (clamped to its ends).
    pub fn at(&self, d: f64) -> (f64, f64) {
        let i = self.at_m.partition_point(|&m| m <= d);
        if i == 0 {
            return self.points[0];
        }
        if i >= self.points.len() {
            return self.end();
        }
        let (a, b) = (self.points[i - 1], self.points[i]);
        let span = self.at_m[i] - self.at_m[i - 1];
        let f = if span > 0.0 {
            (d - self.at_m[i - 1]) / span
        } else {
            1.0
        };
        (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dispatch_roads::polyline::encode;

    /// An L-shaped street: 0.002° north, then 0.004° east, around Helsinki.
    fn corner() -> Vec<[f64; 2]> {
        vec![[60.170, 24.940], [60.172, 24.940], [60.172, 24.944]]
    }

    #[test]
    fn a_bot_follows_the_road_path_round_its_corner() {
        let road = corner();
        let to = (60.172, 24.944);
        let leg = Leg::along((60.170, 24.940), &encode(&road), to).expect("joins");
        let north = haversine_m((60.170, 24.940), (60.172, 24.940));
        let east = haversine_m((60.172, 24.940), (60.172, 24.944));
        assert!((leg.length_m() - (north + east)).abs() < 1.0);
        // Longer than the straight line: it drives round the corner.
        assert!(leg.length_m() > haversine_m((60.170, 24.940), to) + 50.0);
        // Halfway up the first street, and at the corner.
        let mid = leg.at(north / 2.0);
        assert!((mid.0 - 60.171).abs() < 1e-6 && (mid.1 - 24.940).abs() < 1e-9);
        let c = leg.at(north);
        assert!(haversine_m(c, (60.172, 24.940)) < 0.5);
        assert_eq!(leg.at(-1.0), (60.170, 24.940));
        assert_eq!(leg.at(1e9), to);
    }

    #[test]
    fn a_bot_that_moved_on_joins_the_path_at_its_nearest_vertex() {
        let road = corner();
        // Already near the corner: joins there, not back at the start.
        let from = (60.17195, 24.9401);
        let leg = Leg::along(from, &encode(&road), (60.172, 24.944)).expect("joins");
        let east = haversine_m((60.172, 24.940), (60.172, 24.944));
        assert!(leg.length_m() < east + 20.0, "{}", leg.length_m());
        // Far from every vertex, or a malformed path: no leg (the bot goes straight).
        assert!(Leg::along((60.20, 24.99), &encode(&road), (60.172, 24.944)).is_none());
        assert!(Leg::along(from, "\u{1}", (60.172, 24.944)).is_none());
        assert!(Leg::along(from, "", (60.172, 24.944)).is_none());
    }

    #[test]
    fn a_straight_leg_is_the_great_circle_times_the_detour() {
        let (a, b) = ((60.17, 24.94), (60.18, 24.95));
        let leg = Leg::straight(a, b, 1.3);
        assert!((leg.length_m() - haversine_m(a, b) * 1.3).abs() < 1e-6);
        let mid = leg.at(leg.length_m() / 2.0);
        assert!((mid.0 - 60.175).abs() < 1e-9 && (mid.1 - 24.945).abs() < 1e-9);
    }
}
