//! Background queries through a shared cache, for speculative lookups.
//!
//! A [`Prefetcher`] is what the evaluator gets from [`Lookup::prefetcher`]
//! (see [`crate::eval::Speculation`]): a `'static` handle that can ask for an
//! answer through the cache (sending a query only when the answer is neither
//! cached nor already in flight) and run the follow-up work on a runtime in
//! the background. Answers land in the cache, where the evaluation, which
//! still asks for everything itself and in order, finds them.
//!
//! [`Lookup::prefetcher`]: super::Lookup::prefetcher

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;

use super::{LookupResult, QueryBudget, RecordType};

/// A boxed, `'static` lookup future.
pub(crate) type BoxedLookup = Pin<Box<dyn Future<Output = LookupResult> + Send>>;

/// Something that answers through a cache from background tasks.
pub(crate) trait PrefetchSource: Send + Sync {
    /// The answer for `name`/`rtype`, sending a speculative query only when
    /// it is neither cached nor in flight. The cache is consulted (and the
    /// query registered in flight) when this is called, not when the
    /// future is first polled.
    fn fetch(&self, name: &str, rtype: RecordType, budget: Arc<QueryBudget>) -> BoxedLookup;

    /// The running average time the upstream takes to answer
    /// ([`super::Lookup::upstream_latency`]). Default: unknown.
    fn upstream_latency(&self) -> Option<Duration> {
        None
    }
}

/// Runs speculative lookups in the background. Cheap to clone.
#[derive(Clone)]
pub struct Prefetcher {
    source: Arc<dyn PrefetchSource>,
    runtime: Handle,
}

impl fmt::Debug for Prefetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prefetcher").finish_non_exhaustive()
    }
}

impl Prefetcher {
    pub(crate) fn new(source: Arc<dyn PrefetchSource>, runtime: Handle) -> Prefetcher {
        Prefetcher { source, runtime }
    }

    /// The answer for `name`/`rtype` through the cache; a query goes out
    /// only if the answer is neither cached nor in flight. The query is
    /// registered in flight at once, so a lookup made after this call joins
    /// it rather than sending its own.
    /// Questions it sends are charged to `budget` (the check's).
    pub fn fetch(
        &self,
        name: &str,
        rtype: RecordType,
        budget: Arc<QueryBudget>,
    ) -> impl Future<Output = LookupResult> + Send + 'static {
        self.source.fetch(name, rtype, budget)
    }

    /// The running average time the upstream behind the cache takes to
    /// answer one question, if known ([`super::Lookup::upstream_latency`]).
    pub fn upstream_latency(&self) -> Option<Duration> {
        self.source.upstream_latency()
    }

    /// Runs `work` in the background on the prefetcher's runtime. Its
    /// outcome is not awaited by anyone.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        drop(self.runtime.spawn(work));
    }
}
