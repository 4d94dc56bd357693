//! criterion benchmarks: parsing, macro expansion, warm checks (a few cases
//! and a corpus), one and two threads on one checker. `cargo bench -p
//! spf-benches --bench checks`.

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spf_benches::{MACRO_RECORD, PROVIDER_RECORD, WARM_CASES, provider_zone};
use spf_core::macros::{ExpansionBudget, MacroContext, MacroString, MacroVars};
use spf_core::{CheckOptions, Checker, CheckerConfig, Record};

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group
        .bench_function("simple", |b| b.iter(|| Record::parse(black_box("v=spf1 ip4:192.0.2.0/24 mx -all"))));
    group.bench_function("provider_40_terms", |b| b.iter(|| Record::parse(black_box(PROVIDER_RECORD))));
    group.bench_function("macro_heavy", |b| b.iter(|| Record::parse(black_box(MACRO_RECORD))));
    group.finish();
}

fn macros(c: &mut Criterion) {
    let spec = MacroString::parse(b"%{ir}.%{v}._spf.%{l1r-}.%{d2}", MacroContext::Record).expect("macro");
    let vars = MacroVars {
        sender: "strong-bad@email.example.com",
        local_part: "strong-bad",
        sender_domain: "email.example.com",
        domain: "email.example.com",
        ip: "192.0.2.3".parse().expect("ip"),
        helo: "mx.example.org",
        receiver: "unknown",
        timestamp: 0,
        validated_name: "unknown",
    };
    c.bench_function("macro_expand/ir_v_l1r-_d2", |b| {
        b.iter(|| {
            let name = spec.expand_domain(black_box(&vars), &mut ExpansionBudget::default());
            black_box(name.map_or(0, |n| n.len()))
        })
    });
}

fn checker(trace: bool) -> Checker {
    let config = CheckerConfig::default()
        .with_zone(Arc::new(provider_zone()))
        .with_options(CheckOptions::default().with_trace(trace));
    Checker::new(config).expect("checker")
}

/// [`checker`] without compiled policies: every check runs the evaluator,
/// as a traced check always does.
fn evaluating_checker(trace: bool) -> Checker {
    let mut config = CheckerConfig::default()
        .with_zone(Arc::new(provider_zone()))
        .with_options(CheckOptions::default().with_trace(trace));
    config.compiled.enabled = false;
    Checker::new(config).expect("checker")
}

/// Warm checks: from compiled policies (the default), traced (which runs
/// the evaluator), and through the evaluator untraced, the fair baseline
/// for what recording the trace costs.
fn warm_checks(c: &mut Criterion) {
    for (name, checker) in [
        ("warm_check", checker(false)),
        ("warm_check_traced", checker(true)),
        ("warm_check_evaluated", evaluating_checker(false)),
    ] {
        let mut group = c.benchmark_group(name);
        for (name, ip, sender) in WARM_CASES {
            let ip: IpAddr = ip.parse().expect("ip");
            checker.check_blocking(ip, sender, "helo.example");
            group.bench_function(name, |b| {
                b.iter(|| checker.check_blocking(black_box(ip), sender, "helo.example"))
            });
        }
        group.finish();
    }
}

/// A checker over the generated workload's zone (default settings), with
/// the corpus checked twice: its cache and compiled policies are warm.
fn corpus_checker() -> (Checker, Vec<(IpAddr, String, String)>) {
    let workload = spf_benches::workload::generate(1, 3000, 100_000);
    let zone = spf_core::dns::Zone::from_master_str(&workload.zone, "gen").expect("generated zone");
    let checker = Checker::new(CheckerConfig::default().with_zone(Arc::new(zone))).expect("checker");
    let corpus: Vec<(IpAddr, String, String)> = workload.checks();
    for _ in 0..2 {
        for (ip, from, helo) in &corpus {
            checker.check_blocking(*ip, from, helo);
        }
    }
    (checker, corpus)
}

/// Warm checks over a realistic corpus: Zipf over 3,000 generated sender
/// domains (provider include chains 1 to 4 deep, ranges, a/mx, redirect,
/// exists, ptr, no record, broken, over-limit), 15 % IPv6 clients, cycling
/// through 100,000 checks after one warm-up pass.
fn warm_corpus(c: &mut Criterion) {
    let (checker, corpus) = corpus_checker();
    let mut group = c.benchmark_group("warm_check_corpus");
    group.throughput(Throughput::Elements(1));
    let mut next = 0usize;
    group.bench_function("zipf_3000_domains", |b| {
        b.iter(|| {
            let (ip, from, helo) = &corpus[next];
            next = (next + 1) % corpus.len();
            checker.check_blocking(black_box(*ip), from, helo)
        })
    });
    group.finish();
}

/// Checks per second on one shared checker from one and from two threads:
/// one hot sender and client (every thread on the same compiled policy),
/// the same through the evaluator (compiled policies off: every thread
/// reads the same cached DNS answers), and the warm corpus. Each measurement starts its threads once, and each
/// thread times its share of the checks from a common start, so thread
/// start-up is not measured; the slowest thread's time is the group's.
fn threads(c: &mut Criterion) {
    let hot_checker = checker(false);
    let hot: Vec<(IpAddr, String, String)> =
        vec![("66.15.25.9".parse().expect("ip"), "a@bigmail.example".into(), "h".into())];
    for (ip, from, helo) in hot.iter().chain(hot.iter()) {
        hot_checker.check_blocking(*ip, from, helo);
    }
    let mut config = CheckerConfig::default().with_zone(Arc::new(provider_zone()));
    config.compiled.enabled = false;
    let evaluated_checker = Checker::new(config).expect("checker");
    for (ip, from, helo) in &hot {
        evaluated_checker.check_blocking(*ip, from, helo);
    }
    let (corpus_checker, corpus) = corpus_checker();
    let mut group = c.benchmark_group("threads");
    group.throughput(Throughput::Elements(1));
    for (name, checker, checks) in [
        ("hot_key", &hot_checker, &hot),
        ("hot_key_evaluated", &evaluated_checker, &hot),
        ("corpus", &corpus_checker, &corpus),
    ] {
        for threads in [1usize, 2] {
            group.bench_function(format!("{name}/{threads}"), |b| {
                b.iter_custom(|iters| {
                    let barrier = std::sync::Barrier::new(threads);
                    let share = (iters as usize).div_ceil(threads);
                    std::thread::scope(|s| {
                        let workers: Vec<_> = (0..threads)
                            .map(|t| {
                                let barrier = &barrier;
                                s.spawn(move || {
                                    barrier.wait();
                                    let started = std::time::Instant::now();
                                    for i in 0..share {
                                        let (ip, from, helo) = &checks[(t * 50_021 + i) % checks.len()];
                                        black_box(checker.check_blocking(*ip, from, helo));
                                    }
                                    started.elapsed()
                                })
                            })
                            .collect();
                        workers.into_iter().map(|w| w.join().expect("worker")).max().unwrap_or_default()
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, parse, macros, warm_checks, warm_corpus, threads);
criterion_main!(benches);
