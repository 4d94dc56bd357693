//! The second pass: over the answers the first pass fetched, compute what
//! each record passes, how much of the lookup budget it spends, and what is
//! wrong with it. No DNS queries are sent here.
//!
//! For one address family at a time, a record is walked as check_host()
//! would (first match wins, RFC 7208 §4.6.2), giving four sets: `lo`, the
//! addresses that surely pass; `hi`, those that may pass; and the addresses
//! that surely / may end in an error. A term is known by the addresses it
//! surely and possibly matches and surely and possibly fails on: an `ip4`
//! term matches exactly its network, `exists:%{i}...` possibly anything
//! and surely nothing. The walk itself is in [`super::walk`].
//!
//! The analysis is CPU work without await points, so it reads the lint's
//! deadline itself (every [`CLOCK_EVERY`] ranges of work and at each
//! record): past it, the terms not walked yet count as unknown (they may
//! match, and may fail, for any address) and the report is truncated.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crate::dns::{Answer, Lookup, LookupError, RecordType, Records};
use crate::eval::Limits;
use crate::macros::{MacroContext, MacroString};
use crate::record::{
    Directive, DualCidr, Mechanism, Modifier, Qualifier, Record, SpfSelection, Term, is_spf1,
};

use super::gather::{Memo, Root};
use super::ipset::{Family, Ranges, block};
use super::terms::{Ctx, Resolved, Via, check_record, resolve, term_text, valid_name};
use super::txt::{self, TxtCheck};
use super::walk::{Outcome, Step, Walk};
use super::{DependentTerm, Diags, TreeRecord, code, counted};

/// What a record (or a subtree) does for the addresses of one family.
#[derive(Clone, Debug)]
pub(crate) struct Bounds {
    /// Surely pass.
    pub(crate) lo: Ranges,
    /// May pass.
    pub(crate) hi: Ranges,
    /// Surely end in permerror/temperror.
    pub(crate) err_lo: Ranges,
    /// May end in permerror/temperror.
    pub(crate) err_hi: Ranges,
    /// DNS-querying terms of a full evaluation (every term evaluated).
    pub(crate) dns: u32,
    /// Void lookups of a full evaluation.
    pub(crate) void: u32,
}

/// What one term does: the addresses it surely / possibly matches, and
/// those for which it surely / possibly ends evaluation with an error.
struct Effect {
    match_lo: Ranges,
    match_hi: Ranges,
    err_lo: Ranges,
    err_hi: Ranges,
    /// DNS-querying terms inside (an include's subtree).
    dns: u32,
    /// Void lookups it causes, its own and its subtree's.
    void: u32,
    /// Whether its own lookup was void.
    own_void: bool,
}

impl Effect {
    fn exact(set: Ranges) -> Effect {
        let family = set.family();
        Effect {
            match_lo: set.clone(),
            match_hi: set,
            err_lo: Ranges::empty(family),
            err_hi: Ranges::empty(family),
            dns: 0,
            void: 0,
            own_void: false,
        }
    }

    fn nothing(family: Family) -> Effect {
        Effect::exact(Ranges::empty(family))
    }

    /// A void lookup: matches nothing, counts toward the void limit.
    fn void(family: Family) -> Effect {
        Effect { void: 1, own_void: true, ..Effect::nothing(family) }
    }

    /// Every address reaching the term ends in an error.
    fn error(family: Family) -> Effect {
        Effect {
            match_lo: Ranges::empty(family),
            match_hi: Ranges::empty(family),
            err_lo: Ranges::full(family),
            err_hi: Ranges::full(family),
            dns: 0,
            void: 0,
            own_void: false,
        }
    }

    /// Unknown: it may match any address, and when `may_fail` (an include
    /// or redirect target that may have no record) end in an error for any.
    /// Temporary DNS failures are not modelled, for known terms or unknown.
    fn unknown(family: Family, may_fail: bool) -> Effect {
        Effect {
            match_lo: Ranges::empty(family),
            match_hi: Ranges::full(family),
            err_lo: Ranges::empty(family),
            err_hi: if may_fail { Ranges::full(family) } else { Ranges::empty(family) },
            dns: 0,
            void: 0,
            own_void: false,
        }
    }

