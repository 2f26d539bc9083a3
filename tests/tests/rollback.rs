//! Automatic rollback against the simulator's real LND server: a deliberately bad strategy
//! (a static fee far above the market) makes the channels earn almost nothing; once the
//! rollback window has passed, the previous policies come back, recorded as `rollback`
//! decisions with their reason, and the strategy is held off for one more window. It sets the
//! bad fee again after the hold and is rolled back again, then held for two windows. Restored
//! fees pass the section's guard and carry its fee properties: a floor the operator set
//! since the change holds, and so does the section's base fee.

use std::collections::BTreeMap;

use lnpolicy_core::FeePolicy;
use lnpolicy_engine::{ConfiguredOutcome, ConfiguredPlan, run_configured};
use lnpolicy_policy::config::Config;
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_policy::rollback::ROLLBACK_STRATEGY;
use lnpolicy_runtime::StrategyRegistry;
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};
use lnpolicy_store::{Arm, Store};

const BAD: &str = "\
[default]
strategy = static
fee_ppm = 4_500
base_fee_msat = 0
enable_auto_rollback = true
rollback_threshold = 0.5
rollback_window = 12h
guard.min_fee_ppm = 300
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_strategys_change_is_rolled_back_and_held() {
    let mut rig = Rig::new(&["static"]).await;
    let config = Config::parse("bad.config", BAD).unwrap();
    let guard = GuardConfig::charge_lnd_compatible(lnpolicy_core::NodeKind::Lnd);
    let original: BTreeMap<u64, FeePolicy> = {
        let state = rig.live.shared();
        let state = state.lock().unwrap();
        state
            .channels
            .iter()
            .map(|c| (c.id, c.local_policy))
            .collect()
    };
    let shared = rig.live.shared();
    let fees = || -> BTreeMap<u64, u32> {
        let state = shared.lock().unwrap();
        state
            .channels
            .iter()
            .map(|c| (c.id, c.local_policy.fee_ppm))
            .collect()
    };

    let mut rolled_back = Vec::new();
    let mut bad_fees_at_hour_1 = BTreeMap::new();
    for hour in 0..60 {
        let outcome = rig.hour(&config, &guard).await;
        if let Some(report) = &outcome.rolled_back {
            assert!(report.failed.is_empty(), "{:?}", report.failed);
            rolled_back.extend(report.applied.iter().map(|id| (hour, *id)));
        }
        if hour == 1 {
            bad_fees_at_hour_1 = fees();
        }
        if hour == 5 {
            // The operator halves every HTLC maximum by hand, fees untouched.
            let mut state = shared.lock().unwrap();
            for channel in &mut state.channels {
                channel.local_policy.max_htlc_msat = channel.capacity_sat * 500;
            }
        }
    }
    assert!(
        bad_fees_at_hour_1.values().all(|&fee| fee == 4_500),
        "the bad strategy was applied: {bad_fees_at_hour_1:?}"
    );
    assert!(!rolled_back.is_empty(), "nothing was rolled back");
    assert!(
        rolled_back.iter().all(|(hour, _)| *hour >= 12),
        "no rollback before the window has passed: {rolled_back:?}"
    );
    let mut hours: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (hour, id) in &rolled_back {
        hours.entry(*id).or_default().push(*hour);
    }
    assert!(
        hours.values().any(|h| h.len() == 2),
        "the bad fee came back after the hold and was rolled back again: {hours:?}"
    );
    for (id, h) in &hours {
        assert!(h.len() <= 2, "channel {id}: {h:?}");
        if let [first, second] = h[..] {
            assert!(
                second >= first + 24,
                "channel {id}: held a window, then a window at the bad fee: {h:?}"
            );
        }
    }
    let now = fees();
    assert!(
        rolled_back
            .iter()
            .any(|(_, id)| original[id].base_fee_msat != 0),
        "some channel had a base fee before the section fixed it at 0"
    );
    assert!(
        rolled_back.iter().any(|(_, id)| original[id].fee_ppm < 300),
        "some channel had a fee below the floor before: {original:?}"
    );
    for (id, h) in &hours {
        if h.len() == 2 {
            assert_eq!(
                now[id],
                original[id].fee_ppm.max(300),
                "channel {id} has its previous fee back (within the floor) and keeps it during \
                 the second hold, two windows long"
            );
        }
    }
    for (_, id) in &rolled_back {
        let state = shared.lock().unwrap();
        let channel = state.channel(*id).unwrap();
        assert_eq!(
            channel.local_policy.max_htlc_msat,
            channel.capacity_sat * 500,
            "a rollback restores fees only, not the HTLC maximum of before"
        );
    }
    for (id, h) in &hours {
        let rollbacks: Vec<_> = rig
            .store
            .decisions_for_channel(*id, 1000)
            .unwrap()
            .into_iter()
            .filter(|d| d.strategy == ROLLBACK_STRATEGY)
            .collect();
        assert_eq!(
            rollbacks.len(),
            h.len(),
            "a recorded rollback each for channel {id}"
        );
        for rollback in &rollbacks {
            assert!(
                rollback.reason.starts_with("rollback: revenue fell from"),
                "{}",
                rollback.reason
            );
            let restored = rollback.guarded.policy.unwrap();
            assert_eq!(restored.fee_ppm, original[id].fee_ppm.max(300));
            assert_eq!(
                restored.base_fee_msat, 0,
                "the section's base fee, not the old one"
            );
        }
        // Newest first: the first rollback restored the fee of before the floor was set.
        assert_eq!(
            rollbacks.last().unwrap().guarded.clamps.is_empty(),
            original[id].fee_ppm >= 300,
            "a clamp records the floor where it applied"
        );
    }
}

