//! A deterministic workload shaped like real mail: a master file of sender
//! domains with records like real ones, and a corpus of checks skewed by a
//! Zipf distribution over those domains.

use std::fmt::Write as _;

/// SplitMix64: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// What a generated sender domain publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `include:` of one provider.
    Provider(usize),
    /// `include:` of two providers (mail from either).
    TwoProviders(usize, usize),
    /// `mx` and a provider.
    MxProvider(usize),
    /// Its own ip4/ip6 list.
    Ranges,
    /// `a mx`.
    AMx,
    /// `redirect=` to a provider.
    Redirect(usize),
    /// `exists:` with macros.
    Exists,
    /// `ptr`.
    Ptr,
    /// No SPF record.
    NoRecord,
    /// A syntax error.
    Broken,
    /// More than 10 DNS-querying terms.
    OverLimit,
}

/// The generated zone and corpus.
#[derive(Debug)]
pub struct Workload {
    /// RFC 1035 master-file text.
    pub zone: String,
    /// One check per line: `ip<TAB>mail_from<TAB>helo`.
    pub corpus: String,
}

const PROVIDERS: usize = 12;

/// A provider's record tree, shaped like the large ones: the leaves hold
/// the address ranges, each leaf a /18 of the provider's /16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `_spf` with the ranges itself (a small sending service).
    Flat,
    /// `_spf` -> three sibling netblock records (like `_spf.google.com`).
    FanOut,
    /// `_spf` -> two records -> two leaves each (like Microsoft's).
    TwoLevel,
    /// `_spf` -> `_nb1` -> `_nb2` -> `_nb3`, each with ranges: a chain.
    Chain,
}

fn shape(p: usize) -> Shape {
    match p % 4 {
        0 => Shape::FanOut,
        1 => Shape::TwoLevel,
        2 => Shape::Flat,
        _ => Shape::Chain,
    }
}

/// Writes a TXT record, split into character-strings of at most 255 octets
/// (longer ones cannot be served).
fn txt(zone: &mut String, name: &str, record: &str) {
    let strings: Vec<String> =
        record.as_bytes().chunks(250).map(|c| format!("\"{}\"", String::from_utf8_lossy(c))).collect();
    let _ = writeln!(zone, "{name}. IN TXT {}", strings.join(" "));
}

/// A leaf's ranges: its /18 of the provider's /16, a few /24s, an IPv6 /48.
fn leaf_terms(p: usize, leaf: usize) -> String {
    let mut terms: Vec<String> =
        (0..4).map(|i| format!("ip4:100.{}.{}.0/24", 64 + p, leaf * 64 + 32 + i)).collect();
    terms.push(format!("ip6:2001:db8:{:x}:{leaf:x}::/64", 0x100 + p));
    terms.push(format!("ip4:100.{}.{}.0/18", 64 + p, leaf * 64));
    terms.join(" ")
}

/// How many leaves (address blocks) a provider's tree has.
fn leaves(p: usize) -> usize {
    match shape(p) {
        Shape::Flat => 1,
        Shape::FanOut => 3,
        Shape::TwoLevel => 4,
        Shape::Chain => 4,
    }
}

