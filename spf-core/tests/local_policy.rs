//! Local policy in the [`Checker`]: `CheckerConfig::with_local_policy`,
//! applied by every check entry point, what it did on
//! `Evaluation::policy_note`, and named in the header fields.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use spf_core::dns::{ResolverSettings, Zone};
use spf_core::headers::{authentication_results, received_spf, unfold};
use spf_core::policy::{BEST_GUESS_RECORD, Exemption, LocalPolicy, PolicyNote, WideOpenPass};
use spf_core::{CheckRequest, Checker, CheckerConfig, SpfResult};

const ZONE: &str = r#"
$TTL 300
pass.test.           TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail.test.           TXT "v=spf1 -all"
open.test.           TXT "v=spf1 +all"
nospf.test.          A   198.51.100.7
nospf.test.          MX  10 mx.nospf.test.
mx.nospf.test.       A   203.0.113.5
fwd.test.            TXT "v=spf1 ip4:203.0.113.0/24 -all"
relay.fwd.test.      A   203.0.113.9
9.113.0.203.in-addr.arpa. PTR relay.fwd.test.
"#;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test IP")
}

/// A checker over a zone of the test's own (so its query count is the
/// test's), with `policy` and receiver `mx.test`.
fn zone_checker(policy: LocalPolicy) -> (Arc<Zone>, Checker) {
    let zone = Arc::new(Zone::from_master_str(ZONE, "<local policy>").expect("zone"));
    let mut config = CheckerConfig::default().with_zone(Arc::clone(&zone)).with_local_policy(policy);
    config.options.receiver = Some("mx.test".into());
    config.worker_threads = 1;
    (zone, Checker::new(config).expect("checker"))
}

fn note_of(eval: &spf_core::Evaluation) -> &PolicyNote {
    eval.policy_note().unwrap_or_else(|| panic!("a policy note: {eval:?}"))
}

#[test]
fn a_skipped_network_is_not_checked_and_sends_no_query() {
    let mut policy = LocalPolicy::default();
    policy.add_skip_networks("127.0.0.0/8, ::1").expect("networks");
    let (zone, checker) = zone_checker(policy);
    let eval = checker.check_blocking(ip("127.0.0.1"), "alice@fail.test", "localhost.test");
    assert_eq!(eval.result, SpfResult::None, "not checked: no result of a domain");
    assert_eq!(note_of(&eval), &PolicyNote::Exempt { exemption: Exemption::Skipped });
    assert_eq!(zone.query_count(), 0, "a skipped client costs no DNS query");
    assert_eq!((eval.dns_lookups, eval.dns_queries), (0, 0));
    let header = unfold(&received_spf(&eval, Some("mx.test")));
    assert!(
        header.starts_with("Received-SPF: none (mx.test: client in a network that is not checked) "),
        "{header}"
    );
    assert!(
        header.ends_with("; policy=\"not checked: client in a network that is not checked\""),
        "{header}"
    );
    // The HELO identity too.
    let eval = checker.check_helo_blocking(ip("::1"), "localhost.test");
    assert!(matches!(note_of(&eval), PolicyNote::Exempt { exemption: Exemption::Skipped }));
    assert_eq!(zone.query_count(), 0);
    // Other clients are checked as usual, without a note.
    let eval = checker.check_blocking(ip("192.0.2.1"), "alice@fail.test", "h.test");
    assert_eq!(eval.result, SpfResult::Fail);
    assert!(eval.policy_note().is_none());
    assert!(!received_spf(&eval, None).contains("policy="));
    assert!(zone.query_count() > 0);
}

#[test]
fn an_allowed_network_passes_without_a_query() {
    let mut policy = LocalPolicy::default();
    policy.add_allow_networks("198.51.100.0/24").expect("networks");
    let (zone, checker) = zone_checker(policy);
    let eval = checker.check_blocking(ip("198.51.100.20"), "alice@fail.test", "h.test");
    assert_eq!(eval.result, SpfResult::Pass);
    assert_eq!(note_of(&eval), &PolicyNote::Exempt { exemption: Exemption::AllowedNetwork });
    assert!(eval.matched.is_none(), "no term of the domain's decided it");
    assert_eq!(zone.query_count(), 0);
    let ar = unfold(&authentication_results(&eval, "mx.test"));
    assert_eq!(
        ar,
        "Authentication-Results: mx.test; spf=pass smtp.mailfrom=alice@fail.test \
         (not checked: client in an allowed network)"
    );
}

