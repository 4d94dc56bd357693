//! `fastspf_config`: how to build a checker.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use spf_core::dns::{CacheConfig, Zone};
use spf_core::dns::{ResolverSettings, parse_nameserver};
use spf_core::{CheckerConfig, DnsSource, Limits, Speculation};

use crate::boundary::{guard, text, write_out};
use crate::status::fastspf_status;

/// A checker's configuration, built with the `fastspf_config_*` calls.
/// Opaque. Not thread-safe: build it on one thread, then create checkers.
pub struct fastspf_config {
    _private: [u8; 0],
}

pub(crate) struct Config {
    pub nameservers: Vec<std::net::SocketAddr>,
    pub zone_files: Vec<String>,
    pub timeout: Duration,
    pub attempts: usize,
    pub deadline: Duration,
    pub cache: CacheConfig,
    pub limits: Limits,
    pub receiver: Option<String>,
    pub trace: bool,
    pub speculation: Speculation,
}

impl Config {
    /// The checker configuration, reading any zone files now.
    pub(crate) fn checker_config(&self) -> Result<CheckerConfig, fastspf_status> {
        let dns = if self.zone_files.is_empty() {
            DnsSource::Resolver(
                ResolverSettings::default()
                    .with_nameservers(self.nameservers.clone())
                    .with_timeout(self.timeout)
                    .with_attempts(self.attempts),
            )
        } else {
            let mut zone = Zone::new();
            for path in &self.zone_files {
                zone.load_master_file(path).map_err(|_| fastspf_status::ZoneFile)?;
            }
            DnsSource::Zone(Arc::new(zone))
        };
        let mut config = CheckerConfig::default();
        config.dns = dns;
        config.cache = self.cache.clone();
        config.options.limits = self.limits;
        config.options.receiver = self.receiver.clone();
        config.options.trace = self.trace;
        config.options.speculation = self.speculation;
        config.options.deadline = Some(self.deadline);
        Ok(config)
    }
}

/// # Safety
/// `config` is NULL or a live `fastspf_config`.
unsafe fn config_mut<'a>(config: *mut fastspf_config) -> Result<&'a mut Config, fastspf_status> {
    if config.is_null() {
        return Err(fastspf_status::NullArgument);
    }
    // SAFETY: created by fastspf_config_new as a Box<Config>.
    Ok(unsafe { &mut *config.cast::<Config>() })
}

/// # Safety
/// `config` is NULL or a live `fastspf_config`.
pub(crate) unsafe fn config_ref<'a>(config: *const fastspf_config) -> Result<&'a Config, fastspf_status> {
    if config.is_null() {
        return Err(fastspf_status::NullArgument);
    }
    // SAFETY: created by fastspf_config_new as a Box<Config>.
    Ok(unsafe { &*config.cast::<Config>() })
}

/// Creates a configuration with the defaults: the system's resolvers
/// (/etc/resolv.conf), 5 s per DNS answer, 2 attempts, a 20 s deadline per
/// check, a cache of 100,000 entries and 64 MiB, RFC 7208 limits (10 DNS
/// lookups, 2 void lookups), no receiver name, tracing off, speculative
/// lookups on (at most 30 per check).
/// `*out` receives it; free it with `fastspf_config_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_new(out: *mut *mut fastspf_config) -> fastspf_status {
    guard(|| {
        let config = Config {
            nameservers: Vec::new(),
            zone_files: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
            deadline: Duration::from_secs(20),
            cache: CacheConfig::default(),
            limits: Limits::default(),
            receiver: None,
            trace: false,
            speculation: Speculation::default(),
        };
        if out.is_null() {
            return Err(fastspf_status::NullArgument);
        }
        let raw = Box::into_raw(Box::new(config)).cast::<fastspf_config>();
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { write_out(out, raw) }
    })
}

/// Frees a configuration. Checkers created from it stay valid. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_free(config: *mut fastspf_config) {
    let _ = guard(|| {
        if !config.is_null() {
            // SAFETY: created by fastspf_config_new; the caller gives it up.
            drop(unsafe { Box::from_raw(config.cast::<Config>()) });
        }
        Ok(())
    });
}

