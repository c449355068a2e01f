"""A cheap reading of Content-Type for the parse path: ``type/subtype`` and boundary.

The parser needs, for every part, whether it is a multipart (and its boundary) or a
message; the full parameter parser (:mod:`mimekit.params`) would dominate parse time,
so this reads the raw field with two regular expressions and defers to the full parser
only for the rare hard cases (RFC 2231 ``boundary*=``, quotes, repeated parameters).
Re-exported by :mod:`mimekit.model`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from mimekit.headers import Header

__all__ = ["fast_content_type"]

# RFC 2045 §5.1: type "/" subtype, and the boundary parameter (quoted or token).
_TOKEN = rb"[^\s/;()<>@,:\\\"\[\]?=]+"
# Applied to the raw field (name, colon, folded value): \s also spans folding line breaks.
_CT_RAW = re.compile(rb"[^:]*:\s*(" + _TOKEN + rb")\s*/\s*(" + _TOKEN + rb")")
_CT_BOUNDARY = re.compile(rb'(?i)[;\s]boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))')
_UNESCAPE = re.compile(rb"\\(.)")


def fast_content_type(header: Header | None) -> tuple[str | None, bytes | None]:
    """(lower-case ``type/subtype`` or None when absent/invalid, boundary bytes or None).

    Used on the parse path, where the full parameter parser would be too slow; falls
    back to :mod:`mimekit.params` for RFC 2231 boundaries (``boundary*=``).
    """
    if header is None:
        return None, None
    raw = header.raw
    m = _CT_RAW.match(raw)
    if m is None:
        return None, None
    mime = (m.group(1) + b"/" + m.group(2)).lower().decode("latin-1")
    boundary: bytes | None = None
    if mime.startswith("multipart/"):
        b = _CT_BOUNDARY.search(raw, m.end())
        if b is not None and (b'"' in raw[m.end() : b.start()]
                              or _CT_BOUNDARY.search(raw, b.end()) is not None):
            # A quote before it (the match may sit inside another parameter's quoted
            # value) or a second "boundary=": let the full parameter parser decide, so
            # the tree is split on the boundary that Part.content_type reports.
            from mimekit.params import ContentType

            found = ContentType.parse(header.unfolded).boundary
            b = None
            boundary = found.encode("utf-8") if found else None
        elif b is not None:
            boundary = b.group(1) if b.group(1) is not None else b.group(2)
            if b"\\" in boundary and b.group(1) is not None:
                boundary = _UNESCAPE.sub(rb"\1", boundary)
        elif b"boundary*" in raw.lower():
            from mimekit.params import ContentType

            found = ContentType.parse(header.unfolded).boundary
            boundary = found.encode("utf-8") if found else None
        if boundary == b"":
            boundary = None
    return mime, boundary
