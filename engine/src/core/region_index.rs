//! The spatial index of one region: an rstar R-tree over a local metric projection,
//! with a slab of driver entries beside it so an update is remove + insert at a known
//! point and a query can filter by status without touching strings.

use super::geo_util::{haversine_m, LocalProjection};
use dispatch_protocol::{DriverStatus, DriverUpdate, Millis};
use rstar::primitives::GeomWithData;
use rstar::RTree;
use std::collections::HashMap;

/// The R-tree element: a projected point and the slot of its driver.
type Node = GeomWithData<[f64; 2], u32>;

/// The projection's error near a region is far below this; candidates are fetched
/// until their projected distance exceeds the k-th haversine distance by this factor.
const PROJECTION_SLACK: f64 = 1.01;

/// A driver's indexed state.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverPoint {
    pub lat: f64,
    pub lon: f64,
    pub status: DriverStatus,
    pub ts_ms: Millis,
}

#[derive(Debug, Clone)]
struct Slot {
    id: String,
    point: DriverPoint,
    projected: [f64; 2],
}

/// Which statuses a nearest query accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Any,
    Only(DriverStatus),
}

impl StatusFilter {
    pub fn accepts(self, status: DriverStatus) -> bool {
        match self {
            Self::Any => true,
            Self::Only(s) => s == status,
        }
    }
}

/// One answer of a nearest query.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Nearby {
    pub id: String,
    pub lat: f64,
    pub lon: f64,
    pub distance_m: f64,
    pub status: DriverStatus,
    #[serde(skip)]
    pub ts_ms: Millis,
}

/// The drivers of one region.
#[derive(Debug)]
pub struct RegionIndex {
    projection: LocalProjection,
    tree: RTree<Node>,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    by_id: HashMap<String, u32>,
}

