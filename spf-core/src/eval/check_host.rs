//! The check_host() function of RFC 7208 §4.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smallvec::SmallVec;

use super::speculate::{Client, Plan, Speculation};
use super::target::{expand_target, in_v4, in_v6, static_match, valid_name};
use super::trace;
use crate::dns::{Answer, Lookup, LookupError, LookupResult, QueryBudget, RecordType, Records, TempFailure};
use crate::error::normalize_ip;
use crate::eval::{Evaluation, LimitKind, Limits, Matched, Reason, SpfResult, TraceEvent, VoidCounting};
use crate::macros::{
    ExpansionBudget, MAX_EXPLANATION, MacroContext, MacroLetter, MacroString, MacroVars, write_dotted_ip,
};
use crate::record::{
    Directive, DomainSpec, DualCidr, Mechanism, Modifier, Qualifier, Record, SpfSelection, Term,
};

/// Which identity a check is about (RFC 7208 §2.3, §2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Identity {
    /// The MAIL FROM identity (`smtp.mailfrom`).
    MailFrom,
    /// The HELO identity (`smtp.helo`).
    Helo,
}

impl Identity {
    /// `mailfrom` or `helo`, as Received-SPF's `identity=` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::MailFrom => "mailfrom",
            Identity::Helo => "helo",
        }
    }
}

/// Options for evaluation.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Processing limits (§4.6.4). Default: the RFC's.
    pub limits: Limits,
    /// The checking host's domain: the `%{r}` macro and Received-SPF's
    /// `receiver=`. Default none (`%{r}` expands to `unknown`).
    pub receiver: Option<String>,
    /// The explanation used on `fail` when no `exp=` applies (§6.2).
    pub default_explanation: MacroString,
    /// Record a trace of every step. Default on.
    pub trace: bool,
    /// Fixed value for the `%{t}` macro; default the current time.
    pub timestamp: Option<u64>,
    /// Speculative lookups for records that had to be fetched. Default on.
    pub speculation: Speculation,
    /// The most time one check may take; then it ends in `temperror`
    /// ([`Reason::Deadline`]) with what it did so far. Default 20 s (RFC
    /// 7208 §4.6.4: "at least 20 seconds"); `None`: no deadline (each
    /// lookup is still bounded by the resolver's timeout and attempts). The
    /// evaluation looks at it before every lookup and abandons a lookup
    /// still waiting then, so a check ends within it plus a few
    /// milliseconds whatever it was doing. A lookup that has to wait needs
    /// a tokio runtime with its time driver.
    pub deadline: Option<Duration>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            limits: Limits::default(),
            receiver: None,
            default_explanation: default_explanation(),
            trace: true,
            timestamp: None,
            speculation: Speculation::default(),
            deadline: Some(Duration::from_secs(20)),
        }
    }
}

