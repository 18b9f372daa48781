//! Changes a driver actor wrote and has not delivered yet, in the order written. Each is
//! published (order book, consoles) and delivered (route pushed, handed-back orders
//! queued, the asker answered) once its flush is done and every change before it was.
//! The mailbox goes on meanwhile — a proposal is answered while the previous change
//! still waits for its flush, so a region's round never waits a flush for it — and what
//! the world hears of this driver still comes in version order.

use super::DriverActor;
use crate::orders::ledger::{Publication, Written};
use actix::prelude::*;
use dispatch_storage::StoreError;
use std::collections::VecDeque;

type Then = Box<dyn FnOnce(&mut DriverActor, Result<(), StoreError>)>;

/// Generic over what is published, for its tests.
pub(super) struct Outbox<P = Publication> {
    next_ticket: u64,
    /// Oldest first.
    queue: VecDeque<Slot<P>>,
}

impl<P> Default for Outbox<P> {
    fn default() -> Self {
        Self {
            next_ticket: 0,
            queue: VecDeque::new(),
        }
    }
}

struct Slot<P> {
    ticket: u64,
    /// The flush's answer, once there.
    flushed: Option<Result<(), StoreError>>,
    publication: P,
    then: Then,
}

impl<P> Outbox<P> {
    fn push(&mut self, publication: P, then: Then) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.queue.push_back(Slot {
            ticket,
            flushed: None,
            publication,
            then,
        });
        ticket
    }

    fn flushed(&mut self, ticket: u64, res: Result<(), StoreError>) {
        if let Some(slot) = self.queue.iter_mut().find(|s| s.ticket == ticket) {
            slot.flushed = Some(res);
        }
    }

    /// The oldest change, if its flush answered.
    fn pop_ready(&mut self) -> Option<(Result<(), StoreError>, P, Then)> {
        self.queue.front()?.flushed.as_ref()?;
        let slot = self.queue.pop_front()?;
        Some((slot.flushed?, slot.publication, slot.then))
    }
}

impl DriverActor {
    /// Runs `then` with the outcome once `written` is durable and published, after
    /// every change this actor wrote before it (a flush error: not published).
    pub(super) fn after_durable(
        &mut self,
        ctx: &mut Context<Self>,
        written: Written,
        then: impl FnOnce(&mut Self, Result<(), StoreError>) + 'static,
    ) {
        let (durable, publication) = written.split();
        let ticket = self.outbox.push(publication, Box::new(then));
        ctx.spawn(durable.into_actor(self).map(move |res, act, _| {
            act.outbox.flushed(ticket, res);
            while let Some((res, publication, then)) = act.outbox.pop_ready() {
                let res = res.and_then(|()| publication.publish());
                then(act, res);
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() -> Then {
        Box::new(|_, _| {})
    }

    #[test]
    fn a_change_flushed_first_waits_for_the_one_written_before_it() {
        let mut out: Outbox<&str> = Outbox::default();
        let first = out.push("v1", noop());
        let second = out.push("v2", noop());
        out.flushed(second, Ok(()));
        assert!(out.pop_ready().is_none(), "v1 is not durable yet");
        out.flushed(first, Err(StoreError::Closed));
        let (res, p, _) = out.pop_ready().expect("v1 answered");
        assert_eq!((p, res.is_err()), ("v1", true));
        let (res, p, _) = out.pop_ready().expect("v2 answered");
        assert_eq!((p, res.is_ok()), ("v2", true));
        assert!(out.pop_ready().is_none());
        assert!(out.queue.is_empty());
    }
}
