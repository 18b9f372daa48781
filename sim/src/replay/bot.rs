//! One driver bot of the replay: a real driver WebSocket (bincode or JSON) that drives
//! its route in straight lines at the simulated speed on the wall clock of the scale
//! model, reports its position periodically and on arrival, waits for a stop's ready
//! time, dwells its service time, sends `stop_done` and follows every route change (a
//! changed first stop turns it around where it is). It keeps its own odometer in
//! instance units and a log of the stops it served.

use super::instance::{dist, Clock, Instance, World};
use crate::client::{self, DriverClient, Incoming};
use anyhow::{bail, Context};
use dispatch_protocol::{
    DriverMessage, DriverStatus, RouteStop, ServerMessage, StopKind, StopOutcome,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// What all bots of a run share.
pub struct Shared {
    pub inst: Arc<Instance>,
    pub world: World,
    /// Order id → request index.
    pub order_index: HashMap<String, usize>,
    /// Node → service time on the wall clock (whole seconds, as sent to the engine).
    pub service: Vec<Duration>,
    pub position_every: Duration,
    /// Per request: wall time since `base` + 1 ns when a route first held it (0: never).
    pub first_routed_ns: Vec<AtomicU64>,
    /// Per request: 1 once its delivery was acknowledged.
    pub delivered: Vec<AtomicU64>,
    pub delivered_count: AtomicU64,
    /// Bots with stops to serve.
    pub busy: AtomicU64,
    pub progress: Notify,
    pub errors: Mutex<BTreeMap<String, u64>>,
    pub base: std::time::Instant,
    /// When a bot sets out for its next stop (`--depart`), and how much earlier than
    /// the drive needs with `on-time` (wall clock).
    pub depart: super::Depart,
    pub depart_early: Duration,
}

impl Shared {
    pub fn new(
        inst: Arc<Instance>,
        world: World,
        order_ids: &[String],
        position_every: Duration,
    ) -> Self {
        let n_req = order_ids.len();
        Self {
            order_index: order_ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect(),
            service: inst
                .problem
                .nodes
                .iter()
                .map(|n| Duration::from_secs(u64::from(world.service_s(n.service))))
                .collect(),
            inst,
            world,
            position_every,
            first_routed_ns: (0..n_req).map(|_| AtomicU64::new(0)).collect(),
            delivered: (0..n_req).map(|_| AtomicU64::new(0)).collect(),
            delivered_count: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            progress: Notify::new(),
            errors: Mutex::new(BTreeMap::new()),
            base: std::time::Instant::now(),
            depart: super::Depart::Now,
            depart_early: Duration::ZERO,
        }
    }

    pub fn bump_error(&self, code: impl Into<String>) {
        *self
            .errors
            .lock()
            .expect("errors lock")
            .entry(code.into())
            .or_default() += 1;
    }

    fn saw_route(&self, stops: &[RouteStop]) {
        let mut now = 0;
        for s in stops {
            if let Some(&r) = self.order_index.get(&s.order_id) {
                if now == 0 {
                    now = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1;
                }
                let _ = self.first_routed_ns[r].compare_exchange(
                    0,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
    }
}

/// A stop the bot served.
#[derive(Debug, Clone)]
pub struct Served {
    pub kind: StopKind,
    /// Instance time of arrival and of the start of service.
    pub arrived: f64,
    pub started: f64,
    /// Start of service minus the node's due time (positive: late).
    pub lateness: f64,
}

#[derive(Debug, Clone, Default)]
pub struct BotResult {
    /// Instance units driven (straight legs, partial ones included).
    pub driven: f64,
    pub position: (f64, f64),
    pub served: Vec<Served>,
    pub positions_sent: u64,
    pub routes: u64,
    pub acks: u64,
    /// Stops left behind because a route change took them away or moved them back.
    pub turned_away: u64,
}

enum Activity {
    Idle,
    Driving {
        stop: RouteStop,
        from: (f64, f64),
        to: (f64, f64),
        depart: Instant,
        arrive: Instant,
    },
    /// At the stop: waiting for its ready time (`serve_from`) then serving until `until`.
    AtStop {
        stop: RouteStop,
        arrived: Instant,
        serve_from: Instant,
        until: Instant,
    },
}

impl Activity {
    fn stop_id(&self) -> Option<&str> {
        match self {
            Activity::Idle => None,
            Activity::Driving { stop, .. } | Activity::AtStop { stop, .. } => Some(&stop.stop_id),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            Activity::Idle => None,
            Activity::Driving { arrive, .. } => Some(*arrive),
            Activity::AtStop { until, .. } => Some(*until),
        }
    }
}

struct Bot<'a> {
    client: DriverClient,
    shared: &'a Shared,
    clock: Clock,
    pos: (f64, f64),
    route: Vec<RouteStop>,
    done: HashSet<String>,
    activity: Activity,
    seq: u64,
    /// `stop_done`s not yet answered (ack or error).
    unanswered: u64,
    /// Messages to send (client seq, message) once the current step is done.
    out: Vec<(Option<u64>, DriverMessage)>,
    result: BotResult,
}

impl Bot<'_> {
    fn report_position(&mut self, pos: (f64, f64)) {
        self.result.positions_sent += 1;
        self.out
            .push((None, client::position(self.clock.world.latlon(pos))));
    }

    /// Where the bot is at `now` (on its leg when driving).
    fn where_at(&self, now: Instant) -> (f64, f64) {
        match &self.activity {
            Activity::Driving {
                from,
                to,
                depart,
                arrive,
                ..
            } => {
                let total = arrive.saturating_duration_since(*depart).as_secs_f64();
                let f = if total <= 0.0 {
                    1.0
                } else {
                    (now.saturating_duration_since(*depart).as_secs_f64() / total).min(1.0)
                };
                (from.0 + (to.0 - from.0) * f, from.1 + (to.1 - from.1) * f)
            }
            _ => self.pos,
        }
    }

    /// The instance node of a route stop (its exact coordinates), or the stop's own
    /// position mapped back when the order is not one of ours.
    fn target(&self, stop: &RouteStop) -> ((f64, f64), Option<usize>) {
        match self.shared.order_index.get(&stop.order_id) {
            Some(&r) => {
                let req = self.shared.inst.requests[r];
                let node = match stop.kind {
                    StopKind::Pickup => req.pickup,
                    StopKind::Dropoff => req.delivery,
                };
                (self.shared.inst.xy[node], Some(node))
            }
            None => (self.clock.world.xy((stop.lat, stop.lon)), None),
        }
    }

    /// Makes the activity follow the first stop of the route.
    fn follow(&mut self, now: Instant) {
        let first = self.route.first().cloned();
        if first.as_ref().map(|s| s.stop_id.as_str()) == self.activity.stop_id() {
            // Still waiting to set out: the stop's ETA may have moved (a route pushed
            // once the previous stop was done has it fresh).
            if let (Some(stop), Activity::Driving { from, to, .. }) = (first, &self.activity) {
                if self.activity_waiting(now) {
                    let (from, to) = (*from, *to);
                    self.activity = self.drive(stop, from, to, now);
                }
            }
            return;
        }
        // Leave what we were doing where we are.
        let here = self.where_at(now);
        match &self.activity {
            Activity::Driving { from, .. } => {
                self.result.driven += dist(*from, here);
                self.result.turned_away += 1;
            }
            Activity::AtStop { .. } => self.result.turned_away += 1,
            Activity::Idle => {}
        }
        self.pos = here;
        self.activity = Activity::Idle;
        let Some(stop) = first else {
            self.report_position(here);
            return;
        };
        let (to, _) = self.target(&stop);
        let leg = dist(here, to);
        self.activity = self.drive(stop, here, to, now);
        if leg <= 0.0 {
            self.arrive(now);
        }
    }

    /// The leg from `from` to `stop` at `to`, setting out now or, with `--depart
    /// on-time`, when it arrives at the stop's ETA (waiting where it is until then).
    fn drive(&self, stop: RouteStop, from: (f64, f64), to: (f64, f64), now: Instant) -> Activity {
        // The shift starts at instance time 0: a route received before waits for it.
        let mut depart = now.max(self.clock.start);
        let drive = self.clock.world.wall(dist(from, to));
        if self.shared.depart == super::Depart::OnTime {
            let eta = self.clock.at_epoch_ms(stop.eta_ms);
            let lead = drive + self.shared.depart_early;
            depart = depart.max(eta.checked_sub(lead).unwrap_or(depart));
        }
        Activity::Driving {
            stop,
            from,
            to,
            depart,
            arrive: depart + drive,
        }
    }

    /// Whether the bot is on a leg it has not set out on yet.
    fn activity_waiting(&self, now: Instant) -> bool {
        matches!(&self.activity, Activity::Driving { depart, .. } if *depart > now)
    }

    fn arrive(&mut self, now: Instant) {
        let Activity::Driving { stop, from, to, .. } =
            std::mem::replace(&mut self.activity, Activity::Idle)
        else {
            return;
        };
        self.result.driven += dist(from, to);
        self.pos = to;
        self.report_position(to);
        let (_, node) = self.target(&stop);
        let ready = node.map_or(0.0, |n| self.shared.inst.problem.nodes[n].ready);
        let serve_from = now.max(self.clock.at(ready));
        let service = node.map_or(Duration::ZERO, |n| self.shared.service[n]);
        self.activity = Activity::AtStop {
            stop,
            arrived: now,
            serve_from,
            until: serve_from + service,
        };
    }

    fn finish_stop(&mut self, now: Instant) {
        let Activity::AtStop {
            stop,
            arrived,
            serve_from,
            ..
        } = std::mem::replace(&mut self.activity, Activity::Idle)
        else {
            return;
        };
        self.seq += 1;
        self.unanswered += 1;
        let outcome = match stop.kind {
            StopKind::Pickup => StopOutcome::PickedUp,
            StopKind::Dropoff => StopOutcome::Delivered,
        };
        self.out
            .push((Some(self.seq), client::stop_done(&stop.stop_id, outcome)));
        if let (_, Some(node)) = self.target(&stop) {
            let started = self.clock.units_at(serve_from);
            self.result.served.push(Served {
                kind: stop.kind,
                arrived: self.clock.units_at(arrived),
                started,
                lateness: started - self.shared.inst.problem.nodes[node].due,
            });
        }
        self.route.retain(|s| s.stop_id != stop.stop_id);
        self.done.insert(stop.stop_id);
        self.follow(now);
    }

    fn on_route(&mut self, stops: Vec<RouteStop>, now: Instant) {
        self.result.routes += 1;
        self.shared.saw_route(&stops);
        self.route = stops
            .into_iter()
            .filter(|s| !self.done.contains(&s.stop_id))
            .collect();
        self.follow(now);
    }
    fn on_incoming(&mut self, msg: Incoming) -> anyhow::Result<()> {
        match msg {
            Incoming::Closed { why, .. } => bail!(why),
            Incoming::Message(ServerMessage::Route { route }) => {
                self.on_route(route.stops, Instant::now());
            }
            Incoming::Message(ServerMessage::Ack { stop_id, reference }) => {
                self.result.acks += 1;
                if reference.is_some() {
                    self.unanswered = self.unanswered.saturating_sub(1);
                }
                let shared = self.shared;
                if let Some(r) = stop_id
                    .as_deref()
                    .and_then(|s| s.strip_prefix("d:"))
                    .and_then(|o| shared.order_index.get(o))
                {
                    if shared.delivered[*r].swap(1, Ordering::Relaxed) == 0 {
                        shared.delivered_count.fetch_add(1, Ordering::Relaxed);
                        shared.progress.notify_one();
                    }
                }
            }
            Incoming::Message(ServerMessage::Error {
                code, reference, ..
            }) => {
                self.shared.bump_error(code.as_str());
                if reference.is_some() {
                    self.unanswered = self.unanswered.saturating_sub(1);
                }
            }
            Incoming::Message(_) | Incoming::Other => {}
        }
        Ok(())
    }

    /// Counts this bot in `busy` while it has stops to serve or answers to wait for;
    /// idle again, it tells the replay there may be nothing left to do.
    fn track_busy(&self, busy: &mut bool) {
        let now_busy = !matches!(self.activity, Activity::Idle)
            || !self.route.is_empty()
            || self.unanswered > 0;
        if now_busy != *busy {
            *busy = now_busy;
            if now_busy {
                self.shared.busy.fetch_add(1, Ordering::Relaxed);
            } else {
                self.shared.busy.fetch_sub(1, Ordering::Relaxed);
                self.shared.progress.notify_one();
            }
        }
    }

    async fn send_out(&mut self) -> anyhow::Result<()> {
        for (seq, m) in std::mem::take(&mut self.out) {
            self.client.send(seq, m).await?;
        }
        Ok(())
    }

    /// The result, with the part of a leg driven so far counted.
    fn finish(mut self) -> (DriverClient, BotResult) {
        let here = self.where_at(Instant::now());
        if let Activity::Driving { from, .. } = self.activity {
            self.result.driven += dist(from, here);
        }
        self.result.position = here;
        (self.client, self.result)
    }
}

/// Connects, says hello, goes available at `start` and reports `ready`; waits for the
/// clock (`go`); then drives until `stop` turns true.
pub async fn run(
    mut client: DriverClient,
    start: (f64, f64),
    (shared, phase): (Arc<Shared>, f64),
    ready: tokio::sync::mpsc::Sender<()>,
    mut go: watch::Receiver<Option<Clock>>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<BotResult> {
    let initial = client.connect(false).await?.stops;
    client.send_status(DriverStatus::Available).await?;
    client.send_position(shared.world.latlon(start)).await?;
    let _ = ready.send(()).await;
    drop(ready);
    let clock = go
        .wait_for(Option::is_some)
        .await
        .context("the run ended before it started")?
        .expect("checked");
    let mut bot = Bot {
        client,
        shared: &shared,
        clock,
        pos: start,
        route: Vec::new(),
        done: HashSet::new(),
        activity: Activity::Idle,
        seq: 0,
        unanswered: 0,
        out: Vec::new(),
        result: BotResult {
            positions_sent: 1,
            ..BotResult::default()
        },
    };
    let now = Instant::now();
    bot.on_route(initial, now);
    let first = now + shared.position_every.mul_f64(phase.clamp(0.0, 1.0));
    let mut tick = tokio::time::interval_at(first, shared.position_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut busy = false;
    loop {
        bot.track_busy(&mut busy);
        bot.send_out().await?;
        let deadline = bot.activity.deadline();
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            _ = tick.tick() => {
                let here = bot.where_at(Instant::now());
                bot.report_position(here);
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                let now = Instant::now();
                match bot.activity {
                    Activity::Driving { .. } => bot.arrive(now),
                    Activity::AtStop { .. } => bot.finish_stop(now),
                    Activity::Idle => {}
                }
            }
            msg = bot.client.recv() => bot.on_incoming(msg)?,
        }
    }
    if busy {
        shared.busy.fetch_sub(1, Ordering::Relaxed);
    }
    let (mut client, result) = bot.finish();
    client.close().await;
    Ok(result)
}
