//! `fastspf-bench`: generate a realistic workload and replay it against a
//! zone or a real DNS server, to measure throughput and latency and to pick
//! cache sizes.
//!
//! ```text
//! fastspf-bench gen --seed 1 --domains 3000 --queries 100000 --out /tmp/wl
//! fastspf-bench replay --corpus /tmp/wl/corpus.tsv --zone /tmp/wl/zone [--concurrency 64]
//!               [--cache-entries N] [--cache-bytes N] [--passes 2] [--threads 2] [--json]
//! fastspf-bench replay --corpus /tmp/wl/corpus.tsv --nameserver 127.0.0.1:5300 --compare-cache 1000,10000,100000
//! fastspf-bench replay --corpus /tmp/wl/corpus.tsv --nameserver 127.0.0.1:5300 --cold --speculation both
//! fastspf-bench replay --corpus /tmp/wl/corpus.tsv --serve /tmp/wl/zone [--delay-ms 10] --cold --peers
//! ```
//!
//! `--cold` runs every check with an empty cache and the default options
//! (the trace off); `--critical-path` turns the trace on to compute each
//! check's critical path (which makes the check itself slower). `--serve`
//! runs `spf-testdns` in this process on 127.0.0.1 (its query log then
//! counts every library's queries); `--peers` (built with the `peers`
//! feature) runs mail-auth and viaspf against the same server in the same
//! run: cold, each check on a fresh peer, interleaved check by check with
//! fastspf's; otherwise a first pass over the corpus with a cache warming
//! up, one peer shared by `--concurrency` tasks on `--threads` threads.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use spf_core::dns::{Cache, CacheConfig, CacheStats, RecordType, Zone};
use spf_core::dns::{ResolverSettings, parse_nameserver};
use spf_core::eval::TraceEvent;
use spf_core::{CheckOptions, Checker, CheckerConfig, DnsSource, Speculation};

#[derive(Debug, Parser)]
#[command(name = "fastspf-bench", version, about = "fastspf workload generator and replay harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a deterministic workload: DIR/zone (master file) and DIR/corpus.tsv.
    Gen {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 3000)]
        domains: usize,
        #[arg(long, default_value_t = 100_000)]
        queries: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a corpus (`ip<TAB>mail_from<TAB>helo` per line) and report.
    Replay(ReplayArgs),
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    #[arg(long)]
    corpus: PathBuf,
    /// Answer from master files (offline).
    #[arg(long = "zone", conflicts_with = "nameservers")]
    zones: Vec<PathBuf>,
    /// Ask this DNS server, IP[:PORT] (repeatable).
    #[arg(long = "nameserver")]
    nameservers: Vec<String>,
    /// Checks in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Threads of the harness's runtime that run the checks (one shared
    /// checker and cache): a warm check completes on the thread that asks,
    /// so warm passes with 1 and 2 show how checks scale with cores.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: u16,
    #[arg(long, default_value_t = 100_000)]
    cache_entries: usize,
    #[arg(long, default_value_t = 64 << 20)]
    cache_bytes: usize,
    /// Times to run the corpus; the first pass starts with a cold cache.
    #[arg(long, default_value_t = 2)]
    passes: usize,
    /// Run once per cache size (entries), side by side: e.g. 1000,10000,100000.
    #[arg(long, value_delimiter = ',')]
    compare_cache: Vec<usize>,
    /// DNS timeout per query, seconds.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// Speculative lookups: on; lazy (later includes' records only when
    /// evaluation reaches them); off; both (off and on) or all three, one run
    /// each, side by side.
    #[arg(long, value_enum, default_value_t = SpeculationArg::On)]
    speculation: SpeculationArg,
    /// Every check starts with an empty cache (one checker, its cache
    /// emptied before each check), one check at a time: the
    /// latency of first-seen senders (use with --nameserver and a server
    /// that delays its answers by a round-trip time). Ignores --passes,
    /// --concurrency and --compare-cache.
    #[arg(long)]
    cold: bool,
    /// With `--cold`: trace every check to compute its critical path (the
    /// trace makes the check slower than a default one).
    #[arg(long)]
    critical_path: bool,
    /// Serve this master file from `spf-testdns` in this process, on
    /// 127.0.0.1 (repeatable), instead of `--nameserver`.
    #[arg(long = "serve", conflicts_with_all = ["nameservers", "zones"])]
    serve: Vec<PathBuf>,
    /// With `--serve`: the address to serve on (loopback; port 0: any).
    #[arg(long, default_value = "127.0.0.1:0")]
    serve_addr: std::net::SocketAddr,
    /// With `--serve`: delay every answer by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Also run mail-auth and viaspf against the same nameserver (needs the
    /// `peers` feature).
    #[arg(long)]
    peers: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SpeculationArg {
    On,
    Lazy,
    Off,
    Both,
    All,
}

