//! `fastspf_config`: how to build a checker.

use std::ffi::{CString, c_char};
use std::sync::Arc;
use std::time::Duration;

use spf_core::dns::{ResolverSettings, Zone, parse_nameserver};
use spf_core::policy::{BEST_GUESS_RECORD, LocalPolicy, PolicyError, WideOpenPass};
use spf_core::{CheckerConfig, DnsSource};

use crate::boundary::{Handle, guard, guard_value, text, text_or_none};
use crate::status::fastspf_status;

/// A checker's configuration, built with the `fastspf_config_*` calls.
/// Opaque. Not thread-safe: build it on one thread, then create checkers.
pub struct fastspf_config {
    _private: [u8; 0],
}

// SAFETY: a zero-sized type declared for C, never created by Rust.
unsafe impl Handle for fastspf_config {
    type Rust = Config;
}

/// Longest `fastspf_config_set_timeout` accepts: an hour per answer is
/// already no answer; longer would only hide a mistake (seconds for ms).
const MAX_TIMEOUT_MS: u32 = 3_600_000;
/// Most tries per query `fastspf_config_set_timeout` accepts: each costs a
/// timeout, and the check's deadline ends them anyway.
const MAX_ATTEMPTS: u32 = 10;
/// Largest processing limit `fastspf_config_set_limits` and
/// `fastspf_config_set_speculation` accept: the RFC's limits are 10 and 2;
/// past a thousand a check is a denial of service of its own.
const MAX_LIMIT: u32 = 1000;

/// What a `fastspf_config` holds: spf-core's [`CheckerConfig`], starting
/// from its `Default` and changed only by the setters C calls.
pub(crate) struct Config {
    core: CheckerConfig,
    /// Master files, read by `checker_config` (then they replace the
    /// resolver as the checker's DNS).
    zone_files: Vec<String>,
    /// Why the last local-policy setter failed (`fastspf_config_policy_error`).
    policy_error: Option<CString>,
}

impl Config {
    fn new() -> Config {
        // The core's defaults, the trace included (off: C has no way to
        // read a check's trace).
        Config { core: CheckerConfig::default(), zone_files: Vec::new(), policy_error: None }
    }

    /// The resolver settings (the DNS a configuration has until a checker
    /// is made, which reads its zone files).
    fn resolver_mut(&mut self) -> &mut ResolverSettings {
        if !matches!(self.core.dns, DnsSource::Resolver(_)) {
            self.core.dns = DnsSource::Resolver(ResolverSettings::default());
        }
        match &mut self.core.dns {
            DnsSource::Resolver(settings) => settings,
            _ => unreachable!("set to a resolver above"),
        }
    }

    /// Changes the local policy with `change`, all or nothing: on an error
    /// the policy stays as it was, the error's text is kept for
    /// `fastspf_config_policy_error`, and the status is
    /// [`fastspf_status::InvalidArgument`].
    fn change_policy(
        &mut self,
        change: impl FnOnce(&mut LocalPolicy) -> Result<(), PolicyError>,
    ) -> Result<(), fastspf_status> {
        let mut policy = self.core.local_policy.as_deref().cloned().unwrap_or_default();
        match change(&mut policy) {
            Ok(()) => {
                self.core.local_policy = Some(Arc::new(policy));
                self.policy_error = None;
                Ok(())
            }
            Err(error) => {
                self.policy_error = CString::new(error.to_string().replace('\0', "?")).ok();
                Err(fastspf_status::InvalidArgument)
            }
        }
    }

    /// The checker configuration, reading any zone files now.
    pub(crate) fn checker_config(&self) -> Result<CheckerConfig, fastspf_status> {
        let mut config = self.core.clone();
        if !self.zone_files.is_empty() {
            let mut zone = Zone::new();
            for path in &self.zone_files {
                zone.load_master_file(path).map_err(|_| fastspf_status::ZoneFile)?;
            }
            config.dns = DnsSource::Zone(Arc::new(zone));
        }
        Ok(config)
    }
}

