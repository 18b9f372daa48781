//! Readiness: whether recovery has finished, and how far it has got. The listener
//! serves from the moment the store is verified (`/healthz`, liveness); `/readyz`
//! answers 503 with the progress below until every stored driver is back in its actor
//! and region index and every open order on its route or in its region's queue, then
//! 200. Until then the API answers 503 `overloaded` with Retry-After (`net/http.rs`
//! `gate`) rather than an empty `nearest` or an order the book cannot check yet.

use crate::error::ApiError;
use crate::telemetry;
use dispatch_protocol::ErrorCode;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{watch, Semaphore};

/// Where recovery is (`/readyz` names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Taking what the verification at open decoded (or reading it again).
    Loading,
    /// Open orders into the order book, driver actors started.
    RestoringDrivers,
    /// Orders not on a route into their pickup regions' queues.
    QueueingOrders,
    Ready,
    /// Recovery failed; the engine is stopping.
    Failed,
}

const PHASES: [Phase; 5] = [
    Phase::Loading,
    Phase::RestoringDrivers,
    Phase::QueueingOrders,
    Phase::Ready,
    Phase::Failed,
];

/// Recovery's progress, shared by the recovery task, the HTTP gate and `/readyz`.
pub struct Readiness {
    phase: AtomicU8,
    ready: AtomicBool,
    drivers_total: AtomicU64,
    /// Gets a permit from each driver actor recovery started, once it runs.
    drivers_started: Mutex<Option<Arc<Semaphore>>>,
    orders_total: AtomicU64,
    orders_queued: AtomicU64,
    /// When recovery began (the store was verified), and how long it took once done.
    started: Mutex<Instant>,
    took_ms: AtomicU64,
    failure: Mutex<Option<String>>,
    done: watch::Sender<Phase>,
}

/// What `/readyz` answers (and its status: 200 when `status` is `ready`).
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub status: &'static str,
    pub phase: Phase,
    pub drivers: Progress,
    pub open_orders: Progress,
    /// Since recovery began, or (once ready) how long it took.
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Progress {
    /// Restored so far (drivers in their actors and regions; open orders on their
    /// routes or queues).
    pub restored: u64,
    pub total: u64,
}

impl Default for Readiness {
    fn default() -> Self {
        metrics::gauge!(telemetry::READY).set(0.0);
        Self {
            phase: AtomicU8::new(Phase::Loading as u8),
            ready: AtomicBool::new(false),
            drivers_total: AtomicU64::new(0),
            drivers_started: Mutex::new(None),
            orders_total: AtomicU64::new(0),
            orders_queued: AtomicU64::new(0),
            started: Mutex::new(Instant::now()),
            took_ms: AtomicU64::new(0),
            failure: Mutex::new(None),
            done: watch::channel(Phase::Loading).0,
        }
    }
}

