//! Checks over real sockets against the in-process DNS server on 127.0.0.1:
//! UDP, TCP fallback, timeouts, SERVFAIL, NXDOMAIN, TTL expiry, negative
//! caching, single-flight and the per-check query budget, all proven by the
//! server's own query log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ManualClock;
use spf_core::dns::{Cache, CacheConfig, TempFailure};
use spf_core::dns::{ResolverSettings, parse_nameserver};
use spf_core::{CheckOptions, Checker, CheckerConfig, DnsSource, Evaluation, Reason, SpfResult};

use spf_testdns::TestDns;

const ZONE: &str = r#"
$TTL 3600
pass.test.           IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail.test.           IN TXT "v=spf1 -all"
soft.test.           IN TXT "v=spf1 ~all"
nospf.test.          IN A   192.0.2.1
inc.test.            IN TXT "v=spf1 include:pass.test a:host.inc.test -all"
host.inc.test.       IN A   198.51.100.5
mxd.test.            IN TXT "v=spf1 mx -all"
mxd.test.            IN MX  10 host.inc.test.
"#;

fn settings(server: &TestDns, timeout: Duration) -> ResolverSettings {
    {
        let mut settings = ResolverSettings::default();
        settings.nameservers = vec![parse_nameserver(&server.nameserver()).expect("server address")];
        settings.timeout = timeout;
        settings.attempts = 1;
        settings
    }
}

fn checker_with(server: &TestDns, cache: Arc<Cache>, timeout: Duration) -> Checker {
    Checker::new({
        let mut config = CheckerConfig::default();
        config.dns = DnsSource::Resolver(settings(server, timeout));
        config.shared_cache = Some(cache);
        config
    })
    .expect("checker")
}

fn checker(server: &TestDns) -> Checker {
    checker_with(server, Arc::new(Cache::new(CacheConfig::default())), Duration::from_secs(5))
}

fn check(checker: &Checker, ip: &str, sender: &str) -> Evaluation {
    checker.check_blocking(ip.parse().expect("ip"), sender, "helo.test")
}

#[test]
fn results_over_udp() {
    let server = TestDns::start(ZONE);
    let checker = checker(&server);
    assert_eq!(check(&checker, "192.0.2.9", "a@pass.test").result, SpfResult::Pass);
    assert_eq!(check(&checker, "192.0.2.9", "a@fail.test").result, SpfResult::Fail);
    assert_eq!(check(&checker, "192.0.2.9", "a@soft.test").result, SpfResult::SoftFail);
    assert_eq!(check(&checker, "192.0.2.9", "a@nospf.test").result, SpfResult::None);
    assert_eq!(check(&checker, "198.51.100.5", "a@inc.test").result, SpfResult::Pass);
    assert_eq!(check(&checker, "198.51.100.5", "a@mxd.test").result, SpfResult::Pass);
    let seen = server.seen();
    assert!(!seen.is_empty() && seen.iter().all(|s| !s.tcp), "{seen:?}");
    assert_eq!(server.count("pass.test", "TXT"), 1, "include:pass.test came from the cache");
}

/// The RFC 7208 suite's `null-text`: beside the SPF record the name holds a
/// TXT record of no strings (RDLENGTH 0, illegal but sent). hickory refuses
/// such a message; the resolver reads it without that record and finds
/// the SPF record, as the in-memory zone does.
#[test]
fn a_txt_of_no_strings_beside_the_record_is_skipped() {
    let server = TestDns::start(concat!(
        "null.test. 300 IN TXT \"v=spf1 ip4:\" \"192.0.2.5 -all\"\n",
        "null.test. 300 IN TXT\n",
        "onlynull.test. 300 IN TXT\n",
    ));
    let checker = checker(&server);
    let eval = check(&checker, "192.0.2.5", "silly@null.test");
    assert_eq!(eval.result, SpfResult::Pass, "{:?}", eval.reason);
    assert_eq!(check(&checker, "192.0.2.6", "silly@null.test").result, SpfResult::Fail);
    let eval = check(&checker, "192.0.2.5", "silly@onlynull.test");
    assert_eq!(eval.result, SpfResult::None, "{:?}", eval.reason);
}

#[test]
fn large_txt_falls_back_to_tcp() {
    let terms: Vec<String> = (0..300).map(|i| format!("ip4:10.0.{}.{}", i / 256, i % 256)).collect();
    let record = format!("v=spf1 {} ip4:192.0.2.44 -all", terms.join(" "));
    let strings: Vec<String> =
        record.as_bytes().chunks(200).map(|c| format!("\"{}\"", String::from_utf8_lossy(c))).collect();
    assert!(record.len() > 4096, "bigger than any EDNS buffer");
    let server = TestDns::start(&format!("big.test. 300 IN TXT {}\n", strings.join(" ")));
    let eval = check(&checker(&server), "192.0.2.44", "a@big.test");
    assert_eq!(eval.result, SpfResult::Pass, "{:?}", eval.reason);
    let seen = server.seen();
    assert!(seen.iter().any(|s| s.name == "big.test" && !s.tcp), "asked over UDP first: {seen:?}");
    assert!(seen.iter().any(|s| s.name == "big.test" && s.tcp), "then over TCP: {seen:?}");
}

