"""Bytes -> :class:`~mimekit.model.Message`: lenient, lossless, bounded, lazy.

The parser works on offsets into the one input buffer with an explicit work stack
(no recursion, so no RecursionError however deep the nesting). Each part is split into
its raw header fields (``bytes.find``/``split``, no per-character loops), the separator
line and a body. A multipart finds its own delimiter lines inside its region with one
precompiled regex per boundary; its children's regions lie between them, so an outer
boundary always closes inner parts (RFC 2046 §5.1.2) without a per-line boundary stack.
Nothing is decoded: header values, parameters and bodies are decoded by the model when
asked. Every recovery records a :class:`~mimekit.errors.Defect` with the byte offset;
a strict policy raises :class:`~mimekit.errors.ParseError` on the first one.

Limits (``Policy.max_depth``, ``max_parts``, ``max_headers``, ``max_header_bytes``,
``max_header_line``) stop descending: what is left stays the raw body of that part.
"""

from __future__ import annotations

import os
import re
from typing import IO

from mimekit._children import _Children
from mimekit.errors import Defect, ParseError
from mimekit.headers import Header, Headers
from mimekit.model import Message, Part, fast_content_type
from mimekit.policy import DEFAULT, Policy

__all__ = ["FeedParser", "parse", "parse_file", "parse_stream"]

# One header field (RFC 5322 §2.2, §2.2.3): a name (1*(%d33-57 / %d59-126)), optional
# white space (obsolete syntax), colon, the rest of the line, and every continuation
# line (starting with SP or HTAB). The name is the one group.
_FIELD_SRC = rb"([!-9;-~]+)[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*(?:\n|\Z)"
_FIELD = re.compile(_FIELD_SRC)
_FIELDS = re.compile(rb"(" + _FIELD_SRC + rb")")  # findall: (field, name) pairs
# A whole block of such fields; each field ends at a line end, so matching is linear.
_BLOCK = re.compile(rb"(?:" + _FIELD_SRC.replace(rb"([!-9;-~]+)", rb"[!-9;-~]+") + rb")*")
_FROM_FIELD = re.compile(rb"From[ \t]*:")
_HEADER_START = re.compile(rb"[!-9;-~]+[ \t]*:")
_LEADING_WSP_LINES = re.compile(rb"(?:[ \t][^\n]*\n)+")
# A header field starting on a later line of the block (RFC 5322 §2.2 field name, colon).
_NEXT_FIELD = re.compile(rb"\n[!-9;-~]+[ \t]*:")
_MESSAGE_TYPES = ("message/rfc822", "message/global")
_IDENTITY_CTES = ("7bit", "8bit", "binary")


# What may follow "--" boundary on a delimiter line (RFC 2046 §5.1.1): "--" for the close
# delimiter, then only transport padding (white space) up to the line end.
_DELIM_TAIL = re.compile(rb"(--)?[ \t]*(?:\r?\n|\Z)")


def _too_long(data: bytes, start: int, end: int, max_line: int) -> bool:
    """Whether a line in data[start:end] is longer than ``max_line`` (line ending aside)."""
    return any(len(line.rstrip(b"\r")) > max_line for line in data[start:end].split(b"\n"))


def _find_delimiter(data: bytes, needle: bytes, at: int, end: int) -> int:
    """Index of the next ``needle`` (``\\n--boundary``) in data[at:end], or -1.

    Hot path. ``bytes.find`` on a multi-byte needle is ~1 GB/s, while ``find`` of one
    byte is memchr (~20 GB/s), and base64 or binary-ish bodies never contain ``-``. So
    first hop from one ``-`` to the next, skipping the rest of any line where it is not a
    delimiter; after a few misses (hyphen-rich text) use the plain needle search.
    """
    find = data.find
    if end - at <= 16384:
        return find(needle, at, end)  # small region: one needle search is cheapest
    dash = needle[1:]
    for _ in range(16):
        j = find(b"-", at + 1, end)
        if j < 0:
            return -1
        if data[j - 1] == 10 and data.startswith(dash, j, end):
            return j - 1
        nl = find(b"\n", j, end)
        if nl < 0:
            return -1
        at = nl
    return find(needle, at, end)


