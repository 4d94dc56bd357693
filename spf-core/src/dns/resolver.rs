//! Real DNS: a stub resolver that asks the configured recursive nameservers
//! (or the system's, from `/etc/resolv.conf`) over UDP, and over TCP when an
//! answer is truncated. Messages are built and read with hickory-proto; the
//! exchange itself is written here.
//!
//! Why not hickory-resolver's resolver: SPF evaluation needs control it does
//! not give. Every question put on the wire must be charged to the check
//! that caused it ([`QueryBudget`]): a nameserver that answers a CNAME
//! chain one hop at a time made hickory send 881 queries for ten `mx` terms.
//! A CNAME loop, or a chain longer than [`MAX_CNAME_HOPS`], must be a
//! temporary error as it is for an in-memory [`Zone`](super::Zone), not "no
//! records". `attempts` must mean total tries. And fastspf has its own
//! cache, single-flight and limits in front of this, so the resolver's own
//! cache, retry policy and lookup machinery are work a check pays for and
//! does not use.
//!
//! What it does: one question per exchange, a random 16-bit ID and, for a
//! nameserver on another host, a fresh socket (a random source port, chosen
//! by the operating system) per question; an answer is accepted only from
//! the server asked, with the ID and the question asked (anything else is ignored, not a failure); EDNS0
//! with a 1,232-octet UDP payload; a truncated answer is asked again over
//! TCP. `attempts` tries in all, rotating over the nameservers, each waiting
//! at most `timeout`; a SERVFAIL or REFUSED moves on to the next nameserver
//! not yet asked. CNAMEs are followed through the answer; when the answer
//! stops at an alias whose target it does not answer for (an authoritative
//! server does that for targets outside its zones), the target is asked in
//! a new question.
//!
//! A nameserver on the same host (a loopback address: a local Unbound,
//! Knot Resolver, systemd-resolved) is asked through connected UDP sockets
//! kept between questions ([`SocketPool`]), at most
//! [`SocketPool::MAX_IDLE`] idle per nameserver: a fresh socket costs
//! the kernel a socket, a port search, a connect and a close per question,
//! about 15 % of the CPU of an empty-cache check against such a server
//! (perf). A fresh random port per question (RFC 5452 §9.2) defends
//! against forgers off the path, who cannot reach a loopback address: the
//! kernel drops datagrams for 127.0.0.0/8 or ::1 that arrive on any other
//! interface (unless `net.ipv4.conf.*.route_localnet` is set). A socket
//! goes back to the pool only after it read the answer it waited for; one
//! whose try failed or was abandoned is closed, and a late datagram left on
//! a kept socket is skipped like any other that does not answer the
//! question (the ID and the question).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType as WireType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{
    Answer, Lookup, LookupError, LookupResult, MAX_CNAME_HOPS, QueryBudget, RecordType, Records, TempFailure,
    TxtRecords,
};
use crate::Error;

/// Negative TTL used when a negative answer carries no SOA (RFC 2308 §5
/// says such answers should not be cached long).
const NEGATIVE_TTL_WITHOUT_SOA: u32 = 60;

/// The UDP payload advertised with EDNS0 (the DNS flag day 2020 value):
/// larger answers come truncated and are asked again over TCP.
const EDNS_PAYLOAD: u16 = 1232;

/// Largest UDP answer read. Servers should send at most [`EDNS_PAYLOAD`];
/// one that sends more is read up to here and then parsed or ignored.
const MAX_UDP_ANSWER: usize = 4096;

/// How to reach DNS.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolverSettings {
    /// Recursive resolvers to ask, `IP:PORT`. Empty: the system's
    /// (`nameserver` lines of `/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Time to wait for one answer. Default 5 s.
    pub timeout: Duration,
    /// Tries per question in all, rotating over the nameservers: 2 tries
    /// of 5 s cost at most 10 s for a dead server. Default 2.
    pub attempts: usize,
}

