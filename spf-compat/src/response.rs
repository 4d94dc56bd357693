//! Responses (`SPF_response_t`): the result, its texts and headers in
//! libspf2's shapes, and the messages.
//!
//! Shapes (libspf2 1.2.10's, for the same result):
//!
//! * header comment: `<rec_dom>: domain of <domain> designates <ip> as
//!   permitted sender` (and the other results' sentences, see
//!   [`header_comment`]);
//! * Received-SPF: `Received-SPF: <result> (<header comment>)
//!   client-ip=<ip>; envelope-from=<sender>; helo=<helo>;`, at most
//!   `SPF_RECEIVED_SPF_SIZE - 1` bytes; `received_spf_value` points past
//!   `Received-SPF: `;
//! * SMTP comment (fail, softfail, neutral): `<explanation> :
//!   Reason: <reason>`, at most `SPF_SMTP_COMMENT_SIZE - 1` bytes.
//!
//! Unlike libspf2, every text is sanitized whatever `SPF_server_set_sanitize`
//! says: nothing a sender or a DNS record controls can put a control
//! character (CR, LF) into a header, close the comment early, or pose as a
//! `key=value` pair: in comments, characters outside a safe set become `?`;
//! `envelope-from` and `helo` values that are not dot-atoms are written as
//! quoted-strings (RFC 7208 §9.1).

use std::ffi::{c_char, c_int};
use std::fmt::Write as _;

use crate::abi::*;
#[cfg(test)]
use crate::boundary::bytes;
use crate::boundary::{c_strdup, free_slot, guard, new_zeroed, set_string, text};
use crate::bridge::Outcome;
use crate::request::client_ip;

/// Most messages one response keeps: 32 (a check adds one; compiling a
/// record or macro adds one per failure).
pub(crate) const MAX_MESSAGES: usize = 32;
/// Longest message kept: `SPF_C_ERR_MSG_SIZE - 1` = 159 bytes, libspf2's bound.
pub(crate) const MAX_MESSAGE_LEN: usize = 2 * 80 - 1;
/// Longest header comment: `SPF_SMTP_COMMENT_SIZE - 1` = 319 bytes.
pub(crate) const MAX_HEADER_COMMENT_LEN: usize = SPF_SMTP_COMMENT_SIZE - 1;

/// A new, empty response for `request` (which may be NULL).
pub(crate) fn new_response(request: *mut SPF_request_t) -> *mut SPF_response_t {
    let response = new_zeroed::<SPF_response_t>();
    if !response.is_null() {
        // SAFETY: fresh and zeroed: result INVALID, reason NONE, no error.
        unsafe { (*response).spf_request = request };
    }
    response
}

/// Printable ASCII only: anything else becomes `?`.
fn printable(text: &str, max: usize) -> String {
    text.chars().take(max).map(|c| if (' '..='~').contains(&c) { c } else { '?' }).collect()
}

/// Comment text: letters, digits, space and `.-_@:+/~!#$%&'*?^{|}` pass;
/// anything else (parentheses, `\`, `;`, `=`, quotes, controls, non-ASCII)
/// becomes `?`. Cut at `max` bytes.
fn comment_text(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| if c.is_ascii_alphanumeric() || " .-_@:+/~!#$%&'*?^{|}".contains(c) { c } else { '?' })
        .collect()
}

