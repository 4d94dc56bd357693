//! Requests (`SPF_request_t`): the client, the identities, and the queries.

use std::ffi::{c_char, c_int};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::abi::*;
use crate::boundary::{MAX_INPUT_LEN, bytes, free_slot, guard, new_zeroed, set_string, text};
use crate::bridge::{self, CheckInput, Outcome};
use crate::record::macro_of;
#[cfg(test)]
use crate::record::record_text;
use crate::response::{self, new_response};

/// `AF_INET` / `AF_INET6` as `client_ver` holds them.
const AF_INET: c_int = libc::AF_INET;
const AF_INET6: c_int = libc::AF_INET6;

/// A request's values as owned Rust strings (what macros and headers need).
#[derive(Debug, Default)]
pub(crate) struct RequestView {
    pub ip: Option<IpAddr>,
    /// `<sender>` (`local@domain`), empty when none was set.
    pub sender: String,
    /// The domain being checked: `cur_dom`, else the sender's domain.
    pub domain: String,
    pub helo: String,
    /// The server's `rec_dom`, or `unknown`.
    pub receiver: String,
}

impl RequestView {
    /// Reads `request` (NULL gives empty values).
    ///
    /// # Safety
    /// `request` is NULL or valid, and so is its server pointer.
    pub(crate) unsafe fn of(request: *const SPF_request_t) -> RequestView {
        if request.is_null() {
            return RequestView { receiver: "unknown".into(), ..Default::default() };
        }
        // SAFETY: valid, per the caller.
        let r = unsafe { &*request };
        let s = |p: *const c_char| unsafe { text(p) }.map(|t| t.into_owned());
        let receiver = if r.spf_server.is_null() {
            None
        } else {
            // SAFETY: valid server, per the caller.
            s(unsafe { (*r.spf_server).rec_dom })
        };
        RequestView {
            ip: client_ip(r),
            sender: s(r.env_from).unwrap_or_default(),
            domain: s(r.cur_dom).or_else(|| s(r.env_from_dp)).unwrap_or_default(),
            helo: s(r.helo_dom).unwrap_or_default(),
            receiver: receiver.unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// The client address, when one was set.
pub(crate) fn client_ip(r: &SPF_request_t) -> Option<IpAddr> {
    match r.client_ver {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::from(r.ipv4.s_addr.to_ne_bytes()))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(r.ipv6.s6_addr))),
        _ => None,
    }
}

/// `SPF_request_new`: a request for `server` (which may be set later, as
/// Mail::SPF_XS does, by writing `request->spf_server`).
#[unsafe(no_mangle)]
pub extern "C" fn SPF_request_new(server: *mut SPF_server_t) -> *mut SPF_request_t {
    guard(std::ptr::null_mut(), || {
        let request = new_zeroed::<SPF_request_t>();
        if !request.is_null() {
            // SAFETY: fresh and zeroed (0.0.0.0 and ::, client_ver AF_UNSPEC).
            unsafe { (*request).spf_server = server };
        }
        request
    })
}

/// `SPF_request_free`: frees the request and its strings (not its server).
///
/// # Safety
/// `request` is NULL or from `SPF_request_new`, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_free(request: *mut SPF_request_t) {
    guard((), || {
        if request.is_null() {
            return;
        }
        // SAFETY: per the caller; every string is malloc'ed by us.
        unsafe {
            let r = &mut *request;
            for slot in [
                &mut r.env_from,
                &mut r.helo_dom,
                &mut r.rcpt_to_dom,
                &mut r.env_from_lp,
                &mut r.env_from_dp,
                &mut r.client_dom,
            ] {
                free_slot(slot);
            }
            libc::free(request.cast());
        }
    })
}

/// `SPF_request_set_ipv4`.
///
/// # Safety
/// `request` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_set_ipv4(
    request: *mut SPF_request_t,
    addr: libc::in_addr,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        if request.is_null() {
            return SPF_E_NOT_CONFIG;
        }
        // SAFETY: per the caller.
        unsafe {
            let r = &mut *request;
            free_slot(&mut r.client_dom);
            r.client_ver = AF_INET;
            r.ipv4 = addr;
        }
        SPF_E_SUCCESS
    })
}

