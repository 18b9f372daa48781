//! Road network on the Helsinki test extract: snapping a point, a one-to-one route
//! between two points, a 100 × 100 matrix (bucket many-to-many), and loading the
//! prepared graph directory.

use criterion::{criterion_group, criterion_main, Criterion};
use dispatch_roads::{Answer, RoadNetwork};
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::path::PathBuf;

fn extract() -> PathBuf {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/osm/helsinki.osm.pbf");
    assert!(p.exists(), "test extract missing: {}", p.display());
    p
}

/// Points in the extract's bounding box that snap to a road.
fn points(net: &RoadNetwork, rng: &mut rand::rngs::StdRng, n: usize) -> Vec<[f64; 2]> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let p = [
            rng.random_range(60.1645..60.1785),
            rng.random_range(24.9356..24.9530),
        ];
        if net.snap(p).is_some() {
            out.push(p);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let (net, _) = RoadNetwork::build(&extract()).expect("helsinki builds");
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let pts = points(&net, &mut rng, 1000);

    let mut i = 0;
    c.bench_function("roads/snap", |b| {
        b.iter(|| {
            i = (i + 1) % pts.len();
            black_box(net.snap(pts[i]))
        })
    });
    c.bench_function("roads/one_to_one", |b| {
        b.iter(|| {
            i = (i + 1) % (pts.len() - 1);
            let answer = net.route(pts[i], pts[i + 1], false);
            debug_assert!(matches!(answer, Answer::Route(_)));
            black_box(answer)
        })
    });
    let hundred = &pts[..100];
    c.bench_function("roads/matrix_100x100", |b| {
        b.iter(|| black_box(net.matrix(black_box(hundred))))
    });
    let dir = std::env::temp_dir().join(format!("dispatch-roads-bench-{}", std::process::id()));
    net.save(&dir).expect("save");
    c.bench_function("roads/load", |b| {
        b.iter(|| black_box(RoadNetwork::load(&dir).expect("load")))
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
