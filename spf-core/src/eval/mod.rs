//! `check_host()` (RFC 7208 §4-§6): results, options, limits, the
//! evaluation loop, the mechanisms, the explanation, speculation, traces.
//!
//! Inside, `target` (expansion of domain-specs, address matching, `Via`) is
//! used by the evaluation and by `speculate`, which do not use each other.
//! The evaluation is the state of one check (`Run`, in `check_host`, with
//! the frame loop of §4) and its methods for the mechanisms of §5
//! (`mechanisms`) and the explanation of §6.2 (`explanation`), which build
//! on `check_host` and are called as its methods.

mod check_host;
mod compile;
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
pub use compile::{CompiledAnswer, CompiledPolicy, MAX_COMPILE_EVALUATIONS};
pub use limits::{Limits, VoidCounting};
pub use options::{CheckOptions, WideOpenThreshold, default_explanation};
pub use result::{
    AuthorizedSpace, Evaluation, Exemption, LimitKind, Matched, PolicyNote, Reason, SpfResult, WideOpen,
};
pub use speculate::Speculation;
pub use target::Via;
pub(crate) use target::{BadTarget, expand_target};
pub use trace::{Events, MAX_EVENTS, QueryOutcome, Trace, TraceEvent};

pub use crate::input::Identity;
