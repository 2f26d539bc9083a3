//! The experiment report as one self-contained HTML page: inline CSS and SVG,
//! no scripts, no fonts or images to fetch, so it can be mailed or archived and
//! still open exactly as it was.

use std::fmt::Write as _;

use crate::experiment::{ArmSeries, Comparison, ExperimentReport, Outcome};
use crate::svg::{Line, escape, line_chart};
use crate::text::{comparison_cells, interval, number, p_value};
use crate::time::format_time;

const COLOR_A: &str = "#1f77b4";
const COLOR_B: &str = "#d62728";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}\
table{border-collapse:collapse;font-size:.9rem}th,td{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}\
.verdict{padding:.8rem 1rem;border-left:6px solid #999;background:#f7f7f7}\
.verdict.a_better{border-color:#1f77b4}.verdict.b_better{border-color:#d62728}\
.verdict strong{font-size:1.3rem}.meta{color:#555}\
svg .title{font-size:14px;font-weight:600}svg .tick{font-size:11px;fill:#444}svg .grid{stroke:#e5e5e5}\
svg .empty{font-size:14px;fill:#888}";

fn cells(out: &mut String, tag: &str, values: &[String]) {
    out.push_str("<tr>");
    for value in values {
        let _ = write!(out, "<{tag}>{}</{tag}>", escape(value));
    }
    out.push_str("</tr>");
}

/// The text table's cells plus Welch's degrees of freedom, for readers who
/// want to check the interval.
fn comparison_row(c: &Comparison) -> Vec<String> {
    let mut cells = comparison_cells(c);
    cells.push(interval(c.welch.as_ref().map(|w| &w.interval)));
    cells.push(c.welch.map_or_else(
        || "-".to_owned(),
        |w| format!("{:.1}", w.degrees_of_freedom),
    ));
    cells.push(interval(c.bootstrap.as_ref()));
    cells.push(p_value(c.permutation_p));
    cells
}

/// One chart line per arm, in the arm's colour.
fn lines(series: &[ArmSeries], step: bool) -> Vec<Line<'_>> {
    series
        .iter()
        .map(|s| Line {
            label: if s.arm == "a" { "arm A" } else { "arm B" },
            color: if s.arm == "a" { COLOR_A } else { COLOR_B },
            points: &s.points,
            step,
        })
        .collect()
}

/// The whole page for `report`.
pub fn experiment_html(report: &ExperimentReport) -> String {
    let mut out = String::new();
    let name = escape(&report.experiment);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>lnpolicy experiment {name}</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        out,
        "<h1>Experiment {name}</h1><p class=\"meta\">{} to {} UTC ({:.1} days). Rates are per \
         channel-day, averaged over each arm's compared channels; differences are {}.</p>",
        format_time(report.started_at),
        format_time(report.data_until),
        report.days_running,
        report.difference
    );

    let class = match report.verdict.outcome {
        Outcome::ABetter => "a_better",
        Outcome::BBetter => "b_better",
        Outcome::NotYetDistinguishable => "undecided",
    };
    let _ = write!(
        out,
        "<div class=\"verdict {class}\">Verdict: <strong>{}</strong><ul>",
        escape(report.verdict.label)
    );
    for reason in &report.verdict.reasons {
        let _ = write!(out, "<li>{}</li>", escape(reason));
    }
    out.push_str("</ul></div>");

    out.push_str("<h2>Arms</h2><table>");
    cells(
        &mut out,
        "th",
        &[
            "Arm",
            "Strategy",
            "Channels",
            "Compared",
            "Channel-days",
            "Forwards",
            "Fees (sat)",
            "Revenue / channel-day (sat)",
            "Volume / channel-day (sat)",
        ]
        .map(str::to_owned),
    );
    for arm in &report.arms {
        let strategies: Vec<String> = arm
            .strategies
            .iter()
            .map(|s| format!("{} ({} decisions)", s.strategy, s.decisions))
            .collect();
        cells(
            &mut out,
            "td",
            &[
                arm.arm.to_uppercase(),
                if strategies.is_empty() {
                    "-".to_owned()
                } else {
                    strategies.join(", ")
                },
                arm.channels.to_string(),
                arm.compared_channels.to_string(),
                format!("{:.1}", arm.channel_days),
                arm.forwards.to_string(),
                format!("{:.1}", arm.fees_msat as f64 / 1000.0),
                number(arm.revenue_sat_per_channel_day, 3),
                number(arm.volume_sat_per_channel_day, 1),
            ],
        );
    }
    out.push_str("</table>");

    let _ = write!(
        out,
        "<h2>Comparison ({:.0}% intervals, sat per channel-day)</h2><table>",
        100.0 * report.options.confidence
    );
    cells(
        &mut out,
        "th",
        &[
            "Metric",
            "A",
            "B",
            "B - A",
            "B vs A",
            "Welch interval",
            "Welch df",
            "Bootstrap interval",
            "Randomization test p",
        ]
        .map(str::to_owned),
    );
    for c in [&report.revenue, &report.volume] {
        cells(&mut out, "td", &comparison_row(c));
    }
    out.push_str("</table>");
    for c in [&report.revenue, &report.volume] {
        if let Some(why) = &c.unavailable {
            let _ = write!(out, "<p>No {} interval: {}</p>", c.metric, escape(why));
        }
    }

    out.push_str("<h2>Charts</h2>");
    out.push_str(&line_chart(
        "Mean fee rate of each arm's channels",
        "ppm",
        &lines(&report.fee_ppm, true),
    ));
    out.push_str(&line_chart(
        "Revenue per channel-day, each complete UTC day",
        "sat",
        &lines(&report.daily_revenue, false),
    ));

    if !report.notes.is_empty() {
        out.push_str("<h2>Notes</h2><ul>");
        for note in &report.notes {
            let _ = write!(out, "<li>{}</li>", escape(note));
        }
        out.push_str("</ul>");
    }

    out.push_str("<h2>Channels</h2><table>");
    cells(
        &mut out,
        "th",
        &[
            "Channel",
            "Arm",
            "Assigned (UTC)",
            "Until (UTC)",
            "Days",
            "Forwards",
            "Fees (sat)",
            "Revenue / day (sat)",
            "Volume / day (sat)",
            "",
        ]
        .map(str::to_owned),
    );
    for c in &report.channels {
        let remarks = c.remarks();
        cells(
            &mut out,
            "td",
            &[
                c.short_channel_id.clone(),
                c.arm.to_uppercase(),
                format_time(c.assigned_at),
                format_time(c.until),
                format!("{:.1}", c.channel_days),
                c.forwards.to_string(),
                format!("{:.1}", c.fees_msat as f64 / 1000.0),
                number(c.revenue_sat_per_day, 3),
                number(c.volume_sat_per_day, 1),
                remarks.join(", "),
            ],
        );
    }
    let _ = writeln!(
        out,
        "</table><p class=\"meta\">Generated by lnpolicy at {} UTC. Bootstrap: {} resamples; randomization test: {} re-splits; seed {}. \
         What each number means and the verdict rule: docs/reports.md.</p></body></html>",
        format_time(report.generated_at),
        report.options.bootstrap_resamples,
        report.options.permutation_rounds,
        report.options.seed
    );
    out
}
