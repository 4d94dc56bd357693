//! A lint run from start to report: gather, analyze, check addresses.

use crate::dns::Lookup;

use super::analyze::Analyzer;
use super::gather::{Memo, Root, gather};
use super::hosts::{self, Known};
use super::ipset::{Family, IpSet, Ranges};
use super::{AddressSpace, Diags, LintOptions, LintReport, LintRequest, code, counted};

/// Addresses passing from 2^24 IPv4 addresses (a /8) or 1/65536 of IPv6
/// (a /16) on: no sender needs that many; a record passing them is open.
const WIDE_OPEN_V4: f64 = 1.0 / 256.0;
const WIDE_OPEN_V6: f64 = 1.0 / 65536.0;

pub(crate) async fn build<L: Lookup>(
    lookup: &L,
    options: &LintOptions,
    request: &LintRequest,
    root: Root,
    draft: bool,
) -> LintReport {
    // One deadline for the queries and for the analysis, which is CPU work
    // between no await points and reads the clock itself. A deadline too
    // far to be represented is none.
    let deadline = options.deadline.and_then(|d| std::time::Instant::now().checked_add(d));
    let dns = Memo::new(lookup, options, deadline);
    let gathered = gather(&dns, &root, options).await;
    let label = root.domain().unwrap_or_default();

    let mut analyzer = Analyzer::new(&dns, options.limits, &root, request.spf_rr_published, deadline);
    let mut parts = Vec::new();
    for family in Family::BOTH {
        parts.push(analyzer.root(&root, family));
    }
    let limits = options.limits;
    let has_record = parts.iter().any(Option::is_some);
    let bounds: Vec<_> = Family::BOTH
        .iter()
        .zip(&parts)
        .map(|(&family, b)| match b {
            Some(b) => (b.lo.clone(), b.hi.clone(), b.dns, b.void),
            None => (Ranges::empty(family), Ranges::empty(family), 0, 0),
        })
        .collect();
    let authorized = IpSet::from_parts(bounds[0].0.clone(), bounds[1].0.clone());
    let possibly = IpSet::from_parts(bounds[0].1.clone(), bounds[1].1.clone());
    let dns_terms = bounds[0].2.max(bounds[1].2);
    let (void4, void6) = (bounds[0].3, bounds[1].3);

    let first_over = analyzer.first_over.take();
    let mut diags = std::mem::take(&mut analyzer.diags);
    if has_record {
        budget(&mut diags, &label, limits, dns_terms, (void4, void6), first_over);
        wide_open(&mut diags, &label, &authorized);
    }
    let truncated = analyzer.truncated;
    let record = if draft { root_text(request) } else { analyzer.root_record.clone() };
    let tree = std::mem::take(&mut analyzer.tree);
    let dependent = std::mem::take(&mut analyzer.dependent);
    let root_record = analyzer.root_record.clone();
    drop(analyzer);

    let known = Known {
        domain: (!label.is_empty()).then_some(label.as_str()),
        authorized: &authorized,
        possibly: &possibly,
        record: root_record.as_deref(),
    };
    let checks = hosts::check(&dns, request, options, &known, &mut diags).await;

    let complete = gathered && !truncated && !dns.exhausted();
    if !complete {
        diags.push(
            code::ANALYSIS_TRUNCATED,
            &label,
            None,
            format!(
                "lint stopped following the record (at most {}, {}{}): parts of the tree are unknown, and \
                 counted as possibly authorized only",
                counted(options.max_queries, "query", "queries"),
                counted(options.max_records, "record", "records"),
                options.deadline.map(|d| format!(", {} s", d.as_secs_f64())).unwrap_or_default()
            ),
        );
    }
    LintReport {
        domain: root.domain(),
        record,
        draft,
        diagnostics: diags.into_sorted(),
        authorized: AddressSpace::new(authorized),
        possibly_authorized: AddressSpace::new(possibly),
        client_dependent_terms: dependent,
        dns_lookup_terms: dns_terms,
        void_lookups: void4.max(void6),
        tree,
        checks,
        dns_queries: dns.sent(),
        complete,
    }
}

