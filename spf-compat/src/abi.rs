//! libspf2 1.2.x's types and constants, laid out as its callers see them.
//!
//! Every struct here is `#[repr(C)]` with the fields, order and types of
//! libspf2's public headers (`spf_server.h`, `spf_request.h`,
//! `spf_response.h`, `spf_dns.h`, `spf_dns_rr.h`, `spf_record.h`): callers
//! read and write some fields directly (Mail::SPF_XS sets
//! `request->spf_server`, reads `server->resolver` and
//! `response->errors`; Exim fills an `SPF_dns_rr_t` on its stack and builds
//! its own `SPF_dns_server_t`). The layout test
//! (`spf-compat/tests/c/layout.c`) prints every size and offset, compiled
//! once against Debian's headers and once against ours, and the two
//! outputs must be identical.
//!
//! C enums are `int` on the platforms we build for; they cross the ABI as
//! `c_int` and are named here as constants.

#![allow(non_camel_case_types, non_upper_case_globals, missing_docs, dead_code)]

use std::ffi::{c_char, c_int, c_void};

pub type SPF_errcode_t = c_int;
pub type SPF_result_t = c_int;
pub type SPF_reason_t = c_int;
pub type SPF_server_dnstype_t = c_int;
pub type SPF_dns_stat_t = c_int;
pub type ns_type = c_int;

// SPF_result_t
pub const SPF_RESULT_INVALID: SPF_result_t = 0;
pub const SPF_RESULT_NEUTRAL: SPF_result_t = 1;
pub const SPF_RESULT_PASS: SPF_result_t = 2;
pub const SPF_RESULT_FAIL: SPF_result_t = 3;
pub const SPF_RESULT_SOFTFAIL: SPF_result_t = 4;
pub const SPF_RESULT_NONE: SPF_result_t = 5;
pub const SPF_RESULT_TEMPERROR: SPF_result_t = 6;
pub const SPF_RESULT_PERMERROR: SPF_result_t = 7;

// SPF_reason_t
pub const SPF_REASON_NONE: SPF_reason_t = 0;
pub const SPF_REASON_FAILURE: SPF_reason_t = 1;
pub const SPF_REASON_LOCALHOST: SPF_reason_t = 2;
pub const SPF_REASON_LOCAL_POLICY: SPF_reason_t = 3;
pub const SPF_REASON_MECH: SPF_reason_t = 4;
pub const SPF_REASON_DEFAULT: SPF_reason_t = 5;
pub const SPF_REASON_2MX: SPF_reason_t = 6;

// SPF_errcode_t
pub const SPF_E_SUCCESS: SPF_errcode_t = 0;
pub const SPF_E_NO_MEMORY: SPF_errcode_t = 1;
pub const SPF_E_NOT_SPF: SPF_errcode_t = 2;
pub const SPF_E_SYNTAX: SPF_errcode_t = 3;
pub const SPF_E_MOD_W_PREF: SPF_errcode_t = 4;
pub const SPF_E_INVALID_CHAR: SPF_errcode_t = 5;
pub const SPF_E_UNKNOWN_MECH: SPF_errcode_t = 6;
pub const SPF_E_INVALID_OPT: SPF_errcode_t = 7;
pub const SPF_E_INVALID_CIDR: SPF_errcode_t = 8;
pub const SPF_E_MISSING_OPT: SPF_errcode_t = 9;
pub const SPF_E_INTERNAL_ERROR: SPF_errcode_t = 10;
pub const SPF_E_INVALID_ESC: SPF_errcode_t = 11;
pub const SPF_E_INVALID_VAR: SPF_errcode_t = 12;
pub const SPF_E_BIG_SUBDOM: SPF_errcode_t = 13;
pub const SPF_E_INVALID_DELIM: SPF_errcode_t = 14;
pub const SPF_E_BIG_STRING: SPF_errcode_t = 15;
pub const SPF_E_BIG_MECH: SPF_errcode_t = 16;
pub const SPF_E_BIG_MOD: SPF_errcode_t = 17;
pub const SPF_E_BIG_DNS: SPF_errcode_t = 18;
pub const SPF_E_INVALID_IP4: SPF_errcode_t = 19;
pub const SPF_E_INVALID_IP6: SPF_errcode_t = 20;
pub const SPF_E_INVALID_PREFIX: SPF_errcode_t = 21;
pub const SPF_E_RESULT_UNKNOWN: SPF_errcode_t = 22;
pub const SPF_E_UNINIT_VAR: SPF_errcode_t = 23;
pub const SPF_E_MOD_NOT_FOUND: SPF_errcode_t = 24;
pub const SPF_E_NOT_CONFIG: SPF_errcode_t = 25;
pub const SPF_E_DNS_ERROR: SPF_errcode_t = 26;
pub const SPF_E_BAD_HOST_IP: SPF_errcode_t = 27;
pub const SPF_E_BAD_HOST_TLD: SPF_errcode_t = 28;
pub const SPF_E_MECH_AFTER_ALL: SPF_errcode_t = 29;
pub const SPF_E_INCLUDE_RETURNED_NONE: SPF_errcode_t = 30;
pub const SPF_E_RECURSIVE: SPF_errcode_t = 31;
pub const SPF_E_MULTIPLE_RECORDS: SPF_errcode_t = 32;

