//! The trace as it renders: a set of checks touching every kind of step
//! (include chains, each DNS-querying mechanism and its answers, redirect,
//! `exp=` used and ignored, no record, a temporary error, a long record
//! shortened, a trace cut at its cap), compared with what the evaluator
//! rendered before the trace was recorded compactly
//! (`data/trace_golden.txt`, written by the earlier code).

use std::net::Ipv4Addr;

use spf_core::dns::Zone;
use spf_core::eval::TraceEvent;
use spf_core::{CheckOptions, Evaluation, Evaluator};

/// A TXT record of `text`, split into 255-octet strings as DNS carries it.
fn txt(zone: &mut Zone, name: &str, text: &str) {
    zone.add_txt(name, text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect());
}

fn zone() -> Zone {
    let mut zone = Zone::new();
    // An include chain, `a`, `mx` (a host with an address, one without),
    // `ptr` (a validated name), `exists` (void), a redirect, `exp=`.
    txt(
        &mut zone,
        "main.example",
        "v=spf1 include:inc.example a:host.example mx:mx.example ptr:ptr.example \
         exists:%{l}.ex.example ip4:198.51.100.0/24 redirect=red.example",
    );
    txt(&mut zone, "inc.example", "v=spf1 include:inc2.example ~all");
    txt(&mut zone, "inc2.example", "v=spf1 ip4:203.0.113.0/24 -all");
    zone.add_a("host.example", Ipv4Addr::new(198, 51, 100, 9));
    zone.add_mx("mx.example", 10, "mx1.mx.example");
    zone.add_mx("mx.example", 20, "mx2.mx.example");
    zone.add_a("mx1.mx.example", Ipv4Addr::new(198, 51, 100, 10));
    zone.add_name("mx2.mx.example");
    zone.add_ptr("1.2.0.192.in-addr.arpa", "mail.other.example");
    zone.add_a("mail.other.example", Ipv4Addr::new(192, 0, 2, 1));
    txt(&mut zone, "red.example", "v=spf1 -all exp=exp.red.example");
    txt(&mut zone, "exp.red.example", "%{i} is not allowed by %{d} (%{p})");
    // A pass through an include.
    txt(&mut zone, "pass.example", "v=spf1 ip4:198.51.100.1 include:inc3.example -all");
    txt(&mut zone, "inc3.example", "v=spf1 +ip4:192.0.2.0/24 -all");
    // An include of a typo'd record; a redirect to nowhere.
    txt(&mut zone, "typo.example", "v=spf1 include:typo2.example -all");
    txt(&mut zone, "typo2.example", "v-spf1 -all");
    txt(&mut zone, "typo2.example", "google-site-verification=abc");
    txt(&mut zone, "nowhere.example", "v=spf1 redirect=gone.example");
    // A long record (shortened in the trace) and a temporary error.
    let mut long = String::from("v=spf1");
    for i in 0..60 {
        long.push_str(&format!(" ip4:10.0.{i}.0/24"));
    }
    long.push_str(" a:timeout.example -all");
    txt(&mut zone, "long.example", &long);
    zone.add_timeout("timeout.example");
    // `exp=` ignored: two TXT records.
    txt(&mut zone, "noexp.example", "v=spf1 -all exp=two.noexp.example");
    txt(&mut zone, "two.noexp.example", "one");
    txt(&mut zone, "two.noexp.example", "two");
    // More terms than the trace holds.
    let mut huge = String::from("v=spf1");
    for i in 0..1_200 {
        huge.push_str(&format!(" ip4:10.{}.{}.0/24", i / 256, i % 256));
    }
    huge.push_str(" -all");
    txt(&mut zone, "huge.example", &huge);
    // Multiple records, a syntax error.
    txt(&mut zone, "multi.example", "v=spf1 -all");
    txt(&mut zone, "multi.example", "v=spf1 +all");
    txt(&mut zone, "bad.example", "v=spf1 foo:bar -all");
    zone.add_name("nodata.example");
    zone
}

fn check(zone: &Zone, sender: &str, trace: bool) -> Evaluation {
    let options = CheckOptions::default()
        .with_trace(trace)
        .with_timestamp(1_700_000_000)
        .with_speculation(spf_core::Speculation::OFF);
    let evaluator = Evaluator::new(zone, options);
    let ip = spf_core::parse_ip("192.0.2.1").expect("test IPs are valid");
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(evaluator.check_mail_from(ip, sender, "helo.example.org"))
}

const SENDERS: &[&str] = &[
    "a@main.example",
    "a@pass.example",
    "a@typo.example",
    "a@nowhere.example",
    "a@long.example",
    "a@noexp.example",
    "a@huge.example",
    "a@multi.example",
    "a@bad.example",
    "a@nx.example",
    "a@nodata.example",
    "a@localhost",
];

/// Each check's trace as JSON, one line per sender.
fn rendered() -> String {
    let zone = zone();
    let mut out = String::new();
    for sender in SENDERS {
        let eval = check(&zone, sender, true);
        let json = serde_json::to_string(&eval.trace).expect("json");
        assert_eq!(eval.trace.len(), eval.trace.iter().count(), "{sender}");
        assert_eq!(eval.trace.iter().len(), eval.trace.events().len(), "{sender}");
        out.push_str(&format!("{sender} {} {json}\n", eval.result));
    }
    out
}

#[test]
fn the_trace_renders_as_before() {
    let golden = include_str!("data/trace_golden.txt");
    let now = rendered();
    for (line, (want, got)) in golden.lines().zip(now.lines()).enumerate() {
        assert_eq!(got, want, "line {}", line + 1);
    }
    assert_eq!(now.lines().count(), golden.lines().count());
}

#[test]
fn without_tracing_the_trace_is_empty() {
    let zone = zone();
    for sender in SENDERS {
        let eval = check(&zone, sender, false);
        assert!(eval.trace.is_empty(), "{sender}");
        assert_eq!(serde_json::to_string(&eval.trace).expect("json"), "[]");
    }
}

#[test]
fn terms_skipped_without_a_query_are_each_a_term_event() {
    let mut zone = Zone::new();
    txt(&mut zone, "mod.example", "v=spf1 ip4:10.1.1.1 foo=bar ip4:10.1.1.2 exp=x.mod.example -all");
    let eval = check(&zone, "a@mod.example", true);
    let terms: Vec<(String, bool)> = eval
        .trace
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Term { term, matched, dns_lookups: 0, void_lookups: 0, depth: 0, .. } => {
                Some((term, matched))
            }
            _ => None,
        })
        .collect();
    let want = [("ip4:10.1.1.1", false), ("ip4:10.1.1.2", false), ("-all", true)];
    assert_eq!(terms, want.map(|(t, m)| (t.to_string(), m)));
    // Enter, query, record, the three terms, leave, the exp= query, the
    // explanation.
    assert_eq!(eval.trace.len(), 9, "{:#?}", eval.trace);
}