#[test]
fn silent_server_is_temperror_within_the_timeout() {
    let server = TestDns::start(ZONE);
    server.silence("quiet.test");
    let timeout = Duration::from_millis(400);
    let checker = checker_with(&server, Arc::new(Cache::new(CacheConfig::default())), timeout);
    let started = Instant::now();
    let eval = check(&checker, "192.0.2.9", "a@quiet.test");
    let elapsed = started.elapsed();
    assert_eq!(eval.result, SpfResult::TempError);
    assert!(
        matches!(&eval.reason, Some(Reason::Dns { failure: TempFailure::Timeout, .. })),
        "{:?}",
        eval.reason
    );
    assert!(elapsed >= timeout, "gave up after {elapsed:?}, before the timeout");
    // One attempt of 400 ms; the margin absorbs a loaded CI machine, and is
    // still far below the 5 s a default timeout would take.
    assert!(
        elapsed < timeout + Duration::from_millis(1_600),
        "took {elapsed:?} for a {timeout:?} timeout and one attempt"
    );
}

#[test]
fn servfail_is_temperror_and_nxdomain_is_none() {
    let server = TestDns::start(ZONE);
    server.servfail("broken.test");
    let checker = checker(&server);
    let eval = check(&checker, "192.0.2.9", "a@broken.test");
    assert_eq!(eval.result, SpfResult::TempError);
    assert!(
        matches!(&eval.reason, Some(Reason::Dns { failure: TempFailure::Rcode { .. }, .. })),
        "{:?}",
        eval.reason
    );
    let eval = check(&checker, "192.0.2.9", "a@nowhere.test");
    assert_eq!(eval.result, SpfResult::None);
    assert_eq!(server.count("nowhere.test", "TXT"), 1);
}

#[test]
fn ttl_expiry_serves_old_then_new() {
    let server = TestDns::start("ttl.test. 1 IN TXT \"v=spf1 -all\"\n");
    let clock = Arc::new(ManualClock::new());
    let cache = Arc::new(Cache::with_clock(CacheConfig::default(), clock.clone()));
    let checker = checker_with(&server, cache, Duration::from_secs(5));
    assert_eq!(check(&checker, "192.0.2.9", "a@ttl.test").result, SpfResult::Fail);
    server.set_zone("ttl.test. 1 IN TXT \"v=spf1 +all\"\n");
    assert_eq!(
        check(&checker, "192.0.2.9", "a@ttl.test").result,
        SpfResult::Fail,
        "cached until the TTL runs out"
    );
    assert_eq!(server.count("ttl.test", "TXT"), 1);
    clock.advance(Duration::from_millis(1_100));
    assert_eq!(
        check(&checker, "192.0.2.9", "a@ttl.test").result,
        SpfResult::Pass,
        "asked again after expiry"
    );
    assert_eq!(server.count("ttl.test", "TXT"), 2);
    assert_eq!(checker.cache_stats().expirations, 1);
}

#[test]
fn negative_answers_are_cached_for_the_soa_minimum() {
    let zone =
        "test. 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\nempty.test. 3600 IN A 192.0.2.1\n";
    let server = TestDns::start(zone);
    let clock = Arc::new(ManualClock::new());
    let cache = Arc::new(Cache::with_clock(CacheConfig::default(), clock.clone()));
    let checker = checker_with(&server, cache, Duration::from_secs(5));
    for _ in 0..20 {
        assert_eq!(check(&checker, "192.0.2.9", "a@empty.test").result, SpfResult::None);
    }
    assert_eq!(server.count("empty.test", "TXT"), 1, "one query per negative TTL");
    clock.advance(Duration::from_secs(59));
    check(&checker, "192.0.2.9", "a@empty.test");
    assert_eq!(server.count("empty.test", "TXT"), 1);
    clock.advance(Duration::from_secs(2));
    check(&checker, "192.0.2.9", "a@empty.test");
    assert_eq!(server.count("empty.test", "TXT"), 2, "asked again after the SOA minimum");
}

fn corpus() -> Vec<(&'static str, &'static str)> {
    vec![
        ("192.0.2.9", "a@pass.test"),
        ("198.51.100.5", "b@inc.test"),
        ("203.0.113.1", "c@inc.test"),
        ("192.0.2.9", "d@fail.test"),
        ("192.0.2.9", "e@soft.test"),
        ("192.0.2.9", "f@nospf.test"),
        ("198.51.100.5", "g@mxd.test"),
        ("2001:db8::1", "h@mxd.test"),
        ("192.0.2.9", "i@gone.test"),
    ]
}

