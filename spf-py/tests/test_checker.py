"""The Python API: fields, headers, errors, threads, asyncio."""

from __future__ import annotations

import asyncio
import pathlib
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import fastspf

from conftest import DEMO_ZONE, DnsServer  # noqa: F401 (fixtures come from conftest)


@pytest.fixture(scope="module")
def checker() -> fastspf.Checker:
    return fastspf.Checker(zone_file=str(DEMO_ZONE), receiver="mx.receiver.example", trace=True)


def test_without_the_trace_a_typo_is_still_named() -> None:
    # The trace is off by default; a none's reason still names the record
    # that looks meant to be SPF.
    plain = fastspf.Checker(zone_file=str(DEMO_ZONE))
    typo = plain.check("203.0.113.9", "a@typo.demo.example")
    assert typo.result == "none" and typo.trace == []
    assert "v-spf1" in typo.reason and "looks meant to be" in typo.reason


def test_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", fastspf.__version__)


def test_result_is_a_str_enum() -> None:
    assert fastspf.Result.PASS == "pass"
    assert str(fastspf.Result.PERMERROR) == "permerror"
    assert {r.value for r in fastspf.Result} == {
        "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"}


def test_pass_fields_and_headers(checker: fastspf.Checker) -> None:
    ev = checker.check("192.0.2.10", "alice@pass.demo.example", helo="mail.demo.example")
    assert ev.result is fastspf.Result.PASS
    assert ev.mechanism == "ip4:192.0.2.0/24"
    assert ev.domain == "pass.demo.example"
    assert ev.identity == "mailfrom"
    assert ev.sender == "alice@pass.demo.example"
    assert ev.explanation is None and ev.reason is None
    assert ev.dns_lookups == 0 and ev.void_lookups == 0
    assert ev.received_spf().startswith("Received-SPF: pass (mx.receiver.example: domain of alice@pass.demo.example")
    assert "receiver=other.example" in ev.received_spf(receiver="other.example")
    assert ev.authentication_results("mx.receiver.example") == (
        "Authentication-Results: mx.receiver.example; spf=pass\n smtp.mailfrom=alice@pass.demo.example")
    assert "pass" in repr(ev) and "ip4:192.0.2.0/24" in repr(ev)
    events = [e["event"] for e in ev.trace]
    assert events[0] == "enter" and "record" in events and events[-1] == "leave"


def test_every_result(checker: fastspf.Checker) -> None:
    cases = {
        ("203.0.113.9", "a@fail.demo.example"): "fail",
        ("203.0.113.9", "a@softfail.demo.example"): "softfail",
        ("203.0.113.9", "a@neutral.demo.example"): "neutral",
        ("192.0.2.10", "a@none.demo.example"): "none",
        ("192.0.2.10", "a@permerror.demo.example"): "permerror",
        ("198.51.100.7", "a@redirect.demo.example"): "pass",
    }
    for (ip, sender), result in cases.items():
        assert checker.check(ip, sender).result == result, sender


def test_fail_explanation_and_typo_trace(checker: fastspf.Checker) -> None:
    ev = checker.check("203.0.113.9", "a@fail.demo.example")
    assert ev.explanation == "203.0.113.9 is not a mail server of fail.demo.example; ask postmaster@fail.demo.example"
    typo = checker.check("203.0.113.9", "a@typo.demo.example")
    assert typo.result == "none"
    assert any("v-spf1" in e.get("detail", "") for e in typo.trace)


def test_null_sender_and_helo(checker: fastspf.Checker) -> None:
    ev = checker.check("192.0.2.10", "", helo="mail.demo.example")
    assert ev.result == "pass" and ev.sender == "postmaster@mail.demo.example"
    helo = checker.check_helo("203.0.113.9", "mail.demo.example")
    assert helo.result == "fail" and helo.identity == "helo"
    assert "smtp.helo=mail.demo.example" in helo.authentication_results("mx")


