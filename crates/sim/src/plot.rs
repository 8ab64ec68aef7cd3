//! A hand-written SVG of completions over time: one step line per group of
//! leechers, and the lower bound T* as a dashed line.

use std::fmt::Write;

use crate::Report;

const W: f64 = 800.0;
const H: f64 = 420.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

/// Completed leechers (y) over virtual time (x), as an SVG document.
pub fn svg(report: &Report) -> String {
    let end = report
        .peers
        .iter()
        .filter_map(|p| p.completed_s)
        .fold(report.lower_bound_s, f64::max)
        .max(report.end_s.min(report.lower_bound_s * 4.0))
        .max(1e-3)
        * 1.05;
    let total = report.leechers.max(1) as f64;
    let x = |t: f64| LEFT + (W - LEFT - RIGHT) * (t / end);
    let y = |n: f64| H - BOTTOM - (H - TOP - BOTTOM) * (n / total);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    // Axes with five ticks each.
    let _ = writeln!(
        s,
        r#"<path d="M{LEFT} {TOP} V{} H{}" stroke="black" fill="none"/>"#,
        H - BOTTOM,
        W - RIGHT
    );
    for k in 0..=5 {
        let t = end * f64::from(k) / 5.0;
        let n = (total * f64::from(k) / 5.0).round();
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{t:.1}</text>"#,
            x(t),
            H - BOTTOM + 16.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{n}</text>"#,
            LEFT - 6.0,
            y(n) + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">virtual time (s)</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="18">leechers complete (of {})</text>"#,
        report.leechers
    );
    if report.lower_bound_s > 0.0 {
        let bx = x(report.lower_bound_s);
        let _ = writeln!(
            s,
            r##"<path d="M{bx:.1} {TOP} V{}" stroke="#555" stroke-dasharray="5,4"/><text x="{:.1}" y="{}" fill="#555">T* {:.1} s</text>"##,
            H - BOTTOM,
            bx + 4.0,
            TOP + 12.0,
            report.lower_bound_s
        );
    }
    // One step line per group, stacked into the running total.
    let mut groups: Vec<&str> = Vec::new();
    for p in report.peers.iter().filter(|p| !p.seeder) {
        if !groups.contains(&p.group.as_str()) {
            groups.push(&p.group);
        }
    }
    for (gi, g) in groups.iter().enumerate() {
        let mut times: Vec<f64> = report
            .peers
            .iter()
            .filter(|p| !p.seeder && p.group == *g)
            .filter_map(|p| p.completed_s)
            .collect();
        times.sort_by(f64::total_cmp);
        let colour = COLOURS.get(gi % COLOURS.len()).copied().unwrap_or("black");
        let mut d = format!("M{:.1} {:.1}", x(0.0), y(0.0));
        for (k, t) in times.iter().enumerate() {
            let _ = write!(d, " H{:.1} V{:.1}", x(*t), y((k + 1) as f64));
        }
        let _ = write!(d, " H{:.1}", x(end));
        let _ = writeln!(
            s,
            r#"<path d="{d}" stroke="{colour}" stroke-width="2" fill="none"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" fill="{colour}">{}</text>"#,
            W - RIGHT - 150.0,
            TOP + 30.0 + 16.0 * gi as f64,
            escape(g)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Escapes text for XML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
