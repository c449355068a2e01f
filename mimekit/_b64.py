"""Decoding a clean base64 body in place: the hot path of ``Part.get_content``.

A parsed leaf's body is a span of the input buffer; copying a 20 MB attachment out of
it before decoding doubles the memory and costs time. :func:`clean_base64` decodes the
span through a memoryview when it can prove the result equals what the lenient
:func:`mimekit.codecs.b64_decode` would return with no defect; otherwise it declines.
"""

from __future__ import annotations

import binascii

__all__ = ["clean_base64"]


def clean_base64(src: bytes, start: int, end: int) -> bytes | None:
    """``src[start:end]`` base64-decoded without copying it out of the input, when it
    is clean: RFC 2045 §6.8 alphabet in lines of one width (what encoders write),
    padding only at the end. None otherwise: the lenient decoder (with its defects)
    takes over.

    Proof of cleanliness without a Python-level scan: the line ends are checked at
    their expected positions (strided slices), so ``n`` = the octets before the first
    ``=`` that are not those line ends; the non-strict decoder skips anything outside
    the alphabet, so its output is exactly ``3n // 4`` octets only if nothing was skipped.
    """
    pad = src.find(b"=", start, end)
    stop = end if pad < 0 else pad
    if end - stop > 64 or src[stop:end].translate(None, b"=\r\n\t "):
        return None
    nl = src.find(b"\n", start, stop)
    if nl < 0:
        eols = 0
    else:
        eol = 2 if nl > start and src[nl - 1] == 13 else 1
        width = nl + 1 - eol - start
        if width <= 0:
            return None
        stride = width + eol
        k = (stop - start) // stride
        last = start + k * stride
        if src[start + stride - 1 : last : stride].count(b"\n") != k:
            return None
        if eol == 2 and src[start + width : last : stride].count(b"\r") != k:
            return None
        rest = src[last:stop]
        eols = k * eol + rest.count(b"\n") + rest.count(b"\r")
    n = stop - start - eols
    if n % 4 == 1:
        return None
    try:
        out = binascii.a2b_base64(memoryview(src)[start:end])
    except binascii.Error:
        return None
    return out if len(out) == n * 3 // 4 else None
