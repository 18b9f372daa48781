//! Route planner for dispatch: a PDPTW/VRPTW optimiser.
//!
//! A pure library: no actors, no async, no clock except the optional wall-clock budget of
//! the metaheuristic. Time and travel are passed in through a [`travel::TravelModel`].
//!
//! # Layout
//!
//! Modules in data-flow order:
//!
//! - [`travel`]: points, the [`travel::TravelModel`] trait (Euclidean for benchmarks,
//!   haversine × detour factor for live dispatch) and the precomputed [`travel::Matrix`].
//! - [`model`]: the problem: nodes (depots, single-stop jobs, pickup/delivery pairs), time
//!   windows, demands, vehicles (start, optional end, shift end, capacity, load on board,
//!   pinned stops) and the derived requests.
//! - [`parse`]: Solomon (VRPTW) and Li & Lim (PDPTW) instance files and best-known tables.
//! - [`check`]: the independent feasibility checker that recomputes routes from scratch.
//! - [`route`]: a route with cached schedule (earliest start, latest start, load) and a
//!   whole solution.
//! - [`insert`]: O(1)-per-position feasibility and cost of inserting a request; best
//!   insertion over many routes (the primitive live dispatch calls).
//! - [`local_search`]: request relocation (pairs move together, intra and inter route)
//!   and [`local_search::improve_route`] for one route.
//! - [`ruin`]: SISR ruin (adjacent string removal) and greedy recreate with blinks.
//! - [`search`]: the metaheuristic: construction, route (fleet) minimisation, simulated
//!   annealing on distance; wall-clock or iteration budget, deterministic per seed.
//! - [`solve`]: file in, checked report out (`dispatch solve`), and the benchmark runner.
//!
//! # Calls for live dispatch
//!
//! ```text
//! let m = Matrix::from_points(&latlons, &Haversine { detour_factor: 1.3, speed_mps: 8.3 });
//! let p = Problem::new(name, nodes, vehicles, m)?;        // pinned stops on Vehicle
//! let routes: Vec<Route> = (0..p.vehicles.len()).map(|v| Route::new(&p, v)).collect();
//! // or Route::from_stops(&p, v, &current_plan) for drivers that already have stops
//! let order = p.requests[p.request_of[pickup_node]];
//! let costs = insert::costs_over_routes(&p, &routes, order); // Vec<Option<Insertion>>
//! insert::apply(&p, &mut routes[best.route], order, &best);
//! local_search::improve_route(&p, &mut routes[best.route], 200, seed);
//! // whole re-plan: search::search(&p, &SearchParams::new(Budget::Time(..), seed))
//! ```
//!
//! Units: the planner is unit-agnostic. Benchmarks use Euclidean distance = time.
//! Live dispatch with [`travel::Haversine`] uses metres for distance and seconds for
//! duration (time windows, service times and shift ends must then be in seconds).

pub mod check;
pub mod error;
pub mod insert;
pub mod local_search;
pub mod model;
pub mod parse;
pub mod rng;
pub mod route;
pub mod ruin;
pub mod search;
pub mod solve;
pub mod travel;

pub use error::PlanError;
