//! `fastspf_checker`: created once, shared by every thread.

use std::ffi::{c_char, c_void};
use std::panic::AssertUnwindSafe;

use spf_core::Checker;

use crate::boundary::{guard, text, text_or_empty, write_out};
use crate::config::{config_ref, fastspf_config};
use crate::result::{ResultObj, fastspf_result};
use crate::status::fastspf_status;

/// A checker: DNS resolver, shared cache, limits. Opaque.
///
/// Thread-safe: one checker may be used by any number of threads at once
/// (they share its cache). Free it once, after every thread is done with it
/// and every asynchronous check has called back.
pub struct fastspf_checker {
    _private: [u8; 0],
}

/// # Safety
/// `checker` is NULL or a live `fastspf_checker`.
unsafe fn checker_ref<'a>(checker: *const fastspf_checker) -> Result<&'a Checker, fastspf_status> {
    if checker.is_null() {
        return Err(fastspf_status::NullArgument);
    }
    // SAFETY: created by fastspf_checker_new as a Box<Checker>.
    Ok(unsafe { &*checker.cast::<Checker>() })
}

/// Creates a checker from `config` (which is only read, and may be freed
/// afterwards). `*out` receives it; free it with `fastspf_checker_free`.
/// FASTSPF_STATUS_ZONE_FILE: a zone file could not be read or parsed;
/// FASTSPF_STATUS_SETUP: the resolver could not be set up.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_checker_new(
    config: *const fastspf_config,
    out: *mut *mut fastspf_checker,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { config_ref(config)? };
        if out.is_null() {
            return Err(fastspf_status::NullArgument);
        }
        let checker = Checker::new(config.checker_config()?).map_err(|_| fastspf_status::Setup)?;
        let raw = Box::into_raw(Box::new(checker)).cast::<fastspf_checker>();
        unsafe { write_out(out, raw) }
    })
}

/// Frees a checker. Do not call it while other threads still use the
/// checker or asynchronous checks are pending. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_checker_free(checker: *mut fastspf_checker) {
    let _ = guard(|| {
        if !checker.is_null() {
            // SAFETY: created by fastspf_checker_new; the caller gives it up.
            drop(unsafe { Box::from_raw(checker.cast::<Checker>()) });
        }
        Ok(())
    });
}

/// Hands an evaluation to C as a new result.
fn deliver(
    checker: &Checker,
    eval: spf_core::Evaluation,
    out: *mut *mut fastspf_result,
) -> Result<(), fastspf_status> {
    let result = ResultObj::new(eval, checker.options().receiver.as_deref());
    // SAFETY: the callers checked `out` for NULL; C promises it is writable.
    unsafe { write_out(out, result.into_raw()) }
}

/// Checks the MAIL FROM identity, blocking the calling thread until the
/// result is known (at most the configured deadline).
///
/// `ip`: the SMTP client's address, IPv4 or IPv6 text. `mail_from`: the
/// envelope sender; "" or NULL is the null reverse-path (then
/// postmaster@`helo` is checked). `helo`: the HELO/EHLO name, may be NULL.
/// `*out` receives the result; free it with `fastspf_result_free`.
/// FASTSPF_STATUS_INVALID_IP when `ip` is not an address.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_checker_check(
    checker: *const fastspf_checker,
    ip: *const c_char,
    mail_from: *const c_char,
    helo: *const c_char,
    out: *mut *mut fastspf_result,
) -> fastspf_status {
    guard(|| {
        let checker = unsafe { checker_ref(checker)? };
        let ip = unsafe { text(ip)? };
        let mail_from = unsafe { text_or_empty(mail_from)? };
        let helo = unsafe { text_or_empty(helo)? };
        if out.is_null() {
            return Err(fastspf_status::NullArgument);
        }
        let ip = spf_core::parse_ip(ip).map_err(|_| fastspf_status::InvalidIp)?;
        deliver(checker, checker.check_blocking(ip, mail_from, helo), out)
    })
}

/// Checks the HELO identity (`postmaster@helo`), blocking. Otherwise as
/// `fastspf_checker_check`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_checker_check_helo(
    checker: *const fastspf_checker,
    ip: *const c_char,
    helo: *const c_char,
    out: *mut *mut fastspf_result,
) -> fastspf_status {
    guard(|| {
        let checker = unsafe { checker_ref(checker)? };
        let ip = unsafe { text(ip)? };
        let helo = unsafe { text(helo)? };
        if out.is_null() {
            return Err(fastspf_status::NullArgument);
        }
        let ip = spf_core::parse_ip(ip).map_err(|_| fastspf_status::InvalidIp)?;
        deliver(checker, checker.check_helo_blocking(ip, helo), out)
    })
}

