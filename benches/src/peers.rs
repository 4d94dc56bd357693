//! The peer SPF libraries, resolving through a real DNS server (for
//! `fastspf-bench replay --peers`): mail-auth through its own
//! hickory-based resolver, viaspf through a `Lookup` over hickory-resolver,
//! both told to ask the given nameserver only. Built with the `peers`
//! feature (both are dependencies of this unpublished bench crate only;
//! viaspf is GPL-3.0-or-later and must never become a dependency of the
//! library).
//!
//! A peer built with `cached: false` keeps nothing between checks beyond
//! what one check asks (a cold check: build one per check); with
//! `cached: true` it caches as its documentation shows (mail-auth: its five
//! parsed-record caches as `Mutex<HashMap>`s with expiry; viaspf has no
//! cache of its own, so hickory-resolver's answer cache).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

/// hickory-resolver's configuration for one nameserver (UDP, and TCP for
/// truncated answers), with `timeout` per query and hickory's other
/// defaults; `cache` answers at most (0: none).
fn resolver_parts(server: SocketAddr, timeout: Duration, cache: u64) -> (ResolverConfig, ResolverOpts) {
    let mut udp = ConnectionConfig::udp();
    udp.port = server.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = server.port();
    let config =
        ResolverConfig::from_name_servers(vec![NameServerConfig::new(server.ip(), true, vec![udp, tcp])]);
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.cache_size = cache;
    (config, opts)
}

/// A locked map whose entries expire: the cache of mail-auth's
/// documentation.
struct MapCache<K, V>(Mutex<HashMap<K, (V, Instant)>>);

