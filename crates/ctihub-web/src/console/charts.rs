//! Bar charts as inline SVG, drawn on the server: the console loads no chart library and runs
//! no script to show a report. Colours are presentation attributes, not `style`, so the strict
//! content security policy holds. Every bar carries a `<title>` (a tooltip and what a screen
//! reader says) and the numbers are also in the page's tables.

use std::fmt::Write;

use crate::html::escape;

const BAR_COLOUR: &str = "#3b6fc4";
const AXIS_COLOUR: &str = "#8a94a6";
const HEIGHT: u32 = 160;
const TOP: u32 = 16;
const BOTTOM: u32 = 22;
const LEFT: u32 = 36;

/// Vertical bars, one per `(label, value)`; every `label_every`-th label is written under its
/// bar so long ranges stay legible.
pub(crate) fn columns(id: &str, title: &str, bars: &[(String, u64)], bar_width: u32, label_every: usize) -> String {
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let plot = HEIGHT - TOP - BOTTOM;
    let width = LEFT + bar_width * bars.len().max(1) as u32 + 8;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="{id}" class="chart" role="img" aria-label="{t}" width="{width}" height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        id = escape(id),
        t = escape(title),
    );
    let base = TOP + plot;
    let _ = write!(
        svg,
        r#"<line x1="{LEFT}" y1="{base}" x2="{width}" y2="{base}" stroke="{AXIS_COLOUR}"/><text x="{x}" y="{y}" font-size="10" text-anchor="end" fill="{AXIS_COLOUR}">{max}</text><text x="{x}" y="{base}" font-size="10" text-anchor="end" fill="{AXIS_COLOUR}">0</text>"#,
        x = LEFT - 4,
        y = TOP + 8,
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let h = (*value as f64 / max as f64 * plot as f64).round() as u32;
        let x = LEFT + i as u32 * bar_width;
        let _ = write!(
            svg,
            r#"<rect class="bar" x="{x}" y="{y}" width="{w}" height="{h}" fill="{BAR_COLOUR}" data-value="{value}"><title>{label}: {value}</title></rect>"#,
            x = x + 1,
            y = base - h,
            w = bar_width.saturating_sub(2).max(1),
            label = escape(label),
        );
        if label_every > 0 && i % label_every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{x}" y="{y}" font-size="10" fill="{AXIS_COLOUR}">{label}</text>"#,
                x = x + 1,
                y = HEIGHT - 6,
                label = escape(label),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars with their labels and values written beside them (outcomes).
pub(crate) fn rows(id: &str, title: &str, bars: &[(String, u64)]) -> String {
    const ROW: u32 = 22;
    const LABEL: u32 = 110;
    const PLOT: u32 = 300;
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let height = ROW * bars.len() as u32 + 4;
    let width = LABEL + PLOT + 60;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="{id}" class="chart" role="img" aria-label="{t}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        id = escape(id),
        t = escape(title),
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = i as u32 * ROW + 2;
        let w = (*value as f64 / max as f64 * PLOT as f64).round() as u32;
        let label = escape(label);
        let _ = write!(
            svg,
            r#"<text x="0" y="{ty}" font-size="12">{label}</text><rect class="bar" x="{LABEL}" y="{y}" width="{w}" height="{h}" fill="{BAR_COLOUR}" data-value="{value}"><title>{label}: {value}</title></rect><text x="{vx}" y="{ty}" font-size="12">{value}</text>"#,
            ty = y + 14,
            h = ROW - 6,
            vx = LABEL + w + 6,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_labels_are_escaped() {
        let svg = columns("c", "Calls <per> hour", &[("a&b".into(), 10), ("x".into(), 5), ("y".into(), 0)], 10, 2);
        assert!(svg.starts_with("<svg id=\"c\"") && svg.ends_with("</svg>"));
        assert!(svg.contains("aria-label=\"Calls &lt;per&gt; hour\""));
        assert!(svg.contains(r##"height="122" fill="#3b6fc4" data-value="10"><title>a&amp;b: 10</title>"##), "{svg}");
        assert!(svg.contains(r##"height="61" fill="#3b6fc4" data-value="5""##), "half the plot: {svg}");
        assert!(svg.contains(r##"height="0" fill="#3b6fc4" data-value="0""##));
        assert_eq!(svg.matches("<text").count(), 2 + 2, "axis labels, then every second bar label");
        assert!(!svg.contains("style="), "no inline styles under the console's CSP");

        let svg = rows("o", "Outcomes", &[("Answered".into(), 4), ("Missed".into(), 1)]);
        assert!(svg.contains(r##"width="300" height="16" fill="#3b6fc4" data-value="4""##), "{svg}");
        assert!(svg.contains(r#"width="75" height="16""#), "{svg}");
        let empty = columns("e", "Nothing", &[], 10, 1);
        assert!(empty.contains("<title>Nothing</title>") && !empty.contains("<rect"));
    }
}
