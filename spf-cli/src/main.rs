//! `fastspf`: check SPF policies from the shell.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand, ValueEnum};
use spf_core::dns::Zone;
use spf_core::eval::TraceEvent;
use spf_core::headers::{authentication_results, received_spf};
use spf_core::{CheckOptions, Evaluation, Evaluator};

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
    #[arg(long = "zone", value_name = "FILE")]
    zones: Vec<PathBuf>,
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
    if args.zones.is_empty() {
        return Err(Usage(
            "real DNS lookups arrive with the hickory resolver; pass --zone FILE to answer from a master file"
                .into(),
        )
        .into());
    }
    let mut zone = Zone::new();
    for path in &args.zones {
        zone.load_master_file(path).map_err(|e| Usage(e.to_string()))?;
    }
    let options = CheckOptions { receiver: args.receiver.clone(), ..CheckOptions::default() };
    let evaluator = Evaluator::new(zone, options);
    let runtime = tokio::runtime::Builder::new_current_thread().build().context("starting the runtime")?;
    let eval = runtime.block_on(async {
        match identity {
            IdentityArg::Helo => evaluator.check_helo(ip, helo).await,
            IdentityArg::Mailfrom => evaluator.check_mail_from(ip, sender, helo).await,
        }
    });
    let limits = evaluator.options().limits;
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