/// The default explanation: `%{d} does not designate %{c} as permitted sender`.
pub fn default_explanation() -> MacroString {
    MacroString::parse(
        b"%{d} does not designate %{c} as a permitted sender",
        crate::macros::MacroContext::Explanation,
    )
    .unwrap_or_default()
}

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

    /// Checks the MAIL FROM identity (§2.4). An empty `mail_from` (or `<>`)
    /// is the null reverse-path: then `postmaster@<helo>` is checked. An
    /// address without a local part (`@example.com`) gets `postmaster`
    /// (§4.3); so does a bare domain without `@`.
    ///
    /// [`CheckOptions::deadline`] is looked at before every lookup; a
    /// lookup already waiting is not cut short (that needs a timer, which
    /// [`Checker`](crate::Checker) arms on its own runtime).
    pub async fn check_mail_from(&self, ip: IpAddr, mail_from: &str, helo: &str) -> Evaluation {
        self.check_mail_from_by(ip, mail_from, helo, self.deadline_from_now(false)).await
    }

    /// Checks the HELO identity (§2.3): `<sender>` is `postmaster@<helo>`.
    /// The deadline as for [`Evaluator::check_mail_from`].
    pub async fn check_helo(&self, ip: IpAddr, helo: &str) -> Evaluation {
        self.check_helo_by(ip, helo, self.deadline_from_now(false)).await
    }

    /// When a check starting now must end ([`CheckOptions::deadline`]);
    /// `timers`: whether a lookup still waiting then may be cut short with
    /// a tokio timer (the caller's runtime has a time driver).
    pub(crate) fn deadline_from_now(&self, timers: bool) -> Option<Deadline> {
        self.options.deadline.map(|d| Deadline { at: Instant::now() + d, timers })
    }

    /// [`Evaluator::check_mail_from`], ending in `temperror`
    /// ([`Reason::Deadline`]) at `deadline`.
    pub(crate) async fn check_mail_from_by(
        &self,
        ip: IpAddr,
        mail_from: &str,
        helo: &str,
        deadline: Option<Deadline>,
    ) -> Evaluation {
        let (sender, domain) = mail_from_parts(mail_from, helo);
        self.run_check(ip, domain, &sender, helo, Identity::MailFrom, deadline).await
    }

    /// [`Evaluator::check_helo`], ending in `temperror` at `deadline`.
    pub(crate) async fn check_helo_by(
        &self,
        ip: IpAddr,
        helo: &str,
        deadline: Option<Deadline>,
    ) -> Evaluation {
        let sender = format!("postmaster@{helo}");
        self.run_check(ip, helo, &sender, helo, Identity::Helo, deadline).await
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
        self.run_check(ip, domain, sender, helo, identity, self.deadline_from_now(false)).await
    }

    /// check_host(), stopping at `deadline` if one is given: the deadline
    /// is looked at before every DNS-querying term and record, and a lookup
    /// still waiting for its answer then is abandoned. The evaluation then
    /// ends in `temperror` ([`Reason::Deadline`]) with what was done so far
    /// (lookups counted, the trace).
    async fn run_check(
        &self,
        ip: IpAddr,
        domain: &str,
        sender: &str,
        helo: &str,
        identity: Identity,
        deadline: Option<Deadline>,
    ) -> Evaluation {
        let ip = normalize_ip(ip);
        let (local_part, sender_domain) = match sender.rsplit_once('@') {
            Some(("", d)) => ("postmaster", d),
            Some((l, d)) => (l, d),
            None => ("postmaster", sender),
        };
        let mut run = Run {
            ev: self,
            ip,
            sender,
            local_part,
            sender_domain,
            helo,
            receiver: self.options.receiver.as_deref().unwrap_or("unknown"),
            timestamp: self.options.timestamp,
            dns_terms: 0,
            void: 0,
            trace: Vec::new(),
            plan: None,
            trace_omitted: 0,
            validated_name: None,
            budget: ExpansionBudget::default(),
            queries: Arc::new(QueryBudget::new(self.options.limits.max_queries)),
            deadline,
            expired: false,
        };
        let domain = normalize_domain(domain);
        let outcome = run.run(&domain).await;
        let explanation = if outcome.result == SpfResult::Fail {
            Some(Box::pin(run.explanation(outcome.exp_from.as_ref(), &domain)).await)
        } else {
            None
        };
        if run.trace_omitted > 0 {
            run.trace.push(TraceEvent::Truncated { omitted: run.trace_omitted });
        }
        Evaluation {
            result: outcome.result,
            identity,
            ip,
            sender: sender.to_string(),
            helo: (!helo.is_empty()).then(|| helo.to_string()),
            domain,
            explanation,
            matched: outcome.matched,
            reason: outcome.reason,
            dns_lookups: run.dns_terms,
            void_lookups: run.void,
            dns_queries: run.queries.sent(),
            trace: run.trace,
        }
    }
}

/// `<sender>` and `<domain>` for the MAIL FROM identity (§2.4, §4.3): the
/// null reverse-path (empty or `<>`) is `postmaster@<helo>`; an address
/// without a local part, or a bare domain, gets `postmaster`.
pub fn mail_from_identity(mail_from: &str, helo: &str) -> (String, String) {
    let (sender, domain) = mail_from_parts(mail_from, helo);
    (sender.into_owned(), domain.to_string())
}

