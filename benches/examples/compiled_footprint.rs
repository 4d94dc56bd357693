//! Memory per cached sender domain, with and without its compiled policy:
//! the generated workload (3,000 provider-shaped domains, `fastspf-bench
//! gen`'s corpus) checked until warm, resident-set growth measured.
//!
//! `cargo run --release -p spf-benches --example compiled_footprint`

use std::net::IpAddr;
use std::sync::Arc;

use spf_core::compiled::CompiledConfig;
use spf_core::dns::{Cache, CacheConfig, Zone};
use spf_core::{Checker, CheckerConfig};

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn main() {
    let workload = spf_benches::workload::generate(1, 3000, 100_000);
    let zone = Arc::new(Zone::from_master_str(&workload.zone, "gen").expect("generated zone"));
    let corpus: Vec<(IpAddr, String, String)> = workload.checks();
    drop(workload);
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    let config = |compiled: bool| {
        let mut config =
            CheckerConfig::default().with_zone(Arc::clone(&zone)).with_shared_cache(Arc::clone(&cache));
        config.compiled = CompiledConfig::default();
        config.compiled.enabled = compiled;
        config
    };
    let plain = Checker::new(config(false)).expect("checker");
    let before_cache = resident_bytes();
    for (ip, from, helo) in &corpus {
        plain.check_blocking(*ip, from, helo);
    }
    let after_cache = resident_bytes();
    let compiling = Checker::new(config(true)).expect("checker");
    for _ in 0..2 {
        for (ip, from, helo) in &corpus {
            compiling.check_blocking(*ip, from, helo);
        }
    }
    let after_compiled = resident_bytes();
    let cache_stats = cache.stats();
    let compiled = compiling.compiled_stats();
    let domains = compiled.entries.max(1) as f64;
    println!(
        "{} checks, {} cache entries, {} compiled policies",
        corpus.len(),
        cache_stats.entries,
        compiled.entries
    );
    println!(
        "cache: resident growth {:.0} bytes per domain ({:.0} bytes per entry; byte bound counts {:.0} per entry)",
        (after_cache - before_cache) as f64 / domains,
        (after_cache - before_cache) as f64 / cache_stats.entries.max(1) as f64,
        cache_stats.bytes as f64 / cache_stats.entries.max(1) as f64
    );
    println!(
        "compiled policies: resident growth {:.0} bytes per domain (the store's bound counts {:.0})",
        (after_compiled - after_cache) as f64 / domains,
        compiled.bytes as f64 / domains
    );
    let intervals: Vec<usize> = corpus
        .iter()
        .filter_map(|(_, from, _)| {
            let domain = from.rsplit_once('@').map_or(from.as_str(), |(_, d)| d);
            compiling.with_compiled_policy(domain, |p| p.intervals())
        })
        .collect();
    let mut sorted = intervals.clone();
    sorted.sort_unstable();
    println!(
        "intervals per compiled policy (over the corpus's checks): median {}, p99 {}, max {}",
        sorted.get(sorted.len() / 2).copied().unwrap_or(0),
        sorted.get(sorted.len().saturating_sub(1) * 99 / 100).copied().unwrap_or(0),
        sorted.last().copied().unwrap_or(0)
    );
    println!(
        "per cached domain with its compiled policy: {:.0} bytes resident",
        (after_compiled - before_cache) as f64 / domains
    );
}
