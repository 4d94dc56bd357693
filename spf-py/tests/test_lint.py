"""fastspf.lint: diagnostics, the address space, drafts, errors."""

from __future__ import annotations

import json

import pytest

import fastspf

from conftest import DEMO_ZONE, DnsServer  # noqa: F401 (fixtures come from conftest)


def lint(*args: str, **kwargs: object) -> fastspf.LintReport:
    return fastspf.lint(*args, zone_file=DEMO_ZONE, **kwargs)  # type: ignore[arg-type]


def test_clean_record() -> None:
    report = lint("pass.demo.example")
    assert report.ok and report.diagnostics == []
    assert report.domain == "pass.demo.example"
    assert report.record == "v=spf1 ip4:192.0.2.0/24 -all"
    assert not report.draft and report.complete
    assert report.authorized["ipv4"] == {
        "count": 256,
        "fraction": 256 / 2**32,
        "cidrs": ["192.0.2.0/24"],
        "cidrs_complete": True,
    }
    assert report.authorized["ipv6"]["count"] == 0
    assert report.authorizes("192.0.2.9") is True
    assert report.authorizes("198.51.100.1") is False
    assert report.dns_lookups == 0 and report.void_lookups == 0
    assert "pass.demo.example" in repr(report)


def test_plus_all_is_named_with_term_and_offset() -> None:
    report = lint("open.demo.example")
    assert not report.ok
    assert [d.code for d in report.diagnostics] == ["plus-all", "wide-open"]
    plus = report.diagnostics[0]
    assert plus.severity is fastspf.Severity.ERROR and plus.severity == "error"
    assert (plus.term, plus.offset, plus.domain) == ("+all", 7, "open.demo.example")
    assert "passes every address" in plus.message
    assert "plus-all" in repr(plus)
    # Python ints carry the whole IPv6 space exactly.
    assert report.authorized["ipv6"]["count"] == 2**128
    assert report.authorized["ipv4"]["cidrs"] == ["0.0.0.0/0"]
    canaries = [c for c in report.checks if c["role"] == "canary"]
    assert [c["result"] for c in canaries] == ["pass", "pass"]


def test_include_tree_budget_and_asked_addresses() -> None:
    report = lint("provider.demo.example", ips=["198.51.100.7"], self_test="203.0.113.1")
    assert report.dns_lookups == 3
    assert [(t["via"], t["domain"]) for t in report.tree][:2] == [
        ("check", "provider.demo.example"), ("include", "_spf.provider.demo.example")]
    asked, self_test = report.checks[0], report.checks[1]
    assert asked["role"] == "requested" and asked["result"] == "pass"
    assert asked["matched"]["term"] == "include:_spf.provider.demo.example"
    assert self_test["role"] == "self-test" and self_test["result"] == "fail"
    assert report.ok


def test_too_many_lookups() -> None:
    report = lint("toomany.demo.example")
    codes = [d.code for d in report.diagnostics]
    assert "too-many-lookups" in codes
    assert report.dns_lookups == 11


def test_drafts() -> None:
    fixed = lint("typo.demo.example", record="v=spf1 ip4:192.0.2.0/24 -all")
    assert fixed.ok and fixed.draft
    alone = fastspf.lint(record="v-spf1 ip4:192.0.2.0/24 -all")
    assert [d.code for d in alone.diagnostics] == ["not-spf-typo"]
    assert alone.domain is None and alone.diagnostics[0].domain == ""
    dependent = fastspf.lint(record="v=spf1 exists:%{i}.x.example ip4:192.0.2.0/24 -all")
    assert dependent.client_dependent_terms[0]["term"] == "exists:%{i}.x.example"
    assert dependent.authorizes("203.0.113.1") is None
    assert dependent.possibly_authorized["ipv4"]["fraction"] == 1.0


def test_zone_object_and_json() -> None:
    zone = fastspf.Zone()
    zone.add_txt("z.example", [b"v=spf1 ip4:192.0.2.1/24 -all"])
    report = fastspf.lint("z.example", zone=zone)
    assert [d.code for d in report.diagnostics] == ["host-bits-set"]
    data = json.loads(report.to_json())
    assert data["authorized"]["ipv4"]["count"] == "256"
    assert data["diagnostics"][0]["severity"] == "warning"


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        fastspf.lint()
    with pytest.raises(ValueError):
        lint("pass.demo.example", ips=["not-an-ip"])
    with pytest.raises(ValueError):
        lint("pass.demo.example", deadline=0)
    with pytest.raises(fastspf.Error):
        fastspf.lint("pass.demo.example", zone_file="/nonexistent/zone")
    report = lint("pass.demo.example")
    with pytest.raises(ValueError):
        report.authorizes("nope")


def test_against_a_nameserver(far_dns: DnsServer) -> None:
    report = fastspf.lint("provider.demo.example", nameservers=[far_dns.address])
    assert report.ok and report.complete
    assert report.authorized["ipv4"]["cidrs"] == ["198.51.100.0/25", "203.0.113.128/25"]


def test_a_checker_lints_through_its_cache() -> None:
    checker = fastspf.Checker(zone_file=str(DEMO_ZONE))
    report = checker.lint("provider.demo.example", ips=["198.51.100.7"])
    assert report.ok, report.diagnostics
    misses = checker.cache_stats()["misses"]
    assert misses > 0
    # The check finds every answer lint fetched.
    assert checker.check("198.51.100.7", "a@provider.demo.example").result == fastspf.Result.PASS
    assert checker.cache_stats()["misses"] == misses
    with pytest.raises(ValueError):
        checker.lint()