/// [`mail_from_identity`], borrowing what it can.
fn mail_from_parts<'a>(mail_from: &'a str, helo: &'a str) -> (Cow<'a, str>, &'a str) {
    let mail_from = mail_from.trim();
    let mail_from = mail_from.strip_prefix('<').and_then(|m| m.strip_suffix('>')).unwrap_or(mail_from);
    if mail_from.is_empty() {
        return (format!("postmaster@{helo}").into(), helo);
    }
    match mail_from.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => (mail_from.into(), domain),
        Some((_, domain)) => (format!("postmaster@{domain}").into(), domain),
        None => (format!("postmaster@{mail_from}").into(), mail_from),
    }
}

/// Lower-cases a domain and drops one trailing dot.
fn normalize_domain(domain: &str) -> Arc<str> {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    if d.bytes().any(|b| b.is_ascii_uppercase()) { d.to_ascii_lowercase().into() } else { d.into() }
}

/// §4.3: `<domain>` must be a well-formed multi-label domain name: a
/// queryable name of visible ASCII characters, not a domain literal.
fn valid_domain(name: &str) -> bool {
    valid_name(name)
        && name.contains('.')
        && name.bytes().all(|b| (0x21..=0x7e).contains(&b))
        && !name.starts_with('[')
}

/// Moves `frame` past the terms that need no DNS and cannot match `ip`
/// (modifiers, `ip4`/`ip6` ranges without it): the common run of a large
/// provider record, scanned without any bookkeeping. Stops at the first term
/// that needs the full path (a match, `all`, a DNS-querying mechanism).
/// Only used when no trace is recorded, since the trace lists every term.
fn skip_static_misses(frame: &mut Frame, ip: IpAddr) {
    for term in &frame.record.terms()[frame.next.min(frame.record.terms().len())..] {
        let miss = match term {
            Term::Modifier(_) => true,
            Term::Directive(directive) => static_match(&directive.mechanism, ip) == Some(false),
        };
        if !miss {
            return;
        }
        frame.next += 1;
    }
}

/// How check_host() for one domain was entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Check,
    Include,
    Redirect,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Check => "check",
            Via::Include => "include",
            Via::Redirect => "redirect",
        }
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
struct Outcome {
    result: SpfResult,
    reason: Option<Reason>,
    matched: Option<Matched>,
    /// The record (and its domain) whose `exp=` explains a `fail`.
    exp_from: Option<(Arc<Record>, Arc<str>)>,
}

impl Outcome {
    fn error(result: SpfResult, reason: Reason) -> Outcome {
        Outcome { result, reason: Some(reason), matched: None, exp_from: None }
    }
}

/// A mechanism's outcome.
enum TermOutcome {
    Match,
    NoMatch,
    Error(SpfResult, Reason),
}

/// The state of one check.
struct Run<'a, L> {
    ev: &'a Evaluator<L>,
    ip: IpAddr,
    sender: &'a str,
    local_part: &'a str,
    sender_domain: &'a str,
    helo: &'a str,
    receiver: &'a str,
    /// `%{t}` when fixed by the options; otherwise read from the clock when
    /// an explanation needs it (only `exp` may use `%{t}`, §7.2).
    timestamp: Option<u64>,
    dns_terms: u32,
    void: u32,
    trace: Vec<TraceEvent>,
    /// Trace events beyond the cap, counted only.
    trace_omitted: u32,
    /// This check's speculative lookups, once a record had to be fetched.
    plan: Option<Arc<Plan>>,
    /// `%{p}`, computed at most once per check.
    validated_name: Option<String>,
    /// Expansion work left for this check's targets and explanation.
    budget: ExpansionBudget,
    /// DNS questions left for this check and its speculation.
    queries: Arc<QueryBudget>,
    /// When the check must end, if ever.
    deadline: Option<Deadline>,
    /// The deadline passed: evaluation stops at the next term.
    expired: bool,
}

