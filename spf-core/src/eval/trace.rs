//! The machine-readable trace of a check: each step, each query, and the
//! budget each include spent.

use super::{SpfResult, Via};
use crate::dns::RecordType;

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
pub(crate) fn render_outcome(result: &crate::dns::LookupResult) -> QueryOutcome {
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
