//! `inbound_discount`: a node-wide inbound discount of −X ppm paid for by +X ppm outbound,
//! with X found by experiment.
//!
//! LND senders see inbound fees: for them a forward costs `inbound(entry) + outbound(exit)`,
//! so −X on every channel and +X on every outbound fee leaves their price unchanged. Core
//! Lightning, Eclair and LDK senders ignore inbound fees and pay the outbound fee alone, so
//! they pay X more. That extra margin is the gain; the loss is the non-LND traffic that goes
//! elsewhere because of it. An operator's field report (seed 002, Kazumyon node) measured
//! both ends: with X = 1000 ppm routing events fell to under half, with X = 200 ppm they
//! came back. The best X depends on the node's share of non-LND senders, which nobody is
//! told, so this strategy measures it instead of guessing:
//!
//! - the first run on channels without a discount takes the traffic before it as the baseline
//!   (X = 0) and probes one step up; on channels that carry one (an earlier version, a
//!   configuration whose parameters changed) it holds that X and measures it first;
//! - each X is kept for `evaluation_hours`, then the node's revenue and forwards per hour are
//!   measured over the longest flow window that fits in that time (so only traffic under that
//!   X counts, and the first hours, while gossip spreads the new fees, are skipped when the
//!   window is shorter);
//! - a probe whose forwards fell by more than `volume_drop_percent` against the level below,
//!   or whose revenue did not rise by more than `min_gain_percent`, is undone and X settles
//!   on the level below; a probe that raised revenue is kept and the next step is probed,
//!   up to `max_discount_ppm`;
//! - a settled X shrinks one step when forwards fall by more than `volume_drop_percent` from
//!   one window to the next, and probes one step up again after [`REPROBE_AFTER_WINDOWS`]
//!   quiet windows, because the share of non-LND senders changes.
//!
//! Every active LND channel gets inbound −X and outbound `LND price + X`. The LND price is what
//! the strategy promises to keep unchanged. It is read from the channel the first time
//! (`outbound + inbound`, inbound counted only when negative) and then remembered per channel
//! (see [`Promise`]) for as long as the channel's outbound fee is where the strategy left it or
//! on its way there. Reading it back every cycle would ratchet: when the inbound fee that
//! lands is not −X (a guard bound on inbound fees, a section's `inbound_fee_ppm`, an LND that
//! drops inbound fees), each cycle would add the difference to the outbound fee, and an
//! outbound fee held back by a step limit would lower the price for good. An outbound fee
//! moved anywhere else (by hand) is read again as the new price. Core Lightning channels are
//! left alone (no inbound fees exist there, so +X would be a plain fee rise), and so are
//! inactive channels. Each configuration's controller lives in the host's state under
//! `controller:` and a fingerprint of its parameters, each channel's promise under
//! [`promise_key`].

use lnpolicy_sdk::{
    ChannelView, Decision, FlowStats, FlowWindows, Host, LogLevel, NodeKind, ParamSpec, Params,
    Strategy, StrategyInfo, ppm,
    state::{self, Reader, Writer},
};

/// The strategy; see the crate documentation for the rules.
pub struct InboundDiscount;

/// The strategy's own version, reported by `info()`.
pub const VERSION: &str = "0.3.0";

/// Where 0.2.0 and earlier kept the one controller they ran for every configuration. It is
/// deleted when found: each configuration now starts from the discount its channels carry.
pub const LEGACY_STATE_KEY: &str = "controller";

/// A settled X probes one step up again after this many windows without a volume drop.
pub const REPROBE_AFTER_WINDOWS: u32 = 10;

/// Node-wide traffic of one evaluation window, per hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// The X in force while it was measured, ppm.
    pub x_ppm: u32,
    /// Fees earned, millisatoshi per hour.
    pub revenue: f64,
    /// Settled outgoing forwards per hour (the field report's "routing events").
    pub forwards: f64,
}

/// Where the search stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// X was raised one step above `below.x_ppm`; the window decides whether it stays.
    Probing {
        /// The measurement at the level below, to compare with and to return to.
        below: Measurement,
    },
    /// X holds.
    Settled {
        /// Windows measured at this X since it was reached.
        windows: u32,
        /// The last window's measurement at this X; none right after a move.
        last: Option<Measurement>,
    },
}

/// The node-wide controller, kept in state between cycles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Controller {
    /// The discount in force, ppm.
    pub x_ppm: u32,
    /// Unix time X was set: the start of the current evaluation window.
    pub since: u64,
    /// Whether X is being probed or holds.
    pub phase: Phase,
}

/// Encoding version, the first byte of a stored [`Controller`].
pub const STATE_VERSION: u8 = 1;
/// Length of a stored [`Controller`] in bytes.
pub const STATE_LEN: usize = 39;

impl Controller {
    /// Fixed little-endian layout: version (1), X u32 (4), since u64 (8), phase (1: 0
    /// probing, 1 settled), windows u32 (4), has measurement (1), measurement: X u32 (4),
    /// revenue f64 (8), forwards f64 (8).
    pub fn encode(&self) -> Vec<u8> {
        let (tag, windows, measurement) = match self.phase {
            Phase::Probing { below } => (0, 0, Some(below)),
            Phase::Settled { windows, last } => (1, windows, last),
        };
        // without a measurement its bytes are zero
        let m = measurement.unwrap_or(Measurement {
            x_ppm: 0,
            revenue: 0.0,
            forwards: 0.0,
        });
        let mut w = Writer::new(STATE_VERSION);
        w.u32(self.x_ppm)
            .u64(self.since)
            .u8(tag)
            .u32(windows)
            .bool(measurement.is_some())
            .u32(m.x_ppm)
            .f64(m.revenue)
            .f64(m.forwards);
        w.finish()
    }

    /// The stored controller, or `None` for anything this version did not write (the
    /// search then starts over, from the X the channels carry).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes, STATE_VERSION)?;
        let x_ppm = r.u32()?;
        let since = r.u64()?;
        let tag = r.u8()?;
        let windows = r.u32()?;
        let has_measurement = r.bool()?;
        let m = Measurement {
            x_ppm: r.u32()?,
            revenue: r.f64()?,
            forwards: r.f64()?,
        };
        r.finish()?;
        let valid = |v: f64| v.is_finite() && v >= 0.0;
        let measurement = match has_measurement {
            false => None,
            true if valid(m.revenue) && valid(m.forwards) => Some(m),
            true => return None,
        };
        let phase = match (tag, measurement) {
            (0, Some(below)) => Phase::Probing { below },
            (1, last) => Phase::Settled { windows, last },
            _ => return None,
        };
        Some(Controller {
            x_ppm,
            since,
            phase,
        })
    }
}

