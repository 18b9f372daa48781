//! Orders on their way into the queue: written, not yet durable.
//!
//! A creation used to reach the region only once its flush was done and it was
//! published, so the flush and the batch window (`dispatch.batch_window_ms`) ran one
//! after the other. Now the region hears of the order as soon as it is written
//! ([`Expect`]): the window starts while the flush runs, and the order waits here, out of
//! every round, until the writer says it is durable and published ([`Arrival::settle`]
//! sends [`Arrived`]). So no proposal overtakes the creation (a console always hears of
//! the order before its assignment, and nothing unacknowledged reaches a driver), and an
//! order whose flush outlasted the window is matched at once. A flush that failed
//! ([`Forget`]) leaves nothing behind.

use super::RegionActor;
use crate::actors::mailbox::Mailbox;
use crate::orders::ledger::Written;
use crate::time::now_ms;
use actix::prelude::*;
use dispatch_protocol::Order;
use dispatch_storage::StoreError;
use std::sync::Arc;
use std::time::Duration;

/// An order written for this region, not yet durable: held until [`Arrived`].
#[derive(Message)]
#[rtype(result = "()")]
pub struct Expect(pub Arc<Order>);

/// The expected order is durable and published: it joins the queue.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Arrived(pub String);

/// The expected order's flush failed: it was never acknowledged.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Forget(pub String);

/// A creation's way into its region: told when written, settled once durable.
pub struct Arrival {
    pub(crate) addr: Mailbox<RegionActor>,
    pub(crate) id: String,
}

impl Arrival {
    /// Awaits the write's flush, publishes it, then lets the region match the order
    /// (or forget it when the flush failed). Run it in its own task: a caller that goes
    /// away meanwhile must not leave a durable order unpublished and never matched.
    pub async fn settle(self, written: Written) -> Result<(), StoreError> {
        let result = written.publish().await;
        match result {
            Ok(()) => self.addr.do_send(Arrived(self.id)),
            Err(_) => self.addr.do_send(Forget(self.id)),
        }
        result
    }
}

impl Handler<Expect> for RegionActor {
    type Result = ();
    fn handle(&mut self, Expect(order): Expect, ctx: &mut Self::Context) {
        self.depth.took();
        self.wake(ctx);
        self.arriving.insert(order.id.clone(), order);
        self.match_soon(ctx);
    }
}

impl Handler<Arrived> for RegionActor {
    type Result = ();
    fn handle(&mut self, Arrived(id): Arrived, ctx: &mut Self::Context) {
        self.depth.took();
        self.wake(ctx);
        let Some(order) = self.arriving.remove(&id) else {
            return;
        };
        self.pending.insert(order, now_ms(), false);
        // The window this order started has passed while its flush ran: match now
        // rather than wait a second window (on the next turn of the actor, so orders
        // that arrive together still make one batch).
        if self.shared.config.batch_window_ms > 0 {
            self.match_after(ctx, Duration::ZERO);
        }
    }
}

impl Handler<Forget> for RegionActor {
    type Result = ();
    fn handle(&mut self, Forget(id): Forget, _: &mut Self::Context) {
        self.depth.took();
        self.arriving.remove(&id);
    }
}
