//! `fastspf_result`: one check's outcome and its accessors.

use std::ffi::{CStr, CString, c_char, c_int};
use std::sync::OnceLock;

use spf_core::Evaluation;
use spf_core::headers::{authentication_results_spf, received_spf};
use spf_core::policy::PolicyNote;

use crate::boundary::{Handle, guard_value};
use crate::status::fastspf_spf_result;

/// The result of one check. Opaque; one owner. The strings its accessors
/// return belong to it and stay valid until `fastspf_result_free`. A result
/// may be read from any thread, but freed only once.
pub struct fastspf_result {
    _private: [u8; 0],
}

pub(crate) struct ResultObj {
    eval: Evaluation,
    receiver: Option<String>,
    explanation: OnceLock<Option<CString>>,
    mechanism: OnceLock<Option<CString>>,
    domain: OnceLock<CString>,
    reason: OnceLock<Option<CString>>,
    received_spf: OnceLock<CString>,
    authentication_results: OnceLock<CString>,
    policy_note: OnceLock<Option<CString>>,
}

/// A C string of `text`, with any NUL byte replaced (they cannot occur in
/// fastspf's output, but a C string must not contain one).
fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "?")).unwrap_or_default()
}

fn opt_ptr(value: &Option<CString>) -> *const c_char {
    value.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

impl ResultObj {
    pub(crate) fn new(eval: Evaluation, receiver: Option<&str>) -> ResultObj {
        ResultObj {
            eval,
            receiver: receiver.map(str::to_string),
            explanation: OnceLock::new(),
            mechanism: OnceLock::new(),
            domain: OnceLock::new(),
            reason: OnceLock::new(),
            received_spf: OnceLock::new(),
            authentication_results: OnceLock::new(),
            policy_note: OnceLock::new(),
        }
    }
}

// SAFETY: a zero-sized type declared for C, never created by Rust.
unsafe impl Handle for fastspf_result {
    type Rust = ResultObj;
}

/// # Safety
/// `result` is NULL or a live `fastspf_result`.
unsafe fn get<'a>(result: *const fastspf_result) -> Option<&'a ResultObj> {
    unsafe { fastspf_result::get_or_none(result) }
}

/// The SPF result. A NULL `result` gives FASTSPF_RESULT_TEMPERROR.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_code(result: *const fastspf_result) -> fastspf_spf_result {
    guard_value(fastspf_spf_result::FASTSPF_RESULT_TEMPERROR, || match unsafe { get(result) } {
        Some(r) => r.eval.result.into(),
        None => fastspf_spf_result::FASTSPF_RESULT_TEMPERROR,
    })
}

/// The result's RFC 7208 name (`"pass"`, ...): a static string. NULL
/// `result` gives NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_name(result: *const fastspf_result) -> *const c_char {
    guard_value(std::ptr::null(), || match unsafe { get(result) } {
        Some(r) => crate::status::fastspf_result_code_name(fastspf_spf_result::from(r.eval.result) as i32),
        None => std::ptr::null(),
    })
}

/// On fail, the explanation (the domain's `exp=` text expanded, or the
/// default); otherwise NULL. Owned by `result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_explanation(result: *const fastspf_result) -> *const c_char {
    guard_value(std::ptr::null(), || match unsafe { get(result) } {
        Some(r) => opt_ptr(r.explanation.get_or_init(|| r.eval.explanation.as_deref().map(c_string))),
        None => std::ptr::null(),
    })
}

/// The mechanism that decided the result (e.g. `"-all"`,
/// `"include:_spf.example.com"`), or NULL when none matched. Owned by `result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_mechanism(result: *const fastspf_result) -> *const c_char {
    guard_value(std::ptr::null(), || match unsafe { get(result) } {
        Some(r) => opt_ptr(r.mechanism.get_or_init(|| r.eval.matched.as_ref().map(|m| c_string(&m.term)))),
        None => std::ptr::null(),
    })
}

/// The domain whose record decided the result (the checked domain when no
/// mechanism matched). Owned by `result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_domain(result: *const fastspf_result) -> *const c_char {
    guard_value(std::ptr::null(), || match unsafe { get(result) } {
        Some(r) => r.domain.get_or_init(|| c_string(r.eval.deciding_domain())).as_ptr(),
        None => std::ptr::null(),
    })
}

/// Why the result is none, permerror or temperror (which term, which
/// limit, which name), or NULL. Owned by `result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_reason(result: *const fastspf_result) -> *const c_char {
    guard_value(std::ptr::null(), || match unsafe { get(result) } {
        Some(r) => opt_ptr(r.reason.get_or_init(|| r.eval.reason.as_ref().map(|x| c_string(&x.to_string())))),
        None => std::ptr::null(),
    })
}

/// The whole `Received-SPF:` header field (RFC 7208 §9.1), safe to add to a
/// message as is: folded with a line feed before a space where it is long
/// (lines of at most 78 octets where possible, never over 998), no CR, no
/// trailing line break; pass it to `smfi_insheader` unchanged. When local
/// policy acted (`fastspf_result_policy_kind`), its last key is
/// `policy="..."`. Owned by `result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_received_spf(result: *const fastspf_result) -> *const c_char {
    guard_value(std::ptr::null(), || match unsafe { get(result) } {
        Some(r) => {
            r.received_spf.get_or_init(|| c_string(&received_spf(&r.eval, r.receiver.as_deref()))).as_ptr()
        }
        None => std::ptr::null(),
    })
}

