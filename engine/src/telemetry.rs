//! Logs (`tracing`, env filter, default info) and metrics (the `metrics` facade with a
//! Prometheus recorder rendered on `/metrics`). Metric names live here so the set
//! exported is visible in one place.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

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
/// Counter, label `reason` = coalesced | mailbox_full | out_of_order.
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
/// Histogram: seconds from a matching round's proposals to the last driver's answer.
pub const MATCH_ANSWERS_SECONDS: &str = "dispatch_match_answers_seconds";
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
/// Counter: orders held back for a later round (`dispatch.postpone_ms`).
pub const POSTPONED: &str = "dispatch_orders_postponed_total";
/// Counter: orders moved between drivers by the periodic rebalance.
pub const REBALANCED: &str = "dispatch_orders_rebalanced_total";
/// Counter, label `outcome`: re-optimisation searches (improved, no_gain, unplannable).
pub const REOPT_RUNS: &str = "dispatch_reopt_runs_total";
/// Histogram: seconds one re-optimisation search took on its worker thread.
pub const REOPT_SECONDS: &str = "dispatch_reopt_seconds";
/// Histogram: orders in one re-optimisation search.
pub const REOPT_ORDERS: &str = "dispatch_reopt_orders";
/// Histogram: ruin-and-recreate iterations one re-optimisation search ran.
pub const REOPT_ITERATIONS: &str = "dispatch_reopt_iterations";
/// Counter: orders a re-optimisation moved to another driver.
pub const REOPT_MOVED: &str = "dispatch_reopt_moved_orders_total";
/// Counter: routes a re-optimisation changed (proposals accepted).
pub const REOPT_ROUTES: &str = "dispatch_reopt_routes_changed_total";
/// Counter: objective units the accepted re-optimisations saved (by their own plans).
pub const REOPT_SAVED: &str = "dispatch_reopt_saved_total";
/// Histogram: seconds from an improved plan to its last proposal answered.
pub const REOPT_LANDING_SECONDS: &str = "dispatch_reopt_landing_seconds";
/// Counter: orders given back by drivers that went offline or silent.
pub const GIVEN_BACK: &str = "dispatch_orders_given_back_total";
/// Counter: order changes a console watcher missed.
pub const ORDER_WATCHER_DROPPED: &str = "dispatch_order_watcher_dropped_total";

