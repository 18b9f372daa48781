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

/// A self-contained HTML page: inline CSS and SVG charts, no scripts, no fonts, no
/// network references, so it opens from disk anywhere.
pub fn render_html(report: &Report) -> String {
    let t = &report.totals;
    let mut h = String::with_capacity(64 * 1024);
    let title = format!("dispatch-sim report: {}", report.scenario);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    let verdict = if report.passed {
        "<span class=\"badge pass\">PASS</span>"
    } else {
        "<span class=\"badge fail\">FAIL</span>"
    };
    let _ = writeln!(
        h,
        "<header><h1>{} {verdict}</h1><p class=\"meta\">seed {} · engine {} · {} drivers · \
         {} simulated in {} wall ({:.1}× speed-up){}</p></header>",
        esc(&report.scenario),
        report.seed,
        esc(&report.engine),
        report.drivers,
        esc(&fmt_duration(report.simulated_s)),
        esc(&fmt_duration(report.wall_s)),
        report.speedup,
        match report.cpu.describe(report.wall_s) {
            d if d.is_empty() => d,
            d => format!(" · CPU: {}", esc(&d)),
        }
    );

    // Headline numbers.
    let cards = [
        ("orders created", t.created.to_string()),
        ("delivered", t.delivered.to_string()),
        ("unassignable", t.unassignable.to_string()),
        (
            "created→route p99",
            format!("{} ms", fmt_num(report.latency.created_to_route.p99_ms)),
        ),
        (
            "on-time delivery",
            format!("{} %", fmt_num(t.on_time_delivery_pct)),
        ),
        ("utilisation", format!("{} %", fmt_num(t.utilisation_pct))),
        ("positions/s", fmt_num(t.positions_per_s)),
        ("errors", report.errors.values().sum::<u64>().to_string()),
    ];
    h.push_str("<section class=\"cards\">");
    for (k, v) in cards {
        let _ = write!(
            h,
            "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
            esc(&v),
            esc(k)
        );
    }
    h.push_str("</section>\n");

    // Charts per simulated minute.
    let labels: Vec<String> = report
        .minutes
        .iter()
        .map(|m| {
            if m.clock.is_empty() {
                format!("+{}m", m.minute)
            } else {
                m.clock.clone()
            }
        })
        .collect();
    let col = |f: fn(&Minute) -> f64| report.minutes.iter().map(f).collect::<Vec<f64>>();
    h.push_str("<section class=\"charts\">\n");
    chart_block(
        &mut h,
        "Orders per minute",
        &line_chart(
            &labels,
            &[
                Series::new("created", "#2563eb", col(|m| m.created as f64)),
                Series::new("assigned", "#7c3aed", col(|m| m.assigned as f64)),
                Series::new("delivered", "#16a34a", col(|m| m.delivered as f64)),
                Series::new("failed", "#dc2626", col(|m| m.failed as f64)),
                Series::new("unassignable", "#ea580c", col(|m| m.unassignable as f64)),
            ],
            "orders",
        ),
    );
    chart_block(
        &mut h,
        "Order created → route received (per minute)",
        &line_chart(
            &labels,
            &[
                Series::new("p50", "#2563eb", col(|m| m.created_to_route_p50_ms)),
                Series::new("p99", "#dc2626", col(|m| m.created_to_route_p99_ms)),
            ],
            "ms",
        ),
    );
    chart_block(
        &mut h,
        "Driver utilisation",
        &line_chart(
            &labels,
            &[Series::new(
                "utilisation %",
                "#0d9488",
                col(|m| m.utilisation_pct),
            )],
            "%",
        ),
    );
    chart_block(
        &mut h,
        "Positions per minute",
        &bar_chart(
            &labels,
            &Series::new("positions", "#64748b", col(|m| m.positions as f64)),
            "positions",
        ),
    );
    if report.minutes.iter().any(|m| m.errors > 0) {
        chart_block(
            &mut h,
            "Errors per minute",
            &bar_chart(
                &labels,
                &Series::new("errors", "#dc2626", col(|m| m.errors as f64)),
                "errors",
            ),
        );
    }
    h.push_str("</section>\n");

    // Tables.
    h.push_str("<section class=\"tables\">\n");
    let totals: Vec<(&str, String)> = vec![
        ("orders created", t.created.to_string()),
        ("assigned", t.assigned.to_string()),
        ("picked up", t.picked_up.to_string()),
        ("delivered", t.delivered.to_string()),
        ("failed", t.failed.to_string()),
        ("cancelled", t.cancelled.to_string()),
        ("unassignable", t.unassignable.to_string()),
        (
            "on-time pickup",
            format!("{} %", fmt_num(t.on_time_pickup_pct)),
        ),
        (
            "on-time delivery",
            format!("{} %", fmt_num(t.on_time_delivery_pct)),
        ),
        ("km driven", fmt_num(t.km_driven)),
        ("km per delivered order", fmt_num(t.km_per_delivered)),
        (
            "driver utilisation",
            format!("{} %", fmt_num(t.utilisation_pct)),
        ),
        ("positions sent", t.positions_sent.to_string()),
        ("positions/s", fmt_num(t.positions_per_s)),
        ("disconnects injected", t.disconnects_injected.to_string()),
        ("reconnects", t.reconnects.to_string()),
    ];
    h.push_str("<div class=\"tbl\"><h2>Totals</h2><table>");
    for (k, v) in &totals {
        let _ = write!(
            h,
            "<tr><th>{}</th><td class=\"num\">{}</td></tr>",
            esc(k),
            esc(v)
        );
    }
    h.push_str("</table></div>\n");

    h.push_str(
        "<div class=\"tbl\"><h2>Latency (ms)</h2><table><tr><th></th><th>n</th><th>p50</th>\
         <th>p90</th><th>p99</th><th>max</th></tr>",
    );
    for (name, p) in [
        ("created → assigned", &report.latency.created_to_assigned),
        ("created → route", &report.latency.created_to_route),
    ] {
        let _ = write!(
            h,
            "<tr><th>{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(name),
            p.n,
            esc(&fmt_num(p.p50_ms)),
            esc(&fmt_num(p.p90_ms)),
            esc(&fmt_num(p.p99_ms)),
            esc(&fmt_num(p.max_ms))
        );
    }
    h.push_str("</table></div>\n");

    h.push_str("<div class=\"tbl\"><h2>Budgets</h2>");
    if report.budgets.is_empty() {
        h.push_str("<p class=\"none\">no budgets in this scenario</p>");
    } else {
        h.push_str("<table><tr><th>budget</th><th>limit</th><th>actual</th><th>result</th></tr>");
        for b in &report.budgets {
            let (class, word) = if b.passed {
                ("pass", "PASS")
            } else {
                ("fail", "FAIL")
            };
            let _ = write!(
                h,
                "<tr class=\"{class}\"><th>{}</th><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td><span class=\"badge {class}\">{word}</span></td></tr>",
                esc(&b.name),
                esc(&fmt_num(b.limit)),
                esc(&fmt_num(b.actual))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</div>\n");

    h.push_str("<div class=\"tbl\"><h2>Errors by code</h2>");
    if report.errors.is_empty() {
        h.push_str("<p class=\"none\">no errors</p>");
    } else {
        h.push_str("<table><tr><th>code</th><th>count</th></tr>");
        for (code, n) in &report.errors {
            let _ = write!(
                h,
                "<tr><th>{}</th><td class=\"num\">{n}</td></tr>",
                esc(code)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</div>\n");

    h.push_str("<div class=\"tbl wide\"><h2>Engine metrics (scraped at the end)</h2>");
    if report.engine_metrics.is_empty() {
        h.push_str("<p class=\"none\">none scraped</p>");
    } else {
        h.push_str("<table><tr><th>metric</th><th>value</th></tr>");
        for (name, v) in &report.engine_metrics {
            let _ = write!(
                h,
                "<tr><th class=\"mono\">{}</th><td class=\"num\">{}</td></tr>",
                esc(name),
                esc(&fmt_num(*v))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</div>\n</section>\n");
    let _ = write!(
        h,
        "<footer>dispatch-sim {} · report.json beside this file holds every number</footer>\n\
         </body>\n</html>\n",
        esc(env!("CARGO_PKG_VERSION"))
    );
    h
}

const CSS: &str = "\
:root{--fg:#0f172a;--mute:#64748b;--line:#e2e8f0;--bg:#f8fafc;--pass:#15803d;--fail:#b91c1c}\
*{box-sizing:border-box}\
body{margin:0;padding:24px 32px;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg)}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:15px;margin:0 0 8px}\
.meta{color:var(--mute);margin:0 0 16px}\
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;color:#fff;vertical-align:middle}\
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}\
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:20px}\
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:140px}\
.card .v{font-size:20px;font-weight:600}.card .k{color:var(--mute);font-size:12px}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px;margin-bottom:20px}\
.chart{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px}\
.chart svg{width:100%;height:auto;display:block}\
.tables{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:16px}\
.tbl{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px;overflow-x:auto}\
.tbl.wide{grid-column:1/-1}\
table{border-collapse:collapse;width:100%}\
th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;font-weight:normal}\
tr:first-child th{font-weight:600}\
td.num{text-align:right;font-variant-numeric:tabular-nums}\
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}\
tr.pass td,tr.pass th{background:#f0fdf4}tr.fail td,tr.fail th{background:#fef2f2}\
.none{color:var(--mute);margin:0}\
footer{color:var(--mute);margin-top:24px;font-size:12px}\
svg text{font:11px system-ui,sans-serif;fill:#475569}\
svg .grid{stroke:#e2e8f0;stroke-width:1}svg .axis{stroke:#94a3b8;stroke-width:1}";

fn chart_block(h: &mut String, title: &str, svg: &str) {
    let _ = writeln!(h, "<div class=\"chart\"><h2>{}</h2>{svg}</div>", esc(title));
}

/// One named series of a chart.
struct Series<'a> {
    name: &'a str,
    color: &'a str,
    values: Vec<f64>,
}

impl<'a> Series<'a> {
    fn new(name: &'a str, color: &'a str, values: Vec<f64>) -> Self {
        Self {
            name,
            color,
            values,
        }
    }
}

// Chart geometry (SVG user units; the SVG scales to its box).
const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 36.0;

/// A "nice" upper bound for an axis (1, 2, 2.5 or 5 × 10^k) at or above `v`.
fn nice_max(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&c| c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * mag)
}

/// Frame shared by the line and bar charts: grid, y ticks, x labels, axes and legend.
/// Returns the SVG so far, the y scale's top and the x position of each point.
fn frame(labels: &[String], series: &[&Series], unit: &str, bars: bool) -> (String, f64, Vec<f64>) {
    let n = labels.len();
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = nice_max(max);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let mut s = format!(
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(&series.iter().map(|s| s.name).collect::<Vec<_>>().join(", "))
    );
    // Horizontal grid and y tick labels.
    for i in 0..=5 {
        let v = top * f64::from(i) / 5.0;
        let y = TOP + ph - ph * f64::from(i) / 5.0;
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            esc(&fmt_tick(v))
        );
    }
    let _ = write!(
        s,
        "<text x=\"4\" y=\"{:.1}\" transform=\"rotate(-90 10 {:.1})\" text-anchor=\"middle\">{}</text>",
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        esc(unit)
    );
    // X positions: bars sit in the middle of equal slots; lines span the width.
    let xs: Vec<f64> = (0..n)
        .map(|i| {
            if bars {
                LEFT + pw * (i as f64 + 0.5) / n as f64
            } else if n <= 1 {
                LEFT + pw / 2.0
            } else {
                LEFT + pw * i as f64 / (n - 1) as f64
            }
        })
        .collect();
    // At most ~10 x labels.
    let step = n.div_ceil(10).max(1);
    for (i, x) in xs.iter().enumerate() {
        if i % step == 0 || i + 1 == n && n > 1 && (n - 1) % step > step / 2 {
            let _ = write!(
                s,
                "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                TOP + ph,
                TOP + ph + 4.0,
                TOP + ph + 16.0,
                esc(&labels[i])
            );
        }
    }
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        TOP + ph,
        TOP + ph,
        W - RIGHT,
        TOP + ph
    );
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">simulated time</text>",
        W - RIGHT,
        H - 4.0
    );
    // Legend along the top.
    let mut lx = LEFT;
    for se in series {
        let _ = write!(
            s,
            "<rect x=\"{lx:.1}\" y=\"8\" width=\"12\" height=\"12\" rx=\"2\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"18\">{}</text>",
            esc(se.color),
            lx + 16.0,
            esc(se.name)
        );
        lx += 28.0 + 7.0 * se.name.chars().count() as f64;
    }
    if n == 0 {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no data</text>",
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
    }
    (s, top, xs)
}

fn y_of(v: f64, top: f64) -> f64 {
    let ph = H - TOP - BOTTOM;
    let v = if v.is_finite() {
        v.clamp(0.0, top)
    } else {
        0.0
    };
    TOP + ph - ph * v / top
}

/// A line chart of several series over the same x labels (SVG markup).
fn line_chart(labels: &[String], series: &[Series], unit: &str) -> String {
    let refs: Vec<&Series> = series.iter().collect();
    let (mut s, top, xs) = frame(labels, &refs, unit, false);
    for se in series {
        let pts: Vec<String> = xs
            .iter()
            .zip(&se.values)
            .map(|(x, v)| format!("{x:.1},{:.1}", y_of(*v, top)))
            .collect();
        if pts.len() == 1 {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                xs[0],
                y_of(se.values[0], top),
                esc(se.color)
            );
        } else if !pts.is_empty() {
            let _ = write!(
                s,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" \
                 stroke-linejoin=\"round\" points=\"{}\"/>",
                esc(se.color),
                pts.join(" ")
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A bar chart of one series (SVG markup).
fn bar_chart(labels: &[String], series: &Series, unit: &str) -> String {
    let (mut s, top, xs) = frame(labels, &[series], unit, true);
    let slot = (W - LEFT - RIGHT) / xs.len().max(1) as f64;
    let bw = (slot * 0.8).max(0.5);
    let base = y_of(0.0, top);
    for (x, v) in xs.iter().zip(&series.values) {
        let y = y_of(*v, top);
        let _ = write!(
            s,
            "<rect x=\"{:.2}\" y=\"{y:.1}\" width=\"{bw:.2}\" height=\"{:.1}\" fill=\"{}\"/>",
            x - bw / 2.0,
            base - y,
            esc(series.color)
        );
    }
    s.push_str("</svg>");
    s
}

/// Tick labels: 12k, 1.5M, 0.25.
fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
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
    let cpu = report.cpu.describe(report.wall_s);
    if !cpu.is_empty() {
        let _ = writeln!(s, "CPU: {cpu}");
    }
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

    #[test]
    fn nice_axis_bounds() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(10.0), 10.0);
        assert_eq!(nice_max(11.0), 20.0);
        assert_eq!(nice_max(230.0), 250.0);
        assert_eq!(fmt_tick(25_000.0), "25k");
        assert_eq!(fmt_tick(0.5), "0.5");
    }
}
