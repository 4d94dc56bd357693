//! The check_host() function of RFC 7208 §4: the evaluation loop over a
//! stack of records (the checked domain's and the include and redirect
//! targets it reaches), the processing limits (§4.6.4), the lookups and the
//! deadline. The mechanisms are in `mechanisms`, the explanation in
//! `explanation`.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use smallvec::SmallVec;

use super::compile::Probe;
use super::speculate::Plan;
use super::target::{Via, expand_target, macro_vars, static_match};
use super::trace::{Misses, NoRecordWhy, QueryName, Step};
use super::{
    AuthorizedSpace, CheckOptions, Evaluation, LimitKind, Limits, Matched, Reason, SpfResult, Trace,
};
use crate::dns::{Answer, Lookup, LookupError, LookupResult, QueryBudget, RecordType, Records, TempFailure};
use crate::input::{CheckRequest, Identity, valid_domain};
use crate::macros::{ExpansionBudget, MAX_EXPLANATION, MacroLetter, MacroString};
use crate::record::{Directive, DomainSpec, Mechanism, Modifier, Qualifier, Record, SpfSelection, Term};

/// Evaluates SPF policies through a [`Lookup`].
#[derive(Debug, Clone)]
pub struct Evaluator<L> {
    lookup: L,
    options: CheckOptions,
}

impl<L: Lookup> Evaluator<L> {
    /// An evaluator over `lookup` with `options`.
    pub fn new(lookup: L, options: CheckOptions) -> Self {
        Evaluator { lookup, options }
    }

    /// The lookup implementation.
    pub fn lookup(&self) -> &L {
        &self.lookup
    }

    /// The options.
    pub fn options(&self) -> &CheckOptions {
        &self.options
    }

    /// Checks the MAIL FROM identity (§2.4): see
    /// [`CheckRequest::mail_from`] for the null reverse-path and senders
    /// without a local part.
    ///
    /// [`CheckOptions::deadline`] is looked at before every lookup; a
    /// lookup already waiting is not cut short (that needs a timer, which
    /// [`Checker`](crate::Checker) arms on its own runtime).
    pub async fn check_mail_from(&self, ip: IpAddr, mail_from: &str, helo: &str) -> Evaluation {
        self.check(&CheckRequest::mail_from(ip, mail_from, helo)).await
    }

    /// Checks the HELO identity (§2.3): `<sender>` is `postmaster@<helo>`.
    /// The deadline as for [`Evaluator::check_mail_from`].
    pub async fn check_helo(&self, ip: IpAddr, helo: &str) -> Evaluation {
        self.check(&CheckRequest::helo(ip, helo)).await
    }

    /// The check_host() function (§4): `<ip>`, `<domain>`, `<sender>`, plus
    /// the HELO name for `%{h}` and the identity for headers.
    pub async fn check_host(
        &self,
        ip: IpAddr,
        domain: &str,
        sender: &str,
        helo: &str,
        identity: Identity,
    ) -> Evaluation {
        self.check(&CheckRequest::check_host(identity, ip, domain, sender, helo)).await
    }

    /// Checks `request`. The deadline as for [`Evaluator::check_mail_from`].
    pub async fn check(&self, request: &CheckRequest) -> Evaluation {
        self.run_check(request, self.deadline_from_now(false)).await
    }

    /// When a check starting now must end ([`CheckOptions::deadline`]);
    /// `timers`: whether a lookup still waiting then may be cut short with
    /// a tokio timer (the caller's runtime has a time driver).
    pub(crate) fn deadline_from_now(&self, timers: bool) -> Option<Deadline> {
        self.options.deadline.map(|d| Deadline { at: Instant::now() + d, timers })
    }

    /// check_host(), stopping at `deadline` if one is given: the deadline
    /// is looked at before every DNS-querying term and record, and a lookup
    /// still waiting for its answer then is abandoned. The evaluation then
    /// ends in `temperror` ([`Reason::Deadline`]) with what was done so far
    /// (lookups counted, the trace).
    pub(crate) async fn run_check(&self, request: &CheckRequest, deadline: Option<Deadline>) -> Evaluation {
        self.run_probed(request, deadline, None).await.0
    }

