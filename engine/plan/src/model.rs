//! The planning problem: nodes, vehicles, requests.
//!
//! Every stop is a node with an index into the [`Matrix`]. A request is what the planner
//! assigns: a single-stop job, or a pickup/delivery pair that must be served by one
//! vehicle, pickup first. Pinned stops (already visited or in progress) are a fixed
//! prefix of their vehicle's route and never move.

use crate::travel::Matrix;
use crate::PlanError;

/// The role of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A vehicle start or end location; never visited as a stop.
    Depot,
    /// A single-stop job: its demand is loaded at the stop (a Solomon customer). A
    /// negative demand unloads goods already on board (set the vehicle's `start_load`
    /// and restrict the job to that vehicle with [`Node::vehicle`]).
    Single,
    /// A pickup; `delivery` is the node index of its delivery.
    Pickup { delivery: usize },
    /// A delivery; `pickup` is the node index of its pickup.
    Delivery { pickup: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// External identifier, reported in routes (the node number of benchmark files).
    pub id: usize,
    pub kind: NodeKind,
    /// Load change at this stop (pickup > 0, its delivery the opposite).
    pub demand: i32,
    /// Earliest start of service.
    pub ready: f64,
    /// Latest start of service.
    pub due: f64,
    /// Service duration.
    pub service: f64,
    /// Only this vehicle may serve the node (for goods already on board).
    pub vehicle: Option<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Vehicle {
    /// Node where the vehicle is now (or its depot).
    pub start: usize,
    /// Node where it must end; `None` for an open route that ends at its last stop.
    pub end: Option<usize>,
    /// Time the vehicle can leave `start` (or finishes its pinned in-progress stop).
    pub start_time: f64,
    /// Latest arrival at `end` (or at the last stop of an open route).
    pub shift_end: f64,
    pub capacity: i32,
    /// Load on board at `start`.
    pub start_load: i32,
    /// Stops already visited or in progress, in order; never moved.
    pub pinned: Vec<usize>,
}

/// A unit of assignment: one single-stop job, or a pickup/delivery pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The single stop, or the pickup.
    pub first: usize,
    /// The delivery of a pair.
    pub second: Option<usize>,
}

impl Request {
    pub fn nodes(&self) -> impl Iterator<Item = usize> {
        std::iter::once(self.first).chain(self.second)
    }
}

pub const NONE: usize = usize::MAX;

#[derive(Clone, Debug)]
pub struct Problem {
    pub name: String,
    pub nodes: Vec<Node>,
    pub vehicles: Vec<Vehicle>,
    pub matrix: Matrix,
    /// Requests of all nodes that are not pinned (what the planner assigns).
    pub requests: Vec<Request>,
    /// Node → request index, or [`NONE`] for depots and pinned stops.
    pub request_of: Vec<usize>,
    /// Node → vehicle it is pinned to, or [`NONE`].
    pub pinned_to: Vec<usize>,
    // Flat copies for the hot loops.
    pub(crate) ready: Vec<f64>,
    pub(crate) due: Vec<f64>,
    pub(crate) service: Vec<f64>,
    pub(crate) demand: Vec<i32>,
    /// No leg towards a node begins before its release ([`Problem::set_release`];
    /// `-∞` for all nodes unless set).
    pub(crate) release: Vec<f64>,
    /// Whether any node has a release (removing a stop may then delay a route).
    pub(crate) has_releases: bool,
    /// Vehicle → end node (the sink for open routes).
    pub(crate) end_node: Vec<usize>,
    /// Vehicle → class id; vehicles of one class without pinned stops are interchangeable.
    pub(crate) class_of: Vec<usize>,
    /// Vehicle → at work whatever its route holds ([`Problem::set_working`]).
    pub(crate) working: Vec<bool>,
    /// Customer node → other free customer nodes, nearest first (at most 100).
    pub(crate) neighbors: Vec<Vec<u32>>,
    /// Typical edge length (mean distance between customers); scales temperatures.
    pub(crate) scale: f64,
}

fn invalid(msg: String) -> PlanError {
    PlanError::InvalidProblem(msg)
}

impl Problem {
    /// Validates and indexes a problem. `matrix` must be indexed like `nodes`.
    pub fn new(
        name: impl Into<String>,
        nodes: Vec<Node>,
        vehicles: Vec<Vehicle>,
        matrix: Matrix,
    ) -> Result<Problem, PlanError> {
        Self::build(name, nodes, vehicles, matrix, true)
    }

    /// [`new`](Self::new) without the neighbour lists that only the ruin-and-recreate
    /// search reads (O(n² log n) to build): for live insertion and route improvement.
    pub fn new_for_insertion(
        name: impl Into<String>,
        nodes: Vec<Node>,
        vehicles: Vec<Vehicle>,
        matrix: Matrix,
    ) -> Result<Problem, PlanError> {
        Self::build(name, nodes, vehicles, matrix, false)
    }

