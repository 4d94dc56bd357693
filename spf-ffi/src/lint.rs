//! `fastspf_lint`: the mistakes in an SPF record, and what it authorizes.

use std::ffi::{CString, c_char};

use spf_core::CheckOptions;
use spf_core::lint::{Diagnostic, LintOptions, LintReport, LintRequest, Severity};

use crate::boundary::{Handle, guard, guard_value, non_null, text_or_none};
use crate::checker::fastspf_checker;
use crate::config::fastspf_config;
use crate::status::fastspf_status;

/// How serious a diagnostic is. Numbers are stable.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fastspf_severity {
    /// Receivers get permerror, none or temperror where a policy was meant,
    /// or the record lets anyone pass.
    Error = 0,
    /// Works, but wastes the lookup budget, is ignored, or breaks easily.
    Warning = 1,
    /// Worth knowing.
    Info = 2,
}

impl From<Severity> for fastspf_severity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Error => Self::Error,
            Severity::Warning => Self::Warning,
            Severity::Info => Self::Info,
        }
    }
}

/// The result of one lint. Opaque; one owner. Strings its accessors return
/// belong to it and stay valid until `fastspf_lint_free`. May be read from
/// any thread, freed once.
pub struct fastspf_lint {
    _private: [u8; 0],
}

struct DiagnosticC {
    severity: fastspf_severity,
    code: CString,
    message: CString,
    domain: CString,
    term: Option<CString>,
    offset: i64,
}

pub(crate) struct LintObj {
    diagnostics: Vec<DiagnosticC>,
    errors: usize,
    dns_lookups: u32,
    json: CString,
}

/// A C string of `text`, with any NUL byte replaced.
fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "?")).unwrap_or_default()
}

impl LintObj {
    fn new(report: &LintReport) -> LintObj {
        let diagnostic = |d: &Diagnostic| DiagnosticC {
            severity: d.severity.into(),
            code: c_string(d.code),
            message: c_string(&d.message),
            domain: c_string(&d.domain),
            term: d.term.as_deref().map(c_string),
            offset: d.offset.and_then(|o| i64::try_from(o).ok()).unwrap_or(-1),
        };
        LintObj {
            diagnostics: report.diagnostics.iter().map(diagnostic).collect(),
            errors: report.count(Severity::Error),
            dns_lookups: report.dns_lookup_terms,
            json: c_string(&serde_json::to_string(report).unwrap_or_default()),
        }
    }
}

// SAFETY: a zero-sized type declared for C, never created by Rust.
unsafe impl Handle for fastspf_lint {
    type Rust = LintObj;
}

/// # Safety
/// `lint` is NULL or a live `fastspf_lint`.
unsafe fn get<'a>(lint: *const fastspf_lint) -> Option<&'a LintObj> {
    unsafe { fastspf_lint::get_or_none(lint) }
}

/// # Safety
/// `lint` is NULL or a live `fastspf_lint`.
unsafe fn diagnostic<'a>(lint: *const fastspf_lint, index: usize) -> Option<&'a DiagnosticC> {
    unsafe { get(lint) }.and_then(|l| l.diagnostics.get(index))
}

/// What to lint, from the `domain` and `record` arguments.
fn request(domain: Option<&str>, record: Option<&str>) -> Result<LintRequest, fastspf_status> {
    match (record, domain) {
        (Some(record), domain) => Ok(LintRequest::record(record, domain.map(str::to_string))),
        (None, Some(domain)) => Ok(LintRequest::domain(domain)),
        (None, None) => Err(fastspf_status::InvalidArgument),
    }
}

/// Lint options with a checker's limits and deadline; the rest is
/// spf-core's default.
fn options(check: &CheckOptions) -> LintOptions {
    let mut options = LintOptions::default();
    options.limits = check.limits;
    options.deadline = check.deadline;
    options
}

/// Lints an SPF record through `checker`: its DNS, its cache (shared with
/// its checks: the answers a lint fetches are cached for the checks that
/// follow, and the other way round), its lookup limits and its deadline
/// (what is not known by then is reported as "analysis-truncated").
/// Blocks until done. The form for a program that holds a checker (a
/// milter checking a domain it is about to see mail from, an admin command
/// of a daemon); `fastspf_lint_run` is the stand-alone form.
///
/// `domain` and `record` as for `fastspf_lint_run`. `*out` receives the
/// result; free it with `fastspf_lint_free`.
///
/// FASTSPF_STATUS_NULL_ARGUMENT for a NULL `checker` or `out`;
/// FASTSPF_STATUS_INVALID_ARGUMENT when both `domain` and `record` are
/// NULL; FASTSPF_STATUS_INVALID_UTF8. Safe to call from any thread, at the
/// same time as checks, and from a callback of an asynchronous check.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_checker_lint(
    checker: *const fastspf_checker,
    domain: *const c_char,
    record: *const c_char,
    out: *mut *mut fastspf_lint,
) -> fastspf_status {
    guard(|| {
        let checker = unsafe { fastspf_checker::get(checker)? };
        let domain = unsafe { text_or_none(domain)? };
        let record = unsafe { text_or_none(record)? };
        non_null!(out);
        let request = request(domain, record)?;
        let report = checker.lint_blocking(&request, &options(checker.options()));
        unsafe { fastspf_lint::give(out, LintObj::new(&report)) }
    })
}