/// A Received-SPF value: itself when a dot-atom (with one `@` allowed),
/// else an RFC 5322 quoted-string with `"` and `\` escaped and anything
/// unprintable as `?`.
fn header_value(value: &str) -> String {
    let atom = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/?^_`{|}~".contains(c))
            })
    };
    let plain = match value.split_once('@') {
        Some((local, domain)) => atom(local) && atom(domain),
        None => atom(value),
    };
    if plain {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

/// Appends a message (error or warning), within [`MAX_MESSAGES`] and
/// [`MAX_MESSAGE_LEN`].
///
/// # Safety
/// `response` is NULL or valid.
pub(crate) unsafe fn add_message(
    response: *mut SPF_response_t,
    code: SPF_errcode_t,
    message: &str,
    is_error: bool,
) {
    if response.is_null() {
        return;
    }
    // SAFETY: valid, per the caller.
    let r = unsafe { &mut *response };
    let used = usize::from(r.errors_length);
    if used >= MAX_MESSAGES {
        return;
    }
    if used >= usize::from(r.errors_size) || r.errors.is_null() {
        let want = (used + 4).min(MAX_MESSAGES);
        // SAFETY: NULL or our malloc'ed array.
        let grown: *mut SPF_error_t =
            unsafe { libc::realloc(r.errors.cast(), want * std::mem::size_of::<SPF_error_t>()) }.cast();
        if grown.is_null() {
            return;
        }
        r.errors = grown;
        r.errors_size = u16::try_from(want).unwrap_or(u16::MAX);
    }
    let text = printable(message, MAX_MESSAGE_LEN);
    // SAFETY: `used < errors_size`.
    unsafe {
        r.errors.add(used).write(SPF_error_t {
            code,
            message: c_strdup(text.as_bytes()),
            is_error: c_char::from(is_error),
        });
    }
    r.errors_length += 1;
    if is_error {
        r.num_errors += 1;
    }
}

/// Ends a query that could not be evaluated.
///
/// # Safety
/// `response` is valid.
pub(crate) unsafe fn done_error(
    response: *mut SPF_response_t,
    result: SPF_result_t,
    err: SPF_errcode_t,
    why: &str,
) -> SPF_errcode_t {
    let outcome = Outcome {
        result,
        reason: SPF_REASON_NONE,
        err,
        explanation: None,
        problem: Some(why.to_string()),
        dns_lookups: 0,
    };
    // SAFETY: forwarded.
    unsafe { done(response, &outcome) }
}

/// Fills `response` from `outcome` (libspf2's `SPF_i_done`) and returns
/// the outcome's error code.
///
/// # Safety
/// `response` is valid; its request (if any) and the request's server
/// (if any) are valid.
pub(crate) unsafe fn done(response: *mut SPF_response_t, outcome: &Outcome) -> SPF_errcode_t {
    // SAFETY: valid, per the caller.
    let r = unsafe { &mut *response };
    r.result = outcome.result;
    r.reason = outcome.reason;
    r.err = outcome.err;
    r.num_dns_mech = c_int::try_from(outcome.dns_lookups).unwrap_or(c_int::MAX);
    if let Some(problem) = &outcome.problem {
        // SAFETY: valid.
        unsafe { add_message(response, outcome.err, problem, true) };
    }
    // SAFETY: valid, per the caller.
    let facts = unsafe { Facts::of(r.spf_request) };
    let explanation = outcome.explanation.as_deref().map(|e| printable(e, SPF_SMTP_COMMENT_SIZE - 1));
    let smtp_comment = match (outcome.result, &explanation) {
        (SPF_RESULT_FAIL | SPF_RESULT_SOFTFAIL | SPF_RESULT_NEUTRAL | SPF_RESULT_NONE, Some(exp)) => {
            // SAFETY: static strings.
            let reason = unsafe { text(crate::strings::SPF_strreason(outcome.reason)) }.unwrap_or_default();
            let mut comment = format!("{exp} : Reason: {reason}");
            comment.truncate(SPF_SMTP_COMMENT_SIZE - 1);
            Some(comment)
        }
        _ => None,
    };
    let comment = header_comment(&facts, outcome);
    let received = received_spf(&facts, outcome.result, &comment);
    // SAFETY: our own malloc'ed strings (or NULL).
    unsafe {
        free_slot(&mut r.explanation);
        free_slot(&mut r.smtp_comment);
        if let Some(exp) = &explanation {
            set_string(&mut r.explanation, exp.as_bytes());
        }
        if let Some(smtp) = &smtp_comment {
            set_string(&mut r.smtp_comment, smtp.as_bytes());
        }
        set_string(&mut r.header_comment, comment.as_bytes());
        set_string(&mut r.received_spf, received.as_bytes());
        r.received_spf_value = if r.received_spf.is_null() {
            std::ptr::null_mut()
        } else {
            r.received_spf.add(RECEIVED_SPF_PREFIX.len())
        };
    }
    outcome.err
}

const RECEIVED_SPF_PREFIX: &str = "Received-SPF: ";

/// What the texts say about a request.
#[derive(Debug, Default)]
struct Facts {
    rec_dom: String,
    domain: Option<String>,
    rcpt_to_dom: Option<String>,
    ip: Option<String>,
    env_from: Option<String>,
    helo: Option<String>,
}

impl Facts {
    /// # Safety
    /// `request` is NULL or valid, and so is its server.
    unsafe fn of(request: *const SPF_request_t) -> Facts {
        if request.is_null() {
            return Facts { rec_dom: "unknown".into(), ..Default::default() };
        }
        // SAFETY: valid, per the caller.
        let q = unsafe { &*request };
        // SAFETY: NULL or C strings owned by the request / server.
        let s = |p: *const c_char| unsafe { text(p) }.map(|t| t.into_owned()).filter(|t| !t.is_empty());
        // SAFETY: as above.
        let rec_dom = if q.spf_server.is_null() { None } else { s(unsafe { (*q.spf_server).rec_dom }) };
        Facts {
            rec_dom: rec_dom.unwrap_or_else(|| "unknown".into()),
            domain: s(q.cur_dom).or_else(|| s(q.env_from_dp)).or_else(|| s(q.helo_dom)),
            rcpt_to_dom: s(q.rcpt_to_dom),
            ip: client_ip(q).map(|ip| ip.to_string()),
            env_from: s(q.env_from),
            helo: s(q.helo_dom),
        }
    }
}

/// libspf2's header comment sentences.
fn header_comment(facts: &Facts, outcome: &Outcome) -> String {
    let source = match outcome.reason {
        SPF_REASON_LOCAL_POLICY => "local policy".to_string(),
        SPF_REASON_2MX => facts.rcpt_to_dom.clone().unwrap_or_else(|| "unknown domain".into()),
        _ => facts.domain.as_ref().map_or_else(|| "unknown domain".into(), |d| format!("domain of {d}")),
    };
    let ip = facts.ip.as_deref().unwrap_or("(unknown ip address)");
    let sentence = match outcome.result {
        SPF_RESULT_PASS if outcome.reason == SPF_REASON_LOCALHOST => {
            "localhost is always allowed.".to_string()
        }
        SPF_RESULT_PASS if outcome.reason == SPF_REASON_2MX => {
            format!("message received from {ip} which is an MX secondary for {source}.")
        }
        SPF_RESULT_PASS => format!("{source} designates {ip} as permitted sender"),
        SPF_RESULT_FAIL => format!("{source} does not designate {ip} as permitted sender"),
        SPF_RESULT_SOFTFAIL => format!("transitioning {source} does not designate {ip} as permitted sender"),
        SPF_RESULT_PERMERROR => {
            // SAFETY: a static string.
            let error = unsafe { text(crate::strings::SPF_strerror(outcome.err)) }.unwrap_or_default();
            format!("error in processing during lookup of {source}: {error}")
        }
        SPF_RESULT_NEUTRAL => format!("{ip} is neither permitted nor denied by {source}"),
        SPF_RESULT_NONE => format!("{source} does not provide an SPF record"),
        SPF_RESULT_TEMPERROR => format!("encountered temporary error during SPF processing of {source}"),
        other => format!("error: unknown SPF result {other} encountered while checking {ip} for {source}"),
    };
    comment_text(&format!("{}: {sentence}", facts.rec_dom), MAX_HEADER_COMMENT_LEN)
}

/// The whole `Received-SPF:` field, at most `SPF_RECEIVED_SPF_SIZE - 1`
/// bytes: a key-value pair that would not fit is left out whole.
fn received_spf(facts: &Facts, result: SPF_result_t, comment: &str) -> String {
    // SAFETY: a static string.
    let result = unsafe { text(crate::strings::SPF_strresult(result)) }.unwrap_or_default();
    let mut out = format!("{RECEIVED_SPF_PREFIX}{result} ({comment})");
    let pairs = [
        ("client-ip", facts.ip.clone()),
        ("envelope-from", facts.env_from.as_deref().map(header_value)),
        ("helo", facts.helo.as_deref().map(header_value)),
    ];
    for (key, value) in pairs {
        let Some(value) = value else { continue };
        let pair = format!(" {key}={value};");
        if out.len() + pair.len() < SPF_RECEIVED_SPF_SIZE {
            let _ = write!(out, "{pair}");
        }
    }
    out
}

/// `SPF_response_new`: an empty response (result `SPF_RESULT_INVALID`).
#[unsafe(no_mangle)]
pub extern "C" fn SPF_response_new(request: *mut SPF_request_t) -> *mut SPF_response_t {
    guard(std::ptr::null_mut(), || new_response(request))
}

/// `SPF_response_free`: frees the response, its texts and messages.
///
/// # Safety
/// `response` is NULL or from this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_response_free(response: *mut SPF_response_t) {
    guard((), || {
        if response.is_null() {
            return;
        }
        // SAFETY: per the caller; everything in it is malloc'ed by us.
        unsafe {
            let r = &mut *response;
            for slot in [&mut r.received_spf, &mut r.header_comment, &mut r.smtp_comment, &mut r.explanation]
            {
                free_slot(slot);
            }
            if !r.errors.is_null() {
                for i in 0..usize::from(r.errors_length) {
                    free_slot(&mut (*r.errors.add(i)).message);
                }
            }
            free_slot(&mut r.errors);
            libc::free(response.cast());
        }
    })
}

/// `SPF_response_combine`: merges a secondary-MX response into the main
/// one: when `r2mx` passes (the client is an MX host of the recipient),
/// `main` is freed and `r2mx` returned; otherwise `r2mx` is freed and
/// `main` returned. Either may be NULL.
///
/// # Safety
/// Both are NULL or from this library; neither is used afterwards except
/// through the returned pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_response_combine(
    main: *mut SPF_response_t,
    r2mx: *mut SPF_response_t,
) -> *mut SPF_response_t {
    guard(main, || {
        // SAFETY: per the caller.
        let secondary_passes = !r2mx.is_null() && unsafe { (*r2mx).result } == SPF_RESULT_PASS;
        if main.is_null() || (secondary_passes && main != r2mx) {
            // SAFETY: per the caller.
            unsafe { SPF_response_free(main) };
            return r2mx;
        }
        if r2mx != main {
            // SAFETY: per the caller.
            unsafe { SPF_response_free(r2mx) };
        }
        main
    })
}

macro_rules! getter {
    ($(#[$doc:meta])* $name:ident, $field:ident, $ty:ty, $null:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `response` is NULL or valid.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(response: *mut SPF_response_t) -> $ty {
            // SAFETY: per the caller.
            guard($null, || if response.is_null() { $null } else { unsafe { (*response).$field } })
        }
    };
}

getter!(
    /// `SPF_response_result` (`SPF_RESULT_INVALID` for NULL).
    SPF_response_result, result, SPF_result_t, SPF_RESULT_INVALID
);
getter!(
    /// `SPF_response_reason`.
    SPF_response_reason, reason, SPF_reason_t, SPF_REASON_NONE
);
getter!(
    /// `SPF_response_errcode` (`SPF_E_NOT_CONFIG` for NULL).
    SPF_response_errcode, err, SPF_errcode_t, SPF_E_NOT_CONFIG
);
getter!(
    /// `SPF_response_get_received_spf`: the whole `Received-SPF:` field
    /// (owned by the response).
    SPF_response_get_received_spf, received_spf, *mut c_char, std::ptr::null_mut()
);
getter!(
    /// `SPF_response_get_received_spf_value`: the field without its name.
    SPF_response_get_received_spf_value, received_spf_value, *mut c_char, std::ptr::null_mut()
);
getter!(
    /// `SPF_response_get_header_comment`.
    SPF_response_get_header_comment, header_comment, *mut c_char, std::ptr::null_mut()
);
getter!(
    /// `SPF_response_get_smtp_comment`: NULL for pass, temperror, permerror.
    SPF_response_get_smtp_comment, smtp_comment, *mut c_char, std::ptr::null_mut()
);
getter!(
    /// `SPF_response_get_explanation`: NULL for pass, temperror, permerror.
    SPF_response_get_explanation, explanation, *mut c_char, std::ptr::null_mut()
);

/// `SPF_response_messages`: how many messages (errors and warnings).
///
/// # Safety
/// `response` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_response_messages(response: *mut SPF_response_t) -> c_int {
    // SAFETY: per the caller.
    guard(0, || if response.is_null() { 0 } else { c_int::from(unsafe { (*response).errors_length }) })
}

/// `SPF_response_errors`: how many of the messages are errors.
///
/// # Safety
/// `response` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_response_errors(response: *mut SPF_response_t) -> c_int {
    // SAFETY: per the caller.
    guard(0, || if response.is_null() { 0 } else { c_int::from(unsafe { (*response).num_errors }) })
}

/// `SPF_response_warnings`: how many of the messages are warnings.
///
/// # Safety
/// `response` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_response_warnings(response: *mut SPF_response_t) -> c_int {
    guard(0, || {
        if response.is_null() {
            return 0;
        }
        // SAFETY: per the caller.
        let r = unsafe { &*response };
        c_int::from(r.errors_length.saturating_sub(r.num_errors))
    })
}

/// `SPF_response_message`: message `idx`, or NULL out of range.
///
/// # Safety
/// `response` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_response_message(response: *mut SPF_response_t, idx: c_int) -> *mut SPF_error_t {
    guard(std::ptr::null_mut(), || {
        if response.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: per the caller.
        let r = unsafe { &*response };
        match usize::try_from(idx) {
            // SAFETY: within the used part of the array.
            Ok(i) if i < usize::from(r.errors_length) && !r.errors.is_null() => unsafe { r.errors.add(i) },
            _ => std::ptr::null_mut(),
        }
    })
}

/// `SPF_error_code`.
///
/// # Safety
/// `err` is NULL or a message of a live response.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_error_code(err: *mut SPF_error_t) -> SPF_errcode_t {
    // SAFETY: per the caller.
    guard(SPF_E_INVALID_OPT, || if err.is_null() { SPF_E_INVALID_OPT } else { unsafe { (*err).code } })
}

/// `SPF_error_message`: the text (owned by the response; `""` for NULL).
///
/// # Safety
/// As for [`SPF_error_code`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_error_message(err: *mut SPF_error_t) -> *const c_char {
    const EMPTY: *const c_char = c"".as_ptr();
    guard(EMPTY, || {
        // SAFETY: per the caller.
        if err.is_null() || unsafe { (*err).message }.is_null() { EMPTY } else { unsafe { (*err).message } }
    })
}

/// `SPF_error_errorp`: 1 for an error, 0 for a warning.
///
/// # Safety
/// As for [`SPF_error_code`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_error_errorp(err: *mut SPF_error_t) -> c_char {
    // SAFETY: per the caller.
    guard(0, || if err.is_null() { 0 } else { unsafe { (*err).is_error } })
}

/// For tests: a response's field as text.
#[cfg(test)]
pub(crate) unsafe fn field(p: *const c_char) -> Option<String> {
    // SAFETY: per the caller.
    unsafe { bytes(p) }.map(|b| String::from_utf8_lossy(b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            rec_dom: "mx.example.net".into(),
            domain: Some("example.com".into()),
            rcpt_to_dom: None,
            ip: Some("192.0.2.1".into()),
            env_from: Some("alice@example.com".into()),
            helo: Some("mail.example.com".into()),
        }
    }

    fn outcome(result: SPF_result_t, reason: SPF_reason_t, err: SPF_errcode_t) -> Outcome {
        Outcome { result, reason, err, explanation: None, problem: None, dns_lookups: 0 }
    }

    #[test]
    fn libspf2_shapes() {
        let f = facts();
        let pass = header_comment(&f, &outcome(SPF_RESULT_PASS, SPF_REASON_MECH, 0));
        assert_eq!(pass, "mx.example.net: domain of example.com designates 192.0.2.1 as permitted sender");
        assert_eq!(
            received_spf(&f, SPF_RESULT_PASS, &pass),
            "Received-SPF: pass (mx.example.net: domain of example.com designates 192.0.2.1 as permitted sender) \
             client-ip=192.0.2.1; envelope-from=alice@example.com; helo=mail.example.com;"
        );
        assert_eq!(
            header_comment(&f, &outcome(SPF_RESULT_SOFTFAIL, SPF_REASON_MECH, 0)),
            "mx.example.net: transitioning domain of example.com does not designate 192.0.2.1 as permitted sender"
        );
        assert_eq!(
            header_comment(&f, &outcome(SPF_RESULT_PERMERROR, SPF_REASON_NONE, SPF_E_UNKNOWN_MECH)),
            "mx.example.net: error in processing during lookup of domain of example.com: Unknown mechanism found"
        );
    }

    #[test]
    fn hostile_senders_cannot_break_the_header() {
        let mut f = facts();
        f.env_from = Some("a;b=c@example.com\r\nX-Evil: 1".into());
        f.domain = Some("ex)ample.com\r\n".into());
        let comment = header_comment(&f, &outcome(SPF_RESULT_FAIL, SPF_REASON_MECH, 0));
        assert!(!comment.contains(')') && !comment.contains('\r'), "{comment}");
        let header = received_spf(&f, SPF_RESULT_FAIL, &comment);
        assert!(header.contains("envelope-from=\"a;b=c@example.com??X-Evil: 1\";"), "{header}");
        assert!(!header.contains('\n'));
    }

    #[test]
    fn received_spf_stays_within_its_size_dropping_whole_pairs() {
        let mut f = facts();
        f.helo = Some("h".repeat(200));
        f.env_from = Some(format!("{}@example.com", "l".repeat(200)));
        let comment = header_comment(&f, &outcome(SPF_RESULT_PASS, SPF_REASON_MECH, 0));
        let header = received_spf(&f, SPF_RESULT_PASS, &comment);
        assert!(header.len() < SPF_RECEIVED_SPF_SIZE, "{}", header.len());
        assert!(header.ends_with(';'));
        assert!(!header.contains("helo="), "the pair that does not fit is left out");
        let long = comment_text(&"x".repeat(1000), MAX_HEADER_COMMENT_LEN);
        assert_eq!(long.len(), MAX_HEADER_COMMENT_LEN);
    }

    #[test]
    fn messages_are_bounded() {
        let response = new_response(std::ptr::null_mut());
        // SAFETY: ours; freed at the end.
        unsafe {
            for i in 0..MAX_MESSAGES + 3 {
                add_message(response, SPF_E_SYNTAX, &format!("message {i} {}", "x".repeat(300)), i % 2 == 0);
            }
            assert_eq!(SPF_response_messages(response), MAX_MESSAGES as c_int);
            assert_eq!(
                SPF_response_errors(response) + SPF_response_warnings(response),
                MAX_MESSAGES as c_int
            );
            let first = SPF_response_message(response, 0);
            assert_eq!(field(SPF_error_message(first)).map(|m| m.len()), Some(MAX_MESSAGE_LEN));
            assert!(SPF_response_message(response, MAX_MESSAGES as c_int).is_null());
            SPF_response_free(response);
        }
    }
}