    /// [`Evaluator::run_check`], with `probe` (if given) told which address
    /// ranges the evaluation compared the client with and whether anything
    /// but the client's address decided it (see [`super::compile`]). A
    /// probed evaluation leaves a `fail`'s explanation out: it names the
    /// record whose `exp=` would give it in the probe instead.
    pub(crate) async fn run_probed(
        &self,
        request: &CheckRequest,
        deadline: Option<Deadline>,
        probe: Option<Box<Probe>>,
    ) -> (Evaluation, Option<Box<Probe>>) {
        let mut run = Run::new(self, request, deadline, probe);
        let domain = request.domain();
        let outcome = run.run(domain).await;
        let explanation = match &mut run.probe {
            Some(probe) => {
                probe.exp_from = outcome.exp_from.clone();
                None
            }
            None if outcome.result == SpfResult::Fail => {
                Some(Box::pin(run.explanation(outcome.exp_from.as_ref(), domain)).await)
            }
            None => None,
        };
        let dns_queries = run.queries.sent();
        let evaluation = Evaluation {
            explanation,
            matched: outcome.matched,
            reason: outcome.reason,
            dns_lookups: run.dns_terms,
            void_lookups: run.void,
            dns_queries,
            trace: run.trace,
            authorized: outcome.space,
            ..Evaluation::new(request, outcome.result)
        };
        (evaluation.with_wide_open(&self.options.wide_open), run.probe)
    }

    /// The explanation of a `fail` that a compiled policy decided, for
    /// `request`: `exp_from` as a probed evaluation named it. `None` when
    /// it cannot be had without waiting (its TXT record or a PTR answer
    /// for `%{p}` is not cached): the caller then evaluates in full.
    pub(crate) fn explain_now(
        &self,
        request: &CheckRequest,
        exp_from: Option<&(Arc<Record>, Arc<str>)>,
    ) -> Option<String> {
        // The common case, without the machinery of a check: no `exp=`,
        // and a default explanation that needs no PTR answers. The same
        // expansion the evaluator makes (a compiled policy's address
        // expanded no macro, so the check's expansion budget is whole).
        let default = &self.options.default_explanation;
        if exp_from.is_none_or(|(record, _)| record.exp().is_none())
            && !default.uses(MacroLetter::ValidatedName)
        {
            let domain = exp_from.map_or(request.domain(), |(_, d)| d);
            let receiver = self.options.receiver.as_deref().unwrap_or("unknown");
            let timestamp =
                if default.uses(MacroLetter::Timestamp) { timestamp(self.options.timestamp) } else { 0 };
            let vars = macro_vars(request, domain, receiver, None, timestamp);
            return Some(default.expand_text(&vars, MAX_EXPLANATION, &mut ExpansionBudget::default()));
        }
        let mut run = Run::new(self, request, None, None);
        let queries = Arc::clone(&run.queries);
        let explanation = std::pin::pin!(run.explanation(exp_from, request.domain()));
        let polled = explanation.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
        match polled {
            std::task::Poll::Ready(text) if queries.sent() == 0 => Some(text),
            _ => None,
        }
    }
}

/// Moves `frame` past the terms that need no DNS and cannot match `ip`
/// (modifiers, `ip4`/`ip6` ranges without it): the common run of a large
/// provider record, scanned without any bookkeeping. Stops at the first term
/// that needs the full path (a match, `all`, a DNS-querying mechanism).
/// A trace records the run skipped as one step ([`Misses`]).
fn skip_static_misses(frame: &mut Frame, ip: IpAddr, mut probe: Option<&mut Probe>) {
    for term in &frame.record.terms()[frame.next.min(frame.record.terms().len())..] {
        let miss = match term {
            Term::Modifier(_) => true,
            Term::Directive(directive) => {
                if let Some(probe) = probe.as_deref_mut() {
                    probe.note_mechanism(&directive.mechanism);
                }
                static_match(&directive.mechanism, ip) == Some(false)
            }
        };
        if !miss {
            return;
        }
        frame.next += 1;
    }
}

