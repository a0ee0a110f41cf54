//! The chart: latency percentiles (customer → agent: p50, p99, p99.9; arrival → offer p99)
//! against offered load, log-scaled in latency, as a hand-written SVG.

use crate::report::{Report, StepReport};
use std::fmt::Write;

const W: f64 = 760.0;
const H: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

struct Series<'a> {
    label: &'a str,
    color: &'a str,
    dash: &'a str,
    value: fn(&StepReport) -> f64,
}

/// Ticks at 1, 2 and 5 times the powers of ten between `lo` and `hi`.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut d = 10f64.powf(lo.log10().floor());
    while d <= hi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let v = d * m;
            if v >= lo * 0.9999 && v <= hi * 1.0001 {
                out.push(v);
            }
        }
        d *= 10.0;
    }
    out
}

pub fn svg(report: &Report) -> String {
    let steps: Vec<&StepReport> = report
        .steps
        .iter()
        .filter(|s| s.scenario == "steady")
        .collect();
    let series = [
        Series {
            label: "customer→agent p50",
            color: "#1f77b4",
            dash: "",
            value: |s| s.customer_to_agent.p50_ms,
        },
        Series {
            label: "customer→agent p99",
            color: "#ff7f0e",
            dash: "",
            value: |s| s.customer_to_agent.p99_ms,
        },
        Series {
            label: "customer→agent p99.9",
            color: "#d62728",
            dash: "",
            value: |s| s.customer_to_agent.p999_ms,
        },
        Series {
            label: "arrival→offer p99",
            color: "#2ca02c",
            dash: "6 4",
            value: |s| s.arrival_to_offer_with_room.p99_ms,
        },
    ];
    let xs: Vec<f64> = steps.iter().map(|s| s.offered_messages_per_s).collect();
    let xlo = 10f64.powf(
        xs.iter()
            .cloned()
            .fold(f64::MAX, f64::min)
            .max(1.0)
            .log10()
            .floor(),
    );
    let xhi = 10f64
        .powf(xs.iter().cloned().fold(1.0, f64::max).log10().ceil())
        .max(xlo * 10.0);
    let mut ys: Vec<f64> = steps
        .iter()
        .flat_map(|s| series.iter().map(move |se| (se.value)(s)))
        .filter(|v| *v > 0.0)
        .collect();
    let echo = report
        .baselines
        .as_ref()
        .map(|b| b.echo.round_trip.p99_ms)
        .filter(|v| *v > 0.0);
    ys.extend(echo);
    ys.push(5.0);
    let lo = ys.iter().cloned().fold(f64::MAX, f64::min).max(0.01);
    let hi = ys.iter().cloned().fold(0.0, f64::max).max(lo * 10.0);
    let (d0, d1) = (lo.log10().floor(), hi.log10().ceil());
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |v: f64| LEFT + (v.log10() - xlo.log10()) / (xhi.log10() - xlo.log10()) * pw;
    let y = |v: f64| TOP + ph - (v.log10().max(d0) - d0) / (d1 - d0) * ph;

    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(o, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{}" y="22" font-size="15" text-anchor="middle">Switchboard latency against offered load ({} cpus)</text>"#,
        LEFT + pw / 2.0,
        report.machine.cpus
    );
    // Grid: decades on y, five ticks on x.
    let mut d = d0;
    while d <= d1 {
        let v = 10f64.powf(d);
        let yy = y(v);
        let _ = writeln!(
            o,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0,
            if v < 1.0 {
                format!("{v}")
            } else {
                format!("{v:.0}")
            }
        );
        d += 1.0;
    }
    for v in log_ticks(xlo, xhi) {
        let xx = x(v);
        let _ = writeln!(
            o,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#eee"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{v:.0}</text>"##,
            TOP + ph,
            TOP + ph + 18.0
        );
    }
    let _ = writeln!(
        o,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">offered messages per second (log scale)</text>"#,
        LEFT + pw / 2.0,
        H - 18.0
    );
    let _ = writeln!(
        o,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">latency, ms (log scale)</text>"#,
        TOP + ph / 2.0
    );
    let _ = writeln!(
        o,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    // References: the budget's 5 ms and the echo baseline's p99, drawn across the plot and
    // named in the legend (a label beside its line could land on the legend's entries).
    let mut refs = vec![("budget p99 5 ms", 5.0, "#888")];
    if let Some(e) = echo {
        refs.push(("echo round trip p99", e, "#9467bd"));
    }
    for (_, v, color) in &refs {
        let yy = y(*v);
        let _ = writeln!(
            o,
            r#"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{color}" stroke-dasharray="2 3"/>"#,
            LEFT + pw,
        );
    }
    let mut legend = Vec::new();
    for se in &series {
        let pts: Vec<(f64, f64)> = steps
            .iter()
            .map(|s| (s.offered_messages_per_s, (se.value)(s)))
            .filter(|p| p.1 > 0.0)
            .collect();
        if pts.is_empty() {
            continue;
        }
        let path: Vec<String> = pts
            .iter()
            .map(|(a, b)| format!("{:.1},{:.1}", x(*a), y(*b)))
            .collect();
        let _ = writeln!(
            o,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>"#,
            path.join(" "),
            se.color,
            se.dash
        );
        for (a, b) in &pts {
            let _ = writeln!(
                o,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                x(*a),
                y(*b),
                se.color
            );
        }
        legend.push((se.label, se.color, se.dash, 2));
    }
    legend.extend(
        refs.iter()
            .map(|(label, _, color)| (*label, *color, "2 3", 1)),
    );
    for (i, (label, color, dash, width)) in legend.iter().enumerate() {
        let ly = TOP + 20.0 + i as f64 * 18.0;
        let lx = LEFT + pw + 8.0;
        let _ = writeln!(
            o,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="{width}" stroke-dasharray="{dash}"/><text x="{:.1}" y="{:.1}">{label}</text>"#,
            lx + 22.0,
            lx + 28.0,
            ly + 4.0,
        );
    }
    o.push_str("</svg>\n");
    o
}
