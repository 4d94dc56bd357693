//! Measures what hostile senders, records and DNS servers can make a check
//! cost, one line per bound of the README's reliability section:
//!
//! ```text
//! cargo run --release -p spf-core --example hostile
//! ```
//!
//! Each attack runs in a child process of its own, so that the peak
//! resident set it reports (`VmHWM` growth over the child's baseline) is the
//! attack's alone. DNS attacks go through the real resolver to a
//! `spf-testdns` server on 127.0.0.1. The regression tests assert the
//! bounds (`spf-core/tests/issue_14.rs`, `spf-core/tests/lint.rs`); this
//! program prints the numbers.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spf_core::dns::{Lookup, LookupResult, RecordType, ResolverSettings, Zone, parse_nameserver};
use spf_core::lint::{LintOptions, LintRequest};
use spf_core::{CheckOptions, Checker, CheckerConfig, DnsSource, Evaluation};

/// The attacks, by name: what each one measures.
const ATTACKS: &[(&str, &str)] = &[
    ("explanation", "exp= of 5,000 %{s}, local part of 100,000 octets"),
    ("targets", "10 exists: terms of 500 %{l1} each, local part of 100,000 octets"),
    ("deadline", "deadline 1 s, 10 lookups of 300 ms CPU work each"),
    ("lint", "lint of 63 includes of 63 KB alternating +ip6/-ip6, deadline 5 s"),
    ("cname", "10 mx terms x 10 hosts behind 7-hop CNAME chains, answered one hop at a time"),
    ("headers", "a 60 KB unknown term (permerror), headers rendered"),
];

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field).map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

/// The first 60 characters of a reason (a reason quotes the term, which
/// here is long).
fn short(reason: Option<String>) -> String {
    let reason = reason.unwrap_or_default();
    match reason.char_indices().nth(60) {
        Some((at, _)) => format!("{}...", &reason[..at]),
        None => reason,
    }
}

fn txt(zone: &mut Zone, name: &str, text: &str) {
    zone.add_txt(name, text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect());
}

fn zone_checker(zone: Zone, options: CheckOptions) -> Checker {
    let mut config = CheckerConfig::default();
    config.dns = DnsSource::Zone(Arc::new(zone));
    config.options = options;
    Checker::new(config).expect("checker")
}

fn check(checker: &Checker, ip: &str, sender: &str) -> (Evaluation, Duration) {
    let ip: IpAddr = ip.parse().expect("ip");
    let started = Instant::now();
    let eval = checker.check_blocking(ip, sender, "helo.example.org");
    (eval, started.elapsed())
}

/// Answers from a zone after `busy` of CPU work per lookup.
struct Busy {
    zone: Zone,
    busy: Duration,
}

impl Lookup for Busy {
    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        let until = Instant::now() + self.busy;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        self.zone.lookup(name, rtype).await
    }
}