/// `SPF_request_set_ipv6`.
///
/// # Safety
/// `request` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_set_ipv6(
    request: *mut SPF_request_t,
    addr: libc::in6_addr,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        if request.is_null() {
            return SPF_E_NOT_CONFIG;
        }
        // SAFETY: per the caller.
        unsafe {
            let r = &mut *request;
            free_slot(&mut r.client_dom);
            r.client_ver = AF_INET6;
            r.ipv6 = addr;
        }
        SPF_E_SUCCESS
    })
}

/// `SPF_request_set_ipv4_str`: a dotted quad (NULL means 0.0.0.0);
/// `SPF_E_INVALID_IP4` otherwise, leaving the request as it was.
///
/// # Safety
/// `request` is NULL or valid; `addr` is NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_set_ipv4_str(
    request: *mut SPF_request_t,
    addr: *const c_char,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        // SAFETY: per the caller.
        let text = unsafe { bytes(addr) }.unwrap_or(b"0.0.0.0");
        let Some(ip) = std::str::from_utf8(text).ok().and_then(|t| t.parse::<Ipv4Addr>().ok()) else {
            return SPF_E_INVALID_IP4;
        };
        let addr = libc::in_addr { s_addr: u32::from_ne_bytes(ip.octets()) };
        // SAFETY: per the caller.
        unsafe { SPF_request_set_ipv4(request, addr) }
    })
}

/// `SPF_request_set_ipv6_str`: an IPv6 address (NULL means ::);
/// `SPF_E_INVALID_IP6` otherwise.
///
/// # Safety
/// As for [`SPF_request_set_ipv4_str`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_set_ipv6_str(
    request: *mut SPF_request_t,
    addr: *const c_char,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        // SAFETY: per the caller.
        let text = unsafe { bytes(addr) }.unwrap_or(b"::");
        let Some(ip) = std::str::from_utf8(text).ok().and_then(|t| t.parse::<Ipv6Addr>().ok()) else {
            return SPF_E_INVALID_IP6;
        };
        // SAFETY: per the caller.
        unsafe { SPF_request_set_ipv6(request, libc::in6_addr { s6_addr: ip.octets() }) }
    })
}

/// `SPF_request_set_helo_dom`: the HELO/EHLO name; also the envelope
/// sender (`postmaster@<helo>`) while none is set, as in libspf2.
///
/// # Safety
/// `request` is NULL or valid; `dom` is NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_set_helo_dom(
    request: *mut SPF_request_t,
    dom: *const c_char,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        if request.is_null() {
            return SPF_E_NOT_CONFIG;
        }
        // SAFETY: per the caller.
        let Some(dom) = (unsafe { bytes(dom) }) else { return SPF_E_INVALID_OPT };
        if dom.len() > MAX_INPUT_LEN {
            return SPF_E_BIG_STRING;
        }
        // SAFETY: per the caller.
        let r = unsafe { &mut *request };
        // SAFETY: our own malloc'ed string.
        if !unsafe { set_string(&mut r.helo_dom, dom) } {
            return SPF_E_NO_MEMORY;
        }
        if r.env_from.is_null() {
            // SAFETY: forwarded.
            return unsafe { SPF_request_set_env_from(request, r.helo_dom) };
        }
        SPF_E_SUCCESS
    })
}

/// `SPF_request_set_env_from`: the envelope sender. As in libspf2: an
/// empty sender means the HELO name (when set); an address without a
/// local part gets `postmaster`. Returns 0 on success.
///
/// # Safety
/// `request` is NULL or valid; `from` is NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_set_env_from(request: *mut SPF_request_t, from: *const c_char) -> c_int {
    guard(SPF_E_INTERNAL_ERROR, || {
        if request.is_null() {
            return SPF_E_NOT_CONFIG;
        }
        // SAFETY: per the caller.
        let Some(from) = (unsafe { bytes(from) }) else { return SPF_E_INVALID_OPT };
        if from.len() > MAX_INPUT_LEN {
            return SPF_E_BIG_STRING;
        }
        // SAFETY: per the caller.
        let r = unsafe { &mut *request };
        let helo = if r.helo_dom.is_null() {
            None
        } else {
            // SAFETY: our own string.
            unsafe { bytes(r.helo_dom) }.map(<[u8]>::to_vec)
        };
        let from: Vec<u8> = match (from.is_empty(), helo) {
            (true, Some(helo)) => helo,
            _ => from.to_vec(),
        };
        let (sender, local, domain) = match from.iter().rposition(|&b| b == b'@') {
            Some(at) if at > 0 => (from.clone(), from[..at].to_vec(), from[at + 1..].to_vec()),
            at => {
                let domain = if at == Some(0) { from[1..].to_vec() } else { from.clone() };
                ([&b"postmaster@"[..], &domain].concat(), b"postmaster".to_vec(), domain)
            }
        };
        // SAFETY: our own malloc'ed strings.
        let ok = unsafe {
            set_string(&mut r.env_from, &sender)
                && set_string(&mut r.env_from_lp, &local)
                && set_string(&mut r.env_from_dp, &domain)
        };
        if ok { SPF_E_SUCCESS } else { SPF_E_NO_MEMORY }
    })
}

