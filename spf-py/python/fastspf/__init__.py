"""fastspf: fast, correct SPF (RFC 7208) checks with a Rust core.

>>> import fastspf
>>> checker = fastspf.Checker(zone_file="examples/demo.zone")      # doctest: +SKIP
>>> checker.check("192.0.2.10", "alice@pass.demo.example").result  # doctest: +SKIP
<Result.PASS: 'pass'>

One :class:`Checker` holds the resolver and a shared, TTL-aware DNS cache;
create it once and use it from any number of threads or from asyncio
(:meth:`Checker.check_async`). A check that must wait for DNS releases the
GIL while it waits, so threads overlap their lookups; a check answered from
the cache (microseconds, no I/O) keeps it, because handing the GIL over and
back would cost more than the check.

``import fastspf as spf`` serves pyspf callers: :func:`check2`,
:func:`check`, :class:`query`, :class:`PermError` and :class:`TempError`
take pyspf 2.0's arguments and return its shapes (spf-py/README.md lists
the differences).
"""

from __future__ import annotations

import asyncio
import atexit
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from . import _native
from ._base import Error, RecordError, Result, Severity
from ._native import Diagnostic, Evaluation, LintReport, Term, Zone
from ._pyspf import PermError, TempError, check, check2, query

__version__: str = _native.__version__

# From here on the library's threads no longer call into Python: checks
# still pending when the interpreter exits are dropped quietly.
atexit.register(_native._at_exit)

#: The library's defaults (the same for Rust, C, Python and the command
#: line), which every :class:`Checker` and :func:`lint` setting left at
#: ``None`` keeps.
DEFAULTS: Dict[str, Any] = dict(_native.defaults())

__all__ = [
    "DEFAULTS",
    "Checker",
    "Diagnostic",
    "Error",
    "Evaluation",
    "LintReport",
    "PermError",
    "RecordError",
    "Result",
    "Severity",
    "TempError",
    "Term",
    "Zone",
    "check",
    "check2",
    "lint",
    "parse",
    "query",
    "__version__",
]

PathLike = Union[str, "os.PathLike[str]"]


