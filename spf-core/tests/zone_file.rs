//! Tests of the in-memory zone and its master-file loader.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use spf_core::dns::{ChainEnd, CnameHop, MAX_CNAME_HOPS, name_labels, name_text};
use spf_core::dns::{Lookup, LookupError, LookupResult, RecordType, Records, TempFailure, Zone};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(f)
}

const MASTER: &str = r#"
; two zones in one file, no SOA
$TTL 600
$ORIGIN example.com.
@           IN TXT   "v=spf1 " "ip4:192.0.2.0/24" " -all"
mail        IN A     192.0.2.10
mail   300  IN A     192.0.2.11
mail        IN AAAA  2001:db8::10
@           IN MX    20 backup.example.com.
@           IN MX    10 mail
alias       IN CNAME mail.example.com.
deep.sub    IN TXT   "hello"
weird       IN TXT   "nul\000byte" "high\255byte" "sp\032ace\034q\092" "a\"b"
nullmx      IN MX    0 .
EXAMPLE.NET. 120 IN TXT "v=spf1 -all"
1.2.0.192.in-addr.arpa. IN PTR mail.example.com.
"#;

fn zone() -> Zone {
    Zone::from_master_str(MASTER, "test.zone").expect("the master file parses")
}

#[test]
fn several_zones_origin_and_ttl() {
    let zone = zone();
    let answer = block_on(zone.lookup("example.com", RecordType::Txt)).expect("TXT");
    let Records::Txt(txt) = &answer.records else { panic!("not TXT") };
    assert_eq!(txt.records().len(), 1);
    assert_eq!(txt.records()[0].len(), 3, "strings stay separate");
    assert_eq!(txt.joined().next(), Some(b"v=spf1 ip4:192.0.2.0/24 -all".to_vec()));
    assert_eq!(answer.ttl, 600);
    let net = block_on(zone.lookup("example.net", RecordType::Txt)).expect("TXT at example.net");
    assert_eq!(net.ttl, 120);
}

#[test]
fn rrset_ttl_is_the_smallest() {
    let zone = zone();
    let answer = block_on(zone.lookup("mail.example.com", RecordType::A)).expect("A");
    assert_eq!(answer.ttl, 300);
    let Records::A(addrs) = &answer.records else { panic!("not A") };
    assert_eq!(addrs.len(), 2);
}

#[test]
fn nxdomain_nodata_and_empty_non_terminals() {
    let zone = zone();
    assert!(matches!(
        block_on(zone.lookup("nope.example.com", RecordType::A)),
        Err(LookupError::NxDomain { .. })
    ));
    assert!(matches!(
        block_on(zone.lookup("mail.example.com", RecordType::Txt)),
        Err(LookupError::NoData { .. })
    ));
    // sub.example.com owns nothing, but deep.sub.example.com exists below it.
    assert!(matches!(
        block_on(zone.lookup("sub.example.com", RecordType::Txt)),
        Err(LookupError::NoData { .. })
    ));
}

#[test]
fn txt_keeps_nul_and_high_bytes() {
    let zone = zone();
    let answer = block_on(zone.lookup("weird.example.com", RecordType::Txt)).expect("TXT");
    let Records::Txt(txt) = &answer.records else { panic!("not TXT") };
    assert_eq!(&*txt.records()[0][0], b"nul\0byte");
    assert_eq!(&*txt.records()[0][1], b"high\xffbyte");
    assert_eq!(&*txt.records()[0][2], b"sp ace\"q\\");
    assert_eq!(&*txt.records()[0][3], b"a\"b");
}

/// A TXT record of no strings (illegal, RFC 1035 §3.3.14, but served by
/// hostile servers and by the RFC 7208 suite's `null-text`) loads beside
/// the real record, and the SPF record is still found.
#[test]
fn txt_of_no_strings_loads_beside_a_record() {
    let zone = Zone::from_master_str(
        "null.example.com. 300 IN TXT \"v=spf1 ip4:\" \"192.0.2.5 -all\"\nnull.example.com. 300 IN TXT\n",
        "<test>",
    )
    .expect("loads");
    let answer = block_on(zone.lookup("null.example.com", RecordType::Txt)).expect("TXT");
    let Records::Txt(txt) = &answer.records else { panic!("not TXT") };
    assert_eq!(txt.records().len(), 2);
    assert!(txt.records().iter().any(|r| r.is_empty()));
    assert!(matches!(txt.spf(), spf_core::record::SpfSelection::One(Ok(_))), "{:?}", txt.spf());
}

