//! Lint: what is wrong with a domain's SPF record, and exactly which
//! addresses it authorizes.
//!
//! [`Linter`] follows a record through `include`, `redirect`, `a` and `mx`
//! over any [`Lookup`] (a [`Zone`](crate::dns::Zone), the resolver, the
//! shared cache) and reports [`Diagnostic`]s, each with a severity, a stable
//! code (see [`CODES`]), the record it is about and the term and byte offset
//! it refers to; the exact set of addresses the record authorizes with
//! `pass`; the terms whose outcome depends on the client; and the lookup
//! budget the record spends.
//!
//! ```
//! use spf_core::dns::Zone;
//! use spf_core::lint::{Family, LintOptions, LintRequest, Linter};
//!
//! let zone = Zone::from_master_str(concat!(
//!     "example.com.      300 TXT \"v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all\"\n",
//!     "_spf.example.net. 300 TXT \"v=spf1 ip4:198.51.100.0/25 ip6:2001:db8::/32 ~all\"\n",
//! ), "<doc>")?;
//! let linter = Linter::new(&zone, LintOptions::default());
//! let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! let report = rt.block_on(linter.lint(&LintRequest::domain("example.com")));
//! assert!(!report.has_errors());
//! assert_eq!(report.authorized.ipv4.count.get(), Some(256 + 128));
//! assert_eq!(report.authorized.ipv4.cidrs, ["192.0.2.0/24", "198.51.100.0/25"]);
//! assert_eq!(report.authorized.set.cidrs(Family::Ipv6), ["2001:db8::/32"]);
//! assert_eq!(report.dns_lookup_terms, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How the address space is computed
//!
//! Evaluation is first-match (RFC 7208 §4.6.2), so the set of addresses a
//! record passes is built term by term from the addresses not yet decided.
//! Terms whose outcome depends on the client (`ptr`, `exists` and targets
//! with macros such as `%{i}` or `%{l}`) are not guessed: the report gives
//! a lower bound ([`LintReport::authorized`], what passes whatever they
//! answer) and an upper bound ([`LintReport::possibly_authorized`]). The
//! lookup limits are applied the same way: a term past the tenth
//! DNS-querying term (counted over the whole include tree) may be a
//! `permerror`, so addresses it would pass leave the lower bound.

mod analyze;
mod gather;
mod hosts;
mod ipset;
mod report;
mod terms;
mod txt;
mod walk;

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use crate::dns::{Lookup, Overlay};
use crate::eval::{Limits, Matched, SpfResult};

pub use ipset::{AddressCount, Family, IpSet};

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Receivers get `permerror`, `none` or `temperror` where the owner
    /// meant a policy, or the record lets anyone pass.
    Error,
    /// Works today, but wastes the budget, is ignored, or breaks easily.
    Warning,
    /// Worth knowing; nothing to fix necessarily.
    Info,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// How serious it is (fixed per code).
    pub severity: Severity,
    /// A stable kebab-case code, one of [`CODES`].
    pub code: &'static str,
    /// What is wrong and what to do, for people.
    pub message: String,
    /// The domain whose record (or TXT answer) this is about; empty for a
    /// record text linted without a domain.
    pub domain: String,
    /// The term it refers to, as written, if any.
    pub term: Option<String>,
    /// Byte offset of that term in the record text, if known.
    pub offset: Option<usize>,
}

/// Diagnostics of one run, each reported once.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    list: Vec<Diagnostic>,
    seen: HashSet<(&'static str, String, Option<usize>, String)>,
}

impl Diags {
    /// Adds a diagnostic unless the same one was added before.
    pub(crate) fn push(
        &mut self,
        code: &'static str,
        domain: &str,
        term: Option<(&str, usize)>,
        message: String,
    ) {
        let key = (code, domain.to_string(), term.map(|(_, o)| o), message.clone());
        if !self.seen.insert(key) {
            return;
        }
        self.list.push(Diagnostic {
            severity: severity_of(code),
            code,
            message,
            domain: domain.to_string(),
            term: term.map(|(t, _)| t.to_string()),
            offset: term.map(|(_, o)| o),
        });
    }

    /// Whether a diagnostic with this code was added.
    pub(crate) fn has_code(&self, code: &str) -> bool {
        self.list.iter().any(|d| d.code == code)
    }

