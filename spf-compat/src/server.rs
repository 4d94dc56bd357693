//! Servers (`SPF_server_t`): a DNS layer stack and the settings checks use.

use std::ffi::{c_char, c_int};

use crate::abi::*;
use crate::boundary::{MAX_INPUT_LEN, bytes, c_strdup, free_slot, guard, new_zeroed};
use crate::dns::{SPF_dns_cache_new, SPF_dns_free, SPF_dns_resolv_new, SPF_dns_zone_new};
use crate::record::{self, SPF_macro_free, SPF_record_free};
use crate::response::{add_message, new_response};

/// The host's name (libspf2's default `rec_dom`).
fn host_name() -> Vec<u8> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its length; gethostname NUL-terminates
    // within it when the name fits (we keep one byte spare regardless).
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) } == 0;
    let name = if ok { buf.split(|&b| b == 0).next().unwrap_or_default() } else { b"" };
    if name.is_empty() { b"localhost".to_vec() } else { name.to_vec() }
}

fn new_server(resolver: *mut SPF_dns_server_t, debug: c_int) -> *mut SPF_server_t {
    let server = new_zeroed::<SPF_server_t>();
    if server.is_null() {
        return server;
    }
    // SAFETY: fresh and zeroed.
    unsafe {
        let s = &mut *server;
        s.resolver = resolver;
        s.max_dns_mech = SPF_MAX_DNS_MECH;
        s.max_dns_ptr = SPF_MAX_DNS_PTR;
        s.max_dns_mx = SPF_MAX_DNS_MX;
        s.debug = debug;
        s.rec_dom = c_strdup(&host_name());
        s.explanation = record::compile_macro(std::ptr::null_mut(), SPF_DEFAULT_EXP.as_bytes())
            .unwrap_or(std::ptr::null_mut());
        s.local_policy = record::compile(server, std::ptr::null_mut(), SPF_VER_STR.as_bytes())
            .unwrap_or(std::ptr::null_mut());
    }
    server
}

/// `SPF_server_new`: a server with its own DNS stack: `SPF_DNS_RESOLV`
/// (fastspf's resolver), `SPF_DNS_CACHE` (a cache layer over it, as in
/// libspf2) or `SPF_DNS_ZONE` (an empty zone). NULL for any other type.
/// `debug` is kept in the structure; this library prints no debug output.
#[unsafe(no_mangle)]
pub extern "C" fn SPF_server_new(dnstype: SPF_server_dnstype_t, debug: c_int) -> *mut SPF_server_t {
    guard(std::ptr::null_mut(), || {
        let none = std::ptr::null_mut();
        let resolver = match dnstype {
            SPF_DNS_RESOLV => SPF_dns_resolv_new(none, std::ptr::null(), debug),
            SPF_DNS_CACHE => {
                let below = SPF_dns_resolv_new(none, std::ptr::null(), debug);
                let cache = SPF_dns_cache_new(below, std::ptr::null(), debug, 8);
                if cache.is_null() {
                    // SAFETY: ours.
                    unsafe { SPF_dns_free(below) };
                }
                cache
            }
            SPF_DNS_ZONE => SPF_dns_zone_new(none, std::ptr::null(), debug),
            _ => return none.cast(),
        };
        if resolver.is_null() {
            return none.cast();
        }
        let server = new_server(resolver, debug);
        if server.is_null() {
            // SAFETY: ours.
            unsafe { SPF_dns_free(resolver) };
        } else {
            // SAFETY: fresh.
            unsafe { (*server).destroy_resolver = 1 };
        }
        server
    })
}

/// `SPF_server_new_dns`: a server over the caller's DNS layer stack, which
/// `SPF_server_free` frees down to the first layer without a `destroy`
/// function (libspf2's rule).
#[unsafe(no_mangle)]
pub extern "C" fn SPF_server_new_dns(dns: *mut SPF_dns_server_t, debug: c_int) -> *mut SPF_server_t {
    guard(std::ptr::null_mut(), || new_server(dns, debug))
}

