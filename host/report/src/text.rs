//! Plain-text tables for the terminal: one function per report, returning the
//! whole text so the caller decides where it goes (stdout or `--output`).

use std::fmt::Write as _;

use crate::activity::{ActivityReport, Counts, Revenue};
use crate::experiment::{Comparison, ExperimentReport};
use crate::stats::Interval;
use crate::status::StatusReport;
use crate::time::{format_duration, format_time};

/// A table with a header row; numbers are right-aligned so digits line up.
struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// `columns` are `(header, right-aligned)`.
    fn new(columns: &[(&'static str, bool)]) -> Self {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            right: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String) {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.headers[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |out: &mut String, cells: &[&str]| {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                if i > 0 {
                    text.push_str("  ");
                }
                if self.right[i] {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(out, &self.headers);
        for row in &self.rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            line(out, &cells);
        }
    }
}

/// msat as sat with one decimal: small channels earn fractions of a sat a day.
fn sat(msat: i64) -> String {
    format!("{:.1}", msat as f64 / 1000.0)
}

/// A value with `decimals` decimals, or `-` when there is none.
pub(crate) fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

/// The comparison's cells shared by the text and HTML tables: metric, A, B,
/// B - A, B relative to A.
pub(crate) fn comparison_cells(c: &Comparison) -> Vec<String> {
    vec![
        c.metric.to_owned(),
        number(c.mean_a, 3),
        number(c.mean_b, 3),
        c.difference
            .map_or_else(|| "-".to_owned(), |d| format!("{d:+.3}")),
        c.relative
            .map_or_else(|| "-".to_owned(), |r| format!("{:+.0}%", 100.0 * r)),
    ]
}

/// A p-value to four places, or `-`.
pub(crate) fn p_value(p: Option<f64>) -> String {
    p.map_or_else(|| "-".to_owned(), |p| format!("{p:.4}"))
}

/// An interval as `[low, high]`, or `-`.
pub(crate) fn interval(i: Option<&Interval>) -> String {
    i.map_or_else(
        || "-".to_owned(),
        |i| format!("[{:.3}, {:.3}]", i.low, i.high),
    )
}

fn when(at: u64, now: u64) -> String {
    format!(
        "{} ({} ago)",
        format_time(at),
        format_duration(now.saturating_sub(at))
    )
}

/// The experiment report as text: arms, the comparison, the verdict, notes and
/// every channel.
pub fn experiment_table(report: &ExperimentReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Experiment {}: {} to {} ({:.1} days)",
        report.experiment,
        format_time(report.started_at),
        format_time(report.data_until),
        report.days_running
    );
    let _ = writeln!(
        out,
        "Rates are per channel-day, averaged over each arm's compared channels; differences are {}.\n",
        report.difference
    );
    let mut arms = Table::new(&[
        ("ARM", false),
        ("STRATEGY", false),
        ("CHANNELS", true),
        ("COMPARED", true),
        ("CHANNEL-DAYS", true),
        ("FORWARDS", true),
        ("FEES (sat)", true),
        ("REVENUE/CH-DAY (sat)", true),
        ("VOLUME/CH-DAY (sat)", true),
    ]);
    for arm in &report.arms {
        let strategies: Vec<&str> = arm.strategies.iter().map(|s| s.strategy.as_str()).collect();
        arms.row(vec![
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
            sat(arm.fees_msat),
            number(arm.revenue_sat_per_channel_day, 3),
            number(arm.volume_sat_per_channel_day, 1),
        ]);
    }
    arms.render(&mut out);
    out.push('\n');

    let percent = format!("{:.0}%", 100.0 * report.options.confidence);
    let mut comparison = Table::new(&[
        ("METRIC (sat/ch-day)", false),
        ("A", true),
        ("B", true),
        ("B - A", true),
        ("B vs A", true),
        ("WELCH CI", true),
        ("BOOTSTRAP CI", true),
        ("PERMUTATION p", true),
    ]);
    for c in [&report.revenue, &report.volume] {
        comparison.row(comparison_row(c));
    }
    let _ = writeln!(
        out,
        "Confidence intervals: {percent}, Welch's t and bootstrap; p of the randomization test"
    );
    comparison.render(&mut out);
    for c in [&report.revenue, &report.volume] {
        if let Some(why) = &c.unavailable {
            let _ = writeln!(out, "  no {} interval: {why}", c.metric);
        }
    }

    let _ = writeln!(out, "\nVERDICT: {}", report.verdict.label);
    for reason in &report.verdict.reasons {
        let _ = writeln!(out, "  - {reason}");
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for note in &report.notes {
            let _ = writeln!(out, "  - {note}");
        }
    }

    out.push('\n');
    let mut channels = Table::new(&[
        ("CHANNEL", false),
        ("ARM", false),
        ("ASSIGNED", false),
        ("UNTIL", false),
        ("DAYS", true),
        ("FORWARDS", true),
        ("FEES (sat)", true),
        ("REVENUE/DAY (sat)", true),
        ("VOLUME/DAY (sat)", true),
        ("", false),
    ]);
    for c in &report.channels {
        let remarks = c.remarks();
        channels.row(vec![
            c.short_channel_id.clone(),
            c.arm.to_uppercase(),
            format_time(c.assigned_at),
            format_time(c.until),
            format!("{:.1}", c.channel_days),
            c.forwards.to_string(),
            sat(c.fees_msat),
            number(c.revenue_sat_per_day, 3),
            number(c.volume_sat_per_day, 1),
            remarks.join(", "),
        ]);
    }
    channels.render(&mut out);
    out
}