/// The same bad change, then the operator moves every channel to a strategy that keeps fees,
/// with rollback still inherited: `ignore` means nothing changes, so the bad fee stays past the
/// window; after rollbacks under the bad strategy, `disable` disables at once instead of being
/// held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_leaves_channels_under_ignore_and_does_not_hold_disable() {
    const KEYS: &str =
        "enable_auto_rollback = true\nrollback_threshold = 0.5\nrollback_window = 12h\n";
    let mut rig = Rig::new(&["static", "ignore", "disable"]).await;
    let guard = GuardConfig::charge_lnd_compatible(lnpolicy_core::NodeKind::Lnd);
    let bad = Config::parse("bad.config", BAD).unwrap();
    let ignore = Config::parse(
        "ignore.config",
        &format!("[default]\nstrategy = ignore\n{KEYS}"),
    )
    .unwrap();
    let disable = Config::parse(
        "disable.config",
        &format!("[default]\nstrategy = disable\n{KEYS}"),
    )
    .unwrap();
    let shared = rig.live.shared();
    let policies = || -> BTreeMap<u64, FeePolicy> {
        let state = shared.lock().unwrap();
        state
            .channels
            .iter()
            .map(|c| (c.id, c.local_policy))
            .collect()
    };
    let mut rolled_back = 0;
    for hour in 0..30 {
        let config = if hour < 2 { &bad } else { &ignore };
        let outcome = rig.hour(config, &guard).await;
        rolled_back += outcome.rolled_back.map_or(0, |r| r.applied.len());
    }
    assert_eq!(
        rolled_back, 0,
        "a channel under `ignore` had its fee changed"
    );
    assert!(policies().values().all(|p| p.fee_ppm == 4_500));

    // Back to the bad fee, which the change of the first hours is still judged against: once
    // channels are rolled back (and held), the operator disables every channel.
    let mut disabled_after_rollback = false;
    for _ in 0..24 {
        let config = if rolled_back > 0 { &disable } else { &bad };
        let outcome = rig.hour(config, &guard).await;
        if std::ptr::eq(config, &disable) {
            disabled_after_rollback = true;
            break;
        }
        rolled_back += outcome.rolled_back.map_or(0, |r| r.applied.len());
    }
    assert!(
        disabled_after_rollback,
        "the test needs a rollback (and its hold) first"
    );
    let state = shared.lock().unwrap();
    assert!(
        state
            .channels
            .iter()
            .filter(|c| c.active)
            .all(|c| c.local_policy.disabled),
        "a rollback hold kept a channel under `disable` enabled"
    );
}

