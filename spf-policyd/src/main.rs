//! `fastspf-policyd`: a Postfix SMTP access policy service for SPF that
//! reads policyd-spf.conf.
//!
//! ```text
//! fastspf-policyd [CONFIG]                                   spawn mode (stdin/stdout), like policyd-spf
//! fastspf-policyd --listen unix:PATH|inet:HOST:PORT [CONFIG] daemon: every connection shares one cache
//! fastspf-policyd [CONFIG]   with systemd's LISTEN_FDS        daemon on the sockets systemd passes
//! fastspf-policyd --check-config [CONFIG]                    print the warnings and exit
//! fastspf-policyd --keys                                     the policyd-spf.conf keys and their status
//! ```
//!
//! CONFIG defaults to `/etc/postfix-policyd-spf-python/policyd-spf.conf`
//! when it exists (policyd-spf's own), else every default. See README.md.

mod config;
mod decide;
mod log;
mod protocol;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};

use crate::config::{Config, KEYS};
use crate::decide::Engine;
use crate::log::{Level, Logger, Sink};
use crate::server::{Listener, Shared};

/// policyd-spf's configuration file, read when no CONFIG is given.
const DEBIAN_CONFIG: &str = "/etc/postfix-policyd-spf-python/policyd-spf.conf";

/// Where log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogTo {
    /// Standard error (journald under systemd). The daemon's default.
    Stderr,
    /// syslog (`--syslog-socket`, default /dev/log). Spawn mode's default
    /// (its standard error is the Postfix connection).
    Syslog,
    /// Nowhere.
    None,
}

/// A Postfix SMTP access policy service for SPF (policyd-spf compatible).
#[derive(Debug, Parser)]
#[command(name = "fastspf-policyd", version, about)]
struct Args {
    /// policyd-spf.conf to read (default: /etc/postfix-policyd-spf-python/policyd-spf.conf if it exists).
    config: Option<PathBuf>,
    /// Listen here instead of serving standard input: unix:PATH, inet:HOST:PORT or HOST:PORT (repeatable).
    #[arg(long, value_name = "ADDR")]
    listen: Vec<String>,
    /// Where log lines go (default: stderr for the daemon, syslog in spawn mode).
    #[arg(long, value_enum)]
    log: Option<LogTo>,
    /// The syslog socket.
    #[arg(long, value_name = "PATH", default_value = "/dev/log")]
    syslog_socket: PathBuf,
    /// Read the configuration, print its warnings, exit (0: usable, 2: not).
    #[arg(long)]
    check_config: bool,
    /// Print every configuration key with its status (Markdown) and exit.
    #[arg(long)]
    keys: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.keys {
        println!("| key | status | what it does here |\n| --- | --- | --- |");
        for k in KEYS {
            println!("| `{}` | {} | {} |", k.name, k.status, k.note);
        }
        return ExitCode::SUCCESS;
    }
    let path = args.config.clone().or_else(|| {
        let debian = PathBuf::from(DEBIAN_CONFIG);
        debian.exists().then_some(debian)
    });
    let config = match &path {
        Some(p) => Config::load(p),
        None => Ok(Config::defaults()),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fastspf-policyd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        let name = path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(defaults)".into());
        for w in &config.warnings {
            println!("{name}: warning: {w}");
        }
        println!("{name}: usable ({} warnings)", config.warnings.len());
        return ExitCode::SUCCESS;
    }
    // systemd's sockets are taken before any thread starts (it edits the environment).
    let systemd = match Listener::from_systemd() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fastspf-policyd: {e}");
            return ExitCode::from(2);
        }
    };
    let daemon = !args.listen.is_empty() || !systemd.is_empty();
    let sink = match args.log.unwrap_or(if daemon { LogTo::Stderr } else { LogTo::Syslog }) {
        LogTo::Stderr => Sink::Stderr,
        LogTo::Syslog => Logger::syslog(&args.syslog_socket),
        LogTo::None => Sink::Discard,
    };
    let log = Logger::new(sink, &config.syslog_ident, config.debug_level);
    if let Some(p) = &path {
        for w in &config.warnings {
            log.log(Level::Warning, &format!("{}: {w}", p.display()));
        }
    }
    if daemon {
        server::raise_fd_limit();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(if daemon { 2 } else { 1 })
        .thread_name("fastspf-policyd")
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fastspf-policyd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let mut listeners = Vec::new();
        for socket in systemd {
            listeners.push(Listener::from_std(socket)?);
        }
        for spec in &args.listen {
            listeners.push(Listener::bind(spec)?);
        }
        let engine = Engine::new(config, None)?;
        let shared = Arc::new(Shared::new(engine, log, path.clone()));
        if daemon { server::run_daemon(shared, listeners).await } else { server::run_spawned(shared).await }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fastspf-policyd: {e}");
            ExitCode::FAILURE
        }
    }
}
