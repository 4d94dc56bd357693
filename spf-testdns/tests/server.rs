//! spf-testdns answering a real client (hickory-proto messages over UDP and
//! TCP sockets) on 127.0.0.1, and the `spf-testdns` binary as a user runs it.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use spf_testdns::{Error, MAX_ANSWER_CNAMES, TestDns};

/// How long a client waits for an answer that comes at once (a bound for
/// a broken server, never reached when things work).
const ANSWER: Duration = Duration::from_secs(10);
/// How long a client waits for an answer that must not come. A late
/// answer would make a test pass wrongly, never fail.
const NO_ANSWER: Duration = Duration::from_millis(300);

fn name(text: &str) -> Name {
    Name::from_labels(text.trim_end_matches('.').split('.').map(str::as_bytes)).expect("a name")
}

fn query(qname: &Name, rtype: RecordType) -> Vec<u8> {
    let mut message = Message::query();
    message.metadata.id = 4242;
    message.add_query(Query::query(qname.clone(), rtype));
    message.to_vec().expect("encode")
}

/// One query over UDP; `None` when no answer came within `wait`.
fn udp_name(server: SocketAddr, qname: &Name, rtype: RecordType, wait: Duration) -> Option<Message> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("client socket");
    socket.set_read_timeout(Some(wait)).expect("timeout");
    socket.send_to(&query(qname, rtype), server).expect("send");
    let mut buf = [0u8; 65535];
    match socket.recv_from(&mut buf) {
        Ok((n, _)) => Some(Message::from_vec(&buf[..n]).expect("a DNS message")),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => None,
        Err(e) => panic!("recv: {e}"),
    }
}

fn udp(server: &TestDns, qname: &str, rtype: RecordType) -> Message {
    udp_name(server.addr, &name(qname), rtype, ANSWER).expect("an answer")
}

/// One query over TCP; `None` when no answer came within `wait` while the
/// connection stayed open.
fn tcp(server: SocketAddr, qname: &str, rtype: RecordType, wait: Duration) -> Option<Message> {
    let mut stream = TcpStream::connect(server).expect("connect");
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let bytes = query(&name(qname), rtype);
    let len = u16::try_from(bytes.len()).expect("short query");
    stream.write_all(&len.to_be_bytes()).expect("send");
    stream.write_all(&bytes).expect("send");
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            return None;
        }
        Err(e) => panic!("the server closed or broke the connection: {e}"),
    }
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).expect("the message");
    Some(Message::from_vec(&buf).expect("a DNS message"))
}

/// The answer section as `owner TYPE data` lines.
fn answers(message: &Message) -> Vec<String> {
    message.answers.iter().map(|r| format!("{} {} {}", r.name, r.record_type(), r.data)).collect()
}

/// The target of the answer's last record when it is a CNAME.
fn dangling_cname(message: &Message) -> Option<String> {
    match message.answers.last().map(|r| &r.data) {
        Some(RData::CNAME(target)) => Some(target.0.to_ascii()),
        _ => None,
    }
}

/// A chain h0 -> h1 -> ... -> h{hops} with a TXT record at the end.
fn chain(hops: usize) -> String {
    let mut zone = String::from("$TTL 300\n$ORIGIN chain.test.\n");
    for i in 0..hops {
        zone.push_str(&format!("h{i} IN CNAME h{}\n", i + 1));
    }
    zone.push_str(&format!("h{hops} IN TXT \"v=spf1 -all\"\n"));
    zone
}

const ZONE: &str = r#"
$TTL 300
$ORIGIN cname.test.
a        IN CNAME b
b   60   IN CNAME c.cname.test.
c        IN TXT   "v=spf1 -all"
c        IN A     192.0.2.1
gone     IN CNAME nowhere
empty    IN CNAME c2
c2       IN A     192.0.2.2
loop1    IN CNAME loop2
loop2    IN CNAME loop1
self     IN CNAME self
mx       IN MX    10 mail
mx       IN MX    20 backup
"#;

