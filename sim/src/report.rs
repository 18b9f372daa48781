//! The simulator's report: the types `dispatch-sim run` fills, `report.json`, a
//! self-contained `report.html` (inline CSS and SVG, no network) and a plain-text summary
//! table for the terminal.

mod chart;
mod html;

use html::render_html;
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
    /// "embedded", "process" (a child `dispatch serve`) or the engine URL.
    pub engine: String,
    /// CPU each side used over the run: which one saturates the machine.
    #[serde(default)]
    pub cpu: CpuUse,
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

/// CPU seconds (user + system, of one core) used from the clock's start to the end of
/// the drain, and the cores the machine has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUse {
    /// The `dispatch-sim` process: bots, order intake, console (and the engine when embedded).
    pub simulator_s: f64,
    /// The engine's own process, when the run started it as one.
    pub engine_s: Option<f64>,
    pub cores: usize,
}

impl CpuUse {
    /// "engine 61 % · simulator 23 % of the machine's 2 cores" over `wall_s`.
    pub fn describe(&self, wall_s: f64) -> String {
        if wall_s <= 0.0 || self.cores == 0 {
            return String::new();
        }
        let pct = |s: f64| 100.0 * s / wall_s / self.cores as f64;
        match self.engine_s {
            Some(e) => format!(
                "engine {:.0} % · simulator {:.0} % of {} cores",
                pct(e),
                pct(self.simulator_s),
                self.cores
            ),
            None => format!(
                "simulator process {:.0} % of {} cores",
                pct(self.simulator_s),
                self.cores
            ),
        }
    }
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

/// "2 h 05 min", "42.0 s".
fn fmt_duration(s: f64) -> String {
    if !s.is_finite() {
        return "?".into();
    }
    if s >= 3600.0 {
        let m = (s / 60.0).round() as u64;
        format!("{} h {:02} min", m / 60, m % 60)
    } else if s >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// A plain-text table for the terminal: totals, latency percentiles, budgets (PASS/FAIL).
pub fn summary_table(report: &Report) -> String {
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
    let cpu = report.cpu.describe(report.wall_s);
    if !cpu.is_empty() {
        let _ = writeln!(s, "CPU: {cpu}");
    }
    let _ = writeln!(s, "\ntotals");
    for (k, v) in total_rows(&report.totals) {
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

/// The totals as the terminal table shows them.
fn total_rows(t: &Totals) -> Vec<(&'static str, String)> {
    vec![
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
    ]
}

/// Short number formatting: integers without decimals, others with up to 2.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let minutes = (0..5u32)
            .map(|m| Minute {
                minute: m,
                clock: format!("07:{m:02}"),
                created: 10 + u64::from(m),
                assigned: 9 + u64::from(m),
                delivered: u64::from(m) * 2,
                failed: u64::from(m == 3),
                unassignable: 0,
                positions: 6000,
                created_to_route_p50_ms: 20.0 + f64::from(m),
                created_to_route_p99_ms: 45.5,
                utilisation_pct: 50.0 + f64::from(m),
                errors: u64::from(m == 2),
            })
            .collect();
        let mut errors = BTreeMap::new();
        errors.insert("http_503".to_string(), 2);
        errors.insert("<script>alert(1)</script>".to_string(), 1);
        let mut engine_metrics = BTreeMap::new();
        engine_metrics.insert(
            "dispatch_orders_created_total{kind=\"a&b\"}".to_string(),
            60.0,
        );
        Report {
            scenario: "peak <5x> & \"friends\"".into(),
            seed: 7,
            engine: "embedded".into(),
            wall_s: 12.5,
            simulated_s: 300.0,
            speedup: 24.0,
            drivers: 100,
            totals: Totals {
                created: 60,
                delivered: 20,
                ..Totals::default()
            },
            latency: Latencies::default(),
            minutes,
            budgets: vec![
                BudgetResult {
                    name: "p99 assignment ms".into(),
                    limit: 50.0,
                    actual: 45.5,
                    passed: true,
                },
                BudgetResult {
                    name: "errors".into(),
                    limit: 0.0,
                    actual: 3.0,
                    passed: false,
                },
            ],
            errors,
            engine_metrics,
            cpu: CpuUse {
                simulator_s: 2.5,
                engine_s: Some(10.0),
                cores: 2,
            },
            passed: false,
        }
    }

    #[test]
    fn html_is_self_contained_with_charts_and_escaped_text() {
        let html = render_html(&sample());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.matches("<svg ").count() >= 5, "charts: {html}");
        assert!(html.contains("<polyline"));
        assert!(html.contains("<rect"));
        assert!(html.contains("07:04"));
        // Escaped, never raw.
        assert!(html.contains("peak &lt;5x&gt; &amp; &quot;friends&quot;"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script"));
        assert!(html.contains("kind=&quot;a&amp;b&quot;"));
        // Nothing to fetch.
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains(" src=") && !html.contains(" href="));
        assert!(html.contains("FAIL") && html.contains("PASS"));
        assert!(html.contains("engine 40 % · simulator 10 % of 2 cores"));
    }

    #[test]
    fn html_copes_with_no_minutes_and_one_minute() {
        let mut r = Report::default();
        let html = render_html(&r);
        assert!(html.contains("no data"));
        r.minutes.push(Minute::default());
        let html = render_html(&r);
        assert!(html.contains("<circle"));
        assert!(!html.contains("NaN") && !html.contains("inf"));
    }

    #[test]
    fn summary_table_marks_failed_budgets() {
        let r = sample();
        let t = summary_table(&r);
        assert!(t.contains("FAIL") && t.contains("errors"));
        assert!(t.contains("PASS p99 assignment ms"), "{t}");
        let mut ok = r.clone();
        ok.budgets.retain(|b| b.passed);
        ok.passed = true;
        assert!(!summary_table(&ok).contains("FAIL"));
    }

    #[test]
    fn write_puts_both_files_in_the_dir() {
        let dir = tempfile::tempdir().unwrap();
        let (json, html) = write(&sample(), &dir.path().join("out")).unwrap();
        let back: Report = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        assert_eq!(back, sample());
        assert!(std::fs::read_to_string(html).unwrap().contains("<svg"));
    }
}
