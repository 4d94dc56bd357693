//! Runs Debian's unchanged `spfquery` over every case of the RFC 7208
//! suite, once on the system's libspf2 and once on this crate's
//! `libspf2.so.2` (through `LD_LIBRARY_PATH`), against a DNS server
//! serving each scenario's zone on port 53 of a loopback address, and
//! counts the cases each passes.
//!
//! The server (`zone_server.rs`) answers from an `spf_core::dns::Zone` built
//! straight from the YAML, like `spf-core/tests/conformance.rs` builds it:
//! the suite has names a master file cannot carry through hickory's parser
//! (`foo:bar/baz.example.com`, `macro%percent  space%20url-space...`), a TXT
//! record with no strings at all, and `TIMEOUT` entries that fail only the
//! types a name has no records of; `spf-testdns` serves master files, so it
//! could not express these. Temporary failures are answered SERVFAIL at
//! once (a timeout and a SERVFAIL are the same temporary error to SPF, RFC
//! 7208 §4.4, and waiting out timeouts would only make the run slow).
//!
//! spfquery has no nameserver option: it reads `/etc/resolv.conf`. So this
//! program must run where `/etc/resolv.conf` is a file it may rewrite and
//! port 53 of 127.0.0.0/8 is free: `tests/run.sh` runs it as root in a
//! private network and mount namespace (`unshare --net --mount`) with a
//! scratch file bind-mounted over `/etc/resolv.conf`. Each scenario gets its
//! own server on its own address (127.0.1.N), named in that file.
//!
//! ```text
//! spfquery_suite --suite rfc7208-tests.yml --spfquery /usr/bin/spfquery.libspf2 \
//!     --compat-lib DIR --resolv-conf /etc/resolv.conf --report report.tsv \
//!     [--known-failures FILE] [--valgrind SCENARIO]...
//! ```
//!
//! How the suite's YAML becomes DNS (as in `conformance.rs`): names in
//! `zonedata` exist; `SPF` records are served as TXT unless the name has TXT
//! entries of its own (`TXT: NONE` meaning none), because RFC 7208
//! consults TXT only (queries for the SPF type get no data); a list of
//! strings is one TXT record of several strings; `TIMEOUT` makes every
//! query at that name for a type without records fail.
//!
//! `--known-failures FILE` lists cases (name, tab, reason) the compat
//! library is known to fail; the run fails on any other failure, and on a
//! listed case that passes (the list must be kept true).
//!
//! Exit status: 0 when the compat library passes every case not listed as
//! a known failure, fails every listed one, and every valgrind run is
//! clean; 1 otherwise; 2 on setup errors.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use serde_yaml::Value;
use spf_core::dns::Zone;

mod zone_server;

#[derive(Debug)]
struct Args {
    suite: PathBuf,
    spfquery: PathBuf,
    compat_lib: PathBuf,
    resolv_conf: PathBuf,
    report: PathBuf,
    known_failures: Option<PathBuf>,
    /// Scenarios (by slug) whose cases also run under valgrind memcheck.
    valgrind: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut suite, mut spfquery, mut compat_lib, mut resolv_conf, mut report) =
        (None, None, None, None, None);
    let mut valgrind = Vec::new();
    let mut known_failures = None;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--suite" => suite = Some(value.into()),
            "--spfquery" => spfquery = Some(value.into()),
            "--compat-lib" => compat_lib = Some(value.into()),
            "--resolv-conf" => resolv_conf = Some(value.into()),
            "--report" => report = Some(value.into()),
            "--known-failures" => known_failures = Some(value.into()),
            "--valgrind" => valgrind.push(value),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Args {
        suite: suite.ok_or("--suite is required")?,
        spfquery: spfquery.ok_or("--spfquery is required")?,
        compat_lib: compat_lib.ok_or("--compat-lib is required")?,
        resolv_conf: resolv_conf.ok_or("--resolv-conf is required")?,
        report: report.ok_or("--report is required")?,
        known_failures,
        valgrind,
    })
}

/// One test case of the suite.
#[derive(Debug)]
struct Case {
    name: String,
    host: String,
    mailfrom: String,
    helo: String,
    expected: Vec<String>,
    explanation: Option<String>,
}

