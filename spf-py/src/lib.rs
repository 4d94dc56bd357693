//! `fastspf._native`: the Rust core for Python. The public API, with its
//! documentation, is the `fastspf` package in `python/fastspf/`.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use spf_core::dns::{ResolverSettings, Zone, parse_nameserver};
use spf_core::headers::{authentication_results, received_spf};
use spf_core::lint::{AddressSpace, Authorized, Diagnostic, LintOptions, LintReport, LintRequest, Severity};
use spf_core::policy::{BEST_GUESS_RECORD, LocalPolicy, PolicyError, WideOpenPass};
use spf_core::record::{Mechanism, Modifier, Term};
use spf_core::{CheckRequest, Checker, CheckerConfig, DnsSource, Evaluation, Record, Speculation};

/// A class from the pure-Python part of the package (`fastspf._base`).
fn base_class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let class = cell.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("fastspf._base")?.getattr(name)?.unbind())
    })?;
    Ok(class.bind(py).clone())
}

static RESULT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static RECORD_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Raises `fastspf.Error` (or a subclass) with `message`.
fn library_error(py: Python<'_>, message: String) -> PyErr {
    match base_class(py, &ERROR, "Error") {
        Ok(class) => PyErr::from_value(
            class.call1((message,)).unwrap_or_else(|e| e.into_value(py).into_any().into_bound(py)),
        ),
        Err(e) => e,
    }
}

/// Maps a spf-core setup or misuse error to Python: bad input is a
/// `ValueError`, everything else `fastspf.Error`.
fn core_error(py: Python<'_>, error: spf_core::Error) -> PyErr {
    match error {
        spf_core::Error::InvalidIp(_)
        | spf_core::Error::InvalidNameserver(_)
        | spf_core::Error::InvalidSender(..) => PyValueError::new_err(error.to_string()),
        other => library_error(py, other.to_string()),
    }
}

/// One check's outcome.
#[pyclass(frozen, module = "fastspf._native", name = "Evaluation")]
struct PyEvaluation {
    eval: Evaluation,
    receiver: Option<Arc<str>>,
}

