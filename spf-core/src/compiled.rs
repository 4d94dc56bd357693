//! The checker's store of compiled policies ([`CompiledPolicy`]), one per
//! sender domain, read by every thread on every warm check.
//!
//! The read path writes no shared memory: the table is a `papaya` map,
//! whose readers take no lock and bump no reference count (a reader pins
//! the current epoch, a thread-local operation, and borrows the policy
//! until it unpins; replaced and removed policies are freed once no reader
//! can hold them). Recency is a "visited" bit per entry, set only when it is
//! clear, so a hot policy's cache line is written once per sweep, not once
//! per check (the SIEVE/CLOCK idea). Why papaya: it is a maintained,
//! widely used lock-free map built for read-heavy work, and it brings its
//! own epoch-based reclamation (seize); a sharded `RwLock` map would still
//! write the lock word on every read, which is what made two threads slower
//! than one on a hot key.
//!
//! The store is bounded in bytes ([`CompiledConfig::max_bytes`]): when an
//! insert goes over, a sweep removes the policies not visited since the
//! last sweep and clears the bit of the others (removing any if that frees
//! too little). Inserts racing one sweep may pass the bound by one policy
//! each until the next insert sweeps.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::eval::CompiledPolicy;

/// How a [`Checker`](crate::Checker) compiles policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompiledConfig {
    /// Compile a domain's policy once a check of it ran from the cache
    /// alone, and answer later checks from it. Default on; off, every
    /// check runs the evaluator.
    pub enabled: bool,
    /// The most bytes the compiled policies may hold. Default 16 MiB
    /// (a provider's policy takes 1-3 KiB).
    pub max_bytes: usize,
}

impl Default for CompiledConfig {
    fn default() -> Self {
        CompiledConfig { enabled: true, max_bytes: 16 << 20 }
    }
}

/// What a checker's compiled-policy store holds and has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompiledStats {
    /// Policies held.
    pub entries: usize,
    /// Their bytes (estimated, as the bound counts them).
    pub bytes: usize,
    /// Policies compiled since the checker started.
    pub compiled: u64,
}

struct Entry {
    policy: CompiledPolicy,
    bytes: usize,
    visited: AtomicBool,
}

/// The table of compiled policies, pinned ([`CompiledPolicies::pin`]).
pub(crate) struct Pinned<'m> {
    map: papaya::HashMapRef<'m, Box<str>, Entry, foldhash::fast::RandomState, papaya::LocalGuard<'m>>,
}

impl Pinned<'_> {
    /// `domain`'s policy, if there is one (marked visited).
    pub(crate) fn get(&self, domain: &str) -> Option<&CompiledPolicy> {
        let entry = self.map.get(domain)?;
        if !entry.visited.load(Ordering::Relaxed) {
            entry.visited.store(true, Ordering::Relaxed);
        }
        Some(&entry.policy)
    }
}

/// Compiled policies by domain (see the module documentation).
pub(crate) struct CompiledPolicies {
    map: papaya::HashMap<Box<str>, Entry, foldhash::fast::RandomState>,
    bytes: AtomicUsize,
    config: CompiledConfig,
    sweeping: AtomicBool,
    compiled: AtomicU64,
}

impl std::fmt::Debug for CompiledPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPolicies")
            .field("entries", &self.map.len())
            .field("bytes", &self.bytes.load(Ordering::Relaxed))
            .finish()
    }
}

impl CompiledPolicies {
    pub(crate) fn new(config: CompiledConfig) -> CompiledPolicies {
        CompiledPolicies {
            map: papaya::HashMap::builder().hasher(foldhash::fast::RandomState::default()).build(),
            bytes: AtomicUsize::new(0),
            config,
            sweeping: AtomicBool::new(false),
            compiled: AtomicU64::new(0),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// The table, pinned: its policies can be read until this is dropped.
    pub(crate) fn pin(&self) -> Pinned<'_> {
        Pinned { map: self.map.pin() }
    }

    /// Runs `f` on `domain`'s policy, if there is one.
    pub(crate) fn with<R>(&self, domain: &str, f: impl FnOnce(&CompiledPolicy) -> R) -> Option<R> {
        let map = self.map.pin();
        let entry = map.get(domain)?;
        if !entry.visited.load(Ordering::Relaxed) {
            entry.visited.store(true, Ordering::Relaxed);
        }
        Some(f(&entry.policy))
    }

    /// Stores `policy` for `domain`, replacing any older one.
    pub(crate) fn insert(&self, domain: &str, policy: CompiledPolicy) {
        // The entry, its key and the table slot (measured: resident growth over
        // the generated corpus, `compiled_footprint` example).
        let bytes = policy.bytes() + domain.len() + 176;
        if bytes > self.config.max_bytes {
            return;
        }
        self.compiled.fetch_add(1, Ordering::Relaxed);
        // Counted before it can be seen (and so removed and uncounted by
        // someone else); the count never wraps, whatever the interleaving
        // of inserts and sweeps (it is an estimate for the bound).
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let map = self.map.pin();
        let entry = Entry { policy, bytes, visited: AtomicBool::new(false) };
        if let Some(old) = map.insert(domain.into(), entry) {
            self.uncount(old.bytes);
        }
        if self.bytes.load(Ordering::Relaxed) > self.config.max_bytes {
            self.sweep();
        }
    }

    fn uncount(&self, bytes: usize) {
        let _ =
            self.bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some(b.saturating_sub(bytes)));
    }

