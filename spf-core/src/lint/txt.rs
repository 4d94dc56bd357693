//! Checks of a name's TXT answer as a whole: records meant as SPF that are
//! not (typos, quotes, spaces, Sender ID), several SPF records, strings
//! split wrongly, and sizes.

use crate::dns::TxtRecords;
use crate::record::{NotSpf, Record, classify, is_spf1};

use super::{Diags, code};

/// Whether a TXT record reads like the continuation of an SPF record
/// (it starts with a mechanism or modifier).
fn continues_spf(text: &[u8]) -> bool {
    let text = String::from_utf8_lossy(text).to_ascii_lowercase();
    let token = text.trim_start().split(' ').next().unwrap_or_default();
    let body = token.trim_start_matches(['+', '-', '~', '?']);
    let qualified = body.len() != token.len();
    ["include:", "ip4:", "ip6:", "exists:", "redirect=", "exp=", "a:", "mx:", "a/", "mx/"]
        .iter()
        .any(|p| body.starts_with(p))
        || matches!(body, "a" | "mx" | "ptr")
        || (qualified && body == "all")
}

/// The bytes a DNS response to a TXT query for `name` takes, without EDNS:
/// header, question, and each record with a compressed owner name.
fn response_size(name: &str, txt: &TxtRecords) -> usize {
    let qname: usize = name.split('.').filter(|l| !l.is_empty()).map(|l| l.len() + 1).sum::<usize>() + 1;
    let records: usize =
        txt.records().iter().map(|strings| 2 + 10 + strings.iter().map(|s| 1 + s.len()).sum::<usize>()).sum();
    12 + qname + 4 + records
}

/// RFC 7208 §3.4's guideline for "the text of all the records of a given type".
const RECORD_SIZE: usize = 450;
/// Largest DNS response over UDP without EDNS (RFC 1035 §2.3.4).
const UDP_SIZE: usize = 512;
/// Largest TXT character-string (RFC 1035 §3.3).
const STRING_SIZE: usize = 255;

/// What to say about the TXT answer of one name.
pub(crate) struct TxtCheck<'a> {
    /// The name (empty for a record text linted without a domain).
    pub(crate) domain: &'a str,
    /// Whether this is the linted domain itself (then a missing record is
    /// an error here; for include targets the including term says so).
    pub(crate) root: bool,
    /// Whether an obsolete SPF (type 99) record is published, if known.
    pub(crate) spf_rr: Option<bool>,
}

/// Checks the TXT records at one name.
pub(crate) fn check(txt: &TxtRecords, at: &TxtCheck<'_>, diags: &mut Diags) {
    let label = at.domain;
    let joined: Vec<Vec<u8>> = txt.joined().collect();
    for (strings, text) in txt.records().iter().zip(&joined) {
        if let Some(long) = strings.iter().find(|s| s.len() > STRING_SIZE) {
            diags.push(
                code::TXT_STRING_TOO_LONG,
                label,
                None,
                format!(
                    "a TXT string of {} bytes (\"{}...\"): one string holds at most {STRING_SIZE} bytes; \
                     split it into several strings of one record (they are joined without spaces)",
                    long.len(),
                    preview(text)
                ),
            );
        }
    }
    let spf: Vec<usize> = (0..joined.len()).filter(|&i| is_spf1(&joined[i])).collect();
    if spf.len() > 1 {
        diags.push(
            code::MULTIPLE_SPF_RECORDS,
            label,
            None,
            format!(
                "{} TXT records start with v=spf1: receivers return permerror (RFC 7208 4.5). Merge them into one",
                spf.len()
            ),
        );
    }
    let mut not_spf = false;
    for text in &joined {
        let shown = preview(text);
        let (code, message, term) = match classify(text) {
            None => continue,
            Some(NotSpf::Quoted) => (
                code::STRAY_QUOTES,
                format!(
                    "\"{shown}\": the quotes are part of the TXT data, so it does not start with \"v=spf1\" and \
                     receivers ignore it. Remove the inner quotes"
                ),
                None,
            ),
            Some(NotSpf::LeadingSpace) => (
                code::LEADING_SPACE,
                format!(
                    "\"{shown}\" starts with a space, so it is not an SPF record (RFC 7208 4.5); remove it"
                ),
                None,
            ),
            Some(NotSpf::SenderId) => (
                code::SENDER_ID,
                format!(
                    "\"{shown}\" is a Sender ID record (RFC 4406), not SPF: SPF receivers ignore it{}",
                    if spf.is_empty() { ", and there is no v=spf1 record" } else { "" }
                ),
                None,
            ),
            Some(NotSpf::Typo(token)) => (
                code::NOT_SPF_TYPO,
                format!(
                    "\"{token}\" is not \"v=spf1\": this record is not SPF and receivers ignore it, so the domain \
                     has no SPF policy. Start it with \"v=spf1 \""
                ),
                Some(token),
            ),
        };
        not_spf |= code != code::SENDER_ID;
        let text = String::from_utf8_lossy(text);
        let at = term.as_deref().map(|t| (t, text.find(t).unwrap_or(0)));
        diags.push(code, label, at, message);
    }
    if let [index] = spf[..] {
        let strings = &txt.records()[index];
        split_strings(strings, &joined[index], label, diags);
        if let Some(other) = joined.iter().enumerate().find(|&(i, t)| i != index && continues_spf(t)) {
            diags.push(
                code::SPLIT_RECORDS,
                label,
                None,
                format!(
                    "the TXT record \"{}\" continues the SPF record, but separate TXT records are never joined: \
                     its terms are ignored. Publish one record made of several strings instead",
                    preview(other.1)
                ),
            );
        }
    }
    for &index in &spf {
        let size = joined[index].len();
        if size > RECORD_SIZE {
            diags.push(
                code::RECORD_TOO_LONG,
                label,
                None,
                format!(
                    "the record is {size} bytes; RFC 7208 3.4 asks for under {RECORD_SIZE} so that answers fit in \
                     UDP. Move hosts into an include"
                ),
            );
        }
    }
    if !spf.is_empty() && !label.is_empty() {
        let size = response_size(label, txt);
        if size > UDP_SIZE {
            diags.push(
                code::UDP_TOO_LARGE,
                label,
                None,
                format!(
                    "the TXT answer for {label} is about {size} bytes, over the {UDP_SIZE} of plain UDP: \
                     receivers must retry over TCP or EDNS, and some fail (RFC 7208 3.4). Shorten the \
                     records or move other TXT data to a subdomain"
                ),
            );
        }
    }
    if at.root {
        if spf.is_empty() {
            if !not_spf || at.spf_rr == Some(true) {
                let detail = match txt.records().len() {
                    0 => "it has no TXT records".to_string(),
                    1 => "its one TXT record is not SPF".to_string(),
                    n => format!("none of its {n} TXT records is SPF"),
                };
                missing(label, &detail, at.spf_rr, diags);
            }
        } else if at.spf_rr == Some(true) {
            diags.push(
                code::SPF_RR_TYPE,
                label,
                None,
                "an obsolete SPF (type 99) record is published too: receivers ignore it (RFC 7208 3.1); \
                 remove it so the two cannot drift apart"
                    .to_string(),
            );
        }
    }
}

