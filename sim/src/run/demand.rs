//! Everything random about a run, drawn up front from the scenario's seed: the order
//! stream (Poisson arrivals following the demand curve, pickups at hotspots, dropoffs,
//! sizes, windows, which orders get cancelled and when, which dropoffs fail) and each
//! driver's plan (shift, start position, encoding, injected disconnects and offline
//! spells). The same seed gives the same stream and the same drivers; the engine's
//! timing is the only thing that differs between two runs.

use crate::common::{destination, Area};
use crate::scenario::{Idle, Scenario, Spread};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// One order of the stream. Times are simulated seconds since the scenario's start.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedOrder {
    pub at_s: f64,
    pub pickup: (f64, f64),
    pub dropoff: (f64, f64),
    pub size: u32,
    /// Due times, simulated seconds since the start.
    pub pickup_due_s: Option<f64>,
    pub dropoff_due_s: Option<f64>,
    /// When the order system cancels it (if it does).
    pub cancel_at_s: Option<f64>,
    /// The driver reports the dropoff `failed`.
    pub fails: bool,
}

/// Something that happens to one driver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Injected {
    /// The socket drops for `dur_s`, then the driver reconnects with resume.
    Disconnect { at_s: f64, dur_s: f64 },
    /// The driver sets itself offline; back available after `back_s`, if given.
    Offline { at_s: f64, back_s: Option<f64> },
}