fn root_text(request: &LintRequest) -> Option<String> {
    match &request.target {
        super::Target::Record { text, .. } => Some(text.clone()),
        super::Target::Domain(_) => None,
    }
}

/// The lookup budget over the whole tree (RFC 7208 §4.6.4).
fn budget(
    diags: &mut Diags,
    label: &str,
    limits: crate::eval::Limits,
    dns_terms: u32,
    (void4, void6): (u32, u32),
    first_over: Option<(String, String, usize)>,
) {
    let max = limits.dns_terms;
    if dns_terms > max {
        let (domain, term, offset) = first_over.unwrap_or_else(|| (label.to_string(), String::new(), 0));
        let place =
            if domain.is_empty() { "the record".to_string() } else { format!("the record of {domain}") };
        diags.push(
            code::TOO_MANY_LOOKUPS,
            &domain,
            (!term.is_empty()).then_some((term.as_str(), offset)),
            format!(
                "{} across the include tree; receivers allow {max} (RFC 7208 4.6.4): \
                 a client not matched before \"{term}\" in {place} gets permerror. Remove includes nobody \
                 sends through, or replace them with the addresses they stand for",
                counted(dns_terms, "DNS-querying term", "DNS-querying terms")
            ),
        );
    } else if dns_terms + 1 >= max && max > 1 {
        diags.push(
            code::NEAR_LOOKUP_LIMIT,
            label,
            None,
            format!(
                "{dns_terms} of {max} DNS-querying terms used across the include tree: one more include \
                 (or a provider growing its own record) makes it a permerror"
            ),
        );
    }
    let vmax = limits.void_lookups;
    if void4 > vmax || void6 > vmax {
        let who = match (void4 > vmax, void6 > vmax) {
            (true, true) => String::new(),
            (true, false) => " for IPv4 clients".to_string(),
            _ => " for IPv6 clients (names without AAAA records)".to_string(),
        };
        diags.push(
            code::TOO_MANY_VOID_LOOKUPS,
            label,
            None,
            format!(
                "{}{who}; receivers return permerror after {vmax} (RFC 7208 4.6.4). Remove terms \
                 that name hosts or domains that no longer exist",
                counted(void4.max(void6), "void lookup", "void lookups")
            ),
        );
    }
}

/// `wide-open`: what surely passes is a large share of the Internet.
fn wide_open(diags: &mut Diags, label: &str, authorized: &IpSet) {
    let v4 = authorized.fraction(Family::Ipv4);
    let v6 = authorized.fraction(Family::Ipv6);
    if v4 < WIDE_OPEN_V4 && v6 < WIDE_OPEN_V6 {
        return;
    }
    let mut parts = Vec::new();
    for (family, fraction) in [(Family::Ipv4, v4), (Family::Ipv6, v6)] {
        if fraction > 0.0 {
            parts.push(format!(
                "{} {} addresses ({} of {})",
                authorized.count(family),
                family.name(),
                percent(fraction),
                family.name()
            ));
        }
    }
    let whom = if label.is_empty() { "the domain".to_string() } else { label.to_string() };
    diags.push(
        code::WIDE_OPEN,
        label,
        None,
        format!(
            "the record passes {}: anyone there can send mail as {whom}, so SPF protects nothing",
            parts.join(" and ")
        ),
    );
}

/// A fraction as a short percentage.
pub(crate) fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p >= 100.0 {
        "100%".to_string()
    } else if p >= 1.0 {
        format!("{:.1}%", p).replace(".0%", "%")
    } else if p >= 0.0001 {
        format!("{p:.4}%")
    } else if p > 0.0 {
        format!("{p:.2e}%")
    } else {
        "0%".to_string()
    }
}
