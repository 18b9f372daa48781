//! The run's one simulated clock: simulated seconds since the scenario's start advance
//! `speedup` times faster than real time. Engine-facing times (`ready_ms`, `due_ms`,
//! `ts_ms`) are real epoch milliseconds, so the engine sees a consistent world.

use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    t0: Instant,
    epoch0_ms: u64,
    pub speedup: f64,
}

impl Clock {
    pub fn start(speedup: f64) -> Self {
        Self {
            t0: Instant::now(),
            epoch0_ms: crate::common::now_ms(),
            speedup,
        }
    }

    /// Simulated seconds since the start.
    pub fn now_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64() * self.speedup
    }

    /// The real instant at which simulated second `t_s` happens.
    pub fn instant_at(&self, t_s: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(t_s.max(0.0) / self.speedup)
    }

    /// Real epoch milliseconds of simulated second `t_s`.
    pub fn epoch_ms_at(&self, t_s: f64) -> u64 {
        self.epoch0_ms + (t_s.max(0.0) * 1000.0 / self.speedup).round() as u64
    }

    /// A simulated duration in real time.
    pub fn real(&self, sim_s: f64) -> Duration {
        Duration::from_secs_f64(sim_s.max(0.0) / self.speedup)
    }

    /// Real seconds elapsed since the start.
    pub fn wall_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }
}