impl Default for ResolverSettings {
    fn default() -> Self {
        ResolverSettings { nameservers: Vec::new(), timeout: Duration::from_secs(5), attempts: 2 }
    }
}

impl ResolverSettings {
    /// These recursive nameservers (empty: the system's).
    pub fn with_nameservers(mut self, nameservers: Vec<SocketAddr>) -> Self {
        self.nameservers = nameservers;
        self
    }

    /// This long a wait for one answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// This many tries per question in all.
    pub fn with_attempts(mut self, attempts: usize) -> Self {
        self.attempts = attempts;
        self
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

/// A [`Lookup`] that asks recursive nameservers. See the module documentation.
#[derive(Clone, Debug)]
pub struct Resolver {
    servers: Arc<[SocketAddr]>,
    timeout: Duration,
    attempts: usize,
    /// How long the nameservers take to answer, shared by the clones.
    latency: Arc<LatencyGauge>,
    /// For each of `servers`, its kept sockets if it is on this host.
    pools: Arc<[Option<SocketPool>]>,
}

/// Idle connected UDP sockets to one nameserver on this host (see the
/// module documentation). Kept unregistered (plain `std` sockets), so a
/// socket can serve a question on any runtime and thread.
///
/// A forked process shares its parent's sockets: were both to ask through
/// one, either could read the other's answers. So the pool remembers the
/// process that filled it, and a process that finds another's sockets
/// closes its copies and opens its own.
#[derive(Debug, Default)]
struct SocketPool {
    idle: Mutex<Idle>,
}

#[derive(Debug, Default)]
struct Idle {
    /// The process the sockets belong to.
    pid: u32,
    sockets: Vec<std::net::UdpSocket>,
}

impl SocketPool {
    /// Most sockets kept idle per nameserver: questions in flight beyond
    /// this many at once open fresh sockets and close them after.
    const MAX_IDLE: usize = 32;

    fn take(&self) -> Option<std::net::UdpSocket> {
        self.take_in(std::process::id())
    }

    fn take_in(&self, pid: u32) -> Option<std::net::UdpSocket> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.pid != pid {
            // Another process's (a parent's, before a fork): not ours to use.
            idle.sockets.clear();
            idle.pid = pid;
        }
        idle.sockets.pop()
    }

    fn put(&self, socket: std::net::UdpSocket) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.sockets.len() < Self::MAX_IDLE {
            idle.sockets.push(socket);
        }
    }

    #[cfg(test)]
    fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).sockets.len()
    }
}

/// A running average of the time one try takes (from sending the question
/// to reading its answer, or to giving up on it at the timeout): an
/// exponentially weighted moving average where each new try weighs
/// 1/[`LatencyGauge::WEIGHT`].
#[derive(Debug, Default)]
pub(crate) struct LatencyGauge {
    /// The average, nanoseconds.
    average: AtomicU64,
    /// Tries seen.
    samples: AtomicU64,
}

impl LatencyGauge {
    /// Each new try weighs 1/8 in the average.
    pub(crate) const WEIGHT: u64 = 8;
    /// Tries seen before the average means anything: fewer, and it would
    /// be one or two answers' times.
    pub(crate) const MIN_SAMPLES: u64 = 8;

    /// Counts one try that took `took`.
    pub(crate) fn record(&self, took: Duration) {
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let first = self.samples.fetch_add(1, Ordering::Relaxed) == 0;
        let _ = self.average.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |average| {
            Some(if first {
                took
            } else if took >= average {
                average + (took - average) / Self::WEIGHT
            } else {
                average - (average - took) / Self::WEIGHT
            })
        });
    }

    /// The average, once [`Self::MIN_SAMPLES`] tries were seen.
    pub(crate) fn average(&self) -> Option<Duration> {
        (self.samples.load(Ordering::Relaxed) >= Self::MIN_SAMPLES)
            .then(|| Duration::from_nanos(self.average.load(Ordering::Relaxed)))
    }
}

