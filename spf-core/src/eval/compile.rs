//! Compiled policies: a domain's whole record tree (its record and every
//! `include` and `redirect` it reaches, with the `a` and `mx` answers it
//! uses), as far as the client's address alone decides it, flattened into
//! sorted, disjoint address intervals, each carrying the evaluation every
//! address in it gets: result, reason, deciding term and domain, lookup
//! counts. A warm check is then one binary search.
//!
//! How a policy is compiled, and why it is exact: it is not a second
//! implementation of RFC 7208. The evaluator itself runs, over answers
//! already in the cache (nothing is sent), once for a representative
//! address of each interval, with a [`Probe`] that notes every address
//! range the client was compared with (`ip4`, `ip6`, the `a`/`mx` answers
//! under their CIDR lengths). Every address that compares the same way with
//! all of those ranges takes the same path through the tree, with the same
//! answers, so it gets the same evaluation: the interval around the
//! representative bounded by the nearest range edges. The next
//! representative is the first address after that interval, until the
//! address family is covered. So the compiled form is the evaluator's
//! result by construction, processing limits and errors included (an
//! address whose evaluation reaches the 10-term or void limit is a
//! `permerror` interval with the evaluator's reason).
//!
//! What the address does not decide is left to the evaluator: an interval
//! whose evaluation expanded a macro (`exists:%{i}...`, `%{l}`, `%{h}`), met
//! `ptr`, or needed an answer the cache did not hold is marked
//! [`Decision::Evaluate`], and a check of an address there runs the
//! evaluator as before. A `fail`'s explanation depends on the sender, so it
//! is expanded for each check from the record the interval names (its
//! `exp=` TXT answer read from the cache).
//!
//! A compiled policy is valid until the earliest expiry among the cached
//! answers it was built from (a change of any of them then rebuilds it),
//! and at most [`MAX_COMPILE_EVALUATIONS`] evaluations are spent on one
//! (a record of thousands of ranges is not compiled: its checks go to the
//! evaluator, which reads such a record without any bookkeeping anyway).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::{AuthorizedSpace, CheckOptions, Evaluation, Evaluator, Matched, Reason, Speculation, SpfResult};
use crate::dns::{Cache, Lookup, LookupError, LookupResult, QueryBudget, RecordType, Records, TempFailure};
use crate::input::{CheckRequest, Identity, cidr_block};
use crate::record::{DualCidr, Mechanism, Record};

/// The most evaluations one compilation may run (both address families):
/// past it the policy is left to the evaluator until its answers expire.
/// A provider's include tree of a few dozen ranges takes under a hundred.
pub const MAX_COMPILE_EVALUATIONS: usize = 1024;

/// What a probed evaluation learned besides its result: the interval
/// around its client address where every range comparison comes out the
/// same, and whether anything but the address decided it.
#[derive(Debug)]
pub(crate) struct Probe {
    v4: bool,
    at: u128,
    lo: u128,
    hi: u128,
    pub(crate) client_dependent: bool,
    /// The record (and domain) whose `exp=` would explain a `fail`.
    pub(crate) exp_from: Option<(Arc<Record>, Arc<str>)>,
}

impl Probe {
    fn new(ip: IpAddr) -> Probe {
        let (v4, at, hi) = match ip {
            IpAddr::V4(ip) => (true, u128::from(u32::from(ip)), u128::from(u32::MAX)),
            IpAddr::V6(ip) => (false, u128::from(ip), u128::MAX),
        };
        Probe { v4, at, lo: 0, hi, client_dependent: false, exp_from: None }
    }

    /// The client was compared with `[lo, hi]`: the interval shrinks to
    /// the side of it (or the part of it) that holds the client.
    fn note_block(&mut self, lo: u128, hi: u128) {
        if self.at < lo {
            self.hi = self.hi.min(lo - 1);
        } else if self.at > hi {
            self.lo = self.lo.max(hi + 1);
        } else {
            self.lo = self.lo.max(lo);
            self.hi = self.hi.min(hi);
        }
    }

