//! Engine configuration: a TOML file with documented defaults, overridable by flags,
//! validated once at start-up (`validate.rs`: every value against a range, so nothing
//! panics later). `dispatch config --print-default` prints every knob.
//!
//! Durations are at most a day (86,400,000 ms) unless a field says otherwise; fields
//! where 0 is allowed say what it means.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

mod reopt;
mod roads;
mod trackers;
mod validate;

pub use reopt::{ObjectiveConfig, ReoptConfig};
pub use roads::RoadsConfig;
pub use trackers::{TrackerConfig, TrailConfig};

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
    /// How long shutdown waits for sockets to close before flushing and exiting (0: not
    /// at all).
    pub shutdown_grace_ms: u64,
    /// Browser origins allowed to call the HTTP API from another site (CORS), e.g.
    /// `["https://console.example.com"]`; `["*"]` allows any. Empty (the default): no
    /// CORS headers, so browsers keep other sites out.
    pub cors_origins: Vec<String>,
    /// Actix arbiters (threads) that run region and driver actors: 1 to 1,024.
    pub arbiters: usize,
    /// Phone tracker apps (OsmAnd protocol, Traccar Client JSON).
    pub trackers: TrackerConfig,
    /// The position history kept per driver.
    pub trails: TrailConfig,
    /// A road network for routes and matrices (none by default).
    pub roads: RoadsConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegionConfig {
    /// Side of a square region cell in degrees (0.0001 to 90); regions are created on
    /// demand.
    pub cell_deg: f64,
    /// `[min_lon, min_lat, max_lon, max_lat]`: positions and orders outside are refused
    /// with `out_of_service_area`. Absent: the whole Earth is served.
    pub service_area: Option<[f64; 4]>,
    /// How often a region publishes the drivers that changed to console watchers.
    pub publish_ms: u64,
    /// Mailbox capacity of a region actor (queries and control messages; positions
    /// travel through a coalescing inbox beside it): 1 to 2^20, as every queue here.
    pub mailbox: usize,
    /// Region cells the engine creates at most (each is an actor with timers; nearest
    /// queries visit them). A position or pickup in a new cell beyond it is refused
    /// with `out_of_service_area`. 4,096 cells of 0.05° cover about 350 × 180 km at
    /// 60° N; raise it for a larger service area (up to 1,000,000).
    pub max_regions: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriverConfig {
    /// Mailbox capacity of a driver actor (positions are coalesced beside it, so only
    /// control messages queue here).
    pub mailbox: usize,
    /// Capacity of a driver registered without one: 1 to the protocol's largest size
    /// (`dispatch_protocol::validate::MAX_SIZE`, 1,000,000), which registration checks.
    pub default_capacity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Shortest interval between two `drivers` batches to one console.
    pub batch_ms: u64,
    /// Batches of driver changes buffered for watchers; a watcher further behind skips
    /// ahead and is told how many it missed. 1 to 2^20: the buffer's slots are
    /// allocated at start.
    pub feed_capacity: usize,
    /// Interval of `stats` messages (fleet and order counts, assignment latency) to a
    /// subscribed console.
    pub stats_ms: u64,
    /// Latency percentiles in `stats` cover between half of this window and all of it
    /// (1 s to a day).
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
    /// Largest WebSocket message or frame accepted (larger: close 1009). Byte sizes of
    /// messages, bodies and write queues are at most 4 GiB.
    pub max_frame_bytes: usize,
    /// Largest HTTP request body accepted (larger: 413, from the `Content-Length`
    /// header alone when it is sent).
    pub max_body_bytes: usize,
    /// Largest proof-of-delivery image (`PUT /v1/orders/{id}/proof`; larger: 413, from
    /// the `Content-Length` alone when sent). Each is kept in the store for good.
    pub max_proof_bytes: usize,
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
    /// (32 to 256) for the store, logs, listener and runtime. Connection counts are at
    /// most 2^24.
    pub max_tcp_connections: usize,
    /// Per-connection read buffer of the WebSocket codec (tungstenite's default is
    /// 128 KiB; 1 KiB keeps an idle connection small and still takes several client
    /// messages per read; a larger frame grows it while it is read). At most 64 MiB: it
    /// is allocated for every connection as it opens.
    pub ws_read_buffer_bytes: usize,
    /// Bytes a WebSocket may have queued for a slow client before it is dropped.
    pub ws_max_write_buffer_bytes: usize,
    /// Kernel send buffer of every accepted socket (SO_SNDBUF, set on the listener and
    /// inherited); 0 keeps the OS's auto-tuning. A fixed size bounds kernel memory per
    /// socket and makes a client that stops reading block the engine's writes after
    /// that many bytes instead of after the megabytes auto-tuning may grow to. At most
    /// 64 MiB.
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
    /// Rates and bursts are 1 to 1,000,000.
    pub driver_requests_per_s: u32,
    pub driver_request_burst: u32,
    /// HTTP requests per second per console token (order intake systems use one), and
    /// the burst above it.
    pub console_requests_per_s: u32,
    pub console_request_burst: u32,
    /// WebSocket messages per second per connection (pings and pongs included), and
    /// the burst above it. Over it a message is refused with `rate_limited`; after
    /// `ws_rate_strikes` refusals in a row (1 to 10,000) the socket is closed with 1008.
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
    /// 503 with Retry-After rather than an unbounded queue. 1 to 2^20.
    pub max_inflight_order_writes: usize,
    /// Open orders (pending, assigned, picked up, unassignable) the engine holds; more
    /// new orders: 503. 1 to 100,000,000.
    pub max_open_orders: usize,
    /// Registered drivers the engine holds (each is an actor in memory, a few KiB;
    /// see docs/BENCHMARKS.md "Memory per record"); a registration beyond it: 503.
    /// 1 to 10,000,000.
    pub max_drivers: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Interval of the position batch writer; with the flush after each batch this
    /// bounds the positions a crash can lose (the contract allows 1 s): 1 to 800 ms.
    pub position_flush_ms: u64,
    /// sled page cache size: 1 to 65,536 MiB.
    pub cache_mb: u64,
    /// Events (driver registrations and status changes) the store keeps; older ones are
    /// dropped every few seconds, so a driver flapping its status cannot grow the data
    /// dir without bound (an event is about 60 bytes). 1 to 1,000,000,000.
    pub max_events: u64,
}

/// The dispatch policy a region matches its batches with (`planning::matcher`).
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
    /// after. Bounds a tick's time and memory (the travel matrix is quadratic: 16 bytes
    /// per pair of nodes). 3 (a driver and one order) to 5,000.
    pub max_plan_nodes: usize,
    /// Nearest available drivers considered per order (from the region and its
    /// neighbours): 1 to 1,000.
    pub candidates: usize,
    /// Nearest available drivers with an empty route added to those (so idle drivers
    /// waiting just beyond a stream of loaded ones are still considered); 0: none. At
    /// most 1,000.
    pub idle_candidates: usize,
    /// Drivers farther than this from a pickup are never candidates: more than 0, at
    /// most half the Earth's circumference (20,040 km).
    pub candidate_radius_m: f64,
    /// Most orders matched in one tick of one region; the rest wait for the next tick.
    /// 1 to 100,000.
    pub max_batch: usize,
    /// Improvement iterations on a driver's route after each insertion: 0 (none) to
    /// 1,000,000.
    pub improve_iterations: usize,
    /// A driver silent this long (no socket message) gives back the orders it has not
    /// picked up and goes offline.
    pub silent_timeout_ms: u64,
    /// A driver whose last socket closed and did not come back within this grace
    /// period goes offline and gives back the orders it has not picked up (0: at once).
    pub disconnect_grace_ms: u64,
    /// The backstop of unassignable orders: every this long, the next `max_batch` of
    /// a region's unassignable orders (by priority, then age, round robin) are retried.
    /// They are retried on new supply as well: see `retry_per_supply`.
    pub unassignable_retry_ms: u64,
    /// When a driver becomes available or frees capacity, this many of the
    /// unassignable orders whose pickups are nearest to it (within the candidate
    /// radius) are retried: 1 to 100,000. Retrying costs work in proportion to the
    /// supply that changed, not to the backlog.
    pub retry_per_supply: usize,
    /// Postponement: an order whose best placement would put an idle driver to work
    /// waits for the next round instead, as long as that driver could still meet every
    /// window then, for at most this long after the order was created; meanwhile a
    /// working driver may come to fit it, or more orders to share the new route.
    /// 0 (default): never.
    pub postpone_ms: u64,
    /// ETAs are re-pushed when a stop's ETA moved by more than this (0 to 86,400 s).
    pub eta_push_threshold_s: u64,
    /// How often a driver checks its ETAs against its position.
    pub eta_check_ms: u64,
    /// A driver this close to its next stop is serving it: the stop is pinned and
    /// nothing is planned before it. 0 to 10,000 m.
    pub pin_radius_m: f64,
    /// How often a region moves not-yet-picked-up orders between its drivers when that
    /// shortens the plans; 0 turns it off.
    pub rebalance_ms: u64,
    /// A move must save at least this many metres of driving: 0 to 1,000,000.
    pub rebalance_margin_m: f64,
    /// Most orders one region moves per round: 0 to 10,000.
    pub rebalance_max_moves: usize,
    /// `[dispatch.objective]`: what a plan costs.
    pub objective: ObjectiveConfig,
    /// `[dispatch.reoptimise]`: the background search over each region's routes.
    pub reoptimise: ReoptConfig,
}

