//! Compiled records (`SPF_record_t`) and macro-strings (`SPF_macro_t`).
//!
//! libspf2 compiles records into its own byte code behind the header
//! fields. Here the header fields (`version`, `num_mech`, `num_mod`,
//! `num_dns_mech`) hold what libspf2 would put there, and the buffers hold
//! fastspf's form: `mech_first` is the record as fastspf prints it (a
//! NUL-terminated `v=spf1 ...` that re-parses to the same record,
//! `mech_len` bytes without the NUL), `mod_first` is NULL. A macro's data
//! (`SPF_macro_data()`) is an 8-byte tag followed by the macro text; only
//! data made by `SPF_record_compile_macro` can be expanded.

use std::ffi::c_char;

use crate::abi::*;
use crate::boundary::{MAX_INPUT_LEN, bytes, c_strdup, guard, new_zeroed, write_buffer, zalloc};
use crate::bridge::{self, ExpandVars};
use crate::request::RequestView;
use crate::response::add_message;

/// Starts the data of every macro this library compiles.
const MACRO_TAG: &[u8; 8] = b"fspfmac1";

/// Compiles `text` into a new record for `server` (NULL allowed).
pub(crate) fn compile(
    server: *mut SPF_server_t,
    response: *mut SPF_response_t,
    text: &[u8],
) -> Result<*mut SPF_record_t, SPF_errcode_t> {
    if text.len() > MAX_INPUT_LEN {
        // SAFETY: NULL or a valid response.
        unsafe { add_message(response, SPF_E_BIG_STRING, "record too long", true) };
        return Err(SPF_E_BIG_STRING);
    }
    let summary = match bridge::parse_record(text) {
        Ok(s) => s,
        Err(e) => {
            // SAFETY: NULL or a valid response.
            unsafe { add_message(response, e.code, &e.message, true) };
            return Err(e.code);
        }
    };
    let record = new_zeroed::<SPF_record_t>();
    if record.is_null() {
        return Err(SPF_E_NO_MEMORY);
    }
    let text = c_strdup(summary.text.as_bytes());
    if text.is_null() {
        // SAFETY: just allocated.
        unsafe { libc::free(record.cast()) };
        return Err(SPF_E_NO_MEMORY);
    }
    let count = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
    // SAFETY: fresh and zeroed.
    unsafe {
        let r = &mut *record;
        r.spf_server = server;
        r.version = 1;
        r.num_mech = count(summary.num_mech);
        r.num_mod = count(summary.num_mod);
        r.num_dns_mech = count(summary.num_dns_mech);
        r.mech_first = text.cast();
        r.mech_len = summary.text.len();
        r.mech_size = summary.text.len() + 1;
    }
    Ok(record)
}

/// The text of a record made by [`compile`].
///
/// # Safety
/// `record` is NULL or a valid `SPF_record_t`.
pub(crate) unsafe fn record_text<'a>(record: *const SPF_record_t) -> Option<&'a str> {
    if record.is_null() {
        return None;
    }
    // SAFETY: valid, per the caller; our records hold a C string there.
    let text = unsafe { bytes((*record).mech_first.cast::<c_char>()) }?;
    std::str::from_utf8(text).ok()
}

/// Compiles a macro-string into a new `SPF_macro_t`.
pub(crate) fn compile_macro(
    response: *mut SPF_response_t,
    text: &[u8],
) -> Result<*mut SPF_macro_t, SPF_errcode_t> {
    if text.len() > MAX_INPUT_LEN {
        // SAFETY: NULL or a valid response.
        unsafe { add_message(response, SPF_E_BIG_STRING, "macro string too long", true) };
        return Err(SPF_E_BIG_STRING);
    }
    if let Err(e) = bridge::parse_macro(text) {
        // SAFETY: NULL or a valid response.
        unsafe { add_message(response, e.code, &e.message, true) };
        return Err(e.code);
    }
    let data_len = MACRO_TAG.len() + text.len();
    let mac: *mut SPF_macro_t = zalloc(std::mem::size_of::<SPF_macro_t>() + data_len + 1).cast();
    if mac.is_null() {
        return Err(SPF_E_NO_MEMORY);
    }
    // SAFETY: room for the header, the data and a NUL.
    unsafe {
        (*mac).macro_len = data_len;
        let data = mac.add(1).cast::<u8>();
        std::ptr::copy_nonoverlapping(MACRO_TAG.as_ptr(), data, MACRO_TAG.len());
        std::ptr::copy_nonoverlapping(text.as_ptr(), data.add(MACRO_TAG.len()), text.len());
    }
    Ok(mac)
}

