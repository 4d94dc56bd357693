//! The evaluator over a fuzzer-chosen DNS world (see `world.rs`): records,
//! CNAME chains and loops, empty names, timeouts, any client, sender and
//! HELO name. Every check returns without panicking, within the limits of
//! RFC 7208 §4.6.4 and the query cap, and its outputs stay within their
//! bounds: explanation, trace, and every line of both header fields.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use spf_core::dns::{Cache, CacheConfig, CachedLookup, Lookup, LookupResult, RecordType, Zone};
use spf_core::eval::MAX_EVENTS;
use spf_core::headers::{MAX_LINE_OCTETS, authentication_results, received_spf};
use spf_core::macros::MAX_EXPLANATION;
use spf_core::{
    CheckOptions, CheckRequest, Evaluation, Evaluator, Limits, Speculation, SpfResult, VoidCounting,
};

#[path = "world.rs"]
mod world;

/// Option bits of `@opts`.
const CACHED: u32 = 1;
const YIELDING: u32 = 2;
const NO_SPECULATION: u32 = 4;
const PER_LOOKUP: u32 = 8;
const NO_TRACE: u32 = 16;
const RECEIVER: u32 = 32;
const LATER_INCLUDES: u32 = 64;

/// A zone whose every answer comes after a trip through the scheduler, as
/// a network answer would: speculative lookups start for such answers.
struct Yielding(Zone);

impl Lookup for Yielding {
    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        tokio::task::yield_now().await;
        self.0.lookup(name, rtype).await
    }
}

fn check_bounds(eval: &Evaluation, options: &CheckOptions, receiver: Option<&str>, authserv: &str) {
    let limits = &options.limits;
    // §4.6.4: the term over the limit is counted, and ends the check in permerror.
    assert!(eval.dns_lookups <= limits.dns_terms + 1, "{} DNS terms", eval.dns_lookups);
    if eval.dns_lookups > limits.dns_terms {
        assert_eq!(eval.result, SpfResult::PermError, "over the term limit");
    }
    assert!(eval.void_lookups <= limits.void_lookups + 1, "{} void lookups", eval.void_lookups);
    if eval.void_lookups > limits.void_lookups {
        assert_eq!(eval.result, SpfResult::PermError, "over the void limit");
    }
    assert!(eval.dns_queries <= limits.max_queries, "{} queries", eval.dns_queries);
    if let Some(explanation) = &eval.explanation {
        assert_eq!(eval.result, SpfResult::Fail, "an explanation only on fail");
        assert!(explanation.len() <= MAX_EXPLANATION, "explanation of {} octets", explanation.len());
    }
    assert!(eval.trace.len() <= MAX_EVENTS + 1, "{} trace events", eval.trace.len());
    if !options.trace {
        assert!(eval.trace.is_empty());
    }
    let _ = eval.summary();
    for field in [received_spf(eval, receiver), authentication_results(eval, authserv)] {
        assert!(!field.contains('\r'), "{field:?}");
        for (i, line) in field.split('\n').enumerate() {
            assert!(line.len() <= MAX_LINE_OCTETS, "a header line of {} octets", line.len());
            assert!(i == 0 || line.starts_with(' '), "a fold not before a space: {field:?}");
        }
    }
}

fn run<L: Lookup>(
    evaluator: &Evaluator<L>,
    request: &CheckRequest,
    runtime: &tokio::runtime::Runtime,
) -> Evaluation {
    runtime.block_on(evaluator.check(request))
}

fuzz_target!(|data: &[u8]| {
    let world = world::World::parse(data);
    let opts = world.opts;
    let mut limits = Limits::default();
    if opts & PER_LOOKUP != 0 {
        limits = limits.with_void_counting(VoidCounting::PerLookup);
    }
    let mut speculation = if opts & NO_SPECULATION != 0 { Speculation::OFF } else { Speculation::default() };
    if opts & LATER_INCLUDES != 0 {
        speculation.later_includes = true;
    }
    let receiver = (opts & RECEIVER != 0).then(|| world.helo.clone());
    let mut options = CheckOptions::default()
        .with_limits(limits)
        .with_trace(opts & NO_TRACE == 0)
        .with_timestamp(1_700_000_000)
        .with_speculation(speculation)
        .with_deadline(Some(Duration::from_secs(2)));
    if let Some(receiver) = &receiver {
        options = options.with_receiver(receiver.clone());
    }
    let request = if world.helo_mode {
        CheckRequest::helo(world.ip, &world.helo)
    } else {
        CheckRequest::mail_from(world.ip, &world.mail_from, &world.helo)
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let receiver = receiver.as_deref();
    let authserv = world.helo.as_str();
    if opts & CACHED == 0 {
        let eval = run(&Evaluator::new(&world.zone, options.clone()), &request, &runtime);
        check_bounds(&eval, &options, receiver, authserv);
        return;
    }
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    let evals = if opts & YIELDING != 0 {
        let evaluator = Evaluator::new(CachedLookup::new(Yielding(world.zone), cache), options.clone());
        [run(&evaluator, &request, &runtime), run(&evaluator, &request, &runtime)]
    } else {
        let evaluator = Evaluator::new(CachedLookup::new(world.zone, cache), options.clone());
        [run(&evaluator, &request, &runtime), run(&evaluator, &request, &runtime)]
    };
    for eval in &evals {
        check_bounds(eval, &options, receiver, authserv);
    }
    // The second check answers from the cache the first one filled: the
    // same outcome (a deadline aside).
    if evals.iter().all(|e| e.reason != Some(spf_core::Reason::Deadline)) {
        assert_eq!(evals[0].result, evals[1].result, "a warm cache changed the result");
        assert_eq!(evals[0].explanation, evals[1].explanation, "a warm cache changed the explanation");
    }
});
