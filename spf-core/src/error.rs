//! Errors for caller misuse and setup; SPF outcomes are values, not errors.

use std::sync::Arc;

/// Errors from misuse (an IP that is not an IP) or setup (a zone file that
/// cannot be read). SPF results, `permerror` and `temperror` included, are
/// never errors: they are [`crate::Evaluation`]s.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client IP string is not an IPv4 or IPv6 address.
    #[error("invalid IP address {0:?}")]
    InvalidIp(String),
    /// The sender address is not usable.
    #[error("invalid sender {0:?}: {1}")]
    InvalidSender(String, &'static str),
    /// A nameserver address that is not `IP` or `IP:PORT`.
    #[error("invalid nameserver {0:?}: expected IP or IP:PORT")]
    InvalidNameserver(String),
    /// The resolver could not be set up (e.g. no readable /etc/resolv.conf).
    #[error("cannot set up the DNS resolver: {0}")]
    Resolver(String),
    /// The checker's runtime could not be started.
    #[error("cannot start the checker's runtime: {0}")]
    Runtime(Arc<std::io::Error>),
    /// A zone file could not be read.
    #[error("cannot read zone file {path}: {source}")]
    ZoneIo {
        /// The file.
        path: String,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
    /// A zone file could not be parsed: `FILE:LINE: message`, as compilers say it.
    #[error("{path}:{line}: {message}")]
    ZoneSyntax {
        /// The file (or the name given to text parsed from memory).
        path: String,
        /// The 1-based line of the offending token.
        line: usize,
        /// What is wrong.
        message: String,
    },
}