#[test]
fn allowed_by_the_spf_policy_of_a_listed_domain() {
    let mut policy = LocalPolicy::default();
    policy.add_allow_spf_domains("fwd.test").expect("domains");
    let (_zone, checker) = zone_checker(policy);
    let eval = checker.check_blocking(ip("203.0.113.77"), "alice@fail.test", "h.test");
    assert_eq!(eval.result, SpfResult::Pass);
    assert_eq!(
        note_of(&eval),
        &PolicyNote::Exempt { exemption: Exemption::AllowedBySpf { domain: "fwd.test".into() } }
    );
    let header = unfold(&received_spf(&eval, Some("mx.test")));
    assert!(
        header.starts_with("Received-SPF: pass (mx.test: client authorized by the SPF policy of fwd.test) ")
    );
    // A client fwd.test does not authorize is checked.
    let eval = checker.check_blocking(ip("198.51.100.1"), "alice@fail.test", "h.test");
    assert_eq!((eval.result, eval.policy_note()), (SpfResult::Fail, None));
}

#[test]
fn allowed_by_a_validated_ptr_name() {
    let mut policy = LocalPolicy::default();
    policy.add_allow_ptr_domains("fwd.test").expect("domains");
    let (_zone, checker) = zone_checker(policy);
    let eval = checker.check_blocking(ip("203.0.113.9"), "alice@fail.test", "h.test");
    assert_eq!(eval.result, SpfResult::Pass);
    assert_eq!(
        note_of(&eval),
        &PolicyNote::Exempt { exemption: Exemption::AllowedByPtr { domain: "fwd.test".into() } }
    );
    // No PTR name: checked.
    let eval = checker.check_blocking(ip("203.0.113.10"), "alice@fail.test", "h.test");
    assert_eq!((eval.result, eval.policy_note()), (SpfResult::Fail, None));
}

#[test]
fn a_trusted_forwarder_turns_a_fail_into_forwarded_mail() {
    let mut policy = LocalPolicy::default();
    policy.add_trusted_forwarders("fwd.test").expect("forwarders");
    let (_zone, checker) = zone_checker(policy);
    let eval = checker.check_blocking(ip("203.0.113.9"), "alice@fail.test", "relay.fwd.test");
    assert_eq!(eval.result, SpfResult::Fail, "the result stays the sender domain's own");
    let PolicyNote::Forwarded { forwarder, matched } = note_of(&eval) else { panic!("{eval:?}") };
    assert_eq!(forwarder, "fwd.test");
    assert_eq!(matched.as_ref().map(|m| &*m.term), Some("ip4:203.0.113.0/24"));
    assert!(eval.explanation.is_some(), "the fail keeps its explanation");
    let header = unfold(&received_spf(&eval, Some("mx.test")));
    assert!(header.starts_with("Received-SPF: fail "), "{header}");
    assert!(
        header.ends_with("; policy=\"forwarded: trusted forwarder fwd.test authorizes the client\""),
        "{header}"
    );
    let ar = unfold(&authentication_results(&eval, "mx.test"));
    assert!(ar.ends_with("(forwarded: trusted forwarder fwd.test authorizes the client)"), "{ar}");
    // A client the forwarder does not authorize: a plain fail.
    let eval = checker.check_blocking(ip("198.51.100.9"), "alice@fail.test", "h.test");
    assert_eq!((eval.result, eval.policy_note()), (SpfResult::Fail, None));
    // A HELO fail is the client's own: forwarding does not explain it.
    let eval = checker.check_helo_blocking(ip("203.0.113.9"), "fail.test");
    assert_eq!((eval.result, eval.policy_note()), (SpfResult::Fail, None));
}