/// The flow window measured at the end of an evaluation of `evaluation_hours`, in hours:
/// the longest that fits, so that all of it ran under the X being evaluated.
pub fn window_hours(evaluation_hours: u32) -> u32 {
    if evaluation_hours >= 720 {
        720
    } else if evaluation_hours >= 168 {
        168
    } else {
        24
    }
}

fn window(flow: &FlowWindows, hours: u32) -> &FlowStats {
    match hours {
        720 => &flow.month,
        168 => &flow.week,
        _ => &flow.day,
    }
}

/// Revenue and forwards per hour over the LND channels' measured window.
fn measure(channels: &[&ChannelView], evaluation_hours: u32, x_ppm: u32) -> Measurement {
    let hours = window_hours(evaluation_hours);
    let (mut fees, mut forwards) = (0u64, 0u64);
    for channel in channels {
        let stats = window(&channel.flow, hours);
        fees = fees.saturating_add(stats.fees_earned_msat);
        forwards = forwards.saturating_add(u64::from(stats.htlcs_out));
    }
    Measurement {
        x_ppm,
        revenue: fees as f64 / f64::from(hours),
        forwards: forwards as f64 / f64::from(hours),
    }
}

/// The discount the LND channels carry now, ppm, so that a configuration's first run goes on
/// from where its channels are: per channel, the X of the strategy's last decision while its
/// promise holds (what the strategy set, whatever inbound fee a guard bound or a section's
/// `inbound_fee_ppm` let land), else the inbound fee below zero; the lower median of those.
/// Inactive channels count: their policy is still what was set.
fn carried_discount(host: &dyn Host, channels: &[&ChannelView]) -> u32 {
    let mut discounts: Vec<u32> = channels
        .iter()
        .map(|c| {
            let promise = host
                .state_get(&promise_key(c.channel_id))
                .and_then(|bytes| Promise::decode(&bytes))
                .filter(|p| p.stands(c));
            match promise {
                Some(p) => p.asked_ppm.saturating_sub(p.price_ppm),
                None => c.local_policy.inbound_fee_ppm.min(0).unsigned_abs(),
            }
        })
        .collect();
    discounts.sort_unstable();
    discounts
        .get(discounts.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0)
}

/// `new` against `old` as a signed percentage, for reasons.
fn change(new: f64, old: f64) -> String {
    if old > 0.0 {
        format!("{:+.0}%", (new / old - 1.0) * 100.0)
    } else if new > 0.0 {
        "up from none".into()
    } else {
        "none either way".into()
    }
}

/// The parameters of one call, read and cross-checked once per batch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Config {
    max_discount_ppm: u32,
    step_ppm: u32,
    evaluation_hours: u32,
    volume_drop: f64,
    min_gain: f64,
}

impl Config {
    fn read(params: &Params) -> Result<Self, String> {
        Ok(Config {
            max_discount_ppm: params.u32("max_discount_ppm")?,
            step_ppm: params.u32("step_ppm")?,
            evaluation_hours: params.u32("evaluation_hours")?,
            volume_drop: params.f64("volume_drop_percent")? / 100.0,
            min_gain: params.f64("min_gain_percent")? / 100.0,
        })
    }

    /// The state key of this configuration's controller: `controller:` and the fingerprint
    /// of its parameters. X applies to every LND channel of a batch; batches with other
    /// parameters (another section, the other arm of an experiment) learn their own X on their
    /// own channels, whatever order they run in.
    fn controller_key(&self) -> String {
        state::configuration_key(
            "controller:",
            &format!(
                "max {} step {} hours {} drop {} gain {}",
                self.max_discount_ppm,
                self.step_ppm,
                self.evaluation_hours,
                self.volume_drop,
                self.min_gain
            ),
        )
    }

    /// Forwards fell by more than the tolerance (nothing can fall from nothing).
    fn volume_dropped(&self, now: Measurement, before: Measurement) -> bool {
        now.forwards < before.forwards * (1.0 - self.volume_drop)
    }

    /// Revenue rose by more than the minimum gain (from nothing, any revenue is a rise).
    fn revenue_rose(&self, now: Measurement, before: Measurement) -> bool {
        now.revenue > before.revenue * (1.0 + self.min_gain)
    }

    /// One step up from `x`, within `max_discount_ppm`.
    fn up(&self, x: u32) -> u32 {
        x.saturating_add(self.step_ppm).min(self.max_discount_ppm)
    }

    /// The first run of a configuration. On channels without a discount, the history so far
    /// is the baseline at X = 0 and one step up is probed. On channels that carry one (an
    /// earlier version, or this configuration before its parameters changed), X holds there
    /// and is measured a window first: an upgrade or an edit moves no fee by itself.
    fn start(&self, baseline: Measurement, now: u64) -> (Controller, String) {
        if baseline.x_ppm > 0 {
            let note = format!(
                "first run, holding the X {} the channels carry",
                baseline.x_ppm
            );
            let settled = Phase::Settled {
                windows: 0,
                last: None,
            };
            return (
                Controller {
                    x_ppm: baseline.x_ppm,
                    since: now,
                    phase: settled,
                },
                note,
            );
        }
        let x = self.up(0);
        let phase = if x == 0 {
            Phase::Settled {
                windows: 0,
                last: Some(baseline),
            }
        } else {
            Phase::Probing { below: baseline }
        };
        let note = format!(
            "first run, baseline {:.0} msat/h, {:.2} fwd/h at X {}",
            baseline.revenue, baseline.forwards, baseline.x_ppm
        );
        let controller = Controller {
            x_ppm: x,
            since: now,
            phase,
        };
        (controller, note)
    }

    /// The end of an evaluation window measured as `m`: the next controller and what
    /// happened, for the reasons.
    fn evaluate(&self, c: Controller, m: Measurement, now: u64) -> (Controller, String) {
        let x = c.x_ppm;
        let at = |x_ppm, phase| Controller {
            x_ppm,
            since: now,
            phase,
        };
        let fresh = Phase::Settled {
            windows: 0,
            last: None,
        };
        let versus = |r: Measurement| {
            format!(
                "revenue {}, forwards {} vs X {}",
                change(m.revenue, r.revenue),
                change(m.forwards, r.forwards),
                r.x_ppm
            )
        };
        match c.phase {
            Phase::Probing { below } => {
                let seen = versus(below);
                if self.volume_dropped(m, below) {
                    let note = format!("{seen}: forwards fell, back to {}", below.x_ppm);
                    (at(below.x_ppm, fresh), note)
                } else if !self.revenue_rose(m, below) {
                    let note = format!("{seen}: revenue not up, back to {}", below.x_ppm);
                    (at(below.x_ppm, fresh), note)
                } else if self.up(x) == x {
                    let last = Some(m);
                    let note = format!("{seen}: revenue up, at max_discount_ppm");
                    (at(x, Phase::Settled { windows: 0, last }), note)
                } else {
                    let note = format!("{seen}: revenue up, probing {}", self.up(x));
                    (at(self.up(x), Phase::Probing { below: m }), note)
                }
            }
            Phase::Settled { last: None, .. } => {
                let last = Some(m);
                let note = format!("measured {:.0} msat/h, {:.2} fwd/h", m.revenue, m.forwards);
                (at(x, Phase::Settled { windows: 0, last }), note)
            }
            Phase::Settled {
                windows,
                last: Some(last),
            } => {
                let seen = versus(last);
                let windows = windows.saturating_add(1);
                if self.volume_dropped(m, last) {
                    let lower = x.saturating_sub(self.step_ppm);
                    (
                        at(lower, fresh),
                        format!("{seen}: forwards fell, down to {lower}"),
                    )
                } else if windows >= REPROBE_AFTER_WINDOWS && self.up(x) > x {
                    let note = format!("{seen}: settled {windows} windows, probing {}", self.up(x));
                    (at(self.up(x), Phase::Probing { below: m }), note)
                } else {
                    let last = Some(m);
                    let note = format!("{seen}: holding");
                    (at(x, Phase::Settled { windows, last }), note)
                }
            }
        }
    }

