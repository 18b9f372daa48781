//! `dispatch roads build FILE.osm.pbf --out DIR`: an OpenStreetMap extract becomes a
//! prepared road graph directory (`DIR/graph.bin`), read back once to check it.

use anyhow::Context;
use clap::Subcommand;
use dispatch_roads::RoadNetwork;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Subcommand)]
pub enum RoadsCommand {
    /// Build a prepared road graph (car profile, largest strongly connected component,
    /// contraction hierarchy) from an OpenStreetMap PBF extract.
    Build {
        /// The extract, e.g. helsinki.osm.pbf.
        file: PathBuf,
        /// Directory to write graph.bin into (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: RoadsCommand) -> anyhow::Result<()> {
    match cmd {
        RoadsCommand::Build { file, out } => build(&file, &out),
    }
}

fn build(file: &Path, out: &Path) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let (network, report) =
        RoadNetwork::build(file).with_context(|| format!("building from {}", file.display()))?;
    let s = report.stats;
    let t1 = Instant::now();
    let written = network
        .save(out)
        .with_context(|| format!("writing {}", out.display()))?;
    let save = t1.elapsed();
    let bytes = std::fs::metadata(&written).map(|m| m.len()).unwrap_or(0);
    let t2 = Instant::now();
    RoadNetwork::load(out).context("reading back the graph just written")?;
    let load = t2.elapsed();
    println!("drivable ways          {}", s.ways);
    println!(
        "nodes, edges           {} nodes, {} edges",
        s.nodes_before_scc, s.edges_before_scc
    );
    let share = 100.0 * s.nodes as f64 / s.nodes_before_scc.max(1) as f64;
    println!(
        "largest SCC kept       {} nodes ({share:.1} %), {} edges",
        s.nodes, s.edges
    );
    println!("shortcuts              {}", report.shortcuts);
    println!("read + graph           {:.3} s", report.read.as_secs_f64());
    println!(
        "contraction            {:.3} s",
        report.contract.as_secs_f64()
    );
    println!(
        "build total            {:.3} s",
        (t0.elapsed() - save - load).as_secs_f64()
    );
    println!(
        "written                {} ({bytes} bytes, {:.3} s)",
        written.display(),
        save.as_secs_f64()
    );
    println!("load check             {:.3} s", load.as_secs_f64());
    Ok(())
}