    /// The diagnostics, errors first, each group in the order found.
    pub(crate) fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.list.sort_by_key(|d| d.severity);
        self.list
    }
}

/// A diagnostic code and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CodeInfo {
    /// The code.
    pub code: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// What it means.
    pub summary: &'static str,
}

macro_rules! codes {
    ($($name:ident = $code:literal, $severity:ident, $summary:literal;)*) => {
        /// Every diagnostic code, with its severity and meaning.
        pub const CODES: &[CodeInfo] = &[
            $(CodeInfo { code: $code, severity: Severity::$severity, summary: $summary },)*
        ];
        #[allow(dead_code)]
        pub(crate) mod code {
            $(pub(crate) const $name: &str = $code;)*
        }
    };
}

codes! {
    NOT_SPF_TYPO = "not-spf-typo", Error, "a TXT record meant as SPF that does not start with \"v=spf1 \" (v-spf1, v=spf, spf1...): receivers ignore it";
    SENDER_ID = "sender-id", Warning, "a Sender ID (v=spf2.0, RFC 4406) record: not SPF, ignored by SPF receivers";
    STRAY_QUOTES = "stray-quotes", Error, "quotes are part of the TXT data, so the record does not start with v=spf1";
    LEADING_SPACE = "leading-space", Error, "the TXT data starts with a space, so it is not an SPF record";
    SPLIT_STRINGS = "split-strings", Error, "the record's strings are joined without spaces (RFC 7208 3.3) and run two terms together";
    SPLIT_RECORDS = "split-records", Error, "the SPF record is continued in a second TXT record, which is never joined to it";
    MULTIPLE_SPF_RECORDS = "multiple-spf-records", Error, "more than one v=spf1 record at a name: permerror (RFC 7208 4.5)";
    SPF_RR_TYPE = "spf-rr-type", Warning, "an obsolete SPF (type 99) record is published besides the TXT record (RFC 7208 3.1)";
    SPF_RR_TYPE_ONLY = "spf-rr-type-only", Error, "only the obsolete SPF (type 99) record type is published; receivers read TXT only";
    NO_SPF_RECORD = "no-spf-record", Error, "the domain publishes no SPF record";
    PLUS_ALL = "plus-all", Error, "+all (or a bare all) passes every address on the Internet";
    NEUTRAL_ALL_ONLY = "neutral-all-only", Warning, "?all is the whole policy: it says nothing about anyone";
    HUGE_RANGE = "huge-range", Warning, "a term authorizes a very large network (IPv4 shorter than /12, IPv6 shorter than /24)";
    WIDE_OPEN = "wide-open", Error, "the record passes at least 2^24 IPv4 addresses or 1/65536 of IPv6";
    SELF_TEST_PASS = "self-test-pass", Error, "an address that cannot be the domain's (a reserved canary, or a receiver's own) passes";
    CLIENT_DEPENDENT = "client-dependent", Info, "the term's outcome depends on the client (ptr, exists, macros); it is not counted as authorized";
    MX_NOT_AUTHORIZED = "mx-not-authorized", Warning, "a mail host of the domain (its MX, in the domain) does not pass";
    A_NOT_AUTHORIZED = "a-not-authorized", Info, "the domain's own address (A/AAAA) does not pass";
    TOO_MANY_LOOKUPS = "too-many-lookups", Error, "more than 10 DNS-querying terms across the include tree (RFC 7208 4.6.4)";
    NEAR_LOOKUP_LIMIT = "near-lookup-limit", Warning, "9 or 10 DNS-querying terms: one more include breaks the record";
    VOID_LOOKUP = "void-lookup", Warning, "a term's lookup finds nothing (NXDOMAIN or no records)";
    TOO_MANY_VOID_LOOKUPS = "too-many-void-lookups", Error, "more than 2 void lookups (RFC 7208 4.6.4): permerror";
    MX_TOO_MANY_NAMES = "mx-too-many-names", Error, "an mx term whose MX answer has more than 10 names: permerror (RFC 7208 4.6.4)";
    PTR_DEPRECATED = "ptr-deprecated", Warning, "ptr (or %{p}) is slow and unreliable: RFC 7208 5.5 says not to use it";
    RECORD_TOO_LONG = "record-too-long", Warning, "the record is longer than 450 bytes (RFC 7208 3.4)";
    TXT_STRING_TOO_LONG = "txt-string-too-long", Error, "a TXT character-string is longer than 255 bytes, which DNS cannot carry";
    UDP_TOO_LARGE = "udp-too-large", Warning, "the TXT answer does not fit a 512-byte UDP response (RFC 7208 3.4)";
    TERMS_AFTER_ALL = "terms-after-all", Warning, "mechanisms after all are never evaluated";
    REDIRECT_WITH_ALL = "redirect-with-all", Warning, "redirect is ignored when the record has an all mechanism (RFC 7208 6.1)";
    NO_ALL = "no-all", Info, "neither all nor redirect: unmatched clients get neutral (RFC 7208 4.7)";
    DUPLICATE_RANGE = "duplicate-range", Warning, "the same ip4/ip6 network appears twice";
    OVERLAPPING_RANGE = "overlapping-range", Warning, "an ip4/ip6 network overlaps another with the same qualifier";
    DUPLICATE_TERM = "duplicate-term", Warning, "a DNS-querying term appears twice and spends the budget twice";
    HOST_BITS_SET = "host-bits-set", Warning, "an ip4/ip6 network with host bits set (192.0.2.1/24)";
    UNKNOWN_MECHANISM = "unknown-mechanism", Error, "a term that is no mechanism: permerror";
    SYNTAX_ERROR = "syntax-error", Error, "a malformed term: permerror (RFC 7208 4.6)";
    MISSPELT_MODIFIER = "misspelt-modifier", Warning, "an unknown modifier that looks like redirect= or exp=: ignored";
    UNKNOWN_MODIFIER = "unknown-modifier", Info, "an unknown modifier: ignored by receivers (RFC 7208 6)";
    INCLUDE_NO_SPF = "include-no-spf", Error, "an include target without an SPF record: permerror (RFC 7208 5.2)";
    REDIRECT_NO_SPF = "redirect-no-spf", Error, "a redirect target without an SPF record: permerror (RFC 7208 6.1)";
    INCLUDE_LOOP = "include-loop", Error, "include/redirect leads back to a record being evaluated";
    EXP_NO_TXT = "exp-no-txt", Warning, "exp= points to a name without exactly one usable TXT record (RFC 7208 6.2)";
    DNS_ERROR = "dns-error", Error, "a lookup failed temporarily: receivers get temperror";
    ANALYSIS_TRUNCATED = "analysis-truncated", Warning, "lint stopped following the record (its query, record or time budget ran out)";
}

