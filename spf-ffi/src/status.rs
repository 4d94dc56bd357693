//! Status codes (what went wrong with a call) and result codes (the SPF
//! outcome, which is data, not a status).

use std::ffi::{c_char, c_int};

/// What a fallible call reports. Numbers are stable and never reused.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fastspf_status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// The client IP string is not an IPv4 or IPv6 address.
    InvalidIp = 3,
    /// Another argument was out of range or malformed (e.g. a nameserver
    /// that is not IP[:PORT]).
    InvalidArgument = 4,
    /// A zone file could not be read or parsed.
    ZoneFile = 5,
    /// The DNS resolver or the checker's threads could not be set up.
    Setup = 6,
    /// A bug: the library panicked. The call had no effect.
    Panic = 7,
}

/// The seven SPF results (RFC 7208 §2.6), as `fastspf_result_code()`
/// returns them. Numbers are stable.
///
/// cbindgen:prefix-with-name=false
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fastspf_spf_result {
    /// No SPF record, or the domain could not be checked.
    FASTSPF_RESULT_NONE = 0,
    /// The record makes no assertion about the client.
    FASTSPF_RESULT_NEUTRAL = 1,
    /// The client is authorized.
    FASTSPF_RESULT_PASS = 2,
    /// The client is not authorized.
    FASTSPF_RESULT_FAIL = 3,
    /// The client is probably not authorized.
    FASTSPF_RESULT_SOFTFAIL = 4,
    /// A temporary (DNS) error: try again later.
    FASTSPF_RESULT_TEMPERROR = 5,
    /// The record cannot be interpreted.
    FASTSPF_RESULT_PERMERROR = 6,
}

impl From<spf_core::SpfResult> for fastspf_spf_result {
    fn from(r: spf_core::SpfResult) -> Self {
        use spf_core::SpfResult as R;
        match r {
            R::None => Self::FASTSPF_RESULT_NONE,
            R::Neutral => Self::FASTSPF_RESULT_NEUTRAL,
            R::Pass => Self::FASTSPF_RESULT_PASS,
            R::Fail => Self::FASTSPF_RESULT_FAIL,
            R::SoftFail => Self::FASTSPF_RESULT_SOFTFAIL,
            R::TempError => Self::FASTSPF_RESULT_TEMPERROR,
            R::PermError => Self::FASTSPF_RESULT_PERMERROR,
        }
    }
}

/// The name of a status, e.g. `"FASTSPF_STATUS_INVALID_IP"`: a static
/// string, never freed. Unknown numbers give `"FASTSPF_STATUS_UNKNOWN"`.
#[unsafe(no_mangle)]
pub extern "C" fn fastspf_status_name(status: c_int) -> *const c_char {
    let name: &'static str = match status {
        0 => "FASTSPF_STATUS_OK\0",
        1 => "FASTSPF_STATUS_NULL_ARGUMENT\0",
        2 => "FASTSPF_STATUS_INVALID_UTF8\0",
        3 => "FASTSPF_STATUS_INVALID_IP\0",
        4 => "FASTSPF_STATUS_INVALID_ARGUMENT\0",
        5 => "FASTSPF_STATUS_ZONE_FILE\0",
        6 => "FASTSPF_STATUS_SETUP\0",
        7 => "FASTSPF_STATUS_PANIC\0",
        _ => "FASTSPF_STATUS_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

/// The RFC 7208 name of a result code (`"pass"`, `"permerror"`, ...): a
/// static string, never freed. Unknown numbers give `"unknown"`.
#[unsafe(no_mangle)]
pub extern "C" fn fastspf_result_code_name(code: c_int) -> *const c_char {
    let name: &'static str = match code {
        0 => "none\0",
        1 => "neutral\0",
        2 => "pass\0",
        3 => "fail\0",
        4 => "softfail\0",
        5 => "temperror\0",
        6 => "permerror\0",
        _ => "unknown\0",
    };
    name.as_ptr().cast()
}
