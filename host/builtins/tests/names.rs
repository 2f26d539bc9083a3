//! A config resolves `strategy = <name>` through the built-in name, and the host reports
//! and records the strategy under `info().name`: the two must agree.

use lnpolicy_runtime::{Runtime, RuntimeConfig};

#[test]
fn every_builtin_reports_its_builtin_name() {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    for (name, bytes) in lnpolicy_builtins::BUILTINS {
        let strategy = runtime
            .load_bytes(bytes)
            .unwrap_or_else(|err| panic!("built-in {name}: {err}"));
        assert_eq!(strategy.info().name, *name, "built-in {name}");
    }
}

#[test]
fn charge_lnds_strategies_are_built_in_under_their_own_names() {
    let charge_lnd = [
        "ignore",
        "ignore_fees",
        "static",
        "match_peer",
        "cost",
        "onchain_fee",
        "proportional",
        "disable",
    ];
    for name in charge_lnd {
        assert!(lnpolicy_builtins::get(name).is_some(), "{name} is missing");
    }
}

#[test]
fn names_are_sorted_and_unique() {
    let names: Vec<&str> = lnpolicy_builtins::names().collect();
    assert!(names.windows(2).all(|pair| pair[0] < pair[1]), "{names:?}");
}