// SPF_server_dnstype_t
pub const SPF_DNS_RESOLV: SPF_server_dnstype_t = 0;
pub const SPF_DNS_CACHE: SPF_server_dnstype_t = 1;
pub const SPF_DNS_ZONE: SPF_server_dnstype_t = 2;

// <netdb.h> h_errno values, as SPF_dns_rr_t.herrno carries them.
pub const NETDB_SUCCESS: SPF_dns_stat_t = 0;
pub const HOST_NOT_FOUND: SPF_dns_stat_t = 1;
pub const TRY_AGAIN: SPF_dns_stat_t = 2;
pub const NO_RECOVERY: SPF_dns_stat_t = 3;
pub const NO_DATA: SPF_dns_stat_t = 4;

// <arpa/nameser.h> ns_type values the library deals in.
pub const ns_t_invalid: ns_type = 0;
pub const ns_t_a: ns_type = 1;
pub const ns_t_ptr: ns_type = 12;
pub const ns_t_mx: ns_type = 15;
pub const ns_t_txt: ns_type = 16;
pub const ns_t_aaaa: ns_type = 28;
pub const ns_t_spf: ns_type = 99;
pub const ns_t_any: ns_type = 255;

/// `SPF_VER_STR`.
pub const SPF_VER_STR: &str = "v=spf1";
/// `SPF_DEFAULT_EXP`: the explanation a new server starts with.
pub const SPF_DEFAULT_EXP: &str = "Please%_see%_http://www.openspf.org/Why?id=%{S}&ip=%{C}&receiver=%{R}";
/// `SPF_DEFAULT_WHITELIST`, appended to a local policy on request.
pub const SPF_DEFAULT_WHITELIST: &str = "include:spf.trusted-forwarder.org";
/// `SPF_SMTP_COMMENT_SIZE`: the SMTP comment is at most this minus one byte.
pub const SPF_SMTP_COMMENT_SIZE: usize = 4 * 80;
/// `SPF_RECEIVED_SPF_SIZE`: the Received-SPF field is at most this minus one byte.
pub const SPF_RECEIVED_SPF_SIZE: usize = 6 * 80;
/// `SPF_MAX_DNS_MECH`, `SPF_MAX_DNS_PTR`, `SPF_MAX_DNS_MX`: a new server's limits.
pub const SPF_MAX_DNS_MECH: c_int = 10;
pub const SPF_MAX_DNS_PTR: c_int = 10;
pub const SPF_MAX_DNS_MX: c_int = 10;

