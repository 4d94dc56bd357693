//! The miss path against the in-process DNS server on 127.0.0.1: blocking
//! checks driven on the caller's own thread (from threads that come and
//! go, and a waiting check finished on another thread), and adaptive
//! speculation, whose both branches are forced by its threshold (never a
//! measured time: an average not known yet, a threshold of zero or of
//! `Duration::MAX`, and a server whose delay bounds every answer's time
//! from below).

use std::sync::Arc;
use std::time::Duration;

use spf_core::dns::{Cache, CacheConfig, ResolverSettings, parse_nameserver};
use spf_core::{CheckOptions, CheckRequest, Checker, CheckerConfig, DnsSource, Speculation, SpfResult};
use spf_testdns::TestDns;

const ZONE: &str = r#"
$TTL 3600
three.test.   IN TXT "v=spf1 include:a.inc.test include:b.inc.test include:c.inc.test -all"
a.inc.test.   IN TXT "v=spf1 ip4:198.51.100.1 -all"
b.inc.test.   IN TXT "v=spf1 ip4:198.51.100.2 -all"
c.inc.test.   IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
pass.test.    IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
mx.test.      IN TXT "v=spf1 mx include:a.inc.test -all"
mx.test.      IN MX  10 host.mx.test.
host.mx.test. IN A   192.0.2.25
"#;

fn checker(server: &TestDns, speculation: Speculation) -> Checker {
    Checker::new({
        let mut config = CheckerConfig::default();
        config.dns = DnsSource::Resolver({
            let mut settings = ResolverSettings::default();
            settings.nameservers = vec![parse_nameserver(&server.nameserver()).expect("server address")];
            settings.timeout = Duration::from_secs(5);
            settings.attempts = 1;
            settings
        });
        config.shared_cache = Some(Arc::new(Cache::new(CacheConfig::default())));
        config.options = CheckOptions::default().with_speculation(speculation);
        config
    })
    .expect("checker")
}

fn check(checker: &Checker, ip: &str, sender: &str) -> SpfResult {
    checker.check_blocking(ip.parse().expect("ip"), sender, "helo.test").result
}

/// Eight answered questions (names that do not exist), so that the
/// checker's running average of upstream latency is known.
fn warm_the_average(checker: &Checker) {
    for i in 0..8 {
        assert_eq!(check(checker, "192.0.2.9", &format!("a@n{i}.nowhere.test")), SpfResult::None);
    }
}

#[test]
fn blocking_checks_from_threads_that_come_and_go() {
    let server = TestDns::start(ZONE);
    let checker = checker(&server, Speculation::default());
    // Each thread drives its checks on a runtime of its own, dropped when
    // the thread exits; the checker and its cache outlive them all.
    for round in 0..3 {
        checker.cache().clear();
        std::thread::scope(|scope| {
            let workers: Vec<_> = ["three.test", "pass.test", "mx.test", "nowhere.test"]
                .iter()
                .map(|domain| {
                    let checker = checker.clone();
                    scope.spawn(move || check(&checker, "192.0.2.25", &format!("u{round}@{domain}")))
                })
                .collect();
            let results: Vec<SpfResult> = workers.into_iter().map(|w| w.join().expect("no panic")).collect();
            assert_eq!(results, [SpfResult::Pass, SpfResult::Pass, SpfResult::Pass, SpfResult::None]);
        });
    }
    // And from this thread, warm and cold.
    assert_eq!(check(&checker, "203.0.113.1", "a@three.test"), SpfResult::Fail);
    checker.cache().clear();
    assert_eq!(check(&checker, "203.0.113.1", "a@mx.test"), SpfResult::Fail);
}

#[test]
fn a_waiting_check_is_finished_on_another_thread() {
    let server = TestDns::start(ZONE);
    server.delay("pass.test", Duration::from_millis(20));
    let checker = checker(&server, Speculation::OFF);
    let request = CheckRequest::mail_from("192.0.2.7".parse().expect("ip"), "a@pass.test", "helo.test");
    let Err(mut waiting) = checker.start(request) else { panic!("a cold check cannot be done at once") };
    // A wait that ends before the answer leaves the check waiting ...
    assert!(waiting.wait(Duration::ZERO).is_none());
    // ... and another thread finishes it.
    let eval = std::thread::scope(|scope| scope.spawn(move || waiting.finish()).join().expect("no panic"));
    assert_eq!(eval.result, SpfResult::Pass);
}

#[test]
fn speculation_goes_ahead_until_the_average_is_known() {
    let server = TestDns::start(ZONE);
    // A threshold no average reaches: only an unknown average speculates.
    let checker = checker(&server, Speculation::default().with_min_upstream_latency(Duration::MAX));
    assert_eq!(check(&checker, "192.0.2.9", "a@three.test"), SpfResult::Pass);
    assert!(checker.cache_stats().speculative_queries >= 2, "{:?}", checker.cache_stats());
}

#[test]
fn no_speculation_below_the_threshold() {
    let server = TestDns::start(ZONE);
    let checker = checker(&server, Speculation::default().with_min_upstream_latency(Duration::MAX));
    warm_the_average(&checker);
    assert_eq!(check(&checker, "192.0.2.9", "a@three.test"), SpfResult::Pass);
    assert_eq!(check(&checker, "192.0.2.25", "a@mx.test"), SpfResult::Pass);
    let stats = checker.cache_stats();
    assert_eq!(stats.speculative_queries, 0, "{stats:?}");
    // 8, then three.test's TXT and its three includes', then mx.test's
    // TXT, MX and host address (a.inc.test is cached by then).
    assert_eq!(server.total(), 8 + 4 + 3);
}

#[test]
fn speculation_at_or_above_the_threshold() {
    let server = TestDns::start(ZONE);
    let checker = checker(&server, Speculation::default().with_min_upstream_latency(Duration::ZERO));
    warm_the_average(&checker);
    assert_eq!(check(&checker, "192.0.2.9", "a@three.test"), SpfResult::Pass);
    assert!(checker.cache_stats().speculative_queries >= 2, "{:?}", checker.cache_stats());
}

#[test]
fn a_slow_server_s_average_turns_speculation_on() {
    let server = TestDns::start(ZONE);
    // Every answer takes at least 30 ms, so the average is at least that.
    server.delay_all(Duration::from_millis(30));
    let slow_enough =
        checker(&server, Speculation::default().with_min_upstream_latency(Duration::from_millis(25)));
    warm_the_average(&slow_enough);
    assert_eq!(check(&slow_enough, "192.0.2.9", "a@three.test"), SpfResult::Pass);
    assert!(slow_enough.cache_stats().speculative_queries >= 2, "{:?}", slow_enough.cache_stats());

    let not_slow_enough = checker(&server, Speculation::default().with_min_upstream_latency(Duration::MAX));
    warm_the_average(&not_slow_enough);
    assert_eq!(check(&not_slow_enough, "192.0.2.9", "a@three.test"), SpfResult::Pass);
    assert_eq!(not_slow_enough.cache_stats().speculative_queries, 0);
}