/// The macro text of `data`/`len` if it is a macro's data made here.
///
/// # Safety
/// `data` is NULL or readable for `len` bytes.
unsafe fn macro_text<'a>(data: *const u8, len: usize) -> Option<&'a [u8]> {
    if data.is_null() || len < MACRO_TAG.len() || len > MACRO_TAG.len() + MAX_INPUT_LEN {
        return None;
    }
    // SAFETY: readable, per the caller.
    let all = unsafe { std::slice::from_raw_parts(data, len) };
    all.strip_prefix(&MACRO_TAG[..])
}

/// The macro text of a macro made by [`compile_macro`].
///
/// # Safety
/// `mac` is NULL or a valid `SPF_macro_t`.
pub(crate) unsafe fn macro_of<'a>(mac: *const SPF_macro_t) -> Option<&'a [u8]> {
    if mac.is_null() {
        return None;
    }
    // SAFETY: the data follows the header, `macro_len` bytes.
    unsafe { macro_text(mac.add(1).cast::<u8>(), (*mac).macro_len) }
}

/// `SPF_record_compile`: parses `record` (with RFC 7208's syntax) into
/// `*recordp` (NULL on error, with the error added to `response`).
///
/// # Safety
/// `recordp` is NULL or writable; the others are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_record_compile(
    server: *mut SPF_server_t,
    response: *mut SPF_response_t,
    recordp: *mut *mut SPF_record_t,
    record: *const c_char,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        if recordp.is_null() {
            return SPF_E_INVALID_OPT;
        }
        // SAFETY: per the caller.
        unsafe { *recordp = std::ptr::null_mut() };
        // SAFETY: per the caller.
        let Some(text) = (unsafe { bytes(record) }) else { return SPF_E_INVALID_OPT };
        match compile(server, response, text) {
            Ok(r) => {
                // SAFETY: per the caller.
                unsafe { *recordp = r };
                SPF_E_SUCCESS
            }
            Err(code) => code,
        }
    })
}

/// `SPF_record_compile_macro`: checks a macro-string (explanation syntax)
/// into `*macrop`.
///
/// # Safety
/// As for [`SPF_record_compile`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_record_compile_macro(
    _server: *mut SPF_server_t,
    response: *mut SPF_response_t,
    macrop: *mut *mut SPF_macro_t,
    text: *const c_char,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        if macrop.is_null() {
            return SPF_E_INVALID_OPT;
        }
        // SAFETY: per the caller.
        unsafe { *macrop = std::ptr::null_mut() };
        // SAFETY: per the caller.
        let Some(text) = (unsafe { bytes(text) }) else { return SPF_E_INVALID_OPT };
        match compile_macro(response, text) {
            Ok(m) => {
                // SAFETY: per the caller.
                unsafe { *macrop = m };
                SPF_E_SUCCESS
            }
            Err(code) => code,
        }
    })
}

/// `SPF_record_new`: an empty record (`v=spf1`).
#[unsafe(no_mangle)]
pub extern "C" fn SPF_record_new(server: *mut SPF_server_t, _text: *const c_char) -> *mut SPF_record_t {
    guard(std::ptr::null_mut(), || {
        compile(server, std::ptr::null_mut(), b"v=spf1").unwrap_or(std::ptr::null_mut())
    })
}

/// `SPF_record_free`.
///
/// # Safety
/// `record` is NULL or a record from this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_record_free(record: *mut SPF_record_t) {
    guard((), || {
        if record.is_null() {
            return;
        }
        // SAFETY: per the caller; the buffers are malloc'ed or NULL.
        unsafe {
            libc::free((*record).mech_first);
            libc::free((*record).mod_first);
            libc::free(record.cast());
        }
    })
}

