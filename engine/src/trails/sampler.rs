//! Which positions a trail keeps (pure): a driver's point is kept when at least
//! `min_interval_ms` (fix time) passed since its previous kept point and it lies at
//! least `min_distance_m` from it. The first point of a driver is always kept. So a
//! trail holds at most one point per interval (its size bound per hour), and a parked
//! van adds none.

use crate::core::geo_util::haversine_m;
use dispatch_storage::TrailPointRecord;

/// The rule; each driver actor holds its own last kept point (no shared map, no lock
/// on the position path).
#[derive(Debug, Default, Clone, Copy)]
pub struct Sampler {
    min_interval_ms: u64,
    min_distance_m: f64,
}

impl Sampler {
    pub fn new(min_interval_ms: u64, min_distance_m: f64) -> Self {
        Self {
            min_interval_ms,
            min_distance_m,
        }
    }

    /// Whether `point` is kept after `last`, the driver's last kept point (if so, it
    /// becomes `last`). A point older than the last kept one is never kept: a trail
    /// only moves forward.
    pub fn keep(&self, last: &mut Option<TrailPointRecord>, point: TrailPointRecord) -> bool {
        let keep = match last {
            None => true,
            Some(last) => {
                point.ts_ms >= last.ts_ms.saturating_add(self.min_interval_ms)
                    && point.ts_ms > last.ts_ms
                    && haversine_m(last.lat, last.lon, point.lat, point.lon) >= self.min_distance_m
            }
        };
        if keep {
            *last = Some(point);
        }
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::Sampler;
    use dispatch_storage::TrailPointRecord;

    fn p(ts_ms: u64, lat: f64) -> TrailPointRecord {
        TrailPointRecord {
            ts_ms,
            lat,
            lon: 24.94,
        }
    }

    #[test]
    fn keeps_one_point_per_interval_and_distance() {
        let s = Sampler::new(5_000, 10.0);
        let (mut d1, mut d2) = (None, None);
        assert!(s.keep(&mut d1, p(1_000, 60.0)));
        // Too soon, however far.
        assert!(!s.keep(&mut d1, p(5_999, 60.1)));
        // Late enough but parked (about 1 m away).
        assert!(!s.keep(&mut d1, p(7_000, 60.00001)));
        // Late enough and 111 m away.
        assert!(s.keep(&mut d1, p(7_000, 60.001)));
        // Older than the last kept one: never.
        assert!(!s.keep(&mut d1, p(1_000, 61.0)));
        // Drivers are independent.
        assert!(s.keep(&mut d2, p(1_000, 60.0)));
    }

    #[test]
    fn without_bounds_every_newer_point_is_kept() {
        let s = Sampler::new(0, 0.0);
        let mut d1 = None;
        assert!(s.keep(&mut d1, p(1, 60.0)));
        assert!(s.keep(&mut d1, p(2, 60.0)));
        // The same time twice would overwrite the stored point: not kept.
        assert!(!s.keep(&mut d1, p(2, 60.5)));
    }
}
