//! Compiled policies (`spf_core::eval::CompiledPolicy`): every check they
//! answer gives the evaluator's evaluation (random record trees and random
//! clients, hostile trees); they expire with the shortest TTL they were
//! built from; and `pass` evaluations say how much the policy passes
//! (`authorized`, `wide_open`) without a query of their own.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use spf_core::compiled::CompiledConfig;
use spf_core::dns::{Cache, CacheConfig, ResolverSettings, Zone};
use spf_core::eval::AuthorizedSpace;
use spf_core::{CheckOptions, Checker, CheckerConfig, DnsSource, Evaluation, SpfResult};
use spf_testdns::TestDns;

use crate::ManualClock;

fn checker(zone: &Arc<Zone>, compiled: bool) -> Checker {
    let mut config = CheckerConfig::default()
        .with_zone(Arc::clone(zone))
        .with_options(CheckOptions::default().with_timestamp(0));
    config.compiled = CompiledConfig::default();
    config.compiled.enabled = compiled;
    config.worker_threads = 1;
    Checker::new(config).expect("checker")
}

/// What must be the same through both paths.
fn describe(e: &Evaluation) -> String {
    format!(
        "{} {:?} {:?} {:?} dns={} void={} queries={}",
        e.result, e.explanation, e.matched, e.reason, e.dns_lookups, e.void_lookups, e.dns_queries
    )
}

/// Checks every client through the evaluator and, twice over (the second
/// round is answered by compiled policies where they decide), through a
/// compiling checker; returns how many checks a compiled policy decided.
fn assert_equivalent(zone_text: &str, clients: &[(IpAddr, String)]) -> usize {
    let zone = Arc::new(Zone::from_master_str(zone_text, "<test>").expect("zone"));
    let plain = checker(&zone, false);
    let compiling = checker(&zone, true);
    // Both warm (the comparison includes the queries each check sent).
    for _ in 0..2 {
        for (ip, sender) in clients {
            plain.check_blocking(*ip, sender, "helo.test");
            compiling.check_blocking(*ip, sender, "helo.test");
        }
    }
    let mut decided = 0;
    for (ip, sender) in clients {
        let reference = plain.check_blocking(*ip, sender, "helo.test");
        let compiled = compiling.check_blocking(*ip, sender, "helo.test");
        if compiling.with_compiled_policy(&reference.domain, |p| p.decides(*ip)) == Some(true) {
            decided += 1;
        }
        assert_eq!(describe(&reference), describe(&compiled), "{sender} from {ip}\nzone:\n{zone_text}");
        let mut reference = reference;
        reference.authorized = compiled.authorized;
        reference.wide_open = compiled.wide_open;
        assert_eq!(
            spf_core::headers::received_spf(&reference, Some("rx.test")),
            spf_core::headers::received_spf(&compiled, Some("rx.test"))
        );
    }
    decided
}

/// A random term over a small world: six domains, addresses in 10.0.0.0/22
/// and 2001:db8::/120, so ranges overlap and clients hit them.
fn term() -> impl Strategy<Value = String> {
    let qualifier = prop::sample::select(vec!["", "+", "-", "~", "?"]);
    let domain = (0..6u8).prop_map(|d| format!("d{d}.test"));
    let mechanism = prop_oneof![
        (0..4u8, 0..=255u8, 20..=32u8).prop_map(|(c, d, p)| format!("ip4:10.0.{c}.{d}/{p}")),
        (0..=255u8, 112..=128u8).prop_map(|(d, p)| format!("ip6:2001:db8::{d:x}/{p}")),
        Just("all".to_string()),
        domain.clone().prop_map(|d| format!("include:{d}")),
        domain.clone().prop_map(|d| format!("a:{d}")),
        (domain.clone(), 24..=32u8).prop_map(|(d, p)| format!("a:{d}/{p}")),
        Just("a".to_string()),
        (24..=32u8, 120..=128u8).prop_map(|(p, q)| format!("mx/{p}//{q}")),
        domain.clone().prop_map(|d| format!("mx:{d}")),
        domain.clone().prop_map(|d| format!("exists:{d}")),
        Just("exists:%{i}.ex.test".to_string()),
        Just("ptr".to_string()),
        Just("a:%{d}".to_string()),
    ];
    (qualifier, mechanism).prop_map(|(q, m)| format!("{q}{m}"))
}

