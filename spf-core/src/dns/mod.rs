//! DNS: the lookup trait and its implementations.

pub mod cache;
mod lookup;
mod prefetch;
pub mod resolver;
pub mod zone;

pub use cache::{Cache, CacheConfig, CacheStats, CachedLookup};
pub use lookup::{
    Answer, Lookup, LookupError, LookupResult, MAX_CNAME_HOPS, QueryBudget, RecordType, Records, TempFailure,
    TxtRecord, TxtRecords,
};
pub use prefetch::Prefetcher;
pub use resolver::{Resolver, ResolverSettings, parse_nameserver};
pub use zone::Zone;