#[test]
fn answers_carry_the_cname_chain() {
    let server = TestDns::start(ZONE);
    for message in [
        udp(&server, "A.Cname.Test.", RecordType::TXT),
        tcp(server.addr, "A.Cname.Test.", RecordType::TXT, ANSWER).expect("an answer"),
    ] {
        assert_eq!(message.metadata.response_code, ResponseCode::NoError);
        assert!(message.metadata.authoritative);
        assert_eq!(
            answers(&message),
            [
                "A.Cname.Test. CNAME b.cname.test.",
                "b.cname.test. CNAME c.cname.test.",
                "c.cname.test. TXT v=spf1 -all",
            ],
            "the first owner is the name as asked"
        );
        let ttls: Vec<u32> = message.answers.iter().map(|r| r.ttl).collect();
        assert_eq!(ttls, [300, 60, 300]);
    }
    assert_eq!((server.count("a.cname.test", "TXT"), server.total()), (2, 2), "one query each");
    // No alias, no CNAME; MX exchanges in preference order.
    assert_eq!(answers(&udp(&server, "c.cname.test", RecordType::A)), ["c.cname.test. A 192.0.2.1"]);
    assert_eq!(
        answers(&udp(&server, "mx.cname.test", RecordType::MX)),
        ["mx.cname.test. MX 10 mail.cname.test.", "mx.cname.test. MX 11 backup.cname.test."]
    );
}

/// RFC 6604: the RCODE is the last name's; the CNAMEs before it stay.
#[test]
fn nxdomain_and_nodata_at_the_end_of_a_chain() {
    let server = TestDns::start(ZONE);
    let gone = udp(&server, "gone.cname.test", RecordType::TXT);
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(answers(&gone), ["gone.cname.test. CNAME nowhere.cname.test."]);
    assert_eq!(gone.authorities.len(), 1, "an SOA for negative caching");
    let empty = udp(&server, "empty.cname.test", RecordType::TXT);
    assert_eq!(empty.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answers(&empty), ["empty.cname.test. CNAME c2.cname.test."]);
    assert_eq!(empty.authorities.len(), 1);
    let nothing = udp(&server, "nothing.cname.test", RecordType::TXT);
    assert_eq!(nothing.metadata.response_code, ResponseCode::NXDomain);
    assert!(nothing.answers.is_empty());
}

#[test]
fn cname_queries_and_types_not_served() {
    let server = TestDns::start(ZONE);
    let cname = udp(&server, "a.cname.test", RecordType::CNAME);
    assert_eq!(answers(&cname), ["a.cname.test. CNAME b.cname.test."], "the record itself, not followed");
    let none = udp(&server, "c.cname.test", RecordType::CNAME);
    assert_eq!((none.metadata.response_code, none.answers.len()), (ResponseCode::NoError, 0));
    let ns = udp(&server, "a.cname.test", RecordType::NS);
    assert_eq!(ns.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answers(&ns), ["a.cname.test. CNAME b.cname.test.", "b.cname.test. CNAME c.cname.test."]);
    let ns = udp(&server, "nothing.cname.test", RecordType::NS);
    assert_eq!(ns.metadata.response_code, ResponseCode::NXDomain);
}

/// Loops and chains longer than a resolver accepts are answered within
/// MAX_ANSWER_CNAMES records, and never loop.
#[test]
fn cname_loops_and_long_chains_are_answered_within_bounds() {
    let server = TestDns::start(ZONE);
    let looped = udp(&server, "loop1.cname.test", RecordType::TXT);
    assert_eq!(looped.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        answers(&looped),
        ["loop1.cname.test. CNAME loop2.cname.test.", "loop2.cname.test. CNAME loop1.cname.test."]
    );
    assert_eq!(
        answers(&udp(&server, "self.cname.test", RecordType::A)),
        ["self.cname.test. CNAME self.cname.test."]
    );
    assert_eq!(answers(&udp(&server, "self.cname.test", RecordType::NS)).len(), 1);
    // At the bound the data comes too; past it the answer ends with a
    // CNAME to chase.
    assert_eq!(MAX_ANSWER_CNAMES, 16);
    server.set_zone(&chain(MAX_ANSWER_CNAMES));
    let at = udp(&server, "h0.chain.test", RecordType::TXT);
    assert_eq!(at.answers.len(), MAX_ANSWER_CNAMES + 1);
    assert_eq!(dangling_cname(&at), None);
    server.set_zone(&chain(MAX_ANSWER_CNAMES + 1));
    let past = udp(&server, "h0.chain.test", RecordType::TXT);
    assert_eq!(past.answers.len(), MAX_ANSWER_CNAMES);
    assert_eq!(dangling_cname(&past).as_deref(), Some("h16.chain.test."));
    let rest = udp(&server, "h16.chain.test", RecordType::TXT);
    assert_eq!(answers(&rest), ["h16.chain.test. CNAME h17.chain.test.", "h17.chain.test. TXT v=spf1 -all"]);
}

