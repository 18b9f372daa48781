//! Readers for Solomon (VRPTW) and Li & Lim (PDPTW) instance files, the best-known
//! table (`bks.csv`) and published route files (`Route 1 : 63 64 49 48`).
//!
//! Malformed input gives a [`PlanError::Parse`] naming the line; nothing panics.

use std::path::Path;

use crate::model::{Node, NodeKind, Problem};
use crate::travel::{Euclidean, Matrix};
use crate::PlanError;

/// Instance file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Solomon,
    LiLim,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "solomon" => Ok(Format::Solomon),
            "lilim" | "li_lim" | "li-lim" => Ok(Format::LiLim),
            _ => Err(format!("unknown format {s:?} (expected solomon or lilim)")),
        }
    }
}

fn err(file: &str, line: usize, msg: impl Into<String>) -> PlanError {
    PlanError::Parse {
        file: file.to_string(),
        line,
        msg: msg.into(),
    }
}

pub fn read_to_string(path: &Path) -> Result<String, PlanError> {
    std::fs::read_to_string(path).map_err(|source| PlanError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Guesses the format from the content: Solomon files have a `VEHICLE` header, Li & Lim
/// files start with a line of three numbers.
pub fn guess_format(text: &str) -> Option<Format> {
    if text.to_ascii_uppercase().contains("VEHICLE") {
        return Some(Format::Solomon);
    }
    let first = text.lines().find(|l| !l.trim().is_empty())?;
    let nums = first
        .split_whitespace()
        .filter(|t| t.parse::<f64>().is_ok())
        .count();
    (nums == 3 && first.split_whitespace().count() == 3).then_some(Format::LiLim)
}

/// Reads an instance file. `name` is used in messages and as the problem name.
pub fn parse_instance(
    name: &str,
    text: &str,
    format: Option<Format>,
) -> Result<Problem, PlanError> {
    let format = match format.or_else(|| guess_format(text)) {
        Some(f) => f,
        None => {
            return Err(err(
                name,
                1,
                "cannot tell the format (use --format solomon|lilim)",
            ))
        }
    };
    match format {
        Format::Solomon => parse_solomon(name, text),
        Format::LiLim => parse_lilim(name, text),
    }
}

fn numbers(name: &str, lineno: usize, line: &str) -> Result<Vec<f64>, PlanError> {
    line.split_whitespace()
        .map(|t| {
            t.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| err(name, lineno, format!("not a number: {t:?}")))
        })
        .collect()
}

fn as_int(name: &str, lineno: usize, x: f64, what: &str) -> Result<i64, PlanError> {
    if x.fract() != 0.0 || x.abs() > 1e12 {
        return Err(err(
            name,
            lineno,
            format!("{what} must be an integer, got {x}"),
        ));
    }
    Ok(x as i64)
}

fn starts_numeric(line: &str) -> bool {
    line.split_whitespace()
        .next()
        .is_some_and(|t| t.parse::<f64>().is_ok())
}

struct Row {
    id: usize,
    x: f64,
    y: f64,
    demand: i32,
    ready: f64,
    due: f64,
    service: f64,
    line: usize,
}

fn row(name: &str, lineno: usize, v: &[f64]) -> Result<Row, PlanError> {
    let id = as_int(name, lineno, v[0], "node id")?;
    let demand = as_int(name, lineno, v[3], "demand")?;
    if id < 0 || demand.abs() > i32::MAX as i64 / 4 {
        return Err(err(name, lineno, "node id or demand out of range"));
    }
    if v[4] > v[5] || v[6] < 0.0 {
        return Err(err(
            name,
            lineno,
            "ready time after due time, or negative service time",
        ));
    }
    Ok(Row {
        id: id as usize,
        x: v[1],
        y: v[2],
        demand: demand as i32,
        ready: v[4],
        due: v[5],
        service: v[6],
        line: lineno,
    })
}

fn build(
    name: &str,
    rows: &[Row],
    kinds: Vec<NodeKind>,
    k: usize,
    q: i32,
) -> Result<Problem, PlanError> {
    if rows.len() < 2 {
        return Err(err(name, rows.last().map_or(1, |r| r.line), "no customers"));
    }
    for (i, r) in rows.iter().enumerate() {
        if r.id != i {
            return Err(err(
                name,
                r.line,
                format!("expected node {i}, found {}", r.id),
            ));
        }
    }
    let points: Vec<[f64; 2]> = rows.iter().map(|r| [r.x, r.y]).collect();
    let nodes = rows
        .iter()
        .zip(kinds)
        .map(|(r, kind)| Node {
            id: r.id,
            kind,
            demand: r.demand,
            ready: r.ready,
            due: r.due,
            service: r.service,
            vehicle: None,
        })
        .collect();
    let matrix = Matrix::from_points(&points, &Euclidean);
    Problem::homogeneous(name, nodes, matrix, k, q)
}

/// The fleet line shared by both formats: vehicle count and capacity, both positive.
fn fleet_header(name: &str, lineno: usize, v: &[f64]) -> Result<(usize, i32), PlanError> {
    let k = as_int(name, lineno, v[0], "vehicle number")?;
    let q = as_int(name, lineno, v[1], "capacity")?;
    if k <= 0 || q <= 0 || q > i32::MAX as i64 / 4 || k > 100_000 {
        return Err(err(
            name,
            lineno,
            "vehicle number and capacity must be positive",
        ));
    }
    Ok((k as usize, q as i32))
}

pub fn parse_solomon(name: &str, text: &str) -> Result<Problem, PlanError> {
    let mut fleet: Option<(usize, i32)> = None;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if !starts_numeric(line) {
            if !rows.is_empty() && !line.trim().is_empty() {
                return Err(err(name, lineno, "unexpected text after the customer rows"));
            }
            continue;
        }
        let v = numbers(name, lineno, line)?;
        match (fleet, v.len()) {
            (None, 2) => {
                fleet = Some(fleet_header(name, lineno, &v)?);
            }
            (None, _) => {
                return Err(err(
                    name,
                    lineno,
                    "expected `VEHICLE_NUMBER CAPACITY` before customers",
                ))
            }
            (Some(_), 7) => rows.push(row(name, lineno, &v)?),
            (Some(_), n) => {
                return Err(err(
                    name,
                    lineno,
                    format!("expected 7 columns in a customer row, found {n}"),
                ))
            }
        }
    }
    let (k, q) = fleet.ok_or_else(|| err(name, 1, "missing `VEHICLE NUMBER CAPACITY` section"))?;
    for r in rows.iter().skip(1) {
        if r.demand < 0 {
            return Err(err(name, r.line, "negative demand in a Solomon file"));
        }
    }
    let kinds = (0..rows.len())
        .map(|i| {
            if i == 0 {
                NodeKind::Depot
            } else {
                NodeKind::Single
            }
        })
        .collect();
    build(name, &rows, kinds, k, q)
}

