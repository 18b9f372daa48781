//! `/ws/console`: a dispatch console. `subscribe` answers a `snapshot` of the fleet (in
//! the optional box), then `drivers` batches at most every `console.batch_ms`. The
//! console reads a shared broadcast feed; when it falls behind it skips ahead and the
//! next batch says how many batches it missed (`dropped`), so it is never waited on.

use super::actions;
use super::ws::{Conn, Incoming};
use crate::actors::region::update_in_bbox;
use crate::app::App;
use crate::auth::{Claims, Principal, Refusal};
use crate::orders::book::order_in_bbox;
use crate::telemetry;
use dispatch_protocol::{
    ConsoleMessage, DriverProfile, DriverUpdate, ErrorCode, Order, ServerMessage,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Feed = broadcast::Receiver<Arc<Vec<DriverUpdate>>>;

/// Who may open the socket: any console token (a viewer reads; what it may change
/// is checked per message).
pub fn authorize(who: Result<Claims, Refusal>) -> Result<Claims, (ErrorCode, String)> {
    let claims = who.map_err(|why| (ErrorCode::Unauthenticated, why.message().to_string()))?;
    match claims.principal {
        Principal::Driver(_) => Err((
            ErrorCode::PermissionDenied,
            "/ws/console needs a console token".into(),
        )),
        Principal::Console(_) => Ok(claims),
    }
}

struct Watch {
    feed: Feed,
    /// Order changes, sent as they happen (not batched).
    orders: broadcast::Receiver<Arc<Order>>,
    bbox: Option<[f64; 4]>,
    /// Changes since the last batch, latest per driver.
    pending: HashMap<String, DriverUpdate>,
    /// Feed batches missed since the last batch sent.
    dropped: u64,
    /// Drivers whose `driver_info` this connection has sent (kept across subscribes).
    described: HashSet<String>,
}

pub async fn run(app: Arc<App>, mut conn: Conn, auth: Result<Claims, (ErrorCode, String)>) {
    let who = match auth {
        Ok(who) => who,
        Err((code, message)) => {
            conn.fail(code, &message, CloseCode::Policy).await;
            return;
        }
    };
    let mut watch: Option<Watch> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(app.config.console.batch_ms));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stats_tick = tokio::time::interval(Duration::from_millis(app.config.console.stats_ms));
    stats_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = app.shutdown.cancelled() => {
                conn.close(CloseCode::Away, "server shutting down").await;
                break;
            }
            event = recv_watch(&mut watch) => {
                let Some(w) = watch.as_mut() else { continue };
                match event {
                    WatchEvent::Order(Ok(order)) => {
                        if order_in_bbox(&order, &w.bbox)
                            && conn.send(ServerMessage::Order { order: (*order).clone() }).await.is_err()
                        {
                            break;
                        }
                    }
                    WatchEvent::Order(Err(RecvError::Lagged(n))) => {
                        metrics::counter!(telemetry::ORDER_WATCHER_DROPPED).increment(n);
                    }
                    WatchEvent::Drivers(Ok(updates)) => {
                        for u in updates.iter().filter(|u| update_in_bbox(u, &w.bbox)) {
                            w.pending.insert(u.id.clone(), u.clone());
                        }
                    }
                    WatchEvent::Drivers(Err(RecvError::Lagged(n))) => {
                        metrics::counter!(telemetry::WATCHER_DROPPED).increment(n);
                        w.dropped += n;
                    }
                    WatchEvent::Order(Err(RecvError::Closed))
                    | WatchEvent::Drivers(Err(RecvError::Closed)) => watch = None,
                }
            }
            _ = tick.tick() => {
                let Some(w) = watch.as_mut() else { continue };
                if w.pending.is_empty() && w.dropped == 0 {
                    continue;
                }
                let updates: Vec<DriverUpdate> = w.pending.drain().map(|(_, u)| u).collect();
                let dropped = std::mem::take(&mut w.dropped);
                if send_drivers(&app, &mut conn, updates, dropped, &mut w.described).await.is_err() {
                    break;
                }
            }
            _ = stats_tick.tick() => {
                if watch.is_some() && send_stats(&app, &mut conn).await.is_err() {
                    break;
                }
            }
            incoming = conn.next() => match incoming {
                Incoming::Frame(encoding, bytes) => {
                    conn.encoding = encoding;
                    if handle(&app, &who, &mut conn, &bytes, &mut watch).await.is_err() {
                        break;
                    }
                }
                other => {
                    conn.end(other).await;
                    break;
                }
            },
        }
    }
}

enum WatchEvent {
    Order(Result<Arc<Order>, RecvError>),
    Drivers(Result<Arc<Vec<DriverUpdate>>, RecvError>),
}

