//! The shared DNS cache: sharded, TTL-aware, bounded by entries and bytes,
//! with negative caching (RFC 2308) and single-flight upstream queries.
//!
//! Why it is written here rather than taken from a caching crate: a check
//! needs, in one structure, (1) single-flight:
//! every lookup that misses while a query is in flight waits for that query,
//! and a waiter takes over when the one asking is cancelled, and the last
//! one out removes the query (drop guards), so nothing leaks; (2) a bound in
//! bytes, with the parsed SPF record counted, not only in entries; (3)
//! negative and temporary-failure entries with their own TTL rules; (4) the
//! speculation counters that tell a speculative query from a used one; and
//! (5) a warm hit that writes no shared memory but the answer's reference
//! count. General caches give (2) or (5) but not single-flight with
//! cancellation; async single-flight crates do not bound bytes. Measure
//! before "simplifying" it (`cargo bench -p spf-benches`, `footprint`
//! example).
//!
//! **Reads take no lock.** Answers live in one `papaya` map (lock-free
//! reads, epoch-based reclamation: the crate the compiled-policy store uses,
//! for the same reasons, see `crate::compiled`). A hit pins the epoch (a
//! thread-local operation), compares the key, reads the expiry, sets the
//! entry's "visited" bit only if it is clear, counts the hit in a counter
//! slot of its own thread, and clones the answer's `Arc`. Nothing else is
//! written: no lock word, no LRU list. **Writes go through a shard's lock**
//! (a miss registering its query in flight, a store, an expiry, an
//! eviction): the shard of a key owns its map entry, its in-flight query,
//! its share of the entry and byte bounds, and its CLOCK queue. Eviction is
//! CLOCK (second chance): the hand passes over entries visited since it last
//! came by, clearing the bit, and evicts the first one that was not (or the
//! first expired one): recency approximated without a write per hit.
//!
//! One [`Cache`] is meant to be shared (`Arc`) by every checker of a process:
//! a busy MTA then sends each distinct (name, type) query once per TTL, not
//! once per message. TXT answers carry their parsed SPF record
//! ([`TxtRecords::spf`](super::TxtRecords::spf)), so a warm check parses nothing.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::OnceCell;

use super::prefetch::{BoxedLookup, PrefetchSource, Prefetcher};
use super::{Lookup, LookupError, LookupResult, QueryBudget, RecordType, Records, TempFailure, TxtRecord};

/// Where the cache reads the time ([`SystemClock`] unless told otherwise:
/// tests move a clock of their own to test TTL expiry without sleeping).
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The monotonic system clock, read coarsely: on Linux through
/// `CLOCK_MONOTONIC_COARSE` (a few nanoseconds instead of a full clock read
/// on every cache hit; resolution of a few milliseconds, which TTLs in
/// seconds do not notice), elsewhere through [`Instant::now`].
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    /// An instant and the coarse clock's reading at that instant.
    base: Instant,
    coarse_base: Duration,
}

impl SystemClock {
    /// The clock, from now on.
    pub fn new() -> SystemClock {
        SystemClock { base: Instant::now(), coarse_base: coarse_now().unwrap_or_default() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        match coarse_now() {
            Some(now) => self.base + now.saturating_sub(self.coarse_base),
            None => Instant::now(),
        }
    }
}

/// `CLOCK_MONOTONIC_COARSE`, where the platform has it.
#[cfg(target_os = "linux")]
fn coarse_now() -> Option<Duration> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a
    // constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(not(target_os = "linux"))]
fn coarse_now() -> Option<Duration> {
    None
}

/// Cache sizing and TTL policy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Most entries held. Default 100,000.
    pub max_entries: usize,
    /// Most bytes held, approximately (keys, answers, parsed records and
    /// per-entry overhead are estimated). Default 64 MiB.
    pub max_bytes: usize,
    /// Independent shards (each its own lock, taken by misses, stores and
    /// evictions; hits take none), so threads do not serialise on one
    /// mutex. Default 16.
    pub shards: usize,
    /// Positive TTLs are raised to at least this. Default 0.
    pub min_ttl: Duration,
    /// Positive TTLs are cut to at most this. Default 1 day.
    pub max_ttl: Duration,
    /// Negative TTLs (NXDOMAIN, no data; RFC 2308: the SOA minimum) are
    /// raised to at least this. Default 0.
    pub negative_min_ttl: Duration,
    /// Negative TTLs are cut to at most this. Default 1 hour (RFC 2308 §5
    /// suggests one to three hours as a ceiling).
    pub negative_max_ttl: Duration,
    /// How long a temporary failure (timeout, SERVFAIL) is remembered, so a
    /// failing server is not asked again for every message. Default 2 s;
    /// zero means not at all. Capped at 30 s.
    pub temp_error_ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_entries: 100_000,
            max_bytes: 64 << 20,
            shards: 16,
            min_ttl: Duration::ZERO,
            max_ttl: Duration::from_secs(86_400),
            negative_min_ttl: Duration::ZERO,
            negative_max_ttl: Duration::from_secs(3_600),
            temp_error_ttl: Duration::from_secs(2),
        }
    }
}

