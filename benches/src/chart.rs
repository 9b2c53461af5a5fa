//! The SVG chart: for every row, each engine's median time relative to the row's fastest
//! engine, as horizontal bars on a log₂ scale from 1× to 64×. Written by hand: a bar chart
//! needs a few dozen SVG elements, and needs no font files (which a plotting crate would).

use std::fmt::Write as _;

use crate::report::Report;

const LABEL_PX: f64 = 170.0;
const PLOT_PX: f64 = 560.0;
const LEGEND_PX: f64 = 130.0;
const BAR_PX: f64 = 7.0;
const GROUP_GAP_PX: f64 = 8.0;
const TOP_PX: f64 = 40.0;
const MAX_LOG2: f64 = 6.0; // 64×
const COLOURS: [&str; 6] = ["#c0392b", "#2c7fb8", "#7fbc41", "#8e6c8a", "#f39c12", "#555555"];

/// The chart of `report` as an SVG document.
pub fn svg(report: &Report) -> String {
    let engines = &report.config.engines;
    let group_px = engines.len() as f64 * BAR_PX + GROUP_GAP_PX;
    let height = TOP_PX + report.rows.len() as f64 * group_px + 30.0;
    let width = LABEL_PX + PLOT_PX + LEGEND_PX;
    let x_of = |ratio: f64| {
        LABEL_PX + 2.0 + ratio.log2().clamp(0.0, MAX_LOG2) / MAX_LOG2 * (PLOT_PX - 2.0)
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LABEL_PX}" y="16" font-size="13">Time relative to the fastest engine per row (log scale; shorter is better). Commit {}</text>"#,
        escape(&report.machine.commit)
    );
    for step in 0..=MAX_LOG2 as u32 {
        let x = x_of(f64::from(1u32 << step));
        let bottom = height - 24.0;
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP_PX}" x2="{x:.1}" y2="{bottom}" stroke="#dddddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}×</text>"##,
            bottom + 14.0,
            1u32 << step
        );
    }
    for (index, row) in report.rows.iter().enumerate() {
        let top = TOP_PX + index as f64 * group_px;
        let best =
            row.cells.values().filter_map(|cell| cell.median_secs).fold(f64::INFINITY, f64::min);
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LABEL_PX - 6.0,
            top + group_px / 2.0,
            row.row.name()
        );
        for (slot, engine) in engines.iter().enumerate() {
            let y = top + slot as f64 * BAR_PX;
            match row.cells[engine].median_secs {
                Some(secs) if best.is_finite() && best > 0.0 => {
                    let ratio = secs / best;
                    let end = x_of(ratio);
                    let _ = writeln!(
                        out,
                        r#"<rect x="{LABEL_PX}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{engine}: {} ({ratio:.2}×)</title></rect>"#,
                        end - LABEL_PX,
                        BAR_PX - 1.0,
                        COLOURS[slot % COLOURS.len()],
                        crate::report::duration(secs)
                    );
                    if ratio > f64::from(1u32 << MAX_LOG2 as u32) {
                        let _ = writeln!(
                            out,
                            r#"<text x="{:.1}" y="{:.1}" font-size="8">▶ {ratio:.0}×</text>"#,
                            end + 2.0,
                            y + 6.0
                        );
                    }
                }
                _ => {
                    let _ = writeln!(
                        out,
                        r#"<text x="{:.1}" y="{:.1}" font-size="8">n/a</text>"#,
                        LABEL_PX + 2.0,
                        y + 6.0
                    );
                }
            }
        }
    }
    for (slot, engine) in engines.iter().enumerate() {
        let x = LABEL_PX + PLOT_PX + 16.0;
        let y = TOP_PX + slot as f64 * 16.0;
        let _ = writeln!(
            out,
            r#"<rect x="{x}" y="{y}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            COLOURS[slot % COLOURS.len()],
            x + 14.0,
            y + 9.0,
            escape(engine)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