/// One check_host() invocation in progress.
struct Frame {
    /// Shared, so the loop can hold it while it borrows the stack mutably.
    domain: Arc<str>,
    record: Arc<Record>,
    next: usize,
    via: Via,
    depth: u32,
    dns_at_entry: u32,
    void_at_entry: u32,
}

/// The result of a (nested) check_host().
pub(super) struct Outcome {
    pub(super) result: SpfResult,
    pub(super) reason: Option<Reason>,
    pub(super) matched: Option<Matched>,
    /// The record (and its domain) whose `exp=` explains a `fail`.
    pub(super) exp_from: Option<(Arc<Record>, Arc<str>)>,
    /// On `pass`: what the matched term is known to pass.
    pub(super) space: Option<AuthorizedSpace>,
}

impl Outcome {
    pub(super) fn error(result: SpfResult, reason: Reason) -> Outcome {
        Outcome { result, reason: Some(reason), matched: None, exp_from: None, space: None }
    }
}

/// A mechanism's outcome.
pub(super) enum TermOutcome {
    Match,
    NoMatch,
    Error(SpfResult, Reason),
}

pub(super) fn bool_outcome(matched: bool) -> TermOutcome {
    if matched { TermOutcome::Match } else { TermOutcome::NoMatch }
}

/// The state of one check.
pub(super) struct Run<'a, L> {
    pub(super) ev: &'a Evaluator<L>,
    pub(super) request: &'a CheckRequest,
    /// `%{r}`: the configured receiver, or `unknown`.
    pub(super) receiver: &'a str,
    /// `%{t}` when fixed by the options; otherwise read from the clock when
    /// an explanation needs it (only `exp` may use `%{t}`, §7.2).
    pub(super) timestamp: Option<u64>,
    pub(super) dns_terms: u32,
    pub(super) void: u32,
    pub(super) trace: Trace,
    /// This check's speculative lookups, once a record had to be fetched.
    pub(super) plan: Option<Arc<Plan>>,
    /// `%{p}`, computed at most once per check.
    pub(super) validated_name: Option<String>,
    /// Expansion work left for this check's targets and explanation.
    pub(super) budget: ExpansionBudget,
    /// DNS questions left for this check and its speculation.
    pub(super) queries: Arc<QueryBudget>,
    /// When the check must end, if ever.
    pub(super) deadline: Option<Deadline>,
    /// The deadline passed: evaluation stops at the next term.
    pub(super) expired: bool,
    /// Set while a policy is compiled: what decided this evaluation.
    pub(super) probe: Option<Box<Probe>>,
}

impl<'a, L: Lookup> Run<'a, L> {
    /// A check of `request` starting now: nothing counted, nothing traced.
    fn new(
        ev: &'a Evaluator<L>,
        request: &'a CheckRequest,
        deadline: Option<Deadline>,
        probe: Option<Box<Probe>>,
    ) -> Self {
        Run {
            ev,
            request,
            receiver: ev.options.receiver.as_deref().unwrap_or("unknown"),
            timestamp: ev.options.timestamp,
            dns_terms: 0,
            void: 0,
            trace: Trace::default(),
            plan: None,
            validated_name: None,
            budget: ExpansionBudget::default(),
            queries: Arc::new(QueryBudget::new(ev.options.limits.max_queries)),
            deadline,
            expired: false,
            probe,
        }
    }

    pub(super) fn limits(&self) -> &Limits {
        &self.ev.options().limits
    }

    /// Whether to record the next trace event. The trace holds at most
    /// [`super::MAX_EVENTS`] events; later ones are only counted, so a huge
    /// record cannot make the trace huge.
    pub(super) fn tracing(&mut self) -> bool {
        self.ev.options().trace && self.trace.room()
    }

    /// The macro values for `domain` (§7.2). `%{t}` is read from the clock
    /// only for explanations (`exp_text`): targets cannot use it (§7.2).
    pub(super) fn vars<'b>(&'b self, domain: &'b str, timestamp: u64) -> crate::macros::MacroVars<'b> {
        macro_vars(self.request, domain, self.receiver, self.validated_name.as_deref(), timestamp)
    }

    /// `%{t}`: the configured timestamp, or the current time.
    pub(super) fn timestamp(&self) -> u64 {
        timestamp(self.timestamp)
    }

