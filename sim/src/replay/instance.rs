//! A Li & Lim instance as the replay uses it: the planner's parse of the file (nodes,
//! windows, demands, fleet), the node coordinates, the best-known value from
//! `bks.csv`, and the two mappings between the instance and the engine's world: space
//! (Euclidean units → latitude/longitude around a reference point) and time (instance
//! time units → wall-clock instants and epoch milliseconds).

use anyhow::{bail, Context};
use dispatch_plan::model::{NodeKind, Problem};
use dispatch_plan::parse::{parse_bks_csv, parse_lilim, read_to_string, Bks};
use std::path::Path;
use std::time::Duration;

/// Simulated metres per instance distance unit.
pub const METRES_PER_UNIT: f64 = 100.0;
/// Simulated seconds per instance time unit.
pub const SECONDS_PER_UNIT: f64 = 10.0;
/// Simulated driving speed: one distance unit per time unit (10 m/s = 36 km/h).
pub const SPEED_KMH: f64 = METRES_PER_UNIT / SECONDS_PER_UNIT * 3.6;
/// The instance's centre is placed here, in the middle of a 0.05° region cell.
pub const REFERENCE: (f64, f64) = (60.025, 25.025);
/// Metres per degree of latitude on the sphere of `common::haversine_m` (the engine's).
const METRES_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// One pickup/delivery request of the instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    pub pickup: usize,
    pub delivery: usize,
}

#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub problem: Problem,
    /// Node → (x, y) in instance units; node 0 is the depot.
    pub xy: Vec<(f64, f64)>,
    pub requests: Vec<Request>,
    pub vehicles: usize,
    pub capacity: i32,
    /// The depot's due time: the end of the planning horizon.
    pub horizon: f64,
}

impl Instance {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("instance")
            .to_string();
        let text = read_to_string(path)?;
        Self::parse(&name, &text)
    }

    pub fn parse(name: &str, text: &str) -> anyhow::Result<Self> {
        let problem = parse_lilim(name, text)?;
        let xy = coordinates(text);
        if xy.len() != problem.nodes.len() {
            bail!(
                "{name}: {} coordinate rows for {} nodes",
                xy.len(),
                problem.nodes.len()
            );
        }
        let requests: Vec<Request> = problem
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n.kind {
                NodeKind::Pickup { delivery } => Some(Request {
                    pickup: i,
                    delivery,
                }),
                _ => None,
            })
            .collect();
        if requests.is_empty() {
            bail!("{name}: no pickup/delivery requests");
        }
        let first = problem.vehicles.first().context("no vehicles")?;
        Ok(Self {
            name: name.to_string(),
            vehicles: problem.vehicles.len(),
            capacity: first.capacity,
            horizon: problem.nodes[0].due,
            xy,
            requests,
            problem,
        })
    }

    pub fn depot(&self) -> (f64, f64) {
        self.xy[0]
    }

    /// Centre of the bounding box of all nodes.
    pub fn centre(&self) -> (f64, f64) {
        let (mut lo, mut hi) = (self.xy[0], self.xy[0]);
        for &(x, y) in &self.xy {
            lo = (lo.0.min(x), lo.1.min(y));
            hi = (hi.0.max(x), hi.1.max(y));
        }
        ((lo.0 + hi.0) / 2.0, (lo.1 + hi.1) / 2.0)
    }

    /// Diagonal of the bounding box in instance units.
    pub fn diagonal(&self) -> f64 {
        let (mut lo, mut hi) = (self.xy[0], self.xy[0]);
        for &(x, y) in &self.xy {
            lo = (lo.0.min(x), lo.1.min(y));
            hi = (hi.0.max(x), hi.1.max(y));
        }
        dist(lo, hi)
    }

    /// Distinct service times of the customer nodes (instance units).
    pub fn service_times(&self) -> Vec<f64> {
        let mut s: Vec<f64> = self.problem.nodes[1..].iter().map(|n| n.service).collect();
        s.sort_by(f64::total_cmp);
        s.dedup();
        s
    }

    /// The latest time a vehicle leaving the depot could still serve `r` within both
    /// windows (driving straight to the pickup, then to the delivery).
    pub fn latest_depot_departure(&self, r: Request) -> f64 {
        let n = &self.problem.nodes;
        let (p, d) = (&n[r.pickup], &n[r.delivery]);
        let to_p = dist(self.depot(), self.xy[r.pickup]);
        let p_to_d = dist(self.xy[r.pickup], self.xy[r.delivery]);
        (p.due - to_p).min(d.due - p_to_d - p.service - to_p)
    }

    /// When the replay reveals `r`: at its pickup's ready time, but never later than
    /// `margin` before the last moment a vehicle waiting at the depot could still serve
    /// it (unless `strict`). The margin covers the engine's reaction time.
    pub fn reveal_at(&self, r: Request, strict: bool, margin: f64) -> f64 {
        let ready = self.problem.nodes[r.pickup].ready;
        if strict {
            ready
        } else {
            ready.min(self.latest_depot_departure(r) - margin).max(0.0)
        }
    }

    /// The best-known value of this instance in `bks_csv`, if listed.
    pub fn bks(&self, bks_csv: &Path) -> anyhow::Result<Option<Bks>> {
        let text = read_to_string(bks_csv)?;
        let all = parse_bks_csv(&bks_csv.display().to_string(), &text)?;
        Ok(all
            .into_iter()
            .find(|b| b.instance.eq_ignore_ascii_case(&self.name)))
    }
}

