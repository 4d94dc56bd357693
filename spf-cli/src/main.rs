//! `fastspf`: check SPF policies from the shell.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand, ValueEnum};
use spf_core::dns::Zone;
use spf_core::dns::{ResolverSettings, parse_nameserver};
use spf_core::headers::{authentication_results, received_spf};
use spf_core::{CheckRequest, Checker, CheckerConfig, DnsSource, Evaluation, SpfResult};

mod batch;
mod lint;
mod render;

/// Sender Policy Framework (RFC 7208) checks.
#[derive(Debug, Parser)]
#[command(name = "fastspf", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate SPF for a client IP and envelope sender.
    Check(CheckArgs),
    /// Find the mistakes in an SPF record, and the exact address space it authorizes.
    Lint(lint::LintArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum IdentityArg {
    /// The MAIL FROM identity (RFC 7208 2.4).
    Mailfrom,
    /// The HELO identity (RFC 7208 2.3).
    Helo,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The SMTP client's IP address (IPv4 or IPv6).
    #[arg(long, required_unless_present = "batch")]
    ip: Option<String>,
    /// The MAIL FROM address; "" is the null reverse-path (then postmaster@<helo> is checked).
    #[arg(long, required_unless_present_any = ["identity", "batch"])]
    sender: Option<String>,
    /// The HELO/EHLO name.
    #[arg(long)]
    helo: Option<String>,
    /// Which identity to check.
    #[arg(long, value_enum)]
    identity: Option<IdentityArg>,
    /// Evaluate this record text as if it were published for --domain (default: the sender's
    /// domain, or the HELO name), the rest of DNS as usual: test a change before publishing it.
    #[arg(long, value_name = "TEXT")]
    record: Option<String>,
    /// The domain the --record text is published at.
    #[arg(long, value_name = "DOMAIN", requires = "record")]
    domain: Option<String>,
    #[command(flatten)]
    dns: DnsArgs,
    /// This host's name, for Received-SPF's receiver=, the %{r} macro and the authserv-id of
    /// Authentication-Results (which defaults to the system's host name).
    #[arg(long)]
    receiver: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Record and print every step of the check: each record, term, lookup and match (off by
    /// default, as in the library: it makes a check several times slower).
    #[arg(long)]
    trace: bool,
    /// Check every `IP SENDER [HELO]` line of FILE ("-": standard input) through one checker
    /// (one cache); print one JSON object per line.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["ip", "sender", "helo", "record", "exit_status"])]
    batch: Option<PathBuf>,
    /// Exit with a status that encodes the result, as libspf2's spfquery does: 1 neutral,
    /// 2 pass, 3 fail, 4 softfail, 5 none, 6 temperror, 7 permerror; 255 on usage errors.
    #[arg(long)]
    exit_status: bool,
}

/// The exit status of `--exit-status` for a result: the numbers of libspf2's
/// `SPF_result_t`, which its `spfquery` exits with.
fn result_exit_status(result: SpfResult) -> u8 {
    match result {
        SpfResult::Neutral => 1,
        SpfResult::Pass => 2,
        SpfResult::Fail => 3,
        SpfResult::SoftFail => 4,
        SpfResult::None => 5,
        SpfResult::TempError => 6,
        SpfResult::PermError => 7,
    }
}

/// The exit status of a usage error under `--exit-status` (2 means pass there).
const EXIT_USAGE_WITH_RESULT_STATUS: u8 = 255;

/// The authserv-id of Authentication-Results when no --receiver is given:
/// this host's name (RFC 8601 §2.5 asks for the name of the host that
/// verified), `localhost` only when the system cannot tell it.
fn default_authserv_id() -> String {
    gethostname::gethostname()
        .into_string()
        .ok()
        .filter(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// Where DNS answers come from.
#[derive(Debug, clap::Args)]
struct DnsArgs {
    /// Answer DNS from this RFC 1035 master file (repeatable): offline, names not in the files do not exist.
    #[arg(long = "zone", value_name = "FILE", conflicts_with = "nameservers")]
    zones: Vec<PathBuf>,
    /// Ask this recursive resolver, IP[:PORT] (repeatable). Default: the system's (/etc/resolv.conf).
    #[arg(long = "nameserver", value_name = "IP[:PORT]")]
    nameservers: Vec<String>,
    /// Seconds to wait for each DNS answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    timeout: f64,
}

impl DnsArgs {
    /// The DNS source: the zone files, read now, or the resolver.
    fn source(&self) -> Result<DnsSource> {
        if !self.zones.is_empty() {
            let mut zone = Zone::new();
            for path in &self.zones {
                zone.load_master_file(path).map_err(|e| Usage(e.to_string()))?;
            }
            return Ok(DnsSource::Zone(Arc::new(zone)));
        }
        let nameservers = self
            .nameservers
            .iter()
            .map(|n| parse_nameserver(n).map_err(|e| Usage(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        if !(self.timeout.is_finite() && self.timeout > 0.0 && self.timeout <= 3600.0) {
            return Err(
                Usage(format!("--timeout {} is not a number of seconds in (0, 3600]", self.timeout)).into()
            );
        }
        Ok(DnsSource::Resolver(
            ResolverSettings::default()
                .with_nameservers(nameservers)
                .with_timeout(Duration::from_secs_f64(self.timeout)),
        ))
    }
}

/// A usage error: reported on stderr with exit status 2.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

fn main() -> ExitCode {
    // With --exit-status, 2 means pass: usage errors must not exit 2.
    let usage_status =
        if std::env::args_os().any(|a| a == "--exit-status") { EXIT_USAGE_WITH_RESULT_STATUS } else { 2 };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if error.use_stderr() => {
            let _ = error.print();
            return ExitCode::from(usage_status);
        }
        Err(error) => error.exit(),
    };
    let outcome = match cli.command {
        Command::Check(args) => check(&args),
        Command::Lint(args) => lint::run(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("fastspf: {error:#}");
            ExitCode::from(usage_status)
        }
    }
}

/// Writes the output; a reader that stopped early (`| head`) is not an error.
fn print(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing the result"),
    }
}

fn check(args: &CheckArgs) -> Result<ExitCode> {
    if let Some(path) = &args.batch {
        return batch::run(args, path);
    }
    let ip = spf_core::parse_ip(args.ip.as_deref().unwrap_or_default()).map_err(|e| Usage(e.to_string()))?;
    let helo = args.helo.as_deref().unwrap_or("");
    let identity = match args.identity {
        Some(IdentityArg::Helo) => IdentityArg::Helo,
        _ => IdentityArg::Mailfrom,
    };
    let sender = args.sender.as_deref().unwrap_or("");
    if helo.is_empty() && (matches!(identity, IdentityArg::Helo) || sender.trim().is_empty()) {
        return Err(Usage("--helo NAME is needed to check the HELO identity or a null sender".into()).into());
    }
    let mut config = CheckerConfig::default();
    config.dns = args.dns.source()?;
    config.options.receiver = args.receiver.clone();
    config.options.trace = args.trace;
    config.worker_threads = 1;
    let limits = config.options.limits;
    let checker = Checker::new(config).map_err(|e| Usage(e.to_string()))?;
    let request = match identity {
        IdentityArg::Helo => CheckRequest::helo(ip, helo),
        IdentityArg::Mailfrom => CheckRequest::mail_from(ip, sender, helo),
    };
    let eval = match &args.record {
        Some(record) => {
            let domain = args.domain.clone().unwrap_or_else(|| request.domain().to_string());
            checker.check_draft_blocking(record, &domain, &request)
        }
        None => checker.check_request_blocking(&request),
    };
    let draft = args.record.as_ref().map(|record| (eval.domain.to_string(), record.clone()));
    let authserv = authserv_id(args);
    let text = if args.json {
        let mut value = evaluation_json(&eval, args.receiver.as_deref(), &authserv);
        if let Some((domain, record)) = draft {
            value["draft"] = serde_json::json!({ "domain": domain, "record": record });
        }
        serde_json::to_string_pretty(&value).context("encoding JSON")?
    } else {
        let mut text = String::new();
        if let Some((domain, record)) = &draft {
            text.push_str(&format!("draft:       {record:?} as the record of {domain} (not published)\n"));
        }
        text.push_str(&render::text(&eval, args.receiver.as_deref(), &authserv, &limits));
        text
    };
    print(&text)?;
    Ok(if args.exit_status { ExitCode::from(result_exit_status(eval.result)) } else { ExitCode::SUCCESS })
}

/// The authserv-id of Authentication-Results: --receiver, else the host name.
fn authserv_id(args: &CheckArgs) -> String {
    args.receiver.clone().unwrap_or_else(default_authserv_id)
}

/// Checks the identity --identity names (MAIL FROM unless "helo").
fn check_identity(
    checker: &Checker,
    identity: Option<IdentityArg>,
    ip: std::net::IpAddr,
    sender: &str,
    helo: &str,
) -> Evaluation {
    match identity {
        Some(IdentityArg::Helo) => checker.check_helo_blocking(ip, helo),
        _ => checker.check_blocking(ip, sender, helo),
    }
}

/// The evaluation as the JSON object `--json` prints (and `--batch`, one per line).
fn evaluation_json(eval: &Evaluation, receiver: Option<&str>, authserv: &str) -> serde_json::Value {
    serde_json::json!({
        "result": eval.result.as_str(),
        "identity": eval.identity.as_str(),
        "ip": eval.ip.to_string(),
        "sender": eval.sender,
        "helo": eval.helo,
        "domain": eval.deciding_domain(),
        "checked_domain": eval.domain,
        "explanation": eval.explanation,
        "mechanism": eval.matched.as_ref().map(|m| &*m.term),
        "reason": eval.reason.as_ref().map(ToString::to_string),
        "reason_detail": eval.reason,
        "dns_lookups": eval.dns_lookups,
        "void_lookups": eval.void_lookups,
        "wide_open": eval.wide_open,
        "authorized": eval.authorized,
        "received_spf": received_spf(eval, receiver),
        "authentication_results": authentication_results(eval, authserv),
        "trace": eval.trace,
    })
}
