//! Which of a name's TXT records is its SPF record (RFC 7208 §4.5), and
//! what the others are: the one place that tells SPF from not-SPF, for
//! evaluation, its trace, lint and draft checks.

use std::fmt;
use std::sync::Arc;

use super::{ParseError, Record};

/// The outcome of SPF record selection among a name's TXT records
/// (RFC 7208 §4.5), parsed once and cached with the TXT answer.
#[derive(Clone, Debug)]
pub enum SpfSelection {
    /// No record starts with `v=spf1`.
    None {
        /// The first record that looks meant to be an SPF record
        /// ([`classify`]), as its first 80 characters, quoted; found once
        /// with the answer, so checks reading the cached answer do not look
        /// again.
        near_miss: Option<Arc<str>>,
    },
    /// Exactly one record; parsed, or the syntax error found in it.
    One(Result<Arc<Record>, ParseError>),
    /// More than one record starts with `v=spf1` (a permerror).
    Multiple(usize),
}

impl SpfSelection {
    /// Selects among the records of a TXT answer, each given as its
    /// character-strings joined (RFC 7208 §3.3).
    pub fn select<R: AsRef<[u8]>>(records: impl IntoIterator<Item = R>) -> SpfSelection {
        let mut found: Option<R> = None;
        let mut count = 0usize;
        let mut near: Option<Arc<str>> = None;
        for record in records {
            if is_spf1(record.as_ref()) {
                count += 1;
                if found.is_none() {
                    found = Some(record);
                }
            } else if near.is_none() && classify(record.as_ref()).is_some() {
                near = Some(shown(record.as_ref()).into());
            }
        }
        match (count, found) {
            (1, Some(text)) => SpfSelection::One(Record::parse_bytes(text.as_ref()).map(Arc::new)),
            (0, _) | (_, None) => SpfSelection::None { near_miss: near },
            (n, _) => SpfSelection::Multiple(n),
        }
    }
}

/// Whether a TXT record begins with the version section `v=spf1`,
/// terminated by a space or the end of the record (§4.5). ABNF literals are
/// case-insensitive, so `V=SPF1` is one too.
pub fn is_spf1(record: &[u8]) -> bool {
    record.len() >= 6
        && record[..6].eq_ignore_ascii_case(b"v=spf1")
        && (record.len() == 6 || record[6] == b' ')
}

impl fmt::Display for SpfSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpfSelection::None { .. } => f.write_str("no SPF record"),
            SpfSelection::One(Ok(r)) => write!(f, "{r}"),
            SpfSelection::One(Err(e)) => write!(f, "invalid SPF record: {e}"),
            SpfSelection::Multiple(n) => write!(f, "{n} SPF records"),
        }
    }
}

/// Why a TXT record that looks meant as SPF is not one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotSpf {
    /// `"v=spf1 ..."` with the quotes inside the data.
    Quoted,
    /// ` v=spf1 ...`.
    LeadingSpace,
    /// `v=spf2.0/...`: Sender ID (RFC 4406).
    SenderId,
    /// A mistyped version: the first token as written.
    Typo(String),
}

/// Classifies a TXT record that is not SPF but looks meant to be; `None`
/// for SPF records and for unrelated TXT data.
pub fn classify(text: &[u8]) -> Option<NotSpf> {
    if is_spf1(text) {
        return None;
    }
    let text = String::from_utf8_lossy(text);
    let unquoted = text.trim_start_matches([' ', '\t', '"', '\'', '\\']);
    let stripped = unquoted.trim_end_matches([' ', '"', '\'', '\\']);
    if is_spf1(stripped.as_bytes()) {
        let quoted = text.trim_start_matches([' ', '\t']).starts_with(['"', '\'', '\\']);
        return Some(if quoted { NotSpf::Quoted } else { NotSpf::LeadingSpace });
    }
    let lower = unquoted.to_ascii_lowercase();
    if lower.starts_with("v=spf2") || lower.starts_with("spf2.0") {
        return Some(NotSpf::SenderId);
    }
    let token = unquoted.split([' ', '\t']).next().unwrap_or_default();
    let lower_token = token.to_ascii_lowercase();
    let typo = lower_token.starts_with("v=spf")
        || lower_token.starts_with("v-spf")
        || lower_token.contains("spf1")
        || lower_token == "spf"
        || (lower_token.len() <= 10 && distance(&lower_token, "v=spf1") <= 2)
        // "v = spf1", "v= spf1": the version split by spaces.
        || (lower_token.starts_with('v') && lower.replace(' ', "").starts_with("v=spf1"));
    typo.then(|| NotSpf::Typo(token.to_string()))
}

/// A record as a diagnostic shows it: its first 80 characters, quoted.
fn shown(record: &[u8]) -> String {
    let text = String::from_utf8_lossy(record);
    let shown: String = text.chars().take(80).collect();
    format!("{shown:?}")
}

/// Says why none of a name's TXT records is an SPF record, naming records
/// that look like mistyped ones (`v-spf1`, `v=spf`, `spf1`, `v=spf2.0`,
/// quotes or leading spaces).
pub fn describe_non_spf<R: AsRef<[u8]>>(records: impl IntoIterator<Item = R>) -> String {
    let records: Vec<R> = records.into_iter().collect();
    let near_misses: Vec<String> =
        records.iter().map(AsRef::as_ref).filter(|r| classify(r).is_some()).map(shown).collect();
    let mut detail = format!(
        "{} TXT record{}, none begins with \"v=spf1\" followed by a space or its end (RFC 7208 4.5)",
        records.len(),
        if records.len() == 1 { "" } else { "s" }
    );
    if !near_misses.is_empty() {
        detail.push_str("; not SPF although it looks meant to be: ");
        detail.push_str(&near_misses.join(", "));
    }
    detail
}

/// Levenshtein distance of two short ASCII strings.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(!ca.eq_ignore_ascii_case(&cb));
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}
