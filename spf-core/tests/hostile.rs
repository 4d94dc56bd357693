//! Hostile DNS data: every case ends with the RFC's result, promptly, after a
//! counted and bounded number of queries.

use spf_core::dns::{RecordType, Zone};
use spf_core::eval::LimitKind;
use spf_core::{CheckOptions, Evaluation, Evaluator, Limits, Reason, SpfResult, VoidCounting};

fn run(zone: &Zone, options: CheckOptions, ip: &str, sender: &str) -> Evaluation {
    let evaluator = Evaluator::new(zone, options);
    let ip = spf_core::parse_ip(ip).expect("test IPs are valid");
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(evaluator.check_mail_from(ip, sender, "helo.example.org"))
}

fn check(zone: &Zone, ip: &str, sender: &str) -> Evaluation {
    run(zone, CheckOptions::default(), ip, sender)
}

fn txt(zone: &mut Zone, name: &str, record: &str) {
    zone.add_txt(name, vec![record.as_bytes().to_vec()]);
}

fn limit_of(eval: &Evaluation) -> Option<LimitKind> {
    match &eval.reason {
        Some(Reason::Limit { limit, .. }) => Some(*limit),
        _ => None,
    }
}

fn txt_queries(zone: &Zone) -> usize {
    zone.queries().iter().filter(|(_, t)| *t == RecordType::Txt).count()
}

// RFC 7208 §4.6.4: the 11th DNS-querying term is a permerror, refused before
// its query. One TXT query for the domain itself plus one per include that
// was allowed: 1 + 10 = 11.
#[test]
fn include_loop_stops_at_the_term_limit() {
    let mut zone = Zone::new();
    txt(&mut zone, "a.example", "v=spf1 include:b.example -all");
    txt(&mut zone, "b.example", "v=spf1 include:a.example -all");
    let eval = check(&zone, "192.0.2.1", "x@a.example");
    assert_eq!(eval.result, SpfResult::PermError);
    assert_eq!(limit_of(&eval), Some(LimitKind::DnsTerms));
    assert_eq!(zone.query_count(), 11);
    assert_eq!(eval.dns_lookups, 11);
}

#[test]
fn redirect_loop_stops_at_the_term_limit() {
    let mut zone = Zone::new();
    txt(&mut zone, "a.example", "v=spf1 redirect=b.example");
    txt(&mut zone, "b.example", "v=spf1 redirect=a.example");
    let eval = check(&zone, "192.0.2.1", "x@a.example");
    assert_eq!(eval.result, SpfResult::PermError);
    assert_eq!(limit_of(&eval), Some(LimitKind::DnsTerms));
    assert_eq!(zone.query_count(), 11);
}

#[test]
fn hundred_deep_include_chain_costs_eleven_queries() {
    let mut zone = Zone::new();
    for i in 0..100 {
        txt(&mut zone, &format!("d{i}.example"), &format!("v=spf1 include:d{}.example -all", i + 1));
    }
    let eval = check(&zone, "192.0.2.1", "x@d0.example");
    assert_eq!(eval.result, SpfResult::PermError);
    assert_eq!(limit_of(&eval), Some(LimitKind::DnsTerms));
    // d0 (the checked domain) and the includes of d1..=d10.
    assert_eq!(zone.query_count(), 11);
    let asked: Vec<String> = zone.queries().into_iter().map(|(n, _)| n).collect();
    assert_eq!(asked.last().map(String::as_str), Some("d10.example"));
}

#[test]
fn twenty_includes_send_at_most_eleven_queries() {
    let mut zone = Zone::new();
    let includes: Vec<String> = (1..=20).map(|i| format!("include:i{i}.example")).collect();
    txt(&mut zone, "many.example", &format!("v=spf1 {} -all", includes.join(" ")));
    for i in 1..=20 {
        txt(&mut zone, &format!("i{i}.example"), "v=spf1 -all");
    }
    let eval = check(&zone, "192.0.2.1", "x@many.example");
    assert_eq!(eval.result, SpfResult::PermError);
    assert_eq!(limit_of(&eval), Some(LimitKind::DnsTerms));
    assert_eq!(zone.query_count(), 11);
    assert!(!zone.queries().iter().any(|(n, _)| n == "i11.example"), "the 11th include was queried");
}

