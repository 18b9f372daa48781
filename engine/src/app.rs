//! The engine's shared state: configuration, auth, storage, the actor system and the
//! routers. One `Arc<App>` is given to every HTTP handler and socket session.

use crate::actors::driver::{stops_from_record, DriverInit, PositionReport};
use crate::actors::region::{Enqueue, RegionSetup};
use crate::actors::{ActorSystem, DriverActor, DriverHandle};
use crate::auth::Auth;
use crate::config::Config;
use crate::core::grid::{Grid, RegionKey};
use crate::core::region_index::in_bbox;
use crate::orders::book::Owner;
use crate::orders::model::{from_record, set_status};
use crate::persist::{status_from_record, PositionWriter};
use crate::router::{Drivers, Regions};
use crate::shared::Shared;
use crate::time::now_ms;
use dispatch_protocol::{DriverStatus, Order, OrderStatus};
use dispatch_storage::{DriverSnapshot, GroupCommit, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub struct App {
    pub config: Config,
    /// Token checks, revocations and the audit log.
    pub auth: Auth,
    pub store: Arc<dyn Store>,
    pub commit: GroupCommit,
    pub system: Arc<ActorSystem>,
    pub regions: Arc<Regions>,
    pub drivers: Arc<Drivers>,
    pub shared: Arc<Shared>,
    pub writer: Arc<PositionWriter>,
    /// Rate, connection and in-flight limits.
    pub guards: Arc<crate::net::limits::Guards>,
    /// Serialises driver registrations so two racing POSTs agree on one outcome.
    pub register_lock: tokio::sync::Mutex<()>,
    /// Serialises creations of the same order id (sharded by id) so a retry racing
    /// its original sees one outcome; different ids rarely share a shard.
    pub order_locks: Vec<tokio::sync::Mutex<()>>,
    /// Cancelled when shutdown begins; every socket session watches it.
    pub shutdown: CancellationToken,
    /// Every socket session, so shutdown can wait for their close frames.
    pub sessions: TaskTracker,
    next_session: AtomicU64,
}

/// Positions and orders beyond this latitude are refused: near a pole a cell of the
/// grid is metres wide, and the candidate search (at most `core::grid::MAX_RINGS` rings
/// of cells) would not reach drivers a few kilometres away.
pub const MAX_SERVED_LAT: f64 = 85.0;

/// Shards of [`App::order_locks`].
const ORDER_LOCK_SHARDS: usize = 1024;

impl App {
    pub fn new(
        config: Config,
        auth: Auth,
        store: Arc<dyn Store>,
        commit: GroupCommit,
    ) -> Arc<Self> {
        let system = Arc::new(ActorSystem::start(config.arbiters));
        let (feed, _) = tokio::sync::broadcast::channel(config.console.feed_capacity);
        let drivers = Arc::new(Drivers::default());
        let shared = Arc::new(Shared::new(&config, store.clone(), commit.clone()));
        let regions = Arc::new(Regions::new(
            Grid::new(config.regions.cell_deg),
            config.regions.max_regions,
            drivers.clone(),
            system.clone(),
            RegionSetup {
                feed,
                publish_every: Duration::from_millis(config.regions.publish_ms),
                mailbox: config.regions.mailbox,
                shared: shared.clone(),
            },
        ));
        let guards = crate::net::limits::Guards::new(&config.limits);
        let writer = PositionWriter::start(
            store.clone(),
            commit.clone(),
            Duration::from_millis(config.storage.position_flush_ms),
        );
        Arc::new(Self {
            config,
            auth,
            store,
            commit,
            system,
            regions,
            drivers,
            shared,
            guards,
            writer,
            register_lock: tokio::sync::Mutex::new(()),
            order_locks: (0..ORDER_LOCK_SHARDS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            shutdown: CancellationToken::new(),
            sessions: TaskTracker::new(),
            next_session: AtomicU64::new(1),
        })
    }

    pub fn next_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    pub fn order_lock(&self, id: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let h =
            BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(id);
        &self.order_locks[(h as usize) % self.order_locks.len()]
    }

    /// Starts the actor of a driver (new or recovered) and makes it addressable.
    pub fn spawn_driver(&self, init: DriverInit) -> DriverHandle {
        self.drivers.note_capacity(init.record.capacity);
        let handle = DriverActor::spawn(
            self.system.arbiter(),
            init,
            self.regions.clone(),
            self.writer.clone(),
            self.shared.clone(),
            self.config.drivers.mailbox,
        );
        self.drivers.insert(handle.clone());
        handle
    }

    /// Whether the engine serves a point: inside the service area (when one is set) and
    /// in a region that exists or fits under `regions.max_regions`. The error says why
    /// not, for an `out_of_service_area` answer.
    pub fn serves(&self, lat: f64, lon: f64) -> Result<(), String> {
        if lat.abs() > MAX_SERVED_LAT {
            return Err(format!(
                "beyond ±{MAX_SERVED_LAT}° latitude: the region grid does not serve the polar caps"
            ));
        }
        if let Some(area) = &self.config.regions.service_area {
            if !in_bbox(area, lat, lon) {
                return Err("outside the service area".into());
            }
        }
        if !self.regions.admits(self.regions.grid().key(lat, lon)) {
            crate::telemetry::limited("regions");
            return Err(format!(
                "in no served region: the engine serves at most {} region cells (regions.max_regions)",
                self.config.regions.max_regions
            ));
        }
        Ok(())
    }

    /// The region an order is queued in: its pickup's.
    pub fn region_of(&self, order: &Order) -> RegionKey {
        self.regions.grid().key(order.pickup.lat, order.pickup.lon)
    }

    /// Queues an open order (already committed and published through the ledger) in
    /// its region.
    pub fn queue(&self, region: RegionKey, order: Order) {
        self.regions
            .get_or_create(region)
            .addr
            .do_send(Enqueue(order));
    }

    /// Recovery: every stored driver gets its actor back with its last persisted
    /// position, status and route, and re-enters its region's index; open orders go
    /// back to the route that holds them, or to their pickup region's queue.
    pub async fn recover(&self) -> Result<usize, dispatch_storage::StoreError> {
        let snapshots = self.store.load_drivers()?;
        let mut routes: HashMap<String, _> = self.store.load_routes()?.into_iter().collect();
        let mut open: HashMap<String, Order> = self
            .store
            .load_open_orders()?
            .iter()
            .map(|r| (r.id.clone(), from_record(r)))
            .collect();
        let n = snapshots.len();
        for DriverSnapshot { driver, state } in snapshots {
            let (status, position, updated_ms) = match state {
                Some(s) => (
                    status_from_record(s.status),
                    s.has_position.then_some(PositionReport {
                        lat: s.lat,
                        lon: s.lon,
                        ts_ms: s.ts_ms,
                    }),
                    s.updated_ms,
                ),
                None => (DriverStatus::Offline, None, driver.created_ms),
            };
            let mut init = DriverInit::new(driver, status, updated_ms);
            init.position = position;
            if let Some(route) = routes.remove(&init.record.id) {
                let stops = stops_from_record(&route);
                // Keep only stops whose order is still open and held by this driver.
                let mine = |id: &str| {
                    open.get(id)
                        .is_some_and(|o| o.driver_id.as_deref() == Some(&init.record.id))
                };
                let stops: Vec<_> = stops.into_iter().filter(|s| mine(&s.order_id)).collect();
                let mut orders: Vec<Order> = Vec::new();
                for s in &stops {
                    if !orders.iter().any(|o| o.id == *s.order_id) {
                        if let Some(o) = open.remove(&*s.order_id) {
                            orders.push(o);
                        }
                    }
                }
                let me: Arc<str> = Arc::from(init.record.id.as_str());
                for o in &orders {
                    self.shared
                        .ledger
                        .restore(o.clone(), Owner::Driver(me.clone()));
                }
                init.route_version = route.version;
                init.stops = stops;
                init.orders = orders;
            }
            self.spawn_driver(init);
        }
        self.requeue_recovered(open.into_values().collect()).await?;
        Ok(n)
    }

    /// Orders recovered on no driver's route go to their regions' queues: pending and
    /// unassignable ones as they are, assigned ones (should a route have been lost)
    /// back to pending, written through the ledger first.
    async fn requeue_recovered(
        &self,
        mut rest: Vec<Order>,
    ) -> Result<(), dispatch_storage::StoreError> {
        let now = now_ms();
        rest.sort_by(|a, b| a.id.cmp(&b.id));
        let mut changed = Vec::new();
        for o in rest.iter_mut() {
            let region = Owner::Region(self.region_of(o));
            if matches!(o.status, OrderStatus::Assigned | OrderStatus::PickedUp) {
                tracing::warn!(order = %o.id, "open order on no stored route: re-queued");
                set_status(
                    o,
                    OrderStatus::Pending,
                    now,
                    Some("recovered without a route"),
                );
                o.driver_id = None;
                changed.push((o.clone(), Some(region)));
            } else {
                self.shared.ledger.restore(o.clone(), region);
            }
        }
        if !changed.is_empty() {
            let set = crate::orders::ledger::ChangeSet::orders(changed);
            self.shared.ledger.write(set)?.publish().await?;
        }
        for o in rest {
            self.queue(self.region_of(&o), o);
        }
        Ok(())
    }
}
