//! Scenario files for `dispatch-sim run`: a city (service area, demand hotspots, dropoff
//! spread), a fleet (size, shifts, capacity, speed, position interval, service time,
//! wire encoding), demand (orders per hour of the day, a peak window with a multiplier,
//! order sizes, time windows), injected trouble (disconnect storms, drivers going
//! offline, cancellations) and budgets. TOML, unknown fields refused, validated once with
//! messages that name the field.
//!
//! Clocks are `"HH:MM"` on the scenario's day (up to `"48:00"` for the next day); every
//! time inside the simulation is seconds since the scenario's `start`.

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// Seeds the order stream, the injections and the drivers' behaviour.
    pub seed: u64,
    /// Simulated clock at the start, `"HH:MM"`.
    pub start: String,
    /// Simulated minutes of demand.
    pub duration_min: f64,
    /// Simulated seconds per real second.
    pub speedup: f64,
    /// Simulated minutes after the last order in which the fleet finishes its routes
    /// (no new orders); the run ends earlier once every order is finished.
    #[serde(default = "default_drain_min")]
    pub drain_min: f64,
    pub area: AreaSpec,
    /// Pickup clusters (depots, restaurants). Empty: pickups uniform in the area.
    #[serde(default)]
    pub hotspots: Vec<Hotspot>,
    pub dropoff: DropoffSpec,
    pub fleet: FleetSpec,
    pub demand: DemandSpec,
    #[serde(default)]
    pub injections: Injections,
    #[serde(default)]
    pub budgets: Budgets,
}

