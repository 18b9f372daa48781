//! Region index hot paths with 50k drivers: a position update (remove + insert at the
//! known point) and nearest-10, next to bare rstar doing the same work, so the ratio
//! is measured on the machine that runs it.

use criterion::{criterion_group, criterion_main, Criterion};
use dispatch_engine::core::region_index::{DriverPoint, RegionIndex, StatusFilter};
use dispatch_protocol::DriverStatus;
use rand::{Rng, SeedableRng};
use rstar::primitives::GeomWithData;
use rstar::RTree;
use std::hint::black_box;

const DRIVERS: usize = 50_000;

fn points(rng: &mut rand::rngs::StdRng) -> Vec<(f64, f64)> {
    (0..DRIVERS)
        .map(|_| {
            (
                rng.random_range(60.10..60.30),
                rng.random_range(24.70..25.20),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let pts = points(&mut rng);
    let ids: Vec<String> = (0..DRIVERS).map(|i| format!("driver-{i}")).collect();

    let mut index = RegionIndex::new(60.2, 24.95);
    for (id, (lat, lon)) in ids.iter().zip(&pts) {
        index.upsert(
            id,
            DriverPoint {
                lat: *lat,
                lon: *lon,
                status: DriverStatus::Available,
                ts_ms: 0,
            },
        );
    }
    let mut bare: RTree<GeomWithData<[f64; 2], u32>> = RTree::bulk_load(
        pts.iter()
            .enumerate()
            .map(|(i, (lat, lon))| GeomWithData::new([*lon * 55_600.0, *lat * 111_195.0], i as u32))
            .collect(),
    );
    let mut bare_pos: Vec<[f64; 2]> = pts
        .iter()
        .map(|(lat, lon)| [*lon * 55_600.0, *lat * 111_195.0])
        .collect();

    let mut g = c.benchmark_group("region_index");
    let mut i = 0usize;
    g.bench_function("update/index", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            let (lat, lon) = pts[(i * 31) % DRIVERS];
            // A fresh point every iteration, so no update is a no-op.
            let lat = lat + (i % 997) as f64 * 1e-6;
            let i = i % DRIVERS;
            index.upsert(
                &ids[i],
                DriverPoint {
                    lat,
                    lon,
                    status: DriverStatus::Available,
                    ts_ms: i as u64,
                },
            );
        })
    });
    let mut j = 0usize;
    g.bench_function("update/bare_rstar", |b| {
        b.iter(|| {
            j = j.wrapping_add(7919);
            let (lat, lon) = pts[(j * 31) % DRIVERS];
            let lat = lat + (j % 997) as f64 * 1e-6;
            let j = j % DRIVERS;
            let new = [lon * 55_600.0, lat * 111_195.0];
            bare.remove(&GeomWithData::new(bare_pos[j], j as u32));
            bare.insert(GeomWithData::new(new, j as u32));
            bare_pos[j] = new;
        })
    });
    let queries: Vec<(f64, f64)> = points(&mut rng).into_iter().take(1024).collect();
    let mut q = 0usize;
    g.bench_function("nearest10/index", |b| {
        b.iter(|| {
            q = (q + 1) % queries.len();
            let (lat, lon) = queries[q];
            black_box(index.nearest(
                lat,
                lon,
                10,
                StatusFilter::Only(DriverStatus::Available),
                None,
            ))
        })
    });
    let mut r = 0usize;
    g.bench_function("nearest10/bare_rstar", |b| {
        b.iter(|| {
            r = (r + 1) % queries.len();
            let (lat, lon) = queries[r];
            let p = [lon * 55_600.0, lat * 111_195.0];
            black_box(
                bare.nearest_neighbor_iter(&p)
                    .take(10)
                    .map(|n| n.data)
                    .collect::<Vec<_>>(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
