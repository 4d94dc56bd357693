//! The C ABI's cost over the Rust API: the same warm checks (the provider
//! zone, default settings) through `fastspf_checker_check` — C strings in,
//! a `fastspf_result` allocated, read and freed — and through
//! `Checker::check_blocking`, side by side. `cargo bench -p spf-benches
//! --bench c_abi`.
//!
//! The C functions are called from Rust through the `fastspf` crate (the
//! same code `libfastspf.so` exports); what a C caller adds is one call
//! through the PLT.

use std::ffi::CString;
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use fastspf::{
    fastspf_checker, fastspf_checker_check, fastspf_checker_free, fastspf_checker_new, fastspf_config,
    fastspf_config_add_zone_file, fastspf_config_free, fastspf_config_new, fastspf_result,
    fastspf_result_code, fastspf_result_free, fastspf_spf_result, fastspf_status,
};
use spf_benches::{WARM_CASES, provider_zone, provider_zone_text};
use spf_core::{Checker, CheckerConfig};

/// A C checker over the provider zone (written to a file, as C programs
/// load zones).
fn c_checker() -> *mut fastspf_checker {
    let path = std::env::temp_dir().join(format!("fastspf-bench-c-abi-{}.zone", std::process::id()));
    std::fs::write(&path, provider_zone_text()).expect("write the zone");
    let path_c = CString::new(path.to_str().expect("utf-8 path")).expect("no NUL");
    let mut config: *mut fastspf_config = std::ptr::null_mut();
    let mut checker: *mut fastspf_checker = std::ptr::null_mut();
    // SAFETY: the pointers are valid for the calls; config is freed once.
    unsafe {
        assert_eq!(fastspf_config_new(&mut config), fastspf_status::Ok);
        assert_eq!(fastspf_config_add_zone_file(config, path_c.as_ptr()), fastspf_status::Ok);
        assert_eq!(fastspf_checker_new(config, &mut checker), fastspf_status::Ok);
        fastspf_config_free(config);
    }
    std::fs::remove_file(&path).ok();
    checker
}

fn c_abi(c: &mut Criterion) {
    let rust = Checker::new(CheckerConfig::default().with_zone(Arc::new(provider_zone()))).expect("checker");
    let checker = c_checker();
    let helo = CString::new("helo.example").expect("no NUL");
    let mut group = c.benchmark_group("c_abi");
    for (name, ip, sender) in WARM_CASES {
        let parsed: IpAddr = ip.parse().expect("ip");
        let (ip_c, sender_c) = (CString::new(ip).expect("no NUL"), CString::new(sender).expect("no NUL"));
        let c_check = || {
            let mut result: *mut fastspf_result = std::ptr::null_mut();
            // SAFETY: valid C strings and out pointer; the result is freed here.
            unsafe {
                let status = fastspf_checker_check(
                    checker,
                    ip_c.as_ptr(),
                    sender_c.as_ptr(),
                    helo.as_ptr(),
                    &mut result,
                );
                assert_eq!(status, fastspf_status::Ok);
                let code = fastspf_result_code(result);
                fastspf_result_free(result);
                code
            }
        };
        let expected = rust.check_blocking(parsed, sender, "helo.example").result;
        assert_eq!(c_check(), fastspf_spf_result::from(expected), "{name}: C and Rust agree");
        group.bench_function(format!("rust/{name}"), |b| {
            b.iter(|| rust.check_blocking(black_box(parsed), sender, "helo.example").result)
        });
        group.bench_function(format!("c/{name}"), |b| b.iter(c_check));
    }
    group.finish();
    // SAFETY: no check is running; the checker is freed once.
    unsafe { fastspf_checker_free(checker) };
}

criterion_group!(benches, c_abi);
criterion_main!(benches);
