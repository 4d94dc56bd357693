//! `spf-testdns`: serve master files on loopback, for trying `fastspf check
//! --nameserver` by hand and for tests in other languages.
//!
//! ```text
//! spf-testdns --zone FILE... [--listen 127.0.0.1:5353] [--delay-ms 200]
//!             [--servfail NAME]... [--silence NAME]... [--silence-all]
//!             [--partial-cnames NAME]... [--partial-cnames-all] [--forever]
//! ```
//! prints `listening on 127.0.0.1:PORT` and serves until its standard input
//! closes or it is killed. Exit status 1 when a zone file cannot be read or
//! parsed (`spf-testdns: FILE:LINE: message`) or the address cannot be
//! bound, 2 on usage errors.

use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use spf_core::dns::Zone;
use spf_testdns::TestDns;

/// A small authoritative DNS server for tests and demos (loopback only).
#[derive(Debug, Parser)]
#[command(name = "spf-testdns", version, about)]
struct Args {
    /// Master file(s) to serve (each read on its own: `$ORIGIN` and `$TTL`
    /// do not carry over).
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
    /// Never answer queries for this name (repeatable), over UDP or TCP.
    #[arg(long, value_name = "NAME")]
    silence: Vec<String>,
    /// Never answer any query: a server that is down without saying so.
    #[arg(long)]
    silence_all: bool,
    /// Answer a query for this alias with its first CNAME record only
    /// (repeatable): the client must chase the chain itself.
    #[arg(long, value_name = "NAME")]
    partial_cnames: Vec<String>,
    /// Answer every alias with its first CNAME record only.
    #[arg(long)]
    partial_cnames_all: bool,
    /// Keep serving after standard input closes (until killed).
    #[arg(long)]
    forever: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        eprintln!("spf-testdns: {}", spf_testdns::Error::NotLoopback(args.listen));
        return ExitCode::from(2);
    }
    let mut zone = Zone::new();
    for path in &args.zones {
        if let Err(e) = zone.load_master_file(path) {
            eprintln!("spf-testdns: {e}");
            return ExitCode::from(1);
        }
    }
    let server = match TestDns::try_serve(args.listen, zone) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("spf-testdns: {e}");
            return ExitCode::from(1);
        }
    };
    for name in &args.servfail {
        server.servfail(name);
    }
    for name in &args.silence {
        server.silence(name);
    }
    server.silence_all(args.silence_all);
    for name in &args.partial_cnames {
        server.partial_cnames(name);
    }
    server.partial_cnames_all(args.partial_cnames_all);
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
