"""examples/spamassassin_style.py runs against the demo zone."""

from __future__ import annotations

import subprocess
import sys

from conftest import DEMO_ZONE, ROOT


def test_spamassassin_style_example() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "spamassassin_style.py"), "--zone", str(DEMO_ZONE),
         "--ip", "203.0.113.9", "--mail-from", "alice@fail.demo.example", "--helo", "mail.demo.example"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert "SPF_FAIL" in out
    assert "SPF_HELO_FAIL" in out
    assert "Received-SPF: fail" in out
    assert "Authentication-Results: " in out and "spf=fail" in out
