//! `fastspf-bench`: generate a realistic workload and replay it against a
//! zone or a real DNS server, to measure throughput and latency and to pick
//! cache sizes.
//!
//! ```text
//! fastspf-bench gen --seed 1 --domains 3000 --queries 100000 --out /tmp/wl
//! fastspf-bench replay --corpus /tmp/wl/corpus.tsv --zone /tmp/wl/zone [--concurrency 64]
//!               [--cache-entries N] [--cache-bytes N] [--passes 2] [--json]
//! fastspf-bench replay --corpus /tmp/wl/corpus.tsv --nameserver 127.0.0.1:5300 --compare-cache 1000,10000,100000
//! ```

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use spf_core::dns::hickory::{ResolverSettings, parse_nameserver};
use spf_core::dns::{CacheConfig, Zone};
use spf_core::{CheckOptions, Checker, CheckerConfig, DnsSource};

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
    #[arg(long)]
    json: bool,
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
    cache_entries: usize,
    pass: usize,
    checks: usize,
    seconds: f64,
    checks_per_second: f64,
    latency_us: Latency,
    cache_hit_ratio: f64,
    dns_queries_per_check: f64,
    results: BTreeMap<String, usize>,
}

#[derive(Debug, serde::Serialize)]
struct Latency {
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
    let zone = if args.zones.is_empty() {
        None
    } else {
        let mut zone = Zone::new();
        for path in &args.zones {
            zone.load_master_file(path).map_err(|e| e.to_string())?;
        }
        Some(Arc::new(zone))
    };
    if zone.is_none() && args.nameservers.is_empty() {
        return Err("give --zone FILE or --nameserver IP:PORT".into());
    }
    let sizes =
        if args.compare_cache.is_empty() { vec![args.cache_entries] } else { args.compare_cache.clone() };
    let mut reports = Vec::new();
    for &entries in &sizes {
        let dns = match &zone {
            Some(zone) => DnsSource::Zone(Arc::clone(zone)),
            None => DnsSource::Resolver(ResolverSettings {
                nameservers: args
                    .nameservers
                    .iter()
                    .map(|n| parse_nameserver(n).map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()?,
                timeout: Duration::from_secs_f64(args.timeout.clamp(0.01, 60.0)),
                attempts: 2,
            }),
        };
        let checker = Checker::new(CheckerConfig {
            dns,
            cache: CacheConfig {
                max_entries: entries.max(1),
                max_bytes: args.cache_bytes.max(1),
                ..CacheConfig::default()
            },
            options: CheckOptions { trace: false, ..CheckOptions::default() },
            worker_threads: 2,
            ..CheckerConfig::default()
        })
        .map_err(|e| e.to_string())?;
        for pass in 1..=args.passes.max(1) {
            let report = run_pass(&checker, &corpus, args.concurrency.max(1), entries, pass, !args.json);
            if !args.json {
                print_report(&report);
            }
            reports.push(report);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?);
    } else if sizes.len() > 1 {
        println!("\ncache entries | pass | checks/s | p50 us | p99 us | hit ratio | DNS queries/check");
        for r in &reports {
            println!(
                "{:>13} | {:>4} | {:>8.0} | {:>6.1} | {:>6.1} | {:>9.3} | {:>17.3}",
                r.cache_entries,
                r.pass,
                r.checks_per_second,
                r.latency_us.p50,
                r.latency_us.p99,
                r.cache_hit_ratio,
                r.dns_queries_per_check
            );
        }
    }
    Ok(())
}

fn run_pass(
    checker: &Checker,
    corpus: &Arc<Vec<Check>>,
    concurrency: usize,
    entries: usize,
    pass: usize,
    progress: bool,
) -> PassReport {
    let before = checker.cache_stats();
    let bar = (progress && std::io::stderr().is_terminal())
        .then(|| indicatif::ProgressBar::new(corpus.len() as u64));
    let started = Instant::now();
    let (mut latencies, results) = checker.block_on(async {
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
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    let after = checker.cache_stats();
    let lookups =
        (after.hits + after.misses + after.coalesced) - (before.hits + before.misses + before.coalesced);
    let hits = after.hits - before.hits;
    PassReport {
        cache_entries: entries,
        pass,
        checks: corpus.len(),
        seconds,
        checks_per_second: corpus.len() as f64 / seconds,
        latency_us: Latency { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1.0) },
        cache_hit_ratio: if lookups == 0 { 0.0 } else { hits as f64 / lookups as f64 },
        dns_queries_per_check: (after.misses - before.misses) as f64 / corpus.len() as f64,
        results,
    }
}

fn print_report(r: &PassReport) {
    println!(
        "cache {} entries, pass {}: {} checks in {:.2} s = {:.0} checks/s; latency p50 {:.1} us, p90 {:.1} us, p99 {:.1} us, max {:.1} us; cache hit ratio {:.3}; {:.3} DNS queries/check; results {:?}",
        r.cache_entries,
        r.pass,
        r.checks,
        r.seconds,
        r.checks_per_second,
        r.latency_us.p50,
        r.latency_us.p90,
        r.latency_us.p99,
        r.latency_us.max,
        r.cache_hit_ratio,
        r.dns_queries_per_check,
        r.results
    );
}