fn default_drain_min() -> f64 {
    30.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaSpec {
    /// `[min_lon, min_lat, max_lon, max_lat]` (the engine's `service_area` order).
    pub bbox: [f64; 4],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hotspot {
    #[serde(default)]
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
    /// Relative share of pickups.
    pub weight: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// Dropoffs uniform in the area.
    Uniform,
    /// Dropoffs `min_km..=max_km` from the pickup, in a random direction, in the area.
    AroundPickup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropoffSpec {
    pub spread: Spread,
    #[serde(default)]
    pub min_km: Option<f64>,
    #[serde(default)]
    pub max_km: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Idle {
    /// An idle driver stays where its last stop was.
    Stay,
    /// An idle driver drives back to the nearest hotspot.
    ReturnToHotspot,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    pub size: usize,
    pub capacity: u32,
    /// Driving speed along the road; the bots move `speed_kmh / detour_factor` along the
    /// straight line.
    pub speed_kmh: f64,
    /// Road distance / straight-line distance (also given to an embedded engine).
    #[serde(default = "default_detour")]
    pub detour_factor: f64,
    /// Simulated seconds between two positions of a driver.
    pub position_interval_s: f64,
    /// Simulated seconds spent at each stop (also the orders' `service_s`, scaled).
    pub service_s: f64,
    /// Share of drivers speaking JSON text frames; the rest use bincode.
    #[serde(default)]
    pub json_share: f64,
    /// Share of orders whose dropoff the driver reports `failed`.
    #[serde(default)]
    pub failed_share: f64,
    #[serde(default = "default_idle")]
    pub idle: Idle,
    /// Shares of the fleet per shift (they must add up to 1).
    pub shifts: Vec<Shift>,
}

fn default_detour() -> f64 {
    1.3
}

fn default_idle() -> Idle {
    Idle::Stay
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    pub start: String,
    pub end: String,
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandSpec {
    /// Orders per hour, the same every hour (use this or `hourly`).
    #[serde(default)]
    pub orders_per_hour: Option<f64>,
    /// Orders per hour for each hour of the day, 00–23 (24 values).
    #[serde(default)]
    pub hourly: Option<Vec<f64>>,
    #[serde(default)]
    pub peak: Option<Peak>,
    /// Order sizes and their weights. Empty: every order has size 1.
    #[serde(default)]
    pub sizes: Vec<SizeWeight>,
    #[serde(default)]
    pub windows: Option<Windows>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peak {
    pub start: String,
    pub end: String,
    pub multiplier: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeWeight {
    pub size: u32,
    pub weight: f64,
}

/// Time windows: the pickup is ready at creation; a `share` of the orders must be picked
/// up within `pickup_due_min` (optional) and delivered within `dropoff_due_min` of their
/// creation. The others have no windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    pub share: f64,
    pub dropoff_due_min: f64,
    #[serde(default)]
    pub pickup_due_min: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Injections {
    #[serde(default)]
    pub disconnects: Vec<DisconnectStorm>,
    #[serde(default)]
    pub offline: Vec<GoOffline>,
    #[serde(default)]
    pub cancellations: Option<Cancellations>,
}

/// At `at`, a `share` of the drivers on shift lose their socket for `duration_min`,
/// then reconnect with `hello` + `resume_seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisconnectStorm {
    pub at: String,
    pub share: f64,
    pub duration_min: f64,
}

/// At `at`, a `share` of the drivers on shift set themselves offline (back available
/// after `back_after_min`, or for the rest of their shift).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoOffline {
    pub at: String,
    pub share: f64,
    #[serde(default)]
    pub back_after_min: Option<f64>,
}

/// A `share` of the orders is cancelled `min_delay_min..=max_delay_min` after creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cancellations {
    pub share: f64,
    pub min_delay_min: f64,
    pub max_delay_min: f64,
}

/// Limits the run must meet; each one set is checked and reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    pub p50_created_to_assigned_ms: Option<f64>,
    pub p99_created_to_assigned_ms: Option<f64>,
    pub p50_created_to_route_ms: Option<f64>,
    pub p99_created_to_route_ms: Option<f64>,
    pub max_errors: Option<u64>,
    /// Delivered / (created − cancelled), percent.
    pub min_delivered_pct: Option<f64>,
    /// Delivered no later than the dropoff's due time / delivered, percent.
    pub min_delivered_on_time_pct: Option<f64>,
    /// Picked up no later than the pickup's due time / picked up, percent.
    pub min_pickup_on_time_pct: Option<f64>,
    /// Orders the engine declared unassignable at least once / created, percent.
    pub max_unassignable_pct: Option<f64>,
    /// Positions per second (wall clock) the bots sent.
    pub min_positions_per_s: Option<f64>,
}

/// `"HH:MM"` → seconds since midnight (00:00..=48:00).
pub fn parse_clock(s: &str) -> anyhow::Result<f64> {
    let (h, m) = s
        .split_once(':')
        .with_context(|| format!("{s:?} is not a clock \"HH:MM\""))?;
    let h: u32 = h
        .trim()
        .parse()
        .with_context(|| format!("{s:?}: hours are not a number"))?;
    let m: u32 = m
        .trim()
        .parse()
        .with_context(|| format!("{s:?}: minutes are not a number"))?;
    if m >= 60 || h * 60 + m > 48 * 60 {
        bail!("{s:?} is not a clock between 00:00 and 48:00");
    }
    Ok(f64::from(h * 3600 + m * 60))
}

/// Seconds since midnight → `"HH:MM"` (wrapping at 24 h).
pub fn clock_label(day_s: f64) -> String {
    let m = (day_s.max(0.0) / 60.0).floor() as u64;
    format!("{:02}:{:02}", (m / 60) % 24, m % 60)
}

fn positive(v: f64, field: &str) -> anyhow::Result<()> {
    if !(v.is_finite() && v > 0.0) {
        bail!("{field} must be a positive number (got {v})");
    }
    Ok(())
}

fn share(v: f64, field: &str) -> anyhow::Result<()> {
    if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
        bail!("{field} must be a share between 0 and 1 (got {v})");
    }
    Ok(())
}

impl Scenario {
    /// Reads and validates a scenario file.
    #[cfg(test)]
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let s = Self::read(path)?;
        s.validate()
            .with_context(|| format!("scenario {}", path.display()))?;
        Ok(s)
    }

    /// Reads a scenario file without validating it (for command-line overrides first).
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading scenario {}", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("scenario {}", path.display()))
    }

    #[cfg(test)]
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let s: Scenario = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        s.validate()?;
        Ok(s)
    }

    /// Seconds since midnight of the start clock.
    pub fn start_s(&self) -> f64 {
        parse_clock(&self.start).unwrap_or(0.0)
    }

    pub fn duration_s(&self) -> f64 {
        self.duration_min * 60.0
    }

    pub fn drain_s(&self) -> f64 {
        self.drain_min * 60.0
    }

    /// A clock of the scenario's day as seconds since the start (negative before it).
    pub fn rel(&self, clock: &str) -> f64 {
        parse_clock(clock).unwrap_or(0.0) - self.start_s()
    }

    /// Orders per hour at simulated second `t` (hour-of-day curve × peak multiplier).
    pub fn rate_per_hour(&self, t: f64) -> f64 {
        let day_s = self.start_s() + t;
        let hour = ((day_s / 3600.0).floor() as i64).rem_euclid(24) as usize;
        let base = match (&self.demand.hourly, self.demand.orders_per_hour) {
            (Some(h), _) => h[hour],
            (None, Some(r)) => r,
            (None, None) => 0.0,
        };
        let mult = match &self.demand.peak {
            Some(p) => {
                let (a, b) = (
                    parse_clock(&p.start).unwrap_or(0.0),
                    parse_clock(&p.end).unwrap_or(0.0),
                );
                let in_peak = (a..b).contains(&day_s) || (a..b).contains(&(day_s - 86_400.0));
                if in_peak {
                    p.multiplier
                } else {
                    1.0
                }
            }
            None => 1.0,
        };
        base * mult
    }

    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.validate_world()?;
        self.validate_fleet()?;
        self.validate_demand()?;
        self.validate_injections()?;
        self.validate_budgets()
    }

    /// Name, times, area, hotspots and where dropoffs fall.
    fn validate_world(&self) -> anyhow::Result<()> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!(
                "name must be non-empty letters, digits, '-' or '_' (got {:?})",
                self.name
            );
        }
        parse_clock(&self.start).context("start")?;
        positive(self.duration_min, "duration_min")?;
        positive(self.speedup, "speedup")?;
        if !(self.drain_min.is_finite() && self.drain_min >= 0.0) {
            bail!(
                "drain_min must be zero or positive (got {})",
                self.drain_min
            );
        }
        let [min_lon, min_lat, max_lon, max_lat] = self.area.bbox;
        if !(min_lon < max_lon
            && min_lat < max_lat
            && (-180.0..=180.0).contains(&min_lon)
            && (-180.0..=180.0).contains(&max_lon)
            && (-90.0..=90.0).contains(&min_lat)
            && (-90.0..=90.0).contains(&max_lat))
        {
            bail!(
                "area.bbox must be [min_lon, min_lat, max_lon, max_lat] with min < max (got {:?})",
                self.area.bbox
            );
        }
        for (i, h) in self.hotspots.iter().enumerate() {
            let f = format!("hotspots[{i}]");
            if !(min_lat..=max_lat).contains(&h.lat) || !(min_lon..=max_lon).contains(&h.lon) {
                bail!(
                    "{f} ({}) centre {},{} is outside area.bbox",
                    h.name,
                    h.lat,
                    h.lon
                );
            }
            positive(h.radius_m, &format!("{f}.radius_m"))?;
            positive(h.weight, &format!("{f}.weight"))?;
        }
        match self.dropoff.spread {
            Spread::Uniform => {
                if self.dropoff.min_km.is_some() || self.dropoff.max_km.is_some() {
                    bail!("dropoff.min_km/max_km only apply to spread = \"around_pickup\"");
                }
            }
            Spread::AroundPickup => {
                let (Some(a), Some(b)) = (self.dropoff.min_km, self.dropoff.max_km) else {
                    bail!("dropoff spread \"around_pickup\" needs min_km and max_km");
                };
                if !(a.is_finite() && b.is_finite() && 0.0 <= a && a <= b && b > 0.0) {
                    bail!("dropoff needs 0 <= min_km <= max_km, max_km > 0 (got {a}, {b})");
                }
            }
        }
        Ok(())
    }

    fn validate_fleet(&self) -> anyhow::Result<()> {
        let f = &self.fleet;
        if f.size == 0 {
            bail!("fleet.size must be at least 1");
        }
        if f.capacity == 0 {
            bail!("fleet.capacity must be at least 1");
        }
        positive(f.speed_kmh, "fleet.speed_kmh")?;
        if !(f.detour_factor.is_finite() && f.detour_factor >= 1.0) {
            bail!(
                "fleet.detour_factor must be at least 1 (got {})",
                f.detour_factor
            );
        }
        positive(f.position_interval_s, "fleet.position_interval_s")?;
        if !(f.service_s.is_finite() && (0.0..=86_400.0).contains(&f.service_s)) {
            bail!("fleet.service_s must be 0..=86400 (got {})", f.service_s);
        }
        share(f.json_share, "fleet.json_share")?;
        share(f.failed_share, "fleet.failed_share")?;
        if f.shifts.is_empty() {
            bail!("fleet.shifts needs at least one shift");
        }
        let mut total = 0.0;
        for (i, s) in f.shifts.iter().enumerate() {
            let a = parse_clock(&s.start).with_context(|| format!("fleet.shifts[{i}].start"))?;
            let b = parse_clock(&s.end).with_context(|| format!("fleet.shifts[{i}].end"))?;
            if b <= a {
                bail!(
                    "fleet.shifts[{i}]: end {} must be after start {}",
                    s.end,
                    s.start
                );
            }
            share(s.share, &format!("fleet.shifts[{i}].share"))?;
            total += s.share;
        }
        if (total - 1.0).abs() > 1e-6 {
            bail!("fleet.shifts: shares must add up to 1 (got {total})");
        }
        Ok(())
    }

    fn validate_demand(&self) -> anyhow::Result<()> {
        let f = &self.fleet;
        let d = &self.demand;
        match (&d.hourly, d.orders_per_hour) {
            (Some(_), Some(_)) => bail!("demand: give orders_per_hour or hourly, not both"),
            (None, None) => bail!("demand needs orders_per_hour or hourly"),
            (Some(h), None) => {
                if h.len() != 24 {
                    bail!(
                        "demand.hourly needs 24 values (hours 00..23), got {}",
                        h.len()
                    );
                }
                if h.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                    bail!("demand.hourly values must be zero or positive");
                }
            }
            (None, Some(r)) => {
                if !(r.is_finite() && r >= 0.0) {
                    bail!("demand.orders_per_hour must be zero or positive (got {r})");
                }
            }
        }
        if let Some(p) = &d.peak {
            let a = parse_clock(&p.start).context("demand.peak.start")?;
            let b = parse_clock(&p.end).context("demand.peak.end")?;
            if b <= a {
                bail!("demand.peak: end {} must be after start {}", p.end, p.start);
            }
            positive(p.multiplier, "demand.peak.multiplier")?;
        }
        for (i, s) in d.sizes.iter().enumerate() {
            if s.size == 0 || s.size > f.capacity {
                bail!(
                    "demand.sizes[{i}].size must be 1..=fleet.capacity ({}), got {}",
                    f.capacity,
                    s.size
                );
            }
            positive(s.weight, &format!("demand.sizes[{i}].weight"))?;
        }
        if let Some(w) = &d.windows {
            share(w.share, "demand.windows.share")?;
            positive(w.dropoff_due_min, "demand.windows.dropoff_due_min")?;
            if let Some(p) = w.pickup_due_min {
                positive(p, "demand.windows.pickup_due_min")?;
                if p > w.dropoff_due_min {
                    bail!("demand.windows.pickup_due_min must not exceed dropoff_due_min");
                }
            }
        }
        Ok(())
    }

    fn validate_injections(&self) -> anyhow::Result<()> {
        let within = |clock: &str, field: &str| -> anyhow::Result<f64> {
            let t = parse_clock(clock).with_context(|| field.to_string())? - self.start_s();
            if !(0.0..=self.duration_s()).contains(&t) {
                bail!(
                    "{field} {clock} is outside the simulated period ({} + {} min)",
                    self.start,
                    self.duration_min
                );
            }
            Ok(t)
        };
        for (i, s) in self.injections.disconnects.iter().enumerate() {
            let f = format!("injections.disconnects[{i}]");
            within(&s.at, &format!("{f}.at"))?;
            share(s.share, &format!("{f}.share"))?;
            positive(s.duration_min, &format!("{f}.duration_min"))?;
        }
        for (i, s) in self.injections.offline.iter().enumerate() {
            let f = format!("injections.offline[{i}]");
            within(&s.at, &format!("{f}.at"))?;
            share(s.share, &format!("{f}.share"))?;
            if let Some(b) = s.back_after_min {
                positive(b, &format!("{f}.back_after_min"))?;
            }
        }
        if let Some(c) = &self.injections.cancellations {
            share(c.share, "injections.cancellations.share")?;
            if !(c.min_delay_min.is_finite()
                && c.max_delay_min.is_finite()
                && 0.0 <= c.min_delay_min
                && c.min_delay_min <= c.max_delay_min)
            {
                bail!("injections.cancellations needs 0 <= min_delay_min <= max_delay_min");
            }
        }
        Ok(())
    }

    fn validate_budgets(&self) -> anyhow::Result<()> {
        let b = &self.budgets;
        for (name, v) in [
            ("p50_created_to_assigned_ms", b.p50_created_to_assigned_ms),
            ("p99_created_to_assigned_ms", b.p99_created_to_assigned_ms),
            ("p50_created_to_route_ms", b.p50_created_to_route_ms),
            ("p99_created_to_route_ms", b.p99_created_to_route_ms),
            ("min_positions_per_s", b.min_positions_per_s),
        ] {
            if let Some(v) = v {
                positive(v, &format!("budgets.{name}"))?;
            }
        }
        for (name, v) in [
            ("min_delivered_pct", b.min_delivered_pct),
            ("min_delivered_on_time_pct", b.min_delivered_on_time_pct),
            ("min_pickup_on_time_pct", b.min_pickup_on_time_pct),
            ("max_unassignable_pct", b.max_unassignable_pct),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                    bail!("budgets.{name} must be a percentage 0..=100 (got {v})");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
seed = 1
start = "06:30"
duration_min = 180
speedup = 60
[area]
bbox = [24.8, 60.1, 25.1, 60.25]
[[hotspots]]
lat = 60.17
lon = 24.94
radius_m = 500
weight = 1
[dropoff]
spread = "around_pickup"
min_km = 1
max_km = 4
[fleet]
size = 10
capacity = 4
speed_kmh = 30
position_interval_s = 10
service_s = 60
shifts = [{ start = "06:00", end = "10:00", share = 1.0 }]
[demand]
orders_per_hour = 100
peak = { start = "07:00", end = "10:00", multiplier = 5 }
"#;

    #[test]
    fn shipped_scenarios_parse_and_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                n += 1;
            }
        }
        assert!(
            n >= 3,
            "expected the shipped scenarios in {}",
            dir.display()
        );
    }

    #[test]
    fn demand_curve_has_the_peak() {
        let s = Scenario::parse(MINIMAL).unwrap();
        assert_eq!(s.rate_per_hour(0.0), 100.0); // 06:30
        assert_eq!(s.rate_per_hour(29.0 * 60.0), 100.0); // 06:59
        assert_eq!(s.rate_per_hour(30.0 * 60.0), 500.0); // 07:00
        assert_eq!(s.rate_per_hour(179.0 * 60.0), 500.0); // 09:29
        assert_eq!(s.rel("07:00"), 1800.0);
        assert_eq!(clock_label(s.start_s() + 95.0 * 60.0), "08:05");
    }

    #[test]
    fn errors_name_the_field() {
        let err = |text: &str| format!("{:#}", Scenario::parse(text).unwrap_err());
        let e = err(&MINIMAL.replace("speedup = 60", "speedup = 60\nspeed_up = 2"));
        assert!(e.contains("speed_up"), "{e}");
        let e = err(&MINIMAL.replace("share = 1.0", "share = 0.5"));
        assert!(e.contains("fleet.shifts: shares must add up to 1"), "{e}");
        let e = err(&MINIMAL.replace("start = \"06:30\"", "start = \"6h30\""));
        assert!(e.contains("start"), "{e}");
        let e = err(&MINIMAL.replace("max_km = 4", "max_km = 0.5"));
        assert!(e.contains("min_km <= max_km"), "{e}");
        let e = err(&MINIMAL.replace("orders_per_hour = 100", "hourly = [1, 2]"));
        assert!(e.contains("24 values"), "{e}");
        let e = err(&format!(
            "{MINIMAL}\n[[injections.disconnects]]\nat = \"12:00\"\nshare = 0.1\nduration_min = 1\n"
        ));
        assert!(e.contains("injections.disconnects[0].at"), "{e}");
        let e = err(&format!("{MINIMAL}\n[budgets]\nmin_delivered_pct = 120\n"));
        assert!(e.contains("budgets.min_delivered_pct"), "{e}");
    }
}
