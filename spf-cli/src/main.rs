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
use spf_core::eval::TraceEvent;
use spf_core::headers::{authentication_results, received_spf};
use spf_core::lint::Overlay;
use spf_core::{CheckOptions, Checker, CheckerConfig, DnsSource, Evaluation, Evaluator, Identity};

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
    #[arg(long)]
    ip: String,
    /// The MAIL FROM address; "" is the null reverse-path (then postmaster@<helo> is checked).
    #[arg(long, required_unless_present = "identity")]
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
    /// This host's name, for Received-SPF's receiver= and the %{r} macro.
    #[arg(long)]
    receiver: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
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
        Ok(DnsSource::Resolver(ResolverSettings {
            nameservers,
            timeout: Duration::from_secs_f64(self.timeout),
            ..ResolverSettings::default()
        }))
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
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check(args) => check(&args).map(|()| ExitCode::SUCCESS),
        Command::Lint(args) => lint::run(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("fastspf: {error:#}");
            ExitCode::from(2)
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

fn check(args: &CheckArgs) -> Result<()> {
    let ip = spf_core::parse_ip(&args.ip).map_err(|e| Usage(e.to_string()))?;
    let helo = args.helo.as_deref().unwrap_or("");
    let identity = match args.identity {
        Some(IdentityArg::Helo) => IdentityArg::Helo,
        _ => IdentityArg::Mailfrom,
    };
    let sender = args.sender.as_deref().unwrap_or("");
    if helo.is_empty() && (matches!(identity, IdentityArg::Helo) || sender.trim().is_empty()) {
        return Err(Usage("--helo NAME is needed to check the HELO identity or a null sender".into()).into());
    }
    let dns = args.dns.source()?;
    let options = CheckOptions { receiver: args.receiver.clone(), ..CheckOptions::default() };
    let limits = options.limits;
    let eval = match &args.record {
        Some(record) => {
            let domain = match (&args.domain, identity) {
                (Some(domain), _) => domain.clone(),
                (None, IdentityArg::Helo) => helo.to_string(),
                (None, IdentityArg::Mailfrom) => spf_core::eval::mail_from_identity(sender, helo).1,
            };
            check_draft(&dns, &domain, record, options, (identity, ip, sender, helo))?
        }
        None => {
            let checker =
                Checker::new(CheckerConfig { dns, options, worker_threads: 1, ..CheckerConfig::default() })
                    .map_err(|e| Usage(e.to_string()))?;
            match identity {
                IdentityArg::Helo => checker.check_helo_blocking(ip, helo),
                IdentityArg::Mailfrom => checker.check_blocking(ip, sender, helo),
            }
        }
    };
    let draft = args.record.as_ref().map(|record| (eval.domain.to_string(), record.clone()));
    let text = if args.json {
        json(&eval, args.receiver.as_deref(), draft)?
    } else {
        let mut text = String::new();
        if let Some((domain, record)) = &draft {
            text.push_str(&format!("draft:       {record:?} as the record of {domain} (not published)\n"));
        }
        text.push_str(&render::text(&eval, args.receiver.as_deref(), &limits));
        text
    };
    print(&text)
}

/// The most time a check may take (as a checker's default, RFC 7208 4.6.4).
const DEADLINE: Duration = Duration::from_secs(20);

/// Evaluates a draft record for `domain` (published nowhere) over `dns`.
fn check_draft(
    dns: &DnsSource,
    domain: &str,
    record: &str,
    options: CheckOptions,
    (identity, ip, sender, helo): (IdentityArg, std::net::IpAddr, &str, &str),
) -> Result<Evaluation> {
    let eval = spf_core::lint::run_with_dns(dns, |backend| async move {
        let evaluator = Evaluator::new(Overlay::new(backend, domain, record), options);
        let work = async {
            match identity {
                IdentityArg::Helo => evaluator.check_helo(ip, helo).await,
                IdentityArg::Mailfrom => evaluator.check_mail_from(ip, sender, helo).await,
            }
        };
        tokio::time::timeout(DEADLINE, work).await.ok()
    })
    .map_err(|e| Usage(e.to_string()))?;
    Ok(eval.unwrap_or_else(|| {
        let (identity, sender, domain) = match identity {
            IdentityArg::Helo => (Identity::Helo, format!("postmaster@{helo}"), helo.to_string()),
            IdentityArg::Mailfrom => {
                let (sender, domain) = spf_core::eval::mail_from_identity(sender, helo);
                (Identity::MailFrom, sender, domain)
            }
        };
        Evaluation::deadline_exceeded(identity, ip, sender, domain, helo)
    }))
}

fn json(eval: &Evaluation, receiver: Option<&str>, draft: Option<(String, String)>) -> Result<String> {
    let authserv = receiver.unwrap_or("localhost");
    let mut value = serde_json::json!({
        "result": eval.result.as_str(),
        "identity": eval.identity.as_str(),
        "ip": eval.ip.to_string(),
        "sender": eval.sender,
        "helo": eval.helo,
        "domain": eval.matched.as_ref().map_or(&*eval.domain, |m| &*m.domain),
        "checked_domain": eval.domain,
        "explanation": eval.explanation,
        "mechanism": eval.matched.as_ref().map(|m| &*m.term),
        "reason": eval.reason.as_ref().map(ToString::to_string),
        "reason_detail": eval.reason,
        "dns_lookups": eval.dns_lookups,
        "void_lookups": eval.void_lookups,
        "received_spf": received_spf(eval, receiver),
        "authentication_results": authentication_results(eval, authserv),
        "trace": eval.trace.iter().collect::<Vec<&TraceEvent>>(),
    });
    if let Some((domain, record)) = draft {
        value["draft"] = serde_json::json!({ "domain": domain, "record": record });
    }
    serde_json::to_string_pretty(&value).context("encoding JSON")
}
