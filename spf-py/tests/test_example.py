"""examples/spamassassin_style.py runs against the demo zone."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from conftest import DEMO_ZONE, ROOT

EXAMPLE = ROOT / "examples" / "spamassassin_style.py"


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


@pytest.mark.parametrize("problem", ["missing", "directory", "syntax", "nameserver"])
def test_bad_setup_is_one_line_and_a_nonzero_status(tmp_path: pathlib.Path, problem: str) -> None:
    """An unreadable or malformed zone file (or a bad --nameserver) is reported on one
    line, without a traceback, with exit status 2."""
    broken = tmp_path / "broken.zone"
    broken.write_text('$TTL 300\nbad.example. IN TXT "unterminated\n')
    source = {
        "missing": ["--zone", str(tmp_path / "no-such.zone")],
        "directory": ["--zone", str(tmp_path)],
        "syntax": ["--zone", str(broken)],
        "nameserver": ["--nameserver", "not an address"],
    }[problem]
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), *source, "--ip", "192.0.2.1", "--mail-from", "a@b.example", "--helo", "h"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spamassassin_style.py: "), done.stderr
