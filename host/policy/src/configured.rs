//! A cycle driven by a charge-lnd style config. Every channel gets its section (or none),
//! its strategy (a built-in guest, a folder guest, or an experiment arm) and its parameters;
//! channels that share strategy and parameters go to the guest in one batch; charge-lnd's
//! properties and the section's guard limits then apply per channel in [`run_cycle`].
//!
//! Two steps, because the node must be asked for on-chain fee estimates in between:
//! [`prepare`] selects and groups and says which confirmation targets the groups'
//! parameters name; [`decide`] runs the groups.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use lnpolicy_core::{
    Channel, ChannelId, Decision, GuardedDecision, NodeChannel, Param, ParamValue,
};
use lnpolicy_runtime::{HistorySource, Strategy, StrategyRegistry};
use lnpolicy_store::Store;

use crate::config::{Config, DEFAULT_SPLIT, EXPERIMENT, MatchInput, SectionRef, Selection};
use crate::cycle::{ChannelRules, CycleError, CycleInput, run_cycle};
use crate::experiment::{Arm, assign};
use crate::guard::GuardConfig;
use crate::overlay::{Overlay, keeps_fees};
use crate::params;
use crate::rollback::RollbackRule;

/// One channel as the config sees it.
pub struct ConfiguredChannel<'a> {
    /// What the strategy is shown.
    pub view: &'a Channel,
    /// What the node reported (HTLC limits for the properties).
    pub node: &'a NodeChannel,
    /// What the conditions look at.
    pub input: &'a MatchInput,
}

/// Why a channel has no decision, or what it got.
#[derive(Debug, Clone)]
pub enum PlanOutcome {
    /// No final section matched and there is no `[default]` strategy: left alone.
    NoPolicy,
    /// The channel's section, strategy or parameters could not be used; left alone.
    Failed(String),
    /// Not decided this cycle: rolled back recently (see [`crate::rollback`]).
    Held(String),
    /// The guest decided; `guarded.policy` is what the node should have.
    Decided {
        decision_id: i64,
        raw: Decision,
        guarded: GuardedDecision,
    },
}

/// What the config made of one channel.
#[derive(Debug, Clone)]
pub struct ChannelPlan {
    pub channel_id: ChannelId,
    /// The deciding section (the final one, or `[default]`).
    pub section: Option<SectionRef>,
    /// The strategy that ran (an experiment's arm strategy for experiments).
    pub strategy: Option<String>,
    /// The experiment and arm, for `strategy = experiment` sections.
    pub experiment: Option<(String, Arm)>,
    pub min_fee_ppm_delta: u32,
    pub min_inbound_fee_ppm_delta: u32,
    pub outcome: PlanOutcome,
}

/// Channels selected and grouped, waiting for [`decide`].
pub struct Prepared {
    plans: Vec<ChannelPlan>,
    groups: Vec<Group>,
    dry_run: bool,
}

struct Group {
    strategy: String,
    /// The version `params` were resolved against.
    version: Arc<Strategy>,
    params: Vec<Param>,
    /// Indexes into the batch, with the rules of each channel.
    members: Vec<(usize, ChannelRules)>,
    conf_targets: Vec<u32>,
}

impl Prepared {
    /// Marks the plan as a dry run: [`decide`] then keeps the guests' state as it was, since
    /// nothing they decide is sent.
    pub fn with_dry_run(self, dry_run: bool) -> Self {
        Prepared { dry_run, ..self }
    }

    /// The confirmation targets the groups' `conf-target` parameters name: fetch the
    /// node's fee estimates for these and serve them through the history source.
    pub fn conf_targets(&self) -> Vec<u32> {
        let mut targets: Vec<u32> = self
            .groups
            .iter()
            .flat_map(|g| g.conf_targets.iter().copied())
            .collect();
        targets.sort_unstable();
        targets.dedup();
        targets
    }
}

