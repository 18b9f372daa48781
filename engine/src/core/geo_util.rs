//! Distances on the sphere, through `geo`'s haversine (GRS80 mean radius, metres).

use geo::{Distance, Haversine, Point};

/// Metres per degree of latitude on the GRS80 mean sphere.
pub const METRES_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// Great-circle distance in metres between two WGS84 positions.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    Haversine.distance(Point::new(lon1, lat1), Point::new(lon2, lat2))
}

/// A local equirectangular projection around an origin latitude, in metres. Within a
/// region cell and its neighbours it is off from haversine by well under 1 %, which the
/// index corrects for by re-ranking candidates with `haversine_m`.
#[derive(Debug, Clone, Copy)]
pub struct LocalProjection {
    /// Metres per degree of longitude at the origin latitude.
    x_scale: f64,
    /// The cosine of the origin latitude that `x_scale` uses.
    cos_origin: f64,
    /// Longitudes are measured from here, the short way round (a region at the
    /// antimeridian sees a point at -179.99° next to one at 179.99°).
    origin_lon: f64,
}

impl LocalProjection {
    pub fn new(origin_lat: f64, origin_lon: f64) -> Self {
        // Keep a floor so that cells touching a pole still have a usable x scale.
        let cos = origin_lat.to_radians().cos().max(0.01);
        Self {
            x_scale: METRES_PER_DEG * cos,
            cos_origin: cos,
            origin_lon,
        }
    }

    /// Whether projected distances from `(lat, lon)` to points with latitudes in
    /// `lats` overstate their haversine distances by at most the factor `slack` (a
    /// search pruning by projected distance then misses nothing). East-west lengths are
    /// projected at the origin's scale, which overstates them where the band between
    /// the two points lies poleward of the origin: by `cos(origin) / cos(poleward
    /// edge)` at most. Lengths far to the east or west, and anything near a pole, are
    /// not trusted at all.
    pub fn faithful(&self, lat: f64, lon: f64, lats: (f64, f64), slack: f64) -> bool {
        let poleward = lat.abs().max(lats.0.abs()).max(lats.1.abs());
        let dlon = (near_lon(lon, self.origin_lon) - self.origin_lon).abs();
        poleward < 89.0 && dlon <= 10.0 && self.cos_origin <= slack * poleward.to_radians().cos()
    }

    pub fn project(&self, lat: f64, lon: f64) -> [f64; 2] {
        let dlon = near_lon(lon, self.origin_lon) - self.origin_lon;
        [dlon * self.x_scale, lat * METRES_PER_DEG]
    }
}

/// `lon` shifted by a whole turn to lie within 180° of `origin` (the same place on the
/// globe, on the origin's side of the antimeridian).
pub fn near_lon(lon: f64, origin: f64) -> f64 {
    let d = lon - origin;
    if d > 180.0 {
        lon - 360.0
    } else if d < -180.0 {
        lon + 360.0
    } else {
        lon
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_known_distance() {
        // Helsinki railway station to Helsinki cathedral is about 650 m.
        let d = haversine_m(60.1719, 24.9414, 60.1702, 24.9522);
        assert!((600.0..700.0).contains(&d), "{d}");
        assert_eq!(haversine_m(10.0, 10.0, 10.0, 10.0), 0.0);
    }

    #[test]
    fn faithful_near_the_origin_only() {
        let p = LocalProjection::new(60.175, 24.975);
        let cell = (60.15, 60.20);
        assert!(p.faithful(60.17, 24.94, cell, 1.005));
        assert!(p.faithful(60.30, 24.94, cell, 1.005));
        // 0.3° poleward at 60° N, east-west lengths are overstated by ~1 %.
        assert!(!p.faithful(60.5, 24.94, cell, 1.005));
        // Equatorward they are understated, which a pruning search tolerates.
        assert!(p.faithful(50.0, 24.94, cell, 1.005));
        assert!(!p.faithful(50.0, 44.94, cell, 1.005));
        assert!(!LocalProjection::new(89.5, 0.0).faithful(89.5, 0.0, (89.49, 89.51), 1.005));
    }

    #[test]
    fn projection_is_close_to_haversine_nearby() {
        let p = LocalProjection::new(60.17, 24.94);
        let a = p.project(60.17, 24.94);
        let b = p.project(60.19, 24.98);
        let proj = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        let hav = haversine_m(60.17, 24.94, 60.19, 24.98);
        assert!((proj - hav).abs() / hav < 0.005, "{proj} vs {hav}");
    }
}
