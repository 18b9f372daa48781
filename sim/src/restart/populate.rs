//! Writes a data dir for `restart`: M registered drivers with a stored position and
//! status, N orders (closed ones delivered, open ones either on an available driver's
//! route or pending in their pickup region), through the storage crate's real
//! `SledStore` (opened and verified as the engine opens it), then closes it cleanly.
//! A small sidecar file names a few drivers and where they are, so a later run on the
//! same data dir can check that `nearest` finds them.

use crate::common::{now_ms, random_trip, Area};
use anyhow::Context;
use dispatch_storage::{
    Changes, DriverRecord, DriverStateRecord, DriverStatusRecord, EventKind, EventRecord,
    OrderRecord, OrderStatusRecord, RouteRecord, RouteStopRecord, StatusChangeRecord,
    StopKindRecord, StopRecord, Store,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// The sidecar in the data dir: drivers to look for, and the area everything is in.
pub const SAMPLE_FILE: &str = "restart-sample.json";

/// Records written per store call (one sled batch or transaction each).
const BATCH: usize = 2_000;

/// What to write.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub drivers: usize,
    pub orders: usize,
    pub open_orders: usize,
    /// Of the open orders, pending ones (in their pickup region's queue); the others
    /// are spread over the available drivers' routes.
    pub pending: usize,
    pub seed: u64,
}

/// A driver the measurement looks for with `nearest` (status any, at its position).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampleDriver {
    pub id: String,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    pub drivers: Vec<SampleDriver>,
    /// Where orders are posted and `nearest` asked: the centre of the area.
    pub centre: (f64, f64),
    pub shape: String,
}

/// The metro the data lives in: about 45 × 55 km (9 × 16 region cells of 0.05°).
pub const METRO: Area = Area {
    min_lat: 51.30,
    max_lat: 51.75,
    min_lon: -0.55,
    max_lon: 0.25,
};

/// Creates the store in `data_dir` (which must hold none yet) and writes `shape`.
pub fn populate(data_dir: &Path, shape: Shape) -> anyhow::Result<Sample> {
    if shape.open_orders > shape.orders || shape.pending > shape.open_orders {
        anyhow::bail!("want --pending <= --open-orders <= --orders");
    }
    let started = Instant::now();
    std::fs::create_dir_all(data_dir)?;
    let store = dispatch_engine::data_dir::open_store(data_dir, 64)?;
    let mut rng = StdRng::seed_from_u64(shape.seed);
    let now = now_ms();
    let drivers = write_drivers(&store, &mut rng, shape.drivers, now)?;
    eprintln!(
        "populate: {} drivers in {:.1} s",
        drivers.len(),
        started.elapsed().as_secs_f64()
    );
    write_orders(&store, &mut rng, &drivers, shape, now)?;
    store.flush()?;
    store.close()?;
    eprintln!(
        "populate: {} orders ({} open) in {:.1} s",
        shape.orders,
        shape.open_orders,
        started.elapsed().as_secs_f64()
    );
    let sample = Sample {
        drivers: drivers
            .iter()
            .step_by((drivers.len() / 8).max(1))
            .map(|d| SampleDriver {
                id: d.id.clone(),
                lat: d.at.0,
                lon: d.at.1,
            })
            .collect(),
        centre: (
            (METRO.min_lat + METRO.max_lat) / 2.0,
            (METRO.min_lon + METRO.max_lon) / 2.0,
        ),
        shape: format!(
            "{} drivers, {} orders ({} open: {} on routes, {} pending)",
            shape.drivers,
            shape.orders,
            shape.open_orders,
            shape.open_orders - shape.pending,
            shape.pending
        ),
    };
    std::fs::write(
        data_dir.join(SAMPLE_FILE),
        serde_json::to_vec_pretty(&sample)?,
    )?;
    Ok(sample)
}

/// Reads the sidecar a `populate` left in `data_dir`.
pub fn read_sample(data_dir: &Path) -> anyhow::Result<Sample> {
    let path = data_dir.join(SAMPLE_FILE);
    let text = std::fs::read(&path)
        .with_context(|| format!("{} (made by a run without --reuse)", path.display()))?;
    Ok(serde_json::from_slice(&text)?)
}

/// A written driver.
struct Written {
    id: String,
    at: (f64, f64),
    available: bool,
}