#[test]
fn the_best_guess_is_off_by_default_and_reported_as_a_guess() {
    let mut policy = LocalPolicy::default();
    policy.add_trusted_forwarders("fwd.test").expect("a policy without a best guess");
    let (_zone, checker) = zone_checker(policy);
    let eval = checker.check_blocking(ip("198.51.100.20"), "bob@nospf.test", "h.test");
    assert_eq!((eval.result, eval.policy_note()), (SpfResult::None, None));

    let mut policy = LocalPolicy::default();
    policy.set_best_guess(Some(BEST_GUESS_RECORD)).expect("record");
    let (_zone, checker) = zone_checker(policy);
    let eval = checker.check_blocking(ip("198.51.100.20"), "bob@nospf.test", "h.test");
    assert_eq!(eval.result, SpfResult::None, "a guess is never the domain's own result");
    let PolicyNote::BestGuess { result, matched } = note_of(&eval) else { panic!("{eval:?}") };
    assert_eq!(*result, SpfResult::Pass);
    assert_eq!(matched.as_ref().map(|m| &*m.term), Some("a/24"));
    assert!(eval.matched.is_none(), "the guess's term is not the evaluation's");
    let header = unfold(&received_spf(&eval, Some("mx.test")));
    assert!(header.starts_with("Received-SPF: none "), "{header}");
    assert!(header.ends_with("; policy=\"no SPF record, best guess pass by a/24\""), "{header}");
    // Elsewhere the guess is neutral (no `all`).
    let eval = checker.check_blocking(ip("192.0.2.200"), "bob@nospf.test", "h.test");
    assert!(matches!(note_of(&eval), PolicyNote::BestGuess { result: SpfResult::Neutral, matched: None }));
    // A domain with a record is not guessed for.
    let eval = checker.check_blocking(ip("192.0.2.200"), "bob@fail.test", "h.test");
    assert_eq!((eval.result, eval.policy_note()), (SpfResult::Fail, None));
}

#[test]
fn a_wide_open_pass_is_neutral_and_named_when_asked() {
    let (_zone, plain) = zone_checker(LocalPolicy::default());
    let eval = plain.check_blocking(ip("10.1.2.3"), "a@open.test", "h.test");
    assert_eq!((eval.result, eval.policy_note()), (SpfResult::Pass, None), "off by default");

    let mut policy = LocalPolicy::default();
    policy.wide_open = WideOpenPass::Neutral;
    let (_zone, checker) = zone_checker(policy);
    let eval = checker.check_blocking(ip("10.1.2.3"), "a@open.test", "h.test");
    assert_eq!(eval.result, SpfResult::Neutral);
    let PolicyNote::WideOpen(wide) = note_of(&eval) else { panic!("{eval:?}") };
    assert_eq!(wide.domain, "open.test");
    let header = unfold(&received_spf(&eval, Some("mx.test")));
    assert!(header.starts_with("Received-SPF: neutral "), "{header}");
    assert!(header.contains("; policy=\"wide-open policy of open.test: passes "), "{header}");
    assert!(header.ends_with(", pass treated as neutral\""), "{header}");
    let ar = unfold(&authentication_results(&eval, "mx.test"));
    assert!(ar.contains("spf=neutral smtp.mailfrom=a@open.test (wide-open policy of open.test"), "{ar}");
    // A narrow pass stays a pass.
    let eval = checker.check_blocking(ip("192.0.2.1"), "a@pass.test", "h.test");
    assert_eq!((eval.result, eval.policy_note()), (SpfResult::Pass, None));
}

#[test]
fn every_check_entry_point_applies_the_policy() {
    let mut policy = LocalPolicy::default();
    policy.add_allow_networks("198.51.100.0/24").expect("networks");
    let (zone, checker) = zone_checker(policy);
    let client = ip("198.51.100.1");
    let allowed = |eval: spf_core::Evaluation, how: &str| {
        assert_eq!(eval.result, SpfResult::Pass, "{how}");
        assert_eq!(
            eval.policy_note(),
            Some(&PolicyNote::Exempt { exemption: Exemption::AllowedNetwork }),
            "{how}"
        );
    };
    allowed(checker.check_blocking(client, "a@fail.test", "h.test"), "check_blocking");
    allowed(checker.check_helo_blocking(client, "fail.test"), "check_helo_blocking");
    let request = CheckRequest::mail_from(client, "a@fail.test", "h.test");
    allowed(checker.check_request_blocking(&request), "check_request_blocking");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    allowed(runtime.block_on(checker.check(client, "a@fail.test", "h.test")), "check");
    allowed(runtime.block_on(checker.check_helo(client, "fail.test")), "check_helo");
    allowed(runtime.block_on(checker.check_request(&request)), "check_request");
    let started = match checker.start(request.clone()) {
        Ok(eval) => eval,
        Err(waiting) => waiting.finish(),
    };
    allowed(started, "start");
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let _pending = checker.check_callback(client, "a@fail.test", "h.test", move |e| {
        let _ = tx.send(e);
    });
    let _pending = checker.check_helo_callback(client, "fail.test", move |e| {
        let _ = tx2.send(e);
    });
    for _ in 0..2 {
        allowed(rx.recv().expect("callback").expect("no panic"), "callback");
    }
    assert_eq!(zone.query_count(), 0);
    // A draft is evaluated as is: local policy is for mail, not for drafts.
    let draft = checker.check_draft_blocking("v=spf1 -all", "fail.test", &request);
    assert_eq!((draft.result, draft.policy_note()), (SpfResult::Fail, None));
}