/// The next change for a subscribed console; order changes first (they are rarer and
/// each one matters).
async fn recv_watch(watch: &mut Option<Watch>) -> WatchEvent {
    match watch {
        Some(w) => tokio::select! {
            biased;
            r = w.orders.recv() => WatchEvent::Order(r),
            r = w.feed.recv() => WatchEvent::Drivers(r),
        },
        None => std::future::pending().await,
    }
}

async fn handle(
    app: &Arc<App>,
    who: &Claims,
    conn: &mut Conn,
    bytes: &[u8],
    watch: &mut Option<Watch>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let max = app.config.limits.max_frame_bytes;
    let Some(frame) = conn.decode::<ConsoleMessage>(bytes, max).await? else {
        return Ok(());
    };
    match frame.msg {
        ConsoleMessage::Subscribe { bbox } => {
            // Subscribe to the feed before reading the snapshot, so no change falls
            // between the two.
            let feed = app.regions.feed().subscribe();
            let orders_feed = app.shared.book.subscribe();
            let mut drivers = app.regions.within(bbox).await;
            let mut orders = app.shared.book.open_orders(bbox);
            let described = watch.take().map(|w| w.described).unwrap_or_default();
            let w = watch.insert(Watch {
                feed,
                orders: orders_feed,
                bbox,
                pending: HashMap::new(),
                dropped: 0,
                described,
            });
            // A whole fleet does not fit one message under the socket's write buffer
            // limit: the snapshot holds the first part, `drivers` and `order` messages
            // carry the rest before any live change.
            let c = &app.config.console;
            let more_drivers = drivers.split_off(drivers.len().min(c.max_drivers_per_message));
            let more_orders = orders.split_off(orders.len().min(c.max_orders_per_message));
            // The contract answers `subscribe` with `snapshot` first: the names of its
            // drivers follow it at once.
            let info = undescribed(app, &drivers, &mut w.described);
            conn.send(ServerMessage::Snapshot { drivers, orders })
                .await?;
            send_info(app, conn, info).await?;
            send_drivers(app, conn, more_drivers, 0, &mut w.described).await?;
            for order in more_orders {
                conn.send(ServerMessage::Order { order }).await?;
            }
            send_stats(app, conn).await
        }
        ConsoleMessage::CreateOrder { order } => {
            match actions::create_order(app, who, order).await {
                Ok((_, order)) => conn.send(ServerMessage::Order { order }).await,
                Err(e) => conn.error(e.code, e.message, frame.seq).await,
            }
        }
        ConsoleMessage::CancelOrder { id } => match actions::cancel_order(app, who, &id).await {
            Ok(order) => conn.send(ServerMessage::Order { order }).await,
            Err(e) => conn.error(e.code, e.message, frame.seq).await,
        },
    }
}

async fn send_stats(
    app: &Arc<App>,
    conn: &mut Conn,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let stats =
        crate::orders::stats::collect(&app.shared.stats, &app.shared.book, || app.drivers.counts());
    conn.send(ServerMessage::Stats { stats }).await
}

/// The registrations of the drivers among `updates` this connection has not described
/// yet; from now on they count as described.
fn undescribed(
    app: &Arc<App>,
    updates: &[DriverUpdate],
    described: &mut HashSet<String>,
) -> Vec<DriverProfile> {
    let new: Vec<&str> = updates
        .iter()
        .map(|u| u.id.as_str())
        .filter(|id| !described.contains(*id))
        .collect();
    if new.is_empty() {
        return Vec::new();
    }
    described.extend(new.iter().map(|id| id.to_string()));
    app.drivers.profiles(new)
}

/// `driver_info` messages of at most `console.max_drivers_per_message` drivers.
async fn send_info(
    app: &Arc<App>,
    conn: &mut Conn,
    mut profiles: Vec<DriverProfile>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let per = app.config.console.max_drivers_per_message.max(1);
    while !profiles.is_empty() {
        let rest = profiles.split_off(profiles.len().min(per));
        let drivers = std::mem::replace(&mut profiles, rest);
        conn.send(ServerMessage::DriverInfo { drivers }).await?;
    }
    Ok(())
}

/// Driver updates in messages of at most `console.max_drivers_per_message`; `dropped`
/// rides on the first. Drivers new to this connection are described first.
async fn send_drivers(
    app: &Arc<App>,
    conn: &mut Conn,
    mut updates: Vec<DriverUpdate>,
    mut dropped: u64,
    described: &mut HashSet<String>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let info = undescribed(app, &updates, described);
    send_info(app, conn, info).await?;
    let per = app.config.console.max_drivers_per_message;
    while !updates.is_empty() || dropped > 0 {
        let rest = updates.split_off(updates.len().min(per));
        let chunk = std::mem::replace(&mut updates, rest);
        conn.send(ServerMessage::Drivers {
            updates: chunk,
            dropped: std::mem::take(&mut dropped),
        })
        .await?;
    }
    Ok(())
}
