#!/usr/bin/env python3
"""fastspf-policyd in front of a real Postfix, both ways it runs.

A Postfix instance from a temporary config_directory on a loopback port
(scripts/postfix_instance.py), spf-testdns serving a zone on 127.0.0.1, and
real SMTP sessions from 127.0.0.1 (smtplib) for senders whose records give
pass, fail, softfail, neutral, none, permerror and temperror. Checked: the
SMTP replies (code, enhanced code, text) and the header prepended to the
delivered message. Once with fastspf-policyd as a daemon (TCP on loopback),
once spawned by Postfix's spawn(8) (policyd-spf's way), logging to a syslog
socket the test reads.

Usage: postfix_test.py FASTSPF_POLICYD SPF_TESTDNS   (as root)
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from postfix_instance import PostfixInstance, ensure_installed  # noqa: E402

ZONE = """$TTL 300
pass.pf.example.     IN TXT "v=spf1 ip4:127.0.0.1 -all"
fail.pf.example.     IN TXT "v=spf1 ip4:192.0.2.1 -all exp=why.pf.example"
why.pf.example.      IN TXT "%{i} may not send mail for %{d}"
soft.pf.example.     IN TXT "v=spf1 ip4:192.0.2.1 ~all"
neutral.pf.example.  IN TXT "v=spf1 ip4:192.0.2.1 ?all"
none.pf.example.     IN A   192.0.2.80
perm.pf.example.     IN TXT "v=spf1 ip4:192.0.2.0/33 -all"
temp.pf.example.     IN TXT "v=spf1 include:broken.pf.example -all"
"""

CONFIG = """# a policyd-spf.conf, as Debian ships it, made strict
debugLevel = 1
TestOnly = 1
HELO_reject = Fail
Mail_From_reject = Fail
PermError_reject = True
TempError_Defer = True
# The test's client is 127.0.0.1: check it (the default skips loopback).
skip_addresses =
Nameservers = {ns}
"""

# sender -> (SMTP code at RCPT, text the reply must contain, header start of the delivered message)
CASES = {
    "alice@pass.pf.example": (250, None, "pass "),
    "alice@fail.pf.example": (550, "5.7.23 Message rejected due to: 127.0.0.1 may not send mail for fail.pf.example. Please see http://www.openspf.net/Why?s=mfrom;id=alice@fail.pf.example;ip=127.0.0.1;r=dest.example", None),
    "alice@soft.pf.example": (250, None, "softfail "),
    "alice@neutral.pf.example": (250, None, "neutral "),
    "alice@none.pf.example": (250, None, "none "),
    "alice@perm.pf.example": (550, "5.7.24 Message rejected due to: SPF Permanent Error: invalid SPF record at perm.pf.example", None),
    "alice@temp.pf.example": (450, "4.7.24 Message deferred due to: SPF Temporary Error: DNS TXT lookup of broken.pf.example failed", None),
}


def start_dns(testdns: str, folder: Path) -> tuple[subprocess.Popen, str]:
    zone = folder / "pf.zone"
    zone.write_text(ZONE)
    proc = subprocess.Popen(
        [testdns, "--zone", str(zone), "--listen", "127.0.0.1:0", "--servfail", "broken.pf.example"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline().strip()
    assert line.startswith("listening on "), line
    return proc, line.removeprefix("listening on ")


def sessions(pf: PostfixInstance, label: str) -> None:
    accepted = []
    for sender, (code, text, header) in CASES.items():
        with pf.smtp(helo="client.pf.example") as s:
            s.ehlo("client.pf.example")  # smtplib.mail() sends no EHLO by itself
            s.mail(sender)
            got_code, got_text = s.rcpt("bob@dest.example")
            got_text = got_text.decode()
            assert got_code == code, f"{label} {sender}: {got_code} {got_text}\n" + "\n".join(pf.log_lines()[-12:])
            if text is not None:
                # Postfix puts "<rcpt>: Recipient address rejected: " after the enhanced code.
                enhanced, _, reason = text.partition(" ")
                assert got_text.startswith(enhanced + " <bob@dest.example>: Recipient address rejected: " + reason), (
                    f"{label} {sender}: {got_text!r} is not {text!r}")
            if code == 250:
                # A second recipient of the same transaction: no second check, no second header.
                assert s.rcpt("carol@dest.example")[0] == 250
                s.data(f"From: {sender}\r\nSubject: {label} {sender}\r\n\r\nhello\r\n".encode())
                accepted.append((sender, header))
        print(f"  {label}: {sender}: {got_code} {got_text[:70]}")
    messages = pf.wait_for_subjects([f"{label} {sender}" for sender, _ in accepted])
    by_subject = {m["Subject"]: m for m in messages}
    for sender, header in accepted:
        msg = by_subject[f"{label} {sender}"]
        fields = msg.get_all("Received-SPF")
        assert fields and len(fields) == 1, f"{label} {sender}: one Received-SPF, got {fields}"
        field = " ".join(str(fields[0]).split())
        assert field.startswith(header), f"{label} {sender}: {field}"
        assert "identity=mailfrom" in field and "client-ip=127.0.0.1" in field and f"envelope-from={sender}" in field, field


def main() -> int:
    policyd, testdns = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    ensure_installed()
    # Folders reachable by Postfix's users (spawn runs as nobody).
    work = Path(tempfile.mkdtemp(prefix="fastspf-postfix-test."))
    work.chmod(0o755)
    dns, ns = start_dns(testdns, work)
    conf = work / "policyd-spf.conf"
    conf.write_text(CONFIG.format(ns=ns))
    conf.chmod(0o644)
    try:
        # (a) The daemon on loopback TCP.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        daemon = subprocess.Popen([policyd, "--listen", f"inet:127.0.0.1:{port}", str(conf)], stderr=subprocess.PIPE, text=True)
        try:
            line = daemon.stderr.readline()
            assert "listening on inet:127.0.0.1" in line, line
            settings = {
                "smtpd_recipient_restrictions": f"reject_unauth_destination, check_policy_service inet:127.0.0.1:{port}",
            }
            with PostfixInstance(settings=settings) as pf:
                sessions(pf, "daemon")
        finally:
            daemon.terminate()
            _, err = daemon.communicate(timeout=30)
            assert daemon.returncode == 0, f"daemon exit {daemon.returncode}: {err[-2000:]}"
        assert "Fail; identity=mailfrom; client-ip=127.0.0.1; helo=client.pf.example; envelope-from=alice@fail.pf.example; receiver=dest.example" in err, err[-3000:]
        assert err.count("Pass; identity=mailfrom; client-ip=127.0.0.1") == 1, "one check for two recipients"

        # (b) Spawned by Postfix, exactly where policyd-spf is configured.
        log_path = work / "syslog.sock"
        syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        syslog.bind(str(log_path))
        log_path.chmod(0o666)
        lines = []

        def read_syslog() -> None:
            while True:
                try:
                    lines.append(syslog.recv(65536).decode())
                except OSError:
                    return

        threading.Thread(target=read_syslog, daemon=True).start()
        master = [
            f"fastspf unix - n n - 0 spawn user=nobody argv={policyd} --syslog-socket {log_path} {conf}",
        ]
        settings = {
            "smtpd_recipient_restrictions": "reject_unauth_destination, check_policy_service unix:private/fastspf",
            "fastspf_time_limit": "3600",
        }
        with PostfixInstance(settings=settings, master_lines=master) as pf:
            sessions(pf, "spawn")
        text = "\n".join(lines)
        assert "policyd-spf[" in text and "]: Fail; identity=mailfrom; client-ip=127.0.0.1" in text, text[-3000:]
        print(f"postfix test: ok (7 senders x 2 modes; {len(lines)} syslog lines from spawn mode)")
        return 0
    finally:
        dns.stdin.close()
        dns.wait(timeout=30)
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    sys.exit(main())
