//! Checks of one record's terms that need no DNS: syntax (every bad term,
//! not only the first), wide-open terms, dead terms, ranges; and resolving
//! a term's target name when it does not depend on the client.

use std::collections::HashMap;

use crate::macros::{ExpansionBudget, MacroLetter, MacroPart, MacroString, MacroVars};
use crate::record::distance;
use crate::record::{
    Directive, DomainSpec, Mechanism, Modifier, ParseError, ParseErrorKind, Qualifier, Record, Term,
};

pub(crate) use crate::eval::Via;
pub(crate) use crate::input::valid_name;

use super::ipset::{Family, block, show};
use super::{Diags, code, counted};

/// What macros may expand to without a client: the current domain (`%{d}`)
/// and the sender's domain (`%{o}`, the linted domain for its own mail).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) domain: Option<&'a str>,
    pub(crate) sender_domain: Option<&'a str>,
}

/// A term's target name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// A name to query.
    Name(String),
    /// It expands to something that is no domain name (the text shown).
    Invalid(String),
    /// It depends on the client or on a domain not given: why.
    Dependent(String),
}

/// The target of a term: its domain-spec, or the current domain when absent.
pub(crate) fn resolve(spec: Option<&DomainSpec>, ctx: Ctx<'_>) -> Resolved {
    let Some(spec) = spec else {
        return match ctx.domain {
            Some(domain) => Resolved::Name(domain.to_string()),
            None => Resolved::Dependent("the current domain, which was not given".to_string()),
        };
    };
    let macros = spec.macro_string();
    if let Some(why) = client_macros(macros) {
        return Resolved::Dependent(why);
    }
    let (domain, sender_domain) = match (ctx.domain, ctx.sender_domain.or(ctx.domain)) {
        (Some(domain), Some(sender_domain)) => (domain, sender_domain),
        _ if macros.has_macros() => {
            return Resolved::Dependent("%{d}/%{o}, and no domain was given".to_string());
        }
        _ => ("", ""),
    };
    let vars = MacroVars {
        sender: "",
        local_part: "postmaster",
        sender_domain,
        domain,
        ip: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        helo: "",
        receiver: "unknown",
        timestamp: 0,
        validated_name: "unknown",
    };
    // The evaluator's own expansion (§7.3), with a budget of its own.
    match crate::eval::expand_target(spec, &vars, &mut ExpansionBudget::default()) {
        Ok(name) => Resolved::Name(name.to_string()),
        Err(crate::eval::BadTarget::Invalid(name)) => Resolved::Invalid(name),
        Err(crate::eval::BadTarget::OverBudget) => {
            Resolved::Invalid("(the expansion exceeds its work budget)".to_string())
        }
    }
}

/// What a macro-string depends on beyond `%{d}` and `%{o}`, if anything.
pub(crate) fn client_macros(macros: &MacroString) -> Option<String> {
    let mut letters: Vec<MacroLetter> = Vec::new();
    for part in macros.parts() {
        if let MacroPart::Expand(e) = part
            && !matches!(e.letter, MacroLetter::Domain | MacroLetter::SenderDomain)
            && !letters.contains(&e.letter)
        {
            letters.push(e.letter);
        }
    }
    if letters.is_empty() {
        return None;
    }
    let described: Vec<String> = letters
        .iter()
        .map(|&l| {
            let what = match l {
                MacroLetter::Sender | MacroLetter::Local => "the sender",
                MacroLetter::Ip | MacroLetter::ClientIp => "the client's IP",
                MacroLetter::ValidatedName => "the client's validated reverse name",
                MacroLetter::IpVersion => "the client's IP version",
                MacroLetter::Helo => "the HELO name",
                MacroLetter::Receiver => "the receiver",
                MacroLetter::Timestamp => "the time",
                MacroLetter::Domain | MacroLetter::SenderDomain => "the domain",
            };
            format!("{what} (%{{{}}})", l.as_char())
        })
        .collect();
    Some(described.join(", "))
}

const MECHANISMS: [&str; 8] = ["all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"];

/// A likely meant mechanism for an unknown one.
fn suggest_mechanism(name: &str, rest: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let fixed = match lower.as_str() {
        "ip" | "ipv4" | "ip4addr" | "inet" => Some("ip4".to_string()),
        "ipv6" | "inet6" => Some("ip6".to_string()),
        "redirect" | "exp" => return Some(format!("{lower}={}", rest.trim_start_matches([':', '=']))),
        _ => None,
    };
    fixed
        .or_else(|| {
            (lower.len() >= 3)
                .then(|| MECHANISMS.iter().filter(|m| m.len() >= 3).find(|m| distance(&lower, m) <= 2))
                .flatten()
                .map(|m| m.to_string())
        })
        .map(|m| format!("{m}{rest}"))
}

