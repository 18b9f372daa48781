//! `[dispatch.objective]` (what a plan costs: the weights every dispatch decision and
//! the replay's report use) and `[dispatch.reoptimise]` (the background search over a
//! region's routes and the limits on how much it may change them).

use super::validate::{check_float, check_ints, range, MS, MS_OR_OFF};
use super::ConfigError;
use dispatch_plan::search::Budget;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The live objective, in one currency unit: a plan costs `per_driver × drivers with
/// work + per_km × km + per_hour × driver-hours + per_late_minute × minutes late +
/// per_unassigned × orders left unserved`.
///
/// Defaults: a driver put to work costs as much as 1.5 hours of driving (a minimum
/// shift), an hour 20, a km 0.5 (fuel and wear), a late minute 2 and an order left
/// unserved 500 — the largest term, so serving every order comes first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectiveConfig {
    /// Fixed cost of each driver whose plan holds any work (an idle driver is not free
    /// to activate). 0 to 1,000,000.
    pub per_driver: f64,
    /// Cost per km driven. 0 to 1,000,000.
    pub per_km: f64,
    /// Cost per driver-hour, from now to the end of each route with work. 0 to 1,000,000.
    pub per_hour: f64,
    /// Cost per minute a stop starts after its window's end. 0 to 1,000,000.
    pub per_late_minute: f64,
    /// Cost of each order no driver serves. 0 to 1e9.
    pub per_unassigned: f64,
    /// The matching round weighs `per_driver` too: an order goes to a driver with
    /// nothing to do only when that saves more than putting one more driver to work
    /// costs (in metres of detour at `per_km` and `per_hour`). Off: the cheapest detour
    /// wins, an idle driver's included.
    pub in_matching: bool,
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        Self {
            per_driver: 30.0,
            per_km: 0.5,
            per_hour: 20.0,
            per_late_minute: 2.0,
            per_unassigned: 500.0,
            in_matching: false,
        }
    }
}

impl ObjectiveConfig {
    /// Metres of detour that cost as much as putting one more driver to work (driving at
    /// `speed_kmh`); 0 unless `in_matching`.
    pub fn activation_m(&self, speed_kmh: f64) -> f64 {
        let per_m = self.per_km / 1000.0 + self.per_hour / (speed_kmh.max(1e-9) * 1000.0);
        if !self.in_matching || per_m <= 0.0 {
            return 0.0;
        }
        (self.per_driver / per_m).min(1e9)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let weight = (0.0, 1_000_000.0);
        check_float(
            "dispatch.objective.per_driver",
            self.per_driver,
            weight,
            false,
            "",
        )?;
        check_float("dispatch.objective.per_km", self.per_km, weight, false, "")?;
        check_float(
            "dispatch.objective.per_hour",
            self.per_hour,
            weight,
            false,
            "",
        )?;
        check_float(
            "dispatch.objective.per_late_minute",
            self.per_late_minute,
            weight,
            false,
            "",
        )?;
        check_float(
            "dispatch.objective.per_unassigned",
            self.per_unassigned,
            (0.0, 1e9),
            false,
            "",
        )
    }
}

/// Continuous re-optimisation (on by default; `every_ms = 0` turns it off): every
/// `every_ms` each region with work and at least two available drivers hands their
/// not-yet-started work to a background search (the planner's route minimisation and
/// ruin-and-recreate, starting from the current plan) for `iterations_per_order` × its
/// orders iterations or `budget_ms`, whichever ends first, on an idle-priority worker
/// thread, and proposes the result when it saves enough. `workers × cpu_share` bounds
/// its CPU: at the morning peak the defaults took 3.4 % off the km per delivered order
/// for +44 % engine CPU (docs/BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReoptConfig {
    /// How often a region re-optimises (also right after a matching round that
    /// assigned orders, once per interval at most); 0 turns it off.
    pub every_ms: u64,
    /// Wall-clock time of one search, at most: 1 ms to 60 s.
    pub budget_ms: u64,
    /// Ruin-and-recreate iterations per order in the search, after which it ends before
    /// `budget_ms` (a region with little work takes little CPU; most of what a search
    /// finds from the current plan it finds early): 0 (the time alone) to 100,000.
    pub iterations_per_order: u64,
    /// Searches running at once, all regions together (each on its own thread): 1 to
    /// 256. Bounds the CPU re-optimisation takes: `workers` cores at most.
    pub workers: usize,
    /// Share of the time each worker may search, 0.01 to 1: after a search it rests
    /// (1 − share) / share as long. Bounds re-optimisation's CPU to `workers ×
    /// cpu_share` cores whatever the number of regions.
    pub cpu_share: f64,
    /// The stop each driver is on its way to stays its next stop, and its order stays
    /// with it: a driver is never turned around mid-drive (the replay showed turning
    /// drivers around costs more than it saves). Off: only within `commit_radius_m`.
    pub keep_next_stop: bool,
    /// A driver this close to its next stop is committed to it: that stop stays first
    /// and its order stays with the driver. 0 to 100,000 m.
    pub commit_radius_m: f64,
    /// A plan is taken only if it saves at least this much (objective units) per order
    /// it moves to another driver, and more than 0 at all. 0 to 1,000,000.
    pub min_saving_per_move: f64,
    /// Most re-optimisation changes to one driver's route per hour: 1 to 3,600.
    pub max_changes_per_driver_hour: u32,
    /// Most drivers in one search (those with work first): 2 to 1,000.
    pub max_drivers: usize,
    /// A matching round placing at least `batch_min_orders` orders (a batch known in
    /// advance) searches them as a whole for this long before proposing anything
    /// (the region waits meanwhile; nobody has moved yet, so the whole batch may
    /// still be regrouped): 0 (never) to 10,000 ms.
    pub batch_budget_ms: u64,
    /// 1 to 100,000 orders.
    pub batch_min_orders: usize,
    /// Slack a re-optimised plan keeps before the end of every window (unless the
    /// current plan already has less there): it lands a moment after it was made and is
    /// driven by people, so a plan that just makes a window is proposed as late. 0 to
    /// 3,600,000 ms.
    pub window_margin_ms: u64,
}

