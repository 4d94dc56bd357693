"""fastspf's pyspf-compatible API (``check2``, ``check``, ``query``) beside real
pyspf 2.0.14, both asking one real DNS server (spf-testdns on 127.0.0.1).

Every case of the RFC 7208 suite runs through both; the results must agree
except for the cases in ``DIFFERENCES``, each with its reason, and each of
those must still differ exactly as listed (a difference that goes away is a
change to document). pyspf resolves through dnspython's default resolver,
which the ``pyspf_dns`` fixture points at the server.
"""

from __future__ import annotations

import ipaddress
import subprocess
from typing import Any, Dict, Iterator, List, Tuple

import pytest

try:
    import dns.resolver
    import spf as pyspf
except ImportError as error:  # pragma: no cover - a setup problem, reported as such
    raise ImportError(
        f"{error}: the pyspf side-by-side tests need pyspf and dnspython: "
        "pip install -r spf-py/tests/requirements.txt"
    ) from error

import fastspf

from conftest import DEMO_ZONE, SUITE
from conftest import testdns_binary as _testdns_binary
from suite_zones import master_file, scenarios

# pyspf calls dnspython's deprecated dns.resolver.query().
pytestmark = pytest.mark.filterwarnings("ignore:please use dns.resolver.resolve:DeprecationWarning")

# Seconds each side waits for one DNS answer (the server answers at once or
# with SERVFAIL; nothing here waits for a timeout).
TIMEOUT = 5

# Cases where pyspf 2.0.14 and fastspf disagree: (pyspf's result, fastspf's, why).
# fastspf's result is the suite's own in every one.
DIFFERENCES: Dict[str, Tuple[str, str, str]] = {
    "ptr-cname-loop": (
        "temperror",
        "neutral",
        "the A lookup of a PTR name (a CNAME loop) fails with SERVFAIL: RFC 7208 5.5 says "
        '"if a DNS error occurs while doing an A RR lookup, then that domain name is skipped '
        'and the search continues"; pyspf ends the check with temperror',
    ),
    "null-text": (
        "temperror",
        "pass",
        "null.example.com holds a TXT record of no strings (RDLENGTH 0, illegal) beside its SPF record: "
        "dnspython refuses the whole answer, so pyspf gives temperror; fastspf reads the answer without "
        "that record and finds the SPF record (the suite's pass)",
    ),
}

# Cases whose zone the server cannot serve as the suite means it (see
# suite_zones.py): both libraries still run them, against the zone as served,
# and must agree; their result is not the suite's. fastspf gives the suite's
# result for each of them from an in-memory zone (test_conformance.py).
SERVED_DIFFERENTLY: Dict[str, str] = {
    "spftimeout": "spftimeout.example.net is TIMEOUT beside its TXT record: SERVFAIL for TXT too",
    "a-colon-domain": "foo:bar/baz.example.com cannot be loaded: the a: target does not exist",
    "a-colon-domain-ip4mapped": "foo:bar/baz.example.com cannot be loaded: the a: target does not exist",
    "mx-colon-domain": "foo:bar/baz.example.com cannot be loaded: the mx: target does not exist",
    "mx-colon-domain-ip4mapped": "foo:bar/baz.example.com cannot be loaded: the mx: target does not exist",
    "macro-mania-in-domain": "the name with spaces and % cannot be loaded: the a: target does not exist",
}

# pyspf's old result words, as the suite also accepts them.
OLD_NAMES = {"unknown": "permerror", "error": "temperror"}


