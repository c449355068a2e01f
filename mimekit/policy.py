"""Policy: the frozen bundle of options that parsing and generation consult.

Pass a policy where behaviour must differ from the defaults; derive variants
with :func:`attrs.evolve` (``evolve(DEFAULT, strict=True)``).
"""

from __future__ import annotations

import attrs

__all__ = ["DEFAULT", "SMTPUTF8", "STRICT", "Policy"]


@attrs.frozen
class Policy:
    """Options for parsing and generating messages.

    Generation:
      ``linesep`` line ending written (RFC 5322 §2.1: CRLF on the wire);
      ``max_line_length`` fold target (RFC 5322 §2.1.1 SHOULD 78);
      ``hard_line_limit`` never exceeded (RFC 5322 §2.1.1 MUST 998, without CRLF);
      ``smtputf8`` write UTF-8 headers raw (RFC 6532) instead of RFC 2047 words,
      and allow UTF-8 local parts;
      ``allow_8bit`` the path carries 8BITMIME (RFC 6152): 8bit bodies allowed;
      ``legacy_filename`` also write the RFC 2047 ``name=``/``filename=`` form
      next to RFC 2231 for clients (older Outlook) that only read that;
      ``message_id_domain`` right-hand side of generated Message-IDs (never a
      host-name lookup: ``None`` means a random token under ``mimekit.invalid``).

    Parsing:
      ``strict`` raise :class:`~mimekit.errors.ParseError` instead of recording
      a defect; ``fallback_charset`` last resort for undecodable text;
      limits bound time and memory on hostile input.
    """

    linesep: bytes = b"\r\n"
    max_line_length: int = 78
    hard_line_limit: int = 998
    smtputf8: bool = False
    allow_8bit: bool = False
    legacy_filename: bool = True
    message_id_domain: str | None = None

    strict: bool = False
    fallback_charset: str = "latin-1"
    max_depth: int = 64
    max_parts: int = 10_000
    max_headers: int = 10_000
    max_header_bytes: int = 1 << 20
    max_header_line: int = 1 << 20


DEFAULT = Policy()
STRICT = Policy(strict=True)
SMTPUTF8 = Policy(smtputf8=True, allow_8bit=True)
