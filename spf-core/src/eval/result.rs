//! What a check returns: the result, the reason for an error, the term that
//! decided it, the lookups spent, the trace.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use super::{Trace, WideOpenThreshold};
use crate::dns::{RecordType, TempFailure};
use crate::input::{CheckRequest, Identity};
use crate::record::{Mechanism, ParseError};

/// The seven SPF results (RFC 7208 §2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfResult {
    /// No SPF record, or the domain could not be checked (§2.6.1).
    None,
    /// The record says nothing about the client (§2.6.2).
    Neutral,
    /// The client is authorized (§2.6.3).
    Pass,
    /// The client is not authorized (§2.6.4).
    Fail,
    /// Probably not authorized (§2.6.5).
    SoftFail,
    /// A transient (DNS) error (§2.6.6).
    TempError,
    /// The record could not be interpreted (§2.6.7).
    PermError,
}

impl SpfResult {
    /// The result's name as RFC 7208 writes it, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }

    /// All seven results.
    pub const ALL: [SpfResult; 7] = [
        SpfResult::None,
        SpfResult::Neutral,
        SpfResult::Pass,
        SpfResult::Fail,
        SpfResult::SoftFail,
        SpfResult::TempError,
        SpfResult::PermError,
    ];
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SpfResult {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        SpfResult::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s)).ok_or(())
    }
}

/// Which limit of §4.6.4 was exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// More DNS-querying terms than allowed (default 10).
    DnsTerms,
    /// More void lookups than allowed (default 2).
    VoidLookups,
    /// An `mx` term whose MX answer has more names than allowed (default 10).
    MxNames,
    /// More DNS questions on the wire than one check may send
    /// ([`Limits::max_queries`](super::Limits::max_queries), default 160): long CNAME chains answered
    /// one hop at a time.
    Queries,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::DnsTerms => "DNS-querying term limit",
            LimitKind::VoidLookups => "void lookup limit",
            LimitKind::MxNames => "MX name limit",
            LimitKind::Queries => "DNS query limit",
        })
    }
}

/// Why a check ended in `permerror`, `temperror` or `none`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The domain is not a valid multi-label domain name (§4.3) -> `none`.
    InvalidDomain {
        /// The domain as given.
        domain: String,
    },
    /// No SPF record at the domain -> `none` (or `permerror` via include/redirect).
    NoRecord {
        /// The domain.
        domain: String,
        /// A TXT record there that looks meant to be SPF but is not (`v-spf1 ...`,
        /// `v=spf1"...`, `spf1 ...`): its first 80 characters, quoted. Found
        /// without the trace, so every front end can say why a domain that
        /// "has a record" gave `none`.
        #[serde(skip_serializing_if = "Option::is_none")]
        near_miss: Option<String>,
    },
    /// More than one SPF record (§4.5) -> `permerror`.
    MultipleRecords {
        /// The domain.
        domain: String,
        /// How many.
        count: usize,
    },
    /// A syntax error in the record (§4.6) -> `permerror`.
    Syntax {
        /// The domain whose record is invalid.
        domain: String,
        /// The error.
        error: ParseError,
    },
    /// A processing limit of §4.6.4 was exceeded -> `permerror`.
    Limit {
        /// Which limit.
        limit: LimitKind,
        /// The configured maximum.
        max: u32,
        /// The term that went over it.
        term: String,
        /// The domain whose record holds the term.
        domain: String,
    },
    /// `include:` target has no SPF record (§5.2) -> `permerror`.
    IncludeNone {
        /// The term.
        term: String,
        /// The target domain.
        target: String,
    },
    /// `redirect=` target has no SPF record or is malformed (§6.1) -> `permerror`.
    RedirectNone {
        /// The target domain.
        target: String,
    },
    /// A DNS query failed temporarily (§2.6.6) -> `temperror`.
    Dns {
        /// The name queried.
        name: String,
        /// The record type.
        rtype: RecordType,
        /// What went wrong.
        failure: TempFailure,
    },
    /// The per-check deadline passed -> `temperror`.
    Deadline,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::InvalidDomain { domain } => {
                write!(f, "{domain:?} is not a valid multi-label domain name (RFC 7208 4.3)")
            }
            Reason::NoRecord { domain, near_miss: None } => write!(f, "no SPF record at {domain}"),
            Reason::NoRecord { domain, near_miss: Some(record) } => {
                write!(f, "no SPF record at {domain} (not SPF although it looks meant to be: {record})")
            }
            Reason::MultipleRecords { domain, count } => {
                write!(f, "{count} SPF records at {domain} (RFC 7208 4.5 allows one)")
            }
            Reason::Syntax { domain, error } => write!(f, "invalid SPF record at {domain}: {error}"),
            Reason::Limit { limit, max, term, domain } => {
                write!(f, "{limit} of {max} exceeded at {term:?} in the record of {domain} (RFC 7208 4.6.4)")
            }
            Reason::IncludeNone { term, target } => {
                write!(f, "{term:?}: {target} has no SPF record (RFC 7208 5.2)")
            }
            Reason::RedirectNone { target } => {
                write!(f, "redirect target {target} has no SPF record (RFC 7208 6.1)")
            }
            Reason::Dns { name, rtype, failure } => {
                write!(f, "DNS {rtype} lookup of {name} failed: {failure}")
            }
            Reason::Deadline => f.write_str("the check exceeded its deadline"),
        }
    }
}