#[pymethods]
impl PyEvaluation {
    /// The result, a `fastspf.Result` (a `str` enum: `Result.PASS == "pass"`).
    #[getter]
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        base_class(py, &RESULT, "Result")?.call1((self.eval.result.as_str(),))
    }
    /// On fail, the explanation; otherwise None.
    #[getter]
    fn explanation(&self) -> Option<&str> {
        self.eval.explanation.as_deref()
    }
    /// The mechanism that decided the result, or None.
    #[getter]
    fn mechanism(&self) -> Option<&str> {
        self.eval.matched.as_ref().map(|m| &*m.term)
    }
    /// The domain whose record decided the result (the checked domain when no mechanism matched).
    #[getter]
    fn domain(&self) -> &str {
        self.eval.deciding_domain()
    }
    /// The domain checked (`<domain>` of RFC 7208).
    #[getter]
    fn checked_domain(&self) -> &str {
        &self.eval.domain
    }
    /// `"mailfrom"` or `"helo"`.
    #[getter]
    fn identity(&self) -> &'static str {
        self.eval.identity.as_str()
    }
    /// `<sender>` as checked.
    #[getter]
    fn sender(&self) -> &str {
        &self.eval.sender
    }
    /// The client IP, as checked (IPv4-mapped addresses as IPv4).
    #[getter]
    fn ip(&self) -> String {
        self.eval.ip.to_string()
    }
    /// The HELO name, or None.
    #[getter]
    fn helo(&self) -> Option<&str> {
        self.eval.helo.as_deref()
    }
    /// Why the result is none, permerror or temperror, or None.
    #[getter]
    fn reason(&self) -> Option<String> {
        self.eval.reason.as_ref().map(ToString::to_string)
    }
    /// DNS-querying terms evaluated (RFC 7208 4.6.4).
    #[getter]
    fn dns_lookups(&self) -> u32 {
        self.eval.dns_lookups
    }
    /// Void lookups counted (RFC 7208 4.6.4).
    #[getter]
    fn void_lookups(&self) -> u32 {
        self.eval.void_lookups
    }
    /// True for a pass from a wide-open policy: the sender's policy passes
    /// at least a /8 of IPv4 or a /16 of IPv6 (`v=spf1 +all`), so the pass
    /// says nothing about the client. Known without a DNS query of its own.
    #[getter]
    fn wide_open(&self) -> bool {
        self.eval.wide_open
    }
    /// On a pass, how much address space the sender's policy passes: a dict
    /// with `ipv4_addresses`, `ipv6_64s` (IPv6 /64 networks) and `exact`
    /// (False: a lower bound, the policy is not compiled yet or parts of it
    /// depend on the client); None for other results.
    #[getter]
    fn authorized<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(space) = self.eval.authorized else { return Ok(None) };
        let dict = PyDict::new(py);
        dict.set_item("ipv4_addresses", space.ipv4_addresses)?;
        dict.set_item("ipv6_64s", space.ipv6_64s)?;
        dict.set_item("exact", space.exact)?;
        Ok(Some(dict))
    }
    /// Each step as a dict (`event`, `depth`, ...), in order.
    #[getter]
    fn trace<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let json = serde_json::to_string(&self.eval.trace).map_err(|e| library_error(py, e.to_string()))?;
        py.import("json")?.call_method1("loads", (json,))
    }
    /// What local policy did, in words (the header fields carry the same
    /// text), or None.
    #[getter]
    fn policy_note(&self) -> Option<String> {
        self.eval.policy_note().map(ToString::to_string)
    }
    /// What local policy did, as a dict (`kind`: `exempt`, `forwarded`,
    /// `best_guess` or `wide_open`, and its details), or None.
    #[getter]
    fn policy<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(note) = self.eval.policy_note() else { return Ok(None) };
        let json = serde_json::to_string(note).map_err(|e| library_error(py, e.to_string()))?;
        py.import("json")?.call_method1("loads", (json,)).map(Some)
    }
    /// The `Received-SPF:` header field, folded with a line feed before a
    /// space where it is long (no CR, no trailing line break).
    #[pyo3(signature = (receiver=None))]
    fn received_spf(&self, receiver: Option<&str>) -> String {
        received_spf(&self.eval, receiver.or(self.receiver.as_deref()))
    }
    /// The `Authentication-Results:` header field with this check's `spf` entry.
    fn authentication_results(&self, authserv_id: &str) -> String {
        authentication_results(&self.eval, authserv_id)
    }
    fn __repr__(&self) -> String {
        let mut text = format!(
            "<fastspf.Evaluation {} identity={} domain={:?}",
            self.eval.result,
            self.identity(),
            self.domain()
        );
        if let Some(m) = self.mechanism() {
            text.push_str(&format!(" mechanism={m:?}"));
        }
        if let Some(r) = self.reason() {
            text.push_str(&format!(" reason={r:?}"));
        }
        if let Some(note) = self.eval.policy_note() {
            text.push_str(&format!(" policy={:?}", note.kind()));
        }
        text.push('>');
        text
    }
}

/// The native checker. Wrapped by `fastspf.Checker`.
#[pyclass(frozen, module = "fastspf._native", name = "Checker")]
struct PyChecker {
    checker: Checker,
    receiver: Option<Arc<str>>,
}

fn parse_ip(ip: &str) -> PyResult<std::net::IpAddr> {
    spf_core::parse_ip(ip).map_err(|e| PyValueError::new_err(e.to_string()))
}

fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    if value.is_finite() && value > 0.0 && value <= 86_400.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(PyValueError::new_err(format!("{name} must be a number of seconds in (0, 86400], not {value}")))
    }
}

/// The checker configuration from `Checker()`'s (and `lint()`'s)
/// arguments: every argument left `None` keeps the core's default
/// (`CheckerConfig::default()`, the one place defaults are written).
#[allow(clippy::too_many_arguments)]
fn checker_config(
    py: Python<'_>,
    zone: Option<PyRef<'_, PyZone>>,
    zone_files: Option<Vec<String>>,
    nameservers: Option<Vec<String>>,
    timeout: Option<f64>,
    attempts: Option<usize>,
    deadline: Option<f64>,
    max_dns_lookups: Option<u32>,
    max_void_lookups: Option<u32>,
) -> PyResult<CheckerConfig> {
    let mut config = CheckerConfig::default();
    config.dns = match (zone, zone_files) {
        (Some(zone), _) => DnsSource::Zone(Arc::clone(&zone.built()?)),
        (None, Some(files)) if !files.is_empty() => {
            let mut zone = Zone::new();
            for file in &files {
                zone.load_master_file(file).map_err(|e| core_error(py, e))?;
            }
            DnsSource::Zone(Arc::new(zone))
        }
        _ => {
            let mut settings = ResolverSettings::default();
            settings.nameservers = nameservers
                .unwrap_or_default()
                .iter()
                .map(|n| parse_nameserver(n).map_err(|e| core_error(py, e)))
                .collect::<PyResult<Vec<_>>>()?;
            if let Some(timeout) = timeout {
                settings.timeout = seconds("timeout", timeout)?;
            }
            if let Some(attempts) = attempts {
                if attempts == 0 || attempts > 10 {
                    return Err(PyValueError::new_err("attempts must be 1 to 10"));
                }
                settings.attempts = attempts;
            }
            DnsSource::Resolver(settings)
        }
    };
    if let Some(deadline) = deadline {
        config.options.deadline = Some(seconds("deadline", deadline)?);
    }
    for (value, limit) in [
        (max_dns_lookups, &mut config.options.limits.dns_terms),
        (max_void_lookups, &mut config.options.limits.void_lookups),
    ] {
        if let Some(value) = value {
            if !(1..=1000).contains(&value) {
                return Err(PyValueError::new_err("lookup limits must be between 1 and 1000"));
            }
            *limit = value;
        }
    }
    Ok(config)
}