fn comparison_row(c: &Comparison) -> Vec<String> {
    let mut cells = comparison_cells(c);
    cells.push(interval(c.welch.as_ref().map(|w| &w.interval)));
    cells.push(interval(c.bootstrap.as_ref()));
    cells.push(p_value(c.permutation_p));
    cells
}

fn count_cells(c: &Counts) -> [String; 7] {
    [
        c.decisions,
        c.proposed,
        c.clamped,
        c.applied,
        c.failed,
        c.pending,
        c.rolled_back,
    ]
    .map(|n| n.to_string())
}

fn revenue_cells(r: &Revenue) -> [String; 3] {
    [r.day, r.week, r.month].map(sat)
}

const COUNT_COLUMNS: [(&str, bool); 7] = [
    ("DECISIONS", true),
    ("PROPOSED", true),
    ("CLAMPED", true),
    ("APPLIED", true),
    ("FAILED", true),
    ("PENDING", true),
    ("ROLLED BACK", true),
];

const REVENUE_COLUMNS: [(&str, bool); 3] = [("FEES 1D (sat)", true), ("7D", true), ("30D", true)];

/// The activity report as text: strategies first (the summary), then channels.
pub fn activity_table(report: &ActivityReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Activity as of {}: counts since the database began; fees are earned on forwards out \
         through the channel, credited to the strategy deciding it at the time.\n",
        format_time(report.generated_at)
    );
    let columns: Vec<(&str, bool)> = [("STRATEGY", false), ("CHANNELS", true), ("CYCLES", true)]
        .into_iter()
        .chain([("FAILED CYCLES", true)])
        .chain(COUNT_COLUMNS)
        .chain(REVENUE_COLUMNS)
        .collect();
    let mut strategies = Table::new(&columns);
    for s in &report.strategies {
        let mut row = vec![
            s.strategy
                .clone()
                .unwrap_or_else(|| "(no decision)".to_owned()),
            s.channels.to_string(),
            s.cycles.to_string(),
            s.failed_cycles.to_string(),
        ];
        row.extend(count_cells(&s.counts));
        row.extend(revenue_cells(&s.revenue_msat));
        strategies.row(row);
    }
    if report.strategies.is_empty() {
        out.push_str("No strategy has run yet.\n");
    } else {
        strategies.render(&mut out);
    }
    out.push('\n');

    let columns: Vec<(&str, bool)> = [
        ("CHANNEL", false),
        ("STRATEGY", false),
        ("FLOW", false),
        ("PROFITABILITY", false),
        ("REBALANCING (sat)", true),
    ]
    .into_iter()
    .chain(COUNT_COLUMNS)
    .chain(REVENUE_COLUMNS)
    .collect();
    let mut channels = Table::new(&columns);
    for c in &report.channels {
        let (flow, profitability, rebalancing) =
            c.analysis.as_ref().map_or(("-", "-", "-".to_owned()), |a| {
                (
                    a.flow_class.name(),
                    a.profitability.name(),
                    (a.rebalance_cost_msat / 1000).to_string(),
                )
            });
        // A closed channel has no flow; how profitable it was is how it ended.
        let flow = if c.closed { "closed" } else { flow };
        let mut row = vec![
            c.short_channel_id.clone(),
            c.strategy.clone().unwrap_or_else(|| "-".to_owned()),
            flow.to_owned(),
            profitability.to_owned(),
            rebalancing,
        ];
        row.extend(count_cells(&c.counts));
        row.extend(revenue_cells(&c.revenue_msat));
        channels.row(row);
    }
    if report.channels.is_empty() {
        out.push_str("No channels in the database yet.\n");
    } else {
        channels.render(&mut out);
    }
    out
}

