//! fastspf-policyd as Postfix sees it: the real binary, over real sockets,
//! against a real DNS server on 127.0.0.1 (spf-testdns), each test with its
//! own server, daemon and folder.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use spf_testdns::TestDns;

const BIN: &str = env!("CARGO_BIN_EXE_fastspf-policyd");

/// How long a test waits for a line or an answer before failing (a bound
/// for a loaded machine, not an expected duration).
const WAIT: Duration = Duration::from_secs(30);

const ZONE: &str = r#"
$TTL 300
pass.example.      TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail.example.      TXT "v=spf1 ip4:192.0.2.0/24 -all"
soft.example.      TXT "v=spf1 ip4:192.0.2.0/24 ~all"
neutral.example.   TXT "v=spf1 ip4:192.0.2.0/24 ?all"
none.example.      A   192.0.2.80
perm.example.      TXT "v=spf1 ip4:192.0.2.0/33 -all"
temp.example.      TXT "v=spf1 include:broken.example -all"
open.example.      TXT "v=spf1 +all"
mail.example.      A   192.0.2.10
mail.example.      TXT "v=spf1 a -all"
"#;

struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
    socket: PathBuf,
    dir: PathBuf,
    _dns: Option<TestDns>,
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fastspf-policyd-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn dns() -> TestDns {
    let dns = TestDns::start(ZONE);
    dns.servfail("broken.example");
    dns
}

