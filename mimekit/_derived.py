"""Contents hidden inside a part: reports, TNEF streams, inline uuencoded files.

Some parts carry more than their MIME structure says: a ``message/delivery-status``
body is a block of report fields (RFC 3464), an ``application/ms-tnef`` attachment
(``winmail.dat``) wraps Outlook's real attachments (MS-OXTNEF), and old clients paste
``begin 644 name`` ... ``end`` uuencoded files into a text/plain body. This module reads
them lazily for :mod:`mimekit.model` (``Part.report``, ``Part.tnef``) and
:mod:`mimekit._message` (``Message.attachments``), caching each result on the part.

The files found are :class:`DerivedPart` values: read-only leaves with the same
accessors as any attachment (``filename``, ``mime_type``, ``content_type``,
``get_content()``, ``disposition_kind``), which are not in the tree: the part they came
from stays unchanged, so ``parse(data).to_bytes() == data`` still holds.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mimekit.errors import Defect
from mimekit.headers import Headers
from mimekit.model import Part

if TYPE_CHECKING:  # pragma: no cover
    from mimekit.reports import Report
    from mimekit.tnef import Tnef

__all__ = ["DerivedPart", "derived_attachments", "is_tnef_part", "part_report", "part_tnef"]

# The report media types mimekit.reports reads (RFC 3464 §2, RFC 6533 §3, RFC 8098 §3.1,
# RFC 5965 §3).
REPORT_TYPES = frozenset({
    "message/delivery-status", "message/global-delivery-status",
    "message/disposition-notification", "message/global-disposition-notification",
    "message/feedback-report",
})
_TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef", "application/x-tnef")
# MS-OXTNEF §2.1.3: a TNEF stream starts with the little-endian dword 0x223E9F78.
_TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"
_MIME_RE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")
_IDENTITY = ("7bit", "8bit", "binary")


def _cache(part: Part) -> dict[str, Any]:
    extras = part._extras
    if extras is None:
        extras = part._extras = {}
    return extras


def part_report(part: Part) -> Report | None:
    """The parsed report of a report leaf (cached), its defects recorded on the part
    with the body's input offset; None for other parts."""
    cache = _cache(part)
    if "report" in cache:
        value: Report | None = cache["report"]
        return value
    value = None
    if part._children is None and part._message is None and part.mime_type in REPORT_TYPES:
        from mimekit.reports import parse_report

        defects: list[Defect] = []
        try:
            value = parse_report(part.mime_type, part.get_content(), defects)
        except Exception as exc:  # noqa: BLE001 - lenient: never raise on bad input
            defects.append(Defect("MalformedReport", str(exc)))
        part._record_all(defects, None, part._body_at)
    cache["report"] = value
    return value


def is_tnef_part(part: Part) -> bool:
    """An ``application/ms-tnef`` leaf, or a ``winmail.dat`` octet stream holding one."""
    if part._children is not None or part._message is not None:
        return False
    mime = part.mime_type
    if mime in _TNEF_TYPES:
        return True
    name = part.filename
    if mime == "application/octet-stream" and name and name.strip().lower() == "winmail.dat":
        return part.get_content()[:4] == _TNEF_SIGNATURE
    return False


def part_tnef(part: Part) -> Tnef | None:
    """The parsed TNEF stream of a TNEF part (cached; defects recorded on the part with
    the body's input offset), None for other parts."""
    cache = _cache(part)
    if "tnef" in cache:
        value: Tnef | None = cache["tnef"]
        return value
    value = None
    if is_tnef_part(part):
        from mimekit.tnef import parse_tnef

        defects: list[Defect] = []
        try:
            value = parse_tnef(part.get_content(), defects)
        except Exception as exc:  # noqa: BLE001 - lenient: never raise on bad input
            defects.append(Defect("MalformedTnef", str(exc)))
        part._record_all(defects, None, part._body_at)
    cache["tnef"] = value
    return value


