//! Issue 14, hot-path safety: nothing a sender or a DNS server controls can
//! make a check unbounded. One test (or a few) per item of the issue, named
//! after what it proves.

use spf_core::dns::Zone;
use spf_core::macros::{EXPANSION_BUDGET, MAX_DOMAIN_NAME, MAX_EXPLANATION};
use spf_core::{CheckOptions, Evaluation, Evaluator, SpfResult};

fn evaluate(zone: &Zone, ip: &str, sender: &str) -> Evaluation {
    let evaluator = Evaluator::new(zone, CheckOptions::default());
    let ip = spf_core::parse_ip(ip).expect("test IPs are valid");
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(evaluator.check_mail_from(ip, sender, "helo.example.org"))
}

/// A TXT record of `text`, split into 255-octet strings as DNS carries it.
fn txt(zone: &mut Zone, name: &str, text: &str) {
    zone.add_txt(name, text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect());
}

// Item 1: an `exp=` text of thousands of `%{s}` and a long local part gave
// 1.18 MB (64 octets) to 1.6 GB (100,000 octets) of explanation per check.
#[test]
fn item1_explanation_of_thousands_of_macros_stops_at_512_octets() {
    let mut zone = Zone::new();
    txt(&mut zone, "exp.example", "v=spf1 -all exp=why.exp.example");
    txt(&mut zone, "why.exp.example", &"%{s}".repeat(5_000));
    for local in [64, 2_000, 100_000] {
        let sender = format!("{}@exp.example", "a".repeat(local));
        let eval = evaluate(&zone, "192.0.2.1", &sender);
        assert_eq!(eval.result, SpfResult::Fail);
        let explanation = eval.explanation.expect("a fail has an explanation");
        assert_eq!(explanation.len(), MAX_EXPLANATION, "local part of {local}");
        assert!(explanation.starts_with(&"a".repeat(MAX_EXPLANATION.min(local))));
        // The trace holds the explanation once, bounded the same way.
        let traced: usize = serde_json::to_string(&eval.trace).expect("json").len();
        assert!(traced < 64 * 1024, "trace of {traced} bytes");
    }
}

// Item 1: domain-spec targets are built from the right and never longer than
// 253 octets, whatever the record asks for.
#[test]
fn item1_target_of_thousands_of_macros_is_cut_to_253_octets_from_the_left() {
    let mut zone = Zone::new();
    txt(
        &mut zone,
        "target.example",
        &format!("v=spf1 exists:{}x.target.example -all", "%{l}.".repeat(4_000)),
    );
    let sender = format!("{}@target.example", "b".repeat(60));
    let eval = evaluate(&zone, "192.0.2.1", &sender);
    assert_eq!(eval.result, SpfResult::Fail);
    let asked = zone.queries();
    let (name, _) = asked.iter().find(|(n, _)| n.ends_with(".x.target.example")).expect("exists was asked");
    assert!(name.len() <= MAX_DOMAIN_NAME, "{} octets", name.len());
    // 60-octet labels from the left were dropped whole: what is left is
    // whole labels of the expansion, then the literal suffix.
    assert!(name.split('.').all(|label| label.len() <= 63));
    assert!(name.len() > MAX_DOMAIN_NAME - 64);
}

// Item 1: the per-check budget: ten terms of many macros over a sender of
// 100,000 octets stop at the budget instead of reading it ten thousand times.
#[test]
fn item1_expansion_work_per_check_is_bounded() {
    let mut zone = Zone::new();
    let terms: Vec<String> =
        (0..10).map(|i| format!("exists:{}.t{i}.budget.example", "%{l1}".repeat(500))).collect();
    txt(&mut zone, "budget.example", &format!("v=spf1 {} -all", terms.join(" ")));
    // A local part of 100,000 octets whose last dot-part is one octet: each
    // `%{l1}` reads it all and produces one octet.
    let local = format!("{}.z", "c".repeat(100_000));
    let eval = evaluate(&zone, "192.0.2.1", &format!("{local}@budget.example"));
    // The budget is enough for two terms' worth (2 x 100,000 octets read);
    // then targets cannot be built and count as void lookups: permerror at
    // the third.
    const { assert!(EXPANSION_BUDGET < 3 * 100_000) };
    assert_eq!(eval.result, SpfResult::PermError);
    assert!(zone.query_count() <= 3, "{} queries", zone.query_count());
}

/// A nameserver that never answers.
struct Silent;