/// Euclidean distance in instance units.
pub fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// x and y of every node row (9 numbers) in file order.
fn coordinates(text: &str) -> Vec<(f64, f64)> {
    text.lines()
        .filter_map(|l| {
            let v: Vec<f64> = l
                .split_whitespace()
                .map(|t| t.parse::<f64>())
                .collect::<Result<_, _>>()
                .ok()?;
            (v.len() == 9).then(|| (v[1], v[2]))
        })
        .collect()
}

/// Speed-up used when none is given: the horizon lasts about this long on the wall.
const TARGET_WALL_S: f64 = 30.0;

/// The default speed-up: at least 100×, fast enough that the horizon takes about
/// [`TARGET_WALL_S`], and preferably one at which every service time is a whole number
/// of wall-clock seconds (the protocol's `service_s` is an integer).
pub fn auto_speedup(horizon: f64, services: &[f64]) -> f64 {
    let lo = (horizon * SECONDS_PER_UNIT / TARGET_WALL_S)
        .ceil()
        .max(100.0) as u64;
    (lo..=lo * 2)
        .find(|&x| {
            services
                .iter()
                .all(|s| is_whole(s * SECONDS_PER_UNIT / x as f64))
        })
        .unwrap_or(lo) as f64
}

fn is_whole(v: f64) -> bool {
    (v - v.round()).abs() < 1e-9
}

/// The engine's world for one run at speed-up X. The engine runs on the wall clock, so
/// the replay gives it a 1 : X scale model of the simulated city: distances are
/// divided by X and the speed stays 36 km/h, so a leg that takes T simulated seconds
/// takes T / X wall seconds in the engine's travel model and for the bots alike.
#[derive(Debug, Clone, Copy)]
pub struct World {
    pub speedup: f64,
    /// Engine (wall-clock) metres per instance unit: 100 / X.
    pub metres_per_unit: f64,
    /// Wall-clock milliseconds per instance time unit: 10,000 / X.
    pub ms_per_unit: f64,
    centre: (f64, f64),
    cos_lat: f64,
}

impl World {
    pub fn new(speedup: f64, centre: (f64, f64)) -> Self {
        Self {
            speedup,
            metres_per_unit: METRES_PER_UNIT / speedup,
            ms_per_unit: SECONDS_PER_UNIT * 1000.0 / speedup,
            centre,
            cos_lat: REFERENCE.0.to_radians().cos(),
        }
    }

    /// Instance point → (lat, lon): x east, y north, local equirectangular projection.
    pub fn latlon(&self, (x, y): (f64, f64)) -> (f64, f64) {
        let east = (x - self.centre.0) * self.metres_per_unit;
        let north = (y - self.centre.1) * self.metres_per_unit;
        (
            REFERENCE.0 + north / METRES_PER_DEG,
            REFERENCE.1 + east / (METRES_PER_DEG * self.cos_lat),
        )
    }

    /// (lat, lon) → instance point (inverse of [`latlon`](Self::latlon)).
    pub fn xy(&self, (lat, lon): (f64, f64)) -> (f64, f64) {
        let north = (lat - REFERENCE.0) * METRES_PER_DEG;
        let east = (lon - REFERENCE.1) * METRES_PER_DEG * self.cos_lat;
        (
            self.centre.0 + east / self.metres_per_unit,
            self.centre.1 + north / self.metres_per_unit,
        )
    }

    /// Wall-clock duration of `units` instance time units.
    pub fn wall(&self, units: f64) -> Duration {
        Duration::from_secs_f64((units * self.ms_per_unit / 1000.0).max(0.0))
    }

    /// Service time in whole wall-clock seconds (what `service_s` can carry).
    pub fn service_s(&self, units: f64) -> u32 {
        (units * self.ms_per_unit / 1000.0).round().max(0.0) as u32
    }

    /// Instance time units of a wall-clock duration.
    pub fn units(&self, d: Duration) -> f64 {
        d.as_secs_f64() * 1000.0 / self.ms_per_unit
    }