impl CacheConfig {
    /// At most this many entries.
    pub fn with_max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// At most about this many bytes.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }
}

/// Cache counters and sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Upstream queries sent (lookups that missed and were not coalesced).
    pub misses: u64,
    /// Lookups that found the same query already in flight and waited for it.
    pub coalesced: u64,
    /// Entries dropped because their TTL ran out.
    pub expirations: u64,
    /// Entries dropped to stay within the entry or byte bound.
    pub evictions: u64,
    /// Entries held now.
    pub entries: u64,
    /// Approximate bytes held now.
    pub bytes: u64,
    /// Upstream queries sent speculatively, before any evaluation asked for
    /// them (a first-seen sender's include and redirect targets, `a`/`mx`
    /// hosts; see [`crate::eval::Speculation`]). Included in `misses`.
    pub speculative_queries: u64,
    /// Speculative answers an evaluation then read (from the cache, or by
    /// joining the query in flight). `speculative_queries -
    /// speculative_used` were wasted (or are not read yet).
    pub speculative_used: u64,
    /// Queries in flight now (the single-flight table): each is awaited
    /// by at least one lookup. Zero when nothing is being asked.
    pub inflight: u64,
    /// Queries left before their answer came because every lookup waiting
    /// for them was dropped (a check's deadline, a cancelled future); they
    /// leave the in-flight table at once.
    pub abandoned: u64,
}

impl CacheStats {
    /// Speculative queries whose answers no evaluation has read (yet).
    pub fn speculative_wasted(&self) -> u64 {
        self.speculative_queries.saturating_sub(self.speculative_used)
    }
}

struct Entry {
    /// The key (type and name); entries are found by its hash.
    key: Box<[u8]>,
    result: LookupResult,
    expires: Instant,
    bytes: usize,
    /// Fetched speculatively and not read by an evaluation yet.
    speculative: AtomicBool,
    /// Read since the CLOCK hand last passed (set only when clear).
    visited: AtomicBool,
    /// Which store of its shard this is: a CLOCK slot naming an older
    /// serial is stale (its entry was replaced or removed).
    serial: u64,
}