/// `best_guess=`: True (pyspf's record), False, or a record of one's own.
#[derive(FromPyObject)]
enum BestGuess {
    Flag(bool),
    Record(String),
}

/// The local policy from `Checker()`'s arguments (`None`: none given).
/// Bad input is a `ValueError` naming the argument.
#[allow(clippy::too_many_arguments)]
fn local_policy(
    skip_networks: Option<Vec<String>>,
    allow_networks: Option<Vec<String>>,
    allow_helo: Option<Vec<String>>,
    allow_domains: Option<Vec<String>>,
    allow_ptr_domains: Option<Vec<String>>,
    trusted_forwarders: Option<Vec<String>>,
    best_guess: Option<BestGuess>,
    wide_open_pass: Option<String>,
) -> PyResult<Option<LocalPolicy>> {
    type Add = fn(&mut LocalPolicy, &str) -> Result<(), PolicyError>;
    let bad = |name: &str, e: PolicyError| PyValueError::new_err(format!("{name}: {e}"));
    let mut policy = LocalPolicy::default();
    let lists: [(&str, Option<Vec<String>>, Add); 6] = [
        ("skip_networks", skip_networks, LocalPolicy::add_skip_networks),
        ("allow_networks", allow_networks, LocalPolicy::add_allow_networks),
        ("allow_helo", allow_helo, LocalPolicy::add_allow_helo),
        ("allow_domains", allow_domains, LocalPolicy::add_allow_spf_domains),
        ("allow_ptr_domains", allow_ptr_domains, LocalPolicy::add_allow_ptr_domains),
        ("trusted_forwarders", trusted_forwarders, LocalPolicy::add_trusted_forwarders),
    ];
    for (name, items, add) in lists {
        for item in items.iter().flatten() {
            add(&mut policy, item).map_err(|e| bad(name, e))?;
        }
    }
    let record = match best_guess {
        None | Some(BestGuess::Flag(false)) => None,
        Some(BestGuess::Flag(true)) => Some(BEST_GUESS_RECORD.to_string()),
        Some(BestGuess::Record(record)) => Some(record),
    };
    policy.set_best_guess(record.as_deref()).map_err(|e| bad("best_guess", e))?;
    policy.wide_open = match wide_open_pass.as_deref() {
        None | Some("pass") => WideOpenPass::Pass,
        Some("neutral") => WideOpenPass::Neutral,
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "wide_open_pass must be \"pass\" or \"neutral\", not {other:?}"
            )));
        }
    };
    Ok((!policy.is_empty()).then_some(policy))
}