impl spf_core::dns::Lookup for Silent {
    async fn lookup(&self, _name: &str, _rtype: spf_core::dns::RecordType) -> spf_core::dns::LookupResult {
        std::future::pending().await
    }
}

/// Polls a future once (it is then waiting for the silent server) and
/// drops it: a lookup cancelled as a check's deadline cancels it.
fn poll_once_and_drop<F: std::future::Future>(future: F) {
    let mut future = std::pin::pin!(future);
    let waker = std::task::Waker::noop();
    assert!(future.as_mut().poll(&mut std::task::Context::from_waker(waker)).is_pending());
}

// Item 3: a lookup dropped before its answer came left its entry in the
// single-flight table forever (1 M cancelled lookups: +187 MB, 0 entries).
#[test]
fn item3_cancelled_lookups_leave_the_inflight_table_empty() {
    use spf_core::dns::{Cache, CacheConfig, RecordType};
    let cache = Cache::new(CacheConfig::default());
    for i in 0..10_000 {
        poll_once_and_drop(cache.lookup(&Silent, &format!("n{i}.example"), RecordType::Txt));
    }
    let stats = cache.stats();
    assert_eq!(stats.inflight, 0);
    assert_eq!(stats.abandoned, 10_000);
    assert_eq!(stats.misses, 10_000);

    // Several waiters on one query: it stays in flight while any of them
    // waits, whichever is dropped first, and leaves when the last one goes.
    let first = cache.lookup(&Silent, "shared.example", RecordType::Txt);
    let second = cache.lookup(&Silent, "shared.example", RecordType::Txt);
    let mut first = Box::pin(first);
    let mut second = Box::pin(second);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert_eq!(cache.stats().inflight, 1);
    assert_eq!(cache.stats().coalesced, 1);
    drop(first);
    assert_eq!(cache.stats().inflight, 1, "the second waiter still waits");
    // The waiter takes over the query: it asks upstream itself.
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert_eq!(cache.stats().misses, 10_002);
    drop(second);
    assert_eq!(cache.stats().inflight, 0);
}

// Item 3: speculative lookups are registered in flight when they are
// started; one whose future is dropped unpolled (a runtime shutting down
// drops its tasks) leaves nothing behind either.
#[test]
fn item3_unpolled_speculative_lookups_leave_nothing_behind() {
    use spf_core::dns::{Cache, CacheConfig, QueryBudget, RecordType};
    let cache = std::sync::Arc::new(Cache::new(CacheConfig::default()));
    let upstream = std::sync::Arc::new(Silent);
    let budget = std::sync::Arc::new(QueryBudget::new(1_000));
    for i in 0..1_000 {
        let future =
            cache.prefetch(upstream.clone(), &format!("p{i}.example"), RecordType::A, budget.clone());
        assert_eq!(cache.stats().inflight, 1);
        drop(future);
    }
    assert_eq!(cache.stats().inflight, 0);
}

/// Answers every lookup with one A record of the given TTL, and counts.
struct WithTtl(u32, std::sync::atomic::AtomicU32);

impl spf_core::dns::Lookup for WithTtl {
    async fn lookup(&self, _name: &str, _rtype: spf_core::dns::RecordType) -> spf_core::dns::LookupResult {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let records = spf_core::dns::Records::A(std::sync::Arc::from([std::net::Ipv4Addr::LOCALHOST]));
        Ok(spf_core::dns::Answer { records, ttl: self.0 })
    }
}

// Item 6: TTLs of 2^31 and above were cached for up to a day; RFC 2181 §8
// says to treat them as 0.
#[test]
fn item6_ttls_with_the_top_bit_set_are_not_cached() {
    use spf_core::dns::{Cache, CacheConfig, RecordType};
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    for (ttl, upstream_queries) in [(1 << 31, 2), (u32::MAX, 2), ((1 << 31) - 1, 1)] {
        let cache = Cache::new(CacheConfig::default());
        let upstream = WithTtl(ttl, Default::default());
        for _ in 0..2 {
            runtime.block_on(cache.lookup(&upstream, "ttl.example", RecordType::A)).expect("answer");
        }
        assert_eq!(upstream.1.into_inner(), upstream_queries, "TTL {ttl}");
    }
}

