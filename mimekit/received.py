"""Received trace fields (RFC 5321 §4.4, RFC 5322 §3.6.7), read leniently.

RFC 5322 §3.6.7 gives only ``Received: *received-token ";" date-time``; RFC 5321 §4.4
names the clauses an SMTP server writes: ``from`` (the HELO/EHLO name, then a comment
with the TCP information), ``by``, ``via``, ``with`` (the protocol, e.g. ESMTPS),
``id`` and ``for``. Real servers add much more in comments (TLS version and cipher,
authenticated sender, software names) and bend the syntax: Exchange writes
``with Microsoft SMTP Server (version=TLS1_2, cipher=...) id 15.20... via Frontend
Transport``, qmail writes only a comment, some writers leave out clauses or the date.

:func:`parse_received` never raises: clauses are split at their keywords (outside
comments and angle brackets), the date is the text after the last ``;`` that parses
as a date, and whatever does not fit is recorded as a defect.
"""

from __future__ import annotations

import re
from datetime import datetime

import attrs

from mimekit.errors import Defect

__all__ = ["Received", "TLSInfo", "parse_received"]

# RFC 5321 §4.4 Stamp: the clause keywords, in the order a server writes them.
_KEYWORDS = ("from", "by", "via", "with", "id", "for")
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_IP_RE = re.compile(
    rf"\[(?:IPv6:)?([0-9A-Fa-f:.]*:[0-9A-Fa-f:.%]*|{_IPV4})\]|(?<![\w.:])({_IPV4})(?![\w.])"
    r"|(?<![\w:])((?:[0-9A-Fa-f]{1,4}:){2,7}:?[0-9A-Fa-f]{0,4}(?:%\w+)?)(?![\w:])"
)
# TLS details as the common servers write them in comments or in the "with" clause.
_TLS_PATTERNS = (
    # sendmail, Gmail: (version=TLSv1.2 cipher=ECDHE-RSA-AES128-GCM-SHA256 bits=128/128)
    # Exchange: (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)
    re.compile(
        r"version=(?P<version>[\w./]+),?\s+cipher=(?P<cipher>[\w\-]+)(?:,?\s+bits=(?P<bits>[\d/]+))?",
        re.IGNORECASE,
    ),
    # Postfix: (using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits))
    re.compile(
        r"using\s+(?P<version>[\w.]+)\s+with\s+cipher\s+(?P<cipher>[\w\-]+)"
        r"(?:\s+\((?P<bits>[\d/]+)\s+bits\))?",
        re.IGNORECASE,
    ),
    # Exim: (TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256)
    re.compile(r"^(?P<version>(?:TLS|SSL)v?[\d._]+):(?P<cipher>[\w\-]+)(?::(?P<bits>\d+))?$", re.IGNORECASE),
    # with ESMTP/TLS/ECDHE-RSA-AES128-GCM-SHA256 (IronPort and others)
    re.compile(r"/(?P<version>TLS[\w.]*)/(?P<cipher>[\w\-]+)", re.IGNORECASE),
)
_LOOSE_DATE = re.compile(
    r"(?:\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+)?\b\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d\d\S*"
    r"(?:\s+[^\s()]+)?(?:\s*\([^()]*\))?\s*$"
)
_BARE_TLS = re.compile(r"^(?:TLS|TLSv?1[._]\d|SSLv3)$", re.IGNORECASE)


@attrs.frozen
class TLSInfo:
    """TLS details a server wrote into a Received field (all optional; ``raw`` is the
    text they were read from)."""

    version: str | None
    cipher: str | None
    bits: str | None
    raw: str


@attrs.frozen
class Received:
    """One Received field, split into its RFC 5321 §4.4 clauses.

    ``from_`` is the name the client gave (HELO/EHLO) and ``from_info`` the comment
    after it (the server's view: reverse DNS name and IP address); ``from_ip`` is the
    first IP address found in either. ``by`` is the receiving host and ``by_info`` the
    comment after it (often the server software, e.g. ``Postfix``), ``with_`` the
    protocol (``ESMTPS``, ``Microsoft SMTP Server``...), ``id`` the server's queue id,
    ``for_`` the recipient (without angle brackets). ``date`` is aware (via
    :func:`mimekit.dates.parse_date`) or None. ``comments`` holds every comment in
    order; ``raw`` the unfolded field body.
    """

    from_: str | None = None
    from_info: str | None = None
    from_ip: str | None = None
    by: str | None = None
    by_info: str | None = None
    via: str | None = None
    with_: str | None = None
    id: str | None = None
    for_: str | None = None
    date: datetime | None = None
    tls: TLSInfo | None = None
    comments: tuple[str, ...] = ()
    raw: str = ""


# Tokens: ("word", text) / ("comment", text without the outer parentheses).
_Tok = tuple[str, str]


