//! Reading an OpenStreetMap PBF extract: the ways the car profile drives, then the
//! coordinates of their nodes (two passes, so only the nodes of roads are kept).

use crate::error::BuildError;
use crate::profile::{self, WaySpec};
use osmpbf::{Element, ElementReader};
use std::collections::HashMap;
use std::path::Path;

/// A drivable way: its OSM node ids in order and what the profile says about it.
#[derive(Clone, Debug)]
pub struct RawWay {
    pub nodes: Vec<i64>,
    pub spec: WaySpec,
}

/// The drivable part of an extract, before it becomes a graph. Also what tests build by
/// hand to exercise the graph builder without a PBF file.
#[derive(Clone, Debug, Default)]
pub struct RawNetwork {
    pub ways: Vec<RawWay>,
    /// OSM node id → (lat, lon) in degrees, only for nodes on `ways`.
    pub coords: HashMap<i64, [f64; 2]>,
}

/// Reads the drivable ways of `path` and their nodes' coordinates.
pub fn read_pbf(path: &Path) -> Result<RawNetwork, BuildError> {
    let pbf_err = |cause| BuildError::Pbf {
        path: path.to_path_buf(),
        cause,
    };
    let open = || {
        std::fs::metadata(path).map_err(|cause| BuildError::Open {
            path: path.to_path_buf(),
            cause,
        })?;
        ElementReader::from_path(path).map_err(pbf_err)
    };
    let mut ways = Vec::new();
    open()?
        .for_each(|element| {
            if let Element::Way(way) = element {
                if let Some(spec) = profile::car(way.tags()) {
                    let nodes = way.refs().collect();
                    ways.push(RawWay { nodes, spec });
                }
            }
        })
        .map_err(pbf_err)?;
    let mut coords: HashMap<i64, [f64; 2]> = ways
        .iter()
        .flat_map(|w| w.nodes.iter().map(|&id| (id, [f64::NAN; 2])))
        .collect();
    open()?
        .for_each(|element| {
            let (id, lat, lon) = match element {
                Element::Node(n) => (n.id(), n.lat(), n.lon()),
                Element::DenseNode(n) => (n.id(), n.lat(), n.lon()),
                _ => return,
            };
            if let Some(slot) = coords.get_mut(&id) {
                *slot = [lat, lon];
            }
        })
        .map_err(pbf_err)?;
    coords.retain(|_, c| c[0].is_finite() && c[1].is_finite());
    Ok(RawNetwork { ways, coords })
}
