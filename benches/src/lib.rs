//! Shared data for fastspf's benchmarks and replay harness: a provider-style
//! zone and the workload generator.

#[cfg(feature = "libspf2")]
pub mod libspf2;
#[cfg(feature = "peers")]
pub mod peers;
pub mod workload;

use spf_core::dns::Zone;

/// A zone shaped like a large mail provider's: `bigmail.example` includes
/// `_spf.bigmail.example`, which includes three `_netblocks*` records of
/// ip4/ip6 ranges (about 40 terms in all), plus a few simple domains.
pub fn provider_zone() -> Zone {
    Zone::from_master_str(&provider_zone_text(), "provider")
        .unwrap_or_else(|e| panic!("the provider zone parses: {e}"))
}

/// The master-file text of [`provider_zone`], for feeding the same data to
/// other SPF implementations.
pub fn provider_zone_text() -> String {
    let mut text = String::from("$TTL 3600\n");
    text.push_str("bigmail.example. IN TXT \"v=spf1 include:_spf.bigmail.example ~all\"\n");
    text.push_str(
        "_spf.bigmail.example. IN TXT \"v=spf1 include:_netblocks.bigmail.example \
         include:_netblocks2.bigmail.example include:_netblocks3.bigmail.example ~all\"\n",
    );
    for (n, name) in ["_netblocks", "_netblocks2", "_netblocks3"].iter().enumerate() {
        let mut terms = Vec::new();
        for i in 0..10 {
            terms.push(format!("ip4:{}.{}.{}.0/24", 64 + n, 10 + i, 20 + i));
        }
        for i in 0..4 {
            terms.push(format!("ip6:2001:db8:{:x}{:x}::/48", n + 1, i));
        }
        let record = format!("v=spf1 {} ~all", terms.join(" "));
        text.push_str(&format!("{name}.bigmail.example. IN TXT {}\n", character_strings(&record)));
    }
    text.push_str("direct.example. IN TXT \"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all\"\n");
    text.push_str("strict.example. IN TXT \"v=spf1 ip4:192.0.2.0/24 a mx -all\"\n");
    text.push_str("strict.example. IN A 192.0.2.1\n");
    text.push_str("strict.example. IN MX 10 mail.strict.example.\n");
    text.push_str("mail.strict.example. IN A 192.0.2.2\n");
    text
}

/// A record as master-file TXT data: quoted strings of at most 255 octets
/// each (RFC 1035 §3.3.14), which readers join without a separator (RFC
/// 7208 §3.3).
pub fn character_strings(record: &str) -> String {
    let strings: Vec<String> = record
        .as_bytes()
        .chunks(255)
        .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
        .collect();
    strings.join(" ")
}

/// The warm checks every benchmark runs, `(name, client ip, mail from)`,
/// against [`provider_zone`], with HELO `helo.example`.
pub const WARM_CASES: [(&str, &str, &str); 4] = [
    ("direct_ip4_match", "192.0.2.77", "a@direct.example"),
    ("include_chain_3_deep", "66.15.25.9", "a@bigmail.example"),
    ("miss_to_all", "203.0.113.9", "a@direct.example"),
    ("ipv6_client_chain", "2001:db8:33::25", "a@bigmail.example"),
];

/// A record like large providers publish: about 40 ip4/ip6 terms.
pub const PROVIDER_RECORD: &str = "v=spf1 ip4:64.10.20.0/24 ip4:64.11.21.0/24 ip4:64.12.22.0/24 \
    ip4:64.13.23.0/24 ip4:64.14.24.0/24 ip4:64.15.25.0/24 ip4:64.16.26.0/24 ip4:64.17.27.0/24 \
    ip4:64.18.28.0/24 ip4:64.19.29.0/24 ip4:65.10.20.0/24 ip4:65.11.21.0/24 ip4:65.12.22.0/24 \
    ip4:65.13.23.0/24 ip4:65.14.24.0/24 ip4:65.15.25.0/24 ip4:65.16.26.0/24 ip4:65.17.27.0/24 \
    ip4:65.18.28.0/24 ip4:65.19.29.0/24 ip4:66.10.20.0/24 ip4:66.11.21.0/24 ip4:66.12.22.0/24 \
    ip4:66.13.23.0/24 ip4:66.14.24.0/24 ip4:66.15.25.0/24 ip6:2001:db8:10::/48 ip6:2001:db8:11::/48 \
    ip6:2001:db8:12::/48 ip6:2001:db8:13::/48 ip6:2001:db8:20::/48 ip6:2001:db8:21::/48 \
    ip6:2001:db8:22::/48 ip6:2001:db8:23::/48 ip6:2001:db8:30::/48 ip6:2001:db8:31::/48 \
    ip6:2001:db8:32::/48 ip6:2001:db8:33::/48 include:_spf.example.net ~all";

/// A record that leans on macros.
pub const MACRO_RECORD: &str = "v=spf1 exists:%{ir}.%{l1r-}.%{d}._spf.example.com \
    exists:%{i}._ip.%{h}._ehlo.%{d2}.example.net include:%{d3r+-}.example.org \
    a:%{o}.mail.example.com/24//64 -all exp=explain.%{d}";