    /// An `ip4` or `ip6` term was compared with the client (a range of the
    /// other family never matches, whatever the address).
    pub(crate) fn note_mechanism(&mut self, mechanism: &Mechanism) {
        match *mechanism {
            Mechanism::Ip4 { addr, prefix } if self.v4 => {
                let (lo, hi) = cidr_block(32, u32::from(addr).into(), prefix.unwrap_or(32));
                self.note_block(lo, hi);
            }
            Mechanism::Ip6 { addr, prefix } if !self.v4 => {
                let (lo, hi) = cidr_block(128, addr.into(), prefix.unwrap_or(128));
                self.note_block(lo, hi);
            }
            _ => {}
        }
    }

    /// The addresses of an `a` term or an MX host were compared with the
    /// client under `cidr`.
    pub(crate) fn note_addresses(&mut self, records: &Records, cidr: DualCidr) {
        match records {
            Records::A(addrs) if self.v4 => {
                for addr in addrs.iter() {
                    let (lo, hi) = cidr_block(32, u32::from(*addr).into(), cidr.v4.unwrap_or(32));
                    self.note_block(lo, hi);
                }
            }
            Records::Aaaa(addrs) if !self.v4 => {
                for addr in addrs.iter() {
                    let (lo, hi) = cidr_block(128, (*addr).into(), cidr.v6.unwrap_or(128));
                    self.note_block(lo, hi);
                }
            }
            _ => {}
        }
    }
}

/// What every address of an interval gets.
#[derive(Debug)]
enum Decision {
    /// This evaluation (the explanation of a `fail` aside).
    Decided(Box<Decided>),
    /// The evaluator decides: `missing` when an answer was not cached
    /// (compiling again once it is may decide it), otherwise because more
    /// than the address does.
    Evaluate { missing: bool },
}

#[derive(Debug)]
struct Decided {
    result: SpfResult,
    reason: Option<Reason>,
    matched: Option<Matched>,
    dns_lookups: u32,
    void_lookups: u32,
    exp_from: Option<(Arc<Record>, Arc<str>)>,
}

impl Decision {
    fn same(&self, other: &Decision) -> bool {
        match (self, other) {
            (Decision::Decided(a), Decision::Decided(b)) => {
                a.result == b.result
                    && a.reason == b.reason
                    && a.matched == b.matched
                    && a.dns_lookups == b.dns_lookups
                    && a.void_lookups == b.void_lookups
                    && match (&a.exp_from, &b.exp_from) {
                        (None, None) => true,
                        (Some((ra, da)), Some((rb, db))) => Arc::ptr_eq(ra, rb) && da == db,
                        _ => false,
                    }
            }
            (Decision::Evaluate { missing: a }, Decision::Evaluate { missing: b }) => a == b,
            _ => false,
        }
    }

    fn bytes(&self) -> usize {
        std::mem::size_of::<Decision>()
            + match self {
                Decision::Decided(d) => {
                    std::mem::size_of::<Decided>()
                        + d.matched.as_ref().map_or(0, |m| m.term.len() + m.domain.len() + 32)
                        + d.reason.as_ref().map_or(0, |_| 96)
                }
                Decision::Evaluate { .. } => 0,
            }
    }
}

/// One address family's intervals: `starts[i]` is where interval `i`
/// begins (the first is 0); it ends where the next begins.
#[derive(Debug, Default)]
struct Intervals<T> {
    starts: Vec<T>,
    decision: Vec<u16>,
}

impl<T: Copy + Ord> Intervals<T> {
    fn find(&self, at: T) -> Option<usize> {
        let i = self.starts.partition_point(|&s| s <= at).checked_sub(1)?;
        self.decision.get(i).map(|&d| usize::from(d))
    }
}

/// What a check of an address finds in a compiled policy.
#[derive(Debug)]
// Not boxed: the evaluation is the common answer, and returned at once.
#[allow(clippy::large_enum_variant)]
pub enum CompiledAnswer {
    /// The evaluation, as the evaluator would give it.
    Decided(Evaluation),
    /// The evaluator must decide this address; `missing`: because an
    /// answer was not cached when the policy was compiled.
    Evaluate {
        /// An answer was missing (compiling again may decide it).
        missing: bool,
    },
}

