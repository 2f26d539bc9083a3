//! What the public Lightning graph looks like, compressed to a few KB: quantiles at 1% steps
//! of fee rate, base fee, CLTV delta, htlc minimum, capacity and node degree, measured on the
//! 2026-02-03 mainnet snapshot (`data/mainnet-2026-02-03.csv`, made by
//! `examples/derive-distribution.rs`). Competing routes and peers' other channels are drawn
//! from it, so the market's competitors price like the real network does.

use std::sync::OnceLock;

use lnpolicy_core::FeePolicy;

use crate::rng::Rng;

/// The embedded table (see the header of the file for its origin and how to regenerate it).
pub const MAINNET_2026_02_03: &str = include_str!("../data/mainnet-2026-02-03.csv");

/// One measured quantity of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// `fee_proportional_millionths` of enabled directions.
    FeePpm,
    /// `fee_base_msat` of enabled directions.
    BaseFeeMsat,
    /// `cltv_expiry_delta` of enabled directions.
    CltvDelta,
    /// `htlc_minimum_msat` of enabled directions.
    HtlcMinMsat,
    /// Channel capacity in sat.
    CapacitySat,
    /// Number of channels per node (nodes with at least one).
    NodeDegree,
    /// `fee_proportional_millionths` of enabled directions between routing nodes (both
    /// ends with at least 10 channels): what competing routes charge.
    RoutingFeePpm,
    /// `fee_base_msat` of those directions.
    RoutingBaseFeeMsat,
    /// `cltv_expiry_delta` of those directions.
    RoutingCltvDelta,
    /// Capacity of those directions' channels, sat.
    RoutingCapacitySat,
}

impl Column {
    const ALL: [Column; 10] = [
        Column::FeePpm,
        Column::BaseFeeMsat,
        Column::CltvDelta,
        Column::HtlcMinMsat,
        Column::CapacitySat,
        Column::NodeDegree,
        Column::RoutingFeePpm,
        Column::RoutingBaseFeeMsat,
        Column::RoutingCltvDelta,
        Column::RoutingCapacitySat,
    ];

    fn header(self) -> &'static str {
        match self {
            Column::FeePpm => "fee_ppm",
            Column::BaseFeeMsat => "base_fee_msat",
            Column::CltvDelta => "cltv_delta",
            Column::HtlcMinMsat => "htlc_min_msat",
            Column::CapacitySat => "capacity_sat",
            Column::NodeDegree => "node_degree",
            Column::RoutingFeePpm => "routing_fee_ppm",
            Column::RoutingBaseFeeMsat => "routing_base_fee_msat",
            Column::RoutingCltvDelta => "routing_cltv_delta",
            Column::RoutingCapacitySat => "routing_capacity_sat",
        }
    }
}

/// Why a distribution table could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// A line that does not parse.
    #[error("line {line}: {message}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The header lacks a column the simulator needs.
    #[error("missing column {0}")]
    MissingColumn(&'static str),
    /// Not exactly the quantiles 0..=100.
    #[error("expected quantile rows 0..=100, found {0} rows")]
    Rows(usize),
}

/// Quantiles (0..=100 %) of each [`Column`] plus scalar facts (`fact,<name>,<value>` lines).
#[derive(Debug, Clone, PartialEq)]
pub struct MarketTable {
    columns: [[u64; 101]; 10],
    facts: Vec<(String, f64)>,
}

/// The mainnet 2026-02-03 table, parsed once.
pub fn mainnet() -> &'static MarketTable {
    static TABLE: OnceLock<MarketTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        MarketTable::parse(MAINNET_2026_02_03)
            .unwrap_or_else(|e| panic!("embedded data/mainnet-2026-02-03.csv: {e}"))
    })
}

