//! Backtest speed, the figure that decides whether grid searches over fees are practical:
//! 30 virtual days of a 100-channel node with ~10,000 candidate payments a day.
//! `cargo bench -p lnpolicy-sim --bench backtest` prints one timed run with its counts,
//! then criterion's statistics.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use lnpolicy_sim::{Scenario, Simulation};

const DAYS: u64 = 30;

fn node() -> Scenario {
    Scenario::synthetic(100, 10_000.0, 1)
}

fn backtest(start: &Simulation) -> Simulation {
    let mut sim = start.clone();
    sim.advance(DAYS * 86_400);
    sim
}

fn bench(c: &mut Criterion) {
    let t = Instant::now();
    let start = Simulation::new(node());
    let built = t.elapsed();
    let t = Instant::now();
    let sim = backtest(&start);
    let ran = t.elapsed();
    let m = sim.market_totals();
    println!(
        "30-day backtest, 100 channels, 10k payments/day: build {built:.2?}, run {ran:.2?}; \
         {} payments ({:.0}/s), {} parts tried us, {} forwards, {} failures at the node",
        m.payments,
        m.payments as f64 / ran.as_secs_f64(),
        m.chose_us,
        m.forwards,
        m.failures,
    );

    let mut group = c.benchmark_group("backtest");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("build 100 channels", |b| {
        b.iter(|| Simulation::new(black_box(node())))
    });
    group.bench_function("30 days, 100 channels, 10k payments/day", |b| {
        b.iter(|| backtest(black_box(&start)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