    /// The term's sets for the walk; `passes` for the `+` qualifier.
    fn step(&self, passes: bool) -> Step<'_> {
        Step {
            passes,
            match_lo: &self.match_lo,
            match_hi: &self.match_hi,
            err_lo: &self.err_lo,
            err_hi: &self.err_hi,
        }
    }

    fn from_bounds(b: &Bounds) -> Effect {
        Effect {
            match_lo: b.lo.clone(),
            match_hi: b.hi.clone(),
            err_lo: b.err_lo.clone(),
            err_hi: b.err_hi.clone(),
            dns: b.dns,
            void: b.void,
            own_void: false,
        }
    }
}

/// What a domain's TXT answer gave.
pub(crate) enum Found {
    Record(Bounds),
    /// No SPF record; `void` when the TXT query itself was empty.
    NoRecord {
        void: bool,
    },
    /// Every client gets an error (multiple records, syntax, DNS failure).
    Error,
    /// Not fetched (lint's budget ran out).
    Unknown,
}

/// Work (ranges of term sets, about 100 ns each) between two readings of
/// the clock: a reading costs some 25 ns, and 1024 units are some 0.1 ms,
/// far inside the 100 ms a lint may overrun its deadline by.
const CLOCK_EVERY: usize = 1024;

/// The lint's deadline, for CPU work.
struct Clock {
    /// When the lint must end.
    deadline: Option<Instant>,
    since_reading: usize,
    passed: bool,
}

impl Clock {
    fn new(deadline: Option<Instant>) -> Clock {
        Clock { deadline, since_reading: 0, passed: false }
    }

    /// Counts `work` units; whether the deadline has passed (the clock is
    /// read every [`CLOCK_EVERY`] units).
    fn spend(&mut self, work: usize) -> bool {
        self.since_reading = self.since_reading.saturating_add(work);
        if self.since_reading >= CLOCK_EVERY {
            self.read();
        }
        self.passed
    }

    /// Whether the deadline has passed, reading the clock now.
    fn read(&mut self) -> bool {
        self.since_reading = 0;
        if !self.passed
            && let Some(deadline) = self.deadline
        {
            self.passed = Instant::now() >= deadline;
        }
        self.passed
    }
}

/// The analysis of one lint run.
pub(crate) struct Analyzer<'a, 'b, L> {
    dns: &'a Memo<'b, L>,
    limits: Limits,
    /// The linted domain, `%{o}` in every record of the tree.
    sender_domain: Option<String>,
    spf_rr: Option<bool>,
    pub(crate) diags: Diags,
    linted: HashSet<String>,
    memo: HashMap<(String, Family, u32, u32), Bounds>,
    stack: Vec<String>,
    pub(crate) dependent: Vec<DependentTerm>,
    /// (domain, offset) of each term in `dependent`.
    dependent_seen: HashSet<(String, usize)>,
    clock: Clock,
    pub(crate) tree: Vec<TreeRecord>,
    /// The first term, in evaluation order, past the DNS-term limit.
    pub(crate) first_over: Option<(String, String, usize)>,
    /// Whether something needed was never fetched.
    pub(crate) truncated: bool,
    /// The root's SPF record text, if it has one.
    pub(crate) root_record: Option<String>,
}

impl<'a, 'b, L: Lookup> Analyzer<'a, 'b, L> {
    /// An analysis that stops at `deadline`, if given.
    pub(crate) fn new(
        dns: &'a Memo<'b, L>,
        limits: Limits,
        root: &Root,
        spf_rr: Option<bool>,
        deadline: Option<Instant>,
    ) -> Self {
        Analyzer {
            dns,
            limits,
            sender_domain: root.domain(),
            spf_rr,
            diags: Diags::default(),
            linted: HashSet::new(),
            memo: HashMap::new(),
            stack: Vec::new(),
            dependent: Vec::new(),
            dependent_seen: HashSet::new(),
            clock: Clock::new(deadline),
            tree: Vec::new(),
            first_over: None,
            truncated: false,
            root_record: None,
        }
    }