    fn build(
        name: impl Into<String>,
        nodes: Vec<Node>,
        vehicles: Vec<Vehicle>,
        mut matrix: Matrix,
        with_neighbours: bool,
    ) -> Result<Problem, PlanError> {
        let n = nodes.len();
        if matrix.len() != n {
            return Err(invalid(format!(
                "matrix has {} nodes, problem {n}",
                matrix.len()
            )));
        }
        if vehicles.is_empty() {
            return Err(invalid("no vehicles".into()));
        }
        let mut nodes = nodes;
        let mut pinned_to = pin_vehicles(&nodes, &vehicles)?;
        let (requests, mut request_of) = index_requests(&nodes, vehicles.len(), &pinned_to)?;
        let end_node = end_nodes(&vehicles, &mut nodes, &mut matrix);
        // the sink, if added, is neither pinned nor a request
        pinned_to.resize(nodes.len(), NONE);
        request_of.resize(nodes.len(), NONE);
        let class_of = vehicle_classes(&vehicles, &nodes);
        let (neighbors, scale) = if with_neighbours {
            neighbour_lists(&matrix, &request_of)
        } else {
            (vec![Vec::new(); nodes.len()], 1.0)
        };
        let n_all = nodes.len();
        let ready = nodes.iter().map(|x| x.ready).collect();
        let due = nodes.iter().map(|x| x.due).collect();
        let service = nodes.iter().map(|x| x.service).collect();
        let demand = nodes.iter().map(|x| x.demand).collect();
        Ok(Problem {
            name: name.into(),
            nodes,
            vehicles,
            matrix,
            requests,
            request_of,
            pinned_to,
            ready,
            due,
            service,
            demand,
            release: vec![f64::NEG_INFINITY; n_all],
            has_releases: false,
            end_node,
            working: vec![false; class_of.len()],
            class_of,
            neighbors,
            scale,
        })
    }

    /// Marks `vehicle` as at work whatever its route will hold (a driver finishing a stop
    /// folded into its start): it counts as used even with no stops, so the fleet
    /// objective does not count emptying its route as a vehicle saved. Its class is its
    /// own from now on.
    pub fn set_working(&mut self, vehicle: usize) {
        self.working[vehicle] = true;
        self.class_of[vehicle] = usize::MAX - vehicle;
    }

    /// No vehicle may set out towards `node` before `at`: the moment a request becomes
    /// known, for a reference plan of a dynamic run (what a dispatcher who knew every
    /// assignment in advance, but moved no vehicle towards a stop before it was known,
    /// could do). The vehicle waits where it is until then.
    ///
    /// Removing a stop then no longer always keeps a route feasible: the vehicle may
    /// have to wait for a release at the previous stop, farther away. The search ruins
    /// on until its routes are feasible again ([`crate::ruin`]) and a relocation that
    /// would leave its route infeasible is not made.
    pub fn set_release(&mut self, node: usize, at: f64) {
        self.release[node] = at;
        self.has_releases |= at.is_finite();
    }

    /// The earliest a vehicle leaving `from` at `departure` starts serving `to`.
    #[inline]
    pub(crate) fn start_at(&self, from: usize, departure: f64, to: usize) -> f64 {
        (departure.max(self.release[to]) + self.matrix.time(from, to)).max(self.ready[to])
    }

    /// The earliest a vehicle leaving `from` at `departure` arrives at `to` (before
    /// any wait for its ready time).
    #[inline]
    pub(crate) fn arrival_at(&self, from: usize, departure: f64, to: usize) -> f64 {
        departure.max(self.release[to]) + self.matrix.time(from, to)
    }

    /// The end node of a vehicle's route (an internal sink node for open routes).
    pub fn end_node(&self, vehicle: usize) -> usize {
        self.end_node[vehicle]
    }

    /// Lower bound on the number of vehicles from total demand of single-stop jobs
    /// (0 when there is no such bound).
    pub fn capacity_lower_bound(&self) -> usize {
        let cap = self.vehicles.iter().map(|v| v.capacity).max().unwrap_or(0);
        let total: i64 = self
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Single && n.demand > 0)
            .map(|n| n.demand as i64)
            .sum();
        if cap <= 0 || total == 0 {
            return usize::from(!self.requests.is_empty());
        }
        (total as usize).div_ceil(cap as usize)
    }

    /// Builds the standard benchmark problem: `k` identical vehicles leaving node 0 at
    /// its ready time and returning by its due time.
    pub fn homogeneous(
        name: impl Into<String>,
        nodes: Vec<Node>,
        matrix: Matrix,
        k: usize,
        capacity: i32,
    ) -> Result<Problem, PlanError> {
        let depot = nodes
            .first()
            .ok_or_else(|| invalid("no nodes".into()))?
            .clone();
        let veh = Vehicle {
            start: 0,
            end: Some(0),
            start_time: depot.ready,
            shift_end: depot.due,
            capacity,
            start_load: 0,
            pinned: Vec::new(),
        };
        Problem::new(name, nodes, vec![veh; k.max(1)], matrix)
    }
}

