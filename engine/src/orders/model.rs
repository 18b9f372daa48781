//! Orders between the wire, the store and the planner: normalising a submitted order,
//! telling a retry from a conflicting reuse of an id, and the conversions.

use crate::planning::{Job, LiveStop};
use dispatch_protocol::{
    Millis, NewOrder, Order, OrderDetails, OrderStatus, StatusChange, Stop, StopKind,
};
use dispatch_storage::{
    OrderDetailsRecord, OrderRecord, OrderStatusRecord, StatusChangeRecord, StopRecord,
};
use std::sync::Arc;

/// A fresh server-made order id: time-ordered hex millis plus a random suffix.
pub fn new_order_id(now_ms: Millis) -> String {
    format!("o-{now_ms:011x}-{:08x}", rand::random::<u32>())
}

/// Whether a stored order was created from the same request (a retry) — the fields a
/// client sets, after defaults.
pub fn same_request(stored: &Order, new: &NewOrder) -> bool {
    stored.pickup == new.pickup
        && stored.dropoff == new.dropoff
        && stored.size == new.size
        && stored.priority == new.priority
        && stored.details == new.details
}

/// The order as created: pending, with its first history entry.
pub fn created(id: String, new: NewOrder, now_ms: Millis) -> Order {
    Order {
        id,
        pickup: new.pickup,
        dropoff: new.dropoff,
        size: new.size,
        priority: new.priority,
        status: OrderStatus::Pending,
        driver_id: None,
        pickup_eta_ms: None,
        dropoff_eta_ms: None,
        created_ms: now_ms,
        history: vec![StatusChange {
            status: OrderStatus::Pending,
            at_ms: now_ms,
            reason: None,
            note: None,
        }],
        details: new.details,
    }
}

/// Most entries an order's history keeps: the first (its creation) and the latest
/// ones. A driver flapping between offline and available moves its orders back and
/// forth without end; their history (stored, and sent to every console) must not grow
/// with it.
pub const MAX_HISTORY: usize = 32;

/// Moves an order to `status`, recording the change (no entry when it is unchanged
/// and the reason is the same). Past [`MAX_HISTORY`] entries the oldest after the
/// creation entry is dropped.
pub fn set_status(o: &mut Order, status: OrderStatus, at_ms: Millis, reason: Option<&str>) {
    let same = o.status == status && o.history.last().and_then(|h| h.reason.as_deref()) == reason;
    if same {
        return;
    }
    if o.history.len() >= MAX_HISTORY {
        o.history.remove(1);
    }
    o.status = status;
    // Exactly one more: the doubling would leave spare entries on every open order
    // (an open order keeps its history until it is finished).
    o.history.reserve_exact(1);
    o.history.push(StatusChange {
        status,
        at_ms,
        reason: reason.map(str::to_owned),
        note: None,
    });
}

pub fn is_terminal(s: OrderStatus) -> bool {
    matches!(
        s,
        OrderStatus::Delivered | OrderStatus::Cancelled | OrderStatus::Failed
    )
}

/// What the planner needs of an order.
pub fn job(o: &Order) -> Job {
    let id: Arc<str> = Arc::from(o.id.as_str());
    Job {
        order_id: id.clone(),
        pickup: live_stop(&id, StopKind::Pickup, &o.pickup, o.size),
        dropoff: live_stop(&id, StopKind::Dropoff, &o.dropoff, o.size),
        priority: o.priority,
    }
}

pub fn live_stop(order_id: &Arc<str>, kind: StopKind, s: &Stop, size: u32) -> LiveStop {
    LiveStop {
        order_id: order_id.clone(),
        kind,
        lat: s.lat,
        lon: s.lon,
        ready_ms: s.ready_ms,
        due_ms: s.due_ms,
        service_s: s.service_s,
        size,
    }
}

fn status_to_record(s: OrderStatus) -> OrderStatusRecord {
    match s {
        OrderStatus::Pending => OrderStatusRecord::Pending,
        OrderStatus::Assigned => OrderStatusRecord::Assigned,
        OrderStatus::PickedUp => OrderStatusRecord::PickedUp,
        OrderStatus::Delivered => OrderStatusRecord::Delivered,
        OrderStatus::Cancelled => OrderStatusRecord::Cancelled,
        OrderStatus::Failed => OrderStatusRecord::Failed,
        OrderStatus::Unassignable => OrderStatusRecord::Unassignable,
    }
}

