//! The engine's shared state: configuration, auth, storage, the actor system and the
//! routers. One `Arc<App>` is given to every HTTP handler and socket session.

use crate::actors::driver::{DriverInit, PositionReport};
use crate::actors::{ActorSystem, DriverActor, DriverHandle};
use crate::auth::Signer;
use crate::config::Config;
use crate::core::grid::Grid;
use crate::persist::{status_from_record, PositionWriter};
use crate::router::{Drivers, Regions};
use dispatch_protocol::DriverStatus;
use dispatch_storage::{DriverSnapshot, GroupCommit, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub struct App {
    pub config: Config,
    pub signer: Signer,
    pub store: Arc<dyn Store>,
    pub commit: GroupCommit,
    pub system: Arc<ActorSystem>,
    pub regions: Arc<Regions>,
    pub drivers: Drivers,
    pub writer: Arc<PositionWriter>,
    /// Serialises driver registrations so two racing POSTs agree on one outcome.
    pub register_lock: tokio::sync::Mutex<()>,
    /// Cancelled when shutdown begins; every socket session watches it.
    pub shutdown: CancellationToken,
    /// Every socket session, so shutdown can wait for their close frames.
    pub sessions: TaskTracker,
    next_session: AtomicU64,
}

impl App {
    pub fn new(
        config: Config,
        signer: Signer,
        store: Arc<dyn Store>,
        commit: GroupCommit,
    ) -> Arc<Self> {
        let system = Arc::new(ActorSystem::start(config.arbiters));
        let (feed, _) = tokio::sync::broadcast::channel(config.console.feed_capacity);
        let regions = Arc::new(Regions::new(
            Grid::new(config.regions.cell_deg),
            system.clone(),
            feed,
            Duration::from_millis(config.regions.publish_ms),
            config.regions.mailbox,
        ));
        let writer = PositionWriter::start(
            store.clone(),
            commit.clone(),
            Duration::from_millis(config.storage.position_flush_ms),
        );
        Arc::new(Self {
            config,
            signer,
            store,
            commit,
            system,
            regions,
            drivers: Drivers::default(),
            writer,
            register_lock: tokio::sync::Mutex::new(()),
            shutdown: CancellationToken::new(),
            sessions: TaskTracker::new(),
            next_session: AtomicU64::new(1),
        })
    }

    pub fn next_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    /// Starts the actor of a driver (new or recovered) and makes it addressable.
    pub fn spawn_driver(&self, init: DriverInit) -> DriverHandle {
        let handle = DriverActor::spawn(
            self.system.arbiter(),
            init,
            self.regions.clone(),
            self.writer.clone(),
            self.config.drivers.mailbox,
        );
        self.drivers.insert(handle.clone());
        handle
    }

    /// Recovery: every stored driver gets its actor back with its last persisted
    /// position and status, and re-enters its region's index.
    pub fn recover(&self) -> Result<usize, dispatch_storage::StoreError> {
        let snapshots = self.store.load_drivers()?;
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
            self.spawn_driver(DriverInit {
                record: driver,
                status,
                position,
                updated_ms,
            });
        }
        Ok(n)
    }
}
