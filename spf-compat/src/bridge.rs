//! The one module that speaks to spf-core: evaluation (check_host() over
//! the caller's DNS layers), real DNS (fastspf's resolver and shared
//! cache), record and macro parsing, macro expansion. Everything else in
//! the crate deals in libspf2's C structures and the plain Rust types
//! defined here and in `dns.rs`.

use std::ffi::c_int;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use spf_core::dns::{
    Answer, Cache, CacheConfig, CachedLookup, Lookup, LookupError, LookupResult, RecordType, Records,
    ResolverSettings, TempFailure, TxtRecords,
};
use spf_core::macros::{MacroContext, MacroString, MacroVars};
use spf_core::record::{Modifier, ParseErrorKind, Term};
use spf_core::{
    CheckOptions, Evaluation, Evaluator, Identity, Limits, Reason, Record, Speculation, SpfResult,
};

use crate::abi::*;
use crate::dns::{self, RrData, RrSet, Step};

/// The most time one check may take, like fastspf's own default (RFC 7208
/// §4.6.4: "at least 20 seconds"). libspf2 has no such bound; here a
/// lookup asked for after it has passed fails at once as a temporary
/// error, so the check ends in `temperror`.
pub(crate) const CHECK_DEADLINE: Duration = Duration::from_secs(20);

/// What a check needs to know about its request.
#[derive(Debug)]
pub(crate) struct CheckInput<'a> {
    pub ip: IpAddr,
    /// `<domain>`: the domain whose policy is checked.
    pub domain: &'a str,
    /// `<sender>`, always `local@domain`.
    pub sender: &'a str,
    pub helo: &'a str,
    pub helo_identity: bool,
    /// `%{r}`; libspf2's `rec_dom`.
    pub receiver: Option<&'a str>,
    /// The server's explanation macro text (libspf2's default or the
    /// caller's), used on `fail` without `exp=`.
    pub explanation: &'a [u8],
    pub max_dns_mech: u32,
    pub max_dns_mx: u32,
    pub max_dns_ptr: u32,
    /// A record to evaluate at `domain` instead of the one in DNS
    /// (`SPF_request_query_fallback`, `SPF_request_query_rcptto`).
    pub record_override: Option<&'a str>,
}

/// A check's outcome in libspf2's terms.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub result: SPF_result_t,
    pub reason: SPF_reason_t,
    pub err: SPF_errcode_t,
    /// The explanation, for `fail`, `softfail` and `neutral` (the results
    /// libspf2 explains).
    pub explanation: Option<String>,
    /// Why the result is an error (fastspf's reason text).
    pub problem: Option<String>,
    pub dns_lookups: u32,
}

/// Runs check_host() over the DNS layer stack `resolver`.
pub(crate) fn check(input: &CheckInput<'_>, resolver: *mut SPF_dns_server_t) -> Outcome {
    let default_explanation = MacroString::parse(input.explanation, MacroContext::Explanation)
        .unwrap_or_else(|_| spf_core::eval::default_explanation());
    let mut limits = Limits::default().with_dns_terms(input.max_dns_mech);
    limits.mx_names = input.max_dns_mx;
    limits.ptr_names = input.max_dns_ptr;
    let mut options = CheckOptions::default()
        .with_limits(limits)
        .with_default_explanation(default_explanation.clone())
        .with_trace(false)
        .with_speculation(Speculation::OFF)
        .with_deadline(Some(CHECK_DEADLINE));
    options.receiver = input.receiver.map(str::to_string);
    let lookup = StackLookup {
        top: resolver,
        deadline: Instant::now() + CHECK_DEADLINE,
        record_override: input
            .record_override
            .map(|r| (input.domain.trim_end_matches('.').to_ascii_lowercase(), r.to_string())),
    };
    let evaluator = Evaluator::new(lookup, options);
    let identity = if input.helo_identity { Identity::Helo } else { Identity::MailFrom };
    let eval = block_on(evaluator.check_host(input.ip, input.domain, input.sender, input.helo, identity));
    outcome(&eval, input, &default_explanation)
}

