//! The contraction hierarchy. `fast_paths` orders and contracts the nodes; its graph's
//! arrays are private, so they are taken through its serde form (the same field order,
//! checked by a test against `fast_paths::calc_path`) into [`Hierarchy`], which adds a
//! length to every edge (a shortcut's is the sum of the two edges it replaces) and is
//! searched by this crate's own upward searches (`query.rs`, `matrix.rs`).

use crate::error::BuildError;
use crate::graph::RoadGraph;
use serde::{Deserialize, Serialize};

/// No edge (an original edge's `replaced_*`).
pub const NO_EDGE: u32 = u32::MAX;

/// An upward edge. In `fwd` it is stored at its lower-ranked end `base` and stands for
/// `base → adj`; in `bwd` it is stored at `base` and stands for `adj → base`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct ChEdge {
    pub base: u32,
    pub adj: u32,
    pub time_ms: u32,
    pub dist_mm: u64,
    /// For a shortcut `u → w` via `v`: the `bwd` edge `u → v` …
    pub replaced_in: u32,
    /// … and the `fwd` edge `v → w`. `NO_EDGE` for an original edge.
    pub replaced_out: u32,
}

impl ChEdge {
    pub fn is_shortcut(&self) -> bool {
        self.replaced_in != NO_EDGE
    }
}

/// Upward graphs in both directions; edges grouped by the rank of `base`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Hierarchy {
    /// Contraction rank by node id.
    pub rank: Vec<u32>,
    pub fwd: Vec<ChEdge>,
    /// `fwd[first_fwd[r]..first_fwd[r + 1]]` are the edges of the node of rank r.
    pub first_fwd: Vec<u32>,
    pub bwd: Vec<ChEdge>,
    pub first_bwd: Vec<u32>,
}

/// `fast_paths::FastGraph`'s serde form, field for field.
#[derive(Deserialize)]
struct FpGraph {
    num_nodes: usize,
    ranks: Vec<usize>,
    edges_fwd: Vec<FpEdge>,
    first_edge_ids_fwd: Vec<usize>,
    edges_bwd: Vec<FpEdge>,
    first_edge_ids_bwd: Vec<usize>,
}

#[derive(Deserialize)]
struct FpEdge {
    base_node: usize,
    adj_node: usize,
    weight: usize,
    replaced_in_edge: usize,
    replaced_out_edge: usize,
}

fn narrow(x: usize) -> Result<u32, BuildError> {
    if x == usize::MAX {
        return Ok(NO_EDGE);
    }
    u32::try_from(x)
        .ok()
        .filter(|&v| v != NO_EDGE)
        .ok_or(BuildError::TooLarge)
}

fn narrow_all(xs: &[usize]) -> Result<Vec<u32>, BuildError> {
    xs.iter().map(|&x| narrow(x)).collect()
}

fn edges(fp: &[FpEdge]) -> Result<Vec<ChEdge>, BuildError> {
    fp.iter()
        .map(|e| {
            Ok(ChEdge {
                base: narrow(e.base_node)?,
                adj: narrow(e.adj_node)?,
                time_ms: u32::try_from(e.weight).map_err(|_| BuildError::TooLarge)?,
                dist_mm: 0,
                replaced_in: narrow(e.replaced_in_edge)?,
                replaced_out: narrow(e.replaced_out_edge)?,
            })
        })
        .collect()
}

impl Hierarchy {
    /// Contracts `graph` (travel time as the weight) and fills in the lengths.
    pub fn build(graph: &RoadGraph) -> Result<Hierarchy, BuildError> {
        if graph.edges.is_empty() {
            return Err(BuildError::NoRoads);
        }
        let mut input = fast_paths::InputGraph::new();
        for e in &graph.edges {
            input.add_edge(e.from as usize, e.to as usize, e.time_ms as usize);
        }
        input.freeze();
        let fast = fast_paths::prepare(&input);
        let config = bincode::config::standard();
        let fail = |e: &dyn std::fmt::Display| BuildError::Hierarchy(e.to_string());
        let bytes = bincode::serde::encode_to_vec(&fast, config).map_err(|e| fail(&e))?;
        let (fp, _): (FpGraph, _) =
            bincode::serde::decode_from_slice(&bytes, config).map_err(|e| fail(&e))?;
        if fp.num_nodes != graph.num_nodes() || fp.ranks.len() != fp.num_nodes {
            return Err(fail(&"fast_paths returned a graph of another size"));
        }
        let mut h = Hierarchy {
            rank: narrow_all(&fp.ranks)?,
            fwd: edges(&fp.edges_fwd)?,
            first_fwd: narrow_all(&fp.first_edge_ids_fwd)?,
            bwd: edges(&fp.edges_bwd)?,
            first_bwd: narrow_all(&fp.first_edge_ids_bwd)?,
        };
        h.fill_lengths(graph);
        Ok(h)
    }