    /// This cycle's controller (stored, or started now; advanced when its window is over)
    /// and a note on it for the reasons.
    fn controller(
        &self,
        host: &dyn Host,
        stored: Option<Controller>,
        lnd: &[&ChannelView],
        now: u64,
    ) -> (Controller, String) {
        // A controller that has not run for two windows (these parameters were replaced and
        // have come back, or the daemon was down) measured a node that has moved on since.
        let window_secs = u64::from(self.evaluation_hours) * 3600;
        let current = stored.filter(|c| now.saturating_sub(c.since) < 2 * window_secs);
        let Some(mut c) = current else {
            let carried = carried_discount(host, lnd).min(self.max_discount_ppm);
            return self.start(measure(lnd, self.evaluation_hours, carried), now);
        };
        // The operator may have lowered the ceiling since X was set.
        c.x_ppm = c.x_ppm.min(self.max_discount_ppm);
        let elapsed_hours = now.saturating_sub(c.since) / 3600;
        if elapsed_hours >= u64::from(self.evaluation_hours) {
            let (mut next, note) =
                self.evaluate(c, measure(lnd, self.evaluation_hours, c.x_ppm), now);
            // Returning to a level measured before the ceiling was lowered.
            next.x_ppm = next.x_ppm.min(self.max_discount_ppm);
            (next, note)
        } else {
            let phase = match c.phase {
                Phase::Probing { .. } => "probing",
                Phase::Settled { .. } => "settled",
            };
            let note = format!(
                "{phase}, {elapsed_hours} of {} h evaluated",
                self.evaluation_hours
            );
            (c, note)
        }
    }
}

/// What LND senders pay to leave through this channel before the strategy has promised a
/// price: its outbound fee less the discount the channels decided with it carry (`carried`,
/// the median of their discounts: the section's, which X covers node-wide), never below 0. A forward pays the inbound fee of the channel it came in
/// by, not of this one, so this channel's own discount counts only as part of what the node
/// gives everywhere: a lone hand-set sink discount is not read as a cheaper price here.
pub fn lnd_price(channel: &ChannelView, carried: u32) -> u32 {
    channel.local_policy.fee_ppm.saturating_sub(carried)
}

/// Format version of a channel's stored [`Promise`].
const PROMISE_VERSION: u8 = 1;

/// The state key of a channel's [`Promise`].
pub fn promise_key(channel_id: u64) -> String {
    format!("ch:{channel_id}")
}

/// A channel's LND price as the strategy last promised it, with the outbound fee it asked for
/// and the one the channel had then: while the channel's fee stays between the two (it
/// landed, moved part of the way under a step limit, or was held or refused), the price
/// stands whatever the inbound fee turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promise {
    pub price_ppm: u32,
    pub asked_ppm: u32,
    pub before_ppm: u32,
}

impl Promise {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(PROMISE_VERSION);
        w.u32(self.price_ppm)
            .u32(self.asked_ppm)
            .u32(self.before_ppm);
        w.finish()
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes, PROMISE_VERSION)?;
        let promise = Promise {
            price_ppm: r.u32()?,
            asked_ppm: r.u32()?,
            before_ppm: r.u32()?,
        };
        r.finish()?;
        Some(promise)
    }

    /// Whether the promise still holds for `channel`: its outbound fee is where the strategy
    /// sent it, or on the way there.
    fn stands(&self, channel: &ChannelView) -> bool {
        let fee = channel.local_policy.fee_ppm;
        fee >= self.before_ppm.min(self.asked_ppm) && fee <= self.before_ppm.max(self.asked_ppm)
    }

    /// The price to keep for `channel`: this promise's, unless its outbound fee went
    /// somewhere the strategy did not send it.
    fn price_for(stored: Option<Self>, channel: &ChannelView, carried: u32) -> u32 {
        match stored {
            Some(p) if p.stands(channel) => p.price_ppm,
            _ => lnd_price(channel, carried),
        }
    }
}

fn decide_one(
    host: &mut dyn Host,
    channel: &ChannelView,
    x: u32,
    carried: u32,
    note: &str,
) -> Decision {
    let id = channel.channel_id;
    if channel.node == NodeKind::Cln {
        return Decision::unchanged(
            id,
            "Core Lightning has no inbound fees: no discount, no +X, unchanged",
        );
    }
    if !channel.active {
        return Decision::unchanged(id, "inactive: peer offline, unchanged");
    }
    let key = promise_key(id);
    let stored = host.state_get(&key);
    let price = Promise::price_for(
        stored.as_deref().and_then(Promise::decode),
        channel,
        carried,
    );
    let outbound = price.saturating_add(x);
    let inbound = ppm::discount(x, outbound);
    let promise = Promise {
        price_ppm: price,
        asked_ppm: outbound,
        before_ppm: channel.local_policy.fee_ppm,
    }
    .encode();
    if stored.as_deref() != Some(&promise[..]) {
        host.state_set(&key, &promise);
    }
    Decision::set(id)
        .fee_ppm(outbound)
        .inbound_fee_ppm(inbound)
        .reason(format!(
            "X {x} ppm ({note}): LND price {price} → out {outbound}, in {inbound} ppm"
        ))
}

