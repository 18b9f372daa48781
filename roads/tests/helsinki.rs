//! The Helsinki test extract end to end: build, snap, route, matrix, save and load, and
//! the inputs that must fail cleanly.

use dispatch_roads::query::{Seed, Workspace};
use dispatch_roads::{Answer, BuildError, RoadNetwork, StoreError};
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;

fn extract() -> PathBuf {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/osm/helsinki.osm.pbf");
    assert!(
        p.exists(),
        "test extract missing: {} (the shared data folder beside the project root)",
        p.display()
    );
    p
}

fn network() -> &'static RoadNetwork {
    static NET: OnceLock<RoadNetwork> = OnceLock::new();
    NET.get_or_init(|| RoadNetwork::build(&extract()).expect("helsinki builds").0)
}

/// Inside the extract's bounding box (central Helsinki).
const LAT: (f64, f64) = (60.1645, 60.1785);
const LON: (f64, f64) = (24.9356, 24.9530);

fn seed(node: u32) -> Vec<Seed> {
    vec![Seed {
        node,
        time_ms: 0,
        dist_mm: 0,
    }]
}

#[test]
fn builds_a_connected_car_graph() {
    let (net, report) = RoadNetwork::build(&extract()).unwrap();
    assert!(report.stats.nodes > 1000, "{report:?}");
    assert!(report.stats.nodes <= report.stats.nodes_before_scc);
    assert_eq!(net.graph().num_nodes(), report.stats.nodes);
    let g = net.graph();
    for v in [0, g.num_nodes() as u32 / 2, g.num_nodes() as u32 - 1] {
        assert!(g.dijkstra(0, v).is_some() && g.dijkstra(v, 0).is_some());
    }
}

#[test]
fn oneway_streets_differ_by_direction() {
    let net = network();
    let g = net.graph();
    let oneway = g
        .edges
        .iter()
        .find(|e| g.edge(e.to, e.from).is_none() && e.dist_mm > 30_000);
    let e = oneway.expect("central Helsinki has one-way streets");
    let (a, b) = (g.coords[e.from as usize], g.coords[e.to as usize]);
    let (Answer::Route(ab), Answer::Route(ba)) = (net.route(a, b, false), net.route(b, a, false))
    else {
        panic!("both directions route");
    };
    assert!(
        (ab.distance_m - f64::from(e.dist_mm) / 1000.0).abs() < 0.01,
        "{ab:?} {e:?}"
    );
    assert!(ba.duration_s > ab.duration_s, "A→B {ab:?}, B→A {ba:?}");
}

#[test]
fn a_point_at_sea_is_off_the_network() {
    let net = network();
    let sea = [60.150, 24.960]; // south of the South Harbour, past the extract
    let town = [60.170, 24.941];
    assert_eq!(
        net.route(sea, town, false),
        Answer::OffNetwork { start: true }
    );
    assert_eq!(
        net.route(town, sea, false),
        Answer::OffNetwork { start: false }
    );
    assert_eq!(
        net.route([f64::NAN, 0.0], town, false),
        Answer::OffNetwork { start: true }
    );
    let m = net.matrix(&[sea, town]);
    assert_eq!(m, vec![None, None, None, Some((0.0, 0.0))]);
}

#[test]
fn route_geometry_runs_from_start_to_end() {
    let net = network();
    let (a, b) = ([60.1660, 24.9400], [60.1770, 24.9500]);
    let Answer::Route(r) = net.route(a, b, true) else {
        panic!("routes")
    };
    assert!(r.geometry.len() > 3 && r.distance_m > 1000.0, "{r:?}");
    let line = r.polyline();
    let back = dispatch_roads::polyline::decode(&line).unwrap();
    assert_eq!(back.len(), r.geometry.len());
    let sum: f64 = r
        .geometry
        .windows(2)
        .map(|w| dispatch_roads::graph::haversine_m(w[0], w[1]))
        .sum();
    assert!(
        (sum - r.distance_m).abs() < 1.0,
        "{sum} vs {}",
        r.distance_m
    );
}

