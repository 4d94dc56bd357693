//! Measures what the shared cache costs per entry and what a warm check
//! costs, on this machine:
//!
//! ```text
//! cargo run --release -p spf-core --example footprint
//! ```
//!
//! Memory: resident set growth while the cache fills with 200,000 TXT
//! answers of a typical size (one ~110-byte SPF record each, parsed), divided
//! by the entries held, next to the cache's own estimate. Time: warm checks
//! through `Checker::check_blocking` against the demo zone.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use spf_core::dns::{
    Answer, Cache, CacheConfig, Lookup, LookupResult, RecordType, Records, TxtRecords, Zone,
};
use spf_core::{CheckOptions, Checker, CheckerConfig, DnsSource};

struct Synthetic;

impl Lookup for Synthetic {
    async fn lookup(&self, name: &str, _rtype: RecordType) -> LookupResult {
        let record = format!("v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 include:_spf.{name} ~all");
        let txt = Arc::new(TxtRecords::new([vec![record.into_bytes()]]));
        txt.spf(); // parse now, as a check would
        Ok(Answer { records: Records::Txt(txt), ttl: 3600 })
    }
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let n = 200_000u64;
    let cache = Cache::new(CacheConfig {
        max_entries: n as usize,
        max_bytes: usize::MAX / 2,
        ..CacheConfig::default()
    });
    let before = resident_bytes();
    for i in 0..n {
        let name = format!("sender-{i:06}.example.com");
        let _ = rt.block_on(cache.lookup(&Synthetic, &name, RecordType::Txt));
    }
    let after = resident_bytes();
    let stats = cache.stats();
    println!(
        "cache: {} entries, measured {} bytes/entry (resident set growth), estimated {} bytes/entry",
        stats.entries,
        (after - before) / stats.entries.max(1),
        stats.bytes / stats.entries.max(1)
    );

    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo.zone");
    for (label, trace) in [("trace on", true), ("trace off", false)] {
        let options = CheckOptions { trace, ..CheckOptions::default() };
        let zone = Arc::new(Zone::from_master_file(demo).expect("demo zone"));
        let config = CheckerConfig { dns: DnsSource::Zone(zone), options, ..Default::default() };
        let checker = Checker::new(config).expect("checker");
        for (case, ip, sender) in [
            ("direct ip4 match", "192.0.2.10", "alice@pass.demo.example"),
            ("3-level include chain", "198.51.100.7", "alice@provider.demo.example"),
            ("miss to -all", "203.0.113.9", "alice@fail.demo.example"),
            ("IPv6 client, include chain", "2001:db8:100::25", "alice@provider.demo.example"),
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            checker.check_blocking(ip, sender, "mail.demo.example");
            let rounds = 200_000;
            let started = Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(checker.check_blocking(ip, sender, "mail.demo.example"));
            }
            let per = started.elapsed() / rounds;
            println!("warm check_blocking, {label:9}, {case:28}: {per:?}/check");
        }
    }
}
