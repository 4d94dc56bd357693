#!/usr/bin/env python3
"""fastspf-milter in front of a real Postfix, and the README's Postfix snippet.

Run by examples/milter/test.sh (as root, Debian's postfix installed):

    python3 examples/milter/postfix_test.py --milter PATH --testdns PATH

What it does:
  1. Takes the Postfix snippet from README.md (between its
     "fastspf-milter postfix snippet" markers), lets `postconf -c DIR -n`
     parse it in a Postfix instance folder, and checks every value came out
     exactly as meant (no trailing comment glued to a value).
  2. Starts a DNS server on loopback (spf-testdns: examples/demo.zone and
     examples/milter/test.zone), two milters (one resolving through it, one
     through a "dead" resolver: a UDP socket this test holds and never reads,
     with -d 2000), and one Postfix (scripts/postfix_instance.py) whose
     main.cf has the README's settings, with three smtpd ports:
       - the main one, milter on the test DNS;
       - one whose milter has the dead resolver, with milter_command_timeout
         10s: the milter must answer 451 4.7.24 itself (a late milter would
         get Postfix's milter_default_action, accept, and a 250);
       - one whose milter address refuses connections (a bound socket that
         does not listen): the README's failover must accept the mail.
  3. Talks SMTP to it from 127.0.0.1 with smtplib and checks the replies
     (codes, enhanced codes, texts, line lengths) and the delivered
     messages' headers (forged Authentication-Results gone, the milter's own
     Authentication-Results and Received-SPF added, other hosts' fields and
     incoming Received-SPF kept).
"""

from __future__ import annotations

import argparse
import re
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from postfix_instance import PostfixInstance, ensure_installed  # noqa: E402

AUTHSERV_ID = "mx.example.net"
SNIPPET_BEGIN = "<!-- fastspf-milter postfix snippet: begin -->"
SNIPPET_END = "<!-- fastspf-milter postfix snippet: end -->"
# What the README's snippet must mean, value by value.
SNIPPET_EXPECTED = {
    "smtpd_milters": "inet:127.0.0.1:8891",
    "milter_default_action": "accept",
    "milter_protocol": "6",
    "milter_command_timeout": "30s",
}
# How long one check may wait on the dead resolver (the milter's -d).
DEAD_DEADLINE_MS = 2000
# Postfix's wait for that milter: far above DEAD_DEADLINE_MS + 1 s, far below
# what a milter without the bound would take (2 checks x 2 tries x 5 s).
DEAD_COMMAND_TIMEOUT = "10s"
# A reply line may have 512 octets with CRLF (RFC 5321 §4.5.3.1.5).
REPLY_LINE_MAX = 512

passed = 0
failed = 0


def check(ok: bool, what: str, detail: object = "") -> None:
    global passed, failed
    if ok:
        passed += 1
        print(f"ok: {what}")
    else:
        failed += 1
        print(f"FAILED: {what} {detail}")


def readme_snippet() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(SNIPPET_BEGIN) + len(SNIPPET_BEGIN)
    body = text[start : text.index(SNIPPET_END, start)]
    lines = body.strip().splitlines()
    if not (lines and lines[0].startswith("```") and lines[-1].startswith("```")):
        raise SystemExit("the README snippet is not one fenced block between its markers")
    return "\n".join(lines[1:-1]) + "\n"


def bound_socket(kind: int) -> socket.socket:
    """A socket on 127.0.0.1 that holds a port: UDP never read (a dead DNS
    server), or TCP never listening (a milter that refuses connections)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    return s


def free_port_held() -> tuple[socket.socket, int]:
    s = bound_socket(socket.SOCK_STREAM)
    return s, s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Polls until something accepts on 127.0.0.1:port (the milter is up)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"the milter exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def start_milter(milter: str, port: int, nameserver: str, log: Path, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [milter, "-p", f"inet:{port}@127.0.0.1", "-n", nameserver, "-r", AUTHSERV_ID, *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    wait_for_port(port, proc)
    return proc


def headers_of(raw: bytes) -> list[tuple[str, str]]:
    """The header fields of a message as (name, unfolded value), in order."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
    fields: list[list[str]] = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1][1] += "\n" + line
        else:
            name, _, value = line.partition(":")
            fields.append([name, value.lstrip(" ")])
    return [(n, v) for n, v in fields]


def named(fields: list[tuple[str, str]], name: str) -> list[str]:
    return [v for n, v in fields if n.lower() == name.lower()]