/// A likely meant modifier for an unknown one.
fn suggest_modifier(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower == "redir" || (lower.len() >= 5 && distance(&lower, "redirect") <= 2) {
        Some("redirect")
    } else if lower.len() >= 2 && lower != "v" && distance(&lower, "exp") <= 1 || lower == "explanation" {
        Some("exp")
    } else {
        None
    }
}

/// A term as written in the record text.
fn written(text: &[u8], offset: usize, len: usize) -> String {
    String::from_utf8_lossy(text.get(offset..offset + len).unwrap_or_default()).into_owned()
}

/// Checks one record: `text` is the record as published (it starts with
/// `v=spf1`), `parsed` its parse. Diagnostics go to `diags` under `label`.
pub(crate) fn check_record(
    text: &[u8],
    parsed: Result<&Record, &ParseError>,
    label: &str,
    via: Via,
    diags: &mut Diags,
) {
    syntax(text, parsed, label, diags);
    if let Ok(record) = parsed {
        semantics(text, record, label, via, diags);
    }
}

/// Every malformed term, each with its offset: the parser stops at the first.
fn syntax(text: &[u8], parsed: Result<&Record, &ParseError>, label: &str, diags: &mut Diags) {
    let mut reported = Vec::new();
    let mut pos = 6.min(text.len());
    while pos < text.len() {
        if text[pos] == b' ' {
            pos += 1;
            continue;
        }
        let end = text[pos..].iter().position(|&b| b == b' ').map_or(text.len(), |p| pos + p);
        let token = &text[pos..end];
        let shown = String::from_utf8_lossy(token).into_owned();
        let mut alone = b"v=spf1 ".to_vec();
        alone.extend_from_slice(token);
        match Record::parse_bytes(&alone) {
            Err(error) => {
                reported.push(pos);
                report_syntax(&shown, pos, &error.kind, label, diags);
            }
            Ok(single) => {
                if let Some(Term::Modifier(Modifier::Unknown { name, .. })) = single.terms().first() {
                    unknown_modifier(name, &shown, pos, label, diags);
                }
            }
        }
        pos = end;
    }
    // Errors only the whole record shows (a modifier given twice).
    if let Err(error) = parsed
        && !reported.contains(&error.offset)
    {
        report_syntax(&error.term, error.offset, &error.kind, label, diags);
    }
}

fn report_syntax(term: &str, offset: usize, kind: &ParseErrorKind, label: &str, diags: &mut Diags) {
    let at = Some((term, offset));
    if *kind == ParseErrorKind::UnknownMechanism {
        let body = term.trim_start_matches(['+', '-', '~', '?']);
        let name_end = body.find([':', '/', '=']).unwrap_or(body.len());
        let hint = suggest_mechanism(&body[..name_end], &body[name_end..])
            .map(|s| format!(" (did you mean \"{s}\"?)"))
            .unwrap_or_default();
        let message = format!(
            "\"{term}\" is not a mechanism{hint}: the whole record is a permerror for every receiver \
             (RFC 7208 4.6)"
        );
        diags.push(code::UNKNOWN_MECHANISM, label, at, message);
    } else {
        let message =
            format!("\"{term}\": {kind}: the whole record is a permerror for every receiver (RFC 7208 4.6)");
        diags.push(code::SYNTAX_ERROR, label, at, message);
    }
}

fn unknown_modifier(name: &str, term: &str, offset: usize, label: &str, diags: &mut Diags) {
    let at = Some((term, offset));
    if let Some(meant) = suggest_modifier(name) {
        let message = format!(
            "\"{name}=\" is no modifier; did you mean \"{meant}=\"? Receivers ignore it (RFC 7208 6)"
        );
        diags.push(code::MISSPELT_MODIFIER, label, at, message);
    } else if name.eq_ignore_ascii_case("v") {
        let message = format!(
            "\"{term}\" inside the record: two records pasted together? It is ignored as an unknown modifier"
        );
        diags.push(code::UNKNOWN_MODIFIER, label, at, message);
    } else {
        let message = format!("unknown modifier \"{name}=\": receivers ignore it (RFC 7208 6)");
        diags.push(code::UNKNOWN_MODIFIER, label, at, message);
    }
}

/// Thresholds of `huge-range`: more addresses than any one sender needs.
const HUGE_V4_PREFIX: u8 = 12;
const HUGE_V6_PREFIX: u8 = 24;