/// Every channel's section, chosen once per cycle: what [`prepare`] groups and what the
/// rollback rules are read from.
pub struct Selected {
    plans: Vec<ChannelPlan>,
    selections: Vec<Option<Selection>>,
}

impl Selected {
    /// The rollback rule of each channel whose section enables it, with the section's guard
    /// over `base_guard`. A channel whose strategy (or experiment arm's strategy) keeps the
    /// fees (`ignore`, `ignore_fees`, `disable`) has none, whatever its section inherits:
    /// rollback neither restores its fees nor holds it.
    pub fn rollback_rules(&self, base_guard: &GuardConfig) -> BTreeMap<ChannelId, RollbackRule> {
        self.plans
            .iter()
            .zip(&self.selections)
            .filter_map(|(plan, selection)| {
                let selection = selection.as_ref()?;
                let strategy = plan
                    .experiment
                    .as_ref()
                    .and_then(|(_, arm)| selection.arm_strategy(*arm))
                    .unwrap_or(selection.strategy());
                if keeps_fees(strategy) {
                    return None;
                }
                let settings = &selection.settings;
                let guard = settings.guard.apply(base_guard);
                let fees = Overlay::fees_of(&settings.properties, strategy);
                let rule = RollbackRule::from_keys(&settings.rollback, guard, fees)?;
                Some((plan.channel_id, rule))
            })
            .collect()
    }
}

