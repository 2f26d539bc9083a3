//! The embedded market table reproduces the figures published with the 2026-02-03 snapshot
//! (its README), so what the simulator draws from is the real network, not a guess.

use lnpolicy_sim::fee_distribution::{Column, mainnet};
use lnpolicy_sim::rng::Rng;

#[test]
fn fee_rate_quantiles_match_the_snapshot_readme() {
    let t = mainnet();
    let ppm: Vec<u64> = [25, 50, 75, 90, 99]
        .iter()
        .map(|&q| t.quantile(Column::FeePpm, q))
        .collect();
    assert_eq!(ppm, [1, 100, 569, 2000, 10_000]);
}

#[test]
fn capacity_cltv_degree_and_base_fee_match_the_snapshot_readme() {
    let t = mainnet();
    let cap = |q| t.quantile(Column::CapacitySat, q) as f64 / 1e6;
    // 0.2M / 1.28M / 5M / 15.7M sat
    assert!((cap(25) - 0.2).abs() < 0.005, "{}", cap(25));
    assert!((cap(50) - 1.28).abs() < 0.005, "{}", cap(50));
    assert!((cap(75) - 5.0).abs() < 0.005, "{}", cap(75));
    assert!((cap(90) - 15.7).abs() < 0.05, "{}", cap(90));
    assert_eq!(t.quantile(Column::CltvDelta, 50), 80);
    assert_eq!(t.quantile(Column::CltvDelta, 90), 144);
    let degree: Vec<u64> = [50, 90, 99, 100]
        .iter()
        .map(|&q| t.quantile(Column::NodeDegree, q))
        .collect();
    assert_eq!(degree, [1, 8, 74, 1989]);
    let fact = |name| t.fact(name).unwrap();
    assert_eq!(fact("channels"), 50_808.0);
    assert_eq!(fact("nodes"), 17_324.0);
    assert_eq!(fact("total_btc"), 5_362.0);
    assert!((fact("disabled_direction_share") - 0.35).abs() < 0.005);
    assert!((fact("base_fee_zero_share") - 0.45).abs() < 0.005);
    assert!((fact("base_fee_1000_share") - 0.41).abs() < 0.005);
}

#[test]
fn sampling_reproduces_the_quantiles() {
    let t = mainnet();
    let mut rng = Rng::new(11);
    let mut draws: Vec<u64> = (0..100_000)
        .map(|_| t.sample(Column::FeePpm, &mut rng))
        .collect();
    draws.sort_unstable();
    let at = |q: usize| draws[q * draws.len() / 100];
    assert!(at(25) <= 2, "p25 {}", at(25));
    assert!((90..=110).contains(&at(50)), "p50 {}", at(50));
    assert!((540..=600).contains(&at(75)), "p75 {}", at(75));
    assert!((1_900..=2_100).contains(&at(90)), "p90 {}", at(90));
}

#[test]
fn routing_nodes_charge_more_than_the_whole_graph() {
    // Competing routes cross routing nodes, whose channels are pricier and larger.
    let t = mainnet();
    assert!(t.quantile(Column::RoutingFeePpm, 50) > t.quantile(Column::FeePpm, 50));
    assert!(t.quantile(Column::RoutingCapacitySat, 50) > t.quantile(Column::CapacitySat, 50));
}
