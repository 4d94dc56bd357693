//! # spf-core
//!
//! An RFC 7208 Sender Policy Framework library: a [`Checker`] that answers
//! "may this client send mail for this sender?" through real DNS (or an
//! in-memory zone), with a shared cache, the RFC's processing limits, a
//! deadline, and the headers to record the answer; a lint that says what a
//! record gets wrong; the record parser and macro expansion underneath.
//!
//! ```
//! use std::sync::Arc;
//! use spf_core::{Checker, CheckerConfig, SpfResult, dns::Zone};
//!
//! // Once per process (here over a zone; `CheckerConfig::default()` asks
//! // the system's resolvers).
//! let zone = Zone::from_master_str(
//!     "example.com. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n",
//!     "<doc>",
//! )?;
//! let checker = Checker::new(CheckerConfig::default().with_zone(Arc::new(zone)))?;
//! // Per message, from any thread (`checker.check(..).await` in async code):
//! let eval = checker.check_blocking("192.0.2.10".parse()?, "alice@example.com", "mail.example.com");
//! assert_eq!(eval.result, SpfResult::Pass);
//! println!("{}", spf_core::headers::received_spf(&eval, Some("mx.example.net")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For your own DNS, implement [`dns::Lookup`] and evaluate with an
//! [`Evaluator`].
//!
//! # Layout
//!
//! Dependencies point one way; a module never uses one to its right, not
//! even through a re-export:
//!
//! ```text
//! input, macros  <-  record  <-  dns  <-  eval  <-  headers, lint  <-  policy  <-  checker
//!                                                    eval  <-  compiled  <-  checker
//!                                                                  runtime  <-  checker
//! ```
//!
//! `input` reads a check's question once (client IP, domains, identities);
//! `macros` expands macro-strings within bounds; `record` parses records and
//! selects the SPF one among TXT records; `dns` is where answers come from
//! (the lookup trait, the resolver, the zone, the shared cache); `eval` is
//! check_host(); `headers` renders results; `lint` analyses records; `policy`
//! is local policy around a check; `compiled` stores compiled policies; `runtime` owns tokio; `checker` puts them
//! together. `scripts/module_deps.py` checks this direction in the test
//! command.
#![deny(missing_docs)]

mod checker;
pub mod compiled;
pub mod dns;
mod error;
pub mod eval;
pub mod headers;
mod input;
pub mod lint;
pub mod macros;
pub mod policy;
pub mod record;
mod runtime;

pub use checker::{CheckPanicked, Checker, CheckerConfig, DEADLINE_BACKSTOP, PendingCheck, WaitingCheck};
pub use dns::DnsSource;
pub use error::Error;
pub use eval::{CheckOptions, Evaluation, Evaluator, Limits, Reason, Speculation, SpfResult, VoidCounting};
pub use input::{CheckRequest, Identity, normalize_ip, parse_ip};
pub use record::{ParseError, Record};
