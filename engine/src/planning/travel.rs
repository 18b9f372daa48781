//! The live travel model: great-circle distance × a detour factor, at an urban speed
//! that depends on the hour of day. The planner and every ETA use this one model, so a
//! plan and the ETAs pushed with it agree.

use crate::config::TravelConfig;
use crate::core::geo_util::haversine_m;
use dispatch_plan::travel::Haversine;
use dispatch_protocol::Millis;

#[derive(Debug, Clone)]
pub struct Travel {
    detour_factor: f64,
    /// Metres per second at each hour of the (configured local) day.
    speed_by_hour: [f64; 24],
    utc_offset_ms: i64,
}

impl Travel {
    pub fn new(c: &TravelConfig) -> Self {
        let base = c.speed_kmh / 3.6;
        let mut speed_by_hour = [base; 24];
        for (h, s) in speed_by_hour.iter_mut().enumerate() {
            *s = base * c.hourly_speed_factor.get(h).copied().unwrap_or(1.0);
        }
        Self {
            detour_factor: c.detour_factor,
            speed_by_hour,
            utc_offset_ms: c.utc_offset_min * 60_000,
        }
    }

    /// Speed in metres per second at a moment.
    pub fn speed_at(&self, at_ms: Millis) -> f64 {
        let local = at_ms as i64 + self.utc_offset_ms;
        let hour = local.rem_euclid(86_400_000) / 3_600_000;
        self.speed_by_hour[hour as usize]
    }

    /// Road distance estimate in metres.
    pub fn distance_m(&self, a: (f64, f64), b: (f64, f64)) -> f64 {
        haversine_m(a.0, a.1, b.0, b.1) * self.detour_factor
    }

    /// Travel time in seconds when leaving at `at_ms`.
    pub fn duration_s(&self, a: (f64, f64), b: (f64, f64), at_ms: Millis) -> f64 {
        self.distance_m(a, b) / self.speed_at(at_ms)
    }

    /// The planner's model for problems built at `at_ms` (one speed for the whole plan:
    /// live plans span minutes to a few hours).
    pub fn planner_model(&self, at_ms: Millis) -> Haversine {
        Haversine {
            detour_factor: self.detour_factor,
            speed_mps: self.speed_at(at_ms),
        }
    }
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
        c.utc_offset_min = 60;
        let shifted = Travel::new(&c);
        assert_eq!(shifted.speed_at(7 * 3_600_000 + 5), t.speed_at(eight));
    }
}
