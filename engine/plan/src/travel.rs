//! Travel models and the precomputed matrix the solver works on.

/// Distance and duration between two points. The solver never calls this in its hot
/// loops: it is evaluated once per pair into a [`Matrix`].
pub trait TravelModel {
    type Point;
    /// Distance (the cost the planner minimises).
    fn distance(&self, a: &Self::Point, b: &Self::Point) -> f64;
    /// Travel duration, in the same unit as time windows and service times.
    fn duration(&self, a: &Self::Point, b: &Self::Point) -> f64;
    /// Distance and duration together (models that derive one from the other compute
    /// the expensive part once).
    fn distance_duration(&self, a: &Self::Point, b: &Self::Point) -> (f64, f64) {
        (self.distance(a, b), self.duration(a, b))
    }
    /// Whether a→b equals b→a for both (lets the matrix compute half the pairs).
    fn symmetric(&self) -> bool {
        false
    }
}

/// Benchmark convention: Euclidean distance in double precision, no rounding,
/// duration = distance.
#[derive(Clone, Copy, Debug, Default)]
pub struct Euclidean;

impl TravelModel for Euclidean {
    type Point = [f64; 2];
    fn distance(&self, a: &[f64; 2], b: &[f64; 2]) -> f64 {
        let dx = a[0] - b[0];
        let dy = a[1] - b[1];
        (dx * dx + dy * dy).sqrt()
    }
    fn duration(&self, a: &[f64; 2], b: &[f64; 2]) -> f64 {
        self.distance(a, b)
    }
}

/// A WGS84 position in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

/// Live dispatch: great-circle distance × detour factor, at a constant speed.
/// Distance in **metres**, duration in **seconds**.
#[derive(Clone, Copy, Debug)]
pub struct Haversine {
    /// Road distance / great-circle distance, typically 1.3.
    pub detour_factor: f64,
    /// Average speed in metres per second.
    pub speed_mps: f64,
}

impl Default for Haversine {
    fn default() -> Self {
        Haversine {
            detour_factor: 1.3,
            speed_mps: 25.0 / 3.6,
        }
    }
}

pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

impl TravelModel for Haversine {
    type Point = LatLon;
    fn distance(&self, a: &LatLon, b: &LatLon) -> f64 {
        let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
        let dp = p2 - p1;
        let dl = (b.lon - a.lon).to_radians();
        let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin() * self.detour_factor
    }
    fn duration(&self, a: &LatLon, b: &LatLon) -> f64 {
        self.distance(a, b) / self.speed_mps
    }
    fn distance_duration(&self, a: &LatLon, b: &LatLon) -> (f64, f64) {
        let d = self.distance(a, b);
        (d, d / self.speed_mps)
    }
    fn symmetric(&self) -> bool {
        true
    }
}

/// Dense distance and duration matrices, row-major.
#[derive(Clone, Debug)]
pub struct Matrix {
    n: usize,
    dist: Vec<f64>,
    time: Vec<f64>,
}

impl Matrix {
    pub fn from_points<M: TravelModel>(points: &[M::Point], model: &M) -> Matrix {
        let n = points.len();
        let mut dist = vec![0.0; n * n];
        let mut time = vec![0.0; n * n];
        let symmetric = model.symmetric();
        for (i, a) in points.iter().enumerate() {
            for (j, b) in points.iter().enumerate() {
                if i == j || (symmetric && j < i) {
                    continue;
                }
                let (d, t) = model.distance_duration(a, b);
                dist[i * n + j] = d;
                time[i * n + j] = t;
                if symmetric {
                    dist[j * n + i] = d;
                    time[j * n + i] = t;
                }
            }
        }
        Matrix { n, dist, time }
    }

    /// Every duration multiplied by `factor` (distances unchanged): a road table's
    /// free-flow times at the hour's traffic.
    pub fn with_time_scaled(mut self, factor: f64) -> Matrix {
        self.time.iter_mut().for_each(|t| *t *= factor);
        self
    }

    /// From explicit row-major matrices (for example a road-network table).
    pub fn from_vecs(n: usize, dist: Vec<f64>, time: Vec<f64>) -> Option<Matrix> {
        (dist.len() == n * n && time.len() == n * n).then_some(Matrix { n, dist, time })
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    #[inline]
    pub fn dist(&self, a: usize, b: usize) -> f64 {
        self.dist[a * self.n + b]
    }

    #[inline]
    pub fn time(&self, a: usize, b: usize) -> f64 {
        self.time[a * self.n + b]
    }

    /// Adds one node at zero distance and time from and to everything (the end of open
    /// routes). Returns its index.
    pub(crate) fn add_sink(&mut self) -> usize {
        let n = self.n;
        let m = n + 1;
        let mut dist = vec![0.0; m * m];
        let mut time = vec![0.0; m * m];
        for i in 0..n {
            dist[i * m..i * m + n].copy_from_slice(&self.dist[i * n..i * n + n]);
            time[i * m..i * m + n].copy_from_slice(&self.time[i * n..i * n + n]);
        }
        *self = Matrix { n: m, dist, time };
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euclidean_is_exact() {
        let m = Matrix::from_points(&[[0.0, 0.0], [3.0, 4.0]], &Euclidean);
        assert_eq!(m.dist(0, 1), 5.0);
        assert_eq!(m.time(1, 0), 5.0);
        assert_eq!(m.dist(1, 1), 0.0);
    }

    #[test]
    fn haversine_helsinki_tallinn() {
        let h = Haversine {
            detour_factor: 1.0,
            speed_mps: 10.0,
        };
        let hel = LatLon {
            lat: 60.1699,
            lon: 24.9384,
        };
        let tll = LatLon {
            lat: 59.4370,
            lon: 24.7536,
        };
        let d = h.distance(&hel, &tll);
        assert!((d - 82_000.0).abs() < 1_500.0, "{d}");
        assert!((h.duration(&hel, &tll) - d / 10.0).abs() < 1e-9);
        let h2 = Haversine {
            detour_factor: 1.3,
            ..h
        };
        assert!((h2.distance(&hel, &tll) - 1.3 * d).abs() < 1e-6);
    }

    #[test]
    fn symmetric_fill_matches_every_pair() {
        let h = Haversine::default();
        let pts: Vec<LatLon> = (0..7)
            .map(|i| LatLon {
                lat: 60.1 + 0.013 * i as f64,
                lon: 24.9 + 0.021 * ((i * 3) % 5) as f64,
            })
            .collect();
        let m = Matrix::from_points(&pts, &h);
        for (i, a) in pts.iter().enumerate() {
            for (j, b) in pts.iter().enumerate() {
                let want = if i == j { 0.0 } else { h.distance(a, b) };
                assert!((m.dist(i, j) - want).abs() < 1e-9, "{i} {j}");
                assert!((m.time(i, j) - want / h.speed_mps).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn sink_is_zero() {
        let mut m = Matrix::from_points(&[[0.0, 0.0], [3.0, 4.0]], &Euclidean);
        let s = m.add_sink();
        assert_eq!(s, 2);
        assert_eq!(m.dist(0, 1), 5.0);
        assert_eq!(m.dist(1, 2), 0.0);
        assert_eq!(m.time(2, 0), 0.0);
    }
}
