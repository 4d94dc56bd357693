"""pyspf-compatible entry points: ``check2``, ``check``, ``query``, ``PermError``, ``TempError``.

They take pyspf 2.0's arguments and return its shapes, so that ``import
fastspf as spf`` serves most pyspf callers unchanged. The checks themselves
are fastspf's (RFC 7208, shared cache); spf-py/README.md lists what is and is
not compatible.
"""

from __future__ import annotations

import collections
import ipaddress
import threading
import time
from typing import TYPE_CHECKING, Any, Optional, Tuple

from ._base import Error, Result

if TYPE_CHECKING:
    from . import Checker
    from ._native import Evaluation

__all__ = ["PermError", "TempError", "check", "check2", "query"]


class PermError(Error, ValueError):
    """pyspf's ``PermError``: raised for a client address that is not an IP
    address, and carried by :attr:`query.perm_error` after a ``permerror``.

    ``msg`` is the problem, ``mech`` the term or text it concerns (or None).
    ``ext`` is always None (pyspf puts its lax-mode result there; fastspf has
    no lax mode).
    """

    def __init__(self, msg: str, mech: Optional[str] = None, ext: Any = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.mech = mech
        self.ext = ext

    def __str__(self) -> str:
        return f"{self.msg}: {self.mech}" if self.mech else self.msg


class TempError(Error):
    """pyspf's ``TempError``, for code that catches it. fastspf reports a
    temporary DNS error as the ``temperror`` result; it never raises this."""

    def __init__(self, msg: str, mech: Optional[str] = None, ext: Any = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.mech = mech
        self.ext = ext

    def __str__(self) -> str:
        return f"{self.msg}: {self.mech}" if self.mech else self.msg


# pyspf's explanation texts for the results that carry none of their own.
_TEXTS = {
    Result.PASS: "sender SPF authorized",
    Result.SOFTFAIL: "domain owner discourages use of this host",
    Result.NEUTRAL: "access neither permitted nor denied",
    Result.NONE: "",
}
_DEFAULT_FAIL_TEXT = "SPF fail - not authorized"

# pyspf's SMTP reply codes, the middle of the 3-tuple of check().
_CODES = {
    Result.PASS: 250,
    Result.SOFTFAIL: 250,
    Result.NEUTRAL: 250,
    Result.NONE: 250,
    Result.FAIL: 550,
    Result.PERMERROR: 550,
    Result.TEMPERROR: 451,
}

# Checkers made for the pyspf entry points, one per (receiver, timeout,
# deadline) asked for. Each holds a resolver, threads and a cache, so the
# number is bounded: past it the least recently used one is dropped.
MAX_CHECKERS = 8
_checkers: "collections.OrderedDict[Tuple[Optional[str], float, float], Checker]" = collections.OrderedDict()
_checkers_lock = threading.Lock()

# RFC 7208 4.6.4: "at least 20 seconds" for a whole check; also the most a
# check may take when pyspf's querytime=0 (no overall limit) is asked for.
_DEFAULT_DEADLINE = 20.0


def _seconds(value: Any, name: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number of seconds, not {value!r}") from None
    if not 0 < seconds <= 86_400:
        raise ValueError(f"{name} must be a number of seconds in (0, 86400], not {value!r}")
    return seconds


def _checker(receiver: Optional[str], timeout: Any, querytime: Any) -> "Checker":
    """The checker for these pyspf settings (made on first use)."""
    from . import Checker

    per_answer = _seconds(timeout, "timeout")
    deadline = _seconds(querytime, "querytime") if querytime else _DEFAULT_DEADLINE
    key = (receiver, per_answer, deadline)
    with _checkers_lock:
        checker = _checkers.get(key)
        if checker is None:
            checker = Checker(timeout=per_answer, deadline=deadline, receiver=receiver)
            _checkers[key] = checker
            while len(_checkers) > MAX_CHECKERS:
                _checkers.popitem(last=False)
        else:
            _checkers.move_to_end(key)
        return checker


def _unsupported(local: Optional[str]) -> None:
    if local is not None:
        raise NotImplementedError(
            "fastspf does not insert libspf2-style local policy (local=...): "
            "check first and apply your policy to the result"
        )


def _is_default_explanation(evaluation: "Evaluation") -> bool:
    """Whether a fail's explanation is fastspf's default (no usable exp=):
    pyspf then says "SPF fail - not authorized"."""
    text = evaluation.explanation or ""
    ip = evaluation.ip
    return any(
        text == f"{domain} does not designate {ip} as a permitted sender"
        for domain in {evaluation.checked_domain, evaluation.domain}
    )


def _text(evaluation: "Evaluation") -> str:
    """pyspf's explanation for an evaluation."""
    result = Result(evaluation.result)
    if result is Result.FAIL:
        if evaluation.explanation and not _is_default_explanation(evaluation):
            return evaluation.explanation
        return _DEFAULT_FAIL_TEXT
    if result is Result.PERMERROR:
        return f"SPF Permanent Error: {evaluation.reason or 'permanent error'}"
    if result is Result.TEMPERROR:
        return f"SPF Temporary Error: {evaluation.reason or 'temporary error'}"
    return _TEXTS[result]


class query:  # noqa: N801 (pyspf's name)
    """pyspf's ``query``: one SPF question, asked with :meth:`check`.

    ``query(i, s, h, local=None, receiver=None, strict=True, timeout=20,
    verbose=False, querytime=0)``: ``i`` the client IP, ``s`` the MAIL FROM
    address (``""``: the HELO identity, ``postmaster@h``), ``h`` the HELO
    name. ``timeout`` is the seconds to wait for each DNS answer,
    ``querytime`` the most seconds a whole check may take (0: 20 seconds).
    ``strict`` and ``verbose`` are accepted and have no effect; ``local``
    (libspf2 local policy) is not supported.

    After :meth:`check`, the attributes pyspf sets are set: ``mechanism``,
    ``lookups``, ``void_lookups``, ``perm_error``; the macro variables
    ``i, s, h, l, o, d, r, t, c, v, p`` and ``ident`` are set from the
    start. ``evaluation`` (fastspf's) holds the last check's
    :class:`fastspf.Evaluation`.

    :raises PermError: when ``i`` is not an IP address.
    """

    def __init__(
        self,
        i: str,
        s: str,
        h: str,
        local: Optional[str] = None,
        receiver: Optional[str] = None,
        strict: Any = True,
        timeout: float = 20,
        verbose: bool = False,
        querytime: float = 0,
        *,
        checker: Optional["Checker"] = None,
    ) -> None:
        _unsupported(local)
        try:
            address = ipaddress.ip_address(i)
        except ValueError:
            raise PermError(f"{i!r} does not appear to be an IPv4 or IPv6 address") from None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        self._checker = checker if checker is not None else _checker(receiver, timeout, querytime)
        self._ip = str(address)
        self.c = self._ip
        if address.version == 4:
            self.i, self.v, self.A, self.cidrmax = self._ip, "in-addr", "A", 32
        else:
            self.i = ".".join(address.exploded.replace(":", "").upper())
            self.v, self.A, self.cidrmax = "ip6", "AAAA", 128
        self.h = h
        if s:
            self.s, self.ident = s, "mailfrom"
        else:
            self.s, self.ident = f"postmaster@{h}", "helo"
        local_part, at, domain = self.s.rpartition("@")
        self.l = local_part if at and local_part else "postmaster"
        self.o = domain
        self.d = domain
        self.r = receiver or "unknown"
        self.t = str(int(time.time()))
        self.p: Optional[str] = None
        self.libspf_local = local
        self.strict = strict
        self.timeout = timeout
        self.querytime = querytime
        self.verbose = verbose
        self.mechanism: Optional[str] = None
        self.lookups = 0
        self.void_lookups = 0
        self.perm_error: Optional[PermError] = None
        self.evaluation: Optional["Evaluation"] = None
        self._receiver = receiver

    def check(self, spf: Optional[str] = None) -> Tuple[str, int, str]:
        """``(result, code, explanation)``: the RFC 7208 result word
        (``"pass"``, ``"fail"``, ``"softfail"``, ``"neutral"``, ``"none"``,
        ``"permerror"``, ``"temperror"``), pyspf's SMTP code (250; 550 for
        fail and permerror; 451 for temperror) and explanation.

        ``spf`` (checking a given record text instead of the published one) is
        not supported: lint or try drafts with :func:`fastspf.lint` or
        ``fastspf check --record``.
        """
        if spf is not None:
            raise NotImplementedError(
                "fastspf checks the published record only; try a draft with `fastspf check --record`"
            )
        sender = self.s if self.ident == "mailfrom" else ""
        evaluation = self._checker.check(self._ip, sender, self.h)
        self.evaluation = evaluation
        result = Result(evaluation.result)
        self.mechanism = evaluation.mechanism
        self.lookups = evaluation.dns_lookups
        self.void_lookups = evaluation.void_lookups
        self.perm_error = (
            PermError(evaluation.reason or "permanent error", evaluation.mechanism)
            if result is Result.PERMERROR
            else None
        )
        return result.value, _CODES[result], _text(evaluation)

    def get_header(
        self,
        res: Optional[str] = None,
        receiver: Optional[str] = None,
        header_type: str = "spf",
        aid: Optional[str] = None,
        **kv: Any,
    ) -> str:
        """The header for the last :meth:`check`, unfolded: for
        ``header_type="spf"`` the value of a Received-SPF field (without
        its name, as pyspf returns it), for ``"authres"`` a whole
        ``Authentication-Results:`` field naming ``aid`` (default: the
        receiver). The result is the last check's (``res`` is accepted for
        pyspf's signature); ``**kv`` extra keys are not supported.

        :raises RuntimeError: before :meth:`check`.
        :raises SyntaxError: for another ``header_type`` (as pyspf).
        """
        if self.evaluation is None:
            raise RuntimeError("call check() before get_header()")
        if kv:
            raise NotImplementedError("extra Received-SPF keys (**kv) are not supported")
        receiver = receiver or self.r
        if header_type == "spf":
            field = self.evaluation.received_spf(receiver=receiver)
            return _unfold(field).removeprefix("Received-SPF: ")
        if header_type == "authres":
            return _unfold(self.evaluation.authentication_results(aid or receiver))
        raise SyntaxError(f"Unknown results header type: {header_type}")

    def __repr__(self) -> str:
        return f"<fastspf.query i={self.c!r} s={self.s!r} h={self.h!r} mechanism={self.mechanism!r}>"


def _unfold(field: str) -> str:
    """A folded header field on one line (a fold is a line feed before a space)."""
    return field.replace("\n", "")


def check2(
    i: str,
    s: str,
    h: str,
    local: Optional[str] = None,
    receiver: Optional[str] = None,
    timeout: float = 20,
    verbose: bool = False,
    querytime: float = 20,
    *,
    checker: Optional["Checker"] = None,
) -> Tuple[str, str]:
    """pyspf's ``check2``: ``(result, explanation)`` for client IP ``i``,
    MAIL FROM ``s`` (``""``: the HELO identity) and HELO ``h``.

    The result is the RFC 7208 word (``"pass"``, ``"fail"``, ``"softfail"``,
    ``"neutral"``, ``"none"``, ``"permerror"``, ``"temperror"``); the
    explanation is pyspf's text for the result: the record's ``exp=`` text or
    ``"SPF fail - not authorized"`` on fail, ``"SPF Permanent Error: ..."`` /
    ``"SPF Temporary Error: ..."`` with fastspf's reason on errors.
    ``timeout`` is the seconds to wait for each DNS answer, ``querytime``
    the most seconds the whole check may take (0: 20 seconds). ``checker``
    (fastspf's) picks the :class:`fastspf.Checker` to use instead of one
    made for these settings with the system's resolvers.

    :raises PermError: when ``i`` is not an IP address.
    """
    result, _code, text = query(
        i, s, h, local=local, receiver=receiver, timeout=timeout, verbose=verbose,
        querytime=querytime, checker=checker,
    ).check()
    return result, text


def check(
    i: str,
    s: str,
    h: str,
    local: Optional[str] = None,
    receiver: Optional[str] = None,
    verbose: bool = False,
    *,
    checker: Optional["Checker"] = None,
) -> Tuple[str, int, str]:
    """pyspf's classic ``check``: ``(result, code, explanation)`` with
    pyspf's older word ``"unknown"`` for ``permerror`` (``temperror`` keeps
    its name, as pyspf 2.0 returns it), its SMTP code (250; 550 for fail and
    permerror; 451 for temperror) and explanation (as :func:`check2`).

    :raises PermError: when ``i`` is not an IP address.
    """
    result, code, text = query(i, s, h, local=local, receiver=receiver, verbose=verbose, checker=checker).check()
    return ("unknown" if result == Result.PERMERROR.value else result), code, text

