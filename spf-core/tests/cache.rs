//! The shared cache on its own: bounds under churn, TTL policy, single-flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::ManualClock;
use spf_core::dns::{
    Answer, Cache, CacheConfig, Lookup, LookupError, LookupResult, RecordType, Records, TempFailure,
    TxtRecords,
};

/// Answers every TXT query with a record of `size` bytes, counting queries.
struct Synthetic {
    size: usize,
    ttl: u32,
    queries: AtomicUsize,
    outcome: fn(&str) -> Option<LookupError>,
    /// The first query never completes (until its caller gives up).
    hang_first: bool,
}

impl Synthetic {
    fn new(size: usize) -> Synthetic {
        Synthetic { size, ttl: 300, queries: AtomicUsize::new(0), outcome: |_| None, hang_first: false }
    }
}

impl Lookup for Synthetic {
    async fn lookup(&self, name: &str, _rtype: RecordType) -> LookupResult {
        let n = self.queries.fetch_add(1, Ordering::SeqCst);
        if self.hang_first && n == 0 {
            std::future::pending::<()>().await;
        }
        tokio::task::yield_now().await;
        if let Some(error) = (self.outcome)(name) {
            return Err(error);
        }
        let record = format!("v=spf1 {}", "a".repeat(self.size.saturating_sub(7)));
        Ok(Answer {
            records: Records::Txt(Arc::new(TxtRecords::new([vec![record.into_bytes()]]))),
            ttl: self.ttl,
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

#[test]
fn stays_within_its_byte_bound_under_churn() {
    let config = {
        let mut cache = CacheConfig::default();
        cache.max_bytes = 256 * 1024;
        cache.max_entries = 1_000_000;
        cache
    };
    let cache = Cache::new(config.clone());
    let upstream = Synthetic::new(400);
    let rt = runtime();
    let mut peak = 0;
    for i in 0..20_000 {
        rt.block_on(cache.lookup(&upstream, &format!("d{i}.example"), RecordType::Txt)).expect("answer");
        peak = peak.max(cache.stats().bytes);
    }
    let stats = cache.stats();
    assert!(peak <= config.max_bytes as u64, "peak {peak} over {}", config.max_bytes);
    assert!(stats.evictions > 15_000, "{stats:?}");
    assert!(stats.entries > 50 && stats.entries < 1_000, "{stats:?}");
}

#[test]
fn stays_within_its_entry_bound() {
    let cache = Cache::new({
        let mut cache = CacheConfig::default();
        cache.max_entries = 500;
        cache
    });
    let upstream = Synthetic::new(20);
    let rt = runtime();
    for i in 0..5_000 {
        rt.block_on(cache.lookup(&upstream, &format!("d{i}.example"), RecordType::Txt)).expect("answer");
    }
    // Each of the 16 shards holds at most ceil(500 / 16) = 32 entries.
    assert!(cache.stats().entries <= 512, "{:?}", cache.stats());
    // The most recent names are still there.
    let before = upstream.queries.load(Ordering::SeqCst);
    rt.block_on(cache.lookup(&upstream, "d4999.example", RecordType::Txt)).expect("answer");
    assert_eq!(upstream.queries.load(Ordering::SeqCst), before);
}

#[test]
fn ttls_are_clamped() {
    let clock = Arc::new(ManualClock::new());
    let config = {
        let mut cache = CacheConfig::default();
        cache.min_ttl = Duration::from_secs(60);
        cache.max_ttl = Duration::from_secs(600);
        cache
    };
    let cache = Cache::with_clock(config, clock.clone());
    let rt = runtime();
    let mut short = Synthetic::new(20);
    short.ttl = 1;
    rt.block_on(cache.lookup(&short, "short.example", RecordType::Txt)).expect("answer");
    clock.advance(Duration::from_secs(30));
    rt.block_on(cache.lookup(&short, "short.example", RecordType::Txt)).expect("answer");
    assert_eq!(short.queries.load(Ordering::SeqCst), 1, "a 1 s TTL is raised to the 60 s minimum");
    let mut long = Synthetic::new(20);
    long.ttl = 86_400;
    rt.block_on(cache.lookup(&long, "long.example", RecordType::Txt)).expect("answer");
    clock.advance(Duration::from_secs(601));
    rt.block_on(cache.lookup(&long, "long.example", RecordType::Txt)).expect("answer");
    assert_eq!(long.queries.load(Ordering::SeqCst), 2, "a day-long TTL is cut to the 600 s maximum");
}

#[test]
fn temporary_failures_are_kept_briefly_or_not_at_all() {
    let rt = runtime();
    for (keep, expected_queries) in [(Duration::ZERO, 2), (Duration::from_secs(2), 1)] {
        let clock = Arc::new(ManualClock::new());
        let cache = Cache::with_clock(
            {
                let mut cache = CacheConfig::default();
                cache.temp_error_ttl = keep;
                cache
            },
            clock.clone(),
        );
        let mut failing = Synthetic::new(20);
        failing.outcome = |_| Some(LookupError::Temporary(TempFailure::Timeout));
        for _ in 0..2 {
            let result = rt.block_on(cache.lookup(&failing, "down.example", RecordType::Txt));
            assert!(matches!(result, Err(LookupError::Temporary(_))));
            clock.advance(Duration::from_secs(1));
        }
        assert_eq!(failing.queries.load(Ordering::SeqCst), expected_queries, "temp_error_ttl {keep:?}");
    }
}

#[test]
fn concurrent_misses_share_one_query() {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    let upstream = Arc::new(Synthetic::new(50));
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let (cache, upstream) = (Arc::clone(&cache), Arc::clone(&upstream));
            tasks.spawn(
                async move { cache.lookup(&*upstream, "burst.example", RecordType::Txt).await.is_ok() },
            );
        }
        while let Some(ok) = tasks.join_next().await {
            assert!(ok.expect("task"));
        }
    });
    assert_eq!(upstream.queries.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.coalesced + stats.hits), (1, 199), "{stats:?}");
}