fn outcome(eval: &Evaluation, input: &CheckInput<'_>, default_explanation: &MacroString) -> Outcome {
    let result = match eval.result {
        SpfResult::None => SPF_RESULT_NONE,
        SpfResult::Neutral => SPF_RESULT_NEUTRAL,
        SpfResult::Pass => SPF_RESULT_PASS,
        SpfResult::Fail => SPF_RESULT_FAIL,
        SpfResult::SoftFail => SPF_RESULT_SOFTFAIL,
        SpfResult::TempError => SPF_RESULT_TEMPERROR,
        SpfResult::PermError => SPF_RESULT_PERMERROR,
    };
    // libspf2 returns SPF_E_SUCCESS when a mechanism (or the end of the
    // record) decided, and an error code for none, permerror, temperror.
    let err = match (&eval.result, &eval.reason) {
        (SpfResult::None, _) => SPF_E_NOT_SPF,
        (SpfResult::TempError, _) => SPF_E_DNS_ERROR,
        (SpfResult::PermError, Some(reason)) => permerror_code(reason),
        (SpfResult::PermError, None) => SPF_E_SYNTAX,
        _ => SPF_E_SUCCESS,
    };
    let reason = match eval.result {
        SpfResult::None | SpfResult::TempError | SpfResult::PermError => SPF_REASON_NONE,
        _ if eval.matched.is_some() => SPF_REASON_MECH,
        _ => SPF_REASON_DEFAULT,
    };
    let explanation = match eval.result {
        SpfResult::Fail => eval.explanation.clone(),
        // libspf2 explains these too, with the server's explanation
        // (RFC 7208 §6.2 gives `exp=` to `fail` only); not `none`.
        SpfResult::SoftFail | SpfResult::Neutral => {
            Some(expand_with(default_explanation, input, &eval.domain))
        }
        _ => None,
    };
    let problem = match eval.result {
        SpfResult::None | SpfResult::TempError | SpfResult::PermError => {
            Some(eval.reason.as_ref().map_or_else(|| eval.result.to_string(), ToString::to_string))
        }
        _ => None,
    };
    Outcome { result, reason, err, explanation, problem, dns_lookups: eval.dns_lookups }
}

/// libspf2's error code for a permerror.
fn permerror_code(reason: &Reason) -> SPF_errcode_t {
    match reason {
        Reason::MultipleRecords { .. } => SPF_E_MULTIPLE_RECORDS,
        Reason::Syntax { error, .. } => parse_error_code(&error.kind),
        Reason::Limit { .. } => SPF_E_BIG_DNS,
        Reason::IncludeNone { .. } => SPF_E_INCLUDE_RETURNED_NONE,
        Reason::RedirectNone { .. } | Reason::NoRecord { .. } | Reason::InvalidDomain { .. } => SPF_E_NOT_SPF,
        _ => SPF_E_SYNTAX,
    }
}

fn parse_error_code(kind: &ParseErrorKind) -> SPF_errcode_t {
    match kind {
        ParseErrorKind::NotSpf1 => SPF_E_NOT_SPF,
        ParseErrorKind::InvalidByte { .. } => SPF_E_INVALID_CHAR,
        ParseErrorKind::UnknownMechanism => SPF_E_UNKNOWN_MECH,
        ParseErrorKind::InvalidArgument { .. } => SPF_E_INVALID_OPT,
        ParseErrorKind::EmptyDomain => SPF_E_MISSING_OPT,
        ParseErrorKind::InvalidDomainEnd => SPF_E_BAD_HOST_TLD,
        ParseErrorKind::InvalidCidr => SPF_E_INVALID_CIDR,
        ParseErrorKind::InvalidIp => SPF_E_INVALID_IP4,
        ParseErrorKind::Macro(_) => SPF_E_INVALID_VAR,
        _ => SPF_E_SYNTAX,
    }
}