impl Entry {
    /// Marks a read: the visited bit (written only when clear) and the
    /// first read of a speculative answer.
    fn read(&self, counters: &Counters, speculative: bool) {
        if !self.visited.load(Ordering::Relaxed) {
            self.visited.store(true, Ordering::Relaxed);
        }
        if !speculative {
            counters.hits.add();
            if self.speculative.load(Ordering::Relaxed) && self.speculative.swap(false, Ordering::Relaxed) {
                counters.speculative_used_hits.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A query in flight, shared by everyone who misses on its key meanwhile.
struct FlightState {
    key: Box<[u8]>,
    answer: OnceCell<LookupResult>,
    /// Started speculatively, and no evaluation has joined it yet.
    speculative: AtomicBool,
}

type Flight = Arc<FlightState>;

/// What a shard's lock guards: the bookkeeping of the keys whose hash
/// falls in it. Their answers are in the cache's map.
struct Shard {
    /// The CLOCK order: (hash, serial) of each entry stored, oldest at the
    /// front, plus stale slots of entries since replaced or removed (dropped
    /// when the hand meets them, or by [`Shard::compact`]).
    clock: VecDeque<(u64, u64)>,
    entries: usize,
    bytes: usize,
    next_serial: u64,
    inflight: HashMap<u64, Flight, PreHashed>,
    /// This shard's counters, updated under its lock.
    counts: Counts,
}

impl Shard {
    fn new() -> Shard {
        Shard {
            clock: VecDeque::new(),
            entries: 0,
            bytes: 0,
            next_serial: 0,
            inflight: HashMap::with_hasher(PreHashed),
            counts: Counts::default(),
        }
    }

    fn uncount(&mut self, entry: &Entry) {
        self.entries -= 1;
        self.bytes -= entry.bytes;
    }

    /// Drops stale CLOCK slots once they outnumber the live ones (so the
    /// queue stays within twice the shard's entries, amortised).
    fn compact(&mut self, table: &Table<'_>) {
        if self.clock.len() > 2 * self.entries + 64 {
            self.clock.retain(|(hash, serial)| table.get(hash).is_some_and(|e| e.serial == *serial));
        }
    }
}

/// Counters of one shard.
#[derive(Default, Clone, Copy)]
struct Counts {
    coalesced: u64,
    expirations: u64,
    evictions: u64,
    speculative: u64,
    speculative_used: u64,
    abandoned: u64,
}

/// Counters updated outside the shard locks.
#[derive(Default)]
struct Counters {
    /// Upstream queries sent.
    misses: AtomicU64,
    /// Hits, each thread counting in a slot of its own.
    hits: Striped,
    /// Speculative answers first read by a hit (once per answer).
    speculative_used_hits: AtomicU64,
}

/// A counter spread over cache lines, each thread adding to one slot, so
/// threads counting hits do not write one line (it is summed when read).
#[derive(Default)]
struct Striped([Slot; STRIPES]);

/// One cache line of a [`Striped`] counter.
#[derive(Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

const STRIPES: usize = 32;

impl Striped {
    fn add(&self) {
        thread_local! {
            static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let stripe = STRIPE.with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
            }
            s.get()
        });
        self.0[stripe].0.fetch_add(1, Ordering::Relaxed);
    }

    fn sum(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// The answers, by key hash.
type Map = papaya::HashMap<u64, Entry, PreHashed>;

/// The answers, pinned.
type Table<'m> = papaya::HashMapRef<'m, u64, Entry, PreHashed, papaya::LocalGuard<'m>>;

/// The sharded, TTL-aware cache of DNS answers (see the module
/// documentation).
pub struct Cache {
    table: Map,
    shards: Box<[Mutex<Shard>]>,
    shard_entries: usize,
    shard_bytes: usize,
    config: CacheConfig,
    clock: Arc<dyn Clock>,
    hasher: RandomState,
    counters: Counters,
    /// Bumped by [`Cache::clear`]: what was built from the cache's answers
    /// before (compiled policies) is stale after it.
    generation: AtomicU64,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache").field("config", &self.config).field("stats", &self.stats()).finish()
    }
}

/// Fixed cost of one entry: the map node and slot, its CLOCK slot, the key's and
/// answer's headers, the `Arc` counts, allocator rounding. Calibrated with
/// `cargo run --release -p spf-core --example footprint`, which compares
/// this estimate with the resident-set growth of a filling cache (a
/// negative answer under a 26-octet key measured 183 bytes).
const ENTRY_OVERHEAD: usize = 160;

/// Longest key: a type byte and a name of at most 255 octets.
const MAX_KEY: usize = 256;

impl Cache {
    /// A cache with the system clock.
    pub fn new(config: CacheConfig) -> Cache {
        Cache::with_clock(config, Arc::new(SystemClock::new()))
    }

    /// A cache reading time from `clock`.
    pub fn with_clock(config: CacheConfig, clock: Arc<dyn Clock>) -> Cache {
        let max_entries = config.max_entries.max(1);
        let shards = config.shards.clamp(1, 1024).min(max_entries);
        let shard_entries = max_entries.div_ceil(shards);
        let shard_bytes = config.max_bytes.div_ceil(shards);
        let shards = (0..shards).map(|_| Mutex::new(Shard::new())).collect();
        Cache {
            table: papaya::HashMap::builder().hasher(PreHashed).build(),
            shards,
            shard_entries,
            shard_bytes,
            config,
            clock,
            hasher: RandomState::default(),
            counters: Counters::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// The cache's clock, read now (what its entries' expiry is measured
    /// against).
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// How many times the cache was cleared: what was built from its
    /// answers under an older generation must not be used.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The cached answer for `name`/`rtype` and when it expires, if there
    /// is a fresh one: read only (not counted as a hit, recency not
    /// changed, nothing sent upstream). For building compiled policies
    /// from what checks have already cached.
    pub(crate) fn peek(&self, name: &str, rtype: RecordType) -> Option<(LookupResult, Instant)> {
        let mut buffer = [0u8; MAX_KEY];
        let key = self.key(encode_key(&mut buffer, name, rtype)?);
        let table = self.table.pin();
        let entry = table.get(&key.hash)?;
        (*entry.key == *key.bytes && entry.expires > self.clock.now())
            .then(|| (entry.result.clone(), entry.expires))
    }

    /// The configuration.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Counters and current size.
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            misses: self.counters.misses.load(Ordering::Relaxed),
            hits: self.counters.hits.sum(),
            speculative_used: self.counters.speculative_used_hits.load(Ordering::Relaxed),
            ..CacheStats::default()
        };
        for shard in self.shards.iter() {
            let shard = lock(shard);
            let c = shard.counts;
            stats.entries += shard.entries as u64;
            stats.bytes += shard.bytes as u64;
            stats.coalesced += c.coalesced;
            stats.expirations += c.expirations;
            stats.evictions += c.evictions;
            stats.speculative_queries += c.speculative;
            stats.speculative_used += c.speculative_used;
            stats.inflight += shard.inflight.len() as u64;
            stats.abandoned += c.abandoned;
        }
        stats
    }

    /// Drops every entry (counters are kept).
    pub fn clear(&self) {
        // Every shard locked (in order) while the map empties: no store
        // lands between the two.
        let mut shards: Vec<_> = self.shards.iter().map(lock).collect();
        self.table.pin().clear();
        for shard in shards.iter_mut() {
            shard.clock.clear();
            shard.entries = 0;
            shard.bytes = 0;
        }
        drop(shards);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Answers `name`/`rtype` from the cache, or asks `upstream` once however
    /// many callers miss on the same key at the same time.
    pub async fn lookup<L: Lookup + ?Sized>(
        &self,
        upstream: &L,
        name: &str,
        rtype: RecordType,
    ) -> LookupResult {
        self.resolve(upstream, name, rtype, false, &QueryBudget::unlimited()).await
    }

    /// [`Cache::lookup`] on behalf of a check: a query it sends upstream
    /// charges its questions to `budget`; an answer from the cache, or a
    /// wait for a query in flight, costs nothing.
    pub async fn lookup_charged<L: Lookup + ?Sized>(
        &self,
        upstream: &L,
        name: &str,
        rtype: RecordType,
        budget: &QueryBudget,
    ) -> LookupResult {
        self.resolve(upstream, name, rtype, false, budget).await
    }

    /// A speculative [`Cache::lookup`], for background tasks: the cache is
    /// consulted, and a query registered in flight, at once (so a lookup
    /// that comes later joins it); the returned future sends the query if
    /// this call registered it. Not counted as a hit or a coalesced wait; a
    /// query it sends is counted in [`CacheStats::speculative_queries`] and
    /// its answer as used ([`CacheStats::speculative_used`]) once a
    /// [`Cache::lookup`] reads it.
    pub fn prefetch<L: Lookup + ?Sized + 'static>(
        self: &Arc<Self>,
        upstream: Arc<L>,
        name: &str,
        rtype: RecordType,
        budget: Arc<QueryBudget>,
    ) -> impl Future<Output = LookupResult> + Send + 'static {
        let mut buffer = [0u8; MAX_KEY];
        let probed = encode_key(&mut buffer, name, rtype).map(|key| {
            let key = self.key(key);
            match self.probe(key, true) {
                Probe::Hit(result) => Probed::Hit(result),
                Probe::Wait(flight) => Probed::Wait(FlightGuard::new(Arc::clone(self), key.hash, flight)),
                Probe::Bypass => Probed::Bypass,
            }
        });
        let name: Box<str> = name.into();
        async move {
            match probed {
                Some(Probed::Hit(result)) => result,
                Some(Probed::Wait(mut guard)) => guard.wait(&*upstream, &name, rtype, &budget).await,
                None | Some(Probed::Bypass) => upstream.lookup_charged(&name, rtype, &budget).await,
            }
        }
    }

    async fn resolve<L: Lookup + ?Sized>(
        &self,
        upstream: &L,
        name: &str,
        rtype: RecordType,
        speculative: bool,
        budget: &QueryBudget,
    ) -> LookupResult {
        let mut buffer = [0u8; MAX_KEY];
        let Some(key) = encode_key(&mut buffer, name, rtype) else {
            // Longer than any DNS name: nothing to share; ask directly.
            return Box::pin(upstream.lookup_charged(name, rtype, budget)).await;
        };
        let key = self.key(key);
        match self.probe(key, speculative) {
            Probe::Hit(result) => result,
            // Boxed: the upstream query's state is large and only a miss
            // needs it, so every caller's future stays small and cheap to
            // move on a hit.
            Probe::Wait(flight) => {
                let mut guard = FlightGuard::new(self, key.hash, flight);
                Box::pin(guard.wait(upstream, name, rtype, budget)).await
            }
            Probe::Bypass => Box::pin(upstream.lookup_charged(name, rtype, budget)).await,
        }
    }

    /// The key with its hash (computed once: it picks the shard and finds
    /// the entry).
    fn key<'k>(&self, bytes: &'k [u8]) -> Key<'k> {
        Key { hash: self.hasher.hash_one(bytes), bytes }
    }