impl Resolver {
    /// A resolver for `settings`; with no nameservers given, those of
    /// `/etc/resolv.conf`.
    pub fn new(settings: &ResolverSettings) -> Result<Resolver, Error> {
        let servers: Vec<SocketAddr> = if settings.nameservers.is_empty() {
            system_nameservers()?
        } else {
            settings.nameservers.clone()
        };
        if servers.is_empty() {
            return Err(Error::Resolver("no nameserver configured".to_string()));
        }
        let pools = servers.iter().map(|s| s.ip().is_loopback().then(SocketPool::default)).collect();
        Ok(Resolver {
            pools,
            servers: servers.into(),
            timeout: settings.timeout,
            attempts: settings.attempts.max(1),
            latency: Arc::default(),
        })
    }

    /// The nameservers asked, in order.
    pub fn nameservers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// The running average of the time one try at a nameserver takes
    /// (sending the question to reading the answer; a try that times out
    /// counts its timeout), each new try weighing 1/8; `None` until 8
    /// tries were made. Shared by the resolver's clones (a checker's).
    pub fn mean_latency(&self) -> Option<Duration> {
        self.latency.average()
    }

    /// Asks one question: `attempts` tries over the nameservers.
    async fn exchange(
        &self,
        name: &Name,
        rtype: WireType,
        budget: &QueryBudget,
    ) -> Result<Message, TempFailure> {
        let mut request = Message::query();
        request.metadata.recursion_desired = true;
        request.add_query(Query::query(name.clone(), rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        request.set_edns(edns);
        let bytes = request.to_vec().map_err(|e| TempFailure::Other(e.to_string().into()))?;
        let id = request.metadata.id;
        if !budget.take() {
            return Err(TempFailure::QueryLimit);
        }
        let mut failure = TempFailure::Timeout;
        let mut refused_by = 0;
        for attempt in 0..self.attempts {
            let index = attempt % self.servers.len();
            let (server, pool) = (self.servers[index], self.pools[index].as_ref());
            let sent = Instant::now();
            let answer =
                tokio::time::timeout(self.timeout, exchange_with(server, pool, &bytes, id, name, rtype))
                    .await;
            if matches!(answer, Ok(Ok(_)) | Err(_)) {
                self.latency.record(sent.elapsed());
            }
            match answer {
                Ok(Ok(response)) => match response.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => return Ok(response),
                    code => {
                        failure = TempFailure::Rcode { rcode: code.to_string().into() };
                        refused_by += 1;
                        // Every nameserver said so: no point asking again.
                        if refused_by >= self.servers.len() {
                            break;
                        }
                    }
                },
                Ok(Err(error)) => failure = error,
                Err(_) => failure = TempFailure::Timeout,
            }
        }
        Err(failure)
    }
}

/// The nameservers of `/etc/resolv.conf`.
fn system_nameservers() -> Result<Vec<SocketAddr>, Error> {
    let (config, _) =
        hickory_resolver::system_conf::read_system_conf().map_err(|e| Error::Resolver(e.to_string()))?;
    let mut servers = Vec::new();
    for server in config.name_servers() {
        let port = server.connections.first().map_or(53, |c| c.port);
        let addr = SocketAddr::new(server.ip, port);
        if !servers.contains(&addr) {
            servers.push(addr);
        }
    }
    Ok(servers)
}

/// One try at one nameserver: UDP, then TCP when the answer is truncated.
async fn exchange_with(
    server: SocketAddr,
    pool: Option<&SocketPool>,
    request: &[u8],
    id: u16,
    name: &Name,
    rtype: WireType,
) -> Result<Message, TempFailure> {
    let response = udp_exchange(server, pool, request, id, name, rtype).await?;
    if response.metadata.truncation {
        return tcp_exchange(server, request, id, name, rtype).await;
    }
    Ok(response)
}

fn io_failure(error: std::io::Error) -> TempFailure {
    TempFailure::Other(error.to_string().into())
}

/// Whether `response` answers the question asked: the ID, a response, the
/// one question (name case-insensitively, type, class IN).
fn answers(response: &Message, id: u16, name: &Name, rtype: WireType) -> bool {
    response.metadata.id == id
        && response.metadata.message_type == MessageType::Response
        && response.metadata.op_code == OpCode::Query
        && matches!(response.queries.as_slice(), [q] if q.name() == name && q.query_type() == rtype && q.query_class() == DNSClass::IN)
}

/// A non-blocking UDP socket connected to `server`; connecting binds it to
/// a port the operating system picks at random.
fn connected_socket(server: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(server), Type::DGRAM.nonblocking(), Some(Protocol::UDP))?;
    // Connected: the kernel drops datagrams from any other address.
    socket.connect(&server.into())?;
    Ok(socket.into())
}

