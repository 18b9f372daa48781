//! The road graph: nodes with coordinates, directed edges with travel time and length,
//! kept to the largest strongly connected component (every node reaches every other).

use crate::error::BuildError;
use crate::osm::RawNetwork;
use crate::profile::Direction;
use crate::scc;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// A directed road segment between two consecutive nodes of a way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    pub from: u32,
    pub to: u32,
    /// Travel time in milliseconds (at least 1: the hierarchy needs positive weights).
    pub time_ms: u32,
    /// Length in millimetres.
    pub dist_mm: u32,
}

/// Nodes and edges; edges sorted by `(from, to)`, one per pair (the fastest).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RoadGraph {
    /// (lat, lon) in degrees, by node id.
    pub coords: Vec<[f64; 2]>,
    pub edges: Vec<Edge>,
    /// `edges[first_out[v]..first_out[v + 1]]` leave v.
    pub first_out: Vec<u32>,
}

/// Sizes seen while building, for the build command's report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GraphStats {
    pub ways: usize,
    pub nodes_before_scc: usize,
    pub edges_before_scc: usize,
    pub nodes: usize,
    pub edges: usize,
}

/// Great-circle distance in metres.
pub fn haversine_m(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (p1, p2) = (a[0].to_radians(), b[0].to_radians());
    let dp = p2 - p1;
    let dl = (b[1] - a[1]).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * dispatch_plan::travel::EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

fn to_u32(x: usize) -> Result<u32, BuildError> {
    u32::try_from(x).map_err(|_| BuildError::TooLarge)
}

impl RoadGraph {
    /// The graph of the drivable ways, reduced to its largest strongly connected
    /// component. `NoRoads` when nothing drivable is left.
    pub fn from_raw(raw: &RawNetwork) -> Result<(RoadGraph, GraphStats), BuildError> {
        let mut ids: HashMap<i64, u32> = HashMap::new();
        let mut coords = Vec::new();
        let mut edges = Vec::new();
        for way in &raw.ways {
            let speed_mps = way.spec.speed_kmh / 3.6;
            for pair in way.nodes.windows(2) {
                let (Some(&ca), Some(&cb)) = (raw.coords.get(&pair[0]), raw.coords.get(&pair[1]))
                else {
                    continue; // a node outside the extract: the way is cut there
                };
                if pair[0] == pair[1] {
                    continue;
                }
                let mut id = |osm: i64, c: [f64; 2]| -> Result<u32, BuildError> {
                    if let Some(&i) = ids.get(&osm) {
                        return Ok(i);
                    }
                    let i = to_u32(coords.len())?;
                    coords.push(c);
                    ids.insert(osm, i);
                    Ok(i)
                };
                let (a, b) = (id(pair[0], ca)?, id(pair[1], cb)?);
                let metres = haversine_m(ca, cb);
                let dist_mm = (metres * 1000.0).round().min(f64::from(u32::MAX)) as u32;
                let ms = (metres / speed_mps * 1000.0).round();
                let time_ms = ms.clamp(1.0, f64::from(u32::MAX)) as u32;
                let edge = |from, to| Edge {
                    from,
                    to,
                    time_ms,
                    dist_mm,
                };
                match way.spec.direction {
                    Direction::Forward => edges.push(edge(a, b)),
                    Direction::Backward => edges.push(edge(b, a)),
                    Direction::Both => edges.extend([edge(a, b), edge(b, a)]),
                }
            }
        }
        let full = RoadGraph::from_edges(coords, edges)?;
        let stats = GraphStats {
            ways: raw.ways.len(),
            nodes_before_scc: full.num_nodes(),
            edges_before_scc: full.edges.len(),
            ..GraphStats::default()
        };
        let kept = full.largest_component()?;
        if kept.edges.is_empty() {
            return Err(BuildError::NoRoads);
        }
        let stats = GraphStats {
            nodes: kept.num_nodes(),
            edges: kept.edges.len(),
            ..stats
        };
        Ok((kept, stats))
    }

    /// Sorts, keeps the fastest edge per (from, to), and indexes the edges by tail.
    pub fn from_edges(
        coords: Vec<[f64; 2]>,
        mut edges: Vec<Edge>,
    ) -> Result<RoadGraph, BuildError> {
        edges.sort_unstable_by_key(|e| (e.from, e.to, e.time_ms, e.dist_mm));
        edges.dedup_by_key(|e| (e.from, e.to));
        let mut first_out = vec![0u32; coords.len() + 1];
        for e in &edges {
            first_out[e.from as usize + 1] += 1;
        }
        for i in 0..coords.len() {
            first_out[i + 1] += first_out[i];
        }
        to_u32(edges.len())?;
        Ok(RoadGraph {
            coords,
            edges,
            first_out,
        })
    }

    pub fn num_nodes(&self) -> usize {
        self.coords.len()
    }

    /// The edges leaving `v`.
    pub fn out_edges(&self, v: u32) -> &[Edge] {
        let v = v as usize;
        &self.edges[self.first_out[v] as usize..self.first_out[v + 1] as usize]
    }

    /// The edge `from → to`, if there is one.
    pub fn edge(&self, from: u32, to: u32) -> Option<&Edge> {
        let out = self.out_edges(from);
        out.binary_search_by_key(&to, |e| e.to)
            .ok()
            .map(|i| &out[i])
    }

    /// The subgraph of the largest strongly connected component, nodes renumbered in
    /// their old order.
    fn largest_component(&self) -> Result<RoadGraph, BuildError> {
        let heads: Vec<u32> = self.edges.iter().map(|e| e.to).collect();
        let comp = scc::components(&self.first_out, &heads);
        let Some(keep) = scc::largest(&comp) else {
            return Err(BuildError::NoRoads);
        };
        let mut new_id = vec![u32::MAX; self.num_nodes()];
        let mut coords = Vec::new();
        for (v, &c) in comp.iter().enumerate() {
            if c == keep {
                new_id[v] = to_u32(coords.len())?;
                coords.push(self.coords[v]);
            }
        }
        let edges = self
            .edges
            .iter()
            .filter(|e| comp[e.from as usize] == keep && comp[e.to as usize] == keep)
            .map(|e| Edge {
                from: new_id[e.from as usize],
                to: new_id[e.to as usize],
                ..*e
            })
            .collect();
        RoadGraph::from_edges(coords, edges)
    }

    /// Plain Dijkstra on the uncontracted graph: (time ms, distance mm) of the fastest
    /// path, `None` when `to` is unreachable. The reference the hierarchy is tested
    /// against.
    pub fn dijkstra(&self, from: u32, to: u32) -> Option<(u64, u64)> {
        let mut best = vec![u64::MAX; self.num_nodes()];
        let mut dist = vec![0u64; self.num_nodes()];
        let mut heap = BinaryHeap::new();
        best[from as usize] = 0;
        heap.push(Reverse((0u64, from)));
        while let Some(Reverse((t, v))) = heap.pop() {
            if v == to {
                return Some((t, dist[v as usize]));
            }
            if t > best[v as usize] {
                continue;
            }
            for e in self.out_edges(v) {
                let nt = t + u64::from(e.time_ms);
                if nt < best[e.to as usize] {
                    best[e.to as usize] = nt;
                    dist[e.to as usize] = dist[v as usize] + u64::from(e.dist_mm);
                    heap.push(Reverse((nt, e.to)));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osm::RawWay;
    use crate::profile::WaySpec;

    fn way(nodes: &[i64], direction: Direction) -> RawWay {
        RawWay {
            nodes: nodes.to_vec(),
            spec: WaySpec {
                speed_kmh: 36.0,
                direction,
            },
        }
    }

    fn raw(ways: Vec<RawWay>) -> RawNetwork {
        let coords = (1..=6)
            .map(|i| (i, [60.0, 24.0 + 0.001 * i as f64]))
            .collect();
        RawNetwork { ways, coords }
    }

    #[test]
    fn keeps_the_largest_component_and_respects_oneway() {
        // 1-2-3 two-way; 3→4 one-way only (4 cannot come back): 4 is dropped.
        let net = raw(vec![
            way(&[1, 2, 3], Direction::Both),
            way(&[3, 4], Direction::Forward),
        ]);
        let (g, stats) = RoadGraph::from_raw(&net).unwrap();
        assert_eq!(stats.nodes_before_scc, 4);
        assert_eq!((stats.nodes, stats.edges), (3, 4));
        assert_eq!(g.num_nodes(), 3);
        let e = g.edge(0, 1).unwrap();
        // ~55.6 m at 10 m/s
        assert!((e.dist_mm as f64 / 1000.0 - 55.6).abs() < 0.5, "{e:?}");
        assert!((e.time_ms as f64 - 5560.0).abs() < 50.0, "{e:?}");
    }

    #[test]
    fn a_one_way_loop_differs_by_direction() {
        // 1→2→3→1 one way, 1-4 two way.
        let net = raw(vec![
            way(&[1, 2, 3, 1], Direction::Forward),
            way(&[1, 4], Direction::Both),
        ]);
        let (g, _) = RoadGraph::from_raw(&net).unwrap();
        let (ab, _) = g.dijkstra(0, 1).unwrap();
        let (ba, _) = g.dijkstra(1, 0).unwrap();
        assert!(ba > ab, "{ab} {ba}");
        let backward = raw(vec![
            way(&[1, 2, 3, 1], Direction::Backward),
            way(&[1, 4], Direction::Both),
        ]);
        let (g, _) = RoadGraph::from_raw(&backward).unwrap();
        assert!(g.dijkstra(0, 1).unwrap().0 > g.dijkstra(1, 0).unwrap().0);
    }

    #[test]
    fn nothing_drivable_is_an_error() {
        assert!(matches!(
            RoadGraph::from_raw(&raw(vec![])),
            Err(BuildError::NoRoads)
        ));
        // a single one-way segment: no component with an edge
        let one = raw(vec![way(&[1, 2], Direction::Forward)]);
        assert!(matches!(
            RoadGraph::from_raw(&one),
            Err(BuildError::NoRoads)
        ));
        // nodes without coordinates are skipped
        let missing = raw(vec![way(&[7, 8, 9], Direction::Both)]);
        assert!(matches!(
            RoadGraph::from_raw(&missing),
            Err(BuildError::NoRoads)
        ));
    }
}