    /// The answer if cached; otherwise the query in flight for the key,
    /// joined or newly registered (the caller then awaits it).
    fn probe(&self, key: Key<'_>, speculative: bool) -> Probe {
        let now = self.clock.now();
        let table = self.table.pin();
        // The hit: no lock.
        if let Some(entry) = table.get(&key.hash)
            && *entry.key == *key.bytes
            && entry.expires > now
        {
            entry.read(&self.counters, speculative);
            return Probe::Hit(entry.result.clone());
        }
        let mut guard = lock(&self.shards[self.shard_of(key.hash)]);
        let shard = &mut *guard;
        // Looked at again under the lock: stored, or removed, meanwhile?
        match table.get(&key.hash) {
            // Another key with the same 64-bit hash: as good as absent.
            Some(entry) if *entry.key != *key.bytes => {}
            Some(entry) if entry.expires > now => {
                entry.read(&self.counters, speculative);
                return Probe::Hit(entry.result.clone());
            }
            Some(_) => {
                if let Some(old) = table.remove(&key.hash) {
                    shard.uncount(old);
                }
                shard.counts.expirations += 1;
            }
            None => {}
        }
        match shard.inflight.get(&key.hash) {
            // A hash collision with a query in flight: ask without the cache.
            Some(flight) if *flight.key != *key.bytes => Probe::Bypass,
            Some(flight) => {
                if !speculative {
                    shard.counts.coalesced += 1;
                    if flight.speculative.swap(false, Ordering::Relaxed) {
                        shard.counts.speculative_used += 1;
                    }
                }
                Probe::Wait(Arc::clone(flight))
            }
            None => {
                let flight = Flight::new(FlightState {
                    key: key.bytes.into(),
                    answer: OnceCell::new(),
                    speculative: AtomicBool::new(speculative),
                });
                shard.inflight.insert(key.hash, Arc::clone(&flight));
                if speculative {
                    // Speculation caused this query, whoever ends up sending it.
                    shard.counts.speculative += 1;
                }
                Probe::Wait(flight)
            }
        }
    }