fn expand_with(macro_string: &MacroString, input: &CheckInput<'_>, domain: &str) -> String {
    let (local_part, sender_domain) = input.sender.rsplit_once('@').unwrap_or(("postmaster", input.sender));
    let vars = MacroVars {
        sender: input.sender,
        local_part,
        sender_domain,
        domain,
        ip: input.ip,
        helo: input.helo,
        receiver: input.receiver.unwrap_or("unknown"),
        timestamp: now(),
        validated_name: "unknown",
    };
    macro_string.expand(&vars)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A failed compilation: libspf2's error code and fastspf's message.
#[derive(Debug)]
pub(crate) struct CompileError {
    pub code: SPF_errcode_t,
    pub message: String,
}

/// What `SPF_record_t`'s header fields say about a record.
#[derive(Debug)]
pub(crate) struct RecordSummary {
    /// The record as fastspf prints it (`v=spf1 ...`), which re-parses to
    /// the same record.
    pub text: String,
    pub num_mech: usize,
    pub num_mod: usize,
    pub num_dns_mech: usize,
}

/// Parses an SPF record.
pub(crate) fn parse_record(text: &[u8]) -> Result<RecordSummary, CompileError> {
    let record = Record::parse_bytes(text)
        .map_err(|e| CompileError { code: parse_error_code(&e.kind), message: e.to_string() })?;
    let mut summary = RecordSummary { text: record.to_string(), num_mech: 0, num_mod: 0, num_dns_mech: 0 };
    for term in record.terms() {
        match term {
            Term::Directive(d) => {
                summary.num_mech += 1;
                summary.num_dns_mech += usize::from(d.mechanism.queries_dns());
            }
            Term::Modifier(Modifier::Redirect(_)) => {
                // libspf2 counts redirect= as a DNS mechanism.
                summary.num_mod += 1;
                summary.num_dns_mech += 1;
            }
            Term::Modifier(_) => summary.num_mod += 1,
        }
    }
    Ok(summary)
}

/// The macro text of modifier `name` (`redirect`, `exp` or any other) of a
/// record that [`parse_record`] accepted.
pub(crate) fn record_modifier(text: &str, name: &str) -> Option<String> {
    let record = Record::parse(text).ok()?;
    record.terms().iter().find_map(|term| match term {
        Term::Modifier(Modifier::Redirect(spec)) if name.eq_ignore_ascii_case("redirect") => {
            Some(spec.to_string())
        }
        Term::Modifier(Modifier::Exp(spec)) if name.eq_ignore_ascii_case("exp") => Some(spec.to_string()),
        Term::Modifier(Modifier::Unknown { name: n, value }) if n.eq_ignore_ascii_case(name) => {
            Some(value.to_string())
        }
        _ => None,
    })
}

/// Checks a macro-string (explanation syntax: spaces and `c`, `r`, `t` allowed).
pub(crate) fn parse_macro(text: &[u8]) -> Result<(), CompileError> {
    MacroString::parse(text, MacroContext::Explanation)
        .map(drop)
        .map_err(|e| CompileError { code: SPF_E_INVALID_VAR, message: e.to_string() })
}

/// The values macros expand to, from a request.
#[derive(Debug)]
pub(crate) struct ExpandVars<'a> {
    pub ip: Option<IpAddr>,
    pub sender: &'a str,
    pub domain: &'a str,
    pub helo: &'a str,
    pub receiver: &'a str,
}

/// Expands a macro-string that [`parse_macro`] accepted.
pub(crate) fn expand_macro(text: &[u8], vars: &ExpandVars<'_>) -> Result<String, CompileError> {
    let parsed = MacroString::parse(text, MacroContext::Explanation)
        .map_err(|e| CompileError { code: SPF_E_INVALID_VAR, message: e.to_string() })?;
    let (local_part, sender_domain) = vars.sender.rsplit_once('@').unwrap_or(("postmaster", vars.sender));
    let macro_vars = MacroVars {
        sender: vars.sender,
        local_part,
        sender_domain,
        domain: vars.domain,
        ip: vars.ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        helo: vars.helo,
        receiver: vars.receiver,
        timestamp: now(),
        validated_name: "unknown",
    };
    Ok(parsed.expand(&macro_vars))
}

/// spf-core's lookups, walking the caller's DNS layers.
struct StackLookup {
    top: *mut SPF_dns_server_t,
    deadline: Instant,
    /// (domain, record): TXT at `domain` answers with this record.
    record_override: Option<(String, String)>,
}

// SAFETY: a StackLookup lives inside one check, which runs to completion
// on the calling thread (`block_on` below); the layers it points to belong
// to the caller's server, which libspf2's rules forbid freeing during a
// query.
unsafe impl Send for StackLookup {}
// SAFETY: as above: only the checking thread uses it.
unsafe impl Sync for StackLookup {}

