//! One driver bot of the order load run: available in the box, a position every
//! `position_every`; on a route it goes to the first stop (a position there), waits
//! `stop_delay`, reports it done, waits for the ack and goes on with the next.

use super::Tracker;
use crate::client::{DriverClient, Incoming};
use crate::common::Area;
use anyhow::bail;
use dispatch_protocol::{DriverStatus, RouteStop, ServerMessage, StopKind, StopOutcome};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Connection attempts per bot: 5,000 bots connecting at once overrun the engine's
/// default cap of connections in their handshake (1,024), as a fleet does after a
/// restart; like a driver app, a bot turned away tries again.
const CONNECT_TRIES: u32 = 6;

pub struct BotCfg {
    pub stop_delay: Duration,
    pub position_every: Duration,
    pub area: Area,
}

#[derive(Default)]
pub struct BotStats {
    pub routes: AtomicU64,
    pub positions: AtomicU64,
    pub stop_done: AtomicU64,
    pub acks: AtomicU64,
    pub delivered: AtomicU64,
    pub abandoned: AtomicU64,
    /// Connection attempts that failed before a bot's socket opened.
    pub connect_retries: AtomicU64,
    pub errors: Mutex<BTreeMap<String, u64>>,
    pub ended: Mutex<BTreeMap<String, u64>>,
}

pub fn bump(map: &Mutex<BTreeMap<String, u64>>, key: impl Into<String>) {
    *map.lock()
        .expect("stats lock")
        .entry(key.into())
        .or_default() += 1;
}

struct Bot<'a> {
    client: DriverClient,
    cfg: &'a BotCfg,
    tracker: &'a Tracker,
    stats: &'a BotStats,
    rng: StdRng,
    pos: (f64, f64),
    route: Vec<RouteStop>,
    /// Stops reported done that a route may still hold.
    done: HashSet<String>,
    /// The stop being served and when it is done.
    serving: Option<(RouteStop, Instant)>,
    /// The `stop_done` waiting for its ack.
    awaiting: Option<u64>,
    seq: u64,
}

/// Runs one bot until `stop` turns true.
pub async fn run(
    mut client: DriverClient,
    seed: u64,
    (cfg, tracker, stats): (&BotCfg, &Tracker, &BotStats),
    ready: tokio::sync::mpsc::Sender<()>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (route, retries) = client
        .connect_retrying(false, CONNECT_TRIES, &mut rng)
        .await?;
    stats
        .connect_retries
        .fetch_add(u64::from(retries), Ordering::Relaxed);
    let route = route.stops;
    let pos = cfg.area.random_point(&mut rng);
    client.send_status(DriverStatus::Available).await?;
    client.send_position(pos).await?;
    let _ = ready.send(()).await;
    drop(ready);
    let first = Instant::now() + cfg.position_every.mul_f64(rng.random_range(0.0..1.0));
    let mut tick = tokio::time::interval_at(first, cfg.position_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut bot = Bot {
        client,
        cfg,
        tracker,
        stats,
        rng,
        pos,
        route,
        done: HashSet::new(),
        serving: None,
        awaiting: None,
        seq: 0,
    };
    loop {
        bot.serve_next().await?;
        let serve_at = bot.serving.as_ref().map(|s| s.1);
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            _ = tick.tick() => bot.report_position().await?,
            _ = tokio::time::sleep_until(serve_at.unwrap_or_else(Instant::now)), if serve_at.is_some() => {
                bot.finish_stop().await?;
            }
            msg = bot.client.recv() => bot.on_incoming(msg)?,
        }
    }
    bot.client.close().await;
    Ok(())
}

impl Bot<'_> {
    /// Idle with a route: drive to its first stop (instantly) and serve it.
    async fn serve_next(&mut self) -> anyhow::Result<()> {
        if self.serving.is_some() || self.awaiting.is_some() {
            return Ok(());
        }
        if let Some(next) = self.route.first() {
            self.pos = (next.lat, next.lon);
            self.serving = Some((next.clone(), Instant::now() + self.cfg.stop_delay));
            self.client.send_position(self.pos).await?;
            self.stats.positions.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The periodic position; an idle bot wanders a little inside the box.
    async fn report_position(&mut self) -> anyhow::Result<()> {
        if self.serving.is_none() && self.route.is_empty() {
            let area = &self.cfg.area;
            let (lat, lon) = &mut self.pos;
            *lat =
                (*lat + self.rng.random_range(-0.0002..0.0002)).clamp(area.min_lat, area.max_lat);
            *lon =
                (*lon + self.rng.random_range(-0.0004..0.0004)).clamp(area.min_lon, area.max_lon);
        }
        self.client.send_position(self.pos).await?;
        self.stats.positions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn finish_stop(&mut self) -> anyhow::Result<()> {
        let Some((stop, _)) = self.serving.take() else {
            return Ok(());
        };
        self.seq += 1;
        let outcome = match stop.kind {
            StopKind::Pickup => StopOutcome::PickedUp,
            StopKind::Dropoff => StopOutcome::Delivered,
        };
        self.client
            .send_stop_done(self.seq, &stop.stop_id, outcome)
            .await?;
        self.stats.stop_done.fetch_add(1, Ordering::Relaxed);
        self.awaiting = Some(self.seq);
        self.route.retain(|s| s.stop_id != stop.stop_id);
        self.done.insert(stop.stop_id);
        Ok(())
    }

    fn on_incoming(&mut self, msg: Incoming) -> anyhow::Result<()> {
        match msg {
            Incoming::Closed { why, .. } => bail!(why),
            Incoming::Message(ServerMessage::Route { route }) => self.on_route(route.stops),
            Incoming::Message(ServerMessage::Ack { reference, stop_id })
                if reference.is_some() && reference == self.awaiting =>
            {
                self.awaiting = None;
                self.stats.acks.fetch_add(1, Ordering::Relaxed);
                if stop_id.is_some_and(|s| s.starts_with("d:")) {
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            Incoming::Message(ServerMessage::Error {
                code, reference, ..
            }) => {
                bump(&self.stats.errors, code.as_str());
                if reference.is_some() && reference == self.awaiting {
                    self.awaiting = None;
                }
            }
            Incoming::Message(_) | Incoming::Other => {}
        }
        Ok(())
    }

    /// A new route replaces the plan; a stop being served that left it is abandoned.
    fn on_route(&mut self, stops: Vec<RouteStop>) {
        self.stats.routes.fetch_add(1, Ordering::Relaxed);
        self.tracker.saw_route(&stops);
        self.route = stops
            .into_iter()
            .filter(|s| !self.done.contains(&s.stop_id))
            .collect();
        if self.route.is_empty() && self.awaiting.is_none() {
            self.done.clear();
        }
        if let Some((s, _)) = &self.serving {
            if !self.route.iter().any(|x| x.stop_id == s.stop_id) {
                self.stats.abandoned.fetch_add(1, Ordering::Relaxed);
                self.serving = None;
            }
        }
    }
}
