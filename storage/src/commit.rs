//! [`GroupCommit`]: many writers share one fsync.
//!
//! A writer writes to the store, then asks for durability. Each request takes the next
//! number of a *requested* sequence. One flusher thread sleeps on a condition variable
//! until something is requested, reads the highest requested number, calls
//! [`Store::flush`], then completes every waiter whose number it covered. Writers that
//! arrive while a flush runs are all served by the next one, so under load the number
//! of flushes follows the disk's speed, not the number of writers.
//!
//! Guarantee: a waiter resolves `Ok` only after a flush that *started after* its
//! request returned `Ok`; such a flush covers the writer's earlier write.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use tokio::sync::oneshot;
use tracing::{error, warn};

use crate::error::StoreError;
use crate::store::Store;

/// Handle to the group committer; cheap to clone. When the last clone is dropped the
/// committer shuts down as by [`GroupCommit::shutdown`] (blocking on its final flush).
#[derive(Clone)]
pub struct GroupCommit {
    /// Shared by every clone; its `Drop` stops the thread.
    handle: Arc<Handle>,
}

/// Owned by the `GroupCommit` clones, not by the thread, so that dropping the last
/// clone can stop the thread.
struct Handle {
    /// State shared with the flusher thread.
    shared: Arc<Shared>,
    /// The flusher thread; taken and joined (under this lock, so every concurrent
    /// `shutdown` returns only once it is joined) by the first `shutdown`.
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    /// Requests, waiters and the stop flag.
    state: Mutex<State>,
    /// Wakes the flusher when a request or the stop flag arrives.
    wake: Condvar,
    /// Flushes finished (successful or not), for metrics and tests.
    flushes: AtomicU64,
}

struct State {
    /// Highest request number handed out.
    requested: u64,
    /// Highest request number covered by a finished flush.
    covered: u64,
    /// Writers waiting for durability, in increasing `seq` order.
    waiters: VecDeque<Waiter>,
    /// Set by `shutdown`: no new requests; the thread exits once all are covered.
    stopping: bool,
}

/// Where the flusher sends one flush result: a oneshot for [`Durable`], a std channel
/// for [`GroupCommit::durable_blocking`] (a std channel can be waited on from any
/// thread, even one that runs an async runtime, without tokio's blocking check).
enum WaiterTx {
    Future(oneshot::Sender<Result<(), StoreError>>),
    Thread(mpsc::Sender<Result<(), StoreError>>),
}

