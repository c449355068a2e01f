"""The message tree: :class:`Part` (any MIME entity) and :class:`Message` (a root).

A parsed part keeps the pieces of its wire form (its :class:`~mimekit.headers.Header`
objects with their raw bytes, the header/body separator, the encoded body of a leaf,
and for a multipart the preamble, the exact delimiter lines, the close delimiter and
the epilogue) so that an unmodified tree serializes back to the input byte for byte.
Edits only invalidate what they touch: changing a part's headers re-emits that part's
header block; changing a ``children`` list regenerates that multipart's delimiters;
untouched parts (siblings, children) are written from their raw pieces (which keeps
e.g. DKIM signatures of untouched parts valid).

Header values, content types and bodies are decoded lazily, only when asked.

The class is spread over a few private modules, one concern each: :mod:`mimekit._defects`
(the defect list a part keeps, a base class of :class:`Part`), :mod:`mimekit._fastct`
(the cheap Content-Type reading the parser uses), :mod:`mimekit._children` (the live
children list), :mod:`mimekit._derived` (reports, TNEF, uuencoded files) and
:mod:`mimekit._message` (:class:`Message`). Import the public names from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, TypeVar

import attrs

from mimekit._children import _Children
from mimekit._defects import DefectLog
from mimekit._fastct import fast_content_type
from mimekit.errors import Defect
from mimekit.headers import Headers
from mimekit.policy import DEFAULT, Policy

if TYPE_CHECKING:  # pragma: no cover
    from mimekit.params import ContentDisposition, ContentType
    from mimekit.reports import Report
    from mimekit.tnef import Tnef

__all__ = ["Message", "Part", "fast_content_type"]

# typing.Self is 3.11+; a bound TypeVar keeps Message.leaf() typed as Message on 3.10.
_P = TypeVar("_P", bound="Part")

_MESSAGE_TYPES = ("message/rfc822", "message/global")
# RFC 2183 §2.1-2.2: the disposition types a mail reader knows.
_DISPOSITIONS = ("inline", "attachment")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def wire_body(body: bytes, policy: Policy, cte: str) -> bytes:
    """A caller's already-encoded leaf body as it may be written.

    RFC 5322 §2.1.1: no line over 998 octets, whatever the encoding -- such a body
    raises :class:`~mimekit.errors.EncodingError` (encode the content with
    :meth:`Part.set_content` instead). RFC 5322 §2.3 / RFC 2045 §2.7-2.8: CR and LF
    only as CRLF -- with CRLF output a bare CR or LF becomes CRLF (for 7bit, 8bit,
    quoted-printable and base64 it is a line break either way), except under
    ``binary``, where it is data and raises. Output with other line ends
    (``policy.linesep`` LF, for local files) is written as given.
    """
    from mimekit.codecs import _has_long_line, crlf_only, to_crlf

    if _has_long_line(body):
        from mimekit.errors import EncodingError

        raise EncodingError(
            "a body line is longer than 998 octets (RFC 5322 §2.1.1): encode the content "
            "with set_content() (quoted-printable or base64)")
    if policy.linesep == b"\r\n" and not crlf_only(body):
        if cte == "binary":
            from mimekit.errors import EncodingError

            raise EncodingError(
                "a binary body with a bare CR or LF cannot be written in a message "
                "(RFC 5322 §2.3): use base64")
        body = to_crlf(body)
    return body


class _Defaults(dict[str, "ContentType"]):
    """The two RFC default types as shared immutable values, made on first use."""

    def __missing__(self, key: str) -> ContentType:
        from mimekit.params import ContentType

        value = self[key] = ContentType.of(key)
        return value


_DEFAULT_TYPES = _Defaults()

_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")

#: Decoded content up to this size is kept after the first get_content().
_CONTENT_CACHE_MAX = 64 * 1024


class Part(DefectLog):
    """One MIME entity: headers plus a leaf body, a list of children, or a message.

    Build one with :meth:`leaf`, :meth:`multipart` or :meth:`rfc822`; the parser fills
    the raw pieces directly.
    """

    # Immutable defaults live on the class (cheap construction on the parse path); an
    # instance attribute replaces them when set.
    _prefix: bytes | None = None  # raw bytes before the header block (BOM, "From " line)
    _sep: bytes | None = None  # header/body separator as parsed; None: policy.linesep
    _body_bytes: bytes = b""
    # A parsed leaf's body stays a span of the input until somebody needs it as bytes
    # (no 20 MB copy at parse time); the input buffer is shared by the whole tree.
    _src: bytes | None = None
    _src_start: int = 0
    _src_end: int = 0
    _body_at: int | None = None  # input offset of a parsed leaf's body (for defects)
    _children: _Children | None = None
    _preamble: bytes | None = None
    _epilogue: bytes | None = None
    _delims: list[bytes] | None = None  # raw delimiter lines; None: regenerate
    _close: bytes | None = None
    _boundary_used: bytes | None = None
    _message: Message | None = None
    _decoded_message: Message | None = None  # from a base64/QP message/rfc822
    _hdirty: bool = False
    _hbase: int | None = None  # input offset of the first header field (parsed parts)
    _ct_cache: list[Any] | None = None
    _disp_cache: list[Any] | None = None
    _decoded: bool = False
    _charset: str | None = None
    _fast_ct: tuple[str | None, bytes | None] | None = None  # fast_content_type() cached
    _extras: dict[str, Any] | None = None  # report/TNEF/uuencode readings (_derived.py)

    def __init__(self, headers: Headers | None = None, *, policy: Policy = DEFAULT) -> None:
        self.parent: Part | None = None
        self.policy = policy
        if headers is None:
            headers = Headers()
        self._headers = headers
        headers.on_change = self._headers_changed
        self._defects: list[Defect] = []

    # -- constructors -----------------------------------------------------------------

    @classmethod
    def leaf(cls: type[_P], headers: Headers, body: bytes, *, policy: Policy = DEFAULT) -> _P:  # noqa: PYI019
        """A leaf whose body is already transfer-encoded, written as given except that
        with CRLF output (``policy.linesep``) a bare CR or LF becomes CRLF; a line over
        998 octets, or a bare line end under the ``binary`` encoding, raises
        :class:`~mimekit.errors.EncodingError` (see :func:`wire_body`)."""
        part = cls(headers, policy=policy)
        part._body = wire_body(bytes(body), policy, part.transfer_encoding)
        return part

    @classmethod
    def _encoded(cls: type[_P], headers: Headers, body: bytes, policy: Policy) -> _P:  # noqa: PYI019
        """:meth:`leaf` for a body mimekit's own encoder made (valid by construction)."""
        part = cls(headers, policy=policy)
        part._body = body
        return part

    @classmethod
    def multipart(  # noqa: PYI019
        cls: type[_P],
        headers: Headers,
        children: Iterable[Part],
        *,
        preamble: bytes | None = None,
        epilogue: bytes | None = None,
        policy: Policy = DEFAULT,
    ) -> _P:
        """A multipart; its boundary comes from the Content-Type header in ``headers``."""
        part = cls(headers, policy=policy)
        part._children = _Children(part, children)
        part._preamble = preamble
        part._epilogue = epilogue
        return part

    @classmethod
    def rfc822(  # noqa: PYI019
        cls: type[_P], headers: Headers, message: Message, *, policy: Policy = DEFAULT
    ) -> _P:
        """A message/rfc822 part holding ``message``."""
        part = cls(headers, policy=policy)
        message.parent = part
        part._message = message
        return part

    # -- raw body storage -------------------------------------------------------------

    @property
    def _body(self) -> bytes:
        """The encoded body bytes (sliced from the input once, on first use)."""
        src = self._src
        if src is not None:
            self._body_bytes = src[self._src_start : self._src_end]
            self._src = None
        return self._body_bytes

    @_body.setter
    def _body(self, value: bytes) -> None:
        self._body_bytes = value
        self._src = None
        self._body_at = None

    def _set_source(self, data: bytes, start: int, end: int) -> None:
        """Parser hook: the body is data[start:end], not copied yet."""
        self._src = data
        self._body_at = start
        self._src_start = start
        self._src_end = end

    def _body_piece(self) -> bytes | memoryview:
        """The body for serialization without copying it out of the input."""
        src = self._src
        if src is not None:
            return memoryview(src)[self._src_start : self._src_end]
        return self._body_bytes

    def _has_body(self) -> bool:
        if self._src is not None:
            return self._src_end > self._src_start
        return bool(self._body_bytes)

    # -- headers and change tracking --------------------------------------------------

    def _set_headers(self, headers: Headers) -> None:
        self._headers.on_change = None
        self._headers = headers
        headers.on_change = self._headers_changed

    @property
    def headers(self) -> Headers:
        """The part's header fields (mutable; edits re-emit this part's header block)."""
        return self._headers

    @headers.setter
    def headers(self, headers: Headers) -> None:
        self._set_headers(headers)
        self._headers_changed()

    def _fast(self) -> tuple[str | None, bytes | None]:
        """``fast_content_type`` of this part's Content-Type header, cached."""
        cached = self._fast_ct
        if cached is None:
            cached = self._fast_ct = fast_content_type(self._headers.get_header("content-type"))
        return cached

    def _headers_changed(self) -> None:
        if self._checked or self._defect_src:
            # Defects of fields no longer here go with them (see mimekit._defects).
            self._forget_absent_headers({id(h) for h in self._headers._items})
        self._fast_ct = None
        self._hoff_map = None
        self._hdirty = True
        self._hbase = None
        self._ct_cache = None
        self._disp_cache = None
        self._decoded = False
        self.__dict__.pop("_content", None)
        self._decoded_message = None  # a base64 message/rfc822 view follows the headers
        self._charset = None
        self._extras = None

    def _structure_changed(self) -> None:
        self._delims = None
        self._close = None

    # -- identity and tree ------------------------------------------------------------

    @property
    def id(self) -> str:
        """IMAP section number (RFC 3501 §6.4.5): root ``""``, children ``"1"``, ``"1.2"``;
        an embedded message's root has the id of its message/rfc822 part."""
        parent = self.parent
        if parent is None:
            return ""
        if parent._message is self or parent._decoded_message is self:
            return parent.id
        siblings: list[Part] = parent._children or []
        index = next((i for i, c in enumerate(siblings) if c is self), -1) + 1
        pid = parent.id
        return f"{pid}.{index}" if pid else str(index)

    @property
    def is_multipart(self) -> bool:
        """True when the part has a list of children (a parsed or built multipart)."""
        return self._children is not None

    @property
    def children(self) -> list[Part]:
        """The children of a multipart (a live list: changing it marks the structure
        changed); an empty list for other parts."""
        if self._children is None:
            return []
        return self._children

    @children.setter
    def children(self, items: Iterable[Part]) -> None:
        self._children = _Children(self, items)
        self._body = b""
        self._structure_changed()

    @property
    def preamble(self) -> bytes | None:
        """Bytes before the first delimiter line (multiparts)."""
        return self._preamble

    @preamble.setter
    def preamble(self, value: bytes | None) -> None:
        self._preamble = value
        self._structure_changed()

    @property
    def epilogue(self) -> bytes | None:
        """Bytes after the close delimiter line (multiparts)."""
        return self._epilogue

    @epilogue.setter
    def epilogue(self, value: bytes | None) -> None:
        self._epilogue = value
        self._structure_changed()

    @property
    def message(self) -> Message | None:
        """The embedded message of a message/rfc822 or message/global part."""
        if self._message is not None:
            return self._message
        if (
            self._decoded_message is None
            and self._children is None
            and self._has_body()
            and self._fast()[0] in _MESSAGE_TYPES
            and self.transfer_encoding in ("base64", "quoted-printable")
        ):
            # RFC 2046 §5.2.1 forbids encoding message/rfc822, yet it is sent: read the
            # decoded message (a view: edits to it are not written back).
            from mimekit.parser import parse

            decoded = parse(self.get_content(), self.policy)
            decoded.parent = self
            self._decoded_message = decoded
        return self._decoded_message

    def walk(self) -> Iterator[Part]:
        """Every part depth first (pre-order), self included, into embedded messages."""
        stack: list[Part] = [self]
        while stack:
            part = stack.pop()
            yield part
            embedded = part.message if part._children is None else None
            if embedded is not None:
                stack.append(embedded)
            elif part._children:
                stack.extend(reversed(part._children))

    # -- content type, disposition, names ---------------------------------------------

    def _default_type(self) -> str:
        # RFC 2046 §5.1.5: in a digest the default is message/rfc822; else RFC 2045 §5.1
        # text/plain.
        parent = self.parent
        if (
            parent is not None
            and parent._children is not None
            and parent.mime_type == "multipart/digest"
        ):
            return "message/rfc822"
        return "text/plain"

    @property
    def content_type(self) -> ContentType:
        """The effective Content-Type (parsed lazily). Where the field is missing: the RFC
        default, text/plain (message/rfc822 inside multipart/digest). Where it has no
        valid type/subtype: see :meth:`_untyped`."""
        from mimekit.params import ContentType

        if self._ct_cache is None:
            header = self._headers.get_header("content-type")
            parsed: ContentType | None = None
            if header is not None:
                defects: list[Defect] = []
                try:
                    parsed = ContentType.parse(header.unfolded, defects)
                except Exception as exc:  # noqa: BLE001 - lenient
                    defects.append(Defect("MalformedContentType", str(exc)))
                if self._fast()[0] is None:  # no type/subtype (what the parser went by)
                    parsed = self._untyped(parsed, defects)
                self._ct_cache = [parsed]
                self._record_header(header, "content-type", defects)
            else:
                self._ct_cache = [None]
        parsed = self._ct_cache[0]
        if parsed is not None:
            return parsed
        return _DEFAULT_TYPES[self._default_type()]

    def _untyped(self, parsed: ContentType | None, defects: list[Defect]) -> ContentType:
        """The type of a part whose Content-Type has no valid type/subtype (``; name=x``),
        with the parameters that were read. Replaces the parameter parser's defect about
        the type with one ``MalformedContentType`` saying what was used instead.

        RFC 2045 §5.2 recommends text/plain; charset=us-ascii for a syntactically
        invalid Content-Type (message/rfc822 inside multipart/digest, RFC 2046 §5.1.5),
        and so it is for a body without a name (a declared charset is still used). But a
        part naming a file (``name`` here, or a Content-Disposition ``filename``) is a
        file, as mail clients show it: text/plain would decode a JPEG as text, hide the
        attachment and, on the root part, make it ``Message.text``. So such a part gets
        the type its file name implies (the table of :mod:`mimekit.sniff`), else
        application/octet-stream (RFC 2046 §4.5.1: the type for unknown data).
        Composite types are never guessed: the parser has read the part as a leaf, so
        a multipart/ or message/ type would contradict the tree.
        """
        from mimekit.params import ContentType

        defects[:] = [d for d in defects if d.kind != "InvalidContentType"]
        params = parsed.params if parsed is not None else ()
        name = parsed.get("name") if parsed is not None else None
        if not name:
            disp = self.disposition
            name = disp.filename if disp is not None else None
        if name:
            # By the name alone: sniffing the content would decode the body, and the
            # libmagic load behind mimekit.sniff.guess_type costs ~0.1 s on first use.
            from mimekit.sniff import _by_name

            mime = (_by_name(name) or "application/octet-stream").lower()
            if mime.startswith(("multipart/", "message/")):
                mime = "application/octet-stream"
            detail = f"no type/subtype; {mime} assumed from the file name {name[:60]!r}"
        else:
            mime = self._default_type()
            detail = f"no type/subtype; {mime} assumed"
        defects.append(Defect("MalformedContentType", detail))
        maintype, _, subtype = mime.partition("/")
        return ContentType(maintype, subtype, params)

    @property
    def mime_type(self) -> str:
        """Effective ``type/subtype``, lower case."""
        mime = self._fast()[0]
        if mime is not None:
            return mime
        if "content-type" not in self._headers:
            return self._default_type()
        return self.content_type.mime_type.lower()

    @property
    def disposition(self) -> ContentDisposition | None:
        """The parsed Content-Disposition (RFC 2183), or None when absent."""
        if self._disp_cache is None:
            header = self._headers.get_header("content-disposition")
            value: ContentDisposition | None = None
            if header is not None:
                from mimekit.params import ContentDisposition

                defects: list[Defect] = []
                try:
                    value = ContentDisposition.parse(header.unfolded, defects)
                except Exception as exc:  # noqa: BLE001 - lenient
                    defects.append(Defect("MalformedContentDisposition", str(exc)))
                if value is not None and value.kind not in _DISPOSITIONS:
                    # RFC 2183 §2.8: "Unrecognized disposition types should be treated
                    # as `attachment'." The effective kind is attachment (the raw field
                    # is kept as written); the defect names what was there.
                    defects.append(Defect(
                        "UnknownDisposition", f"unknown disposition type {value.kind[:40]!r}; "
                        "treated as attachment (RFC 2183 §2.8)"))
                    value = attrs.evolve(value, kind="attachment")
                self._record_header(header, "disposition", defects)
            self._disp_cache = [value]
        result: ContentDisposition | None = self._disp_cache[0]
        return result

    @property
    def disposition_kind(self) -> str | None:
        """``inline``, ``attachment`` (lower case, as written otherwise) or None."""
        disp = self.disposition
        return disp.kind.lower() if disp is not None and disp.kind else None

    @property
    def filename(self) -> str | None:
        """Content-Disposition ``filename`` (RFC 2231) else Content-Type ``name``,
        RFC 2047 words decoded."""
        disp = self.disposition
        name = disp.filename if disp is not None else None
        source = "content-disposition"
        if not name:
            name = self.content_type.get("name")
            source = "content-type"
        if not name:
            return None
        # No RFC 2047 decoding here: params already decodes encoded words in plain
        # values, and an RFC 2231 value must never be decoded again (RFC 2231 §4 text is
        # the file name as is: "=?..?=" spelled out would otherwise become another name).
        if _CONTROL.search(name):
            # A file name is one line of text: a line break (e.g. inside an encoded word)
            # would break any header built from it (RFC 5322 §2.2) and file systems.
            name = _CONTROL.sub(" ", name).strip()
            header = self._headers.get_header(source)
            if header is not None:  # recorded once per field, however often asked
                self._record_header(header, "filename", [Defect(
                    "InvalidFilename", "control characters in the file name replaced by spaces")])
        return name or None

    @property
    def transfer_encoding(self) -> str:
        """Content-Transfer-Encoding, lower case, ``7bit`` when absent (RFC 2045 §6.1)."""
        header = self._headers.get_header("content-transfer-encoding")
        if header is None:
            return "7bit"
        # RFC 2045 §6.1 with RFC 822 CFWS: comments may stand before or after the token.
        value = _COMMENT.sub(" ", header.unfolded).strip().strip('"').strip().lower()
        return value or "7bit"

    @property
    def is_attachment(self) -> bool:
        """Whether a mail client would list this part as an attachment.

        The rule: (1) an explicit ``attachment`` disposition is one; (2) multiparts never
        are, nor the root part of a message unless it is a named non-text, non-message
        file; (3) message/rfc822 and message/global are unless marked ``inline``; (4) text
        leaves are when they carry a file name and no ``inline`` disposition; (5) other
        leaves are, unless they are an inline body part (``inline`` disposition without a
        file name) or a related resource (inside multipart/related, or with a
        Content-ID and ``inline``), which a client shows in place, not as a file.
        """
        kind = self.disposition_kind
        if kind == "attachment":
            return True
        if self._children is not None:
            return False
        mime = self.mime_type
        parent = self.parent
        if parent is None or parent._message is self or parent._decoded_message is self:
            # The body of a message itself: only a named non-text file counts.
            return not mime.startswith(("text/", "message/")) and self.filename is not None
        if mime in _MESSAGE_TYPES:
            return kind != "inline"
        if mime.startswith("text/"):
            return kind is None and self.filename is not None
        in_related = parent.mime_type == "multipart/related"
        if in_related:
            return False
        if kind == "inline":
            return self.filename is not None and "content-id" not in self._headers
        return True

    # -- bodies -----------------------------------------------------------------------

    @property
    def body(self) -> bytes:
        """The encoded body as on the wire (for a multipart or message part: the bytes
        after the header block, generated)."""
        if self._children is None and self._message is None:
            return self._body
        from mimekit import generator

        return b"".join(generator.iter_body_chunks(self))

    def set_body(self, encoded: bytes) -> None:
        """Replace a leaf's body with already transfer-encoded bytes (line ends made
        CRLF, over-long lines refused: see :func:`wire_body`)."""
        self._replace_body(wire_body(bytes(encoded), self.policy, self.transfer_encoding))

    def _replace_body(self, encoded: bytes) -> None:
        """:meth:`set_body` for bytes already fit to be written."""
        self._children = None
        self._message = None
        self._decoded_message = None
        self._body = encoded
        self._decoded = False
        self.__dict__.pop("_content", None)
        self._charset = None
        self._extras = None
        self._structure_changed()
        self._hdirty = True
        self._avoid_boundary_collisions(self._body)

    def _avoid_boundary_collisions(self, data: bytes) -> None:
        """Give an enclosing multipart a new boundary if ``data`` holds one of its delimiter
        lines (RFC 2046 §5.1.1: the boundary must not occur in the encapsulated parts)."""
        ancestor = self.parent
        while ancestor is not None:
            if ancestor._children is not None:
                _, boundary = fast_content_type(ancestor._headers.get_header("content-type"))
                if boundary is not None:
                    dash = b"--" + boundary
                    if data.startswith(dash) or b"\n" + dash in data:
                        from mimekit.params import make_boundary

                        ctype = ancestor.content_type.with_params(boundary=make_boundary())
                        ancestor._headers.set("Content-Type", ctype, ancestor.policy)
            ancestor = ancestor.parent

    def set_content(self, data: bytes, *, cte: str | None = None) -> None:
        """Replace a leaf's content with ``data`` (decoded bytes), encoding it with ``cte``
        (default: keep base64/quoted-printable if the part had it, else choose) and
        setting Content-Transfer-Encoding accordingly.

        ``data`` must be bytes (or bytearray/memoryview): text is not encoded here,
        since the right bytes depend on a charset the caller chooses; a ``str`` raises
        :class:`TypeError` (encode it, e.g. ``text.encode(part.charset or "utf-8")``).
        """
        from mimekit.codecs import choose_cte, encode_body

        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        elif not isinstance(data, bytes):
            raise TypeError(
                f"set_content() takes bytes (the decoded content), not {type(data).__name__}"
                + ("; encode the text first, e.g. text.encode('utf-8')"
                   if isinstance(data, str) else ""))

        if cte is None:
            current = self.transfer_encoding
            if current in ("base64", "quoted-printable"):
                cte = current
            else:
                cte = choose_cte(
                    data, text=self.mime_type.startswith("text/"), allow_8bit=self.policy.allow_8bit
                )
        cte = cte.strip().lower()
        if cte in ("8bit", "binary") and not self.policy.allow_8bit:
            from mimekit.errors import EncodingError

            # RFC 6152 / RFC 3030: 8-bit and binary bodies need a path that carries
            # them; the part's policy says this one does not.
            raise EncodingError(
                f"a {cte} body needs a policy with allow_8bit (an 8BITMIME path): this "
                "part's policy does not allow it; use base64 or quoted-printable")
        if self.transfer_encoding != cte or "content-transfer-encoding" not in self._headers:
            self._headers.set("Content-Transfer-Encoding", cte, self.policy)
        self._replace_body(encode_body(data, cte, self.policy.linesep))  # fit by construction

    def get_content(self) -> bytes:
        """The decoded content of a leaf (transfer encoding removed, RFC 2045 §6)."""
        if self._children is not None:
            return b""
        if self._message is not None:
            return self._message.to_bytes()
        from mimekit.codecs import decode_body

        cached: bytes | None = self.__dict__.get("_content")
        if cached is not None and self._decoded:
            return cached  # small leaves: decoded once (bytes are immutable)
        defects: list[Defect] | None = None if self._decoded else []
        cte = self.transfer_encoding
        src = self._src
        fast = None
        if src is not None and cte == "base64":
            from mimekit._b64 import clean_base64

            fast = clean_base64(src, self._src_start, self._src_end)
        if fast is not None:
            data = fast
        else:
            try:
                data = decode_body(self._body, cte, defects)
            except Exception as exc:  # noqa: BLE001 - lenient: never raise on bad input
                if defects is not None:
                    defects.append(Defect("UndecodableBody", str(exc)))
                data = self._body
        if defects is not None:
            self._decoded = True
            self._record_all(defects, None, self._body_at)
        if len(data) <= _CONTENT_CACHE_MAX:
            self.__dict__["_content"] = data
        return data

    def get_text(self) -> str:
        """The content as text, decoded with the declared charset (falling back with a
        defect when it is unknown or wrong; see :func:`mimekit.charset.decode_bytes`).

        Line breaks are ``"\n"``, as Python reads text files: on the wire a line break
        in MIME text is CRLF (RFC 2046 §4.1.1, which forbids CR and LF outside that
        pair), so CRLF and a stray lone CR both become ``"\n"``. :meth:`get_content`
        keeps the bytes as sent, CRLF included.
        """
        return self._text_of(self.get_content())

    def _text_of(self, data: bytes) -> str:
        """:meth:`get_text` for content already decoded (the summary has it at hand)."""
        from mimekit.charset import decode_bytes

        first = self._charset is None
        defects: list[Defect] = []
        declared = self.content_type.charset if self._children is None else None
        text, used = decode_bytes(data, declared, defects, fallback=self.policy.fallback_charset)
        if first:
            self._charset = used
            self._record_all(defects, None, self._body_at)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")  # RFC 2046 §4.1.1
        return text

    @property
    def charset(self) -> str | None:
        """For text leaves: the charset actually used to decode the text."""
        if self._children is not None or self._message is not None:
            return None
        if not self.mime_type.startswith("text/"):
            return None
        if self._charset is None:
            self.get_text()
        return self._charset

    @property
    def report(self) -> Report | None:
        """The parsed report of a message/delivery-status, message/disposition-notification
        or message/feedback-report leaf (RFC 3464, 8098, 5965), else None. Lazy, cached;
        its defects are this part's (see :mod:`mimekit.reports`)."""
        from mimekit._derived import part_report

        return part_report(self)

    @property
    def tnef(self) -> Tnef | None:
        """The parsed TNEF stream of an application/ms-tnef part (or a ``winmail.dat``
        octet stream holding one), else None. Lazy, cached (see :mod:`mimekit.tnef`)."""
        from mimekit._derived import part_tnef

        return part_tnef(self)

    # -- defects ----------------------------------------------------------------------

    def _analyze(self) -> None:
        """Decode everything of this part once, so its defects are complete."""
        for header in self._headers:
            self._ensure_header_defects(header)
        _ = self.content_type
        _ = self.disposition
        # Every part, not only the leaves whose body reading happens to ask for it (an
        # octet stream checked for TNEF): a control character in the file name is a
        # defect of a message/rfc822, text, image or multipart part all the same.
        _ = self.filename
        if self._children is None and self._message is None:
            if self.mime_type.startswith("text/"):
                _ = self.charset
            elif not self._decoded:
                self.get_content()
            if not self.mime_type.startswith(("text/", "image/")):
                from mimekit._derived import derived_attachments, part_report

                part_report(self)  # their defects belong to this part
                derived_attachments(self)

    @property
    def own_defects(self) -> list[Defect]:
        """Defects of this part alone, with its section id filled in."""
        return self.defects_as(self.id)

    @property
    def defects(self) -> list[Defect]:
        """Defects of this part (for a :class:`Message`: of the whole tree)."""
        return self.own_defects

    def walk_ids(self) -> Iterator[tuple[Part, str]]:
        """Like :meth:`walk`, with each part's section id (computed top-down, cheaply)."""
        stack: list[tuple[Part, str]] = [(self, self.id)]
        while stack:
            part, pid = stack.pop()
            yield part, pid
            embedded = part.message if part._children is None else None
            if embedded is not None:
                stack.append((embedded, pid))
            elif part._children:
                prefix = pid + "." if pid else ""
                n = len(part._children)
                for i in range(n - 1, -1, -1):
                    stack.append((part._children[i], f"{prefix}{i + 1}"))

    # -- output -----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The part serialized: raw pieces where untouched, regenerated where edited."""
        from mimekit import generator

        return generator.to_bytes(self)

    def write(self, stream: IO[bytes]) -> None:
        """Write the serialized part to a binary stream, chunk by chunk."""
        from mimekit import generator

        generator.write(self, stream)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id or 'root'} {self.mime_type}>"


# Message lives in its own module to keep each file small; it is part of this module's
# API (``from mimekit.model import Message``). Imported last: it subclasses Part.
from mimekit._message import Message
