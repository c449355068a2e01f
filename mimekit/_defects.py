"""Defect bookkeeping of a :class:`~mimekit.model.Part`: what is recorded, once, and where.

A part's defects come from three places: the parser (the structure of the input, at
parse time), lazy readings of its header fields (a value's encoded words, Content-Type
parameters, an address list, a date) and its body (transfer decoding, charset). This
module keeps that list for :class:`~mimekit.model.Part` (a base class of it, so the
names stay ``Part`` methods).

A reading of a header field is recorded once per :class:`~mimekit.headers.Header`
*object* and stays tied to it: when an edit takes the field out of the part, its defects
go with it, and a field put in its place (even one with the same bytes) is checked
afresh. The bookkeeping holds the Header objects themselves, never a bare ``id()``: an id
is reused once its object is garbage collected, so a set of ids would take a new field
for one already checked (its defects never reported) after enough edits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mimekit.errors import Defect, ParseError

if TYPE_CHECKING:  # pragma: no cover
    from mimekit.headers import Header, Headers
    from mimekit.policy import Policy

__all__ = ["DefectLog"]


class DefectLog:
    """The defect list of one part, with each header-derived defect tied to its field.

    Subclassed by :class:`~mimekit.model.Part`, which provides the attributes declared
    here and :meth:`_analyze` (decode everything once, so the list is complete).
    """

    policy: Policy
    _headers: Headers
    _defects: list[Defect]
    _hbase: int | None
    _hdirty: bool
    # Index in _defects -> the Header whose reading found it (absent: a parse or body
    # defect). Class-level None: most parts never record a header defect.
    _defect_src: dict[int, Header] | None = None
    # (id(header), reading) -> that Header: readings whose defects are recorded (a
    # reading that found none needs no entry). Holding the Header keeps its id from
    # being reused while the entry exists.
    _checked: dict[tuple[int, str], Header] | None = None
    _hoff_map: dict[int, int] | None = None  # id(Header) -> input offset (current fields)

    def _analyze(self) -> None:
        """Decode everything of the part once (see :meth:`mimekit.model.Part._analyze`)."""

    # -- recording ----------------------------------------------------------------------

    def _record(self, defect: Defect) -> None:
        """Record a defect found lazily; a strict policy raises instead."""
        if self.policy.strict:
            raise ParseError(defect.detail, defect=defect)
        self._defects.append(defect)

    def _record_all(
        self, defects: Iterable[Defect], header: Header | None, offset: int | None = None
    ) -> None:
        """Record defects found decoding ``header`` (at its input offset, and tied to it:
        they leave with it) or the body (at ``offset``)."""
        if header is not None:
            offset = self._header_offset(header)
        for d in defects:
            name = d.header if d.header is not None else (header.name if header else None)
            at = d.offset if d.offset is not None else offset
            self._record(Defect(d.kind, d.detail, header=name, offset=at))
            if header is not None:
                src = self._defect_src
                if src is None:
                    src = self._defect_src = {}
                src[len(self._defects) - 1] = header

    def _record_header(self, header: Header, reading: str, defects: Sequence[Defect]) -> None:
        """Record what one ``reading`` (``"value"``, ``"content-type"``, ``"addr"``...)
        of ``header`` found, once per Header object however often it is read again."""
        if not defects:
            return  # nothing to record, nothing to remember (the common case: no dict)
        checked = self._checked
        if checked is None:
            checked = self._checked = {}
        key = (id(header), reading)
        if checked.get(key) is header:
            return
        checked[key] = header  # before recording: a strict policy raises only once
        self._record_all(defects, header)

    def _ensure_header_defects(self, header: Header) -> None:
        """Record the defects of decoding ``header``'s value (RFC 2047 words), once
        (the decoded value and its defects are cached on the Header itself)."""
        self._record_header(header, "value", header.decode()[1])

    def _forget_absent_headers(self, present: set[int]) -> None:
        """After a header edit: drop the defects and readings of fields no longer in the
        part (``present``: the ids of the current fields, all alive, so an id match is
        the same object)."""
        checked = self._checked
        if checked:
            self._checked = {k: h for k, h in checked.items() if id(h) in present}
        src = self._defect_src
        if src and any(id(h) not in present for h in src.values()):
            kept: list[Defect] = []
            new_src: dict[int, Header] = {}
            for i, d in enumerate(self._defects):
                h = src.get(i)
                if h is not None:
                    if id(h) not in present:
                        continue
                    new_src[len(kept)] = h
                kept.append(d)
            self._defects = kept
            self._defect_src = new_src

    # -- where ----------------------------------------------------------------------------

    def header_offsets(self) -> list[int] | None:
        """Input byte offset of each header field, while the headers are as parsed
        (the block is the fields' raw bytes back to back), else None."""
        if self._hbase is None or self._hdirty:
            return None
        offsets = []
        pos = self._hbase
        for h in self._headers._items:
            offsets.append(pos)
            pos += len(h.raw)
        return offsets

    def _header_offset(self, header: Header) -> int | None:
        # One id -> offset map per part, so many header defects stay linear. It lists
        # the current fields only and is dropped on any header edit; those fields are
        # alive while it exists, so an id found in it is that field.
        table = self._hoff_map
        if table is None:
            offsets = self.header_offsets()
            if offsets is None:
                return None
            table = {id(h): off for h, off in zip(self._headers._items, offsets)}
            self._hoff_map = table
        return table.get(id(header))

    # -- reading ------------------------------------------------------------------------

    def defects_as(self, pid: str) -> list[Defect]:
        """Defects of this part alone, labelled with section id ``pid`` (decodes what it
        must so the list is complete)."""
        self._analyze()
        # The same problem reached through two accessors (a header value and the file
        # name read from it) is reported once.
        unique = list(dict.fromkeys(self._defects))
        return [d if d.part == pid else _with_part(d, pid) for d in unique]


def _with_part(defect: Defect, pid: str) -> Defect:
    return Defect(defect.kind, defect.detail, part=pid, header=defect.header, offset=defect.offset)
