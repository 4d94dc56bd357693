//! The machine-readable trace of a check: each step, each query, and the
//! budget each include spent. Recorded compactly during the check
//! ([`Trace`]: references to the records and answers used), rendered into
//! [`TraceEvent`]s only when asked.

use std::fmt;
use std::sync::Arc;

use super::{SpfResult, Via};
use crate::dns::{LookupResult, RecordType, TxtRecords};
use crate::record::{Record, Term};

/// What a DNS query returned, as the trace records it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueryOutcome {
    /// Records came back (rendered as text).
    Answer {
        /// The records.
        records: Vec<String>,
    },
    /// NXDOMAIN.
    NxDomain,
    /// The name exists, with no records of this type.
    NoData,
    /// Temporary failure.
    TempError {
        /// Description.
        error: String,
    },
}

/// One step of an evaluation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TraceEvent {
    /// check_host() starts for a domain: the initial domain, an include
    /// target, or a redirect target.
    Enter {
        /// Recursion depth (0 for the checked domain).
        depth: u32,
        /// The domain.
        domain: String,
        /// How it was reached.
        via: Via,
    },
    /// A DNS query and its outcome.
    Query {
        /// Depth of the record that caused it.
        depth: u32,
        /// The name queried.
        name: String,
        /// The type.
        rtype: RecordType,
        /// What came back.
        outcome: QueryOutcome,
    },
    /// The SPF record selected at a domain.
    Record {
        /// Depth.
        depth: u32,
        /// The domain.
        domain: String,
        /// The record text.
        record: String,
    },
    /// No SPF record was selected, and why (e.g. a `v-spf1` typo).
    NoRecord {
        /// Depth.
        depth: u32,
        /// The domain.
        domain: String,
        /// Why none was selected.
        detail: String,
    },
    /// A term was evaluated.
    Term {
        /// Depth.
        depth: u32,
        /// The domain whose record holds the term.
        domain: String,
        /// The term as it prints.
        term: String,
        /// Whether it matched.
        matched: bool,
        /// DNS-querying terms counted so far in the check, after this term.
        dns_lookups: u32,
        /// Void lookups counted so far in the check, after this term.
        void_lookups: u32,
    },
    /// check_host() for a domain finished.
    Leave {
        /// Depth.
        depth: u32,
        /// The domain.
        domain: String,
        /// Its result.
        result: SpfResult,
        /// DNS-querying terms spent inside this domain's evaluation,
        /// including nested includes and redirects.
        dns_lookups_spent: u32,
        /// Void lookups spent inside it.
        void_lookups_spent: u32,
    },
    /// The trace reached its cap of [`MAX_EVENTS`]; this many later events
    /// were not recorded.
    Truncated {
        /// Events not recorded.
        omitted: u32,
    },
    /// The explanation step on `fail` (§6.2).
    Explanation {
        /// The domain whose `exp=` was used, if any.
        domain: String,
        /// What happened: the text, or why the default was used.
        detail: String,
    },
}

/// The most events a trace holds.
pub const MAX_EVENTS: usize = 1000;

/// Record text longer than this is shortened in the trace.
const MAX_TEXT: usize = 512;

/// Shortens text for the trace, saying how long it was.
pub(crate) fn shorten(text: String) -> String {
    if text.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}... ({} bytes)", &text[..cut], text.len())
    } else {
        text
    }
}

/// Renders a lookup result for the trace; long records are shortened.
fn render_outcome(result: &crate::dns::LookupResult) -> QueryOutcome {
    use crate::dns::{LookupError, Records};
    match result {
        Ok(answer) => {
            let records = match &answer.records {
                Records::Txt(t) => {
                    t.joined().map(|r| shorten(format!("{:?}", String::from_utf8_lossy(&r)))).collect()
                }
                Records::A(a) => a.iter().map(ToString::to_string).collect(),
                Records::Aaaa(a) => a.iter().map(ToString::to_string).collect(),
                Records::Mx(n) | Records::Ptr(n) => n.iter().map(|n| shorten(n.to_string())).collect(),
            };
            QueryOutcome::Answer { records }
        }
        Err(LookupError::NxDomain { .. }) => QueryOutcome::NxDomain,
        Err(LookupError::NoData { .. }) => QueryOutcome::NoData,
        Err(LookupError::Temporary(e)) => QueryOutcome::TempError { error: e.to_string() },
    }
}

