//! A real authoritative DNS server on 127.0.0.1 for fastspf's tests and
//! demos: hickory-server over UDP and TCP on one port, answering from RFC
//! 1035 master files (an [`spf_core::dns::Zone`]), with the faults tests
//! need and its own log of every query it received.
//!
//! ```no_run
//! let server = spf_testdns::TestDns::start("example.com. 300 IN TXT \"v=spf1 -all\"\n");
//! println!("nameserver {}", server.addr);
//! assert_eq!(server.count("example.com", "TXT"), 0);
//! ```
//!
//! # Answers
//!
//! The server answers as an authoritative server (BIND, Knot) does: a
//! query for an alias gets the CNAME records of the chain, in order, then
//! the records of the asked type at the end of the chain, under the last
//! target's name; NXDOMAIN and NODATA at the end of a chain keep the CNAME
//! records before them (RFC 6604). It follows at most
//! [`MAX_ANSWER_CNAMES`] CNAMEs in one answer and stops at a loop; the
//! answer then ends with a CNAME whose target it does not answer for, and
//! the client asks again from there. A query of type CNAME gets the CNAME
//! record itself; types the zone does not serve get `NODATA` (after the
//! chain). MX preferences are not kept by the zone: the exchanges come in
//! preference order with preferences 10, 11, ...
//!
//! # Faults
//!
//! [`TestDns::servfail`], [`TestDns::silence`] (no answer at all, over UDP
//! and TCP), [`TestDns::silence_all`], [`TestDns::delay`],
//! [`TestDns::delay_all`], and [`TestDns::partial_cnames`] /
//! [`TestDns::partial_cnames_all`]: answer an alias with its first CNAME
//! record only, so that the client must ask for every hop itself. Hostile
//! zone data (CNAME loops, chains longer than
//! [`spf_core::dns::MAX_CNAME_HOPS`]) needs no switch: the server
//! answers it within its bounds.
//!
//! # Query log
//!
//! Every query is logged as a [`Seen`] (name, type, TCP or UDP, arrival
//! instant) when the server receives it, before any fault applies, so
//! silenced and delayed queries count too. [`TestDns::count`],
//! [`TestDns::total`] and [`TestDns::reset`] are exact; the log keeps the
//! first [`MAX_SEEN`] queries ([`TestDns::dropped`] counts the others).
//! [`TestDns::wait_for_total`] waits for queries that may still be on
//! their way (e.g. ones that get no answer), without sleeping.
#![deny(missing_docs)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Metadata, Query, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, SOA, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType as HType};
use hickory_server::proto::serialize::binary::{BinDecodable as _, BinDecoder};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use spf_core::dns::{ChainEnd, CnameHop, name_labels, name_text};
use spf_core::dns::{LookupError, RecordType, Records, Zone};

/// Most CNAME records in one answer. Chains in the zone may be longer or
/// loop; the answer stops here and the client asks again from the last
/// target. 16 is what a server needs to answer any chain a resolver
/// accepts ([`spf_core::dns::MAX_CNAME_HOPS`] is 8) in one go.
pub const MAX_ANSWER_CNAMES: usize = 16;
/// Queries kept in the log. Tests send hundreds; a server run by hand (or
/// by a benchmark) for hours must not grow without bound.
pub const MAX_SEEN: usize = 1 << 16;
/// Silenced TCP queries whose connections are held open at once; past
/// this a silenced TCP query just gets no answer (hickory-server then
/// closes the connection once it has been idle for [`TCP_IDLE`]).
const MAX_HELD_TCP: usize = 256;
/// How long a TCP connection may stay idle between queries.
const TCP_IDLE: Duration = Duration::from_secs(5);
/// Responses buffered per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 64;
/// Attempts to find a port free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 16;
/// The name [`TestDns::start`] and [`TestDns::set_zone`] give their master
/// text in errors.
const INLINE_SOURCE: &str = "<master text>";

/// Why a server could not start or load a zone.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The master file could not be read or parsed (the error names the
    /// file and, for syntax errors, the line).
    #[error(transparent)]
    Zone(#[from] spf_core::Error),
    /// The address could not be bound, e.g. it is in use.
    #[error("cannot listen on {addr}: {}", describe(source))]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// `"UDP"` or `"TCP"`.
        protocol: &'static str,
        /// The error binding it.
        source: Arc<std::io::Error>,
    },
    /// The address is not a loopback address.
    #[error("cannot listen on {0}: spf-testdns listens on loopback addresses only")]
    NotLoopback(SocketAddr),
    /// The server's runtime could not be started.
    #[error("cannot start the server's runtime: {}", describe(.0))]
    Runtime(Arc<std::io::Error>),
}