    /// Removes the in-flight entry of a query nobody waits for any more
    /// (see [`FlightGuard`]).
    fn abandon(&self, hash: u64, flight: Flight) {
        let mut shard = lock(&self.shards[self.shard_of(hash)]);
        let registered = shard.inflight.get(&hash).is_some_and(|f| Arc::ptr_eq(f, &flight));
        // Every clone but the table's is held by a guard, and guards drop
        // theirs under this lock: after dropping ours, a count of one means
        // nobody else waits, and nobody can start waiting while we hold it.
        drop(flight);
        if registered && shard.inflight.get(&hash).is_some_and(|f| Arc::strong_count(f) == 1) {
            shard.inflight.remove(&hash);
            shard.counts.abandoned += 1;
        }
    }

    /// The shard of a key's hash: its middle bits (the shard's own table
    /// uses the low and the top ones).
    fn shard_of(&self, hash: u64) -> usize {
        ((hash >> 32) as usize & 0xffff) % self.shards.len()
    }

    /// How long an answer may be kept.
    fn lifetime(&self, result: &LookupResult) -> Duration {
        let c = &self.config;
        match result {
            Ok(answer) => seconds(answer.ttl).clamp(c.min_ttl, c.max_ttl.max(c.min_ttl)),
            Err(LookupError::NxDomain { ttl } | LookupError::NoData { ttl }) => {
                seconds(*ttl).clamp(c.negative_min_ttl, c.negative_max_ttl.max(c.negative_min_ttl))
            }
            // One check's budget ran out: nothing to remember for others.
            Err(LookupError::Temporary(TempFailure::QueryLimit)) => Duration::ZERO,
            Err(LookupError::Temporary(_)) => c.temp_error_ttl.min(Duration::from_secs(30)),
        }
    }