/// `SPF_macro_free`.
///
/// # Safety
/// `mac` is NULL or a macro from this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_macro_free(mac: *mut SPF_macro_t) {
    // SAFETY: one malloc'ed block, per the caller.
    guard((), || unsafe { libc::free(mac.cast()) })
}

/// `SPF_record_stringify`: the record's text into `*bufp` (grown with
/// `realloc` as needed; the caller frees it).
///
/// # Safety
/// `bufp`/`buflenp` follow libspf2's buffer convention; `record` is NULL
/// or a record from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_record_stringify(
    record: *mut SPF_record_t,
    bufp: *mut *mut c_char,
    buflenp: *mut usize,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        if bufp.is_null() || buflenp.is_null() {
            return SPF_E_INVALID_OPT;
        }
        // SAFETY: per the caller.
        let Some(text) = (unsafe { record_text(record) }) else { return SPF_E_INVALID_OPT };
        // SAFETY: per the caller.
        if unsafe { write_buffer(bufp, buflenp, text.as_bytes()) } { SPF_E_SUCCESS } else { SPF_E_NO_MEMORY }
    })
}

/// Expands `text` for `request` into the caller's buffer.
unsafe fn expand_into(
    request: *mut SPF_request_t,
    response: *mut SPF_response_t,
    text: &[u8],
    bufp: *mut *mut c_char,
    buflenp: *mut usize,
) -> SPF_errcode_t {
    // SAFETY: NULL or a valid request, per the callers.
    let view = unsafe { RequestView::of(request) };
    let vars = ExpandVars {
        ip: view.ip,
        sender: &view.sender,
        domain: &view.domain,
        helo: &view.helo,
        receiver: &view.receiver,
    };
    match bridge::expand_macro(text, &vars) {
        // SAFETY: per the callers.
        Ok(out) => {
            if unsafe { write_buffer(bufp, buflenp, out.as_bytes()) } {
                SPF_E_SUCCESS
            } else {
                SPF_E_NO_MEMORY
            }
        }
        Err(e) => {
            // SAFETY: NULL or valid.
            unsafe { add_message(response, e.code, &e.message, true) };
            e.code
        }
    }
}

/// `SPF_record_find_mod_value`: modifier `name` of `record`, expanded for
/// `request`, into `*bufp`; `SPF_E_MOD_NOT_FOUND` when the record has none.
///
/// # Safety
/// As for [`SPF_record_stringify`]; `request`/`response` NULL or valid;
/// `name` NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_record_find_mod_value(
    _server: *mut SPF_server_t,
    request: *mut SPF_request_t,
    response: *mut SPF_response_t,
    record: *mut SPF_record_t,
    name: *const c_char,
    bufp: *mut *mut c_char,
    buflenp: *mut usize,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        if bufp.is_null() || buflenp.is_null() {
            return SPF_E_INVALID_OPT;
        }
        // SAFETY: per the caller.
        let (Some(text), Some(name)) = (unsafe { record_text(record) }, unsafe { bytes(name) }) else {
            return SPF_E_INVALID_OPT;
        };
        let Some(value) = bridge::record_modifier(text, &String::from_utf8_lossy(name)) else {
            return SPF_E_MOD_NOT_FOUND;
        };
        // SAFETY: per the caller.
        unsafe { expand_into(request, response, value.as_bytes(), bufp, buflenp) }
    })
}