impl Strategy for InboundDiscount {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "inbound_discount".into(),
            version: VERSION.into(),
            description: "Node-wide inbound discount −X with +X on every outbound fee: LND \
                          senders, who see inbound fees, pay the same; other senders pay X \
                          more. X starts at step_ppm (or holds the discount the channels already \
                          carry) and grows one step per evaluation window \
                          while node revenue rises, falls back when forwards drop, and never \
                          exceeds max_discount_ppm. Core Lightning and inactive channels are \
                          left unchanged."
                .into(),
            params: vec![
                ParamSpec::integer(
                    "max_discount_ppm",
                    "Largest X, ppm: the most non-LND senders may pay above the LND price.",
                    200,
                )
                .range(0.0, 5000.0),
                ParamSpec::integer(
                    "step_ppm",
                    "First X on channels without a discount, and the size of every change of \
                     X, ppm.",
                    25,
                )
                .range(1.0, 1000.0),
                ParamSpec::integer(
                    "evaluation_hours",
                    "Hours each X is kept before it is judged on the longest flow window \
                     (day, week, month) that fits.",
                    168,
                )
                .range(24.0, 2160.0),
                ParamSpec::float(
                    "volume_drop_percent",
                    "A fall in forwards per hour larger than this, percent, counts as a \
                     volume drop.",
                    10.0,
                )
                .range(0.0, 100.0),
                ParamSpec::float(
                    "min_gain_percent",
                    "Revenue must rise by more than this, percent, for X to grow; 0 means \
                     any rise.",
                    0.0,
                )
                .range(0.0, 1000.0),
            ],
        }
    }

    fn decide(
        host: &mut dyn Host,
        params: &Params,
        channels: &[ChannelView],
    ) -> Result<Vec<Decision>, String> {
        let config = Config::read(params)?;
        let lnd: Vec<&ChannelView> = channels
            .iter()
            .filter(|c| c.node == NodeKind::Lnd)
            .collect();
        if lnd.is_empty() {
            // Nothing to discount and nothing to measure: the controller is not touched.
            return Ok(channels
                .iter()
                .map(|c| decide_one(host, c, 0, 0, ""))
                .collect());
        }
        let now = host.now();
        if host.state_get(LEGACY_STATE_KEY).is_some() {
            host.state_delete(LEGACY_STATE_KEY);
        }
        let key = config.controller_key();
        let stored = host.state_get(&key);
        let (controller, note) = config.controller(
            host,
            stored.as_deref().and_then(Controller::decode),
            &lnd,
            now,
        );
        let encoded = controller.encode();
        if stored.as_deref() != Some(&encoded[..]) {
            host.state_set(&key, &encoded);
        }
        host.log(
            LogLevel::Info,
            &format!("X {} ppm: {note}", controller.x_ppm),
        );
        let carried = carried_discount(host, &lnd);
        Ok(channels
            .iter()
            .map(|c| decide_one(host, c, controller.x_ppm, carried, &note))
            .collect())
    }
}