/// A domain's data: a record of a few terms (sometimes with a redirect or
/// an explanation, sometimes none, sometimes two), addresses, MX hosts.
fn domain_data(d: u8) -> impl Strategy<Value = String> {
    let record = prop::collection::vec(term(), 0..6);
    let modifier = prop::sample::select(vec!["", " redirect=d0.test", " redirect=d5.test", " exp=e.test"]);
    let kind = prop::sample::select(vec![0u8, 0, 0, 0, 0, 1, 2]);
    let addrs = prop::collection::vec((0..4u8, 0..=255u8), 0..3);
    let addrs6 = prop::collection::vec(0..=255u8, 0..2);
    (record, modifier, kind, addrs, addrs6).prop_map(move |(terms, modifier, kind, addrs, addrs6)| {
        let name = format!("d{d}.test.");
        let mut out = String::new();
        let record = format!("v=spf1 {}{modifier}", terms.join(" "));
        match kind {
            0 => out.push_str(&format!("{name} 300 IN TXT \"{record}\"\n")),
            1 => {
                out.push_str(&format!("{name} 300 IN TXT \"v=spf1 -all\"\n{name} 300 IN TXT \"{record}\"\n"))
            }
            _ => out.push_str(&format!("{name} 300 IN TXT \"not spf\"\n")),
        }
        for (c, x) in addrs {
            out.push_str(&format!("{name} 300 IN A 10.0.{c}.{x}\n"));
        }
        for x in addrs6 {
            out.push_str(&format!("{name} 300 IN AAAA 2001:db8::{x:x}\n"));
        }
        out.push_str(&format!("{name} 300 IN MX 10 d{}.test.\n", (d + 1) % 6));
        out
    })
}

fn world() -> impl Strategy<Value = String> {
    (domain_data(0), domain_data(1), domain_data(2), domain_data(3), domain_data(4), domain_data(5)).prop_map(
        |(a, b, c, d, e, f)| {
            let mut zone = [a, b, c, d, e, f].concat();
            zone.push_str("e.test. 300 IN TXT \"%{i} is not one of %{d}'s\"\n");
            zone.push_str("10.0.0.7.ex.test. 300 IN A 127.0.0.2\n");
            zone
        },
    )
}

fn client() -> impl Strategy<Value = (IpAddr, String)> {
    let ip = prop_oneof![
        4 => (0..4u8, 0..=255u8).prop_map(|(c, d)| IpAddr::from([10, 0, c, d])),
        1 => (0..=255u16).prop_map(|d| IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, d])),
        1 => any::<[u8; 4]>().prop_map(IpAddr::from),
    ];
    (ip, 0..6u8).prop_map(|(ip, d)| (ip, format!("user@d{d}.test")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn compiled_policies_give_the_evaluators_evaluations(
        zone in world(),
        clients in prop::collection::vec(client(), 1..24),
    ) {
        assert_equivalent(&zone, &clients);
    }
}

#[test]
fn most_random_checks_are_decided_by_compiled_policies() {
    // Not vacuous: over a fixed run of random worlds, compiled policies
    // answer most checks (the rest use macros, ptr, or answers never
    // fetched).
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut decided, mut total) = (0, 0);
    for _ in 0..40 {
        let zone = world().new_tree(&mut runner).expect("tree").current();
        let clients = prop::collection::vec(client(), 16).new_tree(&mut runner).expect("tree").current();
        decided += assert_equivalent(&zone, &clients);
        total += clients.len();
    }
    assert!(decided * 2 > total, "{decided} of {total}");
}

