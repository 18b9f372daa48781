//! The spatial index of one region: an rstar R-tree over a local metric projection,
//! with a slab of driver entries beside it so an update is remove + insert at a known
//! point and a query can filter by status without touching strings.

use super::geo_util::{haversine_m, LocalProjection, METRES_PER_DEG};
use dispatch_protocol::{DriverStatus, DriverUpdate, Millis};
use rstar::primitives::GeomWithData;
use rstar::{ParentNode, PointDistance, RStarInsertionStrategy, RTree, RTreeNode, RTreeParams};

/// The R-tree element: a projected point and what a query filters and ranks by.
type Node = GeomWithData<[f64; 2], Leaf>;

/// A driver as its R-tree element carries it: the slot of its entry, and its status and
/// position, so a query reads the slot (a cache miss away) only for the answers it keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Leaf {
    slot: u32,
    status: DriverStatus,
    lat: f64,
    lon: f64,
}

impl Leaf {
    fn new(slot: u32, point: &DriverPoint) -> Self {
        Self {
            slot,
            status: point.status,
            lat: point.lat,
            lon: point.lon,
        }
    }
}

/// The projection's error near a region is far below this; candidates are fetched
/// until their projected distance exceeds the k-th haversine distance by this factor.
const PROJECTION_SLACK: f64 = 1.01;

/// A query searches the R-tree only where the projection overstates distances by less
/// than this (`LocalProjection::faithful`), the rest of `PROJECTION_SLACK` being room
/// for the curvature the flat projection ignores; farther away it scans every driver.
const PROJECTION_FAITHFUL: f64 = 1.005;

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
    tree: RTree<Node, Params>,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    by_id: super::FastMap<String, u32>,
}

