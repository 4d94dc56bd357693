//! The DNS lookup trait the evaluator talks to, and the answer types it returns.
//!
//! Every answer is cheap to clone (`Arc`s inside), so a cache can hand out the
//! same answer to many checks without copying it.

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::Prefetcher;
use crate::record::SpfSelection;

/// The record types SPF evaluation queries (RFC 7208 §4.4, §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    /// TXT, for SPF records and `exp=` explanations.
    Txt,
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    Aaaa,
    /// Mail exchangers.
    Mx,
    /// Reverse names.
    Ptr,
}

impl RecordType {
    /// The RR type mnemonic, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Txt => "TXT",
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Mx => "MX",
            RecordType::Ptr => "PTR",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One TXT record: its character-strings, as raw bytes.
pub type TxtRecord = Box<[Box<[u8]>]>;

/// The TXT records at one name: each record is the list of its
/// character-strings, kept as raw bytes (DNS does not promise UTF-8).
///
/// The SPF record selected from them (RFC 7208 §4.5) is parsed at most once
/// and kept alongside, so a cached answer is never re-parsed.
pub struct TxtRecords {
    records: Box<[TxtRecord]>,
    spf: OnceLock<SpfSelection>,
    /// Whether a check has started speculative lookups for this answer.
    speculated: AtomicBool,
}

impl TxtRecords {
    /// Builds the set from records, each a list of character-strings.
    pub fn new<R, S>(records: R) -> Self
    where
        R: IntoIterator<Item = S>,
        S: IntoIterator<Item = Vec<u8>>,
    {
        let records = records
            .into_iter()
            .map(|strings| {
                strings.into_iter().map(Vec::into_boxed_slice).collect::<Vec<_>>().into_boxed_slice()
            })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        TxtRecords { records, spf: OnceLock::new(), speculated: AtomicBool::new(false) }
    }

    /// The records, each a list of character-strings.
    pub fn records(&self) -> &[TxtRecord] {
        &self.records
    }

    /// Each record's character-strings concatenated without separators
    /// (RFC 7208 §3.3).
    pub fn joined(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.records.iter().map(|strings| strings.concat())
    }

    /// Total size of the strings, in bytes (for cache accounting).
    pub fn byte_len(&self) -> usize {
        self.records.iter().flat_map(|r| r.iter()).map(|s| s.len() + 1).sum()
    }

    /// The SPF record selection for this answer, computed on first use.
    pub fn spf(&self) -> &SpfSelection {
        self.spf.get_or_init(|| SpfSelection::select(self.joined()))
    }

    /// True the first time it is called for this answer, false afterwards:
    /// the check that first reads a fetched answer starts the speculative
    /// lookups of its record; later readers (of the cached answer) do not.
    pub(crate) fn claim_speculation(&self) -> bool {
        !self.speculated.load(Ordering::Relaxed) && !self.speculated.swap(true, Ordering::Relaxed)
    }
}

impl fmt::Debug for TxtRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for r in self.joined() {
            list.entry(&String::from_utf8_lossy(&r));
        }
        list.finish()
    }
}

/// The data of a positive answer.
#[derive(Clone, Debug)]
pub enum Records {
    /// TXT records.
    Txt(Arc<TxtRecords>),
    /// A records.
    A(Arc<[Ipv4Addr]>),
    /// AAAA records.
    Aaaa(Arc<[Ipv6Addr]>),
    /// MX exchange names (lower case, no trailing dot) in preference order.
    /// A null MX (RFC 7505, exchange ".") is the empty name.
    Mx(Arc<[Box<str>]>),
    /// PTR target names (lower case, no trailing dot).
    Ptr(Arc<[Box<str>]>),
}

impl Records {
    /// How many records the answer holds.
    pub fn len(&self) -> usize {
        match self {
            Records::Txt(t) => t.records().len(),
            Records::A(a) => a.len(),
            Records::Aaaa(a) => a.len(),
            Records::Mx(n) | Records::Ptr(n) => n.len(),
        }
    }

    /// Whether the answer holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A positive answer: at least one record of the asked type.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The records.
    pub records: Records,
    /// Time to live in seconds (the smallest TTL of the RRset).
    pub ttl: u32,
}

/// Why a lookup produced no records.
///
/// `NxDomain` and `NoData` are definite answers: they count as void lookups
/// (RFC 7208 §4.6.4) and may be cached negatively (RFC 2308). `Temporary` is
/// a failure to get an answer at all and maps to `temperror` (§2.6.6).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The name does not exist (RCODE 3).
    #[error("NXDOMAIN")]
    NxDomain {
        /// Negative-caching TTL (RFC 2308), seconds.
        ttl: u32,
    },
    /// The name exists but has no records of the asked type.
    #[error("no data")]
    NoData {
        /// Negative-caching TTL (RFC 2308), seconds.
        ttl: u32,
    },
    /// No usable answer: timeout, SERVFAIL, another error RCODE, network error.
    #[error("temporary DNS failure: {0}")]
    Temporary(TempFailure),
}

impl LookupError {
    /// Whether this is a void lookup in the sense of RFC 7208 §4.6.4.
    pub fn is_void(&self) -> bool {
        matches!(self, LookupError::NxDomain { .. } | LookupError::NoData { .. })
    }
}

/// The kinds of temporary failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum TempFailure {
    /// No answer within the timeout.
    #[error("timeout")]
    Timeout,
    /// The server answered with an error RCODE other than NXDOMAIN.
    #[error("server answered {rcode}")]
    Rcode {
        /// The RCODE mnemonic, e.g. `SERVFAIL`.
        rcode: Arc<str>,
    },
    /// Any other failure (network, malformed answer, ...).
    #[error("{0}")]
    Other(Arc<str>),
    /// The check already put its most questions on the wire
    /// ([`QueryBudget`]); this lookup was not sent. Never cached.
    #[error("the check's DNS query limit was reached")]
    QueryLimit,
}

