//! What a replay measured: the result (`replay.json`, `--json`), how it follows from
//! the bots' logs and the engine's final order states, and the human summary.

use super::bot::BotResult;
use super::instance::dist;
use super::{LilimArgs, Setup};
use crate::common::Summary;
use crate::target::Target;
use dispatch_engine::config::ObjectiveConfig;
use dispatch_protocol::StopKind;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tokio::task::JoinSet;

/// The result of one replay.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayResult {
    pub instance: String,
    pub mode: &'static str,
    /// When the bots set out for their next stop (`--depart`).
    pub depart: super::Depart,
    pub reveal: String,
    pub engine: String,
    pub encoding: &'static str,
    pub speedup: f64,
    /// Wall-clock milliseconds per instance time unit.
    pub ms_per_unit: f64,
    /// Metres per instance unit in the engine's scale model.
    pub engine_metres_per_unit: f64,
    /// Service times sent to the engine (whole seconds) differ from the instance's.
    pub service_rounded: bool,
    pub engine_config: Value,
    pub requests: usize,
    pub vehicles_available: usize,
    pub capacity: i32,
    pub horizon: f64,
    pub bks_vehicles: Option<usize>,
    pub bks_distance: Option<f64>,
    /// Instance units the bots drove.
    pub driven: f64,
    /// Straight legs from each used vehicle's last position back to the depot.
    pub return_to_depot: f64,
    /// `driven + return_to_depot`: comparable with the best-known distance.
    pub distance: f64,
    /// `distance / bks_distance − 1`, in percent.
    pub price_of_dynamism_pct: Option<f64>,
    pub vehicles_used: usize,
    pub delivered: usize,
    pub not_delivered: usize,
    /// Orders that were `unassignable` at some point.
    pub ever_unassignable: usize,
    pub final_status: BTreeMap<String, u64>,
    /// Stops whose service started after their due time (beyond 0.5 time units).
    pub late_pickups: usize,
    pub late_deliveries: usize,
    pub max_lateness: f64,
    /// Time units spent waiting at stops for their ready time, all vehicles together.
    pub waiting: f64,
    /// Instance time when the last stop was done.
    pub last_stop_at: f64,
    /// Instance time when the replay stopped.
    pub ended_at: f64,
    /// Order revealed (POST sent) → first route holding it, wall-clock ms.
    pub revealed_to_route: Summary,
    pub positions_sent: u64,
    pub routes_received: u64,
    pub stops_turned_away: u64,
    /// Route messages the bots received per request (churn: 1 would be one route per
    /// order; every re-plan of a route with several orders adds one).
    pub route_pushes_per_order: f64,
    /// Orders re-optimisation moved between drivers (engine counter).
    pub orders_moved: f64,
    /// Dynamic replays with `--reference-s`: the offline planner's plan when no vehicle
    /// sets out towards a request before it is revealed (see `replay/reference.rs`).
    pub reference: Option<super::reference::Reference>,
    /// `distance / reference.distance − 1`, in percent (every request delivered).
    pub gap_to_reference_pct: Option<f64>,
    /// The plan the bots drove, priced by the engine's `[dispatch.objective]` weights.
    pub objective: Objective,
    pub errors: BTreeMap<String, u64>,
    /// Engine counters (deltas over the replay).
    pub engine_counters: BTreeMap<String, f64>,
    pub wall_s: f64,
    pub timed_out: bool,
    pub notes: Vec<String>,
}

/// Lateness tolerated before a stop counts as late (timer jitter and engine latency on
/// the wall clock are a few milliseconds, i.e. a small fraction of a time unit).
const LATE_TOLERANCE: f64 = 0.5;

/// The live objective's terms for what the bots drove (1 unit = 100 m, 1 time unit =
/// 10 s) and its total by the engine's weights.
#[derive(Debug, Clone, Serialize)]
pub struct Objective {
    pub drivers: usize,
    pub km: f64,
    pub driver_hours: f64,
    pub late_minutes: f64,
    pub undelivered: usize,
    pub total: f64,
}

