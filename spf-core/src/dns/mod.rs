//! DNS: the lookup trait and its implementations.

mod lookup;
pub mod zone;

pub use lookup::{
    Answer, Lookup, LookupError, LookupResult, RecordType, Records, TempFailure, TxtRecord, TxtRecords,
};
pub use zone::Zone;