/// An I/O error as a person reads it: "address already in use", without
/// the OS error number.
fn describe(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One query as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Seen {
    /// The name asked, ASCII in lower case, no trailing dot (in the text
    /// form of [`spf_core::dns::name_text`]).
    pub name: String,
    /// The type asked (`TXT`, `A`, `CNAME`, ...).
    pub rtype: String,
    /// Whether it came over TCP.
    pub tcp: bool,
    /// When the server's handler received it (after hickory-server read
    /// and decoded it, before any delay or silence).
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Log {
    kept: Vec<Seen>,
    total: usize,
}

/// The faults switched on.
#[derive(Debug, Default)]
struct Faults {
    servfail: HashSet<String>,
    silent: HashSet<String>,
    silent_all: bool,
    delays: HashMap<String, Duration>,
    delay_all: Option<Duration>,
    partial: HashSet<String>,
    partial_all: bool,
}

/// What to do with one query.
struct Plan {
    silent: bool,
    servfail: bool,
    delay: Option<Duration>,
    partial: bool,
}

impl Faults {
    fn plan(&self, name: &str) -> Plan {
        Plan {
            silent: self.silent_all || self.silent.contains(name),
            servfail: self.servfail.contains(name),
            delay: self.delays.get(name).copied().or(self.delay_all),
            partial: self.partial_all || self.partial.contains(name),
        }
    }
}

#[derive(Default)]
struct State {
    zone: RwLock<Arc<Zone>>,
    log: Mutex<Log>,
    /// Notified at every query logged.
    logged: Condvar,
    faults: Mutex<Faults>,
    held_tcp: AtomicUsize,
}

struct Handler(Arc<State>);

/// The running server. Dropping it stops it (its runtime and every
/// request still in it).
pub struct TestDns {
    /// Where it listens (UDP and TCP, the same port).
    pub addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
    _server: Server<Handler>,
}

impl std::fmt::Debug for TestDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDns").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A name as the log and the fault switches key it: lower case, no
/// trailing dot.
fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

fn loopback_any() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl TestDns {
    /// Starts a server on an ephemeral port of 127.0.0.1 answering from
    /// `master` (RFC 1035 master-file text).
    ///
    /// # Panics
    ///
    /// When the text is no master file (the message gives the line) or no
    /// port is free: for tests; see [`TestDns::try_start_on`].
    pub fn start(master: &str) -> TestDns {
        TestDns::start_on(loopback_any(), master)
    }

    /// Starts a server on `addr` (a loopback address; port 0 for any free
    /// one) answering from `master`.
    ///
    /// # Panics
    ///
    /// As [`TestDns::start`], also when `addr` is in use.
    pub fn start_on(addr: SocketAddr, master: &str) -> TestDns {
        TestDns::try_start_on(addr, master, INLINE_SOURCE).unwrap_or_else(|e| panic!("spf-testdns: {e}"))
    }

    /// Starts a server on `addr` (a loopback address; port 0 for any free
    /// one) answering from `master`, which errors call `source_name`.
    pub fn try_start_on(addr: SocketAddr, master: &str, source_name: &str) -> Result<TestDns, Error> {
        TestDns::try_serve(addr, Zone::from_master_str(master, source_name)?)
    }

    /// Starts a server on `addr` (a loopback address; port 0 for any free
    /// one) answering from `zone` (e.g. several files loaded with
    /// [`Zone::load_master_file`]).
    pub fn try_serve(addr: SocketAddr, zone: Zone) -> Result<TestDns, Error> {
        if !addr.ip().is_loopback() {
            return Err(Error::NotLoopback(addr));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("spf-testdns")
            .enable_all()
            .build()
            .map_err(|e| Error::Runtime(Arc::new(e)))?;
        let state = Arc::new(State { zone: RwLock::new(Arc::new(zone)), ..State::default() });
        let mut server = Server::new(Handler(Arc::clone(&state)));
        let addr = runtime.block_on(async {
            let (udp, tcp) = bind(addr).await?;
            let bound =
                udp.local_addr().map_err(|e| Error::Listen { addr, protocol: "UDP", source: Arc::new(e) })?;
            server.register_socket(udp);
            server.register_listener(tcp, TCP_IDLE, TCP_RESPONSE_BUFFER);
            Ok::<_, Error>(bound)
        })?;
        Ok(TestDns { addr, state, runtime: Some(runtime), _server: server })
    }

    /// Serves `master` from now on.
    ///
    /// # Panics
    ///
    /// When the text is no master file; see [`TestDns::try_set_zone`].
    pub fn set_zone(&self, master: &str) {
        self.try_set_zone(master, INLINE_SOURCE).unwrap_or_else(|e| panic!("spf-testdns: {e}"));
    }

    /// Serves `master` from now on, which errors call `source_name`. On an
    /// error the zone served does not change.
    pub fn try_set_zone(&self, master: &str, source_name: &str) -> Result<(), Error> {
        self.serve(Zone::from_master_str(master, source_name)?);
        Ok(())
    }

    /// Serves `zone` from now on.
    pub fn serve(&self, zone: Zone) {
        *self.state.zone.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(zone);
    }

    /// Answers SERVFAIL for `name`.
    pub fn servfail(&self, name: &str) {
        lock(&self.state.faults).servfail.insert(normalize(name));
    }

    /// Never answers queries for `name`, over UDP or TCP (a TCP connection
    /// stays open, as to a server that hangs).
    pub fn silence(&self, name: &str) {
        lock(&self.state.faults).silent.insert(normalize(name));
    }

    /// With `true`, never answers any query, over UDP or TCP; with
    /// `false`, answers again (the names given to [`TestDns::silence`]
    /// stay silent).
    pub fn silence_all(&self, silent: bool) {
        lock(&self.state.faults).silent_all = silent;
    }

    /// Answers queries for `name` after `delay`.
    pub fn delay(&self, name: &str, delay: Duration) {
        lock(&self.state.faults).delays.insert(normalize(name), delay);
    }

    /// Answers every query after `delay` (a name given to
    /// [`TestDns::delay`] keeps its own).
    pub fn delay_all(&self, delay: Duration) {
        lock(&self.state.faults).delay_all = Some(delay);
    }

    /// Answers a query for the alias `name` with its first CNAME record
    /// only: the client must ask for the target itself, and for every
    /// later hop unless the target has its own switch.
    pub fn partial_cnames(&self, name: &str) {
        lock(&self.state.faults).partial.insert(normalize(name));
    }

    /// With `true`, answers every query for an alias with its first CNAME
    /// record only, so that a chain of n hops takes a client n + 1 queries;
    /// with `false`, follows chains again.
    pub fn partial_cnames_all(&self, partial: bool) {
        lock(&self.state.faults).partial_all = partial;
    }

    /// The queries logged so far, oldest first (at most [`MAX_SEEN`]).
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.state.log).kept.clone()
    }

    /// How many queries for `name` (any case, trailing dot or not) of type
    /// `rtype` (`"TXT"`, `"a"`, ...) were logged since the start or the
    /// last [`TestDns::reset`]. Exact while [`TestDns::dropped`] is 0.
    pub fn count(&self, name: &str, rtype: &str) -> usize {
        let name = normalize(name);
        lock(&self.state.log)
            .kept
            .iter()
            .filter(|s| s.name == name && s.rtype.eq_ignore_ascii_case(rtype))
            .count()
    }

    /// How many queries for `name` of any type were logged (as
    /// [`TestDns::count`]).
    pub fn count_name(&self, name: &str) -> usize {
        let name = normalize(name);
        lock(&self.state.log).kept.iter().filter(|s| s.name == name).count()
    }

    /// How many queries the server received since the start or the last
    /// [`TestDns::reset`], logged or not. Always exact.
    pub fn total(&self) -> usize {
        lock(&self.state.log).total
    }

    /// How many queries were not logged because the log was full.
    pub fn dropped(&self) -> usize {
        let log = lock(&self.state.log);
        log.total - log.kept.len()
    }

    /// Forgets the queries received so far: the log and the counts start
    /// again from zero.
    pub fn reset(&self) {
        let mut log = lock(&self.state.log);
        log.kept.clear();
        log.total = 0;
    }

    /// Waits until the server has received `n` queries in all (see
    /// [`TestDns::total`]) or `limit` has passed, and says whether it has.
    /// It returns as soon as the query arrives: use it to count queries
    /// that get no answer, never to wait for time to pass.
    pub fn wait_for_total(&self, n: usize, limit: Duration) -> bool {
        let log = lock(&self.state.log);
        let (log, _) = self
            .state
            .logged
            .wait_timeout_while(log, limit, |log| log.total < n)
            .unwrap_or_else(|e| e.into_inner());
        log.total >= n
    }

    /// `IP:PORT` of the server.
    pub fn nameserver(&self) -> String {
        self.addr.to_string()
    }
}

/// Binds UDP and TCP on the same address. For port 0, the TCP port of the
/// UDP port picked may be taken: then it tries another.
async fn bind(addr: SocketAddr) -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener), Error> {
    let listen = |protocol, e| Error::Listen { addr, protocol, source: Arc::new(e) };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp = tokio::net::UdpSocket::bind(addr).await.map_err(|e| listen("UDP", e))?;
        let bound = udp.local_addr().map_err(|e| listen("UDP", e))?;
        match tokio::net::TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 && attempt < PORT_ATTEMPTS => drop(e),
            Err(e) => return Err(listen("TCP", e)),
        }
    }
}