/// A count and its noun, for messages: `1 mechanism`, `3 mechanisms`.
pub(crate) fn counted(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The severity of a code from [`CODES`]; `Info` for an unknown code.
pub fn severity_of(code: &str) -> Severity {
    CODES.iter().find(|c| c.code == code).map_or(Severity::Info, |c| c.severity)
}

/// What to lint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The SPF record a domain publishes.
    Domain(String),
    /// A record text: with a domain, as if published there (the rest of
    /// DNS as usual); without one, on its own (`a`, `mx` and `%{d}` then
    /// cannot be resolved and count as client-dependent).
    Record {
        /// The record text.
        text: String,
        /// Where it would be published.
        domain: Option<String>,
    },
}

/// A lint request: the target and the addresses to test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintRequest {
    /// What to lint.
    pub target: Target,
    /// Addresses to report on: does each pass, and by which term?
    pub ips: Vec<IpAddr>,
    /// Addresses that must not pass, e.g. the receiving server's own: a
    /// pass is a `self-test-pass` error.
    pub self_test: Vec<IpAddr>,
    /// Whether the domain publishes an obsolete SPF (type 99) record, if
    /// known: the [`Lookup`] trait asks for TXT only. [`Checker::lint`](crate::Checker::lint)
    /// fills it in for zones.
    pub spf_rr_published: Option<bool>,
}

impl LintRequest {
    /// Lints the record `domain` publishes.
    pub fn domain(domain: impl Into<String>) -> LintRequest {
        LintRequest::new(Target::Domain(domain.into()))
    }

    /// Lints a record text, as if published at `domain` when given.
    pub fn record(text: impl Into<String>, domain: Option<String>) -> LintRequest {
        LintRequest::new(Target::Record { text: text.into(), domain })
    }

    fn new(target: Target) -> LintRequest {
        LintRequest { target, ips: Vec::new(), self_test: Vec::new(), spf_rr_published: None }
    }