#[pymethods]
impl PyChecker {
    #[new]
    #[pyo3(signature = (*, nameservers=None, timeout=None, attempts=None, deadline=None, cache_size=None,
                        cache_bytes=None, zone_files=None, zone=None, max_dns_lookups=None,
                        max_void_lookups=None, receiver=None, trace=None, speculate=None,
                        skip_networks=None, allow_networks=None, allow_helo=None, allow_domains=None,
                        allow_ptr_domains=None, trusted_forwarders=None, best_guess=None,
                        wide_open_pass=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        nameservers: Option<Vec<String>>,
        timeout: Option<f64>,
        attempts: Option<usize>,
        deadline: Option<f64>,
        cache_size: Option<usize>,
        cache_bytes: Option<usize>,
        zone_files: Option<Vec<String>>,
        zone: Option<PyRef<'_, PyZone>>,
        max_dns_lookups: Option<u32>,
        max_void_lookups: Option<u32>,
        receiver: Option<String>,
        trace: Option<bool>,
        speculate: Option<bool>,
        skip_networks: Option<Vec<String>>,
        allow_networks: Option<Vec<String>>,
        allow_helo: Option<Vec<String>>,
        allow_domains: Option<Vec<String>>,
        allow_ptr_domains: Option<Vec<String>>,
        trusted_forwarders: Option<Vec<String>>,
        best_guess: Option<BestGuess>,
        wide_open_pass: Option<String>,
    ) -> PyResult<Self> {
        let mut config = checker_config(
            py,
            zone,
            zone_files,
            nameservers,
            timeout,
            attempts,
            deadline,
            max_dns_lookups,
            max_void_lookups,
        )?;
        for (value, field) in
            [(cache_size, &mut config.cache.max_entries), (cache_bytes, &mut config.cache.max_bytes)]
        {
            if let Some(value) = value {
                if value == 0 {
                    return Err(PyValueError::new_err("cache_size and cache_bytes must be positive"));
                }
                *field = value;
            }
        }
        config.options.receiver = receiver.clone();
        if let Some(trace) = trace {
            config.options.trace = trace;
        }
        if speculate == Some(false) {
            config.options.speculation = Speculation::OFF;
        }
        if let Some(policy) = local_policy(
            skip_networks,
            allow_networks,
            allow_helo,
            allow_domains,
            allow_ptr_domains,
            trusted_forwarders,
            best_guess,
            wide_open_pass,
        )? {
            config = config.with_local_policy(policy);
        }
        let checker = py.detach(|| Checker::new(config)).map_err(|e| core_error(py, e))?;
        Ok(PyChecker { checker, receiver: receiver.map(Arc::from) })
    }

    /// Checks the MAIL FROM identity. A check answered from the cache keeps
    /// the GIL (it takes microseconds); one that waits for DNS releases it
    /// while it waits, and Ctrl-C (KeyboardInterrupt) stops it within
    /// [`SIGNAL_CHECK`].
    #[pyo3(signature = (ip, mail_from, helo=None))]
    fn check(&self, py: Python<'_>, ip: &str, mail_from: &str, helo: Option<&str>) -> PyResult<PyEvaluation> {
        let ip = parse_ip(ip)?;
        let helo = helo.unwrap_or("");
        // A warm check finishes in microseconds without I/O: run it with the
        // GIL held (handing the GIL to another thread and back costs more
        // than the check). Only a check that must wait for DNS releases it.
        let eval = run(py, &self.checker, CheckRequest::mail_from(ip, mail_from, helo))?;
        Ok(PyEvaluation { eval, receiver: self.receiver.clone() })
    }

    /// Lints through this checker's DNS and cache, with its limits.
    #[pyo3(signature = (domain=None, *, record=None, ips=None, self_test=None, deadline=30.0,
                        check_mail_hosts=true))]
    #[allow(clippy::too_many_arguments)]
    fn lint(
        &self,
        py: Python<'_>,
        domain: Option<String>,
        record: Option<String>,
        ips: Option<Vec<String>>,
        self_test: Option<Vec<String>>,
        deadline: f64,
        check_mail_hosts: bool,
    ) -> PyResult<PyLintReport> {
        let request = lint_request(domain, record, ips, self_test)?;
        let mut options = LintOptions::default();
        options.limits = self.checker.options().limits;
        options.deadline = Some(seconds("deadline", deadline)?);
        options.check_mail_hosts = check_mail_hosts;
        let report = py.detach(|| self.checker.lint_blocking(&request, &options));
        Ok(PyLintReport { report })
    }

    /// Checks the HELO identity; the GIL as for `check`.
    fn check_helo(&self, py: Python<'_>, ip: &str, helo: &str) -> PyResult<PyEvaluation> {
        let ip = parse_ip(ip)?;
        let eval = run(py, &self.checker, CheckRequest::helo(ip, helo))?;
        Ok(PyEvaluation { eval, receiver: self.receiver.clone() })
    }

    /// Starts a MAIL FROM check and returns at once, with a handle that can
    /// cancel it; `callback(evaluation)` is called later on a library
    /// thread (with the GIL), unless the check is cancelled first or the
    /// interpreter is exiting by then.
    #[pyo3(signature = (ip, mail_from, helo, callback))]
    fn check_callback(
        &self,
        ip: &str,
        mail_from: String,
        helo: Option<String>,
        callback: Py<PyAny>,
    ) -> PyResult<PyPendingCheck> {
        let ip = parse_ip(ip)?;
        let receiver = self.receiver.clone();
        let helo = helo.unwrap_or_default();
        let pending = self.checker.check_callback(ip, &mail_from, &helo, move |outcome| {
            let Ok(eval) = outcome else { return };
            call_python(move |py| {
                let outcome =
                    Py::new(py, PyEvaluation { eval, receiver }).and_then(|e| callback.call1(py, (e,)));
                if let Err(error) = outcome {
                    error.write_unraisable(py, None);
                }
            });
        });
        Ok(PyPendingCheck { pending })
    }

    /// Cache counters and size, as a dict.
    fn cache_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.checker.cache_stats();
        let dict = PyDict::new(py);
        for (key, value) in [
            ("hits", s.hits),
            ("misses", s.misses),
            ("coalesced", s.coalesced),
            ("expirations", s.expirations),
            ("evictions", s.evictions),
            ("entries", s.entries),
            ("bytes", s.bytes),
            ("speculative_queries", s.speculative_queries),
            ("speculative_used", s.speculative_used),
            ("inflight", s.inflight),
            ("abandoned", s.abandoned),
        ] {
            dict.set_item(key, value)?;
        }
        Ok(dict)
    }
}