    /// Expands explanation text within the check's expansion budget and
    /// [`MAX_EXPLANATION`].
    pub(super) fn expand_explanation(&mut self, text: &MacroString, domain: &str) -> String {
        let mut budget = self.budget;
        let expanded = text.expand_text(&self.vars(domain, self.timestamp()), MAX_EXPLANATION, &mut budget);
        self.budget = budget;
        expanded
    }

    /// Notes, while compiling a policy, that something other than the
    /// client's address (a macro, a PTR name) decides this evaluation.
    pub(super) fn depends_on_client(&mut self) {
        if let Some(probe) = &mut self.probe {
            probe.client_dependent = true;
        }
    }

    /// Whether the check's deadline has passed (noted once seen).
    pub(super) fn past_deadline(&mut self) -> bool {
        if !self.expired && self.deadline.is_some_and(|d| Instant::now() >= d.at) {
            self.expired = true;
        }
        self.expired
    }

    pub(super) async fn query(&mut self, name: Name<'_>, rtype: RecordType, depth: u32) -> LookupResult {
        let result = if self.past_deadline() {
            Err(LookupError::Temporary(TempFailure::Timeout))
        } else if !self.queries.has_room() {
            Err(LookupError::Temporary(TempFailure::QueryLimit))
        } else {
            let lookup = self.ev.lookup.lookup_charged(name.as_str(), rtype, &self.queries);
            match within(lookup, self.deadline).await {
                Some(result) => result,
                None => {
                    self.expired = true;
                    Err(LookupError::Temporary(TempFailure::Timeout))
                }
            }
        };
        if self.tracing() {
            let step = Step::Query { depth, name: name.traced(), rtype, result: result.clone() };
            self.trace.push(step);
        }
        result
    }

    pub(super) fn dns_error(&self, name: &str, rtype: RecordType, failure: TempFailure) -> TermOutcome {
        let (result, reason) = self.dns_failure(name, rtype, failure);
        TermOutcome::Error(result, reason)
    }

    /// The result of a lookup that failed temporarily: `temperror` (§2.6.6)
    /// naming the lookup, or the check's deadline when that is what ended
    /// it; `permerror` when the check's query limit stopped it.
    pub(super) fn dns_failure(
        &self,
        name: &str,
        rtype: RecordType,
        failure: TempFailure,
    ) -> (SpfResult, Reason) {
        if self.expired {
            return (SpfResult::TempError, Reason::Deadline);
        }
        match failure {
            TempFailure::QueryLimit => (
                SpfResult::PermError,
                Reason::Limit {
                    limit: LimitKind::Queries,
                    max: self.limits().max_queries,
                    term: format!("{rtype} {name}"),
                    domain: name.to_string(),
                },
            ),
            failure => (SpfResult::TempError, Reason::Dns { name: name.to_string(), rtype, failure }),
        }
    }

    /// Counts a DNS-querying term, before its query is sent (§4.6.4).
    pub(super) fn charge_term(
        &mut self,
        term: &(dyn fmt::Display + Sync),
        domain: &str,
    ) -> Result<(), Reason> {
        self.dns_terms += 1;
        over_limit(self.dns_terms, self.limits().dns_terms, LimitKind::DnsTerms, term, domain)
    }

    /// Counts a void lookup (§4.6.4).
    pub(super) fn charge_void(
        &mut self,
        term: &(dyn fmt::Display + Sync),
        domain: &str,
    ) -> Result<(), Reason> {
        self.void += 1;
        over_limit(self.void, self.limits().void_lookups, LimitKind::VoidLookups, term, domain)
    }

    /// Expands a domain-spec into a name to query (§7.3: lower case, no
    /// trailing dot, shortened to 253 characters). `None` when the result
    /// cannot be a DNS name.
    pub(super) async fn target(&mut self, spec: &DomainSpec, domain: &str, depth: u32) -> Option<Arc<str>> {
        if spec.literal().is_none() {
            self.depends_on_client();
        }
        if spec.literal().is_none() && spec.macro_string().uses(MacroLetter::ValidatedName) {
            Box::pin(self.compute_validated_name(domain, depth)).await;
        }
        let mut budget = self.budget;
        let target = expand_target(spec, &self.vars(domain, 0), &mut budget);
        self.budget = budget;
        target.ok()
    }