fn semantics(text: &[u8], record: &Record, label: &str, via: Via, diags: &mut Diags) {
    let terms: Vec<(&Term, usize, String)> = record
        .terms_with_spans()
        .map(|(t, span)| (t, span.offset, written(text, span.offset, span.len)))
        .collect();
    let directives: Vec<(&Directive, usize, &str)> = terms
        .iter()
        .filter_map(|(t, o, w)| match t {
            Term::Directive(d) => Some((d, *o, w.as_str())),
            Term::Modifier(_) => None,
        })
        .collect();

    // all: wide open, the only policy, terms after it, redirect beside it.
    if let Some(index) = directives.iter().position(|(d, ..)| d.mechanism == Mechanism::All) {
        let (all, offset, written) = directives[index];
        match all.qualifier {
            Qualifier::Pass => diags.push(
                code::PLUS_ALL,
                label,
                Some((written, offset)),
                format!(
                    "\"{written}\" passes every address on the Internet: anyone can send mail as this domain. \
                     End the record with -all or ~all"
                ),
            ),
            Qualifier::Neutral if directives.len() == 1 => diags.push(
                code::NEUTRAL_ALL_ONLY,
                label,
                Some((written, offset)),
                "\"?all\" is the whole policy: every client gets neutral, which receivers treat like no \
                 SPF record at all. List the domain's senders and end with -all or ~all"
                    .to_string(),
            ),
            _ => {}
        }
        if let Some((_, after, after_written)) = directives.get(index + 1) {
            let count = directives.len() - index - 1;
            let (verb, them) = if count == 1 { ("is", "it") } else { ("are", "them") };
            diags.push(
                code::TERMS_AFTER_ALL,
                label,
                Some((after_written, *after)),
                format!(
                    "{} after \"{written}\" {verb} never evaluated (RFC 7208 5.1): move {them} before \
                     \"{written}\", or remove {them}",
                    counted(count as u64, "mechanism", "mechanisms"),
                ),
            );
        }
        if let Some((_, offset, w)) =
            terms.iter().find(|(t, ..)| matches!(t, Term::Modifier(Modifier::Redirect(_))))
        {
            diags.push(
                code::REDIRECT_WITH_ALL,
                label,
                Some((w, *offset)),
                format!("\"{w}\" is ignored because the record has \"{written}\" (RFC 7208 6.1)"),
            );
        }
    } else if record.redirect().is_none() && via != Via::Include {
        diags.push(
            code::NO_ALL,
            label,
            None,
            "no \"all\" and no \"redirect\": clients not listed get neutral (RFC 7208 4.7), which most \
             receivers treat like no policy; end the record with -all or ~all"
                .to_string(),
        );
    }

    let mut ranges: Vec<(Qualifier, Family, u128, u128, usize, &str)> = Vec::new();
    let mut dns_terms: HashMap<String, usize> = HashMap::new();
    for (term, offset, w) in &terms {
        let at = Some((w.as_str(), *offset));
        let macros_use_p = match term {
            Term::Directive(d) => domain_spec_of(&d.mechanism)
                .is_some_and(|s| s.macro_string().uses(MacroLetter::ValidatedName)),
            Term::Modifier(Modifier::Redirect(s)) | Term::Modifier(Modifier::Exp(s)) => {
                s.macro_string().uses(MacroLetter::ValidatedName)
            }
            Term::Modifier(Modifier::Unknown { value, .. }) => value.uses(MacroLetter::ValidatedName),
        };
        if matches!(term, Term::Directive(Directive { mechanism: Mechanism::Ptr(_), .. })) || macros_use_p {
            diags.push(
                code::PTR_DEPRECATED,
                label,
                at,
                format!(
                    "\"{w}\" relies on reverse DNS: slow, unreliable, a burden on the client's DNS; RFC 7208 5.5 \
                     says it SHOULD NOT be published. List the addresses instead"
                ),
            );
        }
        let Term::Directive(d) = term else { continue };
        if d.mechanism.queries_dns() {
            let key = d.to_string().to_ascii_lowercase();
            match dns_terms.get(&key) {
                Some(first) => diags.push(
                    code::DUPLICATE_TERM,
                    label,
                    at,
                    format!("\"{w}\" repeats the term at byte {first}: it matches nothing new and spends another DNS lookup"),
                ),
                None => {
                    dns_terms.insert(key, *offset);
                }
            }
        }
        let network = match &d.mechanism {
            Mechanism::Ip4 { addr, prefix } => {
                Some((Family::Ipv4, u128::from(u32::from(*addr)), prefix.unwrap_or(32)))
            }
            Mechanism::Ip6 { addr, prefix } => Some((Family::Ipv6, u128::from(*addr), prefix.unwrap_or(128))),
            _ => None,
        };
        if let Some((family, addr, prefix)) = network {
            let (lo, hi) = block(family, addr, prefix);
            if lo != addr {
                let name = if family == Family::Ipv4 { "ip4" } else { "ip6" };
                diags.push(
                    code::HOST_BITS_SET,
                    label,
                    at,
                    format!(
                        "\"{w}\" has host bits set: it means the whole network {name}:{}/{prefix}; write that, \
                         or {name}:{} for the one host",
                        show(family, lo),
                        show(family, addr)
                    ),
                );
            }
            ranges.push((d.qualifier, family, lo, hi, *offset, w.as_str()));
        }
        if d.qualifier == Qualifier::Pass {
            huge(d, w, *offset, label, diags);
        }
    }
    overlaps(&mut ranges, label, diags);
}