    /// Analyzes the root for one family: `Some` with its bounds when it has
    /// a record (an error for everyone is empty bounds), `None` when it has
    /// no SPF record.
    pub(crate) fn root(&mut self, root: &Root, family: Family) -> Option<Bounds> {
        match root {
            Root::Domain(domain) => match self.domain(domain, Via::Check, 0, family, 0, 0) {
                Found::Record(bounds) => Some(bounds),
                Found::Error => Some(empty_bounds(family)),
                // Not fetched, or no time left: any address may pass.
                Found::Unknown => Some(unknown_bounds(family)),
                Found::NoRecord { .. } => None,
            },
            Root::Text(text) => {
                let bytes = text.as_bytes();
                let first = self.linted.insert(String::new());
                if first {
                    let txt = crate::dns::draft_txt(bytes, &[]);
                    txt::check(&txt, &TxtCheck { domain: "", root: true, spf_rr: None }, &mut self.diags);
                    self.tree.push(TreeRecord {
                        depth: 0,
                        via: Via::Check,
                        domain: String::new(),
                        record: is_spf1(bytes).then(|| text.clone()),
                    });
                }
                if !is_spf1(bytes) {
                    return None;
                }
                self.root_record = Some(text.clone());
                match Record::parse(text) {
                    Ok(record) => {
                        let ctx = Ctx { domain: None, sender_domain: None };
                        if first {
                            check_record(bytes, Ok(&record), "", Via::Check, &mut self.diags);
                            self.exp(&record, bytes, "", ctx);
                        }
                        Some(self.record(&record, bytes, "", ctx, family, 0, 0, 0))
                    }
                    Err(error) => {
                        if first {
                            check_record(bytes, Err(&error), "", Via::Check, &mut self.diags);
                        }
                        Some(empty_bounds(family))
                    }
                }
            }
        }
    }

    /// check_host() for `name`, reached `via`, with `dns_spent` and
    /// `void_spent` already counted before it.
    fn domain(
        &mut self,
        name: &str,
        via: Via,
        depth: u32,
        family: Family,
        dns_spent: u32,
        void_spent: u32,
    ) -> Found {
        let key = (
            name.to_string(),
            family,
            dns_spent.min(self.limits.dns_terms + 1),
            void_spent.min(self.limits.void_lookups + 1),
        );
        if let Some(bounds) = self.memo.get(&key) {
            return Found::Record(bounds.clone());
        }
        if self.clock.read() {
            self.truncated = true;
            return Found::Unknown;
        }
        let first_visit = self.linted.insert(name.to_string());
        let root = via == Via::Check && depth == 0;
        let Some(answer) = self.dns.cached(name, RecordType::Txt) else {
            self.truncated = true;
            return Found::Unknown;
        };
        let txt = match answer {
            Ok(Answer { records: Records::Txt(txt), .. }) => txt,
            Ok(_) => return Found::NoRecord { void: false },
            Err(LookupError::Temporary(failure)) => {
                self.diags.push(
                    code::DNS_ERROR,
                    name,
                    None,
                    format!("the TXT lookup of {name} failed ({failure}): receivers get temperror"),
                );
                return Found::Error;
            }
            Err(error) => {
                if first_visit {
                    self.visit(depth, via, name, None);
                    if root {
                        let why = match error {
                            LookupError::NxDomain { .. } => "the name does not exist",
                            _ => "it has no TXT records",
                        };
                        txt::missing(name, why, self.spf_rr, &mut self.diags);
                    }
                }
                return Found::NoRecord { void: true };
            }
        };
        if first_visit {
            let spf_rr = if root { self.spf_rr } else { None };
            txt::check(&txt, &TxtCheck { domain: name, root, spf_rr }, &mut self.diags);
        }
        let text = txt.joined().find(|t| is_spf1(t));
        match txt.spf() {
            SpfSelection::None { .. } => {
                if first_visit {
                    self.visit(depth, via, name, None);
                }
                Found::NoRecord { void: false }
            }
            SpfSelection::Multiple(_) => {
                if first_visit {
                    self.visit(depth, via, name, None);
                }
                Found::Error
            }
            SpfSelection::One(Err(error)) => {
                if first_visit {
                    self.visit(depth, via, name, None);
                    check_record(text.as_deref().unwrap_or_default(), Err(error), name, via, &mut self.diags);
                }
                Found::Error
            }
            SpfSelection::One(Ok(record)) => {
                let text = text.unwrap_or_default();
                if first_visit {
                    let shown = String::from_utf8_lossy(&text).into_owned();
                    if root {
                        self.root_record = Some(shown.clone());
                    }
                    self.visit(depth, via, name, Some(shown));
                    check_record(&text, Ok(record), name, via, &mut self.diags);
                }
                let exp_needed = first_visit && via != Via::Include;
                let record = std::sync::Arc::clone(record);
                let ctx_domain = name.to_string();
                let sender_domain = self.sender_domain.clone();
                let ctx = Ctx { domain: Some(&ctx_domain), sender_domain: sender_domain.as_deref() };
                if exp_needed {
                    self.exp(&record, &text, name, ctx);
                }
                self.stack.push(name.to_string());
                let bounds = self.record(&record, &text, name, ctx, family, depth, dns_spent, void_spent);
                self.stack.pop();
                self.memo.insert(key, bounds.clone());
                Found::Record(bounds)
            }
        }
    }