/// Selects each channel's section (a channel whose conditions cannot be evaluated gets a
/// failed plan) and draws (or reads back, from `store`) the arm of every channel in an
/// experiment section: the rollback rules follow the arm's strategy.
pub fn select(
    store: &Store,
    config: &Config,
    channels: &[ConfiguredChannel<'_>],
    now: u64,
) -> Result<Selected, CycleError> {
    let mut plans = Vec::with_capacity(channels.len());
    let mut selections = Vec::with_capacity(channels.len());
    for channel in channels {
        let mut plan = ChannelPlan {
            channel_id: channel.view.id,
            section: None,
            strategy: None,
            experiment: None,
            min_fee_ppm_delta: 0,
            min_inbound_fee_ppm_delta: 0,
            outcome: PlanOutcome::NoPolicy,
        };
        let selection = match config.select(channel.input) {
            Ok(selection) => selection,
            Err(error) => {
                plan.outcome = PlanOutcome::Failed(error.to_string());
                None
            }
        };
        if let Some(selection) = &selection {
            plan.section = Some(selection.section.clone());
            plan.min_fee_ppm_delta = selection.min_fee_ppm_delta(None);
            plan.min_inbound_fee_ppm_delta = selection.min_inbound_fee_ppm_delta(None);
        }
        plans.push(plan);
        selections.push(selection);
    }
    assign_arms(store, &selections, &mut plans, now)?;
    Ok(Selected { plans, selections })
}

/// Resolves each selected channel's strategy and parameters, and groups the channels into
/// guest calls; `held` channels are not decided.
pub fn prepare(
    selected: Selected,
    registry: &StrategyRegistry,
    store: &Store,
    channels: &[ConfiguredChannel<'_>],
    base_guard: &GuardConfig,
    held: &BTreeMap<ChannelId, String>,
    now: u64,
) -> Result<Prepared, CycleError> {
    let Selected {
        mut plans,
        selections,
    } = selected;

    // One version per strategy for the whole cycle: a reload while the channels are grouped
    // must not split one section between the old version and the new.
    let mut pinned: HashMap<String, Option<Arc<Strategy>>> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut arm_definitions: BTreeSet<(String, Arm, String)> = BTreeSet::new();
    for (index, (channel, selection)) in channels.iter().zip(&selections).enumerate() {
        let Some(selection) = selection else {
            continue;
        };
        let plan = &mut plans[index];
        // Failed when its arm was drawn: the reason stands.
        if matches!(plan.outcome, PlanOutcome::Failed(_)) {
            continue;
        }
        if let Some(reason) = held.get(&plan.channel_id) {
            plan.outcome = PlanOutcome::Held(reason.clone());
            continue;
        }
        let strategy_name = match &plan.experiment {
            Some((_, arm)) => selection.arm_strategy(*arm).unwrap_or_default().to_owned(),
            None => selection.strategy().to_owned(),
        };
        plan.strategy = Some(strategy_name.clone());
        let pinned = pinned
            .entry(strategy_name.clone())
            .or_insert_with(|| registry.get(&strategy_name));
        let Some(strategy) = pinned.clone() else {
            plan.outcome = PlanOutcome::Failed(format!(
                "strategy `{strategy_name}` (section [{}]) is not loaded",
                selection.section.name
            ));
            continue;
        };
        let specs = &strategy.info().params;
        let resolved = match &plan.experiment {
            Some((_, arm)) => selection.resolve_arm_params(*arm, specs),
            None => selection.resolve_params(specs),
        };
        let resolved = match resolved {
            Ok(resolved) => resolved,
            Err(error) => {
                plan.outcome = PlanOutcome::Failed(error.to_string());
                continue;
            }
        };
        if let Some((name, arm)) = &plan.experiment {
            arm_definitions.insert((
                name.clone(),
                *arm,
                arm_definition(&strategy_name, &resolved.params),
            ));
        }
        let rules = ChannelRules {
            guard: selection.settings.guard.apply(base_guard),
            overlay: Overlay::for_channel(
                &selection.settings.properties,
                channel.view,
                &strategy_name,
            ),
        };
        if let Err(error) = rules.guard.validate() {
            plan.outcome = PlanOutcome::Failed(format!(
                "section [{}]: guard limits: {error}",
                selection.section.name
            ));
            continue;
        }
        let conf_targets = params::conf_targets(specs, &resolved.params);
        match groups.iter_mut().find(|g| {
            g.strategy == strategy_name
                && g.version.sha256() == strategy.sha256()
                && g.params == resolved.params
        }) {
            Some(group) => group.members.push((index, rules)),
            None => groups.push(Group {
                strategy: strategy_name,
                version: Arc::clone(&strategy),
                params: resolved.params,
                members: vec![(index, rules)],
                conf_targets,
            }),
        }
    }
    let arm_definitions: Vec<_> = arm_definitions.into_iter().collect();
    store.record_arm_definitions(&arm_definitions, now)?;
    Ok(Prepared {
        plans,
        groups,
        dry_run: false,
    })
}

/// An experiment arm as the report names it: `strategy(name=value, ...)` with every
/// parameter, defaults included, since a new default changes what the arm runs too.
fn arm_definition(strategy: &str, params: &[Param]) -> String {
    let params: Vec<String> = params
        .iter()
        .map(|p| match &p.value {
            ParamValue::Integer(v) => format!("{}={v}", p.name),
            ParamValue::Float(v) => format!("{}={v}", p.name),
            ParamValue::Boolean(v) => format!("{}={v}", p.name),
            ParamValue::Text(v) => format!("{}={v:?}", p.name),
        })
        .collect();
    format!("{strategy}({})", params.join(", "))
}

/// Draws (or reads back) the arm of every channel in an experiment section, one store
/// transaction per experiment.
fn assign_arms(
    store: &Store,
    selections: &[Option<Selection>],
    plans: &mut [ChannelPlan],
    now: u64,
) -> Result<(), CycleError> {
    let mut experiments: BTreeMap<String, Vec<(usize, u64)>> = BTreeMap::new();
    for (index, selection) in selections.iter().enumerate() {
        let Some(selection) = selection else { continue };
        if selection.strategy() != EXPERIMENT {
            continue;
        }
        let keys = &selection.settings.experiment;
        let (Some(name), Some(_), Some(_)) = (&keys.name, &keys.a, &keys.b) else {
            plans[index].outcome = PlanOutcome::Failed(format!(
                "section [{}]: strategy = experiment needs experiment.name, experiment.a and experiment.b",
                selection.section.name
            ));
            continue;
        };
        let split = keys.split.unwrap_or(DEFAULT_SPLIT);
        experiments
            .entry(name.clone())
            .or_default()
            .push((index, split.to_bits()));
    }
    for (name, members) in experiments {
        // The config check refuses two splits among an experiment's final sections; a
        // non-final section can still give some channels another. Their arms would then
        // follow the sections' matchers, so none of them is assigned this cycle.
        let splits: BTreeSet<u64> = members.iter().map(|&(_, split)| split).collect();
        if splits.len() > 1 {
            let listed: Vec<String> = splits
                .iter()
                .map(|&split| f64::from_bits(split).to_string())
                .collect();
            for &(index, _) in &members {
                plans[index].outcome = PlanOutcome::Failed(format!(
                    "experiment `{name}` runs at {} splits this cycle ({}): set experiment.split \
                     once for the whole experiment, not in a section without a strategy",
                    splits.len(),
                    listed.join(", ")
                ));
            }
            continue;
        }
        let split = f64::from_bits(members[0].1);
        let members: Vec<usize> = members.into_iter().map(|(index, _)| index).collect();
        let ids: Vec<ChannelId> = members.iter().map(|&i| plans[i].channel_id).collect();
        let arms = assign(store, &name, split, &ids, now)?;
        for (&index, (_, arm)) in members.iter().zip(arms) {
            let plan = &mut plans[index];
            if let Some(selection) = &selections[index] {
                plan.min_fee_ppm_delta = selection.min_fee_ppm_delta(Some(arm));
                plan.min_inbound_fee_ppm_delta = selection.min_inbound_fee_ppm_delta(Some(arm));
            }
            plan.experiment = Some((name.clone(), arm));
        }
    }
    // A channel whose section could not be read, or whose experiment section is incomplete,
    // has no known place: it neither stays in nor leaves an experiment.
    let placed: Vec<(ChannelId, Option<&str>)> = plans
        .iter()
        .filter(|plan| !matches!(plan.outcome, PlanOutcome::Failed(_)))
        .map(|plan| {
            let experiment = plan.experiment.as_ref().map(|(name, _)| name.as_str());
            (plan.channel_id, experiment)
        })
        .collect();
    let left = store.record_experiment_departures(&placed, now)?;
    if left > 0 {
        tracing::info!(
            channels = left,
            "channels placed outside their experiment: their time in it ends now"
        );
    }
    Ok(())
}

/// Runs the prepared groups, one guest call each, and returns every channel's plan in the
/// order of `channels` (as given to [`prepare`]).
pub fn decide(
    prepared: Prepared,
    registry: &StrategyRegistry,
    store: &Store,
    channels: &[ConfiguredChannel<'_>],
    base_guard: &GuardConfig,
    history: Arc<dyn HistorySource>,
    now: u64,
) -> Result<Vec<ChannelPlan>, CycleError> {
    let Prepared {
        mut plans,
        groups,
        dry_run,
    } = prepared;
    for group in groups {
        let batch: Vec<Channel> = group
            .members
            .iter()
            .map(|(index, _)| channels[*index].view.clone())
            .collect();
        let rules: Vec<ChannelRules> = group.members.iter().map(|(_, r)| r.clone()).collect();
        let report = run_cycle(
            registry,
            store,
            CycleInput {
                strategy: &group.strategy,
                version: Some(&group.version),
                params: &group.params,
                channels: &batch,
                now,
                history: Arc::clone(&history),
                guard: base_guard,
                rules: Some(&rules),
                dry_run,
            },
        )?;
        if let Some(error) = &report.error {
            for (index, _) in &group.members {
                plans[*index].outcome =
                    PlanOutcome::Failed(format!("strategy `{}` failed: {error}", group.strategy));
            }
            continue;
        }
        for ((index, _), outcome) in group.members.iter().zip(report.outcomes) {
            plans[*index].outcome = PlanOutcome::Decided {
                decision_id: outcome.decision_id,
                raw: outcome.raw,
                guarded: outcome.guarded,
            };
        }
    }
    Ok(plans)
}
