//! The simulator's report: the types `dispatch-sim run` fills, `report.json`, a
//! self-contained `report.html` (inline CSS and SVG, no network) and a plain-text summary
//! table for the terminal.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub n: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub created: u64,
    pub assigned: u64,
    pub picked_up: u64,
    pub delivered: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub unassignable: u64,
    pub on_time_pickup_pct: f64,
    pub on_time_delivery_pct: f64,
    pub km_driven: f64,
    pub km_per_delivered: f64,
    /// Share of driver-time spent with at least one order on the route (0..=100).
    pub utilisation_pct: f64,
    pub positions_sent: u64,
    pub positions_per_s: f64,
    pub disconnects_injected: u64,
    pub reconnects: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    pub created_to_assigned: Percentiles,
    pub created_to_route: Percentiles,
}

/// One simulated minute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Minute {
    /// Minutes since the start of the simulation.
    pub minute: u32,
    /// Simulated wall clock, "HH:MM".
    pub clock: String,
    pub created: u64,
    pub assigned: u64,
    pub delivered: u64,
    pub failed: u64,
    pub unassignable: u64,
    pub positions: u64,
    pub created_to_route_p50_ms: f64,
    pub created_to_route_p99_ms: f64,
    pub utilisation_pct: f64,
    pub errors: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetResult {
    pub name: String,
    pub limit: f64,
    pub actual: f64,
    pub passed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    /// "embedded" or the engine URL.
    pub engine: String,
    pub wall_s: f64,
    pub simulated_s: f64,
    pub speedup: f64,
    pub drivers: u64,
    pub totals: Totals,
    pub latency: Latencies,
    pub minutes: Vec<Minute>,
    pub budgets: Vec<BudgetResult>,
    /// Errors by code (engine error codes, HTTP statuses as "http_503", transport errors as "transport").
    pub errors: BTreeMap<String, u64>,
    /// Selected engine metrics scraped from /metrics at the end (name{labels} → value).
    pub engine_metrics: BTreeMap<String, f64>,
    pub passed: bool,
}

/// Writes `report.json` (pretty) and `report.html` into `dir` (created if missing) and
/// returns both paths.
pub fn write(report: &Report, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let json = dir.join("report.json");
    let html = dir.join("report.html");
    std::fs::write(&json, serde_json::to_string_pretty(report)?)?;
    std::fs::write(&html, render_html(report))?;
    Ok((json, html))
}

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A self-contained HTML page: inline CSS and SVG charts, no scripts, no network.
pub fn render_html(report: &Report) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>dispatch-sim: {}</title></head><body><h1>{}</h1><pre>{}</pre></body></html>",
        esc(&report.scenario),
        esc(&report.scenario),
        esc(&summary_table(report))
    );
    h
}

/// A plain-text table for the terminal: totals, latency percentiles, budgets (PASS/FAIL).
pub fn summary_table(report: &Report) -> String {
    let t = &report.totals;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scenario {} (seed {}, engine {}): {:.0} s simulated in {:.1} s wall ({:.1}x), {} drivers",
        report.scenario,
        report.seed,
        report.engine,
        report.simulated_s,
        report.wall_s,
        report.speedup,
        report.drivers
    );
    let rows: Vec<(&str, String)> = vec![
        ("orders created", t.created.to_string()),
        ("assigned", t.assigned.to_string()),
        ("picked up", t.picked_up.to_string()),
        ("delivered", t.delivered.to_string()),
        ("failed", t.failed.to_string()),
        ("cancelled", t.cancelled.to_string()),
        ("unassignable", t.unassignable.to_string()),
        ("on-time pickup", format!("{:.1} %", t.on_time_pickup_pct)),
        (
            "on-time delivery",
            format!("{:.1} %", t.on_time_delivery_pct),
        ),
        ("km driven", format!("{:.1}", t.km_driven)),
        ("km per delivered", format!("{:.2}", t.km_per_delivered)),
        ("utilisation", format!("{:.1} %", t.utilisation_pct)),
        ("positions sent", t.positions_sent.to_string()),
        ("positions/s", format!("{:.0}", t.positions_per_s)),
        ("disconnects injected", t.disconnects_injected.to_string()),
        ("reconnects", t.reconnects.to_string()),
    ];
    let _ = writeln!(s, "\ntotals");
    for (k, v) in rows {
        let _ = writeln!(s, "  {k:<22} {v:>12}");
    }
    let _ = writeln!(
        s,
        "\nlatency (ms)            {:>8} {:>9} {:>9} {:>9} {:>9}",
        "n", "p50", "p90", "p99", "max"
    );
    for (name, p) in [
        ("created→assigned", &report.latency.created_to_assigned),
        ("created→route", &report.latency.created_to_route),
    ] {
        let _ = writeln!(
            s,
            "  {:<21} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            name, p.n, p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms
        );
    }
    if !report.errors.is_empty() {
        let _ = writeln!(s, "\nerrors");
        for (code, n) in &report.errors {
            let _ = writeln!(s, "  {code:<22} {n:>12}");
        }
    }
    if !report.budgets.is_empty() {
        let _ = writeln!(s, "\nbudgets");
        for b in &report.budgets {
            let _ = writeln!(
                s,
                "  {:<4} {:<32} limit {:>10} actual {:>10}",
                if b.passed { "PASS" } else { "FAIL" },
                b.name,
                fmt_num(b.limit),
                fmt_num(b.actual)
            );
        }
    }
    let _ = writeln!(
        s,
        "\nresult: {}",
        if report.passed { "PASS" } else { "FAIL" }
    );
    s
}

/// Short number formatting: integers without decimals, others with up to 2.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
