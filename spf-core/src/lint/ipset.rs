//! Sets of IP addresses: sorted, disjoint, non-adjacent inclusive ranges,
//! with union, intersection, difference, exact counts and the shortest list
//! of CIDR blocks that covers a set exactly.
//!
//! Both families are kept as `u128` ranges with a width (32 or 128 bits),
//! so one implementation serves IPv4 and IPv6.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4: 2^32 addresses.
    Ipv4,
    /// IPv6: 2^128 addresses.
    Ipv6,
}

impl Family {
    /// Both families, IPv4 first.
    pub const BOTH: [Family; 2] = [Family::Ipv4, Family::Ipv6];

    /// Address width in bits.
    pub fn bits(self) -> u32 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }

    /// `IPv4` or `IPv6`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
}

/// Ranges of one family. Invariant: sorted by start, disjoint, and no two
/// ranges adjacent (they would have been merged), every bound below 2^width.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ranges {
    family: Family,
    ranges: Vec<(u128, u128)>,
}

impl Ranges {
    pub(crate) fn empty(family: Family) -> Ranges {
        Ranges { family, ranges: Vec::new() }
    }

    pub(crate) fn full(family: Family) -> Ranges {
        Ranges { family, ranges: vec![(0, max_of(family))] }
    }

    /// The block `addr/prefix` (host bits ignored; a prefix beyond the width
    /// is the width).
    pub(crate) fn network(family: Family, addr: u128, prefix: u8) -> Ranges {
        let (lo, hi) = block(family, addr, prefix);
        Ranges { family, ranges: vec![(lo, hi)] }
    }