/// `SPF_record_expand_data`: expands macro data (`SPF_macro_data()` of a
/// macro from `SPF_record_compile_macro`) for `request` into `*bufp`.
///
/// # Safety
/// `data` is NULL or readable for `data_len` bytes; the rest as for
/// [`SPF_record_find_mod_value`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_record_expand_data(
    _server: *mut SPF_server_t,
    request: *mut SPF_request_t,
    response: *mut SPF_response_t,
    data: *const u8,
    data_len: usize,
    bufp: *mut *mut c_char,
    buflenp: *mut usize,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        if bufp.is_null() || buflenp.is_null() {
            return SPF_E_INVALID_OPT;
        }
        // SAFETY: per the caller.
        let Some(text) = (unsafe { macro_text(data, data_len) }) else {
            // SAFETY: NULL or valid.
            unsafe { add_message(response, SPF_E_INTERNAL_ERROR, "not macro data from this library", true) };
            return SPF_E_INTERNAL_ERROR;
        };
        // SAFETY: per the caller.
        unsafe { expand_into(request, response, text, bufp, buflenp) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    #[test]
    fn compile_stringify_and_modifiers() {
        let text = CString::new("v=spf1 a:%{d} -all exp=explain.%{d} moo=cow").expect("no nul");
        let mut record = std::ptr::null_mut();
        let mut buf: *mut c_char = std::ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: valid pointers throughout; everything is freed.
        unsafe {
            let err =
                SPF_record_compile(std::ptr::null_mut(), std::ptr::null_mut(), &mut record, text.as_ptr());
            assert_eq!(err, SPF_E_SUCCESS);
            assert_eq!((*record).num_mech, 2);
            assert_eq!(((*record).num_mod, (*record).num_dns_mech), (2, 1));
            assert_eq!(SPF_record_stringify(record, &mut buf, &mut len), SPF_E_SUCCESS);
            assert_eq!(bytes(buf), Some(&b"v=spf1 a:%{d} -all exp=explain.%{d} moo=cow"[..]));
            let moo = CString::new("moo").expect("no nul");
            let err = SPF_record_find_mod_value(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                record,
                moo.as_ptr(),
                &mut buf,
                &mut len,
            );
            assert_eq!(err, SPF_E_SUCCESS);
            assert_eq!(bytes(buf), Some(&b"cow"[..]));
            let none = CString::new("nope").expect("no nul");
            let err = SPF_record_find_mod_value(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                record,
                none.as_ptr(),
                &mut buf,
                &mut len,
            );
            assert_eq!(err, SPF_E_MOD_NOT_FOUND);
            libc::free(buf.cast());
            SPF_record_free(record);
        }
    }

    #[test]
    fn macro_data_round_trips_and_foreign_data_is_refused() {
        let text = CString::new("%{i} is not %{h}").expect("no nul");
        let mut mac = std::ptr::null_mut();
        let mut buf: *mut c_char = std::ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: valid pointers; everything is freed.
        unsafe {
            let err =
                SPF_record_compile_macro(std::ptr::null_mut(), std::ptr::null_mut(), &mut mac, text.as_ptr());
            assert_eq!(err, SPF_E_SUCCESS);
            let data = mac.add(1).cast::<u8>();
            let err = SPF_record_expand_data(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                data,
                (*mac).macro_len,
                &mut buf,
                &mut len,
            );
            assert_eq!(err, SPF_E_SUCCESS);
            assert_eq!(bytes(buf), Some(&b"0.0.0.0 is not "[..]), "no HELO name set");
            let foreign = [0u8, 1, 2, 3, 4, 5, 6, 7, 8];
            let err = SPF_record_expand_data(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                foreign.as_ptr(),
                foreign.len(),
                &mut buf,
                &mut len,
            );
            assert_eq!(err, SPF_E_INTERNAL_ERROR);
            libc::free(buf.cast());
            SPF_macro_free(mac);
        }
    }

    #[test]
    fn input_at_and_past_the_bound() {
        let mut at = b"v=spf1".to_vec();
        while at.len() + 7 <= MAX_INPUT_LEN {
            at.extend_from_slice(b" ?a:x.y");
        }
        at.resize(MAX_INPUT_LEN, b' ');
        let record = compile(std::ptr::null_mut(), std::ptr::null_mut(), &at).expect("at the bound");
        // SAFETY: ours.
        unsafe { SPF_record_free(record) };
        at.push(b' ');
        assert_eq!(compile(std::ptr::null_mut(), std::ptr::null_mut(), &at).err(), Some(SPF_E_BIG_STRING));
    }
}