/// A check started by `Checker.check_callback`.
#[pyclass(frozen, module = "fastspf._native", name = "PendingCheck")]
struct PyPendingCheck {
    pending: spf_core::PendingCheck,
}

#[pymethods]
impl PyPendingCheck {
    /// Stops the check if it has not finished; its callback is then not
    /// called. Nothing happens once it is done.
    fn cancel(&self) {
        self.pending.cancel();
    }
}

/// How often a thread waiting for DNS takes the GIL back to look at
/// Python's signals: Ctrl-C (KeyboardInterrupt) reaches the caller within
/// this much, and then cancels the check.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Runs a check: on this thread with the GIL held as far as it goes without
/// waiting (a check answered from the cache: microseconds, less than handing
/// the GIL over and back would cost); a check that must wait for DNS then
/// waits with the GIL released, taking it back every [`SIGNAL_CHECK`] to run
/// Python's signal handlers: an exception from one (KeyboardInterrupt)
/// drops the check, which cancels it.
fn run(py: Python<'_>, checker: &Checker, request: CheckRequest) -> PyResult<Evaluation> {
    let mut waiting = match checker.start(request) {
        Ok(eval) => return Ok(eval),
        Err(waiting) => waiting,
    };
    loop {
        if let Some(eval) = py.detach(|| waiting.wait(SIGNAL_CHECK)) {
            return Ok(eval);
        }
        py.check_signals()?;
    }
}

/// Set when the interpreter starts to exit (an `atexit` hook of the
/// package): library threads then no longer call into Python.
static EXITING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The core's defaults (`CheckerConfig::default()`), which every argument
/// of `Checker()` and `lint()` left at `None` keeps.
#[pyfunction]
fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let config = CheckerConfig::default();
    let resolver = ResolverSettings::default();
    let dict = PyDict::new(py);
    dict.set_item("timeout", resolver.timeout.as_secs_f64())?;
    dict.set_item("attempts", resolver.attempts)?;
    dict.set_item("deadline", config.options.deadline.map(|d| d.as_secs_f64()))?;
    dict.set_item("cache_size", config.cache.max_entries)?;
    dict.set_item("cache_bytes", config.cache.max_bytes)?;
    dict.set_item("max_dns_lookups", config.options.limits.dns_terms)?;
    dict.set_item("max_void_lookups", config.options.limits.void_lookups)?;
    dict.set_item("trace", config.options.trace)?;
    dict.set_item("speculate", config.options.speculation.enabled)?;
    Ok(dict)
}

/// Called by the package's `atexit` hook.
#[pyfunction]
fn _at_exit() {
    EXITING.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Runs `f` with the GIL from a library thread, unless the interpreter is
/// exiting or gone (then `f` is dropped without touching Python: attaching
/// to a finalizing interpreter would panic, and no panic may reach Python,
/// at exit neither).
fn call_python(f: impl for<'py> FnOnce(Python<'py>)) {
    if EXITING.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let _ = Python::try_attach(f);
}

/// An in-memory zone, built record by record (for tests and offline use).
#[pyclass(module = "fastspf._native", name = "Zone")]
struct PyZone {
    zone: Option<Zone>,
    built: Option<Arc<Zone>>,
}

impl PyZone {
    fn zone(&mut self) -> PyResult<&mut Zone> {
        self.zone
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("this Zone is already in use by a Checker; make a new one"))
    }

    fn built(&self) -> PyResult<Arc<Zone>> {
        self.built.clone().ok_or_else(|| PyValueError::new_err("internal: zone not frozen"))
    }
}

