//! Real DNS through hickory-resolver.
//!
//! hickory's own response cache is turned off (`cache_size = 0`): the one
//! cache whose behaviour fastspf controls and measures is
//! [`Cache`](super::Cache), shared by every check.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType as HickoryType};

use super::{Answer, Lookup, LookupError, LookupResult, RecordType, Records, TempFailure, TxtRecords};
use crate::Error;

/// Negative TTL used when a negative answer carries no SOA (RFC 2308 §5
/// says such answers should not be cached long).
const NEGATIVE_TTL_WITHOUT_SOA: u32 = 60;

/// How to reach DNS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverSettings {
    /// Recursive resolvers to ask, `IP:PORT`. Empty: the system's
    /// (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Time to wait for one answer. Default 5 s.
    pub timeout: Duration,
    /// Tries per query, across the nameservers. Default 2.
    pub attempts: usize,
}

impl Default for ResolverSettings {
    fn default() -> Self {
        ResolverSettings { nameservers: Vec::new(), timeout: Duration::from_secs(5), attempts: 2 }
    }
}

/// Parses `IP`, `IP:PORT`, `[IPv6]:PORT` (port 53 when absent).
pub fn parse_nameserver(text: &str) -> Result<SocketAddr, Error> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| Error::InvalidNameserver(text.to_string()))
}

/// A [`Lookup`] over hickory-resolver: UDP with TCP fallback for truncated
/// answers, CNAMEs followed, no cache of its own.
#[derive(Clone)]
pub struct HickoryLookup {
    resolver: TokioResolver,
}

impl std::fmt::Debug for HickoryLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryLookup").finish_non_exhaustive()
    }
}

impl HickoryLookup {
    /// Builds the resolver. Call inside the tokio runtime that will drive it.
    pub fn new(settings: &ResolverSettings) -> Result<HickoryLookup, Error> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if settings.nameservers.is_empty() {
            TokioResolver::builder(provider).map_err(|e| Error::Resolver(e.to_string()))?
        } else {
            let servers = settings
                .nameservers
                .iter()
                .map(|addr| {
                    let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                    for connection in &mut server.connections {
                        connection.port = addr.port();
                    }
                    server
                })
                .collect();
            TokioResolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider)
        };
        let options = builder.options_mut();
        options.cache_size = 0;
        options.timeout = settings.timeout;
        options.attempts = settings.attempts.max(1);
        options.use_hosts_file = ResolveHosts::Never;
        options.edns0 = true;
        options.ndots = 0;
        options.max_active_requests = options.max_active_requests.max(256);
        let resolver = builder.build().map_err(|e| Error::Resolver(e.to_string()))?;
        Ok(HickoryLookup { resolver })
    }
}

fn hickory_type(rtype: RecordType) -> HickoryType {
    match rtype {
        RecordType::Txt => HickoryType::TXT,
        RecordType::A => HickoryType::A,
        RecordType::Aaaa => HickoryType::AAAA,
        RecordType::Mx => HickoryType::MX,
        RecordType::Ptr => HickoryType::PTR,
    }
}

/// A name as SPF needs it: lower case, no trailing dot.
fn plain(name: &Name) -> Box<str> {
    let mut text = name.to_ascii();
    if text.ends_with('.') {
        text.pop();
    }
    text.make_ascii_lowercase();
    text.into_boxed_str()
}

impl Lookup for HickoryLookup {
    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        // Labels may hold any octet (macro expansions can put spaces or `%`
        // in them), so build the name from raw labels, absolute.
        let Ok(mut fqdn) = Name::from_labels(name.split('.').filter(|l| !l.is_empty()).map(str::as_bytes))
        else {
            return Err(LookupError::NxDomain { ttl: NEGATIVE_TTL_WITHOUT_SOA });
        };
        fqdn.set_fqdn(true);
        let wanted = hickory_type(rtype);
        match self.resolver.lookup(fqdn, wanted).await {
            Ok(lookup) => {
                // The RRset's TTL as received (hickory's cache is off, so
                // nothing has aged it).
                let matching = || lookup.answers().iter().filter(|r| r.record_type() == wanted);
                let ttl = matching().map(|r| r.ttl).min().unwrap_or(0);
                let data = matching().map(|r| &r.data);
                let records = match rtype {
                    RecordType::Txt => {
                        Records::Txt(Arc::new(TxtRecords::new(data.filter_map(|d| match d {
                            RData::TXT(txt) => {
                                Some(txt.txt_data.iter().map(|s| s.to_vec()).collect::<Vec<_>>())
                            }
                            _ => None,
                        }))))
                    }
                    RecordType::A => Records::A(
                        data.filter_map(|d| if let RData::A(a) = d { Some(a.0) } else { None }).collect(),
                    ),
                    RecordType::Aaaa => Records::Aaaa(
                        data.filter_map(|d| if let RData::AAAA(a) = d { Some(a.0) } else { None }).collect(),
                    ),
                    RecordType::Mx => {
                        let mut mx: Vec<(u16, Box<str>)> = data
                            .filter_map(|d| {
                                if let RData::MX(mx) = d {
                                    Some((mx.preference, plain(&mx.exchange)))
                                } else {
                                    None
                                }
                            })
                            .collect();
                        mx.sort_by_key(|(pref, _)| *pref);
                        Records::Mx(mx.into_iter().map(|(_, n)| n).collect())
                    }
                    RecordType::Ptr => Records::Ptr(
                        data.filter_map(|d| if let RData::PTR(p) = d { Some(plain(&p.0)) } else { None })
                            .collect(),
                    ),
                };
                if records.is_empty() {
                    return Err(LookupError::NoData { ttl: NEGATIVE_TTL_WITHOUT_SOA });
                }
                Ok(Answer { records, ttl })
            }
            Err(error) => Err(map_error(error)),
        }
    }
}

/// RFC 7208 §2.6.6 / §4.4: NXDOMAIN and "no data" are answers; everything
/// else (SERVFAIL, REFUSED, timeouts, network errors) is a temporary error.
fn map_error(error: NetError) -> LookupError {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(no)) => {
            let ttl = no.negative_ttl.unwrap_or(NEGATIVE_TTL_WITHOUT_SOA);
            match no.response_code {
                ResponseCode::NXDomain => LookupError::NxDomain { ttl },
                ResponseCode::NoError => LookupError::NoData { ttl },
                other => LookupError::Temporary(TempFailure::Rcode { rcode: other.to_string().into() }),
            }
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => {
            LookupError::NxDomain { ttl: NEGATIVE_TTL_WITHOUT_SOA }
        }
        NetError::Dns(DnsError::ResponseCode(code)) => {
            LookupError::Temporary(TempFailure::Rcode { rcode: code.to_string().into() })
        }
        NetError::Timeout => LookupError::Temporary(TempFailure::Timeout),
        other => LookupError::Temporary(TempFailure::Other(other.to_string().into())),
    }
}
