//! DNS: the lookup trait and its implementations.

pub mod cache;
pub mod hickory;
mod lookup;
mod prefetch;
pub mod zone;

pub use cache::{Cache, CacheConfig, CacheStats, CachedLookup};
pub use hickory::{HickoryLookup, ResolverSettings};
pub use lookup::{
    Answer, Lookup, LookupError, LookupResult, MAX_CNAME_HOPS, QueryBudget, RecordType, Records, TempFailure,
    TxtRecord, TxtRecords,
};
pub use prefetch::Prefetcher;
pub use zone::Zone;
