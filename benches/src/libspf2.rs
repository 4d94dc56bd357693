//! libspf2 (Debian's `libspf2-dev`, 1.2.10), for `fastspf-bench replay
//! --peers` built with the `libspf2` feature: a MAIL FROM check through
//! `SPF_request_query_mailfrom` on a fresh `SPF_server_t` (its usual
//! `SPF_DNS_CACHE` resolver stack, empty), so every check is cold.
//!
//! libspf2 resolves through the C library's resolver, which reads
//! `/etc/resolv.conf` only (port 53): run the harness in a network and
//! mount namespace of its own, with a `resolv.conf` naming 127.0.0.1
//! bind-mounted over the system's and the zone served on 127.0.0.1:53
//! (`--serve-addr 127.0.0.1:53`); see the README's performance section.

use std::ffi::{CString, c_char, c_int, c_void};
use std::net::IpAddr;

#[link(name = "spf2")]
unsafe extern "C" {
    fn SPF_server_new(dnstype: c_int, debug: c_int) -> *mut c_void;
    fn SPF_server_free(server: *mut c_void);
    fn SPF_request_new(server: *mut c_void) -> *mut c_void;
    fn SPF_request_free(request: *mut c_void);
    fn SPF_request_set_ipv4_str(request: *mut c_void, ip: *const c_char) -> c_int;
    fn SPF_request_set_ipv6_str(request: *mut c_void, ip: *const c_char) -> c_int;
    fn SPF_request_set_helo_dom(request: *mut c_void, helo: *const c_char) -> c_int;
    fn SPF_request_set_env_from(request: *mut c_void, from: *const c_char) -> c_int;
    fn SPF_request_query_mailfrom(request: *mut c_void, response: *mut *mut c_void) -> c_int;
    fn SPF_response_result(response: *mut c_void) -> c_int;
    fn SPF_response_free(response: *mut c_void);
}

/// `SPF_server_dnstype_t`: `SPF_DNS_RESOLV, SPF_DNS_CACHE, SPF_DNS_ZONE`.
const SPF_DNS_CACHE: c_int = 1;

/// One cold MAIL FROM check: the result's name (`pass`, `fail`, ...), or
/// `None` if libspf2 could not be set up or refused the input.
pub fn check(ip: IpAddr, mail_from: &str, helo: &str) -> Option<&'static str> {
    let ip_text = CString::new(ip.to_string()).ok()?;
    let from = CString::new(mail_from).ok()?;
    let helo = CString::new(helo).ok()?;
    // SAFETY: the calls follow libspf2's documented use (spfquery.c):
    // a server, a request on it, its inputs as NUL-terminated strings that
    // outlive the calls, one query, then response, request and server freed
    // in that order, each exactly once; null pointers are checked.
    unsafe {
        let server = SPF_server_new(SPF_DNS_CACHE, 0);
        if server.is_null() {
            return None;
        }
        let request = SPF_request_new(server);
        if request.is_null() {
            SPF_server_free(server);
            return None;
        }
        let set = match ip {
            IpAddr::V4(_) => SPF_request_set_ipv4_str(request, ip_text.as_ptr()),
            IpAddr::V6(_) => SPF_request_set_ipv6_str(request, ip_text.as_ptr()),
        };
        let mut result = None;
        if set == 0
            && SPF_request_set_helo_dom(request, helo.as_ptr()) == 0
            && SPF_request_set_env_from(request, from.as_ptr()) == 0
        {
            let mut response: *mut c_void = std::ptr::null_mut();
            // The return code is the response's error, if any: the result
            // is read from the response either way (as spfquery does).
            let _ = SPF_request_query_mailfrom(request, &mut response);
            if !response.is_null() {
                // `SPF_result_t`.
                result = Some(match SPF_response_result(response) {
                    1 => "neutral",
                    2 => "pass",
                    3 => "fail",
                    4 => "softfail",
                    5 => "none",
                    6 => "temperror",
                    7 => "permerror",
                    _ => "invalid",
                });
                SPF_response_free(response);
            }
        }
        SPF_request_free(request);
        SPF_server_free(server);
        result
    }
}
