//! Logs (`tracing`, env filter, default info) and metrics (the `metrics` facade with a
//! Prometheus recorder rendered on `/metrics`). Metric names live here so the set
//! exported is visible in one place.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Gauge, label `kind` = driver | console.
pub const CONNECTIONS: &str = "dispatch_connections";
/// Counter, labels `kind`, `type`.
pub const MESSAGES_IN: &str = "dispatch_ws_messages_in_total";
/// Counter, labels `kind`, `type`.
pub const MESSAGES_OUT: &str = "dispatch_ws_messages_out_total";
/// Counter, label `code`: WebSocket error frames sent.
pub const WS_ERRORS: &str = "dispatch_ws_errors_total";
/// Counter: positions applied to the region index.
pub const POSITIONS_APPLIED: &str = "dispatch_positions_applied_total";
/// Counter, label `reason` = coalesced | mailbox_full.
pub const POSITIONS_DROPPED: &str = "dispatch_positions_dropped_total";
/// Gauge, label `region`.
pub const REGION_DRIVERS: &str = "dispatch_region_drivers";
/// Gauge: regions created so far.
pub const REGIONS: &str = "dispatch_regions";
/// Counter, label `actor`: a message refused because a mailbox was full.
pub const MAILBOX_FULL: &str = "dispatch_mailbox_full_total";
/// Histogram, labels `method`, `route`, `status`.
pub const HTTP_DURATION: &str = "dispatch_http_request_duration_seconds";
/// Counter: driver hand-offs between regions.
pub const HANDOFFS: &str = "dispatch_region_handoffs_total";
/// Counter: position batches written to the store.
pub const POSITION_BATCHES: &str = "dispatch_position_batches_total";
/// Histogram: rows per position batch.
pub const POSITION_BATCH_ROWS: &str = "dispatch_position_batch_rows";
/// Counter: batches of driver changes a console watcher missed.
pub const WATCHER_DROPPED: &str = "dispatch_watcher_batches_dropped_total";

/// Gauge, label `status`: open orders (pending, assigned, picked_up, unassignable).
pub const ORDERS_OPEN: &str = "dispatch_orders_open";
/// Counter, label `status`: orders that finished (delivered, cancelled, failed).
pub const ORDERS_FINISHED: &str = "dispatch_orders_finished_total";
/// Counter: orders created (durable).
pub const ORDERS_CREATED: &str = "dispatch_orders_created_total";
/// Histogram: order created → first accepted by a driver (re-assignments after a
/// rebalance or a give-back are not in it).
pub const ORDER_ASSIGN_SECONDS: &str = "dispatch_order_created_to_assigned_seconds";
/// Histogram: order created → the route of its first assignment pushed to the driver
/// (durable).
pub const ORDER_PUSH_SECONDS: &str = "dispatch_order_created_to_route_pushed_seconds";
/// Histogram: orders matched in one region tick.
pub const MATCH_BATCH_ORDERS: &str = "dispatch_match_batch_orders";
/// Histogram: duration of a region's matching tick (planning, not waiting on drivers).
pub const MATCH_TICK_SECONDS: &str = "dispatch_match_tick_seconds";
/// Counter, label `reason` = stale_version | unavailable | inconsistent: proposals a
/// driver refused (its route had moved on, it takes no work, or the stops did not
/// match its route).
pub const PROPOSALS_REJECTED: &str = "dispatch_proposals_rejected_total";
/// Counter: proposals accepted.
pub const PROPOSALS_ACCEPTED: &str = "dispatch_proposals_accepted_total";
/// Counter, label `reason`: route re-plans (insert, stop_done, cancel, give_back, eta).
pub const REPLANS: &str = "dispatch_replans_total";
/// Counter: orders found unassignable in a tick.
pub const UNASSIGNABLE: &str = "dispatch_orders_unassignable_total";
/// Counter: orders moved between drivers by the periodic rebalance.
pub const REBALANCED: &str = "dispatch_orders_rebalanced_total";
/// Counter: orders given back by drivers that went offline or silent.
pub const GIVEN_BACK: &str = "dispatch_orders_given_back_total";
/// Counter: order changes a console watcher missed.
pub const ORDER_WATCHER_DROPPED: &str = "dispatch_order_watcher_dropped_total";

/// Counter, label `limit`: requests, messages or connections refused by a limit
/// (http_rate, ws_rate, connections, connections_per_token, order_writes, open_orders,
/// unauthenticated_connections, tcp_connections, ws_hello, body_size, body_timeout).
pub const LIMITED: &str = "dispatch_limited_total";
/// Counter, label `phase` = head | idle: HTTP connections closed because a request
/// head did not arrive in time or a keep-alive connection stayed idle too long.
pub const HTTP_TIMEOUTS: &str = "dispatch_http_timeouts_total";
/// Counter, label `code`: HTTP answers with a 5xx code (internal errors, overload).
pub const HTTP_SERVER_ERRORS: &str = "dispatch_http_server_errors_total";
/// Gauge, label `queue`: messages waiting in a bounded queue (`region_mailbox` and
/// `driver_mailbox` summed over the actors of the kind, `session_outbox` over driver
/// sockets, `group_commit_waiters`, `position_writer` rows).
pub const QUEUE_DEPTH: &str = "dispatch_queue_depth";
/// Gauge, label `region`: orders queued in a region.
pub const REGION_PENDING: &str = "dispatch_region_pending_orders";

/// Counter, label `kind`: sockets dropped because the client stopped reading.
pub const SLOW_CONSUMERS: &str = "dispatch_slow_consumers_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use (tests start several
/// engines in one process; they share it).
pub fn prometheus() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("seconds".into()),
                &[
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0, 2.5,
                ],
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Suffix("rows".into()),
                    &[1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0],
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Suffix("orders".into()),
                    &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0],
                )
            })
            .expect("bucket lists are non-empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a test harness); then ours only
        // renders what it saw, which is nothing: keep going rather than fail.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Installs the log subscriber for the binaries (env filter, default `info`; plain
/// text when stdout is not a terminal).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a terminal: redirected to a file or a log collector they
    // are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}
