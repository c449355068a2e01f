"""TNEF (``application/ms-tnef``, ``winmail.dat``) reader.

Outlook and Exchange wrap a message's rich content and attachments in a TNEF stream
(MS-OXTNEF) and send it as one opaque attachment; recipients without Outlook see only
``winmail.dat``.  :func:`parse_tnef` opens that stream: attachments with their real file
names, data and MIME types, the subject, the plain body, the RTF body (decompressed from
LZFu, MS-OXRTFCP) and the HTML body when present, and embedded messages recursively.

A pure function over bytes with no dependency on the message model, and *bounded*: every
length read from the stream is checked against the bytes that remain before anything is
sliced or allocated, counts of MAPI properties and values are checked against what could
possibly fit, embedded messages nest at most :data:`MAX_DEPTH` deep.  A hostile stream
costs time linear in its size and never raises; what was wrong is appended to
``defects`` as ``Defect("MalformedTnef", ...)`` (structure) or
``Defect("TnefChecksumMismatch", ...)`` (a bad attribute checksum; the data is kept).
"""

from __future__ import annotations

import codecs
import struct
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TypeAlias

import attrs

from mimekit.errors import Defect

__all__ = [
    "MapiProperty",
    "Tnef",
    "TnefAttachment",
    "TnefRecipient",
    "decompress_rtf",
    "looks_like_tnef",
    "parse_tnef",
]

# MS-OXTNEF §2.1.3 and the §3.1 sample: the stream starts with this little-endian dword,
# then a 16-bit key.
TNEF_SIGNATURE = 0x223E9F78
MAX_DEPTH = 8

# MS-OXTNEF §2.1.3: attribute levels (LVL_MESSAGE, LVL_ATTACHMENT).
LVL_MESSAGE = 0x01
LVL_ATTACHMENT = 0x02

# MS-OXTNEF §2.1.3: attribute ids (the low word of the attribute dword; the high word is
# the legacy attribute type, which some writers get wrong, so only the id is matched).
ATT_SUBJECT = 0x8004
ATT_DATE_SENT = 0x8005
ATT_MESSAGE_CLASS = 0x8008
ATT_BODY = 0x800C
ATT_ATTACH_DATA = 0x800F
ATT_ATTACH_TITLE = 0x8010
ATT_ATTACH_REND_DATA = 0x9002
ATT_MSG_PROPS = 0x9003
ATT_RECIP_TABLE = 0x9004
ATT_ATTACHMENT = 0x9005
ATT_OEM_CODEPAGE = 0x9007

# MS-OXPROPS property ids used here.
PR_MESSAGE_CLASS = 0x001A
PR_SUBJECT = 0x0037
PR_BODY = 0x1000
PR_RTF_COMPRESSED = 0x1009
PR_BODY_HTML = 0x1013
PR_RECIPIENT_TYPE = 0x0C15
PR_SENDER_NAME = 0x0C1A
PR_SENDER_EMAIL_ADDRESS = 0x0C1F
PR_INTERNET_MESSAGE_ID = 0x1035
PR_SENDER_SMTP_ADDRESS = 0x5D01
PR_DISPLAY_NAME = 0x3001
PR_ADDRTYPE = 0x3002
PR_EMAIL_ADDRESS = 0x3003
PR_SMTP_ADDRESS = 0x39FE
PR_ATTACH_DATA_OBJ = 0x3701  # also PR_ATTACH_DATA_BIN: same id, PtypBinary
PR_ATTACH_FILENAME = 0x3704
PR_ATTACH_METHOD = 0x3705
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_MIME_TAG = 0x370E
PR_ATTACH_CONTENT_ID = 0x3712
PR_INTERNET_CPID = 0x3FDE
ATTACH_EMBEDDED_MSG = 5
_RECIPIENT_KINDS = {1: "to", 2: "cc", 3: "bcc"}  # PidTagRecipientType (MS-OXOMSG)

