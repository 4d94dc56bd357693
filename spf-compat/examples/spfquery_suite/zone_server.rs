//! An authoritative DNS server on one loopback address, answering from an
//! `spf_core::dns::Zone` (hickory-server over UDP and TCP).
//!
//! Query names are read label by label as raw bytes, and answers are built
//! the same way, so names no master file can carry (`foo:bar/baz...`,
//! labels with spaces or `%`) are served as the suite writes them.
//! `NXDOMAIN` and no data are answered as such (with an SOA, RFC 2308);
//! temporary failures (the suite's `TIMEOUT`) as SERVFAIL.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, MX, PTR, SOA, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType as HType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use spf_core::dns::{Lookup, LookupError, RecordType, Records, Zone};

/// A running server; dropping it stops it.
pub struct ZoneServer {
    runtime: Option<tokio::runtime::Runtime>,
    _server: Server<Handler>,
}

impl Drop for ZoneServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl ZoneServer {
    /// Serves `zone` on `addr` (UDP and TCP).
    pub fn start(addr: SocketAddr, zone: Zone) -> Result<ZoneServer, String> {
        if !addr.ip().is_loopback() {
            return Err(format!("{addr}: loopback addresses only"));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("suite-dns")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut server = Server::new(Handler(Arc::new(zone)));
        runtime.block_on(async {
            let udp = tokio::net::UdpSocket::bind(addr).await.map_err(|e| format!("bind udp {addr}: {e}"))?;
            let tcp =
                tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("bind tcp {addr}: {e}"))?;
            server.register_socket(udp);
            server.register_listener(tcp, Duration::from_secs(5), 64);
            Ok::<(), String>(())
        })?;
        Ok(ZoneServer { runtime: Some(runtime), _server: server })
    }
}

struct Handler(Arc<Zone>);

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

/// A name from raw labels (no IDNA, no escapes), absolute.
fn raw_name(text: &str) -> Name {
    let mut name = Name::from_labels(text.split('.').filter(|l| !l.is_empty()).map(str::as_bytes))
        .unwrap_or_else(|_| Name::root());
    name.set_fqdn(true);
    name
}

fn failed(request: &Metadata) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(request);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(hickory_server::proto::op::Header { metadata, counts: Default::default() })
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let Some(query) = request.queries.queries().first().cloned() else {
            let builder = MessageResponseBuilder::from_message_request(request);
            let message = builder.error_msg(&request.metadata, ResponseCode::FormErr);
            return response.send_response(message).await.unwrap_or_else(|_| failed(&request.metadata));
        };
        let qname: String = query
            .name()
            .iter()
            .map(|label| String::from_utf8_lossy(label).to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(".");
        let owner = Name::from(query.name().clone());
        let outcome = match our_type(query.query_type()) {
            Some(rtype) => self.0.lookup(&qname, rtype).await,
            // Names exist for every type; the obsolete SPF type and the
            // rest have no data.
            None => match self.0.lookup(&qname, RecordType::A).await {
                Err(LookupError::NxDomain { ttl }) => Err(LookupError::NxDomain { ttl }),
                _ => Err(LookupError::NoData { ttl: 300 }),
            },
        };
        let builder = MessageResponseBuilder::from_message_request(request);
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
                    Records::Mx(names) => names
                        .iter()
                        .enumerate()
                        .map(|(i, x)| RData::MX(MX::new(10 + u16::try_from(i).unwrap_or(0), raw_name(x))))
                        .collect(),
                    Records::Ptr(names) => names.iter().map(|x| RData::PTR(PTR(raw_name(x)))).collect(),
                };
                let records: Vec<Record> = rdata
                    .into_iter()
                    .map(|rdata| Record::from_rdata(owner.clone(), answer.ttl, rdata))
                    .collect();
                (records, Vec::new())
            }
            Err(LookupError::Temporary(_)) => {
                let message = builder.error_msg(&request.metadata, ResponseCode::ServFail);
                return response.send_response(message).await.unwrap_or_else(|_| failed(&request.metadata));
            }
            Err(error) => {
                let ttl = match error {
                    LookupError::NxDomain { ttl } => {
                        metadata.response_code = ResponseCode::NXDomain;
                        ttl
                    }
                    LookupError::NoData { ttl } => ttl,
                    LookupError::Temporary(_) => 0,
                };
                let apex = raw_name("test");
                let soa = SOA::new(apex.clone(), raw_name("hostmaster.test"), 1, 3600, 600, 86400, ttl);
                (Vec::new(), vec![Record::from_rdata(apex, ttl, RData::SOA(soa))])
            }
        };
        let message =
            builder.build(metadata, answers.iter(), std::iter::empty(), soa.iter(), std::iter::empty());
        response.send_response(message).await.unwrap_or_else(|_| failed(&request.metadata))
    }
}