    /// The domain linted (normalized), if any.
    pub fn domain_name(&self) -> Option<String> {
        let domain = match &self.target {
            Target::Domain(d) => Some(d.as_str()),
            Target::Record { domain, .. } => domain.as_deref(),
        }?;
        let domain = domain.trim();
        Some(domain.strip_suffix('.').unwrap_or(domain).to_ascii_lowercase())
    }
}

/// Bounds and limits of a lint run.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LintOptions {
    /// The limits receivers apply. Default: RFC 7208's.
    pub limits: Limits,
    /// Most DNS queries one lint sends. Default 500.
    pub max_queries: u32,
    /// Most SPF records (include and redirect targets) followed. Default 64.
    pub max_records: u32,
    /// Most time one lint may take; then what is not known yet is reported
    /// as `analysis-truncated`. It holds for queries (none is sent past it)
    /// and for the analysis, CPU work that reads the clock every 0.1 ms or
    /// so: a lint ends within some milliseconds of its deadline whatever the
    /// records. `None`: no deadline (every query is still bounded by the
    /// resolver's own timeout, and the analysis by the record and query
    /// budgets, near-linear in the terms they hold). Needs a tokio runtime
    /// with the time driver. Default none.
    pub deadline: Option<Duration>,
    /// Check that the domain's own MX hosts and address pass. Default on.
    pub check_mail_hosts: bool,
}

impl Default for LintOptions {
    fn default() -> Self {
        LintOptions {
            limits: Limits::default(),
            max_queries: 500,
            max_records: 64,
            deadline: None,
            check_mail_hosts: true,
        }
    }
}

/// Most CIDR blocks a report lists per family and address space. A set
/// made of `n` ranges takes up to 2 × 128 blocks per range in IPv6: a
/// hostile tree of records (64 records of 63 KB punching holes in a
/// network) makes millions of blocks, gigabytes of text. Real records pass
/// a few dozen blocks, large providers a few hundred.
pub const MAX_LISTED_CIDRS: usize = 1024;

/// The addresses of one family in a set, counted and listed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FamilySpace {
    /// How many addresses (serialized as a decimal string).
    pub count: AddressCount,
    /// Their share of the family's address space, 0.0 to 1.0.
    pub fraction: f64,
    /// The fewest CIDR blocks that make them up, in order: the first
    /// [`MAX_LISTED_CIDRS`] when there are more (see `cidrs_complete`).
    pub cidrs: Vec<String>,
    /// Whether `cidrs` lists every block (false: it stopped at
    /// [`MAX_LISTED_CIDRS`]; `count` and `fraction` are still exact).
    pub cidrs_complete: bool,
}

/// A set of addresses, per family.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AddressSpace {
    /// IPv4.
    pub ipv4: FamilySpace,
    /// IPv6.
    pub ipv6: FamilySpace,
    /// The set itself.
    #[serde(skip)]
    pub set: IpSet,
}

impl AddressSpace {
    fn new(set: IpSet) -> AddressSpace {
        let family = |f| {
            let (cidrs, cidrs_complete) = set.part(f).cidrs_up_to(MAX_LISTED_CIDRS);
            FamilySpace { count: set.count(f), fraction: set.fraction(f), cidrs, cidrs_complete }
        };
        AddressSpace { ipv4: family(Family::Ipv4), ipv6: family(Family::Ipv6), set }
    }

    /// The space of one family.
    pub fn family(&self, family: Family) -> &FamilySpace {
        match family {
            Family::Ipv4 => &self.ipv4,
            Family::Ipv6 => &self.ipv6,
        }
    }
}

/// A term whose outcome depends on the client, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DependentTerm {
    /// The domain whose record holds it.
    pub domain: String,
    /// The term.
    pub term: String,
    /// Its byte offset in that record.
    pub offset: usize,
    /// What it depends on.
    pub why: String,
}

/// One record of the include tree, as lint followed it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TreeRecord {
    /// Nesting depth (0 for the linted domain).
    pub depth: u32,
    /// `check`, `include` or `redirect`.
    pub via: crate::eval::Via,
    /// The domain (empty for a record linted without one).
    pub domain: String,
    /// Its SPF record, when it has exactly one valid record.
    pub record: Option<String>,
}

/// Whether an address is in the authorized set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Authorized {
    /// It passes whatever client-dependent terms answer.
    Yes,
    /// It never passes.
    No,
    /// It passes or not depending on client-dependent terms.
    Depends,
}