#[test]
fn a_cancelled_leader_does_not_strand_its_waiters() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cache = Cache::new(CacheConfig::default());
    let mut upstream = Synthetic::new(50);
    upstream.hang_first = true;
    rt.block_on(async {
        // The first lookup starts the query and is dropped mid-flight.
        let leader = cache.lookup(&upstream, "c.example", RecordType::Txt);
        let cancelled = tokio::time::timeout(Duration::from_millis(10), leader).await;
        assert!(cancelled.is_err(), "the leader was cut off before its answer");
        // A later lookup takes over and gets an answer.
        assert!(cache.lookup(&upstream, "c.example", RecordType::Txt).await.is_ok());
    });
    assert_eq!(upstream.queries.load(Ordering::SeqCst), 2);
}

/// One shard of at most `entries` entries, on `clock`.
fn one_shard(entries: usize, clock: Arc<ManualClock>) -> Cache {
    let mut config = CacheConfig::default().with_max_entries(entries);
    config.shards = 1;
    Cache::with_clock(config, clock)
}

#[test]
fn eviction_passes_over_answers_read_since_the_hand_last_came_by() {
    let cache = one_shard(10, Arc::new(ManualClock::new()));
    let upstream = Synthetic::new(20);
    let rt = runtime();
    let lookup = |name: &str| rt.block_on(cache.lookup(&upstream, name, RecordType::Txt)).expect("answer");
    for i in 0..10 {
        lookup(&format!("d{i}.example"));
    }
    // d0 is the oldest, but read: five stores later it is still cached,
    // and d1 to d5, never read, are gone.
    lookup("d0.example");
    for i in 10..15 {
        lookup(&format!("d{i}.example"));
    }
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.evictions, stats.hits), (10, 5, 1), "{stats:?}");
    let queries = upstream.queries.load(Ordering::SeqCst);
    lookup("d0.example");
    assert_eq!(upstream.queries.load(Ordering::SeqCst), queries, "d0 was kept");
    lookup("d1.example");
    assert_eq!(upstream.queries.load(Ordering::SeqCst), queries + 1, "d1 was evicted");
}

#[test]
fn an_expired_answer_goes_before_any_live_one() {
    let clock = Arc::new(ManualClock::new());
    let cache = one_shard(3, clock.clone());
    let rt = runtime();
    let mut short = Synthetic::new(20);
    short.ttl = 10;
    let long = Synthetic::new(20);
    rt.block_on(cache.lookup(&short, "short.example", RecordType::Txt)).expect("answer");
    clock.advance(Duration::from_secs(20));
    for name in ["b.example", "c.example", "d.example"] {
        rt.block_on(cache.lookup(&long, name, RecordType::Txt)).expect("answer");
    }
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.expirations, stats.evictions), (3, 1, 0), "{stats:?}");
}

#[test]
fn hits_from_many_threads_are_each_counted() {
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    let upstream = Arc::new(Synthetic::new(20));
    runtime().block_on(cache.lookup(&*upstream, "hot.example", RecordType::Txt)).expect("answer");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (cache, upstream) = (Arc::clone(&cache), Arc::clone(&upstream));
            std::thread::spawn(move || {
                let rt = runtime();
                for _ in 0..5_000 {
                    rt.block_on(cache.lookup(&*upstream, "hot.example", RecordType::Txt)).expect("answer");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (20_000, 1, 1), "{stats:?}");
    assert_eq!(upstream.queries.load(Ordering::SeqCst), 1);
}

#[test]
fn clearing_empties_every_shard_and_the_next_lookup_asks_again() {
    let cache = Cache::new(CacheConfig::default());
    let upstream = Synthetic::new(20);
    let rt = runtime();
    for i in 0..100 {
        rt.block_on(cache.lookup(&upstream, &format!("d{i}.example"), RecordType::Txt)).expect("answer");
    }
    assert_eq!(cache.stats().entries, 100);
    cache.clear();
    assert_eq!((cache.stats().entries, cache.stats().bytes), (0, 0));
    rt.block_on(cache.lookup(&upstream, "d7.example", RecordType::Txt)).expect("answer");
    assert_eq!(upstream.queries.load(Ordering::SeqCst), 101);
}
