//! `fastspf lint`: the mistakes in an SPF record and what it authorizes.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use spf_core::lint::{
    Authorized, CheckRole, Family, FamilySpace, IpCheck, LintOptions, LintReport, LintRequest, Severity,
};
use spf_core::{Checker, CheckerConfig};

use crate::{DnsArgs, Usage, print};

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// The domain whose published record to lint (with --record: where the draft is published).
    #[arg(value_name = "DOMAIN", required_unless_present = "record", conflicts_with = "domain")]
    target: Option<String>,
    /// Lint this record text instead of the published one (a draft; the rest of DNS as usual).
    #[arg(long, value_name = "TEXT")]
    record: Option<String>,
    /// The domain the --record text would be published at (without it, `a`, `mx` and %{d}
    /// cannot be resolved).
    #[arg(long, value_name = "DOMAIN", requires = "record")]
    domain: Option<String>,
    /// Also report whether this address passes, and by which term (repeatable).
    #[arg(long = "ip", value_name = "IP")]
    ips: Vec<String>,
    /// An address that must not pass, such as this receiving server's own (repeatable): a
    /// pass is an error, as the self-test of some mail filters has it.
    #[arg(long = "self-test", value_name = "IP")]
    self_test: Vec<String>,
    #[command(flatten)]
    dns: DnsArgs,
    /// Most seconds the whole lint may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    deadline: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs the lint: exit status 0 without error-level diagnostics, 1 with.