/// Counter, label `limit`: requests, messages or connections refused by a limit
/// (http_rate, ws_rate, connections, connections_per_token, order_writes, open_orders,
/// unauthenticated_connections, tcp_connections, ws_hello, body_size, body_timeout,
/// recovering: the API held until recovery after a start is done).
pub const LIMITED: &str = "dispatch_limited_total";
/// Counter, label `phase` = head | idle: HTTP connections closed because a request
/// head did not arrive in time or a keep-alive connection stayed idle too long.
pub const HTTP_TIMEOUTS: &str = "dispatch_http_timeouts_total";
/// The [`HTTP_DURATION`] histogram of one method, route template and status. The
/// handles are kept (a few dozen: the routes, methods and statuses are fixed sets), so
/// a request costs a map lookup instead of a labelled key built, hashed and looked up
/// in the recorder. The recorder is installed before the engine serves, so no handle
/// is made before it.
pub fn http_duration(method: &'static str, route: &str, status: u16) -> metrics::Histogram {
    type ByRoute = HashMap<String, Vec<(&'static str, u16, metrics::Histogram)>>;
    static HANDLES: OnceLock<RwLock<ByRoute>> = OnceLock::new();
    let handles = HANDLES.get_or_init(RwLock::default);
    let find = |by_route: &ByRoute| {
        by_route.get(route).and_then(|all| {
            all.iter()
                .find(|(m, s, _)| *m == method && *s == status)
                .map(|(_, _, h)| h.clone())
        })
    };
    if let Some(h) = find(&handles.read().expect("histogram handles lock")) {
        return h;
    }
    let mut by_route = handles.write().expect("histogram handles lock");
    if let Some(h) = find(&by_route) {
        return h;
    }
    let h = metrics::histogram!(
        HTTP_DURATION,
        "method" => method,
        "route" => route.to_string(),
        "status" => status.to_string()
    );
    by_route
        .entry(route.to_string())
        .or_default()
        .push((method, status, h.clone()));
    h
}

/// Counts one refusal by limit `limit` (one of the values in `FROM_ZERO`).
pub fn limited(limit: &'static str) {
    metrics::counter!(LIMITED, "limit" => limit).increment(1);
}

/// Counter, label `code`: HTTP answers with a 5xx code (internal errors, overload).
pub const HTTP_SERVER_ERRORS: &str = "dispatch_http_server_errors_total";
/// Gauge, label `queue`: messages waiting in a bounded queue (`region_mailbox` and
/// `driver_mailbox` summed over the actors of the kind, `session_outbox` over driver
/// sockets, `group_commit_waiters`, `position_writer` rows).
pub const QUEUE_DEPTH: &str = "dispatch_queue_depth";
/// Gauge, label `region`: orders queued in a region.
pub const REGION_PENDING: &str = "dispatch_region_pending_orders";

/// Gauge: 1 once recovery has finished and the API serves (`/readyz` 200), else 0.
pub const READY: &str = "dispatch_ready";
/// Gauge, label `phase` = load | drivers | orders | total: seconds the last recovery
/// took, by phase.
pub const RECOVERY_SECONDS: &str = "dispatch_recovery_seconds";

/// Counter, label `kind`: sockets dropped because the client stopped reading.
pub const SLOW_CONSUMERS: &str = "dispatch_slow_consumers_total";

/// Counter, labels `format` = osmand | traccar_json, `outcome` = accepted |
/// invalid_argument | unauthenticated | permission_denied | not_found |
/// out_of_service_area | rate_limited | too_large | deadline_exceeded: tracker requests.
pub const TRACKER_POSITIONS: &str = "dispatch_tracker_positions_total";
/// Counter, label `outcome` = written | trimmed | dropped: trail points.
pub const TRAIL_POINTS: &str = "dispatch_trail_points_total";

/// What a metric family is, for its `# TYPE` and `# HELP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric family the engine exports, with the HELP text `/metrics` shows.
pub const FAMILIES: &[(&str, Kind, &str)] = &[
    (CONNECTIONS, Kind::Gauge, "Open WebSockets, by kind (driver, console)."),
    (MESSAGES_IN, Kind::Counter, "WebSocket messages received, by socket kind and message type."),
    (MESSAGES_OUT, Kind::Counter, "WebSocket messages sent, by socket kind and message type."),
    (WS_ERRORS, Kind::Counter, "WebSocket error frames sent, by error code."),
    (POSITIONS_APPLIED, Kind::Counter, "Driver positions applied to a region's spatial index."),
    (POSITIONS_DROPPED, Kind::Counter, "Positions replaced before they were applied (coalesced) or dropped on a full mailbox, by reason."),
    (REGION_DRIVERS, Kind::Gauge, "Drivers in a region's index, by region."),
    (REGIONS, Kind::Gauge, "Region actors (grid cells) created."),
    (MAILBOX_FULL, Kind::Counter, "Messages refused because an actor's mailbox or a session's outbox was full, by actor."),
    (HTTP_DURATION, Kind::Histogram, "HTTP request duration in seconds, by method, route template and status."),
    (HANDOFFS, Kind::Counter, "Drivers handed from one region to another."),
    (POSITION_BATCHES, Kind::Counter, "Position batches written to the store."),
    (POSITION_BATCH_ROWS, Kind::Histogram, "Rows per position batch written to the store."),
    (WATCHER_DROPPED, Kind::Counter, "Batches of driver changes a console watcher missed (it fell behind)."),
    (ORDERS_OPEN, Kind::Gauge, "Open orders, by status (pending, assigned, picked_up, unassignable)."),
    (ORDERS_FINISHED, Kind::Counter, "Orders finished, by status (delivered, cancelled, failed)."),
    (ORDERS_CREATED, Kind::Counter, "Orders created (durable)."),
    (ORDER_ASSIGN_SECONDS, Kind::Histogram, "Seconds from an order's creation to its first acceptance by a driver."),
    (ORDER_PUSH_SECONDS, Kind::Histogram, "Seconds from an order's creation to the durable push of its first route to the driver."),
    (MATCH_BATCH_ORDERS, Kind::Histogram, "Orders matched in one region tick."),
    (MATCH_TICK_SECONDS, Kind::Histogram, "Seconds a region's matching tick takes (planning, not waiting on drivers)."),
    (MATCH_ANSWERS_SECONDS, Kind::Histogram, "Seconds from a matching round's proposals to the last driver's answer (the region waits meanwhile)."),
    (PROPOSALS_REJECTED, Kind::Counter, "Route proposals a driver refused, by reason (stale_version, unavailable, inconsistent)."),
    (PROPOSALS_ACCEPTED, Kind::Counter, "Route proposals drivers accepted."),
    (REPLANS, Kind::Counter, "Route changes committed, by reason (insert, reorder, reoptimise, stop_done, cancel, give_back, rebalance, eta)."),
    (UNASSIGNABLE, Kind::Counter, "Orders found unassignable in a matching tick."),
    (POSTPONED, Kind::Counter, "Orders held back for a later matching round rather than put an idle driver to work (dispatch.postpone_ms)."),
    (REBALANCED, Kind::Counter, "Orders moved between drivers by the periodic rebalance."),
    (REOPT_RUNS, Kind::Counter, "Re-optimisation searches, by outcome (improved, no_gain, unplannable; unchanged: not run, the plans are those of a search that found nothing)."),
    (REOPT_SECONDS, Kind::Histogram, "Seconds one re-optimisation search took on its worker thread."),
    (REOPT_ORDERS, Kind::Histogram, "Orders (not picked up, or on board) in one re-optimisation search."),
    (REOPT_ITERATIONS, Kind::Histogram, "Ruin-and-recreate iterations one re-optimisation search ran (within budget_ms, or iterations_per_order × its orders)."),
    (REOPT_MOVED, Kind::Counter, "Orders re-optimisation moved to another driver."),
    (REOPT_ROUTES, Kind::Counter, "Driver routes re-optimisation changed (proposals accepted)."),
    (REOPT_SAVED, Kind::Counter, "Objective units the accepted re-optimisation plans saved, by their own estimate."),
    (REOPT_LANDING_SECONDS, Kind::Histogram, "Seconds from an improved re-optimisation plan to its last proposal answered (withdrawals durable, proposals taken or refused)."),
    (GIVEN_BACK, Kind::Counter, "Orders given back by drivers that went offline or silent."),
    (ORDER_WATCHER_DROPPED, Kind::Counter, "Order changes a console watcher missed (it fell behind)."),
    (LIMITED, Kind::Counter, "Requests, messages or connections refused by a limit, by limit."),
    (HTTP_TIMEOUTS, Kind::Counter, "HTTP connections closed for a request head not received in time or a keep-alive connection left idle, by phase."),
    (HTTP_SERVER_ERRORS, Kind::Counter, "HTTP answers with a 5xx status, by status code."),
    (QUEUE_DEPTH, Kind::Gauge, "Messages waiting in a bounded queue, by queue."),
    (REGION_PENDING, Kind::Gauge, "Orders queued in a region, by region."),
    (READY, Kind::Gauge, "1 once recovery after a start has finished and the API serves (/readyz answers 200), else 0."),
    (RECOVERY_SECONDS, Kind::Gauge, "Seconds the recovery at start took, by phase (load, drivers, orders, total)."),
    (SLOW_CONSUMERS, Kind::Counter, "Sockets dropped because the client stopped reading, by kind."),
    (TRACKER_POSITIONS, Kind::Counter, "Positions phone trackers sent over HTTP (OsmAnd, Traccar Client JSON), by format and outcome (accepted, or the error code they were refused with)."),
    (TRAIL_POINTS, Kind::Counter, "Trail points written, trimmed (retention or size bound) or dropped (store failure, writer behind), by outcome."),
];

/// Label values of counters that exist from zero, so a rate or an alert on them has a
/// series before the first event (limits, timeouts and proposal refusals a healthy
/// engine rarely sees).
const FROM_ZERO: &[(&str, &str, &[&str])] = &[
    (
        LIMITED,
        "limit",
        &[
            "http_rate",
            "ws_rate",
            "connections",
            "connections_per_token",
            "order_writes",
            "open_orders",
            "drivers",
            "unauthenticated_connections",
            "tcp_connections",
            "ws_hello",
            "body_size",
            "body_timeout",
            "regions",
            "recovering",
        ],
    ),
    (HTTP_TIMEOUTS, "phase", &["head", "idle"]),
    (
        PROPOSALS_REJECTED,
        "reason",
        &["stale_version", "unavailable", "inconsistent"],
    ),
    (
        POSITIONS_DROPPED,
        "reason",
        &["coalesced", "mailbox_full", "out_of_order"],
    ),
    (TRAIL_POINTS, "outcome", &["written", "trimmed", "dropped"]),
    (SLOW_CONSUMERS, "kind", &["driver", "console"]),
];

/// Gauge `dispatch_build_info{version}` = 1: which build is running.
pub const BUILD_INFO: &str = "dispatch_build_info";

/// HELP texts for every family, unlabelled counters and the fixed label sets above at
/// zero, and the build info. Called once, when the recorder is installed.
fn describe() {
    for &(name, kind, help) in FAMILIES {
        match kind {
            Kind::Counter => {
                metrics::describe_counter!(name, help);
                // A family with labels says "by <label>" in its help; those start from
                // zero with the label values in FROM_ZERO, not as a bare series.
                if !help.contains(", by ") {
                    metrics::counter!(name).absolute(0);
                }
            }
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
    for &(name, label, values) in FROM_ZERO {
        for &v in values {
            metrics::counter!(name, label => v).absolute(0);
        }
    }
    metrics::describe_gauge!(BUILD_INFO, "The running build; always 1.");
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

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
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Suffix("iterations".into()),
                    &[
                        10.0, 100.0, 300.0, 1_000.0, 3_000.0, 10_000.0, 30_000.0, 100_000.0,
                    ],
                )
            })
            .expect("bucket lists are non-empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a test harness); then ours only
        // renders what it saw, which is nothing: keep going rather than fail.
        if metrics::set_global_recorder(recorder).is_ok() {
            describe();
        }
        handle
    })
}

