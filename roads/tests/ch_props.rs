//! The hierarchy answers as a plain Dijkstra on the uncontracted graph would, and the
//! bucket matrix as one-to-one queries would: on small random graphs.

use dispatch_roads::graph::{Edge, RoadGraph};
use dispatch_roads::hierarchy::Hierarchy;
use dispatch_roads::matrix::many_to_many;
use dispatch_roads::query::{Seed, Workspace};
use proptest::prelude::*;

fn seed(node: u32) -> Vec<Seed> {
    vec![Seed {
        node,
        time_ms: 0,
        dist_mm: 0,
    }]
}

/// A random graph made strongly connected by a two-way ring, plus random edges.
fn graph(n: u32, extra: &[(u32, u32, u32, u32)]) -> RoadGraph {
    let coords = (0..n).map(|i| [60.0, 24.0 + f64::from(i) * 1e-3]).collect();
    let mut edges = Vec::new();
    for i in 0..n {
        let j = (i + 1) % n;
        edges.push(Edge {
            from: i,
            to: j,
            time_ms: 1000 + i * 7,
            dist_mm: 9000 + i,
        });
        edges.push(Edge {
            from: j,
            to: i,
            time_ms: 1300 + i * 3,
            dist_mm: 9100 + i,
        });
    }
    for &(a, b, t, d) in extra {
        if a % n != b % n {
            edges.push(Edge {
                from: a % n,
                to: b % n,
                time_ms: t,
                dist_mm: d,
            });
        }
    }
    RoadGraph::from_edges(coords, edges).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn ch_equals_dijkstra_and_matrix_equals_one_to_one(
        n in 3u32..40,
        extra in prop::collection::vec((0u32..40, 0u32..40, 1u32..5000, 1u32..60000), 0..80),
        pairs in prop::collection::vec((0u32..40, 0u32..40), 1..20),
    ) {
        let g = graph(n, &extra);
        let h = Hierarchy::build(&g).unwrap();
        let mut ws = Workspace::new(&h);
        for &(a, b) in &pairs {
            let (a, b) = (a % n, b % n);
            let want = g.dijkstra(a, b).unwrap();
            let got = h.query(&mut ws, &seed(a), &seed(b)).unwrap();
            prop_assert_eq!(got.time_ms, want.0, "{} -> {}", a, b);
            let path = h.path(&ws, &got);
            prop_assert_eq!(path[0], a);
            prop_assert_eq!(*path.last().unwrap(), b);
            let (mut t, mut d) = (0u64, 0u64);
            for w in path.windows(2) {
                let e = g.edge(w[0], w[1]).expect("path follows edges");
                t += u64::from(e.time_ms);
                d += u64::from(e.dist_mm);
            }
            prop_assert_eq!(t, got.time_ms);
            prop_assert_eq!(d, got.dist_mm);
        }
        // the arrays taken from fast_paths answer as fast_paths itself does
        let mut input = fast_paths::InputGraph::new();
        for e in &g.edges {
            input.add_edge(e.from as usize, e.to as usize, e.time_ms as usize);
        }
        input.freeze();
        let fast = fast_paths::prepare(&input);
        for &(a, b) in &pairs {
            let (a, b) = (a % n, b % n);
            let theirs = fast_paths::calc_path(&fast, a as usize, b as usize).unwrap();
            let ours = h.query(&mut ws, &seed(a), &seed(b)).unwrap();
            prop_assert_eq!(ours.time_ms, theirs.get_weight() as u64);
        }
        let nodes: Vec<Vec<Seed>> = (0..n).map(seed).collect();
        let m = many_to_many(&h, &mut ws, &nodes, &nodes);
        for a in 0..n {
            for b in 0..n {
                let one = h.query(&mut ws, &seed(a), &seed(b)).unwrap();
                let cell = m[(a * n + b) as usize].unwrap();
                prop_assert_eq!(cell.0, one.time_ms, "{} -> {}", a, b);
            }
        }
    }
}
