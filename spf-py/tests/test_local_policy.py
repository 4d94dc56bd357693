"""Local policy through Python: Checker(skip_networks=..., ...) and
Evaluation.policy_note / .policy, named in the header fields."""

from __future__ import annotations

import asyncio

import pytest

import fastspf


def zone() -> fastspf.Zone:
    z = fastspf.Zone()
    z.add_txt("fail.test", [b"v=spf1 -all"])
    z.add_txt("open.test", [b"v=spf1 +all"])
    z.add_a("nospf.test", "198.51.100.7")
    z.add_txt("fwd.test", [b"v=spf1 ip4:203.0.113.0/24 -all"])
    z.add_a("relay.fwd.test", "203.0.113.9")
    z.add_ptr("9.113.0.203.in-addr.arpa", "relay.fwd.test")
    return z


def checker(**policy: object) -> fastspf.Checker:
    return fastspf.Checker(zone=zone(), receiver="mx.test", **policy)  # type: ignore[arg-type]


def test_no_policy_by_default() -> None:
    ev = checker().check("127.0.0.1", "a@fail.test")
    assert ev.result is fastspf.Result.FAIL
    assert ev.policy_note is None and ev.policy is None
    assert "policy=" not in ev.received_spf()


def test_skip_networks_are_not_checked() -> None:
    c = checker(skip_networks="127.0.0.0/8, ::1")
    ev = c.check("127.0.0.1", "a@fail.test", "localhost.test")
    assert ev.result is fastspf.Result.NONE
    assert ev.policy == {"kind": "exempt", "exemption": {"kind": "skipped"}}
    assert ev.policy_note == "not checked: client in a network that is not checked"
    assert ev.received_spf().startswith("Received-SPF: none (mx.test: client in a network that is not checked)")
    assert c.cache_stats()["misses"] == 0, "no DNS for a skipped client"
    assert "policy='exempt'" in repr(ev) or 'policy="exempt"' in repr(ev)
    assert c.check_helo("::1", "localhost.test").policy == ev.policy


def test_allow_lists() -> None:
    c = checker(allow_networks=["192.0.2.0/24"], allow_domains=["fwd.test"])
    ev = c.check("192.0.2.7", "a@fail.test")
    assert ev.result is fastspf.Result.PASS
    assert ev.policy == {"kind": "exempt", "exemption": {"kind": "allowed_network"}}
    ev = c.check("203.0.113.50", "a@fail.test")
    assert ev.result is fastspf.Result.PASS
    assert ev.policy == {"kind": "exempt", "exemption": {"kind": "allowed_by_spf", "domain": "fwd.test"}}
    assert c.check("198.51.100.1", "a@fail.test").result is fastspf.Result.FAIL

    c = checker(allow_ptr_domains="fwd.test", allow_helo="relay.fwd.test")
    ev = c.check("203.0.113.9", "a@fail.test", "h.test")
    assert ev.policy == {"kind": "exempt", "exemption": {"kind": "allowed_by_ptr", "domain": "fwd.test"}}
    ev = c.check("203.0.113.9", "a@fail.test", "relay.fwd.test")
    assert ev.policy == {"kind": "exempt", "exemption": {"kind": "allowed_helo", "helo": "relay.fwd.test"}}


def test_trusted_forwarder_reports_forwarded_mail() -> None:
    c = checker(trusted_forwarders=["fwd.test"])
    ev = c.check("203.0.113.9", "a@fail.test", "relay.fwd.test")
    assert ev.result is fastspf.Result.FAIL, "the sender's own result stays"
    assert ev.policy is not None and ev.policy["kind"] == "forwarded"
    assert ev.policy["forwarder"] == "fwd.test"
    assert ev.policy["matched"]["term"] == "ip4:203.0.113.0/24"
    assert ev.policy_note == "forwarded: trusted forwarder fwd.test authorizes the client"
    unfolded = ev.received_spf().replace("\n", "")
    assert unfolded.endswith('; policy="forwarded: trusted forwarder fwd.test authorizes the client"')
    ar = ev.authentication_results("mx.test").replace("\n", "")
    assert ar.endswith("(forwarded: trusted forwarder fwd.test authorizes the client)")
    assert c.check("198.51.100.1", "a@fail.test").policy is None


def test_best_guess_is_off_by_default_and_a_guess() -> None:
    assert checker().check("198.51.100.20", "a@nospf.test").policy is None
    for guess in (True, "v=spf1 a/24 mx/24 ptr"):
        ev = checker(best_guess=guess).check("198.51.100.20", "a@nospf.test")
        assert ev.result is fastspf.Result.NONE, "a guess is never the domain's own policy"
        assert ev.mechanism is None
        assert ev.policy is not None and ev.policy["kind"] == "best_guess"
        assert ev.policy["result"] == "pass" and ev.policy["matched"]["term"] == "a/24"
        assert ev.policy_note == "no SPF record, best guess pass by a/24"
    assert checker(best_guess=False).check("198.51.100.20", "a@nospf.test").policy is None


def test_wide_open_pass_neutral() -> None:
    assert checker().check("10.1.2.3", "a@open.test").result is fastspf.Result.PASS
    assert checker(wide_open_pass="pass").check("10.1.2.3", "a@open.test").policy is None
    ev = checker(wide_open_pass="neutral").check("10.1.2.3", "a@open.test")
    assert ev.result is fastspf.Result.NEUTRAL
    assert ev.policy is not None and ev.policy["kind"] == "wide_open" and ev.policy["domain"] == "open.test"
    assert ev.received_spf().startswith("Received-SPF: neutral ")
    assert 'policy="wide-open policy of open.test' in ev.received_spf().replace("\n", "")


def test_async_and_callback_paths_apply_it() -> None:
    c = checker(allow_networks="192.0.2.0/24")

    async def main() -> fastspf.Evaluation:
        return await c.check_async("192.0.2.7", "a@fail.test")

    ev = asyncio.run(main())
    assert ev.result is fastspf.Result.PASS and ev.policy is not None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"skip_networks": "10.0.0.0/33"}, "skip_networks: \"10.0.0.0/33\" is not an IP network"),
        ({"allow_networks": ["192.0.2.1", "nope"]}, "allow_networks: \"nope\" is not an IP network"),
        ({"allow_domains": "bad..test"}, "allow_domains: \"bad..test\" is not a domain name"),
        ({"trusted_forwarders": ["x"]}, "trusted_forwarders: \"x\" is not a domain name"),
        ({"best_guess": "a/24"}, "best_guess: best-guess record \"a/24\" does not start with \"v=spf1\""),
        ({"wide_open_pass": "maybe"}, "wide_open_pass must be \"pass\" or \"neutral\", not \"maybe\""),
    ],
)
def test_bad_policy_is_a_value_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        checker(**kwargs)
    assert str(info.value).startswith(message), str(info.value)


def test_readme_example() -> None:
    from conftest import DEMO_ZONE

    checker = fastspf.Checker(zone_file=str(DEMO_ZONE), skip_networks="127.0.0.0/8, ::1",
                              trusted_forwarders=["provider.demo.example"], best_guess=True,
                              wide_open_pass="neutral")
    ev = checker.check("198.51.100.7", "alice@fail.demo.example", "mail.demo.example")
    assert ev.policy is not None
    assert (ev.result, ev.policy["kind"], ev.policy_note) == (
        fastspf.Result.FAIL, "forwarded",
        "forwarded: trusted forwarder provider.demo.example authorizes the client")
