"""The fluent builder: plain data in, a correct MIME tree out.

``compose().from_(...).to(...).subject(...).text(...).attach(...).build()``
gives a :class:`~mimekit.model.Message` whose shape is the minimal one real
clients expect (RFC 2046 §5.1):

* one body alone: a single leaf;
* text and html: ``multipart/alternative`` (text first, the preferred last,
  RFC 2046 §5.1.4);
* html with inline images: ``multipart/related`` (RFC 2387) holding the html
  and the images, inside the alternative so text-only readers never see them;
* attachments: ``multipart/mixed`` with the body first.

Every caller-given value is checked when it is set: CR, LF or NUL headed for
a header raises :class:`~mimekit.errors.HeaderInjectionError` at once, so a
half-built message can never carry an injected header line.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Union

import attrs

from .errors import BuildError, HeaderInjectionError
from .policy import DEFAULT, Policy

if TYPE_CHECKING:
    from .model import Message, Part

__all__ = ["Attachment", "Builder", "compose"]

#: What ``attach``/``inline`` accept: a path, raw bytes, or a binary file object.
Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]
AddressInput = object  # str, Address, Group, (name, addr) pair, or a sequence of those

_FORBIDDEN = ("\r", "\n", "\0")


def _check_text(what: str, value: str) -> str:
    """Refuse CR, LF and NUL in caller data bound for a header (RFC 5322 §2.2)."""
    if not isinstance(value, str):
        raise BuildError(f"{what} must be a string, not {type(value).__name__}")
    for ch in _FORBIDDEN:
        if ch in value:
            raise HeaderInjectionError(
                f"{what} contains {ch!r}: a header value cannot hold a line break or NUL"
            )
    return value


@attrs.frozen
class Attachment:
    """A file to attach, already read: bytes, name, type and how it is shown."""

    data: bytes
    filename: str | None
    content_type: str
    disposition: str = "attachment"
    content_id: str | None = None


def _read_source(source: Source) -> tuple[bytes, str | None]:
    """Bytes and a default file name from a path, bytes, or a binary file object."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        with open(path, "rb") as fh:
            return fh.read(), os.path.basename(path)
    read = getattr(source, "read", None)
    if read is None:
        raise BuildError(f"cannot attach a {type(source).__name__}: give a path, bytes or a file")
    data = read()
    if isinstance(data, str):
        raise BuildError("attach a binary file object (open it with 'rb'), not a text one")
    name = getattr(source, "name", None)
    return bytes(data), os.path.basename(name) if isinstance(name, str) else None


