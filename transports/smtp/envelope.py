"""One mail transaction's envelope, checked against what the server offers.

Everything decided before MAIL is sent lives here: envelope addresses that could end
a command line, SMTPUTF8 (RFC 6531), 8BITMIME and the 7-bit downgrade (RFC 6152),
lines over 998 octets, SIZE (RFC 1870), DSN parameters (RFC 3461, RFC 6533). Pure
functions of the EHLO capabilities and the message: no I/O, no protocol state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from mimekit.transports.errors import InvalidEnvelope, MessageTooLarge
from mimekit.transports.smtp.wire import (
    _UNSAFE,
    DSNOptions,
    SMTPNotSupportedError,
    _needs_utf8,
    check_param,
    has_8bit_headers,
    has_long_line,
    normalize_line_endings,
    xtext,
)

__all__ = ["prepare_envelope", "size_limit"]

log = logging.getLogger("mimekit.smtp")


def size_limit(capabilities: Mapping[str, str]) -> int | None:
    """The SIZE the server declared (RFC 1870 §4), ``None`` if none or 0 (no limit)."""
    if "SIZE" not in capabilities:
        return None
    value = capabilities["SIZE"]
    try:
        n = int(value.split()[0]) if value.strip() else 0
    except ValueError:
        return None
    return n or None


def prepare_envelope(
    capabilities: Mapping[str, str],
    data: bytes,
    mail_from: str,
    rcpt_to: Sequence[str],
    dsn: DSNOptions | None,
    downgrade: Callable[[bytes, bool], bytes] | None,
) -> tuple[list[str], list[str], bytes]:
    """Check one transaction for the server whose EHLO gave ``capabilities`` and
    build its MAIL parameters, RCPT lines and the body to send (re-encoded by
    ``downgrade`` where the server needs that); raises before anything is sent."""
    has = capabilities.__contains__
    if not rcpt_to:
        raise InvalidEnvelope("no recipients")
    for addr in (mail_from, *rcpt_to):
        if _UNSAFE.search(addr) or "<" in addr or ">" in addr:
            # RFC 5321 §2.3.8/§4.1.2: would end the path or the command line
            raise InvalidEnvelope(f"envelope address {addr!r} contains CR, LF, NUL, '<' or '>'")
    params: list[str] = []
    body = data  # CRLF-normalized by transaction()
    can8 = has("8BITMIME")
    eight = not body.isascii()
    # RFC 6531 §3.4: SMTPUTF8 on MAIL FROM when an envelope address is not
    # ASCII or the headers hold raw UTF-8 (RFC 6532 §3.2); without the
    # extension such a message must not be sent (§3.2: no downgrade here).
    utf8_env = any(_needs_utf8(a) for a in (mail_from, *rcpt_to))
    utf8_headers = eight and has_8bit_headers(body)
    utf8 = utf8_env or utf8_headers
    if utf8 and not has("SMTPUTF8"):
        raise SMTPNotSupportedError(
            "an envelope address is not ASCII and the server does not offer SMTPUTF8 "
            "(RFC 6531 §3.4); nothing was sent"
            if utf8_env
            else "the message has raw UTF-8 (8-bit) header bytes (RFC 6532) and the "
            "server does not offer SMTPUTF8 (RFC 6531 §3.4); nothing was sent: encode "
            "the headers with RFC 2047 words or use a server that offers SMTPUTF8"
        )
    # RFC 2045 §2.7-2.8 / RFC 6152: neither 7bit nor 8bit data may hold NUL; without
    # BINARYMIME such parts are re-encoded like 8-bit data without 8BITMIME.
    too_long = has_long_line(body) or b"\0" in body
    if (eight and not can8) or too_long:
        # RFC 6152 §3: no 8-bit data without 8BITMIME; RFC 5321 §4.5.3.1.6: no line
        # over 998 octets. Re-encode the parts concerned, or refuse.
        if downgrade is None:
            raise SMTPNotSupportedError(
                "the message has a line longer than 998 octets (RFC 5321 §4.5.3.1.6)"
                if too_long
                else "the message has 8-bit data and the server does not offer 8BITMIME"
            )
        body = normalize_line_endings(downgrade(body, can8))
        eight = not body.isascii()
        if (eight and not can8) or has_long_line(body) or b"\0" in body:
            raise SMTPNotSupportedError(
                "the message could not be re-encoded for this server (8-bit data without "
                "8BITMIME, or lines longer than 998 octets)"
            )
    if eight:
        params.append("BODY=8BITMIME")  # RFC 6152 §3
    limit = size_limit(capabilities)
    if limit is not None and len(body) > limit:
        # RFC 1870 §6: do not send a message larger than the declared SIZE
        raise MessageTooLarge(
            f"the message is {len(body)} octets; the server accepts at most {limit}",
            size=len(body),
            limit=limit,
        )
    if has("SIZE"):
        params.append(f"SIZE={len(body)}")  # RFC 1870 §3
    if utf8:
        params.append("SMTPUTF8")  # RFC 6531 §3.4
    use_dsn = dsn is not None and (dsn.notify or dsn.ret or dsn.envid or dsn.orcpt)
    if use_dsn and not has("DSN"):
        log.info("the server does not offer DSN; DSN options dropped")
        use_dsn = False
    if use_dsn and dsn is not None:
        if dsn.ret:
            params.append(f"RET={dsn.ret}")  # RFC 3461 §4.3
        if dsn.envid:
            envid = check_param(xtext(dsn.envid), "ENVID")
            if len(envid) > 100:  # RFC 3461 §4.4: at most 100 characters, encoded
                raise InvalidEnvelope("the DSN ENVID is longer than 100 characters")
            params.append("ENVID=" + envid)
    rcpt_lines = []
    for addr in rcpt_to:
        line = f"RCPT TO:<{addr}>"
        if use_dsn and dsn is not None:
            if dsn.notify:
                line += " NOTIFY=" + ",".join(dsn.notify)  # RFC 3461 §4.1
            if dsn.orcpt:
                # RFC 3461 §4.2 (rfc822; xtext), RFC 6533 §3 (utf-8; for UTF-8
                # addresses); at most 500 characters
                orcpt = ("rfc822;" + xtext(addr) if addr.isascii()
                         else "utf-8;" + _utf8_addr_xtext(addr))
                if len(orcpt) <= 500:
                    line += " ORCPT=" + orcpt
        rcpt_lines.append(line)
    for p in params:
        check_param(p, "MAIL parameter")
    return params, rcpt_lines, body


def _utf8_addr_xtext(addr: str) -> str:
    """RFC 6533 §3 utf-8-addr-xtext: ASCII printables except "+", "=" and controls as
    they are, everything else as ``\\x{HEX}`` (the code point in upper-case hex)."""
    out = []
    for ch in addr:
        if "!" <= ch <= "~" and ch not in "+=\\":
            out.append(ch)
        else:
            out.append(f"\\x{{{ord(ch):X}}}")
    return "".join(out)