impl<K, V> MapCache<K, V> {
    fn new() -> Self {
        MapCache(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq, V: Clone> mail_auth::ResolverCache<K, V> for MapCache<K, V> {
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

/// mail-auth's caches of parsed records.
struct MailAuthCaches {
    txt: MapCache<Box<str>, mail_auth::Txt>,
    mx: MapCache<Box<str>, mail_auth::RecordSet<mail_auth::MX>>,
    ipv4: MapCache<Box<str>, mail_auth::RecordSet<Ipv4Addr>>,
    ipv6: MapCache<Box<str>, mail_auth::RecordSet<Ipv6Addr>>,
    ptr: MapCache<IpAddr, mail_auth::RecordSet<Box<str>>>,
}

/// mail-auth 0.13 (`MessageAuthenticator::verify_spf` of the MAIL FROM
/// identity).
#[allow(missing_debug_implementations)]
pub struct MailAuth {
    auth: mail_auth::MessageAuthenticator,
    caches: Option<MailAuthCaches>,
}

impl MailAuth {
    /// Asks `server` only. `cached`: see the module documentation.
    pub fn new(server: SocketAddr, timeout: Duration, cached: bool) -> Result<MailAuth, String> {
        let (config, opts) = resolver_parts(server, timeout, if cached { 8192 } else { 0 });
        let auth = mail_auth::MessageAuthenticator::new(config, opts).map_err(|e| e.to_string())?;
        let caches = cached.then(|| MailAuthCaches {
            txt: MapCache::new(),
            mx: MapCache::new(),
            ipv4: MapCache::new(),
            ipv6: MapCache::new(),
            ptr: MapCache::new(),
        });
        Ok(MailAuth { auth, caches })
    }

    /// The result's name (`pass`, `fail`, ...). Runs on the caller's tokio
    /// runtime (I/O and time enabled).
    pub async fn check(&self, ip: IpAddr, mail_from: &str, helo: &str) -> &'static str {
        let sender = if mail_from.is_empty() { format!("postmaster@{helo}") } else { mail_from.to_string() };
        let params = mail_auth::spf::verify::SpfParameters::verify_mail_from(ip, helo, "unknown", &sender);
        let output = match &self.caches {
            None => self.auth.verify_spf(mail_auth::Parameters::new(params)).await,
            Some(c) => {
                let params = mail_auth::Parameters::new(params)
                    .with_txt_cache(&c.txt)
                    .with_mx_cache(&c.mx)
                    .with_ipv4_cache(&c.ipv4)
                    .with_ipv6_cache(&c.ipv6)
                    .with_ptr_cache(&c.ptr);
                self.auth.verify_spf(params).await
            }
        };
        use mail_auth::SpfResult as R;
        match output.result() {
            R::Pass => "pass",
            R::Fail => "fail",
            R::SoftFail => "softfail",
            R::Neutral => "neutral",
            R::TempError => "temperror",
            R::PermError => "permerror",
            R::None => "none",
        }
    }
}

/// viaspf 0.7 (`evaluate_sender`) over hickory-resolver, as viaspf's own
/// hickory adapter maps answers (no records and NXDOMAIN alike are
/// `NoRecords`, a timeout is `Timeout`).
#[allow(missing_debug_implementations)]
pub struct Viaspf {
    lookup: HickoryLookup,
    config: viaspf::Config,
}

struct HickoryLookup(hickory_resolver::Resolver<TokioRuntimeProvider>);

impl HickoryLookup {
    async fn answers(
        &self,
        name: &viaspf::lookup::Name,
        rtype: hickory_resolver::proto::rr::RecordType,
    ) -> viaspf::lookup::LookupResult<Vec<RData>> {
        use viaspf::lookup::LookupError;
        let mut fqdn = name.as_str().to_string();
        if !fqdn.ends_with('.') {
            fqdn.push('.');
        }
        match self.0.lookup(fqdn.as_str(), rtype).await {
            Ok(lookup) => Ok(lookup.answers().iter().map(|r| r.data.clone()).collect()),
            Err(e) if e.is_no_records_found() => Err(LookupError::NoRecords),
            Err(hickory_resolver::net::NetError::Timeout) => Err(LookupError::Timeout),
            Err(e) => Err(LookupError::Dns(Some(Box::new(e)))),
        }
    }
}

fn via_name(name: &hickory_resolver::proto::rr::Name) -> viaspf::lookup::LookupResult<viaspf::lookup::Name> {
    viaspf::lookup::Name::new(&name.to_ascii())
        .map_err(|e| viaspf::lookup::LookupError::Dns(Some(Box::new(e))))
}

#[async_trait::async_trait]
impl viaspf::lookup::Lookup for HickoryLookup {
    async fn lookup_a(&self, name: &viaspf::lookup::Name) -> viaspf::lookup::LookupResult<Vec<Ipv4Addr>> {
        use hickory_resolver::proto::rr::RecordType as T;
        let data = self.answers(name, T::A).await?;
        Ok(data.into_iter().filter_map(|d| if let RData::A(a) = d { Some(a.0) } else { None }).collect())
    }

    async fn lookup_aaaa(&self, name: &viaspf::lookup::Name) -> viaspf::lookup::LookupResult<Vec<Ipv6Addr>> {
        use hickory_resolver::proto::rr::RecordType as T;
        let data = self.answers(name, T::AAAA).await?;
        Ok(data.into_iter().filter_map(|d| if let RData::AAAA(a) = d { Some(a.0) } else { None }).collect())
    }

    async fn lookup_mx(
        &self,
        name: &viaspf::lookup::Name,
    ) -> viaspf::lookup::LookupResult<Vec<viaspf::lookup::Name>> {
        use hickory_resolver::proto::rr::RecordType as T;
        let mut mx: Vec<_> = self
            .answers(name, T::MX)
            .await?
            .into_iter()
            .filter_map(|d| if let RData::MX(mx) = d { Some(mx) } else { None })
            .collect();
        mx.sort_by_key(|mx| mx.preference);
        mx.iter().map(|mx| via_name(&mx.exchange)).collect()
    }

    async fn lookup_txt(&self, name: &viaspf::lookup::Name) -> viaspf::lookup::LookupResult<Vec<String>> {
        use hickory_resolver::proto::rr::RecordType as T;
        let data = self.answers(name, T::TXT).await?;
        Ok(data
            .into_iter()
            .filter_map(|d| match d {
                RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| String::from_utf8_lossy(s)).collect()),
                _ => None,
            })
            .collect())
    }

    async fn lookup_ptr(&self, ip: IpAddr) -> viaspf::lookup::LookupResult<Vec<viaspf::lookup::Name>> {
        use hickory_resolver::proto::rr::RecordType as T;
        let reverse = hickory_resolver::proto::rr::Name::from(ip);
        let name = viaspf::lookup::Name::new(&reverse.to_ascii())
            .map_err(|e| viaspf::lookup::LookupError::Dns(Some(Box::new(e))))?;
        let data = self.answers(&name, T::PTR).await?;
        data.into_iter()
            .filter_map(|d| if let RData::PTR(p) = d { Some(via_name(&p.0)) } else { None })
            .collect()
    }
}

impl Viaspf {
    /// Asks `server` only. `cached`: hickory-resolver's answer cache on.
    pub fn new(server: SocketAddr, timeout: Duration, cached: bool) -> Result<Viaspf, String> {
        let (config, opts) = resolver_parts(server, timeout, if cached { 8192 } else { 0 });
        let resolver =
            hickory_resolver::Resolver::builder_with_config(config, TokioRuntimeProvider::default())
                .with_options(opts)
                .build()
                .map_err(|e| e.to_string())?;
        Ok(Viaspf { lookup: HickoryLookup(resolver), config: viaspf::Config::default() })
    }

    /// The result's name. Runs on the caller's tokio runtime.
    pub async fn check(&self, ip: IpAddr, mail_from: &str, helo: &str) -> &'static str {
        let sender = if mail_from.is_empty() {
            viaspf::Sender::from_domain(helo)
        } else {
            viaspf::Sender::new(mail_from)
        };
        let Ok(sender) = sender else { return "none" };
        let helo = viaspf::DomainName::new(helo).ok();
        let output = viaspf::evaluate_sender(&self.lookup, &self.config, ip, &sender, helo.as_ref()).await;
        use viaspf::SpfResult as R;
        match output.spf_result {
            R::Pass => "pass",
            R::Fail(_) => "fail",
            R::Softfail => "softfail",
            R::Neutral => "neutral",
            R::Temperror => "temperror",
            R::Permerror => "permerror",
            R::None => "none",
        }
    }
}