/// Asks like a client that follows a CNAME answer ending in an alias by
/// asking again for its target; returns the final answer and the queries.
fn chase(server: &TestDns, qname: &str, rtype: RecordType) -> (Message, usize) {
    let mut current = qname.to_string();
    for queries in 1..=64 {
        let message = udp(server, &current, rtype);
        match dangling_cname(&message) {
            Some(target) => current = target,
            None => return (message, queries),
        }
    }
    panic!("no end to the chain from {qname}");
}

/// With partial CNAME answers a 7-hop chain takes a client 8 queries.
#[test]
fn partial_cnames_make_the_client_ask_for_every_hop() {
    let server = TestDns::start(&chain(7));
    server.partial_cnames_all(true);
    let first = udp(&server, "h0.chain.test", RecordType::TXT);
    assert_eq!(answers(&first), ["h0.chain.test. CNAME h1.chain.test."]);
    server.reset();
    let (last, queries) = chase(&server, "h0.chain.test", RecordType::TXT);
    assert_eq!(answers(&last), ["h7.chain.test. TXT v=spf1 -all"]);
    assert_eq!((queries, server.total()), (8, 8));
    for i in 0..=7 {
        assert_eq!(server.count(&format!("h{i}.chain.test"), "TXT"), 1, "h{i}");
    }
    // Off again: one query, the whole chain.
    server.partial_cnames_all(false);
    server.reset();
    let (whole, queries) = chase(&server, "h0.chain.test", RecordType::TXT);
    assert_eq!((whole.answers.len(), queries), (8, 1));
    // Per name: only h0 is cut short; h1 gets the rest of the chain.
    server.partial_cnames("H0.chain.test.");
    assert_eq!(
        answers(&udp(&server, "h0.chain.test", RecordType::TXT)),
        ["h0.chain.test. CNAME h1.chain.test."]
    );
    assert_eq!(udp(&server, "h1.chain.test", RecordType::TXT).answers.len(), 7);
    // A name that is no alias answers as usual.
    assert_eq!(answers(&udp(&server, "h7.chain.test", RecordType::TXT)), ["h7.chain.test. TXT v=spf1 -all"]);
}

#[test]
fn silence_all_over_udp_and_tcp() {
    let server = TestDns::start(ZONE);
    server.silence_all(true);
    assert!(udp_name(server.addr, &name("c.cname.test"), RecordType::TXT, NO_ANSWER).is_none());
    assert!(tcp(server.addr, "c.cname.test", RecordType::TXT, NO_ANSWER).is_none(), "open, never answered");
    assert!(server.wait_for_total(2, ANSWER), "both queries arrived");
    let seen = server.seen();
    assert_eq!(seen.iter().map(|s| s.tcp).collect::<Vec<_>>(), [false, true]);
    server.silence_all(false);
    assert_eq!(answers(&udp(&server, "c.cname.test", RecordType::TXT)), ["c.cname.test. TXT v=spf1 -all"]);
    assert!(tcp(server.addr, "c.cname.test", RecordType::TXT, ANSWER).is_some());
    // One name silenced, over both.
    server.silence("C.cname.test.");
    assert!(udp_name(server.addr, &name("c.cname.test"), RecordType::A, NO_ANSWER).is_none());
    assert!(tcp(server.addr, "c.cname.test", RecordType::A, NO_ANSWER).is_none());
    assert!(udp_name(server.addr, &name("c2.cname.test"), RecordType::A, ANSWER).is_some());
    assert!(server.wait_for_total(7, ANSWER));
    assert_eq!(server.count("c.cname.test", "A"), 2);
}

