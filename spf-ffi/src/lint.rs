//! `fastspf_lint`: the mistakes in an SPF record, and what it authorizes.

use std::ffi::{CString, c_char};

use spf_core::lint::{Diagnostic, LintOptions, LintReport, LintRequest, Severity};

use crate::boundary::{guard, guard_value, text, write_out};
use crate::config::{config_ref, fastspf_config};
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

struct LintObj {
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

/// # Safety
/// `lint` is NULL or a live `fastspf_lint`.
unsafe fn get<'a>(lint: *const fastspf_lint) -> Option<&'a LintObj> {
    // SAFETY: created by fastspf_lint_run as a Box<LintObj>; the caller keeps it alive.
    unsafe { lint.cast::<LintObj>().as_ref() }
}

/// # Safety
/// `lint` is NULL or a live `fastspf_lint`.
unsafe fn diagnostic<'a>(lint: *const fastspf_lint, index: usize) -> Option<&'a DiagnosticC> {
    unsafe { get(lint) }.and_then(|l| l.diagnostics.get(index))
}

/// Lints an SPF record, blocking until done (at most the configuration's
/// deadline; what is not known by then is reported as
/// "analysis-truncated").
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
        let config = unsafe { config_ref(config)? };
        let domain = if domain.is_null() { None } else { Some(unsafe { text(domain)? }.to_string()) };
        let record = if record.is_null() { None } else { Some(unsafe { text(record)? }.to_string()) };
        if out.is_null() {
            return Err(fastspf_status::NullArgument);
        }
        let request = match (record, domain) {
            (Some(record), domain) => LintRequest::record(record, domain),
            (None, Some(domain)) => LintRequest::domain(domain),
            (None, None) => return Err(fastspf_status::InvalidArgument),
        };
        let checker_config = config.checker_config()?;
        let mut options = LintOptions::default();
        options.limits = checker_config.options.limits;
        options.deadline = checker_config.options.deadline;
        let checker = spf_core::Checker::new(checker_config).map_err(|_| fastspf_status::Setup)?;
        let report = checker.lint_blocking(&request, &options);
        let raw = Box::into_raw(Box::new(LintObj::new(&report))).cast::<fastspf_lint>();
        unsafe { write_out(out, raw) }
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
    guard_value((), || {
        if !lint.is_null() {
            // SAFETY: created by fastspf_lint_run; the caller gives it up.
            drop(unsafe { Box::from_raw(lint.cast::<LintObj>()) });
        }
    })
}