/// A domain's policy, compiled (see the module documentation).
#[derive(Debug)]
pub struct CompiledPolicy {
    v4: Intervals<u32>,
    v6: Intervals<u128>,
    decisions: Vec<Decision>,
    authorized: AuthorizedSpace,
    expires: Instant,
    generation: u64,
    evaluations: usize,
    gave_up: bool,
}

impl CompiledPolicy {
    /// Whether it may still be used at `now` over a cache of `generation`.
    pub fn fresh(&self, now: Instant, generation: u64) -> bool {
        now < self.expires && generation == self.generation
    }

    /// What the policy passes: exact when no interval is left to the
    /// evaluator.
    pub fn authorized(&self) -> AuthorizedSpace {
        self.authorized
    }

    /// Intervals, both families.
    pub fn intervals(&self) -> usize {
        self.v4.starts.len() + self.v6.starts.len()
    }

    /// The evaluations its compilation ran.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    /// Whether compilation stopped at [`MAX_COMPILE_EVALUATIONS`] (every
    /// check then goes to the evaluator).
    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    /// Bytes it holds, roughly (for the compiled-policy store's bound).
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<CompiledPolicy>()
            + self.v4.starts.capacity() * 4
            + self.v6.starts.capacity() * 16
            + (self.v4.decision.capacity() + self.v6.decision.capacity()) * 2
            + self.decisions.iter().map(Decision::bytes).sum::<usize>()
    }

    /// Whether it decides `ip` itself (an interval not left to the
    /// evaluator).
    pub fn decides(&self, ip: IpAddr) -> bool {
        let index = match ip {
            IpAddr::V4(ip) => self.v4.find(u32::from(ip)),
            IpAddr::V6(ip) => self.v6.find(u128::from(ip)),
        };
        matches!(index.and_then(|i| self.decisions.get(i)), Some(Decision::Decided(_)))
    }

    /// The evaluation of `request` (whose domain this policy is of), or
    /// that the evaluator must decide it. A `fail`'s explanation is
    /// expanded through `evaluator` from cached answers; when it cannot
    /// be, the evaluator decides (`missing`).
    pub fn answer<L: Lookup>(&self, request: &CheckRequest, evaluator: &Evaluator<L>) -> CompiledAnswer {
        match self.answer_owned(request.clone(), evaluator) {
            Ok(evaluation) => CompiledAnswer::Decided(evaluation),
            Err((_, missing)) => CompiledAnswer::Evaluate { missing },
        }
    }

    /// [`CompiledPolicy::answer`] taking the request (its strings move into
    /// the evaluation); `Err` gives it back with `missing`.
    pub(crate) fn answer_owned<L: Lookup>(
        &self,
        request: CheckRequest,
        evaluator: &Evaluator<L>,
    ) -> Result<Evaluation, (CheckRequest, bool)> {
        let index = match request.ip() {
            IpAddr::V4(ip) => self.v4.find(u32::from(ip)),
            IpAddr::V6(ip) => self.v6.find(u128::from(ip)),
        };
        let d = match index.and_then(|i| self.decisions.get(i)) {
            Some(Decision::Decided(d)) => d,
            Some(Decision::Evaluate { missing }) => return Err((request, *missing)),
            None => return Err((request, false)),
        };
        let explanation = if d.result == SpfResult::Fail {
            match evaluator.explain_now(&request, d.exp_from.as_ref()) {
                Some(text) => Some(text),
                None => return Err((request, true)),
            }
        } else {
            None
        };
        // Fresh copies of the deciding term and domain, not clones of the
        // policy's: a hot policy's reference counts would otherwise be
        // written by every core on every check.
        let domain = request.domain();
        let matched = d.matched.as_ref().map(|m| Matched {
            term: Arc::from(&*m.term),
            domain: if *m.domain == **domain { Arc::clone(domain) } else { Arc::from(&*m.domain) },
        });
        let evaluation = Evaluation {
            explanation,
            matched,
            reason: d.reason.clone(),
            dns_lookups: d.dns_lookups,
            void_lookups: d.void_lookups,
            authorized: (d.result == SpfResult::Pass).then_some(self.authorized),
            ..Evaluation::from_request(request, d.result)
        };
        Ok(evaluation.with_wide_open(&evaluator.options().wide_open))
    }

    /// Compiles `domain`'s policy from the answers `cache` holds, with the
    /// limits and explanation of `options`. `None` for a domain that cannot
    /// have a policy (not a valid domain name).
    pub fn compile(cache: &Cache, options: &CheckOptions, domain: &Arc<str>) -> Option<CompiledPolicy> {
        if !crate::input::valid_domain(domain) {
            return None;
        }
        let generation = cache.generation();
        let now = cache.now();
        let lookup = CacheOnly { cache, missed: AtomicBool::new(false), expires: Mutex::new(None) };
        let mut options = options.clone();
        options.trace = false;
        options.speculation = Speculation::OFF;
        options.deadline = None;
        let evaluator = Evaluator::new(&lookup, options);
        let sender = format!("postmaster@{domain}");
        let mut policy = CompiledPolicy {
            v4: Intervals::default(),
            v6: Intervals::default(),
            decisions: Vec::new(),
            authorized: AuthorizedSpace { ipv4_addresses: 0, ipv6_64s: 0, exact: true },
            expires: now,
            generation,
            evaluations: 0,
            gave_up: false,
        };
        let evaluate = |ip: IpAddr, policy: &mut CompiledPolicy| -> Option<(Decision, u128)> {
            if policy.evaluations >= MAX_COMPILE_EVALUATIONS {
                return None;
            }
            policy.evaluations += 1;
            lookup.missed.store(false, Ordering::Relaxed);
            let request = CheckRequest::check_host(Identity::MailFrom, ip, domain, &sender, domain);
            let work = std::pin::pin!(evaluator.run_probed(&request, None, Some(Box::new(Probe::new(ip)))));
            // Every lookup answers from the cache at once: one poll ends it.
            let Poll::Ready((eval, Some(probe))) = work.poll(&mut Context::from_waker(Waker::noop())) else {
                return None;
            };
            let missing = lookup.missed.load(Ordering::Relaxed);
            // An interval that depends on the client is the evaluator's
            // for good, even if it also missed an answer (compiling again
            // would not decide it).
            let decision = if probe.client_dependent {
                Decision::Evaluate { missing: false }
            } else if missing {
                Decision::Evaluate { missing: true }
            } else {
                Decision::Decided(Box::new(Decided {
                    result: eval.result,
                    reason: eval.reason,
                    matched: eval.matched,
                    dns_lookups: eval.dns_lookups,
                    void_lookups: eval.void_lookups,
                    exp_from: probe.exp_from,
                }))
            };
            Some((decision, probe.hi))
        };
        let mut complete = true;
        // IPv4.
        let mut at: u128 = 0;
        loop {
            let ip = IpAddr::V4(Ipv4Addr::from(at as u32));
            let Some((decision, hi)) = evaluate(ip, &mut policy) else {
                complete = false;
                break;
            };
            let index = policy.decision_index(decision);
            push(&mut policy.v4, at as u32, index);
            if hi >= u128::from(u32::MAX) {
                break;
            }
            at = hi + 1;
        }
        // IPv6.
        let mut at: u128 = 0;
        while complete {
            let ip = IpAddr::V6(Ipv6Addr::from(at));
            let Some((decision, hi)) = evaluate(ip, &mut policy) else {
                complete = false;
                break;
            };
            let index = policy.decision_index(decision);
            push(&mut policy.v6, at, index);
            if hi == u128::MAX {
                break;
            }
            at = hi + 1;
        }
        let expires = lookup.expires.lock().map_or(None, |e| *e);
        // Nothing was read (cannot happen for a valid domain): keep nothing.
        policy.expires = expires?;
        if !complete {
            // Too many intervals: every address goes to the evaluator
            // until the answers expire (and compiling is not retried).
            policy.gave_up = true;
            policy.decisions = vec![Decision::Evaluate { missing: false }];
            policy.v4 = Intervals { starts: vec![0], decision: vec![0] };
            policy.v6 = Intervals { starts: vec![0], decision: vec![0] };
        }
        policy.authorized = policy.passed_space();
        policy.v4.starts.shrink_to_fit();
        policy.v6.starts.shrink_to_fit();
        Some(policy)
    }

    /// The index of `decision` among the policy's (added if new).
    fn decision_index(&mut self, decision: Decision) -> u16 {
        if let Some(i) = self.decisions.iter().position(|d| d.same(&decision)) {
            return i as u16;
        }
        self.decisions.push(decision);
        (self.decisions.len() - 1) as u16
    }

    /// The address space of the `pass` intervals; exact unless some
    /// interval is left to the evaluator.
    fn passed_space(&self) -> AuthorizedSpace {
        let passes = |d: u16| matches!(self.decisions.get(usize::from(d)), Some(Decision::Decided(d)) if d.result == SpfResult::Pass);
        let exact = self.decisions.iter().all(|d| matches!(d, Decision::Decided(_)));
        let mut ipv4_addresses = 0u64;
        for (i, &start) in self.v4.starts.iter().enumerate() {
            if passes(self.v4.decision[i]) {
                let end = self.v4.starts.get(i + 1).map_or(1u64 << 32, |&next| u64::from(next));
                ipv4_addresses += end - u64::from(start);
            }
        }
        // /64 networks: a network passed in part counts once.
        let mut ipv6_64s = 0u128;
        let mut last_counted: Option<u128> = None;
        for (i, &start) in self.v6.starts.iter().enumerate() {
            if passes(self.v6.decision[i]) {
                let last = self.v6.starts.get(i + 1).map_or(u128::MAX, |&next| next - 1);
                let (first_net, last_net) = (start >> 64, last >> 64);
                let first_net = match last_counted {
                    Some(n) if n >= first_net => n + 1,
                    _ => first_net,
                };
                if last_net >= first_net {
                    ipv6_64s += last_net - first_net + 1;
                    last_counted = Some(last_net);
                }
            }
        }
        AuthorizedSpace { ipv4_addresses, ipv6_64s, exact }
    }
}