#[pymethods]
impl PyZone {
    #[new]
    fn new() -> Self {
        PyZone { zone: Some(Zone::new()), built: None }
    }
    /// Adds one TXT record made of these strings (bytes or str).
    fn add_txt(&mut self, name: &str, strings: Vec<Vec<u8>>) -> PyResult<()> {
        self.zone()?.add_txt(name, strings);
        Ok(())
    }
    /// Adds an A record.
    fn add_a(&mut self, name: &str, address: &str) -> PyResult<()> {
        let ip = address
            .parse()
            .map_err(|_| PyValueError::new_err(format!("not an IPv4 address: {address:?}")))?;
        self.zone()?.add_a(name, ip);
        Ok(())
    }
    /// Adds an AAAA record.
    fn add_aaaa(&mut self, name: &str, address: &str) -> PyResult<()> {
        let ip = address
            .parse()
            .map_err(|_| PyValueError::new_err(format!("not an IPv6 address: {address:?}")))?;
        self.zone()?.add_aaaa(name, ip);
        Ok(())
    }
    /// Adds an MX record ("" or "." is a null MX).
    fn add_mx(&mut self, name: &str, preference: u16, exchange: &str) -> PyResult<()> {
        self.zone()?.add_mx(name, preference, exchange);
        Ok(())
    }
    /// Adds a PTR record.
    fn add_ptr(&mut self, name: &str, target: &str) -> PyResult<()> {
        self.zone()?.add_ptr(name, target);
        Ok(())
    }
    /// Makes `alias` a CNAME of `target`.
    fn add_cname(&mut self, alias: &str, target: &str) -> PyResult<()> {
        self.zone()?.add_cname(alias, target);
        Ok(())
    }
    /// Makes lookups at `name` for types without records time out.
    fn add_timeout(&mut self, name: &str) -> PyResult<()> {
        self.zone()?.add_timeout(name);
        Ok(())
    }
    /// Makes `name` exist without records.
    fn add_name(&mut self, name: &str) -> PyResult<()> {
        self.zone()?.add_name(name);
        Ok(())
    }
    /// Freezes the zone for use by checkers (done by `Checker(zone=...)`).
    fn freeze(&mut self) {
        if let Some(zone) = self.zone.take() {
            self.built = Some(Arc::new(zone));
        }
    }
}

/// One term of a parsed record.
#[pyclass(frozen, module = "fastspf._native", name = "Term")]
struct PyTerm {
    #[pyo3(get)]
    kind: &'static str,
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    qualifier: Option<String>,
    #[pyo3(get)]
    value: Option<String>,
    #[pyo3(get)]
    offset: usize,
    #[pyo3(get)]
    text: String,
}

#[pymethods]
impl PyTerm {
    fn __repr__(&self) -> String {
        format!("<fastspf.Term {:?} at {}>", self.text, self.offset)
    }
}

fn term_value(term: &Term) -> Option<String> {
    let text = term.to_string();
    let name_end = text
        .find([':', '=', '/'])
        .filter(|_| !matches!(term, Term::Directive(d) if matches!(d.mechanism, Mechanism::All)))?;
    let rest = &text[name_end..];
    Some(rest.strip_prefix([':', '=']).unwrap_or(rest).to_string())
}

/// Parses a record: a list of terms, or `fastspf.RecordError`.
#[pyfunction]
fn parse(py: Python<'_>, record: &str) -> PyResult<Py<PyList>> {
    let parsed = Record::parse(record).map_err(|e| {
        match base_class(py, &RECORD_ERROR, "RecordError")
            .and_then(|c| c.call1((e.to_string(), e.offset, e.term.clone())))
        {
            Ok(instance) => PyErr::from_value(instance),
            Err(err) => err,
        }
    })?;
    let list = PyList::empty(py);
    for (term, span) in parsed.terms_with_spans() {
        let (kind, name, qualifier) = match term {
            Term::Directive(d) => {
                ("mechanism", d.mechanism.name().to_string(), Some(d.qualifier.as_char().to_string()))
            }
            Term::Modifier(Modifier::Redirect(_)) => ("modifier", "redirect".to_string(), None),
            Term::Modifier(Modifier::Exp(_)) => ("modifier", "exp".to_string(), None),
            Term::Modifier(Modifier::Unknown { name, .. }) => ("modifier", name.to_string(), None),
        };
        let text = record.get(span.offset..span.offset + span.len).unwrap_or_default().to_string();
        list.append(PyTerm { kind, name, qualifier, value: term_value(term), offset: span.offset, text })?;
    }
    Ok(list.unbind())
}

static SEVERITY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// One lint finding.
#[pyclass(frozen, module = "fastspf._native", name = "Diagnostic")]
struct PyDiagnostic {
    diagnostic: Diagnostic,
}