async fn udp_exchange(
    server: SocketAddr,
    pool: Option<&SocketPool>,
    request: &[u8],
    id: u16,
    name: &Name,
    rtype: WireType,
) -> Result<Message, TempFailure> {
    let socket = match pool.and_then(SocketPool::take) {
        Some(kept) => kept,
        None => connected_socket(server).map_err(io_failure)?,
    };
    let socket = tokio::net::UdpSocket::from_std(socket).map_err(io_failure)?;
    socket.send(request).await.map_err(io_failure)?;
    let mut buffer = vec![0u8; MAX_UDP_ANSWER];
    loop {
        let len = socket.recv(&mut buffer).await.map_err(io_failure)?;
        match decode(&buffer[..len]) {
            Ok(response) if answers(&response, id, name, rtype) => {
                if let Some(pool) = pool
                    && let Ok(socket) = socket.into_std()
                {
                    pool.put(socket);
                }
                return Ok(response);
            }
            // A response with our ID that cannot be read (an empty TXT
            // RDATA, a broken name): a failed try now, not a wait for the
            // timeout.
            Err(error)
                if buffer[..len].starts_with(&id.to_be_bytes()) && len > 2 && buffer[2] & 0x80 != 0 =>
            {
                return Err(TempFailure::Other(format!("malformed answer: {error}").into()));
            }
            // Not an answer to this question (a stray or forged datagram,
            // or a late answer to an earlier question on a kept socket):
            // keep waiting, within the try's timeout.
            _ => {}
        }
    }
}

async fn tcp_exchange(
    server: SocketAddr,
    request: &[u8],
    id: u16,
    name: &Name,
    rtype: WireType,
) -> Result<Message, TempFailure> {
    let mut stream = tokio::net::TcpStream::connect(server).await.map_err(io_failure)?;
    let len = u16::try_from(request.len()).map_err(|_| TempFailure::Other("request too long".into()))?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(request);
    stream.write_all(&framed).await.map_err(io_failure)?;
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix).await.map_err(io_failure)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut body).await.map_err(io_failure)?;
    let response = decode(&body).map_err(|e| TempFailure::Other(e.to_string().into()))?;
    if answers(&response, id, name, rtype) {
        Ok(response)
    } else {
        Err(TempFailure::Other("the TCP answer does not match the question".into()))
    }
}

/// Reads a response. A record with no RDATA (RDLENGTH 0) makes hickory
/// refuse the whole message (RFC 2136 gives it a meaning only in updates);
/// such a message is read again record by record, without those records.
/// For a TXT answer that is what SPF needs: a TXT record of no strings is
/// no SPF record (the RFC 7208 suite's `null-text` case), and the others
/// at the name are still found.
fn decode(buffer: &[u8]) -> Result<Message, DecodeError> {
    match Message::from_vec(buffer) {
        Err(DecodeError::InvalidEmptyRecord) => decode_without_empty_records(buffer),
        decoded => decoded,
    }
}

