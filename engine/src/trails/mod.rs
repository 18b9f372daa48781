//! Trails: the history of where each driver went. Driver actors offer every position
//! they apply ([`Recorder::offer`]: the [`sampler`]'s rule against the driver's own
//! last kept point, and a mutex and a push only for a point kept — nothing touches
//! the store on the position path); the sampler keeps at most one point per
//! `trails.min_interval_ms` and `trails.min_distance_m`; a dedicated thread writes the
//! kept points as one batch every `trails.write_ms` (sled's background flush makes
//! them durable, like positions: lossy, never acknowledged) and every
//! `trails.trim_ms` drops points older than `trails.retention_s` and the oldest beyond
//! `trails.max_points_per_driver`. [`answer`] renders them for the HTTP API.

pub mod answer;
pub mod sampler;

use crate::config::TrailConfig;
use crate::telemetry;
use crate::time::now_ms;
use dispatch_storage::{Store, StoreError, TrailPointRecord};
use sampler::Sampler;
use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Points waiting for the writer beyond this are dropped (counted): a store that
/// cannot keep up must not grow the engine's memory without bound.
const MAX_PENDING: usize = 1 << 20;

#[derive(Default)]
struct Pending {
    /// Kept points not yet written, in arrival order.
    points: Vec<(String, TrailPointRecord)>,
}

pub struct Recorder {
    config: TrailConfig,
    sampler: Sampler,
    store: Arc<dyn Store>,
    pending: Mutex<Pending>,
    /// Points stored per driver, as far as this process knows (loaded from the store
    /// when a trim first meets the driver, then kept up to date), so a trim knows how
    /// many of the oldest points exceed the size bound without a count scan.
    counts: Mutex<HashMap<String, u64>>,
    /// Dropping the sender stops the thread; `None` once stopped.
    stop: Mutex<Option<mpsc::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Recorder {
    /// A recorder; its writer thread runs only when the trails are enabled.
    pub fn start(config: &TrailConfig, store: Arc<dyn Store>) -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<()>();
        let recorder = Arc::new(Self {
            config: config.clone(),
            sampler: Sampler::new(config.min_interval_ms, config.min_distance_m),
            store,
            pending: Mutex::default(),
            counts: Mutex::default(),
            stop: Mutex::new(Some(tx)),
            thread: Mutex::new(None),
        });
        if config.enabled {
            let weak = Arc::downgrade(&recorder);
            let every = Duration::from_millis(config.write_ms);
            let thread = std::thread::Builder::new()
                .name("trail-writer".into())
                .spawn(move || run(&weak, &rx, every))
                .expect("spawn the trail writer");
            *lock(&recorder.thread) = Some(thread);
        }
        recorder
    }

    /// A position a driver actor applied, after `last`, the last point of that driver
    /// kept (the actor's own). Cheap: the store is not touched here, the shared list
    /// only for a kept point.
    pub fn offer(
        &self,
        driver: &str,
        last: &mut Option<TrailPointRecord>,
        ts_ms: u64,
        lat: f64,
        lon: f64,
    ) {
        if !self.config.enabled {
            return;
        }
        let point = TrailPointRecord { ts_ms, lat, lon };
        if !self.sampler.keep(last, point) {
            return;
        }
        let mut pending = lock(&self.pending);
        if pending.points.len() >= MAX_PENDING {
            metrics::counter!(telemetry::TRAIL_POINTS, "outcome" => "dropped").increment(1);
            return;
        }
        pending.points.push((driver.to_string(), point));
    }

    /// Kept points of `driver` in `[from_ms, to_ms]` not yet written, oldest first.
    pub fn pending(&self, driver: &str, from_ms: u64, to_ms: u64) -> Vec<TrailPointRecord> {
        lock(&self.pending)
            .points
            .iter()
            .filter(|(d, p)| d == driver && (from_ms..=to_ms).contains(&p.ts_ms))
            .map(|(_, p)| *p)
            .collect()
    }

