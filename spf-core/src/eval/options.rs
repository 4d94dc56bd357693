//! The options of an evaluation, and their defaults (the only place they
//! are written: the checker, the C ABI, Python and the command line start
//! from these).

use std::time::Duration;

use super::{Limits, Speculation};
use crate::macros::{MacroContext, MacroString};

/// Options for evaluation. Start from [`CheckOptions::default`] and change
/// what you need (new options may be added).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CheckOptions {
    /// Processing limits (§4.6.4). Default: the RFC's.
    pub limits: Limits,
    /// The checking host's domain: the `%{r}` macro and Received-SPF's
    /// `receiver=`. Default none (`%{r}` expands to `unknown`).
    pub receiver: Option<String>,
    /// The explanation used on `fail` when no `exp=` applies (§6.2).
    pub default_explanation: MacroString,
    /// Record a trace of every step ([`Evaluation::trace`](super::Evaluation::trace)): how an
    /// admin sees why a check gave its result. Default off, in Rust, C,
    /// Python and the CLI (`--trace`): a traced check runs the evaluator,
    /// never a compiled policy, so a warm check is several times slower
    /// (recording itself costs little: see [`Trace`](super::Trace)); the
    /// result, its reason, the deciding term and domain and the lookup
    /// counts are there without it.
    pub trace: bool,
    /// Fixed value for the `%{t}` macro; default the current time.
    pub timestamp: Option<u64>,
    /// Speculative lookups for records that had to be fetched. Default on.
    pub speculation: Speculation,
    /// The most time one check may take; then it ends in `temperror`
    /// ([`Reason::Deadline`](super::Reason::Deadline)) with what it did so far. Default 20 s (RFC
    /// 7208 §4.6.4: "at least 20 seconds"); `None`: no deadline (each
    /// lookup is still bounded by the resolver's timeout and attempts). The
    /// evaluation looks at it before every lookup and abandons a lookup
    /// still waiting then, so a check ends within it plus a few
    /// milliseconds whatever it was doing. A lookup that has to wait needs
    /// a tokio runtime with its time driver.
    pub deadline: Option<Duration>,
    /// From how much passed address space a `pass` is flagged as coming
    /// from a wide-open policy ([`Evaluation::wide_open`](super::Evaluation::wide_open)). Default the
    /// lint's threshold ([`WideOpenThreshold::default`]).
    pub wide_open: WideOpenThreshold,
}

/// Where a policy counts as wide open: it passes at least this many IPv4
/// addresses, or at least this many IPv6 /64s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WideOpenThreshold {
    /// IPv4 addresses. Default 2^24 (a /8).
    pub ipv4_addresses: u64,
    /// IPv6 /64 networks. Default 2^48 (a /16, 1/65536 of the space).
    pub ipv6_64s: u128,
}

impl Default for WideOpenThreshold {
    fn default() -> Self {
        WideOpenThreshold { ipv4_addresses: 1 << 24, ipv6_64s: 1 << 48 }
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            limits: Limits::default(),
            receiver: None,
            default_explanation: default_explanation(),
            trace: false,
            timestamp: None,
            speculation: Speculation::default(),
            deadline: Some(Duration::from_secs(20)),
            wide_open: WideOpenThreshold::default(),
        }
    }
}

impl CheckOptions {
    /// These processing limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// This receiver name (`%{r}`, Received-SPF's `receiver=`).
    pub fn with_receiver(mut self, receiver: impl Into<String>) -> Self {
        self.receiver = Some(receiver.into());
        self
    }

    /// This explanation on `fail` when no `exp=` applies.
    pub fn with_default_explanation(mut self, explanation: MacroString) -> Self {
        self.default_explanation = explanation;
        self
    }

    /// A trace of every step, or none.
    pub fn with_trace(mut self, trace: bool) -> Self {
        self.trace = trace;
        self
    }

    /// A fixed `%{t}`.
    pub fn with_timestamp(mut self, timestamp: u64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// This much speculation.
    pub fn with_speculation(mut self, speculation: Speculation) -> Self {
        self.speculation = speculation;
        self
    }

    /// This deadline per check (`None`: none).
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }
}

/// The default explanation: `%{d} does not designate %{c} as permitted sender`.
pub fn default_explanation() -> MacroString {
    MacroString::parse(b"%{d} does not designate %{c} as a permitted sender", MacroContext::Explanation)
        .unwrap_or_default()
}