def _normalize_newlines(text: str) -> str:
    """Text bodies go out with CRLF line ends (RFC 2046 §4.1.1 canonical form)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\n", "\r\n")


class Builder:
    """Collects what a message should say; :meth:`build` makes the tree.

    Methods return the builder so calls chain. Address arguments take a string
    (``"Ana <ana@example.org>"`` or a comma-separated list), an
    :class:`~mimekit.address.Address`/``Group``, a ``(name, address)`` pair, or
    a sequence of those.
    """

    def __init__(self, policy: Policy = DEFAULT) -> None:
        self._policy = policy
        self._addrs: dict[str, list[object]] = {}
        self._subject: str | None = None
        self._text: str | None = None
        self._html: str | None = None
        self._files: list[Attachment] = []
        self._extra: list[tuple[str, str]] = []
        self._date: _dt.datetime | str | None = None
        self._message_id: str | None = None
        self._boundaries: Iterable[str] | None = None

    # -- addresses -------------------------------------------------------
    def _add_addresses(self, field: str, values: tuple[object, ...]) -> Builder:
        from .address import coerce_addresses

        items = self._addrs.setdefault(field, [])
        for value in values:
            items.extend(coerce_addresses(value))  # raises HeaderInjectionError / AddressError
        return self

    def from_(self, *addrs: AddressInput) -> Builder:
        """Author(s) (RFC 5322 §3.6.2). More than one needs :meth:`sender`."""
        return self._add_addresses("From", addrs)

    def sender(self, addr: AddressInput) -> Builder:
        """The mailbox that actually sent it, when it differs from From."""
        self._addrs.pop("Sender", None)
        return self._add_addresses("Sender", (addr,))

    def to(self, *addrs: AddressInput) -> Builder:
        """Primary recipients."""
        return self._add_addresses("To", addrs)

    def cc(self, *addrs: AddressInput) -> Builder:
        """Carbon-copy recipients."""
        return self._add_addresses("Cc", addrs)

    def bcc(self, *addrs: AddressInput) -> Builder:
        """Blind recipients: kept in the message for the envelope, never transmitted."""
        return self._add_addresses("Bcc", addrs)

    def reply_to(self, *addrs: AddressInput) -> Builder:
        """Where replies should go."""
        return self._add_addresses("Reply-To", addrs)

    # -- content -----------------------------------------------------------
    def subject(self, text: str) -> Builder:
        """Any Unicode; encoded as RFC 2047 words where needed."""
        self._subject = _check_text("subject", text)
        return self

    def text(self, body: str) -> Builder:
        """The plain-text body."""
        if not isinstance(body, str):
            raise BuildError("text() takes a str")
        self._text = body
        return self

    def html(self, body: str) -> Builder:
        """The HTML body."""
        if not isinstance(body, str):
            raise BuildError("html() takes a str")
        self._html = body
        return self

    def attach(
        self,
        source: Source,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        disposition: str = "attachment",
        content_id: str | None = None,
    ) -> Builder:
        """Attach a file. The type comes from the content (python-magic), then
        the file name, then ``application/octet-stream``."""
        self._files.append(self._attachment(source, filename, content_type, disposition,
                                            content_id))
        return self

    def inline(
        self,
        source: Source,
        *,
        cid: str,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> Builder:
        """An image the HTML shows with ``<img src="cid:CID">`` (RFC 2392)."""
        cid = _check_text("cid", cid).strip().strip("<>")
        if not cid:
            raise BuildError("inline() needs a non-empty cid")
        self._files.append(self._attachment(source, filename, content_type, "inline", cid))
        return self

    def _attachment(
        self,
        source: Source,
        filename: str | None,
        content_type: str | None,
        disposition: str,
        content_id: str | None,
    ) -> Attachment:
        from .sniff import guess_type

        data, default_name = _read_source(source)
        name = filename if filename is not None else default_name
        if name is not None:
            _check_text("attachment filename", name)
        if content_type is not None:
            _check_text("content type", content_type)
        if content_id is not None:
            content_id = _check_text("content id", content_id).strip().strip("<>")
        disposition = _check_text("disposition", disposition).strip().lower()
        if disposition not in ("attachment", "inline"):
            raise BuildError(f"disposition must be 'attachment' or 'inline', not {disposition!r}")
        ctype = content_type or guess_type(data, name)
        return Attachment(data, name, ctype.lower(), disposition, content_id)

    def header(self, name: str, value: str) -> Builder:
        """Any extra header, added as given (encoded and folded on output)."""
        from .folding import format_header

        _check_text("header name", name)
        _check_text(f"header {name}", value)
        format_header(name, value, self._policy)  # validates the name and value now
        self._extra.append((name, value))
        return self

    def date(self, when: _dt.datetime | str) -> Builder:
        """Override the generated Date."""
        if isinstance(when, str):
            _check_text("date", when)
        self._date = when
        return self

    def message_id(self, msgid: str) -> Builder:
        """Override the generated Message-ID."""
        self._message_id = _check_text("message id", msgid)
        return self

    # -- output ----------------------------------------------------------------
    def build(self) -> Message:
        """The message tree. Raises :class:`BuildError` when nothing names an author."""
        from .dates import format_date, make_msgid
        from .headers import Headers
        from .model import Message

        policy = self._policy
        root_headers = Headers()
        date = self._date if self._date is not None else _dt.datetime.now(_dt.timezone.utc)
        root_headers.add("Date", format_date(date) if isinstance(date, _dt.datetime) else date,
                         policy)
        for field in ("From", "Sender", "Reply-To", "To", "Cc", "Bcc"):
            if self._addrs.get(field):
                root_headers.add(field, self._addrs[field], policy)
        if self._subject is not None:
            root_headers.add("Subject", self._subject, policy)
        msgid = self._message_id or make_msgid(policy.message_id_domain)
        root_headers.add("Message-ID", msgid, policy)
        for name, value in self._extra:
            root_headers.add(name, value, policy)
        root_headers.add("MIME-Version", "1.0", policy)

        body = self._body_part()
        # The root is the body's top part with the message headers in front.
        for header in body.headers:
            root_headers.append_header(header)
        if body.is_multipart:
            return Message.multipart(root_headers, list(body.children))
        return Message.leaf(root_headers, body.body)

    # -- tree ------------------------------------------------------------------
    def _body_part(self) -> Part:
        inline = [f for f in self._files if f.disposition == "inline" and f.content_id]
        attached = [f for f in self._files if f not in inline]
        if self._html is None:
            # Nothing references inline images without html: show them as attachments.
            attached = list(self._files)
            inline = []

        text = self._text_leaf(self._text, "plain") if self._text is not None else None
        html = self._text_leaf(self._html, "html") if self._html is not None else None
        if html is not None and inline:
            html = self._multipart("related", [html, *(self._file_leaf(f) for f in inline)])
        if text is not None and html is not None:
            body: Part | None = self._multipart("alternative", [text, html])
        else:
            body = text or html
        if attached:
            parts = [body] if body is not None else []
            parts.extend(self._file_leaf(f) for f in attached)
            return self._multipart("mixed", parts)
        if body is None:
            body = self._text_leaf("", "plain")
        return body

    def _multipart(self, subtype: str, children: list[Part]) -> Part:
        from .headers import Headers
        from .model import Part
        from .params import ContentType, make_boundary

        headers = Headers()
        headers.add("Content-Type",
                    ContentType.of(f"multipart/{subtype}", boundary=make_boundary()), self._policy)
        return Part.multipart(headers, children)

    def _text_leaf(self, text: str, subtype: str) -> Part:
        from .codecs import choose_cte, encode_body
        from .headers import Headers
        from .model import Part
        from .params import ContentType

        data = _normalize_newlines(text).encode("utf-8")
        cte = choose_cte(data, text=True, allow_8bit=self._policy.allow_8bit)
        headers = Headers()
        headers.add("Content-Type", ContentType.of(f"text/{subtype}", charset="utf-8"),
                    self._policy)
        headers.add("Content-Transfer-Encoding", cte, self._policy)
        return Part.leaf(headers, encode_body(data, cte, self._policy.linesep))

    def _file_leaf(self, att: Attachment) -> Part:
        from .codecs import choose_cte, encode_body
        from .headers import Headers
        from .model import Part
        from .params import ContentDisposition, ContentType

        maintype = att.content_type.partition("/")[0]
        params: dict[str, str] = {}
        if att.filename is not None:
            params["name"] = att.filename
        ctype = ContentType.parse(att.content_type)
        if maintype == "text" and ctype.charset is None:
            try:
                att.data.decode("ascii")
                params["charset"] = "us-ascii"
            except UnicodeDecodeError:
                try:
                    att.data.decode("utf-8")
                    params["charset"] = "utf-8"
                except UnicodeDecodeError:
                    pass
        ctype = ctype.with_params(**params)
        # Attachment bytes must come back exactly: 7bit only when the data is already in
        # canonical CRLF form with short ASCII lines; otherwise base64 (RFC 2045 §6.8).
        cte = "base64"
        if maintype == "text" and _is_canonical_ascii(att.data):
            cte = choose_cte(att.data, text=True, allow_8bit=False)
            if cte != "7bit":
                cte = "base64"
        headers = Headers()
        headers.add("Content-Type", ctype, self._policy)
        disp_params = (("filename", att.filename),) if att.filename is not None else ()
        headers.add("Content-Disposition", ContentDisposition(att.disposition, disp_params),
                    self._policy)
        if att.content_id is not None:
            headers.add("Content-ID", f"<{att.content_id}>", self._policy)
        headers.add("Content-Transfer-Encoding", cte, self._policy)
        return Part.leaf(headers, encode_body(att.data, cte, self._policy.linesep))


def _is_canonical_ascii(data: bytes) -> bool:
    """ASCII whose every line break is CRLF: safe to send as 7bit unchanged."""
    if not data.isascii() or b"\0" in data:
        return False
    return data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")


def compose(policy: Policy = DEFAULT) -> Builder:
    """Start a message: ``compose().from_(a).to(b).subject(s).text(t).build()``."""
    return Builder(policy)