/// Checks every vehicle (depot start/end, capacity, pinned stops) and returns node →
/// vehicle it is pinned to, or [`NONE`].
fn pin_vehicles(nodes: &[Node], vehicles: &[Vehicle]) -> Result<Vec<usize>, PlanError> {
    let n = nodes.len();
    let mut pinned_to = vec![NONE; n];
    for (v, veh) in vehicles.iter().enumerate() {
        for &s in std::iter::once(&veh.start).chain(veh.end.iter()) {
            if s >= n || nodes[s].kind != NodeKind::Depot {
                return Err(invalid(format!(
                    "vehicle {v}: start/end {s} is not a depot node"
                )));
            }
        }
        if veh.capacity < 0 || veh.start_load < 0 || veh.start_load > veh.capacity {
            return Err(invalid(format!("vehicle {v}: bad capacity or start load")));
        }
        for &s in &veh.pinned {
            if s >= n || nodes[s].kind == NodeKind::Depot {
                return Err(invalid(format!(
                    "vehicle {v}: pinned stop {s} is not a stop"
                )));
            }
            if pinned_to[s] != NONE {
                return Err(invalid(format!("node {s} pinned twice")));
            }
            pinned_to[s] = v;
        }
    }
    Ok(pinned_to)
}

/// Checks every node and derives the requests of the nodes that are not pinned, with
/// node → request index (or [`NONE`]).
fn index_requests(
    nodes: &[Node],
    n_vehicles: usize,
    pinned_to: &[usize],
) -> Result<(Vec<Request>, Vec<usize>), PlanError> {
    let n = nodes.len();
    let mut requests = Vec::new();
    let mut request_of = vec![NONE; n];
    for (i, node) in nodes.iter().enumerate() {
        check_node(node, n_vehicles)?;
        let request = match node.kind {
            NodeKind::Depot => None,
            NodeKind::Single => (pinned_to[i] == NONE).then_some(Request {
                first: i,
                second: None,
            }),
            NodeKind::Pickup { delivery } => pair_request(nodes, i, delivery, pinned_to)?,
            NodeKind::Delivery { pickup } => {
                if pickup >= n || nodes[pickup].kind != (NodeKind::Pickup { delivery: i }) {
                    return Err(invalid(format!(
                        "delivery {}: pickup sibling {pickup} does not match",
                        node.id
                    )));
                }
                None
            }
        };
        if let Some(rq) = request {
            for x in rq.nodes() {
                request_of[x] = requests.len();
            }
            requests.push(rq);
        }
    }
    Ok((requests, request_of))
}

/// A node's own data: a time window that is not reversed, a finite non-negative
/// service time, a known restricting vehicle.
fn check_node(node: &Node, n_vehicles: usize) -> Result<(), PlanError> {
    if node.ready.partial_cmp(&node.due).is_none_or(|o| o.is_gt())
        || !node.service.is_finite()
        || node.service < 0.0
    {
        return Err(invalid(format!(
            "node {}: bad time window or service",
            node.id
        )));
    }
    match node.vehicle {
        Some(v) if v >= n_vehicles => {
            Err(invalid(format!("node {}: unknown vehicle {v}", node.id)))
        }
        _ => Ok(()),
    }
}

/// The request of pickup `i` and its delivery: `None` when both are pinned, an error
/// when the siblings do not match or only one of them is pinned.
fn pair_request(
    nodes: &[Node],
    i: usize,
    delivery: usize,
    pinned_to: &[usize],
) -> Result<Option<Request>, PlanError> {
    let node = &nodes[i];
    let ok = delivery < nodes.len()
        && nodes[delivery].kind == NodeKind::Delivery { pickup: i }
        && nodes[delivery].demand == -node.demand
        && node.demand >= 0;
    if !ok {
        return Err(invalid(format!(
            "pickup {}: delivery sibling {delivery} does not match",
            node.id
        )));
    }
    match (pinned_to[i] == NONE, pinned_to[delivery] == NONE) {
        (true, true) => Ok(Some(Request {
            first: i,
            second: Some(delivery),
        })),
        (false, false) => Ok(None),
        _ => Err(invalid(format!(
            "pickup {}: pickup and delivery must both be pinned or both free \
             (model goods on board as a Single delivery with negative demand)",
            node.id
        ))),
    }
}