fn our_type(rtype: HType) -> Option<RecordType> {
    Some(match rtype {
        HType::TXT => RecordType::Txt,
        HType::A => RecordType::A,
        HType::AAAA => RecordType::Aaaa,
        HType::MX => RecordType::Mx,
        HType::PTR => RecordType::Ptr,
        _ => return None,
    })
}

/// The wire name of a name as the zone gives it out (see
/// [`spf_core::dns::zone`]).
fn wire(text: &str) -> Name {
    let labels = name_labels(text);
    Name::from_labels(labels.iter().map(Vec::as_slice)).unwrap_or_else(|_| Name::root())
}

/// The CNAME records of a chain: the first under the name as asked (its
/// case kept), the others under the names the zone gives.
fn cname_records(asked: &Name, hops: &[CnameHop]) -> Vec<Record> {
    hops.iter()
        .enumerate()
        .map(|(i, hop)| {
            let owner = if i == 0 { asked.clone() } else { wire(&hop.alias) };
            Record::from_rdata(owner, hop.ttl, RData::CNAME(CNAME(wire(&hop.target))))
        })
        .collect()
}

/// The records of a positive answer under `owner`.
fn answer_records(owner: &Name, records: &Records, ttl: u32) -> Vec<Record> {
    let rdata: Vec<RData> = match records {
        Records::Txt(t) => t
            .records()
            .iter()
            .map(|r| RData::TXT(TXT::from_bytes(r.iter().map(|s| &s[..]).collect())))
            .collect(),
        Records::A(a) => a.iter().map(|ip| RData::A(A(*ip))).collect(),
        Records::Aaaa(a) => a.iter().map(|ip| RData::AAAA(AAAA(*ip))).collect(),
        Records::Mx(n) => n
            .iter()
            .enumerate()
            .map(|(i, x)| RData::MX(MX::new(10u16.saturating_add(i as u16), wire(x))))
            .collect(),
        Records::Ptr(n) => n.iter().map(|x| RData::PTR(PTR(wire(x)))).collect(),
    };
    rdata.into_iter().map(|rdata| Record::from_rdata(owner.clone(), ttl, rdata)).collect()
}