/// Adds a recursive resolver, `"IP"`, `"IP:PORT"` or `"[IPv6]:PORT"`
/// (port 53 by default). When any is given, /etc/resolv.conf is not read.
/// FASTSPF_STATUS_INVALID_ARGUMENT when it is not an address.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_add_nameserver(
    config: *mut fastspf_config,
    address: *const c_char,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { config_mut(config)? };
        let address = unsafe { text(address)? };
        let addr = parse_nameserver(address).map_err(|_| fastspf_status::InvalidArgument)?;
        config.nameservers.push(addr);
        Ok(())
    })
}

/// Answers every DNS query from this RFC 1035 master file instead of the
/// network (offline; for tests and demos). May be called several times.
/// The file is read by `fastspf_checker_new`, which reports
/// FASTSPF_STATUS_ZONE_FILE if it cannot be read or parsed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_add_zone_file(
    config: *mut fastspf_config,
    path: *const c_char,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { config_mut(config)? };
        let path = unsafe { text(path)? };
        config.zone_files.push(path.to_string());
        Ok(())
    })
}

/// Sets how long to wait for each DNS answer (milliseconds, 1 to 3,600,000;
/// default 5000) and how many tries each query gets (1 to 10; default 2).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_timeout(
    config: *mut fastspf_config,
    timeout_ms: u32,
    attempts: u32,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { config_mut(config)? };
        if !(1..=3_600_000).contains(&timeout_ms) || !(1..=10).contains(&attempts) {
            return Err(fastspf_status::InvalidArgument);
        }
        config.timeout = Duration::from_millis(timeout_ms.into());
        config.attempts = attempts as usize;
        Ok(())
    })
}

/// Sets the most time one check may take, in milliseconds (default 20000,
/// RFC 7208 §4.6.4 asks for at least 20 s); past it the result is temperror.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_deadline(
    config: *mut fastspf_config,
    deadline_ms: u32,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { config_mut(config)? };
        if deadline_ms == 0 {
            return Err(fastspf_status::InvalidArgument);
        }
        config.deadline = Duration::from_millis(deadline_ms.into());
        Ok(())
    })
}

/// Sizes the checker's DNS cache: at most `entries` answers and about
/// `bytes` bytes (defaults 100,000 and 64 MiB). Both must be nonzero.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_cache(
    config: *mut fastspf_config,
    entries: usize,
    bytes: usize,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { config_mut(config)? };
        if entries == 0 || bytes == 0 {
            return Err(fastspf_status::InvalidArgument);
        }
        config.cache.max_entries = entries;
        config.cache.max_bytes = bytes;
        Ok(())
    })
}

/// Sets the RFC 7208 §4.6.4 limits: DNS-querying terms per check (default
/// 10) and void lookups (default 2). Other values break conformance; they
/// exist for experiments. Both must be at least 1 and at most 1000.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_limits(
    config: *mut fastspf_config,
    dns_lookups: u32,
    void_lookups: u32,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { config_mut(config)? };
        if !(1..=1000).contains(&dns_lookups) || !(1..=1000).contains(&void_lookups) {
            return Err(fastspf_status::InvalidArgument);
        }
        config.limits.dns_terms = dns_lookups;
        config.limits.void_lookups = void_lookups;
        Ok(())
    })
}

/// Turns speculative lookups on or off (default on) and caps how many one
/// check may start (`max_lookups`, 1 to 1000; default 30; ignored when
/// `enabled` is 0). When a check has to fetch a record, the lookups its
/// `include`, `redirect`, `a` and `mx` terms will need start at once, so a
/// first-seen sender costs the depth of its record tree in round trips, not
/// the number of its queries. Results are the same either way.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_speculation(
    config: *mut fastspf_config,
    enabled: bool,
    max_lookups: u32,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { config_mut(config)? };
        if !enabled {
            config.speculation = Speculation::OFF;
            return Ok(());
        }
        if !(1..=1000).contains(&max_lookups) {
            return Err(fastspf_status::InvalidArgument);
        }
        config.speculation = Speculation::default().with_max_queries(max_lookups);
        Ok(())
    })
}

/// Names this host (the `%{r}` macro, Received-SPF's `receiver=`). NULL
/// clears it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_receiver(
    config: *mut fastspf_config,
    receiver: *const c_char,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { config_mut(config)? };
        config.receiver =
            if receiver.is_null() { None } else { Some(unsafe { text(receiver)? }.to_string()) };
        Ok(())
    })
}
