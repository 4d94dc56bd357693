//! Speculative lookups: when a check has to wait for a record from DNS,
//! start the lookups its terms will need at once, so that a first-seen
//! sender costs the depth of its record tree in round trips rather than the
//! number of its queries.
//!
//! Evaluation itself does not change: it still walks the terms left to
//! right, asks for every answer itself, counts terms and void lookups and
//! stops at the first match or limit exactly as RFC 7208 says. Speculation
//! only starts queries early, through the shared cache and its single-flight
//! table, where the evaluation then finds the answers (or the query already
//! in flight). A speculative lookup that fails changes nothing unless the
//! evaluation reaches the term that needs it, and then it sees what it would
//! have seen asking itself.
//!
//! What is started, for each record when its answer is first read after it
//! was fetched (by the evaluation, or by a speculative task; an answer read
//! from the cache later starts nothing), for the checked domain's record and
//! each include or redirect target's, recursively:
//!
//! - TXT of `include:` targets and of the `redirect=` target, and as soon as
//!   each arrives, the same for its record (for an include after another
//!   include, only with [`Speculation::later_includes`]; otherwise its
//!   record's own lookups start when evaluation gets there);
//! - A/AAAA (by the client's family) of `a` targets and of `exists` (A), MX
//!   of `mx` targets and then the addresses of their hosts (when there are
//!   no more than the MX limit), for at most three such terms per record
//!   (the void lookup limit plus one: a record of many `a:` terms is mostly
//!   names that do not exist, and evaluation stops at the third);
//! - nothing after a term that matches the client without DNS (`ip4`,
//!   `ip6`, `all`): evaluation stops there;
//! - nothing past the DNS-querying term limit: each record knows a lower
//!   bound of the terms spent before it (its ancestors' terms up to it), and
//!   a term whose position is already past the limit is not speculated;
//! - nothing for `ptr` or targets using `%{p}` (they need the PTR walk);
//! - the `exp=` TXT only when the record ends in a fail the client cannot
//!   escape (no DNS-querying term before a `-all` or a matching `-ip4`);
//! - at most [`Speculation::max_queries`] lookups per check in all, and each
//!   fetched answer is walked once (so include loops end).
//!
//! And only when answers are slow enough for it to pay
//! ([`Speculation::min_upstream_latency`]): a check decides once, when its
//! first record had to be fetched, by its checker's running average of the
//! time upstream takes to answer ([`crate::dns::Resolver::mean_latency`]),
//! not by the time of the answer at hand (which weighs 1/8 in the average,
//! and an average of fewer than 8 answers is no average: speculation then
//! goes ahead). Against a server that answers in microseconds there is
//! nothing to win: the queries would arrive barely earlier, and cost the
//! upstream and the checker's threads the wasted ones.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use super::CheckOptions;
use super::Limits;
use super::target::{expand_target, macro_vars, static_match};
use crate::dns::{Answer, Prefetcher, QueryBudget, RecordType, Records};
use crate::input::{CheckRequest, valid_name};
use crate::macros::{ExpansionBudget, MacroLetter};
use crate::record::{DomainSpec, Mechanism, Qualifier, Record, SpfSelection, Term};

/// Whether and how much a check speculates. See the module documentation of
/// [`crate::eval`] (`speculate`): results, limits and traces are the same
/// either way; only the timing of queries changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Speculation {
    /// Start the lookups a fetched record will need concurrently. Default
    /// on. A [`Checker`](crate::Checker) over an in-memory zone never
    /// speculates: its answers are at hand.
    pub enabled: bool,
    /// Most speculative lookups one check starts (answers already cached
    /// count too). Default 30.
    pub max_queries: u32,
    /// Also start the lookups of the records of an include (or redirect)
    /// that comes after another include in its record, as soon as they
    /// arrive. They are needed only when the earlier includes do not pass:
    /// off, only their TXT is fetched early, and their own lookups start
    /// when evaluation reaches them (fewer wasted queries, a longer tail).
    /// Default on.
    pub later_includes: bool,
    /// Speculate only while the checker's running average of the time
    /// upstream takes to answer one question is at least this (see
    /// [`crate::dns::Resolver::mean_latency`]; decided once per check, when
    /// its first record had to be fetched). Until the average is known (8
    /// answers), speculation goes ahead. [`Duration::ZERO`]: always
    /// (whatever the latency); [`Duration::MAX`]: never. Default 1 ms: a
    /// resolver on the same host or LAN answers (from its cache) well
    /// below it, where speculating wins nothing; one that has to ask
    /// further, or a slow link, is above it.
    pub min_upstream_latency: Duration,
}

impl Default for Speculation {
    fn default() -> Self {
        Speculation {
            enabled: true,
            max_queries: 30,
            later_includes: true,
            min_upstream_latency: Speculation::DEFAULT_MIN_UPSTREAM_LATENCY,
        }
    }
}