#[pymethods]
impl PyDiagnostic {
    /// `fastspf.Severity` (a `str` enum: `Severity.ERROR == "error"`).
    #[getter]
    fn severity<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        base_class(py, &SEVERITY, "Severity")?.call1((self.diagnostic.severity.as_str(),))
    }
    /// The stable code, e.g. `"plus-all"`.
    #[getter]
    fn code(&self) -> &'static str {
        self.diagnostic.code
    }
    /// What is wrong and what to do.
    #[getter]
    fn message(&self) -> &str {
        &self.diagnostic.message
    }
    /// The domain whose record it is about ("" for a record linted without one).
    #[getter]
    fn domain(&self) -> &str {
        &self.diagnostic.domain
    }
    /// The term it refers to, as written, or None.
    #[getter]
    fn term(&self) -> Option<&str> {
        self.diagnostic.term.as_deref()
    }
    /// The term's byte offset in the record, or None.
    #[getter]
    fn offset(&self) -> Option<usize> {
        self.diagnostic.offset
    }
    fn __repr__(&self) -> String {
        let d = &self.diagnostic;
        let mut text = format!("<fastspf.Diagnostic {} {}", d.severity, d.code);
        if let (Some(term), Some(offset)) = (&d.term, d.offset) {
            text.push_str(&format!(" {term:?} at {offset}"));
        }
        text.push('>');
        text
    }
}

/// Everything a lint found out.
#[pyclass(frozen, module = "fastspf._native", name = "LintReport")]
struct PyLintReport {
    report: LintReport,
}

/// Plain data through JSON (`serde_json::to_string` of it): dicts and lists.
fn to_python<'py>(py: Python<'py>, json: serde_json::Result<String>) -> PyResult<Bound<'py, PyAny>> {
    let json = json.map_err(|e| library_error(py, e.to_string()))?;
    py.import("json")?.call_method1("loads", (json,))
}

/// An address space as `{"ipv4": {"count": int, "fraction": float, "cidrs": [...], "cidrs_complete": bool}, "ipv6": ...}`
/// (`cidrs` lists at most the first 1,024 blocks; `cidrs_complete` says whether that is all).
fn address_space<'py>(py: Python<'py>, space: &AddressSpace) -> PyResult<Bound<'py, PyDict>> {
    let int = py.import("builtins")?.getattr("int")?;
    let dict = PyDict::new(py);
    for (key, family) in [("ipv4", &space.ipv4), ("ipv6", &space.ipv6)] {
        let inner = PyDict::new(py);
        // Python ints are exact for the whole IPv6 space (2^128).
        inner.set_item("count", int.call1((family.count.to_string(),))?)?;
        inner.set_item("fraction", family.fraction)?;
        inner.set_item("cidrs", family.cidrs.clone())?;
        inner.set_item("cidrs_complete", family.cidrs_complete)?;
        dict.set_item(key, inner)?;
    }
    Ok(dict)
}

#[pymethods]
impl PyLintReport {
    /// The domain linted, or None.
    #[getter]
    fn domain(&self) -> Option<&str> {
        self.report.domain.as_deref()
    }
    /// The record linted (the draft, or the published SPF record), or None.
    #[getter]
    fn record(&self) -> Option<&str> {
        self.report.record.as_deref()
    }
    /// Whether the record is a draft.
    #[getter]
    fn draft(&self) -> bool {
        self.report.draft
    }
    /// True when no diagnostic is an error.
    #[getter]
    fn ok(&self) -> bool {
        !self.report.has_errors()
    }
    /// The findings, errors first.
    #[getter]
    fn diagnostics(&self) -> Vec<PyDiagnostic> {
        self.report.diagnostics.iter().map(|d| PyDiagnostic { diagnostic: d.clone() }).collect()
    }
    /// What surely passes: `{"ipv4": {"count", "fraction", "cidrs"}, "ipv6": {...}}`.
    #[getter]
    fn authorized<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        address_space(py, &self.report.authorized)
    }
    /// What may pass, depending on client-dependent terms.
    #[getter]
    fn possibly_authorized<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        address_space(py, &self.report.possibly_authorized)
    }
    /// Terms whose outcome depends on the client: dicts of domain, term, offset, why.
    #[getter]
    fn client_dependent_terms<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.report.client_dependent_terms))
    }
    /// DNS-querying terms over the whole include tree (RFC 7208 4.6.4 allows 10).
    #[getter]
    fn dns_lookups(&self) -> u32 {
        self.report.dns_lookup_terms
    }
    /// Void lookups over the tree (RFC 7208 4.6.4 allows 2).
    #[getter]
    fn void_lookups(&self) -> u32 {
        self.report.void_lookups
    }
    /// The records followed: dicts of depth, via, domain, record.
    #[getter]
    fn tree<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.report.tree))
    }
    /// Addresses checked: dicts of ip, role, host, authorized, result, matched, reason.
    #[getter]
    fn checks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.report.checks))
    }
    /// False when lint could not follow everything.
    #[getter]
    fn complete(&self) -> bool {
        self.report.complete
    }
    /// Whether the record authorizes `ip`: True, False, or None when it
    /// depends on client-dependent terms.
    fn authorizes(&self, ip: &str) -> PyResult<Option<bool>> {
        Ok(match self.report.authorizes(parse_ip(ip)?) {
            Authorized::Yes => Some(true),
            Authorized::No => Some(false),
            Authorized::Depends => None,
        })
    }
    /// The whole report as a JSON object (counts as decimal strings).
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        serde_json::to_string(&self.report).map_err(|e| library_error(py, e.to_string()))
    }
    fn __repr__(&self) -> String {
        format!(
            "<fastspf.LintReport {} errors={} warnings={} notes={}>",
            self.report.domain.as_deref().unwrap_or("(record)"),
            self.report.count(Severity::Error),
            self.report.count(Severity::Warning),
            self.report.count(Severity::Info)
        )
    }
}