lnpolicy_sdk::export_strategy!(InboundDiscount);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{ChannelBuilder, TestHost, no_flow, run};
    use lnpolicy_sdk::{ChannelView, Decision, FlowStats, FlowWindows, NodeKind, Param};

    use super::{
        Controller, InboundDiscount, LEGACY_STATE_KEY, Measurement, Phase, Promise,
        REPROBE_AFTER_WINDOWS, STATE_LEN, promise_key, window_hours,
    };

    const HOUR: u64 = 3600;
    const WEEK: u64 = 168 * HOUR;

    /// Traffic at a steady hourly rate, the same in every window.
    fn traffic(revenue_msat_per_hour: u64, forwards_per_hour: u32) -> FlowWindows {
        let stats = |hours: u32| FlowStats {
            fees_earned_msat: revenue_msat_per_hour * u64::from(hours),
            htlcs_out: forwards_per_hour * hours,
            ..no_flow()
        };
        FlowWindows {
            day: stats(24),
            week: stats(168),
            month: stats(720),
        }
    }

    /// An LND channel with this outbound and inbound fee and traffic.
    fn lnd(id: u64, fee: u32, inbound: i32, flow: FlowWindows) -> ChannelView {
        ChannelBuilder::new(id)
            .fee_ppm(fee)
            .inbound_fee_ppm(inbound)
            .flow(flow)
            .build()
    }

    fn one(host: &mut TestHost, params: &[Param], channel: ChannelView) -> Decision {
        run::<InboundDiscount>(host, params, &[channel])
            .unwrap()
            .remove(0)
    }

    /// The state key of the controller of a configuration with `params`.
    fn key_for(params: &[Param]) -> String {
        let mut scratch = TestHost::new();
        one(&mut scratch, params, lnd(1, 500, 0, traffic(0, 0)));
        let keys: Vec<String> = scratch
            .state
            .keys()
            .filter(|k| k.starts_with("controller:"))
            .cloned()
            .collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
        keys[0].clone()
    }

    fn stored_for(host: &TestHost, params: &[Param]) -> Controller {
        Controller::decode(&host.state[&key_for(params)]).expect("a stored controller")
    }

    fn stored(host: &TestHost) -> Controller {
        stored_for(host, &[])
    }

    fn measured(x_ppm: u32, revenue: f64, forwards: f64) -> Measurement {
        Measurement {
            x_ppm,
            revenue,
            forwards,
        }
    }

    /// A host after the first run on a 500 ppm channel earning 1000 msat/h from 2 fwd/h:
    /// X = 25 is being probed. Returns the host, one evaluation window later.
    fn probing_25() -> TestHost {
        let mut host = TestHost::new();
        let d = one(&mut host, &[], lnd(1, 500, 0, traffic(1000, 2)));
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(525), Some(-25)));
        host.advance(WEEK);
        host
    }

    /// One cycle on channel 1 as the last decision left it (LND price 500 + `x`).
    fn cycle(host: &mut TestHost, x: i32, revenue: u64, forwards: u32) -> Decision {
        let fee = 500 + x.unsigned_abs();
        one(host, &[], lnd(1, fee, -x, traffic(revenue, forwards)))
    }

    #[test]
    fn first_run_takes_history_as_the_baseline_and_probes_one_step() {
        let mut host = TestHost::new();
        let d = one(&mut host, &[], lnd(1, 500, 0, traffic(1000, 2)));
        assert_eq!(d.fee_ppm, Some(525));
        assert_eq!(d.inbound_fee_ppm, Some(-25));
        assert_eq!(
            d.reason,
            "X 25 ppm (first run, baseline 1000 msat/h, 2.00 fwd/h at X 0): \
             LND price 500 → out 525, in -25 ppm"
        );
        assert_eq!(
            stored(&host),
            Controller {
                x_ppm: 25,
                since: host.now,
                phase: Phase::Probing {
                    below: measured(0, 1000.0, 2.0)
                },
            }
        );
    }

    #[test]
    fn lnd_senders_pay_the_same_and_others_pay_x_more() {
        let mut host = probing_25();
        // grow to X = 50
        let d = cycle(&mut host, 25, 1100, 2);
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(550), Some(-50)));
        for channel in [
            lnd(2, 700, 0, traffic(0, 0)),
            lnd(3, 1725, -25, traffic(0, 0)),
        ] {
            // decided alone, the channel's own discount is what the node carries
            let carried = channel.local_policy.inbound_fee_ppm.min(0).unsigned_abs();
            let before = super::lnd_price(&channel, carried);
            let d = one(&mut host, &[], channel);
            let (out, inbound) = (d.fee_ppm.unwrap(), d.inbound_fee_ppm.unwrap());
            // an LND sender entering through any channel (−50) and leaving here pays as before
            assert_eq!(i64::from(out) + i64::from(inbound), i64::from(before));
            // a non-LND sender pays the outbound fee alone: X more
            assert_eq!(out, before + 50);
        }
    }

    #[test]
    fn an_existing_discount_is_read_back_as_part_of_the_lnd_price() {
        let mut host = TestHost::new();
        // 300 out, −50 in (e.g. set by hand): LND senders pay 250 leaving here, and the first
        // run takes the 50 as the X the channel carries and holds it: nothing moves
        let d = one(&mut host, &[], lnd(6, 300, -50, traffic(0, 0)));
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(300), Some(-50)));
        // a positive inbound fee is no discount: replaced, never kept or produced
        let d = one(&mut host, &[], lnd(7, 300, 40, traffic(0, 0)));
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(350), Some(-50)));
        // a discount larger than the outbound fee (LND clamps it): price 0
        let d = one(&mut host, &[], lnd(8, 30, -100, traffic(0, 0)));
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(50), Some(-50)));
    }

    /// One channel carries a −500 ppm sink discount set by hand; the others none. A forward
    /// leaving through it pays its 800 ppm plus the discount of the channel it came in by
    /// (none), so its price is 800, not 300: its outbound fee must not be cut to 300 + X.
    #[test]
    fn a_lone_hand_set_discount_is_not_read_as_a_cheaper_price() {
        let mut host = TestHost::new();
        let decisions = run::<InboundDiscount>(
            &mut host,
            &[],
            &[
                lnd(1, 800, -500, traffic(0, 0)),
                lnd(2, 600, 0, traffic(0, 0)),
                lnd(3, 600, 0, traffic(0, 0)),
            ],
        )
        .unwrap();
        let x = decisions[1].fee_ppm.unwrap() - 600;
        assert_eq!(decisions[0].fee_ppm, Some(800 + x), "{decisions:?}");
        assert_eq!(decisions[2].fee_ppm, Some(600 + x));
    }

    /// The inbound fee that lands may not be the −X asked for: a guard bound on inbound fees,
    /// a section's `inbound_fee_ppm`, or an LND that drops inbound fees. The outbound fee
    /// must not climb by the difference cycle after cycle.
    #[test]
    fn an_inbound_fee_that_lands_other_than_asked_never_ratchets_the_outbound_fee() {
        for landed in [-10, 0, -200] {
            let mut host = probing_25();
            host.now -= WEEK - HOUR;
            for _ in 0..5 {
                let d = one(&mut host, &[], lnd(1, 525, landed, traffic(1000, 2)));
                assert_eq!(d.fee_ppm, Some(525), "inbound landed at {landed}");
                assert_eq!(d.inbound_fee_ppm, Some(-25));
                host.advance(HOUR);
            }
        }
    }

    /// An outbound fee held back by a step limit, a minimum interval or a refused update is
    /// on its way to the promised price, not a new price.
    #[test]
    fn an_outbound_fee_on_its_way_keeps_the_price() {
        let mut host = probing_25();
        host.now -= WEEK - HOUR;
        for (fee, inbound) in [(500, 0), (510, -25), (520, -25), (525, -25)] {
            let d = one(&mut host, &[], lnd(1, fee, inbound, traffic(1000, 2)));
            assert_eq!(
                (d.fee_ppm, d.inbound_fee_ppm),
                (Some(525), Some(-25)),
                "at {fee}"
            );
        }
    }

    #[test]
    fn an_outbound_fee_moved_by_hand_is_read_as_the_new_price() {
        let mut host = probing_25();
        host.now -= WEEK - HOUR;
        let d = one(&mut host, &[], lnd(1, 800, -25, traffic(1000, 2)));
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(800), Some(-25)));
        assert!(d.reason.contains("LND price 775"), "{}", d.reason);
        let d = one(&mut host, &[], lnd(1, 800, -25, traffic(1000, 2)));
        assert_eq!(d.fee_ppm, Some(800), "and kept");
    }

    #[test]
    fn promise_encoding_is_pinned_and_rejects_other_versions() {
        let promise = Promise {
            price_ppm: 500,
            asked_ppm: 525,
            before_ppm: 0x0102_0304,
        };
        let bytes = promise.encode();
        assert_eq!(
            bytes,
            [1, 0xf4, 1, 0, 0, 0x0d, 2, 0, 0, 4, 3, 2, 1],
            "version, then price, asked and before as little-endian u32"
        );
        assert_eq!(Promise::decode(&bytes), Some(promise));
        let mut other = bytes.clone();
        other[0] = 2;
        assert_eq!(Promise::decode(&other), None);
        assert_eq!(Promise::decode(&bytes[..12]), None);
        let host = probing_25();
        assert!(host.state.contains_key(&promise_key(1)));
    }

    #[test]
    fn holds_x_during_the_evaluation_window() {
        let mut host = TestHost::new();
        one(&mut host, &[], lnd(1, 500, 0, traffic(1000, 2)));
        let before = host.state.clone();
        host.advance(WEEK - HOUR);
        let d = cycle(&mut host, 25, 9000, 9);
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(525), Some(-25)));
        assert!(d.reason.contains("probing, 167 of 168 h"), "{}", d.reason);
        let key = key_for(&[]);
        assert_eq!(host.state[&key], before[&key]);
    }

    #[test]
    fn grows_while_revenue_rises() {
        let mut host = probing_25();
        let d = cycle(&mut host, 25, 1200, 2);
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(550), Some(-50)));
        assert!(
            d.reason
                .contains("revenue +20%, forwards +0% vs X 0: revenue up, probing 50"),
            "{}",
            d.reason
        );
        assert_eq!(
            stored(&host).phase,
            Phase::Probing {
                below: measured(25, 1200.0, 2.0)
            }
        );
    }

    #[test]
    fn a_probe_that_does_not_raise_revenue_is_undone() {
        let mut host = probing_25();
        let d = cycle(&mut host, 25, 1000, 2);
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(500), Some(0)));
        assert!(
            d.reason.contains("revenue not up, back to 0"),
            "{}",
            d.reason
        );
        let settled = Phase::Settled {
            windows: 0,
            last: None,
        };
        assert_eq!(stored(&host).phase, settled);
        // a minimum gain the rise does not reach also undoes it
        let mut host = TestHost::new();
        let gain = [Param::new("min_gain_percent", 15.0)];
        one(&mut host, &gain, lnd(1, 500, 0, traffic(1000, 2)));
        host.advance(WEEK);
        let d = one(&mut host, &gain, lnd(1, 525, -25, traffic(1100, 2)));
        assert_eq!(d.inbound_fee_ppm, Some(0), "{}", d.reason);
    }

    #[test]
    fn a_probe_that_loses_forwards_is_undone_even_if_revenue_rose() {
        let mut host = probing_25();
        let d = cycle(&mut host, 25, 1500, 1);
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(500), Some(0)));
        assert!(
            d.reason
                .contains("forwards -50% vs X 0: forwards fell, back to 0"),
            "{}",
            d.reason
        );
        // within the tolerance it is no drop: 2 → 1.9 fwd/h is −5%
        let mut host = probing_25();
        let d = one(
            &mut host,
            &[],
            lnd(1, 525, -25, traffic(1500, 2).scaled_forwards(0.95)),
        );
        assert_eq!(d.inbound_fee_ppm, Some(-50));
    }

    #[test]
    fn settled_x_is_measured_then_held_then_shrunk_on_a_volume_drop() {
        // reach X 50, then fail the probe of 75: settled at 50
        let mut host = probing_25();
        cycle(&mut host, 25, 1200, 4);
        host.advance(WEEK);
        cycle(&mut host, 50, 1300, 4);
        host.advance(WEEK);
        let d = cycle(&mut host, 75, 1250, 4);
        assert_eq!(d.inbound_fee_ppm, Some(-50));
        host.advance(WEEK);
        let d = cycle(&mut host, 50, 1300, 4);
        assert!(d.reason.contains("measured 1300 msat/h"), "{}", d.reason);
        host.advance(WEEK);
        let d = cycle(&mut host, 50, 1290, 4);
        assert!(d.reason.contains("holding"), "{}", d.reason);
        assert_eq!(d.inbound_fee_ppm, Some(-50));
        host.advance(WEEK);
        let d = cycle(&mut host, 50, 1000, 3);
        assert!(
            d.reason.contains("forwards fell, down to 25"),
            "{}",
            d.reason
        );
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(525), Some(-25)));
    }

    #[test]
    fn a_settled_x_probes_again_after_quiet_windows() {
        let mut host = probing_25();
        cycle(&mut host, 25, 900, 2); // back to 0, settled
        for _ in 0..REPROBE_AFTER_WINDOWS {
            host.advance(WEEK);
            let d = cycle(&mut host, 0, 900, 2);
            assert_eq!(d.inbound_fee_ppm, Some(0), "{}", d.reason);
        }
        host.advance(WEEK);
        let d = cycle(&mut host, 0, 900, 2);
        assert_eq!(d.inbound_fee_ppm, Some(-25));
        assert!(
            d.reason.contains("settled 10 windows, probing 25"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn never_exceeds_max_discount_even_when_it_is_lowered() {
        let params = [
            Param::new("max_discount_ppm", 60),
            Param::new("step_ppm", 40),
        ];
        let mut host = TestHost::new();
        let d = one(&mut host, &params, lnd(1, 500, 0, traffic(1000, 2)));
        assert_eq!(d.inbound_fee_ppm, Some(-40));
        host.advance(WEEK);
        let d = one(&mut host, &params, lnd(1, 540, -40, traffic(2000, 2)));
        assert_eq!(d.inbound_fee_ppm, Some(-60));
        host.advance(WEEK);
        let d = one(&mut host, &params, lnd(1, 560, -60, traffic(3000, 2)));
        assert_eq!(d.inbound_fee_ppm, Some(-60));
        assert!(d.reason.contains("at max_discount_ppm"), "{}", d.reason);
        // the operator lowers the ceiling mid-window: X follows at the next cycle
        host.advance(HOUR);
        let lower = [Param::new("max_discount_ppm", 30)];
        let d = one(&mut host, &lower, lnd(1, 560, -60, traffic(3000, 2)));
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(530), Some(-30)));
        assert_eq!(stored_for(&host, &lower).x_ppm, 30);
        // and a probe undone back to a level above the new ceiling stays under it
        let mut host = probing_25();
        let none = [Param::new("max_discount_ppm", 0)];
        let d = one(&mut host, &none, lnd(1, 525, -25, traffic(0, 0)));
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(500), Some(0)));
        assert_eq!(stored_for(&host, &none).x_ppm, 0);
    }

    #[test]
    fn max_discount_zero_never_discounts() {
        let mut host = TestHost::new();
        let none = [Param::new("max_discount_ppm", 0)];
        let d = one(&mut host, &none, lnd(1, 500, -30, traffic(1000, 2)));
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(470), Some(0)));
        assert_eq!(stored_for(&host, &none).x_ppm, 0);
    }

    #[test]
    fn core_lightning_channels_are_left_alone() {
        let cln = ChannelBuilder::new(2)
            .node(NodeKind::Cln)
            .fee_ppm(500)
            .flow(traffic(1000, 2))
            .build();
        let mut host = TestHost::new();
        let d = one(&mut host, &[], cln.clone());
        assert!(d.is_unchanged());
        assert!(d.reason.contains("no +X"), "{}", d.reason);
        // a batch with no LND channel neither starts nor advances the controller
        assert!(host.state.is_empty());
        // in a mixed batch only the LND channel gets −X/+X
        let both = [lnd(1, 500, 0, traffic(1000, 2)), cln];
        let decisions = run::<InboundDiscount>(&mut host, &[], &both).unwrap();
        assert_eq!(decisions[0].inbound_fee_ppm, Some(-25));
        assert!(decisions[1].is_unchanged());
    }

    #[test]
    fn inactive_channels_are_left_unchanged_but_their_traffic_counts() {
        let offline = ChannelBuilder::new(3)
            .active(false)
            .flow(traffic(700, 1))
            .build();
        let mut host = TestHost::new();
        let batch = [lnd(1, 500, 0, traffic(300, 1)), offline];
        let decisions = run::<InboundDiscount>(&mut host, &[], &batch).unwrap();
        assert!(decisions[1].is_unchanged());
        assert!(decisions[1].reason.contains("inactive"));
        let Phase::Probing { below } = stored(&host).phase else {
            panic!("probing expected");
        };
        assert_eq!(below, measured(0, 1000.0, 2.0));
    }

    #[test]
    fn evaluation_measures_the_longest_window_that_fits() {
        assert_eq!(window_hours(24), 24);
        assert_eq!(window_hours(167), 24);
        assert_eq!(window_hours(168), 168);
        assert_eq!(window_hours(719), 168);
        assert_eq!(window_hours(2160), 720);
        // with a 3-day window the last day is what counts
        let mut flow = traffic(1000, 2);
        flow.day.fees_earned_msat = 48_000;
        let three_days = [Param::new("evaluation_hours", 72)];
        let mut host = TestHost::new();
        one(&mut host, &three_days, lnd(1, 500, 0, flow));
        let Phase::Probing { below } = stored_for(&host, &three_days).phase else {
            panic!("probing expected");
        };
        assert_eq!(below.revenue, 2000.0);
    }

    #[test]
    fn state_survives_a_restart_and_bad_state_starts_over() {
        let mut host = TestHost::new();
        one(&mut host, &[], lnd(1, 500, 0, traffic(1000, 2)));
        // a restart: a fresh call with only the host's state carried over
        let mut restarted = TestHost::new();
        restarted.state = host.state.clone();
        restarted.now = host.now + WEEK;
        let d = one(&mut restarted, &[], lnd(1, 525, -25, traffic(1200, 2)));
        assert_eq!(d.inbound_fee_ppm, Some(-50));
        assert!(d.reason.contains("vs X 0"), "{}", d.reason);
        // without the state the search starts over, from the discount the channel carries
        let d = one(
            &mut TestHost::new(),
            &[],
            lnd(1, 525, -25, traffic(1200, 2)),
        );
        assert_eq!(d.inbound_fee_ppm, Some(-25));
        assert!(d.reason.contains("holding the X 25"), "{}", d.reason);
        // unreadable state also starts over
        for junk in [vec![1, 2, 3], vec![9; STATE_LEN]] {
            let mut corrupt = TestHost::new();
            corrupt.state.insert(key_for(&[]), junk);
            let d = one(&mut corrupt, &[], lnd(1, 500, 0, traffic(0, 0)));
            assert!(d.reason.contains("first run"), "{}", d.reason);
        }
    }

    #[test]
    fn the_one_controller_of_0_2_0_gives_way_to_the_channels_discount() {
        let legacy = Controller {
            x_ppm: 40,
            since: 0,
            phase: Phase::Settled {
                windows: 3,
                last: None,
            },
        };
        let mut host = TestHost::new();
        host.state
            .insert(LEGACY_STATE_KEY.into(), legacy.encode().to_vec());
        let d = one(&mut host, &[], lnd(1, 540, -40, traffic(1000, 2)));
        assert!(!host.state.contains_key(LEGACY_STATE_KEY));
        assert!(d.reason.contains("holding the X 40"), "{}", d.reason);
        assert_eq!(d.inbound_fee_ppm, Some(-40), "no fee moves on the upgrade");
        // the LND price stays what it was: 540 − 40
        assert_eq!(
            i64::from(d.fee_ppm.unwrap()) + i64::from(d.inbound_fee_ppm.unwrap()),
            500
        );
    }

    #[test]
    fn each_configuration_learns_its_own_x_on_its_own_channels_in_any_order() {
        let mut host = TestHost::new();
        let small = [Param::new("step_ppm", 25)];
        let large = [Param::new("step_ppm", 60)];
        // Two sections (or the two arms of an experiment) in one cycle.
        let a = one(&mut host, &small, lnd(1, 500, 0, traffic(1000, 2)));
        let b = one(&mut host, &large, lnd(2, 800, 0, traffic(5000, 9)));
        assert_eq!(a.inbound_fee_ppm, Some(-25));
        assert_eq!(b.inbound_fee_ppm, Some(-60));
        assert_eq!(stored_for(&host, &small).x_ppm, 25);
        assert_eq!(stored_for(&host, &large).x_ppm, 60);
        // A window later, in the other order, each is judged against its own baseline: the
        // first section's revenue rose, the second's volume fell away.
        host.advance(WEEK);
        let b = one(&mut host, &large, lnd(2, 860, -60, traffic(5000, 2)));
        let a = one(&mut host, &small, lnd(1, 525, -25, traffic(1100, 2)));
        assert_eq!(a.inbound_fee_ppm, Some(-50), "{}", a.reason);
        assert_eq!(b.inbound_fee_ppm, Some(0), "{}", b.reason);
        // New parameters are a new controller, which starts from the X the channels carry,
        // not from 0: the LND price and the discount go on from where they are.
        host.advance(HOUR);
        let changed = [
            Param::new("step_ppm", 25),
            Param::new("min_gain_percent", 5.0),
        ];
        let a = one(&mut host, &changed, lnd(1, 550, -50, traffic(1100, 2)));
        assert!(a.reason.contains("holding the X 50"), "{}", a.reason);
        assert_eq!((a.fee_ppm, a.inbound_fee_ppm), (Some(550), Some(-50)));
    }

    /// The X a new controller starts from is what the strategy set on the channel, not the
    /// inbound fee that landed: here a guard bound let only −10 of −100 through.
    #[test]
    fn a_new_controller_starts_from_the_x_the_strategy_set_not_a_clipped_inbound_fee() {
        let mut host = TestHost::new();
        let wide = [
            Param::new("step_ppm", 100),
            Param::new("max_discount_ppm", 300),
        ];
        let d = one(&mut host, &wide, lnd(1, 500, 0, traffic(1000, 2)));
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(600), Some(-100)));
        host.advance(HOUR);
        let edited = [
            Param::new("step_ppm", 50),
            Param::new("max_discount_ppm", 300),
        ];
        let d = one(&mut host, &edited, lnd(1, 600, -10, traffic(1000, 2)));
        assert!(d.reason.contains("holding the X 100"), "{}", d.reason);
        assert_eq!(d.fee_ppm, Some(600), "the outbound fee does not move");
    }

    /// A controller that has not run for two windows is not resumed: its measurements are of
    /// a node that has moved on. Parameters given up and taken back start from the channels.
    #[test]
    fn a_controller_idle_for_two_windows_starts_again_from_the_channels() {
        let mut host = probing_25();
        let other = [Param::new("step_ppm", 40)];
        host.advance(HOUR);
        one(&mut host, &other, lnd(1, 525, -25, traffic(1000, 2)));
        host.advance(2 * WEEK);
        // back to the defaults, whose controller probed 25 three weeks ago
        let d = one(&mut host, &[], lnd(1, 525, -25, traffic(0, 0)));
        assert!(d.reason.contains("holding the X 25"), "{}", d.reason);
        assert_eq!((d.fee_ppm, d.inbound_fee_ppm), (Some(525), Some(-25)));
    }

    #[test]
    fn state_encoding_round_trips_and_rejects_nonsense() {
        let phases = [
            Phase::Probing {
                below: measured(25, 1.5, 0.25),
            },
            Phase::Settled {
                windows: 7,
                last: Some(measured(0, 0.0, 3.0)),
            },
            Phase::Settled {
                windows: 0,
                last: None,
            },
        ];
        for phase in phases {
            let c = Controller {
                x_ppm: 75,
                since: 1_767_225_600,
                phase,
            };
            assert_eq!(Controller::decode(&c.encode()), Some(c));
        }
        let c = Controller {
            x_ppm: 75,
            since: 1,
            phase: phases[0],
        };
        let mut bytes = c.encode();
        bytes[23..31].copy_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(Controller::decode(&bytes), None);
        let mut bytes = c.encode();
        bytes[18] = 0; // probing without the level below
        assert_eq!(Controller::decode(&bytes), None);
        assert_eq!(Controller::decode(&c.encode()[..STATE_LEN - 1]), None);
    }

    /// The bytes of stored controllers, pinned (a probe, and a settled X without a
    /// measurement, whose measurement bytes stay zero): a layout change must come with a new
    /// version.
    #[test]
    fn controller_encoding_is_pinned() {
        let probing = Controller {
            x_ppm: 75,
            since: 1_767_225_600,
            phase: Phase::Probing {
                below: measured(50, 1250.5, 0.25),
            },
        };
        let golden: [u8; 39] = [
            1, 75, 0, 0, 0, 0, 185, 85, 105, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 50, 0, 0, 0, 0, 0, 0, 0,
            0, 138, 147, 64, 0, 0, 0, 0, 0, 0, 208, 63,
        ];
        assert_eq!(probing.encode()[..], golden);
        assert_eq!(Controller::decode(&golden), Some(probing));
        let settled = Controller {
            x_ppm: 100,
            since: 1_767_312_000,
            phase: Phase::Settled {
                windows: 3,
                last: None,
            },
        };
        let golden: [u8; 39] = [
            1, 100, 0, 0, 0, 128, 10, 87, 105, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(settled.encode()[..], golden);
        assert_eq!(Controller::decode(&golden), Some(settled));
    }

    #[test]
    fn extreme_inputs_do_not_panic_and_never_give_a_positive_inbound_fee() {
        let huge = ChannelBuilder::new(1)
            .fee_ppm(u32::MAX)
            .inbound_fee_ppm(i32::MIN)
            .capacity_sat(0)
            .balances_sat(0, 0)
            .flow(FlowWindows {
                day: FlowStats {
                    fees_earned_msat: u64::MAX,
                    htlcs_out: u32::MAX,
                    ..no_flow()
                },
                week: FlowStats {
                    fees_earned_msat: u64::MAX,
                    htlcs_out: u32::MAX,
                    ..no_flow()
                },
                month: no_flow(),
            })
            .build();
        let max_out = ChannelBuilder::new(2)
            .fee_ppm(u32::MAX)
            .inbound_fee_ppm(i32::MAX)
            .build();
        let params = [
            Param::new("max_discount_ppm", 5000),
            Param::new("step_ppm", 1000),
        ];
        let mut host = TestHost::new();
        let batch = [huge, max_out];
        for _ in 0..8 {
            for d in run::<InboundDiscount>(&mut host, &params, &batch).unwrap() {
                let inbound = d.inbound_fee_ppm.unwrap();
                assert!((-5000..=0).contains(&inbound), "{}", d.reason);
                assert!(i64::from(inbound) >= -i64::from(d.fee_ppm.unwrap()));
            }
            host.advance(WEEK);
        }
        // the LND price of channel 2 saturates instead of overflowing
        let d = &run::<InboundDiscount>(&mut host, &params, &batch[1..]).unwrap()[0];
        assert_eq!(d.fee_ppm, Some(u32::MAX));
    }

    #[test]
    fn field_report_market_settles_on_a_small_x_far_below_1000() {
        // The field report's node: X = 1000 ppm cut routing events to under half, X = 200
        // let them recover. A market with 60% non-LND senders whose traffic falls linearly,
        // to none at X = 800, reproduces both: at X = 1000 40% of the events remain, at
        // X = 200 85%. With a 500 ppm LND price, revenue ∝ 0.4 × 500 + 0.6 × (1 − X/800) ×
        // (500 + X) peaks at X = 150.
        let market = |x: u32| {
            let x = f64::from(x);
            let non_lnd = 0.6 * (1.0 - x / 800.0).max(0.0);
            let forwards = 100.0 * (0.4 + non_lnd);
            // 1,000,000 msat forwarded each: msat fee = ppm
            let revenue = 100.0 * (0.4 * 500.0 + non_lnd * (500.0 + x));
            (revenue.round() as u64, forwards.round() as u32)
        };
        assert_eq!(market(1000).1, 40);
        assert_eq!(market(200).1, 85);
        let params = [Param::new("max_discount_ppm", 1000)];
        let mut host = TestHost::new();
        let (mut fee, mut inbound): (u32, i32) = (500, 0);
        let mut xs = Vec::new();
        for _ in 0..40 {
            let x = inbound.unsigned_abs();
            let (revenue, forwards) = market(x);
            let channel = lnd(1, fee, inbound, traffic(revenue, forwards));
            let d = one(&mut host, &params, channel);
            (fee, inbound) = (d.fee_ppm.unwrap(), d.inbound_fee_ppm.unwrap());
            assert_eq!(i64::from(fee) + i64::from(inbound), 500, "{}", d.reason);
            xs.push(inbound.unsigned_abs());
            host.advance(WEEK);
        }
        // grows step by step, overshoots once, falls back to the peak and stays there,
        // probing one step up every REPROBE_AFTER_WINDOWS + 1 windows
        assert_eq!(&xs[..8], &[25, 50, 75, 100, 125, 150, 175, 150], "{xs:?}");
        assert!(xs[8..].iter().all(|&x| x == 150 || x == 175), "{xs:?}");
        assert_eq!(xs.iter().filter(|&&x| x == 175).count(), 3, "{xs:?}");
    }

    #[test]
    fn bad_parameters_are_errors_naming_them() {
        let err = |params: &[Param]| {
            run::<InboundDiscount>(&mut TestHost::new(), params, &[]).unwrap_err()
        };
        assert!(err(&[Param::new("max_discount_ppm", 6000)]).contains("`max_discount_ppm`"));
        assert!(err(&[Param::new("step_ppm", 0)]).contains("`step_ppm`"));
        assert!(err(&[Param::new("evaluation_hours", 12)]).contains("`evaluation_hours`"));
        assert!(err(&[Param::new("volume_drop_percent", f64::NAN)]).contains("not a number"));
        assert!(err(&[Param::new("min_gain_percent", -1.0)]).contains("`min_gain_percent`"));
    }

    /// Test-only: the same traffic with a share of the forwards.
    trait ScaledForwards {
        fn scaled_forwards(self, factor: f64) -> Self;
    }

    impl ScaledForwards for FlowWindows {
        fn scaled_forwards(mut self, factor: f64) -> Self {
            for stats in [&mut self.day, &mut self.week, &mut self.month] {
                stats.htlcs_out = (f64::from(stats.htlcs_out) * factor).round() as u32;
            }
            self
        }
    }
}
