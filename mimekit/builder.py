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
import hashlib
import os
import re
from typing import IO, Union

import attrs

from .address import Address, Group, coerce_addresses, mailboxes
from .codecs import _has_long_line, choose_cte, crlf_only, encode_body, to_crlf
from .dates import format_date, make_msgid, msgid_domain
from .errors import BuildError, HeaderInjectionError
from .folding import address_field, format_header
from .headers import Header, Headers
from .model import Message, Part
from .params import ContentDisposition, ContentType, make_boundary
from .policy import DEFAULT, Policy

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


# C0 controls (TAB included) and DEL: no reader returns them in a file name (mimekit and
# most clients turn them into spaces), so an explicit name holding one is refused and a
# name taken from a path gets "_" instead.
_NAME_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def _check_filename(what: str, name: str) -> str:
    """Refuse a caller's file name that would not come back as given (see above)."""
    _check_text(what, name)
    if _NAME_CONTROLS.search(name):
        raise BuildError(f"{what} {name!r} holds a control character: readers would "
                         "replace it, so the name would not come back as given")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a name decoded with surrogateescape) has no UTF-8 form: it
        # would be written as bytes no reader decodes (RFC 2231 §4 wants a charset).
        raise BuildError(f"{what} {name!r} is not valid Unicode (a lone surrogate): "
                         "decode the name properly first") from None
    return name


def _safe_name(name: str | None) -> str | None:
    """A file name taken from a path: controls become "_", and a name the file system
    gave as undecodable bytes (lone surrogates, PEP 383) is read as windows-1252, what
    such legacy names usually are, so it can be written as UTF-8."""
    if name is None:
        return None
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogateescape") if _only_escapes(name) else b""
        name = raw.decode("cp1252", "replace") if raw else name.encode(
            "utf-8", "replace").decode("utf-8")
    return _NAME_CONTROLS.sub("_", name)


def _only_escapes(name: str) -> bool:
    """Whether every lone surrogate in ``name`` is a PEP 383 escape of one byte."""
    return all(0xDC80 <= ord(ch) <= 0xDCFF for ch in name if 0xD800 <= ord(ch) <= 0xDFFF)