impl<L: Lookup> Run<'_, L> {
    fn limits(&self) -> &Limits {
        &self.ev.options.limits
    }

    /// Whether to record the next trace event. The trace holds at most
    /// [`trace::MAX_EVENTS`] events; later ones are only counted, so a huge
    /// record cannot make the trace huge.
    fn tracing(&mut self) -> bool {
        if !self.ev.options.trace {
            return false;
        }
        if self.trace.len() < trace::MAX_EVENTS {
            return true;
        }
        self.trace_omitted += 1;
        false
    }

    /// The macro values for `domain` (§7.2). `%{t}` is read from the clock
    /// only for explanations (`exp_text`): targets cannot use it (§7.2).
    fn vars<'b>(&'b self, domain: &'b str, timestamp: u64) -> MacroVars<'b> {
        MacroVars {
            sender: self.sender,
            local_part: self.local_part,
            sender_domain: self.sender_domain,
            domain,
            ip: self.ip,
            helo: self.helo,
            receiver: self.receiver,
            timestamp,
            validated_name: self.validated_name.as_deref().unwrap_or("unknown"),
        }
    }

    /// `%{t}`: the configured timestamp, or the current time.
    fn timestamp(&self) -> u64 {
        self.timestamp
            .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }

    /// Expands explanation text within the check's expansion budget and
    /// [`MAX_EXPLANATION`].
    fn expand_explanation(&mut self, text: &MacroString, domain: &str) -> String {
        let mut budget = self.budget;
        let expanded = text.expand_text(&self.vars(domain, self.timestamp()), MAX_EXPLANATION, &mut budget);
        self.budget = budget;
        expanded
    }

    /// Whether the check's deadline has passed (noted once seen).
    fn past_deadline(&mut self) -> bool {
        if !self.expired && self.deadline.is_some_and(|d| Instant::now() >= d.at) {
            self.expired = true;
        }
        self.expired
    }

    async fn query(&mut self, name: &str, rtype: RecordType, depth: u32) -> LookupResult {
        let result = if self.past_deadline() {
            Err(LookupError::Temporary(TempFailure::Timeout))
        } else if !self.queries.has_room() {
            Err(LookupError::Temporary(TempFailure::QueryLimit))
        } else {
            let lookup = self.ev.lookup.lookup_charged(name, rtype, &self.queries);
            match within(lookup, self.deadline).await {
                Some(result) => result,
                None => {
                    self.expired = true;
                    Err(LookupError::Temporary(TempFailure::Timeout))
                }
            }
        };
        if self.tracing() {
            let outcome = trace::render_outcome(&result);
            self.trace.push(TraceEvent::Query { depth, name: name.to_string(), rtype, outcome });
        }
        result
    }

    fn dns_error(&self, name: &str, rtype: RecordType, failure: TempFailure) -> TermOutcome {
        let (result, reason) = self.dns_failure(name, rtype, failure);
        TermOutcome::Error(result, reason)
    }

    /// The result of a lookup that failed temporarily: `temperror` (§2.6.6)
    /// naming the lookup, or the check's deadline when that is what ended
    /// it; `permerror` when the check's query limit stopped it.
    fn dns_failure(&self, name: &str, rtype: RecordType, failure: TempFailure) -> (SpfResult, Reason) {
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
    fn charge_term(&mut self, term: &(dyn fmt::Display + Sync), domain: &str) -> Result<(), Reason> {
        self.dns_terms += 1;
        over_limit(self.dns_terms, self.limits().dns_terms, LimitKind::DnsTerms, term, domain)
    }

    /// Counts a void lookup (§4.6.4).
    fn charge_void(&mut self, term: &(dyn fmt::Display + Sync), domain: &str) -> Result<(), Reason> {
        self.void += 1;
        over_limit(self.void, self.limits().void_lookups, LimitKind::VoidLookups, term, domain)
    }

    /// Expands a domain-spec into a name to query (§7.3: lower case, no
    /// trailing dot, shortened to 253 characters). `None` when the result
    /// cannot be a DNS name.
    async fn target(&mut self, spec: &DomainSpec, domain: &str, depth: u32) -> Option<Arc<str>> {
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
                let client = Client {
                    ip: self.ip,
                    sender: self.sender,
                    local_part: self.local_part,
                    sender_domain: self.sender_domain,
                    helo: self.helo,
                    receiver: self.receiver,
                };
                let speculation = self.ev.options.speculation;
                let plan = Arc::new(Plan::new(
                    prefetcher,
                    &client,
                    *self.limits(),
                    speculation,
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
            self.trace.push(TraceEvent::Enter { depth: 0, domain: domain.to_string(), via: "check" });
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
            if !self.ev.options.trace {
                skip_static_misses(frame, self.ip);
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
                        match self.mechanism(directive, &domain, depth).await {
                            TermOutcome::NoMatch => continue,
                            TermOutcome::Match => matched(directive, &record, index, &domain),
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
                    None => {
                        Outcome { result: SpfResult::Neutral, reason: None, matched: None, exp_from: None }
                    }
                },
            };
            if let Some(done) = self.finish(&mut stack, finished) {
                return done;
            }
        }
    }

    /// Emits the trace for a check that ended before any record was evaluated.
    fn leave_early(&mut self, outcome: Outcome, domain: &str, depth: u32) -> Outcome {
        if self.tracing() {
            self.trace.push(TraceEvent::Leave {
                depth,
                domain: domain.to_string(),
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
            self.trace.push(TraceEvent::Enter {
                depth: depth + 1,
                domain: target.to_string(),
                via: via.as_str(),
            });
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
                    self.trace.push(TraceEvent::Leave {
                        depth: depth + 1,
                        domain: target.to_string(),
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
                self.trace.push(TraceEvent::Leave {
                    depth: frame.depth,
                    domain: frame.domain.to_string(),
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
                            self.trace_term(directive, parent, true);
                            outcome = matched(directive, &parent.record, parent.next - 1, &parent.domain);
                        }
                        SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => {
                            self.trace_term(directive, parent, false);
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

    fn trace_term(&mut self, directive: &Directive, frame: &Frame, matched: bool) {
        if self.tracing() {
            self.trace.push(TraceEvent::Term {
                depth: frame.depth,
                domain: frame.domain.to_string(),
                term: directive.to_string(),
                matched,
                dns_lookups: self.dns_terms,
                void_lookups: self.void,
            });
        }
    }

    /// §4.4 and §4.5: the TXT lookup and record selection.
    /// On failure, the outcome and whether the TXT query itself was void
    /// (NXDOMAIN or no data).
    async fn fetch_record(&mut self, domain: &str, depth: u32) -> Result<Arc<Record>, (Outcome, bool)> {
        let result = self.query(domain, RecordType::Txt, depth).await;
        let txt = match result {
            Ok(Answer { records: Records::Txt(txt), .. }) => txt,
            Ok(_) => {
                return Err((
                    self.no_record(domain, depth, "the answer held no TXT records".to_string()),
                    true,
                ));
            }
            Err(LookupError::Temporary(failure)) => {
                let (result, reason) = self.dns_failure(domain, RecordType::Txt, failure);
                return Err((Outcome::error(result, reason), false));
            }
            Err(LookupError::NxDomain { .. }) => {
                return Err((
                    self.no_record(domain, depth, "the domain does not exist (NXDOMAIN)".to_string()),
                    true,
                ));
            }
            Err(LookupError::NoData { .. }) => {
                return Err((
                    self.no_record(domain, depth, "the domain has no TXT records".to_string()),
                    true,
                ));
            }
        };
        match txt.spf() {
            SpfSelection::One(Ok(record)) => {
                // The first check to read a freshly fetched answer starts
                // what its record will need (see `speculate`).
                if self.ev.options.speculation.enabled && txt.claim_speculation() {
                    self.speculate(record, domain);
                }
                if self.tracing() {
                    self.trace.push(TraceEvent::Record {
                        depth,
                        domain: domain.to_string(),
                        record: trace::shorten(record.to_string()),
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
            SpfSelection::None => {
                let detail = trace::describe_non_spf(&txt);
                Err((self.no_record(domain, depth, detail), false))
            }
        }
    }

    fn no_record(&mut self, domain: &str, depth: u32, detail: String) -> Outcome {
        if self.tracing() {
            self.trace.push(TraceEvent::NoRecord { depth, domain: domain.to_string(), detail });
        }
        Outcome::error(SpfResult::None, Reason::NoRecord { domain: domain.to_string() })
    }

    /// Evaluates one mechanism other than `include` (§5).
    async fn mechanism(&mut self, directive: &Directive, domain: &Arc<str>, depth: u32) -> TermOutcome {
        let mechanism = &directive.mechanism;
        if mechanism.queries_dns()
            && let Err(reason) = self.charge_term(directive, domain)
        {
            return TermOutcome::Error(SpfResult::PermError, reason);
        }
        let outcome = match mechanism {
            Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => {
                bool_outcome(static_match(mechanism, self.ip) == Some(true))
            }
            Mechanism::A { domain: spec, cidr } => {
                match self.target_or_current(spec.as_ref(), domain, depth).await {
                    None => self.void_no_match(directive, domain),
                    Some(target) => self.address_match(directive, &target, *cidr, domain, depth, true).await,
                }
            }
            Mechanism::Mx { domain: spec, cidr } => {
                match self.target_or_current(spec.as_ref(), domain, depth).await {
                    None => self.void_no_match(directive, domain),
                    Some(target) => self.mx(directive, &target, *cidr, domain, depth).await,
                }
            }
            Mechanism::Ptr(spec) => match self.target_or_current(spec.as_ref(), domain, depth).await {
                None => self.void_no_match(directive, domain),
                Some(target) => self.ptr(directive, &target, domain, depth).await,
            },
            Mechanism::Exists(spec) => match self.target(spec, domain, depth).await {
                None => self.void_no_match(directive, domain),
                // §5.7: the lookup type is A even for an IPv6 client.
                Some(target) => match self.query(&target, RecordType::A, depth).await {
                    Ok(_) => TermOutcome::Match,
                    Err(LookupError::Temporary(failure)) => self.dns_error(&target, RecordType::A, failure),
                    Err(_) => self.void_no_match(directive, domain),
                },
            },
            Mechanism::Include(_) => TermOutcome::NoMatch,
        };
        if self.tracing() && !matches!(outcome, TermOutcome::Error(..)) {
            self.trace.push(TraceEvent::Term {
                depth,
                domain: domain.to_string(),
                term: directive.to_string(),
                matched: matches!(outcome, TermOutcome::Match),
                dns_lookups: self.dns_terms,
                void_lookups: self.void,
            });
        }
        outcome
    }

    async fn target_or_current(
        &mut self,
        spec: Option<&DomainSpec>,
        domain: &Arc<str>,
        depth: u32,
    ) -> Option<Arc<str>> {
        match spec {
            Some(spec) => self.target(spec, domain, depth).await,
            None => Some(Arc::clone(domain)),
        }
    }

    /// A term whose query came back empty (or whose name cannot exist).
    fn void_no_match(&mut self, term: &Directive, domain: &str) -> TermOutcome {
        match self.charge_void(term, domain) {
            Ok(()) => TermOutcome::NoMatch,
            Err(reason) => TermOutcome::Error(SpfResult::PermError, reason),
        }
    }

    /// `a` (§5.3), and each host of `mx`: do any of the name's addresses
    /// match `<ip>` under the CIDR lengths? `term_query` says whether this
    /// is the term's own query (void per term) or an MX host's.
    async fn address_match(
        &mut self,
        term: &Directive,
        name: &str,
        cidr: DualCidr,
        domain: &str,
        depth: u32,
        term_query: bool,
    ) -> TermOutcome {
        let rtype = match self.ip {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        };
        match self.query(name, rtype, depth).await {
            Ok(Answer { records: Records::A(addrs), .. }) => match self.ip {
                IpAddr::V4(ip) => bool_outcome(addrs.iter().any(|a| in_v4(*a, cidr.v4.unwrap_or(32), ip))),
                IpAddr::V6(_) => TermOutcome::NoMatch,
            },
            Ok(Answer { records: Records::Aaaa(addrs), .. }) => match self.ip {
                IpAddr::V6(ip) => bool_outcome(addrs.iter().any(|a| in_v6(*a, cidr.v6.unwrap_or(128), ip))),
                IpAddr::V4(_) => TermOutcome::NoMatch,
            },
            Ok(_) => TermOutcome::NoMatch,
            Err(LookupError::Temporary(failure)) => self.dns_error(name, rtype, failure),
            Err(_) if term_query || self.limits().void_counting == VoidCounting::PerLookup => {
                self.void_no_match(term, domain)
            }
            Err(_) => TermOutcome::NoMatch,
        }
    }

    /// `mx` (§5.4).
    async fn mx(
        &mut self,
        term: &Directive,
        target: &str,
        cidr: DualCidr,
        domain: &str,
        depth: u32,
    ) -> TermOutcome {
        let names = match self.query(target, RecordType::Mx, depth).await {
            Ok(Answer { records: Records::Mx(names), .. }) => names,
            Ok(_) => return TermOutcome::NoMatch,
            Err(LookupError::Temporary(failure)) => {
                return self.dns_error(target, RecordType::Mx, failure);
            }
            Err(_) => return self.void_no_match(term, domain),
        };
        // §4.6.4: "the evaluation of each 'MX' record MUST NOT result in
        // querying more than 10 address records ... If this limit is
        // exceeded, the 'mx' mechanism MUST produce a 'permerror' result."
        let max = self.limits().mx_names;
        if names.len() > max as usize {
            let reason = Reason::Limit {
                limit: LimitKind::MxNames,
                max,
                term: term.to_string(),
                domain: domain.to_string(),
            };
            return TermOutcome::Error(SpfResult::PermError, reason);
        }
        for name in names.iter() {
            // A null MX (RFC 7505, exchange ".") names no host.
            if name.is_empty() || !valid_name(name) {
                continue;
            }
            match self.address_match(term, name, cidr, domain, depth, false).await {
                TermOutcome::NoMatch => {}
                other => return other,
            }
        }
        TermOutcome::NoMatch
    }

    /// The validated names of `<ip>` (§5.5): PTR names (at most the limit)
    /// whose own addresses include `<ip>`. DNS errors drop a name.
    async fn validated_names(&mut self, depth: u32) -> Result<Vec<Box<str>>, LookupError> {
        let mut reverse = String::new();
        write_dotted_ip(self.ip, &mut reverse);
        let reverse: String = match self.ip {
            IpAddr::V4(_) => {
                let labels: Vec<&str> = reverse.split('.').rev().collect();
                format!("{}.in-addr.arpa", labels.join("."))
            }
            IpAddr::V6(_) => {
                let labels: Vec<&str> = reverse.split('.').rev().collect();
                format!("{}.ip6.arpa", labels.join("."))
            }
        };
        let names = match self.query(&reverse, RecordType::Ptr, depth).await? {
            Answer { records: Records::Ptr(names), .. } => names,
            _ => return Ok(Vec::new()),
        };
        let rtype = match self.ip {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        };
        let mut validated = Vec::new();
        // §4.6.4: "If this limit is exceeded, all records other than the
        // first 10 MUST be ignored."
        for name in names.iter().take(self.limits().ptr_names as usize) {
            if !valid_name(name) {
                continue;
            }
            let ok = match self.query(name, rtype, depth).await {
                Ok(Answer { records: Records::A(a), .. }) => a.iter().any(|a| IpAddr::V4(*a) == self.ip),
                Ok(Answer { records: Records::Aaaa(a), .. }) => a.iter().any(|a| IpAddr::V6(*a) == self.ip),
                _ => false,
            };
            if ok {
                validated.push(name.clone());
            }
        }
        Ok(validated)
    }

    /// `ptr` (§5.5).
    async fn ptr(&mut self, term: &Directive, target: &str, domain: &str, depth: u32) -> TermOutcome {
        match Box::pin(self.validated_names(depth)).await {
            Ok(names) => bool_outcome(names.iter().any(|n| is_subdomain(n, target))),
            // §5.5: "If a DNS error occurs while doing the PTR RR lookup,
            // then this mechanism fails to match."
            Err(LookupError::Temporary(_)) => TermOutcome::NoMatch,
            Err(_) => self.void_no_match(term, domain),
        }
    }

    /// `%{p}` (§7.3): a validated name, preferring `<domain>` itself, then a
    /// subdomain of it; `unknown` when there is none.
    async fn compute_validated_name(&mut self, domain: &str, depth: u32) {
        if self.validated_name.is_some() {
            return;
        }
        let names = self.validated_names(depth).await.unwrap_or_default();
        let best = names
            .iter()
            .find(|n| n.as_ref() == domain)
            .or_else(|| names.iter().find(|n| is_subdomain(n, domain)))
            .or_else(|| names.first());
        self.validated_name = Some(best.map_or_else(|| "unknown".to_string(), |n| n.to_string()));
    }

    /// §6.2: the explanation for a `fail`.
    async fn explanation(
        &mut self,
        exp_from: Option<&(Arc<Record>, Arc<str>)>,
        top_domain: &Arc<str>,
    ) -> String {
        let domain = exp_from.map_or_else(|| Arc::clone(top_domain), |(_, d)| Arc::clone(d));
        let depth = 0;
        if let Some(spec) = exp_from.and_then(|(record, _)| record.exp()) {
            match self.exp_text(spec, &domain, depth).await {
                Ok(text) => {
                    if self.tracing() {
                        self.trace.push(TraceEvent::Explanation {
                            domain: domain.to_string(),
                            detail: text.clone(),
                        });
                    }
                    return text;
                }
                Err(why) => {
                    if self.tracing() {
                        let detail = format!("exp= ignored ({why}); default explanation used");
                        self.trace.push(TraceEvent::Explanation { domain: domain.to_string(), detail });
                    }
                }
            }
        }
        let ev = self.ev;
        let default = &ev.options.default_explanation;
        if default.uses(MacroLetter::ValidatedName) {
            Box::pin(self.compute_validated_name(&domain, depth)).await;
        }
        self.expand_explanation(default, &domain)
    }

    async fn exp_text(
        &mut self,
        spec: &DomainSpec,
        domain: &str,
        depth: u32,
    ) -> Result<String, &'static str> {
        let name = self.target(spec, domain, depth).await.ok_or("invalid target name")?;
        let txt = match self.query(&name, RecordType::Txt, depth).await {
            Ok(Answer { records: Records::Txt(txt), .. }) => txt,
            Ok(_) | Err(LookupError::NxDomain { .. }) | Err(LookupError::NoData { .. }) => {
                return Err("no TXT record");
            }
            Err(LookupError::Temporary(_)) => return Err("DNS error"),
        };
        // "If there are any DNS processing errors (any RCODE other than 0),
        // or if no records are returned, or if more than one record is
        // returned, or if there are syntax errors in the explanation string,
        // then proceed as if no "exp" modifier was given."
        let mut records = txt.joined();
        let (Some(text), None) = (records.next(), records.next()) else {
            return Err("more than one TXT record");
        };
        let parsed = MacroString::parse(&text, MacroContext::Explanation).map_err(|_| "syntax error")?;
        if parsed.uses(MacroLetter::ValidatedName) {
            Box::pin(self.compute_validated_name(domain, depth)).await;
        }
        let expanded = self.expand_explanation(&parsed, domain);
        if !expanded.bytes().all(|b| b == b' ' || (0x21..=0x7e).contains(&b)) {
            return Err("not 7-bit ASCII");
        }
        Ok(expanded)
    }
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

fn matched(directive: &Directive, record: &Arc<Record>, index: usize, domain: &Arc<str>) -> Outcome {
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
    }
}

fn bool_outcome(matched: bool) -> TermOutcome {
    if matched { TermOutcome::Match } else { TermOutcome::NoMatch }
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

/// When a check must end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    /// The instant.
    pub(crate) at: Instant,
    /// Whether a lookup still waiting then is cut short by a tokio timer.
    pub(crate) timers: bool,
}

/// Whether `name` is `target` or ends with `.target` (case-insensitive).
fn is_subdomain(name: &str, target: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case(target)
        || (name.len() > target.len()
            && name.as_bytes()[name.len() - target.len() - 1] == b'.'
            && name[name.len() - target.len()..].eq_ignore_ascii_case(target))
}