impl Default for ReoptConfig {
    fn default() -> Self {
        Self {
            every_ms: 1_000,
            budget_ms: 200,
            iterations_per_order: 30,
            workers: 1,
            cpu_share: 0.25,
            keep_next_stop: true,
            commit_radius_m: 300.0,
            min_saving_per_move: 0.5,
            max_changes_per_driver_hour: 30,
            max_drivers: 200,
            batch_budget_ms: 0,
            batch_min_orders: 24,
            window_margin_ms: 30_000,
        }
    }
}

impl ReoptConfig {
    /// How close a driver must be to its next stop to be committed to it: anywhere with
    /// `keep_next_stop`, else `commit_radius_m`.
    pub fn commit_radius(&self) -> f64 {
        if self.keep_next_stop {
            f64::INFINITY
        } else {
            self.commit_radius_m
        }
    }

    /// One search's budget over `orders` orders.
    pub fn search_budget(&self, orders: usize) -> Budget {
        let time = Duration::from_millis(self.budget_ms);
        match self.iterations_per_order {
            0 => Budget::Time(time),
            k => Budget::Either {
                time,
                iterations: k.saturating_mul(orders.max(1) as u64),
            },
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check_ints(&[
            ("dispatch.reoptimise.every_ms", self.every_ms, MS_OR_OFF),
            ("dispatch.reoptimise.budget_ms", self.budget_ms, MS),
            (
                "dispatch.reoptimise.iterations_per_order",
                self.iterations_per_order,
                range(0, 100_000, "iterations"),
            ),
            (
                "dispatch.reoptimise.workers",
                self.workers as u64,
                range(1, 256, "threads"),
            ),
            (
                "dispatch.reoptimise.max_changes_per_driver_hour",
                u64::from(self.max_changes_per_driver_hour),
                range(1, 3_600, "changes"),
            ),
            (
                "dispatch.reoptimise.batch_budget_ms",
                self.batch_budget_ms,
                range(0, 10_000, "ms"),
            ),
            (
                "dispatch.reoptimise.batch_min_orders",
                self.batch_min_orders as u64,
                range(1, 100_000, "orders"),
            ),
            (
                "dispatch.reoptimise.window_margin_ms",
                self.window_margin_ms,
                range(0, 3_600_000, "ms"),
            ),
            (
                "dispatch.reoptimise.max_drivers",
                self.max_drivers as u64,
                range(2, 1_000, "drivers"),
            ),
        ])?;
        if self.budget_ms > 60_000 {
            return Err(ConfigError::Invalid(format!(
                "dispatch.reoptimise.budget_ms = {} is out of range: allowed 1 to 60000 ms",
                self.budget_ms
            )));
        }
        check_float(
            "dispatch.reoptimise.cpu_share",
            self.cpu_share,
            (0.01, 1.0),
            false,
            "",
        )?;
        check_float(
            "dispatch.reoptimise.commit_radius_m",
            self.commit_radius_m,
            (0.0, 100_000.0),
            false,
            "m",
        )?;
        check_float(
            "dispatch.reoptimise.min_saving_per_move",
            self.min_saving_per_move,
            (0.0, 1_000_000.0),
            false,
            "",
        )
    }
}