impl Speculation {
    /// At most this many speculative lookups per check.
    pub fn with_max_queries(mut self, max_queries: u32) -> Self {
        self.max_queries = max_queries;
        self
    }

    /// Whether later includes' records are speculated too.
    pub fn with_later_includes(mut self, later_includes: bool) -> Self {
        self.later_includes = later_includes;
        self
    }

    /// Speculate only while upstream answers take at least this long on
    /// average ([`Speculation::min_upstream_latency`]).
    pub fn with_min_upstream_latency(mut self, min_upstream_latency: Duration) -> Self {
        self.min_upstream_latency = min_upstream_latency;
        self
    }

    /// The default [`Speculation::min_upstream_latency`]: 1 ms.
    pub const DEFAULT_MIN_UPSTREAM_LATENCY: Duration = Duration::from_millis(1);

    /// No speculation: every query waits for the one before.
    pub const OFF: Speculation = Speculation {
        enabled: false,
        max_queries: 0,
        later_includes: false,
        min_upstream_latency: Duration::MAX,
    };

    /// Whether a check whose upstream's running average answer time is
    /// `average` (`None`: not known yet) should speculate.
    pub(crate) fn pays(&self, average: Option<Duration>) -> bool {
        self.enabled && average.is_none_or(|average| average >= self.min_upstream_latency)
    }
}

/// One check's speculation, shared by its background tasks.
pub(crate) struct Plan {
    /// Whether this check speculates at all
    /// ([`Speculation::min_upstream_latency`]).
    active: bool,
    prefetcher: Prefetcher,
    /// The check's question (copied once, when a first record had to be
    /// fetched: a warm check never gets here).
    request: CheckRequest,
    receiver: Box<str>,
    limits: Limits,
    /// See [`Speculation::later_includes`].
    later_includes: bool,
    /// Lookups this check may still start.
    budget: AtomicU32,
    /// Expansion work its targets may still do
    /// ([`crate::macros::EXPANSION_BUDGET`]).
    expansion_left: AtomicUsize,
    /// The check's DNS question budget, which speculation spends too.
    queries: Arc<QueryBudget>,
}

impl Plan {
    pub(crate) fn new(
        prefetcher: Prefetcher,
        request: &CheckRequest,
        receiver: &str,
        options: &CheckOptions,
        queries: Arc<QueryBudget>,
    ) -> Plan {
        // Decided once for the check, by the checker's running average (see
        // the module documentation): a check that does not speculate gets
        // no budget, and starts nothing.
        let pays = options.speculation.pays(prefetcher.upstream_latency());
        Plan {
            active: pays,
            prefetcher,
            request: request.clone(),
            receiver: receiver.into(),
            limits: options.limits,
            later_includes: options.speculation.later_includes,
            budget: AtomicU32::new(if pays { options.speculation.max_queries } else { 0 }),
            expansion_left: AtomicUsize::new(crate::macros::EXPANSION_BUDGET),
            queries,
        }
    }

