"""Dates and message ids (RFC 5322 §3.3, §3.6.4, obsolete forms §4.3, §4.5.4).

``parse_date`` reads what real mail carries (obsolete zone names, military letters,
two-digit years, missing seconds, day names, trailing junk) and returns an aware
``datetime`` or ``None`` with a defect. ``format_date`` writes the RFC 5322 form with
English names whatever the locale. ``make_msgid`` never looks up the host name: the
default right-hand side is ``mimekit.invalid`` (RFC 2606 reserves ``.invalid``, so the
id is unique by its random left-hand side and leaks nothing about the sending host).
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timedelta, timezone

from mimekit.errors import Defect, HeaderInjectionError

__all__ = ["format_date", "make_msgid", "msgid_domain", "parse_date", "parse_msgid_list"]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUM = {m.lower(): i + 1 for i, m in enumerate(_MONTHS)}
_MONTH_NUM.update(
    {
        "january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7,
        "august": 8, "september": 9, "sept": 9, "october": 10, "november": 11, "december": 12,
    }
)  # fmt: skip

# RFC 5322 §4.3 obs-zone, plus a few names seen in real mail (not in any RFC).
_ZONES = {
    "ut": 0, "utc": 0, "gmt": 0, "z": 0,
    "edt": -4 * 60, "est": -5 * 60, "cdt": -5 * 60, "cst": -6 * 60,
    "mdt": -6 * 60, "mst": -7 * 60, "pdt": -7 * 60, "pst": -8 * 60,
}  # fmt: skip
_EXTRA_ZONES = {
    "bst": 60, "cet": 60, "met": 60, "mez": 60, "cest": 120, "mest": 120, "mesz": 120,
    "eet": 120, "eest": 180, "wet": 0, "west": 60, "msk": 180, "jst": 9 * 60, "kst": 9 * 60,
    "hkt": 8 * 60, "sgt": 8 * 60, "akst": -9 * 60, "akdt": -8 * 60, "hst": -10 * 60,
    "aest": 10 * 60, "aedt": 11 * 60, "nzst": 12 * 60, "nzdt": 13 * 60,
}  # fmt: skip

_COMMENT_RE = re.compile(r"\([^()]*\)")
_NO_OFFSET = timedelta(0)
_DATE_RE = re.compile(
    r"""
    ^\s*(?:(?P<dow>[A-Za-z]+)\s*,?\s*)?           # day of week (ignored)
    (?P<day>\d{1,2})[\s\-/]*
    (?P<mon>[A-Za-z]+)\.?[\s\-/,]*
    (?P<year>\d{2,4})\s*,?\s*
    (?:(?:at\s+)?(?P<h>\d{1,2})\s*[:.]\s*(?P<m>\d{1,2})(?:\s*[:.]\s*(?P<s>\d{1,2})(?:\.\d+)?)?)?
    \s*(?P<zone>(?:(?:GMT|UTC?)\s*)?[+-]\s*\d{1,4}(?::?\d\d)?|[A-Za-z]+)?
    (?P<rest>.*)$
    """,
    re.VERBOSE | re.DOTALL,
)
# asctime / ctime form: "Fri Nov 21 09:55:06 1997" (seen from broken software).
_ASCTIME_RE = re.compile(
    r"^\s*(?:[A-Za-z]+,?\s+)?(?P<mon>[A-Za-z]+)\s+(?P<day>\d{1,2})\s+"
    r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\s+"
    r"(?:(?P<zone>[+-]\d{4}|[A-Za-z]+)\s+)?(?P<year>\d{4})(?P<rest>.*)$",
    re.DOTALL,
)
# ISO 8601, also seen in the wild: "2024-03-01T01:47:09+00:00".
_ISO_RE = re.compile(
    r"^\s*(?P<year>\d{4})-(?P<mon>\d{2})-(?P<day>\d{2})[T ](?P<h>\d{2}):(?P<m>\d{2})"
    r"(?::(?P<s>\d{2})(?:\.\d+)?)?\s*(?P<zone>Z|[+-]\d{2}:?\d{2})?(?P<rest>.*)$",
    re.DOTALL,
)


def _defect(defects: list[Defect] | None, kind: str, detail: str) -> None:
    if defects is not None:
        defects.append(Defect(kind, detail))  # the caller fills in the header name


def _zone_minutes(zone: str | None, defects: list[Defect] | None) -> int:
    if not zone:
        _defect(defects, "InvalidDate", "date without a time zone; UTC assumed")
        return 0
    z = zone.replace(" ", "").replace(":", "")
    if z[:1].isalpha() and ("+" in z or "-" in z):
        # "GMT+0200": not RFC 5322, but the offset is what the sender meant.
        _defect(defects, "ObsoleteDate", f"time zone {zone!r} written with a name and an offset")
        z = z.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    if z[0] in "+-":
        digits = z[1:]
        if len(digits) <= 2:  # "+1" / "+01": hours only
            minutes = int(digits) * 60
            _defect(defects, "InvalidDate", f"time zone {zone!r} without minutes")
        else:
            digits = digits.rjust(4, "0")
            minutes = int(digits[:2]) * 60 + int(digits[2:])
        if minutes >= 24 * 60:
            # RFC 5322 §3.3 allows offsets up to ±9959; datetime cannot hold >= 24 h,
            # the caller converts the instant to UTC (same moment, zone lost).
            _defect(defects, "InvalidDate", f"time zone {zone!r} of a day or more; converted to UTC")
        return -minutes if z[0] == "-" else minutes
    low = z.lower()
    if low in _ZONES:
        return _ZONES[low]  # RFC 5322 §4.3 obs-zone
    if len(low) == 1 and low != "j":
        # RFC 5322 §4.3: military zones were defined with the wrong sign in RFC 822;
        # treat them as +0000 unless other information is available.
        _defect(defects, "ObsoleteDate", f"military time zone {zone!r} read as +0000")
        return 0
    if low in _EXTRA_ZONES:
        _defect(defects, "ObsoleteDate", f"non-standard time zone name {zone!r}")
        return _EXTRA_ZONES[low]
    _defect(defects, "InvalidDate", f"unknown time zone {zone!r}; UTC assumed")
    return 0


def _year(text: str, defects: list[Defect] | None) -> int:
    year = int(text)
    if len(text) == 2:
        # RFC 5322 §4.3: 00-49 are 2000-2049, 50-99 are 1950-1999.
        _defect(defects, "ObsoleteDate", "two-digit year")
        return year + (2000 if year < 50 else 1900)
    if len(text) == 3:
        _defect(defects, "ObsoleteDate", "three-digit year")
        return year + 1900  # RFC 5322 §4.3: add 1900
    return year


def parse_date(text: str, defects: list[Defect] | None = None) -> datetime | None:
    """Parse an RFC 5322 date-time leniently; ``None`` (and a defect) when unusable.

    Accepts the obsolete syntax of RFC 5322 §4.3 (zone names, military zones, two- and
    three-digit years, comments, missing seconds) and the asctime and ISO 8601 forms
    seen in real mail. The result is always timezone-aware; ``-0000`` ("no zone
    information", §3.3) and a missing zone are read as UTC.
    """
    if "(" in text:
        text = _COMMENT_RE.sub(" ", text)
    m = _DATE_RE.match(text) or _ASCTIME_RE.match(text)
    iso = False
    if m is None:
        m = _ISO_RE.match(text)
        iso = m is not None
    if m is None:
        _defect(defects, "InvalidDate", f"unparseable date {text.strip()[:60]!r}")
        return None
    g = m.groupdict()
    if iso:
        month: int | None = int(g["mon"])
    else:
        month = _MONTH_NUM.get(g["mon"].lower()) or _MONTH_NUM.get(g["mon"][:3].lower())
    if month is None:
        _defect(defects, "InvalidDate", f"unknown month {g['mon']!r}")
        return None
    year = _year(g["year"], defects)
    if g["h"] is None:
        _defect(defects, "InvalidDate", "date without a time; midnight assumed")
        hour = minute = second = 0
    else:
        hour, minute = int(g["h"]), int(g["m"])
        if g["s"] is None:
            second = 0  # RFC 5322 §3.3: seconds are optional
        else:
            second = int(g["s"])
    if second == 60:
        second = 59  # RFC 5322 §3.3 allows a leap second; datetime does not
    zone = g.get("zone")
    if zone == "Z":
        offset = 0
    else:
        offset = _zone_minutes(zone, defects)
    rest = (g.get("rest") or "").strip()
    if rest:
        _defect(defects, "InvalidDate", f"junk after date: {rest[:40]!r}")
    try:
        if abs(offset) >= 24 * 60:
            local = datetime(year, month, int(g["day"]), hour, minute, second, tzinfo=timezone.utc)
            return local - timedelta(minutes=offset)
        return datetime(
            year, month, int(g["day"]), hour, minute, second,
            tzinfo=timezone(timedelta(minutes=offset)),
        )  # fmt: skip
    except (ValueError, OverflowError) as exc:
        _defect(defects, "InvalidDate", f"date out of range: {exc}")
        return None


# "+hhmm" text of each UTC offset seen (a handful in practice; bounded all the same).
_ZONE_TEXT: dict[timedelta, str] = {}


def _zone_text(off: timedelta) -> str:
    minutes = round(off.total_seconds() / 60)  # whole minutes (RFC 5322 §3.3 zone)
    sign = "-" if minutes < 0 else "+"
    hh, mm = divmod(abs(minutes), 60)
    text = f"{sign}{hh:02d}{mm:02d}"
    if len(_ZONE_TEXT) < 512:
        _ZONE_TEXT[off] = text
    return text


def format_date(dt: datetime | None = None) -> str:
    """The RFC 5322 §3.3 form, e.g. ``Fri, 21 Nov 1997 09:55:06 -0600``.

    ``None`` means now, in local time. An aware datetime is written with its own offset.
    A naive datetime is taken as local time (as :meth:`datetime.astimezone` and
    :meth:`datetime.timestamp` take it) and written with the local offset in force at
    that date, DST included. Names are English whatever the locale; the offset is
    rounded to whole minutes.
    """
    # Naive means local, not "-0000". RFC 5322 §3.3: "The date and time-of-day SHOULD
    # express local time" and the zone is its offset from UTC; "-0000" means the value
    # IS in UTC and the sender's local zone is unknown. A naive value is not known to
    # be UTC at all: in Python it is wall-clock time (datetime.now() is naive local
    # time, the common case), so writing its digits as UTC, with either sign, would put
    # the message hours off on any machine not set to UTC. Its zone is known (the
    # machine's), so the honest offset is the local one ("+0000" only where local time
    # is UTC, which §3.3 says is how UTC SHOULD be written). email.utils.localtime()
    # reads a naive datetime the same way (email.utils.format_datetime instead assumes
    # UTC and writes -0000: wrong for datetime.now()). Callers with UTC wall-clock
    # values must say so: datetime(..., tzinfo=timezone.utc).
    if dt is None:
        dt = datetime.now(timezone.utc).astimezone()
    elif dt.utcoffset() is None:  # naive (or a tzinfo that knows no offset)
        dt = dt.astimezone()
    off = dt.utcoffset() or _NO_OFFSET
    # %-formatting (faster than the f-string here) and the offset table: this is on the
    # compose hot path.
    return "%s, %02d %s %04d %02d:%02d:%02d %s" % (  # noqa: UP031
        _DAYS[dt.weekday()], dt.day, _MONTHS[dt.month - 1], dt.year,
        dt.hour, dt.minute, dt.second, _ZONE_TEXT.get(off) or _zone_text(off),
    )


_DOT_ATOM_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$"
)


def make_msgid(domain: str | None = None) -> str:
    """A new globally unique ``<token@domain>`` (RFC 5322 §3.6.4).

    The token is the time in milliseconds (hex) plus 96 random bits. Without a domain
    the right-hand side is ``mimekit.invalid``: no host-name lookup (slow, and it leaks
    the machine name). A non-ASCII domain is written with IDNA A-labels.
    """
    token = f"{time.time_ns() // 1_000_000:x}.{secrets.token_hex(12)}"
    return f"<{token}@{msgid_domain(domain)}>"


def msgid_domain(domain: str | None) -> str:
    """The right-hand side of a generated Message-ID: ``domain`` checked (a dot-atom or
    a domain literal, RFC 5322 §3.6.4) and written with IDNA A-labels when it is not
    ASCII; ``mimekit.invalid`` for None."""
    if domain is None:
        domain = "mimekit.invalid"
    if "\r" in domain or "\n" in domain or "\0" in domain:
        raise HeaderInjectionError("CR, LF or NUL in a Message-ID domain")
    domain = domain.strip().strip("<>").lstrip("@")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"Message-ID domain {domain!r} is not a valid IDN: {exc}") from None
    if not (_DOT_ATOM_RE.match(domain) or (domain.startswith("[") and domain.endswith("]"))):
        raise ValueError(f"Message-ID domain {domain!r} is not a dot-atom (RFC 5322 §3.6.4)")
    return domain


_QUOTED_RE = re.compile(r'("(?:[^"\\]|\\.)*")')


def _drop_fws(ident: str) -> str:
    """White space left in an id by folding is removed, except inside a quoted string
    (RFC 5322 §4.5.4 obs-id-left may be a quoted local part: ``<"a b"@host>``)."""
    if '"' not in ident:
        return "".join(ident.split())
    pieces = _QUOTED_RE.split(ident)
    return "".join(p if i % 2 else "".join(p.split()) for i, p in enumerate(pieces))


_MSGID_TOKEN_RE = re.compile(r"<([^<>]*)(>?)|([^\s<>,]+)")


def parse_msgid_list(text: str, defects: list[Defect] | None = None) -> list[str]:
    """Message ids in a Message-ID / In-Reply-To / References value, without brackets.

    Lenient (RFC 5322 §3.6.4 plus what real mail does): comments are dropped, ids
    without angle brackets are accepted when they contain "@" (a defect is recorded),
    white space inside an id (from folding) is removed, a missing ``>`` is tolerated.
    Words without "@" outside brackets (the obsolete phrases of §4.5.4) are skipped.
    """
    if "(" in text:
        text = _COMMENT_RE.sub(" ", text)
    out: list[str] = []
    seen: set[str] = set()  # one defect per problem kind: bounded on hostile input

    def defect(detail: str) -> None:
        if defects is not None and detail not in seen:
            seen.add(detail)
            defects.append(Defect("InvalidMessageId", detail))

    for m in _MSGID_TOKEN_RE.finditer(text):
        if m.group(3) is not None:
            word = m.group(3)
            if "@" in word:
                defect("message id without angle brackets")
                out.append(word)
            continue
        ident = _drop_fws(m.group(1))
        if not m.group(2):
            defect("message id without closing '>'")
        if ident:
            out.append(ident)
        else:
            defect("empty message id '<>'")
    return out
