//! The openspf conformance suites, one named test per case.
//!
//! Every case of `rfc7208-tests.yml` runs through `check_host()` against an
//! in-memory zone built from the scenario's `zonedata`, and must give the
//! expected result (and explanation, where the case names one). Every case
//! of the older `rfc4408-tests.yml` runs too; where RFC 7208 changed the
//! answer, `data/rfc4408-differences.yml` says so with the section, and the
//! case is checked against the RFC 7208 answer instead. Nothing is skipped.
//!
//! How the YAML is read (see `data/spf-test-suite/ORIGIN.md` and the suite's
//! own README): a name absent from `zonedata` does not exist (NXDOMAIN); a
//! listed name without records of the asked type gives no data. `SPF`
//! records are served as TXT unless the name has `TXT` entries of its own
//! (`TXT: NONE` meaning "no TXT records"), because RFC 7208 implementations
//! query TXT only. A bare `TIMEOUT` makes every query at that name for a
//! type without records time out. A list of strings is one record of
//! several character-strings. An empty `mailfrom` is the null sender. The
//! suite's `DEFAULT` explanation is the default explanation.
//!
//! Every `rfc7208-tests.yml` case runs a second time as
//! `rfc7208-speculative::...`: through the shared cache over a zone whose
//! every answer takes a scheduler round trip (so records have to be waited
//! for and speculative lookups start, see `spf_core::Speculation`), once
//! with speculation and once without; both must give the expected answer
//! and the very same evaluation (result, explanation, matched term, reason,
//! lookup counts, trace).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use libtest_mimic::{Arguments, Failed, Trial};
use serde_yaml::Value;
use std::sync::Arc;

use spf_core::dns::{Cache, CacheConfig, CachedLookup, Lookup, LookupResult, RecordType, Zone};
use spf_core::eval::TraceEvent;
use spf_core::macros::{MacroContext, MacroString};
use spf_core::{CheckOptions, Checker, CheckerConfig, Evaluation, Evaluator, Speculation, SpfResult};

const RFC7208_CASES: usize = 203;

/// A case whose RFC 4408 answer RFC 7208 changed.
#[derive(Debug, serde::Deserialize)]
struct Difference {
    rfc7208: String,
    section: String,
    why: String,
}

fn main() {
    let args = Arguments::from_args();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let differences: BTreeMap<String, Difference> = {
        let text = std::fs::read_to_string(data.join("rfc4408-differences.yml"))
            .expect("read tests/data/rfc4408-differences.yml");
        serde_yaml::from_str(&text).expect("parse rfc4408-differences.yml")
    };
    let rfc7208 = data.join("spf-test-suite/rfc7208-tests.yml");
    let mut trials = suite_trials(&rfc7208, "rfc7208", &BTreeMap::new(), Mode::Direct);
    assert_eq!(
        trials.len(),
        RFC7208_CASES,
        "rfc7208-tests.yml must yield every one of its {RFC7208_CASES} cases"
    );
    let speculative = suite_trials(&rfc7208, "rfc7208-speculative", &BTreeMap::new(), Mode::Speculative);
    assert_eq!(speculative.len(), RFC7208_CASES);
    trials.extend(speculative);
    let compiled = suite_trials(&rfc7208, "rfc7208-compiled", &BTreeMap::new(), Mode::Compiled);
    assert_eq!(compiled.len(), RFC7208_CASES);
    trials.extend(compiled);
    let rfc4408 =
        suite_trials(&data.join("spf-test-suite/rfc4408-tests.yml"), "rfc4408", &differences, Mode::Direct);
    trials.extend(rfc4408);
    let whole = args.filter.is_none() && args.skip.is_empty() && !args.list;
    let conclusion = libtest_mimic::run(&args, trials);
    // The compiled runs are not vacuous: most cases' addresses are decided
    // by the compiled policy (the rest use macros or `ptr`, which the
    // evaluator decides). 179 of 203 when this was written.
    let decided = COMPILED_DECIDED.load(std::sync::atomic::Ordering::Relaxed);
    if whole && !conclusion.has_failed() {
        assert!(decided >= 175, "only {decided} of {RFC7208_CASES} cases were decided by a compiled policy");
    }
    conclusion.exit();
}

/// Cases of the compiled run whose address the compiled policy decided.
static COMPILED_DECIDED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How a case is evaluated.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// `Evaluator` straight over the zone.
    Direct,
    /// Through the shared cache over a zone that answers after a yield,
    /// with and without speculation; both evaluations must be the same.
    Speculative,
    /// Through a `Checker`, once with compiled policies off (the
    /// evaluator) and once on, checked three times (the second check
    /// compiles the domain's policy, the third is answered from it where
    /// it decides the address): the same evaluation and headers.
    Compiled,
}