/// Reads `reader`'s lines into a channel (a thread per stream).
fn lines_of(reader: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Daemon {
    fn start(name: &str, config: &str, dns: Option<TestDns>) -> Daemon {
        let dir = temp_dir(name);
        let socket = dir.join("policy.sock");
        let mut text = config.to_string();
        if let Some(dns) = &dns {
            text.push_str(&format!("\nNameservers = {}\n", dns.nameserver()));
        }
        std::fs::write(dir.join("policyd-spf.conf"), text).expect("config");
        let mut child = Command::new(BIN)
            .arg("--listen")
            .arg(format!("unix:{}", socket.display()))
            .arg(dir.join("policyd-spf.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fastspf-policyd");
        let lines = lines_of(child.stderr.take().expect("stderr"));
        let mut daemon = Daemon { child, lines, socket, dir, _dns: dns };
        daemon.wait_for("listening on unix:");
        daemon
    }

    /// Waits for a log line containing `text`; returns it.
    fn wait_for(&mut self, text: &str) -> String {
        loop {
            match self.lines.recv_timeout(WAIT) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => continue,
                Err(e) => panic!("no log line with {text:?}: {e}"),
            }
        }
    }

    fn connect(&self) -> UnixStream {
        let s = UnixStream::connect(&self.socket).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        s
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn request(instance: &str, ip: &str, helo: &str, sender: &str) -> String {
    format!(
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nhelo_name={helo}\n\
         queue_id=Q{instance}\ninstance={instance}\nsender={sender}\nrecipient=bob@rcpt.example\n\
         client_address={ip}\nclient_name=unknown\n\n"
    )
}

/// Sends raw bytes, reads one answer (`action=...` and the empty line).
fn exchange(stream: &mut UnixStream, raw: &[u8]) -> String {
    stream.write_all(raw).expect("write");
    read_answer(stream)
}

fn read_answer(stream: &mut UnixStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\n\n") {
        match stream.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            Ok(_) => panic!("connection closed after {:?}", String::from_utf8_lossy(&got)),
            Err(e) => panic!("no answer: {e}"),
        }
    }
    let text = String::from_utf8(got).expect("utf8");
    let action = text.trim_end().strip_prefix("action=").expect("action=");
    assert!(!action.contains('\n'), "one line: {action:?}");
    action.to_string()
}

const STRICT: &str = "debugLevel = 1\nHELO_reject = Fail\nMail_From_reject = Fail\nPermError_reject = True\nTempError_Defer = True\n";

#[test]
fn every_result_gets_policyd_spf_s_action() {
    let mut d = Daemon::start("results", STRICT, Some(dns()));
    let mut s = d.connect();
    let cases = [
        (
            "192.0.2.10",
            "alice@pass.example",
            "prepend Received-SPF: pass (rcpt.example: domain of alice@pass.example designates 192.0.2.10 as permitted sender)",
        ),
        (
            "203.0.113.9",
            "alice@fail.example",
            "550 5.7.23 Message rejected due to: SPF fail - not authorized. Please see http://www.openspf.net/Why?s=mfrom;id=alice@fail.example;ip=203.0.113.9;r=rcpt.example",
        ),
        ("203.0.113.9", "alice@soft.example", "prepend Received-SPF: softfail "),
        ("203.0.113.9", "alice@neutral.example", "prepend Received-SPF: neutral "),
        ("203.0.113.9", "alice@none.example", "prepend Received-SPF: none "),
        (
            "203.0.113.9",
            "alice@perm.example",
            "550 5.7.24 Message rejected due to: SPF Permanent Error: invalid SPF record at perm.example",
        ),
        (
            "203.0.113.9",
            "alice@temp.example",
            "defer_if_permit 4.7.24 Message deferred due to: SPF Temporary Error: DNS TXT lookup of broken.example failed",
        ),
    ];
    for (i, (ip, sender, want)) in cases.iter().enumerate() {
        let action = exchange(&mut s, request(&format!("r{i}"), ip, "nohelo.example", sender).as_bytes());
        assert!(action.starts_with(want), "{sender}: {action}");
    }
    // HELO fail first (policyd-spf's order): s=helo.
    let action =
        exchange(&mut s, request("h1", "203.0.113.9", "mail.example", "alice@pass.example").as_bytes());
    assert!(action.starts_with("550 5.7.23 Message rejected due to: SPF fail - not authorized. Please see http://www.openspf.net/Why?s=helo;id=mail.example;"), "{action}");
    // The null sender: the HELO identity only.
    let action = exchange(&mut s, request("h2", "192.0.2.10", "mail.example", "").as_bytes());
    assert!(
        action.starts_with("prepend Received-SPF: pass (rcpt.example: HELO mail.example designates"),
        "{action}"
    );
    // A local client: skip_addresses's default.
    let action = exchange(&mut s, request("l1", "127.0.0.1", "x.example", "a@fail.example").as_bytes());
    assert_eq!(
        action,
        "prepend X-Comment: SPF check N/A for local connections - client-ip=127.0.0.1; helo=x.example; envelope-from=a@fail.example; receiver=rcpt.example"
    );
    let line = d.wait_for("Fail; identity=mailfrom; client-ip=203.0.113.9; helo=nohelo.example; envelope-from=alice@fail.example; receiver=rcpt.example");
    assert!(line.starts_with("Fail; identity=mailfrom"));
    d.wait_for("Qr1: 550 5.7.23 Message rejected due to: SPF fail - not authorized.");
}

#[test]
fn one_check_per_transaction_and_one_cache_for_all_connections() {
    let dns = dns();
    let mut d = Daemon::start("instance", &format!("{STRICT}Nameservers = {}\n", dns.nameserver()), None);
    let mut a = d.connect();
    for _ in 0..5 {
        let action =
            exchange(&mut a, request("t1", "192.0.2.10", "mail.example", "alice@pass.example").as_bytes());
        assert!(action == "dunno" || action.starts_with("prepend Received-SPF: pass"), "{action}");
    }
    let mut b = d.connect();
    for _ in 0..5 {
        let action =
            exchange(&mut b, request("t2", "203.0.113.9", "nohelo.example", "alice@fail.example").as_bytes());
        assert!(action.starts_with("550 5.7.23"), "a rejection is repeated for every recipient: {action}");
    }
    // One more transaction on a third connection: checked again, from the shared cache.
    let mut c = d.connect();
    let action =
        exchange(&mut c, request("t3", "192.0.2.10", "mail.example", "alice@pass.example").as_bytes());
    assert!(action.starts_with("prepend Received-SPF: pass"), "{action}");
    d.wait_for("Qt3: prepend");
    assert_eq!(dns.count("pass.example", "TXT"), 1, "one query for every connection's checks");
    assert_eq!(dns.count("mail.example", "TXT"), 1);
    assert_eq!(dns.count("fail.example", "TXT"), 1);
}

#[test]
fn repeated_recipients_do_not_repeat_checks() {
    let mut d = Daemon::start("repeats", STRICT, Some(dns()));
    let mut s = d.connect();
    let first =
        exchange(&mut s, request("x1", "192.0.2.10", "mail.example", "alice@pass.example").as_bytes());
    assert!(first.starts_with("prepend Received-SPF: pass"));
    for _ in 0..4 {
        assert_eq!(
            exchange(&mut s, request("x1", "192.0.2.10", "mail.example", "alice@pass.example").as_bytes()),
            "dunno"
        );
    }
    let next = exchange(&mut s, request("x2", "192.0.2.10", "mail.example", "alice@pass.example").as_bytes());
    assert!(next.starts_with("prepend Received-SPF: pass"), "a new transaction is checked: {next}");
    d.wait_for("Qx2: prepend");
    // Count the checks of one transaction by their result lines, up to a marker.
    let e = Daemon::start("repeats-count", STRICT, Some(dns()));
    let mut s = e.connect();
    for _ in 0..5 {
        exchange(&mut s, request("y1", "192.0.2.10", "mail.example", "alice@pass.example").as_bytes());
    }
    let marker = exchange(&mut s, request("marker", "127.0.0.1", "x", "y").as_bytes());
    assert!(marker.starts_with("prepend X-Comment"));
    let mut results = 0;
    loop {
        let line = e.lines.recv_timeout(WAIT).expect("log line");
        if line.starts_with("Qmarker:") {
            break;
        }
        if line.starts_with("Pass; identity=") {
            results += 1;
        }
    }
    assert_eq!(results, 2, "one HELO and one Mail From check for five recipients");
}

#[test]
fn bad_input_gets_a_clear_answer_and_a_log_line() {
    let mut d = Daemon::start("bad", STRICT, Some(dns()));
    let mut s = d.connect();
    assert_eq!(
        exchange(&mut s, b"request=smtpd_access_policy\nthis line has no equals sign\n\n"),
        "defer_if_permit 4.7.0 invalid policy request: line 2 of the request is not name=value"
    );
    d.wait_for("invalid policy request: line 2");
    let long = format!("request=smtpd_access_policy\nsender={}\n\n", "a".repeat(100_000));
    assert!(exchange(&mut s, long.as_bytes()).starts_with(
        "defer_if_permit 4.7.0 invalid policy request: an attribute line is longer than 8192 bytes"
    ));
    assert_eq!(exchange(&mut s, b"request=smtpd_access_policy\nsender=a@pass.example\n\n"), "dunno");
    d.wait_for("request without client_address");
    assert_eq!(exchange(&mut s, b"request=smtpd_access_policy\nclient_address=not-an-ip\n\n"), "dunno");
    d.wait_for("is not an IP address");
    assert_eq!(exchange(&mut s, b"request=something_else\n\n"), "dunno");
    assert!(exchange(&mut s, b"request=smtpd_access_policy\nsender=\xff\n\n").contains("not UTF-8"));
    // The connection is still in step after all that.
    let ok =
        exchange(&mut s, request("after", "192.0.2.10", "mail.example", "alice@pass.example").as_bytes());
    assert!(ok.starts_with("prepend Received-SPF: pass"), "{ok}");

    // A client that leaves in the middle of a request.
    let mut gone = d.connect();
    gone.write_all(b"request=smtpd_access_policy\nclient_addr").expect("write");
    drop(gone);
    d.wait_for("client closed the connection in the middle of a request (39 bytes)");
    let mut again = d.connect();
    let ok = exchange(
        &mut again,
        request("after2", "192.0.2.10", "mail.example", "alice@pass.example").as_bytes(),
    );
    assert!(ok.starts_with("prepend Received-SPF: pass"), "{ok}");
}

#[test]
fn a_thousand_idle_connections_do_not_stop_the_service() {
    let d = Daemon::start("idle", STRICT, Some(dns()));
    let idle: Vec<UnixStream> = (0..1000).map(|_| d.connect()).collect();
    let mut s = d.connect();
    let ok = exchange(&mut s, request("busy", "192.0.2.10", "mail.example", "alice@pass.example").as_bytes());
    assert!(ok.starts_with("prepend Received-SPF: pass"), "{ok}");
    // Half of them send half a request; the service still answers.
    for (i, mut c) in idle.into_iter().enumerate() {
        if i % 2 == 0 {
            c.write_all(b"request=smtpd_access_policy\n").expect("write");
        }
    }
    let ok =
        exchange(&mut s, request("busy2", "192.0.2.10", "mail.example", "alice@pass.example").as_bytes());
    assert!(ok.starts_with("prepend Received-SPF: pass"), "{ok}");
}

#[test]
fn connections_past_max_connections_are_closed() {
    let mut d = Daemon::start("max", &format!("{STRICT}Max_Connections = 3\n"), Some(dns()));
    let held: Vec<UnixStream> = (0..3).map(|_| d.connect()).collect();
    // Make sure all three were accepted before the fourth.
    let mut first = held.into_iter().collect::<Vec<_>>();
    let answer = exchange(&mut first[2], request("m", "127.0.0.1", "x", "y").as_bytes());
    assert!(answer.starts_with("prepend X-Comment"));
    let mut fourth = d.connect();
    let mut buf = [0u8; 16];
    let _ = fourth.write_all(request("m2", "192.0.2.10", "mail.example", "a@pass.example").as_bytes());
    assert_eq!(fourth.read(&mut buf).unwrap_or(0), 0, "closed at once");
    d.wait_for("too many connections (Max_Connections = 3)");
}

#[test]
fn sighup_reloads_and_sigterm_stops_cleanly() {
    let dns = dns();
    let mut d = Daemon::start("signals", &format!("{STRICT}Nameservers = {}\n", dns.nameserver()), None);
    let mut s = d.connect();
    let action =
        exchange(&mut s, request("s1", "203.0.113.9", "nohelo.example", "alice@soft.example").as_bytes());
    assert!(action.starts_with("prepend Received-SPF: softfail"), "{action}");
    let config = format!("{STRICT}Mail_From_reject = Softfail\nNameservers = {}\n", dns.nameserver());
    std::fs::write(d.dir.join("policyd-spf.conf"), config).expect("rewrite config");
    d.signal(libc::SIGHUP);
    d.wait_for("configuration reloaded");
    let action =
        exchange(&mut s, request("s2", "203.0.113.9", "nohelo.example", "alice@soft.example").as_bytes());
    assert!(
        action.starts_with("550 5.7.23 Message rejected due to: domain owner discourages use of this host."),
        "{action}"
    );
    assert_eq!(dns.count("soft.example", "TXT"), 1, "the reload kept the cache");
    // A broken file: the running configuration stays.
    std::fs::write(d.dir.join("policyd-spf.conf"), "Lookup_Time = soon\n").expect("rewrite config");
    d.signal(libc::SIGHUP);
    d.wait_for("configuration not reloaded");
    let action =
        exchange(&mut s, request("s3", "203.0.113.9", "nohelo.example", "alice@soft.example").as_bytes());
    assert!(action.starts_with("550 5.7.23"), "{action}");
    drop(s);
    d.signal(libc::SIGTERM);
    d.wait_for("stopped");
    let status = d.child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    assert!(!d.socket.exists(), "the socket file is removed");
}

#[test]
fn spawn_mode_logs_to_syslog() {
    let dns = dns();
    let dir = temp_dir("spawn");
    let log_path = dir.join("log.sock");
    let syslog = UnixDatagram::bind(&log_path).expect("bind syslog");
    syslog.set_read_timeout(Some(WAIT)).expect("timeout");
    std::fs::write(dir.join("c.conf"), format!("{STRICT}Nameservers = {}\n", dns.nameserver()))
        .expect("config");
    let mut child = Command::new(BIN)
        .arg("--syslog-socket")
        .arg(&log_path)
        .arg(dir.join("c.conf"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(request("p1", "203.0.113.9", "nohelo.example", "alice@fail.example").as_bytes())
        .expect("write");
    drop(stdin);
    let mut out = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut out).expect("read");
    assert!(
        out.starts_with("action=550 5.7.23 Message rejected due to: SPF fail - not authorized."),
        "{out}"
    );
    assert!(out.ends_with("\n\n"));
    assert!(child.wait().expect("wait").success());
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < 3 {
        let n = syslog.recv(&mut buf).expect("a syslog line");
        got.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    assert!(
        got.iter().any(|l| l.starts_with("<22>policyd-spf[")
            && l.contains("]: Fail; identity=mailfrom; client-ip=203.0.113.9")),
        "{got:?}"
    );
    assert!(got.iter().any(|l| l.contains("]: Qp1: 550 5.7.23")), "{got:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn systemd_socket_activation() {
    let activate = Path::new("/usr/bin/systemd-socket-activate");
    if !activate.exists() {
        eprintln!("skipped: systemd-socket-activate (Debian's systemd package) is not installed");
        return;
    }
    let dns = dns();
    let dir = temp_dir("activate");
    let socket = dir.join("fastspf.sock");
    std::fs::write(dir.join("c.conf"), format!("{STRICT}Nameservers = {}\n", dns.nameserver()))
        .expect("config");
    let mut child = Command::new(activate)
        .arg("-l")
        .arg(&socket)
        .arg(BIN)
        .arg(dir.join("c.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("systemd-socket-activate");
    let lines = lines_of(child.stderr.take().expect("stderr"));
    // systemd-socket-activate says when it listens.
    loop {
        let line = lines.recv_timeout(WAIT).expect("a line from systemd-socket-activate");
        if line.contains("Listening on") {
            break;
        }
    }
    let mut s = UnixStream::connect(&socket).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let action =
        exchange(&mut s, request("a1", "192.0.2.10", "mail.example", "alice@pass.example").as_bytes());
    assert!(action.starts_with("prepend Received-SPF: pass"), "{action}");
    loop {
        let line = lines.recv_timeout(WAIT).expect("log line");
        if line.contains("listening on unix:") {
            break;
        }
    }
    // SAFETY: kill(2) on our own child (the service, exec'd in its place).
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().expect("wait").success());
    let _ = std::fs::remove_dir_all(&dir);
}
