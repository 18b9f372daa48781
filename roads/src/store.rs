//! The prepared graph directory: `graph.bin`, a header (magic, format version, payload
//! length, SHA-256 of the payload) and the bincode 2 encoding of the graph and its
//! hierarchy. A short, corrupt or foreign file is an error, never a panic; the
//! decoded arrays are checked for consistency before any query can index them.

use crate::error::StoreError;
use crate::graph::RoadGraph;
use crate::hierarchy::{ChEdge, Hierarchy, NO_EDGE};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The file in a prepared graph directory.
pub const FILE_NAME: &str = "graph.bin";
const MAGIC: &[u8; 8] = b"DROADS\0\0";
/// Bumped whenever the payload's layout or meaning changes.
pub const FORMAT_VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 8 + 32;

#[derive(Serialize, Deserialize)]
pub(crate) struct Stored {
    pub graph: RoadGraph,
    pub hierarchy: Hierarchy,
}

/// Writes `dir/graph.bin` (through a temporary file and a rename).
pub(crate) fn save(dir: &Path, stored: &Stored) -> Result<PathBuf, StoreError> {
    let path = dir.join(FILE_NAME);
    let io = |cause| StoreError::Io {
        path: path.clone(),
        cause,
    };
    let payload = bincode::serde::encode_to_vec(stored, bincode::config::standard())
        .map_err(|e| StoreError::Encode(e.to_string()))?;
    let mut bytes = Vec::with_capacity(HEADER + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&Sha256::digest(&payload));
    bytes.extend_from_slice(&payload);
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    std::fs::write(&tmp, &bytes).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

/// Reads and verifies `dir/graph.bin`.
pub(crate) fn load(dir: &Path) -> Result<Stored, StoreError> {
    let path = dir.join(FILE_NAME);
    let bytes = std::fs::read(&path).map_err(|cause| StoreError::Io {
        path: path.clone(),
        cause,
    })?;
    let p = || path.clone();
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err(StoreError::BadMagic { path: p() });
    }
    let found = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if found != FORMAT_VERSION {
        return Err(StoreError::Version {
            path: p(),
            found,
            expected: FORMAT_VERSION,
        });
    }
    let announced = bytes.get(12..20).map_or(u64::MAX, |b| {
        u64::from_le_bytes(b.try_into().unwrap_or_default())
    });
    let present = bytes.len().saturating_sub(HEADER) as u64;
    if bytes.len() < HEADER || announced != present {
        return Err(StoreError::Truncated {
            path: p(),
            expected: announced,
            found: present,
        });
    }
    let payload = &bytes[HEADER..];
    if Sha256::digest(payload).as_slice() != &bytes[20..52] {
        return Err(StoreError::Checksum { path: p() });
    }
    let decode = |reason: String| StoreError::Decode { path: p(), reason };
    let (stored, _): (Stored, _) =
        bincode::serde::decode_from_slice(payload, bincode::config::standard())
            .map_err(|e| decode(e.to_string()))?;
    validate(&stored).map_err(|r| decode(r.to_string()))?;
    Ok(stored)
}

/// Every index a query follows is in bounds.
fn validate(s: &Stored) -> Result<(), &'static str> {
    let g = &s.graph;
    let n = g.coords.len();
    let ne = g.edges.len();
    csr_ok(&g.first_out, n, ne).ok_or("graph offsets")?;
    let in_graph = |v: u32| (v as usize) < n;
    if !g.edges.iter().all(|e| in_graph(e.from) && in_graph(e.to)) {
        return Err("graph edge endpoints");
    }
    let h = &s.hierarchy;
    if h.rank.len() != n || !h.rank.iter().all(|&r| in_graph(r)) {
        return Err("hierarchy ranks");
    }
    csr_ok(&h.first_fwd, n, h.fwd.len()).ok_or("hierarchy forward offsets")?;
    csr_ok(&h.first_bwd, n, h.bwd.len()).ok_or("hierarchy backward offsets")?;
    let edges_ok = |edges: &[ChEdge]| {
        edges.iter().all(|e| {
            in_graph(e.base)
                && in_graph(e.adj)
                && ((e.replaced_in == NO_EDGE && e.replaced_out == NO_EDGE)
                    || ((e.replaced_in as usize) < h.bwd.len()
                        && (e.replaced_out as usize) < h.fwd.len()))
        })
    };
    if !edges_ok(&h.fwd) || !edges_ok(&h.bwd) {
        return Err("hierarchy edges");
    }
    Ok(())
}

/// `first` has `n + 1` non-decreasing offsets from 0 to `len`.
fn csr_ok(first: &[u32], n: usize, len: usize) -> Option<()> {
    let ok = first.len() == n + 1
        && first.first() == Some(&0)
        && first.last().map(|&l| l as usize) == Some(len)
        && first.windows(2).all(|w| w[0] <= w[1]);
    ok.then_some(())
}