fn resolver_config(
    server: &spf_testdns::TestDns,
    timeout_ms: u64,
    attempts: usize,
) -> spf_core::CheckerConfig {
    use spf_core::dns::{ResolverSettings, parse_nameserver};
    let settings = {
        let mut settings = ResolverSettings::default();
        settings.nameservers = vec![parse_nameserver(&server.nameserver()).expect("server address")];
        settings.timeout = std::time::Duration::from_millis(timeout_ms);
        settings.attempts = attempts;
        settings
    };
    {
        let mut config = spf_core::CheckerConfig::default();
        config.dns = spf_core::DnsSource::Resolver(settings);
        config
    }
}

fn resolver_checker(server: &spf_testdns::TestDns, timeout_ms: u64, attempts: usize) -> spf_core::Checker {
    spf_core::Checker::new(resolver_config(server, timeout_ms, attempts)).expect("checker")
}

// Item 6: `attempts` is the number of tries in all (hickory counted retries
// after the first try, so 2 attempts of 5 s cost 15 s per dead lookup).
#[test]
fn item6_attempts_counts_every_try() {
    for attempts in [1, 2, 3] {
        let server = spf_testdns::TestDns::start("quiet.test. 300 IN TXT \"v=spf1 -all\"\n");
        server.silence("quiet.test");
        let checker = resolver_checker(&server, 100, attempts);
        let eval = checker.check_blocking("192.0.2.1".parse().expect("ip"), "a@quiet.test", "h.test");
        assert_eq!(eval.result, SpfResult::TempError);
        assert_eq!(server.count("quiet.test", "TXT"), attempts, "{attempts} attempts");
        assert_eq!(eval.dns_queries, 1, "one question, however many tries");
    }
}

// Issue 15: "a burst from a new sender" once saw two upstream queries under
// load. The cause was in the library: hickory's UDP client resent a
// question that had no answer after 333 ms, and the test's server answers
// after 300 ms. The resolver now sends a question again only after its
// timeout: a slow answer is one query, however slow.
#[test]
fn item6_a_slow_answer_is_asked_once() {
    let server = spf_testdns::TestDns::start("slow.test. 300 IN TXT \"v=spf1 +all\"\n");
    server.delay("slow.test", std::time::Duration::from_millis(700));
    let checker = resolver_checker(&server, 5_000, 2);
    let eval = checker.check_blocking("192.0.2.1".parse().expect("ip"), "a@slow.test", "h.test");
    assert_eq!(eval.result, SpfResult::Pass);
    assert_eq!(server.count("slow.test", "TXT"), 1);
}

/// `count` CNAME hops from `c0.test` to a TXT record, each hop at its own name.
fn cname_chain_zone(hops: usize) -> String {
    let mut zone = String::from("$TTL 300\n");
    for i in 0..hops {
        zone.push_str(&format!("c{i}.test. IN CNAME c{}.test.\n", i + 1));
    }
    zone.push_str(&format!("c{hops}.test. IN TXT \"v=spf1 +all\"\n"));
    zone
}

// Item 5: over real DNS a CNAME loop, or a chain longer than 8 hops, was read
// as "no record" (none) where the zone backend said temperror. Both backends
// now agree: up to 8 hops is followed, a loop or a longer chain is a
// temporary error; whether the server sends the chain in one answer or one
// hop at a time.
#[test]
fn item5_cname_loops_and_long_chains_are_temperror_over_dns_and_zone() {
    use spf_core::dns::{MAX_CNAME_HOPS, Zone};
    for partial in [false, true] {
        for (zone_text, expected) in [
            (cname_chain_zone(MAX_CNAME_HOPS), SpfResult::Pass),
            (cname_chain_zone(MAX_CNAME_HOPS + 1), SpfResult::TempError),
            (cname_chain_zone(20), SpfResult::TempError),
            (
                "c0.test. 300 IN CNAME c1.test.\nc1.test. 300 IN CNAME c0.test.\n".to_string(),
                SpfResult::TempError,
            ),
        ] {
            let server = spf_testdns::TestDns::start(&zone_text);
            server.partial_cnames_all(partial);
            let checker = resolver_checker(&server, 2_000, 1);
            let over_dns = checker.check_blocking("192.0.2.1".parse().expect("ip"), "a@c0.test", "h.test");
            let zone = Zone::from_master_str(&zone_text, "<test>").expect("zone");
            let in_zone = evaluate(&zone, "192.0.2.1", "a@c0.test");
            assert_eq!(over_dns.result, expected, "over DNS, partial answers {partial}: {zone_text}");
            assert_eq!(in_zone.result, expected, "zone: {zone_text}");
            // One question per hop at most: chains are bounded per lookup.
            assert!(server.total() <= MAX_CNAME_HOPS + 1, "{} queries", server.total());
        }
    }
}