def test_cache_stats(checker: fastspf.Checker) -> None:
    checker.check("192.0.2.10", "alice@pass.demo.example")
    stats = checker.cache_stats()
    assert set(stats) == {
        "hits",
        "misses",
        "coalesced",
        "expirations",
        "evictions",
        "entries",
        "bytes",
        "speculative_queries",
        "speculative_used",
        "inflight",
        "abandoned",
    }
    assert stats["hits"] >= 1 and stats["entries"] >= 1
    # Nothing waits once the check is done.
    assert stats["inflight"] == 0


def test_parse() -> None:
    terms = fastspf.parse("v=spf1 -ip4:192.0.2.0/24 include:_spf.example.com redirect=x.example")
    assert [(t.kind, t.qualifier, t.name, t.value) for t in terms] == [
        ("mechanism", "-", "ip4", "192.0.2.0/24"),
        ("mechanism", "+", "include", "_spf.example.com"),
        ("modifier", None, "redirect", "x.example"),
    ]
    assert terms[1].offset == 25 and terms[1].text == "include:_spf.example.com"
    with pytest.raises(fastspf.RecordError) as error:
        fastspf.parse("v=spf1 a -al")
    assert error.value.offset == 9 and error.value.term == "-al"
    assert isinstance(error.value, ValueError) and isinstance(error.value, fastspf.Error)


def test_bad_inputs(checker: fastspf.Checker) -> None:
    with pytest.raises(ValueError):
        checker.check("not-an-ip", "a@b.example")
    with pytest.raises(ValueError):
        checker.check("999.1.1.1", "a@b.example")
    with pytest.raises(TypeError):
        checker.check(12345, "a@b.example")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        checker.check("192.0.2.1", None)  # type: ignore[arg-type]
    # NUL bytes and huge strings are data: a result, not a crash.
    assert checker.check("192.0.2.1", "a\x00b@pass.demo.example\x00", "h\x00").result in ("fail", "none")
    assert checker.check("192.0.2.1", "a@" + "x" * 1_000_000).result == "none"
    header = checker.check("192.0.2.1", "a\r\nX: y@pass.demo.example").received_spf()
    assert "\r" not in header and all(line.startswith(" ") for line in header.split("\n")[1:]), header
    with pytest.raises(ValueError):
        fastspf.Checker(nameservers=["not an address"])
    with pytest.raises(ValueError):
        fastspf.Checker(max_dns_lookups=0)
    with pytest.raises(fastspf.Error):
        fastspf.Checker(zone_file="/nonexistent/zone")


def test_headers_fold_with_lf_and_unfold_to_one_line(checker: fastspf.Checker) -> None:
    ev = checker.check("192.0.2.10", "alice@pass.demo.example", helo="mail.demo.example")
    header = ev.received_spf()
    assert "\n " in header and "\r" not in header
    assert all(len(line) <= 78 for line in header.split("\n")), header
    assert header.replace("\n", "") == (
        "Received-SPF: pass (mx.receiver.example: domain of alice@pass.demo.example designates 192.0.2.10 "
        "as permitted sender) client-ip=192.0.2.10; envelope-from=alice@pass.demo.example; "
        "helo=mail.demo.example; receiver=mx.receiver.example; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\"")


def test_check2_is_pyspf_shaped(checker: fastspf.Checker) -> None:
    assert fastspf.check2("192.0.2.10", "a@pass.demo.example", "mail.demo.example", checker=checker) == (
        "pass", "sender SPF authorized")
    result, text = fastspf.check2("203.0.113.9", "a@fail.demo.example", "h", checker=checker)
    assert result == "fail" and text.startswith("203.0.113.9 is not a mail server")
    result, text = fastspf.check2("192.0.2.10", "a@permerror.demo.example", "h", checker=checker)
    assert result == "permerror" and text.startswith("SPF Permanent Error: invalid SPF record")
    assert fastspf.check("192.0.2.10", "a@permerror.demo.example", "h", checker=checker)[:2] == ("unknown", 550)


CORPUS = [
    ("192.0.2.10", "a@pass.demo.example"), ("203.0.113.9", "a@fail.demo.example"),
    ("198.51.100.7", "a@provider.demo.example"), ("2001:db8:100::25", "a@provider.demo.example"),
    ("203.0.113.9", "a@toomany.demo.example"), ("192.0.2.10", "a@none.demo.example"),
    ("198.51.100.7", "a@redirect.demo.example"), ("192.0.2.10", "bob@mx.demo.example"),
]