    pub(crate) fn family(&self) -> Family {
        self.family
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn is_full(&self) -> bool {
        self.ranges == [(0, max_of(self.family))]
    }

    pub(crate) fn contains(&self, value: u128) -> bool {
        // The last range starting at or before `value`.
        let at = self.ranges.partition_point(|&(lo, _)| lo <= value);
        at > 0 && self.ranges[at - 1].1 >= value
    }

    /// Adds `other` to this set in place.
    pub(crate) fn add(&mut self, other: &Ranges) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            self.ranges.clone_from(&other.ranges);
            return;
        }
        *self = self.union(other);
    }

    pub(crate) fn union(&self, other: &Ranges) -> Ranges {
        let mut all: Vec<(u128, u128)> = Vec::with_capacity(self.ranges.len() + other.ranges.len());
        let (mut i, mut j) = (0, 0);
        while i < self.ranges.len() || j < other.ranges.len() {
            let take_left =
                j >= other.ranges.len() || (i < self.ranges.len() && self.ranges[i].0 <= other.ranges[j].0);
            let next = if take_left {
                i += 1;
                self.ranges[i - 1]
            } else {
                j += 1;
                other.ranges[j - 1]
            };
            push_merged(&mut all, next);
        }
        Ranges { family: self.family, ranges: all }
    }

    pub(crate) fn intersection(&self, other: &Ranges) -> Ranges {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a_lo, a_hi) = self.ranges[i];
            let (b_lo, b_hi) = other.ranges[j];
            let lo = a_lo.max(b_lo);
            let hi = a_hi.min(b_hi);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a_hi < b_hi {
                i += 1;
            } else {
                j += 1;
            }
        }
        Ranges { family: self.family, ranges: out }
    }

    /// The addresses of the family that are not in the set.
    pub(crate) fn complement(&self) -> Ranges {
        let max = max_of(self.family);
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        let mut next: Option<u128> = Some(0);
        for &(lo, hi) in &self.ranges {
            if let Some(start) = next
                && start < lo
            {
                out.push((start, lo - 1));
            }
            next = hi.checked_add(1).filter(|&n| n <= max);
        }
        if let Some(start) = next {
            out.push((start, max));
        }
        Ranges { family: self.family, ranges: out }
    }

    pub(crate) fn difference(&self, other: &Ranges) -> Ranges {
        if self.is_empty() || other.is_empty() {
            return self.clone();
        }
        self.intersection(&other.complement())
    }

    /// How many addresses.
    pub(crate) fn count(&self) -> AddressCount {
        let mut total: u128 = 0;
        for &(lo, hi) in &self.ranges {
            // hi - lo + 1 overflows only for the whole IPv6 space.
            let Some(size) = (hi - lo).checked_add(1) else {
                return AddressCount(None);
            };
            let Some(sum) = total.checked_add(size) else {
                return AddressCount(None);
            };
            total = sum;
        }
        AddressCount(Some(total))
    }

    /// The share of the family's address space, 0.0 to 1.0.
    pub(crate) fn fraction(&self) -> f64 {
        let space = 2f64.powi(self.family.bits() as i32);
        self.ranges.iter().map(|&(lo, hi)| ((hi - lo) as f64 + 1.0) / space).sum::<f64>().min(1.0)
    }

    /// The fewest CIDR blocks whose union is exactly this set, in order.
    #[cfg(test)]
    pub(crate) fn cidr_blocks(&self) -> Vec<(u128, u8)> {
        self.cidr_blocks_up_to(usize::MAX).0
    }

    /// The first `max` of [`Ranges::cidr_blocks`], and whether that is all
    /// of them. Stops at `max`: a set of `n` ranges has up to 2 × 128 × `n`.
    fn cidr_blocks_up_to(&self, max: usize) -> (Vec<(u128, u8)>, bool) {
        let width = self.family.bits();
        let mut out = Vec::new();
        for &(lo, hi) in &self.ranges {
            let mut start = lo;
            loop {
                if out.len() == max {
                    return (out, false);
                }
                // The largest block aligned at `start` that ends by `hi`.
                let align = start.trailing_zeros().min(width);
                let span = hi - start; // block size - 1 must not exceed this
                let fits = if span == u128::MAX { 128 } else { 127 - (span + 1).leading_zeros() };
                let bits = align.min(fits);
                out.push((start, (width - bits) as u8));
                let size_minus_1 = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
                match start.checked_add(size_minus_1).and_then(|end| end.checked_add(1)) {
                    Some(next) if next <= hi => start = next,
                    _ => break,
                }
            }
        }
        (out, true)
    }

    /// The CIDR blocks as text (`192.0.2.0/24`, `2001:db8::/32`).
    pub(crate) fn cidrs(&self) -> Vec<String> {
        self.cidrs_up_to(usize::MAX).0
    }

    /// The first `max` CIDR blocks as text, and whether that is all of them.
    pub(crate) fn cidrs_up_to(&self, max: usize) -> (Vec<String>, bool) {
        let (blocks, complete) = self.cidr_blocks_up_to(max);
        let text =
            blocks.into_iter().map(|(addr, len)| format!("{}/{len}", show(self.family, addr))).collect();
        (text, complete)
    }

    /// The ranges, each `(first, last)`, in order.
    pub(crate) fn ranges(&self) -> &[(u128, u128)] {
        &self.ranges
    }

    /// A set from ranges that already keep the invariant (sorted, disjoint,
    /// not adjacent, within the family).
    pub(crate) fn from_sorted(family: Family, ranges: Vec<(u128, u128)>) -> Ranges {
        debug_assert!(ranges.iter().all(|&(lo, hi)| lo <= hi && hi <= max_of(family)));
        debug_assert!(ranges.windows(2).all(|w| w[0].1.checked_add(1).is_some_and(|end| end < w[1].0)));
        Ranges { family, ranges }
    }

    /// The union of any ranges (each `(first, last)` within the family), in
    /// O(n log n).
    pub(crate) fn from_unsorted(family: Family, mut ranges: Vec<(u128, u128)>) -> Ranges {
        ranges.sort_unstable();
        let mut merged = Vec::with_capacity(ranges.len());
        for range in ranges {
            push_merged(&mut merged, range);
        }
        Ranges::from_sorted(family, merged)
    }
}

fn push_merged(all: &mut Vec<(u128, u128)>, (lo, hi): (u128, u128)) {
    if let Some(last) = all.last_mut() {
        // Overlapping or adjacent: extend.
        if last.1 == u128::MAX || lo <= last.1 + 1 {
            last.1 = last.1.max(hi);
            return;
        }
    }
    all.push((lo, hi));
}

fn max_of(family: Family) -> u128 {
    match family {
        Family::Ipv4 => u128::from(u32::MAX),
        Family::Ipv6 => u128::MAX,
    }
}

/// First and last address of `addr/prefix`.
pub(crate) fn block(family: Family, addr: u128, prefix: u8) -> (u128, u128) {
    crate::input::cidr_block(family.bits(), addr, prefix)
}

/// An address of the family as text.
pub(crate) fn show(family: Family, addr: u128) -> String {
    match family {
        Family::Ipv4 => Ipv4Addr::from(addr as u32).to_string(),
        Family::Ipv6 => Ipv6Addr::from(addr).to_string(),
    }
}

