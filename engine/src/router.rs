//! Addressing: which actor owns what. `Regions` maps grid cells to region actors
//! (created on demand) and fans nearest queries out over cells in order of distance;
//! `Drivers` maps ids to driver actors. Neither holds domain state itself, so a
//! region on another node could later be just another address.

use crate::actors::region::{Feed, Nearest, RegionSetup, Within};
use crate::actors::{ActorSystem, DriverHandle, Fleet, RegionActor, RegionHandle};
use crate::core::grid::{Grid, RegionKey};
use crate::core::region_index::{Nearby, StatusFilter};
use crate::telemetry;
use dispatch_protocol::{DriverCounts, DriverStatus, DriverUpdate};
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

    /// The k nearest drivers over every region: cells are visited in order of their
    /// distance to the point and the search stops once the next cell is farther than
    /// the k-th answer (or the radius), so answers are exact across borders.
    pub async fn nearest(
        &self,
        lat: f64,
        lon: f64,
        k: usize,
        filter: StatusFilter,
        radius_m: Option<f64>,
    ) -> Vec<Nearby> {
        let mut cells: Vec<(f64, RegionHandle)> = self
            .all()
            .into_iter()
            .map(|h| (self.grid.min_distance_m(h.key, lat, lon), h))
            .filter(|(d, _)| radius_m.is_none_or(|r| *d <= r))
            .collect();
        cells.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut best: HashMap<String, Nearby> = HashMap::new();
        let mut kth = f64::INFINITY;
        for (min_d, region) in cells {
            if best.len() >= k && min_d > kth {
                break;
            }
            let q = Nearest {
                lat,
                lon,
                k,
                filter,
                radius_m,
            };
            let Ok(found) = region.addr.send(q).await else {
                continue;
            };
            for n in found {
                // During a hand-off a driver can briefly sit in two regions: keep the
                // newer report.
                match best.get(&n.id) {
                    Some(have) if have.ts_ms >= n.ts_ms => {}
                    _ => {
                        best.insert(n.id.clone(), n);
                    }
                }
            }
            if best.len() >= k {
                let mut d: Vec<f64> = best.values().map(|n| n.distance_m).collect();
                d.sort_by(f64::total_cmp);
                kth = d[k - 1];
            }
        }
        let mut out: Vec<Nearby> = best.into_values().collect();
        out.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id)));
        out.truncate(k);
        out
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
