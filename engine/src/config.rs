//! Engine configuration: a TOML file with documented defaults, overridable by flags,
//! validated once at start-up. `dispatch config --print-default` prints every knob.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the one listener that serves HTTP and both WebSocket endpoints.
    pub listen: SocketAddr,
    /// Where the sled database and the signing secret live.
    pub data_dir: PathBuf,
    pub regions: RegionConfig,
    pub drivers: DriverConfig,
    pub console: ConsoleConfig,
    pub limits: Limits,
    pub storage: StorageConfig,
    pub dispatch: DispatchConfig,
    pub travel: TravelConfig,
    /// How long shutdown waits for sockets to close before flushing and exiting.
    pub shutdown_grace_ms: u64,
    /// Browser origins allowed to call the HTTP API from another site (CORS), e.g.
    /// `["https://console.example.com"]`; `["*"]` allows any. Empty (the default): no
    /// CORS headers, so browsers keep other sites out.
    pub cors_origins: Vec<String>,
    /// Actix arbiters (threads) that run region and driver actors.
    pub arbiters: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegionConfig {
    /// Side of a square region cell in degrees; regions are created on demand.
    pub cell_deg: f64,
    /// `[min_lon, min_lat, max_lon, max_lat]`: positions and orders outside are refused
    /// with `out_of_service_area`. Absent: the whole Earth is served.
    pub service_area: Option<[f64; 4]>,
    /// How often a region publishes the drivers that changed to console watchers.
    pub publish_ms: u64,
    /// Mailbox capacity of a region actor (queries and control messages; positions
    /// travel through a coalescing inbox beside it).
    pub mailbox: usize,
    /// Region cells the engine creates at most (each is an actor with timers; nearest
    /// queries visit them). A position or pickup in a new cell beyond it is refused
    /// with `out_of_service_area`. 4,096 cells of 0.05° cover about 350 × 180 km at
    /// 60° N; raise it for a larger service area.
    pub max_regions: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriverConfig {
    /// Mailbox capacity of a driver actor (positions are coalesced beside it, so only
    /// control messages queue here).
    pub mailbox: usize,
    /// Capacity of a driver registered without one.
    pub default_capacity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Shortest interval between two `drivers` batches to one console.
    pub batch_ms: u64,
    /// Batches of driver changes buffered for watchers; a watcher further behind skips
    /// ahead and is told how many it missed.
    pub feed_capacity: usize,
    /// Interval of `stats` messages (fleet and order counts, assignment latency) to a
    /// subscribed console.
    pub stats_ms: u64,
    /// Latency percentiles in `stats` cover between half of this window and all of it.
    pub stats_window_s: u64,
    /// Drivers per `snapshot` or `drivers` message (about 110 bytes each in JSON); a
    /// larger set goes out as several messages, so no message outgrows the socket's
    /// `limits.ws_max_write_buffer_bytes`.
    pub max_drivers_per_message: usize,
    /// Orders in a `snapshot` (up to about 1 KiB each with their history); the rest
    /// follow as `order` messages.
    pub max_orders_per_message: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest WebSocket message or frame accepted (larger: close 1009).
    pub max_frame_bytes: usize,
    /// Largest HTTP request body accepted (larger: 413, from the `Content-Length`
    /// header alone when it is sent).
    pub max_body_bytes: usize,
    /// A request head must arrive complete within this time of the connection's accept
    /// (or of its first byte on a keep-alive connection); else the connection closes.
    pub http_header_timeout_ms: u64,
    /// A request body must arrive complete within this time of its head; else 408
    /// `deadline_exceeded`.
    pub http_body_timeout_ms: u64,
    /// A keep-alive connection that sends no next request within this time of the last
    /// answer is closed. Longer than common clients' own pool timeouts (reqwest and Go
    /// 90 s), so they close first and never send on a connection being closed.
    pub http_idle_timeout_ms: u64,
    /// TCP connections that have not yet sent a request with a valid token (half-sent
    /// heads, idle keep-alive, token-less callers). At the cap the oldest one not
    /// inside a handler is closed to admit the new one.
    pub max_unauthenticated_connections: usize,
    /// TCP connections open at once, HTTP and WebSocket together; a connection beyond
    /// it is closed at once. 0: the open-file limit less a reserve of an eighth of it
    /// (32 to 256) for the store, logs, listener and runtime.
    pub max_tcp_connections: usize,
    /// Per-connection read buffer of the WebSocket codec (tungstenite's default is
    /// 128 KiB; 4 KiB keeps an idle connection small).
    pub ws_read_buffer_bytes: usize,
    /// Bytes a WebSocket may have queued for a slow client before it is dropped.
    pub ws_max_write_buffer_bytes: usize,
    /// Kernel send buffer of every accepted socket (SO_SNDBUF, set on the listener and
    /// inherited); 0 keeps the OS's auto-tuning. A fixed size bounds kernel memory per
    /// socket and makes a client that stops reading block the engine's writes after
    /// that many bytes instead of after the megabytes auto-tuning may grow to.
    pub tcp_send_buffer_bytes: usize,
    /// A driver socket that has not sent `hello` within this time of opening is closed
    /// with 1008.
    pub ws_hello_timeout_ms: u64,
    /// Messages queued from actors to one socket before the socket is dropped as too slow.
    pub session_outbox: usize,
    /// A socket write that cannot complete within this time (the client stopped
    /// reading and the buffers are full) drops the socket as a slow consumer.
    pub slow_send_timeout_ms: u64,
    /// HTTP requests per second per driver token (sustained), and the burst above it.
    pub driver_requests_per_s: u32,
    pub driver_request_burst: u32,
    /// HTTP requests per second per console token (order intake systems use one), and
    /// the burst above it.
    pub console_requests_per_s: u32,
    pub console_request_burst: u32,
    /// WebSocket messages per second per connection (pings and pongs included), and
    /// the burst above it. Over it a message is refused with `rate_limited`; after
    /// `ws_rate_strikes` refusals in a row the socket is closed with 1008.
    pub ws_messages_per_s: u32,
    pub ws_message_burst: u32,
    pub ws_rate_strikes: u32,
    /// Open WebSockets per token (a driver's phone plus a reconnect in flight, a few
    /// console tabs); more: 429.
    pub max_connections_per_token: usize,
    /// Open WebSockets in total; more: 503 (each costs a file descriptor, kernel
    /// buffers and ~16 KiB here). Lowered at start to `max_tcp_connections` (or the
    /// open-file budget) when above it.
    pub max_connections: usize,
    /// Order writes (creations, cancellations) waiting for their flush at once; more:
    /// 503 with Retry-After rather than an unbounded queue.
    pub max_inflight_order_writes: usize,
    /// Open orders (pending, assigned, picked up, unassignable) the engine holds; more
    /// new orders: 503.
    pub max_open_orders: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Interval of the position batch writer; with the flush after each batch this
    /// bounds the positions a crash can lose (the contract allows 1 s).
    pub position_flush_ms: u64,
    /// sled page cache size.
    pub cache_mb: u64,
    /// Events (driver registrations and status changes) the store keeps; older ones are
    /// dropped every few seconds, so a driver flapping its status cannot grow the data
    /// dir without bound (an event is about 60 bytes).
    pub max_events: u64,
}

/// The dispatch policy a region matches its batches with (`dispatch::matcher`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The whole batch jointly: regret insertion, then route improvement.
    #[default]
    BatchRegret,
    /// Each order in turn to its nearest candidate that can take it.
    Nearest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DispatchConfig {
    /// `batch_regret` (default: the batch jointly, regret insertion and route
    /// improvement) or `nearest` (each order in turn to its nearest candidate that can
    /// take it).
    pub policy: Policy,
    /// How often each region matches its pending orders as one batch.
    pub tick_ms: u64,
    /// An order arriving in a region with nothing queued does not wait for the next
    /// tick: the region matches this long after it (collecting whatever else arrives
    /// meanwhile into the same batch). 0: only on ticks.
    pub batch_window_ms: u64,
    /// Most nodes (driver positions, their stops, new pickups and dropoffs) in one
    /// planning problem; a batch stops growing there and the rest is matched right
    /// after. Bounds a tick's time and memory (the travel matrix is quadratic).
    pub max_plan_nodes: usize,
    /// Nearest available drivers considered per order (from the region and its
    /// neighbours).
    pub candidates: usize,
    /// Nearest available drivers with an empty route added to those (so idle drivers
    /// waiting just beyond a stream of loaded ones are still considered); 0: none.
    pub idle_candidates: usize,
    /// Drivers farther than this from a pickup are never candidates.
    pub candidate_radius_m: f64,
    /// Most orders matched in one tick of one region; the rest wait for the next tick.
    pub max_batch: usize,
    /// Improvement iterations on a driver's route after each insertion.
    pub improve_iterations: usize,
    /// A driver silent this long (no socket message) gives back the orders it has not
    /// picked up and goes offline.
    pub silent_timeout_ms: u64,
    /// A driver whose last socket closed and did not come back within this grace
    /// period goes offline and gives back the orders it has not picked up.
    pub disconnect_grace_ms: u64,
    /// Unassignable orders are retried at least this often (and whenever a driver in
    /// their region becomes available or frees capacity).
    pub unassignable_retry_ms: u64,
    /// ETAs are re-pushed when a stop's ETA moved by more than this.
    pub eta_push_threshold_s: u64,
    /// How often a driver checks its ETAs against its position.
    pub eta_check_ms: u64,
    /// A driver this close to its next stop is serving it: the stop is pinned and
    /// nothing is planned before it.
    pub pin_radius_m: f64,
    /// How often a region moves not-yet-picked-up orders between its drivers when that
    /// shortens the plans; 0 turns it off.
    pub rebalance_ms: u64,
    /// A move must save at least this many metres of driving.
    pub rebalance_margin_m: f64,
    /// Most orders one region moves per round.
    pub rebalance_max_moves: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TravelConfig {
    /// Road distance / great-circle distance.
    pub detour_factor: f64,
    /// Average urban driving speed.
    pub speed_kmh: f64,
    /// Multiplier of `speed_kmh` for each hour of the local day (24 values).
    pub hourly_speed_factor: Vec<f64>,
    /// Local time = UTC + this, for the hourly profile.
    pub utc_offset_min: i64,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            policy: Policy::BatchRegret,
            tick_ms: 200,
            batch_window_ms: 20,
            max_plan_nodes: 600,
            candidates: 8,
            idle_candidates: 4,
            candidate_radius_m: 15_000.0,
            max_batch: 256,
            improve_iterations: 100,
            silent_timeout_ms: 60_000,
            disconnect_grace_ms: 30_000,
            unassignable_retry_ms: 10_000,
            eta_push_threshold_s: 60,
            eta_check_ms: 5_000,
            pin_radius_m: 150.0,
            rebalance_ms: 30_000,
            rebalance_margin_m: 500.0,
            rebalance_max_moves: 8,
        }
    }
}