class _Parser:
    """One parse run over one buffer."""

    def __init__(self, data: bytes, policy: Policy) -> None:
        self.data = data
        self.policy = policy
        self.nparts = 1

    def defect(
        self, part: Part, kind: str, detail: str, offset: int | None, header: str | None = None
    ) -> None:
        defect = Defect(kind, detail, header=header, offset=offset)
        if self.policy.strict:
            # The part id is only known once the tree is linked; compute it now.
            raise ParseError(f"{kind}: {detail}", defect=Defect(kind, detail, part.id, header, offset))
        part._defects.append(defect)

    def run(self) -> Message:
        root = Message(policy=self.policy)
        tasks: list[tuple[Part, int, int, int]] = [(root, 0, len(self.data), 0)]
        while tasks:
            part, start, end, depth = tasks.pop()
            self.fill(part, start, end, depth, tasks)
        return root

    # -- one part -----------------------------------------------------------------------

    def fill(
        self, part: Part, start: int, end: int, depth: int, tasks: list[tuple[Part, int, int, int]]
    ) -> None:
        data = self.data
        pos = self.headers(part, start, end, isinstance(part, Message))
        header = part._headers.get_header("content-type")
        mime, boundary = part._fast_ct = fast_content_type(header)
        if mime is None:
            # A Content-Type without type/subtype: the model decides what it stands for
            # (RFC 2045 §5.2 default, or the type a file name implies; never composite)
            # and records the defect at the field's offset. Without the field: RFC 2045
            # §5.2 / RFC 2046 §5.1.5 default.
            mime = part._default_type() if header is None else part.mime_type
        if mime.startswith("multipart/"):
            if boundary is None:
                # RFC 2046 §5.1.1: the boundary parameter is required.
                self.defect(part, "MissingBoundary", "multipart without a boundary parameter; "
                            "kept as a leaf", pos)
            elif depth >= self.policy.max_depth:
                self.defect(part, "NestingTooDeep", f"nesting deeper than {self.policy.max_depth}"
                            "; the rest is kept raw", pos)
            else:
                self.multipart(part, boundary, pos, end, depth, tasks)
                return
        elif mime in _MESSAGE_TYPES:
            cte = part.transfer_encoding
            if cte not in _IDENTITY_CTES:
                # RFC 2046 §5.2.1: only 7bit/8bit/binary are allowed; keep it encoded.
                self.defect(part, "InvalidMessageEncoding",
                            f"message/rfc822 with transfer encoding {cte}", pos)
            elif depth >= self.policy.max_depth:
                self.defect(part, "NestingTooDeep", f"nesting deeper than {self.policy.max_depth}"
                            "; the rest is kept raw", pos)
            elif self.nparts >= self.policy.max_parts:
                self.defect(part, "TooManyParts", f"more than {self.policy.max_parts} parts; "
                            "the rest is kept raw", pos)
            else:
                self.nparts += 1
                message = Message(policy=self.policy)
                message.parent = part
                part._message = message
                tasks.append((message, pos, end, depth + 1))
                return
        # A leaf (message/partial and message/external-body included, RFC 2046 §5.2.2-3).
        part._set_source(data, pos, end)

    # -- header block -------------------------------------------------------------------

    def headers(self, part: Part, start: int, end: int, allow_prefix: bool) -> int:
        """Split the header block of the part at ``start``; return where the body starts."""
        data = self.data
        policy = self.policy
        prefix_start = start
        if allow_prefix and data.startswith(b"\xef\xbb\xbf", start, end):
            # A UTF-8 byte order mark is not part of RFC 5322 syntax: kept raw, skipped.
            self.defect(part, "ByteOrderMark", "UTF-8 byte order mark before the headers", start)
            start += 3
        if (
            allow_prefix
            and data.startswith(b"From ", start, end)
            and not _FROM_FIELD.match(data, start, end)
        ):
            # An mbox envelope line (not a header): kept raw, written back as is.
            nl = data.find(b"\n", start, end)
            start = end if nl < 0 else nl + 1
            detail = "mbox 'From ' line before the headers"
            if data.find(b"\nFrom ", start, end) >= 0:
                # parse() reads one message; an mbox would come out as one long body
                detail += ("; more 'From ' lines follow: if this is an mbox, read it with "
                           "mimekit.read_mbox()")
            self.defect(part, "UnixFromLine", detail, prefix_start)
        m = _LEADING_WSP_LINES.match(data, start, end) if data[start : start + 1] in (
            b" ", b"\t") else None
        if m is not None and _HEADER_START.match(data, m.end(), end):
            # Lines starting with white space before the first field continue nothing
            # (RFC 5322 §2.2.3): kept raw ahead of the header block.
            self.defect(part, "MalformedHeader", "white-space line before the first header "
                        "field", start)
            start = m.end()
        if start > prefix_start:
            part._prefix = data[prefix_start:start]
        if start >= end:
            part._sep = b""
            return end
        first = data[start]
        if first == 10 or (first == 13 and data.startswith(b"\r\n", start, end)):
            # No header fields at all: the blank line comes first (RFC 2045 defaults).
            sep_len = 1 if first == 10 else 2
            part._sep = data[start : start + sep_len]
            return start + sep_len

        limit = min(end, start + policy.max_header_bytes)
        crlf = data.find(b"\n\r\n", start, limit)
        lf = data.find(b"\n\n", start, limit if crlf < 0 else crlf + 2)
        if lf >= 0 and (crlf < 0 or lf < crlf):
            hend, sep_len = lf + 1, 1
        elif crlf >= 0:
            hend, sep_len = crlf + 1, 2
        else:
            hend, sep_len = limit, 0
        truncated = sep_len == 0 and limit < end  # header block longer than allowed

        # Fast path: the block is nothing but well-formed fields (the usual case).
        if (
            not truncated
            and hend - start <= policy.max_header_line
            and _BLOCK.fullmatch(data, start, hend) is not None
        ):
            found = _FIELDS.findall(data, start, hend)
            if 0 < len(found) <= policy.max_headers:
                names = [rawname.decode("ascii") for _, rawname in found]
                headers = Headers._from_parsed(
                    [Header(name, raw) for name, (raw, _) in zip(names, found)],
                    [name.lower() for name in names],
                )
                headers.on_change = part._headers_changed
                part._headers = headers
                part._hbase = start
                part._sep = data[hend : hend + sep_len]
                return hend + sep_len
        if truncated:
            # Only whole lines within the limit; the last field may go on beyond it.
            hend = data.rfind(b"\n", start, hend) + 1
        items: list[Header] = []
        keys: list[str] = []
        offsets: list[int] = []
        max_line = policy.max_header_line
        max_headers = policy.max_headers
        field = _FIELD.match
        find = data.find
        p = start
        cut = -1
        next_field = -1  # start of the next field line after p (for a line without colon)
        while p < hend:
            m = field(data, p, hend)
            if m is None:
                # Not a field: a line without a colon (RFC 5322 §2.2) or a continuation
                # of such a line. Kept with the preceding field (lenient).
                nl = find(b"\n", p, hend)
                line_end = hend if nl < 0 else nl + 1
                if not items:
                    break  # the first line is not a header: the part has no headers
                if line_end - p > max_line + 2:
                    self.defect(part, "HeaderTooLong", f"header line longer than {max_line} "
                                "bytes; the rest is kept as body", p)
                    cut = offsets.pop()
                    items.pop()
                    keys.pop()
                    break
                if data[p] not in (32, 9):
                    if next_field < line_end - 1:  # searched once per field found: linear
                        nxt = _NEXT_FIELD.search(data, line_end - 1, hend)
                        next_field = hend if nxt is None else nxt.start()
                    if next_field >= hend:
                        # No field follows: the blank line is missing and this line
                        # starts the body (as mail clients read it; the part keeps its
                        # headers, e.g. an attachment's base64 right after them).
                        self.defect(part, "MissingHeaderBodySeparator", "no blank line "
                                    "after the header block; the body starts at a line "
                                    "without a colon", p)
                        cut = p
                        break
                    self.defect(part, "MalformedHeader", "line without a colon in the header "
                                "block", p, items[-1].name)
                items[-1] = Header(items[-1].name, data[offsets[-1] : line_end])
                p = line_end
                continue
            field_end = m.end()
            if field_end - p > max_line and _too_long(data, p, field_end, max_line):
                self.defect(part, "HeaderTooLong", f"header line longer than {max_line} bytes; "
                            "the rest is kept as body", p)
                cut = p
                break
            if len(items) >= max_headers:
                self.defect(part, "TooManyHeaders", f"more than {max_headers} header fields; "
                            "the rest is kept as body", p)
                cut = p
                break
            name = m.group(1).decode("ascii")
            items.append(Header(name, data[p:field_end]))
            keys.append(name.lower())
            offsets.append(p)
            p = field_end
        if truncated and cut < 0:
            self.defect(part, "HeaderTooLong", f"header block longer than "
                        f"{policy.max_header_bytes} bytes; the rest is kept as body", p)
            if items:
                cut = offsets.pop()
                items.pop()
                keys.pop()
            else:
                cut = start

        if not items:
            # No header at all: the first line is body (or a lone continuation line).
            if cut < 0 and hend > start:
                self.defect(part, "MalformedHeader", "first line is not a header field; the "
                            "part has no headers", start)
            part._sep = b""
            return start
        if cut >= 0:
            body_start = cut
            part._sep = b""
        elif p < hend:
            body_start = p  # not reached: every line is a field or attached to one
            part._sep = b""
        else:
            part._sep = data[hend : hend + sep_len]
            body_start = hend + sep_len
        headers = Headers._from_parsed(items, keys)
        headers.on_change = part._headers_changed
        part._headers = headers
        part._hbase = start
        return body_start

    # -- multipart ----------------------------------------------------------------------

    def multipart(
        self,
        part: Part,
        boundary: bytes,
        pos: int,
        end: int,
        depth: int,
        tasks: list[tuple[Part, int, int, int]],
    ) -> None:
        """Find this multipart's delimiter lines in [pos, end) (RFC 2046 §5.1.1)."""
        data = self.data
        needle = b"\n--" + boundary
        skip = len(needle)
        tail = _DELIM_TAIL.match
        lower = pos
        at = pos - 1
        if pos == 0 or data[pos - 1] != 10:
            at = pos  # the body start is a line start too
        budget = self.policy.max_parts - self.nparts
        regions: list[tuple[int, int]] = []
        delims: list[bytes] = []
        preamble: bytes | None = None
        close: bytes | None = None
        epilogue: bytes | None = None
        prev_end = -1
        overflow = -1  # where the parts beyond Policy.max_parts start (kept raw)
        while True:
            # bytes.find for the literal "\n--boundary" (fast), then check the line tail.
            if at == pos and (pos == 0 or data[pos - 1] != 10) and data.startswith(
                needle[1:], pos, end
            ):
                s = pos
                m = tail(data, pos + skip - 1, end)
                at = pos + 1
                if m is None:
                    continue
            else:
                s = _find_delimiter(data, needle, at, end)
                if s < 0:
                    break
                m = tail(data, s + skip, end)
                at = s + 1
                if m is None:
                    continue
                if s < lower:
                    s = lower
                elif s - 1 >= lower and data[s - 1] == 13:
                    # The line break before "--" belongs to the delimiter, CRLF included
                    # (RFC 2046 §5.1.1), unless it already ended the previous line we used.
                    s -= 1
            line_end = m.end()
            if prev_end < 0:
                preamble = data[pos:s]
            else:
                regions.append((prev_end, s))
            if m.group(1) is not None:
                close = data[s:line_end]
                epilogue = data[line_end:end]
                break
            if len(delims) >= budget:
                if not regions:
                    self.defect(part, "TooManyParts", f"more than {self.policy.max_parts} "
                                "parts; the rest is kept raw", s)
                    part._set_source(data, pos, end)
                    return
                # The first parts up to the limit are children; from this delimiter line
                # on, the rest stays raw bytes (kept as the epilogue, so the output is
                # byte-identical and nothing is lost). RFC 2046 §5.1.1 sets no limit;
                # this is Policy.max_parts bounding the work on hostile input.
                self.defect(part, "TooManyParts", f"more than {self.policy.max_parts} parts; "
                            f"the parts after part {len(regions)} of this multipart are kept "
                            "raw (as its epilogue)", s)
                overflow = s
                break
            delims.append(data[s:line_end])
            prev_end = line_end
            lower = line_end
            at = line_end - 1 if line_end > 0 and data[line_end - 1] == 10 else line_end
            if at >= end:
                break
        if prev_end < 0:
            if close is None:
                self.defect(part, "StartBoundaryNotFound", "no delimiter line for the "
                            "boundary; the body is kept as the preamble", pos)
                preamble = data[pos:end]
        elif overflow >= 0:
            epilogue = data[overflow:end]
        elif close is None:
            regions.append((prev_end, end))
            self.defect(part, "MissingCloseBoundary", "close delimiter not found; the last "
                        "part runs to the end", end)
        self.nparts += len(regions)
        children = [Part(policy=self.policy) for _ in regions]
        part._children = _Children(part, children)
        part._delims = delims
        part._close = close
        part._preamble = preamble
        part._epilogue = epilogue
        part._boundary_used = boundary
        for child, (a, b) in zip(reversed(children), reversed(regions)):
            tasks.append((child, a, b, depth + 1))


