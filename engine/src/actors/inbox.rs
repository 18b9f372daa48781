//! Coalescing inboxes for lossy-latest traffic (positions). A sender overwrites the
//! pending value for its key and wakes the actor only when no wake is outstanding, so
//! an actor's mailbox holds at most one wake per inbox however fast positions arrive;
//! overwritten values are counted as dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Pending values by key, plus the "a wake is queued" flag.
pub struct LatestInbox<K, V> {
    pending: Mutex<HashMap<K, V>>,
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
            pending: Mutex::new(HashMap::new()),
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
    pub fn drain(&self) -> HashMap<K, V> {
        self.scheduled.store(false, Ordering::Release);
        std::mem::take(&mut *self.pending.lock().expect("inbox lock"))
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
        let batch = inbox.drain();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch["a"], 2);
        assert!(inbox.offer("a", 4).wake);
        inbox.wake_failed();
        assert!(inbox.offer("a", 5).wake);
    }
}
