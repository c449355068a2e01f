"""Tree -> bytes: raw pieces where untouched, regenerated where edited.

A parsed part is written from the pieces the parser kept (header fields' raw bytes,
separator, body, preamble, delimiter lines, close delimiter, epilogue), so an unmodified
tree gives back its input byte for byte. A part whose headers changed gets its header
block re-emitted (untouched fields still raw; a missing blank line added); a multipart
whose children changed gets new delimiter lines with ``policy.linesep``. Children are
written by the same rules, so untouched parts stay byte-identical.

Serialization uses an explicit stack (no recursion) and yields chunks: ``write`` streams
them, ``to_bytes`` joins them once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Union

if TYPE_CHECKING:  # pragma: no cover
    from mimekit.model import Part

__all__ = ["iter_body_chunks", "iter_chunks", "to_bytes", "write"]

_Item = Union[bytes, memoryview, "Part"]


def _needs_new_delimiters(part: Part, boundary: bytes | None) -> bool:
    if part._delims is None or part._children is None:
        return True
    if len(part._delims) != len(part._children):
        return True
    return part._hdirty and boundary != part._boundary_used


def _boundary(part: Part) -> bytes | None:
    return part._fast()[1]


def _ensure_boundary(part: Part) -> bytes:
    """The boundary for regenerated delimiters; adds one to Content-Type if missing."""
    boundary = _boundary(part)
    if boundary is None:
        from mimekit.params import make_boundary

        ctype = part.content_type
        new = make_boundary()
        part._headers.set("Content-Type", ctype.with_params(boundary=new), part.policy)
        boundary = new.encode("ascii")
    return boundary


def _body_items(part: Part) -> list[_Item]:
    """The pieces after the separator line."""
    if part._message is not None:
        return [part._message]
    children = part._children
    if children is None:
        return [part._body_piece()]
    boundary = _boundary(part)
    items: list[_Item] = []
    if not _needs_new_delimiters(part, boundary):
        assert part._delims is not None
        if part._preamble:
            items.append(part._preamble)
        for delim, child in zip(part._delims, children):
            items.append(delim)
            items.append(child)
        if part._close is not None:
            items.append(part._close)
        if part._epilogue:
            items.append(part._epilogue)
        return items
    # RFC 2046 §5.1.1: delimiter = CRLF "--" boundary; the CRLF before it is part of it.
    linesep = part.policy.linesep
    dash = b"--" + _ensure_boundary(part)
    lead = b""
    if part._preamble:
        items.append(part._preamble)
        lead = linesep
    for child in children:
        items.append(lead + dash + linesep)
        items.append(child)
        lead = linesep
    items.append(lead + dash + b"--" + linesep)
    if part._epilogue:
        items.append(part._epilogue)
    return items


def _part_items(part: Part, exclude: frozenset[str], strip_prefix: bool = False) -> list[_Item]:
    """Every piece of one part: envelope line, header block, separator, body pieces."""
    if part._children is not None and _needs_new_delimiters(part, _boundary(part)):
        _ensure_boundary(part)  # may add a header: do it before writing the header block
    items: list[_Item] = []
    if part._prefix and not strip_prefix:
        items.append(part._prefix)
    headers = part._headers._items
    dirty = part._hdirty
    if exclude:
        kept = [h for h, k in zip(headers, part._headers._keys) if k not in exclude]
        dirty = dirty or len(kept) != len(headers)
        headers = kept
    linesep = part.policy.linesep
    body = _body_items(part)
    sep = part._sep
    if not dirty:
        items.append(b"".join([h.raw for h in headers]))
    else:
        block = []
        for h in headers:
            raw = h.raw
            block.append(raw if raw.endswith(b"\n") else raw + linesep)
        items.append(b"".join(block))
        if sep == b"" and any(body):
            sep = None  # the body would read as headers: RFC 5322 §2.1 needs the blank line
    items.append(linesep if sep is None else sep)
    items.extend(body)
    return items


def _pieces(
    stack: list[_Item], exclude: frozenset[str], strip_prefix: bool = False
) -> Iterator[bytes | memoryview]:
    first = True
    while stack:
        item = stack.pop()
        if isinstance(item, (bytes, memoryview)):
            if item:
                yield item
            continue
        items = _part_items(item, exclude, strip_prefix) if first else _part_items(
            item, frozenset())
        first = False
        items.reverse()
        stack.extend(items)


def iter_chunks(part: Part, *, exclude_headers: Iterable[str] = ()) -> Iterator[bytes]:
    """Serialized bytes of ``part`` in chunks; ``exclude_headers`` applies to its own
    header block only (the root's, for a message)."""
    exclude = frozenset(name.lower() for name in exclude_headers)
    for piece in _pieces([part], exclude):
        yield piece if isinstance(piece, bytes) else bytes(piece)


def iter_body_chunks(part: Part) -> Iterator[bytes]:
    """Serialized bytes of ``part``'s body only (what follows its separator line)."""
    stack: list[_Item] = list(reversed(_body_items(part)))
    for piece in _pieces(stack, frozenset()):
        yield piece if isinstance(piece, bytes) else bytes(piece)


def to_bytes(
    part: Part, *, exclude_headers: Iterable[str] = (), strip_prefix: bool = False
) -> bytes:
    """The whole part as one bytes object (bodies are copied once, into the result).

    ``strip_prefix`` leaves out what preceded the root's header block in the input (an
    mbox ``From `` line, a byte order mark): not part of RFC 5322, never for the wire.
    """
    exclude = frozenset(name.lower() for name in exclude_headers)
    return b"".join(_pieces([part], exclude, strip_prefix))


def write(
    part: Part,
    stream: IO[bytes],
    *,
    exclude_headers: Iterable[str] = (),
    strip_prefix: bool = False,
) -> None:
    """Stream the serialized part into a binary file object (no intermediate copies)."""
    exclude = frozenset(name.lower() for name in exclude_headers)
    for piece in _pieces([part], exclude, strip_prefix):
        stream.write(piece)
