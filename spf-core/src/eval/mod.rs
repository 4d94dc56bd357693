//! `check_host()` (RFC 7208 §4-§6): results, options, limits, the
//! evaluation loop, the mechanisms, the explanation, speculation, traces.
//!
//! Inside, `target` (expansion of domain-specs, address matching, `Via`) is
//! used by the evaluation (`check_host`, `mechanisms`, `explanation`) and by
//! `speculate`, which do not use each other's insides.

mod check_host;
mod explanation;
mod limits;
mod mechanisms;
mod options;
mod result;
mod speculate;
mod target;
mod trace;

pub(crate) use check_host::Deadline;
pub use check_host::Evaluator;
pub use limits::{Limits, VoidCounting};
pub use options::{CheckOptions, default_explanation};
pub use result::{Evaluation, LimitKind, Matched, Reason, SpfResult};
pub use speculate::Speculation;
pub use target::Via;
pub(crate) use target::{BadTarget, expand_target};
pub use trace::{QueryOutcome, TraceEvent};

pub use crate::input::Identity;
