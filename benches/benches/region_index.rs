//! Region index hot paths with 50k drivers: a position update (remove + insert at the
//! known point) and nearest-10, next to bare rstar doing the same work, so the ratio
//! is measured on the machine that runs it. Then nearest-10 as `GET
//! /v1/drivers/nearest` reads it: 50k drivers in a 30 × 30 km box (peerbench's fleet)
//! over the 0.05° region cells that hold them, through `core::nearest` (ring search,
//! each region asked within the bound so far), next to the search it replaced (every
//! cell's distance computed and sorted, every region asked for its k nearest).

use criterion::{criterion_group, criterion_main, Criterion};
use dispatch_engine::core::grid::{Grid, RegionKey};
use dispatch_engine::core::nearest::{self, Query};
use dispatch_engine::core::region_index::{DriverPoint, Nearby, RegionIndex, StatusFilter};
use dispatch_protocol::DriverStatus;
use rand::{Rng, SeedableRng};
use rstar::primitives::GeomWithData;
use rstar::RTree;
use std::collections::HashMap;
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

/// Half the side of peerbench's box, in degrees, around 60.17 N, 24.94 E.
const BOX_DLAT: f64 = 15_000.0 / 111_320.0;
fn box_dlon() -> f64 {
    BOX_DLAT / 60.17f64.to_radians().cos()
}

fn box_point(rng: &mut rand::rngs::StdRng) -> (f64, f64) {
    (
        60.17 + rng.random_range(-1.0..1.0) * BOX_DLAT,
        24.94 + rng.random_range(-1.0..1.0) * box_dlon(),
    )
}

/// The search before `core::nearest`: every cell's lower-bound distance computed and
/// sorted, each region asked for its k nearest until the next cell is farther than
/// the k-th answer.
fn all_cells_nearest(
    grid: &Grid,
    cells: &HashMap<RegionKey, RegionIndex>,
    q: Query,
) -> Vec<Nearby> {
    let mut order: Vec<(f64, &RegionIndex)> = cells
        .iter()
        .map(|(key, index)| (grid.min_distance_m(*key, q.lat, q.lon), index))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut best: HashMap<String, Nearby> = HashMap::new();
    let mut kth = f64::INFINITY;
    for (min_d, index) in order {
        if best.len() >= q.k && min_d > kth {
            break;
        }
        for n in q.ask(index) {
            best.insert(n.id.clone(), n);
        }
        if best.len() >= q.k {
            let mut d: Vec<f64> = best.values().map(|n| n.distance_m).collect();
            d.sort_by(f64::total_cmp);
            kth = d[q.k - 1];
        }
    }
    let mut out: Vec<Nearby> = best.into_values().collect();
    out.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id)));
    out.truncate(q.k);
    out
}

fn bench_regions(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let grid = Grid::new(0.05);
    let mut cells: HashMap<RegionKey, RegionIndex> = HashMap::new();
    for i in 0..DRIVERS {
        let (lat, lon) = box_point(&mut rng);
        let key = grid.key(lat, lon);
        let (clat, clon) = grid.center(key);
        cells
            .entry(key)
            .or_insert_with(|| RegionIndex::new(clat, clon))
            .upsert(
                &format!("d{i:06}"),
                DriverPoint {
                    lat,
                    lon,
                    status: DriverStatus::Available,
                    ts_ms: 0,
                },
            );
    }
    let queries: Vec<Query> = (0..1024)
        .map(|_| {
            let (lat, lon) = box_point(&mut rng);
            Query {
                lat,
                lon,
                k: 10,
                filter: StatusFilter::Any,
                radius_m: None,
            }
        })
        .collect();
    // The one region a query in the middle of the box asks, alone (~760 drivers).
    let home = &cells[&grid.key(60.17, 24.94)];
    let mut g = c.benchmark_group("nearest10_50k_in_cells");
    let mut i = 0usize;
    g.bench_function("one_region_index", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            black_box(queries[i].ask(home))
        })
    });
    let mut i = 0usize;
    g.bench_function("search", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            black_box(nearest::nearest(&grid, &cells, queries[i]))
        })
    });
    let mut i = 0usize;
    g.bench_function("all_cells_before", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            black_box(all_cells_nearest(&grid, &cells, queries[i]))
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_regions);
criterion_main!(benches);