impl Objective {
    fn of(d: &Driving, distance: f64, undelivered: usize, w: &ObjectiveConfig) -> Self {
        let km = distance * super::instance::METRES_PER_UNIT / 1000.0;
        let secs = super::instance::SECONDS_PER_UNIT;
        let driver_hours = d.vehicle_time * secs / 3600.0;
        let late_minutes = d.late_units * secs / 60.0;
        let total = w.per_driver * d.vehicles_used as f64
            + w.per_km * km
            + w.per_hour * driver_hours
            + w.per_late_minute * late_minutes
            + w.per_unassigned * undelivered as f64;
        Self {
            drivers: d.vehicles_used,
            km,
            driver_hours,
            late_minutes,
            undelivered,
            total,
        }
    }
}

pub const COUNTERS: [&str; 9] = [
    "dispatch_reopt_moved_orders_total",
    "dispatch_reopt_routes_changed_total",
    "dispatch_orders_created_total",
    "dispatch_proposals_accepted_total",
    "dispatch_proposals_rejected_total",
    "dispatch_orders_unassignable_total",
    "dispatch_orders_rebalanced_total",
    "dispatch_orders_given_back_total",
    "dispatch_replans_total",
];

/// What the engine says about every order at the end.
#[derive(Default)]
pub struct FinalStates {
    pub status: BTreeMap<String, u64>,
    /// Orders that were `unassignable` at some point.
    pub ever_unassignable: usize,
    /// "id status reason" of each order not delivered, sorted.
    pub undelivered: Vec<String>,
}

impl FinalStates {
    /// Reads every order, 16 at a time.
    pub async fn read(http: &reqwest::Client, engine: &Target, order_ids: &[String]) -> Self {
        let mut states = Self::default();
        let mut set = JoinSet::new();
        for id in order_ids {
            let (http, console) = (http.clone(), engine.console.clone());
            let url = format!("{}/v1/orders/{id}", engine.base);
            set.spawn(async move {
                match http.get(url).bearer_auth(&console).send().await {
                    Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                }
            });
            if set.len() >= 16 {
                if let Some(Ok(v)) = set.join_next().await {
                    states.tally(&v);
                }
            }
        }
        while let Some(r) = set.join_next().await {
            if let Ok(v) = r {
                states.tally(&v);
            }
        }
        states.undelivered.sort();
        states
    }

