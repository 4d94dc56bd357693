//! The processing limits of RFC 7208 §4.6.4.

/// How void lookups (§4.6.4) are counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidCounting {
    /// One per term whose own query comes back empty (NXDOMAIN or no data):
    /// an `a`, `exists`, `include`/`redirect` target, or an `mx` whose MX
    /// query is empty. Address lookups of the MX hosts (and PTR names) do
    /// not count. This is the reading of §4.6.4, which limits "the number of
    /// 'terms' for which DNS queries return either a positive answer (RCODE
    /// 0) with an answer count of 0, or a 'Name Error' (RCODE 3) answer".
    #[default]
    PerTerm,
    /// Every empty lookup counts, including each MX host with no A/AAAA
    /// record. Stricter than the RFC: an IPv6 client of `a mx -all` with
    /// IPv4-only MX hosts reaches the limit. Offered for compatibility.
    PerLookup,
}

/// Processing limits. Defaults are the RFC's; raising them breaks
/// conformance, lowering them breaks legitimate records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Limits {
    /// DNS-querying terms (`include`, `a`, `mx`, `ptr`, `exists`, `redirect`)
    /// per check. Default 10 (§4.6.4).
    pub dns_terms: u32,
    /// Void lookups per check. Default 2 (§4.6.4: "a default of two is RECOMMENDED").
    pub void_lookups: u32,
    /// Exchange names an `mx` term may resolve; more is `permerror`. Default 10.
    pub mx_names: u32,
    /// PTR names a `ptr` term (or `%{p}`) checks; the rest are ignored. Default 10.
    pub ptr_names: u32,
    /// How void lookups are counted. Default per term.
    pub void_counting: VoidCounting,
    /// DNS questions one check may put on the wire: names asked of a
    /// nameserver, CNAME hops chased one by one and speculative lookups
    /// included; cached answers do not count. Once spent, the check sends
    /// no more questions and ends in `permerror` (the query limit). Default
    /// 160: the most the RFC's limits allow (1 TXT, then 10 `mx` terms of 1
    /// MX and 10 address lookups each, an `exp=` TXT and a `%{p}` PTR walk
    /// of 11: 123 lookups), plus 30 speculative ones, with room to spare.
    pub max_queries: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            dns_terms: 10,
            void_lookups: 2,
            mx_names: 10,
            ptr_names: 10,
            void_counting: VoidCounting::PerTerm,
            max_queries: 160,
        }
    }
}

impl Limits {
    /// At most this many DNS-querying terms per check.
    pub fn with_dns_terms(mut self, dns_terms: u32) -> Self {
        self.dns_terms = dns_terms;
        self
    }

    /// At most this many void lookups per check.
    pub fn with_void_lookups(mut self, void_lookups: u32) -> Self {
        self.void_lookups = void_lookups;
        self
    }

    /// Void lookups counted this way.
    pub fn with_void_counting(mut self, void_counting: VoidCounting) -> Self {
        self.void_counting = void_counting;
        self
    }
}