/// Creates a configuration with spf-core's defaults
/// (`CheckerConfig::default()`), except tracing, which is off (C cannot
/// read a trace). The defaults of this version: the system's resolvers
/// (/etc/resolv.conf), 5 s per DNS answer, 2 attempts, a 20 s deadline per
/// check, a cache of 100,000 entries and 64 MiB, RFC 7208 limits (10 DNS
/// lookups, 2 void lookups), no receiver name, speculative lookups on (at
/// most 30 per check). Each `fastspf_config_set_*` call changes only what
/// it names.
/// `*out` receives it; free it with `fastspf_config_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_new(out: *mut *mut fastspf_config) -> fastspf_status {
    guard(|| unsafe { fastspf_config::give(out, Config::new()) })
}

/// Frees a configuration. Checkers created from it stay valid. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_free(config: *mut fastspf_config) {
    guard_value((), || unsafe { fastspf_config::free(config) })
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
        let config = unsafe { fastspf_config::get_mut(config)? };
        let address = unsafe { text(address)? };
        let addr = parse_nameserver(address).map_err(|_| fastspf_status::InvalidArgument)?;
        config.resolver_mut().nameservers.push(addr);
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
        let config = unsafe { fastspf_config::get_mut(config)? };
        let path = unsafe { text(path)? };
        config.zone_files.push(path.to_string());
        Ok(())
    })
}

/// Sets how long to wait for each DNS answer (milliseconds, 1 to 3,600,000;
/// spf-core's default 5000) and how many tries each query gets (1 to 10;
/// spf-core's default 2). Both ignored when zone files are given.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_timeout(
    config: *mut fastspf_config,
    timeout_ms: u32,
    attempts: u32,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { fastspf_config::get_mut(config)? };
        if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) || !(1..=MAX_ATTEMPTS).contains(&attempts) {
            return Err(fastspf_status::InvalidArgument);
        }
        let resolver = config.resolver_mut();
        resolver.timeout = Duration::from_millis(timeout_ms.into());
        resolver.attempts = attempts as usize;
        Ok(())
    })
}

/// Sets the most time one check (or `fastspf_checker_lint`) may take, in
/// milliseconds (spf-core's default 20000: RFC 7208 §4.6.4 asks for at
/// least 20 s); past it the result is temperror. 0 is
/// FASTSPF_STATUS_INVALID_ARGUMENT.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_deadline(
    config: *mut fastspf_config,
    deadline_ms: u32,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { fastspf_config::get_mut(config)? };
        if deadline_ms == 0 {
            return Err(fastspf_status::InvalidArgument);
        }
        config.core.options.deadline = Some(Duration::from_millis(deadline_ms.into()));
        Ok(())
    })
}

/// Sizes the checker's DNS cache: at most `entries` answers and about
/// `bytes` bytes (spf-core's defaults 100,000 and 64 MiB). Both must be
/// nonzero.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_cache(
    config: *mut fastspf_config,
    entries: usize,
    bytes: usize,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { fastspf_config::get_mut(config)? };
        if entries == 0 || bytes == 0 {
            return Err(fastspf_status::InvalidArgument);
        }
        config.core.cache.max_entries = entries;
        config.core.cache.max_bytes = bytes;
        Ok(())
    })
}

/// Sets the RFC 7208 §4.6.4 limits: DNS-querying terms per check
/// (spf-core's default 10, the RFC's) and void lookups (default 2, the
/// RFC's). Other values break conformance; they exist for experiments.
/// Both must be at least 1 and at most 1000.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_limits(
    config: *mut fastspf_config,
    dns_lookups: u32,
    void_lookups: u32,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { fastspf_config::get_mut(config)? };
        if !(1..=MAX_LIMIT).contains(&dns_lookups) || !(1..=MAX_LIMIT).contains(&void_lookups) {
            return Err(fastspf_status::InvalidArgument);
        }
        config.core.options.limits.dns_terms = dns_lookups;
        config.core.options.limits.void_lookups = void_lookups;
        Ok(())
    })
}