/// One trial per test case of a suite file.
fn suite_trials(
    path: &Path,
    suite: &str,
    differences: &BTreeMap<String, Difference>,
    mode: Mode,
) -> Vec<Trial> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut trials = Vec::new();
    let mut unused: Vec<&String> = differences.keys().collect();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let scenario = Value::deserialize_from(document);
        let description = scenario["description"].as_str().unwrap_or("scenario").to_string();
        let slug = slug(&description);
        let zonedata = scenario["zonedata"].clone();
        let Some(tests) = scenario["tests"].as_mapping() else { continue };
        for (name, case) in tests {
            let name = name.as_str().expect("test names are strings").to_string();
            let mut case = Case::from_yaml(&name, case);
            let mut label = format!("{suite}::{slug}::{name}");
            if let Some(diff) = differences.get(&name) {
                unused.retain(|n| **n != name);
                case.expected = vec![parse_result(&diff.rfc7208)];
                case.explanation = None;
                case.note = Some(format!("RFC 7208 {} changed this case: {}", diff.section, diff.why));
                label.push_str(&format!(" [rfc7208 differs: {}]", diff.section));
            }
            let zonedata = zonedata.clone();
            trials.push(Trial::test(label, move || run_case(&case, &zonedata, mode)));
        }
    }
    assert!(unused.is_empty(), "rfc4408-differences.yml names cases not in the suite: {unused:?}");
    trials
}