    /// Starts the lookups `record` will need (see [`super::speculate`]).
    fn speculate(&mut self, record: &Record, domain: &str) {
        let plan = match &self.plan {
            Some(plan) => Arc::clone(plan),
            None => {
                let Some(prefetcher) = self.ev.lookup.prefetcher() else { return };
                let plan = Arc::new(Plan::new(
                    prefetcher,
                    self.request,
                    self.receiver,
                    self.ev.options(),
                    Arc::clone(&self.queries),
                ));
                self.plan = Some(Arc::clone(&plan));
                plan
            }
        };
        plan.walk(record, domain, self.dns_terms);
    }

    /// The evaluation loop: check_host() for `domain` and everything it
    /// includes or redirects to, without recursion.
    async fn run(&mut self, domain: &Arc<str>) -> Outcome {
        if self.tracing() {
            self.trace.push(Step::Enter { depth: 0, domain: Arc::clone(domain), via: Via::Check });
        }
        // §4.3: a malformed or single-label <domain> gives "none" at once.
        if !valid_domain(domain) {
            return self.leave_early(
                Outcome::error(SpfResult::None, Reason::InvalidDomain { domain: domain.to_string() }),
                domain,
                0,
            );
        }
        let record = match self.fetch_record(domain, 0).await {
            Ok(record) => record,
            Err((outcome, _)) => return self.leave_early(outcome, domain, 0),
        };
        let mut stack: SmallVec<[Frame; 4]> = smallvec::smallvec![Frame {
            domain: Arc::clone(domain),
            record,
            next: 0,
            via: Via::Check,
            depth: 0,
            dns_at_entry: 0,
            void_at_entry: 0,
        }];
        loop {
            // The deadline passed during the last term: every frame ends in
            // temperror, with the trace of what was done.
            if self.expired
                && let Some(done) =
                    self.finish(&mut stack, Outcome::error(SpfResult::TempError, Reason::Deadline))
            {
                return done;
            }
            let Some(frame) = stack.last_mut() else {
                // `finish` returns the outcome when it empties the stack.
                return Outcome::error(SpfResult::TempError, Reason::Deadline);
            };
            let len = frame.record.terms().len();
            let from = frame.next.min(len);
            skip_static_misses(frame, self.request.ip(), self.probe.as_deref_mut());
            let to = frame.next.min(len);
            if to > from && self.ev.options().trace {
                self.trace.push_misses(Misses {
                    depth: frame.depth,
                    domain: Arc::clone(&frame.domain),
                    record: Arc::clone(&frame.record),
                    from: u32::try_from(from).unwrap_or(u32::MAX),
                    to: u32::try_from(to).unwrap_or(u32::MAX),
                    shown: 0,
                    dns_lookups: self.dns_terms,
                    void_lookups: self.void,
                });
            }
            let depth = frame.depth;
            let record = Arc::clone(&frame.record);
            let domain = Arc::clone(&frame.domain);
            let index = frame.next;
            frame.next += 1;
            let finished = match record.terms().get(index) {
                Some(Term::Modifier(_)) => continue,
                Some(Term::Directive(directive)) => {
                    if let Mechanism::Include(spec) = &directive.mechanism {
                        match self.enter(directive, spec, &domain, depth, Via::Include).await {
                            Ok(frame) => {
                                stack.push(frame);
                                continue;
                            }
                            Err(outcome) => outcome,
                        }
                    } else {
                        let outcome = self.mechanism(directive, &domain, depth).await;
                        if self.tracing() && !matches!(outcome, TermOutcome::Error(..)) {
                            let matched = matches!(outcome, TermOutcome::Match);
                            let step = self.term_step(&record, index, &domain, depth, matched);
                            self.trace.push(step);
                        }
                        match outcome {
                            TermOutcome::NoMatch => continue,
                            TermOutcome::Match => {
                                matched(directive, &record, index, &domain, self.request.ip())
                            }
                            TermOutcome::Error(result, reason) => Outcome::error(result, reason),
                        }
                    }
                }
                // §6.1: redirect applies when no mechanism matched, and is
                // ignored when the record has an "all" mechanism.
                None => match record.redirect().filter(|_| !record.has_all()) {
                    Some(spec) => {
                        let term = Modifier::Redirect(spec.clone());
                        match self.enter(&term, spec, &domain, depth, Via::Redirect).await {
                            Ok(frame) => {
                                stack.push(frame);
                                continue;
                            }
                            Err(outcome) => outcome,
                        }
                    }
                    // §4.7: no match and no redirect: neutral.
                    None => Outcome {
                        result: SpfResult::Neutral,
                        reason: None,
                        matched: None,
                        exp_from: None,
                        space: None,
                    },
                },
            };
            if let Some(done) = self.finish(&mut stack, finished) {
                return done;
            }
        }
    }

