//! `dispatch solve`: read an instance, search, check, report; and the benchmark runner.
//!
//! Nothing leaves this module without passing [`crate::check::check_solution`].

use std::path::Path;
use std::time::{Duration, Instant};

use crate::check::check_solution;
use crate::model::Problem;
pub use crate::parse::Format;
use crate::parse::{parse_bks_csv, parse_instance, read_to_string, Bks};
use crate::search::{search, Budget, SearchParams};
use crate::PlanError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SolveOptions {
    /// Wall-clock budget of the whole search, in milliseconds.
    pub time_limit_ms: u64,
    pub seed: u64,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            time_limit_ms: 1000,
            seed: 1,
        }
    }
}

/// A checked solution.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SolveReport {
    #[serde(skip)]
    pub instance: String,
    pub vehicles: usize,
    pub distance: f64,
    /// External node ids in visit order, depots excluded, one list per used vehicle.
    pub routes: Vec<Vec<usize>>,
    pub time_ms: u64,
}

impl SolveReport {
    /// `{"vehicles":N,"distance":D,"routes":[[...],...],"time_ms":T}` on one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}: vehicles {} distance {:.4} time {} ms\n",
            self.instance, self.vehicles, self.distance, self.time_ms
        );
        for (k, r) in self.routes.iter().enumerate() {
            let ids: Vec<String> = r.iter().map(usize::to_string).collect();
            s.push_str(&format!("Route {} : {}\n", k + 1, ids.join(" ")));
        }
        s
    }
}

/// Solves a problem and checks the result; an error rather than an infeasible solution.
pub fn solve_problem(p: &Problem, params: &SearchParams) -> Result<SolveReport, PlanError> {
    let t0 = Instant::now();
    let (sol, _stats) = search(p, params);
    if !sol.unassigned.is_empty() {
        return Err(PlanError::NoSolution(format!(
            "{} of {} requests could not be served by the {} vehicles",
            sol.unassigned.len(),
            p.requests.len(),
            p.vehicles.len()
        )));
    }
    let plans = sol.plans();
    let stats = check_solution(p, &plans, true)?;
    Ok(SolveReport {
        instance: p.name.clone(),
        vehicles: stats.vehicles,
        distance: stats.distance,
        routes: plans
            .iter()
            .map(|r| r.stops.iter().map(|&x| p.nodes[x].id).collect())
            .collect(),
        time_ms: t0.elapsed().as_millis() as u64,
    })
}

fn instance_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Reads and parses an instance file (format guessed from the content when `None`).
pub fn load_problem(path: &Path, format: Option<Format>) -> Result<Problem, PlanError> {
    let text = read_to_string(path)?;
    parse_instance(&instance_name(path), &text, format)
}

/// `dispatch solve FILE`: wall-clock budget `opts.time_limit_ms` (parsing included).
pub fn solve_file(
    path: &Path,
    format: Option<Format>,
    opts: &SolveOptions,
) -> Result<SolveReport, PlanError> {
    let t0 = Instant::now();
    let p = load_problem(path, format)?;
    let left = Duration::from_millis(opts.time_limit_ms).saturating_sub(t0.elapsed());
    let mut r = solve_problem(&p, &SearchParams::new(Budget::Time(left), opts.seed))?;
    r.time_ms = t0.elapsed().as_millis() as u64;
    Ok(r)
}

/// Same as [`solve_file`] with an iteration budget instead of a clock: deterministic.
pub fn solve_file_iterations(
    path: &Path,
    format: Option<Format>,
    iterations: u64,
    seed: u64,
) -> Result<SolveReport, PlanError> {
    let p = load_problem(path, format)?;
    solve_problem(&p, &SearchParams::new(Budget::Iterations(iterations), seed))
}

#[derive(Clone, Debug, PartialEq)]
pub struct BenchRow {
    pub instance: String,
    pub vehicles: usize,
    pub distance: f64,
    pub bks: Option<Bks>,
    pub time_ms: u64,
    /// Set when the instance failed (no solution, parse error).
    pub error: Option<String>,
}

