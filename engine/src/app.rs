//! The engine's shared state: configuration, auth, storage, the actor system and the
//! routers. One `Arc<App>` is given to every HTTP handler and socket session.

use crate::actors::driver::DriverInit;
use crate::actors::region::{Arrival, Expect, RegionSetup};
use crate::actors::{ActorSystem, DriverActor, DriverHandle};
use crate::auth::Auth;
use crate::config::Config;
use crate::core::grid::{Grid, RegionKey};
use crate::core::region_index::in_bbox;
use crate::persist::PositionWriter;
use crate::readiness::Readiness;
use crate::router::{Drivers, Regions};
use crate::shared::Shared;
use dispatch_protocol::Order;
use dispatch_storage::{GroupCommit, Store};
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
    /// Whether recovery has finished (`/readyz`; the API refuses until then).
    pub readiness: Arc<Readiness>,
    /// The road network of `[roads]`, loaded at start (`road_network::open`).
    pub roads: Option<Arc<dispatch_roads::RoadNetwork>>,
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
        readiness: Arc<Readiness>,
        roads: Option<Arc<dispatch_roads::RoadNetwork>>,
    ) -> Arc<Self> {
        let system = Arc::new(ActorSystem::start(config.arbiters));
        let (feed, _) = tokio::sync::broadcast::channel(config.console.feed_capacity);
        let drivers = Arc::new(Drivers::default());
        let shared = Arc::new(Shared::new(
            &config,
            store.clone(),
            commit.clone(),
            roads.clone(),
        ));
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
            readiness,
            roads,
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
        self.drivers.note_profile(dispatch_protocol::DriverProfile {
            id: init.record.id.clone(),
            name: init.record.name.clone(),
            capacity: init.record.capacity,
        });
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

    /// Tells an order's region it is written and on its way (`actors/region/
    /// arriving.rs`); settle the answer once the write's flush is awaited.
    pub fn expect(&self, region: RegionKey, order: Arc<Order>) -> Arrival {
        let addr = self.regions.get_or_create(region).addr;
        let id = order.id.clone();
        addr.do_send(Expect(order));
        Arrival { addr, id }
    }
}

#[cfg(test)]
impl App {
    /// An engine's state with the default configuration over a sled store in `dir`,
    /// for unit tests of the actors; shut the returned group commit down at the end.
    pub fn for_tests(dir: &std::path::Path) -> (Arc<Self>, GroupCommit) {
        let store: Arc<dyn Store> =
            Arc::new(dispatch_storage::SledStore::open(&dir.join("db")).expect("test store"));
        let commit = GroupCommit::start(store.clone());
        let (auth, _) = Auth::open(dir).expect("test auth");
        let app = Self::new(
            Config::default(),
            auth,
            store,
            commit.clone(),
            Default::default(),
            None,
        );
        (app, commit)
    }
}