/// The same bad change, then an experiment whose arm A leaves fees alone (`ignore`) and whose
/// arm B keeps the bad fee (`static`), rollback inherited by both: rollback follows each
/// channel's arm, so only arm B's channels are restored, and arm A, the control, is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_follows_the_strategy_of_each_channels_experiment_arm() {
    let mut rig = Rig::new(&["static", "ignore"]).await;
    let guard = GuardConfig::charge_lnd_compatible(lnpolicy_core::NodeKind::Lnd);
    let bad = Config::parse("bad.config", BAD).unwrap();
    let experiment = Config::parse(
        "experiment.config",
        &BAD.replace(
            "strategy = static\n",
            "strategy = experiment\nexperiment.name = control\nexperiment.a = ignore\n\
             experiment.b = static\n",
        ),
    )
    .unwrap();
    let mut arms = BTreeMap::new();
    let mut restored = std::collections::BTreeSet::new();
    for hour in 0..30 {
        let config = if hour < 2 { &bad } else { &experiment };
        let outcome = rig.hour(config, &guard).await;
        for plan in &outcome.plans {
            if let Some((_, arm)) = &plan.experiment {
                arms.insert(plan.channel_id, *arm);
            }
        }
        restored.extend(outcome.rollbacks.iter().map(|c| c.channel_id));
    }
    let in_arm = |wanted: Arm| {
        arms.iter()
            .filter(move |(_, arm)| **arm == wanted)
            .map(|(id, _)| *id)
    };
    assert!(in_arm(Arm::A).count() > 0 && in_arm(Arm::B).count() > 0);
    assert!(
        in_arm(Arm::B).any(|id| restored.contains(&id)),
        "the test needs arm B's channels rolled back"
    );
    let touched: Vec<u64> = in_arm(Arm::A).filter(|id| restored.contains(id)).collect();
    assert!(
        touched.is_empty(),
        "arm A (ignore) was rolled back: {touched:?}"
    );
    let state = rig.live.shared();
    let state = state.lock().unwrap();
    for channel in state
        .channels
        .iter()
        .filter(|c| arms.get(&c.id) == Some(&Arm::A))
    {
        assert_eq!(
            channel.local_policy.fee_ppm, 4_500,
            "channel {}",
            channel.id
        );
    }
}

/// A fee held for most of a day, another for the 3 hours before the bad change: the window
/// before the change mixes two levels, so its rate is no fair measure of the level a rollback
/// would restore, and the change is not judged. The same holds for a fee set by hand on the
/// node just before the cycle that made the bad change (the collection saw it in the same
/// second). With the first fee held the whole window, the same bad change is rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_window_before_saw_two_levels_is_not_rolled_back() {
    let guard = GuardConfig::charge_lnd_compatible(lnpolicy_core::NodeKind::Lnd);
    let fixed = |ppm: u32| {
        Config::parse(
            "fixed.config",
            &format!("[default]\nstrategy = static\nfee_ppm = {ppm}\nbase_fee_msat = 0\n"),
        )
        .unwrap()
    };
    let (steady, step, bad) = (
        fixed(500),
        fixed(450),
        Config::parse("bad.config", BAD).unwrap(),
    );
    let mut restored = Vec::new();
    for (step_hours, by_hand) in [(3, false), (0, true), (0, false)] {
        let mut rig = Rig::new(&["static"]).await;
        let mut rolled_back = 0;
        for hour in 0..48 {
            if hour == 23 && by_hand {
                let shared = rig.live.shared();
                let mut state = shared.lock().unwrap();
                for channel in &mut state.channels {
                    channel.local_policy.fee_ppm = 450;
                }
            }
            let config = match hour {
                h if h >= 23 => &bad,
                h if h >= 23 - step_hours => &step,
                _ => &steady,
            };
            let outcome = rig.hour(config, &guard).await;
            rolled_back += outcome.rolled_back.map_or(0, |r| r.applied.len());
        }
        restored.push(rolled_back);
    }
    assert_eq!(
        restored[0], 0,
        "restored a level that held for 3 of the window's 12 hours"
    );
    assert_eq!(
        restored[1], 0,
        "restored a level set by hand just before the change"
    );
    assert!(
        restored[2] > 0,
        "the same change after a steady day is rolled back"
    );
}

