"""The whole RFC 7208 conformance suite through Python: every case, one test each.

Each scenario's zonedata becomes a fastspf.Zone, read as the suite's README
says (SPF records served as TXT unless the name has TXT of its own; a bare
TIMEOUT times out the types without records; a list of strings is one record).
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import pytest
import yaml

import fastspf

from conftest import SUITE

OLD_NAMES = {"unknown": "permerror", "error": "temperror"}


def _strings(value: Any) -> List[bytes]:
    if isinstance(value, list):
        return [str(v).encode("utf-8") for v in value]
    return [str(value).encode("utf-8")]


def build_zone(zonedata: Dict[str, Any]) -> fastspf.Zone:
    zone = fastspf.Zone()
    for name, entries in (zonedata or {}).items():
        name = str(name)
        zone.add_name(name)
        spf: List[List[bytes]] = []
        txt: List[List[bytes]] = []
        has_txt = False
        for entry in entries or []:
            if entry == "TIMEOUT":
                zone.add_timeout(name)
                continue
            for rtype, value in entry.items():
                if rtype == "SPF":
                    spf.append(_strings(value))
                elif rtype == "TXT":
                    has_txt = True
                    if value != "NONE":
                        txt.append(_strings(value))
                elif rtype == "A":
                    zone.add_a(name, str(value))
                elif rtype == "AAAA":
                    zone.add_aaaa(name, str(value))
                elif rtype == "PTR":
                    zone.add_ptr(name, str(value))
                elif rtype == "CNAME":
                    zone.add_cname(name, str(value))
                elif rtype == "MX":
                    zone.add_mx(name, int(value[0]), str(value[1]))
                else:
                    raise ValueError(f"{name}: unknown record type {rtype}")
        for record in txt if has_txt else spf:
            zone.add_txt(name, record)
    return zone


def load_cases() -> List[Tuple[str, Dict[str, Any], Dict[str, Any]]]:
    cases = []
    with open(SUITE, encoding="utf-8") as f:
        for scenario in yaml.safe_load_all(f):
            for name, case in scenario["tests"].items():
                cases.append((name, case, scenario.get("zonedata") or {}))
    return cases


CASES = load_cases()


def test_the_suite_has_every_case() -> None:
    assert len(CASES) == 203


@pytest.mark.parametrize("name,case,zonedata", CASES, ids=[c[0] for c in CASES])
def test_rfc7208(name: str, case: Dict[str, Any], zonedata: Dict[str, Any]) -> None:
    checker = fastspf.Checker(zone=build_zone(zonedata), cache_size=1000)
    evaluation = checker.check(str(case["host"]), str(case.get("mailfrom") or ""), str(case.get("helo") or ""))
    expected = case["result"] if isinstance(case["result"], list) else [case["result"]]
    expected = [OLD_NAMES.get(r, r) for r in expected]
    assert evaluation.result in expected, f"{name}: {evaluation!r} trace={evaluation.trace}"
    explanation = case.get("explanation")
    if explanation is not None and explanation != "DEFAULT" and evaluation.result == "fail":
        # "DEFAULT" stands for the implementation's own default explanation.
        assert evaluation.explanation == explanation