def test_threads_share_one_checker(checker: fastspf.Checker) -> None:
    """8 threads x 1000 checks: identical to one thread; prints the speed ratio (a measurement, not an assertion)."""
    work = [CORPUS[i % len(CORPUS)] for i in range(8000)]
    start = time.perf_counter()
    single = [str(checker.check(ip, s).result) for ip, s in work]
    single_time = time.perf_counter() - start

    def run(chunk: int) -> list:
        return [str(checker.check(ip, s).result) for ip, s in work[chunk * 1000:(chunk + 1) * 1000]]

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = [r for chunk in pool.map(run, range(8)) for r in chunk]
    threaded_time = time.perf_counter() - start
    assert threaded == single
    print(f"\n8 threads x 1000 checks: {single_time / threaded_time:.2f}x one thread "
          f"({8000 / single_time:,.0f} vs {8000 / threaded_time:,.0f} checks/s)")


def test_asyncio_does_not_block_the_loop(slow_dns: DnsServer) -> None:
    """Checks wait 300 ms per DNS answer; a ticker keeps running meanwhile."""
    checker = fastspf.Checker(nameservers=[slow_dns.address], timeout=5)

    async def main() -> tuple:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        results = await asyncio.gather(
            checker.check_async("192.0.2.10", "a@pass.demo.example", "mail.demo.example"),
            checker.check_async("203.0.113.9", "a@fail.demo.example", "mail.demo.example"),
            checker.check_async("198.51.100.7", "a@provider.demo.example", "mail.demo.example"),
        )
        stop.set()
        await tick_task
        return results, ticks

    start = time.perf_counter()
    (results, ticks) = asyncio.run(main())
    elapsed = time.perf_counter() - start
    assert [str(r.result) for r in results] == ["pass", "fail", "pass"]
    # The provider check needs three sequential round trips (~0.9 s); the
    # loop ran its 10 ms ticker all along.
    assert elapsed >= 0.6
    assert ticks >= 20, f"only {ticks} ticks in {elapsed:.2f} s: the event loop was blocked"


def test_threads_released_the_gil_during_dns(slow_dns: DnsServer) -> None:
    checker = fastspf.Checker(nameservers=[slow_dns.address])
    counter = {"n": 0}
    done = threading.Event()

    def count() -> None:
        while not done.is_set():
            counter["n"] += 1

    thread = threading.Thread(target=count)
    thread.start()
    try:
        assert checker.check("192.0.2.10", "a@pass.demo.example").result == "pass"
    finally:
        done.set()
        thread.join()
    assert counter["n"] > 1000, "the counting thread could not run while the check waited on DNS"


def test_threads_overlap_dns_waits(far_dns: DnsServer) -> None:
    """8 threads x 4 checks that each wait for DNS (a one-entry cache keeps
    them cold): identical results; prints the speed-up over one thread (a
    measurement, not an assertion)."""
    checker = fastspf.Checker(nameservers=[far_dns.address], cache_size=1)
    work = [CORPUS[i % 3] for i in range(32)]
    start = time.perf_counter()
    single = [str(checker.check(ip, s).result) for ip, s in work]
    single_time = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda w: str(checker.check(*w).result), work))
    threaded_time = time.perf_counter() - start
    assert threaded == single
    print(f"\nDNS-bound checks (50 ms per answer), 8 threads: {single_time / threaded_time:.1f}x one thread")


def test_speculation_changes_timing_not_results(far_dns: DnsServer) -> None:
    """A first-seen sender's include tree is asked concurrently (speculative
    queries show in the stats); the evaluation is the same without it."""
    evaluations = {}
    for speculate in (True, False):
        checker = fastspf.Checker(nameservers=[far_dns.address], speculate=speculate)
        ev = checker.check("203.0.113.130", "alice@provider.demo.example", "mail.demo.example")
        evaluations[speculate] = (ev.result, ev.mechanism, ev.domain, ev.dns_lookups, ev.trace)
        stats = checker.cache_stats()
        if speculate:
            # _netblocks and _netblocks2 are siblings in the provider's record.
            assert stats["speculative_queries"] >= 2 and stats["speculative_used"] >= 2, stats
        else:
            assert stats["speculative_queries"] == 0, stats
    assert evaluations[True] == evaluations[False]
    assert evaluations[True][0] == fastspf.Result.PASS


