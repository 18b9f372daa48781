//! Orders out of a region's queue while drivers are asked to take them — a matching
//! round's proposals, the orders a re-optimisation landing withdrew — so the region
//! need not hold its mailbox for the answers: the next round does not place them again,
//! and a cancel finds them here (it takes an order not yet proposed, and waits for the
//! answer about one proposed, then follows the order to wherever the answer put it).

use dispatch_protocol::Order;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::oneshot;

#[derive(Default)]
pub(super) struct InFlight {
    orders: HashMap<Arc<str>, Entry>,
    /// Drivers with a matching proposal unanswered: no candidates meanwhile (a second
    /// proposal would be on a version about to change).
    asked: HashSet<Arc<str>>,
}

enum Entry {
    /// Withdrawn by a landing, not proposed yet: a cancel takes it from here.
    Held(Arc<Order>),
    /// Proposed to a driver: cancels wait for the answer.
    Proposed(Vec<oneshot::Sender<()>>),
}

/// What a cancel finds of an order here.
pub(super) enum ForCancel {
    NotHere,
    /// Taken out: cancel it (or [`InFlight::hold`] it again if that fails).
    Held(Arc<Order>),
    /// Fires once the order's proposal is answered.
    Wait(oneshot::Receiver<()>),
}

impl InFlight {
    pub(super) fn take_for_cancel(&mut self, id: &str) -> ForCancel {
        if let Some(Entry::Proposed(waiters)) = self.orders.get_mut(id) {
            let (tx, rx) = oneshot::channel();
            waiters.push(tx);
            return ForCancel::Wait(rx);
        }
        match self.orders.remove(id) {
            Some(Entry::Held(o)) => ForCancel::Held(o),
            _ => ForCancel::NotHere,
        }
    }

    /// Holds an order until it is proposed (or put back after a cancel that failed).
    pub(super) fn hold(&mut self, order: Arc<Order>) {
        let id: Arc<str> = Arc::from(order.id.as_str());
        self.orders.insert(id, Entry::Held(order));
    }

    pub(super) fn is_held(&self, id: &str) -> bool {
        matches!(self.orders.get(id), Some(Entry::Held(_)))
    }

    /// Marks a held order proposed; `None` if it is not held (a cancel took it).
    pub(super) fn propose_held(&mut self, id: &str) -> Option<Arc<Order>> {
        let entry = self.orders.get_mut(id)?;
        match std::mem::replace(entry, Entry::Proposed(Vec::new())) {
            Entry::Held(o) => Some(o),
            proposed => {
                *entry = proposed;
                None
            }
        }
    }

    /// An order taken out of the queue is proposed to `driver`.
    pub(super) fn propose(&mut self, id: &str, driver: &Arc<str>) {
        self.orders
            .insert(Arc::from(id), Entry::Proposed(Vec::new()));
        self.asked.insert(driver.clone());
    }

    /// Whether a matching proposal to this driver is unanswered.
    pub(super) fn asked(&self, driver: &str) -> bool {
        self.asked.contains(driver)
    }

    /// The driver answered a matching proposal.
    pub(super) fn driver_answered(&mut self, driver: &str) {
        self.asked.remove(driver);
    }

    /// The orders still held (no proposal took them), out of here.
    pub(super) fn take_held(&mut self) -> Vec<Arc<Order>> {
        self.orders
            .extract_if(|_, e| matches!(e, Entry::Held(_)))
            .filter_map(|(_, e)| match e {
                Entry::Held(o) => Some(o),
                Entry::Proposed(_) => None,
            })
            .collect()
    }

    /// An order's proposal was answered and the order is where the answer put it (a
    /// driver's route, or a queue): the cancels waiting for it go on.
    pub(super) fn answered(&mut self, id: &str) {
        if let Some(Entry::Proposed(waiters)) = self.orders.remove(id) {
            for w in waiters {
                let _ = w.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::model::sample;

    fn order(id: &str) -> Arc<Order> {
        Arc::new(sample(id, 0))
    }

    #[test]
    fn a_cancel_takes_a_held_order_and_the_proposal_then_skips_it() {
        let mut s = InFlight::default();
        s.hold(order("a"));
        s.hold(order("b"));
        let ForCancel::Held(a) = s.take_for_cancel("a") else {
            panic!("a held order is the cancel's to take");
        };
        assert_eq!(a.id, "a");
        assert!(matches!(s.take_for_cancel("a"), ForCancel::NotHere));
        assert!(
            s.propose_held("a").is_none(),
            "a cancelled order is not proposed"
        );
        assert_eq!(s.propose_held("b").map(|o| o.id.clone()), Some("b".into()));
        // Proposed once: not again, and not handed back as left over.
        assert!(s.propose_held("b").is_none());
        assert!(s.take_held().is_empty());
    }

    #[test]
    fn a_cancel_of_a_proposed_order_waits_for_the_answer() {
        let mut s = InFlight::default();
        s.hold(order("a"));
        s.propose_held("a").expect("held");
        let ForCancel::Wait(mut first) = s.take_for_cancel("a") else {
            panic!("a proposed order makes the cancel wait");
        };
        let ForCancel::Wait(mut second) = s.take_for_cancel("a") else {
            panic!("every cancel waits");
        };
        assert!(first.try_recv().is_err(), "not answered yet");
        s.answered("a");
        assert!(first.try_recv().is_ok());
        assert!(second.try_recv().is_ok());
        assert!(matches!(s.take_for_cancel("a"), ForCancel::NotHere));
    }

    #[test]
    fn orders_no_proposal_took_leave_the_landing_and_a_failed_cancel_puts_one_back() {
        let mut s = InFlight::default();
        for id in ["a", "b", "c"] {
            s.hold(order(id));
        }
        s.propose_held("b").expect("held");
        let ForCancel::Held(c) = s.take_for_cancel("c") else {
            panic!("held");
        };
        s.hold(c);
        let mut left: Vec<String> = s.take_held().iter().map(|o| o.id.clone()).collect();
        left.sort();
        assert_eq!(left, ["a", "c"]);
        assert!(matches!(s.take_for_cancel("b"), ForCancel::Wait(_)));
        assert!(matches!(s.take_for_cancel("a"), ForCancel::NotHere));
    }

    #[test]
    fn an_order_a_matching_round_proposed_waits_for_its_answer_and_the_driver_is_asked_once() {
        let mut s = InFlight::default();
        let d: Arc<str> = Arc::from("d1");
        s.propose("a", &d);
        assert!(s.asked("d1") && !s.asked("d2"));
        assert!(!s.is_held("a"));
        let ForCancel::Wait(mut w) = s.take_for_cancel("a") else {
            panic!("a proposed order makes the cancel wait");
        };
        s.driver_answered("d1");
        assert!(!s.asked("d1"));
        s.answered("a");
        assert!(w.try_recv().is_ok());
        assert!(s.take_held().is_empty());
    }
}