    /// `exp-no-txt`: the explanation must be exactly one TXT record that
    /// parses (RFC 7208 §6.2), else receivers fall back to their default.
    fn exp(&mut self, record: &Record, text: &[u8], label: &str, ctx: Ctx<'_>) {
        let Some((spec, span)) = record.terms_with_spans().find_map(|(t, span)| match t {
            Term::Modifier(Modifier::Exp(spec)) => Some((spec, span)),
            _ => None,
        }) else {
            return;
        };
        let Resolved::Name(target) = resolve(Some(spec), ctx) else { return };
        let written = term_text(text, span.offset, span.len);
        let problem = match self.dns.cached(&target, RecordType::Txt) {
            None | Some(Err(LookupError::Temporary(_))) => return,
            Some(Err(_))
            | Some(Ok(Answer {
                records: Records::A(_) | Records::Aaaa(_) | Records::Mx(_) | Records::Ptr(_),
                ..
            })) => {
                format!("{target} has no TXT record")
            }
            Some(Ok(Answer { records: Records::Txt(txt), .. })) => {
                let texts: Vec<Vec<u8>> = txt.joined().collect();
                match texts.as_slice() {
                    [one] => match MacroString::parse(one, MacroContext::Explanation) {
                        Ok(_) => return,
                        Err(error) => {
                            format!("the TXT record at {target} is not a valid explanation ({error})")
                        }
                    },
                    many => format!("{target} has {} TXT records, not one", many.len()),
                }
            }
        };
        let message =
            format!("\"{written}\": {problem}, so receivers use their default explanation (RFC 7208 6.2)");
        self.diags.push(code::EXP_NO_TXT, label, Some((&written, span.offset)), message);
    }

    fn visit(&mut self, depth: u32, via: Via, domain: &str, record: Option<String>) {
        self.tree.push(TreeRecord { depth, via, domain: domain.to_string(), record });
    }

