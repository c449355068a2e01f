"""Header fields and the ordered, case-insensitive header container.

A :class:`Header` keeps the field exactly as it was on the wire (``raw``: name, colon,
folded value and line ending) so that an untouched header is written back byte for
byte; its value is unfolded and decoded only when somebody asks (lazily, then cached).
:class:`Headers` is the mutable multi-map a part owns; every mutation calls
``on_change`` so the owning part can drop what it derived from the old headers.

Formatting of new fields (folding, RFC 2047) lives in :mod:`mimekit.folding`,
imported lazily by :meth:`Header.create`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

import attrs

from mimekit.codecs import _has_long_line
from mimekit.errors import Defect, HeaderInjectionError
from mimekit.policy import DEFAULT, Policy

__all__ = ["Header", "Headers", "unfold"]

# RFC 5322 §2.2: a field name is 1*ftext, printable US-ASCII except colon.
_FIELD_NAME = re.compile(rb"[!-9;-~]+\Z")
# RFC 5322 §2.2.3: unfolding removes a CRLF that is immediately followed by WSP.
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
# Any other line break left inside a field (a junk line the parser attached to the
# preceding field) becomes one space so words do not run together.
_OTHER_BREAK = re.compile(rb"\r?\n")
# mimekit.folding.format_header, imported on first use by Header.create.
_format_header: Callable[[str, object, Policy], bytes] | None = None


# A line break inside a field that is not a fold (CRLF/LF + WSP), a bare CR, or NUL.
_BAD_BREAK = re.compile(rb"\r(?!\n)|\n(?![ \t])|\x00")


def _check_field(header: Header) -> Header:
    """Refuse a caller-built :class:`Header` whose raw bytes are not exactly one field.

    RFC 5322 §2.2: a field ends with its one CRLF; any other line break inside it must
    be a fold (followed by WSP). A raw value with a bare line break (or without its
    final line ending, which would glue the next field onto it) would put a second
    header line on the wire, so it raises :class:`HeaderInjectionError`; a line over
    998 octets (RFC 5322 §2.1.1) raises :class:`~mimekit.errors.EncodingError`.
    """
    raw = header.raw
    body = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
    if not raw.endswith(b"\n") or _BAD_BREAK.search(body):
        raise HeaderInjectionError(f"raw bytes of {header.name!r} are not exactly one header field")
    if len(raw) > 1000 and _has_long_line(body):
        from mimekit.errors import EncodingError

        # RFC 5322 §2.1.1: a line is at most 998 octets, whatever built it.
        raise EncodingError(f"raw bytes of {header.name!r} have a line over 998 octets: "
                            "fold them, or give the value as text so it is folded for you")
    colon = raw.find(b":")
    if colon < 0 or not _FIELD_NAME.match(raw[:colon].rstrip(b" \t")):
        raise HeaderInjectionError(f"raw bytes of {header.name!r} do not start with a field name")
    # The name filters work on (exclude_headers drops Bcc by name) must be the name on
    # the wire: Header("X-Note", b"Bcc: ...") would otherwise slip a Bcc through.
    if raw[:colon].rstrip(b" \t").decode("latin-1").lower() != header.name.lower():
        raise HeaderInjectionError(
            f"raw bytes name another field than {header.name!r}: "
            f"{raw[:colon].decode('latin-1')!r}")
    return header


def unfold(raw_value: bytes) -> bytes:
    """Unfold a raw field body (RFC 5322 §2.2.3) and strip the final line ending."""
    if raw_value.endswith(b"\n"):
        raw_value = raw_value[:-2] if raw_value.endswith(b"\r\n") else raw_value[:-1]
    if b"\n" not in raw_value:
        return raw_value
    return _OTHER_BREAK.sub(b" ", _FOLD.sub(b"", raw_value))


def _bytes_to_text(data: bytes) -> str:
    """Header bytes as text: ASCII fast path, then UTF-8 (RFC 6532 §3.3), else
    windows-1252 (what browsers and mail clients read undeclared 8-bit text as; bytes it
    leaves undefined fall back to Latin-1).

    A value that is mostly UTF-8 but holds a broken sequence (a mailer cut a long
    value in the middle of a character) keeps its UTF-8 characters; only the broken
    bytes become U+FFFD, instead of the whole value turning into mojibake.
    """
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", "replace")
    bad = lenient.count("\ufffd")
    good = sum(1 for ch in lenient if ord(ch) > 0x7F) - bad
    if good > bad:
        return lenient
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _replaced(raw: bytes) -> bool:
    """Whether :func:`_bytes_to_text` put U+FFFD for bytes of ``raw`` (only its lenient
    UTF-8 reading does: windows-1252 and Latin-1 never produce it)."""
    try:
        unfold(raw).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _undecodable(name: str, where: str = "") -> Defect:
    return Defect("UndecodableHeaderBytes",
                  f"undecodable bytes in {where}the {name} field replaced by U+FFFD")


@attrs.frozen(eq=False)
class Header:
    """One header field as on the wire.

    ``name`` is the field name as written (case kept); ``raw`` the complete field:
    name, colon, folded value and its line ending. Two headers compare equal when their
    raw bytes are equal.
    """

    name: str
    raw: bytes
    # (decoded value, defects) once decoded; set through object.__setattr__ (frozen).
    _cache: tuple[str, tuple[Defect, ...]] | None = attrs.field(default=None, init=False, repr=False)
    _unfolded: str | None = attrs.field(default=None, init=False, repr=False, eq=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Header):
            return NotImplemented
        return self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    @classmethod
    def parse(cls, raw: bytes) -> Header:
        """A header from its raw bytes (``Name: value`` plus line ending).

        Lenient: white space before the colon is tolerated; without a colon the whole
        line is taken as the name (the parser never builds such a header).
        """
        colon = raw.find(b":")
        head = raw if colon < 0 else raw[:colon]
        return cls(head.strip(b" \t\r\n").decode("latin-1"), raw)

    @classmethod
    def create(cls, name: str, value: object, policy: Policy = DEFAULT) -> Header:
        """A new, folded header (``policy.linesep`` endings) from a caller's value.

        Raises :class:`~mimekit.errors.HeaderInjectionError` when the name is not a valid
        field name or a text value holds CR, LF or NUL (RFC 5322 §2.2: a field body has no
        CR/LF, so such data could only smuggle in another header).
        """
        global _format_header  # resolved once, lazily
        if _format_header is None:
            # Lazy: folding imports address, dates and params, which parsing alone
            # does not need.
            from mimekit.folding import format_header

            _format_header = format_header
        # format_header validates the name and the value (HeaderInjectionError).
        return cls(name, _format_header(name, value, policy))

    @property
    def raw_value(self) -> bytes:
        """The raw bytes after the colon (folded, with the final line ending)."""
        colon = self.raw.find(b":")
        return b"" if colon < 0 else self.raw[colon + 1 :]

    @property
    def unfolded(self) -> str:
        """The field body unfolded, stripped of surrounding white space, not RFC 2047
        decoded (what structured parsers such as addresses and parameters want); cached."""
        text = self._unfolded
        if text is None:
            text = _bytes_to_text(unfold(self.raw_value)).strip(" \t")
            object.__setattr__(self, "_unfolded", text)
        return text

    @property
    def value(self) -> str:
        """The field body for people: unfolded and RFC 2047 decoded (cached)."""
        return self.decode()[0]

    @property
    def value_defects(self) -> tuple[Defect, ...]:
        """Defects found while decoding :attr:`value` (decodes if needed)."""
        return self.decode()[1]

    def decode(self) -> tuple[str, tuple[Defect, ...]]:
        """(decoded value, defects), computed once and cached on the header.

        The value is the decoded text exactly: a bare CR in the field and a CR/LF that
        an encoded word decodes to are kept (each with a defect), and every path that
        writes a header refuses them (:class:`~mimekit.errors.HeaderInjectionError`).
        """
        if self._cache is not None:
            return self._cache
        text = self.unfolded
        defects: list[Defect] = []
        raw = self.raw
        cr = raw.find(b"\r")  # usually -1 or the final CRLF's: no counting then
        if cr >= 0 and (cr != len(raw) - 2 or raw[-1] != 10) and \
                raw.count(b"\r") != raw.count(b"\r\n"):
            # RFC 5322 §2.2 (a field body holds no CR or LF) and §2.3 (CR and LF occur
            # only together, as CRLF). Some readers end the line at a bare CR, others do
            # not: "Subject: x\rBcc: y" is one field here but two there. Kept in the
            # value as sent (see above), flagged.
            defects.append(Defect("BareCarriageReturn", f"bare CR in the {self.name} field "
                                  "(RFC 5322 §2.2, §2.3: CR only in CRLF)"))
        if "\ufffd" in text and _replaced(self.raw_value):
            defects.append(_undecodable(self.name))
        if "=?" in text:
            from mimekit.encoded_words import decode_header_text

            found: list[Defect] = []
            try:
                text = decode_header_text(text, found)
            except Exception as exc:  # noqa: BLE001 - lenient: never raise on bad input
                found.append(Defect("UndecodableHeader", f"cannot decode: {exc}"))
            defects.extend(d for d in found if d.kind != "UndecodableHeaderBytes")
            if any(d.kind == "UndecodableHeaderBytes" for d in found):  # once, naming it
                defects.append(_undecodable(self.name, "an encoded word of "))
            if "\r" in text or "\n" in text:
                # RFC 2047 §5: "Only printable and white space character data should be
                # encoded", and readers should make sure decoded data causes no unwanted
                # side effects. The value stays the decoded text as sent (the API's
                # promise; Header.create, Headers.set and the builder refuse CR/LF, so
                # it cannot become a second header line there), flagged for callers
                # that write it elsewhere (a log line, another protocol).
                defects.append(Defect("LineBreakInEncodedWord", f"an encoded word in the "
                                      f"{self.name} field decodes to CR or LF"))
        result = tuple(attrs.evolve(d, header=self.name) if d.header is None else d for d in defects)
        object.__setattr__(self, "_cache", (text, result))
        return text, result


def _fold_line(line: bytes, limit: int) -> list[bytes] | None:
    """``line`` cut before white space into pieces of at most ``limit`` octets, each
    piece after the first starting with that white space (RFC 5322 §2.2.3 folding);
    None when some stretch longer than ``limit`` holds no white space to cut at."""
    pieces: list[bytes] = []
    while len(line) > limit:
        cut = max(line.rfind(b" ", 1, limit + 1), line.rfind(b"\t", 1, limit + 1))
        # never a piece that is only white space (RFC 5322 §3.2.2: no all-WSP line)
        if cut <= 0 or not line[:cut].strip(b" \t") or not line[cut:].strip(b" \t"):
            return None
        pieces.append(line[:cut])
        line = line[cut:]
    pieces.append(line)
    return pieces


class Headers:
    """Ordered, case-insensitive multi-map of :class:`Header` (RFC 5322 §3.6 order kept).

    Lookups return decoded values (:attr:`Header.value`); ``get_header`` gives the
    :class:`Header` itself. Every mutation calls ``on_change()``.
    """

    __slots__ = ("_items", "_keys", "on_change")

    def __init__(
        self,
        items: Iterable[Header | tuple[str, object]] = (),
        *,
        on_change: Callable[[], None] | None = None,
        policy: Policy = DEFAULT,
    ) -> None:
        self._items: list[Header] = []
        self._keys: list[str] = []
        self.on_change = on_change
        for item in items:
            if isinstance(item, Header):
                header = _check_field(item)
            else:
                header = Header.create(item[0], item[1], policy)
            self._items.append(header)
            self._keys.append(header.name.lower())

    @classmethod
    def _from_parsed(cls, items: list[Header], keys: list[str]) -> Headers:
        """Fast constructor for the parser (no validation, lists taken over)."""
        self = cls.__new__(cls)
        self._items = items
        self._keys = keys
        self.on_change = None
        return self

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def __repr__(self) -> str:
        return f"Headers({[h.name for h in self._items]!r})"

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Header]:
        return iter(list(self._items))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._keys

    def __getitem__(self, name: str) -> str:
        header = self.get_header(name)
        if header is None:
            raise KeyError(name)
        return header.value

    def get(self, name: str, default: str | None = None) -> str | None:
        """Decoded value of the first field called ``name``, else ``default``."""
        header = self.get_header(name)
        return default if header is None else header.value

    def get_all(self, name: str) -> list[str]:
        """Decoded values of every field called ``name``, in order."""
        return [h.value for h in self.get_headers(name)]

    def get_header(self, name: str) -> Header | None:
        """The first :class:`Header` called ``name`` (any case), or None."""
        key = name.lower()
        try:
            return self._items[self._keys.index(key)]
        except ValueError:
            return None

    def get_headers(self, name: str) -> list[Header]:
        """Every :class:`Header` called ``name``, in order."""
        key = name.lower()
        return [h for h, k in zip(self._items, self._keys) if k == key]

    def items(self) -> list[tuple[str, str]]:
        """(name as written, decoded value) pairs in order."""
        return [(h.name, h.value) for h in self._items]

    def to_bytes(self) -> bytes:
        """The header block as raw bytes (without the blank separator line)."""
        return b"".join(h.raw for h in self._items)

    # -- mutation ---------------------------------------------------------------------

    def append_header(self, header: Header) -> None:
        """Append an existing :class:`Header` object as is (it must be exactly one
        field: :class:`HeaderInjectionError` otherwise)."""
        _check_field(header)
        self._append(header)

    def _append(self, header: Header) -> None:
        self._items.append(header)
        self._keys.append(header.name.lower())
        self._changed()

    def add(self, name: str, value: object, policy: Policy = DEFAULT) -> None:
        """Append a new field (formatted and validated by :meth:`Header.create`)."""
        if isinstance(value, Header):
            self.append_header(value)
        else:
            # format_header already verified its output is exactly one field.
            self._append(Header.create(name, value, policy))

    def set(self, name: str, value: object, policy: Policy = DEFAULT) -> None:
        """Replace the first field called ``name`` in place and drop the others, or append."""
        if isinstance(value, Header):
            header = _check_field(value)
        else:
            header = Header.create(name, value, policy)
        key = name.lower()
        indexes = [i for i, k in enumerate(self._keys) if k == key]
        if not indexes:
            self.append_header(header)
            return
        self._items[indexes[0]] = header
        self._keys[indexes[0]] = header.name.lower()
        for i in reversed(indexes[1:]):
            del self._items[i]
            del self._keys[i]
        self._changed()

    def replace(self, name: str, value: object, policy: Policy = DEFAULT) -> None:
        """Like :meth:`set` but raises KeyError when no field called ``name`` exists."""
        if name.lower() not in self._keys:
            raise KeyError(name)
        self.set(name, value, policy)

    def fold_long_lines(self, limit: int = 998) -> bool:
        """Fold every physical line longer than ``limit`` octets at white space, in
        place, the way RFC 5322 §2.2.3 allows (a CRLF put before a space or tab: the
        unfolded value stays the same), so the fields fit §2.1.1's 998-octet limit.
        Other fields keep their bytes. False when some line has no white space to fold
        at (a single word over the limit): that field is left as it was."""
        ok = True
        changed = False
        for i, header in enumerate(self._items):
            # the field's own line ending (CRLF on the wire, LF with such a policy)
            sep = b"\r\n" if b"\r\n" in header.raw else b"\n"
            lines = header.raw.split(sep)
            if all(len(line) <= limit for line in lines):
                continue
            folded = [_fold_line(line, limit) for line in lines]
            if any(f is None for f in folded):
                ok = False
                continue
            self._items[i] = Header(header.name, sep.join(
                sep.join(f) for f in folded if f is not None))
            changed = True
        if changed:
            self._changed()
        return ok

    def remove(self, name: str) -> int:
        """Remove every field called ``name``; return how many were removed."""
        key = name.lower()
        keep = [(h, k) for h, k in zip(self._items, self._keys) if k != key]
        removed = len(self._items) - len(keep)
        if removed:
            self._items = [h for h, _ in keep]
            self._keys = [k for _, k in keep]
            self._changed()
        return removed
