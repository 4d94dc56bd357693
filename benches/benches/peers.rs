//! fastspf against the two Rust peer SPF libraries, mail-auth and viaspf, on
//! the same warm-check data ([`provider_zone_text`], [`WARM_CASES`]) in the
//! same run. `cargo bench -p spf-benches --bench peers`.
//!
//! Every library gets the records of the provider zone in memory and checks
//! the MAIL FROM identity, as `Checker::check` does:
//!
//! - fastspf: `Checker` over `DnsSource::Zone`, its cache warmed by one check.
//! - mail-auth: `MessageAuthenticator::verify_spf` with its five resolver
//!   caches pre-filled with every record of the zone (TXT records parsed, as
//!   mail-auth caches them), through the `Mutex<HashMap>` cache with expiry
//!   check that mail-auth's documentation shows. The resolver has no name
//!   servers, so a cache miss could not reach the network (it would end in
//!   temperror and the agreement check would catch it).
//! - viaspf: `evaluate_sender` with a `Lookup` over a plain `HashMap` (viaspf
//!   has no cache of its own; it re-parses the records on every check).
//!
//! Before timing, each peer's result is compared with fastspf's for every
//! case; a peer that disagrees (or does not complete without I/O) is reported
//! on stderr and left out of that case. After the criterion groups, a table of
//! ns/check and the ratio fastspf / peer, timed with plain loops, goes to
//! stdout (criterion does not expose ratios).

use std::borrow::{Borrow, Cow};
use std::collections::HashMap;
use std::hash::Hash;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::Criterion;
use spf_benches::{WARM_CASES, provider_zone, provider_zone_text};
use spf_core::{Checker, CheckerConfig, Evaluation};

const HELO: &str = "helo.example";

/// The records of [`provider_zone_text`], keyed by lower-case absolute name
/// (with the trailing dot).
#[derive(Debug, Default)]
struct ZoneData {
    ttl: u32,
    txt: HashMap<String, Vec<String>>,
    a: HashMap<String, Vec<Ipv4Addr>>,
    aaaa: HashMap<String, Vec<Ipv6Addr>>,
    mx: HashMap<String, Vec<(u16, String)>>,
}

impl ZoneData {
    /// Parses the master-file subset the benchmark zone uses: `$TTL`,
    /// absolute owner names, optional TTL and class, and TXT, A, AAAA and MX
    /// records. Anything else panics, so that a change to the generator
    /// cannot silently feed the peers different data from fastspf.
    fn parse(text: &str) -> ZoneData {
        let mut zone = ZoneData { ttl: 3600, ..ZoneData::default() };
        for (n, line) in text.lines().enumerate() {
            let tokens = tokenize(line);
            let Some((first, _)) = tokens.first() else { continue };
            let bad = |why: &str| -> ! { panic!("zone line {}: {why}: {line:?}", n + 1) };
            if first == "$TTL" {
                zone.ttl = tokens.get(1).and_then(|(t, _)| t.parse().ok()).unwrap_or_else(|| bad("bad $TTL"));
                continue;
            }
            if first.starts_with('$') {
                bad("unsupported directive");
            }
            if !first.ends_with('.') {
                bad("owner name is not absolute");
            }
            let name = first.to_ascii_lowercase();
            let mut rest = &tokens[1..];
            if rest.first().is_some_and(|(t, _)| t.bytes().all(|b| b.is_ascii_digit())) {
                rest = &rest[1..];
            }
            if rest.first().is_some_and(|(t, _)| t.eq_ignore_ascii_case("IN")) {
                rest = &rest[1..];
            }
            let Some(((rtype, _), rdata)) = rest.split_first() else { bad("no record type") };
            match rtype.to_ascii_uppercase().as_str() {
                "TXT" => {
                    if rdata.is_empty() || rdata.iter().any(|(_, quoted)| !quoted) {
                        bad("TXT data must be quoted strings");
                    }
                    let joined = rdata.iter().map(|(s, _)| s.as_str()).collect::<String>();
                    zone.txt.entry(name).or_default().push(joined);
                }
                "A" => {
                    let ip = rdata.first().and_then(|(t, _)| t.parse().ok()).unwrap_or_else(|| bad("bad A"));
                    zone.a.entry(name).or_default().push(ip);
                }
                "AAAA" => {
                    let ip =
                        rdata.first().and_then(|(t, _)| t.parse().ok()).unwrap_or_else(|| bad("bad AAAA"));
                    zone.aaaa.entry(name).or_default().push(ip);
                }
                "MX" => {
                    let [(pref, _), (exchange, _)] = rdata else { bad("bad MX") };
                    let pref = pref.parse().unwrap_or_else(|_| bad("bad MX preference"));
                    if !exchange.ends_with('.') {
                        bad("MX exchange is not absolute");
                    }
                    zone.mx.entry(name).or_default().push((pref, exchange.to_ascii_lowercase()));
                }
                _ => bad("unsupported record type"),
            }
        }
        zone
    }
}

