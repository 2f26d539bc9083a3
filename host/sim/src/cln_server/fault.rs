//! Fault injection: seeded, per-method error replies, dropped connections
//! and latency, so client retry paths are tested against the real protocol.

use std::collections::BTreeMap;
use std::time::Duration;

/// What can go wrong with one method's calls.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MethodFaults {
    /// Share of calls answered with a JSON-RPC error (code -1) instead of a result.
    pub error_rate: f64,
    /// Share of calls on which the server closes the connection without answering.
    pub drop_rate: f64,
    /// Delay before every answer (or drop).
    pub latency: Duration,
}

/// Fault injection for a whole server. The same seed and the same sequence of
/// calls give the same faults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultConfig {
    pub seed: u64,
    /// Faults of methods not listed in `per_method`.
    pub default: MethodFaults,
    /// Overrides by CLN method name.
    pub per_method: BTreeMap<String, MethodFaults>,
}

impl FaultConfig {
    /// The same faults for every method.
    pub fn uniform(seed: u64, faults: MethodFaults) -> Self {
        FaultConfig {
            seed,
            default: faults,
            per_method: BTreeMap::new(),
        }
    }

    pub fn for_method(&self, method: &str) -> MethodFaults {
        self.per_method.get(method).copied().unwrap_or(self.default)
    }
}

/// What happens to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Answer,
    Error,
    Drop,
}

/// SplitMix64: tiny, seedable, and good enough to pick which calls fail.
#[derive(Debug, Clone)]
pub(super) struct FaultRng(u64);

impl FaultRng {
    pub(super) fn new(seed: u64) -> Self {
        FaultRng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Two draws per call whatever the rates, so changing one rate does not
    /// reshuffle which calls the other one hits.
    pub(super) fn fate(&mut self, faults: &MethodFaults) -> Fate {
        let drop = self.next_f64();
        let error = self.next_f64();
        if drop < faults.drop_rate {
            Fate::Drop
        } else if error < faults.error_rate {
            Fate::Error
        } else {
            Fate::Answer
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_honoured_and_seeded() {
        let faults = MethodFaults {
            error_rate: 0.1,
            drop_rate: 0.05,
            latency: Duration::ZERO,
        };
        let run = |seed| {
            let mut rng = FaultRng::new(seed);
            (0..20_000).map(|_| rng.fate(&faults)).collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let share = |f| a.iter().filter(|&&x| x == f).count() as f64 / a.len() as f64;
        assert!((share(Fate::Drop) - 0.05).abs() < 0.01);
        assert!((share(Fate::Error) - 0.095).abs() < 0.01);
    }

    #[test]
    fn per_method_overrides_default() {
        let mut config = FaultConfig::uniform(1, MethodFaults::default());
        let slow = MethodFaults {
            latency: Duration::from_millis(5),
            ..MethodFaults::default()
        };
        config.per_method.insert("setchannel".into(), slow);
        assert_eq!(config.for_method("setchannel"), slow);
        assert_eq!(config.for_method("getinfo"), MethodFaults::default());
    }
}
