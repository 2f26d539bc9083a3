//! Derives the simulator's compact market table (`data/mainnet-2026-02-03.csv`) from the real
//! gossip snapshot, once: the crate embeds the table, so nothing reads the snapshot at run or
//! test time and a clone builds without it.
//!
//! ```text
//! cargo run -p lnpolicy-sim --example derive-distribution -- \
//!     ../shared/data/ln-mainnet-2026-02-03/gossip-store.compressed > host/sim/data/mainnet-2026-02-03.csv
//! ```
//!
//! Input: gzip of a `GOSSMAP_COMPRESSv1` stream (format in the snapshot's README).

use std::io::Read;

const MAGIC: &[u8] = b"GOSSMAP_COMPRESSv1\0";
/// Nodes with at least this many channels count as routing nodes.
const ROUTING_DEGREE: u64 = 10;

struct Stream<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Stream<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos + n;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| format!("truncated stream at byte {}", self.pos))?;
        self.pos = end;
        Ok(slice)
    }

    fn bigsize(&mut self) -> Result<u64, String> {
        let first = self.take(1)?[0];
        let width = match first {
            0xfd => 2,
            0xfe => 4,
            0xff => 8,
            small => return Ok(u64::from(small)),
        };
        Ok(self
            .take(width)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn bigsizes(&mut self, n: usize) -> Result<Vec<u64>, String> {
        (0..n).map(|_| self.bigsize()).collect()
    }

    /// A templated array: `T` template values, then `n` indexes into them.
    fn templated(&mut self, n: usize) -> Result<Vec<u64>, String> {
        let count = usize::try_from(self.bigsize()?).map_err(|e| e.to_string())?;
        let templates = self.bigsizes(count)?;
        (0..n)
            .map(|_| {
                let index = self.bigsize()?;
                usize::try_from(index)
                    .ok()
                    .and_then(|i| templates.get(i).copied())
                    .ok_or_else(|| format!("template index {index} out of {count}"))
            })
            .collect()
    }
}

/// Nearest-rank quantiles at 1% steps (q0 = minimum, q100 = maximum).
fn percentiles(mut values: Vec<u64>) -> Vec<u64> {
    values.sort_unstable();
    let n = values.len();
    (0..=100)
        .map(|q| {
            let rank = (q * n).div_ceil(100).max(1);
            values[rank - 1]
        })
        .collect()
}

fn share(values: &[u64], wanted: u64) -> f64 {
    values.iter().filter(|v| **v == wanted).count() as f64 / values.len() as f64
}

fn run(path: &str) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{path}: {e}"))?;
    let mut s = Stream {
        bytes: &bytes,
        pos: 0,
    };
    if s.take(MAGIC.len())? != MAGIC {
        return Err(format!("{path}: not a GOSSMAP_COMPRESSv1 stream"));
    }
    let channels = usize::try_from(s.bigsize()?).map_err(|e| e.to_string())?;
    let node1 = s.bigsizes(channels)?;
    let node2 = s.bigsizes(channels)?;
    let directions = 2 * channels;
    let mut disabled = vec![false; directions];
    loop {
        let d = s.bigsize()?;
        match usize::try_from(d) {
            Ok(d) if d < directions => disabled[d] = true,
            _ => break,
        }
    }
    let capacity = s.templated(channels)?;
    let htlc_min = s.templated(directions)?;
    let _htlc_max = s.templated(directions)?;
    let base = s.templated(directions)?;
    let ppm = s.templated(directions)?;
    let cltv = s.templated(directions)?;
    if s.pos != bytes.len() {
        return Err(format!(
            "{path}: {} bytes left after the last array",
            bytes.len() - s.pos
        ));
    }

    let mut degree = std::collections::BTreeMap::<u64, u64>::new();
    for n in node1.iter().chain(&node2) {
        *degree.entry(*n).or_default() += 1;
    }
    // Directions between routing nodes: both ends have at least ROUTING_DEGREE channels.
    let routing: Vec<bool> = (0..directions)
        .map(|d| {
            let (a, b) = (node1[d / 2], node2[d / 2]);
            degree[&a] >= ROUTING_DEGREE && degree[&b] >= ROUTING_DEGREE
        })
        .collect();
    let select = |v: &[u64], routing_only: bool| -> Vec<u64> {
        v.iter()
            .enumerate()
            .filter(|(d, _)| !disabled[*d] && (!routing_only || routing[*d]))
            .map(|(_, x)| *x)
            .collect()
    };
    let per_direction_capacity: Vec<u64> = capacity.iter().flat_map(|c| [*c, *c]).collect();
    let routing_columns = [
        percentiles(select(&ppm, true)),
        percentiles(select(&base, true)),
        percentiles(select(&cltv, true)),
        percentiles(select(&per_direction_capacity, true)),
    ];
    let routing_share = select(&ppm, true).len() as f64 / select(&ppm, false).len() as f64;
    let (ppm, base, cltv, htlc_min) = (
        select(&ppm, false),
        select(&base, false),
        select(&cltv, false),
        select(&htlc_min, false),
    );
    let nodes = degree.len();
    let total_btc = capacity.iter().sum::<u64>() as f64 / 1e8;
    let disabled_share = disabled.iter().filter(|d| **d).count() as f64 / directions as f64;

    let mut columns = vec![
        percentiles(ppm.clone()),
        percentiles(base.clone()),
        percentiles(cltv),
        percentiles(htlc_min),
        percentiles(capacity),
        percentiles(degree.into_values().collect()),
    ];
    columns.extend(routing_columns);
    let mut out = String::new();
    out.push_str(
        "# Lightning mainnet public graph, 2026-02-03 (Core Lightning's tests/data/gossip-store-2026-02-03,\n\
         # BSD-MIT), reduced to what the simulator draws from. Regenerate with:\n\
         #   cargo run -p lnpolicy-sim --example derive-distribution -- \\\n\
         #     <shared>/data/ln-mainnet-2026-02-03/gossip-store.compressed > host/sim/data/mainnet-2026-02-03.csv\n\
         # Quantiles are nearest-rank at 1% steps; fee, base, cltv and htlc_min over enabled directions,\n\
         # capacity over channels, node_degree over nodes with at least one channel; routing_* over\n\
         # enabled directions whose two ends both have at least 10 channels (routing_capacity_sat\n\
         # is that direction's channel capacity): what a route between routing nodes crosses.\n",
    );
    out.push_str(&format!("fact,channels,{channels}\n"));
    out.push_str(&format!("fact,nodes,{nodes}\n"));
    out.push_str(&format!("fact,total_btc,{total_btc:.0}\n"));
    out.push_str(&format!(
        "fact,disabled_direction_share,{disabled_share:.4}\n"
    ));
    out.push_str(&format!(
        "fact,base_fee_zero_share,{:.4}\n",
        share(&base, 0)
    ));
    out.push_str(&format!(
        "fact,base_fee_1000_share,{:.4}\n",
        share(&base, 1000)
    ));
    out.push_str(&format!(
        "fact,routing_direction_share,{routing_share:.4}\n"
    ));
    out.push_str(
        "q,fee_ppm,base_fee_msat,cltv_delta,htlc_min_msat,capacity_sat,node_degree,\
         routing_fee_ppm,routing_base_fee_msat,routing_cltv_delta,routing_capacity_sat\n",
    );
    for q in 0..=100 {
        let row: Vec<String> = columns.iter().map(|c| c[q].to_string()).collect();
        out.push_str(&format!("{q},{}\n", row.join(",")));
    }
    Ok(out)
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: derive-distribution <gossip-store.compressed>");
        std::process::exit(2);
    };
    match run(&path) {
        Ok(table) => print!("{table}"),
        Err(e) => {
            eprintln!("derive-distribution: {e}");
            std::process::exit(1);
        }
    }
}