def smtp_session(port: int, helo: str, sender: str, data: bytes | None = None):
    """EHLO, MAIL FROM (and RCPT, DATA when `data`): the replies as (code, text)."""
    replies = {}
    with smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=120) as s:
        s.ehlo()
        replies["mail"] = s.mail(sender)
        if data is not None and replies["mail"][0] == 250:
            replies["rcpt"] = s.rcpt("bob@delivered.example")
            replies["data"] = s.data(data)
        try:
            s.rset()
        except smtplib.SMTPException:
            pass
    return {k: (code, text.decode("ascii", "replace")) for k, (code, text) in replies.items()}


def message(subject: str, extra_headers: list[str]) -> bytes:
    lines = [*extra_headers, f"Subject: {subject}", "From: alice@pass.milter.example", "", "body", ""]
    return "\r\n".join(lines).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--milter", required=True)
    parser.add_argument("--testdns", required=True)
    args = parser.parse_args()
    ensure_installed()

    # 1. The README snippet, as Postfix reads it.
    snippet = readme_snippet()
    probe = PostfixInstance()
    try:
        probe.write_config()
        main_cf = probe.config_directory / "main.cf"
        main_cf.write_text(main_cf.read_text() + snippet)
        parsed = {}
        for line in probe.postconf("-n").splitlines():
            name, _, value = line.partition(" = ")
            parsed[name] = value
    finally:
        probe.stop()
    for name, value in SNIPPET_EXPECTED.items():
        check(parsed.get(name) == value, f"README snippet: postconf -n reads {name} = {value}", repr(parsed.get(name)))
    snippet_names = {m.group(1) for m in re.finditer(r"^([a-z_]+)\s*=", snippet, re.M)}
    check(snippet_names == set(SNIPPET_EXPECTED), "README snippet: sets exactly the checked parameters", snippet_names)

    work = Path(args.milter).resolve().parent
    dns = subprocess.Popen(
        [
            args.testdns,
            "--zone",
            str(ROOT / "examples/demo.zone"),
            "--zone",
            str(ROOT / "examples/milter/test.zone"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    procs: list[subprocess.Popen] = []
    held: list[socket.socket] = []
    try:
        line = dns.stdout.readline().strip()
        nameserver = line.removeprefix("listening on ")
        dead_dns = bound_socket(socket.SOCK_DGRAM)
        held.append(dead_dns)
        closed_milter, closed_port = free_port_held()
        held.append(closed_milter)
        # Ports for the milters and the extra smtpd services: held until just
        # before their owner binds them.
        ports = {}
        for name in ("milter", "dead_milter", "smtpd_dead", "smtpd_failover"):
            s, ports[name] = free_port_held()
            s.close()
        log = work / "postfix-milter.log"
        dead_log = work / "postfix-dead-milter.log"
        procs.append(start_milter(args.milter, ports["milter"], nameserver, log))
        procs.append(
            start_milter(
                args.milter,
                ports["dead_milter"],
                f"127.0.0.1:{dead_dns.getsockname()[1]}",
                dead_log,
                "-d",
                str(DEAD_DEADLINE_MS),
            )
        )
        settings = {name: parsed[name] for name in SNIPPET_EXPECTED}
        settings["smtpd_milters"] = f"inet:127.0.0.1:{ports['milter']}"
        master = [
            f"127.0.0.1:{ports['smtpd_dead']} inet n - n - - smtpd"
            f" -o smtpd_milters=inet:127.0.0.1:{ports['dead_milter']}"
            f" -o milter_command_timeout={DEAD_COMMAND_TIMEOUT}",
            f"127.0.0.1:{ports['smtpd_failover']} inet n - n - - smtpd"
            f" -o smtpd_milters=inet:127.0.0.1:{closed_port}",
        ]
        with PostfixInstance(settings=settings, master_lines=master, hostname="mx.example.net") as pf:
            run_sessions(pf, ports)
            milter_warnings = [
                line
                for line in pf.log_lines()
                if "warning" in line and "milter" in line and f":{closed_port}" not in line
            ]
            check(not milter_warnings, "Postfix logged no milter warnings (but for the refusing one)", milter_warnings)
            if failed:
                print("--- Postfix log\n" + "\n".join(pf.log_lines()[-60:]))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        dns.stdin.close()
        dns.wait(timeout=30)
        for s in held:
            s.close()
    if failed:
        for path in (work / "postfix-milter.log", work / "postfix-dead-milter.log"):
            if path.exists():
                print(f"--- {path.name}\n{path.read_text()}")
    print(f"postfix milter tests: {passed} passed, {failed} failed")
    return 1 if failed else 0


def run_sessions(pf: PostfixInstance, ports: dict[str, int]) -> None:
    delivered = 0

    # A pass, with forged fields in the message.
    forged = f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=alice@pass.milter.example"
    forged_folded = "(a comment) MX.Example.NET\r\n\t; dkim=pass header.d=pass.milter.example"
    foreign = "other.example; spf=fail smtp.mailfrom=alice@pass.milter.example"
    incoming_rspf = "pass (forged by the sender) client-ip=127.0.0.1"
    r = smtp_session(
        pf.port,
        "pass.milter.example",
        "alice@pass.milter.example",
        message(
            "pass",
            [
                f"Authentication-Results: {forged}",
                f"Authentication-Results: {foreign}",
                f"Received-SPF: {incoming_rspf}",
                f"authentication-results: {forged_folded}",
            ],
        ),
    )
    check(r["mail"][0] == 250, "pass: MAIL FROM 250", r)
    check(r.get("data", (0,))[0] == 250, "pass: DATA 250", r)
    delivered += 1
    msg = pf.wait_for_messages(delivered)[-1]
    raw = pf.raw_messages()[-1]
    fields = headers_of(raw)
    ars = named(fields, "Authentication-Results")
    own = f"{AUTHSERV_ID};\n\tspf=pass smtp.mailfrom=alice@pass.milter.example;\n\tspf=pass smtp.helo=pass.milter.example"
    check(ars == [own, foreign], "pass: forged Authentication-Results deleted, own added, other host's kept", ars)
    # Received-SPF's wording and folding are the library's: look at its keys.
    rspf = [re.sub(r"\n[ \t]+", " ", v) for v in named(fields, "Received-SPF")]
    check(
        len(rspf) == 3
        and rspf[0].startswith("pass ")
        and "identity=helo" in rspf[0]
        and "receiver=mx.example.net" in rspf[0]
        and rspf[1].startswith("pass ")
        and "identity=mailfrom" in rspf[1]
        and "envelope-from=alice@pass.milter.example" in rspf[1]
        and rspf[2] == incoming_rspf,
        "pass: Received-SPF for HELO and MAIL FROM added above the incoming one, which is kept",
        rspf,
    )
    names = [n.lower() for n, _ in fields]
    check(
        names.index("authentication-results") < names.index("received-spf") < names.index("subject"),
        "pass: the milter's fields are at the top (trace fields)",
        names,
    )
    check(msg["Subject"] == "pass", "pass: the message is intact")

    # A fail: the explanation, with '"' and '%', reaches the client as written.
    r = smtp_session(pf.port, "client.example", "alice@fail.milter.example")
    check(
        r["mail"] == (550, '5.7.23 SPF fail: 127.0.0.1 "may not" send for fail.milter.example: (100% sure)'),
        "fail: 550 5.7.23 with the explanation's quotes and percent sign kept",
        r,
    )

    # A HELO fail names the HELO identity.
    r = smtp_session(pf.port, "helo-fail.milter.example", "alice@pass.milter.example")
    check(
        r["mail"][0] == 550
        and r["mail"][1].startswith("5.7.23 SPF fail for the HELO identity helo-fail.milter.example: "),
        "helo fail: 550 5.7.23 naming the HELO identity",
        r,
    )

    # Reply lines at the bound and one past it.
    fit = "5.7.23 SPF fail: 100% sure: " + "a" * 478
    over = "5.7.23 SPF fail: 100% sure: " + "a" * 475 + "..."
    for domain, want in (("fit", fit), ("over", over)):
        r = smtp_session(pf.port, "client.example", f"alice@{domain}.milter.example")
        line = f"{r['mail'][0]} {r['mail'][1]}\r\n"
        check(
            r["mail"] == (550, want) and len(line.encode()) == REPLY_LINE_MAX,
            f"{domain}: the reply line is {REPLY_LINE_MAX} octets" + (", cut with ..." if domain == "over" else ""),
            (len(line.encode()), r),
        )

    # A dead resolver: both checks end at -d, the milter answers 451 4.7.24
    # itself, before Postfix's milter_command_timeout.
    started = time.monotonic()
    r = smtp_session(ports["smtpd_dead"], "client.example", "alice@pass.milter.example")
    elapsed = time.monotonic() - started
    check(
        r["mail"][0] == 451 and r["mail"][1].startswith("4.7.24 SPF temperror: "),
        "dead resolver: 451 4.7.24 from the milter, not Postfix's timeout action",
        r,
    )
    check(elapsed < 10, "dead resolver: the reply came before milter_command_timeout (10 s)", elapsed)

    # The milter unreachable: the README's milter_default_action accepts.
    r = smtp_session(ports["smtpd_failover"], "client.example", "alice@fail.milter.example", message("failover", []))
    check(r["mail"][0] == 250 and r.get("data", (0,))[0] == 250, "milter down: the README's failover accepts", r)
    delivered += 1
    msg = pf.wait_for_messages(delivered)[-1]
    check(msg["Subject"] == "failover" and msg["Authentication-Results"] is None, "milter down: delivered unchecked")


if __name__ == "__main__":
    sys.exit(main())