/// The trace of a check, as recorded: steps holding references to what the
/// check already had (the shared domain names, the parsed record and a
/// term's index in it, the DNS answer itself) rather than text; a run of
/// terms that matched nothing without a DNS query (a provider's `ip4`
/// ranges) is one step. Empty when tracing is off
/// ([`CheckOptions::trace`](super::CheckOptions::trace)).
///
/// Cost: recording a step is a few reference-count increments and a push;
/// nothing is formatted during the check, and a traced check skips the
/// terms that cannot match as an untraced one does. Rendering ([`Trace::iter`],
/// [`Trace::events`], `Serialize`, `Debug`, `PartialEq`) allocates the
/// events' text each time it is asked for, the same text whenever asked.
/// Bound: at most [`MAX_EVENTS`] events are kept; later ones are only
/// counted, and a last [`TraceEvent::Truncated`] says how many. A trace
/// keeps the records and answers it refers to alive as long as it lives.
///
/// Serialized, it is the list of its rendered events.
#[derive(Clone, Default)]
pub struct Trace {
    steps: Vec<Step>,
    /// The events the steps render to (a run of terms is one step).
    events: usize,
    /// Events beyond the cap, counted only.
    omitted: u32,
}

impl Trace {
    /// Whether nothing was recorded (tracing was off).
    pub fn is_empty(&self) -> bool {
        self.events == 0 && self.omitted == 0
    }

    /// How many events [`Trace::iter`] gives (a [`TraceEvent::Truncated`]
    /// included): at most [`MAX_EVENTS`] + 1.
    pub fn len(&self) -> usize {
        self.events + usize::from(self.omitted > 0)
    }

    /// The events, rendered one by one, in order.
    pub fn iter(&self) -> Events<'_> {
        Events { steps: self.steps.iter(), run: None, left: self.len(), omitted: self.omitted }
    }

    /// The events, rendered.
    pub fn events(&self) -> Vec<TraceEvent> {
        self.iter().collect()
    }

    /// Whether there is room for one more event; if not, the event is
    /// counted as omitted.
    pub(crate) fn room(&mut self) -> bool {
        if self.events < MAX_EVENTS {
            return true;
        }
        self.omitted += 1;
        false
    }

    /// Records `step`, one event (after [`Trace::room`] said there is
    /// room).
    pub(crate) fn push(&mut self, step: Step) {
        self.steps.push(step);
        self.events += 1;
    }

    /// Records that the directives among the terms `from..to` of `record`
    /// were evaluated without matching and without any DNS query (as many
    /// events as there are directives, all with the same counts), as far
    /// as there is room; the rest are counted as omitted.
    pub(crate) fn push_misses(&mut self, run: Misses) {
        let directives = run
            .record
            .terms()
            .get(run.from as usize..run.to as usize)
            .unwrap_or_default()
            .iter()
            .filter(|t| matches!(t, Term::Directive(_)))
            .count();
        let shown = directives.min(MAX_EVENTS - self.events.min(MAX_EVENTS));
        let omitted = u32::try_from(directives - shown).unwrap_or(u32::MAX);
        self.omitted = self.omitted.saturating_add(omitted);
        if shown > 0 {
            self.events += shown;
            self.steps.push(Step::Misses(Box::new(Misses { shown: shown as u32, ..run })));
        }
    }
}

impl<'a> IntoIterator for &'a Trace {
    type Item = TraceEvent;
    type IntoIter = Events<'a>;

    fn into_iter(self) -> Events<'a> {
        self.iter()
    }
}