    /// Emits the trace for a check that ended before any record was evaluated.
    fn leave_early(&mut self, outcome: Outcome, domain: &Arc<str>, depth: u32) -> Outcome {
        if self.tracing() {
            self.trace.push(Step::Leave {
                depth,
                domain: Arc::clone(domain),
                result: outcome.result,
                dns_lookups_spent: 0,
                void_lookups_spent: 0,
            });
        }
        outcome
    }

    /// Starts check_host() for an include or redirect target: counts the
    /// term, expands the target and fetches its record.
    async fn enter(
        &mut self,
        term: &(dyn fmt::Display + Sync),
        spec: &DomainSpec,
        domain: &str,
        depth: u32,
        via: Via,
    ) -> Result<Frame, Outcome> {
        if let Err(reason) = self.charge_term(term, domain) {
            return Err(Outcome::error(SpfResult::PermError, reason));
        }
        let dns_at_entry = self.dns_terms - 1;
        let void_at_entry = self.void;
        let missing = |target: String| match via {
            Via::Redirect => Reason::RedirectNone { target },
            _ => Reason::IncludeNone { term: term.to_string(), target },
        };
        let Some(target) = self.target(spec, domain, depth).await else {
            // §6.1: a malformed target name is "none", which is a permerror
            // for include (§5.2) and redirect (§6.1) alike.
            let shown = spec.to_string();
            if let Err(reason) = self.charge_void(term, domain) {
                return Err(Outcome::error(SpfResult::PermError, reason));
            }
            return Err(Outcome::error(SpfResult::PermError, missing(shown)));
        };
        if self.tracing() {
            self.trace.push(Step::Enter { depth: depth + 1, domain: Arc::clone(&target), via });
        }
        match self.fetch_record(&target, depth + 1).await {
            Ok(record) => Ok(Frame {
                domain: target,
                record,
                next: 0,
                via,
                depth: depth + 1,
                dns_at_entry,
                void_at_entry,
            }),
            Err((outcome, void)) => {
                let outcome = match outcome.result {
                    SpfResult::None => {
                        let void = if void { self.charge_void(term, domain).err() } else { None };
                        Outcome::error(
                            SpfResult::PermError,
                            void.unwrap_or_else(|| missing(target.to_string())),
                        )
                    }
                    _ => outcome,
                };
                if self.tracing() {
                    self.trace.push(Step::Leave {
                        depth: depth + 1,
                        domain: Arc::clone(&target),
                        result: outcome.result,
                        dns_lookups_spent: 0,
                        void_lookups_spent: self.void - void_at_entry,
                    });
                }
                Err(outcome)
            }
        }
    }

