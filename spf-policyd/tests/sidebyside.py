#!/usr/bin/env python3
"""fastspf-policyd and Debian's policyd-spf side by side.

Run inside a private network and mount namespace (run.sh does
`unshare --net --mount`): brings up lo, makes /etc/resolv.conf name
127.0.0.1 (policyd-spf's pyspf reads it; fastspf-policyd too, since the
configuration names no Nameservers), serves each RFC 7208 suite scenario's
zonedata (and the demo zone) with spf-testdns on 127.0.0.1:53, and sends
the same policy requests, over a socket, to both services started with the
same policyd-spf.conf. The actions must agree, except for the cases listed
with their reason in sidebyside-differences.yml.

Usage: sidebyside.py FASTSPF_POLICYD SPF_TESTDNS SUITE_YML DEMO_ZONE DIFFERENCES_YML
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

CONFIG = """debugLevel = 0
TestOnly = 1
HELO_reject = Fail
Mail_From_reject = Fail
PermError_reject = True
TempError_Defer = True
skip_addresses = 127.0.0.0/8,::1
Lookup_Time = 3
"""

DEMO_CASES = [
    ("192.0.2.10", "alice@pass.demo.example", "mail.demo.example"),
    ("203.0.113.9", "alice@fail.demo.example", "unknown.demo.example"),
    ("203.0.113.9", "alice@softfail.demo.example", "unknown.demo.example"),
    ("203.0.113.9", "alice@neutral.demo.example", "unknown.demo.example"),
    ("192.0.2.10", "alice@none.demo.example", "unknown.demo.example"),
    ("192.0.2.10", "alice@permerror.demo.example", "unknown.demo.example"),
    ("203.0.113.9", "alice@toomany.demo.example", "unknown.demo.example"),
    ("203.0.113.66", "spammer@open.demo.example", "unknown.demo.example"),
    ("203.0.113.9", "alice@typo.demo.example", "unknown.demo.example"),
    ("198.51.100.7", "alice@provider.demo.example", "unknown.demo.example"),
    ("198.51.100.7", "alice@redirect.demo.example", "unknown.demo.example"),
    ("2001:db8:100::25", "alice@provider.demo.example", "unknown.demo.example"),
    ("192.0.2.10", "", "mail.demo.example"),
    ("203.0.113.9", "", "mail.demo.example"),
    ("192.0.2.10", "bob@mx.demo.example", "mail.demo.example"),
    ("203.0.113.9", "bob@mx.demo.example", "mail.demo.example"),
]


def quote_txt(value) -> str:
    strings = value if isinstance(value, list) else [value]
    out = []
    for s in strings:
        b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
        text = "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else f"\\{c:03d}" for c in b)
        out.append(f'"{text}"')
    return " ".join(out)


def zone_text(zonedata: dict) -> tuple[str, list[str]]:
    """Master-file text of a scenario's zonedata, and the names that time out."""
    lines, timeouts = ["$TTL 300"], []
    for name, records in (zonedata or {}).items():
        if not re.fullmatch(r"[A-Za-z0-9._*-]+", name.rstrip(".")):
            continue  # not servable from a master file (spaces, %...): both services see NXDOMAIN
        owner = name.rstrip(".") + "."
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in records)
        for record in records:
            if record == "TIMEOUT":
                timeouts.append(name.rstrip("."))
                continue
            ((rtype, value),) = record.items()
            if rtype == "SPF":
                if has_txt:
                    continue
                rtype = "TXT"
            if rtype == "TXT":
                if value == "NONE":
                    continue
                lines.append(f"{owner} IN TXT {quote_txt(value)}")
            elif rtype == "MX":
                lines.append(f"{owner} IN MX {value[0]} {value[1].rstrip('.')}.")
            elif rtype in ("PTR", "CNAME"):
                lines.append(f"{owner} IN {rtype} {value.rstrip('.')}.")
            elif rtype in ("A", "AAAA"):
                lines.append(f"{owner} IN {rtype} {value}")
        if not records:
            lines.append(f"{owner} IN TXT \"placeholder-so-the-name-exists\"")
    return "\n".join(lines) + "\n", timeouts