/// Splits a master-file line into tokens, `(text, was quoted)`; quoted
/// strings lose their quotes and `\` escapes; `;` starts a comment.
fn tokenize(line: &str) -> Vec<(String, bool)> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == ';' {
            break;
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => s.extend(chars.next()),
                    Some(c) => s.push(c),
                    None => panic!("unterminated string in zone line {line:?}"),
                }
            }
            tokens.push((s, true));
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' || c == ';' {
                    break;
                }
                s.push(c);
                chars.next();
            }
            tokens.push((s, false));
        }
    }
    tokens
}

/// The zone's key for a name: lower case, absolute.
fn zone_key(name: &str) -> Cow<'_, str> {
    let lower = name.bytes().any(|b| b.is_ascii_uppercase());
    match (lower, name.ends_with('.')) {
        (false, true) => Cow::Borrowed(name),
        _ => {
            let mut key = name.to_ascii_lowercase();
            if !key.ends_with('.') {
                key.push('.');
            }
            Cow::Owned(key)
        }
    }
}

/// Polls `work` once with a no-op waker: `Some` with its output if it
/// completed without waiting (a warm check needs no I/O), `None` if not.
fn poll_ready<F: Future>(work: F) -> Option<F::Output> {
    let mut work = pin!(work);
    match work.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// fastspf with its default settings (as in `checks.rs`'s `warm_check`
/// group): the trace off, compiled policies on.
struct Fast {
    checker: Checker,
}

impl Fast {
    fn new() -> Fast {
        let config = CheckerConfig::default().with_zone(Arc::new(provider_zone()));
        Fast { checker: Checker::new(config).expect("checker") }
    }

    fn check(&self, ip: IpAddr, sender: &str) -> Evaluation {
        self.checker.check_blocking(ip, sender, HELO)
    }
}

mod mail_auth_peer {
    use super::*;
    use mail_auth::common::parse::TxtRecordParser;
    use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
    use mail_auth::spf::Spf;
    use mail_auth::spf::verify::SpfParameters;
    use mail_auth::{
        DnssecStatus, MX, MessageAuthenticator, Parameters, RecordSet, ResolverCache, SpfOutput, SpfResult,
        Txt,
    };

    /// The cache of mail-auth's documentation (`dns::cache` module example):
    /// a locked map whose entries expire.
    pub struct MapCache<K, V>(Mutex<HashMap<K, (V, Instant)>>);

    impl<K, V> MapCache<K, V> {
        fn new() -> Self {
            MapCache(Mutex::new(HashMap::new()))
        }
    }

    impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for MapCache<K, V> {
        fn get<Q>(&self, name: &Q) -> Option<V>
        where
            K: Borrow<Q>,
            Q: Hash + Eq + ?Sized,
        {
            let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            let (value, expires) = map.get(name)?;
            (*expires > Instant::now()).then(|| value.clone())
        }

        fn remove<Q>(&self, name: &Q) -> Option<V>
        where
            K: Borrow<Q>,
            Q: Hash + Eq + ?Sized,
        {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(name).map(|(value, _)| value)
        }

        fn insert(&self, key: K, value: V, valid_until: Instant) {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(key, (value, valid_until));
        }
    }

    pub struct Peer {
        auth: MessageAuthenticator,
        txt: MapCache<Box<str>, Txt>,
        mx: MapCache<Box<str>, RecordSet<MX>>,
        ipv4: MapCache<Box<str>, RecordSet<Ipv4Addr>>,
        ipv6: MapCache<Box<str>, RecordSet<Ipv6Addr>>,
        ptr: MapCache<IpAddr, RecordSet<Box<str>>>,
    }

    fn record_set<T>(records: impl IntoIterator<Item = T>) -> RecordSet<T> {
        RecordSet { rrset: records.into_iter().collect(), dnssec_status: DnssecStatus::Indeterminate }
    }

    impl Peer {
        pub fn new(zone: &ZoneData) -> Peer {
            // No name servers: nothing can leave the process.
            let auth = MessageAuthenticator::new(
                ResolverConfig::from_name_servers(Vec::new()),
                ResolverOpts::default(),
            )
            .expect("mail-auth resolver");
            let peer = Peer {
                auth,
                txt: MapCache::new(),
                mx: MapCache::new(),
                ipv4: MapCache::new(),
                ipv6: MapCache::new(),
                ptr: MapCache::new(),
            };
            let until = Instant::now() + Duration::from_secs(u64::from(zone.ttl));
            let key = |name: &str| Box::<str>::from(name);
            for (name, records) in &zone.txt {
                // What mail-auth's `txt_lookup` caches: the first record that
                // parses as SPF, or the error.
                let mut parsed = Err(mail_auth::Error::Dns(mail_auth::DnsError::InvalidRecordType));
                for record in records {
                    parsed = Spf::parse(record.as_bytes());
                    if parsed.is_ok() {
                        break;
                    }
                }
                peer.txt.insert(key(name), Txt::from(parsed), until);
            }
            for (name, ips) in &zone.a {
                peer.ipv4.insert(key(name), record_set(ips.iter().copied()), until);
            }
            for (name, ips) in &zone.aaaa {
                peer.ipv6.insert(key(name), record_set(ips.iter().copied()), until);
            }
            for (name, exchanges) in &zone.mx {
                // As mail-auth's `mx_lookup` stores them: grouped by
                // preference, most preferred first.
                let mut groups: Vec<(u16, Vec<Box<str>>)> = Vec::new();
                for (pref, exchange) in exchanges {
                    match groups.iter_mut().find(|(p, _)| p == pref) {
                        Some((_, group)) => group.push(key(exchange)),
                        None => groups.push((*pref, vec![key(exchange)])),
                    }
                }
                groups.sort_unstable_by_key(|(pref, _)| *pref);
                let mx = groups.into_iter().map(|(preference, exchanges)| MX {
                    exchanges: exchanges.into_boxed_slice(),
                    preference,
                });
                peer.mx.insert(key(name), record_set(mx), until);
            }
            peer
        }

        /// `None` if the check did not complete without waiting.
        pub fn check(&self, ip: IpAddr, sender: &str) -> Option<SpfOutput> {
            let params = Parameters::new(SpfParameters::verify_mail_from(ip, HELO, "unknown", sender))
                .with_txt_cache(&self.txt)
                .with_mx_cache(&self.mx)
                .with_ipv4_cache(&self.ipv4)
                .with_ipv6_cache(&self.ipv6)
                .with_ptr_cache(&self.ptr);
            poll_ready(self.auth.verify_spf(params))
        }
    }

    pub fn result_name(output: &SpfOutput) -> &'static str {
        match output.result() {
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::Neutral => "neutral",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
            SpfResult::None => "none",
        }
    }
}