impl SpeculationArg {
    fn runs(self) -> &'static [Mode] {
        match self {
            SpeculationArg::On => &[Mode::On],
            SpeculationArg::Lazy => &[Mode::Lazy],
            SpeculationArg::Off => &[Mode::Off],
            SpeculationArg::Both => &[Mode::Off, Mode::On],
            SpeculationArg::All => &[Mode::Off, Mode::Lazy, Mode::On],
        }
    }
}

/// One speculation setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Off,
    Lazy,
    On,
}

impl Mode {
    fn speculation(self) -> Speculation {
        match self {
            Mode::Off => Speculation::OFF,
            Mode::Lazy => Speculation::default().with_later_includes(false),
            Mode::On => Speculation::default(),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Lazy => "lazy",
            Mode::On => "on",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Gen { seed, domains, queries, out } => generate(seed, domains, queries, &out),
        Command::Replay(args) => replay(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fastspf-bench: {message}");
            ExitCode::from(2)
        }
    }
}

fn generate(seed: u64, domains: usize, queries: usize, out: &std::path::Path) -> Result<(), String> {
    if domains == 0 || queries == 0 {
        return Err("--domains and --queries must be positive".into());
    }
    let workload = spf_benches::workload::generate(seed, domains, queries);
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    std::fs::write(out.join("zone"), workload.zone).map_err(|e| e.to_string())?;
    std::fs::write(out.join("corpus.tsv"), workload.corpus).map_err(|e| e.to_string())?;
    println!(
        "wrote {}/zone ({domains} sender domains) and {}/corpus.tsv ({queries} checks)",
        out.display(),
        out.display()
    );
    Ok(())
}

struct Check {
    ip: IpAddr,
    mail_from: String,
    helo: String,
}

fn load_corpus(path: &std::path::Path) -> Result<Vec<Check>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            let mut parts = line.split('\t');
            let (Some(ip), Some(mail_from)) = (parts.next(), parts.next()) else {
                return Err(format!("{}:{}: expected ip<TAB>mail_from<TAB>helo", path.display(), n + 1));
            };
            let ip = spf_core::parse_ip(ip).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
            Ok(Check { ip, mail_from: mail_from.to_string(), helo: parts.next().unwrap_or("").to_string() })
        })
        .collect()
}

/// What one pass measured.
#[derive(Debug, serde::Serialize)]
struct PassReport {
    /// fastspf, or a peer (`mail-auth`, `viaspf`).
    library: &'static str,
    cache_entries: usize,
    /// Speculative lookups: on, lazy or off.
    speculation: Mode,
    /// Whether every check started with an empty cache.
    cold: bool,
    pass: usize,
    checks: usize,
    seconds: f64,
    checks_per_second: f64,
    latency_us: Latency,
    cache_hit_ratio: f64,
    dns_queries_per_check: f64,
    /// Queries sent speculatively, and how many of those an evaluation read.
    speculative_queries: u64,
    speculative_used: u64,
    /// Share of speculative queries no evaluation read.
    speculative_waste: f64,
    /// With `cold`: round trips per check if every query went out as soon
    /// as its name was known (the dependency depth of its queries).
    #[serde(skip_serializing_if = "Option::is_none")]
    critical_path: Option<CriticalPath>,
    results: BTreeMap<String, usize>,
}