class Service:
    """One policy service on one end of a socket pair (as spawn(8) runs it)."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.start()

    def start(self):
        argv = self.argv
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=subprocess.DEVNULL)
        theirs.close()
        self.sock = ours
        self.sock.settimeout(60)
        self.buf = b""

    def ask(self, request: str) -> str:
        try:
            self.sock.sendall(request.encode())
            while b"\n\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
        except (OSError, ConnectionError):
            # The service died on this request: say so, start it again for the next.
            self.close()
            self.start()
            return "(the service exited without answering)"
        answer, _, self.buf = self.buf.partition(b"\n\n")
        return answer.decode(errors="replace").removeprefix("action=")

    def close(self):
        self.sock.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def kind(action: str) -> str:
    """What an action does: the verb and code, and for a header the result word."""
    m = re.match(r"prepend (Received-SPF|Authentication-Results): (\w+)", action)
    if m:
        return f"prepend {m.group(2).lower()}"
    if action.startswith("prepend X-Comment"):
        return "prepend x-comment"
    m = re.match(r"(\d{3}(?: \d\.\d+\.\d+)?|defer_if_permit(?: \d\.\d+\.\d+)?|dunno)", action.lower())
    return m.group(1) if m else action


def main() -> int:
    policyd, testdns, suite, demo, differences_file = sys.argv[1:6]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    work = Path(tempfile.mkdtemp(prefix="sidebyside."))
    resolv = work / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True)
    conf = work / "policyd-spf.conf"
    conf.write_text(CONFIG)
    known = yaml.safe_load(Path(differences_file).read_text()) or {}

    scenarios = []
    for doc in yaml.safe_load_all(Path(suite).read_text()):
        if not doc:
            continue
        cases = [(name, c["host"], c.get("mailfrom", ""), c.get("helo", "")) for name, c in doc["tests"].items()]
        scenarios.append((doc.get("description", "?"), *zone_text(doc.get("zonedata")), cases))
    demo_cases = [(f"demo-{i}-{sender or 'null'}", ip, sender, helo) for i, (ip, sender, helo) in enumerate(DEMO_CASES)]
    scenarios.append(("demo zone", Path(demo).read_text(), [], demo_cases))

    agree, differ, unexplained, seen = 0, [], [], set()
    for description, zone, timeouts, cases in scenarios:
        zone_file = work / "zone"
        zone_file.write_text(zone)
        args = [testdns, "--zone", str(zone_file), "--listen", "127.0.0.1:53"]
        for name in timeouts:  # spf-testdns cannot stay silent from the command line: SERVFAIL
            args += ["--servfail", name]
        dns = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = dns.stdout.readline()
        if not line.startswith("listening on"):
            print(f"scenario {description!r}: zone not served ({dns.stderr.read()[:200]}); its cases are skipped")
            dns.kill()
            continue
        ours = Service([policyd, "--log", "none", str(conf)])
        theirs = Service(["/usr/bin/policyd-spf", str(conf)])
        for name, host, sender, helo in cases:
            request = (
                "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
                f"helo_name={helo}\nqueue_id=\ninstance={name}\nsender={sender}\n"
                f"recipient=postmaster@receiver.example\nclient_address={host}\nclient_name=unknown\n\n"
            )
            a, b = ours.ask(request), theirs.ask(request)
            if kind(a) == kind(b):
                agree += 1
                continue
            differ.append(name)
            seen.add(name)
            if name not in known:
                unexplained.append(name)
            print(f"DIFF {name} ({description}): host={host} sender={sender!r} helo={helo!r}\n"
                  f"  fastspf:     {a[:160]}\n  policyd-spf: {b[:160]}"
                  + (f"\n  why: {known[name]}" if name in known else "\n  (not in the differences file)"))
        ours.close()
        theirs.close()
        dns.stdin.close()
        dns.wait(timeout=30)
    stale = sorted(set(known) - seen)
    print(f"side by side: {agree} agree, {len(differ)} differ ({len(differ) - len(unexplained)} explained), "
          f"{len(unexplained)} unexplained, {len(stale)} listed but agreeing now")
    for name in stale:
        print(f"  listed but agreeing: {name}")
    return 1 if unexplained or stale else 0


if __name__ == "__main__":
    sys.exit(main())
