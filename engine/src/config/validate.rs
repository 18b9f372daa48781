//! `Config::validate`: every value checked once at start against a range, section by
//! section, so that an absurd value is a `ConfigError::Invalid` naming the key and the
//! allowed range rather than a panic or an allocation failure later (tokio's broadcast
//! channel, semaphore and bounded channel assert their sizes, a broadcast channel
//! allocates all its slots up front, `Instant + Duration` overflows).
//!
//! Upper bounds are what a deployment could sensibly want, with room to spare.

use super::{
    Config, ConfigError, ConsoleConfig, DispatchConfig, DriverConfig, Limits, RegionConfig,
    StorageConfig, TravelConfig, TravelModelKind,
};

/// Longest duration of a timeout, interval or grace period.
pub(super) const DAY_MS: u64 = 86_400_000;
const DAY_S: u64 = 86_400;
/// Most entries of a queue or channel (mailboxes, outboxes, feeds, waiting writes). A
/// feed allocates its slots when it is made: 2^20 slots is a few tens of MiB.
pub(super) const MAX_QUEUE: u64 = 1 << 20;
/// Largest message, request body or per-socket write queue: 4 GiB.
pub(super) const MAX_BUFFER_BYTES: u64 = 4 << 30;
/// Largest buffer allocated for every connection when it opens (WebSocket read buffer,
/// kernel send buffer): 64 MiB.
pub(super) const MAX_CONNECTION_BUFFER_BYTES: u64 = 64 << 20;
/// Most connections of any kind (Linux's own ceiling on open files is 2^20 by default).
pub(super) const MAX_CONNECTIONS: u64 = 1 << 24;
/// Most requests or messages per second, and bursts.
pub(super) const MAX_RATE: u64 = 1_000_000;
/// Most nodes of one planning problem: its travel matrix takes 16 bytes per pair of
/// nodes (400 MB at this bound).
pub(super) const MAX_PLAN_NODES: u64 = 5_000;

/// Allowed values of an integer setting, both ends included, and their unit.
#[derive(Clone, Copy)]
pub(super) struct Range {
    min: u64,
    max: u64,
    unit: &'static str,
}

pub(super) const fn range(min: u64, max: u64, unit: &'static str) -> Range {
    Range { min, max, unit }
}

/// A positive duration up to a day.
pub(super) const MS: Range = range(1, DAY_MS, "ms");
/// A duration up to a day, where 0 turns the feature off.
pub(super) const MS_OR_OFF: Range = range(0, DAY_MS, "ms");
const QUEUE: Range = range(1, MAX_QUEUE, "messages");
const CONNECTIONS: Range = range(1, MAX_CONNECTIONS, "connections");
const RATE: Range = range(1, MAX_RATE, "per second");
const BURST: Range = range(1, MAX_RATE, "requests or messages");

/// One integer setting: its key, its value and what it may be.
pub(super) type Row = (&'static str, u64, Range);

pub(super) fn check_ints(rows: &[Row]) -> Result<(), ConfigError> {
    for &(key, value, r) in rows {
        if value < r.min || value > r.max {
            return Err(ConfigError::Invalid(format!(
                "{key} = {value} is out of range: allowed {} to {} {}",
                r.min, r.max, r.unit
            )));
        }
    }
    Ok(())
}

/// A finite number in `[min, max]` (or `(min, max]` with `min_open`).
pub(super) fn check_float(
    key: &str,
    value: f64,
    (min, max): (f64, f64),
    min_open: bool,
    unit: &str,
) -> Result<(), ConfigError> {
    let above_min = if min_open { value > min } else { value >= min };
    if above_min && value <= max {
        return Ok(());
    }
    let open = if min_open { "(" } else { "[" };
    Err(ConfigError::Invalid(format!(
        "{key} = {value} is out of range: allowed {open}{min}, {max}] {unit}"
    )))
}

/// A count as a row value (lossless on every target the engine builds for).
fn wide(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

impl Config {
    /// Checks every value once, so the rest of the engine can trust them. `listen` and
    /// `dispatch.policy` need nothing more than parsing (any socket address, one of the
    /// policies).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid("data_dir must not be empty".into()));
        }
        if let Some(bad) = self
            .cors_origins
            .iter()
            .find(|o| *o != "*" && axum::http::HeaderValue::from_str(o).is_err())
        {
            return Err(ConfigError::Invalid(format!(
                "cors_origins: {bad:?} is not a valid origin"
            )));
        }
        check_ints(&[
            ("shutdown_grace_ms", self.shutdown_grace_ms, MS_OR_OFF),
            ("arbiters", wide(self.arbiters), range(1, 1_024, "threads")),
        ])?;
        self.regions.validate()?;
        self.drivers.validate()?;
        self.console.validate()?;
        self.limits.validate()?;
        self.storage.validate()?;
        self.dispatch.validate()?;
        self.trackers.validate()?;
        self.trails.validate()?;
        self.roads.validate()?;
        if self.travel.model == TravelModelKind::Roads && !self.roads.enabled() {
            return Err(ConfigError::Invalid(
                "travel.model = \"roads\" needs a road network: set [roads] osm or graph".into(),
            ));
        }
        self.travel.validate()
    }
}

