//! The crate's errors: building a graph, and loading a prepared one.

use std::path::PathBuf;

/// Why a road graph could not be built. (The underlying error is in the message, not
/// a `source`, so a printed chain names it once.)
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot open {path}: {cause}")]
    Open {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path} is not a readable OSM PBF extract: {cause}")]
    Pbf { path: PathBuf, cause: osmpbf::Error },
    #[error("no drivable roads in the input (after the car profile and the largest strongly connected component)")]
    NoRoads,
    #[error("contraction failed: {0}")]
    Hierarchy(String),
    #[error("the network has more nodes or edges than 32-bit ids can address")]
    TooLarge,
}

/// Why a prepared graph directory could not be read (the caller can rebuild it).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read or write {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path} is not a prepared road graph (bad magic bytes)")]
    BadMagic { path: PathBuf },
    #[error("{path} has format version {found}, this build reads version {expected}: rebuild it")]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("{path} is truncated: {expected} payload bytes announced, {found} present")]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{path} is corrupt: checksum mismatch")]
    Checksum { path: PathBuf },
    #[error("{path} does not decode: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("cannot encode the graph: {0}")]
    Encode(String),
}
