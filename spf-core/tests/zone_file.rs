//! Tests of the in-memory zone and its master-file loader.

use std::sync::Arc;

use spf_core::dns::{Lookup, LookupError, RecordType, Records, TempFailure, Zone};

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
    let err =
        Zone::from_master_str("bad.example. 300 IN A not-an-address\n", "broken.zone").expect_err("bad A");
    assert!(err.to_string().contains("broken.zone"), "{err}");
    let err = Zone::from_master_file("/nonexistent/demo.zone").expect_err("missing file");
    assert!(matches!(err, spf_core::Error::ZoneIo { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/demo.zone"), "{err}");
}