impl Injected {
    pub fn at_s(&self) -> f64 {
        match *self {
            Self::Disconnect { at_s, .. } | Self::Offline { at_s, .. } => at_s,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedDriver {
    /// Shift start and end, simulated seconds since the start (start may be negative:
    /// already on shift when the simulation begins).
    pub shift_start_s: f64,
    pub shift_end_s: f64,
    pub start_pos: (f64, f64),
    pub json: bool,
    /// Where in the position interval this driver's positions fall (0..1).
    pub tick_phase: f64,
    /// Sorted by time.
    pub injected: Vec<Injected>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub orders: Vec<PlannedOrder>,
    pub drivers: Vec<PlannedDriver>,
}

pub fn area_of(s: &Scenario) -> Area {
    let [min_lon, min_lat, max_lon, max_lat] = s.area.bbox;
    Area {
        min_lat,
        max_lat,
        min_lon,
        max_lon,
    }
}

/// Independent streams per purpose, so adding drivers does not change the orders.
fn stream(seed: u64, purpose: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ purpose.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

const ORDERS: u64 = 1;
const DRIVERS: u64 = 2;
const INJECT: u64 = 3;

/// A point uniformly in the disc of `radius_m` around `centre`, kept in `area`.
fn in_disc(rng: &mut StdRng, centre: (f64, f64), radius_m: f64, area: &Area) -> (f64, f64) {
    for _ in 0..16 {
        let r = radius_m * rng.random::<f64>().sqrt();
        let p = destination(centre, r, rng.random_range(0.0..std::f64::consts::TAU));
        if area.contains(p) {
            return p;
        }
    }
    (
        centre.0.clamp(area.min_lat, area.max_lat),
        centre.1.clamp(area.min_lon, area.max_lon),
    )
}

fn pick_weighted(rng: &mut StdRng, weights: impl Iterator<Item = f64> + Clone) -> usize {
    let total: f64 = weights.clone().sum();
    let mut x = rng.random::<f64>() * total;
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        last = i;
        if x < w {
            return i;
        }
        x -= w;
    }
    last
}

fn pickup(rng: &mut StdRng, s: &Scenario, area: &Area) -> (f64, f64) {
    if s.hotspots.is_empty() {
        return area.random_point(rng);
    }
    let h = &s.hotspots[pick_weighted(rng, s.hotspots.iter().map(|h| h.weight))];
    in_disc(rng, (h.lat, h.lon), h.radius_m, area)
}

fn dropoff(rng: &mut StdRng, s: &Scenario, area: &Area, from: (f64, f64)) -> (f64, f64) {
    match s.dropoff.spread {
        Spread::Uniform => area.random_point(rng),
        Spread::AroundPickup => {
            let (a, b) = (
                s.dropoff.min_km.unwrap_or(0.0) * 1000.0,
                s.dropoff.max_km.unwrap_or(1.0) * 1000.0,
            );
            for _ in 0..64 {
                let d = rng.random_range(a..=b);
                let p = destination(from, d, rng.random_range(0.0..std::f64::consts::TAU));
                if area.contains(p) {
                    return p;
                }
            }
            area.random_point(rng)
        }
    }
}

/// The order stream: per simulated minute a constant rate (the curve's value at that
/// minute), exponential gaps inside it (memoryless, so restarting at each minute is
/// exact).
pub fn orders(s: &Scenario, seed: u64) -> Vec<PlannedOrder> {
    let mut rng = stream(seed, ORDERS);
    let area = area_of(s);
    let mut out = Vec::new();
    let end = s.duration_s();
    let mut seg = 0.0;
    while seg < end {
        let seg_end = (seg + 60.0).min(end);
        let per_s = s.rate_per_hour(seg) / 3600.0;
        let mut t = seg;
        if per_s > 0.0 {
            loop {
                let u: f64 = rng.random::<f64>();
                t += -(1.0 - u).ln() / per_s;
                if t >= seg_end {
                    break;
                }
                out.push(order_at(&mut rng, s, &area, t));
            }
        }
        seg = seg_end;
    }
    out
}

fn order_at(rng: &mut StdRng, s: &Scenario, area: &Area, t: f64) -> PlannedOrder {
    let p = pickup(rng, s, area);
    let d = dropoff(rng, s, area, p);
    let size = if s.demand.sizes.is_empty() {
        1
    } else {
        s.demand.sizes[pick_weighted(rng, s.demand.sizes.iter().map(|w| w.weight))].size
    };
    let (mut pickup_due_s, mut dropoff_due_s) = (None, None);
    if let Some(w) = &s.demand.windows {
        if rng.random_bool(w.share) {
            dropoff_due_s = Some(t + w.dropoff_due_min * 60.0);
            pickup_due_s = w.pickup_due_min.map(|m| t + m * 60.0);
        }
    }
    let cancel_at_s = s.injections.cancellations.as_ref().and_then(|c| {
        rng.random_bool(c.share)
            .then(|| t + rng.random_range(c.min_delay_min..=c.max_delay_min) * 60.0)
    });
    let fails = rng.random_bool(s.fleet.failed_share);
    PlannedOrder {
        at_s: t,
        pickup: p,
        dropoff: d,
        size,
        pickup_due_s,
        dropoff_due_s,
        cancel_at_s,
        fails,
    }
}

/// The fleet: shifts by share (in driver order), start positions (at a hotspot when
/// idle drivers return there, else anywhere in the area), encodings, and the injected
/// disconnects and offline spells, each hitting a seeded choice of the drivers on shift
/// at that moment.
pub fn drivers(s: &Scenario, seed: u64) -> Vec<PlannedDriver> {
    let mut rng = stream(seed, DRIVERS);
    let area = area_of(s);
    let n = s.fleet.size;
    let mut out = Vec::with_capacity(n);
    let mut bounds = Vec::new();
    let mut acc = 0.0;
    for sh in &s.fleet.shifts {
        acc += sh.share;
        bounds.push(((acc * n as f64).round() as usize, sh));
    }
    for i in 0..n {
        let shift = bounds
            .iter()
            .find(|(upto, _)| i < *upto)
            .map_or(&s.fleet.shifts[s.fleet.shifts.len() - 1], |(_, sh)| *sh);
        let start_pos = if s.fleet.idle == Idle::ReturnToHotspot && !s.hotspots.is_empty() {
            pickup(&mut rng, s, &area)
        } else {
            area.random_point(&mut rng)
        };
        out.push(PlannedDriver {
            shift_start_s: s.rel(&shift.start),
            shift_end_s: s.rel(&shift.end),
            start_pos,
            json: rng.random_bool(s.fleet.json_share),
            tick_phase: rng.random::<f64>(),
            injected: Vec::new(),
        });
    }
    let mut rng = stream(seed, INJECT);
    let on_shift = |d: &PlannedDriver, t: f64| d.shift_start_s <= t && t < d.shift_end_s;
    let mut choose = |t: f64, share: f64, drivers: &[PlannedDriver]| -> Vec<usize> {
        let mut ids: Vec<usize> = (0..drivers.len())
            .filter(|&i| on_shift(&drivers[i], t))
            .collect();
        ids.shuffle(&mut rng);
        ids.truncate((share * ids.len() as f64).round() as usize);
        ids
    };
    for storm in &s.injections.disconnects {
        let at_s = s.rel(&storm.at);
        for i in choose(at_s, storm.share, &out) {
            out[i].injected.push(Injected::Disconnect {
                at_s,
                dur_s: storm.duration_min * 60.0,
            });
        }
    }
    for off in &s.injections.offline {
        let at_s = s.rel(&off.at);
        for i in choose(at_s, off.share, &out) {
            out[i].injected.push(Injected::Offline {
                at_s,
                back_s: off.back_after_min.map(|m| at_s + m * 60.0),
            });
        }
    }
    for d in &mut out {
        d.injected.sort_by(|a, b| a.at_s().total_cmp(&b.at_s()));
    }
    out
}

pub fn plan(s: &Scenario, seed: u64) -> Plan {
    Plan {
        orders: orders(s, seed),
        drivers: drivers(s, seed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::haversine_m;
    use std::path::Path;

    fn scenario(name: &str) -> Scenario {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(format!("{name}.toml"));
        Scenario::load(&path).unwrap()
    }

    #[test]
    fn same_seed_same_orders_and_injections_other_seed_differs() {
        let s = scenario("smoke");
        let a = plan(&s, s.seed);
        let b = plan(&s, s.seed);
        assert!(!a.orders.is_empty());
        assert!(a.drivers.iter().any(|d| d
            .injected
            .iter()
            .any(|i| matches!(i, Injected::Disconnect { .. }))));
        assert!(a.orders.iter().any(|o| o.cancel_at_s.is_some()));
        assert_eq!(a, b, "two generations from one seed must be identical");
        let c = plan(&s, s.seed + 1);
        assert_ne!(a.orders, c.orders, "another seed must give other orders");
        let inj = |p: &Plan| -> Vec<Vec<Injected>> {
            p.drivers.iter().map(|d| d.injected.clone()).collect()
        };
        assert_ne!(inj(&a), inj(&c), "another seed must pick other drivers");
    }

    #[test]
    fn orders_follow_the_curve_and_the_rules() {
        let s = scenario("morning-peak-5x");
        let area = area_of(&s);
        let orders = orders(&s, 11);
        // Expected count: the integral of the curve over the simulated period.
        let expected: f64 = (0..s.duration_min as usize)
            .map(|m| s.rate_per_hour(m as f64 * 60.0) / 60.0)
            .sum();
        let n = orders.len() as f64;
        assert!(
            (n - expected).abs() < 4.0 * expected.sqrt(),
            "{n} orders, expected about {expected}"
        );
        // The peak hour holds about 5x the orders of an off-peak one.
        let count = |a: f64, b: f64| orders.iter().filter(|o| (a..b).contains(&o.at_s)).count();
        let off = count(0.0, 1800.0) as f64 * 2.0;
        let peak = count(s.rel("08:00"), s.rel("09:00")) as f64;
        assert!(
            (4.0..6.0).contains(&(peak / off)),
            "peak {peak} vs off-peak {off}"
        );
        let (min_m, max_m) = (
            s.dropoff.min_km.unwrap() * 1000.0,
            s.dropoff.max_km.unwrap() * 1000.0,
        );
        for w in orders.windows(2) {
            assert!(w[0].at_s <= w[1].at_s);
        }
        for o in &orders {
            assert!(area.contains(o.pickup) && area.contains(o.dropoff));
            let d = haversine_m(o.pickup, o.dropoff);
            assert!(d >= min_m - 1.0 && d <= max_m + 1.0, "{d} m");
            assert!(o.size >= 1 && o.size <= s.fleet.capacity);
            if let Some(due) = o.dropoff_due_s {
                assert!(due > o.at_s);
            }
            if let Some(c) = o.cancel_at_s {
                assert!(c >= o.at_s);
            }
        }
    }

    #[test]
    fn shifts_follow_the_shares() {
        let s = scenario("city-day");
        let d = drivers(&s, 3);
        assert_eq!(d.len(), s.fleet.size);
        for (k, sh) in s.fleet.shifts.iter().enumerate() {
            let n = d
                .iter()
                .filter(|x| x.shift_start_s == s.rel(&sh.start) && x.shift_end_s == s.rel(&sh.end))
                .count() as f64;
            let want = sh.share * s.fleet.size as f64;
            assert!(
                (n - want).abs() <= 1.0,
                "shift {k}: {n} drivers, want {want}"
            );
        }
    }
}
