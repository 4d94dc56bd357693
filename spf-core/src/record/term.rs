//! The typed form of an SPF record (RFC 7208 §4.6.1, §12).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::macros::MacroString;

/// A directive's qualifier (RFC 7208 §4.6.2). Absent means `+`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Qualifier {
    /// `+`: the mechanism's match gives `pass`.
    Pass,
    /// `-`: `fail`.
    Fail,
    /// `~`: `softfail`.
    SoftFail,
    /// `?`: `neutral`.
    Neutral,
}

impl Qualifier {
    /// The qualifier character.
    pub fn as_char(self) -> char {
        match self {
            Qualifier::Pass => '+',
            Qualifier::Fail => '-',
            Qualifier::SoftFail => '~',
            Qualifier::Neutral => '?',
        }
    }
}

/// A `domain-spec`: a macro-string naming a domain. When it has no macros
/// the lower-cased name is precomputed so evaluation need not expand it.
#[derive(Clone, Debug)]
pub struct DomainSpec {
    pub(crate) spec: MacroString,
    pub(crate) literal: Option<Arc<str>>,
    /// Whether `literal` can be queried at all (checked once, at parse).
    pub(crate) literal_queryable: bool,
}

impl PartialEq for DomainSpec {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}
impl Eq for DomainSpec {}

impl DomainSpec {
    /// The macro-string as parsed.
    pub fn macro_string(&self) -> &MacroString {
        &self.spec
    }

    /// The domain, lower case and without a trailing dot, when the spec
    /// contains no macros.
    pub fn literal(&self) -> Option<&str> {
        self.literal.as_deref()
    }

    /// [`DomainSpec::literal`], shared, and whether it can be queried.
    pub(crate) fn literal_shared(&self) -> Option<(&Arc<str>, bool)> {
        self.literal.as_ref().map(|l| (l, self.literal_queryable))
    }
}

/// The optional CIDR lengths of `a` and `mx` (`/v4` and `//v6`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DualCidr {
    /// IPv4 prefix length, 0..=32; absent means 32.
    pub v4: Option<u8>,
    /// IPv6 prefix length, 0..=128; absent means 128.
    pub v6: Option<u8>,
}

/// A mechanism (RFC 7208 §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// `all` (§5.1).
    All,
    /// `include:<domain-spec>` (§5.2).
    Include(DomainSpec),
    /// `a[:<domain-spec>][cidr]` (§5.3).
    A {
        /// Target; absent means the current domain.
        domain: Option<DomainSpec>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `mx[:<domain-spec>][cidr]` (§5.4).
    Mx {
        /// Target; absent means the current domain.
        domain: Option<DomainSpec>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `ptr[:<domain-spec>]` (§5.5).
    Ptr(Option<DomainSpec>),
    /// `ip4:<network>[/<len>]` (§5.6).
    Ip4 {
        /// The address as written.
        addr: Ipv4Addr,
        /// Prefix length; absent means 32.
        prefix: Option<u8>,
    },
    /// `ip6:<network>[/<len>]` (§5.6).
    Ip6 {
        /// The address as written.
        addr: Ipv6Addr,
        /// Prefix length; absent means 128.
        prefix: Option<u8>,
    },
    /// `exists:<domain-spec>` (§5.7).
    Exists(DomainSpec),
}

impl Mechanism {
    /// The mechanism's name as written in records.
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::All => "all",
            Mechanism::Include(_) => "include",
            Mechanism::A { .. } => "a",
            Mechanism::Mx { .. } => "mx",
            Mechanism::Ptr(_) => "ptr",
            Mechanism::Ip4 { .. } => "ip4",
            Mechanism::Ip6 { .. } => "ip6",
            Mechanism::Exists(_) => "exists",
        }
    }

    /// Whether evaluating this mechanism queries DNS, and so counts toward
    /// the limit of 10 (RFC 7208 §4.6.4).
    pub fn queries_dns(&self) -> bool {
        !matches!(self, Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. })
    }
}

/// A directive: a qualifier and a mechanism.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    /// The qualifier (`+` when none was written).
    pub qualifier: Qualifier,
    /// The mechanism.
    pub mechanism: Mechanism,
}

/// A modifier (RFC 7208 §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modifier {
    /// `redirect=<domain-spec>` (§6.1).
    Redirect(DomainSpec),
    /// `exp=<domain-spec>` (§6.2).
    Exp(DomainSpec),
    /// Any other `name=value`; kept, and ignored by evaluation (§6).
    Unknown {
        /// The name, as written.
        name: Box<str>,
        /// The value.
        value: MacroString,
    },
}

/// One term of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// A directive.
    Directive(Directive),
    /// A modifier.
    Modifier(Modifier),
}

/// Where a term stands in the record text, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Span {
    /// Byte offset of the term's first byte.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}
