"""Issue 14 from Python: Ctrl-C reaches a caller waiting for DNS, a cancelled
asyncio check cancels the native check, and nothing prints a Rust panic or an
"Event loop is closed" traceback at interpreter exit."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Iterator

import pytest

import fastspf

from conftest import DnsServer


@pytest.fixture
def dead_dns() -> Iterator[DnsServer]:
    """A DNS server on 127.0.0.1 that never answers."""
    server = DnsServer(["--silence-all"])
    yield server
    server.stop()


def silent_checker(server: DnsServer) -> fastspf.Checker:
    # Speculation off: the only lookups in flight are the check's own.
    return fastspf.Checker([server.address], timeout=30.0, attempts=1, deadline=60.0, speculate=False)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_keyboard_interrupt_reaches_a_check_waiting_for_dns(dead_dns: DnsServer) -> None:
    checker = silent_checker(dead_dns)
    # Python's own Ctrl-C handler, whatever this process inherited (a shell
    # starts background jobs, such as a CI runner's, with SIGINT ignored, and
    # Python then installs none).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    started = time.monotonic()
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            checker.check("192.0.2.1", "a@pass.demo.example", "h.example")
        waited = time.monotonic() - started
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    # Before: the interrupt arrived when the 60 s deadline ended the check.
    assert waited < 10.0, waited
    # The interrupted check was cancelled: nothing of it is left in flight.
    assert checker.cache_stats()["inflight"] == 0


def test_cancelling_check_async_cancels_the_native_check(dead_dns: DnsServer) -> None:
    checker = silent_checker(dead_dns)

    async def main() -> None:
        task = asyncio.ensure_future(checker.check_async("192.0.2.1", "a@pass.demo.example", "h.example"))
        # Wait until the check's query is in flight (no sleep for a fixed time).
        while checker.cache_stats()["inflight"] == 0:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    # The cancel reaches the check on the checker's own thread: its lookup
    # leaves the in-flight table a moment later (bounded, not a fixed sleep).
    deadline = time.monotonic() + 10.0
    while checker.cache_stats()["inflight"] != 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checker.cache_stats()["inflight"] == 0
    assert checker.cache_stats()["abandoned"] == 1


def run_script(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_exit_with_checks_pending_is_quiet(dead_dns: DnsServer) -> None:
    # Hundreds of checks waiting for a server that never answers, then exit:
    # before, the library's threads printed a Rust panic for each.
    done = run_script(
        f"""
        import fastspf
        checker = fastspf.Checker([{dead_dns.address!r}], timeout=30.0, attempts=1, deadline=60.0)
        for i in range(300):
            checker._native.check_callback("192.0.2.1", f"a@n{{i}}.example", "h", print)
        print("exiting")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exiting"
    assert "panic" not in done.stderr and done.stderr == "", done.stderr


def test_loop_closing_with_checks_pending_is_quiet(dead_dns: DnsServer) -> None:
    # The loop closes while checks wait: they are cancelled with it, and no
    # late result finds a closed loop ("Event loop is closed" tracebacks).
    done = run_script(
        f"""
        import asyncio, fastspf
        checker = fastspf.Checker([{dead_dns.address!r}], timeout=30.0, attempts=1, deadline=60.0, speculate=False)

        async def main():
            for i in range(50):
                asyncio.ensure_future(checker.check_async("192.0.2.1", f"a@n{{i}}.example", "h"))
            while checker.cache_stats()["inflight"] < 50:
                await asyncio.sleep(0.01)

        asyncio.run(main())
        # The loop cancelled the 50 checks as it closed; without the native
        # checks being cancelled too, their queries would stay in flight for
        # the 30 s timeout.
        import time
        limit = time.monotonic() + 10
        while checker.cache_stats()["inflight"] and time.monotonic() < limit:
            time.sleep(0.01)
        print("stats", checker.cache_stats()["inflight"])
        """
    )
    assert done.returncode == 0, done.stderr
    assert "Event loop is closed" not in done.stderr, done.stderr
    assert "panic" not in done.stderr, done.stderr
    assert done.stdout.strip() == "stats 0", done.stdout