#[test]
fn hostile_trees_compile_to_the_evaluators_answers_or_not_at_all() {
    // Ten includes deep (the term limit), void lookups over the limit,
    // an include loop, a record of 3,000 ranges (too many intervals to
    // compile: the evaluator answers), a too-long MX answer.
    let mut zone = String::new();
    for i in 0..12 {
        zone.push_str(&format!(
            "deep{i}.test. 300 IN TXT \"v=spf1 ip4:10.1.{i}.0/24 include:deep{}.test\"\n",
            i + 1
        ));
    }
    zone.push_str("void.test. 300 IN TXT \"v=spf1 a:n1.test a:n2.test a:n3.test ip4:10.0.0.0/8 -all\"\n");
    zone.push_str("loop.test. 300 IN TXT \"v=spf1 ip4:10.2.0.0/16 include:loop.test -all\"\n");
    let ranges: Vec<String> = (0..3000).map(|i| format!("ip4:10.{}.{}.0/24", i / 256, i % 256)).collect();
    let mut big = format!("v=spf1 {} -all", ranges.join(" "));
    let mut strings = Vec::new();
    while !big.is_empty() {
        let cut = big.len().min(250);
        strings.push(format!("\"{}\"", &big[..cut]));
        big = big[cut..].to_string();
    }
    zone.push_str(&format!("big.test. 300 IN TXT {}\n", strings.join(" ")));
    zone.push_str("mxs.test. 300 IN TXT \"v=spf1 mx -all\"\n");
    for i in 0..11 {
        zone.push_str(&format!("mxs.test. 300 IN MX {i} h{i}.test.\n"));
    }
    let mut clients = Vec::new();
    for sender in ["a@deep0.test", "a@void.test", "a@loop.test", "a@big.test", "a@mxs.test"] {
        for ip in ["10.1.3.4", "10.1.11.1", "10.0.0.1", "10.2.3.4", "10.11.183.9", "192.0.2.1", "2001:db8::1"]
        {
            clients.push((ip.parse().expect("ip"), sender.to_string()));
        }
    }
    let decided = assert_equivalent(&zone, &clients);
    assert!(decided >= 28, "{decided}");
    let zone = Arc::new(Zone::from_master_str(&zone, "<test>").expect("zone"));
    let compiling = checker(&zone, true);
    for _ in 0..2 {
        compiling.check_blocking("10.0.0.1".parse().expect("ip"), "a@big.test", "h");
    }
    assert_eq!(compiling.with_compiled_policy("big.test", |p| p.gave_up()), Some(true));
}

/// The four senders of the issue: `+all`, a /1, a /24, `exists:%{i}`.
const WIDE_ZONE: &str = "\
all.test. 300 IN TXT \"v=spf1 +all\"
half.test. 300 IN TXT \"v=spf1 ip4:128.0.0.0/1 -all\"
net.test. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"
ex.test. 300 IN TXT \"v=spf1 exists:%{i}.allow.test -all\"
192.0.2.7.allow.test. 300 IN A 127.0.0.2
";

#[test]
fn pass_evaluations_say_how_much_the_policy_passes() {
    let zone = Arc::new(Zone::from_master_str(WIDE_ZONE, "<test>").expect("zone"));
    let checker = checker(&zone, true);
    let ip: IpAddr = "192.0.2.7".parse().expect("ip");
    let space = |v4: u64, v6: u128, exact: bool| AuthorizedSpace { ipv4_addresses: v4, ipv6_64s: v6, exact };
    // First check (nothing compiled yet): a lower bound from the matched
    // term; later checks: the compiled policy's exact space.
    for (sender, first, later, wide) in [
        ("a@all.test", space(1 << 32, 1 << 64, false), space(1 << 32, 1 << 64, true), true),
        ("a@half.test", space(1 << 31, 0, false), space(1 << 31, 0, true), true),
        ("a@net.test", space(256, 0, false), space(256, 0, true), false),
        ("a@ex.test", space(1, 0, false), space(0, 0, false), false),
    ] {
        let eval = checker.check_blocking(ip, sender, "h");
        assert_eq!(eval.result, SpfResult::Pass, "{sender}");
        assert_eq!(eval.authorized, Some(first), "{sender}");
        assert_eq!(eval.wide_open, wide, "{sender}");
        let queries = eval.dns_queries;
        for _ in 0..2 {
            let eval = checker.check_blocking(ip, sender, "h");
            assert_eq!(eval.authorized, Some(later), "{sender}");
            assert_eq!(eval.wide_open, wide, "{sender}");
            assert_eq!(eval.dns_queries, 0, "{sender}: no query of its own");
        }
        assert!(queries <= 2, "{sender}: {queries}");
        let header = spf_core::headers::received_spf(&eval, Some("rx.test"));
        assert_eq!(header.contains("wide-open policy"), wide, "{header}");
    }
    let fail = checker.check_blocking("198.51.100.1".parse().expect("ip"), "a@net.test", "h");
    assert_eq!((fail.result, fail.authorized, fail.wide_open), (SpfResult::Fail, None, false));
}

