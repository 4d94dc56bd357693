//! # spf-core
//!
//! An RFC 7208 Sender Policy Framework evaluator: record parser, macro
//! expansion, `check_host()`, DNS lookup trait with an in-memory zone, and
//! Received-SPF / Authentication-Results headers.
//!
//! ```
//! use spf_core::{dns::Zone, CheckOptions, Evaluator, SpfResult};
//!
//! let zone = Zone::from_master_str(
//!     "example.com. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n",
//!     "<doc>",
//! ).unwrap();
//! let evaluator = Evaluator::new(zone, CheckOptions::default());
//! let ip = "192.0.2.10".parse().unwrap();
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let eval = rt.block_on(evaluator.check_mail_from(ip, "alice@example.com", "mail.example.com"));
//! assert_eq!(eval.result, SpfResult::Pass);
//! ```
#![deny(missing_docs)]

mod checker;
pub mod dns;
mod error;
pub mod eval;
pub mod headers;
pub mod lint;
pub mod macros;
pub mod policy;
pub mod record;

pub use checker::{Backend, CheckPanicked, Checker, CheckerConfig, DnsSource, PendingCheck};
pub use error::{Error, normalize_ip, parse_ip};
pub use eval::{
    CheckOptions, Evaluation, Evaluator, Identity, Limits, Reason, Speculation, SpfResult, VoidCounting,
};
pub use record::{ParseError, Record};