/// Turns speculative lookups on or off (spf-core's default on) and caps how
/// many one check may start (`max_lookups`, 1 to 1000; spf-core's default
/// 30; ignored, and the cap left as it was, when `enabled` is false). When
/// a check has to fetch a record, the lookups its `include`, `redirect`,
/// `a` and `mx` terms will need start at once, so a first-seen sender costs
/// the depth of its record tree in round trips, not the number of its
/// queries. Results are the same either way.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_speculation(
    config: *mut fastspf_config,
    enabled: bool,
    max_lookups: u32,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { fastspf_config::get_mut(config)? };
        let speculation = &mut config.core.options.speculation;
        if !enabled {
            speculation.enabled = false;
            return Ok(());
        }
        if !(1..=MAX_LIMIT).contains(&max_lookups) {
            return Err(fastspf_status::InvalidArgument);
        }
        speculation.enabled = true;
        speculation.max_queries = max_lookups;
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
        let config = unsafe { fastspf_config::get_mut(config)? };
        config.core.options.receiver = unsafe { text_or_none(receiver)? }.map(str::to_string);
        Ok(())
    })
}

/// One `fastspf_config_add_*` call for a list of local policy.
///
/// # Safety
/// As for the exports: `config` a live configuration, `list` a C string.
unsafe fn add_policy_list(
    config: *mut fastspf_config,
    list: *const c_char,
    add: fn(&mut LocalPolicy, &str) -> Result<(), PolicyError>,
) -> Result<(), fastspf_status> {
    let config = unsafe { fastspf_config::get_mut(config)? };
    let list = unsafe { text(list)? };
    config.change_policy(|policy| add(policy, list))
}

/// Local policy: adds client networks that are never checked (policyd-spf's
/// `skip_addresses`, e.g. `"127.0.0.0/8,::1"`): a comma- or space-separated
/// list of `address` or `address/prefix`. A check from such a client sends
/// no DNS query; its result is FASTSPF_RESULT_NONE with the policy note
/// kind `"exempt"` (most receivers add no header then). At most 100,000
/// networks in all. Every `fastspf_config_add_*` and `_set_*` call of local
/// policy changes all or nothing: on FASTSPF_STATUS_INVALID_ARGUMENT
/// (a malformed item, a list too long) the policy is unchanged and
/// `fastspf_config_policy_error` says why.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_add_skip_networks(
    config: *mut fastspf_config,
    list: *const c_char,
) -> fastspf_status {
    guard(|| unsafe { add_policy_list(config, list, LocalPolicy::add_skip_networks) })
}

/// Local policy: adds client networks treated as authorized (policyd-spf's
/// `Whitelist`), a list as for `fastspf_config_add_skip_networks`. A check
/// from such a client sends no DNS query; its result is
/// FASTSPF_RESULT_PASS with the policy note kind `"exempt"`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_add_allow_networks(
    config: *mut fastspf_config,
    list: *const c_char,
) -> fastspf_status {
    guard(|| unsafe { add_policy_list(config, list, LocalPolicy::add_allow_networks) })
}

/// Local policy: adds HELO names (comma- or space-separated domains, at most
/// 32) whose A/AAAA records, when they hold the client, make it authorized
/// (policyd-spf's `HELO_Whitelist`): FASTSPF_RESULT_PASS, note kind
/// `"exempt"`. Costs one A or AAAA query per check with a listed HELO name.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_add_allow_helo(
    config: *mut fastspf_config,
    list: *const c_char,
) -> fastspf_status {
    guard(|| unsafe { add_policy_list(config, list, LocalPolicy::add_allow_helo) })
}

/// Local policy: adds domains (comma- or space-separated, at most 32) whose
/// SPF policy, when it passes the client, makes it authorized
/// (policyd-spf's `Domain_Whitelist`): FASTSPF_RESULT_PASS, note kind
/// `"exempt"`. Costs an SPF check per listed domain on every check, until
/// one passes (answers are cached).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_add_allow_domains(
    config: *mut fastspf_config,
    list: *const c_char,
) -> fastspf_status {
    guard(|| unsafe { add_policy_list(config, list, LocalPolicy::add_allow_spf_domains) })
}

