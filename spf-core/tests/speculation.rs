//! Speculative lookups against the in-process DNS server on 127.0.0.1: what
//! a fetched record will need is asked at once, proven by the times at which
//! the server itself received the queries; results are the same with and
//! without speculation; the limits bound what is started.

use std::sync::Arc;
use std::time::{Duration, Instant};

use spf_core::dns::{Cache, CacheConfig};
use spf_core::dns::{ResolverSettings, parse_nameserver};
use spf_core::{CheckOptions, Checker, CheckerConfig, DnsSource, Evaluation, Speculation, SpfResult};
use spf_testdns::TestDns;

const ZONE: &str = r#"
$TTL 3600
three.test.   IN TXT "v=spf1 include:a.inc.test include:b.inc.test include:c.inc.test -all"
a.inc.test.   IN TXT "v=spf1 ip4:198.51.100.1 -all"
b.inc.test.   IN TXT "v=spf1 ip4:198.51.100.2 -all"
c.inc.test.   IN TXT "v=spf1 ip4:192.0.2.0/24 -all"

direct.test.  IN TXT "v=spf1 ip4:192.0.2.0/24 include:a.inc.test mx -all"
direct.test.  IN MX  10 mx1.direct.test.

mxs.test.     IN TXT "v=spf1 mx:mxd.test -all"
mxd.test.     IN MX  10 mx1.mxd.test.
mxd.test.     IN MX  20 mx2.mxd.test.
mx1.mxd.test. IN A   198.51.100.11
mx2.mxd.test. IN A   192.0.2.12

twoprov.test. IN TXT "v=spf1 include:p.prov.test include:q.prov.test -all"
p.prov.test.  IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
q.prov.test.  IN TXT "v=spf1 include:q1.prov.test -all"
q1.prov.test. IN TXT "v=spf1 ip4:198.51.100.0/24 -all"

deep.test.    IN TXT "v=spf1 include:l1.deep.test -all"
l1.deep.test. IN TXT "v=spf1 include:l2.deep.test -all"
l2.deep.test. IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
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
        config.options = {
            let mut options = CheckOptions::default();
            // Whatever the loopback server's latency: these tests are
            // about what speculation starts once it does.
            options.speculation = speculation.with_min_upstream_latency(Duration::ZERO);
            options.timestamp = Some(0);
            options
        };
        config
    })
    .expect("checker")
}

fn check(checker: &Checker, ip: &str, sender: &str) -> Evaluation {
    checker.check_blocking(ip.parse().expect("ip"), sender, "helo.test")
}

/// When the server received the TXT query for `name`.
fn asked_at(server: &TestDns, name: &str, rtype: &str) -> Instant {
    let seen = server.seen();
    seen.iter()
        .find(|s| s.name == name && s.rtype == rtype)
        .map(|s| s.at)
        .unwrap_or_else(|| panic!("{name} {rtype} was never asked: {seen:?}"))
}

fn same(a: &Evaluation, b: &Evaluation) {
    assert_eq!(
        (a.result, &a.explanation, &a.matched, &a.reason, a.dns_lookups, a.void_lookups, &a.trace),
        (b.result, &b.explanation, &b.matched, &b.reason, b.dns_lookups, b.void_lookups, &b.trace)
    );
}

#[test]
fn three_includes_are_asked_at_once() {
    // Long enough that "asked before the first answer could come back"
    // cannot be lost to a loaded machine's scheduling pauses.
    let delay = Duration::from_millis(1000);
    let server = TestDns::start(ZONE);
    for name in ["a.inc.test", "b.inc.test", "c.inc.test"] {
        server.delay(name, delay);
    }

    let fast = checker(&server, Speculation::default());
    let on = check(&fast, "192.0.2.7", "x@three.test");
    assert_eq!(on.result, SpfResult::Pass, "{:?}", on.reason);
    let (a, b, c) = (
        asked_at(&server, "a.inc.test", "TXT"),
        asked_at(&server, "b.inc.test", "TXT"),
        asked_at(&server, "c.inc.test", "TXT"),
    );
    // All three were asked before the first of them could be answered: the
    // check costs the record plus one (slowest) include, not four trips.
    let first = a.min(b).min(c);
    let last = a.max(b).max(c);
    assert!(last - first < delay, "includes asked {:?} apart", last - first);
    assert_eq!(server.count("a.inc.test", "TXT"), 1, "evaluation joined the speculative queries");
    let stats = fast.cache_stats();
    assert_eq!((stats.speculative_queries, stats.speculative_used), (3, 3), "{stats:?}");

    server.reset();
    let slow = checker(&server, Speculation::OFF);
    let off = check(&slow, "192.0.2.7", "x@three.test");
    let (a, b, c) = (
        asked_at(&server, "a.inc.test", "TXT"),
        asked_at(&server, "b.inc.test", "TXT"),
        asked_at(&server, "c.inc.test", "TXT"),
    );
    // One after another: each waits for the answer before.
    assert!(b - a >= delay && c - b >= delay, "sequential: {:?} and {:?}", b - a, c - b);
    assert_eq!(slow.cache_stats().speculative_queries, 0);
    same(&on, &off);
}