/// The `spf` method entry of an Authentication-Results field (RFC 8601),
/// e.g. `"spf=pass smtp.mailfrom=alice@example.com"`, folded like
/// `fastspf_result_received_spf` when long; when local policy acted, a
/// comment after it says what it did. Owned by `result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_authentication_results(
    result: *const fastspf_result,
) -> *const c_char {
    guard_value(std::ptr::null(), || match unsafe { get(result) } {
        Some(r) => {
            r.authentication_results.get_or_init(|| c_string(&authentication_results_spf(&r.eval))).as_ptr()
        }
        None => std::ptr::null(),
    })
}

/// DNS-querying terms the check evaluated (RFC 7208 §4.6.4). 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_dns_lookups(result: *const fastspf_result) -> u32 {
    guard_value(0, || unsafe { get(result) }.map_or(0, |r| r.eval.dns_lookups))
}

/// Void lookups the check counted (RFC 7208 §4.6.4). 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_void_lookups(result: *const fastspf_result) -> u32 {
    guard_value(0, || unsafe { get(result) }.map_or(0, |r| r.eval.void_lookups))
}

/// 1 when the result is a pass from a wide-open policy: the sender's policy
/// passes at least a /8 of IPv4 or a /16 of IPv6 (`v=spf1 +all`, huge
/// ranges), so the pass says nothing about the client. Known without any
/// DNS query of its own (see `fastspf_result_authorized_ipv4`). 0
/// otherwise, and for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_wide_open(result: *const fastspf_result) -> c_int {
    guard_value(0, || unsafe { get(result) }.map_or(0, |r| c_int::from(r.eval.wide_open)))
}

/// On a pass: how many IPv4 addresses the sender's policy passes (at most
/// 2^32). Exact when `fastspf_result_authorized_exact` says so (the
/// checker compiled the policy: from a domain's second check on), a lower
/// bound otherwise. 0 for other results and for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_authorized_ipv4(result: *const fastspf_result) -> u64 {
    guard_value(0, || {
        unsafe { get(result) }.and_then(|r| r.eval.authorized).map_or(0, |space| space.ipv4_addresses)
    })
}

/// On a pass: how many IPv6 /64 networks the sender's policy passes (a /64
/// passed in part counts as one), capped at UINT64_MAX (the whole space is
/// 2^64). Exact or a lower bound as `fastspf_result_authorized_exact` says.
/// 0 for other results and for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_authorized_ipv6_64s(result: *const fastspf_result) -> u64 {
    guard_value(0, || {
        unsafe { get(result) }
            .and_then(|r| r.eval.authorized)
            .map_or(0, |space| u64::try_from(space.ipv6_64s).unwrap_or(u64::MAX))
    })
}

/// 1 when `fastspf_result_authorized_ipv4` and `_ipv6_64s` are exact: the
/// policy is compiled and no part of it depends on more than the client's
/// address. 0 when they are a lower bound ("depends on the client":
/// `exists`, `ptr`, macros, or the policy is not compiled yet), for
/// results other than pass, and for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_authorized_exact(result: *const fastspf_result) -> c_int {
    guard_value(0, || {
        unsafe { get(result) }.and_then(|r| r.eval.authorized).map_or(0, |space| c_int::from(space.exact))
    })
}

/// What local policy (the `fastspf_config_add_*` and `_set_*` calls of local
/// policy) did to this result, as a static string: `"exempt"` (the client
/// was not checked: FASTSPF_RESULT_PASS for an allowed client,
/// FASTSPF_RESULT_NONE for a skipped one), `"forwarded"` (a fail from a
/// trusted forwarder: forwarded mail, not to be rejected), `"best_guess"`
/// (the domain has no SPF record; the result stays none) or `"wide_open"`
/// (a pass from a wide-open policy, now FASTSPF_RESULT_NEUTRAL). NULL when
/// local policy did nothing, or for a NULL `result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_policy_kind(result: *const fastspf_result) -> *const c_char {
    guard_value(std::ptr::null(), || {
        let Some(note) = unsafe { get(result) }.and_then(|r| r.eval.policy_note()) else {
            return std::ptr::null();
        };
        let kind: &'static CStr = match note {
            PolicyNote::Exempt { .. } => c"exempt",
            PolicyNote::Forwarded { .. } => c"forwarded",
            PolicyNote::BestGuess { .. } => c"best_guess",
            PolicyNote::WideOpen(_) => c"wide_open",
            _ => c"other",
        };
        kind.as_ptr()
    })
}

/// What local policy did, in words (e.g. `"forwarded: trusted forwarder
/// fwd.example authorizes the client"`; the header fields carry the same
/// text), or NULL when it did nothing. Owned by `result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_policy_note(result: *const fastspf_result) -> *const c_char {
    guard_value(std::ptr::null(), || match unsafe { get(result) } {
        Some(r) => {
            opt_ptr(r.policy_note.get_or_init(|| r.eval.policy_note().map(|n| c_string(&n.to_string()))))
        }
        None => std::ptr::null(),
    })
}

/// Frees a result and every string it returned. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_result_free(result: *mut fastspf_result) {
    guard_value((), || unsafe { fastspf_result::free(result) })
}
