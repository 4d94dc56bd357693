//! Where a checker's answers come from: real DNS or an in-memory zone.

use std::sync::Arc;

use super::{Lookup, LookupResult, QueryBudget, RecordType, Resolver, ResolverSettings, Zone};
use crate::Error;

/// Where a checker's DNS answers come from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DnsSource {
    /// Real DNS: recursive nameservers ([`Resolver`]).
    Resolver(ResolverSettings),
    /// An in-memory zone (offline: names not in it do not exist).
    Zone(Arc<Zone>),
}

impl Default for DnsSource {
    fn default() -> Self {
        DnsSource::Resolver(ResolverSettings::default())
    }
}

impl DnsSource {
    /// The lookup that answers from this source.
    pub(crate) fn backend(&self) -> Result<Backend, Error> {
        Ok(match self {
            DnsSource::Resolver(settings) => Backend::Resolver(Resolver::new(settings)?),
            DnsSource::Zone(zone) => Backend::Zone(Arc::clone(zone)),
        })
    }
}

/// The DNS behind a checker's cache.
#[derive(Debug)]
pub(crate) enum Backend {
    /// Recursive nameservers.
    Resolver(Resolver),
    /// An in-memory zone.
    Zone(Arc<Zone>),
}

impl Backend {
    /// The zone, for a backend that is one.
    pub(crate) fn zone(&self) -> Option<&Zone> {
        match self {
            Backend::Zone(zone) => Some(zone),
            Backend::Resolver(_) => None,
        }
    }
}

impl Lookup for Backend {
    fn upstream_latency(&self) -> Option<std::time::Duration> {
        match self {
            Backend::Resolver(r) => r.upstream_latency(),
            Backend::Zone(_) => None,
        }
    }

    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        match self {
            Backend::Resolver(r) => r.lookup(name, rtype).await,
            Backend::Zone(z) => z.lookup(name, rtype).await,
        }
    }

    async fn lookup_charged(&self, name: &str, rtype: RecordType, budget: &QueryBudget) -> LookupResult {
        match self {
            Backend::Resolver(r) => r.lookup_charged(name, rtype, budget).await,
            Backend::Zone(z) => z.lookup_charged(name, rtype, budget).await,
        }
    }
}