/// What travel times and distances are measured along (`travel.model`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TravelModelKind {
    /// Great-circle distance × `detour_factor` at `speed_kmh`.
    #[default]
    Haversine,
    /// Along the road network of `[roads]` at its edge speeds (points off the network
    /// fall back to `haversine`, counted).
    Roads,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TravelConfig {
    /// `haversine` (default) or `roads` (needs `[roads]`): what dispatch candidates'
    /// costs, insertion, rebalance, re-optimisation and every ETA are computed on.
    pub model: TravelModelKind,
    /// Road distance / great-circle distance: 1 to 10.
    pub detour_factor: f64,
    /// Average urban driving speed: more than 0, at most 300 km/h.
    pub speed_kmh: f64,
    /// Multiplier of `speed_kmh` for each hour of the local day (24 values, each more
    /// than 0 and at most 10).
    pub hourly_speed_factor: Vec<f64>,
    /// Local time = UTC + this, for the hourly profile: -1,440 to 1,440 minutes.
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
            retry_per_supply: 32,
            postpone_ms: 0,
            eta_push_threshold_s: 60,
            eta_check_ms: 5_000,
            pin_radius_m: 150.0,
            rebalance_ms: 30_000,
            rebalance_margin_m: 500.0,
            rebalance_max_moves: 8,
            objective: ObjectiveConfig::default(),
            reoptimise: ReoptConfig::default(),
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
            model: TravelModelKind::Haversine,
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
            trackers: TrackerConfig::default(),
            trails: TrailConfig::default(),
            roads: RoadsConfig::default(),
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
            max_proof_bytes: 2 * 1024 * 1024,
            http_header_timeout_ms: 10_000,
            http_body_timeout_ms: 10_000,
            http_idle_timeout_ms: 120_000,
            max_unauthenticated_connections: 1_024,
            max_tcp_connections: 0,
            ws_hello_timeout_ms: 10_000,
            ws_read_buffer_bytes: 1024,
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
            max_drivers: 100_000,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            position_flush_ms: 500,
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

    /// A u64 test value as a `usize` / `u32` field, saturating.
    fn us(v: u64) -> usize {
        usize::try_from(v).unwrap_or(usize::MAX)
    }
    fn u32s(v: u64) -> u32 {
        u32::try_from(v).unwrap_or(u32::MAX)
    }

    /// Every integer key with its documented range and a setter.
    type IntKey = (&'static str, u64, u64, fn(&mut Config, u64));

    const DAY: u64 = 86_400_000;
    const GIB4: u64 = 4 << 30;
    const MIB64: u64 = 64 << 20;
    const Q: u64 = 1 << 20;
    const CONNS: u64 = 1 << 24;
    const RATE: u64 = 1_000_000;

    #[rustfmt::skip]
    fn int_keys() -> Vec<IntKey> {
        vec![
            ("shutdown_grace_ms", 0, DAY, |c, v| c.shutdown_grace_ms = v),
            ("arbiters", 1, 1_024, |c, v| c.arbiters = us(v)),
            ("dispatch.reoptimise.iterations_per_order", 0, 100_000, |c, v| {
                c.dispatch.reoptimise.iterations_per_order = v
            }),
            ("dispatch.reoptimise.workers", 1, 256, |c, v| c.dispatch.reoptimise.workers = us(v)),
            ("regions.publish_ms", 1, DAY, |c, v| c.regions.publish_ms = v),
            ("regions.mailbox", 1, Q, |c, v| c.regions.mailbox = us(v)),
            ("regions.max_regions", 1, 1_000_000, |c, v| c.regions.max_regions = us(v)),
            ("drivers.mailbox", 1, Q, |c, v| c.drivers.mailbox = us(v)),
            ("drivers.default_capacity", 1, 1_000_000, |c, v| c.drivers.default_capacity = u32s(v)),
            ("console.batch_ms", 1, DAY, |c, v| c.console.batch_ms = v),
            ("console.feed_capacity", 1, Q, |c, v| c.console.feed_capacity = us(v)),
            ("console.stats_ms", 1, DAY, |c, v| c.console.stats_ms = v),
            ("console.stats_window_s", 1, 86_400, |c, v| c.console.stats_window_s = v),
            ("console.max_drivers_per_message", 1, 1_000_000, |c, v| c.console.max_drivers_per_message = us(v)),
            ("console.max_orders_per_message", 1, 1_000_000, |c, v| c.console.max_orders_per_message = us(v)),
            ("limits.max_frame_bytes", 1, GIB4, |c, v| c.limits.max_frame_bytes = us(v)),
            ("limits.max_body_bytes", 1, GIB4, |c, v| c.limits.max_body_bytes = us(v)),
            ("limits.max_proof_bytes", 1, MIB64, |c, v| c.limits.max_proof_bytes = us(v)),
            ("limits.http_header_timeout_ms", 1, DAY, |c, v| c.limits.http_header_timeout_ms = v),
            ("limits.http_body_timeout_ms", 1, DAY, |c, v| c.limits.http_body_timeout_ms = v),
            ("limits.http_idle_timeout_ms", 1, DAY, |c, v| c.limits.http_idle_timeout_ms = v),
            ("limits.max_unauthenticated_connections", 1, CONNS, |c, v| c.limits.max_unauthenticated_connections = us(v)),
            ("limits.max_tcp_connections", 0, CONNS, |c, v| c.limits.max_tcp_connections = us(v)),
            ("limits.ws_read_buffer_bytes", 1, MIB64, |c, v| c.limits.ws_read_buffer_bytes = us(v)),
            ("limits.ws_max_write_buffer_bytes", 1, GIB4, |c, v| c.limits.ws_max_write_buffer_bytes = us(v)),
            ("limits.tcp_send_buffer_bytes", 0, MIB64, |c, v| c.limits.tcp_send_buffer_bytes = us(v)),
            ("limits.ws_hello_timeout_ms", 1, DAY, |c, v| c.limits.ws_hello_timeout_ms = v),
            ("limits.session_outbox", 1, Q, |c, v| c.limits.session_outbox = us(v)),
            ("limits.slow_send_timeout_ms", 1, DAY, |c, v| c.limits.slow_send_timeout_ms = v),
            ("limits.driver_requests_per_s", 1, RATE, |c, v| c.limits.driver_requests_per_s = u32s(v)),
            ("limits.driver_request_burst", 1, RATE, |c, v| c.limits.driver_request_burst = u32s(v)),
            ("limits.console_requests_per_s", 1, RATE, |c, v| c.limits.console_requests_per_s = u32s(v)),
            ("limits.console_request_burst", 1, RATE, |c, v| c.limits.console_request_burst = u32s(v)),
            ("limits.ws_messages_per_s", 1, RATE, |c, v| c.limits.ws_messages_per_s = u32s(v)),
            ("limits.ws_message_burst", 1, RATE, |c, v| c.limits.ws_message_burst = u32s(v)),
            ("limits.ws_rate_strikes", 1, 10_000, |c, v| c.limits.ws_rate_strikes = u32s(v)),
            ("limits.max_connections_per_token", 1, CONNS, |c, v| c.limits.max_connections_per_token = us(v)),
            ("limits.max_connections", 1, CONNS, |c, v| c.limits.max_connections = us(v)),
            ("limits.max_inflight_order_writes", 1, Q, |c, v| c.limits.max_inflight_order_writes = us(v)),
            ("limits.max_open_orders", 1, 100_000_000, |c, v| c.limits.max_open_orders = us(v)),
            ("limits.max_drivers", 1, 10_000_000, |c, v| c.limits.max_drivers = us(v)),
            ("storage.position_flush_ms", 1, 800, |c, v| c.storage.position_flush_ms = v),
            ("storage.cache_mb", 1, 65_536, |c, v| c.storage.cache_mb = v),
            ("storage.max_events", 1, 1_000_000_000, |c, v| c.storage.max_events = v),
            ("dispatch.tick_ms", 1, DAY, |c, v| c.dispatch.tick_ms = v),
            ("dispatch.batch_window_ms", 0, DAY, |c, v| c.dispatch.batch_window_ms = v),
            ("dispatch.max_plan_nodes", 3, 5_000, |c, v| c.dispatch.max_plan_nodes = us(v)),
            ("dispatch.candidates", 1, 1_000, |c, v| c.dispatch.candidates = us(v)),
            ("dispatch.idle_candidates", 0, 1_000, |c, v| c.dispatch.idle_candidates = us(v)),
            ("dispatch.max_batch", 1, 100_000, |c, v| c.dispatch.max_batch = us(v)),
            ("dispatch.improve_iterations", 0, 1_000_000, |c, v| c.dispatch.improve_iterations = us(v)),
            ("dispatch.silent_timeout_ms", 1, DAY, |c, v| c.dispatch.silent_timeout_ms = v),
            ("dispatch.disconnect_grace_ms", 0, DAY, |c, v| c.dispatch.disconnect_grace_ms = v),
            ("dispatch.unassignable_retry_ms", 1, DAY, |c, v| c.dispatch.unassignable_retry_ms = v),
            ("dispatch.retry_per_supply", 1, 100_000, |c, v| c.dispatch.retry_per_supply = us(v)),
            ("dispatch.postpone_ms", 0, DAY, |c, v| c.dispatch.postpone_ms = v),
            ("roads.max_matrix_points", 1, 2_000, |c, v| c.roads.max_matrix_points = us(v)),
            ("dispatch.eta_push_threshold_s", 0, 86_400, |c, v| c.dispatch.eta_push_threshold_s = v),
            ("dispatch.eta_check_ms", 1, DAY, |c, v| c.dispatch.eta_check_ms = v),
            ("dispatch.rebalance_ms", 0, DAY, |c, v| c.dispatch.rebalance_ms = v),
            ("dispatch.rebalance_max_moves", 0, 10_000, |c, v| c.dispatch.rebalance_max_moves = us(v)),
        ]
    }

    /// Every float key with its documented range (a tiny positive minimum where the
    /// range is open at 0) and a setter.
    type FloatKey = (&'static str, f64, f64, fn(&mut Config, f64));

    #[rustfmt::skip]
    fn float_keys() -> Vec<FloatKey> {
        vec![
            ("regions.cell_deg", 1e-4, 90.0, |c, v| c.regions.cell_deg = v),
            ("dispatch.reoptimise.cpu_share", 0.01, 1.0, |c, v| c.dispatch.reoptimise.cpu_share = v),
            ("dispatch.candidate_radius_m", 1e-9, 20_040_000.0, |c, v| c.dispatch.candidate_radius_m = v),
            ("roads.snap_radius_m", 1.0, 100_000.0, |c, v| c.roads.snap_radius_m = v),
            ("dispatch.pin_radius_m", 0.0, 10_000.0, |c, v| c.dispatch.pin_radius_m = v),
            ("dispatch.rebalance_margin_m", 0.0, 1_000_000.0, |c, v| c.dispatch.rebalance_margin_m = v),
            ("travel.detour_factor", 1.0, 10.0, |c, v| c.travel.detour_factor = v),
            ("travel.speed_kmh", 1e-9, 300.0, |c, v| c.travel.speed_kmh = v),
            ("travel.hourly_speed_factor", 1e-9, 10.0, |c, v| c.travel.hourly_speed_factor[5] = v),
        ]
    }

    fn refused(c: &Config, key: &str, what: &str) {
        match c.validate() {
            Ok(()) => panic!("{key} = {what} accepted"),
            Err(e) => assert!(e.to_string().contains(key), "{key} = {what}: {e}"),
        }
    }

    #[test]
    fn every_key_refuses_values_outside_its_range_by_name() {
        for (key, min, max, set) in int_keys() {
            let mut bad = vec![max + 1, u64::MAX];
            if min > 0 {
                bad.push(min - 1);
            }
            for v in bad {
                let mut c = Config::default();
                set(&mut c, v);
                refused(&c, key, &v.to_string());
            }
        }
        for (key, min, max, set) in float_keys() {
            let below = if min > 0.0 { 0.0 } else { -1.0 };
            for v in [below, -1e300, max * 1.01, 1e300, f64::NAN, f64::INFINITY] {
                let mut c = Config::default();
                set(&mut c, v);
                refused(&c, key, &v.to_string());
            }
        }
        for v in [-1441, 1441, i64::MIN, i64::MAX] {
            let mut c = Config::default();
            c.travel.utc_offset_min = v;
            refused(&c, "travel.utc_offset_min", &v.to_string());
        }
        let mut c = Config::default();
        c.travel.hourly_speed_factor.pop();
        refused(&c, "travel.hourly_speed_factor", "23 values");
        let mut c = Config::default();
        c.regions.service_area = Some([10.0, 0.0, 5.0, 1.0]);
        refused(&c, "regions.service_area", "min_lon > max_lon");
        let c = Config {
            data_dir: PathBuf::new(),
            ..Config::default()
        };
        refused(&c, "data_dir", "empty");
        let c = Config {
            cors_origins: vec!["https://a.example".into(), "bad\norigin".into()],
            ..Config::default()
        };
        refused(&c, "cors_origins", "a line break");
        // Roads as the travel model need a road network to run on.
        let mut c = Config::default();
        c.travel.model = TravelModelKind::Roads;
        refused(&c, "travel.model", "roads without [roads]");
        c.roads.graph = Some(PathBuf::from("roads"));
        c.validate().unwrap();
        // A policy outside the enum never parses.
        let e = toml::from_str::<Config>("[dispatch]\npolicy = \"fastest\"\n").unwrap_err();
        assert!(e.to_string().contains("batch_regret"), "{e}");
    }

    /// The configs at every range's ends are accepted; what they build does not panic.
    #[test]
    fn default_and_extreme_configs_validate_and_start() {
        for at_max in [false, true] {
            let mut c = Config::default();
            for (_, min, max, set) in int_keys() {
                set(&mut c, if at_max { max } else { min });
            }
            for (_, min, max, set) in float_keys() {
                set(&mut c, if at_max { max } else { min });
            }
            c.travel.utc_offset_min = if at_max { 1440 } else { -1440 };
            c.validate().unwrap();
            starts(&c);
        }
        let c = Config::default();
        c.validate().unwrap();
        starts(&c);
    }

    /// Builds what start-up builds from sizes and durations and used to panic on
    /// absurd ones: the feeds, the order-write semaphore, a session outbox, deadlines.
    fn starts(c: &Config) {
        let _feed = tokio::sync::broadcast::channel::<()>(c.console.feed_capacity);
        let _book = crate::orders::book::OrderBook::new(c.console.feed_capacity.max(1024));
        let _writes = tokio::sync::Semaphore::new(c.limits.max_inflight_order_writes);
        let _outbox = tokio::sync::mpsc::channel::<()>(c.limits.session_outbox);
        let l = &c.limits;
        let now = std::time::Instant::now();
        for ms in [
            l.http_header_timeout_ms,
            l.http_body_timeout_ms,
            l.http_idle_timeout_ms,
            l.ws_hello_timeout_ms,
            l.slow_send_timeout_ms,
            c.shutdown_grace_ms,
            c.dispatch.silent_timeout_ms,
            c.dispatch.disconnect_grace_ms,
            c.dispatch.unassignable_retry_ms,
            c.dispatch.rebalance_ms,
            c.console.stats_window_s * 1000,
            c.dispatch.eta_push_threshold_s * 1000,
        ] {
            let _ = now + std::time::Duration::from_millis(ms);
        }
        let _cache_bytes = c.storage.cache_mb * 1024 * 1024;
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