#[test]
fn servfail_and_delay() {
    let server = TestDns::start(ZONE);
    server.servfail("c.cname.test");
    assert_eq!(udp(&server, "c.cname.test", RecordType::TXT).metadata.response_code, ResponseCode::ServFail);
    // A delayed answer still comes (no assertion on how late).
    server.delay("c2.cname.test", Duration::from_millis(1));
    assert_eq!(answers(&udp(&server, "c2.cname.test", RecordType::A)), ["c2.cname.test. A 192.0.2.2"]);
}

#[test]
fn the_query_log_is_exact() {
    let server = TestDns::start(ZONE);
    assert_eq!((server.total(), server.dropped()), (0, 0));
    udp(&server, "C.CNAME.TEST", RecordType::TXT);
    udp(&server, "c.cname.test", RecordType::A);
    tcp(server.addr, "c.cname.test", RecordType::TXT, ANSWER).expect("an answer");
    udp(&server, "nothing.cname.test", RecordType::TXT);
    assert_eq!(server.count("c.cname.test", "TXT"), 2, "names compare in lower case");
    assert_eq!(server.count("C.Cname.Test.", "txt"), 2, "any case, trailing dot or not");
    assert_eq!(server.count("c.cname.test", "A"), 1);
    assert_eq!(server.count("c.cname.test", "MX"), 0);
    assert_eq!(server.count_name("c.cname.test"), 3);
    assert_eq!((server.total(), server.dropped()), (4, 0));
    let seen = server.seen();
    let log: Vec<(&str, &str, bool)> =
        seen.iter().map(|s| (s.name.as_str(), s.rtype.as_str(), s.tcp)).collect();
    assert_eq!(
        log,
        [
            ("c.cname.test", "TXT", false),
            ("c.cname.test", "A", false),
            ("c.cname.test", "TXT", true),
            ("nothing.cname.test", "TXT", false)
        ]
    );
    assert!(seen.windows(2).all(|w| w[0].at <= w[1].at), "in order of arrival");
    server.reset();
    assert_eq!((server.total(), server.count_name("c.cname.test"), server.seen().len()), (0, 0, 0));
    udp(&server, "c.cname.test", RecordType::TXT);
    assert_eq!((server.total(), server.count("c.cname.test", "TXT")), (1, 1), "counts start again");
}

/// Issue 14 over the wire: escaped owner names are served, under the
/// name a client asks for with raw labels.
#[test]
fn escaped_names_are_served() {
    let server = TestDns::start(concat!(
        "foo\\058bar\\047baz.example. 300 IN A 192.0.2.1\n",
        "high\\200byte.example. 300 IN A 192.0.2.2\n",
        "dot\\.inside.example. 300 IN A 192.0.2.3\n",
        "alias.example. 300 IN CNAME high\\200byte.example.\n",
    ));
    assert_eq!(answers(&udp(&server, "foo:bar/baz.example", RecordType::A)).len(), 1);
    assert_eq!(server.count("foo:bar/baz.example", "A"), 1);
    let high = Name::from_labels([&b"high\xc8byte"[..], b"example"]).expect("a name");
    let answer = udp_name(server.addr, &high, RecordType::A, ANSWER).expect("an answer");
    assert_eq!(answer.answers.len(), 1, "a label that is not UTF-8");
    assert_eq!(server.count(".high\\200byte.example", "A"), 1, "logged in the escaped form");
    let dotted = Name::from_labels([&b"dot.inside"[..], b"example"]).expect("a name");
    let answer = udp_name(server.addr, &dotted, RecordType::A, ANSWER).expect("an answer");
    assert!(matches!(answer.answers[0].data, RData::A(ref a) if a.0.octets() == [192, 0, 2, 3]));
    let alias = udp(&server, "alias.example", RecordType::A);
    assert_eq!(alias.answers.len(), 2);
    assert_eq!(alias.answers[1].name, high, "the target's octets as in the file");
}