/// The CNAME records from `name` for a type the zone serves no records
/// of, and the answer at the end (always negative).
fn chain_without_data(zone: &Zone, name: &str) -> (Vec<CnameHop>, Option<LookupError>) {
    let mut hops: Vec<CnameHop> = Vec::new();
    let mut current = name.to_string();
    loop {
        match zone.cname(&current) {
            Ok(hop) => {
                let looped = hops.iter().any(|h| h.alias == hop.target) || hop.target == hop.alias;
                current.clone_from(&hop.target);
                hops.push(hop);
                if looped || hops.len() >= MAX_ANSWER_CNAMES {
                    return (hops, None);
                }
            }
            Err(error) => return (hops, Some(error)),
        }
    }
}

/// What the answer section holds and how the answer ends.
struct Reply {
    answers: Vec<Record>,
    /// The negative outcome at the end of the chain, if any.
    negative: Option<LookupError>,
}

fn reply(zone: &Zone, asked: &Name, qname: &str, qtype: HType, partial: bool) -> Reply {
    let (hops, end) = match (qtype, our_type(qtype)) {
        (HType::CNAME, _) => match zone.cname(qname) {
            Ok(hop) => (vec![hop], None),
            Err(error) => (Vec::new(), Some(Err(error))),
        },
        (_, Some(rtype)) => {
            let chain = zone.cname_chain(qname, rtype, MAX_ANSWER_CNAMES);
            match chain.end {
                ChainEnd::Answer(result) => (chain.hops, Some(result)),
                // Loop, TooLong, and anything later: the hops so far.
                _ => (chain.hops, None),
            }
        }
        _ => {
            let (hops, negative) = chain_without_data(zone, qname);
            (hops, negative.map(Err))
        }
    };
    if partial && !hops.is_empty() && qtype != HType::CNAME {
        return Reply { answers: cname_records(asked, &hops[..1]), negative: None };
    }
    let mut answers = cname_records(asked, &hops);
    let owner = hops.last().map_or_else(|| asked.clone(), |hop| wire(&hop.target));
    let negative = match end {
        Some(Ok(answer)) => {
            answers.extend(answer_records(&owner, &answer.records, answer.ttl));
            None
        }
        Some(Err(error)) => Some(error),
        None => None,
    };
    Reply { answers, negative }
}

