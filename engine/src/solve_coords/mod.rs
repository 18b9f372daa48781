//! `dispatch solve FILE.json [--travel haversine|roads --roads DIR]`: an instance in
//! coordinates (vehicles and pickup-and-dropoff orders with lat/lon, the format of
//! docs/solve.md) solved by the offline planner on great-circle or road travel times,
//! checked, and reported with each route's planned times.
//!
//! Nothing leaves without passing [`dispatch_plan::check::check_solution`]; orders no
//! vehicle can serve are reported as unassigned, not as an error.
//!
//! - `input`: the JSON format, read field by field and validated.
//! - `build`: the planner problem and its matrix (haversine, or the road network with
//!   a counted great-circle fallback).
//! - `report`: the checked routes with their times, as text or JSON.

pub mod build;
pub mod input;
pub mod report;
#[cfg(test)]
#[path = "coords_tests.rs"]
mod tests;

pub use input::{parse, Instance};
pub use report::CoordsReport;

use dispatch_plan::check::{check_solution, Violation};
use dispatch_plan::search::{search, Budget, SearchParams};
use dispatch_plan::PlanError;
use dispatch_roads::RoadNetwork;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a coordinates instance was not solved.
#[derive(Debug, thiserror::Error)]
pub enum CoordsError {
    #[error("cannot read {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// Not JSON, or not an object of the format's shape (with line and column).
    #[error("{0}")]
    Json(String),
    /// A field with a bad value; `field` is its path, e.g. `orders[2].pickup.lat`.
    #[error("{field}: {msg}")]
    Field { field: String, msg: String },
    /// Flags that do not go together.
    #[error("{0}")]
    Flags(String),
    #[error("--roads {dir}: {msg}")]
    Roads { dir: PathBuf, msg: String },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the planned routes failed the checker (a planner bug): {0}")]
    Check(#[from] Violation),
}

/// Travel between the instance's points.
#[derive(Clone)]
pub enum SolveTravel {
    /// Great circle × `detour_factor` at `speed_kmh`.
    Haversine,
    /// Free-flow times and lengths on a road network; pairs it cannot answer fall back
    /// to the great circle (counted in the report).
    Roads {
        network: Arc<RoadNetwork>,
        /// Where it came from, for the report.
        source: String,
    },
}

impl SolveTravel {
    /// From `--travel` and `--roads`: haversine by default; roads needs a graph
    /// directory (`dispatch roads build`), loaded here.
    pub fn from_flags(travel: Option<&str>, roads: Option<&Path>) -> Result<Self, CoordsError> {
        match (travel.map(str::to_ascii_lowercase).as_deref(), roads) {
            (None | Some("haversine"), None) => Ok(SolveTravel::Haversine),
            (None | Some("haversine"), Some(_)) => Err(CoordsError::Flags(
                "--roads DIR is used with --travel roads only (the default travel is haversine)"
                    .into(),
            )),
            (Some("roads"), None) => Err(CoordsError::Flags(
                "--travel roads needs --roads DIR, a graph directory written by \
                 `dispatch roads build FILE.osm.pbf --out DIR`"
                    .into(),
            )),
            (Some("roads"), Some(dir)) => Self::load(dir),
            (Some(other), _) => Err(CoordsError::Flags(format!(
                "--travel {other:?}: expected haversine or roads"
            ))),
        }
    }

    fn load(dir: &Path) -> Result<Self, CoordsError> {
        let roads_err = |msg: String| CoordsError::Roads {
            dir: dir.to_path_buf(),
            msg,
        };
        if !dir.is_dir() {
            return Err(roads_err(
                "no such directory (build one with `dispatch roads build FILE.osm.pbf --out DIR`)"
                    .into(),
            ));
        }
        let network = RoadNetwork::load(dir).map_err(|e| roads_err(e.to_string()))?;
        Ok(SolveTravel::Roads {
            network: Arc::new(network),
            source: dir.display().to_string(),
        })
    }

    fn name(&self) -> &'static str {
        match self {
            SolveTravel::Haversine => "haversine",
            SolveTravel::Roads { .. } => "roads",
        }
    }
}

/// Whether `dispatch solve` reads `path` as a coordinates instance: `--format coords`,
/// or no `--format` and a name ending in `.json` or content starting with `{`.
pub fn is_coords(format: Option<&str>, path: &Path) -> bool {
    match format {
        Some(f) => f.eq_ignore_ascii_case("coords"),
        None => {
            let json = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            json || starts_with_brace(path)
        }
    }
}

/// What a JSON object starts with (a constant: the structure check counts braces).
const OPEN_BRACE: u8 = b'{';

fn starts_with_brace(path: &Path) -> bool {
    let mut head = [0u8; 256];
    let Ok(n) = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)) else {
        return false;
    };
    head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == OPEN_BRACE)
}

/// `--travel` and `--roads` with a benchmark file (or `--bench`): refused, as Solomon
/// and Li & Lim instances are in plane coordinates where distance is time.
pub fn refuse_benchmark_travel(
    travel: Option<&str>,
    roads: Option<&Path>,
    what: &str,
) -> Result<(), CoordsError> {
    if travel.is_none() && roads.is_none() {
        return Ok(());
    }
    Err(CoordsError::Flags(format!(
        "--travel and --roads apply to coordinate instances (--format coords, a .json \
         file) only; {what} is a Solomon or Li & Lim benchmark, in plane coordinates where \
         distance is time"
    )))
}

/// Reads and parses an instance file (named after the file unless it names itself).
pub fn load(path: &Path) -> Result<Instance, CoordsError> {
    let text = std::fs::read_to_string(path).map_err(|cause| CoordsError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    let name = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into(),
    );
    parse(&text, &name)
}

/// Builds the problem on `travel`, searches within `budget`, checks the routes and
/// reports them.
pub fn solve(
    inst: &Instance,
    travel: &SolveTravel,
    budget: Budget,
    seed: u64,
) -> Result<CoordsReport, CoordsError> {
    let t0 = Instant::now();
    let built = build::build(inst, travel)?;
    let matrix_ms = t0.elapsed().as_millis() as u64;
    let t1 = Instant::now();
    let (solution, _) = search(&built.problem, &SearchParams::new(budget, seed));
    let plans = solution.plans();
    let stats = check_solution(&built.problem, &plans, false)?;
    let mut r = report::report(inst, &built, &plans, stats.distance);
    r.travel = travel.name();
    if let SolveTravel::Roads { source, .. } = travel {
        r.roads = Some(source.clone());
    }
    r.matrix_ms = matrix_ms;
    r.search_ms = t1.elapsed().as_millis() as u64;
    Ok(r)
}

/// `dispatch solve FILE --format coords`: the search gets `time_limit_ms` of wall
/// clock after the file, the road graph and the matrix are ready.
pub fn solve_file(
    path: &Path,
    travel: Option<&str>,
    roads: Option<&Path>,
    time_limit_ms: u64,
    seed: u64,
) -> Result<CoordsReport, CoordsError> {
    let inst = load(path)?;
    let t0 = Instant::now();
    let travel = SolveTravel::from_flags(travel, roads)?;
    let loading = t0.elapsed().as_millis() as u64;
    let budget = Budget::Time(Duration::from_millis(time_limit_ms));
    let mut r = solve(&inst, &travel, budget, seed)?;
    r.matrix_ms += loading;
    Ok(r)
}