/// Lints an SPF record, blocking until done (at most the configuration's
/// deadline; what is not known by then is reported as
/// "analysis-truncated").
///
/// The stand-alone form, for a program without a checker (a command-line
/// tool): each call reads the configuration's zone files, sets up a
/// resolver and a thread of its own, and fetches every answer anew (no
/// cache). A program that holds a checker calls `fastspf_checker_lint`,
/// which uses the checker's DNS and shares its cache.
///
/// With `record` NULL, lints the record `domain` publishes. With a
/// `record` text, lints that draft as if published at `domain` (the rest of
/// DNS as usual), or on its own when `domain` is NULL. DNS comes from
/// `config` (its zone files or resolvers; its lookup limits apply); the
/// config is only read. `*out` receives the result; free it with
/// `fastspf_lint_free`.
///
/// FASTSPF_STATUS_INVALID_ARGUMENT when both `domain` and `record` are NULL;
/// FASTSPF_STATUS_ZONE_FILE, FASTSPF_STATUS_SETUP as for
/// `fastspf_checker_new`. Safe to call from any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_run(
    config: *const fastspf_config,
    domain: *const c_char,
    record: *const c_char,
    out: *mut *mut fastspf_lint,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { fastspf_config::get(config)? };
        let domain = unsafe { text_or_none(domain)? };
        let record = unsafe { text_or_none(record)? };
        non_null!(out);
        let request = request(domain, record)?;
        let mut checker_config = config.checker_config()?;
        // A checker of its own for this one lint: one thread, no
        // speculation (nothing would stay to use it).
        checker_config.worker_threads = 1;
        checker_config.options.speculation = spf_core::Speculation::OFF;
        let options = options(&checker_config.options);
        let checker = spf_core::Checker::new(checker_config).map_err(|_| fastspf_status::Setup)?;
        let report = checker.lint_blocking(&request, &options);
        unsafe { fastspf_lint::give(out, LintObj::new(&report)) }
    })
}

/// How many diagnostics the lint found (errors first, then warnings, then
/// notes). 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_count(lint: *const fastspf_lint) -> usize {
    guard_value(0, || unsafe { get(lint) }.map_or(0, |l| l.diagnostics.len()))
}

/// How many diagnostics are errors (non-zero: the record needs fixing).
/// 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_errors(lint: *const fastspf_lint) -> usize {
    guard_value(0, || unsafe { get(lint) }.map_or(0, |l| l.errors))
}

/// DNS-querying terms over the whole include tree (RFC 7208 4.6.4 allows
/// 10). 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_dns_lookups(lint: *const fastspf_lint) -> u32 {
    guard_value(0, || unsafe { get(lint) }.map_or(0, |l| l.dns_lookups))
}

/// The severity of diagnostic `index`. FASTSPF_SEVERITY_INFO for NULL or an
/// index out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_diag_severity(
    lint: *const fastspf_lint,
    index: usize,
) -> fastspf_severity {
    guard_value(fastspf_severity::Info, || {
        unsafe { diagnostic(lint, index) }.map_or(fastspf_severity::Info, |d| d.severity)
    })
}

/// The stable code of diagnostic `index`, e.g. `"plus-all"`. NULL for NULL
/// or an index out of range. Owned by `lint`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_diag_code(lint: *const fastspf_lint, index: usize) -> *const c_char {
    guard_value(std::ptr::null(), || {
        unsafe { diagnostic(lint, index) }.map_or(std::ptr::null(), |d| d.code.as_ptr())
    })
}

/// What is wrong and what to do, for people. NULL for NULL or an index out
/// of range. Owned by `lint`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_diag_message(lint: *const fastspf_lint, index: usize) -> *const c_char {
    guard_value(std::ptr::null(), || {
        unsafe { diagnostic(lint, index) }.map_or(std::ptr::null(), |d| d.message.as_ptr())
    })
}

/// The domain whose record the diagnostic is about ("" for a record linted
/// without a domain). NULL for NULL or an index out of range. Owned by `lint`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_diag_domain(lint: *const fastspf_lint, index: usize) -> *const c_char {
    guard_value(std::ptr::null(), || {
        unsafe { diagnostic(lint, index) }.map_or(std::ptr::null(), |d| d.domain.as_ptr())
    })
}

/// The term the diagnostic refers to, as written, or NULL when it refers to
/// no single term (or for NULL / an index out of range). Owned by `lint`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_diag_term(lint: *const fastspf_lint, index: usize) -> *const c_char {
    guard_value(std::ptr::null(), || {
        unsafe { diagnostic(lint, index) }
            .and_then(|d| d.term.as_ref())
            .map_or(std::ptr::null(), |t| t.as_ptr())
    })
}

/// The byte offset of that term in its record, or -1 when there is none
/// (or for NULL / an index out of range).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_diag_offset(lint: *const fastspf_lint, index: usize) -> i64 {
    guard_value(-1, || unsafe { diagnostic(lint, index) }.map_or(-1, |d| d.offset))
}

/// The whole report as one JSON object: diagnostics, the authorized address
/// space (counts as decimal strings, fractions, CIDR lists), the
/// client-dependent terms, the budget, the records followed and the
/// addresses checked. NULL for NULL. Owned by `lint`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_json(lint: *const fastspf_lint) -> *const c_char {
    guard_value(std::ptr::null(), || unsafe { get(lint) }.map_or(std::ptr::null(), |l| l.json.as_ptr()))
}

/// Frees a lint result and every string it returned. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_lint_free(lint: *mut fastspf_lint) {
    guard_value((), || unsafe { fastspf_lint::free(lint) })
}