def _names(value: Union[str, Iterable[str], None]) -> Optional[List[str]]:
    """A list of networks or domains: one string (comma- or space-separated
    items) or an iterable of them."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


def _zone_files(zone_file: Union[PathLike, Iterable[PathLike], None]) -> Optional[List[str]]:
    if zone_file is None:
        return None
    if isinstance(zone_file, (str, os.PathLike)):
        return [os.fspath(zone_file)]
    return [os.fspath(p) for p in zone_file]


class Checker:
    """Checks SPF. Build it once; share it between threads and tasks.

    Without ``zone_file``/``zone`` it asks real DNS: the system's resolvers
    (``/etc/resolv.conf``), or ``nameservers`` (``"IP"`` or ``"IP:PORT"``).
    ``zone_file`` (a path or a list of paths to RFC 1035 master files) or
    ``zone`` (a :class:`Zone`) makes it offline: names not in them do not
    exist.

    Every setting left at ``None`` keeps the library's default, the same in
    Rust, C, Python and the command line (:data:`DEFAULTS` lists them).

    :param timeout: seconds to wait for each DNS answer (default 5).
    :param attempts: tries per DNS question in all (default 2).
    :param deadline: most seconds one check may take; then ``temperror``
        (default 20, as RFC 7208 4.6.4 asks).
    :param cache_size: most cached DNS answers (default 100,000).
    :param cache_bytes: about how many bytes the cache may hold (default 64 MiB).
    :param max_dns_lookups: DNS-querying terms per check (default 10, RFC 7208 4.6.4).
    :param max_void_lookups: void lookups per check (default 2, RFC 7208 4.6.4).
    :param receiver: this host's name, for ``%{r}`` and Received-SPF.
    :param trace: record each step in :attr:`Evaluation.trace` (default off: a traced check
        runs the evaluator rather than a compiled policy, and reading the trace renders it;
        result, reason, mechanism and domain are there without it).
    :param speculate: when a check has to fetch a record from DNS, start the
        lookups its include/redirect/a/mx terms will need at once (default
        True), so a first-seen sender costs the depth of its record tree in
        round trips rather than the number of its queries. Results are the
        same either way.

    Local policy (none by default), applied around every check; what it did
    is :attr:`Evaluation.policy_note` (words, also in the header fields) and
    :attr:`Evaluation.policy` (a dict with ``kind``). Networks are
    ``"address"`` or ``"address/prefix"``; each list is one string (comma-
    or space-separated) or an iterable of them.

    :param skip_networks: clients never checked (policyd-spf's
        ``skip_addresses``): no DNS query; result ``none``, policy kind
        ``exempt``.
    :param allow_networks: clients treated as authorized (``Whitelist``): no
        DNS query; result ``pass``, policy kind ``exempt``.
    :param allow_helo: HELO names that, when their A/AAAA records hold the
        client, make it authorized (``HELO_Whitelist``).
    :param allow_domains: domains whose SPF policy, when it passes the
        client, makes it authorized (``Domain_Whitelist``).
    :param allow_ptr_domains: domains that, when the client's validated PTR
        name is in one, make it authorized (``Domain_Whitelist_PTR``).
    :param trusted_forwarders: domains whose SPF policy, when it passes the
        client, turns a MAIL FROM ``fail`` into forwarded mail: the result
        stays ``fail``, policy kind ``forwarded`` names the forwarder; not
        to be rejected.
    :param best_guess: for domains without SPF, ``True`` evaluates pyspf's
        ``v=spf1 a/24 mx/24 ptr`` (or give a record of your own); the result
        stays ``none`` and the guess is policy kind ``best_guess``, never the
        domain's own policy. Default off.
    :param wide_open_pass: ``"pass"`` (default) or ``"neutral"``: a pass from
        a policy that passes 2^24+ IPv4 addresses (or 1/65536 of IPv6) is
        then ``neutral``, policy kind ``wide_open`` naming the domain.
    :raises ValueError: for a malformed nameserver, network, domain or
        out-of-range setting.
    :raises Error: when a zone file cannot be read or the resolver cannot be set up.
    """

    __slots__ = ("_native",)

    def __init__(
        self,
        nameservers: Optional[Sequence[str]] = None,
        *,
        timeout: Optional[float] = None,
        attempts: Optional[int] = None,
        deadline: Optional[float] = None,
        cache_size: Optional[int] = None,
        cache_bytes: Optional[int] = None,
        zone_file: Union[PathLike, Iterable[PathLike], None] = None,
        zone: Optional[Zone] = None,
        max_dns_lookups: Optional[int] = None,
        max_void_lookups: Optional[int] = None,
        receiver: Optional[str] = None,
        trace: Optional[bool] = None,
        speculate: Optional[bool] = None,
        skip_networks: Union[str, Iterable[str], None] = None,
        allow_networks: Union[str, Iterable[str], None] = None,
        allow_helo: Union[str, Iterable[str], None] = None,
        allow_domains: Union[str, Iterable[str], None] = None,
        allow_ptr_domains: Union[str, Iterable[str], None] = None,
        trusted_forwarders: Union[str, Iterable[str], None] = None,
        best_guess: Union[bool, str, None] = None,
        wide_open_pass: Optional[str] = None,
    ) -> None:
        if isinstance(nameservers, str):
            nameservers = [nameservers]
        zone_files = _zone_files(zone_file)
        if zone is not None:
            zone.freeze()
        self._native = _native.Checker(
            nameservers=list(nameservers) if nameservers is not None else None,
            timeout=timeout,
            attempts=attempts,
            deadline=deadline,
            cache_size=cache_size,
            cache_bytes=cache_bytes,
            zone_files=zone_files,
            zone=zone,
            max_dns_lookups=max_dns_lookups,
            max_void_lookups=max_void_lookups,
            receiver=receiver,
            trace=trace,
            speculate=speculate,
            skip_networks=_names(skip_networks),
            allow_networks=_names(allow_networks),
            allow_helo=_names(allow_helo),
            allow_domains=_names(allow_domains),
            allow_ptr_domains=_names(allow_ptr_domains),
            trusted_forwarders=_names(trusted_forwarders),
            best_guess=best_guess,
            wide_open_pass=wide_open_pass,
        )

    def check(self, ip: str, mail_from: str, helo: Optional[str] = None) -> Evaluation:
        """Checks the MAIL FROM identity of a message.

        ``mail_from`` is the envelope sender; ``""`` is the null sender, for
        which ``postmaster@<helo>`` is checked. Blocks until the result is
        known; while it waits for DNS the GIL is released (a check answered
        from the cache keeps it: it takes microseconds).

        :raises ValueError: when ``ip`` is not an IPv4 or IPv6 address.
        """
        return self._native.check(ip, mail_from, helo)

    def check_helo(self, ip: str, helo: str) -> Evaluation:
        """Checks the HELO identity (``postmaster@<helo>``)."""
        return self._native.check_helo(ip, helo)

    async def check_async(self, ip: str, mail_from: str, helo: Optional[str] = None) -> Evaluation:
        """:meth:`check` for asyncio: the event loop keeps running while DNS answers arrive."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Evaluation] = loop.create_future()

        def deliver(evaluation: Evaluation) -> None:
            if loop.is_closed():
                return
            try:
                loop.call_soon_threadsafe(_resolve, future, evaluation)
            except RuntimeError:
                # The loop closed since the check above: nobody waits.
                pass

        pending = self._native.check_callback(ip, mail_from, helo, deliver)
        try:
            return await future
        except asyncio.CancelledError:
            # task.cancel(), or the loop shutting down: stop the native
            # check too (its lookups are dropped, its callback not called).
            pending.cancel()
            raise

    def lint(
        self,
        domain: Optional[str] = None,
        *,
        record: Optional[str] = None,
        ips: Iterable[str] = (),
        self_test: Iterable[str] = (),
        deadline: float = 30.0,
        check_mail_hosts: bool = True,
    ) -> LintReport:
        """Lints like :func:`fastspf.lint`, through this checker's DNS, cache and limits:
        the answers it fetches are the ones checks then find cached.

        :raises ValueError: without ``domain`` and ``record``, or for a malformed address.
        """
        if isinstance(ips, str):
            ips = [ips]
        if isinstance(self_test, str):
            self_test = [self_test]
        return self._native.lint(
            domain,
            record=record,
            ips=list(ips),
            self_test=list(self_test),
            deadline=deadline,
            check_mail_hosts=check_mail_hosts,
        )

    def cache_stats(self) -> dict:
        """Cache counters and size: hits, misses, coalesced, expirations, evictions, entries,
        bytes, speculative_queries (sent before evaluation asked) and speculative_used (of
        those, the answers an evaluation read), inflight (lookups waiting for an answer now) and
        abandoned (lookups whose every waiter went away, by a deadline or a cancel)."""
        return self._native.cache_stats()

    def __repr__(self) -> str:
        return f"<fastspf.Checker cache={self.cache_stats()}>"