/// `SPF_request_get_rec_dom`: the server's receiving-domain name.
///
/// # Safety
/// `request` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_get_rec_dom(request: *mut SPF_request_t) -> *const c_char {
    guard(std::ptr::null(), || {
        if request.is_null() {
            return std::ptr::null();
        }
        // SAFETY: per the caller.
        let server = unsafe { (*request).spf_server };
        // SAFETY: as above.
        if server.is_null() { std::ptr::null() } else { unsafe { (*server).rec_dom } }
    })
}

/// `SPF_request_is_loopback`: whether the client is 127.0.0.0/8 or ::1.
///
/// # Safety
/// `request` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_is_loopback(request: *mut SPF_request_t) -> c_int {
    guard(0, || {
        if request.is_null() {
            return 0;
        }
        // SAFETY: per the caller.
        c_int::from(client_ip(unsafe { &*request }).is_some_and(|ip| ip.is_loopback()))
    })
}

/// What to evaluate.
enum Query<'a> {
    /// The request's MAIL FROM (or, with `use_helo`, HELO) identity.
    Identity,
    /// A record given by the caller, at the request's domain.
    Record(&'a str),
    /// Whether the client is an MX host of this recipient domain.
    SecondaryMx(String),
    /// Nothing to evaluate: the arguments were unusable (permerror).
    Refused(SPF_errcode_t, &'static str),
}

/// Runs a query into a fresh `*responsep` (libspf2 overwrites the pointer
/// without freeing what it held; so does this).
unsafe fn run(
    request: *mut SPF_request_t,
    responsep: *mut *mut SPF_response_t,
    query: Query<'_>,
) -> SPF_errcode_t {
    if responsep.is_null() {
        return SPF_E_INVALID_OPT;
    }
    let response = new_response(request);
    // SAFETY: writable, per the caller.
    unsafe { *responsep = response };
    if response.is_null() {
        return SPF_E_NO_MEMORY;
    }
    if request.is_null() {
        // SAFETY: ours.
        return unsafe {
            response::done_error(response, SPF_RESULT_PERMERROR, SPF_E_NOT_CONFIG, "no request")
        };
    }
    if let Query::Refused(code, why) = query {
        // SAFETY: ours.
        return unsafe { response::done_error(response, SPF_RESULT_PERMERROR, code, why) };
    }
    // SAFETY: valid, per the caller.
    let r = unsafe { &mut *request };
    let server = r.spf_server;
    let Some(ip) = client_ip(r) else {
        // SAFETY: ours.
        return unsafe {
            response::done_error(response, SPF_RESULT_PERMERROR, SPF_E_NOT_CONFIG, "no client address set")
        };
    };
    if server.is_null() {
        // SAFETY: ours.
        return unsafe {
            response::done_error(response, SPF_RESULT_PERMERROR, SPF_E_NOT_CONFIG, "no server")
        };
    }
    // libspf2 gives the local host a free ride: it never checks loopback clients.
    if ip.is_loopback() {
        let outcome = Outcome {
            result: SPF_RESULT_PASS,
            reason: SPF_REASON_LOCALHOST,
            err: SPF_E_SUCCESS,
            explanation: None,
            problem: None,
            dns_lookups: 0,
        };
        // SAFETY: ours.
        return unsafe { response::done(response, &outcome) };
    }
    // SAFETY: our own strings, or NULL.
    let owned = |p: *const c_char| unsafe { text(p) }.map(|t| t.into_owned());
    let helo = owned(r.helo_dom);
    let helo_identity = r.use_helo != 0;
    let (domain_slot, domain) = match (&query, helo_identity) {
        (Query::SecondaryMx(domain), _) => {
            // SAFETY: our own malloc'ed string.
            if !unsafe { set_string(&mut r.rcpt_to_dom, domain.as_bytes()) } {
                return SPF_E_NO_MEMORY;
            }
            (r.rcpt_to_dom.cast_const(), Some(domain.clone()))
        }
        (_, true) => (r.helo_dom.cast_const(), helo.clone()),
        (_, false) => (r.env_from_dp.cast_const(), owned(r.env_from_dp)),
    };
    let Some(domain) = domain else {
        // SAFETY: ours.
        return unsafe {
            response::done_error(response, SPF_RESULT_PERMERROR, SPF_E_NOT_CONFIG, "no identity set")
        };
    };
    r.cur_dom = domain_slot;
    let sender = if helo_identity {
        format!("postmaster@{domain}")
    } else {
        owned(r.env_from).unwrap_or_else(|| format!("postmaster@{domain}"))
    };
    // SAFETY: a valid server, per libspf2's contract.
    let s = unsafe { &*server };
    let receiver = owned(s.rec_dom);
    // SAFETY: NULL or the server's own macro.
    let explanation = unsafe { macro_of(s.explanation) }.unwrap_or(SPF_DEFAULT_EXP.as_bytes());
    let rcpt_record;
    let record_override = match &query {
        Query::Identity | Query::Refused(..) => None,
        Query::Record(record) => Some(*record),
        Query::SecondaryMx(domain) => {
            rcpt_record = format!("{SPF_VER_STR} mx:{domain}");
            Some(rcpt_record.as_str())
        }
    };
    let input = CheckInput {
        ip,
        domain: &domain,
        sender: &sender,
        helo: helo.as_deref().unwrap_or(""),
        helo_identity,
        receiver: receiver.as_deref(),
        explanation,
        max_dns_mech: bridge::limit(s.max_dns_mech),
        max_dns_mx: bridge::limit(s.max_dns_mx),
        max_dns_ptr: bridge::limit(s.max_dns_ptr),
        record_override,
    };
    let mut outcome = bridge::check(&input, s.resolver);
    if matches!(query, Query::SecondaryMx(_)) && outcome.result == SPF_RESULT_PASS {
        outcome.reason = SPF_REASON_2MX;
    }
    // SAFETY: ours.
    unsafe { response::done(response, &outcome) }
}

/// `SPF_request_query_mailfrom`: checks the MAIL FROM identity (the HELO
/// identity when `request->use_helo` is set) with RFC 7208's
/// check_host(). `*responsep` gets a new response (free it with
/// `SPF_response_free`) holding the result whatever it is; the return
/// value is libspf2's: `SPF_E_SUCCESS` when a mechanism or the end of the
/// record decided (pass, fail, softfail, neutral), `SPF_E_NOT_SPF` for
/// none, `SPF_E_DNS_ERROR` for temperror, the record's error for permerror.
///
/// # Safety
/// `request` is NULL or valid; `responsep` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_query_mailfrom(
    request: *mut SPF_request_t,
    responsep: *mut *mut SPF_response_t,
) -> SPF_errcode_t {
    // SAFETY: per the caller.
    guard(SPF_E_INTERNAL_ERROR, || unsafe { run(request, responsep, Query::Identity) })
}