impl RegionConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check_float(
            "regions.cell_deg",
            self.cell_deg,
            (1e-4, 90.0),
            false,
            "degrees",
        )?;
        if let Some(area) = &self.service_area {
            if dispatch_protocol::validate::validate_bbox(area).is_err() {
                return Err(ConfigError::Invalid(
                    "regions.service_area must be [min_lon, min_lat, max_lon, max_lat] in range"
                        .into(),
                ));
            }
        }
        check_ints(&[
            ("regions.publish_ms", self.publish_ms, MS),
            ("regions.mailbox", wide(self.mailbox), QUEUE),
            (
                "regions.max_regions",
                wide(self.max_regions),
                range(1, 1_000_000, "regions"),
            ),
        ])
    }
}

impl DriverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        // Registration validates capacities with the protocol's own bound.
        let capacity = range(1, dispatch_protocol::validate::MAX_SIZE.into(), "units");
        check_ints(&[
            ("drivers.mailbox", wide(self.mailbox), QUEUE),
            (
                "drivers.default_capacity",
                self.default_capacity.into(),
                capacity,
            ),
        ])
    }
}

impl ConsoleConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check_ints(&[
            ("console.batch_ms", self.batch_ms, MS),
            (
                "console.feed_capacity",
                wide(self.feed_capacity),
                range(1, MAX_QUEUE, "batches"),
            ),
            ("console.stats_ms", self.stats_ms, MS),
            (
                "console.stats_window_s",
                self.stats_window_s,
                range(1, DAY_S, "s"),
            ),
            (
                "console.max_drivers_per_message",
                wide(self.max_drivers_per_message),
                range(1, 1_000_000, "drivers"),
            ),
            (
                "console.max_orders_per_message",
                wide(self.max_orders_per_message),
                range(1, 1_000_000, "orders"),
            ),
        ])
    }
}

impl Limits {
    fn validate(&self) -> Result<(), ConfigError> {
        let bytes = range(1, MAX_BUFFER_BYTES, "bytes");
        let conn_bytes = range(1, MAX_CONNECTION_BUFFER_BYTES, "bytes");
        check_ints(&[
            ("limits.max_frame_bytes", wide(self.max_frame_bytes), bytes),
            ("limits.max_body_bytes", wide(self.max_body_bytes), bytes),
            (
                "limits.max_proof_bytes",
                wide(self.max_proof_bytes),
                range(1, 64 << 20, "bytes"),
            ),
            (
                "limits.http_header_timeout_ms",
                self.http_header_timeout_ms,
                MS,
            ),
            ("limits.http_body_timeout_ms", self.http_body_timeout_ms, MS),
            ("limits.http_idle_timeout_ms", self.http_idle_timeout_ms, MS),
            (
                "limits.max_unauthenticated_connections",
                wide(self.max_unauthenticated_connections),
                CONNECTIONS,
            ),
            (
                "limits.max_tcp_connections",
                wide(self.max_tcp_connections),
                range(
                    0,
                    MAX_CONNECTIONS,
                    "connections (0: from the open-file limit)",
                ),
            ),
            (
                "limits.ws_read_buffer_bytes",
                wide(self.ws_read_buffer_bytes),
                conn_bytes,
            ),
            (
                "limits.ws_max_write_buffer_bytes",
                wide(self.ws_max_write_buffer_bytes),
                bytes,
            ),
            (
                "limits.tcp_send_buffer_bytes",
                wide(self.tcp_send_buffer_bytes),
                range(
                    0,
                    MAX_CONNECTION_BUFFER_BYTES,
                    "bytes (0: the OS's auto-tuning)",
                ),
            ),
            ("limits.ws_hello_timeout_ms", self.ws_hello_timeout_ms, MS),
            ("limits.session_outbox", wide(self.session_outbox), QUEUE),
            ("limits.slow_send_timeout_ms", self.slow_send_timeout_ms, MS),
        ])?;
        self.validate_rates_and_counts()
    }

