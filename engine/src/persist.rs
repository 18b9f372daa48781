//! The position batch writer: driver actors mark their latest state here; a dedicated
//! thread writes one batch every `position_flush_ms` and asks the group committer for
//! a flush, so a crash loses at most one interval plus one flush of positions (the
//! contract allows 1 s). Lossless writes (registrations) go through the store and
//! `GroupCommit::durable` directly instead.

use dispatch_protocol::DriverStatus;
use dispatch_storage::{DriverStateRecord, DriverStatusRecord, EventRecord, GroupCommit, Store};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::telemetry;

#[derive(Default)]
struct Pending {
    /// Latest state per driver since the last batch.
    states: crate::core::FastMap<Arc<str>, DriverStateRecord>,
    /// Domain events since the last batch, in order.
    events: Vec<EventRecord>,
}

pub struct PositionWriter {
    pending: Mutex<Pending>,
    store: Arc<dyn Store>,
    commit: GroupCommit,
    /// Dropping the sender stops the thread; `None` once stopped.
    stop: Mutex<Option<mpsc::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl PositionWriter {
    pub fn start(store: Arc<dyn Store>, commit: GroupCommit, every: Duration) -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<()>();
        let writer = Arc::new(Self {
            pending: Mutex::default(),
            store,
            commit,
            stop: Mutex::new(Some(tx)),
            thread: Mutex::new(None),
        });
        let w = writer.clone();
        let thread = std::thread::Builder::new()
            .name("position-writer".into())
            .spawn(move || {
                // A message or a dropped sender means stop; a timeout means write.
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                    if let Err(e) = w.write_batch() {
                        tracing::error!(error = %e, "position batch write failed");
                    }
                }
            })
            .expect("spawn the position writer");
        *writer.thread.lock().expect("writer lock") = Some(thread);
        writer
    }

    /// The driver's latest state, written with the next batch (a later mark before it
    /// replaces this one).
    pub fn mark(&self, id: &Arc<str>, state: DriverStateRecord) {
        let mut pending = self.pending.lock().expect("writer lock");
        match pending.states.get_mut(&**id) {
            Some(s) => *s = state,
            None => {
                pending.states.insert(id.clone(), state);
            }
        }
    }

    /// Rows waiting for the next batch (driver states plus events).
    pub fn depth(&self) -> usize {
        let p = self.pending.lock().expect("writer lock");
        p.states.len() + p.events.len()
    }

    pub fn event(&self, ev: EventRecord) {
        self.pending.lock().expect("writer lock").events.push(ev);
    }

    /// Writes what is pending as one batch and requests a flush (without waiting).
    pub fn write_batch(&self) -> Result<(), dispatch_storage::StoreError> {
        let Pending { states, events } =
            std::mem::take(&mut *self.pending.lock().expect("writer lock"));
        if states.is_empty() && events.is_empty() {
            return Ok(());
        }
        let rows: Vec<(String, DriverStateRecord)> = states
            .into_iter()
            .map(|(id, s)| (id.to_string(), s))
            .collect();
        if !rows.is_empty() {
            self.store.put_driver_states(&rows)?;
            metrics::counter!(telemetry::POSITION_BATCHES).increment(1);
            metrics::histogram!(telemetry::POSITION_BATCH_ROWS).record(rows.len() as f64);
        }
        for ev in &events {
            self.store.append_event(ev)?;
        }
        self.commit.request_flush();
        Ok(())
    }

    /// Stops the thread and writes the last batch (shutdown: the caller then flushes).
    pub fn shutdown(&self) -> Result<(), dispatch_storage::StoreError> {
        drop(self.stop.lock().expect("writer lock").take());
        if let Some(t) = self.thread.lock().expect("writer lock").take() {
            let _ = t.join();
        }
        self.write_batch()
    }
}

pub fn status_to_record(s: DriverStatus) -> DriverStatusRecord {
    match s {
        DriverStatus::Available => DriverStatusRecord::Available,
        DriverStatus::Offline => DriverStatusRecord::Offline,
        DriverStatus::Break => DriverStatusRecord::Break,
    }
}

pub fn status_from_record(s: DriverStatusRecord) -> DriverStatus {
    match s {
        DriverStatusRecord::Available => DriverStatus::Available,
        DriverStatusRecord::Offline => DriverStatus::Offline,
        DriverStatusRecord::Break => DriverStatus::Break,
    }
}
