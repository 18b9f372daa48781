//! Snapping a point to the nearest road segment: an R-tree (rstar) of the graph's
//! segments in a local metric projection (equirectangular about the graph's centre,
//! accurate to a fraction of a percent over a metro area).

use crate::graph::RoadGraph;
use rstar::primitives::{GeomWithData, Line};
use rstar::{PointDistance, RTree};

/// Metres per degree of latitude.
const M_PER_DEG: f64 = dispatch_plan::travel::EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

type Segment = GeomWithData<Line<[f64; 2]>, (u32, u32)>;

/// Where a point lies on the network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Snapped {
    /// The segment's end nodes (`a < b`); either or both directed edges exist.
    pub a: u32,
    pub b: u32,
    /// The nearest point of the segment, (lat, lon) in degrees.
    pub point: [f64; 2],
    /// From the query point to `point`, metres.
    pub distance_m: f64,
    /// Position of `point` along the segment from `a` (0) to `b` (1).
    pub fraction: f64,
}

/// The R-tree of segments and its projection.
pub struct SnapIndex {
    tree: RTree<Segment>,
    origin: [f64; 2],
    /// cos(origin latitude): metres per degree of longitude / metres per degree of latitude.
    kx: f64,
}

impl SnapIndex {
    /// One segment per pair of adjacent nodes (whatever directions it is driven in).
    pub fn new(g: &RoadGraph) -> SnapIndex {
        let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
        for c in &g.coords {
            for k in 0..2 {
                lo[k] = lo[k].min(c[k]);
                hi[k] = hi[k].max(c[k]);
            }
        }
        let origin = if g.coords.is_empty() {
            [0.0, 0.0]
        } else {
            [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0]
        };
        let mut index = SnapIndex {
            tree: RTree::new(),
            origin,
            kx: origin[0].to_radians().cos(),
        };
        let segments = g
            .edges
            .iter()
            .filter(|e| e.from < e.to || g.edge(e.to, e.from).is_none())
            .map(|e| {
                let (a, b) = (e.from.min(e.to), e.from.max(e.to));
                let line = Line::new(
                    index.project(g.coords[a as usize]),
                    index.project(g.coords[b as usize]),
                );
                GeomWithData::new(line, (a, b))
            })
            .collect();
        index.tree = RTree::bulk_load(segments);
        index
    }

    /// (lat, lon) → metres east and north of the origin.
    pub fn project(&self, p: [f64; 2]) -> [f64; 2] {
        [
            (p[1] - self.origin[1]) * M_PER_DEG * self.kx,
            (p[0] - self.origin[0]) * M_PER_DEG,
        ]
    }

    fn unproject(&self, xy: [f64; 2]) -> [f64; 2] {
        [
            xy[1] / M_PER_DEG + self.origin[0],
            xy[0] / (M_PER_DEG * self.kx) + self.origin[1],
        ]
    }

    pub fn len(&self) -> usize {
        self.tree.size()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// The nearest segment within `radius_m` of (lat, lon); `None` when there is none
    /// (off the network) or the point is not finite.
    pub fn snap(&self, p: [f64; 2], radius_m: f64) -> Option<Snapped> {
        if !(p[0].is_finite() && p[1].is_finite()) {
            return None;
        }
        let q = self.project(p);
        let seg = self.tree.nearest_neighbor(&q)?;
        let d2 = seg.geom().distance_2(&q);
        if d2 > radius_m * radius_m {
            return None;
        }
        let (from, to) = (seg.geom().from, seg.geom().to);
        let (dx, dy) = (to[0] - from[0], to[1] - from[1]);
        let len2 = dx * dx + dy * dy;
        let fraction = if len2 > 0.0 {
            (((q[0] - from[0]) * dx + (q[1] - from[1]) * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let on = [from[0] + fraction * dx, from[1] + fraction * dy];
        let (a, b) = seg.data;
        Some(Snapped {
            a,
            b,
            point: self.unproject(on),
            distance_m: d2.sqrt(),
            fraction,
        })
    }
}