/// `SPF_server_free`.
///
/// # Safety
/// `server` is NULL or from this library, not used afterwards (nor its
/// requests' queries).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_server_free(server: *mut SPF_server_t) {
    guard((), || {
        if server.is_null() {
            return;
        }
        // SAFETY: per the caller.
        unsafe {
            let s = &mut *server;
            SPF_dns_free(s.resolver);
            SPF_record_free(s.local_policy);
            SPF_macro_free(s.explanation);
            free_slot(&mut s.rec_dom);
            libc::free(server.cast());
        }
    })
}

/// `SPF_server_set_rec_dom`: the receiving host's name (`%{r}`, the header
/// comment); NULL means the host name.
///
/// # Safety
/// `server` is NULL or valid; `dom` is NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_server_set_rec_dom(
    server: *mut SPF_server_t,
    dom: *const c_char,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        if server.is_null() {
            return SPF_E_NOT_CONFIG;
        }
        // SAFETY: per the caller.
        let name = unsafe { bytes(dom) }.map_or_else(host_name, <[u8]>::to_vec);
        if name.len() > MAX_INPUT_LEN {
            return SPF_E_BIG_STRING;
        }
        // SAFETY: per the caller.
        let s = unsafe { &mut *server };
        // SAFETY: our own string.
        unsafe { free_slot(&mut s.rec_dom) };
        s.rec_dom = c_strdup(&name);
        if s.rec_dom.is_null() { SPF_E_NO_MEMORY } else { SPF_E_SUCCESS }
    })
}

/// `SPF_server_set_sanitize`: recorded; output is always sanitized (see
/// the header).
///
/// # Safety
/// `server` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_server_set_sanitize(
    server: *mut SPF_server_t,
    sanitize: c_int,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        if server.is_null() {
            return SPF_E_NOT_CONFIG;
        }
        // SAFETY: per the caller.
        unsafe { (*server).sanitize = sanitize };
        SPF_E_SUCCESS
    })
}

/// The response libspf2's setters report errors into: `*responsep`, made
/// when NULL ("a hackish way to get the errors", libspf2 says).
unsafe fn error_response(responsep: *mut *mut SPF_response_t) -> Result<*mut SPF_response_t, SPF_errcode_t> {
    if responsep.is_null() {
        return Err(SPF_E_INVALID_OPT);
    }
    // SAFETY: writable, per the caller.
    unsafe {
        if (*responsep).is_null() {
            *responsep = new_response(std::ptr::null_mut());
        }
        if (*responsep).is_null() { Err(SPF_E_NO_MEMORY) } else { Ok(*responsep) }
    }
}

/// `SPF_server_set_explanation`: the explanation used on `fail` when the
/// record has no `exp=` (and in the SMTP comment of softfail, neutral and
/// none). `*responsep` is made if NULL and receives any error.
///
/// # Safety
/// `server` NULL or valid; `exp` NULL or a C string; `responsep` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_server_set_explanation(
    server: *mut SPF_server_t,
    exp: *const c_char,
    responsep: *mut *mut SPF_response_t,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        // SAFETY: per the caller.
        let response = match unsafe { error_response(responsep) } {
            Ok(r) => r,
            Err(code) => return code,
        };
        // SAFETY: per the caller.
        let (Some(text), false) = (unsafe { bytes(exp) }, server.is_null()) else {
            // SAFETY: ours.
            unsafe { add_message(response, SPF_E_NOT_CONFIG, "no server or explanation", true) };
            return SPF_E_NOT_CONFIG;
        };
        match record::compile_macro(response, text) {
            Ok(mac) => {
                // SAFETY: per the caller; the old macro is ours.
                unsafe {
                    SPF_macro_free((*server).explanation);
                    (*server).explanation = mac;
                }
                SPF_E_SUCCESS
            }
            Err(code) => {
                let what = format!("Failed to compile explanation '{}'", String::from_utf8_lossy(text));
                // SAFETY: ours.
                unsafe { add_message(response, code, &what, true) };
                code
            }
        }
    })
}

