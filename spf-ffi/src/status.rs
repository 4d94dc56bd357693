//! Status codes (what went wrong with a call) and result codes (the SPF
//! outcome, which is data, not a status).

use std::ffi::{CStr, CString, c_char, c_int};
use std::sync::OnceLock;

use crate::boundary::guard_value;

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

/// Gives every status its C name, derived from the variant's name as
/// cbindgen derives it (`prefix_with_name`, `ScreamingSnakeCase`), so the
/// enum above is the one list of statuses: a variant missing here fails to
/// compile (the `match` in `c_name` is exhaustive), and a name cannot be
/// mistyped. The `status_names_are_the_headers` test compares the names
/// with the generated header.
macro_rules! status_names {
    ($($variant:ident),+ $(,)?) => {
        impl fastspf_status {
            /// Every status.
            pub(crate) const ALL: &'static [fastspf_status] = &[$(fastspf_status::$variant),+];

            /// The status's C name, e.g. `FASTSPF_STATUS_INVALID_IP`.
            pub(crate) fn c_name(self) -> &'static CStr {
                match self {
                    $(fastspf_status::$variant => {
                        const BYTES: [u8; c_name_len(stringify!($variant))] = c_name(stringify!($variant));
                        const NAME: &CStr = match CStr::from_bytes_with_nul(&BYTES) {
                            Ok(name) => name,
                            Err(_) => panic!("a status name is one NUL-terminated string"),
                        };
                        NAME
                    })+
                }
            }
        }
    };
}

status_names!(Ok, NullArgument, InvalidUtf8, InvalidIp, InvalidArgument, ZoneFile, Setup, Panic);

/// What cbindgen puts before a status variant's name.
const STATUS_PREFIX: &[u8] = b"FASTSPF_STATUS_";

/// The length of [`c_name`]`(variant)`, its NUL included.
const fn c_name_len(variant: &str) -> usize {
    let bytes = variant.as_bytes();
    let mut len = STATUS_PREFIX.len() + bytes.len() + 1;
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i].is_ascii_uppercase() {
            len += 1;
        }
        i += 1;
    }
    len
}

/// `FASTSPF_STATUS_` and `variant` in SCREAMING_SNAKE_CASE (an underscore
/// before each capital but the first), NUL-terminated: `InvalidUtf8` gives
/// `FASTSPF_STATUS_INVALID_UTF8`.
const fn c_name<const N: usize>(variant: &str) -> [u8; N] {
    let bytes = variant.as_bytes();
    let mut out = [0u8; N];
    let mut len = 0;
    while len < STATUS_PREFIX.len() {
        out[len] = STATUS_PREFIX[len];
        len += 1;
    }
    let mut i = 0;
    while i < bytes.len() {
        if i > 0 && bytes[i].is_ascii_uppercase() {
            out[len] = b'_';
            len += 1;
        }
        out[len] = bytes[i].to_ascii_uppercase();
        len += 1;
        i += 1;
    }
    out
}

/// The name of a status, e.g. `"FASTSPF_STATUS_INVALID_IP"`: a static
/// string, never freed. Unknown numbers give `"FASTSPF_STATUS_UNKNOWN"`.
#[unsafe(no_mangle)]
pub extern "C" fn fastspf_status_name(status: c_int) -> *const c_char {
    const UNKNOWN: &CStr = c"FASTSPF_STATUS_UNKNOWN";
    guard_value(UNKNOWN.as_ptr(), || {
        fastspf_status::ALL.iter().find(|s| **s as c_int == status).map_or(UNKNOWN, |s| s.c_name()).as_ptr()
    })
}

/// The RFC 7208 name of a result code (`"pass"`, `"permerror"`, ...): a
/// static string, never freed. Unknown numbers give `"unknown"`.
#[unsafe(no_mangle)]
pub extern "C" fn fastspf_result_code_name(code: c_int) -> *const c_char {
    const UNKNOWN: &CStr = c"unknown";
    guard_value(UNKNOWN.as_ptr(), || {
        result_names()
            .iter()
            .find(|(number, _)| *number == code)
            .map_or(UNKNOWN, |(_, name)| name.as_c_str())
            .as_ptr()
    })
}

/// Each result code with its name from spf-core (`SpfResult::as_str`),
/// made once.
fn result_names() -> &'static [(c_int, CString)] {
    static NAMES: OnceLock<Vec<(c_int, CString)>> = OnceLock::new();
    NAMES.get_or_init(|| {
        spf_core::SpfResult::ALL
            .iter()
            .map(|r| (fastspf_spf_result::from(*r) as c_int, CString::new(r.as_str()).unwrap_or_default()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(status: c_int) -> &'static str {
        // SAFETY: fastspf_status_name returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(fastspf_status_name(status)) }.to_str().expect("ASCII")
    }

    /// Every status of the generated header (`FASTSPF_STATUS_X = n,`) has
    /// its name, and every status Rust knows is in the header.
    #[test]
    fn status_names_are_the_headers() {
        let header = include_str!("../../include/fastspf.h");
        let mut seen = 0;
        for line in header.lines() {
            let Some((left, right)) = line.trim().split_once(" = ") else { continue };
            if !left.starts_with("FASTSPF_STATUS_") {
                continue;
            }
            let number: c_int = right.trim_end_matches(',').parse().expect("a number");
            assert_eq!(name(number), left, "status {number}");
            seen += 1;
        }
        assert_eq!(seen, fastspf_status::ALL.len());
        for status in fastspf_status::ALL {
            assert!(header.contains(&format!("{} = {},", name(*status as c_int), *status as c_int)));
        }
    }

    /// Numbers are never reused: these are the ones C programs know.
    #[test]
    fn statuses_keep_their_numbers() {
        let numbers: Vec<(&str, c_int)> =
            fastspf_status::ALL.iter().map(|s| (name(*s as c_int), *s as c_int)).collect();
        assert_eq!(
            numbers[..8],
            [
                ("FASTSPF_STATUS_OK", 0),
                ("FASTSPF_STATUS_NULL_ARGUMENT", 1),
                ("FASTSPF_STATUS_INVALID_UTF8", 2),
                ("FASTSPF_STATUS_INVALID_IP", 3),
                ("FASTSPF_STATUS_INVALID_ARGUMENT", 4),
                ("FASTSPF_STATUS_ZONE_FILE", 5),
                ("FASTSPF_STATUS_SETUP", 6),
                ("FASTSPF_STATUS_PANIC", 7),
            ]
        );
    }

    #[test]
    fn unknown_statuses() {
        let past = fastspf_status::ALL.iter().map(|s| *s as c_int).max().expect("statuses") + 1;
        for number in [-1, past, c_int::MAX, c_int::MIN] {
            assert_eq!(name(number), "FASTSPF_STATUS_UNKNOWN");
        }
    }

    #[test]
    fn result_code_names_are_the_cores() {
        for r in spf_core::SpfResult::ALL {
            let code = fastspf_spf_result::from(r) as c_int;
            // SAFETY: a static NUL-terminated string.
            let got = unsafe { CStr::from_ptr(fastspf_result_code_name(code)) };
            assert_eq!(got.to_str().expect("ASCII"), r.as_str());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(fastspf_result_code_name(7)) };
        assert_eq!(unknown.to_str().expect("ASCII"), "unknown");
    }
}
