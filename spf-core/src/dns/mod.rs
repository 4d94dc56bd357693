//! DNS: the lookup trait and its implementations.

pub mod cache;
mod lookup;
mod overlay;
mod prefetch;
pub mod resolver;
mod source;
pub mod zone;

pub use cache::{Cache, CacheConfig, CacheStats, CachedLookup};
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
pub use zone::Zone;