def test_errors_map_to_python_exceptions(tmp_path: pathlib.Path) -> None:
    # Bad input is a ValueError; setup failures are fastspf.Error; record
    # syntax is fastspf.RecordError (an Error and a ValueError) with its place.
    with pytest.raises(ValueError, match="invalid IP address"):
        fastspf.Checker(zone_file=DEMO_ZONE).check("not-an-ip", "a@b.example")
    with pytest.raises(ValueError, match="invalid nameserver"):
        fastspf.Checker(["not-a-server"])
    with pytest.raises(ValueError, match="attempts"):
        fastspf.Checker(["127.0.0.1"], attempts=0)
    missing = tmp_path / "missing.zone"
    with pytest.raises(fastspf.Error, match="cannot read zone file") as raised:
        fastspf.Checker(zone_file=missing)
    assert not isinstance(raised.value, ValueError)
    broken = tmp_path / "broken.zone"
    broken.write_text("example.com. IN TXTT x\n")
    with pytest.raises(fastspf.Error, match=r"broken.zone:1"):
        fastspf.Checker(zone_file=broken)
    with pytest.raises(fastspf.RecordError) as record_error:
        fastspf.parse("v=spf1 ip4:192.0.2.0/33 -all")
    assert isinstance(record_error.value, ValueError) and isinstance(record_error.value, fastspf.Error)
    assert record_error.value.offset == 7


def test_defaults_are_the_core_s() -> None:
    assert fastspf.DEFAULTS["attempts"] == 2 and fastspf.DEFAULTS["deadline"] == 20.0
    assert fastspf.DEFAULTS["max_dns_lookups"] == 10 and fastspf.DEFAULTS["max_void_lookups"] == 2
    # A checker built without settings has them (its trace default too).
    evaluation = fastspf.Checker(zone_file=DEMO_ZONE).check("192.0.2.10", "a@pass.demo.example")
    assert bool(evaluation.trace) == fastspf.DEFAULTS["trace"]


def test_a_pass_says_how_much_the_policy_passes() -> None:
    # The four senders of a wide-open check: `+all`, a /1, a /24 and
    # `exists:%{i}`. The first check of a domain gives a lower bound (the
    # matched term's range); from the second on the policy is compiled and
    # the count exact, except where it depends on the client.
    zone = fastspf.Zone()
    zone.add_txt("all.test", [b"v=spf1 +all"])
    zone.add_txt("half.test", [b"v=spf1 ip4:128.0.0.0/1 -all"])
    zone.add_txt("net.test", [b"v=spf1 ip4:192.0.2.0/24 -all"])
    zone.add_txt("ex.test", [b"v=spf1 exists:%{i}.allow.test -all"])
    zone.add_a("192.0.2.7.allow.test", "127.0.0.2")
    checker = fastspf.Checker(zone=zone)
    cases = [
        ("a@all.test", (1 << 32, 1 << 64), (1 << 32, 1 << 64, True), True),
        ("a@half.test", (1 << 31, 0), (1 << 31, 0, True), True),
        ("a@net.test", (256, 0), (256, 0, True), False),
        ("a@ex.test", (1, 0), (0, 0, False), False),
    ]
    for sender, first, later, wide in cases:
        for round in range(3):
            e = checker.check("192.0.2.7", sender)
            assert e.result == "pass" and e.wide_open is wide, sender
            expected = (*first, False) if round == 0 else later
            assert e.authorized is not None
            got = (e.authorized["ipv4_addresses"], e.authorized["ipv6_64s"], e.authorized["exact"])
            assert got == expected, (sender, round, got)
            assert ("wide-open policy" in e.received_spf()) is wide
    failed = checker.check("198.51.100.1", "a@net.test")
    assert failed.result == "fail" and failed.authorized is None and failed.wide_open is False
