//! `DriverActor`: one per registered driver. Owns the driver's sessions (fan-out of
//! server messages), status, last position and route. Positions arrive through a
//! one-slot coalescing inbox; every other message is lossless and awaited.

use super::inbox::LatestInbox;
use super::region::{RegionHandle, RegionOp};
use crate::core::region_index::DriverPoint;
use crate::persist::PositionWriter;
use crate::router::Regions;
use crate::telemetry;
use crate::time::now_ms;
use actix::prelude::*;
use dispatch_protocol::{DriverStatus, Millis, Route, ServerMessage};
use dispatch_storage::{DriverRecord, DriverStateRecord, EventKind, EventRecord};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A position as a driver reported it (validated by the session).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionReport {
    pub lat: f64,
    pub lon: f64,
    pub ts_ms: Millis,
}

/// What sessions and HTTP handlers hold to reach a driver.
#[derive(Clone)]
pub struct DriverHandle {
    pub id: Arc<str>,
    pub addr: Addr<DriverActor>,
    slot: Arc<LatestInbox<(), PositionReport>>,
}

impl DriverHandle {
    /// Lossy-latest: replaces a position not yet applied and wakes the actor if needed.
    pub fn offer_position(&self, p: PositionReport) {
        let offered = self.slot.offer((), p);
        if offered.coalesced {
            metrics::counter!(telemetry::POSITIONS_DROPPED, "reason" => "coalesced").increment(1);
        }
        if offered.wake && self.addr.try_send(PositionWake).is_err() {
            self.slot.wake_failed();
            metrics::counter!(telemetry::MAILBOX_FULL, "actor" => "driver").increment(1);
            metrics::counter!(telemetry::POSITIONS_DROPPED, "reason" => "mailbox_full")
                .increment(1);
        }
    }
}

/// Where a recovered or new driver starts.
#[derive(Debug, Clone)]
pub struct DriverInit {
    pub record: DriverRecord,
    pub status: DriverStatus,
    pub position: Option<PositionReport>,
    pub updated_ms: Millis,
}

pub struct DriverActor {
    record: DriverRecord,
    status: DriverStatus,
    position: Option<PositionReport>,
    /// When the engine last changed this driver's state (position or status).
    updated_ms: Millis,
    /// The region whose index holds this driver, once it has a position (kept so the
    /// position path needs no registry lookup while the driver stays in its cell).
    region: Option<RegionHandle>,
    /// Open sockets of this driver, by session id; a full outbox drops the session.
    sessions: HashMap<u64, mpsc::Sender<ServerMessage>>,
    slot: Arc<LatestInbox<(), PositionReport>>,
    route: Route,
    regions: Arc<Regions>,
    writer: Arc<PositionWriter>,
}

impl DriverActor {
    pub fn spawn(
        arbiter: &ArbiterHandle,
        init: DriverInit,
        regions: Arc<Regions>,
        writer: Arc<PositionWriter>,
        mailbox: usize,
    ) -> DriverHandle {
        let slot: Arc<LatestInbox<(), PositionReport>> = Arc::default();
        let id: Arc<str> = Arc::from(init.record.id.as_str());
        let actor_slot = slot.clone();
        let addr = DriverActor::start_in_arbiter(arbiter, move |ctx| {
            ctx.set_mailbox_capacity(mailbox);
            let mut actor = DriverActor {
                record: init.record,
                status: init.status,
                position: init.position,
                updated_ms: init.updated_ms,
                region: None,
                sessions: HashMap::new(),
                slot: actor_slot,
                route: Route::default(),
                regions,
                writer,
            };
            // A recovered driver goes straight back into its region's index.
            actor.publish_to_region();
            actor
        });
        DriverHandle { id, addr, slot }
    }

    fn id(&self) -> &str {
        &self.record.id
    }

    fn point(&self) -> Option<DriverPoint> {
        self.position.map(|p| DriverPoint {
            lat: p.lat,
            lon: p.lon,
            status: self.status,
            ts_ms: p.ts_ms,
        })
    }

    /// Puts the driver in the index of the region its position falls in, handing it off
    /// from the previous region when it crossed a border.
    fn publish_to_region(&mut self) {
        let Some(point) = self.point() else {
            return;
        };
        let key = self.regions.grid().key(point.lat, point.lon);
        let region = match self.region.take() {
            Some(current) if current.key == key => current,
            previous => {
                if let Some(old) = previous {
                    old.offer(self.id(), RegionOp::Remove);
                    metrics::counter!(telemetry::HANDOFFS).increment(1);
                }
                self.regions.get_or_create(key)
            }
        };
        region.offer(self.id(), RegionOp::Upsert(point));
        self.region = Some(region);
    }

