//! The C ABI of fastspf (`libfastspf`, header `include/fastspf.h`).
//!
//! Handles are opaque: a checker is shared by any number of threads; a
//! result has one owner. Every exported function catches panics and reports
//! them as [`fastspf_status::Panic`]; see `boundary.rs`.
#![allow(non_camel_case_types)]
#![allow(clippy::upper_case_acronyms)]
#![allow(clippy::missing_safety_doc)] // the header documents each pointer contract
#![allow(missing_debug_implementations)] // opaque handles for C

mod boundary;
mod checker;
mod config;
mod lint;
mod result;
mod status;

pub use checker::*;
pub use config::*;
pub use lint::*;
pub use result::*;
pub use status::*;

/// The library version, e.g. `"0.1.0"`: a static string, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn fastspf_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