/// The term that decided a result, and where it stood.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Matched {
    /// The term as it prints (e.g. `-all`, `include:_spf.example.com`).
    pub term: Arc<str>,
    /// The domain whose record holds it.
    pub domain: Arc<str>,
}

/// Everything a check found out: the result and why.
///
/// Made by a check; fields are public to read (and to adjust, e.g. in a
/// local policy); new ones may be added, so outside this crate an
/// `Evaluation` is built with [`Evaluation::new`].
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct Evaluation {
    /// The SPF result.
    pub result: SpfResult,
    /// Which identity was checked.
    pub identity: Identity,
    /// The client IP (IPv4-mapped IPv6 given as IPv4, §4.1/§5).
    pub ip: IpAddr,
    /// `<sender>` as checked (`postmaster@<helo>` for a null reverse-path).
    pub sender: String,
    /// The HELO/EHLO name, if known.
    pub helo: Option<String>,
    /// `<domain>`: the domain checked (lower case, no trailing dot).
    pub domain: Arc<str>,
    /// The explanation, on `fail` (§6.2): the `exp=` text expanded, or the
    /// configured default.
    pub explanation: Option<String>,
    /// The mechanism that matched (none when the default result applied).
    pub matched: Option<Matched>,
    /// Why the result is an error or `none`.
    pub reason: Option<Reason>,
    /// DNS-querying terms evaluated (§4.6.4), across includes and redirects.
    pub dns_lookups: u32,
    /// Void lookups counted (§4.6.4).
    pub void_lookups: u32,
    /// DNS questions this check put on the wire (its own and its
    /// speculative ones, CNAME hops included; answers from the cache are
    /// free). At most [`Limits::max_queries`](super::Limits::max_queries).
    pub dns_queries: u32,
    /// Each step, in order, recorded compactly and rendered when read
    /// (see [`Trace`]). Empty when tracing is off.
    pub trace: Trace,
    /// On `pass`: how much address space the sender's policy passes, exact
    /// when the [`Checker`](crate::Checker) has compiled the policy (the
    /// second check of a domain on), a lower bound otherwise (see
    /// [`AuthorizedSpace::exact`]). Found without any DNS query of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorized: Option<AuthorizedSpace>,
    /// A `pass` from a wide-open policy: [`Evaluation::authorized`] reaches
    /// [`CheckOptions::wide_open`](super::CheckOptions::wide_open) (by
    /// default the lint's threshold: a /8 of IPv4 or a /16 of IPv6). Such a
    /// pass says nothing about the client: `v=spf1 +all` passes everyone.
    pub wide_open: bool,
    /// What local policy did, if anything (a [`Checker`](crate::Checker)
    /// with [`CheckerConfig::with_local_policy`](crate::CheckerConfig::with_local_policy)).
    /// Boxed: most evaluations have none, and they stay small.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Box<PolicyNote>>,
}

impl Evaluation {
    /// An evaluation of `request` with `result` and nothing else known (no
    /// matched term, no reason, no lookups): the start of one built by
    /// hand, e.g. in tests of header rendering.
    pub fn new(request: &CheckRequest, result: SpfResult) -> Evaluation {
        Evaluation::from_request(request.clone(), result)
    }

    /// [`Evaluation::new`], taking the request's strings instead of
    /// copying them.
    pub(crate) fn from_request(request: CheckRequest, result: SpfResult) -> Evaluation {
        let helo = (!request.helo.is_empty()).then(|| request.helo.into_string());
        Evaluation {
            result,
            identity: request.identity,
            ip: request.ip,
            sender: request.sender.into_string(),
            helo,
            domain: request.domain,
            explanation: None,
            matched: None,
            reason: None,
            dns_lookups: 0,
            void_lookups: 0,
            dns_queries: 0,
            trace: Trace::default(),
            authorized: None,
            wide_open: false,
            policy: None,
        }
    }