fn domain_spec_of(mechanism: &Mechanism) -> Option<&DomainSpec> {
    match mechanism {
        Mechanism::Include(s) | Mechanism::Exists(s) => Some(s),
        Mechanism::A { domain, .. } | Mechanism::Mx { domain, .. } | Mechanism::Ptr(domain) => {
            domain.as_ref()
        }
        Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => None,
    }
}

/// `huge-range`: a passing term that covers a very large network.
fn huge(d: &Directive, written: &str, offset: usize, label: &str, diags: &mut Diags) {
    let (v4, v6) = match &d.mechanism {
        Mechanism::Ip4 { prefix, .. } => (Some(prefix.unwrap_or(32)), None),
        Mechanism::Ip6 { prefix, .. } => (None, Some(prefix.unwrap_or(128))),
        Mechanism::A { cidr, .. } | Mechanism::Mx { cidr, .. } => (cidr.v4, cidr.v6),
        _ => (None, None),
    };
    let mut what = Vec::new();
    if let Some(p) = v4.filter(|&p| p < HUGE_V4_PREFIX) {
        what.push(format!("2^{} IPv4 addresses", 32 - p));
    }
    if let Some(p) = v6.filter(|&p| p < HUGE_V6_PREFIX) {
        what.push(format!("2^{} IPv6 addresses", 128 - p));
    }
    if !what.is_empty() {
        diags.push(
            code::HUGE_RANGE,
            label,
            Some((written, offset)),
            format!(
                "\"{written}\" authorizes {} (a /{} or wider): far more than any sender needs",
                what.join(" and "),
                if v4.is_some_and(|p| p < HUGE_V4_PREFIX) { HUGE_V4_PREFIX - 1 } else { HUGE_V6_PREFIX - 1 }
            ),
        );
    }
}

/// `duplicate-range` and `overlapping-range` among networks with the same
/// qualifier (a `-ip4` inside a `+ip4` is a deliberate exception).
fn overlaps(ranges: &mut [(Qualifier, Family, u128, u128, usize, &str)], label: &str, diags: &mut Diags) {
    // By qualifier, family and start; a wider range first at the same start.
    ranges.sort_by_key(|&(q, f, lo, hi, offset, _)| (q.as_char(), f, lo, std::cmp::Reverse(hi), offset));
    let mut widest: Option<(Qualifier, Family, u128, u128, usize, &str)> = None;
    let mut found: Vec<(usize, &'static str, String, &str)> = Vec::new();
    for &(q, f, lo, hi, offset, w) in ranges.iter() {
        if let Some((wq, wf, wlo, whi, woffset, ww)) = widest
            && wq == q
            && wf == f
            && lo <= whi
        {
            // Report the later term of the two.
            let (later, later_w, earlier, earlier_w) =
                if offset > woffset { (offset, w, woffset, ww) } else { (woffset, ww, offset, w) };
            if lo == wlo && hi == whi {
                found.push((
                    later,
                    code::DUPLICATE_RANGE,
                    format!(
                        "\"{later_w}\" repeats the network of \"{earlier_w}\" (byte {earlier}): remove one"
                    ),
                    later_w,
                ));
            } else {
                let how = if hi <= whi { "lies inside" } else { "overlaps" };
                let (inner, outer, outer_at) = (w, ww, woffset);
                found.push((
                    later,
                    code::OVERLAPPING_RANGE,
                    format!("\"{inner}\" {how} \"{outer}\" (byte {outer_at}): the overlap is listed twice"),
                    later_w,
                ));
            }
            if hi > whi {
                widest = Some((q, f, lo, hi, offset, w));
            }
            continue;
        }
        widest = Some((q, f, lo, hi, offset, w));
    }
    found.sort_by_key(|f| f.0);
    for (offset, code, message, w) in found {
        diags.push(code, label, Some((w, offset)), message);
    }
}

/// The span of each DNS-querying evaluated term, for the budget messages.
pub(crate) fn term_text(text: &[u8], offset: usize, len: usize) -> String {
    written(text, offset, len)
}
