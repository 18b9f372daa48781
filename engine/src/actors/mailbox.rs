//! Actor addresses that count what waits in their mailboxes. Actix bounds a mailbox but
//! keeps its length private, so every send through a [`Mailbox`] adds one to the
//! `dispatch_queue_depth{queue}` gauge of its actor kind and every handler takes one off
//! ([`Depth::took`]) as it starts: the gauge is the number of messages queued (or
//! waiting for room) in all mailboxes of that kind.

use actix::dev::ToEnvelope;
use actix::prelude::*;
use metrics::Gauge;
use std::future::Future;

use crate::telemetry;

/// The depth gauge of one actor kind (`region_mailbox`, `driver_mailbox`).
#[derive(Clone)]
pub struct Depth(Gauge);

impl Depth {
    pub fn new(queue: &'static str) -> Self {
        Self(metrics::gauge!(telemetry::QUEUE_DEPTH, "queue" => queue))
    }

    /// A handler started: its message left the mailbox.
    pub fn took(&self) {
        self.0.decrement(1.0);
    }
}

/// An actor's address plus its kind's depth gauge.
pub struct Mailbox<A: Actor> {
    addr: Addr<A>,
    depth: Depth,
}

impl<A: Actor> Clone for Mailbox<A> {
    fn clone(&self) -> Self {
        Self {
            addr: self.addr.clone(),
            depth: self.depth.clone(),
        }
    }
}

impl<A: Actor> Mailbox<A> {
    pub fn new(addr: Addr<A>, depth: Depth) -> Self {
        Self { addr, depth }
    }

    /// Sends and waits for the answer (waits for room when the mailbox is full). A
    /// message that never arrived (actor stopped) is taken off the gauge again.
    pub fn send<M>(&self, msg: M) -> impl Future<Output = Result<M::Result, MailboxError>>
    where
        A: Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        self.depth.0.increment(1.0);
        let depth = self.depth.clone();
        let request = self.addr.send(msg);
        async move {
            let answer = request.await;
            if answer.is_err() {
                depth.took();
            }
            answer
        }
    }

    /// Sends unless the mailbox is full.
    pub fn try_send<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        self.addr.try_send(msg)?;
        self.depth.0.increment(1.0);
        Ok(())
    }

    /// Sends regardless of the bound. Only for messages that must not be dropped and
    /// are bounded elsewhere (orders: `limits.max_open_orders`).
    pub fn do_send<M>(&self, msg: M)
    where
        A: Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        self.depth.0.increment(1.0);
        self.addr.do_send(msg);
    }
}
