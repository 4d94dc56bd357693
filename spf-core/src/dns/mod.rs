//! Where answers come from: the [`Lookup`] trait and its implementations
//! (the [`Resolver`] that asks nameservers, the in-memory [`Zone`], the
//! shared [`Cache`] in front of either, a draft [`Overlay`]), the answer
//! types, and the per-check [`QueryBudget`].

mod cache;
mod lookup;
mod overlay;
mod prefetch;
mod resolver;
mod source;
mod zone;

pub use cache::{Cache, CacheConfig, CacheStats, CachedLookup, Clock, SystemClock};
pub use lookup::{
    Answer, Lookup, LookupError, LookupResult, MAX_CNAME_HOPS, QueryBudget, RecordType, Records, TempFailure,
    TxtRecord, TxtRecords,
};
pub use overlay::Overlay;
pub(crate) use overlay::draft_txt;
pub use prefetch::Prefetcher;
pub use resolver::{Resolver, ResolverSettings, parse_nameserver};
pub(crate) use source::Backend;
pub use source::DnsSource;
pub use zone::{ChainEnd, CnameChain, CnameHop, Zone, name_labels, name_text};