class Server:
    """spf-testdns serving one master file on 127.0.0.1."""

    def __init__(self, master: str, servfail: List[str], directory: Any) -> None:
        path = directory / "zone"
        path.write_text(master, encoding="utf-8")
        args = [_testdns_binary(), "--zone", str(path)]
        for name in servfail:
            args += ["--servfail", name]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"spf-testdns did not start: {line!r}")
        self.address = line.removeprefix("listening on ")
        host, port = self.address.rsplit(":", 1)
        self.host, self.port = host, int(port)

    def stop(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.process.stdout.close()


def point_dnspython_at(server: Server) -> Any:
    """Makes dnspython's default resolver (pyspf's) ask `server`; returns the old one."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.timeout = resolver.lifetime = TIMEOUT
    old = dns.resolver.default_resolver
    dns.resolver.default_resolver = resolver
    return old


SCENARIOS = scenarios(str(SUITE))
CASES = [
    (name, index, case)
    for index, scenario in enumerate(SCENARIOS)
    for name, case in scenario["tests"].items()
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[int, Server]]:
    """One server per scenario, started when a case first needs it."""
    started: Dict[int, Server] = {}

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, index: int) -> Server:
            master, servfail, _ = master_file(SCENARIOS[index].get("zonedata") or {})
            server = Server(master, servfail, tmp_path_factory.mktemp(f"scenario{index}"))
            started[index] = server
            self[index] = server
            return server

    yield Lazy()
    for server in started.values():
        server.stop()


def both(server: Server, ip: str, sender: str, helo: str) -> Tuple[Tuple[str, str], Tuple[str, str]]:
    """(pyspf's check2, fastspf's check2) for one case, on one server."""
    old = point_dnspython_at(server)
    try:
        theirs = pyspf.check2(i=ip, s=sender, h=helo, timeout=TIMEOUT, querytime=20)
    finally:
        dns.resolver.default_resolver = old
    checker = fastspf.Checker(nameservers=[server.address], timeout=TIMEOUT, cache_size=1000)
    ours = fastspf.check2(ip, sender, helo, checker=checker)
    return theirs, ours


def test_the_suite_has_every_case() -> None:
    assert len(CASES) == 203
    names = {name for name, _, _ in CASES}
    assert set(DIFFERENCES) <= names and set(SERVED_DIFFERENTLY) <= names


@pytest.mark.parametrize("name,index,case", CASES, ids=[c[0] for c in CASES])
def test_rfc7208_case_beside_pyspf(servers: Dict[int, Server], name: str, index: int, case: Dict[str, Any]) -> None:
    ip, sender, helo = str(case["host"]), str(case.get("mailfrom") or ""), str(case.get("helo") or "")
    (their_result, their_text), (our_result, our_text) = both(servers[index], ip, sender, helo)
    # The zone as served is the suite's (else the comparison would prove little).
    expected = case["result"] if isinstance(case["result"], list) else [case["result"]]
    if name not in SERVED_DIFFERENTLY:
        assert our_result in [OLD_NAMES.get(r, r) for r in expected], f"{name}: the served zone is not the suite's"
    if name in DIFFERENCES:
        expected_theirs, expected_ours, why = DIFFERENCES[name]
        assert (their_result, our_result) == (expected_theirs, expected_ours), (
            f"{name}: the documented difference ({why}) changed: pyspf {their_result!r} "
            f"({their_text!r}), fastspf {our_result!r} ({our_text!r})"
        )
        return
    assert our_result == their_result, f"{name}: pyspf {their_result!r} ({their_text!r}), fastspf {our_result!r} ({our_text!r})"
    # Where both fail, the explanation is the same text: the record's exp=, or pyspf's default.
    if our_result == "fail":
        assert our_text == their_text, name


# ---- the demo zone: every result, every shape, through both ----

DEMO_CASES = [
    ("192.0.2.10", "alice@pass.demo.example", "mail.demo.example"),
    ("203.0.113.9", "alice@fail.demo.example", "mail.demo.example"),
    ("203.0.113.9", "alice@softfail.demo.example", "mail.demo.example"),
    ("203.0.113.9", "alice@neutral.demo.example", "mail.demo.example"),
    ("192.0.2.10", "alice@none.demo.example", "mail.demo.example"),
    ("192.0.2.10", "alice@permerror.demo.example", "mail.demo.example"),
    ("203.0.113.9", "alice@toomany.demo.example", "mail.demo.example"),
    ("198.51.100.7", "alice@provider.demo.example", "mail.demo.example"),
    ("2001:db8:100::25", "Bob.Smith@Provider.demo.example", "x.example"),
    ("::ffff:192.0.2.10", "a@pass.demo.example", "x.example"),
    ("203.0.113.9", "a@mx.demo.example", "x.example"),
    ("192.0.2.10", "", "mail.demo.example"),
    ("1.2.3.4", "a@servfail.demo.example", "x.example"),
    ("1.2.3.4", "a@nonexistent.demo.example", "x.example"),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(DEMO_ZONE.read_text(encoding="utf-8"), ["servfail.demo.example"], tmp_path_factory.mktemp("demo"))
    yield server
    server.stop()


@pytest.fixture
def demo_checker(demo: Server) -> fastspf.Checker:
    return fastspf.Checker(nameservers=[demo.address], timeout=TIMEOUT, receiver="mx.example")


def same_prefix(ours: str, theirs: str) -> bool:
    """Error texts agree up to pyspf's prefix; the problem is each library's own words."""
    for prefix in ("SPF Permanent Error: ", "SPF Temporary Error: "):
        if theirs.startswith(prefix):
            return ours.startswith(prefix)
    return ours == theirs


@pytest.mark.parametrize("ip,sender,helo", DEMO_CASES)
def test_shapes_match_pyspf(demo: Server, demo_checker: fastspf.Checker, ip: str, sender: str, helo: str) -> None:
    old = point_dnspython_at(demo)
    try:
        their_check2 = pyspf.check2(i=ip, s=sender, h=helo, timeout=TIMEOUT)
        their_check = pyspf.check(i=ip, s=sender, h=helo)
        their_query = pyspf.query(i=ip, s=sender, h=helo, receiver="mx.example", timeout=TIMEOUT)
        their_tuple = their_query.check()
    finally:
        dns.resolver.default_resolver = old
    our_check2 = fastspf.check2(ip, sender, helo, checker=demo_checker)
    our_check = fastspf.check(ip, sender, helo, checker=demo_checker)
    our_query = fastspf.query(ip, sender, helo, receiver="mx.example", timeout=TIMEOUT, checker=demo_checker)
    our_tuple = our_query.check()

    assert our_check2[0] == their_check2[0] and same_prefix(our_check2[1], their_check2[1])
    assert our_check[:2] == their_check[:2] and same_prefix(our_check[2], their_check[2])
    assert our_tuple[:2] == their_tuple[:2] and same_prefix(our_tuple[2], their_tuple[2])
    for attribute in ("i", "c", "v", "s", "h", "l", "o", "d", "r", "ident", "mechanism", "lookups", "p"):
        assert getattr(our_query, attribute) == getattr(their_query, attribute), attribute
    assert (our_query.perm_error is None) == (their_query.perm_error is None)
    if our_query.perm_error is not None:
        assert isinstance(our_query.perm_error, fastspf.PermError)
        assert our_query.perm_error.ext is None
    header = our_query.get_header(our_tuple[0])
    assert header.split(" ", 1)[0].lower() == their_query.get_header(their_tuple[0]).split(" ", 1)[0].lower()
    assert "\n" not in header and not header.startswith("Received-SPF")
    authres = our_query.get_header(our_tuple[0], header_type="authres", aid="mx.example")
    assert authres.startswith(f"Authentication-Results: mx.example; spf={our_tuple[0]}") and "\n" not in authres


def test_invalid_ip_raises_permerror_like_pyspf() -> None:
    with pytest.raises(pyspf.PermError):
        pyspf.query(i="not-an-ip", s="a@b.example", h="h")
    checker = fastspf.Checker(zone_file=str(DEMO_ZONE))
    for call in (
        lambda: fastspf.query("not-an-ip", "a@b.example", "h", checker=checker),
        lambda: fastspf.check2("999.1.1.1", "a@b.example", "h", checker=checker),
        lambda: fastspf.check("not-an-ip", "a@b.example", "h", checker=checker),
    ):
        with pytest.raises(fastspf.PermError) as error:
            call()
        assert isinstance(error.value, ValueError) and isinstance(error.value, fastspf.Error)


def test_unsupported_arguments_say_so() -> None:
    checker = fastspf.Checker(zone_file=str(DEMO_ZONE))
    with pytest.raises(NotImplementedError):
        fastspf.check2("192.0.2.10", "a@pass.demo.example", "h", local="ip4:192.0.2.1", checker=checker)
    q = fastspf.query("192.0.2.10", "a@pass.demo.example", "h", checker=checker)
    with pytest.raises(RuntimeError):
        q.get_header("pass")
    with pytest.raises(NotImplementedError):
        q.check(spf="v=spf1 -all")
    q.check()
    with pytest.raises(SyntaxError):
        q.get_header("pass", header_type="dkim")
    with pytest.raises(TypeError):
        fastspf.check2("192.0.2.10", "a@pass.demo.example", "h", timeout="soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        fastspf.check2("192.0.2.10", "a@pass.demo.example", "h", timeout=-1)


def test_pyspf_keywords_are_accepted(demo_checker: fastspf.Checker) -> None:
    """Callers that pass pyspf's keywords (timeout, querytime, verbose, receiver) keep working."""
    assert fastspf.check2(
        i="192.0.2.10", s="a@pass.demo.example", h="h", timeout=5, querytime=10, verbose=False,
        receiver="mx.example", checker=demo_checker,
    ) == ("pass", "sender SPF authorized")
    assert fastspf.check(i="203.0.113.9", s="a@fail.demo.example", h="h", receiver="mx.example",
                         checker=demo_checker)[:2] == ("fail", 550)
    q = fastspf.query(i="192.0.2.10", s="a@pass.demo.example", h="h", strict=False, querytime=5, checker=demo_checker)
    assert q.check() == ("pass", 250, "sender SPF authorized")
    assert q.evaluation is not None and q.evaluation.result == fastspf.Result.PASS


def test_default_checkers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """One checker per (receiver, timeout, deadline) asked for, at most MAX_CHECKERS,
    built with pyspf's settings (offline here: the test records what is asked)."""
    from fastspf import _pyspf

    made: List[Dict[str, Any]] = []
    real = fastspf.Checker

    def offline_checker(**settings: Any) -> fastspf.Checker:
        made.append(settings)
        return real(zone=fastspf.Zone(), **settings)

    monkeypatch.setattr(fastspf, "Checker", offline_checker)
    monkeypatch.setattr(_pyspf, "_checkers", type(_pyspf._checkers)())
    first = _pyspf._checker(None, 20, 20)
    assert made == [{"timeout": 20.0, "deadline": 20.0, "receiver": None}]
    assert _pyspf._checker(None, 20, 0) is first, "querytime=0 means the default 20 s deadline"
    assert _pyspf._checker(None, 20.0, 20.0) is first and len(made) == 1
    _pyspf._checker("mx.example", 3, 7)
    assert made[-1] == {"timeout": 3.0, "deadline": 7.0, "receiver": "mx.example"}
    for n in range(_pyspf.MAX_CHECKERS + 3):
        q = _pyspf.query("192.0.2.1", "a@b.example", "h", receiver=f"r{n}.example")
        assert q.check()[0] == "none"
    assert len(_pyspf._checkers) == _pyspf.MAX_CHECKERS
    assert (None, 20.0, 20.0) not in _pyspf._checkers, "the least recently used one was dropped"


def test_ipv6_i_macro_form() -> None:
    q = fastspf.query("2001:db8::1", "a@b.example", "h", checker=fastspf.Checker(zone=fastspf.Zone()))
    assert q.i == ".".join("20010DB8000000000000000000000001")
    assert ipaddress.ip_address(q.c) == ipaddress.ip_address("2001:db8::1")