pub fn status_from_record(s: OrderStatusRecord) -> OrderStatus {
    match s {
        OrderStatusRecord::Pending => OrderStatus::Pending,
        OrderStatusRecord::Assigned => OrderStatus::Assigned,
        OrderStatusRecord::PickedUp => OrderStatus::PickedUp,
        OrderStatusRecord::Delivered => OrderStatus::Delivered,
        OrderStatusRecord::Cancelled => OrderStatus::Cancelled,
        OrderStatusRecord::Failed => OrderStatus::Failed,
        OrderStatusRecord::Unassignable => OrderStatus::Unassignable,
    }
}

pub fn status_filter(s: OrderStatus) -> OrderStatusRecord {
    status_to_record(s)
}

fn stop_to_record(s: &Stop) -> StopRecord {
    StopRecord {
        lat: s.lat,
        lon: s.lon,
        ready_ms: s.ready_ms,
        due_ms: s.due_ms,
        service_s: s.service_s,
    }
}

fn stop_from_record(s: &StopRecord) -> Stop {
    Stop {
        lat: s.lat,
        lon: s.lon,
        ready_ms: s.ready_ms,
        due_ms: s.due_ms,
        service_s: s.service_s,
    }
}

fn details_to_record(d: &OrderDetails) -> OrderDetailsRecord {
    OrderDetailsRecord {
        recipient_name: d.recipient_name.clone(),
        recipient_phone: d.recipient_phone.clone(),
        address: d.address.clone(),
        notes: d.notes.clone(),
    }
}

fn details_from_record(d: OrderDetailsRecord) -> OrderDetails {
    OrderDetails {
        recipient_name: d.recipient_name,
        recipient_phone: d.recipient_phone,
        address: d.address,
        notes: d.notes,
    }
}

/// Keeps a driver's `stop_done` note on the order's latest history entry (the one the
/// stop made). An empty note is no note.
pub fn note_last_change(o: &mut Order, note: &str) {
    let note = note.trim();
    if let (false, Some(last)) = (note.is_empty(), o.history.last_mut()) {
        last.note = Some(note.to_owned());
    }
}

pub fn to_record(o: &Order) -> OrderRecord {
    OrderRecord {
        id: o.id.clone(),
        pickup: stop_to_record(&o.pickup),
        dropoff: stop_to_record(&o.dropoff),
        size: o.size,
        priority: o.priority,
        status: status_to_record(o.status),
        driver_id: o.driver_id.clone(),
        pickup_eta_ms: o.pickup_eta_ms,
        dropoff_eta_ms: o.dropoff_eta_ms,
        created_ms: o.created_ms,
        history: o
            .history
            .iter()
            .map(|h| StatusChangeRecord {
                status: status_to_record(h.status),
                at_ms: h.at_ms,
                reason: h.reason.clone(),
                note: h.note.clone(),
            })
            .collect(),
        details: details_to_record(&o.details),
    }
}

pub fn from_record(r: &OrderRecord) -> Order {
    Order {
        id: r.id.clone(),
        pickup: stop_from_record(&r.pickup),
        dropoff: stop_from_record(&r.dropoff),
        size: r.size,
        priority: r.priority,
        status: status_from_record(r.status),
        driver_id: r.driver_id.clone(),
        pickup_eta_ms: r.pickup_eta_ms,
        dropoff_eta_ms: r.dropoff_eta_ms,
        created_ms: r.created_ms,
        history: r
            .history
            .iter()
            .map(|h| StatusChange {
                status: status_from_record(h.status),
                at_ms: h.at_ms,
                reason: h.reason.clone(),
                note: h.note.clone(),
            })
            .collect(),
        details: details_from_record(r.details.clone()),
    }
}

/// [`from_record`], taking the record (recovery converts every open order: no copies).
pub fn into_order(r: OrderRecord) -> Order {
    Order {
        pickup: stop_from_record(&r.pickup),
        dropoff: stop_from_record(&r.dropoff),
        size: r.size,
        priority: r.priority,
        status: status_from_record(r.status),
        driver_id: r.driver_id,
        pickup_eta_ms: r.pickup_eta_ms,
        dropoff_eta_ms: r.dropoff_eta_ms,
        created_ms: r.created_ms,
        history: r
            .history
            .into_iter()
            .map(|h| StatusChange {
                status: status_from_record(h.status),
                at_ms: h.at_ms,
                reason: h.reason,
                note: h.note,
            })
            .collect(),
        details: details_from_record(r.details),
        id: r.id,
    }
}

