//! Where C meets Rust: every export runs inside [`guard`] (no panic
//! crosses into C), and every object and string this library hands out is
//! `malloc`ed memory, because libspf2's callers free some of it with
//! `free()` (the buffers of `SPF_record_expand_data`,
//! `SPF_record_stringify`, `SPF_record_find_mod_value`) and grow others
//! with `realloc()` (the same buffers, passed back in).

use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Longest string this library accepts from a caller as an identity (an
/// envelope sender, HELO name or recipient) or a record/macro text: 4 KiB.
/// RFC 5321 §4.5.3.1 caps a path at 256 octets and a domain at 255, and
/// RFC 7208 records are bounded by DNS (a TXT answer fits in 64 KiB, but
/// §3.4 keeps them under 512 octets); longer input is an error
/// (`SPF_E_BIG_STRING`), never copied.
pub(crate) const MAX_INPUT_LEN: usize = 4096;

/// Runs `body`; a panic gives `fallback` instead of unwinding into C.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The bytes of a NUL-terminated C string, or `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const c_char) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null, and the caller promises a NUL-terminated string.
    Some(unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

/// [`bytes`], decoded lossily (callers' strings are not promised UTF-8).
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn text<'a>(ptr: *const c_char) -> Option<std::borrow::Cow<'a, str>> {
    // SAFETY: forwarded.
    unsafe { bytes(ptr) }.map(String::from_utf8_lossy)
}

/// Allocates `size` zeroed bytes with `calloc` (at least one).
pub(crate) fn zalloc(size: usize) -> *mut c_void {
    // SAFETY: plain allocation; the result is checked by the callers.
    unsafe { libc::calloc(1, size.max(1)) }
}

/// A zeroed `T` on the C heap, or NULL when memory is exhausted.
pub(crate) fn new_zeroed<T>() -> *mut T {
    zalloc(std::mem::size_of::<T>()).cast()
}

/// A `malloc`ed NUL-terminated copy of `data` (cut at its first NUL, which
/// a C string cannot hold), or NULL when memory is exhausted.
pub(crate) fn c_strdup(data: &[u8]) -> *mut c_char {
    let data = match data.iter().position(|&b| b == 0) {
        Some(end) => &data[..end],
        None => data,
    };
    let ptr: *mut c_char = zalloc(data.len() + 1).cast();
    if !ptr.is_null() {
        // SAFETY: `ptr` has room for `data.len() + 1` bytes, zeroed.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr.cast::<u8>(), data.len()) };
    }
    ptr
}

/// Frees `*slot` with `free()` and sets it to NULL.
///
/// # Safety
/// `*slot` is NULL or was allocated with `malloc`/`calloc`.
pub(crate) unsafe fn free_slot<T>(slot: &mut *mut T) {
    if !slot.is_null() {
        // SAFETY: allocated by the C allocator, per the caller.
        unsafe { libc::free(slot.cast()) };
        *slot = std::ptr::null_mut();
    }
}

/// Replaces `*slot` with a fresh copy of `data`.
///
/// # Safety
/// As for [`free_slot`].
pub(crate) unsafe fn set_string(slot: &mut *mut c_char, data: &[u8]) -> bool {
    // SAFETY: forwarded.
    unsafe { free_slot(slot) };
    *slot = c_strdup(data);
    !slot.is_null()
}

/// Writes `data` (plus a NUL) into the caller's `*bufp` of `*buflenp`
/// bytes, growing it with `realloc` when it is too small: libspf2's
/// convention for functions that return text (`SPF_record_expand_data`,
/// `SPF_record_stringify`, ...). On failure the buffer is left as it was.
///
/// # Safety
/// `bufp` and `buflenp` are valid; `*bufp` is NULL or a `malloc`ed block of
/// `*buflenp` bytes.
pub(crate) unsafe fn write_buffer(bufp: *mut *mut c_char, buflenp: *mut usize, data: &[u8]) -> bool {
    let data = match data.iter().position(|&b| b == 0) {
        Some(end) => &data[..end],
        None => data,
    };
    let need = data.len() + 1;
    // SAFETY: valid pointers, per the caller.
    let (buf, len) = unsafe { (*bufp, *buflenp) };
    let buf = if buf.is_null() || len < need {
        // SAFETY: `buf` is NULL or malloc'ed, per the caller.
        let grown: *mut c_char = unsafe { libc::realloc(buf.cast(), need) }.cast();
        if grown.is_null() {
            return false;
        }
        // SAFETY: valid pointers, per the caller.
        unsafe {
            *bufp = grown;
            *buflenp = need;
        }
        grown
    } else {
        buf
    };
    // SAFETY: `buf` holds at least `need` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(data.as_ptr(), buf.cast::<u8>(), data.len());
        *buf.add(data.len()) = 0;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strdup_stops_at_nul_and_buffers_grow() {
        let p = c_strdup(b"ab\0cd");
        // SAFETY: just allocated.
        assert_eq!(unsafe { bytes(p) }, Some(&b"ab"[..]));
        let mut buf: *mut c_char = std::ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: valid out-pointers; buf starts NULL.
        unsafe {
            assert!(write_buffer(&mut buf, &mut len, b"hello"));
            assert_eq!(len, 6);
            assert!(write_buffer(&mut buf, &mut len, b"hi"));
            assert_eq!(len, 6, "a big enough buffer is reused");
            assert_eq!(bytes(buf), Some(&b"hi"[..]));
            libc::free(buf.cast());
            libc::free(p.cast());
        }
    }

    #[test]
    fn guard_catches_panics() {
        assert_eq!(guard(7, || -> i32 { panic!("boom") }), 7);
    }
}