/// `struct SPF_server_struct`.
#[repr(C)]
#[derive(Debug)]
pub struct SPF_server_t {
    pub resolver: *mut SPF_dns_server_t,
    pub local_policy: *mut SPF_record_t,
    pub explanation: *mut SPF_macro_t,
    pub rec_dom: *mut c_char,
    pub max_dns_mech: c_int,
    pub max_dns_ptr: c_int,
    pub max_dns_mx: c_int,
    pub sanitize: c_int,
    pub debug: c_int,
    pub destroy_resolver: c_int,
}

/// `struct SPF_request_struct`.
#[repr(C)]
#[derive(Debug)]
pub struct SPF_request_t {
    pub spf_server: *mut SPF_server_t,
    pub client_ver: c_int,
    pub ipv4: libc::in_addr,
    pub ipv6: libc::in6_addr,
    pub env_from: *mut c_char,
    pub helo_dom: *mut c_char,
    pub rcpt_to_dom: *mut c_char,
    pub use_local_policy: c_char,
    pub use_helo: c_char,
    pub env_from_lp: *mut c_char,
    pub env_from_dp: *mut c_char,
    pub client_dom: *mut c_char,
    pub cur_dom: *const c_char,
}

/// `SPF_error_t`: one message of a response.
#[repr(C)]
#[derive(Debug)]
pub struct SPF_error_t {
    pub code: SPF_errcode_t,
    pub message: *mut c_char,
    pub is_error: c_char,
}

/// `struct SPF_response_struct`.
#[repr(C)]
#[derive(Debug)]
pub struct SPF_response_t {
    pub spf_request: *mut SPF_request_t,
    pub spf_record_exp: *mut SPF_record_t,
    pub result: SPF_result_t,
    pub reason: SPF_reason_t,
    pub err: SPF_errcode_t,
    pub received_spf: *mut c_char,
    /// Points into `received_spf`, after `"Received-SPF: "`; never freed on its own.
    pub received_spf_value: *mut c_char,
    pub header_comment: *mut c_char,
    pub smtp_comment: *mut c_char,
    pub explanation: *mut c_char,
    pub errors: *mut SPF_error_t,
    pub errors_size: u16,
    pub errors_length: u16,
    pub num_errors: u16,
    pub num_dns_mech: c_int,
}

pub type SPF_dns_destroy_t = Option<unsafe extern "C" fn(*mut SPF_dns_server_t)>;
pub type SPF_dns_lookup_t =
    Option<unsafe extern "C" fn(*mut SPF_dns_server_t, *const c_char, ns_type, c_int) -> *mut SPF_dns_rr_t>;

/// `struct SPF_dns_server_struct`: one DNS layer.
#[repr(C)]
#[derive(Debug)]
pub struct SPF_dns_server_t {
    pub destroy: SPF_dns_destroy_t,
    pub lookup: SPF_dns_lookup_t,
    /// `SPF_dns_get_spf_t`; not called by this library (see the header).
    pub get_spf: *mut c_void,
    /// `SPF_dns_get_exp_t`; not called by this library.
    pub get_exp: *mut c_void,
    /// `SPF_dns_add_cache_t`; not called by this library.
    pub add_cache: *mut c_void,
    pub layer_below: *mut SPF_dns_server_t,
    pub name: *const c_char,
    pub debug: c_int,
    pub hook: *mut c_void,
}

/// `SPF_dns_rr_t`: a DNS answer as layers pass it around.
#[repr(C)]
#[derive(Debug)]
pub struct SPF_dns_rr_t {
    pub domain: *mut c_char,
    pub domain_buf_len: usize,
    pub rr_type: ns_type,
    pub num_rr: c_int,
    /// `SPF_dns_rr_data_t **`: each entry is a `struct in_addr`, a
    /// `struct in6_addr` or a NUL-terminated name / text, by `rr_type`.
    pub rr: *mut *mut c_void,
    pub rr_buf_len: *mut usize,
    pub rr_buf_num: c_int,
    pub ttl: libc::time_t,
    pub utc_ttl: libc::time_t,
    pub herrno: SPF_dns_stat_t,
    pub hook: *mut c_void,
    pub source: *mut SPF_dns_server_t,
}