    /// Up to `limit` points of `driver` in `[from_ms, to_ms]`, oldest first: the stored
    /// ones and those still waiting for the writer (read first, so a batch written
    /// meanwhile is seen in one of the two).
    pub fn read(
        &self,
        driver: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<TrailPointRecord>, StoreError> {
        let waiting = self.pending(driver, from_ms, to_ms);
        let mut points = self.store.trail_points(driver, from_ms, to_ms, limit)?;
        points.extend(waiting);
        points.sort_by_key(|p| p.ts_ms);
        points.dedup_by_key(|p| p.ts_ms);
        points.truncate(limit);
        Ok(points)
    }

    /// Writes the kept points as one batch.
    pub fn write_batch(&self) -> Result<(), StoreError> {
        let points = std::mem::take(&mut lock(&self.pending).points);
        if points.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.store.put_trail_points(&points) {
            metrics::counter!(telemetry::TRAIL_POINTS, "outcome" => "dropped")
                .increment(points.len() as u64);
            return Err(e);
        }
        metrics::counter!(telemetry::TRAIL_POINTS, "outcome" => "written")
            .increment(points.len() as u64);
        let mut counts = lock(&self.counts);
        for (driver, _) in &points {
            // Drivers not counted yet are counted from the store at their first trim.
            if let Some(n) = counts.get_mut(driver) {
                *n += 1;
            }
        }
        Ok(())
    }

    /// Drops every driver's points older than the retention and its oldest beyond the
    /// per-driver bound; returns how many were dropped.
    pub fn trim(&self, now_ms: u64) -> Result<u64, StoreError> {
        let before = now_ms.saturating_sub(self.config.retention_s.saturating_mul(1000));
        let mut dropped = 0;
        for driver in self.store.trail_drivers()? {
            let known = lock(&self.counts).get(&driver).copied();
            let stored = match known {
                Some(n) => n,
                None => self.store.trail_len(&driver)?,
            };
            let excess = stored.saturating_sub(self.config.max_points_per_driver);
            let n = self.store.trim_trail(&driver, before, excess)?;
            dropped += n;
            let left = stored.saturating_sub(n);
            let mut counts = lock(&self.counts);
            if left == 0 {
                counts.remove(&driver);
            } else {
                counts.insert(driver, left);
            }
        }
        metrics::counter!(telemetry::TRAIL_POINTS, "outcome" => "trimmed").increment(dropped);
        Ok(dropped)
    }

    /// Stops the thread and writes what is left (shutdown: the caller then flushes).
    pub fn shutdown(&self) -> Result<(), StoreError> {
        drop(lock(&self.stop).take());
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
        self.write_batch()
    }
}

/// The writer thread: a batch every `every`, a trim every `trails.trim_ms`, until the
/// recorder is stopped or dropped.
fn run(recorder: &Weak<Recorder>, stop: &mpsc::Receiver<()>, every: Duration) {
    let mut last_trim = Instant::now();
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        let Some(r) = recorder.upgrade() else { return };
        if let Err(e) = r.write_batch() {
            tracing::error!(error = %e, "trail batch write failed");
        }
        if last_trim.elapsed() >= Duration::from_millis(r.config.trim_ms) {
            last_trim = Instant::now();
            match r.trim(now_ms()) {
                Ok(n) if n > 0 => tracing::debug!(dropped = n, "trails trimmed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "trimming trails failed"),
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::Recorder;
    use crate::config::TrailConfig;
    use dispatch_storage::{MemStore, Store};
    use std::sync::Arc;

    fn recorder(config: TrailConfig) -> (Arc<Recorder>, Arc<MemStore>) {
        let store = Arc::new(MemStore::new());
        // A writer thread that never runs on its own within the test.
        let config = TrailConfig {
            write_ms: 86_400_000,
            trim_ms: 86_400_000,
            ..config
        };
        (Recorder::start(&config, store.clone()), store)
    }

    #[test]
    fn reads_see_points_before_and_after_they_are_written() {
        let (r, _) = recorder(TrailConfig {
            min_interval_ms: 1_000,
            min_distance_m: 0.0,
            ..TrailConfig::default()
        });
        let (mut d1, mut d2) = (None, None);
        r.offer("d1", &mut d1, 10_000, 60.0, 24.0);
        r.offer("d1", &mut d1, 10_500, 60.1, 24.0); // within the interval: not kept
        r.offer("d1", &mut d1, 11_000, 60.2, 24.0);
        r.offer("d2", &mut d2, 11_000, 10.0, 10.0);
        assert_eq!(r.read("d1", 0, u64::MAX, 100).unwrap().len(), 2);
        r.write_batch().unwrap();
        r.offer("d1", &mut d1, 12_000, 60.3, 24.0);
        let got = r.read("d1", 0, u64::MAX, 100).unwrap();
        let times: Vec<u64> = got.iter().map(|p| p.ts_ms).collect();
        assert_eq!(times, [10_000, 11_000, 12_000]);
        assert_eq!(r.read("d1", 10_500, 11_500, 100).unwrap().len(), 1);
        assert_eq!(r.read("d1", 0, u64::MAX, 2).unwrap().len(), 2);
    }

    #[test]
    fn trims_by_age_and_by_count() {
        let (r, store) = recorder(TrailConfig {
            min_interval_ms: 0,
            min_distance_m: 0.0,
            retention_s: 60,
            max_points_per_driver: 10,
            ..TrailConfig::default()
        });
        let (mut d1, mut d2) = (None, None);
        for i in 0..30_u64 {
            r.offer("d1", &mut d1, 1_000_000 + i * 1_000, 60.0, 24.0);
            r.offer("d2", &mut d2, 1_000_000 + i * 1_000, 60.0, 24.0);
        }
        r.write_batch().unwrap();
        // Now 1,045 s: d1 and d2 keep 10 points each, none older than 985 s.
        let dropped = r.trim(1_045_000).unwrap();
        assert_eq!(dropped, 40);
        for d in ["d1", "d2"] {
            let left = store.trail_points(d, 0, u64::MAX, 100).unwrap();
            assert_eq!(left.len(), 10);
            assert_eq!(left[0].ts_ms, 1_020_000);
        }
        // Later, age alone: everything before 1,025 s goes.
        r.offer("d1", &mut d1, 1_030_000, 60.0, 24.0);
        r.write_batch().unwrap();
        assert_eq!(r.trim(1_085_000).unwrap(), 10);
        assert_eq!(store.trail_len("d1").unwrap(), 6);
        // A disabled recorder keeps nothing.
        let (off, store) = recorder(TrailConfig {
            enabled: false,
            ..TrailConfig::default()
        });
        off.offer("d1", &mut None, 1, 1.0, 1.0);
        off.write_batch().unwrap();
        assert_eq!(store.trail_len("d1").unwrap(), 0);
    }
}