#[test]
fn no_policy_or_an_empty_one_is_none() {
    let (_zone, checker) = zone_checker(LocalPolicy::default());
    assert!(checker.local_policy().is_none(), "an empty policy costs nothing");
    let zone = Arc::new(Zone::from_master_str(ZONE, "<local policy>").expect("zone"));
    let plain = Checker::new(CheckerConfig::default().with_zone(zone)).expect("checker");
    assert!(plain.local_policy().is_none());
    let eval = plain.check_blocking(ip("203.0.113.9"), "alice@fail.test", "h.test");
    assert_eq!((eval.result, eval.policy_note()), (SpfResult::Fail, None));
    let json = serde_json::to_string(&eval).expect("json");
    assert!(!json.contains("\"policy\""), "no key without a note: {json}");
}

#[test]
fn the_note_is_in_the_evaluations_json() {
    let mut policy = LocalPolicy::default();
    policy.add_trusted_forwarders("fwd.test").expect("forwarders");
    let (_zone, checker) = zone_checker(policy);
    let eval = checker.check_blocking(ip("203.0.113.9"), "alice@fail.test", "h.test");
    let json: serde_json::Value = serde_json::to_value(&eval).expect("json");
    assert_eq!(json["policy"]["kind"], "forwarded");
    assert_eq!(json["policy"]["forwarder"], "fwd.test");
}

/// Local policy's lookups count against the check's deadline: a forwarder
/// whose DNS never answers ends with the check's deadline (a plain fail),
/// not with the resolver's timeout and not by the checker's backstop
/// (which would make it a temperror).
#[test]
fn policy_lookups_end_at_the_checks_deadline() {
    let server = spf_testdns::TestDns::start(ZONE);
    server.silence("fwd.test");
    let settings = ResolverSettings::default()
        .with_nameservers(vec![server.addr])
        .with_timeout(Duration::from_secs(30))
        .with_attempts(1);
    let mut policy = LocalPolicy::default();
    policy.add_trusted_forwarders("fwd.test").expect("forwarders");
    let mut config = CheckerConfig::default().with_resolver(settings).with_local_policy(policy);
    config.options.deadline = Some(Duration::from_millis(300));
    let checker = Checker::new(config).expect("checker");
    let eval = checker.check_blocking(ip("203.0.113.9"), "alice@fail.test", "h.test");
    assert_eq!(eval.result, SpfResult::Fail, "{eval:?}");
    assert!(eval.policy_note().is_none(), "the forwarder was not known in time");
    assert_eq!(server.count("fwd.test", "TXT"), 1);
}

/// The README's Rust example, over the demo zone instead of real DNS.
#[test]
fn the_readme_example_over_the_demo_zone() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo.zone");
    let mut zone = Zone::new();
    zone.load_master_file(demo).expect("demo zone");
    let mut policy = LocalPolicy::default();
    policy.add_skip_networks("127.0.0.0/8, ::1").expect("networks");
    policy.add_allow_networks("192.0.2.0/24").expect("networks");
    policy.add_trusted_forwarders("provider.demo.example").expect("forwarders");
    policy.set_best_guess(Some(BEST_GUESS_RECORD)).expect("record");
    policy.wide_open = WideOpenPass::Neutral;
    let config = CheckerConfig::default().with_zone(Arc::new(zone)).with_local_policy(policy);
    let checker = Checker::new(config).expect("checker");
    let eval = checker.check_blocking(ip("198.51.100.7"), "alice@fail.demo.example", "mail.demo.example");
    assert_eq!(eval.result, SpfResult::Fail);
    let Some(PolicyNote::Forwarded { forwarder, .. }) = eval.policy_note() else { panic!("{eval:?}") };
    assert_eq!(forwarder, "provider.demo.example");
    let eval = checker.check_blocking(ip("198.51.100.7"), "alice@none.demo.example", "mail.demo.example");
    assert!(matches!(eval.policy_note(), Some(PolicyNote::BestGuess { .. })), "{eval:?}");
    let eval = checker.check_blocking(ip("203.0.113.66"), "spammer@open.demo.example", "mail.demo.example");
    assert_eq!(eval.result, SpfResult::Neutral);
}