mod viaspf_peer {
    use super::*;
    use viaspf::lookup::{Lookup, LookupError, LookupResult, Name};
    use viaspf::{Config, DomainName, QueryResult, Sender, SpfResult, evaluate_sender};

    /// viaspf's DNS: the zone's records in a map.
    pub struct MapLookup(Arc<ZoneData>);

    fn answer<T: Clone>(map: &HashMap<String, Vec<T>>, name: &Name) -> LookupResult<Vec<T>> {
        // NXDOMAIN and no-data alike are `NoRecords`, as viaspf's own
        // hickory lookup reports them.
        map.get(zone_key(name.as_str()).as_ref()).cloned().ok_or(LookupError::NoRecords)
    }

    #[async_trait::async_trait]
    impl Lookup for MapLookup {
        async fn lookup_a(&self, name: &Name) -> LookupResult<Vec<Ipv4Addr>> {
            answer(&self.0.a, name)
        }

        async fn lookup_aaaa(&self, name: &Name) -> LookupResult<Vec<Ipv6Addr>> {
            answer(&self.0.aaaa, name)
        }

        async fn lookup_mx(&self, name: &Name) -> LookupResult<Vec<Name>> {
            let mut exchanges = answer(&self.0.mx, name)?;
            exchanges.sort_by_key(|(pref, _)| *pref);
            exchanges
                .into_iter()
                .map(|(_, exchange)| Name::new(&exchange).map_err(|e| LookupError::Dns(Some(Box::new(e)))))
                .collect()
        }

