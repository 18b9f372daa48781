//! The route core alone: unit tests of each rule and property tests of the invariants
//! (version rule, never on a route twice, pinned head kept, stop_done outcomes, give
//! back returns exactly what is not picked up).

use super::*;
use crate::orders::model::created;
use dispatch_protocol::{NewOrder, Stop};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const NOW: Millis = 1_764_140_000_000;

fn order(id: &str, i: usize) -> Order {
    let stop = |d: f64| Stop {
        lat: 60.0 + d,
        lon: 24.0 + d,
        ready_ms: None,
        due_ms: None,
        service_s: 60,
    };
    let new = NewOrder {
        id: Some(id.into()),
        pickup: stop(i as f64 * 0.01),
        dropoff: stop(i as f64 * 0.01 + 0.005),
        size: 1,
        priority: 0,
        details: Default::default(),
    };
    created(id.into(), new, NOW - 1_000)
}

/// A plan of `n` orders on `driver`, `picked` of them picked up, stops in a random
/// order that keeps every pickup before its dropoff.
fn plan_of(n: usize, picked: usize, seed: u64) -> RoutePlan {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plan = RoutePlan {
        version: rng.random_range(0..5),
        ..RoutePlan::default()
    };
    let mut pending: Vec<Vec<LiveStop>> = Vec::new();
    for i in 0..n {
        let mut o = order(&format!("o{i}"), i);
        set_status(&mut o, OrderStatus::Assigned, NOW, None);
        let j = job(&o);
        if i < picked {
            set_status(&mut o, OrderStatus::PickedUp, NOW, None);
            pending.push(vec![j.dropoff]);
        } else {
            pending.push(vec![j.pickup, j.dropoff]);
        }
        plan.orders.insert(j.order_id, o);
    }
    // Interleave the per-order sequences at random.
    while pending.iter().any(|p| !p.is_empty()) {
        let open: Vec<usize> = (0..pending.len())
            .filter(|&i| !pending[i].is_empty())
            .collect();
        let i = open[rng.random_range(0..open.len())];
        plan.stops.push(pending[i].remove(0));
    }
    plan
}

/// A proposal adding `new` orders to `plan`: the new stops spliced in at random places
/// (pickup before dropoff), the first `pinned` stops left in front.
fn proposal(plan: &RoutePlan, new: &[Order], pinned: usize, seed: u64) -> Proposal {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stops = plan.stops.clone();
    let head = pinned.min(stops.len());
    for o in new {
        let j = job(o);
        let at = rng.random_range(head..=stops.len());
        stops.insert(at, j.pickup);
        let after = rng.random_range(at + 1..=stops.len());
        stops.insert(after, j.dropoff);
    }
    Proposal {
        base_version: plan.version,
        stops,
        orders: new.to_vec(),
    }
}

fn new_orders(k: usize) -> Vec<Order> {
    (0..k).map(|i| order(&format!("n{i}"), 50 + i)).collect()
}

fn keys(stops: &[LiveStop]) -> Vec<(String, StopKind)> {
    stops
        .iter()
        .map(|s| (s.order_id.to_string(), s.kind))
        .collect()
}

/// Every stop's order is on the plan, every order has a stop, no stop twice, every
/// pickup before its dropoff.
fn assert_well_formed(plan: &RoutePlan) {
    let mut seen = HashSet::new();
    for s in &plan.stops {
        assert!(
            plan.orders.contains_key(&s.order_id),
            "stop of an order not on the plan"
        );
        assert!(seen.insert((s.order_id.clone(), s.kind)), "a stop twice");
        if s.kind == StopKind::Pickup {
            assert!(!seen.contains(&(s.order_id.clone(), StopKind::Dropoff)));
        }
    }
    for id in plan.orders.keys() {
        assert!(
            plan.stops.iter().any(|s| &s.order_id == id),
            "order {id} has no stop"
        );
    }
}