    /// Walks one record's terms.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        record: &Record,
        text: &[u8],
        label: &str,
        ctx: Ctx<'_>,
        family: Family,
        depth: u32,
        dns_spent: u32,
        void_spent: u32,
    ) -> Bounds {
        let mut walk = Walk::new(family, self.clock.deadline);
        let mut dns = 0u32;
        let mut void = 0u32;
        for (term, span) in record.terms_with_spans() {
            let Term::Directive(directive) = term else { continue };
            if self.clock.spend(1) {
                return self.out_of_time(Some(walk), family, dns, void);
            }
            let written = term_text(text, span.offset, span.len);
            let mut over = false;
            if directive.mechanism.queries_dns() {
                dns = dns.saturating_add(1);
                over = self.over_dns(dns_spent.saturating_add(dns), label, &written, span.offset);
            }
            let spent = (dns_spent.saturating_add(dns), void_spent.saturating_add(void));
            let mut effect =
                self.effect(directive, &written, span.offset, label, ctx, family, depth, spent.0, spent.1);
            dns = dns.saturating_add(effect.dns);
            void = void.saturating_add(effect.void);
            self.limit(&mut effect, over, void_spent.saturating_add(void), family);
            match walk.push(&effect.step(directive.qualifier == Qualifier::Pass)) {
                Ok(work) => self.clock.spend(work),
                Err(_late) => return self.out_of_time(None, family, dns, void),
            };
            if directive.mechanism == Mechanism::All {
                break;
            }
        }
        // §6.1: redirect applies when no mechanism matched, and is ignored
        // when the record has "all". The target's result is the result: it
        // acts like a final "+" term matching where the target passes.
        if !record.has_all()
            && let Some((spec, span)) = record.terms_with_spans().find_map(|(t, span)| match t {
                Term::Modifier(Modifier::Redirect(spec)) => Some((spec, span)),
                _ => None,
            })
        {
            let written = term_text(text, span.offset, span.len);
            dns = dns.saturating_add(1);
            let over = self.over_dns(dns_spent.saturating_add(dns), label, &written, span.offset);
            let spent = (dns_spent.saturating_add(dns), void_spent.saturating_add(void));
            let mut effect = match resolve(Some(spec), ctx) {
                Resolved::Name(target) => {
                    self.subtree(&target, Via::Redirect, &written, span.offset, label, family, depth, spent)
                }
                Resolved::Invalid(shown) => {
                    let message = format!(
                        "\"{written}\": {shown:?} is not a valid domain name: permerror (RFC 7208 6.1)"
                    );
                    self.diags.push(code::REDIRECT_NO_SPF, label, Some((&written, span.offset)), message);
                    Effect { void: 1, own_void: true, ..Effect::error(family) }
                }
                Resolved::Dependent(why) => {
                    self.dependent(label, &written, span.offset, &why);
                    Effect::unknown(family, true)
                }
            };
            dns = dns.saturating_add(effect.dns);
            void = void.saturating_add(effect.void);
            self.limit(&mut effect, over, void_spent.saturating_add(void), family);
            if walk.push(&effect.step(true)).is_err() {
                return self.out_of_time(None, family, dns, void);
            }
        }
        match walk.finish() {
            Ok(out) => bounds(out, dns, void),
            Err(_late) => self.out_of_time(None, family, dns, void),
        }
    }

    /// The deadline passed during a record's walk: the terms not walked may
    /// match, or fail, for any address. Without the `walk` (it stopped in
    /// the middle of a batch), nothing is known of the record.
    fn out_of_time(&mut self, walk: Option<Walk>, family: Family, dns: u32, void: u32) -> Bounds {
        self.truncated = true;
        self.clock.passed = true;
        let unknown = Effect::unknown(family, true);
        let out = walk.and_then(|mut walk| {
            walk.push(&unknown.step(true)).ok()?;
            walk.finish().ok()
        });
        match out {
            Some(out) => bounds(out, dns, void),
            None => Bounds { dns, void, ..unknown_bounds(family) },
        }
    }

    /// Notes the first term past the DNS-term limit; whether `count` is past it.
    /// Applies the limits to a term's effect: past the DNS-term limit
    /// (`over`), or with its own void lookup past the void limit (RFC 7208
    /// §4.6.4: that lookup is a permerror), clients that spent the whole
    /// budget before this term get permerror here; others evaluate it. Full
    /// evaluation is an upper bound on what a client spent, so this only
    /// "may" fail.
    fn limit(&self, effect: &mut Effect, over: bool, void_total: u32, family: Family) {
        if over || (effect.own_void && void_total > self.limits.void_lookups) {
            effect.match_lo = Ranges::empty(family);
            effect.err_lo = Ranges::empty(family);
            effect.err_hi = Ranges::full(family);
        }
    }

    fn over_dns(&mut self, count: u32, label: &str, written: &str, offset: usize) -> bool {
        let over = count > self.limits.dns_terms;
        if over && self.first_over.is_none() {
            self.first_over = Some((label.to_string(), written.to_string(), offset));
        }
        over
    }

    fn dependent(&mut self, label: &str, written: &str, offset: usize, why: &str) {
        if !self.dependent_seen.insert((label.to_string(), offset)) {
            return;
        }
        self.dependent.push(DependentTerm {
            domain: label.to_string(),
            term: written.to_string(),
            offset,
            why: why.to_string(),
        });
        self.diags.push(
            code::CLIENT_DEPENDENT,
            label,
            Some((written, offset)),
            format!(
                "\"{written}\" depends on {why}: lint cannot tell which clients it matches, so what it passes \
                 counts as possibly authorized only"
            ),
        );
    }

    /// An include or redirect target.
    #[allow(clippy::too_many_arguments)]
    fn subtree(
        &mut self,
        target: &str,
        via: Via,
        written: &str,
        offset: usize,
        label: &str,
        family: Family,
        depth: u32,
        (dns_spent, void_spent): (u32, u32),
    ) -> Effect {
        let at = Some((written, offset));
        if self.stack.iter().any(|d| d == target) {
            let message = format!(
                "\"{written}\" leads back to {target}, whose record is being evaluated: receivers loop until \
                 the lookup limit and return permerror"
            );
            self.diags.push(code::INCLUDE_LOOP, label, at, message);
            return Effect::error(family);
        }
        let missing = if via == Via::Include { code::INCLUDE_NO_SPF } else { code::REDIRECT_NO_SPF };
        let section = if via == Via::Include { "5.2" } else { "6.1" };
        match self.domain(target, via, depth + 1, family, dns_spent, void_spent) {
            Found::Record(bounds) => Effect::from_bounds(&bounds),
            Found::NoRecord { void } => {
                let why =
                    if void { "does not exist or has no TXT records" } else { "publishes no SPF record" };
                let message = format!(
                    "\"{written}\": {target} {why}: permerror for every client that gets here (RFC 7208 {section})"
                );
                self.diags.push(missing, label, at, message);
                if void {
                    Effect { void: 1, own_void: true, ..Effect::error(family) }
                } else {
                    Effect::error(family)
                }
            }
            Found::Error => Effect::error(family),
            Found::Unknown => Effect::unknown(family, true),
        }
    }

    /// What one mechanism does.
    #[allow(clippy::too_many_arguments)]
    fn effect(
        &mut self,
        directive: &Directive,
        written: &str,
        offset: usize,
        label: &str,
        ctx: Ctx<'_>,
        family: Family,
        depth: u32,
        dns_spent: u32,
        void_spent: u32,
    ) -> Effect {
        let at = Some((written, offset));
        let resolved = |spec| resolve(spec, ctx);
        let target = match &directive.mechanism {
            Mechanism::All => return Effect::exact(Ranges::full(family)),
            Mechanism::Ip4 { addr, prefix } => {
                return if family == Family::Ipv4 {
                    Effect::exact(Ranges::network(family, u128::from(u32::from(*addr)), prefix.unwrap_or(32)))
                } else {
                    Effect::nothing(family)
                };
            }
            Mechanism::Ip6 { addr, prefix } => {
                return if family == Family::Ipv6 {
                    Effect::exact(Ranges::network(family, u128::from(*addr), prefix.unwrap_or(128)))
                } else {
                    Effect::nothing(family)
                };
            }
            Mechanism::Ptr(_) => {
                self.dependent(label, written, offset, "the client's reverse DNS (ptr)");
                return Effect::unknown(family, false);
            }
            Mechanism::Include(spec) | Mechanism::Exists(spec) => resolved(Some(spec)),
            Mechanism::A { domain, .. } | Mechanism::Mx { domain, .. } => resolved(domain.as_ref()),
        };
        let target = match target {
            Resolved::Name(name) => name,
            Resolved::Invalid(shown) => {
                if let Mechanism::Include(_) = directive.mechanism {
                    let message = format!(
                        "\"{written}\": {shown:?} is not a valid domain name: permerror (RFC 7208 5.2)"
                    );
                    self.diags.push(code::INCLUDE_NO_SPF, label, at, message);
                    return Effect { void: 1, own_void: true, ..Effect::error(family) };
                }
                let message = format!(
                    "\"{written}\": {shown:?} is not a valid domain name; it matches nothing and counts as a void lookup"
                );
                self.diags.push(code::VOID_LOOKUP, label, at, message);
                return Effect::void(family);
            }
            Resolved::Dependent(why) => {
                self.dependent(label, written, offset, &why);
                let may_fail = matches!(directive.mechanism, Mechanism::Include(_));
                return Effect::unknown(family, may_fail);
            }
        };
        match &directive.mechanism {
            Mechanism::Include(_) => self.subtree(
                &target,
                Via::Include,
                written,
                offset,
                label,
                family,
                depth,
                (dns_spent, void_spent),
            ),
            Mechanism::Exists(_) => match self.dns.cached(&target, RecordType::A) {
                None => self.unfetched(family),
                Some(Ok(_)) => Effect::exact(Ranges::full(family)),
                Some(Err(LookupError::Temporary(failure))) => {
                    self.dns_error(label, written, offset, &target, RecordType::A, &failure.to_string());
                    Effect::error(family)
                }
                Some(Err(_)) => {
                    self.void_lookup(label, written, offset, &format!("{target} has no A record"));
                    Effect::void(family)
                }
            },
            Mechanism::A { cidr, .. } => match self.addresses(&target, family, *cidr) {
                Addresses::Set(set) => Effect::exact(set),
                Addresses::Unfetched => self.unfetched(family),
                Addresses::Failed(rtype, failure) => {
                    self.dns_error(label, written, offset, &target, rtype, &failure);
                    Effect::error(family)
                }
                Addresses::Void => {
                    // Void for clients of this family; named when the
                    // name has no address of either family.
                    let other = if family == Family::Ipv4 { Family::Ipv6 } else { Family::Ipv4 };
                    if matches!(self.addresses(&target, other, *cidr), Addresses::Void) {
                        self.void_lookup(
                            label,
                            written,
                            offset,
                            &format!("{target} has no A or AAAA records"),
                        );
                    }
                    Effect::void(family)
                }
            },
            Mechanism::Mx { cidr, .. } => self.mx(&target, *cidr, written, offset, label, family),
            Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } | Mechanism::Ptr(_) => {
                Effect::nothing(family)
            }
        }
    }

    fn mx(
        &mut self,
        target: &str,
        cidr: DualCidr,
        written: &str,
        offset: usize,
        label: &str,
        family: Family,
    ) -> Effect {
        let names = match self.dns.cached(target, RecordType::Mx) {
            None => return self.unfetched(family),
            Some(Ok(Answer { records: Records::Mx(names), .. })) => names,
            Some(Ok(_)) => return Effect::nothing(family),
            Some(Err(LookupError::Temporary(failure))) => {
                self.dns_error(label, written, offset, target, RecordType::Mx, &failure.to_string());
                return Effect::error(family);
            }
            Some(Err(_)) => {
                self.void_lookup(label, written, offset, &format!("{target} has no MX records"));
                return Effect::void(family);
            }
        };
        // §4.6.4: more than 10 MX names is a permerror for the mx term.
        if names.len() > self.limits.mx_names as usize {
            let message = format!(
                "\"{written}\": {target} has {}; receivers look at {} at most and return permerror \
                 (RFC 7208 4.6.4)",
                counted(names.len() as u64, "MX name", "MX names"),
                self.limits.mx_names
            );
            self.diags.push(code::MX_TOO_MANY_NAMES, label, Some((written, offset)), message);
            return Effect::error(family);
        }
        let mut set = Ranges::empty(family);
        for name in names.iter().filter(|n| valid_name(n)) {
            match self.addresses(name, family, cidr) {
                Addresses::Set(addresses) => set.add(&addresses),
                Addresses::Void => {}
                Addresses::Unfetched => return self.unfetched(family),
                Addresses::Failed(rtype, failure) => {
                    self.dns_error(label, written, offset, name, rtype, &failure);
                    return Effect::error(family);
                }
            }
        }
        Effect::exact(set)
    }

    fn addresses(&self, name: &str, family: Family, cidr: DualCidr) -> Addresses {
        let rtype = if family == Family::Ipv4 { RecordType::A } else { RecordType::Aaaa };
        match self.dns.cached(name, rtype) {
            None => Addresses::Unfetched,
            Some(Ok(Answer { records: Records::A(addrs), .. })) => {
                let prefix = cidr.v4.unwrap_or(32);
                let blocks = addrs.iter().map(|a| block(family, u128::from(u32::from(*a)), prefix));
                Addresses::Set(Ranges::from_unsorted(family, blocks.collect()))
            }
            Some(Ok(Answer { records: Records::Aaaa(addrs), .. })) => {
                let prefix = cidr.v6.unwrap_or(128);
                let blocks = addrs.iter().map(|a| block(family, u128::from(*a), prefix));
                Addresses::Set(Ranges::from_unsorted(family, blocks.collect()))
            }
            Some(Ok(_)) => Addresses::Set(Ranges::empty(family)),
            Some(Err(LookupError::Temporary(failure))) => Addresses::Failed(rtype, failure.to_string()),
            Some(Err(_)) => Addresses::Void,
        }
    }

    fn unfetched(&mut self, family: Family) -> Effect {
        self.truncated = true;
        Effect::unknown(family, true)
    }

    fn dns_error(
        &mut self,
        label: &str,
        written: &str,
        offset: usize,
        name: &str,
        rtype: RecordType,
        failure: &str,
    ) {
        let message = format!(
            "\"{written}\": the {rtype} lookup of {name} failed ({failure}): receivers get temperror"
        );
        self.diags.push(code::DNS_ERROR, label, Some((written, offset)), message);
    }

    fn void_lookup(&mut self, label: &str, written: &str, offset: usize, what: &str) {
        let message = format!(
            "\"{written}\": {what}, a void lookup: it matches nothing, and receivers return permerror after {} \
             of them (RFC 7208 4.6.4)",
            self.limits.void_lookups
        );
        self.diags.push(code::VOID_LOOKUP, label, Some((written, offset)), message);
    }
}

