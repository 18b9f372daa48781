//! Orders and live dispatch: the pure planning adapter (`plan`, `travel`), the
//! dispatch policies (`matcher`), the one commit path for order changes (`ledger`), order
//! conversions (`orders`), the directory of open orders (`book`) and the operations the
//! HTTP and console front ends call (`service`). Region and driver actors own the
//! state; this module gives them what they share.

pub mod book;
pub mod ledger;
pub mod matcher;
pub mod orders;
pub mod plan;
#[cfg(test)]
mod plan_tests;
pub mod service;
pub mod stats;
pub mod travel;

use crate::config::{Config, DispatchConfig};
use book::OrderBook;
use dispatch_storage::{GroupCommit, Store};
use ledger::Ledger;
use std::sync::Arc;
use travel::Travel;

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
}

impl Shared {
    pub fn new(config: &Config, store: Arc<dyn Store>, commit: GroupCommit) -> Self {
        let book = Arc::new(OrderBook::new(config.console.feed_capacity.max(1024)));
        Self {
            config: config.dispatch.clone(),
            travel: Travel::new(&config.travel),
            params: plan::Params {
                improve_iterations: config.dispatch.improve_iterations,
                pin_radius_m: config.dispatch.pin_radius_m,
                ..plan::Params::default()
            },
            matcher: matcher::for_policy(config.dispatch.policy),
            ledger: Ledger::new(store.clone(), commit.clone(), book.clone()),
            store,
            commit,
            book,
            stats: stats::LiveStats::new(std::time::Duration::from_secs(
                config.console.stats_window_s,
            )),
        }
    }
}