    fn validate_rates_and_counts(&self) -> Result<(), ConfigError> {
        check_ints(&[
            (
                "limits.driver_requests_per_s",
                self.driver_requests_per_s.into(),
                RATE,
            ),
            (
                "limits.driver_request_burst",
                self.driver_request_burst.into(),
                BURST,
            ),
            (
                "limits.console_requests_per_s",
                self.console_requests_per_s.into(),
                RATE,
            ),
            (
                "limits.console_request_burst",
                self.console_request_burst.into(),
                BURST,
            ),
            (
                "limits.ws_messages_per_s",
                self.ws_messages_per_s.into(),
                RATE,
            ),
            (
                "limits.ws_message_burst",
                self.ws_message_burst.into(),
                BURST,
            ),
            (
                "limits.ws_rate_strikes",
                self.ws_rate_strikes.into(),
                range(1, 10_000, "refusals"),
            ),
            (
                "limits.max_connections_per_token",
                wide(self.max_connections_per_token),
                CONNECTIONS,
            ),
            (
                "limits.max_connections",
                wide(self.max_connections),
                CONNECTIONS,
            ),
            (
                "limits.max_inflight_order_writes",
                wide(self.max_inflight_order_writes),
                range(1, MAX_QUEUE, "writes"),
            ),
            (
                "limits.max_open_orders",
                wide(self.max_open_orders),
                range(1, 100_000_000, "orders"),
            ),
            (
                "limits.max_drivers",
                wide(self.max_drivers),
                range(1, 10_000_000, "drivers"),
            ),
        ])
    }
}

impl StorageConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check_ints(&[
            // The contract allows 1 s of position loss; the flush itself takes the rest.
            (
                "storage.position_flush_ms",
                self.position_flush_ms,
                range(1, 800, "ms"),
            ),
            ("storage.cache_mb", self.cache_mb, range(1, 65_536, "MiB")),
            (
                "storage.max_events",
                self.max_events,
                range(1, 1_000_000_000, "events"),
            ),
        ])
    }
}

impl DispatchConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check_ints(&[
            ("dispatch.tick_ms", self.tick_ms, MS),
            ("dispatch.batch_window_ms", self.batch_window_ms, MS_OR_OFF),
            (
                "dispatch.max_plan_nodes",
                wide(self.max_plan_nodes),
                range(3, MAX_PLAN_NODES, "nodes"),
            ),
            (
                "dispatch.candidates",
                wide(self.candidates),
                range(1, 1_000, "drivers"),
            ),
            (
                "dispatch.idle_candidates",
                wide(self.idle_candidates),
                range(0, 1_000, "drivers"),
            ),
            (
                "dispatch.max_batch",
                wide(self.max_batch),
                range(1, 100_000, "orders"),
            ),
            (
                "dispatch.retry_per_supply",
                wide(self.retry_per_supply),
                range(1, 100_000, "orders"),
            ),
            (
                "dispatch.improve_iterations",
                wide(self.improve_iterations),
                range(0, 1_000_000, "iterations"),
            ),
            ("dispatch.silent_timeout_ms", self.silent_timeout_ms, MS),
            (
                "dispatch.disconnect_grace_ms",
                self.disconnect_grace_ms,
                MS_OR_OFF,
            ),
            (
                "dispatch.unassignable_retry_ms",
                self.unassignable_retry_ms,
                MS,
            ),
            (
                "dispatch.eta_push_threshold_s",
                self.eta_push_threshold_s,
                range(0, DAY_S, "s"),
            ),
            ("dispatch.eta_check_ms", self.eta_check_ms, MS),
            ("dispatch.postpone_ms", self.postpone_ms, MS_OR_OFF),
            ("dispatch.rebalance_ms", self.rebalance_ms, MS_OR_OFF),
            (
                "dispatch.rebalance_max_moves",
                wide(self.rebalance_max_moves),
                range(0, 10_000, "moves"),
            ),
        ])?;
        self.validate_distances()?;
        self.objective.validate()?;
        self.reoptimise.validate()
    }

    fn validate_distances(&self) -> Result<(), ConfigError> {
        // Half the Earth's circumference: no two points are farther apart.
        let radius = (0.0, 20_040_000.0);
        check_float(
            "dispatch.candidate_radius_m",
            self.candidate_radius_m,
            radius,
            true,
            "m",
        )?;
        check_float(
            "dispatch.pin_radius_m",
            self.pin_radius_m,
            (0.0, 10_000.0),
            false,
            "m",
        )?;
        check_float(
            "dispatch.rebalance_margin_m",
            self.rebalance_margin_m,
            (0.0, 1_000_000.0),
            false,
            "m",
        )
    }
}

impl TravelConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check_float(
            "travel.detour_factor",
            self.detour_factor,
            (1.0, 10.0),
            false,
            "",
        )?;
        check_float(
            "travel.speed_kmh",
            self.speed_kmh,
            (0.0, 300.0),
            true,
            "km/h",
        )?;
        if self.hourly_speed_factor.len() != 24
            || self
                .hourly_speed_factor
                .iter()
                .any(|f| !(*f > 0.0 && *f <= 10.0))
        {
            return Err(ConfigError::Invalid(
                "travel.hourly_speed_factor must hold 24 factors in (0, 10]".into(),
            ));
        }
        if !(-24 * 60..=24 * 60).contains(&self.utc_offset_min) {
            return Err(ConfigError::Invalid(format!(
                "travel.utc_offset_min = {} is out of range: allowed -1440 to 1440 min",
                self.utc_offset_min
            )));
        }
        Ok(())
    }
}