enum Addresses {
    Set(Ranges),
    Void,
    Unfetched,
    Failed(RecordType, String),
}

fn bounds(out: Outcome, dns: u32, void: u32) -> Bounds {
    Bounds { lo: out.lo, hi: out.hi, err_lo: out.err_lo, err_hi: out.err_hi, dns, void }
}

/// Nothing known: any address may pass, or fail.
fn unknown_bounds(family: Family) -> Bounds {
    let unknown = Effect::unknown(family, true);
    Bounds {
        lo: unknown.match_lo,
        hi: unknown.match_hi,
        err_lo: unknown.err_lo,
        err_hi: unknown.err_hi,
        dns: 0,
        void: 0,
    }
}

fn empty_bounds(family: Family) -> Bounds {
    Bounds {
        lo: Ranges::empty(family),
        hi: Ranges::empty(family),
        err_lo: Ranges::full(family),
        err_hi: Ranges::full(family),
        dns: 0,
        void: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::Zone;
    use crate::lint::LintOptions;

    /// A record text of `terms` alternating `+ip6:K::` (K even) and
    /// `-ip6:K::` (K odd).
    fn alternating(terms: u32) -> Root {
        let terms: Vec<String> = (0..terms)
            .map(|k| format!("{}ip6:{k:x}::", if k.is_multiple_of(2) { '+' } else { '-' }))
            .collect();
        Root::Text(format!("v=spf1 {} -all", terms.join(" ")))
    }

    fn analyze(root: &Root, deadline: Option<Instant>) -> (Bounds, bool) {
        let zone = Zone::new();
        let memo = Memo::new(&zone, &LintOptions::default(), None);
        let mut analyzer = Analyzer::new(&memo, Limits::default(), root, None, deadline);
        let bounds = analyzer.root(root, Family::Ipv6).expect("a record");
        (bounds, analyzer.truncated)
    }

    /// Issue 16: the analysis reads the deadline between terms, not only
    /// at DNS queries. Past it, the terms not walked may pass anything.
    #[test]
    fn the_walk_stops_mid_record_at_the_deadline() {
        let root = alternating(8000);
        let (full, truncated) = analyze(&root, None);
        assert!(!truncated);
        assert_eq!(full.lo.count().get(), Some(4000));
        assert_eq!(full.hi, full.lo);

        // Already passed: read after the first CLOCK_EVERY units of work.
        let (cut, truncated) = analyze(&root, Some(Instant::now()));
        assert!(truncated);
        let walked = cut.lo.count().get().expect("small");
        assert!(walked > 0 && walked < u128::from(CLOCK_EVERY as u32), "{walked} passes walked");
        assert!(cut.lo.contains(0) && !cut.lo.contains(1 << 112));
        // What the walked terms decided stays decided: their "-" addresses
        // fail. Any other address may pass, or fail.
        let fails = cut.hi.complement();
        assert!(fails.contains(1 << 112) && !fails.contains(0));
        assert!(fails.count().get().is_some_and(|n| n == walked || n + 1 == walked), "{fails:?}");
        let last = 7999u128 << 112;
        assert!(cut.hi.contains(last) && cut.err_hi.contains(last) && !full.hi.contains(last));
    }

    /// Reached through a domain, a record is not walked at all once the
    /// deadline has passed.
    #[test]
    fn no_record_is_started_after_the_deadline() {
        let mut zone = Zone::new();
        zone.add_txt("d.example", vec![b"v=spf1 ip4:192.0.2.0/24 -all".to_vec()]);
        let options = LintOptions::default();
        let memo = Memo::new(&zone, &options, None);
        let root = Root::Domain("d.example".into());
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        assert!(rt.block_on(super::super::gather::gather(&memo, &root, &options)));
        let mut analyzer = Analyzer::new(&memo, Limits::default(), &root, None, Some(Instant::now()));
        let bounds = analyzer.root(&root, Family::Ipv4).expect("unknown is a record");
        assert!(analyzer.truncated && analyzer.tree.is_empty());
        assert!(bounds.lo.is_empty() && bounds.hi == Ranges::full(Family::Ipv4));
        let mut on_time = Analyzer::new(&memo, Limits::default(), &root, None, None);
        let bounds = on_time.root(&root, Family::Ipv4).expect("a record");
        assert!(!on_time.truncated);
        assert_eq!(bounds.lo.cidrs(), ["192.0.2.0/24"]);
    }
}