// Item 5: ten `mx` terms behind 7-hop chains answered one hop at a time
// sent 881 queries where RFC 7208 allows 111 lookups. Every hop is charged
// to the check; at `max_queries` it sends no more questions (permerror,
// the DNS query limit).
#[test]
fn item5_partial_cname_chains_are_charged_and_capped() {
    use spf_core::Limits;
    use spf_core::eval::LimitKind;
    let mut zone = String::from("$TTL 300\n");
    let terms: Vec<String> = (0..10).map(|i| format!("mx:m{i}.test")).collect();
    zone.push_str(&format!("chains.test. IN TXT \"v=spf1 {} -all\"\n", terms.join(" ")));
    for i in 0..10 {
        for h in 0..10 {
            zone.push_str(&format!("m{i}.test. IN MX {h} h{h}.m{i}.test.\n"));
            // Each host is a 7-hop chain.
            for hop in 0..7 {
                let next = if hop == 6 {
                    format!("a{h}.m{i}.test.")
                } else {
                    format!("h{h}-{}.m{i}.test.", hop + 1)
                };
                let alias =
                    if hop == 0 { format!("h{h}.m{i}.test.") } else { format!("h{h}-{hop}.m{i}.test.") };
                zone.push_str(&format!("{alias} IN CNAME {next}\n"));
            }
            zone.push_str(&format!("a{h}.m{i}.test. IN A 198.51.100.{h}\n"));
        }
    }
    let server = spf_testdns::TestDns::start(&zone);
    server.partial_cnames_all(true);
    let checker = resolver_checker(&server, 2_000, 1);
    let eval = checker.check_blocking("192.0.2.1".parse().expect("ip"), "a@chains.test", "h.test");
    let max = Limits::default().max_queries as usize;
    assert_eq!(eval.result, SpfResult::PermError, "{:?}", eval.reason);
    assert!(
        matches!(&eval.reason, Some(spf_core::Reason::Limit { limit: LimitKind::Queries, .. })),
        "{:?}",
        eval.reason
    );
    assert_eq!(eval.dns_queries as usize, max, "every question on the wire is counted, up to the cap");
    // Speculative questions of the check may still be on their way to the
    // server: the bound holds whenever it is read.
    assert!(server.total() <= max, "{} queries", server.total());
    // The same tree answered in full chains costs one question per lookup.
    let server = spf_testdns::TestDns::start(&zone);
    let fresh = resolver_checker(&server, 2_000, 1);
    let eval = fresh.check_blocking("192.0.2.1".parse().expect("ip"), "a@chains.test", "h.test");
    assert_eq!(eval.result, SpfResult::Fail);
    assert_eq!(server.total(), 1 + 10 * (1 + 10));
}

/// Answers from a zone, after blocking the thread (as CPU work would) for
/// `busy` on every lookup.
struct Busy {
    zone: Zone,
    busy: std::time::Duration,
}

impl spf_core::dns::Lookup for Busy {
    async fn lookup(&self, name: &str, rtype: spf_core::dns::RecordType) -> spf_core::dns::LookupResult {
        std::thread::sleep(self.busy);
        self.zone.lookup(name, rtype).await
    }
}

// Item 2: the check's timer fired only at await points, so work that never
// waits ran past it (deadline 1 s, checks of 3.6 to 4.8 s). The evaluation
// now looks at the deadline before every lookup: ten terms of 200 ms of
// blocking work each stop at the deadline, not after 2 s.
#[test]
fn item2_the_deadline_holds_for_work_that_never_waits() {
    let mut zone = Zone::new();
    let terms: Vec<String> = (0..10).map(|i| format!("a:h{i}.busy.test")).collect();
    txt(&mut zone, "busy.test", &format!("v=spf1 {} -all", terms.join(" ")));
    for i in 0..10 {
        zone.add_a(&format!("h{i}.busy.test"), std::net::Ipv4Addr::new(198, 51, 100, i));
    }
    let busy = Busy { zone, busy: std::time::Duration::from_millis(200) };
    let options = {
        let mut options = CheckOptions::default();
        options.deadline = Some(std::time::Duration::from_millis(500));
        options
    };
    let evaluator = Evaluator::new(&busy, options);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let eval =
        runtime.block_on(evaluator.check_mail_from("192.0.2.1".parse().expect("ip"), "a@busy.test", "h"));
    assert_eq!(eval.result, SpfResult::TempError);
    assert_eq!(eval.reason, Some(spf_core::Reason::Deadline));
    // The TXT lookup and at most two terms fit in 500 ms of 200 ms lookups.
    assert!(eval.dns_lookups < 10, "{} terms evaluated", eval.dns_lookups);
}