# MS-OXCDATA §2.11.1: property types.  Fixed sizes as stored in TNEF (MS-OXTNEF §2.1.3,
# 2-byte values padded to 4).
PT_NULL, PT_SHORT, PT_LONG, PT_FLOAT, PT_DOUBLE = 0x1, 0x2, 0x3, 0x4, 0x5
PT_CURRENCY, PT_APPTIME, PT_ERROR, PT_BOOLEAN, PT_OBJECT = 0x6, 0x7, 0xA, 0xB, 0xD
PT_I8, PT_STRING8, PT_UNICODE, PT_SYSTIME, PT_CLSID, PT_BINARY = (
    0x14, 0x1E, 0x1F, 0x40, 0x48, 0x102)
MV_FLAG = 0x1000
_FIXED_SIZE = {
    PT_NULL: 4, PT_SHORT: 4, PT_LONG: 4, PT_FLOAT: 4, PT_ERROR: 4, PT_BOOLEAN: 4,
    PT_DOUBLE: 8, PT_CURRENCY: 8, PT_APPTIME: 8, PT_I8: 8, PT_SYSTIME: 8, PT_CLSID: 16,
}
_FIXED_FORMAT = {PT_SHORT: "<h", PT_LONG: "<i", PT_ERROR: "<I", PT_FLOAT: "<f", PT_DOUBLE: "<d",
                 PT_APPTIME: "<d", PT_I8: "<q", PT_CURRENCY: "<q"}
# Variable-size types; a PtypObject value starts with a 16-byte interface id (IID_IMessage
# for an embedded message, whose data is then a nested TNEF stream).
_VARIABLE = frozenset({PT_STRING8, PT_UNICODE, PT_BINARY, PT_OBJECT})

MapiValue: TypeAlias = int | float | bool | str | bytes | datetime | None


# ---------------------------------------------------------------------------------------
# Values


@attrs.frozen
class MapiProperty:
    """One encapsulated MAPI property (MS-OXTNEF §2.1.3) from attMsgProps/attAttachment.

    ``prop_id``/``prop_type`` come from the property tag; named properties (id >= 0x8000)
    also carry ``guid`` and ``name`` (a numeric id or a string).  ``values`` has one item
    for single-valued properties; strings are decoded, PtypTime is an aware datetime,
    PtypObject keeps its bytes after the 16-byte interface id.
    """

    prop_id: int
    prop_type: int
    values: tuple[MapiValue, ...]
    guid: bytes | None = None
    name: int | str | None = None

    @property
    def value(self) -> MapiValue:
        """The first (usually only) value, or None."""
        return self.values[0] if self.values else None

    @property
    def tag(self) -> int:
        """The 32-bit property tag, ``id << 16 | type``."""
        return (self.prop_id << 16) | self.prop_type


