//! A real authoritative DNS server on 127.0.0.1 for fastspf's tests and
//! demos: hickory-server over UDP and TCP on one ephemeral port, answering
//! from master files, with the knobs tests need (SERVFAIL, silence, delays)
//! and its own log of every query it received.
//!
//! ```no_run
//! let server = spf_testdns::TestDns::start("example.com. 300 IN TXT \"v=spf1 -all\"\n");
//! println!("nameserver {}", server.addr);
//! ```
#![deny(missing_docs)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, MX, PTR, SOA, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType as HType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use spf_core::dns::{Lookup, LookupError, RecordType, Records, Zone};

/// One query as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The name asked, lower case, no trailing dot.
    pub name: String,
    /// The type asked (`TXT`, `A`, ...).
    pub rtype: String,
    /// Whether it came over TCP.
    pub tcp: bool,
    /// When the server received it.
    pub at: std::time::Instant,
}

#[derive(Default)]
struct State {
    zone: RwLock<Arc<Zone>>,
    seen: Mutex<Vec<Seen>>,
    servfail: Mutex<HashSet<String>>,
    silent: Mutex<HashSet<String>>,
    delays: Mutex<HashMap<String, Duration>>,
    delay_all: Mutex<Option<Duration>>,
}

struct Handler(Arc<State>);

/// The running server. Dropping it stops it.
pub struct TestDns {
    /// Where it listens (UDP and TCP).
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

impl TestDns {
    /// Starts a server on an ephemeral port of 127.0.0.1 answering from
    /// `master` (RFC 1035 master-file text).
    pub fn start(master: &str) -> TestDns {
        TestDns::start_on("127.0.0.1:0".parse().expect("a socket address"), master)
    }

    /// Starts a server on `addr` (a loopback address; port 0 for any).
    pub fn start_on(addr: SocketAddr, master: &str) -> TestDns {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("spf-testdns")
            .enable_all()
            .build()
            .expect("server runtime");
        let state = Arc::new(State::default());
        *state.zone.write().expect("zone lock") =
            Arc::new(Zone::from_master_str(master, "test").expect("zone"));
        let mut server = Server::new(Handler(Arc::clone(&state)));
        let addr = runtime.block_on(async {
            let udp = tokio::net::UdpSocket::bind(addr).await.expect("bind udp");
            let addr = udp.local_addr().expect("udp addr");
            let tcp = tokio::net::TcpListener::bind(addr).await.expect("bind tcp on the same port");
            server.register_socket(udp);
            server.register_listener(tcp, Duration::from_secs(5), 64);
            addr
        });
        TestDns { addr, state, runtime: Some(runtime), _server: server }
    }

    /// Serves `master` from now on.
    pub fn set_zone(&self, master: &str) {
        let zone = Zone::from_master_str(master, "test").expect("zone");
        *self.state.zone.write().expect("zone lock") = Arc::new(zone);
    }

    /// Answers SERVFAIL for `name`.
    pub fn servfail(&self, name: &str) {
        lock(&self.state.servfail).insert(name.to_ascii_lowercase());
    }

    /// Never answers queries for `name`.
    pub fn silence(&self, name: &str) {
        lock(&self.state.silent).insert(name.to_ascii_lowercase());
    }

    /// Answers queries for `name` after `delay`.
    pub fn delay(&self, name: &str, delay: Duration) {
        lock(&self.state.delays).insert(name.to_ascii_lowercase(), delay);
    }

    /// Answers every query after `delay`.
    pub fn delay_all(&self, delay: Duration) {
        *lock(&self.state.delay_all) = Some(delay);
    }

    /// Every query so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.state.seen).clone()
    }

    /// Queries for `name` of type `rtype` ("TXT", "A", ...).
    pub fn count(&self, name: &str, rtype: &str) -> usize {
        lock(&self.state.seen).iter().filter(|s| s.name == name && s.rtype == rtype).count()
    }

    /// All queries.
    pub fn total(&self) -> usize {
        lock(&self.state.seen).len()
    }

    /// Forgets the queries seen.
    pub fn reset(&self) {
        lock(&self.state.seen).clear();
    }

    /// `IP:PORT` of the server.
    pub fn nameserver(&self) -> String {
        self.addr.to_string()
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

fn name(text: &str) -> Name {
    let mut n = Name::from_str(if text.is_empty() { "." } else { text }).unwrap_or_else(|_| Name::root());
    n.set_fqdn(true);
    n
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
        let mut qname = query.name().to_ascii();
        qname.pop(); // the trailing dot
        qname.make_ascii_lowercase();
        lock(&state.seen).push(Seen {
            name: qname.clone(),
            rtype: query.query_type().to_string(),
            tcp: request.protocol() == Protocol::Tcp,
            at: std::time::Instant::now(),
        });
        if lock(&state.silent).contains(&qname) {
            // Never answer: the request task just ends.
            return failed(&request.metadata);
        }
        let delay = lock(&state.delays).get(&qname).copied().or(*lock(&state.delay_all));
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let builder = MessageResponseBuilder::from_message_request(request);
        if lock(&state.servfail).contains(&qname) {
            let message = builder.error_msg(&request.metadata, ResponseCode::ServFail);
            return response.send_response(message).await.unwrap_or_else(|_| failed(&request.metadata));
        }
        let zone = Arc::clone(&state.zone.read().unwrap_or_else(|e| e.into_inner()));
        let owner = Name::from(query.name().clone());
        let outcome = match our_type(query.query_type()) {
            Some(rtype) => zone.lookup(&qname, rtype).await,
            None => Err(LookupError::NoData { ttl: 300 }),
        };
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let (answers, soa) = match outcome {
            Ok(answer) => {
                let rdata: Vec<RData> = match &answer.records {
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
                        .map(|(i, x)| RData::MX(MX::new(10 + i as u16, name(x))))
                        .collect(),
                    Records::Ptr(n) => n.iter().map(|x| RData::PTR(PTR(name(x)))).collect(),
                };
                let records: Vec<Record> = rdata
                    .into_iter()
                    .map(|rdata| Record::from_rdata(owner.clone(), answer.ttl, rdata))
                    .collect();
                (records, Vec::new())
            }
            Err(error) => {
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
                let apex = name("test.");
                let soa = SOA::new(apex.clone(), name("hostmaster.test."), 1, 3600, 600, 86400, ttl);
                (Vec::new(), vec![Record::from_rdata(apex, ttl, RData::SOA(soa))])
            }
        };
        let message =
            builder.build(metadata, answers.iter(), std::iter::empty(), soa.iter(), std::iter::empty());
        response.send_response(message).await.unwrap_or_else(|_| failed(&request.metadata))
    }
}

fn failed(request: &Metadata) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(request);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(hickory_server::proto::op::Header { metadata, counts: Default::default() })
}