/// Called with the result of an asynchronous check.
///
/// Runs on one of the checker's callback threads (named "fastspf-dns"),
/// never on the thread that started the check, and never on a thread that
/// drives DNS traffic or timers: a callback may take its time or block, and
/// may even call `fastspf_checker_check` (blocking) on the same checker,
/// without stalling other checks. Hand the result to your event loop
/// quickly all the same (through a pipe or a queue): each callback that
/// blocks holds one thread.
///
/// `user_data` is what was passed to `fastspf_checker_check_async`.
/// `status` is FASTSPF_STATUS_OK with a `result` the callback owns (free it
/// with `fastspf_result_free`, on any thread), or FASTSPF_STATUS_PANIC with
/// `result` NULL.
pub type fastspf_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, status: fastspf_status, result: *mut fastspf_result)>;

/// Carries the caller's pointer to the callback thread. The C caller
/// promises it may be used there (the callback contract above).
struct UserData(*mut c_void);
// SAFETY: only handed back to the caller's callback; see fastspf_callback.
unsafe impl Send for UserData {}

/// Starts a MAIL FROM check and returns at once; `callback` gets the
/// result later, exactly once, on a library thread (see
/// `fastspf_callback`). Arguments are copied before the call returns.
///
/// Returns FASTSPF_STATUS_OK when the check was started (then the callback
/// will be called), or an error status (then it will not): a NULL checker or
/// callback, invalid UTF-8, an invalid IP.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_checker_check_async(
    checker: *const fastspf_checker,
    ip: *const c_char,
    mail_from: *const c_char,
    helo: *const c_char,
    callback: fastspf_callback,
    user_data: *mut c_void,
) -> fastspf_status {
    guard(|| {
        let checker = unsafe { checker_ref(checker)? };
        let callback = callback.ok_or(fastspf_status::NullArgument)?;
        let ip = unsafe { text(ip)? };
        let mail_from = unsafe { text_or_empty(mail_from)? }.to_string();
        let helo = unsafe { text_or_empty(helo)? }.to_string();
        let ip = spf_core::parse_ip(ip).map_err(|_| fastspf_status::InvalidIp)?;
        let user_data = UserData(user_data);
        let receiver = checker.options().receiver.clone();
        // Not cancellable from C: the callback always comes.
        let _pending = checker.check_callback(ip, &mail_from, &helo, move |outcome| {
            deliver_async(callback, user_data, outcome, receiver)
        });
        Ok(())
    })
}

/// Starts a HELO check (`postmaster@helo`) and returns at once; otherwise
/// as `fastspf_checker_check_async`. A milter can start it when the HELO
/// arrives and have the answer by MAIL FROM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_checker_check_helo_async(
    checker: *const fastspf_checker,
    ip: *const c_char,
    helo: *const c_char,
    callback: fastspf_callback,
    user_data: *mut c_void,
) -> fastspf_status {
    guard(|| {
        let checker = unsafe { checker_ref(checker)? };
        let callback = callback.ok_or(fastspf_status::NullArgument)?;
        let ip = unsafe { text(ip)? };
        let helo = unsafe { text(helo)? }.to_string();
        let ip = spf_core::parse_ip(ip).map_err(|_| fastspf_status::InvalidIp)?;
        let user_data = UserData(user_data);
        let receiver = checker.options().receiver.clone();
        checker.check_helo_callback(ip, &helo, move |outcome| {
            deliver_async(callback, user_data, outcome, receiver)
        });
        Ok(())
    })
}

/// Hands an asynchronous check's outcome to the C callback.
fn deliver_async(
    callback: unsafe extern "C" fn(*mut c_void, fastspf_status, *mut fastspf_result),
    user_data: UserData,
    outcome: Result<spf_core::Evaluation, spf_core::CheckPanicked>,
    receiver: Option<String>,
) {
    let (status, result) = match outcome {
        Ok(eval) => (fastspf_status::Ok, ResultObj::new(eval, receiver.as_deref()).into_raw()),
        Err(_) => (fastspf_status::Panic, std::ptr::null_mut()),
    };
    // A panic can not cross the C callback; if the callback itself unwinds
    // (C++), stop it here.
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| unsafe { callback(user_data.0, status, result) }));
}
