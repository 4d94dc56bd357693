//! SPF records: the typed form, the parser and the printer.

mod display;
mod parse;
mod select;
mod term;

pub(crate) use select::distance;
pub use select::{NotSpf, SpfSelection, classify, describe_non_spf, is_spf1};
pub use term::{Directive, DomainSpec, DualCidr, Mechanism, Modifier, Qualifier, Span, Term};

/// A parsed SPF record (RFC 7208 §4.6.1).
///
/// Parse with [`Record::parse`] (or `str::parse`); print with `Display`,
/// which re-parses to an equal record. Equality compares the terms, not
/// where they stood in the text.
#[derive(Clone, Debug)]
pub struct Record {
    pub(crate) terms: Vec<Term>,
    pub(crate) spans: Vec<Span>,
    /// Index into `terms` of the `redirect` modifier, if any.
    pub(crate) redirect: Option<usize>,
    /// Index into `terms` of the `exp` modifier, if any.
    pub(crate) exp: Option<usize>,
    /// Whether an `all` mechanism appears (then `redirect` is ignored, §6.1).
    pub(crate) has_all: bool,
    /// Each term as it prints, rendered once on first use (a matched
    /// term's name goes into every result that matches it).
    pub(crate) shown: std::sync::OnceLock<Box<[std::sync::Arc<str>]>>,
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.terms == other.terms
    }
}
impl Eq for Record {}

impl Record {
    /// Parses a record, starting with its `v=spf1` version section.
    ///
    /// Any syntax error anywhere makes the whole record invalid (§4.6): the
    /// error names the offending term and its byte offset.
    pub fn parse(text: &str) -> Result<Record, ParseError> {
        parse::parse_record(text.as_bytes())
    }

    /// Parses a record given as raw bytes (as TXT data arrives from DNS).
    /// Anything outside 7-bit ASCII is a syntax error at its offset.
    pub fn parse_bytes(text: &[u8]) -> Result<Record, ParseError> {
        parse::parse_record(text)
    }

    /// The terms, in record order.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The term at `index` as it prints (empty past the end); rendered once
    /// per record and kept.
    pub fn term_text(&self, index: usize) -> &str {
        self.shown_terms().get(index).map_or("", |s| s)
    }

    /// [`Record::term_text`], shared (an evaluation that matched the term
    /// holds it without copying).
    pub(crate) fn term_shared(&self, index: usize) -> std::sync::Arc<str> {
        self.shown_terms().get(index).cloned().unwrap_or_else(|| "".into())
    }

    fn shown_terms(&self) -> &[std::sync::Arc<str>] {
        self.shown.get_or_init(|| self.terms.iter().map(|t| t.to_string().into()).collect())
    }

    /// Each term with where it stood in the parsed text.
    pub fn terms_with_spans(&self) -> impl Iterator<Item = (&Term, Span)> {
        self.terms.iter().zip(self.spans.iter().copied())
    }

    /// The `redirect=` target, if any.
    pub fn redirect(&self) -> Option<&DomainSpec> {
        match self.redirect.map(|i| &self.terms[i]) {
            Some(Term::Modifier(Modifier::Redirect(d))) => Some(d),
            _ => None,
        }
    }

    /// The `exp=` target, if any.
    pub fn exp(&self) -> Option<&DomainSpec> {
        match self.exp.map(|i| &self.terms[i]) {
            Some(Term::Modifier(Modifier::Exp(d))) => Some(d),
            _ => None,
        }
    }

    /// Whether the record has an `all` mechanism.
    pub fn has_all(&self) -> bool {
        self.has_all
    }
}

impl std::str::FromStr for Record {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Record::parse(s)
    }
}

/// A syntax error in a record, with the place it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{kind} in term {term:?} at byte {offset}")]
pub struct ParseError {
    /// Byte offset of the offending term (or of the offending byte, for
    /// errors outside a term) in the record text.
    pub offset: usize,
    /// The offending term, as written (lossily decoded when not UTF-8).
    pub term: String,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// The kinds of record syntax error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The record does not start with `v=spf1` followed by a space or its end.
    #[error("not an SPF version 1 record")]
    NotSpf1,
    /// A byte outside printable 7-bit ASCII (§4.5: records are ASCII; §12: terms
    /// are separated by spaces only).
    #[error("byte 0x{byte:02x} is not allowed in an SPF record")]
    InvalidByte {
        /// The byte.
        byte: u8,
    },
    /// A term that is neither a known mechanism nor a well-formed modifier.
    #[error("unknown mechanism")]
    UnknownMechanism,
    /// A mechanism that takes no argument was given one, or vice versa.
    #[error("invalid argument for {mechanism}")]
    InvalidArgument {
        /// The mechanism's name.
        mechanism: &'static str,
    },
    /// A required domain-spec is missing or empty.
    #[error("empty domain-spec")]
    EmptyDomain,
    /// A domain-spec that does not end in a macro or a valid top label.
    #[error("domain-spec must end in a macro or a valid top-level label")]
    InvalidDomainEnd,
    /// A CIDR length that is malformed or out of range.
    #[error("invalid CIDR length")]
    InvalidCidr,
    /// An `ip4:`/`ip6:` network that is not an address.
    #[error("invalid IP address")]
    InvalidIp,
    /// A bad macro (§7.1).
    #[error("invalid macro: {0}")]
    Macro(#[from] crate::macros::MacroError),
    /// An invalid modifier name.
    #[error("invalid modifier name")]
    InvalidModifierName,
    /// `redirect` or `exp` given twice (§6).
    #[error("{modifier} appears more than once")]
    DuplicateModifier {
        /// The modifier's name.
        modifier: &'static str,
    },
}