/// The status as text: strategies, pending updates, quarantine, experiments.
pub fn status_table(report: &StatusReport) -> String {
    let now = report.generated_at;
    let mut out = String::new();
    let _ = writeln!(out, "Status as of {}\n", format_time(now));
    if report.strategies.is_empty() {
        out.push_str("Strategies: no cycle has run yet.\n");
    } else {
        out.push_str("Strategies (latest cycle):\n");
        let mut table = Table::new(&[
            ("STRATEGY", false),
            ("LAST CYCLE", false),
            ("STATUS", false),
            ("CHANNELS", true),
            ("LAST OK", false),
            ("CYCLES", true),
            ("FAILED", true),
            ("ERROR", false),
        ]);
        for s in &report.strategies {
            table.row(vec![
                s.strategy.clone(),
                when(s.last_started_at, now),
                s.status.to_owned(),
                s.channels.to_string(),
                s.last_ok_at.map_or_else(|| "never".to_owned(), format_time),
                s.cycles.to_string(),
                s.failed_cycles.to_string(),
                s.error.clone().unwrap_or_default(),
            ]);
        }
        table.render(&mut out);
    }
    out.push('\n');
    if report.pending_intents.is_empty() {
        out.push_str("Pending updates: none\n");
    } else {
        let _ = writeln!(
            out,
            "Pending updates ({}; resolved against the node before the next cycle):",
            report.pending_intents.len()
        );
        let mut table = Table::new(&[
            ("INTENT", true),
            ("CHANNEL", false),
            ("RECORDED", false),
            ("FEE (ppm)", false),
        ]);
        for i in &report.pending_intents {
            table.row(vec![
                i.id.to_string(),
                i.short_channel_id.clone(),
                when(i.created_at, now),
                format!("{} -> {}", i.from_fee_ppm, i.to_fee_ppm),
            ]);
        }
        table.render(&mut out);
    }
    out.push('\n');
    if report.quarantined.is_empty() {
        out.push_str("Quarantined strategies: none\n");
    } else {
        out.push_str("Quarantined strategies (not called until their file changes, the daemon restarts or is sent SIGHUP):\n");
        let mut table = Table::new(&[("STRATEGY", false), ("SINCE", false), ("WHY", false)]);
        for q in &report.quarantined {
            table.row(vec![
                q.strategy.clone(),
                when(q.since, now),
                q.detail.clone(),
            ]);
        }
        table.render(&mut out);
    }
    out.push('\n');
    if report.experiments.is_empty() {
        out.push_str("Experiments: none\n");
    } else {
        out.push_str("Experiments:\n");
        let mut table = Table::new(&[
            ("EXPERIMENT", false),
            ("ARM A", true),
            ("ARM B", true),
            ("STARTED", false),
            ("LAST CHANNEL JOINED", false),
        ]);
        for e in &report.experiments {
            table.row(vec![
                e.name.clone(),
                e.channels_a.to_string(),
                e.channels_b.to_string(),
                when(e.started_at, now),
                format_time(e.last_assigned_at),
            ]);
        }
        table.render(&mut out);
    }
    out
}