/// `SPF_request_query_fallback`: evaluates `record` as if the request's
/// domain published it (Exim's `spf_guess`). `SPF_E_INVALID_OPT` for a
/// NULL record; a record that does not parse gives permerror.
///
/// # Safety
/// As for [`SPF_request_query_mailfrom`]; `record` is NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_query_fallback(
    request: *mut SPF_request_t,
    responsep: *mut *mut SPF_response_t,
    record: *const c_char,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        // SAFETY: per the caller.
        let record = unsafe { text(record) };
        let query = match &record {
            None => Query::Refused(SPF_E_INVALID_OPT, "no fallback record given"),
            Some(r) if r.len() > MAX_INPUT_LEN => {
                Query::Refused(SPF_E_BIG_STRING, "fallback record too long")
            }
            Some(r) => Query::Record(r),
        };
        // SAFETY: per the caller.
        unsafe { run(request, responsep, query) }
    })
}

/// `SPF_request_query_rcptto`: whether the client is an MX host of the
/// recipient's domain (the part after the last `@` of `rcpt_to`), by
/// evaluating `v=spf1 mx:<domain>`: pass (reason `SPF_REASON_2MX`) or
/// neutral. A domain that is not a plain host name (letters, digits, `-`,
/// `_`, `.`) gives permerror without any lookup.
///
/// # Safety
/// As for [`SPF_request_query_fallback`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_request_query_rcptto(
    request: *mut SPF_request_t,
    responsep: *mut *mut SPF_response_t,
    rcpt_to: *const c_char,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        // SAFETY: per the caller.
        let rcpt = unsafe { bytes(rcpt_to) }.unwrap_or_default();
        let domain = match rcpt.iter().rposition(|&b| b == b'@') {
            Some(at) => &rcpt[at + 1..],
            None => rcpt,
        };
        let plain = !domain.is_empty()
            && domain.len() <= 253
            && domain.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !plain {
            // A record is built from this domain: nothing else may reach it.
            let refused = Query::Refused(SPF_E_INVALID_OPT, "the recipient domain is not a host name");
            // SAFETY: per the caller.
            return unsafe { run(request, responsep, refused) };
        }
        let domain = String::from_utf8_lossy(domain).to_ascii_lowercase();
        // SAFETY: per the caller.
        unsafe { run(request, responsep, Query::SecondaryMx(domain)) }
    })
}