/// `struct SPF_record_struct`. The header fields are filled as libspf2
/// fills them; the buffers hold fastspf's form of the record (see
/// `record.rs`), not libspf2's byte code.
#[repr(C)]
#[derive(Debug)]
pub struct SPF_record_t {
    pub spf_server: *mut SPF_server_t,
    pub version: u8,
    pub num_mech: u8,
    pub num_mod: u8,
    pub num_dns_mech: u8,
    pub mech_first: *mut c_void,
    pub mech_size: usize,
    pub mech_len: usize,
    pub mod_first: *mut c_void,
    pub mod_size: usize,
    pub mod_len: usize,
}

/// `struct SPF_macro_struct`: `macro_len` bytes of data follow the header
/// (`SPF_macro_data()` in libspf2's internal header).
#[repr(C)]
#[derive(Debug)]
pub struct SPF_macro_t {
    pub macro_len: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// The sizes and offsets Debian's libspf2-dev headers give on x86_64
    /// (printed by tests/c/layout.c against /usr/include/spf2).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn layouts_match_libspf2() {
        assert_eq!(size_of::<SPF_server_t>(), 56);
        assert_eq!(offset_of!(SPF_server_t, max_dns_mech), 32);
        assert_eq!(offset_of!(SPF_server_t, destroy_resolver), 52);
        assert_eq!(size_of::<SPF_request_t>(), 96);
        assert_eq!(offset_of!(SPF_request_t, ipv4), 12);
        assert_eq!(offset_of!(SPF_request_t, ipv6), 16);
        assert_eq!(offset_of!(SPF_request_t, env_from), 32);
        assert_eq!(offset_of!(SPF_request_t, use_local_policy), 56);
        assert_eq!(offset_of!(SPF_request_t, use_helo), 57);
        assert_eq!(offset_of!(SPF_request_t, env_from_lp), 64);
        assert_eq!(offset_of!(SPF_request_t, cur_dom), 88);
        assert_eq!(size_of::<SPF_response_t>(), 96);
        assert_eq!(offset_of!(SPF_response_t, result), 16);
        assert_eq!(offset_of!(SPF_response_t, received_spf), 32);
        assert_eq!(offset_of!(SPF_response_t, errors), 72);
        assert_eq!(offset_of!(SPF_response_t, errors_size), 80);
        assert_eq!(offset_of!(SPF_response_t, errors_length), 82);
        assert_eq!(offset_of!(SPF_response_t, num_errors), 84);
        assert_eq!(offset_of!(SPF_response_t, num_dns_mech), 88);
        assert_eq!(size_of::<SPF_error_t>(), 24);
        assert_eq!(offset_of!(SPF_error_t, is_error), 16);
        assert_eq!(size_of::<SPF_dns_server_t>(), 72);
        assert_eq!(offset_of!(SPF_dns_server_t, layer_below), 40);
        assert_eq!(offset_of!(SPF_dns_server_t, debug), 56);
        assert_eq!(offset_of!(SPF_dns_server_t, hook), 64);
        assert_eq!(size_of::<SPF_dns_rr_t>(), 88);
        assert_eq!(offset_of!(SPF_dns_rr_t, rr_type), 16);
        assert_eq!(offset_of!(SPF_dns_rr_t, num_rr), 20);
        assert_eq!(offset_of!(SPF_dns_rr_t, rr_buf_num), 40);
        assert_eq!(offset_of!(SPF_dns_rr_t, ttl), 48);
        assert_eq!(offset_of!(SPF_dns_rr_t, herrno), 64);
        assert_eq!(offset_of!(SPF_dns_rr_t, source), 80);
        assert_eq!(size_of::<SPF_record_t>(), 64);
        assert_eq!(offset_of!(SPF_record_t, version), 8);
        assert_eq!(offset_of!(SPF_record_t, num_dns_mech), 11);
        assert_eq!(offset_of!(SPF_record_t, mech_first), 16);
        assert_eq!(offset_of!(SPF_record_t, mod_len), 56);
        assert_eq!(size_of::<SPF_macro_t>(), 8);
    }
}
