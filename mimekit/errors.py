"""Errors and defects.

One root, :class:`MimekitError`, so callers can catch everything mimekit raises.
Defects are *values*, not exceptions: the lenient parser records what it had to
recover from and carries on; a strict policy turns the first defect into a
:class:`ParseError` carrying the same information.
"""

from __future__ import annotations

import attrs

__all__ = [
    "AddressError",
    "BuildError",
    "Defect",
    "EncodingError",
    "HeaderInjectionError",
    "MimekitError",
    "ParseError",
    "add_defect",
]


class MimekitError(Exception):
    """Root of every exception mimekit raises on purpose."""


class ParseError(MimekitError, ValueError):
    """Input could not be understood (strict mode only; lenient mode records a defect)."""

    def __init__(self, message: str, *, defect: Defect | None = None) -> None:
        super().__init__(message)
        self.defect = defect

    @property
    def offset(self) -> int | None:
        """Byte offset in the input where the problem was found, when known."""
        return self.defect.offset if self.defect is not None else None


class BuildError(MimekitError, ValueError):
    """A message could not be composed from what the caller gave."""


class HeaderInjectionError(BuildError):
    """Caller data would have added a line to a header (CR, LF or NUL in a value or name).

    Raised before anything is written or sent: a value such as
    ``"Invoice\\r\\nBcc: x@evil"`` must never become a second header.
    """


class EncodingError(MimekitError, ValueError):
    """Data could not be encoded as asked (e.g. an unknown charset or transfer encoding)."""


class AddressError(ParseError):
    """An address could not be parsed in strict mode, or is unusable on the chosen path
    (for example a UTF-8 local part without SMTPUTF8)."""


@attrs.frozen
class Defect:
    """Something the lenient parser recovered from.

    ``kind`` is a stable CamelCase identifier (``MissingBoundary``,
    ``InvalidBase64``, ``MalformedHeader``, ...); ``detail`` a sentence for
    people; ``part`` the IMAP-style section id of the part it was found in;
    ``header`` the header name for header defects; ``offset`` the byte offset in
    the parsed input, when known.
    """

    kind: str
    detail: str
    part: str = ""
    header: str | None = None
    offset: int | None = None

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``inspect --json``."""
        return {
            "part": self.part,
            "kind": self.kind,
            "detail": self.detail,
            "header": self.header,
            "offset": self.offset,
        }


def add_defect(
    defects: list[Defect] | None, kind: str, detail: str, header: str | None = None
) -> None:
    """Append a defect to ``defects`` when the caller collects them (the lenient value
    parsers all take an optional list)."""
    if defects is not None:
        defects.append(Defect(kind, detail, header=header))