/// Issue 15: errors say which address or file, and do not panic.
#[test]
fn errors_name_the_address_and_the_source() {
    let taken = UdpSocket::bind("127.0.0.1:0").expect("a socket");
    let addr = taken.local_addr().expect("its address");
    let err = TestDns::try_start_on(addr, "a.test. 300 IN A 192.0.2.1\n", "a.zone").expect_err("in use");
    assert!(matches!(err, Error::Listen { protocol: "UDP", .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("cannot listen on {addr}: address already in use"));
    let err = TestDns::try_start_on(
        "127.0.0.1:0".parse().expect("addr"),
        "a.test. 300 IN A 192.0.2.1\nb.test. 300 IN TXTT x\n",
        "a.zone",
    )
    .expect_err("bad zone");
    assert!(matches!(err, Error::Zone(spf_core::Error::ZoneSyntax { line: 2, .. })), "{err:?}");
    assert_eq!(err.to_string(), "a.zone:2: record type string unknown: TXTT");
    let err =
        TestDns::try_start_on("192.0.2.1:53".parse().expect("addr"), "", "a.zone").expect_err("not loopback");
    assert!(matches!(err, Error::NotLoopback(_)), "{err:?}");
    // The panicking constructors say the same.
    let panic = std::panic::catch_unwind(|| TestDns::start_on(addr, "")).expect_err("a panic");
    let message = panic.downcast_ref::<String>().expect("a message");
    assert_eq!(message, &format!("spf-testdns: cannot listen on {addr}: address already in use"));
    // A failed zone change keeps the zone served.
    let server = TestDns::start(ZONE);
    assert!(server.try_set_zone("x. IN A 1\n", "new.zone").is_err());
    assert_eq!(udp(&server, "c.cname.test", RecordType::A).answers.len(), 1);
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spf-testdns"))
}

fn zone_file(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spf-core/tests/data/zone").join(name)
}

#[test]
fn binary_errors_and_exit_statuses() {
    let typo = zone_file("typo-line-70.zone");
    let out = binary().arg("--zone").arg(&typo).stdin(Stdio::null()).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, format!("spf-testdns: {}:70: record type string unknown: TXTT\n", typo.display()));
    let out = binary().args(["--zone", "/nonexistent/x.zone"]).stdin(Stdio::null()).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("spf-testdns: cannot read zone file /nonexistent/x.zone: ")
    );
    let taken = UdpSocket::bind("127.0.0.1:0").expect("a socket");
    let addr = taken.local_addr().expect("its address");
    let out = binary()
        .arg("--zone")
        .arg(zone_file("escaped.zone"))
        .args(["--listen", &addr.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("spf-testdns: cannot listen on {addr}: address already in use\n")
    );
    let out = binary().args(["--no-such-flag"]).stdin(Stdio::null()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "usage errors");
    let out = binary()
        .args(["--zone", "x", "--listen", "192.0.2.1:53"])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "not loopback");
}

#[test]
fn binary_serves_with_partial_cnames_until_stdin_closes() {
    let dir = std::env::temp_dir().join(format!("spf-testdns-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let first = dir.join("first.zone");
    let second = dir.join("second.zone");
    std::fs::write(&first, "$ORIGIN one.test.\n$TTL 300\na IN CNAME b.two.test.\n").expect("write");
    std::fs::write(&second, "$ORIGIN two.test.\nb 300 IN TXT \"v=spf1 -all\"\n").expect("write");
    let mut child = binary()
        .arg("--zone")
        .arg(&first)
        .arg("--zone")
        .arg(&second)
        .arg("--partial-cnames-all")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).expect("a line");
    let addr: SocketAddr =
        line.trim().strip_prefix("listening on ").expect("listening on").parse().expect("addr");
    let answer = udp_name(addr, &name("a.one.test"), RecordType::TXT, ANSWER).expect("an answer");
    assert_eq!(answers(&answer), ["a.one.test. CNAME b.two.test."]);
    let answer = udp_name(addr, &name("b.two.test"), RecordType::TXT, ANSWER).expect("an answer");
    assert_eq!(answers(&answer), ["b.two.test. TXT v=spf1 -all"]);
    drop(child.stdin.take());
    assert!(child.wait().expect("exits").success());
    let _ = std::fs::remove_dir_all(&dir);
}