/// An address as a family and a number. IPv4-mapped IPv6 addresses are
/// IPv4 (RFC 7208 §5: they "MUST be treated as IPv4").
pub(crate) fn split(ip: IpAddr) -> (Family, u128) {
    match crate::normalize_ip(ip) {
        IpAddr::V4(v4) => (Family::Ipv4, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (Family::Ipv6, u128::from(v6)),
    }
}

/// A number of addresses, exact. The whole IPv6 space (2^128) is one more
/// than `u128` holds: [`AddressCount::get`] gives `None` for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddressCount(Option<u128>);

impl AddressCount {
    /// The count, or `None` when it is 2^128 (the whole IPv6 space).
    pub fn get(self) -> Option<u128> {
        self.0
    }

    /// The count as a float (exact up to 2^53).
    pub fn as_f64(self) -> f64 {
        self.0.map_or(2f64.powi(128), |n| n as f64)
    }
}

impl fmt::Display for AddressCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("340282366920938463463374607431768211456"),
        }
    }
}

/// Serialized as a decimal string: IPv6 counts exceed what JSON numbers
/// carry exactly.
impl serde::Serialize for AddressCount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A set of IPv4 and IPv6 addresses.
///
/// ```
/// use spf_core::lint::{Family, IpSet};
///
/// let a = IpSet::from_network("192.0.2.0".parse()?, 25);
/// let b = IpSet::from_network("192.0.2.64".parse()?, 26);
/// let both = a.union(&b);
/// assert_eq!(both.count(Family::Ipv4).get(), Some(128));
/// assert_eq!(both.cidrs(Family::Ipv4), ["192.0.2.0/25"]);
/// assert!(both.contains("192.0.2.100".parse()?));
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpSet {
    v4: Ranges,
    v6: Ranges,
}

impl Default for IpSet {
    fn default() -> Self {
        IpSet::new()
    }
}

impl IpSet {
    /// The empty set.
    pub fn new() -> IpSet {
        IpSet { v4: Ranges::empty(Family::Ipv4), v6: Ranges::empty(Family::Ipv6) }
    }

    /// Every IPv4 and IPv6 address.
    pub fn all() -> IpSet {
        IpSet { v4: Ranges::full(Family::Ipv4), v6: Ranges::full(Family::Ipv6) }
    }

    /// The block `addr/prefix`; host bits are ignored, a prefix longer than
    /// the address is the whole address.
    pub fn from_network(addr: IpAddr, prefix: u8) -> IpSet {
        let mut set = IpSet::new();
        match addr {
            IpAddr::V4(v4) => set.v4 = Ranges::network(Family::Ipv4, u128::from(u32::from(v4)), prefix),
            IpAddr::V6(v6) => set.v6 = Ranges::network(Family::Ipv6, u128::from(v6), prefix),
        }
        set
    }

    pub(crate) fn from_parts(v4: Ranges, v6: Ranges) -> IpSet {
        debug_assert!(v4.family() == Family::Ipv4 && v6.family() == Family::Ipv6);
        IpSet { v4, v6 }
    }

    pub(crate) fn part(&self, family: Family) -> &Ranges {
        match family {
            Family::Ipv4 => &self.v4,
            Family::Ipv6 => &self.v6,
        }
    }

    /// Whether the set holds `ip` (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (family, value) = split(ip);
        self.part(family).contains(value)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Addresses in either set.
    pub fn union(&self, other: &IpSet) -> IpSet {
        IpSet { v4: self.v4.union(&other.v4), v6: self.v6.union(&other.v6) }
    }

    /// Addresses in both sets.
    pub fn intersection(&self, other: &IpSet) -> IpSet {
        IpSet { v4: self.v4.intersection(&other.v4), v6: self.v6.intersection(&other.v6) }
    }

    /// Addresses in this set and not in `other`.
    pub fn difference(&self, other: &IpSet) -> IpSet {
        IpSet { v4: self.v4.difference(&other.v4), v6: self.v6.difference(&other.v6) }
    }

    /// How many addresses of the family the set holds.
    pub fn count(&self, family: Family) -> AddressCount {
        self.part(family).count()
    }

    /// The share of the family's address space the set holds, 0.0 to 1.0.
    pub fn fraction(&self, family: Family) -> f64 {
        self.part(family).fraction()
    }

