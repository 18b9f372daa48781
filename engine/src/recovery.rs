//! Recovery at start, while the listener already answers `/healthz` and `/readyz`
//! (503) and the API refuses with 503 (`readiness`): every stored driver gets its
//! actor back with its last persisted position, status and route and re-enters its
//! region's index; open orders go back to the route that holds them, or to their
//! pickup region's queue. Then the engine is ready.
//!
//! In bulk, because a metro's restart is 50,000 drivers and 200,000 open orders: the
//! records come from the verification at open (`Store::load_recovery`, no second
//! read), the order book is filled under one lock, each region gets its queue in one
//! message, and recovery waits for every driver actor to have started (a semaphore
//! each one releases) instead of assuming it.

use crate::actors::driver::{stops_from_record, DriverInit, PositionReport};
use crate::actors::region::EnqueueAll;
use crate::app::App;
use crate::core::grid::RegionKey;
use crate::orders::book::Owner;
use crate::orders::ledger::ChangeSet;
use crate::orders::model::{into_order, set_status};
use crate::persist::status_from_record;
use crate::readiness::Phase;
use crate::telemetry;
use crate::time::now_ms;
use dispatch_protocol::{DriverStatus, Order, OrderStatus};
use dispatch_storage::{DriverSnapshot, OrderRecord, RouteRecord, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// What recovery restored.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recovered {
    pub drivers: usize,
    pub open_orders: usize,
}

/// Drivers to start, orders to put in the book, and orders for the region queues.
struct Plan {
    drivers: Vec<DriverInit>,
    in_book: Vec<(Arc<Order>, Owner)>,
    queue: Vec<Order>,
}

/// Restores drivers and open orders (module docs), reporting progress on
/// `app.readiness`; the caller marks the engine ready once it returns `Ok`.
pub async fn recover(app: &Arc<App>) -> Result<Recovered, StoreError> {
    let readiness = &app.readiness;
    let started = Instant::now();
    readiness.enter(Phase::Loading);
    let store = app.store.clone();
    let data = tokio::task::spawn_blocking(move || {
        // Holds recovery here (`pause`) for the readiness tests.
        fail::fail_point!("recovery::load");
        store.load_recovery()
    })
    .await
    .map_err(|e| StoreError::Io(format!("recovery load task: {e}")))??;
    let found = Recovered {
        drivers: data.drivers.len(),
        open_orders: data.open_orders.len(),
    };
    readiness.found(found.drivers as u64, found.open_orders as u64);
    let at = phase_done("load", started, &found);

    readiness.enter(Phase::RestoringDrivers);
    let plan =
        tokio::task::spawn_blocking(move || plan(data.drivers, data.routes, data.open_orders))
            .await
            .map_err(|e| StoreError::Io(format!("recovery plan task: {e}")))?;
    let on_routes = plan.in_book.len() as u64;
    tracing::debug!(took_ms = at.elapsed().as_millis(), "recovery planned");
    app.shared.ledger.restore_all(plan.in_book);
    tracing::debug!(took_ms = at.elapsed().as_millis(), "order book restored");
    start_drivers(app, plan.drivers).await;
    readiness.orders_restored(on_routes);
    let at = phase_done("drivers", at, &found);

    readiness.enter(Phase::QueueingOrders);
    requeue(app, plan.queue).await?;
    phase_done("orders", at, &found);
    phase_done("total", started, &found);
    Ok(found)
}

/// Logs and records a phase's duration; returns now.
fn phase_done(phase: &'static str, since: Instant, found: &Recovered) -> Instant {
    let took = since.elapsed();
    metrics::gauge!(telemetry::RECOVERY_SECONDS, "phase" => phase).set(took.as_secs_f64());
    tracing::info!(
        phase,
        took_ms = took.as_millis(),
        drivers = found.drivers,
        open_orders = found.open_orders,
        "recovery phase done"
    );
    Instant::now()
}