    /// Takes one lookup from the speculation budget, if the check may
    /// still put questions on the wire.
    fn take(&self) -> bool {
        self.queries.has_room()
            && self.budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1)).is_ok()
    }

    fn address_type(&self) -> RecordType {
        match self.request.ip() {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        }
    }

    /// A domain-spec's target as evaluation will compute it; `None` for
    /// one that needs `%{p}` (or is no name).
    fn target(&self, spec: &DomainSpec, domain: &str) -> Option<Arc<str>> {
        if spec.macro_string().uses(MacroLetter::ValidatedName) {
            return None;
        }
        let vars = macro_vars(&self.request, domain, &self.receiver, None, 0);
        // The plan's own expansion budget, shared by its tasks (an
        // approximate account under races, which is all a bound needs).
        let left = self.expansion_left.load(Ordering::Relaxed);
        let mut budget = ExpansionBudget::new(left);
        let target = expand_target(spec, &vars, &mut budget);
        let used = left - budget.remaining();
        let _ = self
            .expansion_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| Some(l.saturating_sub(used)));
        target.ok()
    }

    /// Starts what `record`, published at `domain`, will need. `before`: a
    /// lower bound of the DNS-querying terms spent when its first term is
    /// evaluated.
    pub(crate) fn walk(self: &Arc<Self>, record: &Record, domain: &str, before: u32) {
        if !self.active {
            return;
        }
        let mut spent = before;
        // Whether evaluation may leave this record before its end through a
        // DNS-querying term (so a fail at the end is not certain).
        let mut uncertain = false;
        // Whether an include came before (later includes are only needed
        // when the earlier ones do not pass).
        let mut included = false;
        // Address and exists terms started in this record.
        let mut leaves = 0;
        for term in record.terms() {
            let Term::Directive(directive) = term else { continue };
            match static_match(&directive.mechanism, self.request.ip()) {
                Some(true) => {
                    // Evaluation ends here (in this record).
                    if directive.qualifier == Qualifier::Fail && !uncertain {
                        self.explanation(record, domain);
                    }
                    return;
                }
                Some(false) => continue,
                None => {}
            }
            spent += 1;
            if spent > self.limits.dns_terms {
                // A permerror if evaluation gets here: nothing more to start.
                return;
            }
            uncertain = true;
            let leaf = matches!(
                directive.mechanism,
                Mechanism::A { .. } | Mechanism::Mx { .. } | Mechanism::Exists(_)
            );
            if leaf {
                // More than the void limit of them in a row is a record
                // whose names mostly do not exist (evaluation stops at the
                // third void lookup): the rest is left to evaluation.
                leaves += 1;
                if leaves > self.limits.void_lookups + 1 {
                    continue;
                }
            }
            match &directive.mechanism {
                Mechanism::Include(spec) => {
                    if let Some(target) = self.target(spec, domain) {
                        self.record(target, spent, !included || self.later_includes);
                    }
                    included = true;
                }
                Mechanism::A { domain: spec, .. } => {
                    if let Some(target) = self.target_or_current(spec.as_ref(), domain) {
                        self.leaf(&target, self.address_type());
                    }
                }
                Mechanism::Mx { domain: spec, .. } => {
                    if let Some(target) = self.target_or_current(spec.as_ref(), domain) {
                        self.mx(&target);
                    }
                }
                Mechanism::Exists(spec) => {
                    if let Some(target) = self.target(spec, domain) {
                        self.leaf(&target, RecordType::A);
                    }
                }
                // ptr needs the reverse walk first; left to evaluation.
                _ => {}
            }
        }
        // No mechanism matched without DNS: redirect applies if present.
        if let Some(spec) = record.redirect()
            && spent < self.limits.dns_terms
            && let Some(target) = self.target(spec, domain)
        {
            self.record(target, spent + 1, !included || self.later_includes);
        }
    }

    fn target_or_current(&self, spec: Option<&DomainSpec>, domain: &str) -> Option<Arc<str>> {
        match spec {
            Some(spec) => self.target(spec, domain),
            None => Some(domain.into()),
        }
    }

    /// The TXT of an include or redirect target, and with `deeper`, its
    /// record's needs as soon as it arrives.
    fn record(self: &Arc<Self>, target: Arc<str>, before: u32, deeper: bool) {
        if !deeper {
            self.leaf(&target, RecordType::Txt);
            return;
        }
        if !self.take() {
            return;
        }
        let answer = self.prefetcher.fetch(&target, RecordType::Txt, Arc::clone(&self.queries));
        let plan = Arc::clone(self);
        self.prefetcher.spawn(async move {
            if let Ok(Answer { records: Records::Txt(txt), .. }) = answer.await
                && let SpfSelection::One(Ok(record)) = txt.spf()
                && txt.claim_speculation()
            {
                plan.walk(record, &target, before);
            }
        });
    }

    /// One lookup nothing else depends on.
    fn leaf(&self, name: &str, rtype: RecordType) {
        if !self.take() {
            return;
        }
        let answer = self.prefetcher.fetch(name, rtype, Arc::clone(&self.queries));
        self.prefetcher.spawn(async move {
            let _ = answer.await;
        });
    }

    /// MX, then the addresses of the hosts.
    fn mx(self: &Arc<Self>, target: &str) {
        if !self.take() {
            return;
        }
        let answer = self.prefetcher.fetch(target, RecordType::Mx, Arc::clone(&self.queries));
        let plan = Arc::clone(self);
        self.prefetcher.spawn(async move {
            if let Ok(Answer { records: Records::Mx(names), .. }) = answer.await
                && names.len() <= plan.limits.mx_names as usize
            {
                let rtype = plan.address_type();
                for name in names.iter().filter(|n| !n.is_empty() && valid_name(n)) {
                    plan.leaf(name, rtype);
                }
            }
        });
    }

    /// The `exp=` TXT of a record whose evaluation ends in fail.
    fn explanation(&self, record: &Record, domain: &str) {
        if let Some(spec) = record.exp()
            && let Some(target) = self.target(spec, domain)
        {
            self.leaf(&target, RecordType::Txt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speculation_pays_by_the_average_once_known() {
        let ms = Duration::from_millis;
        let default = Speculation::default();
        assert_eq!(default.min_upstream_latency, ms(1));
        assert!(default.pays(None));
        assert!(default.pays(Some(ms(1))));
        assert!(default.pays(Some(ms(10))));
        assert!(!default.pays(Some(Duration::from_micros(999))));
        let always = default.with_min_upstream_latency(Duration::ZERO);
        assert!(always.pays(Some(Duration::ZERO)));
        let never_once_known = default.with_min_upstream_latency(Duration::MAX);
        assert!(never_once_known.pays(None));
        assert!(!never_once_known.pays(Some(Duration::from_secs(3600))));
        assert!(!Speculation::OFF.pays(None));
        assert!(!Speculation::OFF.with_min_upstream_latency(Duration::ZERO).pays(Some(ms(10))));
    }
}
