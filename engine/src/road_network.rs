//! The engine's road network (`[roads]`): loaded from its prepared directory at start,
//! or built from the configured OpenStreetMap extract when none is there (a first
//! start) or the one there is damaged (its checksum catches that), then saved.

use crate::config::RoadsConfig;
use anyhow::Context;
use dispatch_roads::RoadNetwork;
use std::path::Path;

/// The configured road network, or `None` when `[roads]` names neither a graph nor an
/// extract. Blocking (a build reads the whole extract): run it off the async threads.
pub fn open(c: &RoadsConfig, data_dir: &Path) -> anyhow::Result<Option<RoadNetwork>> {
    if !c.enabled() {
        return Ok(None);
    }
    let dir = c.graph.clone().unwrap_or_else(|| data_dir.join("roads"));
    let network = match (RoadNetwork::load(&dir), &c.osm) {
        (Ok(n), _) => n,
        (Err(e), None) => {
            return Err(e).with_context(|| format!("roads.graph {}", dir.display()));
        }
        (Err(e), Some(osm)) => {
            tracing::warn!(error = %e, dir = %dir.display(), "no usable road graph: building it");
            let (n, report) =
                RoadNetwork::build(osm).with_context(|| format!("roads.osm {}", osm.display()))?;
            n.save(&dir)
                .with_context(|| format!("saving the road graph to {}", dir.display()))?;
            let s = report.stats;
            tracing::info!(nodes = s.nodes, edges = s.edges, "road graph built");
            n
        }
    };
    Ok(Some(network.with_snap_radius(c.snap_radius_m)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn extract() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/osm/helsinki.osm.pbf")
    }

    #[test]
    fn built_on_first_start_then_loaded_and_rebuilt_when_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let c = RoadsConfig {
            osm: Some(extract()),
            ..RoadsConfig::default()
        };
        assert!(open(&RoadsConfig::default(), dir.path()).unwrap().is_none());
        assert!(open(&c, dir.path()).unwrap().is_some());
        let graph = dir.path().join("roads/graph.bin");
        assert!(graph.exists());
        // Damaged: rebuilt from the extract; without one, refused with the path.
        let mut bytes = std::fs::read(&graph).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&graph, &bytes).unwrap();
        let only_graph = RoadsConfig {
            graph: Some(dir.path().join("roads")),
            ..RoadsConfig::default()
        };
        let e = open(&only_graph, dir.path())
            .err()
            .expect("a damaged graph is refused");
        assert!(format!("{e:#}").contains("roads.graph"), "{e:#}");
        assert!(open(&c, dir.path()).unwrap().is_some());
        assert!(open(&only_graph, dir.path()).unwrap().is_some());
    }
}