def _read_source(source: Source) -> tuple[bytes, str | None]:
    """Bytes and a default file name from a path, bytes, or a binary file object."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        with open(path, "rb") as fh:
            return fh.read(), _safe_name(os.path.basename(path))
    read = getattr(source, "read", None)
    if read is None:
        raise BuildError(f"cannot attach a {type(source).__name__}: give a path, bytes or a file")
    data = read()
    if isinstance(data, str):
        raise BuildError("attach a binary file object (open it with 'rb'), not a text one")
    name = getattr(source, "name", None)
    return bytes(data), _safe_name(os.path.basename(name)) if isinstance(name, str) else None


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

    def __init__(self, policy: Policy = DEFAULT, *, deterministic: bool = False) -> None:
        self._policy = policy
        self._deterministic = deterministic
        self._boundary_count = 0
        self._generate_text = False
        self._calendar: tuple[bytes, str, str] | None = None
        self._messages: list[tuple[Message, str | None]] = []
        self._threading: dict[str, list[str]] = {}
        self._addrs: dict[str, list[Address | Group]] = {}
        self._subject: str | None = None
        self._text: str | None = None
        self._html: str | None = None
        self._files: list[Attachment] = []
        self._extra: list[tuple[str, str]] = []
        self._date: _dt.datetime | str | None = None
        self._message_id: str | None = None

    # -- addresses -------------------------------------------------------
    def _add_addresses(self, field: str, values: tuple[object, ...]) -> Builder:
        items = self._addrs.setdefault(field, [])
        for value in values:
            items.extend(coerce_addresses(value))  # raises HeaderInjectionError / AddressError
        return self

    def from_(self, *addrs: AddressInput) -> Builder:
        """Author(s) (RFC 5322 §3.6.2). More than one needs :meth:`sender`."""
        return self._add_addresses("From", addrs)

    def sender(self, addr: AddressInput) -> Builder:
        """The mailbox that actually sent it, when it differs from From."""
        items = coerce_addresses(addr)
        if len(items) != 1 or not isinstance(items[0], Address):
            # RFC 5322 §3.6.2: sender = "Sender:" mailbox CRLF -- exactly one, no group.
            raise BuildError(f"Sender is exactly one mailbox (RFC 5322 §3.6.2), not {addr!r}")
        self._addrs["Sender"] = items
        return self

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

    def html(self, body: str, *, generate_text: bool = False) -> Builder:
        """The HTML body. ``generate_text=True`` adds a plain-text alternative
        rendered from it when no :meth:`text` is given."""
        if not isinstance(body, str):
            raise BuildError("html() takes a str")
        self._html = body
        self._generate_text = generate_text
        return self

    def attach_message(self, message: Message | bytes | str | os.PathLike[str], *,
                       filename: str | None = None) -> Builder:
        """Attach a whole message as ``message/rfc822`` (RFC 2046 §5.2.1), e.g. to
        forward it: a parsed :class:`Message`, its raw bytes, or the path of an .eml
        file (whose name becomes the default file name)."""
        from .parser import parse

        if isinstance(message, (str, os.PathLike)):
            data, default_name = _read_source(message)
            message = parse(data)
            if filename is None:
                filename = default_name
        elif isinstance(message, (bytes, bytearray, memoryview)):
            message = parse(bytes(message))
        if not isinstance(message, Message):
            raise BuildError("attach_message() takes a Message, its raw bytes or a path")
        if filename is not None:
            _check_filename("attachment filename", filename)
        self._messages.append((message, filename))
        return self

    def calendar(self, ics: str | bytes, *, method: str | None = None,
                 filename: str = "invite.ics") -> Builder:
        """A calendar invitation (RFC 5545/6047): a ``text/calendar; method=...``
        alternative that Outlook and Gmail show as an invitation, plus the same
        file attached as ``application/ics`` for clients that only offer a file.

        ``method`` (REQUEST, CANCEL, REPLY, ...) defaults to the METHOD property of
        the calendar; when both are given they must agree (RFC 6047 §2.4). A calendar
        without METHOD gets ``METHOD:<method>`` added right after its BEGIN:VCALENDAR
        line (RFC 5546 §1.4: an iTIP object carries the method it is sent with).
        """
        data = ics.encode("utf-8") if isinstance(ics, str) else bytes(ics)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            # RFC 5545 §3.1.4 / §6: iCalendar text is UTF-8; other bytes would come out
            # as U+FFFD in the text/calendar part, silently.
            raise BuildError("the calendar is not UTF-8 (RFC 5545 §6): decode it and pass "
                             "a str, or give its UTF-8 bytes") from None
        # RFC 5545 §3.1: name *(";" param) ":" value; METHOD may carry x-params (§3.7.2)
        found = re.search(rb'(?mi)^METHOD(?:;(?:[^:"\r\n]|"[^"\r\n]*")*)?:([A-Za-z-]+)\s*$', data)
        ics_method = found.group(1).decode("ascii").upper() if found else None
        if method is None:
            if ics_method is None:
                raise BuildError("the calendar has no METHOD property: pass method= "
                                 "(REQUEST, CANCEL, REPLY, ...)")
            method = ics_method
        method = _check_text("calendar method", method).strip().upper()
        if not re.fullmatch(r"[A-Z][A-Z0-9-]*", method):
            raise BuildError(f"not an iTIP method: {method!r} (RFC 5546 §1.4)")
        if ics_method is not None and ics_method != method:
            raise BuildError(f"method={method!r} but the calendar says METHOD:{ics_method}")
        if ics_method is None:
            begin = re.search(rb"(?mi)^BEGIN:VCALENDAR[ \t]*(\r\n|\n|\r|$)", data)
            if begin is None:
                raise BuildError("not an iCalendar object: no BEGIN:VCALENDAR line (RFC 5545 §3.4)")
            eol = begin.group(1) or b"\r\n"
            data = (data[: begin.end()] + (b"" if begin.group(1) else eol)
                    + b"METHOD:" + method.encode("ascii") + eol + data[begin.end():])
        _check_text("calendar filename", filename)
        self._calendar = (data, method, filename)
        return self

    def priority(self, level: str) -> Builder:
        """``"high"``, ``"normal"`` or ``"low"``: written as X-Priority and Importance,
        the two headers clients read."""
        values = {"high": ("1 (Highest)", "high"), "normal": ("3 (Normal)", "normal"),
                  "low": ("5 (Lowest)", "low")}
        if level not in values:
            raise BuildError(f"priority must be one of {sorted(values)}, not {level!r}")
        self._extra = [(n, v) for n, v in self._extra
                       if n.lower() not in ("x-priority", "importance")]
        self._extra += [("X-Priority", values[level][0]), ("Importance", values[level][1])]
        return self

    def list_unsubscribe(self, *uris: str, one_click: bool = False) -> Builder:
        """List-Unsubscribe (RFC 2369 §3.2) with ``mailto:``/``https:`` URIs;
        ``one_click=True`` adds List-Unsubscribe-Post (RFC 8058), which needs an
        https URI."""
        if not uris:
            raise BuildError("list_unsubscribe() needs at least one URI")
        uris = tuple(_ascii_uri(_check_text("unsubscribe URI", uri)) for uri in uris)
        for uri in uris:
            if not re.match(r"(?i)(mailto|https?):[!-;=?-~]+$", uri) or "," in uri:
                raise BuildError(f"not a mailto: or http(s): URI: {uri!r}")
        if one_click and not any(u.lower().startswith("https:") for u in uris):
            raise BuildError("one-click unsubscribe needs an https: URI (RFC 8058 §3.1)")
        self._extra = [(n, v) for n, v in self._extra
                       if n.lower() not in ("list-unsubscribe", "list-unsubscribe-post")]
        self._extra.append(("List-Unsubscribe", ", ".join(f"<{u}>" for u in uris)))
        if one_click:
            self._extra.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        return self

    def in_reply_to(self, *msgids: str) -> Builder:
        """The message(s) this one answers (RFC 5322 §3.6.4)."""
        return self._set_ids("In-Reply-To", msgids)

    def _set_ids(self, name: str, msgids: tuple[str, ...]) -> Builder:
        ids = [_check_text(name, m) for m in msgids]
        for ident in ids:
            # The lenient id reader skips white space (VT and NEL included) inside an
            # id; caller data is not rewritten: a control character is refused.
            if _C0_C1_CONTROLS.search(ident.replace("\t", " ")):
                raise BuildError(f"invalid message id for {name}: {ident!r} (RFC 5322 §3.6.4)")
        if ids:
            format_header(name, " ".join(ids), self._policy)  # each must be a msg-id: now
        self._threading[name] = ids
        return self

    def references(self, *msgids: str) -> Builder:
        """The thread this message belongs to, oldest first (RFC 5322 §3.6.4)."""
        return self._set_ids("References", msgids)

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
        if filename is not None:
            _check_filename("attachment filename", filename)
            if not filename:
                # filename="" reads back as no name in mimekit and as "" in the stdlib.
                raise BuildError("an attachment file name cannot be empty: pass None "
                                 "for none")
        if content_type is not None:
            _check_content_type(content_type)
        if content_id is not None:
            content_id = _check_text("content id", content_id).strip().strip("<>")
            if any(f.content_id == content_id for f in self._files):
                # RFC 2392: a cid: URL names exactly one part of the message.
                raise BuildError(f"Content-ID <{content_id}> is already used by another part")
        disposition = _check_text("disposition", disposition).strip().lower()
        if disposition not in ("attachment", "inline"):
            raise BuildError(f"disposition must be 'attachment' or 'inline', not {disposition!r}")
        ctype = content_type or guess_type(data, name)
        if content_type is None and ctype.partition("/")[0].lower() in ("message", "multipart"):
            # A guess (x.eml -> message/rfc822) is not a promise the bytes are a
            # well-formed entity of that type, and RFC 2046 §5.1/§5.2.1 forbid base64
            # for both: the file goes as bytes. attach_message() attaches a message.
            ctype = "application/octet-stream"
        # Only type/subtype are case-insensitive (RFC 2045 §5.1): parameter values
        # (a name, a version) keep their case.
        mime, sep, params = ctype.partition(";")
        return Attachment(data, name, mime.strip().lower() + sep + params, disposition,
                          content_id)

    def header(self, name: str, value: str) -> Builder:
        """Any extra header, added as given (encoded and folded on output).

        Headers the builder writes itself (From, To, Subject, Date, Message-ID,
        MIME-Version, Content-*, ...) are refused here: a second From or Content-Type
        is read differently by different parsers (RFC 5322 §3.6 allows one), so use
        the dedicated method instead.
        """

        _check_text("header name", name)
        _check_text(f"header {name}", value)
        method = _MANAGED_HEADERS.get(name.strip().lower())
        if method is None and name.strip().lower().startswith("content-"):
            method = "attach() / text() / html()"
        if method is not None:
            raise BuildError(f"{name} is written by the builder: use {method} instead of "
                             "header()")
        format_header(name, value, self._policy)  # validates the name and value now
        if name.strip().lower() in _SINGLE_EXTRA:
            # A field that occurs once (RFC 2369 §3, RFC 8058 §3.1, the priority fields):
            # the later call wins, as with list_unsubscribe() / priority(), instead of
            # a second copy that readers pick from differently.
            self._extra = [(n, v) for n, v in self._extra if n.lower() != name.strip().lower()]
        self._extra.append((name, value))
        return self

    def date(self, when: _dt.datetime | str) -> Builder:
        """Override the generated Date (a datetime, or a date string checked now)."""
        if isinstance(when, str):
            _check_text("date", when)
            format_header("Date", when, self._policy)  # not a date: BuildError now
        elif not isinstance(when, _dt.datetime):
            raise BuildError(f"date() takes a datetime or a string, not {type(when).__name__}")
        self._date = when
        return self

    def message_id(self, msgid: str) -> Builder:
        """Override the generated Message-ID (``<left@right>``; brackets optional)."""
        _check_text("message id", msgid)
        # RFC 5322 §3.6.4: msg-id = "<" id-left "@" id-right ">", no white space.
        if not re.fullmatch(r"<?[^\s<>@]+@[^\s<>@]+>?", msgid.strip()):
            raise BuildError(f"not a message id: {msgid!r} (RFC 5322 §3.6.4: left@right, "
                             "e.g. <1234.abcd@example.org>)")
        format_header("Message-ID", msgid, self._policy)  # controls, 8-bit: refused now
        self._message_id = msgid
        return self

    # -- output ----------------------------------------------------------------
    def build(self) -> Message:
        """The message tree, every header encoded and folded for ``policy``.

        Raises :class:`BuildError` without an author, or with several authors and no
        Sender (RFC 5322 §3.6.2).
        """
        policy = self._policy
        authors = mailboxes(self._addrs.get("From", []))
        if not authors:
            raise BuildError("a message needs an author: call from_() (RFC 5322 §3.6.2)")
        if len(authors) > 1 and not self._addrs.get("Sender"):
            raise BuildError("several authors need a Sender: call sender() (RFC 5322 §3.6.2)")
        self._boundary_count = 0
        body = self._body_part()

        fields: list[Header] = []
        date = self._date
        if date is None:
            # The generated Date is in UTC (+0000), as nodemailer and many web mailers
            # write it: RFC 5322 §3.3 says the time SHOULD be local, but a local offset
            # tells every recipient the sender's time zone, which a library should not
            # leak by default. Pass date(datetime.now().astimezone()) for local time.
            date = (_dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc) if self._deterministic
                    else _dt.datetime.now(_dt.timezone.utc))
        if isinstance(date, _dt.datetime):
            fields.append(_own_header("Date", format_date(date), policy))
        else:
            fields.append(Header.create("Date", date, policy))
        for field in ("From", "Sender", "Reply-To", "To", "Cc", "Bcc"):
            items = self._addrs.get(field)
            if items:
                # Values coerce_addresses() made (and checked) when they were set.
                fields.append(Header(field, address_field(field, items, policy)))
        if self._subject is not None:
            fields.append(Header.create("Subject", self._subject, policy))
        msgid = self._message_id
        if msgid is None:
            msgid = (self._stable_msgid(body) if self._deterministic
                     else make_msgid(policy.message_id_domain))
        if _SIMPLE_ID.fullmatch(msgid):
            fields.append(_own_header("Message-ID", msgid, policy))
        else:
            fields.append(Header.create("Message-ID", msgid, policy))
        for name in ("In-Reply-To", "References"):
            if self._threading.get(name):
                fields.append(Header.create(name, " ".join(self._threading[name]), policy))
        extra = {n.lower(): v for n, v in self._extra}
        if "list-unsubscribe-post" in extra and not re.search(
                r"(?i)<https:", extra.get("list-unsubscribe", "")):
            # RFC 8058 §3.1: one-click needs an https URI in List-Unsubscribe; without
            # one, a mail client's POST has nowhere to go (header() replaced the list?)
            raise BuildError("List-Unsubscribe-Post (one-click) needs an https: URI in "
                             "List-Unsubscribe (RFC 8058 §3.1): give one, or use "
                             "list_unsubscribe(..., one_click=False)")
        fields.extend(Header.create(name, value, policy) for name, value in self._extra)
        fields.append(_own_header("MIME-Version", "1.0", policy))
        # The root is the body's top part with the message headers in front. Every
        # field was made here (valid by construction), so the header block is built
        # in one go instead of field by field.
        fields.extend(body.headers._items)
        root_headers = Headers._from_parsed(fields, [h.name.lower() for h in fields])
        if body.is_multipart:
            return Message.multipart(root_headers, list(body.children), policy=policy)
        return Message._encoded(root_headers, body.body, policy)

    def _stable_msgid(self, body: Part) -> str:
        digest = hashlib.sha256()
        for field in ("From", "To", "Cc", "Bcc"):
            digest.update(repr(self._addrs.get(field)).encode("utf-8"))
        digest.update((self._subject or "").encode("utf-8"))
        digest.update(body.to_bytes())
        # The same checked, IDNA-encoded domain as make_msgid().
        domain = msgid_domain(self._policy.message_id_domain)
        return f"<{digest.hexdigest()[:32]}@{domain}>"

    # -- tree ------------------------------------------------------------------
    def _body_part(self) -> Part:
        # Inline images live beside the html that references them; without html nothing
        # can reference them, so they are shown as attachments.
        inline: list[Attachment] = []
        attached: list[Attachment] = []
        for f in self._files:
            if f.disposition == "inline" and f.content_id:
                if self._html is not None:
                    inline.append(f)
                    continue
                # Said so, not only placed so: an inline part with a Content-ID is a
                # resource shown in place (RFC 2387), which no client lists as a file.
                f = attrs.evolve(f, disposition="attachment")
            attached.append(f)

        text_body = self._text
        if text_body is None and self._html is not None and self._generate_text:
            from .html2text import html_to_text

            text_body = html_to_text(self._html)
        text = self._text_leaf(text_body, "plain") if text_body is not None else None
        html = self._text_leaf(self._html, "html") if self._html is not None else None
        if html is not None and inline:
            html = self._multipart("related", [html, *(self._file_leaf(f) for f in inline)])
        alternatives = [p for p in (text, html) if p is not None]
        if self._calendar is not None:
            data, method, filename = self._calendar
            alternatives.append(self._calendar_leaf(data, method))
            attached.append(Attachment(data, filename, "application/ics"))
        body: Part | None
        if len(alternatives) > 1:
            body = self._multipart("alternative", alternatives)
        else:
            body = alternatives[0] if alternatives else None
        if attached or self._messages:
            parts = [body] if body is not None else []
            parts.extend(self._file_leaf(f) for f in attached)
            parts.extend(self._message_part(m, name) for m, name in self._messages)
            return self._multipart("mixed", parts)
        if body is None:
            body = self._text_leaf("", "plain")
        return body

    def _boundary(self) -> str:
        if self._deterministic:
            self._boundary_count += 1
            return f"=_mimekit_{self._boundary_count:03d}"
        return make_boundary()

    def _multipart(self, subtype: str, children: list[Part]) -> Part:
        content = [child.to_bytes() for child in children]
        while True:
            # RFC 2046 §5.1.1: the boundary must not occur in the parts (only possible
            # with the numbered boundaries of deterministic mode, but checked always).
            boundary = self._boundary()
            dash = b"--" + boundary.encode("ascii")
            if not any(c.startswith(dash) or b"\n" + dash in c for c in content):
                break
        headers = Headers()
        headers.add("Content-Type", ContentType.of(f"multipart/{subtype}", boundary=boundary),
                    self._policy)
        return Part.multipart(headers, children, policy=self._policy)

    def _encoded_leaf(self, ctype: ContentType | Header, data: bytes, cte: str,
                      extra: tuple[tuple[str, object], ...] = ()) -> Part:
        headers = Headers()
        if isinstance(ctype, Header):
            headers._append(ctype)
        else:
            headers.add("Content-Type", ctype, self._policy)
        for name, value in extra:
            headers.add(name, value, self._policy)
        headers._append(_own_header("Content-Transfer-Encoding", cte, self._policy))
        return Part._encoded(headers, encode_body(data, cte, self._policy.linesep),
                             self._policy)

    def _text_leaf(self, text: str, subtype: str) -> Part:
        data = _normalize_newlines(text).encode("utf-8")
        cte = choose_cte(data, text=True, allow_8bit=self._policy.allow_8bit)
        return self._encoded_leaf(_text_type_header(subtype, self._policy), data, cte)

    def _calendar_leaf(self, data: bytes, method: str) -> Part:
        # RFC 5545 §3.1: content lines end in CRLF.
        data = _normalize_newlines(data.decode("utf-8")).encode("utf-8")
        cte = choose_cte(data, text=True, allow_8bit=self._policy.allow_8bit)
        ctype = ContentType.of("text/calendar", charset="utf-8", method=method)
        return self._encoded_leaf(ctype, data, cte)

    def _message_part(self, message: Message, filename: str | None) -> Part:
        name = filename
        if name is None and message.subject:
            name = re.sub(r"[\\/:*?\"<>|\x00-\x1f\x7f]+", "_", message.subject)[:100] + ".eml"
        message, eight = self._transportable(message)
        headers = Headers()
        # The name in Content-Type too, for the clients that read only that (older
        # Outlook), as for file attachments; lint's NoLegacyFilename otherwise.
        ctype = ContentType.of("message/rfc822")
        headers.add("Content-Type", ctype.with_params(name=name) if name else ctype,
                    self._policy)
        params = (("filename", name),) if name else ()
        headers.add("Content-Disposition", ContentDisposition("attachment", params),
                    self._policy)
        if eight:
            # RFC 2046 §5.2.1: message/rfc822 is 7bit, 8bit or binary; say which.
            headers._append(_own_header("Content-Transfer-Encoding", "8bit", self._policy))
        return Part.rfc822(headers, message, policy=self._policy)

    def _transportable(self, message: Message) -> tuple[Message, bool]:
        """``message`` as it can travel inside this one, and whether it holds 8-bit data.

        RFC 2046 §5.2.1 forbids encoding a message/rfc822 part as a whole, so what the
        enclosed message's own bytes break is fixed inside it, the way an MTA would
        (RFC 6152 §3): a copy whose leaves with 8-bit data (when the policy has no
        ``allow_8bit``), NUL or lines over 998 octets (RFC 5322 §2.1.1) are re-encoded
        with base64 or quoted-printable, and whose bare CR/LF line ends become CRLF
        (RFC 5322 §2.3). A message that needs none of this is kept as it is, byte for
        byte (its DKIM signature stays valid), without what preceded its headers in a
        file (an mbox ``From `` line, a byte order mark). Header bytes cannot be re-encoded without
        changing what they say: raw 8-bit header bytes (RFC 6532) stay, and the part is
        labelled 8bit (an 8BITMIME path carries it; without one the SMTP transport
        refuses it rather than send it mislabelled); a header line over 998 octets is
        folded at white space (RFC 5322 §2.2.3: the value stays the same), and raises
        :class:`BuildError` only when it holds none.
        """
        from .parser import parse

        policy = self._policy
        data = message.to_bytes(strip_prefix=True)
        crlf = policy.linesep == b"\r\n"
        bare = crlf and not crlf_only(data)

        def fits(chunk: bytes) -> bool:
            return ((policy.allow_8bit or chunk.isascii()) and b"\0" not in chunk
                    and not _has_long_line(chunk))

        if not bare and fits(data):
            if message.prefix:
                # An mbox "From " line or a byte order mark before the headers is no
                # part of the message (RFC 5322 §2.1): inside this part it would read
                # as a broken first header field.
                return parse(data, policy), not data.isascii()
            return message, not data.isascii()
        if bare:
            data = to_crlf(data)
        copy = parse(data, policy)
        for part in copy.walk():
            if not part.headers.fold_long_lines():  # lines over 998 octets, folded
                raise BuildError(
                    "the attached message has a header line over 998 octets (RFC 5322 "
                    "§2.1.1) with no white space to fold it at: attach its bytes as a "
                    "file with attach()")
            if part.is_multipart or part.message is not None or fits(part.body):
                continue
            content = part.get_content()
            cte = part.transfer_encoding
            if cte not in ("base64", "quoted-printable"):
                cte = choose_cte(content, text=part.content_type.maintype == "text",
                                 allow_8bit=False)
            if part.headers.get_header("content-type") is None and not content.isascii():
                # The implied text/plain; charset=us-ascii (RFC 2045 §5.2) would be
                # wrong for the 8-bit text once it is encoded: say what it is.
                part.headers.set("Content-Type", ContentType.of(
                    part.content_type.mime_type, charset=_declared_charset(content)), policy)
            part.set_content(content, cte=cte)
        return copy, not copy.to_bytes().isascii()

    def _file_leaf(self, att: Attachment) -> Part:
        maintype = att.content_type.partition("/")[0]
        # charset before name: the standard library's get_param misreads a parameter
        # list whose quoted name ends in a backslash, losing what follows it.
        params: dict[str, str] = {}
        ctype = ContentType.parse(att.content_type)
        if maintype == "text" and ctype.charset is None:
            params["charset"] = _declared_charset(att.data)
        if att.filename is not None:
            params["name"] = att.filename
        ctype = ctype.with_params(**params)
        # Attachment bytes must come back exactly: 7bit only when the data is already in
        # canonical CRLF form with short ASCII lines; otherwise base64 (RFC 2045 §6.8).
        cte = "base64"
        if maintype == "text" and _is_canonical_ascii(att.data):
            cte = choose_cte(att.data, text=True, allow_8bit=False)
            if cte != "7bit":
                cte = "base64"
        disp_params = (("filename", att.filename),) if att.filename is not None else ()
        extra: list[tuple[str, object]] = [
            ("Content-Disposition", ContentDisposition(att.disposition, disp_params))]
        if att.content_id is not None:
            extra.append(("Content-ID", f"<{att.content_id}>"))
        return self._encoded_leaf(ctype, att.data, cte, tuple(extra))


# A message id the builder can write as it is: angle brackets around printable ASCII
# without white space or brackets (what make_msgid and _stable_msgid give).
_SIMPLE_ID = re.compile(r"<[!-;=?-~]+>")

# Content-Type fields of the text leaves, formatted once per (subtype, policy).
_TEXT_TYPES: dict[tuple[str, Policy], bytes] = {}


def _own_header(name: str, value: str, policy: Policy) -> Header:
    """A field whose value the builder produced itself (a formatted date, a generated
    id, a transfer-encoding token): printable ASCII, no CR/LF (RFC 5322 §2.2), so it
    needs neither encoding nor validation; folded by the general path only when it is
    too long for one line."""
    if len(name) + 2 + len(value) > policy.max_line_length:
        return Header.create(name, value, policy)
    return Header(name, f"{name}: {value}".encode("ascii") + policy.linesep)


def _text_type_header(subtype: str, policy: Policy) -> Header:
    """``Content-Type: text/<subtype>; charset=utf-8`` for a body leaf (cached bytes)."""
    raw = _TEXT_TYPES.get((subtype, policy))
    if raw is None:
        ctype = ContentType.of(f"text/{subtype}", charset="utf-8")
        raw = Header.create("Content-Type", ctype, policy).raw
        if len(_TEXT_TYPES) < 64:
            _TEXT_TYPES[(subtype, policy)] = raw
    return Header("Content-Type", raw)


# Extra fields a message carries once: header() replaces an earlier copy.
_SINGLE_EXTRA = frozenset({
    "list-unsubscribe", "list-unsubscribe-post", "list-id", "list-help", "list-subscribe",
    "list-post", "list-owner", "list-archive", "x-priority", "importance", "priority",
    "x-msmail-priority", "auto-submitted", "precedence", "organization", "user-agent",
    "x-mailer"})

# Headers build() writes itself, with the method that sets each.
_MANAGED_HEADERS = {
    "from": "from_()", "sender": "sender()", "reply-to": "reply_to()", "to": "to()",
    "cc": "cc()", "bcc": "bcc()", "subject": "subject()", "date": "date()",
    "message-id": "message_id()", "in-reply-to": "in_reply_to()",
    "references": "references()", "mime-version": "nothing (it is always 1.0)",
}


def _check_content_type(value: str) -> None:
    """A caller-given attachment type must be a plain ``type/subtype`` leaf type:
    multipart needs children and a boundary, message/rfc822 a message (RFC 2046 §5)."""
    from .errors import Defect

    _check_text("content type", value)
    defects: list[Defect] = []
    parsed = ContentType.parse(value, defects)
    if defects or not value.strip().lower().startswith(parsed.mime_type):
        raise BuildError(f"not a media type: {value!r} (want type/subtype)")
    if parsed.maintype == "multipart":
        raise BuildError(f"{parsed.mime_type} cannot be an attachment's type: it needs parts")
    if parsed.mime_type in ("message/rfc822", "message/global"):
        raise BuildError(f"attach a message with attach_message(), not as {parsed.mime_type}")


_C0_C1_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _ascii_uri(uri: str) -> str:
    """A URI for a ``<URI>`` list field: non-ASCII characters percent-encoded as UTF-8
    (RFC 3987 §3.1, an IRI mapped to a URI), since RFC 2369 §2 fields hold URIs and no
    encoded words; control characters are refused (they are in no URI, RFC 3986 §2)."""
    if _C0_C1_CONTROLS.search(uri):
        raise BuildError(f"a control character is not allowed in a URI: {uri!r}")
    if uri.isascii():
        return uri
    from urllib.parse import quote

    try:
        return "".join(ch if ch.isascii() else quote(ch.encode("utf-8")) for ch in uri)
    except UnicodeEncodeError:
        raise BuildError(f"not a URI (a lone surrogate): {uri!r}") from None


def _declared_charset(data: bytes) -> str:
    """The charset to declare for text ``data`` (RFC 2046 §4.1.2: 8-bit text needs one).

    us-ascii for ASCII; UTF-8 when it is; else chardet's confident guess, else
    ISO-8859-1 (which decodes anything, so the declaration is never false).
    """
    if data.isascii():
        return "us-ascii"
    from .charset import decode_bytes

    charset = decode_bytes(data, None)[1]
    try:
        # The declaration must decode the bytes strictly in any reader: mimekit reads
        # ISO-8859-1 with C1 bytes as windows-1252, which leaves 0x81, 0x8D, 0x8F, 0x90
        # and 0x9D undefined.
        data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        charset = "iso-8859-1"
    return charset


def _is_canonical_ascii(data: bytes) -> bool:
    """ASCII whose every line break is CRLF: safe to send as 7bit unchanged."""
    return data.isascii() and b"\0" not in data and crlf_only(data)


def compose(policy: Policy = DEFAULT, *, deterministic: bool = False) -> Builder:
    """Start a message: ``compose().from_(a).to(b).subject(s).text(t).build()``.

    ``deterministic=True`` is for snapshot tests: boundaries are numbered, the
    Date is fixed (2000-01-01 UTC) unless set, and the Message-ID is derived
    from the content, so the same input always gives the same bytes.
    """
    return Builder(policy, deterministic=deterministic)

