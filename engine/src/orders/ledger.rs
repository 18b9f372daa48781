//! The one commit path for order and route changes. Every writer — creation,
//! assignment, stop_done, cancel, give back, rebalance, unassignable, recovery — hands
//! its change set here, and the steps always run in this order:
//! 1. [`Ledger::write`]: the orders and (at most) one driver's route go to the store as
//!    one atomic batch; nothing is published yet;
//! 2. [`Written::publish`]: waits until a flush made the batch durable, then publishes
//!    the orders to the order book (which tells the consoles);
//! 3. the caller delivers: pushes the route to the driver's sockets, queues handed-back
//!    orders, answers the client.
//!
//! So a client or console never hears of a change that a crash could lose. Two fail
//! points (the `fail` crate; inactive unless the `FAILPOINTS` environment variable
//! names them) sit between the steps: `ledger::written` (written, not yet waited on)
//! and `ledger::durable` (durable, not yet published). `FAILPOINTS=ledger::durable=return`
//! makes the step fail there, as a crash at that instant would leave it (the crash
//! tests then SIGKILL the engine); `…=sleep(5000)` holds it there (blocking its thread).

use super::book::{OrderBook, Owner};
use super::model::to_record;
use dispatch_protocol::Order;
use dispatch_storage::{Changes, Durable, GroupCommit, RouteRecord, Store, StoreError};
use std::sync::Arc;

/// Orders (each with the owner to record for it, `None`: keep the current one) and at
/// most one driver's route, written together. Each order is the `Arc` the book will
/// hold once published, so its owner may keep sharing it.
#[derive(Debug, Default)]
pub struct ChangeSet {
    pub orders: Vec<(Arc<Order>, Option<Owner>)>,
    pub route: Option<(String, RouteRecord)>,
}

impl ChangeSet {
    /// A change of orders alone.
    pub fn orders(orders: Vec<(Arc<Order>, Option<Owner>)>) -> Self {
        Self {
            orders,
            route: None,
        }
    }
}

pub struct Ledger {
    store: Arc<dyn Store>,
    commit: GroupCommit,
    book: Arc<OrderBook>,
}

impl Ledger {
    pub fn new(store: Arc<dyn Store>, commit: GroupCommit, book: Arc<OrderBook>) -> Self {
        Self {
            store,
            commit,
            book,
        }
    }

    /// Step 1: writes `set` as one atomic batch. On an error nothing was written (the
    /// caller keeps its state as it was); on success nothing is published until the
    /// returned [`Written`] is.
    pub fn write(&self, set: ChangeSet) -> Result<Written, StoreError> {
        let changes = Changes {
            orders: set.orders.iter().map(|(o, _)| to_record(o)).collect(),
            routes: set.route.into_iter().collect(),
        };
        self.store.apply(&changes).inspect_err(|e| {
            tracing::error!(error = %e, "store write failed");
        })?;
        fail::fail_point!("ledger::written", |_| Err(fail_point("ledger::written")));
        Ok(Written {
            durable: self.commit.durable(),
            orders: set.orders,
            book: self.book.clone(),
        })
    }

    /// Recovery: an order as the store holds it (durable by definition) goes back into
    /// the book under its owner.
    pub fn restore(&self, order: Order, owner: Owner) {
        self.book.publish(order, Some(owner));
    }

    /// Recovery: [`Ledger::restore`] of many orders at once.
    pub fn restore_all(&self, orders: Vec<(Arc<Order>, Owner)>) {
        self.book.restore_all(orders);
    }
}

/// The error a fail point configured with `return` makes its step fail with.
fn fail_point(name: &str) -> StoreError {
    StoreError::Io(format!("fail point {name}"))
}

/// A written change waiting for its flush.
#[must_use = "a written change is published only once awaited"]
pub struct Written {
    durable: Durable,
    orders: Vec<(Arc<Order>, Option<Owner>)>,
    book: Arc<OrderBook>,
}

impl Written {
    /// Step 2: once durable, publishes the orders (book and console feed). An error
    /// means the flush failed: nothing is published and nothing may be acknowledged.
    pub async fn publish(self) -> Result<(), StoreError> {
        let (durable, publication) = self.split();
        durable.await?;
        publication.publish()
    }

    /// Step 2 in its two halves, for a writer that keeps several changes waiting at
    /// once and publishes them in its own order (a driver actor, in version order):
    /// await the [`Durable`], then [`Publication::publish`].
    pub fn split(self) -> (Durable, Publication) {
        let publication = Publication {
            orders: self.orders,
            book: self.book,
        };
        (self.durable, publication)
    }
}

/// The orders of a written change, to publish once it is durable.
#[must_use = "a durable change is announced only once published"]
pub struct Publication {
    orders: Vec<(Arc<Order>, Option<Owner>)>,
    book: Arc<OrderBook>,
}

impl Publication {
    /// Publishes the orders; call only once the change's [`Durable`] answered `Ok`.
    pub fn publish(self) -> Result<(), StoreError> {
        fail::fail_point!("ledger::durable", |_| Err(fail_point("ledger::durable")));
        for (order, owner) in self.orders {
            self.book.publish(order, owner);
        }
        Ok(())
    }
}