impl BenchRow {
    pub fn gap_pct(&self) -> Option<f64> {
        self.bks
            .as_ref()
            .map(|b| (self.distance - b.distance) / b.distance * 100.0)
    }
    pub fn vehicles_match(&self) -> bool {
        self.error.is_none()
            && self
                .bks
                .as_ref()
                .is_some_and(|b| self.vehicles <= b.vehicles)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct BenchTable {
    pub rows: Vec<BenchRow>,
    pub opts: SolveOptions,
}

impl BenchTable {
    /// Instances whose vehicle count is at most the best-known one.
    pub fn matched(&self) -> usize {
        self.rows.iter().filter(|r| r.vehicles_match()).count()
    }

    /// Mean distance gap over the instances with the best-known vehicle count.
    pub fn mean_gap_matched(&self) -> Option<f64> {
        let g: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| r.vehicles_match())
            .filter_map(BenchRow::gap_pct)
            .collect();
        (!g.is_empty()).then(|| g.iter().sum::<f64>() / g.len() as f64)
    }

    pub fn to_markdown(&self) -> String {
        let mut s = String::from(
            "| instance | vehicles | distance | BKS vehicles | BKS distance | gap % | time ms |\n\
             |---|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.rows {
            if let Some(e) = &r.error {
                s.push_str(&format!(
                    "| {} | error: {} | | | | | {} |\n",
                    r.instance, e, r.time_ms
                ));
                continue;
            }
            let (bv, bd, gap) = match (&r.bks, r.gap_pct()) {
                (Some(b), Some(g)) => (
                    b.vehicles.to_string(),
                    format!("{:.2}", b.distance),
                    format!("{:+.2}", if g.abs() < 0.005 { 0.0 } else { g }),
                ),
                _ => ("?".into(), "?".into(), "?".into()),
            };
            let mark = if r.bks.is_some() && !r.vehicles_match() {
                " (+)"
            } else {
                ""
            };
            s.push_str(&format!(
                "| {} | {}{} | {:.2} | {} | {} | {} | {} |\n",
                r.instance, r.vehicles, mark, r.distance, bv, bd, gap, r.time_ms
            ));
        }
        let n = self.rows.len();
        let mean_t = self.rows.iter().map(|r| r.time_ms as f64).sum::<f64>() / n.max(1) as f64;
        s.push_str(&format!(
            "\n{} instances; best-known vehicle count reached on {} ({:.1} %); mean gap on those \
             {}; mean time {:.0} ms; budget {} ms, seed {}.\n",
            n,
            self.matched(),
            100.0 * self.matched() as f64 / n.max(1) as f64,
            self.mean_gap_matched()
                .map_or("n/a".to_string(), |g| format!("{g:+.2} %")),
            mean_t,
            self.opts.time_limit_ms,
            self.opts.seed
        ));
        s
    }
}

/// Where `bench_dir` looks for best-known values by default: `DIR/bks.csv`, else
/// `DIR/../bks.csv` (the layout of `shared/data/vrp`).
pub fn default_bks_csv(dir: &Path) -> std::path::PathBuf {
    let here = dir.join("bks.csv");
    if here.is_file() {
        return here;
    }
    dir.parent().map_or(here, |p| p.join("bks.csv"))
}

/// Solves every `*.txt` instance of `dir` (sorted by name) and compares with `bks_csv`.
/// Progress goes to stderr.
pub fn bench_dir(dir: &Path, bks_csv: &Path, opts: &SolveOptions) -> Result<BenchTable, PlanError> {
    let bks = parse_bks_csv(&bks_csv.display().to_string(), &read_to_string(bks_csv)?)?;
    let io = |source| PlanError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt")))
        .collect();
    files.sort();
    let mut rows = Vec::new();
    for f in files {
        let name = instance_name(&f);
        let b = bks
            .iter()
            .find(|b| b.instance == name)
            .or_else(|| bks.iter().find(|b| b.instance.eq_ignore_ascii_case(&name)))
            .cloned();
        let row = match solve_file(&f, None, opts) {
            Ok(r) => BenchRow {
                instance: name,
                vehicles: r.vehicles,
                distance: r.distance,
                bks: b,
                time_ms: r.time_ms,
                error: None,
            },
            Err(e) => BenchRow {
                instance: name,
                vehicles: 0,
                distance: 0.0,
                bks: b,
                time_ms: 0,
                error: Some(e.to_string()),
            },
        };
        eprintln!(
            "{:<8} vehicles {:>3} (bks {:>3}) distance {:>10.2} gap {:>+7.2} % {:>6} ms{}",
            row.instance,
            row.vehicles,
            row.bks
                .as_ref()
                .map_or("?".into(), |b| b.vehicles.to_string()),
            row.distance,
            row.gap_pct().unwrap_or(f64::NAN),
            row.time_ms,
            row.error
                .as_deref()
                .map_or(String::new(), |e| format!(" ERROR {e}"))
        );
        rows.push(row);
    }
    Ok(BenchTable { rows, opts: *opts })
}