#[test]
fn save_and_load_answer_the_same() {
    let net = network();
    let dir = tempfile::tempdir().unwrap();
    let file = net.save(dir.path()).unwrap();
    let t = std::time::Instant::now();
    let loaded = RoadNetwork::load(dir.path()).unwrap();
    eprintln!(
        "load of {} bytes took {:?}",
        std::fs::metadata(&file).unwrap().len(),
        t.elapsed()
    );
    let pts = [[60.1660, 24.9400], [60.1770, 24.9500], [60.1700, 24.9450]];
    assert_eq!(net.matrix(&pts), loaded.matrix(&pts));
}

#[test]
fn damaged_graph_files_are_errors() {
    let net = network();
    let dir = tempfile::tempdir().unwrap();
    let file = net.save(dir.path()).unwrap();
    let good = std::fs::read(&file).unwrap();
    let load = |bytes: &[u8]| {
        std::fs::write(&file, bytes).unwrap();
        RoadNetwork::load(dir.path()).err().expect("load fails")
    };
    assert!(matches!(
        load(&good[..good.len() / 2]),
        StoreError::Truncated { .. }
    ));
    assert!(matches!(load(&good[..30]), StoreError::Truncated { .. }));
    assert!(matches!(load(&good[..5]), StoreError::BadMagic { .. }));
    assert!(matches!(
        load(b"hello, not a graph"),
        StoreError::BadMagic { .. }
    ));
    let mut flipped = good.clone();
    let at = flipped.len() - 100;
    flipped[at] ^= 0x40;
    assert!(matches!(load(&flipped), StoreError::Checksum { .. }));
    let mut newer = good.clone();
    newer[8] = 99;
    assert!(matches!(
        load(&newer),
        StoreError::Version { found: 99, .. }
    ));
    let missing = RoadNetwork::load(&dir.path().join("nowhere"))
        .err()
        .unwrap();
    assert!(matches!(missing, StoreError::Io { .. }), "{missing}");
}

#[test]
fn bad_extracts_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = RoadNetwork::build(&dir.path().join("none.osm.pbf"))
        .err()
        .unwrap();
    assert!(matches!(missing, BuildError::Open { .. }), "{missing}");
    let bytes = std::fs::read(extract()).unwrap();
    let cut = dir.path().join("cut.osm.pbf");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let err = RoadNetwork::build(&cut).err().unwrap();
    assert!(matches!(err, BuildError::Pbf { .. }), "{err}");
    let text = dir.path().join("text.osm.pbf");
    std::fs::write(&text, b"<osm version=\"0.6\"></osm>\n".repeat(50)).unwrap();
    let err = RoadNetwork::build(&text).err().unwrap();
    assert!(matches!(err, BuildError::Pbf { .. }), "{err}");
    let empty = dir.path().join("empty.osm.pbf");
    std::fs::write(&empty, b"").unwrap();
    let err = RoadNetwork::build(&empty).err().unwrap();
    assert!(
        matches!(err, BuildError::NoRoads | BuildError::Pbf { .. }),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn ch_equals_dijkstra_on_helsinki(a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let net = network();
        let n = net.graph().num_nodes();
        let (a, b) = (a.index(n) as u32, b.index(n) as u32);
        let mut ws = Workspace::new(net.hierarchy());
        let got = net.hierarchy().query(&mut ws, &seed(a), &seed(b)).unwrap();
        let want = net.graph().dijkstra(a, b).unwrap();
        prop_assert_eq!(got.time_ms, want.0);
    }

    #[test]
    fn matrix_equals_one_to_one(pts in prop::collection::vec((LAT.0..LAT.1, LON.0..LON.1), 2..8)) {
        let net = network();
        let pts: Vec<[f64; 2]> = pts.into_iter().map(|(a, b)| [a, b]).collect();
        let m = net.matrix(&pts);
        for (i, &a) in pts.iter().enumerate() {
            for (j, &b) in pts.iter().enumerate() {
                let cell = m[i * pts.len() + j];
                match net.route(a, b, false) {
                    Answer::Route(r) if i != j => {
                        let (t, _) = cell.expect("routable");
                        prop_assert!((t - r.duration_s).abs() < 1e-9, "{} {} {:?} {:?}", i, j, cell, r);
                    }
                    Answer::Route(_) => prop_assert_eq!(cell, Some((0.0, 0.0))),
                    other => prop_assert!(cell.is_none(), "{:?} {:?}", other, cell),
                }
            }
        }
    }
}
