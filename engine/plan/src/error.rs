//! Errors of the planner.

use std::path::PathBuf;

use crate::check::Violation;

/// Every failure the planner reports. Nothing in this crate panics on bad input.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {msg}")]
    Parse {
        file: String,
        line: usize,
        msg: String,
    },
    #[error("invalid problem: {0}")]
    InvalidProblem(String),
    #[error("no feasible solution found: {0}")]
    NoSolution(String),
    #[error("planner produced an infeasible solution (bug): {0}")]
    Infeasible(#[from] Violation),
}