/// Tests elsewhere: a stop with no window and a minute of service.
#[cfg(test)]
pub fn sample_stop(lat: f64, lon: f64) -> Stop {
    Stop {
        lat,
        lon,
        ready_ms: None,
        due_ms: None,
        service_s: 60,
    }
}

/// Tests elsewhere: an order picked up in central Helsinki and dropped 1.3 km away.
#[cfg(test)]
pub fn sample(id: &str, created_ms: Millis) -> Order {
    let new = NewOrder {
        id: Some(id.into()),
        pickup: sample_stop(60.170, 24.940),
        dropoff: sample_stop(60.160, 24.930),
        size: 1,
        priority: 0,
        details: Default::default(),
    };
    created(id.into(), new, created_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_order() -> NewOrder {
        NewOrder {
            id: Some("o1".into()),
            pickup: Stop {
                lat: 60.17,
                lon: 24.94,
                ready_ms: Some(5),
                due_ms: None,
                service_s: 60,
            },
            dropoff: Stop {
                lat: 60.16,
                lon: 24.93,
                ready_ms: None,
                due_ms: Some(90),
                service_s: 30,
            },
            size: 2,
            priority: 1,
            details: OrderDetails {
                recipient_name: Some("Aino".into()),
                recipient_phone: Some("+358 40 1".into()),
                address: None,
                notes: Some("door code 12".into()),
            },
        }
    }

    #[test]
    fn record_round_trip_and_retry_detection() {
        let mut o = created("o1".into(), new_order(), 7);
        set_status(&mut o, OrderStatus::Unassignable, 8, Some("x"));
        set_status(&mut o, OrderStatus::Unassignable, 9, Some("x"));
        assert_eq!(o.history.len(), 2);
        // No spare entries kept on an open order (issue 15: memory per record).
        assert_eq!(o.history.capacity(), 2);
        assert_eq!(from_record(&to_record(&o)), o);
        assert!(same_request(&o, &new_order()));
        let mut other = new_order();
        other.size = 3;
        assert!(!same_request(&o, &other));
        let mut other = new_order();
        other.details.notes = None;
        assert!(
            !same_request(&o, &other),
            "the details are part of the request"
        );
    }

    #[test]
    fn stop_notes_survive_the_record() {
        let mut o = created("o1".into(), new_order(), 7);
        set_status(&mut o, OrderStatus::PickedUp, 8, None);
        note_last_change(&mut o, "  left at the door ");
        note_last_change(&mut o, " ");
        assert_eq!(o.history[1].note.as_deref(), Some("left at the door"));
        assert_eq!(o.history[0].note, None);
        assert_eq!(from_record(&to_record(&o)), o);
        assert_eq!(into_order(to_record(&o)), o);
    }

    #[test]
    fn history_keeps_the_creation_and_the_latest_changes() {
        let mut o = created("o1".into(), new_order(), 1);
        for i in 0..100 {
            set_status(&mut o, OrderStatus::Assigned, 10 + 2 * i, None);
            set_status(
                &mut o,
                OrderStatus::Pending,
                11 + 2 * i,
                Some("driver went offline"),
            );
        }
        assert_eq!(o.history.len(), MAX_HISTORY);
        assert_eq!(
            (o.history[0].status, o.history[0].at_ms),
            (OrderStatus::Pending, 1)
        );
        assert_eq!(o.history.last().unwrap().at_ms, 11 + 2 * 99);
        assert_eq!(o.status, OrderStatus::Pending);
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = new_order_id(1_700_000_000_000);
        let b = new_order_id(1_700_000_000_000);
        assert_ne!(a, b);
        dispatch_protocol::validate::validate_id("id", &a).unwrap();
    }

    #[test]
    fn into_order_equals_from_record() {
        let mut o = created("o1".into(), new_order(), 5);
        set_status(&mut o, OrderStatus::Assigned, 6, Some("why"));
        o.driver_id = Some("d1".into());
        o.pickup_eta_ms = Some(7);
        let r = to_record(&o);
        assert_eq!(into_order(r.clone()), from_record(&r));
        assert_eq!(into_order(r), o);
    }
}