/// The DNS questions one check may still put on the wire: every name asked
/// of a nameserver counts (CNAME hops chased one by one and speculative
/// lookups included); answers from the cache, and waiting for another
/// check's query in flight, do not. Shared by a check and its speculative
/// lookups. Once it is spent, the check starts no more lookups, and a
/// resolver asks no further CNAME hop: they end in
/// [`TempFailure::QueryLimit`], which is never cached (another check
/// waiting for the same query in flight at that moment shares the refusal).
#[derive(Debug)]
pub struct QueryBudget {
    left: AtomicU32,
    sent: AtomicU32,
}

/// The most CNAME hops one lookup follows, within an answer or by asking
/// again; a longer chain, or a loop, is a temporary error (`temperror`),
/// from a nameserver and from a [`Zone`](super::Zone) alike. RFC 1034
/// §3.6.2 tells resolvers to follow CNAMEs and §5.3.3 to bound the work;
/// chains used for SPF records are one or two hops long, and 8 keeps a
/// hostile chain cheap.
pub const MAX_CNAME_HOPS: usize = 8;

impl QueryBudget {
    /// A budget of `questions`.
    pub fn new(questions: u32) -> QueryBudget {
        QueryBudget { left: AtomicU32::new(questions), sent: AtomicU32::new(0) }
    }

    /// No limit (for lookups made outside any check).
    pub fn unlimited() -> QueryBudget {
        QueryBudget::new(u32::MAX)
    }

    /// Whether another lookup may start.
    pub fn has_room(&self) -> bool {
        self.left.load(Ordering::Relaxed) > 0
    }

    /// Takes one question, if any is left: what a resolver does before it
    /// puts a question on the wire.
    pub fn take(&self) -> bool {
        if self.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1)).is_err() {
            return false;
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Counts `questions` put on the wire.
    pub fn charge(&self, questions: u32) {
        let _ = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| Some(l.saturating_sub(questions)));
        self.sent.fetch_add(questions, Ordering::Relaxed);
    }

    /// Questions counted so far.
    pub fn sent(&self) -> u32 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// The result of one lookup.
pub type LookupResult = Result<Answer, LookupError>;

/// Asynchronous DNS lookups for SPF evaluation.
///
/// `name` is an absolute domain name without the trailing dot, already
/// lower-cased (ASCII) by the caller. Implementations return `NoData` rather
/// than an empty `Answer`, follow CNAMEs, and must be cheap to call
/// concurrently (`&self`).
pub trait Lookup: Send + Sync {
    /// Looks up `name` for records of type `rtype`.
    fn lookup(&self, name: &str, rtype: RecordType) -> impl Future<Output = LookupResult> + Send;

    /// [`Lookup::lookup`] on behalf of a check with `budget`: takes each
    /// question the lookup puts on the wire from it ([`QueryBudget::take`];
    /// a resolver that chases CNAME hops one by one takes one per hop and
    /// stops with [`TempFailure::QueryLimit`] when none is left); a cache
    /// takes nothing for an answer it holds. The default charges one
    /// question per lookup, never refusing (for lookups that answer from
    /// memory, such as a [`Zone`](super::Zone)).
    fn lookup_charged(
        &self,
        name: &str,
        rtype: RecordType,
        budget: &QueryBudget,
    ) -> impl Future<Output = LookupResult> + Send {
        budget.charge(1);
        self.lookup(name, rtype)
    }

    /// A handle for speculative background queries whose answers later
    /// lookups through `self` will find (see [`crate::eval::Speculation`]),
    /// if this lookup has somewhere to keep them. Default: none, and a
    /// check sends its queries strictly one after another.
    fn prefetcher(&self) -> Option<Prefetcher> {
        None
    }

    /// For a lookup that asks a server: the running average of the time
    /// the server takes to answer one question (see
    /// [`Resolver::mean_latency`](super::Resolver::mean_latency)), once
    /// there is one. Adaptive speculation goes by it
    /// ([`Speculation::min_upstream_latency`](crate::Speculation::min_upstream_latency)).
    /// Default: `None` (answers at hand, or nothing measured).
    fn upstream_latency(&self) -> Option<Duration> {
        None
    }
}

impl<L: Lookup + ?Sized> Lookup for &L {
    fn lookup(&self, name: &str, rtype: RecordType) -> impl Future<Output = LookupResult> + Send {
        (**self).lookup(name, rtype)
    }

    fn lookup_charged(
        &self,
        name: &str,
        rtype: RecordType,
        budget: &QueryBudget,
    ) -> impl Future<Output = LookupResult> + Send {
        (**self).lookup_charged(name, rtype, budget)
    }

    fn prefetcher(&self) -> Option<Prefetcher> {
        (**self).prefetcher()
    }

    fn upstream_latency(&self) -> Option<Duration> {
        (**self).upstream_latency()
    }
}

impl<L: Lookup + ?Sized> Lookup for Arc<L> {
    fn lookup(&self, name: &str, rtype: RecordType) -> impl Future<Output = LookupResult> + Send {
        (**self).lookup(name, rtype)
    }

    fn lookup_charged(
        &self,
        name: &str,
        rtype: RecordType,
        budget: &QueryBudget,
    ) -> impl Future<Output = LookupResult> + Send {
        (**self).lookup_charged(name, rtype, budget)
    }

    fn prefetcher(&self) -> Option<Prefetcher> {
        (**self).prefetcher()
    }

    fn upstream_latency(&self) -> Option<Duration> {
        (**self).upstream_latency()
    }
}