def parse(data: bytes, policy: Policy = DEFAULT) -> Message:
    """Parse a whole message from bytes (never raises on bad input unless strict)."""
    if not isinstance(data, bytes):
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        else:
            raise TypeError(f"parse() wants bytes, not {type(data).__name__}")
    return _Parser(data, policy).run()


def parse_file(path: str | os.PathLike[str], policy: Policy = DEFAULT) -> Message:
    """Parse the message stored in the file at ``path``.

    The file is read once into one bytes object (a single read of the known size, no
    intermediate buffers); leaf bodies stay spans of it, and base64 bodies decode
    straight from it, so a large attachment is never copied before it is decoded.
    """
    with open(path, "rb", buffering=0) as fh:
        return parse_stream(fh, policy)


def parse_stream(stream: IO[bytes], policy: Policy = DEFAULT) -> Message:
    """Parse a message from a binary file object, read to its end.

    One ``read()`` into one bytes object where the stream allows it (a file opened
    with ``buffering=0`` reads its remaining size directly into the result); chunks
    otherwise, joined once.
    """
    data = stream.read() or b""  # None: a non-blocking raw stream with nothing yet
    if not isinstance(data, bytes):
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        else:
            raise TypeError(f"parse_stream() wants a binary stream, not {type(stream).__name__}")
    # A raw (unbuffered) stream may return short reads: read until EOF.
    chunks: list[bytes] = []
    while True:
        more = stream.read()
        if not more:  # b"" at the end (None: nothing more for now; take what we have)
            break
        chunks.append(bytes(more))
    if chunks:
        data = b"".join([data, *chunks])
    return parse(data, policy)


class FeedParser:
    """Sans-I/O push parser: ``feed(chunk)`` as bytes arrive, then ``close()``.

    The tree does not depend on how the input was chunked (it is parsed as a whole at
    ``close``, which is also the fastest way in CPython).
    """

    def __init__(self, policy: Policy = DEFAULT) -> None:
        self.policy = policy
        self._chunks: list[bytes] = []
        self._closed = False

    def feed(self, chunk: bytes) -> None:
        """Add the next chunk of input."""
        if self._closed:
            raise ValueError("feed() after close()")
        self._chunks.append(bytes(chunk))

    def close(self) -> Message:
        """Finish and return the parsed message."""
        self._closed = True
        data = b"".join(self._chunks)
        self._chunks = [data]
        return parse(data, self.policy)