/// The events of a [`Trace`], each rendered when reached.
#[derive(Clone)]
pub struct Events<'a> {
    steps: std::slice::Iter<'a, Step>,
    /// Within a run of misses: the run, the next term's index and how many
    /// of its events are left.
    run: Option<(&'a Misses, usize, u32)>,
    /// Events left, for `size_hint`.
    left: usize,
    /// The count for the last [`TraceEvent::Truncated`], 0 when none (or
    /// once given).
    omitted: u32,
}

impl Iterator for Events<'_> {
    type Item = TraceEvent;

    fn next(&mut self) -> Option<TraceEvent> {
        let event = self.next_event();
        self.left = self.left.saturating_sub(usize::from(event.is_some()));
        event
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl Events<'_> {
    fn next_event(&mut self) -> Option<TraceEvent> {
        loop {
            if let Some((run, index, left)) = &mut self.run {
                let terms = run.record.terms();
                while *left > 0 && *index < terms.len() {
                    let at = *index;
                    *index += 1;
                    if matches!(terms[at], Term::Directive(_)) {
                        *left -= 1;
                        return Some(run.render(at));
                    }
                }
                self.run = None;
            }
            match self.steps.next() {
                Some(Step::Misses(run)) => self.run = Some((run, run.from as usize, run.shown)),
                Some(step) => return Some(step.render()),
                None => {
                    let omitted = std::mem::take(&mut self.omitted);
                    return (omitted > 0).then_some(TraceEvent::Truncated { omitted });
                }
            }
        }
    }
}

impl ExactSizeIterator for Events<'_> {}

impl fmt::Debug for Events<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").field("left", &self.len()).finish()
    }
}

impl fmt::Debug for Trace {
    /// The rendered events.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Trace {
    /// Two traces are equal when they render the same events.
    fn eq(&self, other: &Trace) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Trace {}

impl serde::Serialize for Trace {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// A name queried, as the trace holds it.
#[derive(Clone)]
pub(crate) enum QueryName {
    /// A domain the check already shares.
    Shared(Arc<str>),
    /// A name in an answer (an MX exchange, a PTR name): the answer's list
    /// and the index in it.
    Listed(Arc<[Box<str>]>, usize),
    /// A name built for the query (a reverse name).
    Owned(Box<str>),
}

impl QueryName {
    fn as_str(&self) -> &str {
        match self {
            QueryName::Shared(name) => name,
            QueryName::Listed(names, index) => names.get(*index).map_or("", |n| n),
            QueryName::Owned(name) => name,
        }
    }
}

/// Why no SPF record was selected at a domain.
#[derive(Clone)]
pub(crate) enum NoRecordWhy {
    /// The answer held no TXT records.
    NotTxt,
    /// NXDOMAIN.
    NxDomain,
    /// No TXT records.
    NoData,
    /// TXT records, none of them SPF.
    NotSpf(Arc<TxtRecords>),
}

/// What the explanation step did.
#[derive(Clone)]
pub(crate) enum ExplanationStep {
    /// The `exp=` text, expanded.
    Text(String),
    /// `exp=` was ignored, for this reason.
    Ignored(&'static str),
}

/// One step as recorded. See [`TraceEvent`] for the fields.
#[derive(Clone)]
pub(crate) enum Step {
    Enter {
        depth: u32,
        domain: Arc<str>,
        via: Via,
    },
    Query {
        depth: u32,
        name: QueryName,
        rtype: RecordType,
        result: LookupResult,
    },
    Record {
        depth: u32,
        domain: Arc<str>,
        record: Arc<Record>,
    },
    NoRecord {
        depth: u32,
        domain: Arc<str>,
        why: NoRecordWhy,
    },
    /// The term at `index` in `record`.
    Term {
        depth: u32,
        domain: Arc<str>,
        record: Arc<Record>,
        index: u32,
        matched: bool,
        dns_lookups: u32,
        void_lookups: u32,
    },
    Leave {
        depth: u32,
        domain: Arc<str>,
        result: SpfResult,
        dns_lookups_spent: u32,
        void_lookups_spent: u32,
    },
    Explanation {
        domain: Arc<str>,
        detail: ExplanationStep,
    },
    /// A run of terms that matched nothing and queried nothing (boxed: the
    /// other steps are smaller).
    Misses(Box<Misses>),
}

/// Terms `from..to` of `record`, evaluated without a match or a DNS query:
/// each directive among them is a [`TraceEvent::Term`], the first `shown`
/// of them recorded.
#[derive(Clone)]
pub(crate) struct Misses {
    pub(crate) depth: u32,
    pub(crate) domain: Arc<str>,
    pub(crate) record: Arc<Record>,
    pub(crate) from: u32,
    pub(crate) to: u32,
    pub(crate) shown: u32,
    pub(crate) dns_lookups: u32,
    pub(crate) void_lookups: u32,
}

impl Misses {
    /// The index of the first directive in the run.
    fn first(&self) -> usize {
        let (from, to) = (self.from as usize, self.to as usize);
        let terms = self.record.terms().get(from..to).unwrap_or_default();
        from + terms.iter().position(|t| matches!(t, Term::Directive(_))).unwrap_or(0)
    }

