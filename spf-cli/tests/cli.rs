//! The `fastspf` binary run as a user runs it, against `examples/demo.zone`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn demo_zone() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/demo.zone")
}

fn fastspf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fastspf")).args(args).output().expect("run fastspf")
}

/// Runs fastspf with `input` on its standard input.
fn fastspf_with_input(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_fastspf"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run fastspf");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write the input");
    drop(stdin);
    child.wait_with_output().expect("fastspf output")
}

/// Each output line as a JSON object.
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Runs `check --json` against the demo zone and returns the parsed object.
fn check_json(ip: &str, sender: &str, helo: &str) -> serde_json::Value {
    check_json_with(ip, sender, helo, &[])
}

/// [`check_json`] with more arguments.
fn check_json_with(ip: &str, sender: &str, helo: &str, more: &[&str]) -> serde_json::Value {
    let zone = demo_zone();
    let mut args = vec![
        "check",
        "--zone",
        zone.to_str().expect("utf-8 path"),
        "--ip",
        ip,
        "--sender",
        sender,
        "--helo",
        helo,
    ];
    args.push("--json");
    args.extend_from_slice(more);
    let out = fastspf(&args);
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
        // Headers come folded (LF before a space); unfolded they read as one line.
        let received = v["received_spf"].as_str().expect("received_spf").replace("\n ", " ");
        assert!(received.starts_with(&format!("Received-SPF: {result} ")), "{received}");
        assert!(received.contains("identity=mailfrom"), "{received}");
        let ar = v["authentication_results"].as_str().expect("authentication_results").replace("\n ", " ");
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
    let v = check_json_with("198.51.100.7", "alice@provider.demo.example", "mail.demo.example", &["--trace"]);
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
    // Without the trace (the default) the reason names the near miss.
    let v = check_json("203.0.113.9", "alice@typo.demo.example", "mail.demo.example");
    assert_eq!(v["result"], "none");
    assert_eq!(v["trace"], serde_json::json!([]));
    let reason = v["reason"].as_str().expect("a reason");
    assert!(reason.contains("looks meant to be") && reason.contains("v-spf1"), "{reason}");
    assert!(v["reason_detail"]["near_miss"].as_str().expect("near_miss").contains("v-spf1"));
    // The trace says more: how many TXT records, and why none is SPF.
    let v = check_json_with("203.0.113.9", "alice@typo.demo.example", "mail.demo.example", &["--trace"]);
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

// ---- lint (issue 7) and draft checks ----

fn lint(args: &[&str]) -> Output {
    let zone = demo_zone();
    let mut all = vec!["lint", "--zone", zone.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    fastspf(&all)
}

fn lint_json(args: &[&str], status: i32) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = lint(&all);
    assert_eq!(out.status.code(), Some(status), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn lint_codes(v: &serde_json::Value) -> Vec<&str> {
    v["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| d["code"].as_str().expect("code"))
        .collect()
}

#[test]
fn lint_exit_status_follows_error_diagnostics() {
    let clean = lint_json(&["pass.demo.example"], 0);
    assert_eq!(clean["ok"], true);
    assert_eq!(clean["diagnostics"], serde_json::json!([]));
    assert_eq!(clean["authorized"]["ipv4"]["count"], "256");
    assert_eq!(clean["authorized"]["ipv4"]["cidrs"], serde_json::json!(["192.0.2.0/24"]));
    assert_eq!(clean["authorized"]["ipv6"]["count"], "0");
    assert_eq!(clean["record"], "v=spf1 ip4:192.0.2.0/24 -all");

    let open = lint_json(&["open.demo.example"], 1);
    assert_eq!(open["ok"], false);
    assert_eq!(lint_codes(&open), ["plus-all", "wide-open"]);
    let plus = &open["diagnostics"][0];
    assert_eq!(plus["severity"], "error");
    assert_eq!((plus["term"].as_str(), plus["offset"].as_u64()), (Some("+all"), Some(7)));
    assert_eq!(open["authorized"]["ipv6"]["count"], "340282366920938463463374607431768211456");

    let typo = lint_json(&["typo.demo.example"], 1);
    assert_eq!(lint_codes(&typo), ["not-spf-typo"]);

    let toomany = lint_json(&["toomany.demo.example"], 1);
    assert!(lint_codes(&toomany).contains(&"too-many-lookups"));
    assert_eq!(toomany["dns_lookup_terms"], 11);
    assert_eq!(toomany["counts"]["error"], 2);
}

#[test]
fn lint_reports_addresses_asked_for() {
    let v = lint_json(
        &[
            "provider.demo.example",
            "--ip",
            "198.51.100.7",
            "--ip",
            "2001:db8:100::25",
            "--self-test",
            "192.0.2.1",
        ],
        0,
    );
    let checks = v["checks"].as_array().expect("checks");
    assert_eq!(checks[0]["role"], "requested");
    assert_eq!(checks[0]["result"], "pass");
    assert_eq!(checks[0]["matched"]["term"], "include:_spf.provider.demo.example");
    assert_eq!(checks[1]["ip"], "2001:db8:100::25");
    assert_eq!(checks[1]["authorized"], "yes");
    assert_eq!((checks[2]["role"].as_str(), checks[2]["result"].as_str()), (Some("self-test"), Some("fail")));
    // The self-test fails for the open domain: an error, exit 1.
    let open = lint_json(&["open.demo.example", "--self-test", "192.0.2.1"], 1);
    assert!(lint_codes(&open).contains(&"self-test-pass"));
}

#[test]
fn lint_human_output() {
    let out = lint(&[
        "--record",
        "v=spf1 ip4:192.0.2.1/24 include:_spf.provider.demo.example -all",
        "--domain",
        "draft.demo.example",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("(draft, not published)"), "{text}");
    assert!(
        text.contains("WARNING  host-bits-set  (draft.demo.example, \"ip4:192.0.2.1/24\" at byte 7)"),
        "{text}"
    );
    assert!(text.contains("IPv4: 512 addresses"), "{text}");
    assert!(text.contains("192.0.2.0/24 198.51.100.0/25 203.0.113.128/25"), "{text}");
    assert!(text.contains("budget:  3 of 10 DNS-querying terms"), "{text}");
    assert!(text.contains("include _netblocks2.provider.demo.example"), "{text}");
    assert!(text.trim_end().ends_with("0 error(s), 1 warning(s), 0 note(s)"), "{text}");
}

#[test]
fn lint_a_draft_for_a_domain_and_on_its_own() {
    // The published typo, fixed in a draft at the same domain.
    let fixed = lint_json(&["--record", "v=spf1 ip4:192.0.2.0/24 -all", "--domain", "typo.demo.example"], 0);
    assert_eq!(fixed["draft"], true);
    assert_eq!(fixed["domain"], "typo.demo.example");
    let alone = lint_json(&["--record", "v=spf1 mx -all"], 0);
    assert_eq!(alone["domain"], serde_json::Value::Null);
    assert_eq!(alone["client_dependent_terms"][0]["term"], "mx");
}

#[test]
fn lint_usage_errors_exit_2() {
    let cases: [&[&str]; 5] = [
        &["lint"],
        &["lint", "pass.demo.example", "--ip", "not-an-ip"],
        &["lint", "pass.demo.example", "--domain", "x.example"],
        &["lint", "--zone", "/nonexistent/zone", "pass.demo.example"],
        &["lint", "pass.demo.example", "--deadline", "0"],
    ];
    for args in cases {
        let out = fastspf(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty() && out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn lint_against_a_nameserver() {
    let master = std::fs::read_to_string(demo_zone()).expect("demo zone");
    let server = spf_testdns::TestDns::start(&master);
    let nameserver = server.addr.to_string();
    let out = fastspf(&["lint", "--nameserver", &nameserver, "provider.demo.example", "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["dns_lookup_terms"], 3);
    assert_eq!(v["authorized"]["ipv4"]["cidrs"], serde_json::json!(["198.51.100.0/25", "203.0.113.128/25"]));
    assert_eq!(server.count("_netblocks2.provider.demo.example", "TXT"), 1, "each record is fetched once");
}

#[test]
fn check_a_draft_record_before_publishing_it() {
    let zone = demo_zone();
    let zone = zone.to_str().expect("utf-8 path");
    // Published: 203.0.113.9 fails. Drafted: it passes; the rest of DNS is as usual.
    let draft = ["--record", "v=spf1 ip4:203.0.113.9 include:_spf.provider.demo.example -all"];
    let out = fastspf(
        &[
            &[
                "check",
                "--zone",
                zone,
                "--ip",
                "203.0.113.9",
                "--sender",
                "alice@fail.demo.example",
                "--json",
            ],
            &draft[..],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["result"], "pass");
    assert_eq!(v["draft"]["domain"], "fail.demo.example");
    let out = fastspf(
        &[
            &["check", "--zone", zone, "--ip", "198.51.100.7", "--sender", "bob@fail.demo.example"],
            &draft[..],
        ]
        .concat(),
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.starts_with("draft:       "), "{text}");
    assert!(text.contains("result:      PASS"), "{text}");
    assert!(text.contains("matched:     include:_spf.provider.demo.example"), "{text}");
    // --domain puts the draft elsewhere: the sender's domain is then checked as published.
    let out = fastspf(
        &[
            &[
                "check",
                "--zone",
                zone,
                "--ip",
                "203.0.113.9",
                "--sender",
                "alice@fail.demo.example",
                "--json",
            ],
            &draft[..],
            &["--domain", "other.demo.example"],
        ]
        .concat(),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["result"], "fail");
}

// ---- the first hour (issue 15): batch mode, exit status, trace, authserv-id ----

#[test]
fn batch_checks_each_line_and_reports_bad_lines_without_stopping() {
    let zone = demo_zone();
    let mut input = b"# ip sender helo\n\n192.0.2.10 alice@pass.demo.example mail.demo.example\n\
        203.0.113.9 <alice@fail.demo.example>\tmail.demo.example\r\n\
        not-an-ip a@pass.demo.example h\n\
        192.0.2.10 a@pass.demo.example h extra\n\
        192.0.2.10 <> mail.demo.example\n\
        192.0.2.10 <>\n"
        .to_vec();
    input.extend_from_slice(format!("192.0.2.10 a@{}.example h\n", "x".repeat(5000)).as_bytes());
    input.extend_from_slice(b"192.0.2.10 \xff@pass.demo.example h\n   # indented comment\n");
    input.extend_from_slice(b"198.51.100.7 alice@provider.demo.example");
    let path = std::env::temp_dir().join(format!("fastspf-batch-{}.txt", std::process::id()));
    std::fs::write(&path, &input).expect("write the batch file");
    let file_out = fastspf(&[
        "check",
        "--zone",
        zone.to_str().expect("utf-8 path"),
        "--batch",
        path.to_str().expect("utf-8 path"),
        "--receiver",
        "mx.receiver.example",
    ]);
    std::fs::remove_file(&path).expect("remove the batch file");
    assert_eq!(file_out.status.code(), Some(0), "{}", String::from_utf8_lossy(&file_out.stderr));
    let stdin_out = fastspf_with_input(
        &[
            "check",
            "--zone",
            zone.to_str().expect("utf-8 path"),
            "--batch",
            "-",
            "--receiver",
            "mx.receiver.example",
        ],
        &input,
    );
    assert_eq!(stdin_out.status.code(), Some(0), "{}", String::from_utf8_lossy(&stdin_out.stderr));
    assert_eq!(file_out.stdout, stdin_out.stdout, "a file and standard input give the same output");

    let lines = json_lines(&file_out);
    let summary: Vec<(u64, &str)> = lines
        .iter()
        .map(|v| {
            let line = v["line"].as_u64().expect("line number");
            (
                line,
                v["result"].as_str().unwrap_or_else(|| if v.get("error").is_some() { "error" } else { "?" }),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (3, "pass"),
            (4, "fail"),
            (5, "error"),
            (6, "error"),
            (7, "pass"),
            (8, "error"),
            (9, "error"),
            (10, "error"),
            (12, "pass"),
        ]
    );
    assert_eq!(lines[1]["sender"], "alice@fail.demo.example");
    assert_eq!(lines[2]["input"], "not-an-ip a@pass.demo.example h");
    assert!(lines[3]["error"].as_str().expect("error").contains("4 fields"), "{}", lines[3]);
    assert_eq!(lines[4]["sender"], "postmaster@mail.demo.example");
    assert!(lines[5]["error"].as_str().expect("error").contains("HELO"), "{}", lines[5]);
    assert!(lines[6]["error"].as_str().expect("error").contains("longer than 4096"), "{}", lines[6]);
    assert!(lines[6].get("input").is_none(), "an overlong line is not echoed");
    assert!(lines[7]["error"].as_str().expect("error").contains("UTF-8"), "{}", lines[7]);
    // Each result object is the --json object (on one line) with its line number.
    let single = check_json("198.51.100.7", "alice@provider.demo.example", "mail.demo.example");
    for key in ["result", "mechanism", "domain", "dns_lookups", "trace"] {
        assert_eq!(lines[8][key], single[key], "{key}");
    }
    assert!(
        lines[0]["authentication_results"]
            .as_str()
            .expect("AR")
            .starts_with("Authentication-Results: mx.receiver.example;")
    );
}

/// One checker for the whole batch: the second and third checks of a sender
/// find its record in the cache (counted on our own server).
#[test]
fn batch_shares_one_cache() {
    let master = std::fs::read_to_string(demo_zone()).expect("demo zone");
    let server = spf_testdns::TestDns::start(&master);
    let nameserver = server.addr.to_string();
    let input = "192.0.2.10 a@pass.demo.example h\n192.0.2.11 b@pass.demo.example h\n\
                 203.0.113.9 c@pass.demo.example h\n";
    let out = fastspf_with_input(&["check", "--nameserver", &nameserver, "--batch", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<String> = json_lines(&out).iter().map(|v| v["result"].to_string()).collect();
    assert_eq!(results, ["\"pass\"", "\"pass\"", "\"fail\""]);
    assert_eq!(server.count("pass.demo.example", "TXT"), 1, "{:?}", server.seen());
}

/// A line whose DNS never answers ends in temperror (each check has the
/// checker's bounds) and the batch goes on.
#[test]
fn batch_goes_on_after_a_check_that_times_out() {
    let master = std::fs::read_to_string(demo_zone()).expect("demo zone");
    let server = spf_testdns::TestDns::start(&master);
    server.silence("fail.demo.example");
    let nameserver = server.addr.to_string();
    let input = "203.0.113.9 a@fail.demo.example h\n192.0.2.10 a@pass.demo.example h\n";
    let out = fastspf_with_input(
        &["check", "--nameserver", &nameserver, "--timeout", "0.2", "--batch", "-"],
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["result"], "temperror", "{}", lines[0]);
    assert_eq!(lines[1]["result"], "pass", "{}", lines[1]);
}

#[test]
fn batch_usage_errors() {
    let zone = demo_zone();
    let zone = zone.to_str().expect("utf-8 path");
    for args in [
        &["check", "--zone", zone, "--batch", "/nonexistent/batch"][..],
        &["check", "--zone", zone, "--batch", "-", "--ip", "192.0.2.1"][..],
        &["check", "--zone", zone, "--batch", "-", "--record", "v=spf1 -all"][..],
    ] {
        let out = fastspf_with_input(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty() && out.stdout.is_empty(), "{args:?}");
    }
    let empty = fastspf_with_input(&["check", "--zone", zone, "--batch", "-"], b"");
    assert_eq!((empty.status.code(), empty.stdout.len()), (Some(0), 0));
}

#[test]
fn exit_status_encodes_the_result_when_asked() {
    let zone = demo_zone();
    let zone = zone.to_str().expect("utf-8 path");
    let cases = [
        ("203.0.113.9", "a@neutral.demo.example", 1),
        ("192.0.2.10", "a@pass.demo.example", 2),
        ("203.0.113.9", "a@fail.demo.example", 3),
        ("203.0.113.9", "a@softfail.demo.example", 4),
        ("192.0.2.10", "a@none.demo.example", 5),
        ("192.0.2.10", "a@permerror.demo.example", 7),
    ];
    for (ip, sender, status) in cases {
        let args = ["check", "--zone", zone, "--ip", ip, "--sender", sender];
        assert_eq!(fastspf(&args).status.code(), Some(0), "off by default");
        let out = fastspf(&[&args[..], &["--exit-status"]].concat());
        assert_eq!(out.status.code(), Some(status), "{sender}");
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("result:"), "the output is unchanged");
    }
    // temperror: a name the server answers with SERVFAIL.
    let master = std::fs::read_to_string(demo_zone()).expect("demo zone");
    let server = spf_testdns::TestDns::start(&master);
    server.servfail("pass.demo.example");
    let nameserver = server.addr.to_string();
    let out = fastspf(&[
        "check",
        "--nameserver",
        &nameserver,
        "--ip",
        "192.0.2.10",
        "--sender",
        "a@pass.demo.example",
        "--exit-status",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(6));
    // Usage errors exit 255 under --exit-status (2 means pass there), 2 otherwise.
    for args in [
        &["check", "--zone", zone, "--ip", "not-an-ip", "--sender", "a@b.example", "--exit-status"][..],
        &["check", "--no-such-option", "--exit-status"][..],
    ] {
        let out = fastspf(args);
        assert_eq!(out.status.code(), Some(255), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
        let without: Vec<&str> = args.iter().copied().filter(|a| *a != "--exit-status").collect();
        assert_eq!(fastspf(&without).status.code(), Some(2), "{without:?}");
    }
    // A batch has many results: --exit-status does not apply to it.
    let out = fastspf_with_input(&["check", "--zone", zone, "--batch", "-", "--exit-status"], b"");
    assert_eq!(out.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--exit-status"));
}

/// Issue 15: a record with no DNS-querying term said "spent 1 DNS-querying
/// terms": the include that led to it was counted in it.
#[test]
fn trace_counts_each_records_own_terms_in_words() {
    let zone = demo_zone();
    let out = fastspf(&[
        "check",
        "--zone",
        zone.to_str().expect("utf-8 path"),
        "--ip",
        "198.51.100.7",
        "--sender",
        "alice@provider.demo.example",
        "--trace",
    ]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    for line in [
        "      _netblocks.provider.demo.example: pass (spent 0 DNS-querying terms, 0 void lookups)\n",
        "    _spf.provider.demo.example: pass (spent 1 DNS-querying term, 0 void lookups)\n",
        "  provider.demo.example: pass (spent 2 DNS-querying terms, 0 void lookups)\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    let out = fastspf(&[
        "check",
        "--zone",
        zone.to_str().expect("utf-8 path"),
        "--ip",
        "198.51.100.7",
        "--sender",
        "alice@redirect.demo.example",
        "--trace",
    ]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.contains("    provider.demo.example: pass (spent 2 DNS-querying terms, 0 void lookups)\n"),
        "{text}"
    );
    assert!(
        text.contains("  redirect.demo.example: pass (spent 3 DNS-querying terms, 0 void lookups)\n"),
        "{text}"
    );
}

/// Issue 15: without --receiver, Authentication-Results named `localhost`.
#[test]
fn authserv_id_defaults_to_the_host_name() {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("the host name");
    let host = host.trim();
    let v = check_json("192.0.2.10", "alice@pass.demo.example", "mail.demo.example");
    let ar = v["authentication_results"].as_str().expect("authentication_results").replace("\n ", " ");
    let expected = if host.is_empty() { "localhost" } else { host };
    assert!(ar.starts_with(&format!("Authentication-Results: {expected}; spf=pass")), "{ar}");
}

/// A master file with escaped owner names (RFC 1035 §5.1 `\DDD`) loads,
/// and a check finds the name a macro builds from the sender's local part.
#[test]
fn a_zone_with_escaped_owner_names_loads_and_checks() {
    let path = std::env::temp_dir().join(format!("fastspf-escaped-{}.zone", std::process::id()));
    std::fs::write(
        &path,
        "test.example. IN TXT \"v=spf1 exists:%{l}.example.com -all\"\n\
         foo\\058bar\\047baz.example.com. IN A 127.0.0.2\n",
    )
    .expect("write the zone");
    let zone = path.to_str().expect("utf-8 path");
    let check = |sender: &str| {
        let out = fastspf(&[
            "check",
            "--zone",
            zone,
            "--ip",
            "192.0.2.1",
            "--sender",
            sender,
            "--helo",
            "h.test",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        v["result"].as_str().expect("a result").to_string()
    };
    let pass = check("foo:bar/baz@test.example");
    let fail = check("other@test.example");
    std::fs::remove_file(&path).ok();
    assert_eq!(pass, "pass");
    assert_eq!(fail, "fail");
}

// ---- issue 17: how much a pass authorizes, and wide-open policies ----

/// A batch over the four senders of a wide-open check (`+all`, a /1, a
/// /24, `exists:%{i}`), each twice: the first check of a domain gives a
/// lower bound, the second the compiled policy's exact count.
#[test]
fn json_says_how_much_a_pass_authorizes_and_flags_wide_open_policies() {
    let zone_path = std::env::temp_dir().join(format!("fastspf-wide-{}.zone", std::process::id()));
    std::fs::write(
        &zone_path,
        "all.test. 300 IN TXT \"v=spf1 +all\"\n\
         half.test. 300 IN TXT \"v=spf1 ip4:128.0.0.0/1 -all\"\n\
         net.test. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n\
         ex.test. 300 IN TXT \"v=spf1 exists:%{i}.allow.test -all\"\n\
         192.0.2.7.allow.test. 300 IN A 127.0.0.2\n",
    )
    .expect("write the zone");
    let senders = ["a@all.test", "a@half.test", "a@net.test", "a@ex.test"];
    let input: String =
        senders.iter().flat_map(|s| [format!("192.0.2.7 {s} h\n"), format!("192.0.2.7 {s} h\n")]).collect();
    let out = fastspf_with_input(
        &["check", "--zone", zone_path.to_str().expect("utf-8 path"), "--batch", "-", "--json"],
        input.as_bytes(),
    );
    let human = fastspf(&[
        "check",
        "--zone",
        zone_path.to_str().expect("utf-8 path"),
        "--ip",
        "192.0.2.7",
        "--sender",
        "a@all.test",
    ]);
    std::fs::remove_file(&zone_path).expect("remove the zone");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    let expected = [
        (true, serde_json::json!({"ipv4_addresses": 1u64 << 32, "ipv6_64s": u64::MAX, "exact": false})),
        (true, serde_json::json!({"ipv4_addresses": 1u64 << 32, "ipv6_64s": u64::MAX, "exact": true})),
        (true, serde_json::json!({"ipv4_addresses": 1u64 << 31, "ipv6_64s": 0, "exact": false})),
        (true, serde_json::json!({"ipv4_addresses": 1u64 << 31, "ipv6_64s": 0, "exact": true})),
        (false, serde_json::json!({"ipv4_addresses": 256, "ipv6_64s": 0, "exact": false})),
        (false, serde_json::json!({"ipv4_addresses": 256, "ipv6_64s": 0, "exact": true})),
        (false, serde_json::json!({"ipv4_addresses": 1, "ipv6_64s": 0, "exact": false})),
        (false, serde_json::json!({"ipv4_addresses": 0, "ipv6_64s": 0, "exact": false})),
    ];
    assert_eq!(lines.len(), expected.len());
    for (v, (wide, authorized)) in lines.iter().zip(expected) {
        assert_eq!(v["result"], "pass", "{v}");
        assert_eq!(v["wide_open"], wide, "{v}");
        assert_eq!(v["authorized"], authorized, "{v}");
        let header = v["received_spf"].as_str().expect("header");
        assert_eq!(header.contains("wide-open policy"), wide, "{header}");
    }
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("authorizes:  at least 4294967296 IPv4 addresses") && human.contains("WIDE OPEN"),
        "{human}"
    );
}
