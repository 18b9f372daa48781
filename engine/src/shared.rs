//! What region and driver actors share for dispatching: configuration, the travel
//! model and planner parameters, the dispatch policy, the store, the ledger and the
//! order book. The actors own the state; this is the toolbox they are handed.

use crate::config::{Config, DispatchConfig};
use crate::orders::book::OrderBook;
use crate::orders::ledger::Ledger;
use crate::orders::stats;
use crate::planning::travel::Travel;
use crate::planning::{self as plan, matcher, reopt};
use crate::trails;
use dispatch_storage::{GroupCommit, Store};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

/// What region and driver actors share for dispatching: configuration, the travel
/// model, the store and the order directory.
pub struct Shared {
    pub config: DispatchConfig,
    pub travel: Travel,
    pub params: plan::Params,
    /// The dispatch policy regions match with (`dispatch.policy`).
    pub matcher: Box<dyn matcher::Matcher>,
    pub store: Arc<dyn Store>,
    pub commit: GroupCommit,
    /// The directory of open orders; written only through the ledger.
    pub book: Arc<OrderBook>,
    /// The one commit path for order and route changes.
    pub ledger: Ledger,
    /// Assignment latencies over a sliding window and the last totals, for consoles.
    pub stats: stats::LiveStats,
    /// Re-optimisation searches that may run at once, all regions together.
    pub reopt_slots: Arc<reopt::Slots>,
    /// Where driver actors offer the positions they apply, for the trail history.
    pub trails: Arc<trails::Recorder>,
    /// Drivers with at least one open socket (kept by the driver actors). None right
    /// after a start, until the apps reconnect: matching then has no candidate to look
    /// for, so regions do not scan the fleet for one.
    pub connected_drivers: AtomicUsize,
}

impl Shared {
    /// `roads`: the network of `[roads]`, loaded at start (the travel model runs on it
    /// when `travel.model = "roads"`).
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        commit: GroupCommit,
        roads: Option<Arc<dispatch_roads::RoadNetwork>>,
    ) -> Self {
        let book = Arc::new(OrderBook::new(config.console.feed_capacity.max(1024)));
        Self {
            config: config.dispatch.clone(),
            travel: Travel::configured(&config.travel, roads),
            params: plan::Params {
                improve_iterations: config.dispatch.improve_iterations,
                pin_radius_m: config.dispatch.pin_radius_m,
                batch_search_ms: config.dispatch.reoptimise.batch_budget_ms,
                batch_search_min_orders: config.dispatch.reoptimise.batch_min_orders,
                activation_m: config
                    .dispatch
                    .objective
                    .activation_m(config.travel.speed_kmh),
                ..plan::Params::default()
            },
            matcher: matcher::for_policy(config.dispatch.policy),
            ledger: Ledger::new(store.clone(), commit.clone(), book.clone()),
            trails: trails::Recorder::start(&config.trails, store.clone()),
            store,
            commit,
            book,
            stats: stats::LiveStats::new(std::time::Duration::from_secs(
                config.console.stats_window_s,
            )),
            reopt_slots: Arc::new(reopt::Slots::new(
                config.dispatch.reoptimise.workers,
                config.dispatch.reoptimise.cpu_share,
            )),
            connected_drivers: AtomicUsize::new(0),
        }
    }
}