#[test]
fn cname_is_followed_and_loops_end() {
    let zone = zone();
    let answer = block_on(zone.lookup("alias.example.com", RecordType::Aaaa)).expect("AAAA via CNAME");
    assert!(matches!(answer.records, Records::Aaaa(ref a) if a.len() == 1));
    let mut looped = Zone::new();
    looped.add_cname("a.example", "b.example");
    looped.add_cname("b.example", "a.example");
    assert!(matches!(
        block_on(looped.lookup("a.example", RecordType::A)),
        Err(LookupError::Temporary(TempFailure::Other(_)))
    ));
}

#[test]
fn mx_in_preference_order_and_null_mx() {
    let zone = zone();
    let answer = block_on(zone.lookup("example.com", RecordType::Mx)).expect("MX");
    let Records::Mx(names) = &answer.records else { panic!("not MX") };
    assert_eq!(names.iter().map(|n| &**n).collect::<Vec<_>>(), ["mail.example.com", "backup.example.com"]);
    let null = block_on(zone.lookup("nullmx.example.com", RecordType::Mx)).expect("null MX");
    assert!(matches!(null.records, Records::Mx(ref n) if n.len() == 1 && n[0].is_empty()));
}

#[test]
fn names_are_case_insensitive() {
    let zone = zone();
    assert!(block_on(zone.lookup("Example.NET", RecordType::Txt)).is_ok());
    assert!(block_on(zone.lookup("example.net.", RecordType::Txt)).is_ok());
    let ptr = block_on(zone.lookup("1.2.0.192.IN-ADDR.ARPA", RecordType::Ptr)).expect("PTR");
    assert!(matches!(ptr.records, Records::Ptr(ref n) if &*n[0] == "mail.example.com"));
}

#[test]
fn the_same_txt_answer_is_shared() {
    let zone = zone();
    let first = block_on(zone.lookup("example.com", RecordType::Txt)).expect("TXT");
    let second = block_on(zone.lookup("example.com", RecordType::Txt)).expect("TXT");
    match (first.records, second.records) {
        (Records::Txt(a), Records::Txt(b)) => assert!(Arc::ptr_eq(&a, &b), "parsed SPF is cached once"),
        _ => panic!("not TXT"),
    }
}

#[test]
fn timeouts_only_for_types_without_records() {
    let mut zone = Zone::new();
    zone.add_txt("t.example", vec![b"v=spf1 -all".to_vec()]);
    zone.add_timeout("t.example");
    assert!(block_on(zone.lookup("t.example", RecordType::Txt)).is_ok());
    assert_eq!(
        block_on(zone.lookup("t.example", RecordType::A)).err(),
        Some(LookupError::Temporary(TempFailure::Timeout))
    );
}

#[test]
fn queries_are_counted_and_logged() {
    let zone = zone();
    let _ = block_on(zone.lookup("example.com", RecordType::Txt));
    let _ = block_on(zone.lookup("nope.example", RecordType::A));
    assert_eq!(zone.query_count(), 2);
    assert_eq!(
        zone.queries(),
        vec![("example.com".to_string(), RecordType::Txt), ("nope.example".to_string(), RecordType::A)]
    );
    zone.reset_queries();
    assert_eq!(zone.query_count(), 0);
}

#[test]
fn obsolete_spf_rr_is_noted_not_served() {
    let zone =
        Zone::from_master_str("old.example. 300 IN SPF \"v=spf1 -all\"\n", "spf.zone").expect("parses");
    assert_eq!(zone.spf_rr_names(), vec!["old.example".to_string()]);
    assert!(matches!(block_on(zone.lookup("old.example", RecordType::Txt)), Err(LookupError::NoData { .. })));
}

