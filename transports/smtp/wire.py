"""SMTP wire formats, without I/O: replies (RFC 5321 §4.2, RFC 3463 enhanced
codes), the DATA encoding (line endings, dot-stuffing), xtext (RFC 3461), DSN
options, transaction results and the SMTP-specific errors.

Split from :mod:`~mimekit.transports.smtp.protocol`, which re-exports every
public name here; like it, this module imports no ``socket``, ``ssl`` or
``asyncio``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs
from mimekit.transports.errors import (
    ConnectionLost,
    InvalidEnvelope,
    SMTPResponseError,
    TransportError,
)

__all__ = [
    "ConnectionRefused",
    "DSNOptions",
    "DeliveryStatusUnknown",
    "GreetingTimeout",
    "NotSMTPServer",
    "RcptReply",
    "Reply",
    "ReplyParser",
    "SMTPNotSupportedError",
    "SMTPProtocolError",
    "Transaction",
    "check_param",
    "dot_stuff",
    "has_8bit_headers",
    "header_section",
    "normalize_line_endings",
    "parse_queue_id",
    "xtext",
]


# ---------------------------------------------------------------- errors


class SMTPProtocolError(ConnectionLost):
    """The server sent something that is not an SMTP reply; the connection is unusable."""


class SMTPNotSupportedError(TransportError):
    """The message needs a service extension the server does not offer
    (SMTPUTF8 for a non-ASCII address, 8BITMIME when 8-bit data cannot be
    re-encoded). Nothing was sent for this message."""


class ConnectionRefused(ConnectionLost):
    """The server's host refused the TCP connection (ECONNREFUSED: nothing
    listens on that port). Not retried: a wrong host or port does not fix
    itself within the retry back-off, and the caller should know at once."""


class GreetingTimeout(ConnectionLost):
    """No 220 greeting arrived within ``timeout`` after the TCP connection was
    made: typically a plain connection to an implicit-TLS port (the server
    waits for a TLS ClientHello and never speaks). Retried at most once (RFC
    5321 §4.2.1: only a 4xx reply says "try again"; silence is not one)."""


class NotSMTPServer(SMTPProtocolError):
    """What came back instead of the 220 greeting is not SMTP at all (a TLS
    record on a plain connection, an HTTP reply): a wrong port or security
    mode. Not retried: it does not fix itself."""


class DeliveryStatusUnknown(ConnectionLost):
    """The connection failed after the end of the message data was sent: the
    server may or may not have accepted the message. It is never resent
    automatically (that could deliver it twice)."""


# ---------------------------------------------------------------- replies

# RFC 3463 §2: class.subject.detail; the class must agree with the reply code.
_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?:[ \t]+|$)")
# RFC 5321 §4.5.3.1.5 says 512 octets per reply line; be lenient but bounded:
# a hostile server must not make the client hold (or join, or copy) more than
# MAX_REPLY_BYTES for one reply, however it splits the lines.
MAX_REPLY_LINE = 16384
MAX_REPLY_LINES = 1000
MAX_REPLY_BYTES = 256 * 1024


@attrs.frozen
class Reply:
    """One complete server reply (RFC 5321 §4.2): the code of its last line,
    the text of each line (enhanced status code removed) and the RFC 3463
    enhanced status code when the server sent one."""

    code: int
    lines: tuple[str, ...]
    enhanced: str | None = None

    @property
    def text(self) -> str:
        """All lines joined with a space."""
        return " ".join(line for line in self.lines if line)

    @property
    def ok(self) -> bool:
        """2xx: positive completion."""
        return 200 <= self.code < 300

    def error(self) -> SMTPResponseError:
        """This reply as an exception."""
        return SMTPResponseError(self.code, self.enhanced, self.text)

    def __str__(self) -> str:
        return " ".join(p for p in (str(self.code), self.enhanced or "", self.text) if p)


class ReplyParser:
    """Incremental reply parser: feed bytes, take complete replies.

    Lenient (RFC 5321 §4.2, §4.5.3.1.5): bare LF line ends, a code without
    text, a missing separator, and continuation lines with different codes
    (the last line's code wins) are accepted. A line that does not start with
    three digits raises :class:`SMTPProtocolError`.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._lines: list[tuple[int, bytes]] = []
        self._size = 0  # octets in self._lines: the reply being read

    def feed(self, data: bytes) -> None:
        """Append bytes read from the server."""
        self._buf += data

    def clear(self) -> None:
        """Forget everything buffered (RFC 3207 §4.2: nothing the server sent
        before the TLS handshake may be used after it; case c22)."""
        self._buf.clear()
        self._lines.clear()
        self._size = 0

    @property
    def buffered(self) -> int:
        """Number of unparsed bytes held."""
        return len(self._buf)

    def head(self, n: int) -> bytes:
        """The first ``n`` unparsed bytes (fewer if fewer are buffered)."""
        return bytes(self._buf[:n])

    def next_reply(self) -> Reply | None:
        """The next complete reply, or ``None`` when more bytes are needed."""
        buf = self._buf
        lines = self._lines
        start = 0
        try:
            while True:
                nl = buf.find(b"\n", start)
                # a complete line is checked too: one read can hold a whole long line
                if (len(buf) if nl < 0 else nl) - start > MAX_REPLY_LINE:
                    raise SMTPProtocolError("reply line from the server is too long")
                if nl < 0:
                    return None
                end = nl - 1 if nl > start and buf[nl - 1] == 13 else nl
                line = bytes(buf[start:end])
                self._size += nl + 1 - start
                start = nl + 1
                code = line[:3]
                # RFC 5321 §4.2: three digits, the first 2 to 5 (1yz is not used by SMTP)
                if len(code) != 3 or not code.isdigit() or code[:1] not in b"2345":
                    raise SMTPProtocolError(f"malformed reply line from the server: {line[:80]!r}")
                sep = line[3:4]
                # RFC 5321 §4.2: "ddd-text" continues, "ddd text" or "ddd" ends
                lines.append((int(code), line[4:] if sep in (b" ", b"-") else line[3:]))
                if len(lines) > MAX_REPLY_LINES:
                    raise SMTPProtocolError("reply from the server has too many lines")
                if self._size > MAX_REPLY_BYTES:
                    raise SMTPProtocolError(
                        f"reply from the server is larger than {MAX_REPLY_BYTES} octets"
                    )
                if sep != b"-":
                    return self._finish()
        finally:
            if start:
                del buf[:start]

    def _finish(self) -> Reply:
        lines = self._lines
        code = lines[-1][0]
        texts = [raw.decode("utf-8", "replace") for _, raw in lines]
        lines.clear()
        self._size = 0
        enhanced = None
        first = texts[0]
        if len(first) >= 5 and first[1] == "." and first[0] == str(code)[0]:
            m = _ENHANCED.match(first)
            if m:
                enhanced = f"{m.group(1)}.{m.group(2)}.{m.group(3)}"
                texts = [_strip_enhanced(t, enhanced) for t in texts]
        return Reply(code, tuple(texts), enhanced)


def _strip_enhanced(text: str, enhanced: str) -> str:
    """``text`` without a leading ``enhanced`` code (followed by space or end)."""
    if text.startswith(enhanced):
        rest = text[len(enhanced) :]
        if not rest or rest[0] in " \t":
            return rest.lstrip(" \t")
    return text


# ---------------------------------------------------------------- data helpers


_LINE_END = re.compile(rb"\r\n?|\n")


def normalize_line_endings(data: bytes) -> bytes:
    """Every CR, LF or CRLF becomes CRLF, and the data ends with CRLF
    (RFC 5321 §2.3.8: lines end with CRLF only; a bare CR or LF in the stream
    is how SMTP smuggling works). Data that already has only CRLF line ends
    is returned as is (the same object: no copy); otherwise one pass. A bytearray
    or memoryview is copied first: the caller's buffer is never changed."""
    if not isinstance(data, bytes):
        data = bytes(data)
    crlf = data.count(b"\r\n")
    if crlf == data.count(b"\n") and crlf == data.count(b"\r"):
        pass  # CRLF only: nothing to change
    elif not crlf and b"\r" not in data:
        data = data.replace(b"\n", b"\r\n")  # LF only (Unix text)
    else:
        data = _LINE_END.sub(b"\r\n", data)  # mixed
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def dot_stuff(normalized: bytes) -> bytes:
    """DATA payload for CRLF-normalized data: a leading ``.`` doubled on every
    line (RFC 5321 §4.5.2) and the terminator CRLF.CRLF appended once (one
    copy of the data, two when a line starts with a dot)."""
    lead = b"." if normalized.startswith(b".") else b""
    return b"".join((lead, normalized.replace(b"\r\n.", b"\r\n.."), b".\r\n"))


def xtext(value: str) -> str:
    """RFC 3461 §4 xtext: ``+`` ``=``, controls, space and 8-bit octets as ``+HH``."""
    out = []
    for b in value.encode("utf-8"):
        if 33 <= b <= 126 and b not in (43, 61):
            out.append(chr(b))
        else:
            out.append(f"+{b:02X}")
    return "".join(out)


_UNSAFE = re.compile(r"[\r\n\x00]")


def check_param(value: str, what: str) -> str:
    """Refuse CR, LF and NUL in anything that goes into a command line (they
    would end the command and start another: SMTP command injection,
    RFC 5321 §2.3.8); also white space, which would split a parameter."""
    if _UNSAFE.search(value) or " " in value or "\t" in value:
        raise InvalidEnvelope(f"{what} {value!r} contains CR, LF, NUL or white space")
    return value


_QUEUE_ID = (
    re.compile(r"queued as\s+<?([^\s>]+)", re.IGNORECASE),  # Postfix, many others
    re.compile(r"\bid=([^\s,;]+)", re.IGNORECASE),  # Exim
    re.compile(r"InternalId=([^\s,;\]]+)", re.IGNORECASE),  # Exchange
)


def parse_queue_id(text: str) -> str | None:
    """The queue id from the final 250 reply to DATA, when a known form is present."""
    for pattern in _QUEUE_ID:
        m = pattern.search(text)
        if m:
            return m.group(1)
    return None


def has_long_line(body: bytes) -> bool:
    """True if a line of CRLF-normalized ``body`` has more than 998 octets
    before its CRLF (RFC 5321 §4.5.3.1.6). Linear: a regex such as
    ``[^\r\n]{999}`` retries at every offset of every line (quadratic in the
    line length; 250 ms for 2 MB of base64), a split is a few ms."""
    return len(body) > 998 and max(map(len, body.split(b"\r\n"))) > 998


def _needs_utf8(address: str) -> bool:
    return not address.isascii()


# RFC 5322 §3.6.8: a field name is printable ASCII except ":"; then the colon
_FIELD_START = re.compile(rb"[!-9;-~]+[ \t]*:")


def header_section(data: bytes) -> bytes:
    """The header section of CRLF-normalized message ``data`` (RFC 5322 §2.1):
    the lines up to the first empty line, or up to the first line that is
    neither a field nor a folded continuation (as mimekit's parser reads a
    message without a blank line: that line starts the body)."""
    pos, n = 0, len(data)
    while pos < n:
        end = data.find(b"\r\n", pos)
        if end < 0:
            end = n
        if end == pos:
            break  # the empty line
        first = data[pos]
        if not ((first == 32 or first == 9) and pos > 0) and not _FIELD_START.match(data, pos):
            break
        pos = end + 2
    return data[: min(pos, n)]


def has_8bit_headers(data: bytes) -> bool:
    """True if the header section of CRLF-normalized ``data`` holds raw
    8-bit octets (RFC 6532 UTF-8 headers), which need SMTPUTF8 (RFC 6531 §3.4)."""
    return not data.isascii() and not header_section(data).isascii()


# ---------------------------------------------------------------- options, results


_NOTIFY = frozenset({"NEVER", "SUCCESS", "FAILURE", "DELAY"})


def _notify(value: Sequence[str]) -> tuple[str, ...]:
    items = tuple(v.upper() for v in value)
    if not set(items) <= _NOTIFY or ("NEVER" in items and len(items) > 1):
        raise ValueError(f"invalid DSN NOTIFY value {value!r} (RFC 3461 §4.1)")
    return items


def _ret(value: str | None) -> str | None:
    if value is None:
        return None
    if value.upper() not in ("FULL", "HDRS"):
        raise ValueError(f"invalid DSN RET value {value!r} (RFC 3461 §4.3)")
    return value.upper()


@attrs.frozen
class DSNOptions:
    """Delivery status notification requests (RFC 3461). Sent only when the
    server advertises ``DSN``; otherwise they are dropped (and logged)."""

    notify: tuple[str, ...] = attrs.field(default=(), converter=_notify)
    ret: str | None = attrs.field(default=None, converter=_ret)
    envid: str | None = None
    orcpt: bool = False


@attrs.frozen
class RcptReply:
    """The reply to one ``RCPT TO``."""

    address: str
    reply: Reply


@attrs.frozen
class Transaction:
    """The outcome of one mail transaction: each recipient's reply, and the
    final reply to the data (``None`` when every recipient was refused and
    no data was sent)."""

    recipients: tuple[RcptReply, ...]
    final: Reply | None