/// Lints a domain's record, or a record text (as if published at `domain`
/// when given), with the GIL released.
#[pyfunction]
#[pyo3(signature = (domain=None, *, record=None, zone_files=None, zone=None, nameservers=None, timeout=None,
                    attempts=None, deadline=30.0, ips=None, self_test=None, max_dns_lookups=None,
                    max_void_lookups=None, check_mail_hosts=true))]
#[allow(clippy::too_many_arguments)]
fn lint(
    py: Python<'_>,
    domain: Option<String>,
    record: Option<String>,
    zone_files: Option<Vec<String>>,
    zone: Option<PyRef<'_, PyZone>>,
    nameservers: Option<Vec<String>>,
    timeout: Option<f64>,
    attempts: Option<usize>,
    deadline: f64,
    ips: Option<Vec<String>>,
    self_test: Option<Vec<String>>,
    max_dns_lookups: Option<u32>,
    max_void_lookups: Option<u32>,
    check_mail_hosts: bool,
) -> PyResult<PyLintReport> {
    let request = lint_request(domain, record, ips, self_test)?;
    let mut config = checker_config(
        py,
        zone,
        zone_files,
        nameservers,
        timeout,
        attempts,
        None,
        max_dns_lookups,
        max_void_lookups,
    )?;
    config.options.speculation = Speculation::OFF;
    let mut options = LintOptions::default();
    options.limits = config.options.limits;
    options.deadline = Some(seconds("deadline", deadline)?);
    options.check_mail_hosts = check_mail_hosts;
    let checker = py.detach(|| Checker::new(config)).map_err(|e| core_error(py, e))?;
    let report = py.detach(|| checker.lint_blocking(&request, &options));
    Ok(PyLintReport { report })
}

/// What to lint, from `lint()`'s arguments.
fn lint_request(
    domain: Option<String>,
    record: Option<String>,
    ips: Option<Vec<String>>,
    self_test: Option<Vec<String>>,
) -> PyResult<LintRequest> {
    let mut request = match (record, domain) {
        (Some(record), domain) => LintRequest::record(record, domain),
        (None, Some(domain)) => LintRequest::domain(domain),
        (None, None) => return Err(PyValueError::new_err("lint needs a domain, a record, or both")),
    };
    let addresses = |list: Option<Vec<String>>| {
        list.unwrap_or_default().iter().map(|ip| parse_ip(ip)).collect::<PyResult<Vec<_>>>()
    };
    request.ips = addresses(ips)?;
    request.self_test = addresses(self_test)?;
    Ok(request)
}

/// The native module.
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyChecker>()?;
    m.add_class::<PyEvaluation>()?;
    m.add_class::<PyZone>()?;
    m.add_class::<PyTerm>()?;
    m.add_class::<PyDiagnostic>()?;
    m.add_class::<PyLintReport>()?;
    m.add_class::<PyPendingCheck>()?;
    m.add_function(wrap_pyfunction!(_at_exit, m)?)?;
    m.add_function(wrap_pyfunction!(defaults, m)?)?;
    m.add_function(wrap_pyfunction!(parse, m)?)?;
    m.add_function(wrap_pyfunction!(lint, m)?)?;
    Ok(())
}