pub fn run(args: &LintArgs) -> Result<ExitCode> {
    let parse = |list: &[String]| {
        list.iter()
            .map(|ip| spf_core::parse_ip(ip).map_err(|e| Usage(e.to_string())))
            .collect::<Result<Vec<_>, _>>()
    };
    let ips = parse(&args.ips)?;
    let self_test = parse(&args.self_test)?;
    if !(args.deadline.is_finite() && args.deadline > 0.0 && args.deadline <= 3600.0) {
        return Err(
            Usage(format!("--deadline {} is not a number of seconds in (0, 3600]", args.deadline)).into()
        );
    }
    let domain = args.target.clone().or_else(|| args.domain.clone());
    if let Some(domain) = &domain
        && (domain.trim().is_empty() || domain.contains(char::is_whitespace))
    {
        return Err(Usage(format!("{domain:?} is not a domain name")).into());
    }
    let mut request = match &args.record {
        Some(text) => LintRequest::record(text.clone(), domain),
        None => LintRequest::domain(domain.unwrap_or_default()),
    };
    request.ips = ips;
    request.self_test = self_test;
    let mut options = LintOptions::default();
    options.deadline = Some(Duration::from_secs_f64(args.deadline));
    let mut config = CheckerConfig::default();
    config.dns = args.dns.source()?;
    config.worker_threads = 1;
    let checker = Checker::new(config).map_err(|e| Usage(e.to_string()))?;
    let report = checker.lint_blocking(&request, &options);
    let text = if args.json { json(&report)? } else { text(&report, &options) };
    print(&text)?;
    Ok(if report.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn json(report: &LintReport) -> Result<String> {
    let mut value = serde_json::to_value(report).context("encoding JSON")?;
    value["ok"] = serde_json::json!(!report.has_errors());
    value["counts"] = serde_json::json!({
        "error": report.count(Severity::Error),
        "warning": report.count(Severity::Warning),
        "info": report.count(Severity::Info),
    });
    serde_json::to_string_pretty(&value).context("encoding JSON")
}

/// CIDR blocks listed per family in text output (all of them are in --json).
const MAX_CIDRS: usize = 16;

/// The report as text.
pub fn text(report: &LintReport, options: &LintOptions) -> String {
    let mut out = String::new();
    let name = report.domain.as_deref().unwrap_or("(no domain)");
    let _ = writeln!(out, "domain:  {name}");
    match (&report.record, report.draft) {
        (Some(record), true) => {
            let _ = writeln!(out, "record:  {record}  (draft, not published)");
        }
        (Some(record), false) => {
            let _ = writeln!(out, "record:  {record}");
        }
        (None, _) => {
            let _ = writeln!(out, "record:  (none)");
        }
    }

    if !report.diagnostics.is_empty() {
        out.push('\n');
    }
    for d in &report.diagnostics {
        let mut place = if d.domain.is_empty() { "record".to_string() } else { d.domain.clone() };
        if let (Some(term), Some(offset)) = (&d.term, d.offset) {
            let _ = write!(place, ", \"{term}\" at byte {offset}");
        }
        let _ = writeln!(out, "{:<8} {}  ({place})", d.severity.as_str().to_ascii_uppercase(), d.code);
        let _ = writeln!(out, "         {}", d.message);
    }

    out.push_str("\nauthorized (passes whatever client-dependent terms answer):\n");
    for family in Family::BOTH {
        space_line(&mut out, family, report.authorized.family(family));
    }
    if report.possibly_authorized != report.authorized {
        out.push_str("possibly authorized (depending on client-dependent terms):\n");
        for family in Family::BOTH {
            space_line(&mut out, family, report.possibly_authorized.family(family));
        }
    }
    if !report.client_dependent_terms.is_empty() {
        out.push_str("client-dependent terms:\n");
        for t in &report.client_dependent_terms {
            let at = if t.domain.is_empty() { String::new() } else { format!(" in {}", t.domain) };
            let _ = writeln!(out, "  {}{at}: depends on {}", t.term, t.why);
        }
    }
    let limits = options.limits;
    let _ = writeln!(
        out,
        "budget:  {} of {} DNS-querying terms, {} of {} void lookups (over the whole include tree)",
        report.dns_lookup_terms, limits.dns_terms, report.void_lookups, limits.void_lookups
    );
    if report.tree.len() > 1 {
        out.push_str("records followed:\n");
        for r in &report.tree {
            let indent = "  ".repeat(r.depth as usize + 1);
            let via = if r.depth == 0 { String::new() } else { format!("{} ", r.via) };
            let record = r.record.as_deref().unwrap_or("(no usable SPF record)");
            let _ = writeln!(out, "{indent}{via}{}: {record}", r.domain);
        }
    }
    if !report.checks.is_empty() {
        out.push_str("addresses checked:\n");
        for check in &report.checks {
            check_line(&mut out, check);
        }
    }
    let _ = write!(
        out,
        "\n{} error(s), {} warning(s), {} note(s){}",
        report.count(Severity::Error),
        report.count(Severity::Warning),
        report.count(Severity::Info),
        if report.complete { "" } else { "; the analysis is incomplete" }
    );
    out
}

fn space_line(out: &mut String, family: Family, space: &FamilySpace) {
    let count = space.count;
    let _ =
        write!(out, "  {}: {count} address{}", family.name(), if count.get() == Some(1) { "" } else { "es" });
    if space.fraction > 0.0 {
        let _ = write!(out, " ({} of {})", percent(space.fraction), family.name());
    }
    if !space.cidrs.is_empty() {
        let shown: Vec<&str> = space.cidrs.iter().take(MAX_CIDRS).map(String::as_str).collect();
        let _ = write!(out, ": {}", shown.join(" "));
        if space.cidrs.len() > MAX_CIDRS && space.cidrs_complete {
            let _ = write!(out, " ... and {} more (see --json)", space.cidrs.len() - MAX_CIDRS);
        } else if !space.cidrs_complete {
            let _ =
                write!(out, " ... and more (--json lists the first {})", spf_core::lint::MAX_LISTED_CIDRS);
        }
    }
    out.push('\n');
}

fn check_line(out: &mut String, check: &IpCheck) {
    let role = match check.role {
        CheckRole::Requested => "asked".to_string(),
        CheckRole::SelfTest => "self-test".to_string(),
        CheckRole::Canary => "self-test canary".to_string(),
        CheckRole::MxHost => format!("MX host {}", check.host.as_deref().unwrap_or_default()),
        CheckRole::DomainAddress => "the domain's address".to_string(),
    };
    let outcome = match (check.result, &check.matched) {
        (Some(result), Some(m)) => format!("{result}, by \"{}\" in the record of {}", m.term, m.domain),
        (Some(result), None) => match &check.reason {
            Some(reason) => format!("{result} ({reason})"),
            None => result.to_string(),
        },
        (None, _) => match check.authorized {
            Authorized::Yes => "authorized".to_string(),
            Authorized::No => "not authorized".to_string(),
            Authorized::Depends => "depends on client-dependent terms".to_string(),
        },
    };
    let _ = writeln!(out, "  {} ({role}): {outcome}", check.ip);
}

/// A fraction of an address space as a short percentage.
fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p >= 99.9995 {
        "100%".to_string()
    } else if p >= 0.01 {
        let text = format!("{p:.2}");
        format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
    } else {
        format!("{p:.2e}%")
    }
}