class DerivedPart(Part):
    """A file found inside another part (a TNEF attachment, an inline uuencoded file).

    A read-only leaf outside the tree: ``source`` says where it came from (``"tnef"``,
    ``"uuencode"``), ``origin`` is the part holding it and ``id`` is that part's id.
    Its headers are generated (Content-Type with ``name``, an ``attachment``
    Content-Disposition with ``filename``, ``binary`` transfer encoding), so
    ``get_content()`` returns the file's bytes as they are.
    """

    source: str = ""

    def __init__(self, origin: Part, source: str, headers: Headers) -> None:
        super().__init__(headers, policy=origin.policy)
        self.origin = origin
        self.source = source

    @property
    def id(self) -> str:
        """The section id of the part the file was found in."""
        return self.origin.id

    @property
    def is_attachment(self) -> bool:
        """Always: a file found inside a part is shown as an attachment."""
        return True

    def __repr__(self) -> str:
        return f"<DerivedPart {self.source} in {self.origin.id or 'root'} {self.mime_type}>"


def _clean_name(name: str | None) -> str | None:
    # Names come from hostile input: no control characters may reach a header
    # (RFC 5322 §2.2: a field body has no CR/LF).
    if name is None:
        return None
    name = _CONTROL_RE.sub(" ", name).strip()
    return name or None


def make_derived(
    origin: Part, source: str, data: bytes, filename: str | None,
    mime_type: str | None = None, content_id: str | None = None,
) -> DerivedPart:
    """A :class:`DerivedPart` for ``data``; the type is ``mime_type`` when it is a valid
    ``type/subtype``, else sniffed (:func:`mimekit.sniff.guess_type`)."""
    from mimekit.params import ContentDisposition, ContentType

    name = _clean_name(filename)
    mime = (mime_type or "").strip().lower()
    if not _MIME_RE.fullmatch(mime):
        from mimekit.sniff import guess_type

        mime = guess_type(data, name)
    policy = origin.policy
    headers = Headers()
    try:
        headers.add("Content-Type", ContentType.of(mime, name=name), policy)
        headers.add("Content-Disposition", ContentDisposition.of("attachment", filename=name),
                    policy)
    except Exception:  # noqa: BLE001 - a name no header can carry: keep the file, unnamed
        headers = Headers()
        headers.add("Content-Type", ContentType.of(mime), policy)
        headers.add("Content-Disposition", "attachment", policy)
    headers.add("Content-Transfer-Encoding", "binary", policy)
    cid = _clean_name(content_id)
    if cid:
        try:
            headers.add("Content-ID", f"<{cid.strip('<>')}>", policy)
        except Exception:  # noqa: BLE001, S110 - an unusable id is simply left out
            pass
    part = DerivedPart(origin, source, headers)
    part._body = data
    return part


def _tnef_files(part: Part) -> list[DerivedPart]:
    tnef = part_tnef(part)
    if tnef is None:
        return []
    return [
        make_derived(part, "tnef", att.data, att.filename, att.mime_type, att.content_id)
        for att in tnef.attachments
    ]


def _has_begin(part: Part) -> bool:
    src = part._src
    if src is not None:
        return src.find(b"begin", part._src_start, part._src_end) >= 0
    return b"begin" in part._body_bytes


def _uuencoded_files(part: Part) -> list[DerivedPart]:
    if part.transfer_encoding in ("x-uuencode", "uuencode", "x-uue", "uue"):
        return []  # the whole body is the file: get_content() already decodes it
    if part.transfer_encoding in _IDENTITY and not _has_begin(part):
        return []  # cheap test before decoding anything
    from mimekit.codecs import find_uuencoded

    return [
        make_derived(part, "uuencode", data, name)
        for name, _mode, data, _start, _end in find_uuencoded(part.get_content())
    ]


def derived_attachments(part: Part) -> list[DerivedPart]:
    """Files found inside ``part`` (TNEF contents, uuencoded blocks of a text/plain
    body), cached; empty for other parts."""
    cache = _cache(part)
    found: list[DerivedPart] | None = cache.get("derived")
    if found is None:
        found = []
        if part._children is None and part._message is None:
            mime = part.mime_type
            if mime == "text/plain" and not part.is_attachment:
                found = _uuencoded_files(part)
            elif mime in _TNEF_TYPES or mime == "application/octet-stream":
                found = _tnef_files(part)
        cache["derived"] = found
    return found
