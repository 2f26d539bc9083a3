//! Line charts as inline SVG: the HTML report must open from a file, offline,
//! with nothing to fetch and no script to run, so the charts are drawn here.

use std::fmt::Write as _;

use crate::experiment::Point;
use crate::time::{DAY, format_date, format_time};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 40.0;

/// One series of a chart.
pub(crate) struct Line<'a> {
    pub label: &'a str,
    pub color: &'a str,
    pub points: &'a [Point],
    /// Draw as steps (a value holds until the next point), as fee rates do;
    /// otherwise straight segments with a marker per point.
    pub step: bool,
}

/// Escapes text for HTML and SVG content and attributes.
pub(crate) fn escape(text: &str) -> String {
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

/// A round step near `raw` (1, 2 or 5 times a power of ten), so axis labels
/// read 0, 20, 40 rather than 0, 17.3, 34.6.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A time step giving at most eight ticks over `span` seconds, aligned to UTC.
fn time_step(span: u64) -> u64 {
    const STEPS: [u64; 11] = [
        3600,
        3 * 3600,
        6 * 3600,
        12 * 3600,
        DAY,
        2 * DAY,
        7 * DAY,
        14 * DAY,
        30 * DAY,
        90 * DAY,
        365 * DAY,
    ];
    STEPS
        .into_iter()
        .find(|step| span / step <= 8)
        .unwrap_or(365 * DAY)
}

/// A chart of `lines` against time, titled `title`, its y axis labelled
/// `unit`; the y axis includes 0 so arms' levels compare by eye (and reaches below it for
/// a day whose inbound discounts cost more than the fees earned).
pub(crate) fn line_chart(title: &str, unit: &str, lines: &[Line<'_>]) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = escape(title)
    );
    let _ = write!(
        svg,
        r#"<text x="{LEFT}" y="18" class="title">{}</text>"#,
        escape(title)
    );
    let all: Vec<&Point> = lines.iter().flat_map(|l| l.points).collect();
    let (Some(first), Some(last)) = (
        all.iter().map(|p| p.at).min(),
        all.iter().map(|p| p.at).max(),
    ) else {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" class="empty">no data yet</text></svg>"#,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return svg;
    };
    let (x0, x1) = if first == last {
        (first.saturating_sub(DAY / 2), last + DAY / 2)
    } else {
        (first, last)
    };
    let top = all.iter().map(|p| p.value).fold(0.0, f64::max);
    let bottom = all.iter().map(|p| p.value).fold(0.0, f64::min);
    let span = top - bottom;
    let y_step = nice_step(if span > 0.0 { span / 5.0 } else { 0.2 });
    let y0 = (bottom / y_step).floor() * y_step;
    let y1 = (top / y_step).ceil().max(if y0 < 0.0 { 0.0 } else { 1.0 }) * y_step;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |at: u64| LEFT + (at.saturating_sub(x0)) as f64 / (x1 - x0) as f64 * plot_w;
    let y = |value: f64| TOP + plot_h - (value - y0) / (y1 - y0) * plot_h;

    let mut tick = y0;
    while tick <= y1 + y_step / 2.0 {
        let _ = write!(
            svg,
            r#"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(tick) + 4.0,
            trim_number(tick),
            y = y(tick),
        );
        tick += y_step;
    }
    let step = time_step(x1 - x0);
    let mut at = x0.div_ceil(step) * step;
    while at <= x1 {
        let label = if step < DAY {
            format_time(at)[5..].to_owned()
        } else {
            format_date(at)[5..].to_owned()
        };
        let _ = write!(
            svg,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" class="grid"/><text x="{x:.1}" y="{}" text-anchor="middle" class="tick">{label}</text>"#,
            TOP + plot_h,
            HEIGHT - BOTTOM + 16.0,
            x = x(at),
        );
        at += step;
    }
    let _ = write!(
        svg,
        r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle" class="tick">{}</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        escape(unit)
    );

    for (i, line) in lines.iter().enumerate() {
        let mut path = String::new();
        for (j, p) in line.points.iter().enumerate() {
            let (px, py) = (x(p.at), y(p.value));
            if j == 0 {
                let _ = write!(path, "M{px:.1},{py:.1}");
            } else if line.step {
                let _ = write!(path, "H{px:.1}V{py:.1}");
            } else {
                let _ = write!(path, "L{px:.1},{py:.1}");
            }
        }
        if line.step
            && let Some(p) = line.points.last()
        {
            let _ = write!(path, "H{:.1}", x(p.at.max(last)));
        }
        let _ = write!(
            svg,
            r#"<path d="{path}" fill="none" stroke="{}" stroke-width="2"/>"#,
            line.color
        );
        if !line.step || line.points.len() == 1 {
            for p in line.points {
                let _ = write!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"><title>{} {}: {:.3}</title></circle>"#,
                    x(p.at),
                    y(p.value),
                    line.color,
                    escape(line.label),
                    format_time(p.at),
                    p.value
                );
            }
        }
        let lx = WIDTH - RIGHT - 200.0 + 100.0 * i as f64;
        let _ = write!(
            svg,
            r#"<rect x="{lx}" y="10" width="12" height="12" fill="{}"/><text x="{}" y="20" class="tick">{}</text>"#,
            line.color,
            lx + 16.0,
            escape(line.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Axis labels without float noise: `0.6`, not `0.6000000000000001`.
fn trim_number(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(17.3), 20.0);
        assert_eq!(nice_step(0.34), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(6.0), 10.0);
        assert_eq!(trim_number(0.6000000000000001), "0.6");
        assert_eq!(trim_number(40.0), "40");
    }

    #[test]
    fn time_ticks_stay_few() {
        assert_eq!(time_step(6 * 3600), 3600);
        assert_eq!(time_step(14 * DAY), 2 * DAY);
        assert_eq!(time_step(400 * DAY), 90 * DAY);
    }

    #[test]
    fn a_chart_escapes_labels_and_draws_every_line() {
        let a = [
            Point { at: 0, value: 1.0 },
            Point {
                at: DAY,
                value: 3.0,
            },
        ];
        let b = [Point { at: 0, value: 2.0 }];
        let svg = line_chart(
            "fees <&>",
            "ppm",
            &[
                Line {
                    label: "A",
                    color: "#1f77b4",
                    points: &a,
                    step: true,
                },
                Line {
                    label: "B",
                    color: "#d62728",
                    points: &b,
                    step: false,
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("fees &lt;&amp;&gt;"));
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn a_negative_value_stays_inside_the_plot() {
        let points = [
            Point { at: 0, value: 3.0 },
            Point {
                at: DAY,
                value: -2.0,
            },
        ];
        let svg = line_chart(
            "revenue",
            "sat",
            &[Line {
                label: "A",
                color: "#1f77b4",
                points: &points,
                step: false,
            }],
        );
        let ys: Vec<f64> = svg
            .split("cy=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(ys.len(), 2);
        assert!(
            ys.iter().all(|y| (TOP..=HEIGHT - BOTTOM).contains(y)),
            "{ys:?}"
        );
        assert!(svg.contains(">-2</text>"), "a tick below 0");
    }

    #[test]
    fn an_empty_chart_says_so() {
        let svg = line_chart("fees", "ppm", &[]);
        assert!(svg.contains("no data yet"));
    }
}