    /// The fewest CIDR blocks that make up the set's addresses of the family,
    /// in order: up to 2 × 128 per range of addresses (a report lists at
    /// most [`MAX_LISTED_CIDRS`](super::MAX_LISTED_CIDRS)).
    pub fn cidrs(&self, family: Family) -> Vec<String> {
        self.part(family).cidrs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> u128 {
        u128::from(u32::from(text.parse::<Ipv4Addr>().expect("ipv4")))
    }

    fn net4(text: &str, prefix: u8) -> Ranges {
        Ranges::network(Family::Ipv4, v4(text), prefix)
    }

    #[test]
    fn union_merges_overlapping_and_adjacent() {
        let a = net4("192.0.2.0", 25).union(&net4("192.0.2.128", 25));
        assert_eq!(a.cidrs(), ["192.0.2.0/24"]);
        assert_eq!(a.count().get(), Some(256));
        let b = a.union(&net4("192.0.2.7", 32));
        assert_eq!(b, a, "a contained address adds nothing");
        let c = a.union(&net4("198.51.100.0", 24));
        assert_eq!(c.ranges().len(), 2);
        assert_eq!(c.count().get(), Some(512));
    }

    #[test]
    fn difference_and_complement() {
        let all = Ranges::full(Family::Ipv4);
        let hole = all.difference(&net4("0.0.0.0", 1));
        assert_eq!(hole.cidrs(), ["128.0.0.0/1"]);
        let punched = net4("192.0.2.0", 24).difference(&net4("192.0.2.5", 32));
        assert_eq!(punched.count().get(), Some(255));
        assert_eq!(
            punched.cidrs(),
            [
                "192.0.2.0/30",
                "192.0.2.4/32",
                "192.0.2.6/31",
                "192.0.2.8/29",
                "192.0.2.16/28",
                "192.0.2.32/27",
                "192.0.2.64/26",
                "192.0.2.128/25"
            ]
        );
        assert!(Ranges::empty(Family::Ipv6).complement().is_full());
        assert!(Ranges::full(Family::Ipv6).complement().is_empty());
    }

    #[test]
    fn whole_spaces() {
        let all6 = Ranges::full(Family::Ipv6);
        assert_eq!(all6.count().get(), None);
        assert_eq!(all6.count().to_string(), "340282366920938463463374607431768211456");
        assert_eq!(all6.fraction(), 1.0);
        assert_eq!(all6.cidrs(), ["::/0"]);
        let all4 = Ranges::full(Family::Ipv4);
        assert_eq!(all4.count().get(), Some(1 << 32));
        assert_eq!(all4.cidrs(), ["0.0.0.0/0"]);
        let top = Ranges::network(Family::Ipv6, u128::MAX, 128);
        assert_eq!(top.cidrs(), ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"]);
        assert_eq!(top.complement().count().get(), Some(u128::MAX));
    }

    #[test]
    fn host_bits_are_ignored_and_contains_works() {
        let n = net4("192.0.2.1", 24);
        assert_eq!(n.cidrs(), ["192.0.2.0/24"]);
        assert!(n.contains(v4("192.0.2.255")) && n.contains(v4("192.0.2.0")));
        assert!(!n.contains(v4("192.0.3.0")) && !n.contains(v4("192.0.1.255")));
        assert_eq!(net4("10.0.0.0", 40).count().get(), Some(1), "prefix clamped to 32");
    }

    #[test]
    fn intersection() {
        let a = net4("10.0.0.0", 8);
        let b = net4("10.1.0.0", 16).union(&net4("11.0.0.0", 8));
        assert_eq!(a.intersection(&b).cidrs(), ["10.1.0.0/16"]);
        assert!(net4("10.0.0.0", 8).intersection(&net4("11.0.0.0", 8)).is_empty());
    }

    #[test]
    fn cidr_listing_stops_at_its_bound() {
        // 192.0.2.3 - 192.0.2.9 is 3 blocks.
        let r = Ranges { family: Family::Ipv4, ranges: vec![(v4("192.0.2.3"), v4("192.0.2.9"))] };
        assert_eq!(r.cidrs_up_to(3), (r.cidrs(), true), "at the bound: all");
        assert_eq!(r.cidrs_up_to(2), (vec!["192.0.2.3/32".to_string(), "192.0.2.4/30".to_string()], false));
        assert_eq!(r.cidrs_up_to(0), (vec![], false));
        assert_eq!(Ranges::empty(Family::Ipv4).cidrs_up_to(0), (vec![], true));
    }

    #[test]
    fn cidr_cover_of_an_odd_range() {
        let r = Ranges { family: Family::Ipv4, ranges: vec![(v4("192.0.2.3"), v4("192.0.2.9"))] };
        assert_eq!(r.cidrs(), ["192.0.2.3/32", "192.0.2.4/30", "192.0.2.8/31"]);
        let total: u128 = r.cidr_blocks().iter().map(|&(_, len)| 1u128 << (32 - len)).sum();
        assert_eq!(Some(total), r.count().get());
    }
}