#[test]
fn nested_includes_cost_one_trip_per_level() {
    let delay = Duration::from_millis(200);
    let server = TestDns::start(ZONE);
    server.delay("l1.deep.test", delay);
    server.delay("l2.deep.test", delay);
    let fast = checker(&server, Speculation::default());
    assert_eq!(check(&fast, "192.0.2.7", "x@deep.test").result, SpfResult::Pass);
    // l2 is named only in l1's record: it is asked after l1's answer (the
    // server holds that answer for `delay`: an exact lower bound), by the
    // speculative task as that answer arrives (both queries speculative,
    // both then read by the evaluation). No upper bound on the gap is
    // asserted: on a loaded machine it measures the scheduler, not the
    // library (a run beside two builds once took 414 ms for a 200 ms level).
    let gap = asked_at(&server, "l2.deep.test", "TXT") - asked_at(&server, "l1.deep.test", "TXT");
    assert!(gap >= delay, "{gap:?}");
    let stats = fast.cache_stats();
    assert_eq!((stats.speculative_queries, stats.speculative_used), (2, 2), "{stats:?}");
    assert_eq!(server.count("l2.deep.test", "TXT"), 1, "the evaluation joined the speculative query");
}

#[test]
fn nothing_is_started_past_a_match_that_needs_no_dns() {
    let server = TestDns::start(ZONE);
    let fast = checker(&server, Speculation::default());
    // ip4:192.0.2.0/24 matches first: the include and the mx are not needed.
    let eval = check(&fast, "192.0.2.7", "x@direct.test");
    assert_eq!(eval.result, SpfResult::Pass);
    assert_eq!(server.total(), 1, "{:?}", server.seen());
    assert_eq!(fast.cache_stats().speculative_queries, 0);
}

#[test]
fn mx_hosts_are_asked_when_the_mx_answer_arrives() {
    // As in `three_includes_are_asked_at_once`: far above any pause.
    let delay = Duration::from_millis(1000);
    let server = TestDns::start(ZONE);
    server.delay("mx1.mxd.test", delay);
    server.delay("mx2.mxd.test", delay);
    let fast = checker(&server, Speculation::default());
    let eval = check(&fast, "192.0.2.12", "x@mxs.test");
    assert_eq!(eval.result, SpfResult::Pass, "{:?}", eval.reason);
    let gap = asked_at(&server, "mx2.mxd.test", "A") - asked_at(&server, "mx1.mxd.test", "A");
    assert!(gap < delay, "both hosts asked at once: {gap:?}");
}

#[test]
fn twenty_includes_start_no_more_than_the_limit() {
    let mut zone = String::from("$TTL 3600\n");
    let includes: Vec<String> = (1..=20).map(|i| format!("include:i{i}.many.test")).collect();
    // Split into character-strings of at most 255 octets.
    let record = format!("v=spf1 {} -all", includes.join(" "));
    let strings: Vec<String> =
        record.as_bytes().chunks(200).map(|c| format!("\"{}\"", String::from_utf8_lossy(c))).collect();
    zone.push_str(&format!("many.test. IN TXT {}\n", strings.join(" ")));
    for i in 1..=20 {
        zone.push_str(&format!("i{i}.many.test. IN TXT \"v=spf1 ip4:198.51.100.{i} -all\"\n"));
    }
    let server = TestDns::start(&zone);
    let fast = checker(&server, Speculation::default());
    let eval = check(&fast, "192.0.2.7", "x@many.test");
    assert_eq!(eval.result, SpfResult::PermError, "the 11th include is over the limit");
    // The record and the ten includes evaluation may reach; never i11..i20.
    assert_eq!(server.total(), 11, "{:?}", server.seen());
    assert_eq!(server.count("i11.many.test", "TXT"), 0);
    let stats = fast.cache_stats();
    assert!(stats.speculative_queries <= 10, "{stats:?}");
    assert_eq!(stats.speculative_wasted(), 0, "{stats:?}");
}

#[test]
fn the_cap_bounds_what_one_check_starts() {
    let server = TestDns::start(ZONE);
    let capped = checker(&server, {
        let mut speculation = Speculation::default();
        speculation.max_queries = 1;
        speculation
    });
    let eval = check(&capped, "192.0.2.7", "x@three.test");
    assert_eq!(eval.result, SpfResult::Pass);
    assert_eq!(capped.cache_stats().speculative_queries, 1);
}

#[test]
fn a_failing_speculative_lookup_changes_nothing_unless_reached() {
    let server = TestDns::start(ZONE);
    // b.inc.test fails; a client that passes in a.inc.test never reaches it.
    server.servfail("b.inc.test");
    // a answers late, so b's (speculative) query has long been answered
    // when the check ends.
    server.delay("a.inc.test", Duration::from_millis(200));
    let fast = checker(&server, Speculation::default());
    let eval = check(&fast, "198.51.100.1", "x@three.test");
    assert_eq!(eval.result, SpfResult::Pass, "{:?}", eval.reason);
    assert!(server.count("b.inc.test", "TXT") >= 1, "b was asked speculatively");
    // Reached, it is the temperror evaluation would have got asking itself.
    let eval = check(&fast, "198.51.100.2", "x@three.test");
    assert_eq!(eval.result, SpfResult::TempError, "{:?}", eval.reason);
}

#[test]
fn later_includes_are_followed_only_when_asked_to() {
    for later_includes in [true, false] {
        let server = TestDns::start(ZONE);
        // The client passes in the first include, which answers late: by
        // then the second include's record has long arrived.
        server.delay("p.prov.test", Duration::from_millis(200));
        let speculation = {
            let mut speculation = Speculation::default();
            speculation.later_includes = later_includes;
            speculation
        };
        let eval = check(&checker(&server, speculation), "192.0.2.7", "x@twoprov.test");
        assert_eq!(eval.result, SpfResult::Pass);
        assert_eq!(server.count("q.prov.test", "TXT"), 1, "the second include's TXT is fetched early");
        assert_eq!(
            server.count("q1.prov.test", "TXT"),
            usize::from(later_includes),
            "its record's include only with later_includes"
        );
    }
}
