//! The `fastspf` binary run as a user runs it, against `examples/demo.zone`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn demo_zone() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/demo.zone")
}

fn fastspf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fastspf")).args(args).output().expect("run fastspf")
}

/// Runs `check --json` against the demo zone and returns the parsed object.
fn check_json(ip: &str, sender: &str, helo: &str) -> serde_json::Value {
    let zone = demo_zone();
    let out = fastspf(&[
        "check",
        "--zone",
        zone.to_str().expect("utf-8 path"),
        "--ip",
        ip,
        "--sender",
        sender,
        "--helo",
        helo,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn every_demo_case_gives_its_result() {
    let cases = [
        ("192.0.2.10", "alice@pass.demo.example", "pass", Some("ip4:192.0.2.0/24")),
        ("203.0.113.9", "alice@fail.demo.example", "fail", Some("-all")),
        ("203.0.113.9", "alice@softfail.demo.example", "softfail", Some("~all")),
        ("203.0.113.9", "alice@neutral.demo.example", "neutral", Some("?all")),
        ("192.0.2.10", "alice@none.demo.example", "none", None),
        ("192.0.2.10", "alice@permerror.demo.example", "permerror", None),
        ("203.0.113.9", "alice@toomany.demo.example", "permerror", None),
        ("203.0.113.66", "spammer@open.demo.example", "pass", Some("all")),
        ("203.0.113.9", "alice@typo.demo.example", "none", None),
        ("198.51.100.7", "alice@provider.demo.example", "pass", Some("include:_spf.provider.demo.example")),
        ("198.51.100.7", "alice@redirect.demo.example", "pass", Some("include:_spf.provider.demo.example")),
        (
            "2001:db8:100::25",
            "alice@provider.demo.example",
            "pass",
            Some("include:_spf.provider.demo.example"),
        ),
        ("192.0.2.10", "", "pass", Some("a")),
        ("192.0.2.10", "bob@mx.demo.example", "pass", Some("mx")),
    ];
    for (ip, sender, result, mechanism) in cases {
        let v = check_json(ip, sender, "mail.demo.example");
        assert_eq!(v["result"], result, "{sender} from {ip}: {v:#}");
        assert_eq!(v["mechanism"].as_str(), mechanism, "{sender} from {ip}");
        for key in ["explanation", "domain", "dns_lookups", "void_lookups", "trace"] {
            assert!(v.get(key).is_some(), "{key} missing for {sender}");
        }
        let received = v["received_spf"].as_str().expect("received_spf");
        assert!(received.starts_with(&format!("Received-SPF: {result} ")), "{received}");
        assert!(received.contains("identity=mailfrom"), "{received}");
        let ar = v["authentication_results"].as_str().expect("authentication_results");
        assert!(ar.contains(&format!("; spf={result} ")), "{ar}");
        assert!(ar.contains(" smtp.mailfrom="), "{ar}");
    }
}

#[test]
fn fail_carries_the_expanded_explanation() {
    let v = check_json("203.0.113.9", "alice@fail.demo.example", "mail.demo.example");
    assert_eq!(
        v["explanation"],
        "203.0.113.9 is not a mail server of fail.demo.example; ask postmaster@fail.demo.example"
    );
}

#[test]
fn include_chain_reports_budget_per_include() {
    let v = check_json("198.51.100.7", "alice@provider.demo.example", "mail.demo.example");
    assert_eq!(v["dns_lookups"], 2);
    assert_eq!(v["domain"], "provider.demo.example");
    let leaves: Vec<(&str, u64)> = v["trace"]
        .as_array()
        .expect("trace")
        .iter()
        .filter(|e| e["event"] == "leave")
        .map(|e| (e["domain"].as_str().unwrap_or_default(), e["dns_lookups_spent"].as_u64().unwrap_or(99)))
        .collect();
    assert_eq!(
        leaves,
        [
            ("_netblocks.provider.demo.example", 1),
            ("_spf.provider.demo.example", 2),
            ("provider.demo.example", 2)
        ]
    );
}

#[test]
fn typo_record_explains_itself() {
    let v = check_json("203.0.113.9", "alice@typo.demo.example", "mail.demo.example");
    assert_eq!(v["result"], "none");
    let detail = v["trace"]
        .as_array()
        .expect("trace")
        .iter()
        .find(|e| e["event"] == "no_record")
        .and_then(|e| e["detail"].as_str())
        .expect("a no_record event")
        .to_string();
    assert!(detail.contains("v-spf1"), "{detail}");
}

#[test]
fn human_output_shows_result_match_and_headers() {
    let zone = demo_zone();
    let out = fastspf(&[
        "check",
        "--zone",
        zone.to_str().expect("utf-8 path"),
        "--ip",
        "203.0.113.9",
        "--sender",
        "alice@fail.demo.example",
        "--receiver",
        "mx.receiver.example",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.starts_with("result:      FAIL"), "{text}");
    assert!(text.contains("matched:     -all (in the record of fail.demo.example)"), "{text}");
    assert!(text.contains("explanation: 203.0.113.9 is not a mail server"), "{text}");
    assert!(text.contains("\nReceived-SPF: fail (mx.receiver.example: "), "{text}");
    assert!(text.contains("\nAuthentication-Results: mx.receiver.example; spf=fail"), "{text}");
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let zone = demo_zone();
    let zone = zone.to_str().expect("utf-8 path");
    let cases: [&[&str]; 7] = [
        &["check", "--zone", zone, "--ip", "not-an-ip", "--sender", "a@b.example"],
        &["check", "--zone", "/nonexistent/zone", "--ip", "192.0.2.1", "--sender", "a@b.example"],
        &["check", "--zone", zone, "--ip", "192.0.2.1", "--sender", ""],
        &["check", "--sender", "a@b.example"],
        &["check", "--ip", "192.0.2.1", "--sender", "a@b.example", "--nameserver", "not-an-address"],
        &[
            "check",
            "--ip",
            "192.0.2.1",
            "--sender",
            "a@b.example",
            "--nameserver",
            "127.0.0.1",
            "--timeout",
            "-1",
        ],
        &[
            "check",
            "--zone",
            zone,
            "--nameserver",
            "127.0.0.1",
            "--ip",
            "192.0.2.1",
            "--sender",
            "a@b.example",
        ],
    ];
    for args in cases {
        let out = fastspf(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} printed no message");
        assert!(out.stdout.is_empty(), "{args:?} printed a result");
    }
}

/// Real DNS: the demo zone served by a DNS server on 127.0.0.1.
#[test]
fn checks_against_a_nameserver() {
    let master = std::fs::read_to_string(demo_zone()).expect("demo zone");
    let server = spf_testdns::TestDns::start(&master);
    let nameserver = server.addr.to_string();
    for (ip, sender, result) in [
        ("192.0.2.10", "alice@pass.demo.example", "pass"),
        ("203.0.113.9", "alice@fail.demo.example", "fail"),
        ("198.51.100.7", "alice@redirect.demo.example", "pass"),
        ("192.0.2.10", "alice@nowhere.demo.example", "none"),
    ] {
        let out = fastspf(&["check", "--nameserver", &nameserver, "--ip", ip, "--sender", sender, "--json"]);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(v["result"], result, "{sender} from {ip}");
    }
    assert!(server.count("pass.demo.example", "TXT") >= 1);
    assert!(server.count("why._spf.fail.demo.example", "TXT") >= 1, "the explanation was fetched");
}