/// For tests: the text of a server's local policy record.
#[cfg(test)]
pub(crate) unsafe fn local_policy_text<'a>(server: *const SPF_server_t) -> Option<&'a str> {
    // SAFETY: per the caller.
    unsafe { record_text((*server).local_policy) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_at_and_past_the_input_bound() {
        let request = SPF_request_new(std::ptr::null_mut());
        let at = std::ffi::CString::new(format!("{}@example.com", "l".repeat(MAX_INPUT_LEN - 12)))
            .expect("no nul");
        let past = std::ffi::CString::new(format!("{}@example.com", "l".repeat(MAX_INPUT_LEN - 11)))
            .expect("no nul");
        assert_eq!(at.as_bytes().len(), MAX_INPUT_LEN);
        // SAFETY: a valid request and C strings; freed at the end.
        unsafe {
            assert_eq!(SPF_request_set_env_from(request, at.as_ptr()), SPF_E_SUCCESS);
            assert_eq!(SPF_request_set_env_from(request, past.as_ptr()), SPF_E_BIG_STRING);
            assert_eq!(SPF_request_set_helo_dom(request, at.as_ptr()), SPF_E_SUCCESS);
            assert_eq!(SPF_request_set_helo_dom(request, past.as_ptr()), SPF_E_BIG_STRING);
            assert_eq!(
                bytes((*request).env_from).map(<[u8]>::len),
                Some(MAX_INPUT_LEN),
                "the one past was refused"
            );
            SPF_request_free(request);
        }
    }

    #[test]
    fn identities_split_like_libspf2() {
        let request = SPF_request_new(std::ptr::null_mut());
        let set = |from: &str| {
            let from = std::ffi::CString::new(from).expect("no nul");
            // SAFETY: valid request and string.
            unsafe { SPF_request_set_env_from(request, from.as_ptr()) }
        };
        // SAFETY: our own request's strings.
        let parts = || unsafe {
            let r = &*request;
            [r.env_from, r.env_from_lp, r.env_from_dp]
                .map(|p| bytes(p).map(|b| String::from_utf8_lossy(b).into_owned()))
        };
        assert_eq!(set("a@b@example.com"), 0);
        assert_eq!(parts(), [Some("a@b@example.com".into()), Some("a@b".into()), Some("example.com".into())]);
        assert_eq!(set("@example.com"), 0);
        assert_eq!(
            parts(),
            [Some("postmaster@example.com".into()), Some("postmaster".into()), Some("example.com".into())]
        );
        let helo = std::ffi::CString::new("mail.example.org").expect("no nul");
        // SAFETY: valid request and string.
        unsafe { SPF_request_set_helo_dom(request, helo.as_ptr()) };
        assert_eq!(set(""), 0, "the null sender means the HELO name");
        assert_eq!(parts()[0].as_deref(), Some("postmaster@mail.example.org"));
        // SAFETY: ours.
        unsafe { SPF_request_free(request) };
    }
}