    /// Sets [`Evaluation::wide_open`] from [`Evaluation::authorized`].
    pub(crate) fn with_wide_open(mut self, threshold: &WideOpenThreshold) -> Evaluation {
        self.wide_open =
            self.result == SpfResult::Pass && self.authorized.is_some_and(|space| space.reaches(threshold));
        self
    }

    /// The evaluation of a client that local policy exempts from the
    /// check: [`Exemption::result`] (`pass` or `none`), no term matched, no
    /// lookups counted (the exemption's own, if it needed any, are not a
    /// check's), and the exemption as its [`PolicyNote`].
    pub fn exempt(request: &CheckRequest, exemption: Exemption) -> Evaluation {
        let result = exemption.result();
        Evaluation {
            policy: Some(Box::new(PolicyNote::Exempt { exemption })),
            ..Evaluation::new(request, result)
        }
    }

    /// What local policy did to this result, if anything.
    pub fn policy_note(&self) -> Option<&PolicyNote> {
        self.policy.as_deref()
    }

    /// The `temperror` of a check that ran past its deadline
    /// ([`Reason::Deadline`]), for callers that put their own deadline
    /// around an evaluation.
    pub fn deadline_exceeded(request: &CheckRequest) -> Evaluation {
        Evaluation { reason: Some(Reason::Deadline), ..Evaluation::new(request, SpfResult::TempError) }
    }

    /// The domain whose record decided the result: the domain of the
    /// matched term's record, or the checked domain when no term matched
    /// (a default result, an error, `none`).
    pub fn deciding_domain(&self) -> &str {
        self.matched.as_ref().map_or(&self.domain, |m| &m.domain)
    }

    /// The receiver's textual summary of why the result came out as it did.
    pub fn summary(&self) -> String {
        match (&self.reason, &self.matched) {
            (Some(r), _) => r.to_string(),
            (None, Some(m)) => format!("matched {} in the record of {}", m.term, m.domain),
            (None, None) if self.result == SpfResult::Neutral => {
                "no mechanism matched; default result neutral (RFC 7208 4.7)".to_string()
            }
            (None, None) => String::new(),
        }
    }
}

/// How much address space a policy passes ([`Evaluation::authorized`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuthorizedSpace {
    /// IPv4 addresses it passes (at most 2^32).
    pub ipv4_addresses: u64,
    /// IPv6 /64 networks it passes, a /64 passed in part counting as one
    /// (at most 2^64). Serialized capped at 2^64 - 1 (JSON numbers of most
    /// readers stop at `u64`): that value then means the whole space.
    #[serde(serialize_with = "saturating_u64")]
    pub ipv6_64s: u128,
    /// `true`: exactly what the policy passes, whatever the client (a
    /// compiled policy none of whose parts depends on more than the
    /// client's address). `false`: a lower bound: what the matched term
    /// passes (the client itself when that is all that is known), or a
    /// compiled policy's passing ranges when some of its parts (`exists`,
    /// `ptr`, macros, answers not cached) depend on the client.
    pub exact: bool,
}

fn saturating_u64<S: serde::Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(*value).unwrap_or(u64::MAX))
}

impl AuthorizedSpace {
    /// What a matched `pass` term is known to pass by itself: all of `all`,
    /// the range of `ip4`/`ip6`, the client alone for the others.
    pub(crate) fn of_term(mechanism: &Mechanism, ip: IpAddr) -> AuthorizedSpace {
        let (ipv4_addresses, ipv6_64s) = match mechanism {
            Mechanism::All => (1 << 32, 1 << 64),
            Mechanism::Ip4 { prefix, .. } => (1u64 << (32 - u32::from(prefix.unwrap_or(32)).min(32)), 0),
            Mechanism::Ip6 { prefix, .. } => (0, 1u128 << (64 - u32::from(prefix.unwrap_or(128)).min(64))),
            _ if ip.is_ipv4() => (1, 0),
            _ => (0, 1),
        };
        AuthorizedSpace { ipv4_addresses, ipv6_64s, exact: false }
    }

    /// Whether it reaches `threshold` (the policy is wide open).
    pub fn reaches(&self, threshold: &WideOpenThreshold) -> bool {
        self.ipv4_addresses >= threshold.ipv4_addresses || self.ipv6_64s >= threshold.ipv6_64s
    }
}

impl fmt::Display for AuthorizedSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at_least = if self.exact { "" } else { "at least " };
        write!(f, "{at_least}{} IPv4 addresses and {} IPv6 /64s", self.ipv4_addresses, self.ipv6_64s)
    }
}