impl Default for TravelConfig {
    fn default() -> Self {
        // Slower in the morning (7–10) and evening (16–19) peaks.
        let mut hourly = vec![1.0; 24];
        hourly[7..10].fill(0.7);
        hourly[16..19].fill(0.75);
        Self {
            detour_factor: 1.3,
            speed_kmh: 25.0,
            hourly_speed_factor: hourly,
            utc_offset_min: 0,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            regions: RegionConfig::default(),
            drivers: DriverConfig::default(),
            console: ConsoleConfig::default(),
            limits: Limits::default(),
            storage: StorageConfig::default(),
            dispatch: DispatchConfig::default(),
            travel: TravelConfig::default(),
            shutdown_grace_ms: 3_000,
            cors_origins: Vec::new(),
            arbiters: 2,
        }
    }
}

impl Default for RegionConfig {
    fn default() -> Self {
        Self {
            cell_deg: 0.05,
            service_area: None,
            publish_ms: 250,
            mailbox: 1_024,
            max_regions: 4_096,
        }
    }
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            mailbox: 32,
            default_capacity: 10,
        }
    }
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            batch_ms: 250,
            feed_capacity: 256,
            stats_ms: 1000,
            stats_window_s: 60,
            max_drivers_per_message: 2000,
            max_orders_per_message: 400,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: dispatch_protocol::DEFAULT_MAX_FRAME_BYTES,
            max_body_bytes: 1024 * 1024,
            http_header_timeout_ms: 10_000,
            http_body_timeout_ms: 10_000,
            http_idle_timeout_ms: 120_000,
            max_unauthenticated_connections: 1_024,
            max_tcp_connections: 0,
            ws_hello_timeout_ms: 10_000,
            ws_read_buffer_bytes: 4 * 1024,
            ws_max_write_buffer_bytes: 1024 * 1024,
            tcp_send_buffer_bytes: 0,
            session_outbox: 256,
            slow_send_timeout_ms: 5_000,
            driver_requests_per_s: 20,
            driver_request_burst: 40,
            console_requests_per_s: 20_000,
            console_request_burst: 20_000,
            ws_messages_per_s: 50,
            ws_message_burst: 100,
            ws_rate_strikes: 20,
            max_connections_per_token: 8,
            max_connections: 60_000,
            max_inflight_order_writes: 10_000,
            max_open_orders: 1_000_000,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            position_flush_ms: 200,
            cache_mb: 64,
            max_events: 1_000_000,
        }
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    /// Checks every value once, so the rest of the engine can trust them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if !(self.regions.cell_deg >= 1e-4 && self.regions.cell_deg <= 90.0) {
            return bad("regions.cell_deg must be in [0.0001, 90]");
        }
        if let Some(area) = &self.regions.service_area {
            if dispatch_protocol::validate::validate_bbox(area).is_err() {
                return bad(
                    "regions.service_area must be [min_lon, min_lat, max_lon, max_lat] in range",
                );
            }
        }
        let positive = [
            ("regions.publish_ms", self.regions.publish_ms as usize),
            ("regions.mailbox", self.regions.mailbox),
            ("regions.max_regions", self.regions.max_regions),
            ("drivers.mailbox", self.drivers.mailbox),
            (
                "drivers.default_capacity",
                self.drivers.default_capacity as usize,
            ),
            ("console.batch_ms", self.console.batch_ms as usize),
            ("console.feed_capacity", self.console.feed_capacity),
            ("console.stats_ms", self.console.stats_ms as usize),
            (
                "console.stats_window_s",
                self.console.stats_window_s as usize,
            ),
            (
                "console.max_drivers_per_message",
                self.console.max_drivers_per_message,
            ),
            (
                "console.max_orders_per_message",
                self.console.max_orders_per_message,
            ),
            ("limits.max_frame_bytes", self.limits.max_frame_bytes),
            ("limits.max_body_bytes", self.limits.max_body_bytes),
            (
                "limits.http_header_timeout_ms",
                self.limits.http_header_timeout_ms as usize,
            ),
            (
                "limits.http_body_timeout_ms",
                self.limits.http_body_timeout_ms as usize,
            ),
            (
                "limits.http_idle_timeout_ms",
                self.limits.http_idle_timeout_ms as usize,
            ),
            (
                "limits.max_unauthenticated_connections",
                self.limits.max_unauthenticated_connections,
            ),
            (
                "limits.ws_hello_timeout_ms",
                self.limits.ws_hello_timeout_ms as usize,
            ),
            (
                "limits.ws_read_buffer_bytes",
                self.limits.ws_read_buffer_bytes,
            ),
            (
                "limits.ws_max_write_buffer_bytes",
                self.limits.ws_max_write_buffer_bytes,
            ),
            ("limits.session_outbox", self.limits.session_outbox),
            (
                "limits.slow_send_timeout_ms",
                self.limits.slow_send_timeout_ms as usize,
            ),
            (
                "limits.driver_requests_per_s",
                self.limits.driver_requests_per_s as usize,
            ),
            (
                "limits.driver_request_burst",
                self.limits.driver_request_burst as usize,
            ),
            (
                "limits.console_requests_per_s",
                self.limits.console_requests_per_s as usize,
            ),
            (
                "limits.console_request_burst",
                self.limits.console_request_burst as usize,
            ),
            (
                "limits.ws_messages_per_s",
                self.limits.ws_messages_per_s as usize,
            ),
            (
                "limits.ws_message_burst",
                self.limits.ws_message_burst as usize,
            ),
            (
                "limits.ws_rate_strikes",
                self.limits.ws_rate_strikes as usize,
            ),
            (
                "limits.max_connections_per_token",
                self.limits.max_connections_per_token,
            ),
            ("limits.max_connections", self.limits.max_connections),
            (
                "limits.max_inflight_order_writes",
                self.limits.max_inflight_order_writes,
            ),
            ("limits.max_open_orders", self.limits.max_open_orders),
            (
                "storage.position_flush_ms",
                self.storage.position_flush_ms as usize,
            ),
            ("storage.max_events", self.storage.max_events as usize),
            ("arbiters", self.arbiters),
            ("dispatch.tick_ms", self.dispatch.tick_ms as usize),
            ("dispatch.candidates", self.dispatch.candidates),
            ("dispatch.max_plan_nodes", self.dispatch.max_plan_nodes),
            ("dispatch.max_batch", self.dispatch.max_batch),
            (
                "dispatch.silent_timeout_ms",
                self.dispatch.silent_timeout_ms as usize,
            ),
            (
                "dispatch.unassignable_retry_ms",
                self.dispatch.unassignable_retry_ms as usize,
            ),
            ("dispatch.eta_check_ms", self.dispatch.eta_check_ms as usize),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Invalid(format!("{name} must be positive")));
        }
        if !(self.dispatch.candidate_radius_m > 0.0 && self.dispatch.candidate_radius_m.is_finite())
        {
            return bad("dispatch.candidate_radius_m must be a positive number");
        }
        if !(self.dispatch.pin_radius_m >= 0.0 && self.dispatch.pin_radius_m.is_finite()) {
            return bad("dispatch.pin_radius_m must be a number ≥ 0");
        }
        if !(self.dispatch.rebalance_margin_m >= 0.0
            && self.dispatch.rebalance_margin_m.is_finite())
        {
            return bad("dispatch.rebalance_margin_m must be a number ≥ 0");
        }
        let t = &self.travel;
        if !(t.detour_factor >= 1.0 && t.detour_factor <= 10.0) {
            return bad("travel.detour_factor must be in [1, 10]");
        }
        if !(t.speed_kmh > 0.0 && t.speed_kmh <= 300.0) {
            return bad("travel.speed_kmh must be in (0, 300]");
        }
        if t.hourly_speed_factor.len() != 24
            || t.hourly_speed_factor
                .iter()
                .any(|f| !(*f > 0.0 && *f <= 10.0))
        {
            return bad("travel.hourly_speed_factor must hold 24 factors in (0, 10]");
        }
        if t.utc_offset_min.abs() > 24 * 60 {
            return bad("travel.utc_offset_min must be within ±1440");
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
        if self.storage.position_flush_ms > 800 {
            return bad("storage.position_flush_ms must be at most 800 (the contract allows 1 s of position loss)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_round_trips_and_validates() {
        let c = Config::default();
        c.validate().unwrap();
        let back: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn rejects_bad_values_and_unknown_keys() {
        let mut c = Config::default();
        c.regions.cell_deg = 0.0;
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.limits.max_frame_bytes = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_frame_bytes"));
        assert!(toml::from_str::<Config>("nonsense = 1").is_err());
        let partial: Config = toml::from_str("[limits]\nmax_body_bytes = 10\n").unwrap();
        assert_eq!(partial.limits.max_body_bytes, 10);
        assert_eq!(
            partial.limits.max_frame_bytes,
            Limits::default().max_frame_bytes
        );
    }
}
