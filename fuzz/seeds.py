#!/usr/bin/env python3
"""Writes seed corpora for the fuzz targets from the RFC 7208 and RFC 4408
test suites (spf-core/tests/data/spf-test-suite) into fuzz/seeds/<target>/
(fuzz/run.sh reads them beside the growing corpus, fuzz/corpus/<target>/).

Run from anywhere: `python3 fuzz/seeds.py`. Needs PyYAML. Seeds are named
by a hash of their content, so running it again adds nothing twice.
"""

import hashlib
import sys
from pathlib import Path

import yaml

FUZZ = Path(__file__).resolve().parent
SUITE = FUZZ.parent / "spf-core" / "tests" / "data" / "spf-test-suite"
ZONES = FUZZ.parent / "spf-core" / "tests" / "data" / "zone"
SEEDS = FUZZ / "seeds"


def write(target: str, data: bytes) -> None:
    out = SEEDS / target
    out.mkdir(parents=True, exist_ok=True)
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


def strings(value) -> list:
    """A TXT/SPF value: one string, or a list of strings forming one record."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def scenarios():
    for name in ("rfc7208-tests.yml", "rfc4408-tests.yml"):
        with open(SUITE / name, encoding="utf-8") as f:
            yield from yaml.safe_load_all(f)


def master_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def records(zonedata: dict):
    """(name, type, value) of a scenario's zone as the conformance test reads
    it: SPF stands for TXT unless the name has TXT entries of its own."""
    for name, entries in zonedata.items():
        entries = entries or []
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        any_record = False
        for entry in entries:
            if entry == "TIMEOUT":
                yield name, "TIMEOUT", None
                any_record = True
                continue
            if not isinstance(entry, dict):
                continue
            for rtype, value in entry.items():
                if rtype == "SPF" and has_txt or value == "NONE":
                    continue
                any_record = True
                yield name, "TXT" if rtype == "SPF" else rtype, value
        if not any_record:
            yield name, "EMPTY", None


def world_lines(zonedata: dict, first: list) -> list:
    """The records as lines of the evaluate/lint world format, the names in
    `first` first (a world keeps 16 names)."""
    recs = list(records(zonedata))
    order = {n.lower(): i for i, n in enumerate(first)}
    recs.sort(key=lambda r: order.get(str(r[0]).lower(), len(order)))
    lines = []
    for name, rtype, value in recs:
        if rtype == "TXT":
            data = "\x1f".join(strings(value))
        elif rtype == "MX":
            data = f"{value[0]} {value[1]}"
        elif value is None:
            data = None
        else:
            data = str(value)
        lines.append(f"{name} {rtype}" + ("" if data is None else f" {data}"))
    return lines


def master_lines(zonedata: dict) -> list:
    lines = []
    for name, rtype, value in records(zonedata):
        owner = str(name).rstrip(".") + "."
        if rtype == "TXT":
            data = " ".join(master_string(s) for s in strings(value))
        elif rtype == "MX":
            data = f"{value[0]} {str(value[1]).rstrip('.')}."
        elif rtype in ("PTR", "CNAME"):
            data = str(value).rstrip(".") + "."
        elif rtype in ("A", "AAAA"):
            data = str(value)
        else:
            continue
        lines.append(f"{owner} 300 IN {rtype} {data}")
    return lines


# Worlds no suite case builds: loops, chains, limits.
SYNTHETIC = [
    "@from a@loop.example\nloop.example TXT v=spf1 include:loop.example -all",
    "@from a@c.example\nc.example CNAME d.example\nd.example CNAME c.example",
    "@from a@c1.example\nc1.example CNAME c2.example\nc2.example CNAME c3.example\nc3.example CNAME c4.example\n"
    "c4.example CNAME c5.example\nc5.example CNAME c6.example\nc6.example CNAME c7.example\n"
    "c7.example CNAME c8.example\nc8.example CNAME c9.example\nc9.example CNAME c10.example\n"
    "c10.example TXT v=spf1 +all",
    "@from a@many.example\nmany.example TXT v=spf1 " + " ".join(f"include:i{i}.example" for i in range(12)) + " -all\n"
    + "\n".join(f"i{i}.example TXT v=spf1 -ip4:10.0.0.{i}" for i in range(12)),
    "@from a@void.example\nvoid.example TXT v=spf1 a:n1.void.example a:n2.void.example a:n3.void.example "
    "mx:n4.void.example -all\nn2.void.example EMPTY",
    "@ip 192.0.2.9\n@opts 3\n@from a@mx.example\nmx.example TXT v=spf1 mx mx:other.example ptr -all\n"
    + "\n".join(f"mx.example MX {i} h{i}.mx.example" for i in range(11))
    + "\nh3.mx.example A 192.0.2.9\n9.2.0.192.in-addr.arpa PTR h3.mx.example",
    "@ip 2001:db8::1\n@opts 1\n@from a@six.example\nsix.example TXT v=spf1 a/24//64 exists:%{ir}.%{v}._spf.%{d} -all "
    "exp=why.six.example\nwhy.six.example TXT %{s} %{l} %{o} %{d} %{i} %{p} %{v} %{h} %{c} %{r} %{t}",
    "@mode helo\n@helo helo.example\n@opts 67\nhelo.example TXT v=spf1 redirect=r.example\n"
    "r.example TXT v=spf1 include:t.example ?all\nt.example TIMEOUT",
    "@draft v=spf1 ip4:192.0.2.0/24 include:other.example -all\n@check 192.0.2.3\nother.example TXT v=spf1 ip6:2001:db8::/32 ~all",
    "@draft v=spf1 a mx ptr %{d} -all\n@opts 1",
    "@from a@split.example\nsplit.example TXT v=spf1 \x1fip4:192.0.2.1\x1f -all\nsplit.example TXT",
]

MASTER_EXTRA = [
    "$ORIGIN example.com.\n$TTL 1h30m\n@ IN SOA ns hostmaster 1 2 3 4 300\n@ IN TXT \"v=spf1 a -all\"\n"
    "www IN CNAME @\n IN A 192.0.2.1\n@ IN SPF \"v=spf1 -all\"\nx IN TYPE99 \\# 0\n"
    "a\\046b IN TXT \"x\" \"y\" ; comment\nmail IN MX 10 mx\n( more ) IN CH TXT \"z\"\n",
]


def main() -> int:
    count = {}

    def put(target: str, data: bytes) -> None:
        write(target, data)
        count[target] = count.get(target, 0) + 1

    variants = [0, 1, 3, 7, 9, 19, 35, 67]
    for scenario in scenarios():
        zonedata = scenario.get("zonedata") or {}
        for name, rtype, value in records(zonedata):
            if rtype == "TXT":
                text = "".join(strings(value)).encode()
                put("parse_record", text)
                # expand_macro reads the first half as the macro-string and
                # the rest as macro values.
                put("expand_macro", text + b"user@example.com")
                for word in text.split(b" "):
                    put("expand_macro", word + b"x" * len(word))
        put("zone_file", "\n".join(master_lines(zonedata)).encode() + b"\n")
        for i, (case_name, case) in enumerate((scenario.get("tests") or {}).items()):
            mailfrom = str(case.get("mailfrom", ""))
            helo = str(case.get("helo", ""))
            host = str(case.get("host", ""))
            domain = mailfrom.rsplit("@", 1)[-1] if mailfrom else helo
            lines = [f"@ip {host}", f"@from {mailfrom}", f"@helo {helo}", f"@opts {variants[i % len(variants)]}"]
            lines += world_lines(zonedata, [domain, helo])
            put("evaluate", "\n".join(lines).encode())
            lint = lines + [f"@check {host}"]
            put("lint", "\n".join(lint).encode())
    for world in SYNTHETIC:
        put("evaluate", world.encode())
        put("lint", world.encode())
    for extra in MASTER_EXTRA:
        put("zone_file", extra.encode())
    for path in sorted(ZONES.glob("*.zone")):
        put("zone_file", path.read_bytes())
    for target, n in sorted(count.items()):
        print(f"seeds: {target}: {n} written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
