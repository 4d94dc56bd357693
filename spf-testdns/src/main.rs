//! `spf-testdns`: serve master files on loopback, for trying `fastspf check
//! --nameserver` by hand and for tests in other languages.
//!
//! ```text
//! spf-testdns --zone examples/demo.zone [--listen 127.0.0.1:5353] [--delay-ms 200]
//! ```
//! prints `listening on 127.0.0.1:PORT` and serves until its standard input
//! closes or it is killed.

use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use spf_testdns::TestDns;

/// A small authoritative DNS server for tests and demos (loopback only).
#[derive(Debug, Parser)]
#[command(name = "spf-testdns", version, about)]
struct Args {
    /// Master file(s) to serve.
    #[arg(long = "zone", value_name = "FILE", required = true)]
    zones: Vec<PathBuf>,
    /// Address to listen on (UDP and TCP); port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Delay every answer by this many milliseconds (a far-away resolver).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Answer SERVFAIL for this name (repeatable): a broken DNS server.
    #[arg(long, value_name = "NAME")]
    servfail: Vec<String>,
    /// Keep serving after standard input closes (until killed).
    #[arg(long)]
    forever: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        eprintln!("spf-testdns: listens on loopback addresses only");
        return ExitCode::from(2);
    }
    let mut master = String::new();
    for path in &args.zones {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                master.push_str(&text);
                master.push('\n');
            }
            Err(e) => {
                eprintln!("spf-testdns: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let server = TestDns::start_on(args.listen, &master);
    for name in &args.servfail {
        server.servfail(name.trim_end_matches('.'));
    }
    if args.delay_ms > 0 {
        server.delay_all(Duration::from_millis(args.delay_ms));
    }
    println!("listening on {}", server.addr);
    let _ = std::io::stdout().flush();
    if args.forever {
        loop {
            std::thread::park();
        }
    }
    // Serve until standard input closes: a test that spawned this process
    // stops it by closing the pipe (or by dying).
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}
