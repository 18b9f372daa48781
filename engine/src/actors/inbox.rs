//! Coalescing inboxes for lossy-latest traffic (positions). A sender overwrites the
//! pending value for its key and wakes the actor only when no wake is outstanding, so
//! an actor's mailbox holds at most one wake per inbox however fast positions arrive;
//! overwritten values are counted as dropped.

use crate::core::FastMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Pending values by key, plus the "a wake is queued" flag.
pub struct LatestInbox<K, V> {
    pending: Mutex<FastMap<K, V>>,
    scheduled: AtomicBool,
}

/// What `offer` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offered {
    /// The value replaced one that was never applied.
    pub coalesced: bool,
    /// The caller must wake the actor (no wake was outstanding).
    pub wake: bool,
}

impl<K: Eq + Hash, V> Default for LatestInbox<K, V> {
    fn default() -> Self {
        Self {
            pending: Mutex::new(FastMap::default()),
            scheduled: AtomicBool::new(false),
        }
    }
}

impl<K: Eq + Hash, V> LatestInbox<K, V> {
    pub fn offer(&self, key: K, value: V) -> Offered {
        let coalesced = self
            .pending
            .lock()
            .expect("inbox lock")
            .insert(key, value)
            .is_some();
        let wake = !self.scheduled.swap(true, Ordering::AcqRel);
        Offered { coalesced, wake }
    }

    /// Takes everything pending. Clears the wake flag first, so a value offered while
    /// the actor applies this batch schedules a new wake.
    pub fn drain(&self) -> FastMap<K, V> {
        self.scheduled.store(false, Ordering::Release);
        std::mem::take(&mut *self.pending.lock().expect("inbox lock"))
    }

    /// Whether nothing is pending (a reader of the actor's published state checks that
    /// every value offered before has been applied).
    pub fn is_empty(&self) -> bool {
        self.pending.lock().expect("inbox lock").is_empty()
    }

    /// When nothing is pending: clears the wake flag (as [`drain`](Self::drain) of an
    /// empty inbox would) and returns true, so the actor need not prepare for a batch.
    /// Under the lock: a value offered just after still schedules its wake.
    pub fn settle_if_empty(&self) -> bool {
        let pending = self.pending.lock().expect("inbox lock");
        if !pending.is_empty() {
            return false;
        }
        self.scheduled.store(false, Ordering::Release);
        true
    }

    /// The wake could not be delivered (mailbox full): let the next offer try again.
    pub fn wake_failed(&self) {
        self.scheduled.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesces_and_wakes_once() {
        let inbox = LatestInbox::default();
        assert_eq!(
            inbox.offer("a", 1),
            Offered {
                coalesced: false,
                wake: true
            }
        );
        assert_eq!(
            inbox.offer("a", 2),
            Offered {
                coalesced: true,
                wake: false
            }
        );
        assert!(!inbox.offer("b", 3).wake);
        assert!(!inbox.is_empty());
        assert!(!inbox.settle_if_empty());
        let batch = inbox.drain();
        assert!(inbox.is_empty());
        assert_eq!(batch.len(), 2);
        assert_eq!(batch["a"], 2);
        assert!(inbox.offer("a", 4).wake);
        inbox.wake_failed();
        assert!(inbox.offer("a", 5).wake);
        // Something pending: settling leaves it and its wake alone.
        assert!(!inbox.settle_if_empty());
        assert!(!inbox.offer("b", 6).wake);
        inbox.drain();
        // Nothing pending: settled, and the next offer wakes the actor again.
        assert!(inbox.settle_if_empty());
        assert!(inbox.offer("b", 7).wake);
    }
}