        async fn lookup_txt(&self, name: &Name) -> LookupResult<Vec<String>> {
            answer(&self.0.txt, name)
        }

        async fn lookup_ptr(&self, _ip: IpAddr) -> LookupResult<Vec<Name>> {
            Err(LookupError::NoRecords)
        }
    }

    pub struct Peer {
        lookup: MapLookup,
        config: Config,
        /// viaspf's default `tokio-timeout` feature puts the check under a
        /// tokio timeout (like fastspf's deadline), which needs a runtime
        /// context; nothing runs on this runtime.
        runtime: tokio::runtime::Runtime,
    }

    impl Peer {
        pub fn new(zone: Arc<ZoneData>) -> Peer {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_time().build().expect("tokio runtime");
            Peer { lookup: MapLookup(zone), config: Config::default(), runtime }
        }

        /// `None` if the check did not complete without waiting; `Some(Err)`
        /// if viaspf rejects the sender or HELO.
        pub fn check(&self, ip: IpAddr, sender: &str) -> Option<Result<QueryResult, String>> {
            let sender = match Sender::new(sender) {
                Ok(sender) => sender,
                Err(e) => return Some(Err(format!("sender {sender:?}: {e}"))),
            };
            let helo = DomainName::new(HELO).ok();
            let _context = self.runtime.enter();
            poll_ready(evaluate_sender(&self.lookup, &self.config, ip, &sender, helo.as_ref())).map(Ok)
        }
    }

    pub fn result_name(output: &QueryResult) -> &'static str {
        match output.spf_result {
            SpfResult::Pass => "pass",
            SpfResult::Fail(_) => "fail",
            SpfResult::Softfail => "softfail",
            SpfResult::Neutral => "neutral",
            SpfResult::Temperror => "temperror",
            SpfResult::Permerror => "permerror",
            SpfResult::None => "none",
        }
    }
}

/// The libraries, built once from the same zone text.
struct Libraries {
    fast: Fast,
    mail_auth: mail_auth_peer::Peer,
    viaspf: viaspf_peer::Peer,
}

/// One warm case, and which peers agreed with fastspf on it.
struct Case {
    name: &'static str,
    ip: IpAddr,
    sender: &'static str,
    result: &'static str,
    mail_auth: bool,
    viaspf: bool,
}

/// Runs every case through every library once (which also warms fastspf's
/// cache) and keeps a peer for a case only when it agrees with fastspf.
fn agreed_cases(libs: &Libraries) -> Vec<Case> {
    let mut cases = Vec::new();
    for (name, ip, sender) in WARM_CASES {
        let ip: IpAddr = ip.parse().expect("case ip");
        let cold = libs.fast.check(ip, sender);
        let warm = libs.fast.check(ip, sender);
        assert_eq!(cold.result, warm.result, "{name}: fastspf's warm result differs from its cold one");
        let result = warm.result.as_str();

        let mail_auth = match libs.mail_auth.check(ip, sender) {
            None => Err("did not complete without waiting (a cache miss?)".to_string()),
            Some(output) if mail_auth_peer::result_name(&output) == result => Ok(()),
            Some(output) => Err(format!("{} ({output:?})", mail_auth_peer::result_name(&output))),
        };
        let viaspf = match libs.viaspf.check(ip, sender) {
            None => Err("did not complete without waiting".to_string()),
            Some(Err(e)) => Err(e),
            Some(Ok(output)) if viaspf_peer::result_name(&output) == result => Ok(()),
            Some(Ok(output)) => Err(format!("{} ({output:?})", viaspf_peer::result_name(&output))),
        };
        for (peer, agreed) in [("mail-auth", &mail_auth), ("viaspf", &viaspf)] {
            if let Err(why) = agreed {
                eprintln!(
                    "peers/{name}: SKIPPING {peer}: fastspf says {result} ({:?}, matched {:?}), {peer} says {why}",
                    warm.reason, warm.matched
                );
            }
        }
        cases.push(Case { name, ip, sender, result, mail_auth: mail_auth.is_ok(), viaspf: viaspf.is_ok() });
    }
    cases
}

