//! Orders and live dispatch: the pure planning adapter (`plan`, `travel`), the
//! dispatch policies (`matcher`), order
//! conversions (`orders`), the directory of open orders (`book`) and the operations the
//! HTTP and console front ends call (`service`). Region and driver actors own the
//! state; this module gives them what they share.

pub mod book;
pub mod matcher;
pub mod orders;
pub mod plan;
#[cfg(test)]
mod plan_tests;
pub mod service;
pub mod stats;
pub mod travel;

use crate::config::{Config, DispatchConfig};
use crate::router::Drivers;
use book::OrderBook;
use dispatch_storage::{Changes, GroupCommit, Store};
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
    pub book: OrderBook,
    pub drivers: Arc<Drivers>,
    /// Assignment latencies over a sliding window and the last totals, for consoles.
    pub stats: stats::LiveStats,
}

impl Shared {
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        commit: GroupCommit,
        drivers: Arc<Drivers>,
    ) -> Self {
        Self {
            config: config.dispatch.clone(),
            travel: Travel::new(&config.travel),
            params: plan::Params {
                improve_iterations: config.dispatch.improve_iterations,
                pin_radius_m: config.dispatch.pin_radius_m,
                ..plan::Params::default()
            },
            matcher: matcher::for_policy(config.dispatch.policy),
            store,
            commit,
            book: OrderBook::new(config.console.feed_capacity.max(1024)),
            drivers,
            stats: stats::LiveStats::new(std::time::Duration::from_secs(
                config.console.stats_window_s,
            )),
        }
    }

    /// Writes a change set; a failed write is logged and counted, and reported to the
    /// caller so nothing is acknowledged on top of it.
    pub fn write(&self, changes: &Changes) -> Result<(), dispatch_storage::StoreError> {
        self.store.apply(changes).inspect_err(|e| {
            tracing::error!(error = %e, "store write failed");
        })
    }
}