impl WaiterTx {
    /// Delivers the result; a waiter that stopped waiting is not an error.
    fn send(self, result: Result<(), StoreError>) {
        match self {
            WaiterTx::Future(tx) => {
                let _ = tx.send(result);
            }
            WaiterTx::Thread(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

struct Waiter {
    /// The request number; served by the first flush whose target is `>= seq`.
    seq: u64,
    /// Completed by the flusher thread with that flush's result. Dropped unsent only if
    /// the thread dies, which the receiver reads as `Closed`.
    tx: WaiterTx,
}

impl GroupCommit {
    /// Starts the flusher thread over `store`. Panics if the OS refuses a thread.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                requested: 0,
                covered: 0,
                waiters: VecDeque::new(),
                stopping: false,
            }),
            wake: Condvar::new(),
            flushes: AtomicU64::new(0),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("storage-group-commit".to_owned())
            .spawn(move || run_flusher(&thread_shared, store.as_ref()));
        let thread = match thread {
            Ok(t) => t,
            Err(e) => panic!("cannot spawn the group commit thread: {e}"),
        };
        Self {
            handle: Arc::new(Handle {
                shared,
                thread: Mutex::new(Some(thread)),
            }),
        }
    }

    /// Call *after* your write: the returned future resolves `Ok(())` once a flush that
    /// started after this call has completed, `Err` with the flush's error if it
    /// failed, or `Err(Closed)` if the committer is shut down. The future works on any
    /// runtime; dropping it does not cancel the flush.
    pub fn durable(&self) -> Durable {
        let (tx, rx) = oneshot::channel();
        if let Some(tx) = self.handle.shared.request(Some(WaiterTx::Future(tx))) {
            tx.send(Err(StoreError::Closed));
        }
        Durable { rx }
    }

    /// [`durable`](Self::durable), blocking the calling thread until the result is
    /// there. Works on any thread; on an async runtime's thread it stalls that thread
    /// for a whole flush, so prefer `durable().await` there.
    pub fn durable_blocking(&self) -> Result<(), StoreError> {
        let (tx, rx) = mpsc::channel();
        if let Some(tx) = self.handle.shared.request(Some(WaiterTx::Thread(tx))) {
            tx.send(Err(StoreError::Closed));
        }
        // A disconnected channel means the flusher thread died without answering.
        rx.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// Asks for a flush without waiting for it (the position batch writer uses this).
    pub fn request_flush(&self) {
        let _ = self.handle.shared.request(None);
    }

    /// Final flush, then stops and joins the thread. Waiters registered before the
    /// call are completed. Returns the final flush's result (`Err(Closed)` if the
    /// thread had died); later calls (and calls racing the first) return `Ok(())` once
    /// the thread is joined.
    pub fn shutdown(&self) -> Result<(), StoreError> {
        self.handle.shutdown()
    }

    /// Writers waiting for a flush now (a queue-depth metric).
    pub fn waiting(&self) -> usize {
        self.handle.shared.lock().waiters.len()
    }

    /// Number of flushes the committer has finished.
    pub fn flushes(&self) -> u64 {
        self.handle.shared.flushes.load(Ordering::SeqCst)
    }
}

impl Handle {
    fn shutdown(&self) -> Result<(), StoreError> {
        let final_flush = {
            let mut st = self.shared.lock();
            if st.stopping {
                None
            } else {
                // One more request, so the final flush starts after this call.
                let (tx, rx) = oneshot::channel();
                st.requested += 1;
                let seq = st.requested;
                st.waiters.push_back(Waiter {
                    seq,
                    tx: WaiterTx::Future(tx),
                });
                st.stopping = true;
                self.shared.wake.notify_one();
                Some(rx)
            }
        };
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = thread.take() {
            if t.join().is_err() {
                error!("group commit thread panicked");
                return Err(StoreError::Closed);
            }
        }
        match final_flush {
            // The thread is joined: the result was sent, or never will be.
            Some(mut rx) => rx.try_recv().unwrap_or(Err(StoreError::Closed)),
            None => Ok(()),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            warn!(error = %e, "final group commit flush failed");
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the next request number, queues `tx` (if any) as its waiter and wakes the
    /// flusher. Number and queue position are taken under one lock, so waiters stay
    /// in `seq` order and none is queued after the flush that covers it. Once stopping,
    /// does nothing and hands `tx` back.
    fn request(&self, tx: Option<WaiterTx>) -> Option<WaiterTx> {
        let mut st = self.lock();
        if st.stopping {
            return tx;
        }
        st.requested += 1;
        let seq = st.requested;
        if let Some(tx) = tx {
            st.waiters.push_back(Waiter { seq, tx });
        }
        self.wake.notify_one();
        None
    }
}

/// Marks the committer stopped when the flusher thread ends, also by a panic in
/// `Store::flush`: later requests then fail with `Closed` instead of waiting forever,
/// and dropping the queued senders answers their waiters with `Closed`.
struct ExitGuard<'a>(&'a Shared);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.stopping = true;
        st.waiters.clear();
    }
}

/// The flusher thread: one flush per round, covering every request made before it.
fn run_flusher(shared: &Shared, store: &dyn Store) {
    let _exit = ExitGuard(shared);
    loop {
        let target = {
            let mut st = shared.lock();
            while st.requested == st.covered && !st.stopping {
                st = shared.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
            if st.requested == st.covered {
                return; // stopping, and nothing left to cover
            }
            st.requested
        };
        let result = store.flush();
        shared.flushes.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = &result {
            warn!(error = %e, covered = target, "group commit flush failed");
        }
        let done: Vec<Waiter> = {
            let mut st = shared.lock();
            st.covered = target;
            let n = st.waiters.partition_point(|w| w.seq <= target);
            st.waiters.drain(..n).collect()
        };
        for w in done {
            w.tx.send(result.clone());
        }
    }
}

/// Resolves when the write made before [`GroupCommit::durable`] is on disk.
#[must_use = "a write is only known to be durable once this resolves"]
#[derive(Debug)]
pub struct Durable {
    /// Completed by the flusher thread; closed unsent means the committer died.
    rx: oneshot::Receiver<Result<(), StoreError>>,
}

impl Durable {
    /// Waits on the calling thread. Panics if called on an async runtime's thread (a
    /// tokio rule); use `.await` there, or [`GroupCommit::durable_blocking`].
    pub fn wait(self) -> Result<(), StoreError> {
        self.rx.blocking_recv().unwrap_or(Err(StoreError::Closed))
    }

    /// The result if it is already there, without waiting.
    pub fn try_wait(&mut self) -> Option<Result<(), StoreError>> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(StoreError::Closed)),
        }
    }
}

impl Future for Durable {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(StoreError::Closed)))
    }
}
