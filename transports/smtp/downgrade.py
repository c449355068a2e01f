"""Re-encode a message so a server can take it: 8-bit data for a server
without 8BITMIME (RFC 6152 §3), lines longer than 998 octets for any server
(RFC 5321 §4.5.3.1.6).

RFC 6152 §3: a client must not send 8-bit data to a server that does not
offer 8BITMIME; it either converts the message to 7 bits (RFC 2045 transfer
encodings) or refuses. Every leaf that needs it is re-encoded
(quoted-printable for text, base64 otherwise) with mimekit's own parser and
edit API, so untouched parts keep their exact bytes. Header bytes cannot be
re-encoded without changing what the headers say: 8-bit headers without
8BITMIME, or an over-long header line, are refused.
"""

from __future__ import annotations

from mimekit.transports.smtp.protocol import SMTPNotSupportedError
from mimekit.transports.smtp.wire import has_long_line

__all__ = ["to_7bit"]


def to_7bit(data: bytes, allow_8bit: bool = False) -> bytes:
    """``data`` (CRLF-normalized) with every leaf that has a line over 998
    octets, or 8-bit octets when not ``allow_8bit``, re-encoded to
    quoted-printable or base64. Raises :class:`SMTPNotSupportedError` when that
    is impossible (see the module docstring)."""
    try:
        from mimekit.codecs import b64_encode, qp_encode
        from mimekit.parser import parse
    except ImportError as exc:  # pragma: no cover - depends on the build state
        raise SMTPNotSupportedError(
            f"mimekit's parser is unavailable to re-encode the message ({exc})"
        ) from exc
    message = parse(data)
    changed = False
    for part in message.walk():
        head = part.headers.to_bytes()
        if not allow_8bit and not head.isascii():
            raise SMTPNotSupportedError(
                "the server lacks 8BITMIME (and SMTPUTF8) and the message has 8-bit headers"
            )
        if has_long_line(head):
            raise SMTPNotSupportedError("a header line is longer than 998 octets")
        if part.is_multipart or part.message is not None:
            continue
        body = part.body
        if (allow_8bit or body.isascii()) and not has_long_line(body) and b"\0" not in body:
            continue
        content = part.get_content()
        if part.content_type.maintype == "text":
            encoded, cte = qp_encode(content), "quoted-printable"
        else:
            encoded, cte = b64_encode(content), "base64"
        if part.headers.get_header("content-type") is None:
            # The implied text/plain; charset=us-ascii (RFC 2045 §5.2) would be wrong
            # for the 8-bit text: say what it is before encoding it.
            charset = "utf-8" if _is_utf8(content) else "unknown-8bit"
            part.headers.set("Content-Type", f"{part.content_type.mime_type}; charset={charset}")
        part.headers.set("Content-Transfer-Encoding", cte)
        part.set_body(encoded)
        changed = True
    if not changed:
        raise SMTPNotSupportedError("the message could not be re-encoded for this server")
    if message.headers.get_header("mime-version") is None:
        # RFC 2045 §4: a Content-Transfer-Encoding means nothing without MIME-Version.
        message.headers.set("MIME-Version", "1.0")
    return message.to_bytes()


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