#[derive(Debug, serde::Serialize)]
struct CriticalPath {
    mean: f64,
    p99: u32,
    max: u32,
}

#[derive(Debug, serde::Serialize)]
struct Latency {
    mean: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

fn replay(args: &ReplayArgs) -> Result<(), String> {
    let corpus = Arc::new(load_corpus(&args.corpus)?);
    if corpus.is_empty() {
        return Err("the corpus is empty".into());
    }
    let server = if args.serve.is_empty() {
        None
    } else {
        let mut zone = Zone::new();
        for path in &args.serve {
            zone.load_master_file(path).map_err(|e| e.to_string())?;
        }
        let server = spf_testdns::TestDns::try_serve(args.serve_addr, zone).map_err(|e| e.to_string())?;
        if args.delay_ms > 0 {
            server.delay_all(Duration::from_millis(args.delay_ms));
        }
        Some(Arc::new(server))
    };
    let mut nameservers = args.nameservers.clone();
    if let Some(server) = &server {
        nameservers.push(server.addr.to_string());
    }
    let timeout = Duration::from_secs_f64(args.timeout.clamp(0.01, 60.0));
    let zone = if args.zones.is_empty() {
        None
    } else {
        let mut zone = Zone::new();
        for path in &args.zones {
            zone.load_master_file(path).map_err(|e| e.to_string())?;
        }
        Some(Arc::new(zone))
    };
    if zone.is_none() && nameservers.is_empty() {
        return Err("give --zone FILE, --serve FILE or --nameserver IP:PORT".into());
    }
    if args.peers && (cfg!(not(feature = "peers")) || zone.is_some()) {
        return Err("--peers needs the `peers` feature and a nameserver (--serve or --nameserver)".into());
    }
    let dns = match &zone {
        Some(zone) => DnsSource::Zone(Arc::clone(zone)),
        None => DnsSource::Resolver(
            ResolverSettings::default()
                .with_nameservers(
                    nameservers
                        .iter()
                        .map(|n| parse_nameserver(n).map_err(|e| e.to_string()))
                        .collect::<Result<_, _>>()?,
                )
                .with_timeout(timeout),
        ),
    };
    let config = |entries: usize, speculation: Mode| {
        // The default settings (the trace off among them) but speculation.
        let mut config = CheckerConfig::default()
            .with_options(CheckOptions::default().with_speculation(speculation.speculation()));
        config.dns = dns.clone();
        config.cache =
            CacheConfig::default().with_max_entries(entries.max(1)).with_max_bytes(args.cache_bytes.max(1));
        config
    };
    let sizes = if args.compare_cache.is_empty() || args.cold {
        vec![args.cache_entries]
    } else {
        args.compare_cache.clone()
    };
    let first_server = match &dns {
        DnsSource::Resolver(settings) => settings.nameservers.first().copied(),
        _ => None,
    };
    let mut peers = match (args.peers, first_server) {
        (true, Some(addr)) => Some(PeerSetup { server: addr, timeout, dns: server.clone() }),
        _ => None,
    };
    let mut reports = Vec::new();
    for &speculation in args.speculation.runs() {
        for &entries in &sizes {
            if args.cold {
                // The peers run once, beside the first setting's run.
                let cold =
                    Cold { progress: !args.json, critical_path: args.critical_path, peers: peers.take() };
                for report in run_cold(&config(entries, speculation), speculation, &corpus, cold)? {
                    if !args.json {
                        print_report(&report);
                    }
                    reports.push(report);
                }
                continue;
            }
            let checker = Checker::new(config(entries, speculation)).map_err(|e| e.to_string())?;
            for pass in 1..=args.passes.max(1) {
                let report = run_pass(
                    &checker,
                    &corpus,
                    Parallelism { tasks: args.concurrency.max(1), threads: usize::from(args.threads) },
                    entries,
                    speculation,
                    pass,
                    !args.json,
                );
                if !args.json {
                    print_report(&report);
                }
                reports.push(report);
            }
        }
    }
    if let Some(setup) = peers.take().filter(|_| !args.cold) {
        let parallelism = Parallelism { tasks: args.concurrency.max(1), threads: usize::from(args.threads) };
        for report in peer_passes(&setup, &corpus, parallelism)? {
            if !args.json {
                print_report(&report);
            }
            reports.push(report);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?);
    } else if reports.len() > 1 {
        println!(
            "\nlibrary   | cache entries | spec | pass | checks/s | mean us | p50 us | p99 us | hit ratio | DNS queries/check | spec. waste"
        );
        for r in &reports {
            println!(
                "{:<9} | {:>13} | {:>4} | {:>4} | {:>8.0} | {:>7.1} | {:>6.1} | {:>6.1} | {:>9.3} | {:>17.3} | {:>10.1}%",
                r.library,
                r.cache_entries,
                r.speculation.as_str(),
                if r.cold { "cold".to_string() } else { r.pass.to_string() },
                r.checks_per_second,
                r.latency_us.mean,
                r.latency_us.p50,
                r.latency_us.p99,
                r.cache_hit_ratio,
                r.dns_queries_per_check,
                r.speculative_waste * 100.0
            );
        }
    }
    Ok(())
}

/// How a warm pass runs its checks: `tasks` in flight on `threads` threads.
#[derive(Clone, Copy)]
struct Parallelism {
    tasks: usize,
    threads: usize,
}

/// How the peers reach DNS, and the in-process server whose query log
/// counts their queries (if the harness serves the zone itself).
#[cfg_attr(not(feature = "peers"), allow(dead_code))]
struct PeerSetup {
    server: std::net::SocketAddr,
    timeout: Duration,
    dns: Option<Arc<spf_testdns::TestDns>>,
}

/// What a cold run does besides fastspf's checks.
struct Cold {
    progress: bool,
    critical_path: bool,
    peers: Option<PeerSetup>,
}

/// Latencies, results and queries of one library's checks.
#[derive(Default)]
#[cfg_attr(not(feature = "peers"), allow(dead_code))]
struct Tally {
    latencies: Vec<Duration>,
    results: BTreeMap<String, usize>,
    queries: u64,
}

#[cfg_attr(not(feature = "peers"), allow(dead_code))]
impl Tally {
    fn into_report(self, library: &'static str, cold: bool, seconds: Option<f64>) -> PassReport {
        let checks = self.latencies.len();
        let seconds = seconds.unwrap_or_else(|| self.latencies.iter().map(Duration::as_secs_f64).sum());
        let none = CacheStats::default();
        let mut report =
            report(0, Mode::Off, cold, 1, checks, seconds, self.latencies, &none, &none, self.results);
        report.library = library;
        report.dns_queries_per_check = self.queries as f64 / checks.max(1) as f64;
        report
    }
}

/// Runs every check of the corpus with an empty cache, one at a time, with the default options (the trace off) unless `critical_path` asks
/// for the trace. With peers, each check is then run by each peer, fresh
/// (no cache), in the same loop.
fn run_cold(
    config: &CheckerConfig,
    speculation: Mode,
    corpus: &[Check],
    cold: Cold,
) -> Result<Vec<PassReport>, String> {
    let bar = (cold.progress && std::io::stderr().is_terminal())
        .then(|| indicatif::ProgressBar::new(corpus.len() as u64));
    let mut latencies = Vec::with_capacity(corpus.len());
    let mut results: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = CacheStats::default();
    let mut depths = Vec::with_capacity(corpus.len());
    let mut peers = match cold.peers {
        Some(setup) => Some(ColdPeers::new(setup)?),
        None => None,
    };
    // One checker for the run, as a mail server holds one (its running
    // figures, such as the upstream latency that adaptive speculation
    // goes by, carry over from check to check); after each check the
    // harness waits for its speculative queries to come back, and empties
    // the cache before the next (so nothing one check started reaches the
    // next).
    let cache = Arc::new(Cache::new(config.cache.clone()));
    let mut config = config.clone().with_shared_cache(Arc::clone(&cache));
    if cold.critical_path {
        config.options.trace = true;
    }
    let checker = Checker::new(config.clone()).map_err(|e| e.to_string())?;
    // The libraries take turns going first, check by check (whichever runs
    // right after the harness's wait for fastspf's speculative queries).
    let libraries = 1 + peers.as_ref().map_or(0, ColdPeers::count);
    for (i, check) in corpus.iter().enumerate() {
        for turn in 0..libraries {
            let library = (i + turn) % libraries;
            if library > 0 {
                if let Some(peers) = &mut peers {
                    peers.check(library - 1, check)?;
                }
                continue;
            }
            // The previous check's queries are all back (see below).
            cache.clear();
            let before = cache.stats();
            let started = Instant::now();
            let eval = checker.check_blocking(check.ip, &check.mail_from, &check.helo);
            latencies.push(started.elapsed());
            if cold.critical_path {
                depths.push(critical_path(&eval.trace.events()));
            }
            *results.entry(eval.result.to_string()).or_default() += 1;
            // Speculative queries still out count for this check.
            quiesce(&cache);
            let stats = cache.stats();
            total.hits += stats.hits - before.hits;
            total.misses += stats.misses - before.misses;
            total.coalesced += stats.coalesced - before.coalesced;
            total.speculative_queries += stats.speculative_queries - before.speculative_queries;
            total.speculative_used += stats.speculative_used - before.speculative_used;
        }
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let seconds = latencies.iter().map(Duration::as_secs_f64).sum::<f64>();
    let mut report = report(
        config.cache.max_entries,
        speculation,
        true,
        1,
        corpus.len(),
        seconds,
        latencies,
        &CacheStats::default(),
        &total,
        results,
    );
    if cold.critical_path {
        depths.sort_unstable();
        report.critical_path = Some(CriticalPath {
            mean: depths.iter().sum::<u32>() as f64 / depths.len().max(1) as f64,
            p99: depths.get((depths.len().saturating_sub(1)) * 99 / 100).copied().unwrap_or(0),
            max: depths.last().copied().unwrap_or(0),
        });
    }
    let mut reports = vec![report];
    if let Some(peers) = peers {
        reports.extend(peers.reports());
    }
    Ok(reports)
}

/// Waits (outside any timing) until no query of `cache` is in flight.
fn quiesce(cache: &Cache) {
    let mut idle = 0;
    while idle < 2 {
        if cache.stats().inflight == 0 {
            idle += 1;
        } else {
            idle = 0;
        }
        std::thread::sleep(Duration::from_micros(20));
    }
}

#[cfg(not(feature = "peers"))]
struct ColdPeers;

#[cfg(not(feature = "peers"))]
impl ColdPeers {
    fn new(_: PeerSetup) -> Result<ColdPeers, String> {
        Err("built without the `peers` feature".into())
    }
    fn count(&self) -> usize {
        0
    }
    fn check(&mut self, _: usize, _: &Check) -> Result<(), String> {
        Ok(())
    }
    fn reports(self) -> Vec<PassReport> {
        Vec::new()
    }
}

#[cfg(not(feature = "peers"))]
fn peer_passes(_: &PeerSetup, _: &Arc<Vec<Check>>, _: Parallelism) -> Result<Vec<PassReport>, String> {
    Err("built without the `peers` feature".into())
}

/// The peers' cold checks: a fresh peer for every check (nothing cached),
/// on a current-thread runtime of the harness (their sockets and timers on
/// the thread that waits: no hop between threads).
#[cfg(feature = "peers")]
struct ColdPeers {
    setup: PeerSetup,
    runtime: tokio::runtime::Runtime,
    mail_auth: Tally,
    viaspf: Tally,
    #[cfg(feature = "libspf2")]
    libspf2: Tally,
}

#[cfg(feature = "peers")]
impl ColdPeers {
    fn new(setup: PeerSetup) -> Result<ColdPeers, String> {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        Ok(ColdPeers {
            setup,
            runtime,
            mail_auth: Tally::default(),
            viaspf: Tally::default(),
            #[cfg(feature = "libspf2")]
            libspf2: Tally::default(),
        })
    }

    fn total(&self) -> u64 {
        self.setup.dns.as_ref().map_or(0, |d| d.total() as u64)
    }

    /// The peers run (libspf2 only when built with it).
    fn count(&self) -> usize {
        if cfg!(feature = "libspf2") { 3 } else { 2 }
    }

    /// Runs `check` on peer `which` (mail-auth, viaspf, libspf2), fresh.
    fn check(&mut self, which: usize, check: &Check) -> Result<(), String> {
        use spf_benches::peers::{MailAuth, Viaspf};
        let (server, timeout) = (self.setup.server, self.setup.timeout);
        let before = self.total();
        // Timed from the start of the check to its result (not the peer's
        // setup before, nor its drop after).
        let (tally, took, result) = match which {
            0 => {
                let _context = self.runtime.enter();
                let peer = MailAuth::new(server, timeout, false)?;
                let started = Instant::now();
                let result = self.runtime.block_on(peer.check(check.ip, &check.mail_from, &check.helo));
                (&mut self.mail_auth, started.elapsed(), result)
            }
            1 => {
                let _context = self.runtime.enter();
                let peer = Viaspf::new(server, timeout, false)?;
                let started = Instant::now();
                let result = self.runtime.block_on(peer.check(check.ip, &check.mail_from, &check.helo));
                (&mut self.viaspf, started.elapsed(), result)
            }
            #[cfg(feature = "libspf2")]
            2 => {
                // Synchronous: it blocks in the C library's resolver.
                let started = Instant::now();
                let result = spf_benches::libspf2::check(check.ip, &check.mail_from, &check.helo);
                (&mut self.libspf2, started.elapsed(), result.unwrap_or("(no result)"))
            }
            _ => return Ok(()),
        };
        tally.latencies.push(took);
        *tally.results.entry(result.to_string()).or_default() += 1;
        let after = self.setup.dns.as_ref().map_or(0, |d| d.total() as u64);
        match which {
            0 => self.mail_auth.queries += after - before,
            1 => self.viaspf.queries += after - before,
            #[cfg(feature = "libspf2")]
            2 => self.libspf2.queries += after - before,
            _ => {}
        }
        Ok(())
    }

    fn reports(self) -> Vec<PassReport> {
        #[allow(unused_mut)]
        let mut reports = vec![
            self.mail_auth.into_report("mail-auth", true, None),
            self.viaspf.into_report("viaspf", true, None),
        ];
        #[cfg(feature = "libspf2")]
        reports.push(self.libspf2.into_report("libspf2", true, None));
        reports
    }
}

/// A first pass over the corpus for each peer, with its cache warming up
/// (see [`spf_benches::peers`]): `tasks` checks in flight on a runtime of
/// `threads` threads, as [`run_pass`] runs fastspf's.
#[cfg(feature = "peers")]
fn peer_passes(
    setup: &PeerSetup,
    corpus: &Arc<Vec<Check>>,
    parallelism: Parallelism,
) -> Result<Vec<PassReport>, String> {
    use spf_benches::peers::{MailAuth, Viaspf};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(parallelism.threads)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let total = || setup.dns.as_ref().map_or(0, |d| d.total() as u64);
    let mut reports = Vec::new();
    let mail_auth = {
        let _context = runtime.enter();
        Arc::new(MailAuth::new(setup.server, setup.timeout, true)?)
    };
    let before = total();
    let started = Instant::now();
    let mut tally = runtime.block_on(peer_pass(corpus, parallelism.tasks, move |c: Arc<Vec<Check>>, i| {
        let peer = Arc::clone(&mail_auth);
        async move { peer.check(c[i].ip, &c[i].mail_from, &c[i].helo).await }
    }));
    let seconds = started.elapsed().as_secs_f64();
    tally.queries = total() - before;
    reports.push(tally.into_report("mail-auth", false, Some(seconds)));
    let viaspf = {
        let _context = runtime.enter();
        Arc::new(Viaspf::new(setup.server, setup.timeout, true)?)
    };
    let before = total();
    let started = Instant::now();
    let mut tally = runtime.block_on(peer_pass(corpus, parallelism.tasks, move |c: Arc<Vec<Check>>, i| {
        let peer = Arc::clone(&viaspf);
        async move { peer.check(c[i].ip, &c[i].mail_from, &c[i].helo).await }
    }));
    let seconds = started.elapsed().as_secs_f64();
    tally.queries = total() - before;
    reports.push(tally.into_report("viaspf", false, Some(seconds)));
    Ok(reports)
}

/// Runs `check(corpus, i)` for every check of the corpus, `tasks` at a time.
#[cfg(feature = "peers")]
async fn peer_pass<F, Fut>(corpus: &Arc<Vec<Check>>, tasks: usize, check: F) -> Tally
where
    F: Fn(Arc<Vec<Check>>, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = &'static str> + Send,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (corpus, next, check) = (Arc::clone(corpus), Arc::clone(&next), check.clone());
        set.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= corpus.len() {
                    break;
                }
                let t = Instant::now();
                let result = check(Arc::clone(&corpus), i).await;
                tally.latencies.push(t.elapsed());
                *tally.results.entry(result.to_string()).or_default() += 1;
            }
            tally
        });
    }
    let mut all = Tally::default();
    while let Some(Ok(tally)) = set.join_next().await {
        all.latencies.extend(tally.latencies);
        for (k, v) in tally.results {
            *all.results.entry(k).or_default() += v;
        }
    }
    all
}

