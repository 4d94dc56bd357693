//! Where a term points and what it matches: the one expansion of a
//! domain-spec into a name to query (RFC 7208 §7.3), shared by evaluation,
//! speculation and lint, and the address matching of `ip4`, `ip6`, `a` and
//! `mx` (§5.3, §5.4, §5.6).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::macros::{ExpansionBudget, MacroVars};
use crate::record::{DomainSpec, Mechanism};

/// Whether `name` (no trailing dot) can be queried at all: at most 253
/// octets in labels of 1 to 63 octets. DNS labels may hold any octet, so a
/// macro expansion with spaces or `%` is still queried.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
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
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
    u32::from(net) & mask == u32::from(ip) & mask
}

/// Whether `ip` is in `net`/`prefix` (§5.6).
pub(crate) fn in_v6(net: Ipv6Addr, prefix: u8, ip: Ipv6Addr) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0);
    u128::from(net) & mask == u128::from(ip) & mask
}
