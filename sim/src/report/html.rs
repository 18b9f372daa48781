//! The self-contained `report.html`: inline CSS and SVG charts, no scripts, no fonts,
//! no network references, so it opens from disk anywhere.

use super::chart::{bar_chart, line_chart, Series};
use super::{fmt_duration, fmt_num, Minute, Report};
use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
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
    let mut h = String::with_capacity(64 * 1024);
    head(&mut h, report);
    cards(&mut h, report);
    charts(&mut h, report);
    h.push_str("<section class=\"tables\">\n");
    totals_table(&mut h, report);
    latency_table(&mut h, report);
    budgets_table(&mut h, report);
    errors_table(&mut h, report);
    engine_table(&mut h, report);
    h.push_str("</section>\n");
    let _ = write!(
        h,
        "<footer>dispatch-sim {} · report.json beside this file holds every number</footer>\n\
         </body>\n</html>\n",
        esc(env!("CARGO_PKG_VERSION"))
    );
    h
}

/// The document head and the page header: scenario, verdict, run facts.
fn head(h: &mut String, report: &Report) {
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
}

/// Headline numbers.
fn cards(h: &mut String, report: &Report) {
    let t = &report.totals;
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
}

/// Charts per simulated minute.
fn charts(h: &mut String, report: &Report) {
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
        h,
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
        h,
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
        h,
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
        h,
        "Positions per minute",
        &bar_chart(
            &labels,
            &Series::new("positions", "#64748b", col(|m| m.positions as f64)),
            "positions",
        ),
    );
    if report.minutes.iter().any(|m| m.errors > 0) {
        chart_block(
            h,
            "Errors per minute",
            &bar_chart(
                &labels,
                &Series::new("errors", "#dc2626", col(|m| m.errors as f64)),
                "errors",
            ),
        );
    }
    h.push_str("</section>\n");
}

fn totals_table(h: &mut String, report: &Report) {
    let t = &report.totals;
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
}

fn latency_table(h: &mut String, report: &Report) {
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
}

fn budgets_table(h: &mut String, report: &Report) {
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
}

fn errors_table(h: &mut String, report: &Report) {
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
}

fn engine_table(h: &mut String, report: &Report) {
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
    h.push_str("</div>\n");
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