impl Lookup for StackLookup {
    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        if Instant::now() >= self.deadline {
            return Err(LookupError::Temporary(TempFailure::Timeout));
        }
        if let (RecordType::Txt, Some((domain, record))) = (rtype, &self.record_override)
            && name.eq_ignore_ascii_case(domain)
        {
            let txt = TxtRecords::new([[record.as_bytes().to_vec()]]);
            return Ok(Answer { records: Records::Txt(Arc::new(txt)), ttl: 0 });
        }
        match dns::walk(self.top, name, ns_type_of(rtype)) {
            Step::Resolver => resolve(name, rtype),
            Step::Answer(set) => to_lookup_result(&set, rtype),
        }
    }
}

fn ns_type_of(rtype: RecordType) -> ns_type {
    match rtype {
        RecordType::Txt => ns_t_txt,
        RecordType::A => ns_t_a,
        RecordType::Aaaa => ns_t_aaaa,
        RecordType::Mx => ns_t_mx,
        RecordType::Ptr => ns_t_ptr,
    }
}

fn record_type_of(rr_type: ns_type) -> Option<RecordType> {
    Some(match rr_type {
        ns_t_txt => RecordType::Txt,
        ns_t_a => RecordType::A,
        ns_t_aaaa => RecordType::Aaaa,
        ns_t_mx => RecordType::Mx,
        ns_t_ptr => RecordType::Ptr,
        _ => return None,
    })
}

/// A layer's answer in spf-core's terms. Records of another type than the
/// one asked are ignored, as libspf2 ignores them.
fn to_lookup_result(set: &RrSet, rtype: RecordType) -> LookupResult {
    let ttl = set.ttl;
    match set.herrno {
        NETDB_SUCCESS => {}
        HOST_NOT_FOUND => return Err(LookupError::NxDomain { ttl }),
        NO_DATA => return Err(LookupError::NoData { ttl }),
        TRY_AGAIN => return Err(LookupError::Temporary(TempFailure::Timeout)),
        // RFC 7208 §4.4: any other error is a temporary one.
        other => return Err(LookupError::Temporary(TempFailure::Other(format!("h_errno {other}").into()))),
    }
    let text = |d: &RrData| match d {
        RrData::Text(t) => Some(t.clone()),
        _ => None,
    };
    let name = |d: &RrData| match d {
        RrData::Text(t) => Some(String::from_utf8_lossy(t).trim_end_matches('.').to_ascii_lowercase().into()),
        _ => None,
    };
    let records = match rtype {
        RecordType::Txt => {
            Records::Txt(Arc::new(TxtRecords::new(set.data.iter().filter_map(text).map(|t| [t]))))
        }
        RecordType::A => Records::A(
            set.data.iter().filter_map(|d| if let RrData::A(a) = d { Some(*a) } else { None }).collect(),
        ),
        RecordType::Aaaa => Records::Aaaa(
            set.data.iter().filter_map(|d| if let RrData::Aaaa(a) = d { Some(*a) } else { None }).collect(),
        ),
        RecordType::Mx => Records::Mx(set.data.iter().filter_map(name).collect()),
        RecordType::Ptr => Records::Ptr(set.data.iter().filter_map(name).collect()),
    };
    if set.rr_type != ns_type_of(rtype) || records.is_empty() {
        return Err(LookupError::NoData { ttl });
    }
    Ok(Answer { records, ttl })
}

/// fastspf's resolver and its shared cache, made on first use and made
/// again in a child process after `fork()` (a runtime's threads do not
/// survive it).
struct Resolver {
    pid: u32,
    runtime: tokio::runtime::Runtime,
    lookup: CachedLookup<spf_core::dns::Resolver>,
}

static RESOLVER: Mutex<Option<Arc<Resolver>>> = Mutex::new(None);

