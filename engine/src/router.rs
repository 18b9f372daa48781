//! Addressing: which actor owns what. `Regions` maps grid cells to region actors
//! (created on demand) and fans nearest queries out over cells in order of distance;
//! `Drivers` maps ids to driver actors. Neither holds domain state itself, so a
//! region on another node could later be just another address.

use crate::actors::region::{Feed, RegionSetup, Within};
use crate::actors::{ActorSystem, DriverHandle, Fleet, RegionActor, RegionHandle};
use crate::core::grid::{Grid, RegionKey};
use crate::core::nearest::{Query, Search};
use crate::core::region_index::{Nearby, StatusFilter};
use crate::telemetry;
use dispatch_protocol::{DriverCounts, DriverProfile, DriverStatus, DriverUpdate};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

impl Fleet for Regions {
    fn grid(&self) -> &Grid {
        &self.grid
    }

    fn region(&self, key: RegionKey) -> Option<RegionHandle> {
        self.get(key)
    }

    fn driver(&self, id: &str) -> Option<DriverHandle> {
        self.drivers.get(id)
    }

    fn driver_holds(&self, id: &str, test: &dyn Fn(&DriverHandle) -> bool) -> bool {
        self.drivers.holds(id, test)
    }
}

pub struct Regions {
    grid: Grid,
    /// The drivers, for the regions' matchers (through [`Fleet`]).
    drivers: Arc<Drivers>,
    map: RwLock<HashMap<RegionKey, RegionHandle>>,
    /// `regions.max_regions`: a new cell beyond it is refused (see [`Regions::admits`]).
    max: usize,
    system: Arc<ActorSystem>,
    setup: RegionSetup,
}

impl Regions {
    pub fn new(
        grid: Grid,
        max: usize,
        drivers: Arc<Drivers>,
        system: Arc<ActorSystem>,
        setup: RegionSetup,
    ) -> Self {
        Self {
            grid,
            drivers,
            map: RwLock::default(),
            max,
            system,
            setup,
        }
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    pub fn feed(&self) -> &Feed {
        &self.setup.feed
    }

    /// Whether a position or pickup in cell `key` may be served: its region exists or
    /// there is room for one more. Every region is an actor with timers, and nearest
    /// queries visit regions, so a client scattering positions over the globe must
    /// not create them without bound.
    pub fn admits(&self, key: RegionKey) -> bool {
        let map = self.map.read().expect("regions lock");
        map.contains_key(&key) || map.len() < self.max
    }

    pub fn get(&self, key: RegionKey) -> Option<RegionHandle> {
        self.map.read().expect("regions lock").get(&key).cloned()
    }

    pub fn get_or_create(self: &Arc<Self>, key: RegionKey) -> RegionHandle {
        if let Some(h) = self.get(key) {
            return h;
        }
        let mut map = self.map.write().expect("regions lock");
        let handle = map
            .entry(key)
            .or_insert_with(|| {
                tracing::debug!(region = %key, "region created");
                RegionActor::spawn(
                    self.system.arbiter(),
                    key,
                    self.grid.center(key),
                    self.setup.clone(),
                    self.clone(),
                )
            })
            .clone();
        metrics::gauge!(telemetry::REGIONS).set(map.len() as f64);
        handle
    }

    pub fn all(&self) -> Vec<RegionHandle> {
        self.map
            .read()
            .expect("regions lock")
            .values()
            .cloned()
            .collect()
    }

    /// The k nearest drivers over every region, exact across borders: the cells that
    /// may hold an answer, ring by ring around the point (`core::nearest`). Each region
    /// answers from its shared index without a message when nothing offered to it is
    /// unapplied (`RegionHandle::read_nearest`), else its actor answers after applying
    /// its inbox; either way the answer includes every position offered before the
    /// call. Those left to their actors are asked once the registry's lock is released.
    pub async fn nearest(
        &self,
        lat: f64,
        lon: f64,
        k: usize,
        filter: StatusFilter,
        radius_m: Option<f64>,
    ) -> Vec<Nearby> {
        let mut search = Search::new(Query {
            lat,
            lon,
            k,
            filter,
            radius_m,
        });
        let mut deferred: Vec<(f64, RegionHandle)> = Vec::new();
        {
            let map = self.map.read().expect("regions lock");
            search.visit(
                &self.grid,
                &map,
                |s, min_d, region: &RegionHandle| match region.read_nearest(&s.next_query()) {
                    Some(found) => s.merge(found),
                    None => deferred.push((min_d, region.clone())),
                },
            );
        }
        for (min_d, region) in deferred {
            if search.excludes(min_d) {
                continue;
            }
            if let Some(found) = region.nearest(search.next_query()).await {
                search.merge(found);
            }
        }
        search.into_nearest()
    }

    /// Every driver inside the box, over all regions (console snapshots).
    pub async fn within(&self, bbox: Option<[f64; 4]>) -> Vec<DriverUpdate> {
        let mut out = Vec::new();
        for region in self.all() {
            if let Ok(mut found) = region.addr.send(Within { bbox }).await {
                out.append(&mut found);
            }
        }
        out
    }
}

#[derive(Default)]
pub struct Drivers {
    map: RwLock<HashMap<String, DriverHandle>>,
    /// Names and capacities as registered (they never change), for consoles.
    profiles: RwLock<HashMap<String, DriverProfile>>,
    /// Largest capacity of any registered driver (orders above it are refused).
    max_capacity: AtomicU32,
}

impl Drivers {
    pub fn max_capacity(&self) -> u32 {
        self.max_capacity.load(Ordering::Relaxed)
    }

    pub fn note_capacity(&self, capacity: u32) {
        self.max_capacity.fetch_max(capacity, Ordering::Relaxed);
    }

    /// Remembers a driver's registration for consoles (`driver_info`).
    pub fn note_profile(&self, profile: DriverProfile) {
        self.profiles
            .write()
            .expect("profiles lock")
            .insert(profile.id.clone(), profile);
    }

    /// The registrations of these drivers (unknown ids are left out).
    pub fn profiles<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<DriverProfile> {
        let map = self.profiles.read().expect("profiles lock");
        ids.into_iter()
            .filter_map(|id| map.get(id).cloned())
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<DriverHandle> {
        self.map.read().expect("drivers lock").get(id).cloned()
    }

    /// Whether driver `id` exists and `f` holds for it (a matcher's filter: no clone).
    pub fn holds(&self, id: &str, f: impl FnOnce(&DriverHandle) -> bool) -> bool {
        self.map
            .read()
            .expect("drivers lock")
            .get(id)
            .is_some_and(f)
    }

    /// Room for `n` more drivers (recovery inserts them all at once).
    pub fn reserve(&self, n: usize) {
        self.map.write().expect("drivers lock").reserve(n);
    }

    pub fn insert(&self, handle: DriverHandle) {
        self.map
            .write()
            .expect("drivers lock")
            .insert(handle.id.to_string(), handle);
    }

    pub fn len(&self) -> usize {
        self.map.read().expect("drivers lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registered drivers by status, read from their handles (no actor messages).
    pub fn counts(&self) -> DriverCounts {
        let map = self.map.read().expect("drivers lock");
        let mut c = DriverCounts {
            total: map.len() as u64,
            ..DriverCounts::default()
        };
        for h in map.values() {
            match h.status() {
                DriverStatus::Available => {
                    c.available += 1;
                    c.on_route += u64::from(h.has_stops());
                }
                DriverStatus::Break => c.on_break += 1,
                DriverStatus::Offline => c.offline += 1,
            }
        }
        c
    }
}