fn provider_zone(zone: &mut String, p: usize) {
    let top = format!("_spf.p{p}.gen.example");
    let name = |label: &str| format!("{label}.p{p}.gen.example");
    match shape(p) {
        Shape::Flat => txt(zone, &top, &format!("v=spf1 {} ~all", leaf_terms(p, 0))),
        Shape::FanOut => {
            let includes: Vec<String> =
                (0..3).map(|k| format!("include:{}", name(&format!("_nb{k}")))).collect();
            txt(zone, &top, &format!("v=spf1 {} ~all", includes.join(" ")));
            for k in 0..3 {
                txt(zone, &name(&format!("_nb{k}")), &format!("v=spf1 {} ~all", leaf_terms(p, k)));
            }
        }
        Shape::TwoLevel => {
            txt(zone, &top, &format!("v=spf1 include:{} include:{} -all", name("_a"), name("_b")));
            for (half, label) in ["_a", "_b"].into_iter().enumerate() {
                let kids: Vec<String> = (0..2).map(|k| name(&format!("{label}{k}"))).collect();
                txt(zone, &name(label), &format!("v=spf1 include:{} include:{} -all", kids[0], kids[1]));
                for (k, kid) in kids.iter().enumerate() {
                    txt(zone, kid, &format!("v=spf1 {} -all", leaf_terms(p, half * 2 + k)));
                }
            }
        }
        Shape::Chain => {
            for level in 0..4 {
                let here = if level == 0 { top.clone() } else { name(&format!("_nb{level}")) };
                let next = if level < 3 {
                    format!(" include:{}", name(&format!("_nb{}", level + 1)))
                } else {
                    String::new()
                };
                txt(zone, &here, &format!("v=spf1 {}{next} ~all", leaf_terms(p, level)));
            }
        }
    }
}

/// An address a provider authorizes (IPv4 or IPv6), in one of its leaves.
fn provider_ip(rng: &mut Rng, p: usize, v6: bool) -> String {
    let leaf = rng.below(leaves(p) as u64);
    if v6 {
        format!("2001:db8:{:x}:{leaf:x}::{:x}", 0x100 + p, rng.below(0xffff) + 1)
    } else {
        format!("100.{}.{}.{}", 64 + p, leaf * 64 + rng.below(64), rng.below(256))
    }
}

impl Workload {
    /// The corpus's checks: (client IP, MAIL FROM, HELO) per line.
    pub fn checks(&self) -> Vec<(std::net::IpAddr, String, String)> {
        self.corpus
            .lines()
            .map(|line| {
                let mut f = line.split('\t');
                let ip = f
                    .next()
                    .and_then(|ip| ip.parse().ok())
                    .expect("a generated corpus line starts with an IP");
                (ip, f.next().unwrap_or("").to_string(), f.next().unwrap_or("").to_string())
            })
            .collect()
    }
}

