//! The order operations behind `POST/GET /v1/orders…` and the console's
//! `create_order`/`cancel_order`: one implementation for both front ends.

use super::book::Owner;
use super::ledger::ChangeSet;
use super::model::{created, from_record, is_terminal, new_order_id, same_request, status_filter};
use crate::actors::driver::CancelOrder;
use crate::actors::region::CancelPending;
use crate::app::App;
use crate::error::ApiError;
use crate::telemetry;
use crate::time::now_ms;
use dispatch_protocol::validate::Validate;
use dispatch_protocol::{ErrorCode, NewOrder, Order, OrderStatus};
use std::sync::Arc;

/// Whether `create` made the order or found it from an earlier identical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Existing,
}

/// Validates, stores durably, then queues the order in its pickup region.
pub async fn create(app: &App, mut new: NewOrder) -> Result<(Created, Order), ApiError> {
    new.validate()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    for (name, s) in [("pickup", &new.pickup), ("dropoff", &new.dropoff)] {
        if let Err(why) = app.serves(s.lat, s.lon) {
            return Err(ApiError::new(
                ErrorCode::OutOfServiceArea,
                format!("{name} is {why}"),
            ));
        }
    }
    let max = app.drivers.max_capacity();
    if max > 0 && new.size > max {
        return Err(ApiError::invalid(format!(
            "size: {} exceeds the capacity of every driver (largest {max})",
            new.size
        )));
    }
    // Bounded, never queued without limit: 503 with Retry-After instead.
    if app.shared.book.len() >= app.config.limits.max_open_orders {
        telemetry::limited("open_orders");
        return Err(crate::net::limits::overloaded("too many open orders"));
    }
    let _write = app.guards.order_write()?;
    let now = now_ms();
    let id = new.id.take().unwrap_or_else(|| new_order_id(now));
    let _same_id = app.order_lock(&id).lock().await;
    // The store too, not only what is published: a creation whose flush failed still
    // holds the id.
    let existing = match app.shared.book.get(&id) {
        Some((o, _)) => Some((*o).clone()),
        None => stored(app, &id)?,
    };
    if let Some(existing) = existing {
        return if same_request(&existing, &new) {
            Ok((Created::Existing, existing))
        } else {
            Err(ApiError::new(
                ErrorCode::Conflict,
                format!("order {id} exists with other fields"),
            ))
        };
    }
    let order = Arc::new(created(id, new, now));
    let region = app.region_of(&order);
    let answer = Order::clone(&order);
    // Acknowledged means durable: the ledger publishes only after a flush covering
    // the write, and the answer comes after that. The region hears of the order as
    // soon as it is written (its batch window runs during the flush) but matches it
    // only once it is published. The book and the region's queue share the one `Arc`.
    let set = ChangeSet::orders(vec![(order.clone(), Some(Owner::Region(region)))]);
    let written = app.shared.ledger.write(set)?;
    let arrival = app.expect(region, order);
    tokio::spawn(arrival.settle(written))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("order creation: {e}")))??;
    metrics::counter!(telemetry::ORDERS_CREATED).increment(1);
    tracing::debug!(order = %answer.id, "order created");
    Ok((Created::New, answer))
}

/// The latest published state of an order: the book for open orders, the store for
/// finished ones. An open order the store holds but the book does not is a change not
/// yet durable and published (a creation in flight): not shown.
pub fn find(app: &App, id: &str) -> Result<Option<Order>, ApiError> {
    if let Some((o, _)) = app.shared.book.get(id) {
        return Ok(Some((*o).clone()));
    }
    Ok(stored(app, id)?.filter(|o| is_terminal(o.status)))
}

fn stored(app: &App, id: &str) -> Result<Option<Order>, ApiError> {
    Ok(app.store.get_order(id)?.map(|r| from_record(&r)))
}

/// Up to `limit` orders after the cursor, in id order; `next` when there may be more.
pub fn list(
    app: &App,
    status: Option<OrderStatus>,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<Order>, Option<String>), ApiError> {
    let rows = app
        .store
        .list_orders(after, limit, status.map(status_filter))?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    // Published states only (as `find`): open orders from the book (the freshest
    // ETAs too), finished ones from the store.
    let orders = rows
        .iter()
        .filter_map(|r| match app.shared.book.get(&r.id) {
            Some((o, _)) => status.is_none_or(|s| s == o.status).then(|| (*o).clone()),
            None => Some(from_record(r)).filter(|o| is_terminal(o.status)),
        })
        .collect();
    Ok((orders, next))
}

/// Cancels an order that is not picked up yet. Cancelling a cancelled order answers
/// it again; a picked-up or finished one is a conflict.
pub async fn cancel(app: &App, id: &str) -> Result<Order, ApiError> {
    let _write = app.guards.order_write()?;
    // The owner can change between the lookup and the ask (a proposal accepted, an
    // order given back); each hop follows it, and it settles within a few.
    for _ in 0..8 {
        let outcome = match app.shared.book.owner(id) {
            None => return finished(app, id),
            Some(Owner::Region(key)) => {
                let Some(region) = app.regions.get(key) else {
                    return Err(ApiError::internal("order region unavailable"));
                };
                region
                    .addr
                    .send(CancelPending { id: id.to_string() })
                    .await
                    .map_err(|_| ApiError::internal("region unavailable"))?
            }
            Some(Owner::Driver(driver)) => {
                let Some(handle) = app.drivers.get(&driver) else {
                    return Err(ApiError::internal("order driver unavailable"));
                };
                handle
                    .addr
                    .send(CancelOrder { id: id.to_string() })
                    .await
                    .map_err(|_| ApiError::internal("driver unavailable"))?
            }
        };
        match outcome {
            Ok(Some(order)) => return Ok(order),
            Ok(None) => continue,
            Err((code, message)) => return Err(ApiError::new(code, message)),
        }
    }
    Err(ApiError::new(
        ErrorCode::Overloaded,
        format!("order {id} is moving between owners; retry"),
    ))
}

/// Cancel of an order the book no longer holds: unknown, or finished.
fn finished(app: &App, id: &str) -> Result<Order, ApiError> {
    let Some(o) = stored(app, id)? else {
        return Err(ApiError::not_found(format!("order {id} not found")));
    };
    match o.status {
        OrderStatus::Cancelled => Ok(o),
        s if is_terminal(s) => Err(ApiError::new(
            ErrorCode::Conflict,
            format!("order {id} is already {}", status_name(s)),
        )),
        // Open in the store but not in the book: only between a create's write and
        // its enqueue; the caller may retry.
        _ => Err(ApiError::new(
            ErrorCode::Conflict,
            format!("order {id} is being created; retry"),
        )),
    }
}

fn status_name(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Pending => "pending",
        OrderStatus::Assigned => "assigned",
        OrderStatus::PickedUp => "picked up",
        OrderStatus::Delivered => "delivered",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Failed => "failed",
        OrderStatus::Unassignable => "unassignable",
    }
}