/// Vehicle → end node. Open routes end at one shared sink node at zero distance from
/// everything, appended to `nodes` and `matrix`.
fn end_nodes(vehicles: &[Vehicle], nodes: &mut Vec<Node>, matrix: &mut Matrix) -> Vec<usize> {
    let mut sink = NONE;
    let mut end_node = Vec::with_capacity(vehicles.len());
    for veh in vehicles {
        end_node.push(match veh.end {
            Some(e) => e,
            None => {
                if sink == NONE {
                    sink = matrix.add_sink();
                    nodes.push(Node {
                        id: usize::MAX,
                        kind: NodeKind::Depot,
                        demand: 0,
                        ready: f64::NEG_INFINITY,
                        due: f64::INFINITY,
                        service: 0.0,
                        vehicle: None,
                    });
                }
                sink
            }
        });
    }
    end_node
}

/// Vehicle → class id. Vehicles with the same start, end, times, capacity and load, no
/// pinned stops and no node restricted to them are interchangeable (one class).
fn vehicle_classes(vehicles: &[Vehicle], nodes: &[Node]) -> Vec<usize> {
    let mut class_of = Vec::with_capacity(vehicles.len());
    let mut classes: Vec<usize> = Vec::new(); // representative vehicle per class
    for (v, veh) in vehicles.iter().enumerate() {
        let same = |w: &usize| {
            let o = &vehicles[*w];
            o.start == veh.start
                && o.end == veh.end
                && o.start_time == veh.start_time
                && o.shift_end == veh.shift_end
                && o.capacity == veh.capacity
                && o.start_load == veh.start_load
                && o.pinned.is_empty()
                && veh.pinned.is_empty()
        };
        match classes.iter().position(same) {
            Some(c) if !nodes.iter().any(|nd| nd.vehicle == Some(v)) => class_of.push(c),
            _ => {
                class_of.push(classes.len());
                classes.push(v);
            }
        }
    }
    class_of
}

/// Customer node → the other customers, nearest first (at most 100), and the mean
/// distance between customers (1 when there is none) that scales temperatures.
fn neighbour_lists(matrix: &Matrix, request_of: &[usize]) -> (Vec<Vec<u32>>, f64) {
    let customers: Vec<usize> = (0..request_of.len())
        .filter(|&i| request_of[i] != NONE)
        .collect();
    let mut neighbors = vec![Vec::new(); request_of.len()];
    let mut sum = 0.0;
    let mut cnt = 0usize;
    for &i in &customers {
        let mut v: Vec<u32> = customers
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| j as u32)
            .collect();
        v.sort_by(|&a, &b| {
            matrix
                .dist(i, a as usize)
                .total_cmp(&matrix.dist(i, b as usize))
                .then(a.cmp(&b))
        });
        v.truncate(100);
        for &j in &customers {
            sum += matrix.dist(i, j);
            cnt += 1;
        }
        neighbors[i] = v;
    }
    let scale = if cnt > 0 && sum > 0.0 {
        sum / cnt as f64
    } else {
        1.0
    };
    (neighbors, scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::travel::{Euclidean, Matrix};

    fn node(id: usize, kind: NodeKind, demand: i32) -> Node {
        Node {
            id,
            kind,
            demand,
            ready: 0.0,
            due: 100.0,
            service: 1.0,
            vehicle: None,
        }
    }

    #[test]
    fn requests_and_sink() {
        let nodes = vec![
            node(0, NodeKind::Depot, 0),
            node(1, NodeKind::Pickup { delivery: 2 }, 3),
            node(2, NodeKind::Delivery { pickup: 1 }, -3),
            node(3, NodeKind::Single, 1),
        ];
        let m = Matrix::from_points(
            &[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]],
            &Euclidean,
        );
        let veh = Vehicle {
            start: 0,
            end: None,
            start_time: 0.0,
            shift_end: 100.0,
            capacity: 5,
            start_load: 0,
            pinned: vec![],
        };
        let p = Problem::new("t", nodes, vec![veh.clone(), veh], m).unwrap();
        assert_eq!(p.requests.len(), 2);
        assert_eq!(p.requests[0].second, Some(2));
        assert_eq!(p.end_node(0), 4);
        assert_eq!(p.matrix.len(), 5);
        assert_eq!(p.class_of, vec![0, 0]);
    }

    #[test]
    fn mismatched_pair_is_an_error() {
        let nodes = vec![
            node(0, NodeKind::Depot, 0),
            node(1, NodeKind::Pickup { delivery: 2 }, 3),
            node(2, NodeKind::Delivery { pickup: 1 }, -2),
        ];
        let m = Matrix::from_points(&[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]], &Euclidean);
        assert!(Problem::homogeneous("t", nodes, m, 1, 5).is_err());
    }
}