    fn state_record(&self) -> DriverStateRecord {
        let p = self.position.unwrap_or(PositionReport {
            lat: 0.0,
            lon: 0.0,
            ts_ms: 0,
        });
        DriverStateRecord {
            lat: p.lat,
            lon: p.lon,
            ts_ms: p.ts_ms,
            status: crate::persist::status_to_record(self.status),
            updated_ms: self.updated_ms,
            has_position: self.position.is_some(),
        }
    }

    fn persist_state(&self) {
        self.writer.mark(self.id(), self.state_record());
    }

    /// Sends a message to every session; a session whose outbox is full is dropped
    /// (its socket closes with 1013) rather than waited on.
    fn fan_out(&mut self, msg: &ServerMessage) {
        self.sessions
            .retain(|_, tx| match tx.try_send(msg.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    metrics::counter!(telemetry::MAILBOX_FULL, "actor" => "session").increment(1);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
    }

    fn view(&self) -> DriverView {
        DriverView {
            id: self.record.id.clone(),
            name: self.record.name.clone(),
            capacity: self.record.capacity,
            load: 0,
            status: self.status,
            lat: self.position.map(|p| p.lat),
            lon: self.position.map(|p| p.lon),
            ts_ms: self.position.map(|p| p.ts_ms),
            updated_ms: self.updated_ms,
            connected: self.sessions.len(),
            route: self.route.clone(),
        }
    }
}

impl Actor for DriverActor {
    type Context = Context<Self>;
}

/// Wake: apply the latest position from the slot.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PositionWake;

impl Handler<PositionWake> for DriverActor {
    type Result = ();
    fn handle(&mut self, _: PositionWake, _: &mut Self::Context) {
        let Some(p) = self.slot.drain().remove(&()) else {
            return;
        };
        self.position = Some(p);
        self.updated_ms = now_ms();
        self.publish_to_region();
        self.persist_state();
    }
}

/// The driver set its status.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStatus(pub DriverStatus);

impl Handler<SetStatus> for DriverActor {
    type Result = ();
    fn handle(&mut self, SetStatus(status): SetStatus, _: &mut Self::Context) {
        if status == self.status {
            return;
        }
        let old = self.status;
        self.status = status;
        self.updated_ms = now_ms();
        self.publish_to_region();
        self.persist_state();
        self.writer.event(EventRecord {
            at_ms: self.updated_ms,
            kind: EventKind::DriverStatusChanged {
                id: self.record.id.clone(),
                old: crate::persist::status_to_record(old),
                new: crate::persist::status_to_record(status),
            },
        });
    }
}

/// A socket said `hello`: it receives this driver's messages from now on. Answers the
/// current route for the `welcome`.
#[derive(Message)]
#[rtype(result = "Route")]
pub struct Attach {
    pub session_id: u64,
    pub outbox: mpsc::Sender<ServerMessage>,
}

impl Handler<Attach> for DriverActor {
    type Result = MessageResult<Attach>;
    fn handle(&mut self, a: Attach, _: &mut Self::Context) -> Self::Result {
        self.sessions.insert(a.session_id, a.outbox);
        MessageResult(self.route.clone())
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Detach {
    pub session_id: u64,
}

impl Handler<Detach> for DriverActor {
    type Result = ();
    fn handle(&mut self, d: Detach, _: &mut Self::Context) {
        self.sessions.remove(&d.session_id);
    }
}

/// A driver as HTTP and tests read it.
#[derive(Debug, Clone, Serialize)]
pub struct DriverView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub capacity: u32,
    pub load: u32,
    pub status: DriverStatus,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// The driver's own timestamp of its last position.
    pub ts_ms: Option<Millis>,
    pub updated_ms: Millis,
    /// Open sockets of this driver.
    pub connected: usize,
    pub route: Route,
}

#[derive(Message)]
#[rtype(result = "DriverView")]
pub struct Observe;

impl Handler<Observe> for DriverActor {
    type Result = MessageResult<Observe>;
    fn handle(&mut self, _: Observe, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.view())
    }
}

/// Pushes a message to every session of the driver (route changes, later issues).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Push(pub ServerMessage);

impl Handler<Push> for DriverActor {
    type Result = ();
    fn handle(&mut self, Push(msg): Push, _: &mut Self::Context) {
        self.fan_out(&msg);
    }
}