/// Why an address was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckRole {
    /// Asked for in [`LintRequest::ips`].
    Requested,
    /// Asked for in [`LintRequest::self_test`]: must not pass.
    SelfTest,
    /// A reserved address no mail server has (240.0.0.1, 100::1): must not pass.
    Canary,
    /// An address of one of the domain's MX hosts.
    MxHost,
    /// An address of the domain itself (A/AAAA).
    DomainAddress,
}

/// What the record says about one address.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IpCheck {
    /// The address.
    pub ip: IpAddr,
    /// Why it was checked.
    pub role: CheckRole,
    /// The host it belongs to (MX host or the domain), if any.
    pub host: Option<String>,
    /// Whether the computed address space holds it.
    pub authorized: Authorized,
    /// The SPF result a receiver computes for it (sender
    /// `postmaster@<domain>`); `None` without a domain.
    pub result: Option<SpfResult>,
    /// The term that decided it.
    pub matched: Option<Matched>,
    /// Why the result is an error or `none`.
    pub reason: Option<String>,
}

/// Everything lint found out.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct LintReport {
    /// The domain linted, if any.
    pub domain: Option<String>,
    /// The record linted: the draft text, or the domain's SPF record.
    pub record: Option<String>,
    /// Whether `record` is a draft (not published).
    pub draft: bool,
    /// The findings: errors first, then warnings, then notes, each group in
    /// the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// Addresses that pass whatever client-dependent terms answer.
    pub authorized: AddressSpace,
    /// Addresses that may pass, depending on client-dependent terms.
    pub possibly_authorized: AddressSpace,
    /// The terms whose outcome depends on the client.
    pub client_dependent_terms: Vec<DependentTerm>,
    /// DNS-querying terms a client evaluating every term spends, over the
    /// whole include tree (RFC 7208 §4.6.4 allows 10).
    pub dns_lookup_terms: u32,
    /// Void lookups such a client spends (the larger of IPv4 and IPv6
    /// clients; RFC 7208 §4.6.4 allows 2).
    pub void_lookups: u32,
    /// The records followed, in evaluation order.
    pub tree: Vec<TreeRecord>,
    /// Addresses checked: requested, self-test, canaries, mail hosts.
    pub checks: Vec<IpCheck>,
    /// DNS queries lint sent.
    pub dns_queries: u32,
    /// False when lint could not follow everything (see `analysis-truncated`).
    pub complete: bool,
}

impl LintReport {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }

    /// How many diagnostics have this severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == severity).count()
    }

    /// The diagnostics with this code.
    pub fn with_code<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a Diagnostic> + 'a {
        self.diagnostics.iter().filter(move |d| d.code == code)
    }

    /// Whether the record authorizes `ip`.
    pub fn authorizes(&self, ip: IpAddr) -> Authorized {
        if self.authorized.set.contains(ip) {
            Authorized::Yes
        } else if self.possibly_authorized.set.contains(ip) {
            Authorized::Depends
        } else {
            Authorized::No
        }
    }
}

/// Lints SPF records through a [`Lookup`]. See the module documentation.
#[derive(Debug, Clone)]
pub struct Linter<L> {
    lookup: L,
    options: LintOptions,
}

impl<L: Lookup> Linter<L> {
    /// A linter asking `lookup`.
    pub fn new(lookup: L, options: LintOptions) -> Self {
        Linter { lookup, options }
    }

    /// The options.
    pub fn options(&self) -> &LintOptions {
        &self.options
    }

    /// Lints. Never fails: what cannot be found out is a diagnostic.
    pub async fn lint(&self, request: &LintRequest) -> LintReport {
        let domain = request.domain_name();
        match (&request.target, domain) {
            (Target::Record { text, .. }, Some(domain)) => {
                let overlay = Overlay::new(&self.lookup, &domain, text);
                report::build(&overlay, &self.options, request, gather::Root::Domain(domain.clone()), true)
                    .await
            }
            (Target::Record { text, .. }, None) => {
                report::build(&self.lookup, &self.options, request, gather::Root::Text(text.clone()), true)
                    .await
            }
            (Target::Domain(_), domain) => {
                let domain = domain.unwrap_or_default();
                report::build(&self.lookup, &self.options, request, gather::Root::Domain(domain), false).await
            }
        }
    }
}
