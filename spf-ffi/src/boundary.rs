//! The one place where C meets Rust: panics are caught, pointers checked
//! and cast, strings decoded. Exports use only what is here to touch C's
//! pointers: [`guard`] (or [`guard_value`]) around the body, [`non_null!`]
//! for every pointer they require, [`Handle`] for every opaque handle.

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::status::fastspf_status;

/// Ends the enclosing call with [`fastspf_status::NullArgument`] when any
/// of the pointers is NULL. The one NULL check of the crate: every required
/// pointer (handle, string, `out`) goes through it.
macro_rules! non_null {
    ($($ptr:expr),+ $(,)?) => {
        if $($ptr.is_null())||+ {
            return Err($crate::status::fastspf_status::NullArgument);
        }
    };
}
pub(crate) use non_null;

/// Runs `body` for a function without a status: a panic gives `on_panic`
/// (the function's neutral answer). The crate's one `catch_unwind`.
pub(crate) fn guard_value<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// Runs `body` for a function with a status, turning a panic into
/// [`fastspf_status::Panic`].
pub(crate) fn guard(body: impl FnOnce() -> Result<(), fastspf_status>) -> fastspf_status {
    match guard_value(Err(fastspf_status::Panic), body) {
        Ok(()) => fastspf_status::Ok,
        Err(status) => status,
    }
}

/// An opaque C handle type (`struct fastspf_x { _private: [u8; 0] }`) and
/// what Rust holds behind it: each handle is a `Box<Self::Rust>` given to C,
/// and every cast between the two is one of these methods.
///
/// # Safety
/// Implement it only for the zero-sized types declared for C, which Rust
/// never creates: then every non-NULL `*Self` C hands back came from
/// [`Handle::into_raw`] (C's promise, written in the header).
pub(crate) unsafe trait Handle: Sized {
    /// What a handle points to.
    type Rust;

    /// Gives `value` to C, which frees it with the type's `_free`.
    fn into_raw(value: Self::Rust) -> *mut Self {
        Box::into_raw(Box::new(value)).cast()
    }

    /// Borrows what `ptr` points to; NULL is
    /// [`fastspf_status::NullArgument`].
    ///
    /// # Safety
    /// `ptr` is NULL or a live handle, not freed before `'a` ends.
    unsafe fn get<'a>(ptr: *const Self) -> Result<&'a Self::Rust, fastspf_status> {
        non_null!(ptr);
        // SAFETY: non-NULL, made by into_raw (trait contract), alive (caller).
        Ok(unsafe { &*ptr.cast::<Self::Rust>() })
    }

    /// Borrows what `ptr` points to, or `None` for NULL: for accessors that
    /// answer NULL with a neutral value.
    ///
    /// # Safety
    /// As for [`Handle::get`].
    unsafe fn get_or_none<'a>(ptr: *const Self) -> Option<&'a Self::Rust> {
        unsafe { Self::get(ptr) }.ok()
    }

    /// Borrows what `ptr` points to for changes; NULL is
    /// [`fastspf_status::NullArgument`].
    ///
    /// # Safety
    /// `ptr` is NULL or a live handle that nothing else uses until `'a` ends.
    unsafe fn get_mut<'a>(ptr: *mut Self) -> Result<&'a mut Self::Rust, fastspf_status> {
        non_null!(ptr);
        // SAFETY: as in `get`; C promises not to share it meanwhile.
        Ok(unsafe { &mut *ptr.cast::<Self::Rust>() })
    }

    /// Takes a handle back from C and drops it. NULL is a no-op.
    ///
    /// # Safety
    /// `ptr` is NULL or a live handle that C gives up.
    unsafe fn free(ptr: *mut Self) {
        if !ptr.is_null() {
            // SAFETY: made by into_raw (trait contract); C gives it up.
            drop(unsafe { Box::from_raw(ptr.cast::<Self::Rust>()) });
        }
    }

    /// Gives `value` to C through `out` as a new handle.
    ///
    /// # Safety
    /// `out` is NULL or valid for a write of a pointer.
    unsafe fn give(out: *mut *mut Self, value: Self::Rust) -> Result<(), fastspf_status> {
        non_null!(out);
        // SAFETY: non-NULL, and C promises it is writable.
        unsafe { out.write(Self::into_raw(value)) };
        Ok(())
    }
}

/// Borrows a C string argument as UTF-8.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char) -> Result<&'a str, fastspf_status> {
    non_null!(ptr);
    // SAFETY: non-null, and the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|_| fastspf_status::InvalidUtf8)
}

/// Like [`text`], but NULL is `None`.
///
/// # Safety
/// As for [`text`].
pub(crate) unsafe fn text_or_none<'a>(ptr: *const c_char) -> Result<Option<&'a str>, fastspf_status> {
    if ptr.is_null() { Ok(None) } else { unsafe { text(ptr) }.map(Some) }
}

/// Like [`text`], but NULL means the empty string.
///
/// # Safety
/// As for [`text`].
pub(crate) unsafe fn text_or_empty<'a>(ptr: *const c_char) -> Result<&'a str, fastspf_status> {
    Ok(unsafe { text_or_none(ptr) }?.unwrap_or(""))
}
