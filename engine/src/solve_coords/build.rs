//! The planner problem of a coordinates instance: one depot node per distinct vehicle
//! start or end, a pickup and a delivery node per order (for an order without a pickup,
//! one stop unloading what its vehicle carries from the start), and the matrix between
//! them on the chosen travel model.

use super::input::{Instance, OrderSpec, Place, StopSpec};
use super::{CoordsError, SolveTravel};
use dispatch_plan::model::{Node, NodeKind, Problem, Vehicle};
use dispatch_plan::travel::{Haversine, LatLon, Matrix};
use dispatch_roads::RoadTravel;

/// Which stop of an order a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Pickup,
    Dropoff,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Pickup => "pickup",
            Role::Dropoff => "dropoff",
        }
    }
}

/// The problem with the map back from nodes to orders.
pub struct Built {
    pub problem: Problem,
    /// Node → (order index, role); `None` for depots.
    pub stop_of: Vec<Option<(usize, Role)>>,
    /// Node → position.
    pub points: Vec<LatLon>,
    /// Pairs of distinct nodes in the matrix.
    pub pairs: usize,
    /// On roads: the pairs the network could not answer (great circle × detour instead).
    pub fallbacks: Option<u64>,
}

/// The great-circle model of the instance (also the roads' fallback).
pub fn great_circle(inst: &Instance) -> Haversine {
    Haversine {
        detour_factor: inst.detour_factor,
        speed_mps: inst.speed_kmh / 3.6,
    }
}

#[derive(Default)]
struct Nodes {
    nodes: Vec<Node>,
    points: Vec<LatLon>,
    stop_of: Vec<Option<(usize, Role)>>,
}

impl Nodes {
    fn push(&mut self, at: Place, kind: NodeKind, stop: Option<(usize, Role)>) -> usize {
        let i = self.nodes.len();
        self.nodes.push(Node {
            id: i,
            kind,
            demand: 0,
            ready: 0.0,
            due: f64::INFINITY,
            service: 0.0,
            vehicle: None,
        });
        self.points.push(LatLon {
            lat: at.lat,
            lon: at.lon,
        });
        self.stop_of.push(stop);
        i
    }

    /// The depot node at `at`, shared by every vehicle starting or ending there (the
    /// planner then sees identical vehicles as interchangeable).
    fn depot(&mut self, at: Place) -> usize {
        let found = (0..self.nodes.len()).find(|&i| {
            self.nodes[i].kind == NodeKind::Depot
                && self.points[i].lat == at.lat
                && self.points[i].lon == at.lon
        });
        found.unwrap_or_else(|| self.push(at, NodeKind::Depot, None))
    }

    fn stop(&mut self, (order, role): (usize, Role), s: &StopSpec, kind: NodeKind, demand: i32) {
        let i = self.push(s.at, kind, Some((order, role)));
        let n = &mut self.nodes[i];
        n.demand = demand;
        n.ready = s.ready;
        n.due = s.due;
        n.service = s.service;
    }

    /// An order's nodes: a pickup and its delivery, or, without a pickup, one stop
    /// unloading goods its vehicle carries from the start (restricted to that vehicle).
    fn order(&mut self, k: usize, o: &OrderSpec) {
        let first = self.nodes.len();
        match &o.pickup {
            Some(p) => {
                let pickup = NodeKind::Pickup {
                    delivery: first + 1,
                };
                self.stop((k, Role::Pickup), p, pickup, o.size);
                let kind = NodeKind::Delivery { pickup: first };
                self.stop((k, Role::Dropoff), &o.dropoff, kind, -o.size);
            }
            None => self.stop((k, Role::Dropoff), &o.dropoff, NodeKind::Single, -o.size),
        }
        for n in &mut self.nodes[first..] {
            n.vehicle = o.vehicle;
        }
    }
}

/// Builds the problem and its matrix on `travel`.
pub fn build(inst: &Instance, travel: &SolveTravel) -> Result<Built, CoordsError> {
    let mut n = Nodes::default();
    let mut vehicles = Vec::with_capacity(inst.vehicles.len());
    for (k, v) in inst.vehicles.iter().enumerate() {
        let start = n.depot(v.start);
        let end = v.end.map(|e| n.depot(e));
        // The goods of its orders without a pickup (validated to fit its capacity).
        let on_board = inst
            .orders
            .iter()
            .filter(|o| o.pickup.is_none() && o.vehicle == Some(k))
            .map(|o| o.size)
            .sum();
        vehicles.push(Vehicle {
            start,
            end,
            start_time: v.shift_start,
            shift_end: v.shift_end,
            capacity: v.capacity,
            start_load: on_board,
            pinned: Vec::new(),
        });
    }
    for (k, o) in inst.orders.iter().enumerate() {
        n.order(k, o);
    }
    let (matrix, fallbacks) = matrix(&n.points, inst, travel);
    let count = n.points.len();
    let problem = Problem::new(inst.name.clone(), n.nodes, vehicles, matrix)?;
    Ok(Built {
        problem,
        stop_of: n.stop_of,
        points: n.points,
        pairs: count * count.saturating_sub(1),
        fallbacks,
    })
}

/// Distances (m) and durations (s) between `points`; on roads, the free-flow times of
/// the network and how many pairs fell back to the great circle.
pub fn matrix(points: &[LatLon], inst: &Instance, travel: &SolveTravel) -> (Matrix, Option<u64>) {
    match travel {
        SolveTravel::Haversine => (Matrix::from_points(points, &great_circle(inst)), None),
        SolveTravel::Roads { network, .. } => {
            let roads = RoadTravel::new(network.clone(), great_circle(inst));
            let m = roads.matrix(points);
            (m, Some(roads.fallbacks()))
        }
    }
}
