//! Driver bots: one real WebSocket client per driver (bincode, or JSON for a share of
//! the fleet) with its driver token. A bot comes online at its shift start (status
//! `available`, a position every interval of simulated time), drives in straight lines
//! (or along the road path the engine sent with the stop, when it plans on roads)
//! towards the next stop of the route it was given at the scenario's speed, dwells for
//! the service time, reports `stop_done` and goes on; every `route` message replaces the
//! plan at once (a cancelled order's stops simply vanish). It goes offline at its shift
//! end (after delivering what it carries), drops its socket in a disconnect storm and
//! comes back with `hello` + `resume_seq` (the `welcome`'s route becomes the plan).
//!
//! Movement is a function of simulated time only (departure and arrival times follow
//! from the route, the speed and the service time, not from when a timer fired), so the
//! same seed gives the same driving; only the engine's answers can differ.

mod leg;
mod world;

use super::clock::Clock;
use super::demand::{Injected, PlannedDriver, PlannedOrder};
use super::metrics::{Stats, CANCELLED, DELIVERED, FAILED, PICKED_UP};
use crate::client::{self, DriverClient, Incoming};
use crate::scenario::{Idle, Scenario};
use dispatch_protocol::{
    DriverMessage, DriverStatus, Encoding, ErrorCode, Route, RouteStop, ServerMessage, StopOutcome,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// What every bot shares.
pub struct Fleet {
    pub ws_base: String,
    pub stats: Arc<Stats>,
    pub planned: Arc<Vec<PlannedOrder>>,
    /// Metres driven (along a road path, or the great circle × `detour`) per simulated
    /// second.
    pub speed_mps: f64,
    pub detour: f64,
    pub service_s: f64,
    pub interval_s: f64,
    /// Idle drivers drive back to the nearest of these (empty: they stay).
    pub homes: Vec<(f64, f64)>,
    /// Shifts ending at or after this keep going until the run stops (drain).
    pub end_s: f64,
    /// Bounds concurrent connection attempts.
    pub connects: Semaphore,
}

impl Fleet {
    /// The fleet of scenario `s`: its driving, its homes, 128 connects at once.
    pub fn new(
        s: &Scenario,
        ws_base: String,
        stats: Arc<Stats>,
        planned: Arc<Vec<PlannedOrder>>,
    ) -> Self {
        let homes = if s.fleet.idle == Idle::ReturnToHotspot {
            s.hotspots.iter().map(|h| (h.lat, h.lon)).collect()
        } else {
            Vec::new()
        };
        Self {
            ws_base,
            stats,
            planned,
            speed_mps: s.fleet.speed_kmh / 3.6,
            detour: s.fleet.detour_factor,
            service_s: s.fleet.service_s,
            interval_s: s.fleet.position_interval_s,
            homes,
            end_s: s.duration_s(),
            connects: Semaphore::new(128),
        }
    }
}

#[derive(Debug, Clone)]
enum Phase {
    Idle,
    Driving {
        leg: Arc<leg::Leg>,
        stop: Option<RouteStop>,
        depart_s: f64,
        arrive_s: f64,
    },
    Dwelling {
        stop: RouteStop,
        until_s: f64,
    },
    /// Served, but the socket is down: `stop_done` waits for the reconnection.
    Holding {
        stop: RouteStop,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    ShiftEnd,
    Disconnect { dur_s: f64 },
    Reconnect,
    Offline { back_s: Option<f64> },
    Back,
}

pub struct Bot {
    fleet: Arc<Fleet>,
    client: DriverClient,
    shift_start_s: f64,
    pos: (f64, f64),
    /// Client seq of the last message that asked for an answer.
    seq: u64,
    version: u64,
    plan: Vec<RouteStop>,
    /// Stops reported done whose disappearance from the route has not been seen yet.
    done: HashSet<String>,
    /// `stop_done` sent, waiting for the ack: client seq → (stop, outcome).
    awaiting: BTreeMap<u64, (RouteStop, StopOutcome)>,
    phase: Phase,
    events: Vec<(f64, Event)>,
    /// Set offline by an injection (until `Back`).
    offline: bool,
    /// Shift over: offline, finishing what it carries.
    ending: bool,
    finished: bool,
    metres: f64,
    /// Metres of the current leg already counted in `metres`.
    leg_m: f64,
    /// Fraction of the position interval by which this bot's positions are offset.
    tick_phase: f64,
    /// Known once the run starts.
    clock: Option<Clock>,
}

impl Bot {
    pub fn new(fleet: Arc<Fleet>, token: &str, plan: &PlannedDriver) -> Self {
        let mut events: Vec<(f64, Event)> = plan
            .injected
            .iter()
            .map(|i| match *i {
                Injected::Disconnect { at_s, dur_s } => (at_s, Event::Disconnect { dur_s }),
                Injected::Offline { at_s, back_s } => (at_s, Event::Offline { back_s }),
            })
            .collect();
        if plan.shift_end_s < fleet.end_s {
            events.push((plan.shift_end_s, Event::ShiftEnd));
        }
        let enc = if plan.json {
            Encoding::Json
        } else {
            Encoding::Bincode
        };
        let mut bot = Self {
            client: DriverClient::new(&fleet.ws_base, token, enc),
            fleet,
            shift_start_s: plan.shift_start_s,
            pos: plan.start_pos,
            seq: 0,
            version: 0,
            plan: Vec::new(),
            done: HashSet::new(),
            awaiting: BTreeMap::new(),
            phase: Phase::Idle,
            events: Vec::new(),
            offline: false,
            ending: false,
            finished: false,
            metres: 0.0,
            leg_m: 0.0,
            tick_phase: plan.tick_phase,
            clock: None,
        };
        for (t, e) in events {
            bot.schedule(t, e);
        }
        bot
    }

    fn schedule(&mut self, t: f64, e: Event) {
        let at = self.events.partition_point(|(x, _)| *x <= t);
        self.events.insert(at, (t, e));
    }

    pub fn on_shift_at_start(&self) -> bool {
        self.shift_start_s <= 0.0
    }

    /// Opens the socket (at most `fleet.connects` at once) and says `hello`; answers
    /// the `welcome`'s route.
    async fn connect(&mut self, resume: bool) -> anyhow::Result<Route> {
        let _permit = self.fleet.connects.acquire().await?;
        self.client.connect(resume).await
    }

    async fn send(&mut self, seq: Option<u64>, msg: DriverMessage) {
        if self.client.send(seq, msg).await.is_err() {
            self.lost_socket(None);
        }
    }

    async fn set_status(&mut self, status: DriverStatus) {
        self.send(None, DriverMessage::Status { status }).await;
    }

    async fn send_position(&mut self) {
        self.send(None, client::position(self.pos)).await;
    }

    /// The socket broke without an injection (`code` of a close frame): count it and
    /// come back shortly.
    fn lost_socket(&mut self, code: Option<u16>) {
        if self.finished {
            return;
        }
        let code = match code {
            Some(1013) => "socket_closed_1013",
            Some(1001) => "socket_closed_1001",
            _ => "socket_lost",
        };
        if let Some(clock) = self.clock {
            self.fleet.stats.error(code, &clock);
            let t = clock.now_s();
            self.schedule(t + clock.speedup * 0.2, Event::Reconnect);
        }
    }

    fn apply_route(&mut self, route: Route, welcome: bool) {
        let stats = &self.fleet.stats;
        for s in &route.stops {
            if let Some(n) = stats.index(&s.order_id) {
                stats.saw_route(n);
            }
        }
        if welcome {
            // A new connection: acks still awaited died with the old one. A reported
            // stop missing from the route was applied; one still on it is served again.
            let pending = std::mem::take(&mut self.awaiting);
            for (_, (stop, outcome)) in pending {
                if !route.stops.iter().any(|s| s.stop_id == stop.stop_id) {
                    self.acked(&stop, outcome);
                }
            }
            self.done.clear();
        } else if route.version < self.version {
            return;
        }
        self.version = route.version;
        self.done
            .retain(|id| route.stops.iter().any(|s| &s.stop_id == id));
        self.plan = route
            .stops
            .into_iter()
            .filter(|s| !self.done.contains(&s.stop_id))
            .collect();
    }

    fn acked(&self, stop: &RouteStop, outcome: StopOutcome) {
        let Some(n) = self.order_of(stop) else { return };
        let stats = &self.fleet.stats;
        let now = self.clock.map_or(0.0, |c| c.now_s());
        let track = &stats.orders[n];
        match outcome {
            StopOutcome::PickedUp => {
                track.set(PICKED_UP);
            }
            StopOutcome::Delivered => {
                if track.set(DELIVERED) {
                    stats.minute(now).delivered.fetch_add(1, Relaxed);
                }
            }
            StopOutcome::Failed => {
                if track.set(FAILED) {
                    stats.minute(now).failed.fetch_add(1, Relaxed);
                }
            }
        }
    }

    async fn on_message(&mut self, msg: ServerMessage, clock: &Clock) {
        let now = clock.now_s();
        match msg {
            ServerMessage::Route { route } => {
                self.apply_route(route, false);
                self.replan(now).await;
            }
            ServerMessage::Ack { reference, .. } => {
                if let Some((stop, outcome)) = reference.and_then(|r| self.awaiting.remove(&r)) {
                    self.acked(&stop, outcome);
                }
            }
            ServerMessage::Error {
                code, reference, ..
            } => {
                let stats = &self.fleet.stats;
                match reference.and_then(|r| self.awaiting.remove(&r)) {
                    // The order system cancelled the order while the driver was at the
                    // stop: the driver app sees this race too; not an engine error.
                    Some((stop, _))
                        if code == ErrorCode::NotFound
                            && self
                                .order_of(&stop)
                                .is_some_and(|n| stats.orders[n].has(CANCELLED)) =>
                    {
                        stats.stop_races.fetch_add(1, Relaxed);
                    }
                    Some(_) => stats.error(format!("stop_done:{}", code.as_str()), clock),
                    None => stats.error(format!("driver:{}", code.as_str()), clock),
                }
            }
            _ => {}
        }
    }

    fn next_wake(&self) -> f64 {
        let phase = match &self.phase {
            Phase::Driving { arrive_s, .. } => *arrive_s,
            Phase::Dwelling { until_s, .. } => *until_s,
            _ => f64::INFINITY,
        };
        let event = self.events.first().map_or(f64::INFINITY, |e| e.0);
        phase.min(event)
    }

    async fn on_event(&mut self, e: Event, t: f64, clock: &Clock) {
        let stats = self.fleet.stats.clone();
        match e {
            Event::ShiftEnd => {
                self.ending = true;
                self.set_status(DriverStatus::Offline).await;
                if matches!(self.phase, Phase::Driving { stop: None, .. }) {
                    self.phase = Phase::Idle;
                }
            }
            Event::Disconnect { dur_s } => {
                if self.client.is_connected() && !self.ending {
                    self.client.drop_socket();
                    stats.disconnects.fetch_add(1, Relaxed);
                    self.schedule(t + dur_s, Event::Reconnect);
                }
            }
            Event::Reconnect => {
                if self.client.is_connected() {
                    return;
                }
                match self.connect(true).await {
                    Ok(route) => {
                        stats.reconnects.fetch_add(1, Relaxed);
                        self.apply_route(route, true);
                        let status = if self.offline || self.ending {
                            DriverStatus::Offline
                        } else {
                            DriverStatus::Available
                        };
                        self.set_status(status).await;
                        let now = clock.now_s();
                        self.advance(now).await;
                        self.send_position().await;
                        self.replan(now).await;
                    }
                    Err(e) => {
                        stats.error("reconnect_failed", clock);
                        tracing::debug!(error = %e, "reconnect failed");
                        let now = clock.now_s();
                        self.schedule(now + clock.speedup, Event::Reconnect);
                    }
                }
            }
            Event::Offline { back_s } => {
                if !self.ending {
                    self.offline = true;
                    self.set_status(DriverStatus::Offline).await;
                    if let Some(b) = back_s {
                        self.schedule(b, Event::Back);
                    }
                }
            }
            Event::Back => {
                if self.offline && !self.ending {
                    self.offline = false;
                    self.set_status(DriverStatus::Available).await;
                }
            }
        }
    }

    fn idle_done(&self) -> bool {
        self.ending
            && self.plan.is_empty()
            && self.awaiting.is_empty()
            && matches!(self.phase, Phase::Idle)
    }

    /// Runs the bot until `stop` or the end of its shift. The first connection of a bot
    /// on shift at the start is made before the clock starts (`ready` is signalled).
    pub async fn run(
        mut self,
        clock_rx: watch::Receiver<Option<Clock>>,
        ready: tokio::sync::mpsc::Sender<bool>,
        mut stop: watch::Receiver<bool>,
    ) {
        let Some(clock) = self.come_online(clock_rx, ready, &mut stop).await else {
            return;
        };
        let stats = self.fleet.stats.clone();
        stats.drivers_online.fetch_add(1, Relaxed);
        let every = clock.real(self.fleet.interval_s);
        // Spread the fleet's positions over the interval.
        let phase = every.mul_f64(self.tick_phase);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + phase, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        while !self.finished {
            let wake = self.next_wake();
            let wake_at = if wake.is_finite() {
                clock.instant_at(wake)
            } else {
                tokio::time::Instant::now() + Duration::from_secs(3600)
            };
            let connected = self.client.is_connected();
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                msg = self.client.recv() => match msg {
                    Incoming::Message(m) => self.on_message(m, &clock).await,
                    Incoming::Other => {}
                    Incoming::Closed { code, .. } => self.lost_socket(code),
                },
                _ = tokio::time::sleep_until(wake_at) => self.on_wake(&clock).await,
                _ = tick.tick(), if connected => self.on_tick(&clock).await,
            }
            if self.idle_done() {
                self.finished = true;
            }
        }
        stats.metres.fetch_add(self.metres.round() as u64, Relaxed);
        stats.drivers_online.fetch_sub(1, Relaxed);
        self.client.close().await;
    }

    /// Connects at the shift start (before the clock for a bot on shift at the start)
    /// and takes up the welcome's route, or schedules a retry; `None` if the run
    /// stopped first.
    async fn come_online(
        &mut self,
        mut clock_rx: watch::Receiver<Option<Clock>>,
        ready: tokio::sync::mpsc::Sender<bool>,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Clock> {
        let stats = self.fleet.stats.clone();
        let early = self.on_shift_at_start();
        let mut first_route = None;
        if early {
            match self.connect(false).await {
                Ok(r) => first_route = Some(r),
                Err(e) => tracing::debug!(error = %e, "first connect failed"),
            }
            let _ = ready.send(first_route.is_some()).await;
        }
        drop(ready);
        let clock = loop {
            if let Some(c) = *clock_rx.borrow_and_update() {
                break c;
            }
            tokio::select! {
                r = clock_rx.changed() => if r.is_err() { return None },
                _ = stop.changed() => return None,
            }
        };
        if !early {
            tokio::select! {
                _ = tokio::time::sleep_until(clock.instant_at(self.shift_start_s)) => {}
                _ = stop.changed() => return None,
            }
            match self.connect(false).await {
                Ok(r) => first_route = Some(r),
                Err(e) => {
                    stats.error("connect_failed", &clock);
                    tracing::debug!(error = %e, "connect failed");
                }
            }
        } else if first_route.is_none() {
            stats.error("connect_failed", &clock);
        }
        self.clock = Some(clock);
        let start = clock.now_s().max(self.shift_start_s);
        match first_route {
            Some(route) => {
                self.apply_route(route, true);
                self.set_status(DriverStatus::Available).await;
                self.send_position().await;
                self.replan(start).await;
            }
            None => self.schedule(start + clock.speedup, Event::Reconnect),
        }
        Some(clock)
    }

    /// Plays the events due by now, each at its time, then the world up to now.
    async fn on_wake(&mut self, clock: &Clock) {
        let now = clock.now_s();
        while self.events.first().is_some_and(|e| e.0 <= now) {
            let (t, e) = self.events.remove(0);
            self.advance(t.min(now)).await;
            self.on_event(e, t, clock).await;
        }
        self.advance(now).await;
    }

    /// The periodic position, and the minute's online and busy time.
    async fn on_tick(&mut self, clock: &Clock) {
        let stats = self.fleet.stats.clone();
        let now = clock.now_s();
        self.advance(now).await;
        self.send_position().await;
        stats.positions.fetch_add(1, Relaxed);
        let m = stats.minute(now);
        m.positions.fetch_add(1, Relaxed);
        if !self.offline && !self.ending {
            let interval_ms = (self.fleet.interval_s * 1000.0) as u64;
            m.online_ms.fetch_add(interval_ms, Relaxed);
            let busy = !self.plan.is_empty()
                || !matches!(self.phase, Phase::Idle | Phase::Driving { stop: None, .. });
            if busy {
                m.busy_ms.fetch_add(interval_ms, Relaxed);
            }
        }
    }
}