/// Holds a silenced TCP query (and so its connection) open until the
/// server stops, up to [`MAX_HELD_TCP`] at once.
async fn hold(held: &AtomicUsize) {
    struct Release<'a>(&'a AtomicUsize);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let _release = Release(held);
    if held.fetch_add(1, Ordering::Relaxed) < MAX_HELD_TCP {
        std::future::pending::<()>().await;
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let state = &self.0;
        let Some(query) = request.queries.queries().first().cloned() else {
            let builder = MessageResponseBuilder::from_message_request(request);
            let message = builder.error_msg(&request.metadata, ResponseCode::FormErr);
            return response.send_response(message).await.unwrap_or_else(|_| failed(&request.metadata));
        };
        let asked = asked_name(request).unwrap_or_else(|| Name::from(query.name().clone()));
        let labels: Vec<&[u8]> = asked.iter().collect();
        let mut qname = name_text(&labels);
        qname.make_ascii_lowercase();
        let tcp = request.protocol() == Protocol::Tcp;
        {
            let mut log = lock(&state.log);
            log.total += 1;
            if log.kept.len() < MAX_SEEN {
                let seen = Seen {
                    name: qname.clone(),
                    rtype: query.query_type().to_string(),
                    tcp,
                    at: Instant::now(),
                };
                log.kept.push(seen);
            }
            state.logged.notify_all();
        }
        let plan = lock(&state.faults).plan(&qname);
        if plan.silent {
            if tcp {
                hold(&state.held_tcp).await;
            }
            // No answer: the request just ends.
            return failed(&request.metadata);
        }
        if let Some(delay) = plan.delay {
            tokio::time::sleep(delay).await;
        }
        let builder = MessageResponseBuilder::from_message_request(request);
        if plan.servfail {
            let message = builder.error_msg(&request.metadata, ResponseCode::ServFail);
            return response.send_response(message).await.unwrap_or_else(|_| failed(&request.metadata));
        }
        let zone = Arc::clone(&state.zone.read().unwrap_or_else(|e| e.into_inner()));
        let reply = reply(&zone, &asked, &qname, query.query_type(), plan.partial);
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let soa = match reply.negative {
            None => Vec::new(),
            Some(error) => {
                let ttl = match error {
                    LookupError::NxDomain { ttl } => {
                        metadata.response_code = ResponseCode::NXDomain;
                        ttl
                    }
                    LookupError::NoData { ttl } => ttl,
                    LookupError::Temporary(_) => {
                        metadata.response_code = ResponseCode::ServFail;
                        0
                    }
                };
                let apex = Name::from_labels([&b"test"[..]]).unwrap_or_else(|_| Name::root());
                let hostmaster =
                    Name::from_labels([&b"hostmaster"[..], b"test"]).unwrap_or_else(|_| Name::root());
                let soa = SOA::new(apex.clone(), hostmaster, 1, 3600, 600, 86400, ttl);
                vec![Record::from_rdata(apex, ttl, RData::SOA(soa))]
            }
        };
        let message =
            builder.build(metadata, reply.answers.iter(), std::iter::empty(), soa.iter(), std::iter::empty());
        response.send_response(message).await.unwrap_or_else(|_| failed(&request.metadata))
    }
}

/// The first name asked with its case as sent (hickory-server gives it in
/// lower case), so that the answer's first owner is the name asked, as
/// resolvers that randomise case (DNS 0x20) check.
fn asked_name(request: &Request) -> Option<Name> {
    let mut decoder = BinDecoder::new(request.queries.as_bytes());
    Query::read(&mut decoder).ok().map(|q| q.name().clone())
}

fn failed(request: &Metadata) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(request);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(hickory_server::proto::op::Header { metadata, counts: Default::default() })
}