fn attack(name: &str) -> String {
    match name {
        "explanation" => {
            let mut zone = Zone::new();
            txt(&mut zone, "exp.example", "v=spf1 -all exp=why.exp.example");
            txt(&mut zone, "why.exp.example", &"%{s}".repeat(5_000));
            let checker = zone_checker(zone, CheckOptions::default());
            let (eval, took) = check(&checker, "192.0.2.1", &format!("{}@exp.example", "a".repeat(100_000)));
            let trace = serde_json::to_string(&eval.trace).map(|t| t.len()).unwrap_or(0);
            format!(
                "{}, explanation {} octets, trace {} octets, {took:.1?}",
                eval.result,
                eval.explanation.map_or(0, |e| e.len()),
                trace
            )
        }
        "targets" => {
            let mut zone = Zone::new();
            let terms: Vec<String> =
                (0..10).map(|i| format!("exists:{}.t{i}.budget.example", "%{l1}".repeat(500))).collect();
            txt(&mut zone, "budget.example", &format!("v=spf1 {} -all", terms.join(" ")));
            let checker = zone_checker(zone, CheckOptions::default());
            let local = format!("{}.z", "c".repeat(100_000));
            let (eval, took) = check(&checker, "192.0.2.1", &format!("{local}@budget.example"));
            format!("{} ({}), {took:.1?}", eval.result, short(eval.reason.map(|r| r.to_string())))
        }
        "deadline" => {
            let mut zone = Zone::new();
            let terms: Vec<String> = (0..10).map(|i| format!("a:h{i}.busy.test")).collect();
            txt(&mut zone, "busy.test", &format!("v=spf1 {} -all", terms.join(" ")));
            for i in 0..10 {
                zone.add_a(&format!("h{i}.busy.test"), std::net::Ipv4Addr::new(198, 51, 100, i));
            }
            let busy = Busy { zone, busy: Duration::from_millis(300) };
            let mut options = CheckOptions::default();
            options.deadline = Some(Duration::from_secs(1));
            let evaluator = spf_core::Evaluator::new(&busy, options);
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
            let started = Instant::now();
            let eval =
                rt.block_on(evaluator.check_mail_from("192.0.2.1".parse().expect("ip"), "a@busy.test", "h"));
            format!("{} after {:.2?} ({} terms)", eval.result, started.elapsed(), eval.dns_lookups)
        }
        "lint" => {
            let mut zone = Zone::new();
            let names: Vec<String> = (0..63).map(|i| format!("include:h{i}.hostile.example")).collect();
            txt(&mut zone, "hostile.example", &format!("v=spf1 {} -all", names.join(" ")));
            for i in 0..63 {
                let mut record = "v=spf1".to_string();
                let mut k = 0u32;
                loop {
                    let sign = if k.is_multiple_of(2) { '+' } else { '-' };
                    let term = format!(" {sign}ip6:{i:x}:{k:x}::");
                    if record.len() + term.len() + 5 > 63_000 {
                        break;
                    }
                    record.push_str(&term);
                    k += 1;
                }
                record.push_str(" ~all");
                txt(&mut zone, &format!("h{i}.hostile.example"), &record);
            }
            let checker = zone_checker(zone, CheckOptions::default());
            let mut options = LintOptions::default();
            options.deadline = Some(Duration::from_secs(5));
            let started = Instant::now();
            let report = checker.lint_blocking(&LintRequest::domain("hostile.example"), &options);
            format!("complete: {}, {:.2?}", report.complete, started.elapsed())
        }
        "cname" => {
            let mut text = String::from("$TTL 300\n");
            let terms: Vec<String> = (0..10).map(|i| format!("mx:m{i}.test")).collect();
            text.push_str(&format!("chains.test. IN TXT \"v=spf1 {} -all\"\n", terms.join(" ")));
            for i in 0..10 {
                for h in 0..10 {
                    text.push_str(&format!("m{i}.test. IN MX {h} h{h}.m{i}.test.\n"));
                    for hop in 0..7 {
                        let next = if hop == 6 {
                            format!("a{h}.m{i}.test.")
                        } else {
                            format!("h{h}-{}.m{i}.test.", hop + 1)
                        };
                        let alias = if hop == 0 {
                            format!("h{h}.m{i}.test.")
                        } else {
                            format!("h{h}-{hop}.m{i}.test.")
                        };
                        text.push_str(&format!("{alias} IN CNAME {next}\n"));
                    }
                    text.push_str(&format!("a{h}.m{i}.test. IN A 198.51.100.{h}\n"));
                }
            }
            let server = spf_testdns::TestDns::start(&text);
            server.partial_cnames_all(true);
            let mut settings = ResolverSettings::default();
            settings.nameservers = vec![parse_nameserver(&server.nameserver()).expect("server address")];
            let mut config = CheckerConfig::default();
            config.dns = DnsSource::Resolver(settings);
            let checker = Checker::new(config).expect("checker");
            let (eval, took) = check(&checker, "192.0.2.1", "a@chains.test");
            drop(checker);
            format!(
                "{} ({}), {} queries counted, {} received by the server, {took:.1?}",
                eval.result,
                short(eval.reason.map(|r| r.to_string())),
                eval.dns_queries,
                server.total()
            )
        }
        "headers" => {
            let mut zone = Zone::new();
            txt(&mut zone, "big.example", &format!("v=spf1 x{} -all", "u".repeat(60_000)));
            let checker = zone_checker(zone, CheckOptions::default());
            let (eval, _) = check(&checker, "192.0.2.1", "a@big.example");
            let received = spf_core::headers::received_spf(&eval, Some("mx.example.org"));
            let ar = spf_core::headers::authentication_results(&eval, "mx.example.org");
            let longest = received.lines().chain(ar.lines()).map(str::len).max().unwrap_or(0);
            format!(
                "{}: Received-SPF {} octets, Authentication-Results {} octets, longest line {longest}",
                eval.result,
                received.len(),
                ar.len()
            )
        }
        _ => "unknown attack".to_string(),
    }
}

fn main() {
    if let Some(name) = std::env::args().nth(1) {
        let baseline = status_kib("VmHWM:");
        let outcome = attack(&name);
        let peak = status_kib("VmHWM:").saturating_sub(baseline);
        println!("{outcome}; peak resident set +{peak} KiB");
        return;
    }
    let me = std::env::current_exe().expect("the example's path");
    for (name, what) in ATTACKS {
        let out = std::process::Command::new(&me).arg(name).output().expect("child");
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        println!("{name:12} {what}\n             -> {}", String::from_utf8_lossy(&out.stdout).trim());
    }
}