/// One TXT record of about 1 MB: 4,100 strings of 255 bytes, 80,000 ip4 terms.
#[test]
fn megabyte_record_evaluates_in_one_query() {
    let mut text = String::from("v=spf1");
    for i in 0..80_000u32 {
        text.push_str(&format!(" ip4:10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff));
    }
    text.push_str(" ip4:192.0.2.77 -all");
    assert!(text.len() > 1_000_000);
    let strings: Vec<Vec<u8>> = text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect();
    let mut zone = Zone::new();
    zone.add_txt("huge.example", strings);
    let eval = check(&zone, "192.0.2.77", "x@huge.example");
    assert_eq!(eval.result, SpfResult::Pass);
    assert_eq!(eval.matched.map(|m| m.term), Some("ip4:192.0.2.77".into()));
    assert_eq!(zone.query_count(), 1);
    // The trace does not copy the megabyte: rendered records are shortened.
    let traced: usize = eval.trace.iter().map(|e| format!("{e:?}").len()).sum();
    assert!(traced < 1_000_000, "trace holds {traced} bytes");
}

#[test]
fn thousands_of_non_spf_records_are_none() {
    let mut zone = Zone::new();
    for i in 0..4_000 {
        txt(&mut zone, "noisy.example", &format!("verification-token-{i}={}", "x".repeat(200)));
    }
    let eval = check(&zone, "192.0.2.1", "x@noisy.example");
    assert_eq!(eval.result, SpfResult::None);
    assert_eq!(zone.query_count(), 1);
}

#[test]
fn nul_bytes_and_invalid_utf8_are_syntax_errors() {
    let mut zone = Zone::new();
    zone.add_txt("nul.example", vec![b"v=spf1 ip4:192.0.2.1\0 -all".to_vec()]);
    zone.add_txt("bytes.example", vec![b"v=spf1 a:\xff\xfe.example +all".to_vec()]);
    for domain in ["nul.example", "bytes.example"] {
        let eval = check(&zone, "192.0.2.1", &format!("x@{domain}"));
        assert_eq!(eval.result, SpfResult::PermError, "{domain}");
        assert!(matches!(eval.reason, Some(Reason::Syntax { .. })), "{domain}: {:?}", eval.reason);
        assert_eq!(zone.query_count(), 1, "{domain}");
        zone.reset_queries();
    }
}

#[test]
fn invalid_utf8_in_another_txt_record_does_not_matter() {
    let mut zone = Zone::new();
    zone.add_txt("mixed.example", vec![b"\xff\x00garbage\x80".to_vec()]);
    txt(&mut zone, "mixed.example", "v=spf1 ip4:192.0.2.1 -all");
    let eval = check(&zone, "192.0.2.1", "x@mixed.example");
    assert_eq!(eval.result, SpfResult::Pass);
}

#[test]
fn overlong_sender_domains_are_none_without_a_query() {
    let zone = Zone::new();
    let long_label = format!("x@{}.example.com", "a".repeat(64));
    let long_name = format!("x@{}example.com", "abcdefghi.".repeat(26));
    assert!(long_name.len() > 255);
    for sender in [long_label, long_name, "x@a..example.com".to_string(), "x@[192.0.2.1]".to_string()] {
        let eval = check(&zone, "192.0.2.1", &sender);
        assert_eq!(eval.result, SpfResult::None, "{sender}");
        assert!(matches!(eval.reason, Some(Reason::InvalidDomain { .. })), "{sender}");
    }
    assert_eq!(zone.query_count(), 0);
}

#[test]
fn overlong_target_names_are_never_queried() {
    let mut zone = Zone::new();
    let label = "b".repeat(64);
    txt(&mut zone, "t.example", &format!("v=spf1 a:{label}.example.com -all"));
    let eval = check(&zone, "192.0.2.1", "x@t.example");
    assert_eq!(eval.result, SpfResult::Fail);
    assert_eq!(zone.queries(), vec![("t.example".to_string(), RecordType::Txt)]);
}

// §4.6.4: an "mx" whose MX answer names more than 10 hosts is a permerror.
#[test]
fn mx_with_eleven_names_is_permerror_before_address_lookups() {
    let mut zone = Zone::new();
    txt(&mut zone, "mx.example", "v=spf1 mx -all");
    for i in 0..11 {
        zone.add_mx("mx.example", 10, &format!("mx{i}.example"));
        zone.add_a(&format!("mx{i}.example"), format!("198.51.100.{i}").parse().expect("ip"));
    }
    let eval = check(&zone, "192.0.2.1", "x@mx.example");
    assert_eq!(eval.result, SpfResult::PermError);
    assert_eq!(limit_of(&eval), Some(LimitKind::MxNames));
    assert_eq!(zone.query_count(), 2);
}

// §4.6.4: "all records other than the first 10 MUST be ignored" for PTR.
#[test]
fn ptr_with_fifty_names_checks_only_ten() {
    let mut zone = Zone::new();
    txt(&mut zone, "p.example", "v=spf1 ptr -all");
    for i in 0..50 {
        zone.add_ptr("1.2.0.192.in-addr.arpa", &format!("h{i}.p.example"));
        zone.add_a(&format!("h{i}.p.example"), "192.0.2.99".parse().expect("ip"));
    }
    let eval = check(&zone, "192.0.2.1", "x@p.example");
    assert_eq!(eval.result, SpfResult::Fail);
    // TXT, PTR, then A of the first ten names only.
    assert_eq!(zone.query_count(), 12);
}

#[test]
fn validated_name_macro_is_bounded_too() {
    let mut zone = Zone::new();
    txt(&mut zone, "pm.example", "v=spf1 exists:%{p}.ok.example a:%{p}.x.example -all");
    for i in 0..50 {
        zone.add_ptr("1.2.0.192.in-addr.arpa", &format!("h{i}.pm.example"));
    }
    let eval = check(&zone, "192.0.2.1", "x@pm.example");
    assert_eq!(eval.result, SpfResult::Fail);
    // TXT, PTR, 10 A lookups to validate (once per check), then the exists
    // and the a query of "unknown.ok.example" / "unknown.x.example".
    assert_eq!(zone.query_count(), 14);
}

#[test]
fn third_void_lookup_is_permerror() {
    let mut zone = Zone::new();
    txt(&mut zone, "v.example", "v=spf1 a:n1.example a:n2.example a:n3.example a:n4.example -all");
    let eval = check(&zone, "192.0.2.1", "x@v.example");
    assert_eq!(eval.result, SpfResult::PermError);
    assert_eq!(limit_of(&eval), Some(LimitKind::VoidLookups));
    assert_eq!(eval.void_lookups, 3);
    assert_eq!(zone.query_count(), 4);
}

// RFC 7208 §4.6.4: implementations limit "the number of 'terms' for which
// DNS queries return either a positive answer (RCODE 0) with an answer count
// of 0, or a 'Name Error' (RCODE 3) answer". An IPv6 client of `mx -all`
// whose MX hosts have only A records is one term with an answer, not three
// void lookups.
#[test]
fn void_lookups_are_counted_per_term_by_default() {
    let mut zone = Zone::new();
    txt(&mut zone, "v4mx.example", "v=spf1 mx -all");
    for i in 0..3 {
        let host = format!("mx{i}.v4mx.example");
        zone.add_mx("v4mx.example", 10, &host);
        zone.add_a(&host, format!("198.51.100.{i}").parse().expect("ip"));
    }
    let per_term = check(&zone, "2001:db8::25", "x@v4mx.example");
    assert_eq!(per_term.result, SpfResult::Fail);
    assert_eq!(per_term.void_lookups, 0);

    let strict = {
        let mut options = CheckOptions::default();
        options.limits = {
            let mut limits = Limits::default();
            limits.void_counting = VoidCounting::PerLookup;
            limits
        };
        options
    };
    let per_lookup = run(&zone, strict, "2001:db8::25", "x@v4mx.example");
    assert_eq!(per_lookup.result, SpfResult::PermError);
    assert_eq!(limit_of(&per_lookup), Some(LimitKind::VoidLookups));
}

#[test]
fn cname_loops_end() {
    let mut zone = Zone::new();
    zone.add_cname("l1.example", "l2.example");
    zone.add_cname("l2.example", "l1.example");
    txt(&mut zone, "c.example", "v=spf1 a:l1.example include:l1.example -all");
    let eval = check(&zone, "192.0.2.1", "x@c.example");
    assert_eq!(eval.result, SpfResult::TempError);
    assert!(txt_queries(&zone) <= 2);
    assert_eq!(zone.query_count(), 2);
}