fn write_drivers(
    store: &dyn Store,
    rng: &mut StdRng,
    n: usize,
    now: u64,
) -> anyhow::Result<Vec<Written>> {
    let mut out = Vec::with_capacity(n);
    let mut states = Vec::with_capacity(BATCH);
    for i in 0..n {
        let id = format!("drv-{i:06}");
        store.put_driver(&DriverRecord {
            id: id.clone(),
            name: Some(format!("Driver {i}")),
            capacity: 10,
            created_ms: now - 86_400_000,
        })?;
        store.append_event(&EventRecord {
            at_ms: now - 86_400_000,
            kind: EventKind::DriverRegistered { id: id.clone() },
        })?;
        // 80 % available, 10 % on a break, 10 % offline.
        let status = match rng.random_range(0..10) {
            0 => DriverStatusRecord::Break,
            1 => DriverStatusRecord::Offline,
            _ => DriverStatusRecord::Available,
        };
        let at = METRO.random_point(rng);
        states.push((
            id.clone(),
            DriverStateRecord {
                lat: at.0,
                lon: at.1,
                ts_ms: now - 1_000,
                status,
                updated_ms: now - 1_000,
                has_position: true,
            },
        ));
        if states.len() == BATCH {
            store.put_driver_states(&states)?;
            states.clear();
        }
        out.push(Written {
            id,
            at,
            available: status == DriverStatusRecord::Available,
        });
    }
    store.put_driver_states(&states)?;
    Ok(out)
}

fn write_orders(
    store: &dyn Store,
    rng: &mut StdRng,
    drivers: &[Written],
    shape: Shape,
    now: u64,
) -> anyhow::Result<()> {
    let closed = shape.orders - shape.open_orders;
    let mut next = 0usize;
    let mut id = || {
        next += 1;
        format!("ord-{next:08}")
    };
    let mut changes = Changes::default();
    let flush = |changes: &mut Changes, force: bool| -> anyhow::Result<()> {
        if force || changes.orders.len() >= BATCH {
            store.apply(changes)?;
            *changes = Changes::default();
        }
        Ok(())
    };
    let busy: Vec<&Written> = drivers.iter().filter(|d| d.available).collect();
    let on_routes = if busy.is_empty() {
        0
    } else {
        shape.open_orders - shape.pending
    };
    for (i, d) in busy.iter().enumerate() {
        // An even share each, the first ones one more.
        let n = on_routes / busy.len() + usize::from(i < on_routes % busy.len());
        if n == 0 {
            break;
        }
        let mut stops = Vec::new();
        for _ in 0..n {
            let o = order(id(), rng, now, Some(&d.id));
            stops.push(stop(&o, StopKindRecord::Pickup, &o.pickup, now));
            stops.push(stop(&o, StopKindRecord::Dropoff, &o.dropoff, now));
            changes.orders.push(o);
        }
        changes
            .routes
            .push((d.id.clone(), RouteRecord { version: 1, stops }));
        flush(&mut changes, false)?;
    }
    for _ in on_routes..shape.open_orders {
        changes.orders.push(order(id(), rng, now, None));
        flush(&mut changes, false)?;
    }
    for i in 0..closed {
        let driver = &drivers[i % drivers.len().max(1)].id;
        let mut o = order(id(), rng, now - 3_600_000, Some(driver));
        close(&mut o, now);
        changes.orders.push(o);
        flush(&mut changes, false)?;
    }
    flush(&mut changes, true)
}

/// An open order: assigned to `driver` when given, else pending.
fn order(id: String, rng: &mut StdRng, created: u64, driver: Option<&str>) -> OrderRecord {
    let (p, d) = random_trip(rng, &METRO, 1_000.0, 6_000.0);
    let at = |lat: f64, lon: f64| StopRecord {
        lat,
        lon,
        ready_ms: None,
        due_ms: None,
        service_s: 60,
    };
    let mut history = vec![change(OrderStatusRecord::Pending, created)];
    let status = match driver {
        Some(_) => {
            history.push(change(OrderStatusRecord::Assigned, created + 500));
            OrderStatusRecord::Assigned
        }
        None => OrderStatusRecord::Pending,
    };
    OrderRecord {
        id,
        pickup: at(p.0, p.1),
        dropoff: at(d.0, d.1),
        size: 1,
        priority: 0,
        status,
        driver_id: driver.map(str::to_owned),
        pickup_eta_ms: driver.map(|_| created + 600_000),
        dropoff_eta_ms: driver.map(|_| created + 1_200_000),
        created_ms: created,
        history,
        details: Default::default(),
    }
}

fn close(o: &mut OrderRecord, now: u64) {
    o.status = OrderStatusRecord::Delivered;
    o.pickup_eta_ms = None;
    o.history
        .push(change(OrderStatusRecord::PickedUp, now - 3_000_000));
    o.history
        .push(change(OrderStatusRecord::Delivered, now - 2_400_000));
}

fn change(status: OrderStatusRecord, at_ms: u64) -> StatusChangeRecord {
    StatusChangeRecord {
        status,
        at_ms,
        reason: None,
        note: None,
    }
}

fn stop(o: &OrderRecord, kind: StopKindRecord, at: &StopRecord, now: u64) -> RouteStopRecord {
    let prefix = match kind {
        StopKindRecord::Pickup => "p",
        StopKindRecord::Dropoff => "d",
    };
    RouteStopRecord {
        stop_id: format!("{prefix}:{}", o.id),
        order_id: o.id.clone(),
        kind,
        lat: at.lat,
        lon: at.lon,
        eta_ms: now + 600_000,
        ready_ms: at.ready_ms,
        due_ms: at.due_ms,
        service_s: at.service_s,
        size: o.size,
    }
}