fn resolver() -> Result<Arc<Resolver>, String> {
    let mut slot = RESOLVER.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if let Some(resolver) = slot.as_ref() {
        if resolver.pid == pid {
            return Ok(Arc::clone(resolver));
        }
        // Inherited through fork(): its threads are gone, and dropping it
        // would wait for them. Leave it be.
        if let Some(stale) = slot.take() {
            std::mem::forget(stale);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fastspf-compat-dns")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let hickory = {
        let _context = runtime.enter();
        spf_core::dns::Resolver::new(&ResolverSettings::default()).map_err(|e| e.to_string())?
    };
    let lookup = CachedLookup::new(hickory, Arc::new(Cache::new(CacheConfig::default())));
    let resolver = Arc::new(Resolver { pid, runtime, lookup });
    *slot = Some(Arc::clone(&resolver));
    Ok(resolver)
}

/// A query through fastspf's resolver (`/etc/resolv.conf`) and shared cache.
pub(crate) fn resolve(name: &str, rtype: RecordType) -> LookupResult {
    match resolver() {
        Ok(r) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            r.runtime.block_on(r.lookup.lookup(&name, rtype))
        }
        Err(e) => Err(LookupError::Temporary(TempFailure::Other(e.into()))),
    }
}

/// [`resolve`] for a C caller of the resolv layer: the answer as a set.
pub(crate) fn resolve_set(name: &str, rr_type: ns_type) -> RrSet {
    let Some(rtype) = record_type_of(rr_type) else {
        // The SPF RR type (99) and anything else SPF does not use: no data
        // (RFC 7208 §3.1: only TXT records are consulted).
        return RrSet { herrno: NO_DATA, ttl: 0, rr_type, data: Vec::new() };
    };
    match resolve(name, rtype) {
        Ok(answer) => {
            let data = match &answer.records {
                Records::Txt(t) => t.joined().map(RrData::Text).collect(),
                Records::A(a) => a.iter().copied().map(RrData::A).collect(),
                Records::Aaaa(a) => a.iter().copied().map(RrData::Aaaa).collect(),
                Records::Mx(n) | Records::Ptr(n) => {
                    n.iter().map(|n| RrData::Text(n.as_bytes().to_vec())).collect()
                }
            };
            RrSet { herrno: NETDB_SUCCESS, ttl: answer.ttl, rr_type, data }
        }
        Err(LookupError::NxDomain { ttl }) => {
            RrSet { herrno: HOST_NOT_FOUND, ttl, rr_type, data: Vec::new() }
        }
        Err(LookupError::NoData { ttl }) => RrSet { herrno: NO_DATA, ttl, rr_type, data: Vec::new() },
        Err(LookupError::Temporary(_)) => RrSet { herrno: TRY_AGAIN, ttl: 0, rr_type, data: Vec::new() },
    }
}

/// Drives a future whose I/O happens inside its own polls (the DNS layers
/// answer synchronously) on the calling thread.
fn block_on<F: Future>(work: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut work = std::pin::pin!(work);
    loop {
        if let Poll::Ready(output) = work.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// Whether an int from C is a sane limit: negative values mean 0.
pub(crate) fn limit(value: c_int) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_summarise_like_libspf2() {
        let s =
            parse_record(b"v=spf1 a mx ip4:192.0.2.0/24 include:x.example redirect=y.example exp=e.example")
                .expect("valid");
        assert_eq!((s.num_mech, s.num_mod, s.num_dns_mech), (4, 2, 4));
        assert_eq!(record_modifier(&s.text, "exp").as_deref(), Some("e.example"));
        assert_eq!(record_modifier(&s.text, "nope"), None);
        let e = parse_record(b"v=spf1 foo:bar").expect_err("unknown mechanism");
        assert_eq!(e.code, SPF_E_UNKNOWN_MECH);
    }

    #[test]
    fn macros_expand_from_request_values() {
        let vars = ExpandVars {
            ip: Some("192.0.2.1".parse().expect("ip")),
            sender: "alice@example.com",
            domain: "example.com",
            helo: "mail.example.com",
            receiver: "mx.example.net",
        };
        let out = expand_macro(b"%{l} at %{d} from %{i} via %{r}", &vars).expect("valid");
        assert_eq!(out, "alice at example.com from 192.0.2.1 via mx.example.net");
        assert_eq!(parse_macro(b"%{z}").expect_err("bad letter").code, SPF_E_INVALID_VAR);
    }
}