    fn tally(&mut self, order: &Value) {
        let s = order["status"].as_str().unwrap_or("unknown").to_string();
        if s != "delivered" {
            let reason = order["history"]
                .as_array()
                .and_then(|h| h.iter().rev().find_map(|c| c["reason"].as_str()))
                .unwrap_or("");
            self.undelivered.push(format!(
                "{} {s} {reason}",
                order["id"].as_str().unwrap_or("?")
            ));
        }
        *self.status.entry(s).or_default() += 1;
        if order["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|c| c["status"] == "unassignable"))
        {
            self.ever_unassignable += 1;
        }
    }
}

/// What the bots drove and served, in instance units.
pub struct Driving {
    pub driven: f64,
    pub return_to_depot: f64,
    pub vehicles_used: usize,
    pub late_pickups: usize,
    pub late_deliveries: usize,
    /// `NEG_INFINITY` when no stop was served.
    pub max_lateness: f64,
    pub waiting: f64,
    pub last_stop_at: f64,
    /// Over the used vehicles: time units from 0 to the last stop's start plus the
    /// return to the depot (at the instance's unit speed).
    pub vehicle_time: f64,
    /// Over every stop: time units its service started after its due time.
    pub late_units: f64,
}

impl Driving {
    pub fn of(results: &[BotResult], depot: (f64, f64)) -> Self {
        let used: Vec<&BotResult> = results.iter().filter(|b| !b.served.is_empty()).collect();
        let mut d = Self {
            driven: results.iter().map(|b| b.driven).sum(),
            return_to_depot: used.iter().map(|b| dist(b.position, depot)).sum(),
            vehicles_used: used.len(),
            late_pickups: 0,
            late_deliveries: 0,
            max_lateness: f64::NEG_INFINITY,
            waiting: 0.0,
            last_stop_at: 0.0,
            vehicle_time: used
                .iter()
                .map(|b| {
                    let last = b.served.iter().map(|s| s.started).fold(0.0, f64::max);
                    last + dist(b.position, depot)
                })
                .sum(),
            late_units: 0.0,
        };
        for s in results.iter().flat_map(|b| b.served.iter()) {
            d.late_units += s.lateness.max(0.0);
            d.waiting += s.started - s.arrived;
            if s.lateness > LATE_TOLERANCE {
                match s.kind {
                    StopKind::Pickup => d.late_pickups += 1,
                    StopKind::Dropoff => d.late_deliveries += 1,
                }
            }
            d.max_lateness = d.max_lateness.max(s.lateness);
            d.last_stop_at = d.last_stop_at.max(s.started);
        }
        d
    }
}

/// Everything a replay measured, before it becomes a `ReplayResult`.
pub struct Measured {
    pub delivered: usize,
    /// Requests revealed before their ready time (the default reveal).
    pub revealed_early: usize,
    /// Instance units before the last moment such a request is revealed.
    pub margin: f64,
    pub finals: FinalStates,
    pub bots: Vec<BotResult>,
    pub revealed_to_route: Summary,
    pub errors: BTreeMap<String, u64>,
    pub engine_counters: BTreeMap<String, f64>,
    pub ended_at: f64,
    pub timed_out: bool,
    pub notes: Vec<String>,
}

impl ReplayResult {
    pub fn new(a: &LilimArgs, setup: &Setup, engine: &Target, m: Measured) -> anyhow::Result<Self> {
        let (inst, world, bks) = (&setup.inst, &setup.world, setup.bks.as_ref());
        let n_req = inst.requests.len();
        let d = Driving::of(&m.bots, inst.depot());
        let distance = d.driven + d.return_to_depot;
        let mut notes = m.notes;
        let price = bks
            .filter(|b| b.distance > 0.0 && m.delivered == n_req)
            .map(|b| (distance / b.distance - 1.0) * 100.0);
        if bks.is_some() && m.delivered < n_req {
            notes.push("not every request was delivered: no price of dynamism computed".into());
        }
        // Unscaled weights: the report prices the city, not the engine's scale model.
        let weights = ObjectiveConfig::default();
        let weights = engine
            .config()
            .map_or(weights, |c| unscaled(&c.dispatch.objective, world.speedup));
        let objective = Objective::of(&d, distance, n_req - m.delivered, &weights);
        let routes_received: u64 = m.bots.iter().map(|b| b.routes).sum();
        let orders_moved = m
            .engine_counters
            .get("dispatch_reopt_moved_orders_total")
            .copied()
            .unwrap_or(0.0);
        Ok(Self {
            instance: inst.name.clone(),
            mode: if a.static_reveal { "static" } else { "dynamic" },
            depart: a.depart,
            reveal: reveal_text(a, m.revealed_early, n_req, m.margin, setup.lead_s),
            engine: engine.label(),
            encoding: if a.json_frames { "json" } else { "bincode" },
            speedup: world.speedup,
            ms_per_unit: world.ms_per_unit,
            engine_metres_per_unit: world.metres_per_unit,
            service_rounded: setup.service_rounded,
            engine_config: shown_config(engine)?,
            requests: n_req,
            vehicles_available: inst.vehicles,
            capacity: inst.capacity,
            horizon: inst.horizon,
            bks_vehicles: bks.map(|b| b.vehicles),
            bks_distance: bks.map(|b| b.distance),
            driven: d.driven,
            return_to_depot: d.return_to_depot,
            distance,
            price_of_dynamism_pct: price,
            vehicles_used: d.vehicles_used,
            delivered: m.delivered,
            not_delivered: n_req - m.delivered,
            ever_unassignable: m.finals.ever_unassignable,
            final_status: m.finals.status,
            late_pickups: d.late_pickups,
            late_deliveries: d.late_deliveries,
            max_lateness: if d.max_lateness.is_finite() {
                d.max_lateness
            } else {
                0.0
            },
            waiting: d.waiting,
            last_stop_at: d.last_stop_at,
            ended_at: m.ended_at,
            revealed_to_route: m.revealed_to_route,
            positions_sent: m.bots.iter().map(|b| b.positions_sent).sum(),
            routes_received,
            stops_turned_away: m.bots.iter().map(|b| b.turned_away).sum(),
            route_pushes_per_order: routes_received as f64 / n_req.max(1) as f64,
            orders_moved,
            reference: None,
            gap_to_reference_pct: None,
            objective,
            errors: m.errors,
            engine_counters: m.engine_counters,
            wall_s: 0.0,
            timed_out: m.timed_out,
            notes,
        })
    }
}

/// The weights as configured for the city, from the engine's (scaled) ones.
fn unscaled(w: &ObjectiveConfig, speedup: f64) -> ObjectiveConfig {
    ObjectiveConfig {
        per_km: w.per_km / speedup,
        per_hour: w.per_hour / speedup,
        per_late_minute: w.per_late_minute / speedup,
        ..*w
    }
}

fn reveal_text(a: &LilimArgs, early: usize, n_req: usize, margin: f64, lead_s: f64) -> String {
    if a.static_reveal && lead_s > 0.0 {
        format!("every request {lead_s:.2} s wall before time 0, no vehicle leaving before 0")
    } else if a.static_reveal {
        "every request at time 0".into()
    } else if a.strict_ready {
        "each request at its pickup's ready time".into()
    } else {
        format!(
            "each request at its pickup's ready time ({early} of {n_req} earlier: {margin:.1} units before the last moment a vehicle waiting at the depot could still serve them)"
        )
    }
}

/// The travel and dispatch settings of an engine the replay started (`null` with --url).
fn shown_config(engine: &Target) -> anyhow::Result<Value> {
    Ok(match engine.config() {
        Some(c) => json!({
            "travel": serde_json::to_value(&c.travel)?,
            "dispatch": serde_json::to_value(&c.dispatch)?,
        }),
        None => Value::Null,
    })
}

/// The human summary.
pub fn summary(r: &ReplayResult) -> String {
    let mut s = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "Li & Lim replay {} ({}: {}), engine {}, {}× speed-up, {:.1} s wall{}",
        r.instance,
        r.mode,
        r.reveal,
        r.engine,
        r.speedup,
        r.wall_s,
        if r.timed_out { " (TIME LIMIT)" } else { "" }
    );
    let _ = writeln!(
        s,
        "  requests {:>4}   delivered {:>4}   not delivered {:>3}   ever unassignable {:>3}   final {:?}",
        r.requests, r.delivered, r.not_delivered, r.ever_unassignable, r.final_status
    );
    let _ = writeln!(
        s,
        "  late pickups {:>3}   late deliveries {:>3}   max lateness {:.1} units   last stop at {:.1} of horizon {}",
        r.late_pickups, r.late_deliveries, r.max_lateness, r.last_stop_at, r.horizon
    );
    let bks = match (r.bks_vehicles, r.bks_distance) {
        (Some(v), Some(d)) => format!("{v} vehicles, {d:.2}"),
        _ => "unknown".into(),
    };
    let _ = writeln!(
        s,
        "  vehicles used {:>3} of {:<3}  distance {:.2} (driven {:.2} + return {:.2})   best known {}",
        r.vehicles_used, r.vehicles_available, r.distance, r.driven, r.return_to_depot, bks
    );
    let _ = writeln!(
        s,
        "  {}: {}",
        if r.mode == "static" {
            "gap to the best known (all requests known at time 0)"
        } else {
            "price of dynamic dispatch"
        },
        r.price_of_dynamism_pct
            .map_or("n/a (not every request was delivered)".into(), |p| format!(
                "{p:+.1} % distance"
            ))
    );
    if let Some(x) = &r.reference {
        let _ = writeln!(
            s,
            "  reference (no vehicle sets out before a request is revealed + {:.1} units): {} vehicles, {:.2}, {} unserved   gap to it {}",
            x.reaction_units,
            x.vehicles,
            x.distance,
            x.unserved,
            r.gap_to_reference_pct
                .map_or("n/a".into(), |p| format!("{p:+.1} % distance"))
        );
    }
    let _ = writeln!(
        s,
        "  revealed → route (wall) {}   positions {}   routes {}   stops turned away {}",
        r.revealed_to_route, r.positions_sent, r.routes_received, r.stops_turned_away
    );
    let o = &r.objective;
    let _ = writeln!(
        s,
        "  objective {:.1}: {} drivers, {:.1} km, {:.2} driver-hours, {:.1} late minutes, {} undelivered   route pushes per order {:.2}   orders moved {}",
        o.total, o.drivers, o.km, o.driver_hours, o.late_minutes, o.undelivered, r.route_pushes_per_order, r.orders_moved
    );
    if !r.errors.is_empty() {
        let _ = writeln!(s, "  errors {:?}", r.errors);
    }
    let _ = writeln!(s, "  engine counters (Δ) {:?}", r.engine_counters);
    for n in &r.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    s
}
