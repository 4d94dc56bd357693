//! Measures what the shared cache costs per entry, what cancelled lookups
//! leave behind, and what a warm check costs, on this machine:
//!
//! ```text
//! cargo run --release -p spf-core --example footprint
//! ```
//!
//! Memory: for each kind of answer (an A record, a negative answer, TXT
//! answers holding SPF records of three sizes, parsed as a check parses
//! them), a child process fills a cache with 200,000 of them and reports the
//! resident-set growth divided by the entries held, next to the cache's own
//! estimate (which its byte bound uses). Then a million lookups are
//! cancelled while waiting for a server that never answers, and the
//! resident-set growth and the in-flight table are reported. Time: warm
//! checks through `Checker::check_blocking` against the demo zone.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use spf_core::dns::{
    Answer, Cache, CacheConfig, Lookup, LookupError, LookupResult, RecordType, Records, TxtRecords, Zone,
};
use spf_core::{CheckOptions, Checker, CheckerConfig, DnsSource};

/// The kinds of answer measured, and the record text of the TXT ones.
const KINDS: &[(&str, &str)] = &[
    ("a", ""),
    ("nxdomain", ""),
    ("txt-small", "v=spf1 ip4:192.0.2.0/24 -all"),
    ("txt-typical", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 include:_spf.NAME ~all"),
    (
        "txt-provider",
        "v=spf1 ip4:192.0.2.0/25 ip4:192.0.2.128/26 ip4:198.51.100.0/24 ip4:203.0.113.0/24 \
         ip6:2001:db8::/48 ip6:2001:db8:1::/48 ip6:2001:db8:2::/48 include:_a.NAME include:_b.NAME \
         include:_c.NAME a:mail.NAME mx:NAME exists:%{i}._x.NAME ~all",
    ),
];

struct Synthetic(&'static str, &'static str);

impl Lookup for Synthetic {
    async fn lookup(&self, name: &str, _rtype: RecordType) -> LookupResult {
        match self.0 {
            "a" => Ok(Answer { records: Records::A(Arc::from([Ipv4Addr::new(192, 0, 2, 1)])), ttl: 3600 }),
            "nxdomain" => Err(LookupError::NxDomain { ttl: 3600 }),
            _ => {
                let record = self.1.replace("NAME", name);
                let txt = Arc::new(TxtRecords::new([record
                    .as_bytes()
                    .chunks(255)
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>()]));
                txt.spf(); // parse now, as a check would
                Ok(Answer { records: Records::Txt(txt), ttl: 3600 })
            }
        }
    }
}

/// Never answers.
struct Silent;

impl Lookup for Silent {
    async fn lookup(&self, _name: &str, _rtype: RecordType) -> LookupResult {
        std::future::pending().await
    }
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// Fills a cache with 200,000 answers of one kind (in a child process, so
/// that nothing freed before is reused) and prints measured and estimated
/// bytes per entry.
fn measure_kind(kind: &str) {
    let Some(&(name, text)) = KINDS.iter().find(|(k, _)| *k == kind) else { return };
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let n = 200_000u64;
    let cache = Cache::new({
        let mut cache = CacheConfig::default();
        cache.max_entries = n as usize;
        cache.max_bytes = usize::MAX / 2;
        cache
    });
    let upstream = Synthetic(name, text);
    let before = resident_bytes();
    for i in 0..n {
        let name = format!("sender-{i:06}.example.com");
        let _ = rt.block_on(cache.lookup(&upstream, &name, RecordType::Txt));
    }
    let after = resident_bytes();
    let stats = cache.stats();
    println!(
        "cache, {kind:13}: {} entries, measured {:5} bytes/entry (resident set growth), estimated {:5} bytes/entry",
        stats.entries,
        (after - before) / stats.entries.max(1),
        stats.bytes / stats.entries.max(1)
    );
}

/// A million lookups cancelled while they wait: what stays behind.
fn measure_cancelled() {
    let cache = Cache::new(CacheConfig::default());
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let before = resident_bytes();
    for i in 0..1_000_000u32 {
        let name = format!("n{i}.example");
        let lookup = cache.lookup(&Silent, &name, RecordType::Txt);
        let mut lookup = std::pin::pin!(lookup);
        let _ = lookup.as_mut().poll(&mut cx);
    }
    let after = resident_bytes();
    let stats = cache.stats();
    println!(
        "1,000,000 cancelled lookups: resident set +{} KiB, {} in flight, {} abandoned, {} entries",
        (after.saturating_sub(before)) / 1024,
        stats.inflight,
        stats.abandoned,
        stats.entries
    );
}

fn main() {
    if let Some(kind) = std::env::args().nth(1) {
        match kind.as_str() {
            "cancelled" => measure_cancelled(),
            kind => measure_kind(kind),
        }
        return;
    }
    let me = std::env::current_exe().expect("the example's path");
    for kind in KINDS.iter().map(|(k, _)| *k).chain(["cancelled"]) {
        let status = std::process::Command::new(&me).arg(kind).status().expect("child");
        assert!(status.success());
    }

    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo.zone");
    for (label, trace) in [("trace on", true), ("trace off", false)] {
        let options = {
            let mut options = CheckOptions::default();
            options.trace = trace;
            options
        };
        let zone = Arc::new(Zone::from_master_file(demo).expect("demo zone"));
        let config = {
            let mut config = CheckerConfig::default();
            config.dns = DnsSource::Zone(zone);
            config.options = options;
            config
        };
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
