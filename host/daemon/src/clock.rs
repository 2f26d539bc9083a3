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
            Clock::Wall => wall_now(),
            Clock::Sim(sim) => sim.now(),
        }
    }

    /// Returns once `now() >= at`. Cancel-safe: the simulated market advances in whole
    /// steps, so dropping the future between them (a signal arrived) loses nothing.
    pub(crate) async fn wait_until(&mut self, at: u64) {
        match self {
            Clock::Wall => wait_for_wall(at, wall_now).await,
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

fn wall_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Returns once the wall clock `now` reads `at`, or once as long has passed on the monotonic
/// clock as was left when the wait began: a clock set forward (a suspend, NTP) ends the wait
/// early, one set back does not stretch it.
async fn wait_for_wall(at: u64, now: impl Fn() -> u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(at.saturating_sub(now()));
    loop {
        let wall = now();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if wall >= at || left.is_zero() {
            return;
        }
        // In bounded naps, re-reading the wall clock.
        tokio::time::sleep(Duration::from_secs((at - wall).min(WALL_NAP_SECS)).min(left)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::wait_for_wall;

    /// Runs `wait_for_wall(at)` on paused time with a wall clock at `start` that moves by
    /// `by` seconds (back when negative) once `step_after` monotonic seconds have passed;
    /// returns the monotonic seconds the wait took.
    async fn waited(start: u64, at: u64, step_after: u64, by: i64) -> u64 {
        let began = tokio::time::Instant::now();
        wait_for_wall(at, || {
            let elapsed = began.elapsed().as_secs();
            let base = if elapsed >= step_after {
                start.saturating_add_signed(by)
            } else {
                start
            };
            base + elapsed
        })
        .await;
        began.elapsed().as_secs()
    }

    #[tokio::test(start_paused = true)]
    async fn a_clock_set_back_does_not_stretch_the_wait() {
        // Due in 600 s; 100 s in, the clock goes back an hour.
        assert_eq!(waited(10_000, 10_600, 100, -3_600).await, 600);
    }

    #[tokio::test(start_paused = true)]
    async fn a_clock_set_forward_ends_the_wait() {
        // Due in 600 s; 100 s in, the clock jumps 400 s on (a resume): it reads 10,600 at 200 s.
        assert_eq!(waited(10_000, 10_600, 100, 400).await, 200);
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_clock_waits_the_time_left() {
        assert_eq!(waited(10_000, 10_600, u64::MAX, 0).await, 600);
        assert_eq!(waited(10_000, 9_000, u64::MAX, 0).await, 0);
    }
}
