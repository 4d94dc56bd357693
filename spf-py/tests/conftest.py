"""Shared fixtures: paths, and a real DNS server on loopback (spf-testdns)."""

from __future__ import annotations

import os
import pathlib
import subprocess
from typing import Iterator, List

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO_ZONE = ROOT / "examples" / "demo.zone"
SUITE = ROOT / "spf-core" / "tests" / "data" / "spf-test-suite" / "rfc7208-tests.yml"


def testdns_binary() -> str:
    """The spf-testdns server binary, built by the test command."""
    path = os.environ.get("FASTSPF_TESTDNS") or str(ROOT / "target" / "debug" / "spf-testdns")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"spf-testdns not found at {path}: build it with `cargo build -p spf-testdns`")
    return path


class DnsServer:
    def __init__(self, args: List[str]) -> None:
        self.process = subprocess.Popen(
            [testdns_binary(), "--zone", str(DEMO_ZONE), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise RuntimeError(f"spf-testdns did not start: {line!r}")
        self.address = line.removeprefix("listening on ")

    def stop(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.process.stdout.close()


@pytest.fixture
def slow_dns() -> Iterator[DnsServer]:
    """The demo zone served on 127.0.0.1, every answer 300 ms late."""
    server = DnsServer(["--delay-ms", "300"])
    yield server
    server.stop()


@pytest.fixture
def far_dns() -> Iterator[DnsServer]:
    """The demo zone served on 127.0.0.1, every answer 50 ms late (a far resolver)."""
    server = DnsServer(["--delay-ms", "50"])
    yield server
    server.stop()
