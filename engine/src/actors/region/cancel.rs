//! Cancelling an order the region holds: queued, arriving (published, its `Arrived`
//! not handled yet) or in flight. The cancellation is written through the ledger and
//! answered once durable; the region's mailbox goes on meanwhile.

use super::in_flight::ForCancel;
use super::RegionActor;
use crate::orders::ledger::ChangeSet;
use crate::orders::model::set_status;
use crate::time::now_ms;
use actix::prelude::*;
use dispatch_protocol::{ErrorCode, Order, OrderStatus};
use std::sync::Arc;

/// Cancels a queued order (or one out of the queue in flight). `Ok(None)`: not
/// queued here (any more). Answered once the cancellation is durable; the mailbox goes
/// on meanwhile (the order is out of the queue already).
#[derive(Message)]
#[rtype(result = "Result<Option<Order>, (ErrorCode, String)>")]
pub struct CancelPending {
    pub id: String,
}

type CancelAnswer = ResponseFuture<Result<Option<Order>, (ErrorCode, String)>>;

impl Handler<CancelPending> for RegionActor {
    type Result = CancelAnswer;
    fn handle(&mut self, c: CancelPending, ctx: &mut Self::Context) -> Self::Result {
        self.depth.took();
        // The pending gauge is refreshed by the next publish.
        self.wake(ctx);
        if let Some(p) = self.pending.remove(&c.id) {
            let (previous, queued_ms) = (p.order.clone(), p.queued_ms);
            return self.cancel_taken(p.order, move |act| {
                let parked = previous.status == OrderStatus::Unassignable;
                act.pending.insert(previous, queued_ms, parked);
            });
        }
        // Published, but its `Arrived` not handled yet.
        if let Some(order) = self.arriving.remove(&c.id) {
            let previous = order.clone();
            return self.cancel_taken(order, move |act| {
                act.arriving.insert(previous.id.clone(), previous);
            });
        }
        match self.in_flight.take_for_cancel(&c.id) {
            ForCancel::NotHere => Box::pin(async { Ok(None) }),
            ForCancel::Held(order) => {
                let previous = order.clone();
                self.cancel_taken(order, move |act| act.in_flight.hold(previous))
            }
            // Proposed to a driver: once answered, the caller follows the order's owner.
            ForCancel::Wait(answered) => Box::pin(async move {
                let _ = answered.await;
                Ok(None)
            }),
        }
    }
}

impl RegionActor {
    /// Cancels an order taken out of this region's hands; `restore` puts it back when
    /// the write fails.
    fn cancel_taken(
        &mut self,
        mut order: Arc<Order>,
        restore: impl FnOnce(&mut Self),
    ) -> CancelAnswer {
        set_status(
            Arc::make_mut(&mut order),
            OrderStatus::Cancelled,
            now_ms(),
            None,
        );
        let Ok(written) = self
            .shared
            .ledger
            .write(ChangeSet::orders(vec![(order.clone(), None)]))
        else {
            restore(self);
            return Box::pin(async { Err((ErrorCode::Internal, "storage failure".to_string())) });
        };
        Box::pin(async move {
            match written.publish().await {
                Ok(()) => Ok(Some(Arc::unwrap_or_clone(order))),
                Err(e) => {
                    tracing::error!(error = %e, "cancel not durable");
                    Err((ErrorCode::Internal, "storage failure".to_string()))
                }
            }
        })
    }
}