    fn store(&self, hash: u64, result: &LookupResult, flight: &FlightState) {
        let lifetime = self.lifetime(result);
        let mut guard = lock(&self.shards[self.shard_of(hash)]);
        let shard = &mut *guard;
        if shard.inflight.get(&hash).is_some_and(|f| std::ptr::eq(&**f, flight)) {
            shard.inflight.remove(&hash);
        }
        if lifetime.is_zero() {
            return;
        }
        let bytes = entry_bytes(&flight.key, result);
        let now = self.clock.now();
        let serial = shard.next_serial;
        shard.next_serial += 1;
        let entry = Entry {
            key: flight.key.clone(),
            result: result.clone(),
            expires: now + lifetime,
            bytes,
            speculative: AtomicBool::new(flight.speculative.load(Ordering::Relaxed)),
            visited: AtomicBool::new(false),
            serial,
        };
        let table = self.table.pin();
        if let Some(old) = table.insert(hash, entry) {
            shard.uncount(old);
        }
        shard.entries += 1;
        shard.bytes += bytes;
        shard.clock.push_back((hash, serial));
        while shard.entries > self.shard_entries || shard.bytes > self.shard_bytes {
            if !self.evict_one(shard, &table, now) {
                break;
            }
        }
        shard.compact(&table);
    }

    /// Moves the shard's CLOCK hand to the first entry not visited since
    /// the hand last passed (clearing the bits it passes), or the first
    /// expired one, and removes it. False if the shard holds nothing.
    fn evict_one(&self, shard: &mut Shard, table: &Table<'_>, now: Instant) -> bool {
        while let Some((hash, serial)) = shard.clock.pop_front() {
            let Some(entry) = table.get(&hash) else { continue };
            if entry.serial != serial {
                continue;
            }
            let expired = entry.expires <= now;
            if !expired && entry.visited.swap(false, Ordering::Relaxed) {
                shard.clock.push_back((hash, serial));
                continue;
            }
            if let Some(old) = table.remove(&hash) {
                shard.uncount(old);
            }
            if expired {
                shard.counts.expirations += 1;
            } else {
                shard.counts.evictions += 1;
            }
            return true;
        }
        false
    }
}

/// A TTL as a duration. RFC 2181 §8: "Implementations should treat TTL
/// values received with the most significant bit set as if the entire value
/// received was zero."
fn seconds(ttl: u32) -> Duration {
    if ttl >= 1 << 31 { Duration::ZERO } else { Duration::from_secs(ttl.into()) }
}

/// A cache key and its hash.
#[derive(Clone, Copy)]
struct Key<'k> {
    hash: u64,
    bytes: &'k [u8],
}

/// What [`Cache::probe`] found.
enum Probe {
    /// A fresh answer.
    Hit(LookupResult),
    /// A query in flight (perhaps just registered): await it.
    Wait(Flight),
    /// Another key with the same hash is in flight: ask upstream directly.
    Bypass,
}

/// What [`Cache::prefetch`] found, with the flight already guarded.
enum Probed {
    Hit(LookupResult),
    Wait(FlightGuard<Arc<Cache>>),
    Bypass,
}

/// A caller's share of a query in flight. Whoever runs the initialiser asks
/// upstream; everyone else waits for its answer; if that caller is
/// cancelled (its check hit its deadline, its future was dropped), a waiter
/// takes over and asks upstream itself. When the last guard of a query that
/// never got its answer is dropped, the query leaves the in-flight table:
/// cancelled lookups leave nothing behind, however many there are.
struct FlightGuard<C: std::ops::Deref<Target = Cache>> {
    cache: C,
    hash: u64,
    flight: Option<Flight>,
}

