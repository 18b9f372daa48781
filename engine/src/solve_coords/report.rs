//! What `dispatch solve` prints for a coordinates instance: the checked routes with
//! their planned times, as text or as one JSON object.

use super::build::Built;
use super::input::Instance;
use dispatch_plan::check::RoutePlan;
use serde::Serialize;

/// One visit of a route.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StopOut {
    pub order: String,
    /// `pickup` or `dropoff`.
    pub stop: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Planned arrival, seconds from the instance's time zero.
    pub arrival_s: f64,
    /// Planned start of service (later than the arrival when the vehicle waits for
    /// the stop's `ready`).
    pub start_s: f64,
}

/// One used vehicle's route.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteOut {
    pub vehicle: String,
    pub distance_km: f64,
    /// Time on the road (waiting and service excluded).
    pub driving_h: f64,
    /// Departure from the start (the shift start).
    pub start_s: f64,
    /// Arrival at the end; for an open route, the end of the last stop's service.
    pub end_s: f64,
    pub stops: Vec<StopOut>,
}

/// A checked solution of a coordinates instance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoordsReport {
    pub instance: String,
    /// `haversine` or `roads`.
    pub travel: &'static str,
    /// The road graph directory, on roads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roads: Option<String>,
    pub orders: usize,
    pub vehicles_available: usize,
    pub vehicles_used: usize,
    pub distance_km: f64,
    pub driving_h: f64,
    /// Pairs of distinct points in the matrix.
    pub matrix_pairs: usize,
    /// On roads: pairs the network could not answer (a point farther than the snap
    /// radius from every road, or no path), timed on the great circle × detour instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_pairs: Option<u64>,
    pub routes: Vec<RouteOut>,
    /// Ids of the orders no vehicle could serve.
    pub unassigned: Vec<String>,
    /// Matrix (and road graph loading) time.
    pub matrix_ms: u64,
    pub search_ms: u64,
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// One route's times and totals, replaying the schedule from the matrix (no releases:
/// arrival = departure + travel time; service starts at `max(arrival, ready)`).
fn route(inst: &Instance, b: &Built, plan: &RoutePlan) -> (RouteOut, f64) {
    let p = &b.problem;
    let veh = &p.vehicles[plan.vehicle];
    let (mut t, mut prev) = (veh.start_time, veh.start);
    let (mut dist, mut drive) = (0.0, 0.0);
    let mut stops = Vec::with_capacity(plan.stops.len());
    for &s in &plan.stops {
        let node = &p.nodes[s];
        let arrival = t + p.matrix.time(prev, s);
        let start = arrival.max(node.ready);
        dist += p.matrix.dist(prev, s);
        drive += p.matrix.time(prev, s);
        let (order, role) = b.stop_of[s].unwrap_or((usize::MAX, super::build::Role::Dropoff));
        stops.push(StopOut {
            order: inst
                .orders
                .get(order)
                .map_or_else(String::new, |o| o.id.clone()),
            stop: role.name(),
            lat: b.points[s].lat,
            lon: b.points[s].lon,
            arrival_s: round(arrival, 1),
            start_s: round(start, 1),
        });
        t = start + node.service;
        prev = s;
    }
    if let Some(e) = veh.end {
        dist += p.matrix.dist(prev, e);
        drive += p.matrix.time(prev, e);
        t += p.matrix.time(prev, e);
    }
    let out = RouteOut {
        vehicle: inst.vehicles[plan.vehicle].id.clone(),
        distance_km: round(dist / 1000.0, 3),
        driving_h: round(drive / 3600.0, 4),
        start_s: round(veh.start_time, 1),
        end_s: round(t, 1),
        stops,
    };
    (out, drive)
}

/// The report of checked `plans` (`distance_m`: the checker's total): orders with no
/// stop on them are unassigned.
pub fn report(inst: &Instance, b: &Built, plans: &[RoutePlan], distance_m: f64) -> CoordsReport {
    let (routes, drives): (Vec<RouteOut>, Vec<f64>) = plans
        .iter()
        .filter(|r| !r.stops.is_empty())
        .map(|r| route(inst, b, r))
        .unzip();
    let mut served = vec![false; inst.orders.len()];
    for s in plans.iter().flat_map(|r| &r.stops) {
        if let Some((order, _)) = b.stop_of[*s] {
            served[order] = true;
        }
    }
    let unassigned = inst
        .orders
        .iter()
        .zip(&served)
        .filter(|(_, s)| !**s)
        .map(|(o, _)| o.id.clone())
        .collect();
    CoordsReport {
        instance: inst.name.clone(),
        travel: "haversine",
        roads: None,
        orders: inst.orders.len(),
        vehicles_available: inst.vehicles.len(),
        vehicles_used: routes.len(),
        distance_km: round(distance_m / 1000.0, 3),
        driving_h: round(drives.iter().fold(0.0, |a, b| a + b) / 3600.0, 4),
        matrix_pairs: b.pairs,
        fallback_pairs: b.fallbacks,
        routes,
        unassigned,
        matrix_ms: 0,
        search_ms: 0,
    }
}

impl CoordsReport {
    /// One JSON object on one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    pub fn to_text(&self) -> String {
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut s = format!(
            "{}: {}, {}, travel {}",
            self.instance,
            plural(self.orders, "order"),
            plural(self.vehicles_available, "vehicle"),
            self.travel
        );
        if let (Some(dir), Some(f)) = (&self.roads, self.fallback_pairs) {
            s.push_str(&format!(
                " ({dir}; {f} of {} pairs fell back to the great circle)",
                self.matrix_pairs
            ));
        }
        s.push_str(&format!(
            "\nvehicles used {} of {}, distance {:.2} km, driving {:.2} h, matrix {} ms, \
             search {} ms\n",
            self.vehicles_used,
            self.vehicles_available,
            self.distance_km,
            self.driving_h,
            self.matrix_ms,
            self.search_ms
        ));
        for r in &self.routes {
            s.push_str(&format!(
                "\n{}: {:.2} km, driving {:.2} h, leaves {:.0} s, done {:.0} s\n",
                r.vehicle, r.distance_km, r.driving_h, r.start_s, r.end_s
            ));
            s.push_str("    arrive s   start s  stop     order\n");
            for st in &r.stops {
                s.push_str(&format!(
                    "  {:>10.0} {:>9.0}  {:<8} {}\n",
                    st.arrival_s, st.start_s, st.stop, st.order
                ));
            }
        }
        if !self.unassigned.is_empty() {
            s.push_str(&format!(
                "\nunassigned ({}): {}\n",
                self.unassigned.len(),
                self.unassigned.join(", ")
            ));
        }
        s
    }
}