fn decode_without_empty_records(buffer: &[u8]) -> Result<Message, DecodeError> {
    let mut decoder = BinDecoder::new(buffer);
    let Header { metadata, counts } = Header::read(&mut decoder)?;
    let mut message = Message::new(metadata.id, metadata.message_type, metadata.op_code);
    message.metadata = metadata;
    for _ in 0..counts.queries {
        message.queries.push(Query::read(&mut decoder)?);
    }
    let mut read_section = |count: u16| -> Result<Vec<Record>, DecodeError> {
        let mut records = Vec::new();
        for _ in 0..count {
            let record = Record::read(&mut decoder)?;
            if !matches!(record.data, RData::Update0(_)) {
                records.push(record);
            }
        }
        Ok(records)
    };
    message.answers = read_section(counts.answers)?;
    message.authorities = read_section(counts.authorities)?;
    // The additional section (EDNS, glue) is not read: nothing here uses it.
    Ok(message)
}

fn wire_type(rtype: RecordType) -> WireType {
    match rtype {
        RecordType::Txt => WireType::TXT,
        RecordType::A => WireType::A,
        RecordType::Aaaa => WireType::AAAA,
        RecordType::Mx => WireType::MX,
        RecordType::Ptr => WireType::PTR,
    }
}

/// A name as SPF needs it: lower case, no trailing dot, its labels as they
/// are (`foo:bar.example`, not the escaped presentation `foo\:bar.example`);
/// a name that text cannot write plainly (a label with a `.` or octets that
/// are not UTF-8) in the escaped form of [`super::zone::name_text`], which
/// is no valid target, so evaluation skips it.
fn plain(name: &Name) -> Box<str> {
    let labels: Vec<&[u8]> = name.iter().collect();
    let mut text = super::zone::name_text(&labels);
    text.make_ascii_lowercase();
    text.into_boxed_str()
}

/// The negative-caching TTL of a negative answer (RFC 2308 §5: the SOA's
/// own TTL or its MINIMUM field, whichever is smaller).
fn negative_ttl(response: &Message) -> u32 {
    response
        .authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.minimum.min(r.ttl)),
            _ => None,
        })
        .unwrap_or(NEGATIVE_TTL_WITHOUT_SOA)
}

/// Whether the response says authoritatively that its last name has no
/// data (an SOA in the authority section), as opposed to an answer that
/// stops at an alias and leaves its target to be asked.
fn has_soa(response: &Message) -> bool {
    response.authorities.iter().any(|r| matches!(r.data, RData::SOA(_)))
}

/// Follows the CNAMEs of `response` from `name`; returns the last name of
/// the chain. Fails on a loop or a chain longer than [`MAX_CNAME_HOPS`]
/// (`hops` counts across questions).
fn follow_cnames(
    response: &Message,
    name: &Name,
    chain: &mut Vec<Name>,
    ttl: &mut u32,
) -> Result<Name, TempFailure> {
    let mut current = name.clone();
    while let Some(record) =
        response.answers.iter().find(|r| r.name == current && r.record_type() == WireType::CNAME)
    {
        let RData::CNAME(target) = &record.data else { break };
        if chain.contains(&target.0) {
            return Err(TempFailure::Other(format!("CNAME loop at {}", plain(&target.0)).into()));
        }
        chain.push(target.0.clone());
        if chain.len() > MAX_CNAME_HOPS + 1 {
            return Err(TempFailure::Other(
                format!("CNAME chain from {} longer than {MAX_CNAME_HOPS} hops", plain(&chain[0])).into(),
            ));
        }
        *ttl = (*ttl).min(record.ttl);
        current = target.0.clone();
    }
    Ok(current)
}

/// The records of `rtype` owned by `owner` in the answer section.
fn records_at<'r>(
    response: &'r Message,
    owner: &'r Name,
    rtype: WireType,
) -> impl Iterator<Item = &'r Record> {
    response.answers.iter().filter(move |r| r.record_type() == rtype && r.name == *owner)
}