/// The round trips a check needs when every query is sent as soon as its
/// name is known (its dependency depth), from its trace: a record at
/// include depth d arrives after d + 1 round trips, its terms' queries one
/// later, an `mx` term's host addresses (and a `ptr` term's names) one
/// later still, and an explanation after everything else.
fn critical_path(trace: &[TraceEvent]) -> u32 {
    let mut deepest = 0;
    let mut after_mx_or_ptr = false;
    for event in trace {
        match event {
            TraceEvent::Query { depth, rtype, .. } => {
                let trips = match rtype {
                    RecordType::Txt => depth + 1,
                    RecordType::Mx | RecordType::Ptr => {
                        after_mx_or_ptr = true;
                        depth + 2
                    }
                    RecordType::A | RecordType::Aaaa if after_mx_or_ptr => depth + 3,
                    RecordType::A | RecordType::Aaaa => depth + 2,
                };
                deepest = deepest.max(trips);
            }
            TraceEvent::Term { .. } | TraceEvent::Enter { .. } => after_mx_or_ptr = false,
            TraceEvent::Explanation { .. } => deepest += 1,
            _ => {}
        }
    }
    deepest
}

fn run_pass(
    checker: &Checker,
    corpus: &Arc<Vec<Check>>,
    Parallelism { tasks: concurrency, threads }: Parallelism,
    entries: usize,
    speculation: Mode,
    pass: usize,
    progress: bool,
) -> PassReport {
    let before = checker.cache_stats();
    let bar = (progress && std::io::stderr().is_terminal())
        .then(|| indicatif::ProgressBar::new(corpus.len() as u64));
    let started = Instant::now();
    // The checks run as tasks of a runtime of the harness (`--threads`),
    // their sockets and timers driven by it.
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => panic!("cannot start the harness runtime: {e}"),
        };
    let (latencies, results) = runtime.block_on(async {
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (checker, corpus, next, bar) =
                (checker.clone(), Arc::clone(corpus), Arc::clone(&next), bar.clone());
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                let mut results: BTreeMap<String, usize> = BTreeMap::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(check) = corpus.get(i) else { break };
                    let t = Instant::now();
                    let eval = checker.check(check.ip, &check.mail_from, &check.helo).await;
                    latencies.push(t.elapsed());
                    *results.entry(eval.result.to_string()).or_default() += 1;
                    if let Some(bar) = &bar {
                        bar.inc(1);
                    }
                }
                (latencies, results)
            });
        }
        let mut all = Vec::with_capacity(corpus.len());
        let mut results: BTreeMap<String, usize> = BTreeMap::new();
        while let Some(Ok((l, r))) = tasks.join_next().await {
            all.extend(l);
            for (k, v) in r {
                *results.entry(k).or_default() += v;
            }
        }
        (all, results)
    });
    let seconds = started.elapsed().as_secs_f64();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let after = checker.cache_stats();
    report(entries, speculation, false, pass, corpus.len(), seconds, latencies, &before, &after, results)
}

