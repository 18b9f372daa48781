//! Road network inside the engine: an OpenStreetMap extract becomes a car graph with a
//! contraction hierarchy; points snap to the nearest road; one-to-one routes and
//! many-to-many matrices answer in microseconds to milliseconds, without a routing
//! server.
//!
//! # Layout
//! - `profile.rs` — the car profile: drivable `highway` classes, speeds, oneway, access.
//! - `osm.rs` — reading a PBF extract into drivable ways and node coordinates.
//! - `graph.rs` — the directed road graph (time and length per edge), largest SCC,
//!   and the plain Dijkstra the hierarchy is tested against.
//! - `scc.rs` — strongly connected components (iterative Tarjan).
//! - `hierarchy.rs` — the contraction hierarchy (`fast_paths` contracts; lengths added).
//! - `query.rs` — upward searches, the one-to-one query and its path.
//! - `matrix.rs` — bucket many-to-many.
//! - `snap.rs` — nearest road segment (rstar, local metric projection).
//! - `store.rs` — the prepared graph directory (`graph.bin`: version, checksum).
//! - `network.rs` — `RoadNetwork`: all of the above between points.
//! - `travel.rs` — `RoadTravel`, the planner's `TravelModel` on roads (haversine fallback).
//! - `polyline.rs` — encoded polylines for route geometry.
//! - `error.rs` — `BuildError`, `StoreError`.

pub mod error;
pub mod graph;
pub mod hierarchy;
pub mod matrix;
pub mod network;
pub mod osm;
pub mod polyline;
pub mod profile;
pub mod query;
pub mod scc;
pub mod snap;
pub mod store;
pub mod travel;

pub use error::{BuildError, StoreError};
pub use graph::{GraphStats, RoadGraph};
pub use network::{Answer, BuildReport, RoadNetwork, Route, DEFAULT_SNAP_RADIUS_M};
pub use travel::RoadTravel;
