//! [`DriverInit`]: where a driver actor starts, new (registered now) or recovered
//! (its stored state and route); [`DriverActor::spawn`] starts it and hands back the
//! handle that shares its published cells.

use super::{outbox, DriverActor, DriverHandle, PositionReport, RouteSnapshot};
use crate::actors::inbox::LatestInbox;
use crate::actors::mailbox::{Depth, Mailbox};
use crate::core::route::RoutePlan;
use crate::persist::PositionWriter;
use crate::planning::LiveStop;
use crate::router::Regions;
use crate::shared::Shared;
use crate::time::now_ms;
use actix::prelude::*;
use dispatch_protocol::{DriverStatus, Millis, Order, Route};
use dispatch_storage::DriverRecord;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicUsize};
use std::sync::{Arc, RwLock};

/// Where a recovered or new driver starts.
#[derive(Debug, Clone)]
pub struct DriverInit {
    pub record: DriverRecord,
    pub status: DriverStatus,
    pub position: Option<PositionReport>,
    pub updated_ms: Millis,
    /// Stored route version and stops (recovery).
    pub route_version: u64,
    pub stops: Vec<LiveStop>,
    /// The orders on those stops.
    pub orders: Vec<Order>,
    /// Recovery: gets one permit once the actor exists and has offered its position to
    /// its region (so recovery knows when every driver is back).
    pub started: Option<Arc<tokio::sync::Semaphore>>,
}

impl DriverInit {
    pub fn new(record: DriverRecord, status: DriverStatus, updated_ms: Millis) -> Self {
        Self {
            record,
            status,
            position: None,
            updated_ms,
            route_version: 0,
            stops: Vec::new(),
            orders: Vec::new(),
            started: None,
        }
    }
}

/// What a driver actor publishes and its handle reads (each written by the actor only).
#[derive(Clone)]
struct Cells {
    id: Arc<str>,
    slot: Arc<LatestInbox<(), PositionReport>>,
    published: Arc<RwLock<RouteSnapshot>>,
    status: Arc<AtomicU8>,
    sockets: Arc<AtomicUsize>,
    depth: Depth,
}

impl Cells {
    fn new(init: &DriverInit) -> Self {
        Self {
            id: Arc::from(init.record.id.as_str()),
            slot: Arc::default(),
            published: Arc::new(RwLock::new(RouteSnapshot {
                version: init.route_version,
                capacity: init.record.capacity,
                stops: init.stops.clone().into(),
                position: init.position.map(|p| (p.lat, p.lon)),
                arrived_ms: None,
            })),
            status: Arc::new(AtomicU8::new(init.status as u8)),
            sockets: Arc::new(AtomicUsize::new(0)),
            depth: Depth::new("driver_mailbox"),
        }
    }
}

impl DriverActor {
    pub fn spawn(
        arbiter: &ArbiterHandle,
        init: DriverInit,
        regions: Arc<Regions>,
        writer: Arc<PositionWriter>,
        shared: Arc<Shared>,
        mailbox: usize,
    ) -> DriverHandle {
        let cells = Cells::new(&init);
        let theirs = cells.clone();
        let addr = DriverActor::start_in_arbiter(arbiter, move |ctx| {
            ctx.set_mailbox_capacity(mailbox);
            DriverActor::start_from(init, theirs, regions, writer, shared)
        });
        DriverHandle {
            id: cells.id,
            addr: Mailbox::new(addr, cells.depth),
            slot: cells.slot,
            route: cells.published,
            status: cells.status,
            sockets: cells.sockets,
        }
    }

    /// The actor itself, on its arbiter: its ETAs computed, back in its region's index.
    fn start_from(
        init: DriverInit,
        cells: Cells,
        regions: Arc<Regions>,
        writer: Arc<PositionWriter>,
        shared: Arc<Shared>,
    ) -> DriverActor {
        let now = now_ms();
        let orders = init
            .orders
            .into_iter()
            .map(|o| (Arc::from(o.id.as_str()), o))
            .collect();
        let mut actor = DriverActor {
            record: init.record,
            key: cells.id,
            trail_last: None,
            status: init.status,
            position: init.position,
            updated_ms: init.updated_ms,
            last_seen_ms: now,
            region: None,
            sessions: HashMap::new(),
            attach_epoch: 0,
            slot: cells.slot,
            plan: RoutePlan {
                version: init.route_version,
                stops: init.stops,
                orders,
            },
            etas: Vec::new(),
            outbox: outbox::Outbox::default(),
            delivered: Route::default(),
            arrived: None,
            published: cells.published,
            status_cell: cells.status,
            sockets_cell: cells.sockets,
            regions,
            writer,
            shared,
            depth: cells.depth,
        };
        actor.etas = actor.compute_etas(&actor.plan.stops, now);
        actor.delivered = actor.wire_route();
        // A recovered driver goes straight back into its region's index.
        actor.publish_to_region();
        if let Some(started) = init.started {
            started.add_permits(1);
        }
        actor
    }
}
