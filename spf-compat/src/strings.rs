//! The names of results, reasons, errors and record types, as libspf2
//! 1.2.10 prints them (callers compare them: Exim matches
//! `SPF_strresult()` against the words of its `spf` ACL condition), and
//! the library version.

use std::ffi::{c_char, c_int};

use crate::abi::*;

/// The version reported by `SPF_get_lib_version`: the libspf2 release whose
/// ABI this library implements.
pub(crate) const LIB_VERSION: (c_int, c_int, c_int) = (1, 2, 10);

/// A `&'static CStr`'s pointer; the strings below are NUL-terminated literals.
macro_rules! cstr {
    ($s:literal) => {
        concat!($s, "\0").as_ptr().cast::<c_char>()
    };
}

/// `SPF_strresult`: `"pass"`, `"fail"`, ... (static; never free it).
#[unsafe(no_mangle)]
pub extern "C" fn SPF_strresult(result: SPF_result_t) -> *const c_char {
    match result {
        SPF_RESULT_INVALID => cstr!("(invalid)"),
        SPF_RESULT_NEUTRAL => cstr!("neutral"),
        SPF_RESULT_PASS => cstr!("pass"),
        SPF_RESULT_FAIL => cstr!("fail"),
        SPF_RESULT_SOFTFAIL => cstr!("softfail"),
        SPF_RESULT_NONE => cstr!("none"),
        SPF_RESULT_TEMPERROR => cstr!("temperror"),
        SPF_RESULT_PERMERROR => cstr!("permerror"),
        _ => cstr!("(error: unknown result)"),
    }
}

/// `SPF_strreason`: what decided a result (static).
#[unsafe(no_mangle)]
pub extern "C" fn SPF_strreason(reason: SPF_reason_t) -> *const c_char {
    match reason {
        SPF_REASON_NONE => cstr!("none"),
        SPF_REASON_LOCALHOST => cstr!("localhost"),
        SPF_REASON_LOCAL_POLICY => cstr!("local policy"),
        SPF_REASON_MECH => cstr!("mechanism"),
        SPF_REASON_DEFAULT => cstr!("default"),
        SPF_REASON_2MX => cstr!("secondary MX"),
        // SPF_REASON_FAILURE too: libspf2 has no text for it.
        _ => cstr!("(invalid reason)"),
    }
}

/// `SPF_strerror`: an error code's text (static).
#[unsafe(no_mangle)]
pub extern "C" fn SPF_strerror(err: SPF_errcode_t) -> *const c_char {
    match err {
        SPF_E_SUCCESS => cstr!("No errors"),
        SPF_E_NO_MEMORY => cstr!("Out of memory"),
        SPF_E_NOT_SPF => cstr!("Could not find a valid SPF record"),
        SPF_E_SYNTAX => cstr!("Syntax error"),
        SPF_E_MOD_W_PREF => cstr!("Modifiers can not have prefixes"),
        SPF_E_INVALID_CHAR => cstr!("Invalid character found"),
        SPF_E_UNKNOWN_MECH => cstr!("Unknown mechanism found"),
        SPF_E_INVALID_OPT => cstr!("Invalid option found"),
        SPF_E_INVALID_CIDR => cstr!("Invalid CIDR length"),
        SPF_E_MISSING_OPT => cstr!("Required option is missing"),
        SPF_E_INTERNAL_ERROR => cstr!("Internal programming error"),
        SPF_E_INVALID_ESC => cstr!("Invalid %-escape character"),
        SPF_E_INVALID_VAR => cstr!("Invalid macro variable"),
        SPF_E_BIG_SUBDOM => cstr!("Subdomain truncation depth too large"),
        SPF_E_INVALID_DELIM => cstr!("Invalid delimiter character"),
        SPF_E_BIG_STRING => cstr!("Option string too long"),
        SPF_E_BIG_MECH => cstr!("Too many mechanisms"),
        SPF_E_BIG_MOD => cstr!("Too many modifiers"),
        SPF_E_BIG_DNS => cstr!("Mechanisms used too many DNS lookups"),
        SPF_E_INVALID_IP4 => cstr!("Invalid IPv4 address literal"),
        SPF_E_INVALID_IP6 => cstr!("Invalid IPv6 address literal"),
        SPF_E_INVALID_PREFIX => cstr!("Invalid mechanism prefix"),
        SPF_E_RESULT_UNKNOWN => cstr!("SPF result is \"unknown\""),
        SPF_E_UNINIT_VAR => cstr!("Uninitialized variable"),
        SPF_E_MOD_NOT_FOUND => cstr!("Modifier not found"),
        SPF_E_NOT_CONFIG => cstr!("Not configured"),
        SPF_E_DNS_ERROR => cstr!("DNS lookup failure"),
        SPF_E_BAD_HOST_IP => cstr!("Invalid hostname (possibly an IP address?)"),
        SPF_E_BAD_HOST_TLD => cstr!("Hostname has a missing or invalid TLD"),
        SPF_E_MECH_AFTER_ALL => cstr!("Mechanisms found after the \"all:\" mechanism will be ignored"),
        SPF_E_INCLUDE_RETURNED_NONE => cstr!("include: mechanism returned 'none'"),
        SPF_E_RECURSIVE => cstr!("include: or redirect= caused unlimited recursion"),
        SPF_E_MULTIPLE_RECORDS => cstr!("Multiple SPF or TXT records for domain."),
        _ => cstr!("Unknown SPF error code"),
    }
}

/// `SPF_strrrtype`: a DNS type's mnemonic (static).
#[unsafe(no_mangle)]
pub extern "C" fn SPF_strrrtype(rr_type: ns_type) -> *const c_char {
    match rr_type {
        ns_t_a => cstr!("A"),
        ns_t_aaaa => cstr!("AAAA"),
        ns_t_any => cstr!("ANY"),
        ns_t_invalid => cstr!("BAD"),
        ns_t_mx => cstr!("MX"),
        ns_t_ptr => cstr!("PTR"),
        ns_t_spf => cstr!("SPF"),
        ns_t_txt => cstr!("TXT"),
        _ => cstr!("??"),
    }
}

/// `SPF_get_lib_version`: 1.2.10, the libspf2 ABI implemented. NULL
/// pointers are skipped.
///
/// # Safety
/// Each pointer is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_get_lib_version(major: *mut c_int, minor: *mut c_int, patch: *mut c_int) {
    let (a, b, c) = LIB_VERSION;
    for (out, value) in [(major, a), (minor, b), (patch, c)] {
        if !out.is_null() {
            // SAFETY: non-null and writable, per the caller.
            unsafe { *out = value };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn s(p: *const c_char) -> &'static str {
        // SAFETY: every string above is a static NUL-terminated literal.
        unsafe { CStr::from_ptr(p) }.to_str().expect("ASCII")
    }

    /// The texts Debian's libspf2 1.2.10 prints (tests/c/strings.c dumps
    /// them from both libraries; run.sh compares).
    #[test]
    fn texts_are_libspf2s() {
        assert_eq!(s(SPF_strresult(SPF_RESULT_SOFTFAIL)), "softfail");
        assert_eq!(s(SPF_strresult(8)), "(error: unknown result)");
        assert_eq!(s(SPF_strreason(SPF_REASON_FAILURE)), "(invalid reason)");
        assert_eq!(s(SPF_strerror(SPF_E_MULTIPLE_RECORDS)), "Multiple SPF or TXT records for domain.");
        assert_eq!(s(SPF_strerror(33)), "Unknown SPF error code");
        assert_eq!(s(SPF_strrrtype(2)), "??");
    }
}