/// Local policy: adds domains (comma- or space-separated, at most 32) whose
/// subdomains, when one is the client's validated PTR name (RFC 7208 §5.5),
/// make it authorized (policyd-spf's `Domain_Whitelist_PTR`):
/// FASTSPF_RESULT_PASS, note kind `"exempt"`. Costs a PTR query and up to 10
/// A/AAAA queries per check.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_add_allow_ptr_domains(
    config: *mut fastspf_config,
    list: *const c_char,
) -> fastspf_status {
    guard(|| unsafe { add_policy_list(config, list, LocalPolicy::add_allow_ptr_domains) })
}

/// Local policy: adds trusted forwarders (comma- or space-separated domains,
/// at most 32). A MAIL FROM fail from a client that a forwarder's SPF
/// policy passes stays FASTSPF_RESULT_FAIL, with the policy note kind
/// `"forwarded"` naming the forwarder: forwarded mail, not to be rejected.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_add_trusted_forwarders(
    config: *mut fastspf_config,
    list: *const c_char,
) -> fastspf_status {
    guard(|| unsafe { add_policy_list(config, list, LocalPolicy::add_trusted_forwarders) })
}

/// Local policy: the best guess for domains without an SPF record (off by
/// default). `enabled` false turns it off (`record` is ignored); true with
/// a NULL `record` uses pyspf's `"v=spf1 a/24 mx/24 ptr"`, otherwise
/// `record` (it must start with `v=spf1`). Such a domain's result stays
/// FASTSPF_RESULT_NONE; the guess is the policy note (kind `"best_guess"`),
/// never the domain's own policy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_best_guess(
    config: *mut fastspf_config,
    enabled: bool,
    record: *const c_char,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { fastspf_config::get_mut(config)? };
        let record =
            if enabled { Some(unsafe { text_or_none(record)? }.unwrap_or(BEST_GUESS_RECORD)) } else { None };
        config.change_policy(|policy| policy.set_best_guess(record))
    })
}

/// Local policy: what a pass from a wide-open policy (one that passes 2^24
/// or more IPv4 addresses, or 1/65536 of IPv6, `+all` included) becomes:
/// `"pass"` (the default, RFC 7208's answer) or `"neutral"` (the result is
/// then FASTSPF_RESULT_NEUTRAL with the policy note kind `"wide_open"`
/// naming the domain). Judging a domain costs one lint of its policy (at
/// most 100 queries), remembered for an hour.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_set_wide_open_pass(
    config: *mut fastspf_config,
    mode: *const c_char,
) -> fastspf_status {
    guard(|| {
        let config = unsafe { fastspf_config::get_mut(config)? };
        let mode = unsafe { text(mode)? };
        let wide_open = match mode {
            "pass" => WideOpenPass::Pass,
            "neutral" => WideOpenPass::Neutral,
            _ => {
                let text = format!("wide-open pass {mode:?} is neither \"pass\" nor \"neutral\"");
                config.policy_error = CString::new(text.replace('\0', "?")).ok();
                return Err(fastspf_status::InvalidArgument);
            }
        };
        config.change_policy(|policy| {
            policy.wide_open = wide_open;
            Ok(())
        })
    })
}

