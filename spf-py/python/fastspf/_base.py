"""Pure-Python types of fastspf: the result and severity enums and the exceptions."""

from __future__ import annotations

import enum

__all__ = ["Error", "RecordError", "Result", "Severity"]


class Result(str, enum.Enum):
    """The seven SPF results of RFC 7208 section 2.6.

    A ``str`` enum: ``Result.PASS == "pass"`` and ``str(Result.PASS) == "pass"``.
    """

    NONE = "none"
    NEUTRAL = "neutral"
    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"

    def __str__(self) -> str:
        return self.value


class Severity(str, enum.Enum):
    """How serious a lint diagnostic is.

    A ``str`` enum: ``Severity.ERROR == "error"``.
    """

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:
        return self.value


class Error(Exception):
    """Base class of fastspf's own errors (setup problems, unreadable zone files)."""


class RecordError(Error, ValueError):
    """An SPF record that does not parse.

    ``offset`` is the byte offset of the offending term, ``term`` its text.
    """

    def __init__(self, message: str, offset: int = 0, term: str = "") -> None:
        super().__init__(message)
        self.offset = offset
        self.term = term