impl<C: std::ops::Deref<Target = Cache>> FlightGuard<C> {
    fn new(cache: C, hash: u64, flight: Flight) -> Self {
        FlightGuard { cache, hash, flight: Some(flight) }
    }

    async fn wait<L: Lookup + ?Sized>(
        &mut self,
        upstream: &L,
        name: &str,
        rtype: RecordType,
        budget: &QueryBudget,
    ) -> LookupResult {
        let Some(flight) = self.flight.as_ref() else {
            return upstream.lookup_charged(name, rtype, budget).await;
        };
        let cache = &*self.cache;
        let hash = self.hash;
        let result = flight
            .answer
            .get_or_init(|| async {
                cache.counters.misses.fetch_add(1, Ordering::Relaxed);
                let result = upstream.lookup_charged(name, rtype, budget).await;
                cache.store(hash, &result, flight);
                result
            })
            .await;
        result.clone()
    }
}

impl<C: std::ops::Deref<Target = Cache>> Drop for FlightGuard<C> {
    fn drop(&mut self) {
        if let Some(flight) = self.flight.take()
            && !flight.answer.initialized()
        {
            self.cache.abandon(self.hash, flight);
        }
    }
}

/// Hashing for maps keyed by an already computed 64-bit hash.
#[derive(Clone, Copy, Debug, Default)]
struct PreHashed;

impl BuildHasher for PreHashed {
    type Hasher = PreHashedHasher;
    fn build_hasher(&self) -> PreHashedHasher {
        PreHashedHasher(0)
    }
}

/// Passes a `u64` through; folds anything else (never used) byte by byte.
#[derive(Clone, Copy, Debug, Default)]
struct PreHashedHasher(u64);

impl std::hash::Hasher for PreHashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic while holding the lock leaves the shard consistent enough to
    // keep serving: its counts are estimates for the bounds, and stale
    // CLOCK slots are skipped.
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

/// The key: one byte for the type, then the name. Built on the stack.
fn encode_key<'b>(buffer: &'b mut [u8; MAX_KEY], name: &str, rtype: RecordType) -> Option<&'b [u8]> {
    let name = name.as_bytes();
    if name.len() + 1 > MAX_KEY {
        return None;
    }
    buffer[0] = b'0' + rtype as u8;
    buffer[1..=name.len()].copy_from_slice(name);
    Some(&buffer[..=name.len()])
}

/// Approximate memory of an entry: [`ENTRY_OVERHEAD`], the key, and the
/// answer's own allocations. The constants are fitted to the resident-set
/// growth that `cargo run --release -p spf-core --example footprint`
/// measures for each kind of answer (A, negative, SPF records of three
/// sizes); the README lists both.
fn entry_bytes(key: &[u8], result: &LookupResult) -> usize {
    let data = match result {
        Ok(answer) => match &answer.records {
            Records::Txt(t) => 32 + t.records().iter().map(txt_record_bytes).sum::<usize>(),
            Records::A(a) => 28 + 4 * a.len(),
            Records::Aaaa(a) => 16 + 16 * a.len(),
            Records::Mx(n) | Records::Ptr(n) => {
                16 + n.iter().map(|s| 24 + s.len().next_multiple_of(16).max(32)).sum::<usize>()
            }
        },
        Err(_) => 0,
    };
    ENTRY_OVERHEAD + key.len() + data
}

/// One TXT record's strings, and for an SPF record the parsed form the
/// first check builds from it (kept with the answer): about 2.25 bytes per
/// octet of text for the terms' names and macro parts, and 95 bytes per
/// slot of the term list (which grows by doubling, from 4).
fn txt_record_bytes(record: &TxtRecord) -> usize {
    let octets: usize = record.iter().map(|s| s.len()).sum();
    let raw = 16 + record.iter().map(|s| 16 + s.len()).sum::<usize>();
    let mut head = [0u8; 7];
    let mut head_len = 0;
    for (slot, byte) in head.iter_mut().zip(record.iter().flat_map(|s| s.iter())) {
        *slot = *byte;
        head_len += 1;
    }
    if !crate::record::is_spf1(&head[..head_len]) {
        return raw;
    }
    // Terms: runs of non-space octets after the version.
    let mut terms = 0usize;
    let mut in_term = false;
    for &byte in record.iter().flat_map(|s| s.iter()) {
        let space = byte == b' ';
        terms += usize::from(!space && !in_term);
        in_term = !space;
    }
    let slots = terms.saturating_sub(1).next_power_of_two().max(4);
    raw + 170 + octets * 9 / 4 + 95 * slots
}