impl RegionIndex {
    /// An empty index projecting around `(origin_lat, origin_lon)` (the region's
    /// centre).
    pub fn new(origin_lat: f64, origin_lon: f64) -> Self {
        Self {
            projection: LocalProjection::new(origin_lat, origin_lon),
            tree: RTree::new(),
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&DriverPoint> {
        let slot = *self.by_id.get(id)?;
        self.slot(slot).map(|s| &s.point)
    }

    fn slot(&self, slot: u32) -> Option<&Slot> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// Inserts or moves a driver. Returns true when the driver is new to this region.
    pub fn upsert(&mut self, id: &str, point: DriverPoint) -> bool {
        let projected = self.projection.project(point.lat, point.lon);
        if let Some(&slot) = self.by_id.get(id) {
            let entry = self.slots[slot as usize]
                .as_mut()
                .expect("by_id points at a live slot");
            if entry.projected != projected {
                self.tree.remove(&Node::new(entry.projected, slot));
                self.tree.insert(Node::new(projected, slot));
                entry.projected = projected;
            }
            entry.point = point;
            return false;
        }
        let entry = Slot {
            id: id.to_string(),
            point,
            projected,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(entry);
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 drivers");
                self.slots.push(Some(entry));
                slot
            }
        };
        self.by_id.insert(id.to_string(), slot);
        self.tree.insert(Node::new(projected, slot));
        true
    }

    /// Removes a driver; returns its last point when it was here.
    pub fn remove(&mut self, id: &str) -> Option<DriverPoint> {
        let slot = self.by_id.remove(id)?;
        let entry = self.slots[slot as usize]
            .take()
            .expect("by_id points at a live slot");
        self.tree.remove(&Node::new(entry.projected, slot));
        self.free.push(slot);
        Some(entry.point)
    }

    /// Up to `k` drivers nearest to the point by great-circle distance, nearest first,
    /// accepted by `filter` and within `radius_m` when given.
    pub fn nearest(
        &self,
        lat: f64,
        lon: f64,
        k: usize,
        filter: StatusFilter,
        radius_m: Option<f64>,
    ) -> Vec<Nearby> {
        self.nearest_where(lat, lon, k, filter, radius_m, |_| true)
    }

    /// [`nearest`](Self::nearest) among the drivers whose id `accept` takes as well
    /// (the dispatcher asks for idle drivers this way).
    pub fn nearest_where(
        &self,
        lat: f64,
        lon: f64,
        k: usize,
        filter: StatusFilter,
        radius_m: Option<f64>,
        accept: impl Fn(&str) -> bool,
    ) -> Vec<Nearby> {
        let mut best: Vec<Nearby> = Vec::with_capacity(k + 1);
        if k == 0 {
            return best;
        }
        let query = self.projection.project(lat, lon);
        let radius = radius_m.unwrap_or(f64::INFINITY);
        for (node, dist2) in self.tree.nearest_neighbor_iter_with_distance_2(&query) {
            let projected_dist = dist2.sqrt();
            if projected_dist > radius * PROJECTION_SLACK {
                break;
            }
            if best.len() == k && projected_dist > best[k - 1].distance_m * PROJECTION_SLACK {
                break;
            }
            let Some(slot) = self.slot(node.data) else {
                continue;
            };
            if !filter.accepts(slot.point.status) || !accept(&slot.id) {
                continue;
            }
            let distance_m = haversine_m(lat, lon, slot.point.lat, slot.point.lon);
            if distance_m > radius {
                continue;
            }
            if best.len() == k && distance_m >= best[k - 1].distance_m {
                continue;
            }
            let at = best.partition_point(|b| b.distance_m <= distance_m);
            best.insert(
                at,
                Nearby {
                    id: slot.id.clone(),
                    lat: slot.point.lat,
                    lon: slot.point.lon,
                    distance_m,
                    status: slot.point.status,
                    ts_ms: slot.point.ts_ms,
                },
            );
            best.truncate(k);
        }
        best
    }

    /// Every driver inside `[min_lon, min_lat, max_lon, max_lat]` (all when `None`).
    pub fn within(&self, bbox: Option<[f64; 4]>) -> Vec<DriverUpdate> {
        self.slots
            .iter()
            .flatten()
            .filter(|s| bbox.is_none_or(|b| in_bbox(&b, s.point.lat, s.point.lon)))
            .map(|s| DriverUpdate {
                id: s.id.clone(),
                lat: s.point.lat,
                lon: s.point.lon,
                status: s.point.status,
                ts_ms: s.point.ts_ms,
            })
            .collect()
    }
}

/// Whether a point lies in `[min_lon, min_lat, max_lon, max_lat]`.
pub fn in_bbox(b: &[f64; 4], lat: f64, lon: f64) -> bool {
    b[0] <= lon && lon <= b[2] && b[1] <= lat && lat <= b[3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn point(lat: f64, lon: f64, status: DriverStatus) -> DriverPoint {
        DriverPoint {
            lat,
            lon,
            status,
            ts_ms: 0,
        }
    }

    #[test]
    fn upsert_move_remove() {
        let mut idx = RegionIndex::new(60.17, 24.94);
        assert!(idx.upsert("a", point(60.17, 24.94, DriverStatus::Available)));
        assert!(!idx.upsert("a", point(60.18, 24.95, DriverStatus::Available)));
        assert_eq!(idx.len(), 1);
        assert_eq!(idx.get("a").unwrap().lat, 60.18);
        assert_eq!(idx.tree.size(), 1);
        assert!(idx.remove("a").is_some());
        assert!(idx.remove("a").is_none());
        assert!(idx.is_empty());
        assert_eq!(idx.tree.size(), 0);
        // The freed slot is reused.
        idx.upsert("b", point(60.17, 24.94, DriverStatus::Offline));
        assert_eq!(idx.slots.len(), 1);
    }

    #[test]
    fn nearest_filters_status_and_radius() {
        let mut idx = RegionIndex::new(60.17, 24.94);
        idx.upsert("near-off", point(60.1700, 24.9400, DriverStatus::Offline));
        idx.upsert("mid", point(60.1710, 24.9400, DriverStatus::Available));
        idx.upsert("far", point(60.1900, 24.9400, DriverStatus::Available));
        let any = idx.nearest(60.17, 24.94, 3, StatusFilter::Any, None);
        let ids: Vec<_> = any.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["near-off", "mid", "far"]);
        let avail = idx.nearest(
            60.17,
            24.94,
            3,
            StatusFilter::Only(DriverStatus::Available),
            Some(500.0),
        );
        assert_eq!(avail.len(), 1);
        assert_eq!(avail[0].id, "mid");
        assert!((avail[0].distance_m - 111.2).abs() < 1.0);
    }

    proptest! {
        /// The index answers as a brute-force haversine scan would.
        #[test]
        fn nearest_matches_brute_force(
            pts in prop::collection::vec((60.10f64..60.25, 24.80f64..25.05, 0usize..3), 1..120),
            moves in prop::collection::vec((0usize..120, 60.10f64..60.25, 24.80f64..25.05), 0..40),
            removes in prop::collection::vec(0usize..120, 0..20),
            q in (60.05f64..60.30, 24.70f64..25.10),
            k in 1usize..12,
            radius in prop::option::of(100.0f64..20_000.0),
            filter_any in any::<bool>(),
        ) {
            let mut idx = RegionIndex::new(60.175, 24.94);
            let mut truth: HashMap<String, DriverPoint> = HashMap::new();
            for (i, (lat, lon, s)) in pts.iter().enumerate() {
                let p = point(*lat, *lon, DriverStatus::ALL[*s]);
                idx.upsert(&format!("d{i}"), p.clone());
                truth.insert(format!("d{i}"), p);
            }
            for (i, lat, lon) in moves {
                let id = format!("d{}", i % pts.len());
                let mut p = truth[&id].clone();
                p.lat = lat;
                p.lon = lon;
                idx.upsert(&id, p.clone());
                truth.insert(id, p);
            }
            for i in removes {
                let id = format!("d{}", i % pts.len());
                prop_assert_eq!(idx.remove(&id).is_some(), truth.remove(&id).is_some());
            }
            let filter = if filter_any { StatusFilter::Any } else { StatusFilter::Only(DriverStatus::Available) };
            let got = idx.nearest(q.0, q.1, k, filter, radius);
            let mut want: Vec<(f64, String)> = truth
                .iter()
                .filter(|(_, p)| filter.accepts(p.status))
                .map(|(id, p)| (haversine_m(q.0, q.1, p.lat, p.lon), id.clone()))
                .filter(|(d, _)| radius.is_none_or(|r| *d <= r))
                .collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0));
            want.truncate(k);
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                prop_assert!((g.distance_m - w.0).abs() < 1e-6, "{} vs {}", g.distance_m, w.0);
            }
        }
    }
}