impl RegionIndex {
    /// An empty index projecting around `(origin_lat, origin_lon)` (the region's
    /// centre).
    pub fn new(origin_lat: f64, origin_lon: f64) -> Self {
        Self {
            projection: LocalProjection::new(origin_lat, origin_lon),
            tree: RTree::new_with_params(),
            slots: Vec::new(),
            free: Vec::new(),
            by_id: super::FastMap::default(),
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
            let (old, new) = (Leaf::new(slot, &entry.point), Leaf::new(slot, &point));
            if entry.projected != projected || old != new {
                self.tree.remove(&Node::new(entry.projected, old));
                self.tree.insert(Node::new(projected, new));
                entry.projected = projected;
            }
            entry.point = point;
            return false;
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 drivers")
            }
        };
        self.tree
            .insert(Node::new(projected, Leaf::new(slot, &point)));
        self.slots[slot as usize] = Some(Slot {
            id: id.to_string(),
            point,
            projected,
        });
        self.by_id.insert(id.to_string(), slot);
        true
    }

    /// Removes a driver; returns its last point when it was here.
    pub fn remove(&mut self, id: &str) -> Option<DriverPoint> {
        let slot = self.by_id.remove(id)?;
        let entry = self.slots[slot as usize]
            .take()
            .expect("by_id points at a live slot");
        self.tree
            .remove(&Node::new(entry.projected, Leaf::new(slot, &entry.point)));
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
        self.search(lat, lon, k, filter, radius_m, None::<fn(&str) -> bool>)
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
        self.search(lat, lon, k, filter, radius_m, Some(accept))
    }

    fn search(
        &self,
        lat: f64,
        lon: f64,
        k: usize,
        filter: StatusFilter,
        radius_m: Option<f64>,
        accept: Option<impl Fn(&str) -> bool>,
    ) -> Vec<Nearby> {
        if k == 0 {
            return Vec::new();
        }
        let mut search = Knn {
            index: self,
            query: self.projection.project(lat, lon),
            lat,
            lon,
            k,
            filter,
            radius: radius_m.unwrap_or(f64::INFINITY),
            accept,
            best: Vec::with_capacity(k + 1),
        };
        let root = self.tree.root();
        let lats = root.envelope();
        let lats = (
            lats.lower()[1] / METRES_PER_DEG,
            lats.upper()[1] / METRES_PER_DEG,
        );
        if self.is_empty() {
            return Vec::new();
        } else if self
            .projection
            .faithful(lat, lon, lats, PROJECTION_FAITHFUL)
        {
            search.visit(root);
        } else {
            // Far from the region (a sparse fleet, where the nearest drivers are tens of
            // kilometres away), or near a pole: every driver, by haversine.
            for (slot, entry) in self.slots.iter().enumerate() {
                if let Some(entry) = entry {
                    search.consider(&Leaf::new(slot as u32, &entry.point));
                }
            }
        }
        search
            .best
            .into_iter()
            .filter_map(|(distance_m, slot)| {
                let slot = self.slot(slot)?;
                Some(Nearby {
                    id: slot.id.clone(),
                    lat: slot.point.lat,
                    lon: slot.point.lon,
                    distance_m,
                    status: slot.point.status,
                    ts_ms: slot.point.ts_ms,
                })
            })
            .collect()
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

/// The most children an R-tree node has (rstar's default parameters).
const MAX_CHILDREN: usize = <Params as RTreeParams>::MAX_SIZE;

/// Wider nodes than rstar's default (6): a query reads fewer, larger nodes, whose
/// children lie side by side in memory (tree nodes are cache misses on a busy engine).
struct Params;

impl RTreeParams for Params {
    const MIN_SIZE: usize = 5;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 4;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// One nearest query over the R-tree: depth first, each node's children nearest first,
/// a subtree skipped once its box is farther (projected) than the k-th answer so far or
/// the radius, with the projection's slack. A driver among the true k nearest is never
/// skipped: its projected distance is within the slack of its haversine distance, which
/// is at most the k-th answer's at any time. (rstar's own nearest-neighbour iterator
/// does the same search best first, with a heap that spills to the allocator on almost
/// every query of a region this size; this one allocates nothing but the answers.)
struct Knn<'a, F> {
    index: &'a RegionIndex,
    query: [f64; 2],
    lat: f64,
    lon: f64,
    k: usize,
    filter: StatusFilter,
    radius: f64,
    /// Judges a driver by its id (`None`: every driver), which is read from its slot.
    accept: Option<F>,
    /// (haversine distance, slot), nearest first, at most k: answers are built for the
    /// k kept only.
    best: Vec<(f64, u32)>,
}

impl<F: Fn(&str) -> bool> Knn<'_, F> {
    /// Projected distance beyond which nothing can be an answer.
    fn cutoff(&self) -> f64 {
        let mut haversine = self.radius;
        if self.best.len() == self.k {
            haversine = haversine.min(self.best[self.k - 1].0);
        }
        haversine * PROJECTION_SLACK
    }

    fn visit(&mut self, node: &ParentNode<Node>) {
        let children = node.children();
        let mut order = [(0.0f64, 0usize); MAX_CHILDREN];
        let order = &mut order[..children.len()];
        for (i, (slot, child)) in order.iter_mut().zip(children).enumerate() {
            let dist2 = match child {
                RTreeNode::Leaf(point) => point.distance_2(&self.query),
                RTreeNode::Parent(parent) => parent.envelope().distance_2(&self.query),
            };
            *slot = (dist2, i);
        }
        order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        for &(dist2, i) in order.iter() {
            if dist2.sqrt() > self.cutoff() {
                break;
            }
            match &children[i] {
                RTreeNode::Leaf(point) => self.consider(&point.data),
                RTreeNode::Parent(parent) => self.visit(parent),
            }
        }
    }

    fn consider(&mut self, leaf: &Leaf) {
        if !self.filter.accepts(leaf.status) {
            return;
        }
        let distance_m = haversine_m(self.lat, self.lon, leaf.lat, leaf.lon);
        if distance_m > self.radius {
            return;
        }
        let k = self.k;
        if self.best.len() == k && distance_m >= self.best[k - 1].0 {
            return;
        }
        // Only a driver that would be kept is looked up (and its id judged).
        if let Some(accept) = &self.accept {
            if !self
                .index
                .slot(leaf.slot)
                .is_some_and(|slot| accept(&slot.id))
            {
                return;
            }
        }
        let at = self.best.partition_point(|b| b.0 <= distance_m);
        self.best.insert(at, (distance_m, leaf.slot));
        self.best.truncate(k);
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
    use std::collections::HashMap;

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

    /// Builds an index from `pts`, moves and removes some, and checks one query
    /// against a brute-force haversine scan of what is left.
    #[allow(clippy::too_many_arguments)]
    fn check_against_brute_force(
        pts: &[(f64, f64, usize)],
        moves: &[(usize, f64, f64)],
        removes: &[usize],
        q: (f64, f64),
        k: usize,
        radius: Option<f64>,
        filter_any: bool,
    ) -> Result<(), TestCaseError> {
        let mut idx = RegionIndex::new(60.175, 24.94);
        let mut truth: HashMap<String, DriverPoint> = HashMap::new();
        for (i, (lat, lon, s)) in pts.iter().enumerate() {
            let p = point(*lat, *lon, DriverStatus::ALL[*s]);
            idx.upsert(&format!("d{i}"), p.clone());
            truth.insert(format!("d{i}"), p);
        }
        for &(i, lat, lon) in moves {
            let id = format!("d{}", i % pts.len());
            let mut p = truth[&id].clone();
            p.lat = lat;
            p.lon = lon;
            idx.upsert(&id, p.clone());
            truth.insert(id, p);
        }
        for &i in removes {
            let id = format!("d{}", i % pts.len());
            prop_assert_eq!(idx.remove(&id).is_some(), truth.remove(&id).is_some());
        }
        let filter = if filter_any {
            StatusFilter::Any
        } else {
            StatusFilter::Only(DriverStatus::Available)
        };
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
            prop_assert!(
                (g.distance_m - w.0).abs() < 1e-6,
                "{} vs {}",
                g.distance_m,
                w.0
            );
        }
        Ok(())
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
            check_against_brute_force(&pts, &moves, &removes, q, k, radius, filter_any)?;
        }

        /// Also from far away (a sparse fleet's nearest drivers are in distant
        /// regions), where the local projection no longer ranks as haversine does.
        #[test]
        fn nearest_from_afar_matches_brute_force(
            pts in prop::collection::vec((60.10f64..60.25, 24.80f64..25.05, 0usize..3), 1..120),
            q in (-60.0f64..85.0, -180.0f64..180.0),
            k in 1usize..12,
            filter_any in any::<bool>(),
        ) {
            check_against_brute_force(&pts, &[], &[], q, k, None, filter_any)?;
        }
    }
}