/// The standard process metrics (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, `process_open_fds`, `process_max_fds`) in the
/// Prometheus text format, read from `/proc` at scrape time; empty where `/proc` is not
/// there. Alerts watch open files against the limit: accept fails when they meet.
pub fn process_metrics() -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, value: f64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the parenthesised command: state is field 3, utime 14, stime 15
        // (clock ticks; Linux reports them at USER_HZ = 100).
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            let cpu = (user + system) / 100.0;
            family(
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time spent in seconds.",
                cpu,
            );
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let rss_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
        if let Some(kb) = rss_kb {
            family(
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                kb * 1024.0,
            );
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        family(
            "process_open_fds",
            "gauge",
            "Open file descriptors.",
            fds.count() as f64,
        );
    }
    if let Ok((soft, _)) = rlimit::Resource::NOFILE.get() {
        family(
            "process_max_fds",
            "gauge",
            "The limit on open file descriptors.",
            soft as f64,
        );
    }
    out
}

/// How `dispatch serve` writes its log lines (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines; colour codes only when stderr is a terminal.
    Text,
    /// One JSON object a line, for log collectors; never coloured.
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("text or json".into()),
        }
    }
}

/// Installs the log subscriber for the binaries: lines on stderr (stdout is for what
/// a command prints), env filter (`RUST_LOG`, default `info`). Colour codes only when
/// stderr is a terminal and `NO_COLOR` is unset: redirected to a file or a collector
/// they are noise.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
        LogFormat::Text => builder.with_ansi(use_colour()).try_init(),
    };
}

fn use_colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
}