/// `SPF_server_set_localpolicy`: compiles `v=spf1 <policy>` (plus
/// `include:spf.trusted-forwarder.org` when asked) and keeps it in
/// `server->local_policy`. As in libspf2 1.2.10, where no request ever
/// turns `use_local_policy` on, the policy is not applied to checks.
///
/// # Safety
/// As for [`SPF_server_set_explanation`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_server_set_localpolicy(
    server: *mut SPF_server_t,
    policy: *const c_char,
    use_default_whitelist: c_int,
    responsep: *mut *mut SPF_response_t,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        // SAFETY: per the caller.
        let response = match unsafe { error_response(responsep) } {
            Ok(r) => r,
            Err(code) => return code,
        };
        // SAFETY: per the caller.
        let (Some(policy), false) = (unsafe { bytes(policy) }, server.is_null()) else {
            // SAFETY: ours.
            unsafe { add_message(response, SPF_E_NOT_CONFIG, "no server or policy", true) };
            return SPF_E_NOT_CONFIG;
        };
        let mut text = format!("{SPF_VER_STR} {}", String::from_utf8_lossy(policy));
        if use_default_whitelist != 0 {
            text.push(' ');
            text.push_str(SPF_DEFAULT_WHITELIST);
        }
        match record::compile(server, response, text.trim_end().as_bytes()) {
            Ok(rec) => {
                // SAFETY: per the caller; the old record is ours.
                unsafe {
                    SPF_record_free((*server).local_policy);
                    (*server).local_policy = rec;
                }
                SPF_E_SUCCESS
            }
            Err(code) => {
                let what = format!("Failed to compile local policy '{}'", String::from_utf8_lossy(policy));
                // SAFETY: ours.
                unsafe { add_message(response, code, &what, true) };
                code
            }
        }
    })
}

macro_rules! limit_accessors {
    ($set:ident, $get:ident, $field:ident) => {
        /// libspf2's limit setter: the value is used as given (above 10
        /// breaks RFC 7208 §4.6.4; negative counts as 0).
        ///
        /// # Safety
        /// `server` is NULL or valid.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set(server: *mut SPF_server_t, n: c_int) -> SPF_errcode_t {
            guard(SPF_E_INTERNAL_ERROR, || {
                if server.is_null() {
                    return SPF_E_NOT_CONFIG;
                }
                // SAFETY: per the caller.
                unsafe { (*server).$field = n };
                SPF_E_SUCCESS
            })
        }

        /// libspf2's limit getter (0 for NULL).
        ///
        /// # Safety
        /// `server` is NULL or valid.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $get(server: *mut SPF_server_t) -> c_int {
            // SAFETY: per the caller.
            guard(0, || if server.is_null() { 0 } else { unsafe { (*server).$field } })
        }
    };
}

limit_accessors!(SPF_server_set_max_dns_mech, SPF_server_get_max_dns_mech, max_dns_mech);
limit_accessors!(SPF_server_set_max_dns_mx, SPF_server_get_max_dns_mx, max_dns_mx);
limit_accessors!(SPF_server_set_max_dns_ptr, SPF_server_get_max_dns_ptr, max_dns_ptr);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::local_policy_text;
    use crate::response::{SPF_response_free, SPF_response_messages};
    use std::ffi::CString;

    #[test]
    fn setters_report_into_a_made_response() {
        let server = SPF_server_new(SPF_DNS_ZONE, 0);
        assert!(!server.is_null());
        let mut response = std::ptr::null_mut();
        let bad = CString::new("%{z}").expect("no nul");
        let good = CString::new("ip4:192.0.2.0/24").expect("no nul");
        // SAFETY: valid server and pointers; all freed.
        unsafe {
            assert_eq!(SPF_server_set_explanation(server, bad.as_ptr(), &mut response), SPF_E_INVALID_VAR);
            assert!(!response.is_null(), "made for the caller");
            assert_eq!(SPF_response_messages(response), 2, "the parse error and libspf2's summary");
            assert_eq!(SPF_server_set_localpolicy(server, good.as_ptr(), 1, &mut response), SPF_E_SUCCESS);
            assert_eq!(
                local_policy_text(server),
                Some("v=spf1 ip4:192.0.2.0/24 include:spf.trusted-forwarder.org")
            );
            assert_eq!(SPF_server_set_max_dns_mech(server, 5), SPF_E_SUCCESS);
            assert_eq!(SPF_server_get_max_dns_mech(server), 5);
            assert_eq!(SPF_server_get_max_dns_mx(std::ptr::null_mut()), 0);
            SPF_response_free(response);
            SPF_server_free(server);
        }
        assert!(SPF_server_new(7, 0).is_null(), "unknown DNS type");
    }
}
