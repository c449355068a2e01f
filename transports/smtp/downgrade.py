"""Make an 8-bit message 7-bit for a server without 8BITMIME (RFC 6152 §3).

RFC 6152 §3: a client must not send 8-bit data to a server that does not
offer 8BITMIME; it either converts the message to 7 bits (RFC 2045 transfer
encodings) or refuses. Here every leaf whose encoded body has 8-bit octets is
re-encoded (quoted-printable for text, base64 otherwise) with mimekit's own
parser and edit API, so untouched parts keep their exact bytes. 8-bit header
bytes cannot be fixed without changing what the headers say: refused.
"""

from __future__ import annotations

from mimekit.transports.smtp.protocol import SMTPNotSupportedError

__all__ = ["to_7bit"]


def to_7bit(data: bytes) -> bytes:
    """``data`` (CRLF-normalized) with every 8-bit leaf re-encoded to
    quoted-printable or base64. Raises :class:`SMTPNotSupportedError` when that
    is impossible (8-bit headers) or mimekit's model cannot do it."""
    try:
        from mimekit.codecs import b64_encode, qp_encode
        from mimekit.parser import parse
    except ImportError as exc:  # pragma: no cover - depends on the build state
        raise SMTPNotSupportedError(
            "the server lacks 8BITMIME and mimekit's parser is unavailable to re-encode the "
            f"8-bit message ({exc})"
        ) from exc
    message = parse(data)
    changed = False
    for part in message.walk():
        if not part.headers.to_bytes().isascii():
            raise SMTPNotSupportedError(
                "the server lacks 8BITMIME (and SMTPUTF8) and the message has 8-bit headers"
            )
        if part.is_multipart or part.message is not None:
            continue
        if part.body.isascii():
            continue
        content = part.get_content()
        if part.content_type.maintype == "text":
            encoded, cte = qp_encode(content), "quoted-printable"
        else:
            encoded, cte = b64_encode(content), "base64"
        part.headers.set("Content-Transfer-Encoding", cte)
        part.set_body(encoded)
        changed = True
    out = message.to_bytes()
    if not changed or not out.isascii():
        raise SMTPNotSupportedError(
            "the server lacks 8BITMIME and the message could not be converted to 7-bit"
        )
    return out