@attrs.frozen
class TnefAttachment:
    """A file (or embedded message) carried inside the TNEF stream.

    ``filename`` is the best name available: PR_ATTACH_LONG_FILENAME, then
    PR_ATTACH_FILENAME, then (embedded messages) PR_DISPLAY_NAME, then attAttachTitle,
    then PR_DISPLAY_NAME.  ``data`` is the file's
    bytes (for an embedded message, the raw nested TNEF stream, also parsed as
    ``embedded``).  ``mime_type`` is PR_ATTACH_MIME_TAG when the writer set it.
    """

    filename: str | None
    data: bytes
    mime_type: str | None = None
    content_id: str | None = None
    attach_method: int | None = None
    embedded: Tnef | None = None
    properties: tuple[MapiProperty, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (sizes, not bytes) for ``inspect --json``."""
        return {
            "filename": self.filename,
            "size": len(self.data),
            "mime_type": self.mime_type,
            "content_id": self.content_id,
            "attach_method": self.attach_method,
            "embedded": None if self.embedded is None else self.embedded.to_dict(),
        }


@attrs.frozen
class TnefRecipient:
    """One row of attRecipTable: display name, address (PR_SMTP_ADDRESS, else
    PR_EMAIL_ADDRESS, which for ``EX`` address types is an X.500 DN), address type and
    ``kind`` (``"to"``, ``"cc"``, ``"bcc"`` from PR_RECIPIENT_TYPE)."""

    name: str | None
    address: str | None
    address_type: str | None = None
    kind: str | None = None
    properties: tuple[MapiProperty, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready shape for ``inspect --json``."""
        return {"name": self.name, "address": self.address,
                "address_type": self.address_type, "kind": self.kind}


@attrs.frozen
class Tnef:
    """What a TNEF stream holds.

    ``body`` is the plain text (attBody or PR_BODY), ``rtf`` the decompressed RTF body
    (PR_RTF_COMPRESSED), ``html`` the raw HTML body bytes (PR_BODY_HTML; charset per
    ``internet_codepage``).  ``codepage`` is the attOemCodepage used to decode 8-bit
    strings.  ``properties`` are the message-level MAPI properties (attMsgProps);
    ``recipients`` the rows of attRecipTable (sent with meeting requests, mostly).
    """

    attachments: tuple[TnefAttachment, ...] = ()
    subject: str | None = None
    body: str | None = None
    message_class: str | None = None
    rtf: bytes | None = None
    html: bytes | None = None
    date_sent: datetime | None = None
    key: int = 0
    codepage: int | None = None
    internet_codepage: int | None = None
    properties: tuple[MapiProperty, ...] = ()
    recipients: tuple[TnefRecipient, ...] = ()

    def get_property(self, prop_id: int) -> MapiProperty | None:
        """The message-level MAPI property with this id, if present."""
        for prop in self.properties:
            if prop.prop_id == prop_id:
                return prop
        return None

    @property
    def sender(self) -> tuple[str | None, str | None] | None:
        """``(name, address)`` from PR_SENDER_NAME and PR_SENDER_SMTP_ADDRESS (else
        PR_SENDER_EMAIL_ADDRESS, an X.500 DN for Exchange senders); None if neither."""
        name = _str_prop(self.properties, PR_SENDER_NAME)
        address = (_str_prop(self.properties, PR_SENDER_SMTP_ADDRESS)
                   or _str_prop(self.properties, PR_SENDER_EMAIL_ADDRESS))
        return None if name is None and address is None else (name, address)

    @property
    def message_id(self) -> str | None:
        """PR_INTERNET_MESSAGE_ID as written (with angle brackets)."""
        return _str_prop(self.properties, PR_INTERNET_MESSAGE_ID)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary for ``inspect --json``."""
        return {
            "subject": self.subject,
            "sender": None if self.sender is None else list(self.sender),
            "message_id": self.message_id,
            "message_class": self.message_class,
            "date_sent": None if self.date_sent is None else self.date_sent.isoformat(),
            "body_chars": None if self.body is None else len(self.body),
            "rtf_bytes": None if self.rtf is None else len(self.rtf),
            "html_bytes": None if self.html is None else len(self.html),
            "codepage": self.codepage,
            "attachments": [a.to_dict() for a in self.attachments],
            "recipients": [r.to_dict() for r in self.recipients],
        }


# ---------------------------------------------------------------------------------------
# Helpers


def _defect(defects: list[Defect] | None, detail: str, kind: str = "MalformedTnef") -> None:
    if defects is not None:
        defects.append(Defect(kind, detail))


def _codec(codepage: int | None) -> str:
    """A Python codec for a Windows code page number, Windows-1252 when unknown."""
    if codepage == 65001:
        return "utf-8"
    for name in (f"cp{codepage}", f"windows-{codepage}"):
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    return "cp1252"


def _text8(raw: bytes, codec: str) -> str:
    """An 8-bit string attribute: cut at the first NUL (%x00, MS-OXTNEF §3.1), decoded."""
    raw = raw.split(b"\x00", 1)[0]
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _filetime(value: int) -> datetime | None:
    """PtypTime: 100 ns intervals since 1601-01-01 UTC (MS-OXCDATA §2.11.1)."""
    try:
        return datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def _att_date(raw: bytes) -> datetime | None:
    """atpDate: seven little-endian words, year..second then day of week (MS-OXTNEF §2.1.3)."""
    if len(raw) < 12:
        return None
    year, month, day, hour, minute, second = struct.unpack_from("<6H", raw)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


class _Reader:
    """A cursor over bytes whose reads never go past the end: each returns None instead."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, size: int) -> bytes | None:
        if size < 0 or size > self.remaining:
            return None
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def u16(self) -> int | None:
        raw = self.take(2)
        return None if raw is None else int.from_bytes(raw, "little")

    def u32(self) -> int | None:
        raw = self.take(4)
        return None if raw is None else int.from_bytes(raw, "little")


# ---------------------------------------------------------------------------------------
# MAPI properties (MS-OXTNEF §2.1.3, the attMAPIProps encoding)


def _fixed_value(ptype: int, raw: bytes) -> MapiValue:
    if ptype == PT_BOOLEAN:
        return bool(raw[0] | raw[1])
    if ptype == PT_SYSTIME:
        return _filetime(int.from_bytes(raw[:8], "little"))
    fmt = _FIXED_FORMAT.get(ptype)
    if fmt is None:
        return None if ptype == PT_NULL else bytes(raw)  # PT_CLSID: the 16 bytes
    value: MapiValue = struct.unpack_from(fmt, raw)[0]
    return value


def _variable_value(ptype: int, raw: bytes, codec: str) -> MapiValue:
    if ptype == PT_UNICODE:
        text = raw.decode("utf-16-le", "replace")
        return text.split("\x00", 1)[0]
    if ptype == PT_STRING8:
        return _text8(raw, codec)
    if ptype == PT_OBJECT:
        return bytes(raw[16:])  # after the interface identifier
    return bytes(raw)


def _parse_props(raw: bytes, codec: str, defects: list[Defect] | None,
                 where: str) -> list[MapiProperty]:
    """A counted list of encapsulated properties; stops (with a defect) at the first one
    that does not fit, keeping those before it."""
    return _read_props(_Reader(raw), codec, defects, where)[0]


def _read_props(r: _Reader, codec: str, defects: list[Defect] | None,
                where: str) -> tuple[list[MapiProperty], bool]:
    """The property list at the reader; the flag is False when it was cut short."""
    count = r.u32()
    if count is None:
        _defect(defects, f"{where}: property list without a count")
        return [], False
    clamped = count > r.remaining // 4  # a property needs at least its 4-byte tag
    if clamped:
        _defect(defects, f"{where}: property count {count} cannot fit in {r.remaining} bytes")
        count = r.remaining // 4
    props: list[MapiProperty] = []
    for index in range(count):
        if clamped and r.remaining == 0:
            break  # the bogus count was already reported
        prop = _parse_prop(r, codec, defects, where, index)
        if prop is None:
            return props, False
        props.append(prop)
    return props, not clamped


def _parse_recipients(raw: bytes, codec: str,
                      defects: list[Defect] | None) -> list[TnefRecipient]:
    """attRecipTable, "a counted list of counted lists" (MS-OXTNEF §2.1.3): a row count,
    then per row a property list as in attMsgProps."""
    r = _Reader(raw)
    rows = r.u32()
    if rows is None or rows > r.remaining // 4:
        _defect(defects, f"attRecipTable: row count {rows} does not fit")
        return []
    recipients: list[TnefRecipient] = []
    for index in range(rows):
        props, ok = _read_props(r, codec, defects, f"attRecipTable row {index}")
        kind = _prop(props, PR_RECIPIENT_TYPE)
        recipients.append(TnefRecipient(
            name=_str_prop(props, PR_DISPLAY_NAME),
            address=_str_prop(props, PR_SMTP_ADDRESS) or _str_prop(props, PR_EMAIL_ADDRESS),
            address_type=_str_prop(props, PR_ADDRTYPE),
            kind=_RECIPIENT_KINDS.get(kind) if isinstance(kind, int) else None,
            properties=tuple(props),
        ))
        if not ok:
            break
    return recipients


def _parse_prop(r: _Reader, codec: str, defects: list[Defect] | None, where: str,
                index: int) -> MapiProperty | None:
    ptype, pid = r.u16(), r.u16()
    if ptype is None or pid is None:
        _defect(defects, f"{where}: property {index} truncated")
        return None
    guid: bytes | None = None
    name: int | str | None = None
    if pid >= 0x8000:  # named property: GUID, kind, then id or length-prefixed UTF-16 name
        guid, kind = r.take(16), r.u32()
        if guid is None or kind is None:
            _defect(defects, f"{where}: named property {index} truncated")
            return None
        if kind == 0:
            name = r.u32()
        elif kind == 1:
            size = r.u32()
            raw_name = None if size is None else r.take(size)
            if raw_name is None or size is None or r.take(-size % 4) is None:
                _defect(defects, f"{where}: named property {index} name truncated")
                return None
            name = raw_name.decode("utf-16-le", "replace").split("\x00", 1)[0]
        else:
            _defect(defects, f"{where}: named property {index} has unknown kind {kind}")
            return None
        if name is None:
            _defect(defects, f"{where}: named property {index} truncated")
            return None
    base = ptype & ~MV_FLAG
    multi = bool(ptype & MV_FLAG)
    if base not in _FIXED_SIZE and base not in _VARIABLE:
        _defect(defects, f"{where}: property 0x{pid:04X} has unknown type 0x{ptype:04X}")
        return None
    nvalues: int | None = 1
    if multi or base in _VARIABLE:  # variable-size values are always counted
        nvalues = r.u32()
        if nvalues is None or nvalues > r.remaining // 4 + 1:
            _defect(defects, f"{where}: property 0x{pid:04X} value count does not fit")
            return None
    values: list[MapiValue] = []
    for _ in range(nvalues or 0):
        if base in _VARIABLE:
            size = r.u32()
            raw = None if size is None else r.take(size)
            if raw is None or size is None:
                _defect(defects, f"{where}: property 0x{pid:04X} value length runs past "
                        "the end")
                return None
            r.take(min(-size % 4, r.remaining))  # padding to a 4-byte boundary
            values.append(_variable_value(base, raw, codec))
        else:
            raw = r.take(_FIXED_SIZE[base])
            if raw is None:
                _defect(defects, f"{where}: property 0x{pid:04X} value truncated")
                return None
            values.append(_fixed_value(base, raw))
    return MapiProperty(prop_id=pid, prop_type=ptype, values=tuple(values), guid=guid,
                        name=name)


# ---------------------------------------------------------------------------------------
# Compressed RTF (MS-OXRTFCP)

# MS-OXRTFCP: the dictionary is primed with this 207-byte string.
_RTF_PREBUF = (
    b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss "
    b"\\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier"
    b"{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"
)
_MAGIC_COMPRESSED = 0x75465A4C  # "LZFu"
_MAGIC_UNCOMPRESSED = 0x414C454D  # "MELA"


def decompress_rtf(data: bytes, defects: list[Defect] | None = None) -> bytes | None:
    """Decompress a PR_RTF_COMPRESSED value (MS-OXRTFCP); None if unusable.

    Header: COMPSIZE (bytes after this field), RAWSIZE, COMPTYPE, CRC.  The
    output is bounded by the input (a 2-byte reference yields at most 17 bytes) and cut
    at RAWSIZE; a CRC mismatch is a defect, not a failure.
    """
    if len(data) < 16:
        _defect(defects, "compressed RTF shorter than its 16-byte header")
        return None
    comp_size, raw_size, magic, crc = struct.unpack_from("<4I", data)
    if magic == _MAGIC_UNCOMPRESSED:
        return bytes(data[16:16 + raw_size])
    if magic != _MAGIC_COMPRESSED:
        _defect(defects, f"compressed RTF has unknown type 0x{magic:08X}")
        return None
    end = 4 + comp_size
    if end > len(data) or end < 16:
        _defect(defects, "compressed RTF size runs past the end of the property")
        end = len(data)
    body = data[16:end]
    # MS-OXRTFCP CRC: CRC-32 (reflected 0xEDB88320) with initial value 0 and no final inversion.
    if zlib.crc32(body, 0xFFFFFFFF) ^ 0xFFFFFFFF != crc:
        _defect(defects, "compressed RTF CRC mismatch", kind="TnefChecksumMismatch")
    window = bytearray(4096)
    window[:len(_RTF_PREBUF)] = _RTF_PREBUF
    wpos = len(_RTF_PREBUF)
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        flags = body[i]
        i += 1
        for bit in range(8):
            if i >= n:
                break
            if flags & (1 << bit):
                if i + 1 >= n:
                    _defect(defects, "compressed RTF ends inside a reference")
                    return bytes(out[:raw_size])
                ref = (body[i] << 8) | body[i + 1]
                i += 2
                offset, length = ref >> 4, (ref & 0xF) + 2
                if offset == wpos:  # a reference to the write position ends it
                    return bytes(out[:raw_size])
                for k in range(length):
                    byte = window[(offset + k) & 0xFFF]
                    out.append(byte)
                    window[wpos] = byte
                    wpos = (wpos + 1) & 0xFFF
            else:
                byte = body[i]
                i += 1
                out.append(byte)
                window[wpos] = byte
                wpos = (wpos + 1) & 0xFFF
        if len(out) > raw_size:
            break
    return bytes(out[:raw_size])


# ---------------------------------------------------------------------------------------
# The attribute stream (MS-OXTNEF §2.1.3)


@attrs.define
class _AttachmentBuilder:
    title: str | None = None
    data: bytes | None = None
    props: list[MapiProperty] = attrs.Factory(list)


def _prop(props: Sequence[MapiProperty], prop_id: int) -> MapiValue:
    for prop in props:
        if prop.prop_id == prop_id:
            return prop.value
    return None


def _str_prop(props: Sequence[MapiProperty], prop_id: int) -> str | None:
    value = _prop(props, prop_id)
    return value if isinstance(value, str) and value else None


def _finish_attachment(b: _AttachmentBuilder, defects: list[Defect] | None,
                       depth: int) -> TnefAttachment:
    props = b.props
    method = _prop(props, PR_ATTACH_METHOD)
    attach_method = method if isinstance(method, int) and not isinstance(method, bool) else None
    display = _str_prop(props, PR_DISPLAY_NAME)
    # An embedded message's attAttachTitle is a placeholder ("Untitled Attachment"); its
    # display name is the embedded subject, a better label.
    filename = (_str_prop(props, PR_ATTACH_LONG_FILENAME) or _str_prop(props, PR_ATTACH_FILENAME)
                or (display if attach_method == ATTACH_EMBEDDED_MSG else None)
                or b.title or display)
    data = b.data or b""
    embedded: Tnef | None = None
    for prop in props:
        if prop.prop_id != PR_ATTACH_DATA_OBJ or not isinstance(prop.value, bytes):
            continue
        data = prop.value
        if (prop.prop_type & ~MV_FLAG) == PT_OBJECT and attach_method == ATTACH_EMBEDDED_MSG:
            if depth >= MAX_DEPTH:
                _defect(defects, f"embedded messages nested deeper than {MAX_DEPTH}")
            elif data[:4] == TNEF_SIGNATURE.to_bytes(4, "little"):
                embedded = _parse(data, defects, depth + 1)
        break
    return TnefAttachment(
        filename=filename, data=data, mime_type=_str_prop(props, PR_ATTACH_MIME_TAG),
        content_id=_str_prop(props, PR_ATTACH_CONTENT_ID), attach_method=attach_method,
        embedded=embedded, properties=tuple(props),
    )


def looks_like_tnef(head: bytes, size: int | None = None) -> bool:
    """Whether ``head``, the first bytes of a ``size``-byte body (``size`` defaults to
    ``len(head)``: the whole body), starts a TNEF stream :func:`parse_tnef` reads.

    For content sniffing (:func:`mimekit.sniff.guess_type`): the 4-byte signature alone
    is no evidence (four arbitrary bytes can be it), and a part labelled TNEF that the
    reader finds malformed is a defect on the receiving side.  Only ``head`` is looked
    at, so the work is bounded by its length: the signature and key, then every
    attribute header in it (MS-OXTNEF §2.1.3) must have a known level and a length that
    fits in ``size``; attributes wholly inside ``head`` must have a matching checksum;
    at least one attribute must start in ``head``.  When ``head`` is the whole body and
    that framing holds, it is also parsed and must give no defect at all (the framing
    walk comes first because it rejects arbitrary data at once, where the reader would
    go on recording a defect per attribute).
    """
    total = len(head) if size is None else size
    if len(head) < 6 or int.from_bytes(head[:4], "little") != TNEF_SIGNATURE:
        return False
    pos, seen = 6, 0
    while pos < total:
        if pos + 9 > total:
            return False  # a truncated attribute header ends the stream
        if pos + 9 > len(head):
            break  # the next header lies past what was given: unchecked
        length = int.from_bytes(head[pos + 5 : pos + 9], "little")
        end = pos + 9 + length + 2
        if head[pos] not in (LVL_MESSAGE, LVL_ATTACHMENT) or end > total:
            return False
        seen += 1
        if end > len(head):
            break  # value or checksum past what was given: unchecked
        value = head[pos + 9 : end - 2]
        if int.from_bytes(head[end - 2 : end], "little") != sum(value) & 0xFFFF:
            return False
        pos = end
    if not seen:
        return False
    if total <= len(head):
        defects: list[Defect] = []
        parse_tnef(head[:total], defects)
        return not defects
    return True


def parse_tnef(data: bytes, defects: list[Defect] | None = None) -> Tnef:
    """Read a TNEF stream (MS-OXTNEF §2.1.3): attachments, subject, bodies, class.

    Never raises on bad input.  On a bad signature or a length that runs past the end,
    a ``MalformedTnef`` defect is recorded and what was read so far is returned.
    Encapsulated MAPI properties win over the legacy attributes they duplicate
    (MS-OXTNEF §2.1.3: "values of encapsulated properties SHOULD be used").
    """
    return _parse(bytes(data), defects, 0)


def _parse(data: bytes, defects: list[Defect] | None, depth: int) -> Tnef:
    r = _Reader(data)
    signature, key = r.u32(), r.u16()
    if signature != TNEF_SIGNATURE or key is None:
        _defect(defects, "not a TNEF stream (bad signature 0x223E9F78)")
        return Tnef()
    codec = "cp1252"
    state: dict[str, object] = {}
    msg_props: list[MapiProperty] = []
    attachments: list[TnefAttachment] = []
    recipients: list[TnefRecipient] = []
    current: _AttachmentBuilder | None = None
    while r.remaining > 0:
        start = r.pos
        header = r.take(9)
        if header is None:
            _defect(defects, f"attribute header truncated at offset {start}")
            break
        level = header[0]
        attr_id = int.from_bytes(header[1:5], "little") & 0xFFFF
        length = int.from_bytes(header[5:9], "little")
        value = r.take(length)
        if value is None:
            _defect(defects, f"attribute 0x{attr_id:04X} at offset {start}: length {length} "
                    f"runs past the end ({r.remaining} bytes left)")
            break
        checksum = r.u16()
        if checksum is None:
            _defect(defects, f"attribute 0x{attr_id:04X} at offset {start}: checksum missing")
        elif checksum != sum(value) & 0xFFFF:  # §2.1.3: sum of the data bytes mod 65536
            _defect(defects, f"attribute 0x{attr_id:04X} at offset {start}: checksum "
                    f"0x{checksum:04X}, expected 0x{sum(value) & 0xFFFF:04X}",
                    kind="TnefChecksumMismatch")
        if level not in (LVL_MESSAGE, LVL_ATTACHMENT):
            _defect(defects, f"attribute 0x{attr_id:04X} at offset {start}: unknown level "
                    f"{level}")
        if attr_id == ATT_OEM_CODEPAGE and len(value) >= 4:
            state["codepage"] = int.from_bytes(value[:4], "little")
            codec = _codec(int.from_bytes(value[:4], "little"))
        elif level == LVL_ATTACHMENT or attr_id in (ATT_ATTACH_REND_DATA, ATT_ATTACHMENT,
                                                    ATT_ATTACH_DATA, ATT_ATTACH_TITLE):
            if attr_id == ATT_ATTACH_REND_DATA:  # §2.1.3.3.15: starts a new attachment
                if current is not None:
                    attachments.append(_finish_attachment(current, defects, depth))
                current = _AttachmentBuilder()
                continue
            if current is None:
                _defect(defects, f"attachment attribute 0x{attr_id:04X} before "
                        "attAttachRendData")
                current = _AttachmentBuilder()
            if attr_id == ATT_ATTACH_TITLE:
                current.title = _text8(value, codec) or None
            elif attr_id == ATT_ATTACH_DATA:
                current.data = value
            elif attr_id == ATT_ATTACHMENT:
                current.props.extend(_parse_props(value, codec, defects, "attAttachment"))
        elif attr_id == ATT_SUBJECT:
            state["subject"] = _text8(value, codec)
        elif attr_id == ATT_MESSAGE_CLASS:
            state["message_class"] = _text8(value, codec)
        elif attr_id == ATT_BODY:
            state["body"] = _text8(value, codec)
        elif attr_id == ATT_DATE_SENT:
            state["date_sent"] = _att_date(value)
            if state["date_sent"] is None:
                _defect(defects, f"attDateSent at offset {start} is not a valid date")
        elif attr_id == ATT_MSG_PROPS:
            msg_props.extend(_parse_props(value, codec, defects, "attMsgProps"))
        elif attr_id == ATT_RECIP_TABLE:
            recipients.extend(_parse_recipients(value, codec, defects))
    if current is not None:
        attachments.append(_finish_attachment(current, defects, depth))
    if r.pos == 6:  # §2.1.3: at least attTnefVersion follows the key
        _defect(defects, "TNEF stream has no attributes")
    return attrs.evolve(_finish_message(state, msg_props, attachments, key, defects),
                        recipients=tuple(recipients))


def _finish_message(state: dict[str, object], props: list[MapiProperty],
                    attachments: list[TnefAttachment], key: int,
                    defects: list[Defect] | None) -> Tnef:
    def legacy(name: str) -> str | None:
        value = state.get(name)
        return value if isinstance(value, str) else None

    rtf: bytes | None = None
    html: bytes | None = None
    for prop in props:
        if prop.prop_id == PR_RTF_COMPRESSED and isinstance(prop.value, bytes):
            rtf = decompress_rtf(prop.value, defects)
        elif prop.prop_id == PR_BODY_HTML:
            value = prop.value
            html = value.encode("utf-8") if isinstance(value, str) else (
                value if isinstance(value, bytes) else None)
    cpid = _prop(props, PR_INTERNET_CPID)
    codepage = state.get("codepage")
    date_sent = state.get("date_sent")
    return Tnef(
        attachments=tuple(attachments),
        subject=_str_prop(props, PR_SUBJECT) or legacy("subject"),
        body=_str_prop(props, PR_BODY) or legacy("body"),
        message_class=_str_prop(props, PR_MESSAGE_CLASS) or legacy("message_class"),
        rtf=rtf,
        html=html,
        date_sent=date_sent if isinstance(date_sent, datetime) else None,
        key=key,
        codepage=codepage if isinstance(codepage, int) else None,
        internet_codepage=cpid if isinstance(cpid, int) and not isinstance(cpid, bool) else None,
        properties=tuple(props),
    )