/// Appends an interval starting at `start`, or extends the last one when
/// it has the same decision.
fn push<T: Copy>(intervals: &mut Intervals<T>, start: T, decision: u16) {
    if intervals.decision.last() != Some(&decision) {
        intervals.starts.push(start);
        intervals.decision.push(decision);
    }
}

/// The cache, read only: what was not cached is a miss (noted), never a
/// query. Remembers the earliest expiry of what it read.
struct CacheOnly<'c> {
    cache: &'c Cache,
    missed: AtomicBool,
    expires: Mutex<Option<Instant>>,
}

impl CacheOnly<'_> {
    fn read(&self, name: &str, rtype: RecordType) -> LookupResult {
        match self.cache.peek(name, rtype) {
            Some((result, expires)) => {
                if let Ok(mut earliest) = self.expires.lock() {
                    *earliest = Some(earliest.map_or(expires, |e| e.min(expires)));
                }
                result
            }
            None => {
                self.missed.store(true, Ordering::Relaxed);
                Err(LookupError::Temporary(TempFailure::Timeout))
            }
        }
    }
}

impl Lookup for CacheOnly<'_> {
    fn lookup(&self, name: &str, rtype: RecordType) -> impl Future<Output = LookupResult> + Send {
        std::future::ready(self.read(name, rtype))
    }

    fn lookup_charged(
        &self,
        name: &str,
        rtype: RecordType,
        _budget: &QueryBudget,
    ) -> impl Future<Output = LookupResult> + Send {
        // Answers the cache holds cost a check nothing.
        std::future::ready(self.read(name, rtype))
    }
}