/// The linted domain has no SPF record: `spf-rr-type-only` when it has the
/// obsolete type instead, else `no-spf-record`.
pub(crate) fn missing(label: &str, detail: &str, spf_rr: Option<bool>, diags: &mut Diags) {
    if spf_rr == Some(true) {
        diags.push(
            code::SPF_RR_TYPE_ONLY,
            label,
            None,
            "only an SPF (type 99) record is published: receivers read TXT only (RFC 7208 3.1), so the \
             domain has no SPF policy. Publish the record as TXT"
                .to_string(),
        );
    } else {
        no_record(label, detail, diags);
    }
}

/// `no-spf-record` for the linted domain.
fn no_record(label: &str, detail: &str, diags: &mut Diags) {
    diags.push(
        code::NO_SPF_RECORD,
        label,
        None,
        format!(
            "{} publishes no SPF record ({detail}): receivers get \"none\" and anyone may use the domain \
             in MAIL FROM",
            if label.is_empty() { "the record text" } else { label }
        ),
    );
}

/// `split-strings`: the strings, joined without spaces as RFC 7208 §3.3
/// says, run two terms together, and joining them with spaces would parse.
fn split_strings(strings: &[Box<[u8]>], joined: &[u8], label: &str, diags: &mut Diags) {
    if strings.len() < 2 {
        return;
    }
    let Err(error) = Record::parse_bytes(joined) else { return };
    let spaced = strings.join(&b' ');
    if Record::parse_bytes(&spaced).is_ok() {
        diags.push(
            code::SPLIT_STRINGS,
            label,
            Some((&error.term, error.offset)),
            format!(
                "the record's {} strings are joined without spaces (RFC 7208 3.3), which makes \"{}\"; end each \
                 string with a space (or start the next with one)",
                strings.len(),
                error.term
            ),
        );
    }
}

/// The start of a record, for messages.
fn preview(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let mut shown: String = text.chars().take(60).collect();
    if shown.len() < text.len() {
        shown.push_str("...");
    }
    shown.replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typo(text: &str) -> Option<NotSpf> {
        classify(text.as_bytes())
    }

    #[test]
    fn near_misses_are_named() {
        for text in
            ["v-spf1 -all", "v=spf -all", "spf1 -all", "v=spf1.0 mx", "V=SPF10 a", "vspf1 a", "v = spf1 a"]
        {
            assert!(matches!(typo(text), Some(NotSpf::Typo(_))), "{text}");
        }
        assert_eq!(typo("\"v=spf1 -all\""), Some(NotSpf::Quoted));
        assert_eq!(typo(" v=spf1 -all"), Some(NotSpf::LeadingSpace));
        assert_eq!(typo("v=spf2.0/mfrom,pra -all"), Some(NotSpf::SenderId));
    }

    #[test]
    fn other_txt_data_is_left_alone() {
        for text in [
            "v=spf1 -all",
            "v=DKIM1; k=rsa; p=MIGf",
            "v=DMARC1; p=none",
            "v=STSv1; id=1",
            "v=BIMI1; l=x",
            "google-site-verification=abc",
            "MS=ms12345",
            "hello",
            "",
        ] {
            assert_eq!(typo(text), None, "{text}");
        }
    }

    #[test]
    fn continuations() {
        assert!(continues_spf(b"include:_spf.example.com -all"));
        assert!(continues_spf(b"-all"));
        assert!(continues_spf(b"mx"));
        assert!(!continues_spf(b"all good"));
        assert!(!continues_spf(b"google-site-verification=x"));
    }
}
