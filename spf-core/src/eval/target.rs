//! Where a term points and what it matches: the one expansion of a
//! domain-spec into a name to query (RFC 7208 §7.3), shared by evaluation,
//! speculation and lint; the address matching of `ip4`, `ip6`, `a` and `mx`
//! (§5.3, §5.4, §5.6); and how a record was reached ([`Via`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::input::{CheckRequest, cidr_block, valid_name};
use crate::macros::{ExpansionBudget, MacroVars};
use crate::record::{DomainSpec, Mechanism};

/// How check_host() for one domain was entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The checked domain itself.
    Check,
    /// An `include:` target (§5.2).
    Include,
    /// A `redirect=` target (§6.1).
    Redirect,
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Via {
    /// `check`, `include` or `redirect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Check => "check",
            Via::Include => "include",
            Via::Redirect => "redirect",
        }
    }
}

/// The macro values of `request` for the record of `domain` (§7.2):
/// `receiver` for `%{r}`, `validated_name` for `%{p}` (`unknown` when
/// there is none), `timestamp` for `%{t}` (only explanations use it).
pub(crate) fn macro_vars<'a>(
    request: &'a CheckRequest,
    domain: &'a str,
    receiver: &'a str,
    validated_name: Option<&'a str>,
    timestamp: u64,
) -> MacroVars<'a> {
    MacroVars {
        sender: request.sender(),
        local_part: request.local_part(),
        sender_domain: request.sender_domain(),
        domain,
        ip: request.ip(),
        helo: request.helo_name(),
        receiver,
        timestamp,
        validated_name: validated_name.unwrap_or("unknown"),
    }
}

/// Why a domain-spec gave no name to query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BadTarget {
    /// The expansion is no DNS name (an empty label, a label over 63 octets).
    Invalid(String),
    /// The check's expansion budget ran out ([`crate::macros::EXPANSION_BUDGET`]).
    OverBudget,
}

/// A domain-spec expanded into a name to query (§7.3: lower case, no
/// trailing dot, shortened to 253 octets from the left). Literal targets
/// were lower-cased and validated once, when the record was parsed.
pub(crate) fn expand_target(
    spec: &DomainSpec,
    vars: &MacroVars<'_>,
    budget: &mut ExpansionBudget,
) -> Result<Arc<str>, BadTarget> {
    if let Some((literal, queryable)) = spec.literal_shared() {
        return if queryable {
            Ok(Arc::clone(literal))
        } else {
            Err(BadTarget::Invalid(literal.to_string()))
        };
    }
    let name = spec.macro_string().expand_domain(vars, budget).ok_or(BadTarget::OverBudget)?;
    if valid_name(&name) { Ok(name.into()) } else { Err(BadTarget::Invalid(name)) }
}

/// Whether a mechanism that needs no DNS matches `ip` (§5.1, §5.6):
/// `Some(matched)` for `all`, `ip4` and `ip6` (an `ip4` never matches an
/// IPv6 client, nor `ip6` an IPv4 one); `None` for the DNS-querying ones.
pub(crate) fn static_match(mechanism: &Mechanism, ip: IpAddr) -> Option<bool> {
    match (mechanism, ip) {
        (Mechanism::All, _) => Some(true),
        (Mechanism::Ip4 { addr, prefix }, IpAddr::V4(ip)) => Some(in_v4(*addr, prefix.unwrap_or(32), ip)),
        (Mechanism::Ip6 { addr, prefix }, IpAddr::V6(ip)) => Some(in_v6(*addr, prefix.unwrap_or(128), ip)),
        (Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. }, _) => Some(false),
        _ => None,
    }
}

/// Whether `ip` is in `net`/`prefix` (§5.6).
pub(crate) fn in_v4(net: Ipv4Addr, prefix: u8, ip: Ipv4Addr) -> bool {
    let (lo, hi) = cidr_block(32, u32::from(net).into(), prefix);
    (lo..=hi).contains(&u32::from(ip).into())
}

/// Whether `ip` is in `net`/`prefix` (§5.6).
pub(crate) fn in_v6(net: Ipv6Addr, prefix: u8, ip: Ipv6Addr) -> bool {
    let (lo, hi) = cidr_block(128, net.into(), prefix);
    (lo..=hi).contains(&ip.into())
}
