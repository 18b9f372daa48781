//! The report's SVG charts: line and bar charts over the simulated minutes, drawn as
//! inline markup (no scripts, no fonts).

use super::html::esc;
use std::fmt::Write as _;

/// One named series of a chart.
pub struct Series<'a> {
    name: &'a str,
    color: &'a str,
    values: Vec<f64>,
}

impl<'a> Series<'a> {
    pub fn new(name: &'a str, color: &'a str, values: Vec<f64>) -> Self {
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
    y_axis(&mut s, top, unit);
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
    x_axis(&mut s, labels, &xs);
    legend(&mut s, series);
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

/// Horizontal grid, y tick labels up to `top` and the unit.
fn y_axis(s: &mut String, top: f64, unit: &str) {
    let ph = H - TOP - BOTTOM;
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
}

/// At most ~10 x labels at their points, then both axes and the time caption.
fn x_axis(s: &mut String, labels: &[String], xs: &[f64]) {
    let (n, ph) = (xs.len(), H - TOP - BOTTOM);
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
}

/// The series' colours and names along the top.
fn legend(s: &mut String, series: &[&Series]) {
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
pub fn line_chart(labels: &[String], series: &[Series], unit: &str) -> String {
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
pub fn bar_chart(labels: &[String], series: &Series, unit: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
