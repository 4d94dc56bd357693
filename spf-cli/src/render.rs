//! Human-readable output of an evaluation.

use std::fmt::Write as _;

use spf_core::eval::{QueryOutcome, TraceEvent, Via};
use spf_core::headers::{authentication_results, received_spf};
use spf_core::{Evaluation, Limits, SpfResult};

/// The evaluation as text: result, why, the trace, and the headers
/// (Authentication-Results with `authserv` as its authserv-id).
pub fn text(eval: &Evaluation, receiver: Option<&str>, authserv: &str, limits: &Limits) -> String {
    let mut out = String::new();
    let word = eval.result.as_str().to_ascii_uppercase();
    let _ = writeln!(out, "result:      {word}  ({})", meaning(eval.result));
    let _ = writeln!(out, "identity:    {} <{}>", eval.identity.as_str(), eval.sender);
    let _ = writeln!(out, "client:      {}", eval.ip);
    let _ = writeln!(out, "domain:      {}", eval.domain);
    if let Some(m) = &eval.matched {
        let _ = writeln!(out, "matched:     {} (in the record of {})", m.term, m.domain);
    }
    if let Some(space) = &eval.authorized {
        let wide = if eval.wide_open { "  WIDE OPEN: this pass says nothing about the client" } else { "" };
        let _ = writeln!(out, "authorizes:  {space}{wide}");
    }
    if let Some(explanation) = &eval.explanation {
        let _ = writeln!(out, "explanation: {explanation}");
    }
    if let Some(reason) = &eval.reason {
        let _ = writeln!(out, "reason:      {reason}");
    }
    let _ = writeln!(
        out,
        "lookups:     {} of {} DNS-querying terms, {} of {} void lookups",
        eval.dns_lookups, limits.dns_terms, eval.void_lookups, limits.void_lookups
    );
    if !eval.trace.is_empty() {
        out.push_str("\ntrace:\n");
        let mut entered = Vec::new();
        for event in &eval.trace {
            trace_line(&mut out, &event, &mut entered);
        }
    }
    let _ = write!(out, "\n{}\n{}", received_spf(eval, receiver), authentication_results(eval, authserv));
    out
}

fn meaning(result: SpfResult) -> &'static str {
    match result {
        SpfResult::Pass => "the client is authorized to send for this domain",
        SpfResult::Fail => "the client is NOT authorized to send for this domain",
        SpfResult::SoftFail => "the client is probably not authorized",
        SpfResult::Neutral => "the domain makes no assertion about this client",
        SpfResult::None => "no SPF record to check against",
        SpfResult::TempError => "a temporary DNS error; try again later",
        SpfResult::PermError => "the domain's SPF record cannot be interpreted",
    }
}

/// `count` and `noun`, in the plural unless `count` is 1.
fn counted(count: u32, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

/// One trace step as a line. `entered` holds how each domain still open was
/// entered (`check`, `include`, `redirect`), innermost last.
fn trace_line(out: &mut String, event: &TraceEvent, entered: &mut Vec<Via>) {
    let indent = |depth: u32| "  ".repeat(depth as usize + 1);
    let _ = match event {
        TraceEvent::Enter { depth, domain, via } => {
            entered.push(*via);
            writeln!(out, "{}{via} {domain}", indent(*depth))
        }
        TraceEvent::Query { depth, name, rtype, outcome } => {
            let answer = match outcome {
                QueryOutcome::Answer { records } => records.join(", "),
                QueryOutcome::NxDomain => "NXDOMAIN".to_string(),
                QueryOutcome::NoData => "no records".to_string(),
                QueryOutcome::TempError { error } => format!("temporary error: {error}"),
            };
            writeln!(out, "{}  {rtype} {name} -> {answer}", indent(*depth))
        }
        TraceEvent::Record { depth, record, .. } => writeln!(out, "{}  record: {record}", indent(*depth)),
        TraceEvent::NoRecord { depth, detail, .. } => {
            writeln!(out, "{}  no SPF record: {detail}", indent(*depth))
        }
        TraceEvent::Term { depth, term, matched, dns_lookups, void_lookups, .. } => writeln!(
            out,
            "{}  {term}: {}  [dns {dns_lookups}, void {void_lookups}]",
            indent(*depth),
            if *matched { "match" } else { "no match" }
        ),
        TraceEvent::Leave { depth, domain, result, dns_lookups_spent, void_lookups_spent } => {
            // The core counts the include: or redirect= term that entered a
            // domain in that domain's `dns_lookups_spent` when its record was
            // evaluated (not when it had none: then 0). The line names what
            // the domain's own record, and what it includes, spent: the term
            // that led here is counted in the record that holds it.
            let own = match entered.pop() {
                Some(Via::Include | Via::Redirect) => dns_lookups_spent.saturating_sub(1),
                _ => *dns_lookups_spent,
            };
            writeln!(
                out,
                "{}{domain}: {result} (spent {}, {})",
                indent(*depth),
                counted(own, "DNS-querying term"),
                counted(*void_lookups_spent, "void lookup")
            )
        }
        TraceEvent::Explanation { domain, detail } => writeln!(out, "  explanation from {domain}: {detail}"),
        TraceEvent::Truncated { omitted } => writeln!(out, "  ... {omitted} more steps not recorded"),
        other => writeln!(out, "  {other:?}"),
    };
}