/// Each driver's start (status, position, the route's stops whose order is still open
/// and held by it), the orders on routes (owned by their driver), and the rest of the
/// open orders for their regions' queues, in id order.
fn plan(
    drivers: Vec<DriverSnapshot>,
    routes: Vec<(String, RouteRecord)>,
    open_orders: Vec<OrderRecord>,
) -> Plan {
    let mut routes: HashMap<String, RouteRecord> = routes.into_iter().collect();
    // Open orders by the driver they name: only that driver's route may hold them.
    let mut held: HashMap<String, Vec<Order>> = HashMap::new();
    let mut queue = Vec::new();
    for o in open_orders.into_iter().map(into_order) {
        match &o.driver_id {
            Some(d) => held.entry(d.clone()).or_default().push(o),
            None => queue.push(o),
        }
    }
    let mut plan = Plan {
        drivers: Vec::with_capacity(drivers.len()),
        in_book: Vec::new(),
        queue: Vec::new(),
    };
    for snapshot in drivers {
        let mut init = driver_init(snapshot);
        let route = routes.remove(&init.record.id);
        let mine = held.remove(&init.record.id);
        if let Some(route) = route {
            let (orders, left) = take_route(&mut init, &route, mine.unwrap_or_default());
            let me: Arc<str> = Arc::from(init.record.id.as_str());
            plan.in_book.extend(
                orders
                    .iter()
                    .map(|o| (Arc::new(o.clone()), Owner::Driver(me.clone()))),
            );
            init.orders = orders;
            queue.extend(left);
        } else {
            queue.extend(mine.into_iter().flatten());
        }
        plan.drivers.push(init);
    }
    queue.extend(held.into_values().flatten());
    queue.sort_by(|a, b| a.id.cmp(&b.id));
    plan.queue = queue;
    plan
}

/// A driver as stored: status and position from its last state (offline and nowhere
/// without one).
fn driver_init(DriverSnapshot { driver, state }: DriverSnapshot) -> DriverInit {
    let (status, position, updated_ms) = match state {
        Some(s) => (
            status_from_record(s.status),
            s.has_position.then_some(PositionReport {
                lat: s.lat,
                lon: s.lon,
                ts_ms: s.ts_ms,
            }),
            s.updated_ms,
        ),
        None => (DriverStatus::Offline, None, driver.created_ms),
    };
    let mut init = DriverInit::new(driver, status, updated_ms);
    init.position = position;
    init
}

/// Sets `init`'s route from the stored one, keeping only stops whose order is among
/// `mine` (still open, and naming this driver). Returns the orders on the route, in
/// stop order, and the rest of `mine`.
fn take_route(
    init: &mut DriverInit,
    route: &RouteRecord,
    mut mine: Vec<Order>,
) -> (Vec<Order>, Vec<Order>) {
    let stops: Vec<_> = stops_from_record(route)
        .into_iter()
        .filter(|s| mine.iter().any(|o| o.id == *s.order_id))
        .collect();
    let mut orders: Vec<Order> = Vec::new();
    for s in &stops {
        if let Some(i) = mine.iter().position(|o| o.id == *s.order_id) {
            orders.push(mine.swap_remove(i));
        }
    }
    init.route_version = route.version;
    init.stops = stops;
    (orders, mine)
}

/// Starts every driver's actor and waits until each one exists and has offered its
/// position to its region (it releases one permit of `started` then).
async fn start_drivers(app: &App, drivers: Vec<DriverInit>) {
    let n = drivers.len();
    let started = Arc::new(tokio::sync::Semaphore::new(0));
    app.readiness.watch_drivers(started.clone());
    app.drivers.reserve(n);
    for mut init in drivers {
        init.started = Some(started.clone());
        app.spawn_driver(init);
    }
    tracing::debug!(drivers = n, "driver actors spawned");
    // `n` is below `limits.max_drivers` (at most 10^7), far below u32::MAX.
    let want = u32::try_from(n).unwrap_or(u32::MAX);
    // Given back at once, so `/readyz` keeps counting them.
    let all = started.acquire_many(want).await;
    drop(all);
}

