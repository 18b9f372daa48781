//! Helper of `benches/pgrouting/compare.sh`: reads pgRouting's vertices (`id,lon,lat`
//! CSV on stdin), keeps those that are nodes of this crate's graph (same coordinates)
//! and prints `pgr_source,pgr_target,our_seconds` for `N` random pairs (one-to-one
//! queries) or, with `matrix`, every ordered pair of `N` random vertices (one bucket
//! many-to-many).
//! Usage: `pgr_pairs EXTRACT.osm.pbf pairs|matrix N SEED < vertices.csv > pairs.csv`.

use dispatch_roads::matrix::many_to_many;
use dispatch_roads::query::{Seed, Workspace};
use dispatch_roads::RoadNetwork;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::io::BufRead;

fn key(lat: f64, lon: f64) -> (i64, i64) {
    ((lat * 1e7).round() as i64, (lon * 1e7).round() as i64)
}

fn seed(node: u32) -> Vec<Seed> {
    vec![Seed {
        node,
        time_ms: 0,
        dist_mm: 0,
    }]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (net, _) = RoadNetwork::build(args[1].as_ref()).expect("extract builds");
    let n: usize = args[3].parse().expect("N");
    let mut rng = rand::rngs::StdRng::seed_from_u64(args[4].parse().expect("SEED"));
    let ours: HashMap<(i64, i64), u32> = net
        .graph()
        .coords
        .iter()
        .enumerate()
        .map(|(i, c)| (key(c[0], c[1]), i as u32))
        .collect();
    let mut matched: Vec<(i64, u32)> = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let f: Vec<&str> = line.split(',').collect();
        let parsed = (
            f[0].parse::<i64>(),
            f[1].parse::<f64>(),
            f[2].parse::<f64>(),
        );
        let (Ok(id), Ok(lon), Ok(lat)) = parsed else {
            continue;
        };
        if let Some(&v) = ours.get(&key(lat, lon)) {
            matched.push((id, v));
        }
    }
    eprintln!(
        "{} pgRouting vertices are nodes of the graph",
        matched.len()
    );
    let mut ws = Workspace::new(net.hierarchy());
    let mut pick = || matched[rng.random_range(0..matched.len())];
    if args[2] == "matrix" {
        let pts: Vec<(i64, u32)> = (0..n).map(|_| pick()).collect();
        let seeds: Vec<Vec<Seed>> = pts.iter().map(|p| seed(p.1)).collect();
        let m = many_to_many(net.hierarchy(), &mut ws, &seeds, &seeds);
        for (i, a) in pts.iter().enumerate() {
            for (j, b) in pts.iter().enumerate() {
                let (t, _) = m[i * n + j].expect("one component");
                if a.0 != b.0 {
                    println!("{},{},{:.3}", a.0, b.0, t as f64 / 1000.0);
                }
            }
        }
        return;
    }
    for _ in 0..n {
        let (a, b) = (pick(), pick());
        let m = net
            .hierarchy()
            .query(&mut ws, &seed(a.1), &seed(b.1))
            .expect("one component");
        println!("{},{},{:.3}", a.0, b.0, m.time_ms as f64 / 1000.0);
    }
}