/// Why local policy exempted a client from the SPF check (see
/// [`crate::policy::LocalPolicy`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exemption {
    /// In `skip_networks`: never checked (local submission).
    Skipped,
    /// In `allow_networks`: treated as authorized.
    AllowedNetwork,
    /// Its HELO name is on `allow_helo` and its A/AAAA records hold the client.
    AllowedHelo {
        /// The HELO name.
        helo: String,
    },
    /// It passes the SPF policy of a domain on `allow_spf_domains`.
    AllowedBySpf {
        /// That domain.
        domain: String,
    },
    /// Its validated PTR name lies in a domain on `allow_ptr_domains`.
    AllowedByPtr {
        /// That domain.
        domain: String,
    },
}

impl Exemption {
    /// Whether the client counts as authorized (`false`: merely not checked).
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Exemption::Skipped)
    }

    /// The result an exempted client gets: `pass` when it counts as
    /// authorized, `none` when it is merely not checked.
    pub fn result(&self) -> SpfResult {
        if self.is_allowed() { SpfResult::Pass } else { SpfResult::None }
    }
}

impl fmt::Display for Exemption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exemption::Skipped => f.write_str("client in a network that is not checked"),
            Exemption::AllowedNetwork => f.write_str("client in an allowed network"),
            Exemption::AllowedHelo { helo } => write!(f, "allowed HELO name {helo} resolves to the client"),
            Exemption::AllowedBySpf { domain } => {
                write!(f, "client authorized by the SPF policy of {domain}")
            }
            Exemption::AllowedByPtr { domain } => write!(f, "client's validated PTR name is in {domain}"),
        }
    }
}

/// What local policy ([`crate::policy::LocalPolicy`]) did to a check's
/// result: [`Evaluation::policy_note`]. The header fields name it
/// ([`crate::headers`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PolicyNote {
    /// The client was not checked: local policy exempts it. The result is
    /// [`Exemption::result`] (`pass` for an allowed client, `none` for a
    /// skipped one), never a domain's own.
    Exempt {
        /// Why.
        exemption: Exemption,
    },
    /// The check failed, but a trusted forwarder authorizes the client: the
    /// mail was forwarded. Not to be rejected. The result stays `fail`.
    Forwarded {
        /// The forwarder whose SPF policy passes the client.
        forwarder: String,
        /// Its term that matched.
        matched: Option<Matched>,
    },
    /// The domain publishes no SPF record; this is what the best-guess
    /// record says. A guess, never the domain's own policy: the result
    /// stays `none`.
    BestGuess {
        /// The guessed result.
        result: SpfResult,
        /// The guess's term that matched, if any.
        matched: Option<Matched>,
    },
    /// The pass came from a wide-open policy and is treated as `neutral`
    /// (the evaluation's result is then `neutral`).
    WideOpen(WideOpen),
}

impl PolicyNote {
    /// A short name of the kind of note: `exempt`, `forwarded`,
    /// `best_guess` or `wide_open` (the C and Python layers use it).
    pub fn kind(&self) -> &'static str {
        match self {
            PolicyNote::Exempt { .. } => "exempt",
            PolicyNote::Forwarded { .. } => "forwarded",
            PolicyNote::BestGuess { .. } => "best_guess",
            PolicyNote::WideOpen(_) => "wide_open",
        }
    }
}

impl fmt::Display for PolicyNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyNote::Exempt { exemption } => write!(f, "not checked: {exemption}"),
            PolicyNote::Forwarded { forwarder, .. } => {
                write!(f, "forwarded: trusted forwarder {forwarder} authorizes the client")
            }
            PolicyNote::BestGuess { result, matched } => {
                write!(f, "no SPF record, best guess {result}")?;
                if let Some(m) = matched {
                    write!(f, " by {}", m.term)?;
                }
                Ok(())
            }
            PolicyNote::WideOpen(w) => write!(f, "{w}, pass treated as neutral"),
        }
    }
}

/// Why a policy counts as wide open.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct WideOpen {
    /// The domain whose policy passed.
    pub domain: String,
    /// IPv4 addresses it passes whatever client-dependent terms answer
    /// (`None`: more than `u128` holds, never for IPv4).
    pub ipv4_addresses: Option<u128>,
    /// Its share of the IPv6 space, 0.0 to 1.0.
    pub ipv6_fraction: f64,
}

impl fmt::Display for WideOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wide-open policy of {}: passes ", self.domain)?;
        match self.ipv4_addresses {
            Some(n) => write!(f, "{n} IPv4 addresses")?,
            None => f.write_str("every IPv4 address")?,
        }
        write!(f, " and {:.6} % of IPv6", self.ipv6_fraction * 100.0)
    }
}
