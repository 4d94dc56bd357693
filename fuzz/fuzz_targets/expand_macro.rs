//! Any bytes as a macro-string, in both contexts; values for the macros come
//! from the input too. Parsing and expansion never panic, and printing
//! round-trips.
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use spf_core::macros::{MacroContext, MacroString, MacroVars};

fuzz_target!(|data: &[u8]| {
    let (spec, rest) = data.split_at(data.len() / 2);
    let text = String::from_utf8_lossy(rest);
    let mut octets = [0u8; 16];
    for (o, b) in octets.iter_mut().zip(rest.iter()) {
        *o = *b;
    }
    let ip = if rest.first().is_some_and(|b| b & 1 == 0) {
        IpAddr::V6(Ipv6Addr::from(octets))
    } else {
        IpAddr::from([octets[0], octets[1], octets[2], octets[3]])
    };
    let vars = MacroVars {
        sender: &text,
        local_part: &text,
        sender_domain: &text,
        domain: &text,
        ip,
        helo: &text,
        receiver: &text,
        timestamp: u64::from(octets[0]),
        validated_name: &text,
    };
    for context in [MacroContext::Record, MacroContext::Explanation] {
        if let Ok(m) = MacroString::parse(spec, context) {
            let _ = m.expand(&vars);
            let again = MacroString::parse(m.to_string().as_bytes(), context).expect("printed macro parses");
            assert_eq!(again, m);
        }
    }
});
