//! The one place where C meets Rust: panics are caught, pointers checked,
//! strings decoded.

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::status::fastspf_status;

/// Runs `body`, turning a panic into [`fastspf_status::Panic`].
pub(crate) fn guard(body: impl FnOnce() -> Result<(), fastspf_status>) -> fastspf_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => fastspf_status::Ok,
        Ok(Err(status)) => status,
        Err(_) => fastspf_status::Panic,
    }
}

/// Runs `body` for a function without a status: a panic gives `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Borrows a C string argument as UTF-8.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char) -> Result<&'a str, fastspf_status> {
    if ptr.is_null() {
        return Err(fastspf_status::NullArgument);
    }
    // SAFETY: non-null, and the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|_| fastspf_status::InvalidUtf8)
}

/// Like [`text`], but NULL means the empty string.
///
/// # Safety
/// As for [`text`].
pub(crate) unsafe fn text_or_empty<'a>(ptr: *const c_char) -> Result<&'a str, fastspf_status> {
    if ptr.is_null() { Ok("") } else { unsafe { text(ptr) } }
}

/// Writes `value` through `out`.
///
/// # Safety
/// `out` is NULL or valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) -> Result<(), fastspf_status> {
    if out.is_null() {
        return Err(fastspf_status::NullArgument);
    }
    // SAFETY: non-null and, by the caller's promise, valid for writes.
    unsafe { out.write(value) };
    Ok(())
}