/// Orders on no driver's route go to their regions' queues: pending and unassignable
/// ones as they are, assigned ones (should a route have been lost) back to pending,
/// written through the ledger first. One message per region, awaited. The book and
/// the queues share each order's `Arc`.
async fn requeue(app: &App, rest: Vec<Order>) -> Result<(), StoreError> {
    let now = now_ms();
    let mut changed = Vec::new();
    let mut in_book = Vec::new();
    let mut queued = Vec::with_capacity(rest.len());
    for mut o in rest {
        let region = Owner::Region(app.region_of(&o));
        let back = matches!(o.status, OrderStatus::Assigned | OrderStatus::PickedUp);
        if back {
            set_status(
                &mut o,
                OrderStatus::Pending,
                now,
                Some("recovered without a route"),
            );
            o.driver_id = None;
        }
        let o = Arc::new(o);
        match back {
            true => changed.push((o.clone(), Some(region))),
            false => in_book.push((o.clone(), region)),
        }
        queued.push(o);
    }
    app.shared.ledger.restore_all(in_book);
    if let Some((first, _)) = changed.first() {
        tracing::warn!(orders = changed.len(), first = %first.id, "open orders on no stored route: re-queued");
        let set = ChangeSet::orders(changed);
        app.shared.ledger.write(set)?.publish().await?;
    }
    let mut by_region: HashMap<RegionKey, Vec<Arc<Order>>> = HashMap::new();
    for o in queued {
        by_region.entry(app.region_of(&o)).or_default().push(o);
    }
    let sends = by_region.into_iter().map(|(key, orders)| {
        let n = orders.len() as u64;
        let region = app.regions.get_or_create(key);
        async move {
            // A region that stopped would be a bug elsewhere; its orders stay in the
            // book and the store.
            let _ = region.addr.send(EnqueueAll(orders)).await;
            app.readiness.orders_restored(n);
        }
    });
    futures_util::future::join_all(sends).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dispatch_storage::{
        DriverRecord, OrderStatusRecord, RouteStopRecord, StatusChangeRecord, StopKindRecord,
        StopRecord,
    };

    fn order(id: &str, driver: Option<&str>) -> OrderRecord {
        let at = StopRecord {
            lat: 60.1,
            lon: 24.9,
            ready_ms: None,
            due_ms: None,
            service_s: 60,
        };
        let status = match driver {
            Some(_) => OrderStatusRecord::Assigned,
            None => OrderStatusRecord::Pending,
        };
        OrderRecord {
            id: id.into(),
            pickup: at,
            dropoff: at,
            size: 1,
            priority: 0,
            status,
            driver_id: driver.map(str::to_owned),
            pickup_eta_ms: None,
            dropoff_eta_ms: None,
            created_ms: 1,
            history: vec![StatusChangeRecord {
                status,
                at_ms: 1,
                reason: None,
                note: None,
            }],
            details: Default::default(),
        }
    }

    fn route(orders: &[&str]) -> RouteRecord {
        let stop = |o: &&str, kind| RouteStopRecord {
            stop_id: format!("x:{o}"),
            order_id: (*o).into(),
            kind,
            lat: 60.1,
            lon: 24.9,
            eta_ms: 2,
            ready_ms: None,
            due_ms: None,
            service_s: 60,
            size: 1,
        };
        RouteRecord {
            version: 7,
            stops: orders
                .iter()
                .flat_map(|o| {
                    [
                        stop(o, StopKindRecord::Pickup),
                        stop(o, StopKindRecord::Dropoff),
                    ]
                })
                .collect(),
        }
    }

    fn driver(id: &str) -> DriverSnapshot {
        DriverSnapshot {
            driver: DriverRecord {
                id: id.into(),
                name: None,
                capacity: 4,
                created_ms: 1,
            },
            state: None,
        }
    }

    #[test]
    fn a_route_keeps_only_open_orders_naming_its_driver_and_the_rest_queue() {
        let plan = plan(
            vec![driver("a"), driver("b")],
            vec![
                ("a".into(), route(&["o1", "o2", "gone"])),
                ("z".into(), route(&["o5"])),
            ],
            vec![
                order("o6", None),
                order("o1", Some("a")),
                order("o2", Some("b")),
                order("o3", Some("a")),
                order("o4", Some("b")),
                order("o5", Some("z")),
            ],
        );
        let a = &plan.drivers[0];
        let on_a: Vec<&str> = a.stops.iter().map(|s| &*s.order_id).collect();
        assert_eq!((on_a, a.route_version), (vec!["o1", "o1"], 7));
        assert_eq!(a.orders.len(), 1);
        assert!(plan.drivers[1].stops.is_empty());
        let owners: Vec<_> = plan.in_book.iter().map(|(o, w)| (&*o.id, w)).collect();
        assert_eq!(owners, [("o1", &Owner::Driver("a".into()))]);
        let queued: Vec<&str> = plan.queue.iter().map(|o| &*o.id).collect();
        assert_eq!(queued, ["o2", "o3", "o4", "o5", "o6"]);
    }
}
