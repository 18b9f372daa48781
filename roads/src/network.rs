//! [`RoadNetwork`]: the graph, its hierarchy and its snap index together, and the
//! queries between points (snapped, with the partial edges at both ends).

use crate::error::{BuildError, StoreError};
use crate::graph::{GraphStats, RoadGraph};
use crate::hierarchy::Hierarchy;
use crate::query::{Meeting, Seed, Workspace};
use crate::snap::{SnapIndex, Snapped};
use crate::{matrix, osm, store};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far a point may lie from the nearest road and still be on the network.
pub const DEFAULT_SNAP_RADIUS_M: f64 = 500.0;

/// A route between two points on the network.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub duration_s: f64,
    pub distance_m: f64,
    /// (lat, lon) from the snapped start through the graph's nodes to the snapped end
    /// (empty unless asked for).
    pub geometry: Vec<[f64; 2]>,
}

impl Route {
    /// The geometry as an encoded polyline (Google's algorithm, precision 5).
    pub fn polyline(&self) -> String {
        crate::polyline::encode(&self.geometry)
    }
}

/// The answer to a point-to-point question: expected outcomes are variants.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Route(Route),
    /// The start (`start: true`) or the end lies farther than the snap radius from any
    /// road: the caller falls back (haversine × detour).
    OffNetwork {
        start: bool,
    },
    /// Both snapped, but no path joins them (cannot happen within one strongly
    /// connected component; kept for graphs built otherwise).
    NoPath,
}

/// What building took.
#[derive(Clone, Copy, Debug)]
pub struct BuildReport {
    pub stats: GraphStats,
    pub shortcuts: usize,
    pub read: Duration,
    pub contract: Duration,
}

/// A prepared road network, ready to answer.
pub struct RoadNetwork {
    graph: RoadGraph,
    hierarchy: Hierarchy,
    snap: SnapIndex,
    snap_radius_m: f64,
    /// Search labels reused across queries (one per concurrent caller).
    pool: Mutex<Vec<Workspace>>,
}

impl RoadNetwork {
    /// Reads a PBF extract, applies the car profile and contracts the graph.
    pub fn build(pbf: &Path) -> Result<(RoadNetwork, BuildReport), BuildError> {
        let t0 = Instant::now();
        let raw = osm::read_pbf(pbf)?;
        let (graph, stats) = RoadGraph::from_raw(&raw)?;
        let read = t0.elapsed();
        let t1 = Instant::now();
        let hierarchy = Hierarchy::build(&graph)?;
        let contract = t1.elapsed();
        let shortcuts = hierarchy
            .fwd
            .iter()
            .chain(&hierarchy.bwd)
            .filter(|e| e.is_shortcut())
            .count();
        let report = BuildReport {
            stats,
            shortcuts,
            read,
            contract,
        };
        Ok((RoadNetwork::new(graph, hierarchy), report))
    }

    /// Contracts a graph built in memory.
    pub fn from_graph(graph: RoadGraph) -> Result<RoadNetwork, BuildError> {
        let hierarchy = Hierarchy::build(&graph)?;
        Ok(RoadNetwork::new(graph, hierarchy))
    }

    fn new(graph: RoadGraph, hierarchy: Hierarchy) -> RoadNetwork {
        RoadNetwork {
            snap: SnapIndex::new(&graph),
            graph,
            hierarchy,
            snap_radius_m: DEFAULT_SNAP_RADIUS_M,
            pool: Mutex::new(Vec::new()),
        }
    }