pub fn parse_lilim(name: &str, text: &str) -> Result<Problem, PlanError> {
    let mut fleet: Option<(usize, i32)> = None;
    let mut rows = Vec::new();
    let mut sib = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v = numbers(name, lineno, line)?;
        match (fleet, v.len()) {
            (None, 3) => {
                fleet = Some(fleet_header(name, lineno, &v)?);
            }
            (None, n) => {
                return Err(err(
                    name,
                    lineno,
                    format!("expected `K Q speed` on the first line, found {n} numbers"),
                ))
            }
            (Some(_), 9) => {
                let r = row(name, lineno, &v)?;
                let p = as_int(name, lineno, v[7], "pickup sibling")?;
                let d = as_int(name, lineno, v[8], "delivery sibling")?;
                if p < 0 || d < 0 {
                    return Err(err(name, lineno, "negative sibling"));
                }
                sib.push((p as usize, d as usize, lineno));
                rows.push(r);
            }
            (Some(_), n) => {
                return Err(err(
                    name,
                    lineno,
                    format!("expected 9 columns in a node row, found {n}"),
                ))
            }
        }
    }
    let (k, q) = fleet.ok_or_else(|| err(name, 1, "empty file"))?;
    let n = rows.len();
    let mut kinds = Vec::with_capacity(n);
    for (i, (r, &(p, d, lineno))) in rows.iter().zip(&sib).enumerate() {
        let kind = if i == 0 {
            NodeKind::Depot
        } else if r.demand > 0 || (r.demand == 0 && d != 0) {
            if d == 0 || d >= n || sib[d].0 != i {
                return Err(err(
                    name,
                    lineno,
                    format!("pickup {i}: delivery sibling {d} does not point back"),
                ));
            }
            if rows[d].demand != -r.demand {
                return Err(err(
                    name,
                    lineno,
                    format!("pickup {i}: delivery {d} has demand {}", rows[d].demand),
                ));
            }
            NodeKind::Pickup { delivery: d }
        } else {
            if p == 0 || p >= n || sib[p].1 != i {
                return Err(err(
                    name,
                    lineno,
                    format!("delivery {i}: pickup sibling {p} does not point back"),
                ));
            }
            NodeKind::Delivery { pickup: p }
        };
        kinds.push(kind);
    }
    build(name, &rows, kinds, k, q)
}

