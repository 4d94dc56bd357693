"""The RFC 7208 suite's scenarios as RFC 1035 master files, for a real DNS server.

Read as the suite's README says (and as test_conformance.py reads them for an
in-memory zone): an SPF record is served as TXT unless its name has TXT data
of its own (``TXT: NONE`` says it has none); a list of strings is one record.
A name marked ``TIMEOUT`` is answered with SERVFAIL for every type: the
server (spf-testdns) has no per-type timeout, so such a name's own records
are not served. Names whose labels the server's master-file parser
(hickory's) refuses (``foo:bar/baz.example.com``, a name with spaces and
``%``) are left out, with the records that name them. test_pyspf_compat.py
names the cases these two change.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

import yaml

# Labels spf-testdns loads from a master file: letters, digits and hyphens,
# with an optional leading underscore.
_SERVABLE_LABEL = re.compile(r"_?[A-Za-z0-9-]+")


def servable(name: str) -> bool:
    """Whether spf-testdns can load records owned by (or naming) `name`."""
    return name in ("", ".") or all(_SERVABLE_LABEL.fullmatch(label) for label in name.rstrip(".").split("."))

# A TXT character-string holds at most 255 octets (RFC 1035 3.3); longer
# suite strings are split, which SPF reads back joined (RFC 7208 3.3).
MAX_CHARACTER_STRING = 255


def _strings(value: Any) -> List[bytes]:
    if isinstance(value, list):
        return [str(v).encode("utf-8") for v in value]
    return [str(value).encode("utf-8")]


def _quoted(data: bytes) -> str:
    """One master-file character-string: printable ASCII as itself, `"` and `\\`
    escaped, every other octet as \\DDD."""
    out = ['"']
    for byte in data:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif 0x20 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def _txt_rdata(strings: List[bytes]) -> str:
    pieces: List[bytes] = []
    for string in strings:
        if len(string) <= MAX_CHARACTER_STRING:
            pieces.append(string)
        else:
            pieces.extend(string[i:i + MAX_CHARACTER_STRING] for i in range(0, len(string), MAX_CHARACTER_STRING))
    return " ".join(_quoted(p) for p in pieces)


def _owner(name: str) -> str:
    """A domain name in master-file syntax: absolute, with spaces and other
    special characters escaped as \\DDD."""
    out = []
    for ch in name.rstrip("."):
        if ch == "." or ch.isalnum() or ch in "-_:/%+=":
            out.append(ch)
        else:
            out.extend(f"\\{b:03d}" for b in ch.encode("utf-8"))
    return "".join(out) + "."


def master_file(zonedata: Dict[str, Any]) -> Tuple[str, List[str], List[str]]:
    """The scenario's zone as master-file text, the names to answer with
    SERVFAIL, and the names left out (not servable)."""
    lines = ["$TTL 300"]
    timeouts: List[str] = []
    left_out: List[str] = []
    for name, entries in (zonedata or {}).items():
        name = str(name)
        if not servable(name):
            left_out.append(name)
            continue
        owner = _owner(name)
        spf: List[List[bytes]] = []
        txt: List[List[bytes]] = []
        has_txt = False
        served = len(lines)
        for entry in entries or []:
            if entry == "TIMEOUT":
                timeouts.append(name.rstrip("."))
                continue
            for rtype, value in entry.items():
                if rtype == "SPF":
                    spf.append(_strings(value))
                elif rtype == "TXT":
                    has_txt = True
                    if value != "NONE":
                        txt.append(_strings(value))
                elif rtype in ("A", "AAAA"):
                    lines.append(f"{owner} IN {rtype} {value}")
                elif rtype in ("PTR", "CNAME"):
                    if servable(str(value)):
                        lines.append(f"{owner} IN {rtype} {_owner(str(value))}")
                    else:
                        left_out.append(str(value))
                elif rtype == "MX":
                    exchange = str(value[1])
                    if servable(exchange):
                        lines.append(f"{owner} IN MX {int(value[0])} {_owner(exchange) if exchange else '.'}")
                    else:
                        left_out.append(exchange)
                else:
                    raise ValueError(f"{name}: unknown record type {rtype}")
        for record in txt if has_txt else spf:
            lines.append(f"{owner} IN TXT {_txt_rdata(record)}")
        if len(lines) == served:
            # A type the server does not serve makes the name exist (its
            # lookups are NODATA, not NXDOMAIN).
            lines.append(f'{owner} IN HINFO "suite" "name"')
    return "\n".join(lines) + "\n", timeouts, sorted(set(left_out))


def scenarios(path: str) -> List[Dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [s for s in yaml.safe_load_all(f) if s]