#[test]
fn threads_share_one_cache_and_each_query_is_sent_once() {
    let server = TestDns::start(ZONE);
    let checker = checker(&server);
    let corpus = corpus();
    let expected: Vec<SpfResult> = {
        let reference =
            checker_with(&server, Arc::new(Cache::new(CacheConfig::default())), Duration::from_secs(5));
        corpus.iter().map(|(ip, s)| check(&reference, ip, s).result).collect()
    };
    server.reset();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (checker, corpus, expected) = (&checker, &corpus, &expected);
            scope.spawn(move || {
                for i in 0..2_000 {
                    let k = (i + t) % corpus.len();
                    let (ip, sender) = corpus[k];
                    assert_eq!(check(checker, ip, sender).result, expected[k], "{sender} from {ip}");
                }
            });
        }
    });
    let seen = server.seen();
    let mut keys: Vec<(String, String)> = seen.iter().map(|s| (s.name.clone(), s.rtype.clone())).collect();
    keys.sort();
    let distinct = {
        let mut d = keys.clone();
        d.dedup();
        d
    };
    assert_eq!(keys, distinct, "every (name, type) was asked exactly once for 8,000 checks");
    let stats = checker.cache_stats();
    assert_eq!(stats.misses as usize, seen.len());
    // The first checks of each domain read the cache; the rest are
    // answered by the domains' compiled policies, built from it.
    assert!(stats.hits > 0, "{stats:?}");
    let domains: std::collections::HashSet<&str> =
        corpus.iter().map(|(_, s)| s.rsplit_once('@').map_or(*s, |(_, d)| d)).collect();
    assert_eq!(checker.compiled_stats().entries, domains.len(), "one compiled policy per domain");
}

#[test]
fn a_burst_from_a_new_sender_sends_one_query() {
    let server = TestDns::start(ZONE);
    server.delay("pass.test", Duration::from_millis(300));
    let checker = checker(&server);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let results = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..500 {
            let checker = checker.clone();
            tasks.spawn(async move {
                checker.check("192.0.2.9".parse().expect("ip"), "x@pass.test", "h.test").await
            });
        }
        let mut results = Vec::new();
        while let Some(done) = tasks.join_next().await {
            results.push(done.expect("task").result);
        }
        results
    });
    assert_eq!(results.len(), 500);
    assert!(results.iter().all(|r| *r == SpfResult::Pass));
    assert_eq!(server.count("pass.test", "TXT"), 1, "500 concurrent checks, one upstream query");
    let stats = checker.cache_stats();
    assert_eq!(stats.misses, 1);
    assert_eq!(stats.coalesced + stats.hits, 499, "{stats:?}");
}

// However hostile the records, one check sends at most what RFC 7208 §4.6.4
// allows: here 10 mx terms of 10 hosts each are evaluated (1 MX + 10 A
// queries each) and the 11th term is refused before its query.
#[test]
fn one_check_stays_within_the_rfc_query_budget() {
    let mut zone = String::from("$TTL 300\n");
    let terms: Vec<String> = (0..20).map(|i| format!("mx:m{i}.test")).collect();
    zone.push_str(&format!("budget.test. IN TXT \"v=spf1 {} -all\"\n", terms.join(" ")));
    for i in 0..20 {
        for h in 0..10 {
            zone.push_str(&format!("m{i}.test. IN MX {h} h{h}.m{i}.test.\n"));
            zone.push_str(&format!("h{h}.m{i}.test. IN A 198.51.100.{h}\n"));
        }
    }
    let server = TestDns::start(&zone);
    let eval = check(&checker(&server), "192.0.2.9", "a@budget.test");
    assert_eq!(eval.result, SpfResult::PermError);
    assert_eq!(server.total(), 1 + 10 * (1 + 10));
    assert_eq!(server.count("m10.test", "MX"), 0);
}

#[test]
fn deadline_bounds_a_check() {
    let server = TestDns::start(ZONE);
    server.delay("slow.test", Duration::from_secs(3));
    let checker = Checker::new({
        let mut config = CheckerConfig::default();
        config.dns = DnsSource::Resolver(settings(&server, Duration::from_secs(5)));
        config.options = {
            let mut options = CheckOptions::default();
            options.deadline = Some(Duration::from_millis(300));
            options
        };
        config
    })
    .expect("checker");
    let started = Instant::now();
    let eval = check(&checker, "192.0.2.9", "a@slow.test");
    assert_eq!(eval.result, SpfResult::TempError);
    assert_eq!(eval.reason, Some(Reason::Deadline));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

/// A mail filter written with tokio that calls the blocking API from async
/// code: no panic, no deadlock, right answers.
#[test]
fn blocking_check_inside_a_runtime_works() {
    let server = TestDns::start(ZONE);
    let checker = checker(&server);
    for flavor in ["current_thread", "multi_thread"] {
        let runtime = match flavor {
            "current_thread" => tokio::runtime::Builder::new_current_thread().enable_all().build(),
            _ => tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build(),
        }
        .expect("runtime");
        runtime.block_on(async {
            let eval = checker.check_blocking("192.0.2.9".parse().expect("ip"), "a@pass.test", "h.test");
            assert_eq!(eval.result, SpfResult::Pass, "{flavor}");
            let eval = checker.check("192.0.2.9".parse().expect("ip"), "a@fail.test", "h.test").await;
            assert_eq!(eval.result, SpfResult::Fail, "{flavor}");
        });
    }
}