def _resolve(future: "asyncio.Future[Evaluation]", evaluation: Evaluation) -> None:
    if not future.done():
        future.set_result(evaluation)


def parse(record: str) -> List[Term]:
    """Parses an SPF record into its terms.

    :raises RecordError: with ``offset`` and ``term`` when the record is invalid.
    """
    return _native.parse(record)


def lint(
    domain: Optional[str] = None,
    *,
    record: Optional[str] = None,
    zone_file: Union[PathLike, Iterable[PathLike], None] = None,
    zone: Optional[Zone] = None,
    nameservers: Optional[Sequence[str]] = None,
    timeout: Optional[float] = None,
    attempts: Optional[int] = None,
    deadline: float = 30.0,
    ips: Iterable[str] = (),
    self_test: Iterable[str] = (),
    max_dns_lookups: Optional[int] = None,
    max_void_lookups: Optional[int] = None,
    check_mail_hosts: bool = True,
) -> LintReport:
    """Names the mistakes in an SPF record and the exact address space it authorizes.

    ``lint("example.com")`` lints the record the domain publishes;
    ``lint("example.com", record="v=spf1 ...")`` a draft as if published
    there (the rest of DNS as usual); ``lint(record="v=spf1 ...")`` a record
    on its own. DNS comes from ``zone_file``/``zone`` (offline) or real DNS
    (``nameservers``, else the system's), as for :class:`Checker`.

    ``ips`` are addresses to report on (:attr:`LintReport.checks`: does each
    pass, and by which term?); ``self_test`` addresses must not pass (such
    as this receiver's own): a pass is a ``self-test-pass`` error.
    ``deadline`` bounds the whole run; what is not known by then is reported
    as ``analysis-truncated``. Blocks with the GIL released.

    >>> report = fastspf.lint("example.com", record="v=spf1 +all")  # doctest: +SKIP
    >>> [d.code for d in report.diagnostics]                         # doctest: +SKIP
    ['plus-all', 'wide-open']

    :raises ValueError: without ``domain`` and ``record``, or for a malformed
        address, nameserver or out-of-range setting.
    :raises Error: when a zone file cannot be read or the resolver cannot be set up.
    """
    if isinstance(nameservers, str):
        nameservers = [nameservers]
    if isinstance(ips, str):
        ips = [ips]
    if isinstance(self_test, str):
        self_test = [self_test]
    if zone is not None:
        zone.freeze()
    return _native.lint(
        domain,
        record=record,
        zone_files=_zone_files(zone_file),
        zone=zone,
        nameservers=list(nameservers) if nameservers is not None else None,
        timeout=timeout,
        attempts=attempts,
        deadline=deadline,
        ips=list(ips),
        self_test=list(self_test),
        max_dns_lookups=max_dns_lookups,
        max_void_lookups=max_void_lookups,
        check_mail_hosts=check_mail_hosts,
    )