/// Summarises a run from its latencies and the cache counters before and after.
#[allow(clippy::too_many_arguments)]
fn report(
    entries: usize,
    speculation: Mode,
    cold: bool,
    pass: usize,
    checks: usize,
    seconds: f64,
    mut latencies: Vec<Duration>,
    before: &CacheStats,
    after: &CacheStats,
    results: BTreeMap<String, usize>,
) -> PassReport {
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    let mean = latencies.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e6 / latencies.len().max(1) as f64;
    let lookups =
        (after.hits + after.misses + after.coalesced) - (before.hits + before.misses + before.coalesced);
    let hits = after.hits - before.hits;
    let speculative_queries = after.speculative_queries - before.speculative_queries;
    let speculative_used = after.speculative_used - before.speculative_used;
    PassReport {
        library: "fastspf",
        cache_entries: entries,
        speculation,
        cold,
        pass,
        checks,
        seconds,
        checks_per_second: checks as f64 / seconds,
        latency_us: Latency { mean, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1.0) },
        cache_hit_ratio: if lookups == 0 { 0.0 } else { hits as f64 / lookups as f64 },
        dns_queries_per_check: (after.misses - before.misses) as f64 / checks as f64,
        speculative_queries,
        speculative_used,
        speculative_waste: if speculative_queries == 0 {
            0.0
        } else {
            speculative_queries.saturating_sub(speculative_used) as f64 / speculative_queries as f64
        },
        critical_path: None,
        results,
    }
}

fn print_report(r: &PassReport) {
    println!(
        "{}: cache {} entries, speculation {}, {}: {} checks in {:.2} s = {:.0} checks/s; latency mean {:.1} us, p50 {:.1} us, p90 {:.1} us, p99 {:.1} us, max {:.1} us; cache hit ratio {:.3}; {:.3} DNS queries/check; {} speculative queries, {} used; results {:?}",
        r.library,
        r.cache_entries,
        r.speculation.as_str(),
        if r.cold { "every check cold".to_string() } else { format!("pass {}", r.pass) },
        r.checks,
        r.seconds,
        r.checks_per_second,
        r.latency_us.mean,
        r.latency_us.p50,
        r.latency_us.p90,
        r.latency_us.p99,
        r.latency_us.max,
        r.cache_hit_ratio,
        r.dns_queries_per_check,
        r.speculative_queries,
        r.speculative_used,
        r.results
    );
    if let Some(c) = &r.critical_path {
        println!(
            "  critical path (round trips if every query left as soon as its name was known): mean {:.2}, p99 {}, max {}",
            c.mean, c.p99, c.max
        );
    }
}