    /// Writes the prepared graph directory; returns the file written.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, StoreError> {
        let stored = store::Stored {
            graph: self.graph.clone(),
            hierarchy: self.hierarchy.clone(),
        };
        store::save(dir, &stored)
    }

    /// Reads a prepared graph directory written by [`RoadNetwork::save`].
    pub fn load(dir: &Path) -> Result<RoadNetwork, StoreError> {
        let s = store::load(dir)?;
        Ok(RoadNetwork::new(s.graph, s.hierarchy))
    }

    /// Changes how far from a road a point may be (default 500 m).
    pub fn with_snap_radius(mut self, metres: f64) -> RoadNetwork {
        self.snap_radius_m = metres;
        self
    }

    pub fn graph(&self) -> &RoadGraph {
        &self.graph
    }

    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    /// The nearest road within the snap radius of (lat, lon).
    pub fn snap(&self, p: [f64; 2]) -> Option<Snapped> {
        self.snap.snap(p, self.snap_radius_m)
    }

    fn with_workspace<T>(&self, f: impl FnOnce(&mut Workspace) -> T) -> T {
        let taken = self.pool.lock().ok().and_then(|mut p| p.pop());
        let mut ws = taken.unwrap_or_else(|| Workspace::new(&self.hierarchy));
        let out = f(&mut ws);
        if let Ok(mut p) = self.pool.lock() {
            p.push(ws);
        }
        out
    }

    /// Fastest route from `a` to `b` (lat, lon); with `geometry`, its points too.
    pub fn route(&self, a: [f64; 2], b: [f64; 2], geometry: bool) -> Answer {
        let Some(sa) = self.snap(a) else {
            return Answer::OffNetwork { start: true };
        };
        let Some(sb) = self.snap(b) else {
            return Answer::OffNetwork { start: false };
        };
        let direct = self.same_segment(&sa, &sb);
        let found = self.with_workspace(|ws| {
            let m = self
                .hierarchy
                .query(ws, &self.source_seeds(&sa), &self.target_seeds(&sb))?;
            let nodes = if geometry {
                self.hierarchy.path(ws, &m)
            } else {
                Vec::new()
            };
            Some((m, nodes))
        });
        let better_direct = |m: &Meeting| direct.is_some_and(|d| d.0 <= m.time_ms);
        let (time_ms, dist_mm, nodes) = match found {
            Some((m, _)) if better_direct(&m) => {
                direct.map(|d| (d.0, d.1, Vec::new())).unwrap_or_default()
            }
            Some((m, nodes)) => (m.time_ms, m.dist_mm, nodes),
            None => match direct {
                Some(d) => (d.0, d.1, Vec::new()),
                None => return Answer::NoPath,
            },
        };
        let mut points = Vec::new();
        if geometry {
            points.push(sa.point);
            points.extend(nodes.iter().map(|&v| self.graph.coords[v as usize]));
            points.push(sb.point);
        }
        Answer::Route(Route {
            duration_s: time_ms as f64 / 1000.0,
            distance_m: dist_mm as f64 / 1000.0,
            geometry: points,
        })
    }

    /// Durations (s) and distances (m) between every pair of `points`, row-major;
    /// `None` where either point is off the network or no path joins them.
    pub fn matrix(&self, points: &[[f64; 2]]) -> Vec<Option<(f64, f64)>> {
        let snapped: Vec<Option<Snapped>> = points.iter().map(|&p| self.snap(p)).collect();
        let seeds = |f: fn(&Self, &Snapped) -> Vec<Seed>| -> Vec<Vec<Seed>> {
            snapped
                .iter()
                .map(|s| s.as_ref().map(|s| f(self, s)).unwrap_or_default())
                .collect()
        };
        let (sources, targets) = (seeds(Self::source_seeds), seeds(Self::target_seeds));
        let raw =
            self.with_workspace(|ws| matrix::many_to_many(&self.hierarchy, ws, &sources, &targets));
        let n = points.len();
        let mut out: Vec<Option<(u64, u64)>> = raw;
        for i in 0..n {
            out[i * n + i] = snapped[i].map(|_| (0, 0));
            for j in 0..n {
                let (Some(si), Some(sj)) = (&snapped[i], &snapped[j]) else {
                    continue;
                };
                if let Some(d) = self.same_segment(si, sj) {
                    let cell = &mut out[i * n + j];
                    if cell.is_none_or(|c| d.0 < c.0) {
                        *cell = Some(d);
                    }
                }
            }
        }
        out.into_iter()
            .map(|c| c.map(|(t, d)| (t as f64 / 1000.0, d as f64 / 1000.0)))
            .collect()
    }

    /// Time and length of the part `from`→`to` of `a → b`, `fraction`s along the segment.
    fn partial(&self, a: u32, b: u32, from: f64, to: f64) -> Option<(u64, u64)> {
        let e = self.graph.edge(a, b)?;
        let share = (to - from).abs();
        Some((
            (f64::from(e.time_ms) * share).round() as u64,
            (f64::from(e.dist_mm) * share).round() as u64,
        ))
    }

    /// Nodes a search from `s` starts at, with the time to drive there.
    fn source_seeds(&self, s: &Snapped) -> Vec<Seed> {
        seeds([
            (s.b, self.partial(s.a, s.b, s.fraction, 1.0)),
            (s.a, self.partial(s.b, s.a, 1.0 - s.fraction, 1.0)),
        ])
    }

    /// Nodes a search ending at `s` arrives from, with the time from there.
    fn target_seeds(&self, s: &Snapped) -> Vec<Seed> {
        seeds([
            (s.a, self.partial(s.a, s.b, 0.0, s.fraction)),
            (s.b, self.partial(s.b, s.a, 0.0, 1.0 - s.fraction)),
        ])
    }

    /// Driving along one segment from `s` to `t` without leaving it, when both lie on
    /// it and its direction allows.
    fn same_segment(&self, s: &Snapped, t: &Snapped) -> Option<(u64, u64)> {
        if (s.a, s.b) != (t.a, t.b) {
            return None;
        }
        if t.fraction >= s.fraction {
            self.partial(s.a, s.b, s.fraction, t.fraction)
        } else {
            self.partial(s.b, s.a, s.fraction, t.fraction)
        }
    }
}

/// The seeds of the partial edges a snapped point can use (`None`: not drivable that way).
fn seeds(parts: [(u32, Option<(u64, u64)>); 2]) -> Vec<Seed> {
    parts
        .into_iter()
        .filter_map(|(node, part)| {
            part.map(|(time_ms, dist_mm)| Seed {
                node,
                time_ms,
                dist_mm,
            })
        })
        .collect()
}