    /// Ends the innermost frame with `outcome` and applies it to the frames
    /// below. Returns the final outcome when the stack is empty, `None` when
    /// evaluation resumes in an including record.
    fn finish(&mut self, stack: &mut SmallVec<[Frame; 4]>, mut outcome: Outcome) -> Option<Outcome> {
        loop {
            let frame = stack.pop()?;
            if self.tracing() {
                self.trace.push(Step::Leave {
                    depth: frame.depth,
                    domain: Arc::clone(&frame.domain),
                    result: outcome.result,
                    dns_lookups_spent: self.dns_terms - frame.dns_at_entry,
                    void_lookups_spent: self.void - frame.void_at_entry,
                });
            }
            match frame.via {
                Via::Check => return Some(outcome),
                // §6.1: the redirect target's result is the result; "none"
                // there is a permerror.
                Via::Redirect => {
                    if outcome.result == SpfResult::None {
                        outcome = Outcome::error(
                            SpfResult::PermError,
                            Reason::RedirectNone { target: frame.domain.to_string() },
                        );
                    }
                }
                // §5.2: the include's result decides whether it matches.
                Via::Include => {
                    let parent = stack.last()?;
                    let Some(Term::Directive(directive)) = parent.record.terms().get(parent.next - 1) else {
                        return Some(outcome);
                    };
                    match outcome.result {
                        SpfResult::Pass => {
                            let (record, index) = (&parent.record, parent.next - 1);
                            self.trace_term(record, index, &parent.domain, parent.depth, true);
                            outcome = matched(
                                directive,
                                &parent.record,
                                parent.next - 1,
                                &parent.domain,
                                self.request.ip(),
                            );
                        }
                        SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => {
                            let (record, index) = (&parent.record, parent.next - 1);
                            self.trace_term(record, index, &parent.domain, parent.depth, false);
                            return None;
                        }
                        SpfResult::None => {
                            let reason = Reason::IncludeNone {
                                term: directive.to_string(),
                                target: frame.domain.to_string(),
                            };
                            outcome = Outcome::error(SpfResult::PermError, reason);
                        }
                        SpfResult::TempError | SpfResult::PermError => {}
                    }
                }
            }
        }
    }

    /// Traces the evaluation of the term at `index` in `record` (an
    /// include, once its target's result is known).
    fn trace_term(
        &mut self,
        record: &Arc<Record>,
        index: usize,
        domain: &Arc<str>,
        depth: u32,
        matched: bool,
    ) {
        if self.tracing() {
            let step = self.term_step(record, index, domain, depth, matched);
            self.trace.push(step);
        }
    }

    /// The trace step of the term at `index` in `record`, evaluated now.
    fn term_step(
        &self,
        record: &Arc<Record>,
        index: usize,
        domain: &Arc<str>,
        depth: u32,
        matched: bool,
    ) -> Step {
        Step::Term {
            depth,
            domain: Arc::clone(domain),
            record: Arc::clone(record),
            index: u32::try_from(index).unwrap_or(u32::MAX),
            matched,
            dns_lookups: self.dns_terms,
            void_lookups: self.void,
        }
    }

    /// §4.4 and §4.5: the TXT lookup and record selection.
    /// On failure, the outcome and whether the TXT query itself was void
    /// (NXDOMAIN or no data).
    async fn fetch_record(&mut self, domain: &Arc<str>, depth: u32) -> Result<Arc<Record>, (Outcome, bool)> {
        let result = self.query(Name::Shared(domain), RecordType::Txt, depth).await;
        let txt = match result {
            Ok(Answer { records: Records::Txt(txt), .. }) => txt,
            Ok(_) => {
                return Err((self.no_record(domain, depth, || NoRecordWhy::NotTxt, None), true));
            }
            Err(LookupError::Temporary(failure)) => {
                let (result, reason) = self.dns_failure(domain, RecordType::Txt, failure);
                return Err((Outcome::error(result, reason), false));
            }
            Err(LookupError::NxDomain { .. }) => {
                return Err((self.no_record(domain, depth, || NoRecordWhy::NxDomain, None), true));
            }
            Err(LookupError::NoData { .. }) => {
                return Err((self.no_record(domain, depth, || NoRecordWhy::NoData, None), true));
            }
        };
        match txt.spf() {
            SpfSelection::One(Ok(record)) => {
                // The first check to read a freshly fetched answer starts
                // what its record will need (see `speculate`).
                if self.ev.options().speculation.enabled && txt.claim_speculation() {
                    self.speculate(record, domain);
                }
                if self.tracing() {
                    self.trace.push(Step::Record {
                        depth,
                        domain: Arc::clone(domain),
                        record: Arc::clone(record),
                    });
                }
                Ok(Arc::clone(record))
            }
            SpfSelection::One(Err(error)) => {
                let reason = Reason::Syntax { domain: domain.to_string(), error: error.clone() };
                Err((Outcome::error(SpfResult::PermError, reason), false))
            }
            SpfSelection::Multiple(count) => {
                let reason = Reason::MultipleRecords { domain: domain.to_string(), count: *count };
                Err((Outcome::error(SpfResult::PermError, reason), false))
            }
            SpfSelection::None { near_miss } => {
                let near_miss = near_miss.as_deref().map(str::to_string);
                let why = || NoRecordWhy::NotSpf(Arc::clone(&txt));
                Err((self.no_record(domain, depth, why, near_miss), false))
            }
        }
    }

