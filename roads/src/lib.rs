//! Road network inside the engine: an OpenStreetMap extract becomes a car graph with a
//! contraction hierarchy; points snap to the nearest road; one-to-one routes and
//! many-to-many matrices answer in microseconds to milliseconds.
//!
//! # Layout
//! - `profile.rs` — the car profile: drivable `highway` classes, speeds, oneway, access.
//! - `osm.rs` — reading a PBF extract into drivable ways and node coordinates.
//! - `graph.rs` — the directed road graph (time and length per edge), largest SCC.
//! - `scc.rs` — strongly connected components (iterative Tarjan).
//! - `error.rs` — `BuildError`, `StoreError`.

pub mod error;
pub mod graph;
pub mod osm;
pub mod profile;
pub mod scc;

pub use error::{BuildError, StoreError};
pub use graph::{GraphStats, RoadGraph};
pub mod hierarchy;
pub mod matrix;
pub mod query;