    /// Engine metres of `m` simulated metres.
    pub fn engine_metres(&self, m: f64) -> f64 {
        m / self.speedup
    }
}

/// Where the simulated clock started: instance time 0.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub start: tokio::time::Instant,
    pub start_ms: u64,
    pub world: World,
}

impl Clock {
    /// The wall-clock instant of instance time `units` (before the start when negative).
    pub fn at(&self, units: f64) -> tokio::time::Instant {
        if units >= 0.0 {
            self.start + self.world.wall(units)
        } else {
            self.start - self.world.wall(-units)
        }
    }

    /// Epoch milliseconds of instance time `units` (for `ready_ms` and `due_ms`).
    pub fn epoch_ms(&self, units: f64) -> u64 {
        self.start_ms + (units * self.world.ms_per_unit).round().max(0.0) as u64
    }

    /// The wall-clock instant of epoch milliseconds `ms` (an ETA the engine sent).
    pub fn at_epoch_ms(&self, ms: u64) -> tokio::time::Instant {
        self.at((ms as f64 - self.start_ms as f64) / self.world.ms_per_unit)
    }

    /// Instance time now.
    pub fn now(&self) -> f64 {
        self.units_at(tokio::time::Instant::now())
    }

    pub fn units_at(&self, t: tokio::time::Instant) -> f64 {
        if t >= self.start {
            self.world.units(t - self.start)
        } else {
            -self.world.units(self.start - t)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = "2\t10\t1\n0\t0\t0\t0\t0\t100\t0\t0\t0\n1\t3\t4\t5\t0\t50\t1\t0\t2\n2\t6\t8\t-5\t0\t60\t1\t1\t0\n";

    #[test]
    fn parses_requests_and_coordinates() {
        let i = Instance::parse("tiny", TINY).unwrap();
        assert_eq!(
            i.requests,
            vec![Request {
                pickup: 1,
                delivery: 2
            }]
        );
        assert_eq!(i.xy, vec![(0.0, 0.0), (3.0, 4.0), (6.0, 8.0)]);
        assert_eq!((i.vehicles, i.capacity, i.horizon), (2, 10, 100.0));
        assert_eq!(i.centre(), (3.0, 4.0));
        assert_eq!(i.diagonal(), 10.0);
    }

    #[test]
    fn reveal_is_at_ready_unless_the_depot_could_no_longer_serve_it() {
        // Pickup (3,4) is 5 from the depot: ready 0..50, delivery (6,8) due 60.
        let i = Instance::parse("tiny", TINY).unwrap();
        let r = i.requests[0];
        // Latest departure: pickup due 50 − 5 = 45; delivery 60 − 5 − 1 − 5 = 49.
        assert_eq!(i.latest_depot_departure(r), 45.0);
        assert_eq!(i.reveal_at(r, false, 5.0), 0.0);
        let late = TINY.replace("1\t3\t4\t5\t0\t50", "1\t3\t4\t5\t48\t50");
        let i = Instance::parse("tiny", &late).unwrap();
        assert_eq!(i.reveal_at(i.requests[0], true, 5.0), 48.0);
        assert_eq!(i.reveal_at(i.requests[0], false, 0.0), 45.0);
        assert_eq!(i.reveal_at(i.requests[0], false, 5.0), 40.0);
    }

    #[test]
    fn the_scale_model_keeps_travel_times() {
        let w = World::new(100.0, (50.0, 50.0));
        let (a, b) = ((10.0, 20.0), (40.0, 60.0));
        let (la, lb) = (w.latlon(a), w.latlon(b));
        // 50 units apart: 5 km simulated, 50 m in the engine's world.
        let m = crate::common::haversine_m(la, lb);
        assert!((m - 50.0).abs() < 1e-3, "{m}");
        // At 36 km/h the engine needs 5 s for it; the bots' 50 time units take 5 s too.
        assert!((m / (SPEED_KMH / 3.6) - w.wall(50.0).as_secs_f64()).abs() < 1e-3);
        let back = w.xy(la);
        assert!((back.0 - a.0).abs() < 1e-9 && (back.1 - a.1).abs() < 1e-9);
        assert_eq!(w.service_s(90.0), 9);
        assert_eq!(w.engine_metres(150.0), 1.5);
    }

    #[test]
    fn auto_speedup_prefers_whole_second_services() {
        // lr1: horizon 230, service 10 → 100× (service 1 s, 23 s of wall time).
        assert_eq!(auto_speedup(230.0, &[10.0]), 100.0);
        // lc1: horizon 1236, service 90 → 450× (service 2 s, 27.5 s of wall time).
        assert_eq!(auto_speedup(1236.0, &[90.0]), 450.0);
        // No whole-second speed-up in range: the fastest needed one.
        assert_eq!(auto_speedup(1000.0, &[7.0]), 334.0);
    }
}