fn build_records(rtype: RecordType, records: &[&Record]) -> Records {
    let data = records.iter().map(|r| &r.data);
    match rtype {
        RecordType::Txt => Records::Txt(Arc::new(TxtRecords::new(data.filter_map(|d| match d {
            RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| s.to_vec()).collect::<Vec<_>>()),
            _ => None,
        })))),
        RecordType::A => {
            Records::A(data.filter_map(|d| if let RData::A(a) = d { Some(a.0) } else { None }).collect())
        }
        RecordType::Aaaa => Records::Aaaa(
            data.filter_map(|d| if let RData::AAAA(a) = d { Some(a.0) } else { None }).collect(),
        ),
        RecordType::Mx => {
            let mut mx: Vec<(u16, Box<str>)> = data
                .filter_map(|d| {
                    if let RData::MX(mx) = d { Some((mx.preference, plain(&mx.exchange))) } else { None }
                })
                .collect();
            mx.sort_by_key(|(pref, _)| *pref);
            Records::Mx(mx.into_iter().map(|(_, n)| n).collect())
        }
        RecordType::Ptr => Records::Ptr(
            data.filter_map(|d| if let RData::PTR(p) = d { Some(plain(&p.0)) } else { None }).collect(),
        ),
    }
}

impl Lookup for Resolver {
    fn upstream_latency(&self) -> Option<Duration> {
        self.mean_latency()
    }

    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        self.lookup_charged(name, rtype, &QueryBudget::unlimited()).await
    }

    async fn lookup_charged(&self, name: &str, rtype: RecordType, budget: &QueryBudget) -> LookupResult {
        // Labels may hold any octet (macro expansions can put spaces or `%`
        // in them), so the name is built from raw labels, absolute.
        let Ok(mut first) = Name::from_labels(name.split('.').filter(|l| !l.is_empty()).map(str::as_bytes))
        else {
            return Err(LookupError::NxDomain { ttl: NEGATIVE_TTL_WITHOUT_SOA });
        };
        first.set_fqdn(true);
        let wanted = wire_type(rtype);
        let mut chain = vec![first];
        let mut ttl = u32::MAX;
        loop {
            let asked = chain.last().cloned().unwrap_or_else(Name::root);
            let response = self.exchange(&asked, wanted, budget).await.map_err(LookupError::Temporary)?;
            let last =
                follow_cnames(&response, &asked, &mut chain, &mut ttl).map_err(LookupError::Temporary)?;
            let found: Vec<&Record> = records_at(&response, &last, wanted).collect();
            if !found.is_empty() {
                let ttl = found.iter().map(|r| r.ttl).fold(ttl, u32::min);
                let records = build_records(rtype, &found);
                if records.is_empty() {
                    return Err(LookupError::NoData { ttl: NEGATIVE_TTL_WITHOUT_SOA });
                }
                return Ok(Answer { records, ttl });
            }
            // RFC 6604: the RCODE is about the last name of the chain.
            if response.metadata.response_code == ResponseCode::NXDomain {
                return Err(LookupError::NxDomain { ttl: negative_ttl(&response) });
            }
            // The answer stopped at an alias without saying its target has
            // no data: ask for the target (RFC 1034 §4.3.2, step 3a).
            if last != asked && !has_soa(&response) {
                continue;
            }
            return Err(LookupError::NoData { ttl: negative_ttl(&response) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::A;
    use std::net::{Ipv4Addr, UdpSocket};
    use std::sync::mpsc;

    /// How the stub nameserver below misbehaves.
    #[derive(Clone, Copy, Default)]
    struct Faults {
        /// Sends every answer twice.
        twice: bool,
        /// Never answers the first question.
        drop_first: bool,
        /// Answers nothing until this many questions came, then all.
        hold: usize,
    }

    /// A nameserver on 127.0.0.1 that answers `hK.example A` with
    /// 192.0.2.K and logs each question's source port. Stopped on drop.
    struct Stub {
        addr: SocketAddr,
        ports: mpsc::Receiver<u16>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Stub {
        fn start(faults: Faults) -> Stub {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
            let addr = socket.local_addr().expect("addr");
            let (tx, ports) = mpsc::channel();
            let thread = std::thread::spawn(move || {
                let mut held = Vec::new();
                let mut first = true;
                let mut buffer = [0u8; 512];
                while let Ok((len, from)) = socket.recv_from(&mut buffer) {
                    let Ok(query) = Message::from_vec(&buffer[..len]) else { return }; // "stop"
                    let _ = tx.send(from.port());
                    if std::mem::take(&mut first) && faults.drop_first {
                        continue;
                    }
                    held.push((query, from));
                    if held.len() < faults.hold {
                        continue;
                    }
                    for (query, from) in held.drain(..) {
                        let bytes = Self::answer(&query).to_vec().expect("encode");
                        for _ in 0..if faults.twice { 2 } else { 1 } {
                            socket.send_to(&bytes, from).expect("send");
                        }
                    }
                }
            });
            Stub { addr, ports, thread: Some(thread) }
        }

        fn answer(query: &Message) -> Message {
            let mut response = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
            response.metadata.recursion_desired = true;
            let asked = query.queries[0].clone();
            let name = asked.name().clone();
            let label = String::from_utf8_lossy(name.iter().next().expect("label")).into_owned();
            let octet = label.trim_start_matches('h').parse().expect("hK");
            response.add_query(asked);
            response.add_answer(Record::from_rdata(name, 60, RData::A(A(Ipv4Addr::new(192, 0, 2, octet)))));
            response
        }

        fn resolver(&self, timeout: Duration) -> Resolver {
            let settings = ResolverSettings::default()
                .with_nameservers(vec![self.addr])
                .with_timeout(timeout)
                .with_attempts(1);
            Resolver::new(&settings).expect("resolver")
        }

        /// The source ports of the questions so far.
        fn ports(&self) -> Vec<u16> {
            self.ports.try_iter().collect()
        }
    }

    impl Drop for Stub {
        fn drop(&mut self) {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
            let _ = socket.send_to(b"stop", self.addr);
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    fn block_on<F: std::future::Future>(work: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(work)
    }

    async fn address(resolver: &Resolver, k: u8) -> Result<Ipv4Addr, LookupError> {
        match resolver.lookup(&format!("h{k}.example"), RecordType::A).await?.records {
            Records::A(a) => Ok(a[0]),
            other => panic!("not A records: {other:?}"),
        }
    }

    #[test]
    fn questions_to_a_loopback_nameserver_share_one_kept_socket() {
        let stub = Stub::start(Faults::default());
        let resolver = stub.resolver(Duration::from_secs(5));
        block_on(async {
            for k in 1..=5 {
                assert_eq!(address(&resolver, k).await.expect("answer"), Ipv4Addr::new(192, 0, 2, k));
            }
        });
        let ports = stub.ports();
        assert_eq!(ports.len(), 5);
        assert!(ports.iter().all(|&p| p == ports[0]), "one socket asked all five: {ports:?}");
        assert_eq!(resolver.pools[0].as_ref().map(SocketPool::idle), Some(1));
    }

    #[test]
    fn a_late_duplicate_left_on_a_kept_socket_is_skipped() {
        let stub = Stub::start(Faults { twice: true, ..Faults::default() });
        let resolver = stub.resolver(Duration::from_secs(5));
        block_on(async {
            // Each question after the first finds the previous answer's
            // duplicate waiting on the kept socket before its own.
            for k in 1..=4 {
                assert_eq!(address(&resolver, k).await.expect("answer"), Ipv4Addr::new(192, 0, 2, k));
            }
        });
        assert_eq!(stub.ports().len(), 4);
    }

    #[test]
    fn a_socket_whose_try_was_abandoned_is_closed_not_kept() {
        let stub = Stub::start(Faults { drop_first: true, ..Faults::default() });
        // A long timeout for the second question, which a loaded machine
        // must not fail; the first, never answered, is given up on (as a
        // check's deadline or the try's timeout does: the try is dropped).
        let resolver = stub.resolver(Duration::from_secs(30));
        block_on(async {
            let first = tokio::time::timeout(Duration::from_millis(200), address(&resolver, 1)).await;
            assert!(first.is_err(), "the stub never answers the first question");
            assert_eq!(resolver.pools[0].as_ref().map(SocketPool::idle), Some(0));
            // The next question opens a socket of its own.
            assert_eq!(address(&resolver, 2).await.expect("answer"), Ipv4Addr::new(192, 0, 2, 2));
        });
        let ports = stub.ports();
        assert_eq!(ports.len(), 2);
        assert_ne!(ports[0], ports[1]);
    }

    #[test]
    fn at_most_max_idle_sockets_are_kept() {
        let questions = SocketPool::MAX_IDLE + 8;
        let stub = Stub::start(Faults { hold: questions, ..Faults::default() });
        let resolver = stub.resolver(Duration::from_secs(30));
        block_on(async {
            // All in flight at once: the stub answers when the last came.
            let mut lookups = tokio::task::JoinSet::new();
            for k in 1..=u8::try_from(questions).expect("k") {
                let resolver = resolver.clone();
                lookups.spawn(async move { (k, address(&resolver, k).await) });
            }
            while let Some(done) = lookups.join_next().await {
                let (k, answer) = done.expect("lookup task");
                assert_eq!(answer.expect("answer"), Ipv4Addr::new(192, 0, 2, k));
            }
        });
        let mut ports = stub.ports();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), questions, "one socket per question in flight");
        assert_eq!(resolver.pools[0].as_ref().map(SocketPool::idle), Some(SocketPool::MAX_IDLE));
    }

    #[test]
    fn a_process_does_not_ask_through_sockets_another_process_kept() {
        let stub = Stub::start(Faults::default());
        let resolver = stub.resolver(Duration::from_secs(5));
        block_on(address(&resolver, 1)).expect("answer");
        let pool = resolver.pools[0].as_ref().expect("loopback");
        assert_eq!(pool.idle(), 1);
        // As a forked child would see its parent's pool.
        assert!(pool.take_in(std::process::id().wrapping_add(1)).is_none());
        assert_eq!(pool.idle(), 0);
    }

    #[test]
    fn only_a_nameserver_on_this_host_has_kept_sockets() {
        let settings = ResolverSettings::default().with_nameservers(vec![
            "192.0.2.53:53".parse().expect("addr"),
            "[::1]:53".parse().expect("addr"),
        ]);
        let resolver = Resolver::new(&settings).expect("resolver");
        assert!(resolver.pools[0].is_none());
        assert!(resolver.pools[1].is_some());
    }

    #[test]
    fn the_average_needs_eight_tries_and_weighs_each_new_one_an_eighth() {
        let gauge = LatencyGauge::default();
        for _ in 0..7 {
            gauge.record(Duration::from_micros(100));
        }
        assert_eq!(gauge.average(), None);
        gauge.record(Duration::from_micros(100));
        assert_eq!(gauge.average(), Some(Duration::from_micros(100)));
        // One slow answer moves the average an eighth of the way.
        gauge.record(Duration::from_micros(900));
        assert_eq!(gauge.average(), Some(Duration::from_micros(200)));
        gauge.record(Duration::from_micros(200));
        assert_eq!(gauge.average(), Some(Duration::from_micros(200)));
        gauge.record(Duration::ZERO);
        assert_eq!(gauge.average(), Some(Duration::from_micros(175)));
    }
}
