"""The :class:`Message` class: a root :class:`~mimekit.model.Part` with typed accessors.

Re-exported by :mod:`mimekit.model` (import it from there). The accessors read RFC 5322
§3.6 fields lazily through :mod:`mimekit.address` and :mod:`mimekit.dates`, recording
each header's defects once; ``text``/``html``/``attachments`` follow what a mail client
shows (see :attr:`mimekit.model.Part.is_attachment`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mimekit.errors import Defect
from mimekit.headers import Header
from mimekit.model import Part

if TYPE_CHECKING:  # pragma: no cover
    from mimekit.address import Address, Group
    from mimekit.lint import LintIssue
    from mimekit.listheaders import ListHeaders
    from mimekit.received import Received
    from mimekit.reports import DeliveryStatus, DispositionNotification

__all__ = ["Message"]

T = TypeVar("T")


class Message(Part):
    """The root of a message (or of an embedded message/rfc822), with typed accessors
    for the RFC 5322 §3.6 fields."""

    # -- addresses, dates, ids ----------------------------------------------------------

    def _parsed(self, header: Header, what: str, compute: Callable[[list[Defect]], T]) -> T:
        """``compute`` applied to one header, once per Header object.

        Headers are immutable values (an edit puts a new object in place), so the
        summary and the defect collection that ask for the same field again pay once;
        the cache holds the Header itself, so an id is never reused while cached.
        """
        cache: dict[tuple[int, str], tuple[Header, Any]] = \
            self.__dict__.setdefault("_value_cache", {})
        hit = cache.get((id(header), what))
        if hit is not None and hit[0] is header:
            return cast(T, hit[1])
        defects: list[Defect] = []
        value = compute(defects)
        cache[(id(header), what)] = (header, value)
        self._record_header(header, what, defects)
        return value

    def _headers_changed(self) -> None:
        """Also drop the cached readings of fields no longer in the message (the cache
        would otherwise keep every field ever read alive)."""
        cache: dict[tuple[int, str], tuple[Header, Any]] | None = self.__dict__.get("_value_cache")
        if cache:
            present = {id(h) for h in self._headers._items}  # alive: an id match is that field
            self.__dict__["_value_cache"] = {
                k: v for k, v in cache.items() if id(v[0]) in present}
        super()._headers_changed()

    def _addresses(self, name: str) -> list[Address | Group]:
        from mimekit.address import parse_address_list

        def compute(header: Header) -> Callable[[list[Defect]], tuple[Address | Group, ...]]:
            def run(defects: list[Defect]) -> tuple[Address | Group, ...]:
                try:
                    return tuple(parse_address_list(header.unfolded, defects))
                except Exception as exc:  # noqa: BLE001 - lenient
                    defects.append(Defect("MalformedAddress", str(exc)))
                    return ()
            return run

        result: list[Address | Group] = []
        for header in self._headers.get_headers(name):
            result.extend(self._parsed(header, "addr", compute(header)))
        return result

    @property
    def subject(self) -> str | None:
        """The Subject, unfolded and RFC 2047 decoded."""
        header = self._headers.get_header("subject")
        if header is None:
            return None
        self._ensure_header_defects(header)
        return header.value

    @property
    def from_(self) -> list[Address | Group]:
        """From (RFC 5322 §3.6.2), ``[]`` when absent."""
        return self._addresses("from")

    @property
    def sender(self) -> list[Address | Group]:
        """Sender, ``[]`` when absent."""
        return self._addresses("sender")

    @property
    def reply_to(self) -> list[Address | Group]:
        """Reply-To, ``[]`` when absent."""
        return self._addresses("reply-to")

    @property
    def to(self) -> list[Address | Group]:
        """To (every To field joined), ``[]`` when absent."""
        return self._addresses("to")

    @property
    def cc(self) -> list[Address | Group]:
        """Cc, ``[]`` when absent."""
        return self._addresses("cc")

    @property
    def bcc(self) -> list[Address | Group]:
        """Bcc, ``[]`` when absent."""
        return self._addresses("bcc")

    @property
    def date(self) -> datetime | None:
        """The Date as an aware datetime (RFC 5322 §3.3), None if absent or unparseable."""
        header = self._headers.get_header("date")
        if header is None:
            return None
        from mimekit.dates import parse_date

        def run(defects: list[Defect]) -> datetime | None:
            try:
                return parse_date(header.unfolded, defects)
            except Exception as exc:  # noqa: BLE001 - lenient
                defects.append(Defect("InvalidDate", str(exc)))
                return None

        return self._parsed(header, "date", run)

    def _msgids(self, name: str) -> list[str]:
        from mimekit.dates import parse_msgid_list

        def compute(header: Header) -> Callable[[list[Defect]], tuple[str, ...]]:
            def run(defects: list[Defect]) -> tuple[str, ...]:
                try:
                    return tuple(parse_msgid_list(header.unfolded, defects))
                except Exception as exc:  # noqa: BLE001 - lenient
                    defects.append(Defect("InvalidMessageID", str(exc)))
                    return ()
            return run

        result: list[str] = []
        for header in self._headers.get_headers(name):
            result.extend(self._parsed(header, "msgid", compute(header)))
        return result

    @property
    def message_id(self) -> str | None:
        """The Message-ID without angle brackets, or None."""
        header = self._headers.get_header("message-id")
        if header is None:
            return None
        ids = self._msgids("message-id")
        return ids[0] if ids else None

    @property
    def in_reply_to(self) -> list[str]:
        """In-Reply-To message ids, without angle brackets."""
        return self._msgids("in-reply-to")

    @property
    def references(self) -> list[str]:
        """References message ids, without angle brackets."""
        return self._msgids("references")

    # -- trace and list fields (RFC 5321 §4.4, RFC 2369, RFC 2919) -------------------------

    @property
    def received(self) -> list[Received]:
        """Every Received field parsed (:func:`mimekit.received.parse_received`), in
        header order: the first is the most recent hop (RFC 5321 §4.4 prepends)."""
        from mimekit.received import parse_received

        return [parse_received(h.unfolded) for h in self._headers.get_headers("received")]

    @property
    def list_headers(self) -> ListHeaders | None:
        """List-Id and the RFC 2369 List-* URLs (:mod:`mimekit.listheaders`), or None
        when the message has no list field."""
        from mimekit.listheaders import list_headers

        return list_headers(self._headers)

    # -- bodies -------------------------------------------------------------------------

    def _find_body(self, mime: str) -> Part | None:
        # What a client shows: look through mixed, related and alternative multiparts
        # (not into attached messages) for the first non-attachment leaf of that type.
        stack: list[Part] = [self]
        while stack:
            part = stack.pop()
            if part._children is not None:
                stack.extend(reversed(part._children))
                continue
            if part._message is not None and part is not self:
                continue
            if part.mime_type == mime and not part.is_attachment:
                return part
        return None

    @property
    def text_part(self) -> Part | None:
        """The part :attr:`text` comes from."""
        return self._find_body("text/plain")

    @property
    def html_part(self) -> Part | None:
        """The part :attr:`html` comes from."""
        return self._find_body("text/html")

    @property
    def text(self) -> str | None:
        """The plain-text body a mail client would show, or None; ``"\n"`` line breaks
        (see :meth:`Part.get_text`)."""
        part = self.text_part
        return part.get_text() if part is not None else None

    @property
    def html(self) -> str | None:
        """The HTML body a mail client would show, or None; ``"\n"`` line breaks
        (see :meth:`Part.get_text`)."""
        part = self.html_part
        return part.get_text() if part is not None else None

    @property
    def attachments(self) -> list[Part]:
        """Every attachment (see :attr:`Part.is_attachment`), in order, not looking
        inside attached messages. Files found inside a part follow that part as
        :class:`mimekit._derived.DerivedPart` values (``source`` ``"tnef"``: the
        contents of a ``winmail.dat``; ``"uuencode"``: ``begin 644`` blocks of a
        text/plain body); the part itself stays as it is."""
        from mimekit._derived import derived_attachments

        found: list[Part] = []
        stack: list[Part] = [self]
        while stack:
            part = stack.pop()
            if part._children is not None:
                stack.extend(reversed(part._children))
                continue
            if part.is_attachment:
                found.append(part)
            if part._message is None:
                found.extend(derived_attachments(part))
        return found

    def _first_report(self, kind: str) -> Any:
        for part in self.walk():
            if part._children is None and part.mime_type.startswith("message/"):
                value = part.report
                if value is not None and type(value).__name__ == kind:
                    return value
        return None

    @property
    def delivery_status(self) -> DeliveryStatus | None:
        """The first message/delivery-status report in the tree (RFC 3464), or None."""
        value: DeliveryStatus | None = self._first_report("DeliveryStatus")
        return value

    @property
    def disposition_notification(self) -> DispositionNotification | None:
        """The first message/disposition-notification in the tree (RFC 8098), or None."""
        value: DispositionNotification | None = self._first_report("DispositionNotification")
        return value

    # -- defects and output ---------------------------------------------------------------

    def _analyze(self) -> None:
        self._analyze_message()
        super()._analyze()

    def _analyze_message(self) -> None:
        _ = self.subject
        for name in ("from", "sender", "reply-to", "to", "cc", "bcc"):
            self._addresses(name)
        _ = self.date
        for name in ("message-id", "in-reply-to", "references"):
            self._msgids(name)

    @property
    def all_defects(self) -> list[Defect]:
        """Every defect of the whole tree, embedded messages included, in tree order."""
        result: list[Defect] = []
        for part, pid in self.walk_ids():
            result.extend(part.defects_as(pid))
        return result

    @property
    def defects(self) -> list[Defect]:
        """Every defect of the whole tree (see :attr:`all_defects`)."""
        return self.all_defects

    def to_bytes(
        self, *, exclude_headers: Sequence[str] = (), strip_prefix: bool = False
    ) -> bytes:
        """The message serialized; ``exclude_headers`` names root headers to leave out
        (e.g. ``("bcc", "resent-bcc")``), everything else byte-identical.
        ``strip_prefix`` also leaves out an mbox ``From `` line or byte order mark that
        preceded the headers in the input (see :attr:`prefix`): use it for the wire."""
        from mimekit import generator

        return generator.to_bytes(
            self, exclude_headers=exclude_headers, strip_prefix=strip_prefix
        )

    @property
    def prefix(self) -> bytes | None:
        """Raw bytes the input had before the header block (an mbox ``From `` envelope
        line, a UTF-8 byte order mark, stray white-space lines), kept for round trips."""
        return self._prefix

    def to_dict(self) -> dict[str, Any]:
        """The ``inspect --json`` object (see docs: inspect-json contract)."""
        from mimekit.summary import message_to_dict

        return message_to_dict(self)

    def lint(self) -> list[LintIssue]:
        """What would break in real mail clients, each with a hint (see :mod:`mimekit.lint`)."""
        from mimekit.lint import lint

        return lint(self)