/// A [`Lookup`] that answers through a shared [`Cache`], and can run
/// speculative queries through it in the background ([`Lookup::prefetcher`]).
#[derive(Debug)]
pub struct CachedLookup<L> {
    shared: Arc<Shared<L>>,
    runtime: Option<Handle>,
}

impl<L> Clone for CachedLookup<L> {
    fn clone(&self) -> Self {
        CachedLookup { shared: Arc::clone(&self.shared), runtime: self.runtime.clone() }
    }
}

#[derive(Debug)]
struct Shared<L> {
    upstream: Arc<L>,
    cache: Arc<Cache>,
}

impl<L: Lookup> CachedLookup<L> {
    /// Puts `cache` in front of `upstream`.
    pub fn new(upstream: L, cache: Arc<Cache>) -> Self {
        CachedLookup { shared: Arc::new(Shared { upstream: Arc::new(upstream), cache }), runtime: None }
    }

    /// Runs speculative queries on `runtime` (by default: the runtime of
    /// whoever evaluates, if any).
    pub fn with_runtime(mut self, runtime: Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<Cache> {
        &self.shared.cache
    }

    /// The upstream lookup.
    pub fn upstream(&self) -> &L {
        &self.shared.upstream
    }
}

impl<L: Lookup + 'static> Lookup for CachedLookup<L> {
    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        self.shared.cache.lookup(&self.shared.upstream, name, rtype).await
    }

    async fn lookup_charged(&self, name: &str, rtype: RecordType, budget: &QueryBudget) -> LookupResult {
        self.shared.cache.lookup_charged(&self.shared.upstream, name, rtype, budget).await
    }

    fn prefetcher(&self) -> Option<Prefetcher> {
        let runtime = self.runtime.clone().or_else(|| Handle::try_current().ok())?;
        Some(Prefetcher::new(Arc::clone(&self.shared) as Arc<dyn PrefetchSource>, runtime))
    }
}

impl<L: Lookup + 'static> PrefetchSource for Shared<L> {
    fn fetch(&self, name: &str, rtype: RecordType, budget: Arc<QueryBudget>) -> BoxedLookup {
        Box::pin(self.cache.prefetch(Arc::clone(&self.upstream), name, rtype, budget))
    }

    fn upstream_latency(&self) -> Option<Duration> {
        self.upstream.upstream_latency()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Answer, TxtRecords};

    /// A clock moved by hand.
    #[derive(Debug)]
    struct Hand(Mutex<Instant>);

    impl Clock for Hand {
        fn now(&self) -> Instant {
            *self.0.lock().expect("clock")
        }
    }

    struct Fixed;

    impl Lookup for Fixed {
        async fn lookup(&self, _name: &str, _rtype: RecordType) -> LookupResult {
            Ok(Answer {
                records: Records::Txt(Arc::new(TxtRecords::new([vec![b"v=spf1 -all".to_vec()]]))),
                ttl: 5,
            })
        }
    }

    #[test]
    fn stale_clock_slots_do_not_pile_up() {
        let clock = Arc::new(Hand(Mutex::new(Instant::now())));
        let cache = Cache::with_clock(CacheConfig { shards: 1, ..CacheConfig::default() }, clock.clone());
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        // Each round the answer expires and is fetched again: its old slot
        // goes stale.
        for _ in 0..10_000 {
            rt.block_on(cache.lookup(&Fixed, "churn.example", RecordType::Txt)).expect("answer");
            *clock.0.lock().expect("clock") += Duration::from_secs(6);
        }
        let (entries, slots) = {
            let shard = lock(&cache.shards[0]);
            (shard.entries, shard.clock.len())
        };
        assert_eq!(entries, 1);
        assert!(slots <= 2 * entries + 64, "{slots} slots");
        assert_eq!(cache.stats().expirations, 9_999);
    }
}