/// One line of `bks.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bks {
    pub instance: String,
    pub vehicles: usize,
    pub distance: f64,
}

/// Reads `instance,vehicles,distance,source` (header line optional).
pub fn parse_bks_csv(name: &str, text: &str) -> Result<Vec<Bks>, PlanError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if line.trim().is_empty() || (i == 0 && f[0] == "instance") {
            continue;
        }
        if f.len() < 3 {
            return Err(err(name, i + 1, "expected instance,vehicles,distance"));
        }
        let vehicles = f[1]
            .parse()
            .map_err(|_| err(name, i + 1, "bad vehicle count"))?;
        let distance = f[2].parse().map_err(|_| err(name, i + 1, "bad distance"))?;
        out.push(Bks {
            instance: f[0].to_string(),
            vehicles,
            distance,
        });
    }
    Ok(out)
}

/// Reads the `Route k : a b c` lines of a published solution (node ids, depot implied).
pub fn parse_routes(name: &str, text: &str) -> Result<Vec<Vec<usize>>, PlanError> {
    let mut routes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if !t.starts_with("Route") {
            continue;
        }
        let rest = t
            .split_once(':')
            .ok_or_else(|| err(name, i + 1, "expected `Route k : ids`"))?
            .1;
        let ids = rest
            .split_whitespace()
            .map(|x| {
                x.parse()
                    .map_err(|_| err(name, i + 1, format!("bad node id {x:?}")))
            })
            .collect::<Result<Vec<usize>, _>>()?;
        routes.push(ids);
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOLOMON: &str = "T1\n\nVEHICLE\nNUMBER     CAPACITY\n  2         10\n\nCUSTOMER\nCUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n \n    0  0 0 0 0 100 0\n    1  3 4 5 0 50 1\n    2  6 8 5 0 50 1\n";
    const LILIM: &str = "2\t10\t1\n0\t0\t0\t0\t0\t100\t0\t0\t0\n1\t3\t4\t5\t0\t50\t1\t0\t2\n2\t6\t8\t-5\t0\t60\t1\t1\t0\n";

    #[test]
    fn solomon_ok() {
        let p = parse_instance("t", SOLOMON, None).unwrap();
        assert_eq!(p.vehicles.len(), 2);
        assert_eq!(p.vehicles[0].capacity, 10);
        assert_eq!(p.requests.len(), 2);
        assert_eq!(p.matrix.dist(0, 1), 5.0);
    }

    #[test]
    fn lilim_ok() {
        assert_eq!(guess_format(LILIM), Some(Format::LiLim));
        let p = parse_instance("t", LILIM, None).unwrap();
        assert_eq!(p.requests.len(), 1);
        assert_eq!(p.requests[0].second, Some(2));
    }

    #[test]
    fn malformed() {
        let bad = SOLOMON.replace("3 4 5 0 50 1", "3 4 x 0 50 1");
        let e = parse_instance("t", &bad, None).unwrap_err().to_string();
        assert!(e.contains("t:11") && e.contains("not a number"), "{e}");
        let bad = SOLOMON.replace("3 4 5 0 50 1", "3 4 5 0 50");
        assert!(parse_instance("t", &bad, None).is_err());
        let bad = LILIM.replace("1\t0\t2\n", "1\t0\t1\n");
        assert_ne!(bad, LILIM);
        assert!(parse_instance("t", &bad, Some(Format::LiLim)).is_err());
        assert!(parse_instance("t", "", None).is_err());
        assert!(parse_instance("t", "hello world", None).is_err());
    }
}