    /// The event of the term at `index`.
    fn render(&self, index: usize) -> TraceEvent {
        TraceEvent::Term {
            depth: self.depth,
            domain: self.domain.to_string(),
            term: self.record.term_text(index).to_string(),
            matched: false,
            dns_lookups: self.dns_lookups,
            void_lookups: self.void_lookups,
        }
    }
}

impl Step {
    /// The event as it prints.
    fn render(&self) -> TraceEvent {
        match self {
            Step::Enter { depth, domain, via } => {
                TraceEvent::Enter { depth: *depth, domain: domain.to_string(), via: *via }
            }
            Step::Query { depth, name, rtype, result } => TraceEvent::Query {
                depth: *depth,
                name: name.as_str().to_string(),
                rtype: *rtype,
                outcome: render_outcome(result),
            },
            Step::Record { depth, domain, record } => TraceEvent::Record {
                depth: *depth,
                domain: domain.to_string(),
                record: shorten(record.to_string()),
            },
            Step::NoRecord { depth, domain, why } => {
                let detail = match why {
                    NoRecordWhy::NotTxt => "the answer held no TXT records".to_string(),
                    NoRecordWhy::NxDomain => "the domain does not exist (NXDOMAIN)".to_string(),
                    NoRecordWhy::NoData => "the domain has no TXT records".to_string(),
                    NoRecordWhy::NotSpf(txt) => crate::record::describe_non_spf(txt.joined()),
                };
                TraceEvent::NoRecord { depth: *depth, domain: domain.to_string(), detail }
            }
            Step::Term { depth, domain, record, index, matched, dns_lookups, void_lookups } => {
                TraceEvent::Term {
                    depth: *depth,
                    domain: domain.to_string(),
                    term: record.term_text(*index as usize).to_string(),
                    matched: *matched,
                    dns_lookups: *dns_lookups,
                    void_lookups: *void_lookups,
                }
            }
            Step::Leave { depth, domain, result, dns_lookups_spent, void_lookups_spent } => {
                TraceEvent::Leave {
                    depth: *depth,
                    domain: domain.to_string(),
                    result: *result,
                    dns_lookups_spent: *dns_lookups_spent,
                    void_lookups_spent: *void_lookups_spent,
                }
            }
            Step::Explanation { domain, detail } => TraceEvent::Explanation {
                domain: domain.to_string(),
                detail: match detail {
                    ExplanationStep::Text(text) => text.clone(),
                    ExplanationStep::Ignored(why) => {
                        format!("exp= ignored ({why}); default explanation used")
                    }
                },
            },
            // Its first event ([`Events`] gives them all).
            Step::Misses(run) => run.render(run.first()),
        }
    }
}