    /// What it holds and has done.
    pub(crate) fn stats(&self) -> CompiledStats {
        CompiledStats {
            entries: self.map.len(),
            bytes: self.bytes.load(Ordering::Relaxed),
            compiled: self.compiled.load(Ordering::Relaxed),
        }
    }

    /// Frees at least an eighth of the bound: unvisited policies first.
    fn sweep(&self) {
        if self.sweeping.swap(true, Ordering::Acquire) {
            return;
        }
        let target = self.config.max_bytes - self.config.max_bytes / 8;
        let map = self.map.pin();
        for round in 0..2 {
            map.retain(|_, entry| {
                if self.bytes.load(Ordering::Relaxed) <= target {
                    return true;
                }
                if round == 0 && entry.visited.swap(false, Ordering::Relaxed) {
                    return true;
                }
                self.uncount(entry.bytes);
                false
            });
        }
        self.sweeping.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::CheckOptions;
    use crate::dns::{Cache, CacheConfig, Zone};

    fn policy(cache: &Cache, domain: &str) -> CompiledPolicy {
        CompiledPolicy::compile(cache, &CheckOptions::default(), &Arc::from(domain)).expect("compiled")
    }

    #[tokio::test]
    async fn the_store_stays_within_its_bound_and_keeps_visited_policies() {
        let mut text = String::new();
        for i in 0..200 {
            text.push_str(&format!("d{i}.example. 300 IN TXT \"v=spf1 ip4:192.0.2.{}/32 -all\"\n", i % 250));
        }
        let zone = Zone::from_master_str(&text, "<test>").expect("zone");
        let cache = Cache::new(CacheConfig::default());
        for i in 0..200 {
            let name = format!("d{i}.example");
            cache.lookup(&zone, &name, crate::dns::RecordType::Txt).await.expect("txt");
        }
        let one = policy(&cache, "d0.example").bytes() + "d0.example".len() + 176;
        let store = CompiledPolicies::new(CompiledConfig { enabled: true, max_bytes: one * 50 });
        store.insert("d0.example", policy(&cache, "d0.example"));
        for i in 1..200 {
            // d0 is read between inserts: it stays.
            assert!(store.with("d0.example", |_| ()).is_some(), "d0 evicted before d{i}");
            let name = format!("d{i}.example");
            store.insert(&name, policy(&cache, &name));
            let bytes = store.stats().bytes;
            assert!(bytes <= one * 50, "{bytes} over {}", one * 50);
        }
        let entries = store.stats().entries;
        assert!((30..=50).contains(&entries), "{entries}");
    }

    #[tokio::test]
    async fn concurrent_inserts_of_one_domain_keep_the_count_sane() {
        // Inserts replacing each other (and sweeps) in any interleaving:
        // the byte count never wraps (it once did, and overflowed).
        let zone = Zone::from_master_str("d.example. 300 IN TXT \"v=spf1 -all\"\n", "<test>").expect("zone");
        let cache = Cache::new(CacheConfig::default());
        cache.lookup(&zone, "d.example", crate::dns::RecordType::Txt).await.expect("txt");
        let one = policy(&cache, "d.example").bytes() + "d.example".len() + 176;
        let store = CompiledPolicies::new(CompiledConfig { enabled: true, max_bytes: one * 3 });
        std::thread::scope(|s| {
            for t in 0..4 {
                let (store, cache) = (&store, &cache);
                s.spawn(move || {
                    for i in 0..2_000 {
                        let name =
                            if i % 3 == 0 { format!("x{t}.{i}.example") } else { "d.example".to_string() };
                        store.insert(&name, policy(cache, "d.example"));
                    }
                });
            }
        });
        // Racing inserts may pass the bound by an entry each while one
        // thread sweeps; the next insert alone sweeps it back.
        store.insert("last.example", policy(&cache, "d.example"));
        let stats = store.stats();
        assert!(stats.bytes <= one * 3, "{stats:?}");
        assert_eq!(stats.compiled, 8_001);
    }
}
