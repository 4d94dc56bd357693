//! `fastspf`: check SPF policies from the shell.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand, ValueEnum};
use spf_core::dns::Zone;
use spf_core::dns::hickory::{ResolverSettings, parse_nameserver};
use spf_core::eval::TraceEvent;
use spf_core::headers::{authentication_results, received_spf};
use spf_core::{CheckOptions, Checker, CheckerConfig, DnsSource, Evaluation};

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
}

#[derive(Debug, Clone, Copy, ValueEnum)]
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
    /// Answer DNS from this RFC 1035 master file (repeatable): offline, names not in the files do not exist.
    #[arg(long = "zone", value_name = "FILE", conflicts_with = "nameservers")]
    zones: Vec<PathBuf>,
    /// Ask this recursive resolver, IP[:PORT] (repeatable). Default: the system's (/etc/resolv.conf).
    #[arg(long = "nameserver", value_name = "IP[:PORT]")]
    nameservers: Vec<String>,
    /// Seconds to wait for each DNS answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    timeout: f64,
    /// This host's name, for Received-SPF's receiver= and the %{r} macro.
    #[arg(long)]
    receiver: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
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
        Command::Check(args) => check(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fastspf: {error:#}");
            ExitCode::from(2)
        }
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
    let dns = if args.zones.is_empty() {
        let nameservers = args
            .nameservers
            .iter()
            .map(|n| parse_nameserver(n).map_err(|e| Usage(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 3600.0) {
            return Err(
                Usage(format!("--timeout {} is not a number of seconds in (0, 3600]", args.timeout)).into()
            );
        }
        DnsSource::Resolver(ResolverSettings {
            nameservers,
            timeout: Duration::from_secs_f64(args.timeout),
            ..ResolverSettings::default()
        })
    } else {
        let mut zone = Zone::new();
        for path in &args.zones {
            zone.load_master_file(path).map_err(|e| Usage(e.to_string()))?;
        }
        DnsSource::Zone(Arc::new(zone))
    };
    let options = CheckOptions { receiver: args.receiver.clone(), ..CheckOptions::default() };
    let checker = Checker::new(CheckerConfig { dns, options, worker_threads: 1, ..CheckerConfig::default() })
        .map_err(|e| Usage(e.to_string()))?;
    let eval = match identity {
        IdentityArg::Helo => checker.check_helo_blocking(ip, helo),
        IdentityArg::Mailfrom => checker.check_blocking(ip, sender, helo),
    };
    let limits = checker.options().limits;
    let text = if args.json {
        json(&eval, args.receiver.as_deref())?
    } else {
        render::text(&eval, args.receiver.as_deref(), &limits)
    };
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}") {
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing the result"),
    }
}

fn json(eval: &Evaluation, receiver: Option<&str>) -> Result<String> {
    let authserv = receiver.unwrap_or("localhost");
    let value = serde_json::json!({
        "result": eval.result.as_str(),
        "identity": eval.identity.as_str(),
        "ip": eval.ip.to_string(),
        "sender": eval.sender,
        "helo": eval.helo,
        "domain": eval.matched.as_ref().map_or(eval.domain.as_str(), |m| m.domain.as_str()),
        "checked_domain": eval.domain,
        "explanation": eval.explanation,
        "mechanism": eval.matched.as_ref().map(|m| m.term.as_str()),
        "reason": eval.reason.as_ref().map(ToString::to_string),
        "reason_detail": eval.reason,
        "dns_lookups": eval.dns_lookups,
        "void_lookups": eval.void_lookups,
        "received_spf": received_spf(eval, receiver),
        "authentication_results": authentication_results(eval, authserv),
        "trace": eval.trace.iter().collect::<Vec<&TraceEvent>>(),
    });
    serde_json::to_string_pretty(&value).context("encoding JSON")
}
