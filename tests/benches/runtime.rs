//! Runtime costs: `decide` per channel for batches of 1, 100 and 10,000
//! channels against the same rule compiled natively and against a guest
//! that sets a constant fee (the sandbox boundary alone); component load cold vs
//! cached; file change to live through the watcher.

use std::sync::Arc;
use std::time::{Duration, Instant};

use balance_based::BalanceBased;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lnpolicy_core::{Param, ParamValue, fixtures};
use lnpolicy_runtime::{DecideCall, NoHistory, Runtime, RuntimeConfig};
use lnpolicy_sdk::testing::{ChannelBuilder, TestHost};
use lnpolicy_tests::{Harness, test_guest};

const BATCHES: [usize; 3] = [1, 100, 10_000];

fn balance_params() -> Vec<Param> {
    [
        ("min_fee_ppm", 10),
        ("max_fee_ppm", 1000),
        ("inbound_discount_ppm", 100),
    ]
    .into_iter()
    .map(|(name, v)| Param {
        name: name.into(),
        value: ParamValue::Integer(v),
    })
    .chain(
        [("exponent", 1.0), ("low_ratio", 0.2), ("mid_ratio", 0.4)]
            .into_iter()
            .map(|(name, v)| Param {
                name: name.into(),
                value: ParamValue::Float(v),
            }),
    )
    .collect()
}

fn decide(c: &mut Criterion) {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let strategy = runtime
        .load_bytes(lnpolicy_builtins::get("balance_based").unwrap())
        .unwrap();
    // good_v1 sets a constant fee: its cost is the sandbox boundary alone.
    let trivial = runtime.load_file(&test_guest("good_v1")).unwrap();
    let params = balance_params();
    let sdk_params: Vec<lnpolicy_sdk::Param> = params
        .iter()
        .map(|p| match p.value {
            ParamValue::Integer(i) => lnpolicy_sdk::Param::new(&p.name, i),
            ParamValue::Float(f) => lnpolicy_sdk::Param::new(&p.name, f),
            _ => unreachable!("numeric parameters only"),
        })
        .collect();
    let mut group = c.benchmark_group("decide");
    for batch in BATCHES {
        let channels = fixtures::many_channels(batch);
        let views: Vec<_> = channels
            .iter()
            .map(|ch| {
                ChannelBuilder::new(ch.id)
                    .capacity_sat(ch.capacity_sat)
                    .balances_sat(ch.local_balance_sat, ch.remote_balance_sat)
                    .build()
            })
            .collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("wasm", batch), &channels, |b, channels| {
            b.iter(|| {
                let out = strategy
                    .decide(DecideCall {
                        params: &params,
                        channels,
                        now: 1_780_000_000,
                        history: Arc::new(NoHistory),
                        state: Default::default(),
                    })
                    .unwrap();
                assert_eq!(out.decisions.len(), channels.len());
            })
        });
        group.bench_with_input(
            BenchmarkId::new("wasm_constant_rule", batch),
            &channels,
            |b, channels| {
                b.iter(|| {
                    let out = trivial
                        .decide(DecideCall {
                            params: &[],
                            channels,
                            now: 1_780_000_000,
                            history: Arc::new(NoHistory),
                            state: Default::default(),
                        })
                        .unwrap();
                    assert_eq!(out.decisions.len(), channels.len());
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("native", batch), &views, |b, views| {
            let mut host = TestHost::new();
            b.iter(|| {
                let out = lnpolicy_sdk::testing::run::<BalanceBased>(&mut host, &sdk_params, views)
                    .unwrap();
                assert_eq!(out.len(), views.len());
            })
        });
    }
    group.finish();
}

fn load(c: &mut Criterion) {
    let bytes = lnpolicy_builtins::get("balance_based").unwrap();
    let mut group = c.benchmark_group("load");
    group.sample_size(20);
    let cold = Runtime::new(RuntimeConfig::default()).unwrap();
    group.bench_function("cold_compile", |b| {
        b.iter(|| cold.load_bytes(bytes).unwrap())
    });
    let dir = tempfile::tempdir().unwrap();
    let cached = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    cached.load_bytes(bytes).unwrap();
    group.bench_function("cached", |b| {
        b.iter(|| {
            let strategy = cached.load_bytes(bytes).unwrap();
            assert_eq!(
                strategy.cache_outcome(),
                lnpolicy_runtime::CacheOutcome::Hit
            );
        })
    });
    group.finish();
}

fn reload(c: &mut Criterion) {
    let h = Harness::new();
    h.install(&test_guest("good_v1"), "live");
    let _watcher = h.registry.watch(&h.strategies_dir()).unwrap();
    let versions = [test_guest("good_v2"), test_guest("good_v1")];
    let shas: Vec<String> = versions
        .iter()
        .map(|p| {
            h.registry
                .runtime()
                .load_file(p)
                .unwrap()
                .sha256()
                .to_owned()
        })
        .collect();
    let mut group = c.benchmark_group("reload");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let mut turn = 0;
    group.bench_function("file_change_to_live", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (path, sha) = (&versions[turn % 2], &shas[turn % 2]);
                turn += 1;
                let start = Instant::now();
                h.install(path, "live");
                while h.registry.get("live").is_none_or(|s| s.sha256() != sha) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, decide, load, reload);
criterion_main!(benches);