    pub fn num_nodes(&self) -> usize {
        self.rank.len()
    }

    /// Upward edges of `node` in the forward graph.
    #[inline]
    pub fn up_fwd(&self, node: u32) -> &[ChEdge] {
        let r = self.rank[node as usize] as usize;
        &self.fwd[self.first_fwd[r] as usize..self.first_fwd[r + 1] as usize]
    }

    /// Upward edges of `node` in the backward graph.
    #[inline]
    pub fn up_bwd(&self, node: u32) -> &[ChEdge] {
        let r = self.rank[node as usize] as usize;
        &self.bwd[self.first_bwd[r] as usize..self.first_bwd[r + 1] as usize]
    }

    /// Original edges get the graph's length, shortcuts the sum of what they replace
    /// (an explicit stack: shortcuts nest deeply).
    fn fill_lengths(&mut self, graph: &RoadGraph) {
        let original =
            |from: u32, to: u32| graph.edge(from, to).map_or(0, |e| u64::from(e.dist_mm));
        let mut done_fwd = vec![false; self.fwd.len()];
        let mut done_bwd = vec![false; self.bwd.len()];
        // (is forward, edge id)
        let mut stack: Vec<(bool, u32)> = Vec::new();
        let roots = (0..self.fwd.len())
            .map(|i| (true, i))
            .chain((0..self.bwd.len()).map(|i| (false, i)));
        for (is_fwd, i) in roots {
            stack.push((is_fwd, i as u32));
            while let Some(&(f, id)) = stack.last() {
                let (e, done) = if f {
                    (self.fwd[id as usize], done_fwd[id as usize])
                } else {
                    (self.bwd[id as usize], done_bwd[id as usize])
                };
                if done {
                    stack.pop();
                    continue;
                }
                let dist = if !e.is_shortcut() {
                    Some(if f {
                        original(e.base, e.adj)
                    } else {
                        original(e.adj, e.base)
                    })
                } else {
                    let (a, b) = (e.replaced_in as usize, e.replaced_out as usize);
                    match (done_bwd[a], done_fwd[b]) {
                        (true, true) => Some(self.bwd[a].dist_mm + self.fwd[b].dist_mm),
                        (da, db) => {
                            if !da {
                                stack.push((false, a as u32));
                            }
                            if !db {
                                stack.push((true, b as u32));
                            }
                            None
                        }
                    }
                };
                if let Some(d) = dist {
                    stack.pop();
                    if f {
                        self.fwd[id as usize].dist_mm = d;
                        done_fwd[id as usize] = true;
                    } else {
                        self.bwd[id as usize].dist_mm = d;
                        done_bwd[id as usize] = true;
                    }
                }
            }
        }
    }

    /// Appends the original nodes of forward edge `id`, from its tail, excluding its
    /// head (the caller pushes the path's last node).
    pub fn unpack_fwd(&self, id: u32, out: &mut Vec<u32>) {
        self.unpack(true, id, out);
    }

    /// As [`Hierarchy::unpack_fwd`] for a backward edge (tail = `adj`).
    pub fn unpack_bwd(&self, id: u32, out: &mut Vec<u32>) {
        self.unpack(false, id, out);
    }

    fn unpack(&self, is_fwd: bool, id: u32, out: &mut Vec<u32>) {
        let mut stack = vec![(is_fwd, id)];
        while let Some((f, id)) = stack.pop() {
            let e = if f {
                self.fwd[id as usize]
            } else {
                self.bwd[id as usize]
            };
            if !e.is_shortcut() {
                out.push(if f { e.base } else { e.adj });
                continue;
            }
            // tail part first: the bwd edge u → v, then the fwd edge v → w
            stack.push((true, e.replaced_out));
            stack.push((false, e.replaced_in));
        }
    }
}