#[test]
fn a_proposal_is_taken_on_its_version_only_and_assigns_its_orders() {
    let plan = plan_of(2, 1, 1);
    let new = new_orders(1);
    let p = proposal(&plan, &new, 0, 2);
    let stale = Proposal {
        base_version: plan.version + 1,
        ..p.clone()
    };
    assert_eq!(
        propose(&plan, "d1", true, 0, stale, NOW),
        Err(ProposalRefused::StaleVersion)
    );
    assert_eq!(
        propose(&plan, "d1", false, 0, p.clone(), NOW),
        Err(ProposalRefused::Unavailable)
    );
    let change = propose(&plan, "d1", true, 0, p, NOW).unwrap();
    assert_eq!(change.next.version, plan.version + 1);
    assert_eq!(change.reason, "insert");
    let o = &change.next.orders["n0"];
    assert_eq!(o.status, OrderStatus::Assigned);
    assert_eq!(o.driver_id.as_deref(), Some("d1"));
    assert_eq!(change.first_assigned, vec![NOW - 1_000]);
    assert_well_formed(&change.next);
}

#[test]
fn a_proposal_that_drops_doubles_or_misorders_a_stop_is_refused() {
    let plan = plan_of(3, 1, 3);
    let new = new_orders(1);
    let good = proposal(&plan, &new, 0, 4);
    let mut dropped = good.clone();
    dropped.stops.retain(|s| &*s.order_id != "o2");
    let mut doubled = good.clone();
    doubled.stops.push(doubled.stops[0].clone());
    let mut again = good.clone();
    again.orders.push(plan.orders["o1"].clone());
    let mut misordered = good.clone();
    let p = misordered
        .stops
        .iter()
        .position(|s| &*s.order_id == "n0" && s.kind == StopKind::Pickup)
        .unwrap();
    let d = misordered
        .stops
        .iter()
        .position(|s| &*s.order_id == "n0" && s.kind == StopKind::Dropoff)
        .unwrap();
    misordered.stops.swap(p, d);
    for bad in [dropped, doubled, again, misordered] {
        assert_eq!(
            propose(&plan, "d1", true, 0, bad, NOW),
            Err(ProposalRefused::Inconsistent)
        );
    }
    assert!(propose(&plan, "d1", true, 0, good, NOW).is_ok());
}

#[test]
fn stop_done_outcomes_follow_the_stop_kind() {
    let plan = plan_of(2, 1, 5); // o0 picked up, o1 assigned
    let err = |stop: &str, outcome| stop_done(&plan, stop, outcome, NOW, NOW).unwrap_err().0;
    assert_eq!(
        err("d:o1", StopOutcome::Delivered),
        ErrorCode::FailedPrecondition
    );
    assert_eq!(
        err("p:o1", StopOutcome::Delivered),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("d:o0", StopOutcome::PickedUp),
        ErrorCode::InvalidArgument
    );
    assert_eq!(err("p:o0", StopOutcome::PickedUp), ErrorCode::NotFound);
    assert_eq!(err("x:o0", StopOutcome::PickedUp), ErrorCode::NotFound);

    let picked = stop_done(&plan, "p:o1", StopOutcome::PickedUp, NOW - 5, NOW).unwrap();
    assert_eq!(picked.next.orders["o1"].status, OrderStatus::PickedUp);
    assert_eq!(picked.next.orders["o1"].pickup_eta_ms, Some(NOW - 5));
    assert!(picked.finished.is_empty());
    let delivered = stop_done(&plan, "d:o0", StopOutcome::Delivered, NOW, NOW).unwrap();
    assert_eq!(delivered.finished[0].status, OrderStatus::Delivered);
    assert!(!delivered.next.orders.contains_key("o0"));
    let failed = stop_done(&plan, "p:o1", StopOutcome::Failed, NOW, NOW).unwrap();
    assert_eq!(failed.finished[0].status, OrderStatus::Failed);
    assert!(!failed.next.stops.iter().any(|s| &*s.order_id == "o1"));
    for c in [picked, delivered, failed] {
        assert_well_formed(&c.next);
    }
}

#[test]
fn cancel_and_release_leave_picked_up_orders_alone() {
    let plan = plan_of(2, 1, 6);
    assert_eq!(cancel(&plan, "o0", NOW).unwrap_err().0, ErrorCode::Conflict);
    assert_eq!(cancel(&plan, "zz", NOW), Ok(None));
    let c = cancel(&plan, "o1", NOW).unwrap().unwrap();
    assert_eq!(c.finished[0].status, OrderStatus::Cancelled);
    assert_well_formed(&c.next);

    assert!(release(&plan, "o0", plan.version, NOW).is_none());
    assert!(release(&plan, "o1", plan.version + 1, NOW).is_none());
    let heading = &plan.stops[0].order_id;
    assert!(release(&plan, heading, plan.version, NOW).is_none());
    if &**heading != "o1" {
        let r = release(&plan, "o1", plan.version, NOW).unwrap();
        assert_eq!(r.requeue[0].status, OrderStatus::Pending);
        assert_eq!(r.requeue[0].driver_id, None);
        assert_well_formed(&r.next);
    }
}