/// The bad change, then 10 hours without a cycle (the daemon, or the node, was down): nobody
/// can tell a fee that earned nothing from a node that forwarded nothing, so the change is not
/// judged. The same change watched every hour is rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_window_went_unwatched_is_not_rolled_back() {
    let guard = GuardConfig::charge_lnd_compatible(lnpolicy_core::NodeKind::Lnd);
    let bad = Config::parse("bad.config", BAD).unwrap();
    let mut restored = Vec::new();
    for down_hours in [10, 0] {
        let mut rig = Rig::new(&["static"]).await;
        let mut rolled_back = 0;
        for hour in 0..30 {
            if hour == 3 {
                rig.live.advance(down_hours * 3600);
            }
            let outcome = rig.hour(&bad, &guard).await;
            rolled_back += outcome.rolled_back.map_or(0, |r| r.applied.len());
        }
        restored.push(rolled_back);
    }
    assert_eq!(restored[0], 0, "judged a window with 10 hours unwatched");
    assert!(
        restored[1] > 0,
        "the same change watched every hour is rolled back"
    );
}

/// The balanced market two days in, served by the simulated LND, with a database and the
/// built-in strategies `names`.
/// The bad change made in lnpolicy's first cycle on a node: what the fees were before that
/// collection is unknown (an hourly tool may have moved them), so the window before is no
/// measure of any level and the change is not judged. The same change after a watched window is
/// rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_the_first_cycle_on_a_node_is_not_rolled_back() {
    let guard = GuardConfig::charge_lnd_compatible(lnpolicy_core::NodeKind::Lnd);
    let bad = Config::parse("bad.config", BAD).unwrap();
    let mut restored = Vec::new();
    for watched in [false, true] {
        let mut rig = if watched {
            Rig::new(&["static"]).await
        } else {
            Rig::unwatched(&["static"]).await
        };
        let mut rolled_back = 0;
        for _ in 0..30 {
            let outcome = rig.hour(&bad, &guard).await;
            rolled_back += outcome.rolled_back.map_or(0, |r| r.applied.len());
        }
        restored.push(rolled_back);
    }
    assert_eq!(restored[0], 0, "judged against fees nobody saw held");
    assert!(
        restored[1] > 0,
        "the same change after a watched window is rolled back"
    );
}

struct Rig {
    live: LiveSimulation,
    client: lnpolicy_node::lnd::LndClient,
    store: Store,
    registry: StrategyRegistry,
    _server: lnpolicy_sim::lnd_server::LndServerHandle,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// A node lnpolicy has collected from every hour for a rollback window (12 hours), so the
    /// fees before the test's first change were seen to hold. The first change is made at the
    /// same market time as on an unwatched rig.
    async fn new(names: &[&str]) -> Rig {
        let mut rig = Rig::started_after(names, 36 * 3600).await;
        for _ in 0..12 {
            let now = rig.live.simulation().now_ns() / 1_000_000_000;
            lnpolicy_collector::collect(
                &rig.client,
                &rig.store,
                now,
                &lnpolicy_collector::CollectConfig::default(),
            )
            .await
            .unwrap();
            rig.live.advance(3600);
        }
        rig
    }

    /// A node lnpolicy has never collected from, two days into its market.
    async fn unwatched(names: &[&str]) -> Rig {
        Rig::started_after(names, 48 * 3600).await
    }

    async fn started_after(names: &[&str], market_secs: u64) -> Rig {
        let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
        live.advance(market_secs);
        let dir = tempfile::tempdir().unwrap();
        let (server, client) = lnpolicy_tests::lnd_serving(&live, dir.path()).await;
        let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
        let builtins: Vec<(&str, &[u8])> = names
            .iter()
            .map(|name| (*name, lnpolicy_builtins::get(name).unwrap()))
            .collect();
        Rig {
            live,
            client,
            store,
            registry: lnpolicy_tests::registry_of(&builtins),
            _server: server,
            _dir: dir,
        }
    }

    /// One cycle of `config` at the simulation's time, then an hour on.
    async fn hour(&mut self, config: &Config, guard: &GuardConfig) -> ConfiguredOutcome {
        let now = self.live.simulation().now_ns() / 1_000_000_000;
        let outcome = run_configured(
            &self.client,
            &self.store,
            &self.registry,
            ConfiguredPlan::new(config, guard, false),
            now,
        )
        .await
        .unwrap();
        self.live.advance(3600);
        outcome
    }
}