impl Readiness {
    /// Whether recovery has finished: the API serves.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn phase(&self) -> Phase {
        let i = usize::from(self.phase.load(Ordering::Acquire));
        PHASES.get(i).copied().unwrap_or(Phase::Failed)
    }

    /// Recovery begins now (the store is open and verified).
    pub fn begin(&self) {
        *self.started.lock().expect("readiness lock") = Instant::now();
    }

    pub fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// What recovery found to restore.
    pub fn found(&self, drivers: u64, open_orders: u64) {
        self.drivers_total.store(drivers, Ordering::Relaxed);
        self.orders_total.store(open_orders, Ordering::Relaxed);
    }

    /// Where the driver actors recovery starts count themselves in (a permit each,
    /// once the actor exists and has offered its position to its region).
    pub fn watch_drivers(&self, started: Arc<Semaphore>) {
        *self.drivers_started.lock().expect("readiness lock") = Some(started);
    }

    fn drivers_restored(&self) -> u64 {
        let started = self.drivers_started.lock().expect("readiness lock");
        started.as_ref().map_or(0, |s| s.available_permits() as u64)
    }

    /// `n` open orders back on routes or queues.
    pub fn orders_restored(&self, n: u64) {
        self.orders_queued.fetch_add(n, Ordering::Relaxed);
    }

    fn elapsed_ms(&self) -> u64 {
        let started = *self.started.lock().expect("readiness lock");
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Recovery finished: the API serves from now on.
    pub fn set_ready(&self) {
        self.took_ms.store(self.elapsed_ms(), Ordering::Relaxed);
        self.enter(Phase::Ready);
        self.ready.store(true, Ordering::Release);
        metrics::gauge!(telemetry::READY).set(1.0);
        self.done.send_replace(Phase::Ready);
    }

    /// Recovery failed (the engine stops).
    /// The first reason given is kept.
    pub fn set_failed(&self, why: String) {
        self.failure
            .lock()
            .expect("readiness lock")
            .get_or_insert(why);
        self.enter(Phase::Failed);
        self.done.send_replace(Phase::Failed);
    }

    /// Resolves once recovery finished: `Ok` when ready, else why it failed.
    pub async fn wait(&self) -> Result<(), String> {
        let mut rx = self.done.subscribe();
        let phase = rx
            .wait_for(|p| matches!(p, Phase::Ready | Phase::Failed))
            .await
            .map(|p| *p)
            .unwrap_or(Phase::Failed);
        match phase {
            Phase::Ready => Ok(()),
            _ => Err(self
                .failure
                .lock()
                .expect("readiness lock")
                .clone()
                .unwrap_or_else(|| "recovery stopped".into())),
        }
    }

    pub fn view(&self) -> View {
        let phase = self.phase();
        let ready = self.is_ready();
        let drivers_total = self.drivers_total.load(Ordering::Relaxed);
        let orders_total = self.orders_total.load(Ordering::Relaxed);
        View {
            status: match phase {
                _ if ready => "ready",
                Phase::Failed => "failed",
                _ => "recovering",
            },
            phase,
            drivers: Progress {
                restored: self.drivers_restored(),
                total: drivers_total,
            },
            open_orders: Progress {
                restored: self.orders_queued.load(Ordering::Relaxed),
                total: orders_total,
            },
            elapsed_ms: if ready {
                self.took_ms.load(Ordering::Relaxed)
            } else {
                self.elapsed_ms()
            },
            error: self.failure.lock().expect("readiness lock").clone(),
        }
    }

    /// `Ok` once ready; before, the API's answer: 503 `overloaded`, Retry-After 1 s,
    /// and how far recovery has got.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.is_ready() {
            return Ok(());
        }
        telemetry::limited("recovering");
        let v = self.view();
        Err(ApiError {
            retry_after_s: Some(1),
            ..ApiError::new(
                ErrorCode::Overloaded,
                format!(
                    "recovering after a restart ({} of {} drivers and {} of {} open orders restored); retry shortly",
                    v.drivers.restored, v.drivers.total, v.open_orders.restored, v.open_orders.total
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_until_ready_then_serves() {
        let r = Readiness::default();
        r.found(3, 5);
        let started = Arc::new(Semaphore::new(0));
        r.watch_drivers(started.clone());
        started.add_permits(1);
        r.orders_restored(2);
        let e = r.check().unwrap_err();
        assert_eq!((e.code, e.retry_after_s), (ErrorCode::Overloaded, Some(1)));
        assert!(e.message.contains("1 of 3 drivers"), "{}", e.message);
        let v = r.view();
        assert_eq!((v.status, v.open_orders.restored), ("recovering", 2));
        r.set_ready();
        r.wait().await.unwrap();
        assert!(r.check().is_ok());
        assert_eq!(r.view().status, "ready");
    }

    #[tokio::test]
    async fn a_failure_ends_the_wait_with_its_reason() {
        let r = Readiness::default();
        r.set_failed("store error".into());
        assert_eq!(r.wait().await.unwrap_err(), "store error");
        assert_eq!(r.view().status, "failed");
        assert!(r.check().is_err());
    }
}