/// Generates `domains` sender domains and `queries` checks.
pub fn generate(seed: u64, domains: usize, queries: usize) -> Workload {
    let mut rng = Rng::new(seed);
    let mut zone = String::from("; generated by fastspf-bench gen\n$TTL 3600\n");
    for p in 0..PROVIDERS {
        provider_zone(&mut zone, p);
    }
    let provider = |rng: &mut Rng| rng.below(PROVIDERS as u64) as usize;
    let kinds: Vec<Kind> = (0..domains)
        .map(|_| match rng.below(100) {
            0..=24 => Kind::Provider(provider(&mut rng)),
            25..=36 => {
                let a = provider(&mut rng);
                Kind::TwoProviders(a, (a + 1 + rng.below(PROVIDERS as u64 - 1) as usize) % PROVIDERS)
            }
            37..=41 => Kind::MxProvider(provider(&mut rng)),
            42..=57 => Kind::Ranges,
            58..=66 => Kind::AMx,
            67..=74 => Kind::Redirect(provider(&mut rng)),
            75..=78 => Kind::Exists,
            79..=81 => Kind::Ptr,
            82..=90 => Kind::NoRecord,
            91..=95 => Kind::Broken,
            _ => Kind::OverLimit,
        })
        .collect();
    for (i, kind) in kinds.iter().enumerate() {
        let d = format!("d{i}.gen.example");
        let net = format!("10.{}.{}", (i >> 8) & 0xff, i & 0xff);
        let record = match kind {
            Kind::Provider(p) => format!("v=spf1 include:_spf.p{p}.gen.example -all"),
            Kind::TwoProviders(p, q) => {
                format!("v=spf1 include:_spf.p{p}.gen.example include:_spf.p{q}.gen.example ~all")
            }
            Kind::MxProvider(p) => {
                let _ = writeln!(zone, "{d}. IN MX 10 mx.{d}.\nmx.{d}. IN A {net}.2");
                format!("v=spf1 mx include:_spf.p{p}.gen.example -all")
            }
            Kind::Ranges => format!("v=spf1 ip4:{net}.0/24 ip6:2001:db8:{:x}::/48 -all", i & 0xffff),
            Kind::AMx => {
                let _ = writeln!(zone, "{d}. IN A {net}.1\n{d}. IN MX 10 mx.{d}.\nmx.{d}. IN A {net}.2");
                "v=spf1 a mx -all".to_string()
            }
            Kind::Redirect(p) => format!("v=spf1 redirect=_spf.p{p}.gen.example"),
            Kind::Exists => {
                let _ = writeln!(zone, "{net}.1._ip.{d}. IN A 127.0.0.2");
                "v=spf1 exists:%{i}._ip.%{d} -all".to_string()
            }
            Kind::Ptr => {
                let _ = writeln!(
                    zone,
                    "1.{}.{}.10.in-addr.arpa. IN PTR mail.{d}.\nmail.{d}. IN A {net}.1",
                    i & 0xff,
                    (i >> 8) & 0xff
                );
                "v=spf1 ptr -all".to_string()
            }
            Kind::NoRecord => {
                let _ = writeln!(zone, "{d}. IN A {net}.1");
                continue;
            }
            Kind::Broken => format!("v=spf1 ip4:{net}.0/33 -all"),
            Kind::OverLimit => {
                let terms: Vec<String> = (0..11).map(|k| format!("a:h{k}.{d}")).collect();
                format!("v=spf1 {} -all", terms.join(" "))
            }
        };
        txt(&mut zone, &d, &record);
    }
    // Zipf (s = 1) over the domains: rank r has weight 1/r.
    let mut cdf = Vec::with_capacity(domains);
    let mut total = 0.0;
    for r in 1..=domains {
        total += 1.0 / r as f64;
        cdf.push(total);
    }
    let mut corpus = String::new();
    for _ in 0..queries {
        let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let i = cdf.partition_point(|&c| c < x).min(domains.saturating_sub(1));
        let v6 = rng.chance(0.15);
        let authorized = rng.chance(0.7);
        let net = format!("10.{}.{}", (i >> 8) & 0xff, i & 0xff);
        let ip = match (kinds[i], authorized, v6) {
            (Kind::Provider(p) | Kind::Redirect(p) | Kind::MxProvider(p), true, _) => {
                provider_ip(&mut rng, p, v6)
            }
            (Kind::TwoProviders(p, q), true, _) => {
                let which = if rng.chance(0.5) { p } else { q };
                provider_ip(&mut rng, which, v6)
            }
            (Kind::Ranges, true, true) => format!("2001:db8:{:x}::{:x}", i & 0xffff, rng.below(0xffff) + 1),
            // "a mx": mail from the web host (the A address) or the MX host.
            (Kind::AMx, true, false) => format!("{net}.{}", 1 + rng.below(2)),
            (Kind::Ranges | Kind::AMx | Kind::Exists | Kind::Ptr, true, _) => format!("{net}.1"),
            (_, _, true) => format!("2001:db8:ffff::{:x}", rng.below(0xffff) + 1),
            _ => format!("203.0.113.{}", rng.below(254) + 1),
        };
        let _ = writeln!(corpus, "{ip}\tuser{}@d{i}.gen.example\tmail.d{i}.gen.example", rng.below(1000));
    }
    Workload { zone, corpus }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_well_formed() {
        let a = generate(7, 300, 2000);
        let b = generate(7, 300, 2000);
        assert_eq!(a.zone, b.zone);
        assert_eq!(a.corpus, b.corpus);
        assert_eq!(a.corpus.lines().count(), 2000);
        assert!(a.corpus.lines().all(|l| l.split('\t').count() == 3));
        spf_core::dns::Zone::from_master_str(&a.zone, "gen").expect("the zone parses");
        // Zipf: the most popular domain is asked far more than the median one.
        let top = a.corpus.lines().filter(|l| l.contains("@d0.gen.example")).count();
        let mid = a.corpus.lines().filter(|l| l.contains("@d150.gen.example")).count();
        assert!(top > 10 * mid.max(1), "top {top}, median {mid}");
    }
}
