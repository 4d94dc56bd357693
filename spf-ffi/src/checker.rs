//! `fastspf_checker`: created once, shared by every thread.

use std::ffi::{c_char, c_void};

use spf_core::Checker;

use crate::boundary::{Handle, guard, guard_value, non_null, text, text_or_empty};
use crate::config::fastspf_config;
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

// SAFETY: a zero-sized type declared for C, never created by Rust.
unsafe impl Handle for fastspf_checker {
    type Rust = Checker;
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
        let config = unsafe { fastspf_config::get(config)? };
        non_null!(out);
        let checker = Checker::new(config.checker_config()?).map_err(|_| fastspf_status::Setup)?;
        unsafe { fastspf_checker::give(out, checker) }
    })
}

/// Frees a checker. Do not call it while other threads still use the
/// checker or asynchronous checks are pending. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_checker_free(checker: *mut fastspf_checker) {
    guard_value((), || unsafe { fastspf_checker::free(checker) })
}

/// The counters of a checker's cache, from `fastspf_checker_cache_stats`.
/// Counters count from the checker's creation; `entries`, `bytes` and
/// `inflight` are what the cache holds now. A plain struct the caller owns
/// (on its stack, say); fields are only ever added at the end.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct fastspf_cache_stats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Queries sent to DNS: lookups that missed and did not join the same
    /// query in flight (speculative queries included).
    pub misses: u64,
    /// Lookups that found the same query in flight and waited for it.
    pub coalesced: u64,
    /// Entries dropped because their TTL ran out.
    pub expirations: u64,
    /// Entries dropped to stay within the entry or byte bound.
    pub evictions: u64,
    /// Entries held now.
    pub entries: u64,
    /// Approximate bytes held now.
    pub bytes: u64,
    /// Queries sent speculatively, before a check asked for them (see
    /// `fastspf_config_set_speculation`); part of `misses`.
    pub speculative_queries: u64,
    /// Speculative answers a check then read; `speculative_queries -
    /// speculative_used` were wasted (or are not read yet).
    pub speculative_used: u64,
    /// Queries in flight now.
    pub inflight: u64,
    /// Queries given up before their answer came because every lookup
    /// waiting for them was dropped (a check's deadline).
    pub abandoned: u64,
}

impl From<spf_core::dns::CacheStats> for fastspf_cache_stats {
    fn from(stats: spf_core::dns::CacheStats) -> Self {
        // Every field named: a counter the core adds fails to compile here
        // until C has it too.
        let spf_core::dns::CacheStats {
            hits,
            misses,
            coalesced,
            expirations,
            evictions,
            entries,
            bytes,
            speculative_queries,
            speculative_used,
            inflight,
            abandoned,
        } = stats;
        fastspf_cache_stats {
            hits,
            misses,
            coalesced,
            expirations,
            evictions,
            entries,
            bytes,
            speculative_queries,
            speculative_used,
            inflight,
            abandoned,
        }
    }
}

/// The size of `fastspf_cache_stats` in its first version (through
/// `abandoned`): the least `fastspf_checker_cache_stats` accepts, so that
/// programs built against this header keep working when fields are added.
const CACHE_STATS_FIRST_SIZE: usize = std::mem::offset_of!(fastspf_cache_stats, abandoned) + size_of::<u64>();
/// The most `fastspf_checker_cache_stats` accepts: 512 counters, far more
/// than a newer header will have; a larger `size` is a wrong argument
/// (a length of something else, a negative number), and would have the
/// library zero that much of the caller's memory.
const CACHE_STATS_MAX_SIZE: usize = 4096;

/// Reads the counters of the checker's cache into `*out`: the one cache its
/// checks (blocking and asynchronous) and `fastspf_checker_lint` share.
/// Cheap; from any thread, at any time.
///
/// `size` is `sizeof(fastspf_cache_stats)` as the caller was compiled:
/// fields a newer library has and the caller's header lacks are not
/// written; fields the caller's (newer) header has and the library lacks
/// are set to 0. `*out` is written only on FASTSPF_STATUS_OK and belongs to
/// the caller.
///
/// FASTSPF_STATUS_NULL_ARGUMENT for a NULL `checker` or `out`;
/// FASTSPF_STATUS_INVALID_ARGUMENT when `size` is smaller than the first
/// version of the struct (88 bytes) or larger than 4096.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_checker_cache_stats(
    checker: *const fastspf_checker,
    out: *mut fastspf_cache_stats,
    size: usize,
) -> fastspf_status {
    guard(|| {
        let checker = unsafe { fastspf_checker::get(checker)? };
        non_null!(out);
        if !(CACHE_STATS_FIRST_SIZE..=CACHE_STATS_MAX_SIZE).contains(&size) {
            return Err(fastspf_status::InvalidArgument);
        }
        let stats = fastspf_cache_stats::from(checker.cache_stats());
        let ours = size_of::<fastspf_cache_stats>();
        let out = out.cast::<u8>();
        // SAFETY: C promises `out` is valid for `size` bytes; copying bytes
        // needs no alignment, and the struct has no padding (all u64).
        unsafe {
            std::ptr::copy_nonoverlapping((&raw const stats).cast::<u8>(), out, size.min(ours));
            if size > ours {
                out.add(ours).write_bytes(0, size - ours);
            }
        }
        Ok(())
    })
}

/// Hands an evaluation to C as a new result.
fn deliver(
    checker: &Checker,
    eval: spf_core::Evaluation,
    out: *mut *mut fastspf_result,
) -> Result<(), fastspf_status> {
    let result = ResultObj::new(eval, checker.options().receiver.as_deref());
    // SAFETY: C promises `out` is NULL or writable.
    unsafe { fastspf_result::give(out, result) }
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
        let checker = unsafe { fastspf_checker::get(checker)? };
        let ip = unsafe { text(ip)? };
        let mail_from = unsafe { text_or_empty(mail_from)? };
        let helo = unsafe { text_or_empty(helo)? };
        non_null!(out);
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
        let checker = unsafe { fastspf_checker::get(checker)? };
        let ip = unsafe { text(ip)? };
        let helo = unsafe { text(helo)? };
        non_null!(out);
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
        let checker = unsafe { fastspf_checker::get(checker)? };
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
        let checker = unsafe { fastspf_checker::get(checker)? };
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
        Ok(eval) => (fastspf_status::Ok, fastspf_result::into_raw(ResultObj::new(eval, receiver.as_deref()))),
        Err(_) => (fastspf_status::Panic, std::ptr::null_mut()),
    };
    // A panic can not cross the C callback; if the callback itself unwinds
    // (C++), stop it here.
    guard_value((), || unsafe { callback(user_data.0, status, result) });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C has every counter of the core: as many fields as `CacheStats`
    /// serialises, all `u64`, no padding.
    #[test]
    fn cache_stats_cover_the_cores() {
        let core = serde_json::to_value(spf_core::dns::CacheStats::default()).expect("serialises");
        let fields = core.as_object().expect("an object").len();
        assert_eq!(size_of::<fastspf_cache_stats>(), fields * size_of::<u64>());
        assert_eq!(CACHE_STATS_FIRST_SIZE, 88, "the first version's size never changes");
    }
}