    fn no_record(
        &mut self,
        domain: &Arc<str>,
        depth: u32,
        why: impl FnOnce() -> NoRecordWhy,
        near_miss: Option<String>,
    ) -> Outcome {
        if self.tracing() {
            self.trace.push(Step::NoRecord { depth, domain: Arc::clone(domain), why: why() });
        }
        Outcome::error(SpfResult::None, Reason::NoRecord { domain: domain.to_string(), near_miss })
    }
}

/// `%{t}`: `fixed` if configured, otherwise the current time.
fn timestamp(fixed: Option<u64>) -> u64 {
    fixed.unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// `Err` naming the limit and the term when `count` went past `max`.
fn over_limit(
    count: u32,
    max: u32,
    limit: LimitKind,
    term: &(dyn fmt::Display + Sync),
    domain: &str,
) -> Result<(), Reason> {
    if count <= max {
        return Ok(());
    }
    Err(Reason::Limit { limit, max, term: term.to_string(), domain: domain.to_string() })
}

pub(super) fn matched(
    directive: &Directive,
    record: &Arc<Record>,
    index: usize,
    domain: &Arc<str>,
    ip: IpAddr,
) -> Outcome {
    let result = match directive.qualifier {
        Qualifier::Pass => SpfResult::Pass,
        Qualifier::Fail => SpfResult::Fail,
        Qualifier::SoftFail => SpfResult::SoftFail,
        Qualifier::Neutral => SpfResult::Neutral,
    };
    Outcome {
        result,
        reason: None,
        matched: Some(Matched { term: record.term_shared(index), domain: Arc::clone(domain) }),
        exp_from: (result == SpfResult::Fail).then(|| (Arc::clone(record), Arc::clone(domain))),
        space: (result == SpfResult::Pass).then(|| AuthorizedSpace::of_term(&directive.mechanism, ip)),
    }
}

/// Polls `work` once; if it has to wait and there is a deadline, waits at
/// most until then (`None` when the deadline came first). A lookup answered
/// from the cache never creates a timer.
async fn within<F: std::future::Future>(work: F, deadline: Option<Deadline>) -> Option<F::Output> {
    let mut work = std::pin::pin!(work);
    if let std::task::Poll::Ready(output) =
        std::future::poll_fn(|cx| std::task::Poll::Ready(work.as_mut().poll(cx))).await
    {
        return Some(output);
    }
    match deadline {
        Some(Deadline { at, timers: true }) => tokio::time::timeout_at(at.into(), work).await.ok(),
        _ => Some(work.await),
    }
}

/// A name to query, as the trace can hold it without copying it when the
/// check already shares it.
#[derive(Clone, Copy)]
pub(super) enum Name<'a> {
    /// A domain the check shares.
    Shared(&'a Arc<str>),
    /// The name at an index in an answer's list (MX exchanges, PTR names).
    Listed(&'a Arc<[Box<str>]>, usize),
    /// Any other name (copied only if traced).
    Text(&'a str),
}

impl Name<'_> {
    pub(super) fn as_str(&self) -> &str {
        match *self {
            Name::Shared(name) => name,
            Name::Listed(names, index) => names.get(index).map_or("", |n| n),
            Name::Text(name) => name,
        }
    }

    fn traced(self) -> QueryName {
        match self {
            Name::Shared(name) => QueryName::Shared(Arc::clone(name)),
            Name::Listed(names, index) => QueryName::Listed(Arc::clone(names), index),
            Name::Text(name) => QueryName::Owned(name.into()),
        }
    }
}

/// When a check must end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    /// The instant.
    pub(crate) at: Instant,
    /// Whether a lookup still waiting then is cut short by a tokio timer.
    pub(crate) timers: bool,
}