/// What spfquery printed for one case.
#[derive(Debug, Default, PartialEq, Eq)]
struct Output {
    result: String,
    smtp_comment: String,
    header_comment: String,
    received_spf: String,
    errors: Vec<String>,
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The suite's old result words, as RFC 7208 names them.
fn result_word(word: &str) -> String {
    match word.to_ascii_lowercase().as_str() {
        "unknown" => "permerror".into(),
        "error" => "temperror".into(),
        other => other.into(),
    }
}

fn slug(description: &str) -> String {
    let mut out = String::new();
    for c in description.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// A scenario's zone, built as `spf-core/tests/conformance.rs` builds it.
fn build_zone(zonedata: &Value) -> Result<Zone, String> {
    let mut zone = Zone::new();
    let Some(names) = zonedata.as_mapping() else { return Ok(zone) };
    for (name, entries) in names {
        let name = scalar(name).ok_or("zonedata names must be scalars")?;
        zone.add_name(&name);
        let entries = entries.as_sequence().cloned().unwrap_or_default();
        let (mut spf, mut txt, mut has_txt) = (Vec::new(), Vec::new(), false);
        for entry in &entries {
            if scalar(entry).as_deref() == Some("TIMEOUT") {
                zone.add_timeout(&name);
                continue;
            }
            let map = entry.as_mapping().ok_or_else(|| format!("{name}: odd entry {entry:?}"))?;
            for (rtype, value) in map {
                let rtype = scalar(rtype).ok_or("record types are strings")?;
                let text = || scalar(value).ok_or_else(|| format!("{name}: {rtype} needs a value"));
                match rtype.as_str() {
                    "SPF" => spf.push(strings(value)),
                    "TXT" => {
                        has_txt = true;
                        if scalar(value).as_deref() != Some("NONE") {
                            txt.push(strings(value));
                        }
                    }
                    "A" => zone.add_a(&name, text()?.parse().map_err(|e| format!("{name}: {e}"))?),
                    "AAAA" => zone.add_aaaa(&name, text()?.parse().map_err(|e| format!("{name}: {e}"))?),
                    "PTR" => zone.add_ptr(&name, &text()?),
                    "CNAME" => zone.add_cname(&name, &text()?),
                    "MX" => {
                        let pair = value.as_sequence().ok_or("MX is [preference, exchange]")?;
                        let pref = pair.first().and_then(Value::as_u64).ok_or("MX preference")?;
                        let exchange = pair.get(1).and_then(scalar).unwrap_or_default();
                        zone.add_mx(&name, u16::try_from(pref).map_err(|e| e.to_string())?, &exchange);
                    }
                    other => return Err(format!("{name}: unsupported record type {other}")),
                }
            }
        }
        for record in if has_txt { txt } else { spf } {
            zone.add_txt(&name, record);
        }
    }
    Ok(zone)
}

/// A TXT/SPF value: one string, or a list of strings forming one record.
fn strings(value: &Value) -> Vec<Vec<u8>> {
    match value {
        Value::Sequence(list) => list.iter().filter_map(scalar).map(String::into_bytes).collect(),
        other => vec![scalar(other).unwrap_or_default().into_bytes()],
    }
}

/// Reads one request's output: optional `StartError ... EndError`
/// blocks, then the result and three text lines; returns the rest.
fn parse_one(text: &str) -> (Output, &str) {
    let mut out = Output::default();
    let mut lines = text.split_inclusive('\n');
    let mut consumed = 0usize;
    let mut next = || {
        let line = lines.next().unwrap_or_default();
        consumed += line.len();
        line.trim_end_matches('\n').to_string()
    };
    let mut line = next();
    while line == "StartError" {
        loop {
            line = next();
            if line == "EndError" || line.is_empty() {
                break;
            }
            out.errors.push(line.clone());
        }
        line = next();
    }
    out.result = line;
    out.smtp_comment = next();
    out.header_comment = next();
    out.received_spf = next();
    (out, &text[consumed..])
}

/// Reads the output of a one-request run.
fn parse_output(stdout: &str) -> Output {
    parse_one(stdout).0
}

/// Runs spfquery for one case; `compat` puts this crate's library first.
fn run_spfquery(args: &Args, case: &Case, compat: bool) -> Result<Output, String> {
    let mut command = Command::new(&args.spfquery);
    command
        .args(["-ip", &case.host, "-sender", &case.mailfrom, "-default-explanation", "DEFAULT"])
        .stdin(Stdio::null());
    if !case.helo.is_empty() {
        command.args(["-helo", &case.helo]);
    }
    if compat {
        command.env("LD_LIBRARY_PATH", &args.compat_lib);
    } else {
        command.env_remove("LD_LIBRARY_PATH");
    }
    let output = command.output().map_err(|e| format!("cannot run {}: {e}", args.spfquery.display()))?;
    Ok(parse_output(&String::from_utf8_lossy(&output.stdout)))
}

/// Runs every case of `cases` in one spfquery process (`-file`, one
/// request per line) on the compat library under valgrind memcheck:
/// the outputs in order, and valgrind's report if it found errors or
/// definite/indirect leaks. Cases that a `-file` line cannot hold (an
/// empty or space-containing field) are left out.
fn run_under_valgrind(args: &Args, cases: &[&Case]) -> Result<(Vec<Output>, Option<String>), String> {
    let mut lines = String::new();
    for case in cases {
        let _ = writeln!(lines, "{} {} {}", case.host, case.mailfrom, case.helo);
    }
    // Next to the report (the run's own directory), not in the shared /tmp.
    let dir = args.report.parent().unwrap_or_else(|| std::path::Path::new("."));
    let path = dir.join(format!("spfquery-suite-{}.txt", std::process::id()));
    std::fs::write(&path, lines).map_err(|e| format!("{}: {e}", path.display()))?;
    let output = Command::new("valgrind")
        .args([
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
        ])
        .arg(&args.spfquery)
        .arg("-file")
        .arg(&path)
        .args(["-default-explanation", "DEFAULT"])
        .env("LD_LIBRARY_PATH", &args.compat_lib)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut rest = stdout.as_ref();
    let mut outputs = Vec::new();
    for _ in cases {
        let (one, tail) = parse_one(rest);
        outputs.push(one);
        rest = tail;
    }
    // spfquery exits with the last result (0..=7) or 255; 99 is valgrind's.
    let error = matches!(output.status.code(), Some(99) | None)
        .then(|| format!("exit {:?}\n{}", output.status.code(), String::from_utf8_lossy(&output.stderr)));
    Ok((outputs, error))
}

fn verdict(case: &Case, out: &Output) -> bool {
    let result_ok = case.expected.contains(&out.result);
    let explanation_ok = match &case.explanation {
        Some(exp) if out.result == "fail" => out.smtp_comment.starts_with(&format!("{exp} : Reason: ")),
        _ => true,
    };
    result_ok && explanation_ok
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("spfquery_suite: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("spfquery_suite: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let text = std::fs::read_to_string(&args.suite).map_err(|e| format!("{}: {e}", args.suite.display()))?;
    let known: Vec<(String, String)> = match &args.known_failures {
        None => Vec::new(),
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (name, why) = l.split_once('\t').unwrap_or((l, ""));
                (name.trim().to_string(), why.trim().to_string())
            })
            .collect(),
    };
    let mut known_seen = Vec::new();
    let mut report = String::from("case\texpected\tstock\tstock_ok\tcompat\tcompat_ok\tsame_texts\n");
    let (mut total, mut stock_pass, mut compat_pass, mut same_texts) = (0usize, 0usize, 0usize, 0usize);
    let mut compat_failures = Vec::new();
    let mut stock_failures = Vec::new();
    let (mut valgrind_runs, mut valgrind_cases) = (0usize, 0usize);
    let mut valgrind_failures = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let scenario: Value = serde::Deserialize::deserialize(document).map_err(|e| e.to_string())?;
        let Some(tests) = scenario["tests"].as_mapping() else { continue };
        let description = scenario["description"].as_str().unwrap_or("scenario");
        let zone = build_zone(&scenario["zonedata"]).map_err(|e| format!("{description}: {e}"))?;
        let octet = u8::try_from(index + 1).map_err(|_| "too many scenarios")?;
        let addr = SocketAddr::from((Ipv4Addr::new(127, 0, 1, octet), 53));
        let server = zone_server::ZoneServer::start(addr, zone)?;
        std::fs::write(
            &args.resolv_conf,
            format!("nameserver {}\noptions timeout:2 attempts:1\n", addr.ip()),
        )
        .map_err(|e| format!("{}: {e}", args.resolv_conf.display()))?;
        let mut ran: Vec<(Case, String)> = Vec::new();
        for (name, case) in tests {
            let name = scalar(name).unwrap_or_default();
            let text = |k: &str| scalar(&case[k]).unwrap_or_default();
            let expected = match &case["result"] {
                Value::Sequence(list) => list.iter().filter_map(scalar).map(|r| result_word(&r)).collect(),
                other => vec![result_word(&scalar(other).unwrap_or_default())],
            };
            let case = Case {
                name: format!("rfc7208::{}::{name}", slug(description)),
                host: text("host"),
                mailfrom: text("mailfrom"),
                helo: text("helo"),
                expected,
                explanation: scalar(&case["explanation"]),
            };
            total += 1;
            let stock = run_spfquery(args, &case, false)?;
            let compat = run_spfquery(args, &case, true)?;
            let (stock_ok, compat_ok) = (verdict(&case, &stock), verdict(&case, &compat));
            if std::env::var("SUITE_SHOW").is_ok_and(|show| case.name.contains(&show)) {
                println!("== {}\n   stock:  {stock:?}\n   compat: {compat:?}", case.name);
            }
            let same = stock.smtp_comment == compat.smtp_comment
                && stock.header_comment == compat.header_comment
                && stock.received_spf == compat.received_spf;
            stock_pass += usize::from(stock_ok);
            compat_pass += usize::from(compat_ok);
            same_texts += usize::from(same);
            if !stock_ok {
                stock_failures
                    .push(format!("{} (expected {:?}, got {:?})", case.name, case.expected, stock.result));
            }
            let listed = known.iter().find(|(n, _)| *n == case.name);
            if let Some((_, why)) = listed {
                if compat_ok {
                    compat_failures
                        .push(format!("{}: passes, but is listed as a known failure: remove it", case.name));
                } else {
                    known_seen.push(format!("{}: {why}", case.name));
                }
            } else if !compat_ok {
                compat_failures.push(format!(
                    "{}: expected {:?}{}, got {:?}\n    smtp comment: {}\n    errors: {:?}",
                    case.name,
                    case.expected,
                    case.explanation.as_ref().map(|e| format!(" explained {e:?}")).unwrap_or_default(),
                    compat.result,
                    compat.smtp_comment,
                    compat.errors
                ));
            }
            let _ = writeln!(
                report,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                case.name,
                case.expected.join("|"),
                stock.result,
                stock_ok,
                compat.result,
                compat_ok,
                same
            );
            ran.push((case, compat.result));
        }
        if args.valgrind.iter().any(|v| *v == slug(description)) {
            let fits = |f: &str| !f.is_empty() && !f.contains(char::is_whitespace);
            let cases: Vec<&(Case, String)> =
                ran.iter().filter(|(c, _)| fits(&c.host) && fits(&c.mailfrom) && fits(&c.helo)).collect();
            let plain: Vec<&Case> = cases.iter().map(|(c, _)| c).collect();
            let (outputs, error) = run_under_valgrind(args, &plain)?;
            valgrind_runs += 1;
            valgrind_cases += plain.len();
            if let Some(error) = error {
                valgrind_failures.push(format!("{}:\n{error}", slug(description)));
            }
            for ((case, expected), got) in cases.iter().zip(&outputs) {
                if got.result != *expected {
                    valgrind_failures.push(format!(
                        "{}: {:?} under valgrind, {expected:?} without",
                        case.name, got.result
                    ));
                }
            }
        }
        drop(server);
    }
    std::fs::write(&args.report, report).map_err(|e| format!("{}: {e}", args.report.display()))?;
    println!("RFC 7208 suite through Debian's spfquery ({total} cases):");
    println!("  stock libspf2:              {stock_pass} of {total} pass");
    println!("  fastspf's libspf2.so.2:     {compat_pass} of {total} pass");
    println!("  same SMTP comment, header comment and Received-SPF: {same_texts} of {total}");
    println!("  known compat failures (listed, with reasons): {}", known_seen.len());
    for k in &known_seen {
        println!("    {k}");
    }
    if known_seen.len() != known.len() {
        compat_failures.push(format!(
            "{} listed known failures, {} of them in the suite",
            known.len(),
            known_seen.len()
        ));
    }
    if valgrind_runs > 0 {
        println!(
            "  valgrind memcheck (compat; spfquery -file, one process per scenario: {}): {valgrind_runs} runs, \
             {valgrind_cases} cases, {} problems",
            args.valgrind.join(", "),
            valgrind_failures.len()
        );
    }
    println!("  report: {}", args.report.display());
    if !stock_failures.is_empty() {
        println!("stock libspf2 fails:");
        for f in &stock_failures {
            println!("  {f}");
        }
    }
    for f in &compat_failures {
        println!("COMPAT FAILS {f}");
    }
    for f in &valgrind_failures {
        println!("VALGRIND {f}");
    }
    Ok(compat_failures.is_empty() && valgrind_failures.is_empty())
}
