"""Pre-send lint: what breaks in real mail clients, each with a hint how to fix it.

Unlike parser defects (what the input got wrong), lint findings are about how a
message will be *received*: Outlook showing ``ATT00001.dat`` for a file name it
cannot read, an inline image nobody references, a server rejecting a bare LF.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote

import attrs

if TYPE_CHECKING:
    from .model import Message, Part

__all__ = ["LintIssue", "lint"]

_CID_REF = re.compile(r"""cid:([^"'\s)>]+)""", re.IGNORECASE)


@attrs.frozen
class LintIssue:
    """One finding: ``code`` is a stable identifier, ``severity`` ``error``
    (servers or clients will reject or mangle it) or ``warning``."""

    code: str
    severity: str
    part: str
    detail: str
    hint: str

    def __str__(self) -> str:
        where = f"part {self.part}" if self.part else "message"
        return f"{self.severity}: {self.code} ({where}): {self.detail} Hint: {self.hint}"

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return attrs.asdict(self)


def _lines(data: bytes) -> list[bytes]:
    return data.replace(b"\r\n", b"\n").split(b"\n")


def lint(message: Message | bytes | bytearray | memoryview) -> list[LintIssue]:
    """Every finding for ``message``, in tree order.

    ``message`` is a :class:`~mimekit.model.Message` or the raw bytes of one (parsed
    first with the default policy); anything else raises :class:`TypeError`.
    """
    from .model import Message

    if isinstance(message, (bytes, bytearray, memoryview)):
        from .parser import parse

        message = parse(bytes(message))
    elif not isinstance(message, Message):
        raise TypeError(
            f"lint() takes a Message or the bytes of one, not {type(message).__name__}")
    issues: list[LintIssue] = []

    def add(code: str, severity: str, part: str, detail: str, hint: str) -> None:
        issues.append(LintIssue(code, severity, part, detail, hint))

    headers = message.headers
    for name, hint in (("From", "set an author with .from_()"),
                       ("Date", "let the builder generate it, or set .date()"),
                       ("Message-ID", "let the builder generate it, or set .message_id()")):
        if name not in headers:
            sev = "error" if name in ("From", "Date") else "warning"
            add(f"Missing{name.replace('-', '')}", sev, "", f"no {name} header.", hint)
    # RFC 5322 §3.6: these fields occur at most once; parsers disagree on which copy wins.
    for name in ("From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Subject", "Date",
                 "Message-ID", "In-Reply-To", "References", "MIME-Version", "Content-Type",
                 "Content-Transfer-Encoding", "Content-Disposition"):
        count = len(headers.get_headers(name))
        if count > 1:
            add("DuplicateHeader", "error", "", f"{count} {name} headers (at most one allowed).",
                f"keep one {name} (RFC 5322 §3.6); clients and filters read different copies")
    if "MIME-Version" not in headers and (message.is_multipart or
                                          message.transfer_encoding != "7bit"):
        add("MissingMimeVersion", "warning", "", "MIME content without MIME-Version: 1.0.",
            "add the header 'MIME-Version: 1.0' (RFC 2045 §4)")

    raw = message.to_bytes()
    bare_lf = raw.count(b"\n") - raw.count(b"\r\n")
    bare_cr = raw.count(b"\r") - raw.count(b"\r\n")
    if bare_lf or bare_cr:
        add("BareLineEnding", "error", "",
            f"{bare_lf} bare LF and {bare_cr} bare CR line endings.",
            "serialize with CRLF line endings (RFC 5322 §2.1); many servers reject bare LF")

    # Parts of an attached message (message/rfc822) are someone else's, kept byte for
    # byte (a DKIM signature over them still holds): a line over 78 octets there is
    # nothing the sender can act on, so only the hard 998-octet limit is checked.
    enclosed: set[int] = set()
    for part in message.walk():
        if part.message is not None:
            enclosed.update(id(inner) for inner in part.message.walk())
    referenced: set[str] = set()
    for part in message.walk():
        _lint_headers(part, add, long_lines=id(part) not in enclosed)
        if part.is_multipart or part.message is not None:
            continue
        if part.mime_type == "text/html":
            try:
                # RFC 2392 §2: a cid: URL is the Content-ID %-encoded ("%40" for "@").
                referenced.update(unquote(m).lower() for m in _CID_REF.findall(part.get_text()))
            except Exception:  # noqa: BLE001, S110 - lint must not fail on undecodable parts
                pass
        _lint_leaf(part, add)

    cids = {}
    for part in message.walk():
        cid = part.headers.get("Content-ID")
        if cid and not part.is_multipart:
            cids[cid.strip().strip("<>").lower()] = part
    for cid, part in cids.items():
        if part.disposition is not None and part.disposition.kind == "inline" and \
                cid not in referenced and part.mime_type.startswith("image/"):
            add("UnreferencedInlineImage", "warning", part.id,
                f"inline image <{cid}> is never referenced by the HTML.",
                "reference it as <img src=\"cid:...\"> or attach it as a normal attachment")
    for cid in sorted(referenced - set(cids)):
        add("MissingCidTarget", "error", "", f"the HTML references cid:{cid} but no part has it.",
            "add the image with .inline(path, cid=...)")

    if message.html is not None and message.text is None:
        add("HtmlWithoutText", "warning", "", "HTML body without a plain-text alternative.",
            "add .text(...) or .html(..., generate_text=True); spam filters penalise html-only mail")
    return issues


def _lint_headers(part: Part, add: object, *, long_lines: bool = True) -> None:
    from .headers import Header

    assert callable(add)
    for header in part.headers:
        assert isinstance(header, Header)
        for line in _lines(header.raw.rstrip(b"\r\n")):
            if len(line) > 998:
                add("HeaderLineTooLong", "error", part.id,
                    f"{header.name} has a line of {len(line)} octets (limit 998).",
                    "fold it (RFC 5322 §2.1.1); the builder does this for you")
                break
            if long_lines and len(line) > 78 and b" " in line.strip():
                add("HeaderLineLong", "warning", part.id,
                    f"{header.name} has a line of {len(line)} octets (should be <= 78).",
                    "fold at white space (RFC 5322 §2.2.3)")
                break
        if not header.raw.isascii():
            add("NonAsciiHeader", "warning", part.id,
                f"{header.name} holds raw 8-bit bytes.",
                "use RFC 2047 encoded words, or send only over SMTPUTF8 (RFC 6532)")
    # Older Outlook reads only a plain (or RFC 2047) file name: a non-ASCII name
    # written only in the RFC 2231 form shows as ATT00001.dat there.
    plain = False
    extended = False
    for name, param in (("Content-Type", "name"), ("Content-Disposition", "filename")):
        h = part.headers.get_header(name)
        if h is None:
            continue
        text = h.unfolded
        extended |= bool(re.search(rf"(?i)(?:^|;)\s*{param}\*(?:0\*?)?\s*=", text))
        plain |= bool(re.search(rf"(?i)(?:^|;)\s*{param}\s*=", text))
    if extended and not plain:
        add("NoLegacyFilename", "warning", part.id,
            "the file name is written only in the RFC 2231 form.",
            "also write name=\"=?utf-8?...?=\" in Content-Type (older Outlook shows "
            "ATT00001.dat); the builder does this by default")


def _lint_leaf(part: Part, add: object) -> None:
    assert callable(add)
    cte = part.transfer_encoding
    # Only identity-encoded bodies can carry long lines or stray 8-bit bytes; reading
    # a base64 body here would copy it out of the parsed input for nothing.
    body = part.body if cte in ("7bit", "8bit", "binary") else b""
    if body:
        longest = max(len(line) for line in _lines(body))
        if longest > 998:
            add("BodyLineTooLong", "error", part.id,
                f"a {cte} body line of {longest} octets (limit 998).",
                "use quoted-printable or base64 (RFC 5322 §2.1.1; a binary body needs "
                "BINARYMIME, RFC 3030, which few paths offer)")
        if cte == "7bit" and not body.isascii():
            add("EightBitIn7bit", "error", part.id, "8-bit bytes in a part labelled 7bit.",
                "label it 8bit (and send with 8BITMIME) or encode it")
    if part.is_attachment and part.filename is None:
        add("AttachmentWithoutName", "warning", part.id, "an attachment without a file name.",
            "pass filename= so clients can show and save it")