#[test]
fn a_compiled_policy_lives_as_long_as_its_shortest_ttl() {
    let zone = "\
ttl.test. 3600 IN TXT \"v=spf1 include:short.test -all\"
short.test. 60 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"
";
    let server = TestDns::start(zone);
    let clock = Arc::new(ManualClock::new());
    let cache = Arc::new(Cache::with_clock(CacheConfig::default(), clock.clone()));
    let mut config = CheckerConfig::default();
    let mut settings = ResolverSettings::default();
    settings.nameservers = vec![spf_core::dns::parse_nameserver(&server.nameserver()).expect("nameserver")];
    config.dns = DnsSource::Resolver(settings);
    config.shared_cache = Some(cache);
    let checker = Checker::new(config).expect("checker");
    let ip: IpAddr = "192.0.2.9".parse().expect("ip");
    for _ in 0..3 {
        assert_eq!(checker.check_blocking(ip, "a@ttl.test", "h").result, SpfResult::Pass);
    }
    assert_eq!(checker.with_compiled_policy("ttl.test", |p| p.decides(ip)), Some(true));
    server.set_zone(&zone.replace("192.0.2.0/24", "198.51.100.0/24"));
    clock.advance(Duration::from_secs(30));
    // Still within both TTLs: the compiled answer stands.
    assert_eq!(checker.check_blocking(ip, "a@ttl.test", "h").result, SpfResult::Pass);
    clock.advance(Duration::from_secs(31));
    // short.test's TTL has passed: the policy is stale, the evaluator asks
    // again and sees the change; the policy is compiled again from it.
    assert!(checker.with_compiled_policy("ttl.test", |_| ()).is_none());
    assert_eq!(checker.check_blocking(ip, "a@ttl.test", "h").result, SpfResult::Fail);
    assert_eq!(checker.check_blocking(ip, "a@ttl.test", "h").result, SpfResult::Fail);
    assert_eq!(checker.with_compiled_policy("ttl.test", |p| p.decides(ip)), Some(true));
    assert_eq!(checker.check_blocking(ip, "a@ttl.test", "h").result, SpfResult::Fail);
}

#[test]
fn a_policy_that_depends_on_the_client_is_compiled_once() {
    // `ptr` and `exists:%{i}` intervals are the evaluator's for good: their
    // checks must not compile the policy again and again (each compile
    // also misses the PTR answers of its representative address).
    let zone = "\
ptr.test. 300 IN TXT \"v=spf1 ptr -all\"
ex.test. 300 IN TXT \"v=spf1 exists:%{i}._ip.%{d} -all\"
9.2.0.192.in-addr.arpa. 300 IN PTR mail.ptr.test.
mail.ptr.test. 300 IN A 192.0.2.9
";
    let zone = Arc::new(Zone::from_master_str(zone, "<test>").expect("zone"));
    let checker = checker(&zone, true);
    let ip: IpAddr = "192.0.2.9".parse().expect("ip");
    for _ in 0..10 {
        assert_eq!(checker.check_blocking(ip, "a@ptr.test", "h").result, SpfResult::Pass);
        assert_eq!(checker.check_blocking(ip, "a@ex.test", "h").result, SpfResult::Fail);
    }
    assert_eq!(checker.compiled_stats().compiled, 2, "{:?}", checker.compiled_stats());
    assert_eq!(checker.with_compiled_policy("ptr.test", |p| p.decides(ip)), Some(false));
}