#[test]
fn errors_name_the_source() {
    let err = Zone::from_master_str(
        "ok.example. 300 IN A 192.0.2.1\nbad.example. 300 IN A not-an-address\n",
        "broken.zone",
    )
    .expect_err("bad A");
    assert_eq!(err.to_string(), "broken.zone:2: bad IPv4 address not-an-address");
    let err = Zone::from_master_file("/nonexistent/demo.zone").expect_err("missing file");
    assert!(matches!(err, spf_core::Error::ZoneIo { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/demo.zone"), "{err}");
}

fn data(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/zone").join(file)
}

fn addrs(result: LookupResult) -> Vec<Ipv4Addr> {
    match result {
        Ok(answer) => match answer.records {
            Records::A(a) => a.to_vec(),
            other => panic!("not A: {other:?}"),
        },
        Err(e) => panic!("no A: {e}"),
    }
}

fn syntax_error(text: &str) -> (usize, String) {
    match Zone::from_master_str(text, "t.zone") {
        Err(spf_core::Error::ZoneSyntax { path, line, message }) => {
            assert_eq!(path, "t.zone");
            (line, message)
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

/// Issue 15: an error on line 70 of a file says `FILE:70:`.
#[test]
fn errors_give_the_file_and_line() {
    let path = data("typo-line-70.zone");
    let err = Zone::from_master_file(&path).expect_err("TXTT is no type");
    assert!(matches!(err, spf_core::Error::ZoneSyntax { line: 70, .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("{}:70: record type string unknown: TXTT", path.display()));
    // The line of the offending token, also inside parentheses and after
    // comments and blank lines.
    assert_eq!(syntax_error("\n; comment\n\na.example. 300 IN A 1.2.3.4.5\n").0, 4);
    assert_eq!(
        syntax_error("a.example. 300 IN TXT ( \"x\"\n  \"y\"\n  junk\\\n)\n"),
        (3, "'\\' at the end of junk\\".into())
    );
    assert_eq!(syntax_error("a.example. 300 IN MX ( 10\n\n  b.example. c.example. )\n").0, 3);
    assert_eq!(
        syntax_error("a.example. 300 IN TXT ( \"x\"\nb.example. IN A 192.0.2.1\n"),
        (1, "'(' without ')'".into())
    );
    assert_eq!(syntax_error("a.example. IN TXT \"open\n").0, 1);
    assert_eq!(syntax_error("a.example. IN TXT x )\n").0, 1);
    assert_eq!(syntax_error("$TTL 300\n  IN A 192.0.2.1\n").0, 2, "no owner yet");
    assert_eq!(syntax_error("a.example.\n").0, 1, "no type");
    assert_eq!(syntax_error("$INCLUDE /etc/passwd\n").1, "$INCLUDE is not supported: load each file instead");
    assert_eq!(syntax_error("$GENERATE 1-2 h$ A 192.0.2.$\n").1, "unknown directive $GENERATE");
    assert_eq!(
        syntax_error("a.example. IN A \\# 4 C0000201\n").1,
        "RFC 3597 data (\\#) is not supported for A"
    );
    assert_eq!(syntax_error("a.example. 1x IN A 192.0.2.1\n").1, "bad TTL 1x");
}

#[test]
fn a_failed_load_adds_nothing() {
    let mut zone = Zone::new();
    let err =
        zone.load_master_str("first.example. 300 IN A 192.0.2.1\nsecond.example. IN TXTT x\n", "t.zone");
    assert!(err.is_err());
    assert!(matches!(
        block_on(zone.lookup("first.example", RecordType::A)),
        Err(LookupError::NxDomain { .. })
    ));
}

#[test]
fn master_file_forms() {
    let zone =
        Zone::from_master_file(data("typo-line-70.zone").with_file_name("escaped.zone")).expect("loads");
    assert!(block_on(zone.lookup("foo:bar/baz.example.com", RecordType::A)).is_ok());
    let zone = Zone::from_master_str(
        concat!(
            "$ORIGIN example.\n",
            "$TTL 1h30m\n",
            "a IN 60 A 192.0.2.1 ; class before TTL\n",
            "  A 192.0.2.2       ; the same owner, the last TTL given\n",
            "b CLASS1 TYPE16 ( \"v=spf1\"\n \" -all\" )\n",
            "c NS ns.example.\n",
            "d TYPE65280 \\# 0\n",
            "e CH TXT \"not served\"\n",
            "f SRV 0 5 25 mail\n",
            "@ SOA ns hostmaster 1 1h 10m 1w 5m\n",
            "$ORIGIN sub\n",
            "g A 192.0.2.3\n",
            "dup A 192.0.2.4\n",
            "dup 30 A 192.0.2.4\n",
        ),
        "forms.zone",
    )
    .expect("loads");
    let a = block_on(zone.lookup("a.example", RecordType::A)).expect("A");
    assert_eq!(a.ttl, 60);
    assert!(matches!(a.records, Records::A(ref v) if v.len() == 2));
    let b = block_on(zone.lookup("b.example", RecordType::Txt)).expect("TXT as TYPE16");
    assert_eq!(b.ttl, 5400, "$TTL 1h30m");
    let Records::Txt(txt) = &b.records else { panic!("TXT") };
    assert_eq!(txt.joined().next(), Some(b"v=spf1 -all".to_vec()));
    for name in ["c.example", "d.example", "f.example"] {
        assert!(
            matches!(block_on(zone.lookup(name, RecordType::A)), Err(LookupError::NoData { ttl: 300 })),
            "{name} exists; the SOA gives a negative TTL of 5m"
        );
    }
    assert!(matches!(block_on(zone.lookup("e.example", RecordType::Txt)), Err(LookupError::NxDomain { .. })));
    assert_eq!(addrs(block_on(zone.lookup("g.sub.example", RecordType::A))), [Ipv4Addr::new(192, 0, 2, 3)]);
    let dup = block_on(zone.lookup("dup.sub.example", RecordType::A)).expect("A");
    assert_eq!((dup.records.len(), dup.ttl), (1, 30), "an RRset is a set; its TTL the smallest");
}

/// RFC 1035 §3.3 and §2.3.4: a string of 255 octets, a label of 63 and a
/// name of 255 load; one octet more does not.
#[test]
fn master_file_bounds() {
    let string = "x".repeat(255);
    assert!(Zone::from_master_str(&format!("a.example. IN TXT \"{string}\"\n"), "t").is_ok());
    assert_eq!(
        syntax_error(&format!("a.example. IN TXT \"{string}y\"\n")).1,
        "string of 256 octets, longer than 255"
    );
    let escaped = "\\255".repeat(255);
    assert!(
        Zone::from_master_str(&format!("a.example. IN TXT \"{escaped}\"\n"), "t").is_ok(),
        "octets, not escapes, count"
    );
    let label = "l".repeat(63);
    assert!(Zone::from_master_str(&format!("{label}.example. IN A 192.0.2.1\n"), "t").is_ok());
    assert!(syntax_error(&format!("{label}l.example. IN A 192.0.2.1\n")).1.contains("longer than 63 octets"));
    // 4 labels of 63 and one of 0..: wire length = 4 * 64 + 1 = 257; use 3 * 64 + 62 + 1 = 255.
    let name = format!("{label}.{label}.{label}.{}.", "m".repeat(61));
    assert!(Zone::from_master_str(&format!("{name} IN A 192.0.2.1\n"), "t").is_ok());
    let long = format!("{label}.{label}.{label}.{}.", "m".repeat(62));
    assert!(syntax_error(&format!("{long} IN A 192.0.2.1\n")).1.contains("longer than 255 octets"));
    let strings = vec![format!("\"{string}\""); 256].join(" ");
    assert!(syntax_error(&format!("a.example. IN TXT {strings}\n")).1.contains("longer than 65535 octets"));
}

/// Issue 14: owner names with `\DDD` and `\X` escapes load (as BIND and
/// Knot load them) and a lookup of the name they spell finds them.
#[test]
fn escaped_owner_names_load_and_match() {
    let zone = Zone::from_master_file(data("escaped.zone")).expect("escaped names load");
    let a = |name: &str| addrs(block_on(zone.lookup(name, RecordType::A)));
    assert_eq!(a("foo:bar/baz.example.com"), [Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(a("FOO:BAR/BAZ.example.com."), [Ipv4Addr::new(192, 0, 2, 1)], "ASCII case-insensitive");
    assert!(block_on(zone.lookup("foo:bar/baz.example.com", RecordType::Txt)).is_ok());
    assert_eq!(a("mixedcase.example.com"), [Ipv4Addr::new(192, 0, 2, 2)], "\\067 is C");
    // Escapes in targets: MX, CNAME, PTR.
    let mx = block_on(zone.lookup("mx.example.com", RecordType::Mx)).expect("MX");
    assert!(matches!(mx.records, Records::Mx(ref n) if &*n[0] == "mail:one.example.com"), "{mx:?}");
    assert_eq!(a("mail:one.example.com"), [Ipv4Addr::new(192, 0, 2, 3)], "\\: is :");
    assert_eq!(a("alias.example.com"), [Ipv4Addr::new(192, 0, 2, 1)], "CNAME to an escaped name");
    let ptr = block_on(zone.lookup("1.2.0.192.in-addr.arpa", RecordType::Ptr)).expect("PTR");
    assert!(matches!(ptr.records, Records::Ptr(ref n) if &*n[0] == "ptr/target.example.com"), "{ptr:?}");
    // `\046` is a dot inside a label: another name than dot.inside.
    assert_eq!(a("dot.inside.example.com"), [Ipv4Addr::new(192, 0, 2, 5)]);
    assert_eq!(a(".dot\\046inside.example.com"), [Ipv4Addr::new(192, 0, 2, 4)], "the escaped form");
    // `\\` is one backslash, which literal text writes as itself.
    assert_eq!(a("back\\slash.example.com"), [Ipv4Addr::new(192, 0, 2, 7)]);
    // A label that is not UTF-8 loads; only the escaped form asks for it.
    assert_eq!(a(".high\\200byte.example.com"), [Ipv4Addr::new(192, 0, 2, 6)]);
    assert!(
        matches!(
            block_on(zone.lookup("high\\200byte.example.com", RecordType::A)),
            Err(LookupError::NxDomain { .. })
        ),
        "literal text: a backslash and three digits"
    );
    assert!(
        matches!(
            block_on(zone.lookup("high\u{80}byte.example.com", RecordType::A)),
            Err(LookupError::NxDomain { .. })
        ),
        "U+0080 is C2 80, not 80"
    );
}

#[test]
fn name_text_and_labels_round_trip() {
    let cases: [(&[&[u8]], &str); 5] = [
        (&[b"foo:bar/baz", b"example"], "foo:bar/baz.example"),
        (&[b"Back\\slash", b"example"], "Back\\slash.example"),
        (&[b"dot.inside", b"example"], ".dot\\046inside.example"),
        (&[b"high\x80", b"example"], ".high\\128.example"),
        (&[], ""),
    ];
    for (labels, text) in cases {
        assert_eq!(name_text(labels), text);
        let lower: Vec<Vec<u8>> = labels.iter().map(|l| l.to_ascii_lowercase()).collect();
        assert_eq!(name_labels(text), lower, "{text}");
    }
    assert_eq!(name_labels("a.b."), [b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(name_labels(".a\\.b.c"), [b"a.b".to_vec(), b"c".to_vec()], "\\X in the escaped form");
}

/// Names no literal text can write are given out escaped, and that text
/// finds them.
#[test]
fn targets_text_cannot_write_are_given_out_escaped() {
    let zone = Zone::from_master_str(
        "a.example. IN MX 10 mx\\200.example.\nmx\\200.example. IN A 192.0.2.9\nb.example. IN PTR x\\.y.example.\n",
        "t",
    )
    .expect("loads");
    let mx = block_on(zone.lookup("a.example", RecordType::Mx)).expect("MX");
    let Records::Mx(names) = mx.records else { panic!("MX") };
    assert_eq!(&*names[0], ".mx\\200.example");
    assert_eq!(addrs(block_on(zone.lookup(&names[0], RecordType::A))), [Ipv4Addr::new(192, 0, 2, 9)]);
    let ptr = block_on(zone.lookup("b.example", RecordType::Ptr)).expect("PTR");
    assert!(matches!(ptr.records, Records::Ptr(ref n) if &*n[0] == ".x\\046y.example"), "{ptr:?}");
}

fn chain_zone(hops: usize) -> Zone {
    let mut zone = Zone::new();
    zone.set_ttl(60);
    for i in 0..hops {
        zone.add_cname(&format!("h{i}.example"), &format!("h{}.example", i + 1));
    }
    zone.add_a(&format!("h{hops}.example"), Ipv4Addr::new(192, 0, 2, 1));
    zone
}

#[test]
fn cname_chain_shows_every_hop() {
    let zone = chain_zone(2);
    let chain = zone.cname_chain("H0.example.", RecordType::A, MAX_CNAME_HOPS);
    let hop = |a: &str, t: &str| (a.to_string(), t.to_string(), 60);
    let hops: Vec<_> =
        chain.hops.iter().map(|h: &CnameHop| (h.alias.clone(), h.target.clone(), h.ttl)).collect();
    assert_eq!(hops, [hop("h0.example", "h1.example"), hop("h1.example", "h2.example")]);
    assert!(matches!(chain.end, ChainEnd::Answer(Ok(ref a)) if a.records.len() == 1));
    // The end can be a negative answer for the last name.
    let chain = zone.cname_chain("h0.example", RecordType::Txt, MAX_CNAME_HOPS);
    assert_eq!(chain.hops.len(), 2);
    assert!(matches!(chain.end, ChainEnd::Answer(Err(LookupError::NoData { .. }))));
    // No alias: no hops. The chain is not counted as a lookup.
    let chain = zone.cname_chain("h2.example", RecordType::A, MAX_CNAME_HOPS);
    assert!(chain.hops.is_empty() && matches!(chain.end, ChainEnd::Answer(Ok(_))));
    assert_eq!(zone.query_count(), 0);
    // A hop limit of 0 stops at the first alias.
    let chain = zone.cname_chain("h0.example", RecordType::A, 0);
    assert!(chain.hops.is_empty() && matches!(chain.end, ChainEnd::TooLong));
}

/// MAX_CNAME_HOPS hops resolve; one more is a temporary error.
#[test]
fn cname_hops_at_and_past_the_bound() {
    assert_eq!(MAX_CNAME_HOPS, 8);
    let at = chain_zone(MAX_CNAME_HOPS);
    assert_eq!(addrs(block_on(at.lookup("h0.example", RecordType::A))), [Ipv4Addr::new(192, 0, 2, 1)]);
    let chain = at.cname_chain("h0.example", RecordType::A, MAX_CNAME_HOPS);
    assert_eq!(chain.hops.len(), MAX_CNAME_HOPS);
    assert!(matches!(chain.end, ChainEnd::Answer(Ok(_))));
    let past = chain_zone(MAX_CNAME_HOPS + 1);
    assert!(matches!(
        block_on(past.lookup("h0.example", RecordType::A)),
        Err(LookupError::Temporary(TempFailure::Other(_)))
    ));
    let chain = past.cname_chain("h0.example", RecordType::A, MAX_CNAME_HOPS);
    assert_eq!(chain.hops.len(), MAX_CNAME_HOPS);
    assert!(matches!(chain.end, ChainEnd::TooLong));
    // A server following up to 16 hops reaches the data.
    let chain = past.cname_chain("h0.example", RecordType::A, 16);
    assert_eq!(chain.hops.len(), MAX_CNAME_HOPS + 1);
    assert!(matches!(chain.end, ChainEnd::Answer(Ok(_))));
}

#[test]
fn cname_loops_stop_at_the_first_repeat() {
    let mut zone = Zone::new();
    zone.add_cname("a.example", "b.example");
    zone.add_cname("b.example", "a.example");
    zone.add_cname("self.example", "SELF.example.");
    let chain = zone.cname_chain("a.example", RecordType::Txt, 16);
    let names: Vec<_> = chain.hops.iter().map(|h| (h.alias.as_str(), h.target.as_str())).collect();
    assert_eq!(names, [("a.example", "b.example"), ("b.example", "a.example")]);
    assert!(matches!(chain.end, ChainEnd::Loop));
    let chain = zone.cname_chain("self.example", RecordType::Txt, 16);
    assert_eq!(chain.hops.len(), 1);
    assert!(matches!(chain.end, ChainEnd::Loop));
    assert!(matches!(
        block_on(zone.lookup("self.example", RecordType::Txt)),
        Err(LookupError::Temporary(TempFailure::Other(_)))
    ));
}

#[test]
fn cname_queries() {
    let zone = zone();
    let hop = zone.cname("Alias.example.com").expect("an alias");
    assert_eq!(
        (hop.alias.as_str(), hop.target.as_str(), hop.ttl),
        ("alias.example.com", "mail.example.com", 600)
    );
    assert!(matches!(zone.cname("mail.example.com"), Err(LookupError::NoData { .. })));
    assert!(matches!(zone.cname("sub.example.com"), Err(LookupError::NoData { .. })), "empty non-terminal");
    assert!(matches!(zone.cname("nope.example.com"), Err(LookupError::NxDomain { .. })));
}