def _tokenize(text: str) -> tuple[list[_Tok], bool]:
    """Words and comments (nested, with quoted pairs: RFC 5322 §3.2.2); an angle
    address or quoted string stays one word. Returns (tokens, comments all closed)."""
    toks: list[_Tok] = []
    pos, n = 0, len(text)
    closed = True
    while pos < n:
        ch = text[pos]
        if ch in " \t\r\n":
            pos += 1
        elif ch == "(":
            depth, start = 1, pos + 1
            pos += 1
            while pos < n and depth:
                c = text[pos]
                if c == "\\":
                    pos += 1
                elif c == "(":
                    depth += 1
                elif c == ")":
                    depth -= 1
                pos += 1
            if depth:
                closed = False
                toks.append(("comment", text[start:]))
            else:
                toks.append(("comment", text[start : pos - 1]))
        else:
            start = pos
            while pos < n and text[pos] not in " \t\r\n(":
                close = {"<": ">", '"': '"'}.get(text[pos])
                if close is not None:
                    end = text.find(close, pos + 1)
                    pos = n if end < 0 else end + 1
                else:
                    pos += 1
            toks.append(("word", text[start:pos]))
    return toks, closed


def _tls(texts: list[str]) -> TLSInfo | None:
    for text in texts:
        for pattern in _TLS_PATTERNS:
            m = pattern.search(text.strip())
            if m is not None:
                g = m.groupdict()
                return TLSInfo(g["version"], g["cipher"], g.get("bits"), text.strip())
    for text in texts:
        if _BARE_TLS.match(text.strip()):  # Exchange: "(TLS)"; Exim: "(TLS1.2)"
            word = text.strip()
            return TLSInfo(None if word.upper() == "TLS" else word, None, None, word)
    return None


def _first_ip(texts: list[str]) -> str | None:
    for text in texts:
        m = _IP_RE.search(text)
        if m is not None:
            return next(g for g in m.groups() if g)
    return None


def _split_date(text: str, defects: list[Defect] | None) -> tuple[str, datetime | None]:
    """(the clauses, the date) split at the last ";" whose tail parses as a date
    (RFC 5322 §3.6.7); earlier ";" belong to the clauses (some servers put one there)."""
    from mimekit.dates import parse_date

    pos = len(text)
    tries = 0
    while tries < 8:  # bounded: hostile input may hold thousands of ";"
        pos = text.rfind(";", 0, pos)
        if pos < 0:
            break
        tail = text[pos + 1 :].strip()
        if tail:
            tries += 1
            date_defects: list[Defect] = []
            value = parse_date(tail, date_defects)
            if value is not None:
                if defects is not None:
                    defects.extend(date_defects)
                return text[:pos], value
    # Some old servers leave out the ";": take a date-looking tail when it parses.
    m = _LOOSE_DATE.search(text)
    if m is not None:
        value = parse_date(m.group())
        if value is not None:
            if defects is not None:
                defects.append(Defect("InvalidReceived", "date not preceded by ';'"))
            return text[: m.start()], value
    if defects is not None:
        defects.append(Defect("InvalidReceived", "no date after ';' in a Received field"))
    return text.rstrip().rstrip(";"), None


def parse_received(text: str, defects: list[Defect] | None = None) -> Received:
    """Parse a Received field body (unfolded) leniently; never raises.

    Unknown words before the first clause, repeated clauses and unclosed comments are
    recorded as ``InvalidReceived`` defects; a missing date gives ``date=None``.
    """
    raw = " ".join(text.split())
    head, date = _split_date(raw, defects)
    toks, closed = _tokenize(head)
    if not closed and defects is not None:
        defects.append(Defect("InvalidReceived", "comment not closed in a Received field"))
    values: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    current: str | None = None
    stray: list[str] = []
    comments: list[str] = []
    for kind, tok in toks:
        if kind == "comment":
            comments.append(tok)
            if current is not None:
                notes.setdefault(current, []).append(tok)
            continue
        low = tok.lower()
        if low in _KEYWORDS and low not in values:
            current = low
            values[low] = []
        elif current is None:
            stray.append(tok)
        else:
            values[current].append(tok)
    if stray and defects is not None:
        defects.append(Defect("InvalidReceived", f"words before any clause: {' '.join(stray)[:60]!r}"))

    def first(key: str) -> str | None:
        words = values.get(key)
        return words[0] if words else None

    def value(key: str) -> str | None:
        words = values.get(key)
        return " ".join(words) if words else None

    from_words = values.get("from") or []
    from_notes = notes.get("from", [])
    for_ = value("for")
    if for_ is not None:
        for_ = for_.split()[0].strip("<>") or None
    with_ = value("with")
    tls_texts = comments + ([with_] if with_ else [])
    return Received(
        from_=from_words[0] if from_words else None,
        from_info="; ".join(from_notes) or None,
        from_ip=_first_ip(from_words + from_notes),
        by=first("by"),
        by_info="; ".join(notes.get("by", [])) or None,
        via=value("via"),
        with_=with_,
        id=first("id"),
        for_=for_,
        date=date,
        tls=_tls(tls_texts),
        comments=tuple(comments),
        raw=raw,
    )