impl MarketTable {
    /// Parses the CSV format written by `examples/derive-distribution.rs`: `#` comments,
    /// `fact,<name>,<value>` lines, a header starting with `q`, then rows for q = 0..=100.
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let mut facts = Vec::new();
        let mut positions: Option<Vec<usize>> = None;
        let mut columns = [[0u64; 101]; 10];
        let mut rows = 0;
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').collect();
            let malformed = |message: String| TableError::Malformed {
                line: line_no,
                message,
            };
            if fields[0] == "fact" {
                let [_, name, value] = fields[..] else {
                    return Err(malformed("a fact needs a name and a value".into()));
                };
                let value = value
                    .parse::<f64>()
                    .map_err(|e| malformed(format!("fact {name}: {e}")))?;
                facts.push((name.to_string(), value));
            } else if fields[0] == "q" {
                let found = Column::ALL
                    .iter()
                    .map(|c| {
                        fields
                            .iter()
                            .position(|f| *f == c.header())
                            .ok_or(TableError::MissingColumn(c.header()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                positions = Some(found);
            } else {
                let positions = positions
                    .as_ref()
                    .ok_or_else(|| malformed("quantile row before the header".into()))?;
                let q: usize = fields[0]
                    .parse()
                    .map_err(|e| malformed(format!("quantile: {e}")))?;
                if q != rows || q > 100 {
                    return Err(malformed(format!("expected quantile {rows}, found {q}")));
                }
                for (c, &pos) in positions.iter().enumerate() {
                    let raw = fields
                        .get(pos)
                        .ok_or_else(|| malformed(format!("missing field {pos}")))?;
                    columns[c][q] = raw
                        .parse()
                        .map_err(|e| malformed(format!("{}: {e}", Column::ALL[c].header())))?;
                }
                rows += 1;
            }
        }
        if rows != 101 {
            return Err(TableError::Rows(rows));
        }
        Ok(MarketTable { columns, facts })
    }

    /// The `percent`-th quantile (nearest rank) of `column`; `percent` is capped at 100.
    pub fn quantile(&self, column: Column, percent: usize) -> u64 {
        self.columns[column as usize][percent.min(100)]
    }

    /// A scalar fact of the snapshot, e.g. `disabled_direction_share`.
    pub fn fact(&self, name: &str) -> Option<f64> {
        self.facts.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// A random draw from `column`: a uniform percentile, interpolated between the two
    /// neighbouring quantiles (so point masses such as 0, 1 and 1000 msat stay point masses).
    pub fn sample(&self, column: Column, rng: &mut Rng) -> u64 {
        self.sample_above(column, rng, 0.0)
    }

    /// Like [`MarketTable::sample`], restricted to percentiles from `min_percent` up (e.g.
    /// the degree of nodes big enough to be a routing node's peer).
    pub fn sample_above(&self, column: Column, rng: &mut Rng, min_percent: f64) -> u64 {
        let q = &self.columns[column as usize];
        let min_percent = min_percent.clamp(0.0, 100.0);
        let position = min_percent + rng.uniform() * (100.0 - min_percent);
        let k = (position as usize).min(99);
        let frac = position - k as f64;
        let (lo, hi) = (q[k] as f64, q[k + 1] as f64);
        libm::round(lo + (hi - lo) * frac) as u64
    }

    /// A routing node's channel direction as the network prices it: fee rate, base fee and
    /// CLTV drawn independently from the routing columns, htlc minimum from all directions,
    /// htlc maximum 99% of `capacity_sat`.
    pub fn sample_policy(&self, rng: &mut Rng, capacity_sat: u64) -> FeePolicy {
        FeePolicy {
            fee_ppm: clamp_u32(self.sample(Column::RoutingFeePpm, rng)),
            base_fee_msat: clamp_u32(self.sample(Column::RoutingBaseFeeMsat, rng)),
            time_lock_delta: clamp_u32(self.sample(Column::RoutingCltvDelta, rng)).max(1),
            min_htlc_msat: self.sample(Column::HtlcMinMsat, rng),
            max_htlc_msat: capacity_sat * 990,
            ..FeePolicy::default()
        }
    }
}

fn clamp_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_line() {
        let err = MarketTable::parse("fact,x\n").unwrap_err();
        assert_eq!(
            err,
            TableError::Malformed {
                line: 1,
                message: "a fact needs a name and a value".into()
            }
        );
        assert_eq!(
            MarketTable::parse("q,fee_ppm\n").unwrap_err(),
            TableError::MissingColumn("base_fee_msat")
        );
    }

    #[test]
    fn samples_stay_within_the_table() {
        let table = mainnet();
        let mut rng = Rng::new(1);
        for _ in 0..10_000 {
            let v = table.sample(Column::FeePpm, &mut rng);
            assert!(v <= table.quantile(Column::FeePpm, 100));
        }
    }
}