trait FromDocument {
    fn deserialize_from(document: serde_yaml::Deserializer<'_>) -> Value;
}

impl FromDocument for Value {
    fn deserialize_from(document: serde_yaml::Deserializer<'_>) -> Value {
        serde::Deserialize::deserialize(document).expect("suite documents are valid YAML")
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

/// One test case.
#[derive(Debug, Clone)]
struct Case {
    host: String,
    mailfrom: String,
    helo: String,
    expected: Vec<SpfResult>,
    explanation: Option<String>,
    note: Option<String>,
}

impl Case {
    fn from_yaml(name: &str, case: &Value) -> Case {
        let text = |key: &str| scalar(&case[key]).unwrap_or_default();
        let expected = match &case["result"] {
            Value::Sequence(list) => list.iter().filter_map(scalar).map(|r| parse_result(&r)).collect(),
            other => vec![parse_result(&scalar(other).unwrap_or_else(|| panic!("{name}: no result")))],
        };
        Case {
            host: text("host"),
            mailfrom: text("mailfrom"),
            helo: text("helo"),
            expected,
            explanation: scalar(&case["explanation"]),
            note: None,
        }
    }
}

fn parse_result(word: &str) -> SpfResult {
    match word.to_ascii_lowercase().as_str() {
        "unknown" => SpfResult::PermError,
        "error" => SpfResult::TempError,
        other => other.parse().unwrap_or_else(|()| panic!("unknown result word {other:?}")),
    }
}

/// A YAML scalar as text (strings, numbers, booleans).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Builds the scenario's zone.
fn build_zone(zonedata: &Value) -> Result<Zone, String> {
    let mut zone = Zone::new();
    let Some(names) = zonedata.as_mapping() else { return Ok(zone) };
    for (name, entries) in names {
        let name = scalar(name).ok_or("zonedata names must be scalars")?;
        zone.add_name(&name);
        let entries = entries.as_sequence().cloned().unwrap_or_default();
        let mut spf = Vec::new();
        let mut txt = Vec::new();
        let mut has_txt = false;
        for entry in &entries {
            if scalar(entry).as_deref() == Some("TIMEOUT") {
                zone.add_timeout(&name);
                continue;
            }
            let Some(map) = entry.as_mapping() else { return Err(format!("{name}: odd entry {entry:?}")) };
            for (rtype, value) in map {
                let rtype = scalar(rtype).ok_or("record types are strings")?;
                match rtype.as_str() {
                    "SPF" => spf.push(strings(value)),
                    "TXT" => {
                        has_txt = true;
                        if scalar(value).as_deref() != Some("NONE") {
                            txt.push(strings(value));
                        }
                    }
                    "A" => zone.add_a(&name, parse::<Ipv4Addr>(value)?),
                    "AAAA" => zone.add_aaaa(&name, parse::<Ipv6Addr>(value)?),
                    "PTR" => zone.add_ptr(&name, &scalar(value).ok_or("PTR value")?),
                    "CNAME" => zone.add_cname(&name, &scalar(value).ok_or("CNAME value")?),
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
        // RFC 7208 implementations query TXT only; the suite's SPF records
        // stand for TXT unless the name has TXT entries of its own.
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

fn parse<T: std::str::FromStr>(value: &Value) -> Result<T, String> {
    let text = scalar(value).ok_or_else(|| format!("expected a scalar, got {value:?}"))?;
    text.parse().map_err(|_| format!("cannot parse {text:?}"))
}

/// A zone whose every answer comes after one trip through the scheduler,
/// as a network answer would: evaluation has to wait for it.
struct Yielding(Zone);

impl Lookup for Yielding {
    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        tokio::task::yield_now().await;
        self.0.lookup(name, rtype).await
    }
}

fn run_case(case: &Case, zonedata: &Value, mode: Mode) -> Result<(), Failed> {
    let zone = build_zone(zonedata)?;
    let default_explanation =
        MacroString::parse(b"DEFAULT", MacroContext::Explanation).map_err(|e| e.to_string())?;
    let options = CheckOptions::default().with_default_explanation(default_explanation);
    let ip = spf_core::parse_ip(&case.host).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|e| e.to_string())?;
    let eval = match mode {
        Mode::Direct => {
            let evaluator = Evaluator::new(zone, options);
            runtime.block_on(evaluator.check_mail_from(ip, &case.mailfrom, &case.helo))
        }
        Mode::Speculative => {
            let zone = Arc::new(Yielding(zone));
            let run = |speculation: Speculation| {
                let cache = Arc::new(Cache::new(CacheConfig::default()));
                let lookup = CachedLookup::new(Arc::clone(&zone), cache);
                // The same %{t} for both runs.
                let options = options.clone().with_speculation(speculation).with_timestamp(0);
                let evaluator = Evaluator::new(lookup, options);
                let eval = runtime.block_on(evaluator.check_mail_from(ip, &case.mailfrom, &case.helo));
                (eval, evaluator.lookup().cache().stats())
            };
            let (on, stats) = run(Speculation::default());
            let (off, _) = run(Speculation::OFF);
            // Evaluation that followed an include or redirect to another
            // domain found that record asked for speculatively.
            let followed = on
                .trace
                .iter()
                .any(|e| matches!(e, TraceEvent::Enter { depth: 1.., domain, .. } if *domain != *on.domain));
            if followed && stats.speculative_queries == 0 {
                return Err(format!("nothing was speculated: {stats:?}\n{:#?}", on.trace).into());
            }
            if describe(&on) != describe(&off) {
                return Err(format!(
                    "speculation changed the evaluation\nwith:    {}\nwithout: {}",
                    describe(&on),
                    describe(&off)
                )
                .into());
            }
            on
        }
        Mode::Compiled => {
            let zone = Arc::new(zone);
            let config = |enabled: bool| {
                let mut config = CheckerConfig::default()
                    .with_zone(Arc::clone(&zone))
                    .with_options(options.clone().with_timestamp(0));
                config.compiled.enabled = enabled;
                config.worker_threads = 1;
                config
            };
            let plain = Checker::new(config(false)).map_err(|e| e.to_string())?;
            let reference = plain.check_blocking(ip, &case.mailfrom, &case.helo);
            let checker = Checker::new(config(true)).map_err(|e| e.to_string())?;
            for _ in 0..2 {
                checker.check_blocking(ip, &case.mailfrom, &case.helo);
            }
            let compiled = checker.check_blocking(ip, &case.mailfrom, &case.helo);
            let decided = checker.with_compiled_policy(&reference.domain, |p| p.decides(ip)).unwrap_or(false);
            if decided {
                COMPILED_DECIDED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if describe(&reference) != describe(&compiled) {
                return Err(format!(
                    "the compiled policy (deciding this address: {decided}) changed the evaluation\n\
                     evaluator: {}\ncompiled:  {}",
                    describe(&reference),
                    describe(&compiled)
                )
                .into());
            }
            // The same headers, once both carry the compiled policy's
            // (exact) address space: the evaluator alone knows a lower bound.
            let mut reference = reference;
            reference.authorized = compiled.authorized;
            reference.wide_open = compiled.wide_open;
            for render in [
                |e: &Evaluation| spf_core::headers::received_spf(e, Some("rx.example")),
                |e: &Evaluation| spf_core::headers::authentication_results(e, "rx.example"),
            ] {
                if render(&reference) != render(&compiled) {
                    return Err(
                        format!("headers differ:\n{}\n{}", render(&reference), render(&compiled)).into()
                    );
                }
            }
            compiled
        }
    };
    let result_ok = case.expected.contains(&eval.result);
    let explanation_ok = match &case.explanation {
        Some(expected) if eval.result == SpfResult::Fail => eval.explanation.as_deref() == Some(expected),
        _ => true,
    };
    if result_ok && explanation_ok {
        return Ok(());
    }
    let mut message = format!(
        "expected {:?}{}, got {} (explanation {:?})\nreason: {}\nmatched: {:?}\nlookups: {} dns, {} void",
        case.expected,
        case.explanation.as_ref().map(|e| format!(" with explanation {e:?}")).unwrap_or_default(),
        eval.result,
        eval.explanation,
        eval.reason.as_ref().map(ToString::to_string).unwrap_or_default(),
        eval.matched,
        eval.dns_lookups,
        eval.void_lookups,
    );
    if let Some(note) = &case.note {
        message.push_str(&format!("\nnote: {note}"));
    }
    message.push_str("\ntrace:");
    for event in &eval.trace {
        message.push_str(&format!("\n  {event:?}"));
    }
    Err(message.into())
}

/// Everything an evaluation says, for comparing two.
fn describe(eval: &Evaluation) -> String {
    format!(
        "{} {:?} {:?} {:?} dns={} void={} trace={:?}",
        eval.result,
        eval.explanation,
        eval.matched,
        eval.reason,
        eval.dns_lookups,
        eval.void_lookups,
        eval.trace
    )
}
