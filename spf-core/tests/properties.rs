//! Property tests: the parser and the macro expander never panic, and
//! printed records and macro-strings parse back to the same value.

use std::net::IpAddr;

use proptest::prelude::*;
use spf_core::Record;
use spf_core::macros::{ExpansionBudget, MacroContext, MacroString, MacroVars, truncate_domain};

/// Pieces that records are made of, so random records reach deep paths.
const FRAGMENTS: &[&str] = &[
    "v=spf1",
    " ",
    "  ",
    "+",
    "-",
    "~",
    "?",
    "all",
    "include",
    "a",
    "mx",
    "ptr",
    "ip4",
    "ip6",
    "exists",
    "redirect",
    "exp",
    "=",
    ":",
    "/",
    "//",
    ".",
    "example.com",
    "_spf",
    "%{",
    "}",
    "%%",
    "%_",
    "%-",
    "%",
    "d",
    "i",
    "ir",
    "l1r-",
    "s",
    "o",
    "h",
    "p",
    "v",
    "c",
    "r",
    "t",
    "D",
    "2",
    "0",
    "24",
    "32",
    "128",
    "129",
    "192.0.2.1",
    "2001:db8::1",
    "::ffff:1.2.3.4",
    "foo",
    "-",
    "_",
    "xn--",
    "\0",
    "\r",
    "\u{e9}",
];

fn spf_like() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40).prop_map(|parts| parts.concat())
}

fn well_formed_term() -> impl Strategy<Value = String> {
    let qualifier = prop::sample::select(&["", "+", "-", "~", "?"][..]);
    let domain = prop::sample::select(
        &["example.com", "_spf.example.net", "%{d}", "%{ir}.%{v}._spf.%{d2}", "%{l1r-}.x.example.org"][..],
    );
    let mechanism = (domain, 0u8..=32, 0u8..=128, any::<[u8; 4]>(), any::<[u16; 8]>(), 0u8..8).prop_map(
        |(d, v4, v6, ip4, ip6, kind)| match kind {
            0 => "all".to_string(),
            1 => format!("include:{d}"),
            2 => format!("a:{d}/{v4}//{v6}"),
            3 => format!("mx/{v4}"),
            4 => format!("ptr:{d}"),
            5 => format!("ip4:{}/{v4}", std::net::Ipv4Addr::from(ip4)),
            6 => format!("ip6:{}/{v6}", std::net::Ipv6Addr::from(ip6)),
            _ => format!("exists:{d}"),
        },
    );
    (qualifier, mechanism).prop_map(|(q, m)| format!("{q}{m}"))
}

/// Records of mostly well-formed terms with some random ones mixed in, so
/// about a third parse and exercise the printer.
fn mixed_record() -> impl Strategy<Value = String> {
    let fragment_term = prop::collection::vec(prop::sample::select(FRAGMENTS), 1..6)
        .prop_map(|parts| parts.concat().replace(' ', ""));
    let term = prop_oneof![4 => well_formed_term(), 1 => fragment_term];
    prop::collection::vec(term, 0..8).prop_map(|terms| format!("v=spf1 {}", terms.join(" ")))
}

fn vars_strategy() -> impl Strategy<Value = (String, String, String, String, IpAddr)> {
    (".{0,40}", ".{0,40}", ".{0,60}", ".{0,60}", any::<IpAddr>())
}

/// Macro values from generated strings.
fn vars<'a>(sender: &'a str, local: &'a str, domain: &'a str, helo: &'a str, ip: IpAddr) -> MacroVars<'a> {
    MacroVars {
        sender,
        local_part: local,
        sender_domain: domain,
        domain,
        ip,
        helo,
        receiver: helo,
        timestamp: 0,
        validated_name: domain,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Record::parse_bytes(&bytes);
        let mut with_version = b"v=spf1 ".to_vec();
        with_version.extend_from_slice(&bytes);
        let _ = Record::parse_bytes(&with_version);
    }

    #[test]
    fn parsed_records_round_trip(text in mixed_record()) {
        if let Ok(record) = Record::parse(&text) {
            let printed = record.to_string();
            let again = Record::parse(&printed);
            prop_assert_eq!(again.as_ref(), Ok(&record), "printed as {:?}", printed);
            prop_assert_eq!(again.map(|r| r.to_string()).ok(), Some(printed));
        }
    }

    #[test]
    fn well_formed_records_parse(terms in prop::collection::vec(well_formed_term(), 0..12)) {
        let text = format!("v=spf1 {}", terms.join(" "));
        let record = Record::parse(&text);
        prop_assert!(record.is_ok(), "{} -> {:?}", text, record);
        let record = record.unwrap_or_else(|_| unreachable!());
        prop_assert_eq!(record.terms().len(), terms.len());
        prop_assert_eq!(Record::parse(&record.to_string()), Ok(record));
    }

    #[test]
    fn macros_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        (sender, local, domain, helo, ip) in vars_strategy(),
        timestamp in any::<u64>(),
    ) {
        let vars = MacroVars { timestamp, ..vars(&sender, &local, &domain, &helo, ip) };
        for context in [MacroContext::Record, MacroContext::Explanation] {
            if let Ok(m) = MacroString::parse(&bytes, context) {
                let _ = m.expand(&vars);
                let again = MacroString::parse(m.to_string().as_bytes(), context);
                prop_assert_eq!(again, Ok(m));
            }
        }
    }

    #[test]
    fn spf_like_macros_expand(text in spf_like(), (sender, local, domain, helo, ip) in vars_strategy()) {
        let vars = vars(&sender, &local, &domain, &helo, ip);
        if let Ok(m) = MacroString::parse(text.as_bytes(), MacroContext::Explanation) {
            let _ = m.expand(&vars);
        }
    }

    // Issue 14, item 1: the target built from the right is exactly the
    // whole expansion, lower-cased, without its trailing dot, shortened
    // from the left by whole labels (RFC 7208 §7.3).
    #[test]
    fn domain_expansion_from_the_right_equals_the_whole_expansion(
        text in spf_like(),
        repeat in 1usize..40,
        (sender, local, domain, helo, ip) in vars_strategy(),
    ) {
        let vars = vars(&sender, &local, &domain, &helo, ip);
        let text = text.replace(' ', "").repeat(repeat);
        if let Ok(m) = MacroString::parse(text.as_bytes(), MacroContext::Record) {
            let mut whole = m.expand_text(&vars, usize::MAX, &mut ExpansionBudget::new(usize::MAX));
            whole.make_ascii_lowercase();
            if whole.ends_with('.') {
                whole.pop();
            }
            let expected = truncate_domain(&whole).to_string();
            prop_assert_eq!(m.expand_domain(&vars, &mut ExpansionBudget::new(usize::MAX)), Some(expected));
        }
    }
}