#[test]
fn a_driver_at_a_pickup_keeps_that_order() {
    let plan = plan_of(3, 0, 9);
    let stop = |id: &str| {
        plan.stops
            .iter()
            .find(|s| &*s.order_id == id && s.kind == StopKind::Pickup)
            .unwrap()
            .clone()
    };
    let p1 = stop("o1");
    // 10 m north of o1's pickup: within a 50 m radius, not within 5 m.
    let near = Some((p1.lat + 10.0 / 111_195.0, p1.lon));
    assert!(at_a_pickup_of(&plan, ["o1"], near, 50.0));
    assert!(!at_a_pickup_of(&plan, ["o1"], near, 5.0));
    assert!(!at_a_pickup_of(&plan, ["o0", "o2"], near, 50.0));
    assert!(!at_a_pickup_of(&plan, ["o1"], None, 50.0));
    // A picked-up order's remaining stop is its dropoff: not a pickup to guard.
    let picked = plan_of(3, 3, 9);
    let d = picked.stops[0].clone();
    assert!(!at_a_pickup_of(
        &picked,
        [&*d.order_id],
        Some((d.lat, d.lon)),
        50.0
    ));
}

#[test]
fn etas_drift_past_the_threshold_only() {
    assert!(!etas_drifted(&[1_000, 2_000], &[1_500, 2_400], 500));
    assert!(etas_drifted(&[1_000, 2_000], &[1_000, 2_501], 500));
    let plan = plan_of(1, 0, 7);
    let r = refresh_etas(&plan);
    assert_eq!(
        (r.next.stops.clone(), r.next.version),
        (plan.stops.clone(), plan.version + 1)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever a proposal holds, a route never carries an order or a stop twice, and
    /// a taken proposal keeps the pinned head and adds exactly its orders.
    #[test]
    fn proposals_never_put_an_order_on_a_route_twice(
        n in 0usize..6, picked in 0usize..6, k in 0usize..4, pinned in 0usize..2,
        seed in any::<u64>(), mutate in 0u8..4, stale in any::<bool>(),
    ) {
        let plan = plan_of(n, picked.min(n), seed);
        let mut p = proposal(&plan, &new_orders(k), pinned, seed ^ 1);
        let mut rng = StdRng::seed_from_u64(seed ^ 2);
        match mutate {
            // An order already on the route proposed again.
            1 if !plan.orders.is_empty() => {
                let o = plan.orders.values().next().unwrap().clone();
                p.orders.push(o);
            }
            // The stops shuffled: precedence or the pinned head may break.
            2 => p.stops.shuffle(&mut rng),
            // A stop duplicated.
            3 if !p.stops.is_empty() => {
                let s = p.stops[rng.random_range(0..p.stops.len())].clone();
                p.stops.push(s);
            }
            _ => {}
        }
        if stale {
            p.base_version += 1;
        }
        let added: Vec<String> = p.orders.iter().map(|o| o.id.clone()).collect();
        match propose(&plan, "d1", true, pinned, p, NOW) {
            Ok(c) => {
                prop_assert!(!stale);
                assert_well_formed(&c.next);
                prop_assert_eq!(c.next.version, plan.version + 1);
                prop_assert_eq!(c.next.orders.len(), plan.orders.len() + added.len());
                let head = pinned.min(plan.stops.len());
                prop_assert_eq!(keys(&c.next.stops[..head]), keys(&plan.stops[..head]));
            }
            Err(ProposalRefused::StaleVersion) => prop_assert!(stale),
            Err(e) => {
                prop_assert_eq!(e, ProposalRefused::Inconsistent);
                prop_assert!(mutate != 0);
            }
        }
    }

    /// Give back returns exactly the orders not picked up; the picked-up ones stay
    /// with their dropoffs.
    #[test]
    fn give_back_returns_exactly_what_is_not_picked_up(
        n in 0usize..8, picked in 0usize..8, seed in any::<u64>(),
    ) {
        let plan = plan_of(n, picked.min(n), seed);
        let not_picked: HashSet<String> = plan
            .orders
            .values()
            .filter(|o| o.status != OrderStatus::PickedUp)
            .map(|o| o.id.clone())
            .collect();
        match give_back(&plan, "driver went offline", NOW) {
            None => prop_assert!(not_picked.is_empty()),
            Some(c) => {
                let back: HashSet<String> = c.requeue.iter().map(|o| o.id.clone()).collect();
                prop_assert_eq!(&back, &not_picked);
                prop_assert!(c.requeue.iter().all(|o| o.status == OrderStatus::Pending && o.driver_id.is_none()));
                prop_assert!(c.next.orders.values().all(|o| o.status == OrderStatus::PickedUp));
                prop_assert!(c.next.stops.iter().all(|s| s.kind == StopKind::Dropoff));
                prop_assert_eq!(c.next.orders.len(), plan.orders.len() - back.len());
                assert_well_formed(&c.next);
            }
        }
    }

    /// A re-optimisation's move: orders withdrawn from one route (all or nothing, never
    /// a picked-up one, never the committed next stop) and proposed to another leave
    /// each order on exactly one route; a second proposal of the same orders elsewhere
    /// is refused.
    #[test]
    fn withdraw_then_propose_moves_orders_without_doubling_them(
        n in 1usize..7, picked in 0usize..7, seed in any::<u64>(), committed in any::<bool>(),
        take in proptest::collection::vec(any::<prop::sample::Index>(), 1..4),
    ) {
        let from = plan_of(n, picked.min(n), seed);
        let mut ids: Vec<Arc<str>> = take.iter().map(|i| {
            let s = &from.stops[i.index(from.stops.len())];
            s.order_id.clone()
        }).collect();
        ids.dedup();
        let movable = |id: &Arc<str>| {
            from.has_stop(id, StopKind::Pickup)
                && !(committed && from.stops.first().is_some_and(|h| h.order_id == *id))
        };
        let distinct = ids.iter().collect::<HashSet<_>>().len() == ids.len();
        match withdraw(&from, &ids, from.version, committed, NOW) {
            None => prop_assert!(!distinct || !ids.iter().all(movable)),
            Some(c) => {
                prop_assert!(distinct && ids.iter().all(movable));
                prop_assert!(withdraw(&from, &ids, from.version + 1, committed, NOW).is_none());
                prop_assert_eq!(c.next.version, from.version + 1);
                assert_well_formed(&c.next);
                for id in &ids {
                    prop_assert!(!c.next.orders.contains_key(id));
                    prop_assert!(!c.next.stops.iter().any(|s| s.order_id == *id));
                }
                prop_assert!(c.requeue.iter().all(|o| o.status == OrderStatus::Pending && o.driver_id.is_none()));
                // The orders go to another (empty) route in one proposal ...
                let to = RoutePlan::default();
                let p = proposal(&to, &c.requeue, 0, seed);
                let taken = propose(&to, "d2", true, 0, p.clone(), NOW).expect("taken");
                assert_well_formed(&taken.next);
                prop_assert_eq!(taken.next.orders.len(), ids.len());
                // ... and cannot be proposed there again on the new version.
                let again = Proposal { base_version: taken.next.version, ..p };
                prop_assert!(propose(&taken.next, "d2", true, 0, again, NOW).is_err());
            }
        }
    }

    /// Every stop_done either is refused with the code its kind and outcome call for,
    /// or leaves a well-formed route one version on.
    #[test]
    fn stop_done_keeps_the_route_well_formed(
        n in 1usize..6, picked in 0usize..6, seed in any::<u64>(), pick in any::<prop::sample::Index>(),
        outcome in prop::sample::select(vec![StopOutcome::PickedUp, StopOutcome::Delivered, StopOutcome::Failed]),
    ) {
        let plan = plan_of(n, picked.min(n), seed);
        let stop = &plan.stops[pick.index(plan.stops.len())];
        let id = stop.stop_id();
        match stop_done(&plan, &id, outcome, NOW, NOW) {
            Ok(c) => {
                prop_assert_eq!(c.next.version, plan.version + 1);
                prop_assert!(!c.next.stops.iter().any(|s| s.stop_id() == id));
                assert_well_formed(&c.next);
            }
            Err((code, _)) => {
                let expected = match (stop.kind, outcome) {
                    (StopKind::Dropoff, StopOutcome::Delivered) => ErrorCode::FailedPrecondition,
                    _ => ErrorCode::InvalidArgument,
                };
                prop_assert_eq!(code, expected);
            }
        }
    }
}
