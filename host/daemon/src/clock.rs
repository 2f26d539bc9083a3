//! The daemon's clock: wall time against a real node, the market's virtual time against the
//! in-process simulator. The schedule, the cycles' `now` and the revenue windows all read it,
//! so a simulated day behaves like a real one, only faster.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sim::SimNode;

/// How often the simulated market is advanced while the daemon waits: small enough that the
/// schedule stays close to the requested speed, large enough that each step does some work.
const SIM_TICK: Duration = Duration::from_millis(100);

/// The longest the wall clock is trusted to run on without being read again.
const WALL_NAP_SECS: u64 = 60;

pub(crate) enum Clock {
    Wall,
    Sim(Box<SimNode>),
}

impl Clock {
    /// Unix seconds.
    pub(crate) fn now(&self) -> u64 {
        match self {
            Clock::Wall => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            Clock::Sim(sim) => sim.now(),
        }
    }

    /// Returns once `now() >= at`. Cancel-safe: the simulated market advances in whole
    /// steps, so dropping the future between them (a signal arrived) loses nothing.
    pub(crate) async fn wait_until(&mut self, at: u64) {
        match self {
            Clock::Wall => loop {
                let now = self.now();
                if now >= at {
                    return;
                }
                // In bounded naps, re-reading the clock: it may jump (NTP, suspend).
                tokio::time::sleep(Duration::from_secs((at - now).min(WALL_NAP_SECS))).await;
            },
            Clock::Sim(sim) => {
                // Virtual time already owed from earlier ticks first: at high speeds one
                // tick covers several waits, and each must not cost a tick of its own.
                sim.advance_by_tick(Duration::ZERO, at);
                let mut tick = tokio::time::interval(SIM_TICK);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                while sim.now() < at {
                    tick.tick().await;
                    sim.advance_by_tick(SIM_TICK, at);
                }
            }
        }
    }
}