/// Why the last local-policy call on `config` (`fastspf_config_add_skip_networks`
/// and the others above) failed with FASTSPF_STATUS_INVALID_ARGUMENT, e.g.
/// `"\"10.0.0.0/33\" is not an IP network (address or address/prefix)"`; NULL
/// when the last one succeeded, none was made, or `config` is NULL. Owned
/// by `config`: valid until the next local-policy call on it or
/// `fastspf_config_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fastspf_config_policy_error(config: *const fastspf_config) -> *const c_char {
    guard_value(std::ptr::null(), || match unsafe { fastspf_config::get_or_none(config) } {
        Some(config) => config.policy_error.as_ref().map_or(std::ptr::null(), |e| e.as_ptr()),
        None => std::ptr::null(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documentation of `fastspf_config_new` in the header, on one line.
    fn config_new_doc() -> String {
        let header = include_str!("../../include/fastspf.h");
        let end = header.find("fastspf_status fastspf_config_new(").expect("declared");
        let start = header[..end].rfind("/**").expect("documented");
        let lines = header[start..end].lines().map(|l| l.trim().trim_start_matches(['/', '*']).trim());
        lines.filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
    }

    /// `1234567` as `"1,234,567"`.
    fn thousands(n: usize) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    /// A configuration is the core's default (the trace off), and the
    /// numbers the header states for it are the core's (when the core
    /// changes a default, the comment on `fastspf_config_new` follows).
    #[test]
    fn defaults_are_the_cores_and_documented() {
        let config = Config::new();
        let core = CheckerConfig::default();
        let DnsSource::Resolver(resolver) = &config.core.dns else { panic!("resolvers by default") };
        assert!(resolver.nameservers.is_empty(), "the system's resolvers");
        assert!(!config.core.options.trace);
        assert!(config.zone_files.is_empty());
        assert_eq!(format!("{:?}", config.core.dns), format!("{:?}", core.dns));
        assert_eq!(config.core.cache, core.cache);
        assert_eq!(format!("{:?}", config.core.options), format!("{:?}", core.options));

        let options = &config.core.options;
        let doc = config_new_doc();
        let deadline = options.deadline.expect("a deadline by default");
        for phrase in [
            format!("{} s per DNS answer, {} attempts,", resolver.timeout.as_secs(), resolver.attempts),
            format!("a {} s deadline per check,", deadline.as_secs()),
            format!(
                "a cache of {} entries and {} MiB,",
                thousands(config.core.cache.max_entries),
                config.core.cache.max_bytes >> 20
            ),
            format!(
                "({} DNS lookups, {} void lookups),",
                options.limits.dns_terms, options.limits.void_lookups
            ),
            format!(
                "speculative lookups {} (at most {} per check)",
                if options.speculation.enabled { "on" } else { "off" },
                options.speculation.max_queries
            ),
            String::from(if options.receiver.is_none() { "no receiver name" } else { "a receiver name" }),
        ] {
            assert!(doc.contains(&phrase), "the header's defaults should say {phrase:?}:\n{doc}");
        }
    }

    /// Each setter changes only what it names.
    #[test]
    fn setters_change_only_what_they_name() {
        let mut raw: *mut fastspf_config = std::ptr::null_mut();
        let core = CheckerConfig::default();
        // SAFETY: `raw` is a live configuration from fastspf_config_new until
        // fastspf_config_free; the references into it end before the next call.
        unsafe {
            assert_eq!(fastspf_config_new(&mut raw), fastspf_status::Ok);
            let before = format!("{:?}", fastspf_config::get(raw).expect("live").core.options.limits);
            assert_eq!(fastspf_config_set_deadline(raw, 1500), fastspf_status::Ok);
            assert_eq!(fastspf_config_set_speculation(raw, false, 0), fastspf_status::Ok);
            assert_eq!(fastspf_config_set_timeout(raw, 250, 3), fastspf_status::Ok);
            let config = fastspf_config::get(raw).expect("live");
            assert_eq!(config.core.options.deadline, Some(Duration::from_millis(1500)));
            let speculation = config.core.options.speculation;
            assert!(!speculation.enabled);
            assert_eq!(speculation.max_queries, core.options.speculation.max_queries);
            assert_eq!(speculation.later_includes, core.options.speculation.later_includes);
            let DnsSource::Resolver(resolver) = &config.core.dns else { panic!("resolvers") };
            assert_eq!((resolver.timeout, resolver.attempts), (Duration::from_millis(250), 3));
            assert_eq!(format!("{:?}", config.core.options.limits), before);
            assert_eq!(config.core.cache, core.cache);

            // Turning speculation back on keeps the rest of it.
            assert_eq!(fastspf_config_set_speculation(raw, true, 7), fastspf_status::Ok);
            let speculation = fastspf_config::get(raw).expect("live").core.options.speculation;
            assert!(speculation.enabled);
            assert_eq!(speculation.max_queries, 7);
            assert_eq!(speculation.later_includes, core.options.speculation.later_includes);
            fastspf_config_free(raw);
        }
    }
}
