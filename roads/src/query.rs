//! Searches on the hierarchy: the upward search both query kinds are made of, and the
//! one-to-one bidirectional query with its path.

use crate::hierarchy::{ChEdge, Hierarchy, NO_EDGE};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Where a search starts (or a backward search "starts" at a target): a node and the
/// time and length already spent to reach it (the partial edge from a snapped point).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seed {
    pub node: u32,
    pub time_ms: u64,
    pub dist_mm: u64,
}

/// One direction's labels, reset in O(1) by a generation stamp.
#[derive(Clone, Debug, Default)]
pub struct Side {
    stamp: Vec<u32>,
    generation: u32,
    time: Vec<u64>,
    dist: Vec<u64>,
    /// The edge the label came by (`NO_EDGE` at a seed) and whether the node is settled.
    via: Vec<u32>,
    settled: Vec<bool>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Side {
    fn new(n: usize) -> Side {
        Side {
            stamp: vec![0; n],
            generation: 0,
            time: vec![u64::MAX; n],
            dist: vec![0; n],
            via: vec![NO_EDGE; n],
            settled: vec![false; n],
            heap: BinaryHeap::new(),
        }
    }

    fn reset(&mut self) {
        self.heap.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.fill(0);
            self.generation = 1;
        }
    }

    #[inline]
    pub fn time(&self, v: u32) -> u64 {
        if self.stamp[v as usize] == self.generation {
            self.time[v as usize]
        } else {
            u64::MAX
        }
    }

    #[inline]
    pub fn dist(&self, v: u32) -> u64 {
        self.dist[v as usize]
    }

    fn relax(&mut self, v: u32, time: u64, dist: u64, via: u32) {
        let i = v as usize;
        if time < self.time(v) {
            self.stamp[i] = self.generation;
            self.time[i] = time;
            self.dist[i] = dist;
            self.via[i] = via;
            self.settled[i] = false;
            self.heap.push(Reverse((time, v)));
        }
    }

    /// Starts a search from `seeds`.
    pub fn start(&mut self, seeds: &[Seed]) {
        self.reset();
        for s in seeds {
            self.relax(s.node, s.time_ms, s.dist_mm, NO_EDGE);
        }
    }

    /// The smallest key still queued (`u64::MAX` when done).
    pub fn peek(&self) -> u64 {
        self.heap.peek().map_or(u64::MAX, |r| r.0 .0)
    }

    /// Settles the next node, relaxing its upward edges in `up`; `down` (the other
    /// direction's upward edges, i.e. this direction's downward ones) lets it stall a
    /// node reached more cheaply from above. Returns the node and whether it was
    /// stalled (its label then is not a shortest distance and must not be used).
    pub fn settle_next(
        &mut self,
        h: &Hierarchy,
        up: fn(&Hierarchy, u32) -> &[ChEdge],
        down: fn(&Hierarchy, u32) -> &[ChEdge],
        first: fn(&Hierarchy, u32) -> usize,
    ) -> Option<(u32, bool)> {
        while let Some(Reverse((t, v))) = self.heap.pop() {
            let i = v as usize;
            if self.settled[i] || t > self.time[i] {
                continue;
            }
            self.settled[i] = true;
            let stalled = down(h, v)
                .iter()
                .any(|e| self.time(e.adj).saturating_add(u64::from(e.time_ms)) < t);
            if stalled {
                return Some((v, true));
            }
            let d = self.dist[i];
            let base = first(h, v);
            for (k, e) in up(h, v).iter().enumerate() {
                let via = (base + k) as u32;
                self.relax(e.adj, t + u64::from(e.time_ms), d + e.dist_mm, via);
            }
            return Some((v, false));
        }
        None
    }
}

fn up_fwd(h: &Hierarchy, v: u32) -> &[ChEdge] {
    h.up_fwd(v)
}
fn up_bwd(h: &Hierarchy, v: u32) -> &[ChEdge] {
    h.up_bwd(v)
}
fn first_fwd(h: &Hierarchy, v: u32) -> usize {
    h.first_fwd[h.rank[v as usize] as usize] as usize
}
fn first_bwd(h: &Hierarchy, v: u32) -> usize {
    h.first_bwd[h.rank[v as usize] as usize] as usize
}

impl Side {
    /// Forward search step (upward edges of the forward graph).
    pub fn settle_fwd(&mut self, h: &Hierarchy) -> Option<(u32, bool)> {
        self.settle_next(h, up_fwd, up_bwd, first_fwd)
    }

    /// Backward search step (upward edges of the backward graph).
    pub fn settle_bwd(&mut self, h: &Hierarchy) -> Option<(u32, bool)> {
        self.settle_next(h, up_bwd, up_fwd, first_bwd)
    }
}

/// Reusable labels for one query at a time: allocate one per thread (or pool them).
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    pub fwd: Side,
    pub bwd: Side,
}

impl Workspace {
    pub fn new(h: &Hierarchy) -> Workspace {
        Workspace {
            fwd: Side::new(h.num_nodes()),
            bwd: Side::new(h.num_nodes()),
        }
    }
}

/// The fastest path found: its time, length and the node where both searches met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meeting {
    pub time_ms: u64,
    pub dist_mm: u64,
    pub node: u32,
}

impl Hierarchy {
    /// The fastest path from any source seed to any target seed (`None`: unreachable).
    pub fn query(&self, ws: &mut Workspace, sources: &[Seed], targets: &[Seed]) -> Option<Meeting> {
        ws.fwd.start(sources);
        ws.bwd.start(targets);
        let mut best: Option<Meeting> = None;
        let mut bound = u64::MAX;
        loop {
            let (pf, pb) = (ws.fwd.peek(), ws.bwd.peek());
            if pf.min(pb) >= bound {
                break;
            }
            let (settled, other) = if pf <= pb {
                (ws.fwd.settle_fwd(self), &ws.bwd)
            } else {
                (ws.bwd.settle_bwd(self), &ws.fwd)
            };
            let Some((v, false)) = settled else { continue };
            let this = if pf <= pb { &ws.fwd } else { &ws.bwd };
            let ot = other.time(v);
            if ot == u64::MAX {
                continue;
            }
            let total = this.time(v) + ot;
            if total < bound {
                bound = total;
                best = Some(Meeting {
                    time_ms: total,
                    dist_mm: this.dist(v) + other.dist(v),
                    node: v,
                });
            }
        }
        best
    }

    /// Node ids along the path of the last [`Hierarchy::query`] on `ws`, from the
    /// source seed to the target seed.
    pub fn path(&self, ws: &Workspace, meeting: &Meeting) -> Vec<u32> {
        let mut head = Vec::new();
        let mut v = meeting.node;
        while ws.fwd.via[v as usize] != NO_EDGE {
            let id = ws.fwd.via[v as usize];
            let mut part = Vec::new();
            self.unpack_fwd(id, &mut part);
            head.extend(part.into_iter().rev());
            v = self.fwd[id as usize].base;
        }
        head.reverse();
        let mut v = meeting.node;
        while ws.bwd.via[v as usize] != NO_EDGE {
            let id = ws.bwd.via[v as usize];
            self.unpack_bwd(id, &mut head);
            v = self.bwd[id as usize].base;
        }
        head.push(v);
        head
    }
}
