//! Many-to-many on the hierarchy, the bucket algorithm (Knopp et al., 2007): a full
//! upward backward search from every target leaves (target, time, length) in a bucket
//! at every node it settles; a full upward forward search from every source scans the
//! buckets of the nodes it settles. Each pair's answer is the best meeting over both
//! search spaces — the same value a one-to-one query finds.

use crate::hierarchy::Hierarchy;
use crate::query::{Seed, Workspace};

/// One bucket entry: a target's backward search reached `node`.
#[derive(Clone, Copy, Debug)]
struct Entry {
    node: u32,
    target: u32,
    time_ms: u64,
    dist_mm: u64,
}

/// Fastest (time ms, length mm) from every source to every target, row-major by
/// source; `None` where a target cannot be reached (or an endpoint has no seed).
pub fn many_to_many(
    h: &Hierarchy,
    ws: &mut Workspace,
    sources: &[Vec<Seed>],
    targets: &[Vec<Seed>],
) -> Vec<Option<(u64, u64)>> {
    let buckets = fill_buckets(h, ws, targets);
    let nt = targets.len();
    let mut out = vec![None; sources.len() * nt];
    for (i, seeds) in sources.iter().enumerate() {
        let row = &mut out[i * nt..(i + 1) * nt];
        let mut best = vec![u64::MAX; nt];
        ws.fwd.start(seeds);
        while let Some((v, stalled)) = ws.fwd.settle_fwd(h) {
            if stalled {
                continue;
            }
            let (t, d) = (ws.fwd.time(v), ws.fwd.dist(v));
            let from = buckets.partition_point(|e| e.node < v);
            for e in buckets[from..].iter().take_while(|e| e.node == v) {
                let j = e.target as usize;
                let total = t + e.time_ms;
                if total < best[j] {
                    best[j] = total;
                    row[j] = Some((total, d + e.dist_mm));
                }
            }
        }
    }
    out
}

/// Every target's backward search space, sorted by node.
fn fill_buckets(h: &Hierarchy, ws: &mut Workspace, targets: &[Vec<Seed>]) -> Vec<Entry> {
    let mut buckets = Vec::new();
    for (j, seeds) in targets.iter().enumerate() {
        ws.bwd.start(seeds);
        while let Some((v, stalled)) = ws.bwd.settle_bwd(h) {
            if !stalled {
                buckets.push(Entry {
                    node: v,
                    target: j as u32,
                    time_ms: ws.bwd.time(v),
                    dist_mm: ws.bwd.dist(v),
                });
            }
        }
    }
    buckets.sort_unstable_by_key(|e| (e.node, e.target));
    buckets
}