fn peer_groups(c: &mut Criterion, libs: &Libraries, cases: &[Case]) {
    for case in cases {
        let (ip, sender) = (case.ip, case.sender);
        let mut group = c.benchmark_group(format!("peers/{}", case.name));
        group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(30);
        group.bench_function("fastspf", |b| b.iter(|| libs.fast.check(black_box(ip), black_box(sender))));
        if case.mail_auth {
            group.bench_function("mail_auth", |b| {
                b.iter(|| libs.mail_auth.check(black_box(ip), black_box(sender)))
            });
        }
        if case.viaspf {
            group
                .bench_function("viaspf", |b| b.iter(|| libs.viaspf.check(black_box(ip), black_box(sender))));
        }
        group.finish();
    }
}

/// ns per call of `f`, over `iterations` calls.
fn time_ns<R>(iterations: u32, mut f: impl FnMut() -> R) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(f());
    }
    start.elapsed().as_nanos() as f64 / f64::from(iterations)
}

/// Times the libraries with plain loops, interleaved round by round (so a
/// slow patch of the machine hits every library alike), and prints ns/check
/// (median of the rounds) and the ratio fastspf / peer.
fn ratio_table(libs: &Libraries, cases: &[Case], rounds: usize, per_round: u32) {
    println!();
    println!(
        "peers: warm MAIL FROM check, ns/check (median of {rounds} rounds x {per_round} checks each); \
         ratio = fastspf ns / peer ns (below 1: fastspf is faster)"
    );
    println!(
        "{:<22} {:>9} {:>11} {:>9} {:>11} {:>9}  result",
        "case", "fastspf", "mail-auth", "ratio", "viaspf", "ratio"
    );
    let median = |mut v: Vec<f64>| -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for case in cases {
        let (ip, sender) = (case.ip, case.sender);
        let (mut fast, mut mail_auth, mut viaspf) = (Vec::new(), Vec::new(), Vec::new());
        // Warm-up, not recorded.
        time_ns(per_round / 10, || libs.fast.check(black_box(ip), black_box(sender)));
        if case.mail_auth {
            time_ns(per_round / 10, || libs.mail_auth.check(black_box(ip), black_box(sender)));
        }
        if case.viaspf {
            time_ns(per_round / 10, || libs.viaspf.check(black_box(ip), black_box(sender)));
        }
        for _ in 0..rounds {
            fast.push(time_ns(per_round, || libs.fast.check(black_box(ip), black_box(sender))));
            if case.mail_auth {
                mail_auth.push(time_ns(per_round, || libs.mail_auth.check(black_box(ip), black_box(sender))));
            }
            if case.viaspf {
                viaspf.push(time_ns(per_round, || libs.viaspf.check(black_box(ip), black_box(sender))));
            }
        }
        let fast = median(fast);
        let cell = |agreed: bool, times: Vec<f64>| -> (String, String) {
            if agreed {
                let peer = median(times);
                (format!("{peer:.1}"), format!("{:.3}", fast / peer))
            } else {
                ("skipped".to_string(), "-".to_string())
            }
        };
        let (mail_auth, mail_auth_ratio) = cell(case.mail_auth, mail_auth);
        let (viaspf, viaspf_ratio) = cell(case.viaspf, viaspf);
        println!(
            "{:<22} {:>9.1} {:>11} {:>9} {:>11} {:>9}  {}",
            case.name, fast, mail_auth, mail_auth_ratio, viaspf, viaspf_ratio, case.result
        );
    }
}

fn main() {
    let zone = Arc::new(ZoneData::parse(&provider_zone_text()));
    let libs = Libraries {
        fast: Fast::new(),
        mail_auth: mail_auth_peer::Peer::new(&zone),
        viaspf: viaspf_peer::Peer::new(Arc::clone(&zone)),
    };
    let cases = agreed_cases(&libs);

    let mut c = Criterion::default().configure_from_args();
    peer_groups(&mut c, &libs, &cases);
    c.final_summary();

    // `cargo bench` passes `--bench`; without it (`cargo test --benches`)
    // this is a smoke run, so keep the table quick.
    let full = std::env::args().any(|arg| arg == "--bench");
    let (rounds, per_round) = if full { (5, 40_000) } else { (1, 100) };
    ratio_table(&libs, &cases, rounds, per_round);
}
