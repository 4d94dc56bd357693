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
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    boundary::guard_value(VERSION.as_ptr().cast(), || VERSION.as_ptr().cast())
}

#[cfg(test)]
mod tests {
    /// Every module of the crate, as text.
    const SOURCES: [(&str, &str); 7] = [
        ("boundary.rs", include_str!("boundary.rs")),
        ("checker.rs", include_str!("checker.rs")),
        ("config.rs", include_str!("config.rs")),
        ("lib.rs", include_str!("lib.rs")),
        ("lint.rs", include_str!("lint.rs")),
        ("result.rs", include_str!("result.rs")),
        ("status.rs", include_str!("status.rs")),
    ];

    /// The contract of the C ABI: every export's body is the boundary
    /// (`guard` or `guard_value`: panics caught; constants may come first),
    /// and no code outside `boundary.rs` casts C's handles or checks
    /// pointers for NULL by hand.
    #[test]
    fn every_export_goes_through_the_boundary() {
        let (mut exports, mut no_mangle) = (0, 0);
        for (file, source) in SOURCES {
            let code = source.split("#[cfg(test)]").next().unwrap_or_default();
            no_mangle += code.matches("#[unsafe(no_mangle)]").count();
            for item in code.split("extern \"C\" fn ").skip(1) {
                let name = item.split('(').next().unwrap_or_default();
                if !name.starts_with("fastspf_") {
                    continue; // a callback type
                }
                let (_, body) = item.split_once("{\n").expect("a body");
                let first =
                    body.lines().map(str::trim).find(|line| !line.starts_with("const ")).unwrap_or_default();
                assert!(
                    ["guard(", "guard_value(", "boundary::guard_value("].iter().any(|g| first.starts_with(g)),
                    "{file}: {name} begins with {first:?}, not the boundary"
                );
                exports += 1;
            }
            if file != "boundary.rs" {
                for by_hand in ["Box::from_raw", "Box::into_raw", "catch_unwind", ".is_null()"] {
                    assert!(!code.contains(by_hand), "{file} uses {by_hand}: that belongs in boundary.rs");
                }
            }
        }
        assert_eq!(exports, no_mangle, "every exported symbol was looked at");
        assert!(exports >= 44, "found only {exports} exports");
    }
}