// Item 6: a check that hit its deadline reported 0 lookups and an empty
// trace. It now reports what it did before the deadline.
#[test]
fn item6_a_check_at_its_deadline_reports_what_it_did() {
    let server = spf_testdns::TestDns::start(concat!(
        "partial.test. 300 IN TXT \"v=spf1 include:fast.test include:slow.test -all\"\n",
        "fast.test. 300 IN TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n",
        "slow.test. 300 IN TXT \"v=spf1 +all\"\n",
    ));
    server.delay("slow.test", std::time::Duration::from_secs(30));
    let checker = spf_core::Checker::new({
        let mut config = resolver_config(&server, 10_000, 1);
        config.options = {
            let mut options = CheckOptions::default();
            options.deadline = Some(std::time::Duration::from_secs(2));
            options.trace = true;
            // Only the evaluation's own questions, so their count is exact
            // (with speculation on, it was once 4 under load).
            options.speculation = spf_core::Speculation::OFF;
            options
        };
        config
    })
    .expect("checker");
    let eval = checker.check_blocking("192.0.2.1".parse().expect("ip"), "a@partial.test", "h.test");
    assert_eq!(eval.result, SpfResult::TempError);
    assert_eq!(eval.reason, Some(spf_core::Reason::Deadline));
    assert_eq!(eval.dns_lookups, 2, "both includes were counted before the deadline");
    assert_eq!(eval.dns_queries, 3);
    let json = serde_json::to_string(&eval.trace).expect("json");
    assert!(json.contains("fast.test") && json.contains("slow.test"), "{json}");
}

// Item 4: two async callbacks calling the blocking check wedged the checker
// forever: the runtime's two threads both blocked, nothing drove I/O or
// timers, and even other threads' checks hung. Callbacks now run on
// threads that drive no I/O, and a blocking check from any runtime thread
// hands that thread's duties over while it waits.
#[test]
fn item4_blocking_checks_inside_callbacks_never_wedge_the_checker() {
    let mut zone = String::from("$TTL 300\n");
    for i in 0..8 {
        zone.push_str(&format!("s{i}.slow.test. IN TXT \"v=spf1 +all\"\n"));
    }
    zone.push_str("outer.test. IN TXT \"v=spf1 -all\"\n");
    let server = spf_testdns::TestDns::start(&zone);
    for i in 0..8 {
        server.delay(&format!("s{i}.slow.test"), std::time::Duration::from_millis(200));
    }
    let checker = spf_core::Checker::new({
        let mut config = resolver_config(&server, 5_000, 1);
        config.worker_threads = 2;
        config
    })
    .expect("checker");
    let (sender, results) = std::sync::mpsc::channel();
    for i in 0..8 {
        let inner = checker.clone();
        let sender = sender.clone();
        checker.check_callback("192.0.2.1".parse().expect("ip"), "a@outer.test", "h", move |outer| {
            let outer = outer.expect("no panic").result;
            // Blocks this callback thread on a check that waits for DNS.
            let eval =
                inner.check_blocking("192.0.2.1".parse().expect("ip"), &format!("a@s{i}.slow.test"), "h");
            let _ = sender.send((outer, eval.result));
        });
    }
    // Meanwhile the calling thread checks too.
    let eval = checker.check_blocking("192.0.2.1".parse().expect("ip"), "a@s0.slow.test", "h");
    assert_eq!(eval.result, SpfResult::Pass);
    for _ in 0..8 {
        // A bound only so that a wedged checker fails the test instead of
        // hanging it.
        let (outer, inner) = results.recv_timeout(std::time::Duration::from_secs(60)).expect("no deadlock");
        assert_eq!((outer, inner), (SpfResult::Fail, SpfResult::Pass));
    }

    // The same from tasks of a caller's multi-thread runtime with one
    // worker: both block, and both finish.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let checker = checker.clone();
            runtime.spawn(async move {
                checker
                    .check_blocking("192.0.2.2".parse().expect("ip"), &format!("b@s{}.slow.test", i + 2), "h")
                    .result
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(runtime.block_on(handle).expect("task"), SpfResult::Pass);
    }
}
