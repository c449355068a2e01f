"""Content-Transfer-Encodings: base64, quoted-printable, uuencode (RFC 2045 §6).

Pure bytes-to-bytes functions on the parse/generate hot path. The heavy lifting is
done by ``binascii`` (C); Python code only runs per chunk, per fix-up or on the
error path, never per byte. Decoders are lenient: they never raise on bad input,
they repair what they can and append a :class:`~mimekit.errors.Defect`.
"""

from __future__ import annotations

import binascii
import itertools
import re
import struct

from mimekit.errors import Defect, EncodingError
from mimekit.errors import add_defect as _add

__all__ = [
    "b64_decode",
    "b64_encode",
    "choose_cte",
    "crlf_only",
    "decode_body",
    "encode_body",
    "find_uuencoded",
    "normalize_cte",
    "qp_decode",
    "qp_encode",
    "to_crlf",
    "uu_decode",
]



# --- base64 (RFC 2045 §6.8) ---------------------------------------------------------

_B64_LINE = 76  # RFC 2045 §6.8: encoded lines no more than 76 characters
_B64_LINES_PER_BLOCK = 64
_B64_STRUCT = struct.Struct(f"{_B64_LINE}s" * _B64_LINES_PER_BLOCK)
# Input bytes per encode call: a whole number of 57-byte lines (57 * 4 / 3 == 76) and
# of struct blocks; about 230 KB so the working set stays in cache.
_B64_CHUNK = 57 * _B64_LINES_PER_BLOCK * 64
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_NOT_ALPHABET = bytes(sorted(set(range(256)) - set(_B64_ALPHABET)))
_B64_ALLOWED = _B64_ALPHABET + b"=\r\n\t "
_PAD_SPLIT = re.compile(rb"=+")


def b64_encode(data: bytes, linesep: bytes = b"\r\n", width: int = 76) -> bytes:
    """Base64 with lines of ``width`` characters (RFC 2045 §6.8: at most 76).

    Every line, the last included, ends with ``linesep``; empty input gives ``b""``.
    The default width runs a fast path: ``binascii`` encodes 57-byte-aligned chunks
    and one ``struct`` call per 64 lines cuts them, so no Python code runs per line.
    """
    if not data:
        return b""
    b2a = binascii.b2a_base64
    if width != _B64_LINE:
        if width < 4:
            raise ValueError("base64 line width must be at least 4")
        enc = b2a(data, newline=False)
        lines = [enc[i : i + width] for i in range(0, len(enc), width)]
        lines.append(b"")
        return linesep.join(lines)
    view = memoryview(data)
    n = len(data)
    full = n - n % _B64_CHUNK
    out: list[bytes] = []
    unpack = _B64_STRUCT.iter_unpack
    chain = itertools.chain.from_iterable
    for i in range(0, full, _B64_CHUNK):
        out.append(linesep.join(chain(unpack(b2a(view[i : i + _B64_CHUNK], newline=False)))))
        out.append(linesep)
    if full < n:
        # The rest: whole 64-line blocks still go through struct, only the last
        # (at most 64) lines are cut in Python.
        block = 57 * _B64_LINES_PER_BLOCK
        mid = full + (n - full) // block * block
        if mid > full:
            out.append(linesep.join(chain(unpack(b2a(view[full:mid], newline=False)))))
            out.append(linesep)
        if mid < n:
            rest = b2a(view[mid:], newline=False)
            out.append(linesep.join([rest[i : i + _B64_LINE]
                                     for i in range(0, len(rest), _B64_LINE)]))
            out.append(linesep)
    return b"".join(out)


def _b64_repair(data: bytes) -> bytes:
    """Decode base64 whatever the damage: drop non-alphabet bytes, decode each run
    between padding separately (concatenated encodings), fix each run's padding."""
    out: list[bytes] = []
    for run in _PAD_SPLIT.split(data):
        clean = run.translate(None, _B64_NOT_ALPHABET)
        rem = len(clean) % 4
        if rem == 1:  # a lone sextet carries no whole byte
            clean = clean[:-1]
        elif rem:
            clean += b"=" * (4 - rem)
        if clean:
            out.append(binascii.a2b_base64(clean))
    return b"".join(out)


def b64_decode(data: bytes, defects: list[Defect] | None = None) -> bytes:
    """Decode base64 leniently (RFC 2045 §6.8); never raises.

    Line breaks and white space are ignored. Characters outside the alphabet,
    missing or wrong padding, and data after padding (two encodings glued together)
    are repaired and recorded as an ``InvalidBase64`` defect. RFC 2045 §6.8 says to
    ignore characters outside the alphabet; the defect records that it happened.
    """
    bad = data.translate(None, _B64_ALLOWED)
    pad = data.find(b"=")
    if not bad and (pad < 0 or not data[pad:].translate(None, b"=\r\n\t ")):
        try:
            return binascii.a2b_base64(data)
        except binascii.Error:
            pass
    out = _b64_repair(data)
    if bad:
        detail = f"{len(bad)} characters outside the base64 alphabet ignored"
    elif pad >= 0 and data[pad:].translate(None, b"=\r\n\t "):
        detail = "data after base64 padding decoded as a further block"
    else:
        detail = "incorrect base64 padding repaired"
    _add(defects, "InvalidBase64", detail)
    return out


# --- quoted-printable (RFC 2045 §6.7) -------------------------------------------------

_QP_MAX = 76  # RFC 2045 §6.7 rule 5: encoded lines no more than 76 characters
# Output lines that need a fix-up after binascii: longer than 76 (binascii's
# trailing-space protection can add two characters), or starting with "." or "From "
# (harmless in MIME, but mangled by careless SMTP / mbox software).
_QP_FIX = re.compile(rb"^(?:\.|From |[^\n]{77})[^\n]*", re.MULTILINE)
_QP_SOFT_WS = re.compile(rb"=[ \t]+(?=\r?\n|$)")
_QP_BAD = re.compile(rb"=(?![0-9A-Fa-f]{2}|\r?\n|$)")


def _qp_split(line: bytes) -> list[bytes]:
    """Re-split one encoded output line (soft "=" marker included if it has one)
    into lines of at most 76 characters, escaping a leading "." or "From "."""
    pieces: list[bytes] = []
    while True:
        if line[:1] == b".":
            line = b"=2E" + line[1:]
        elif line[:5] == b"From ":
            line = b"=46" + line[1:]
        if len(line) <= _QP_MAX:
            pieces.append(line)
            return pieces
        cut = _QP_MAX - 1  # leave room for the soft-break "="
        # RFC 2045 §6.7 rule 5: never split an "=XX" escape.
        if line[cut - 1 : cut] == b"=":
            cut -= 1
        elif line[cut - 2 : cut - 1] == b"=":
            cut -= 2
        pieces.append(line[:cut] + b"=")
        line = line[cut:]


def _qp_fix(match: re.Match[bytes]) -> bytes:
    return b"\n".join(_qp_split(match.group()))


def qp_encode(data: bytes, linesep: bytes = b"\r\n", *, binary: bool = False) -> bytes:
    """Quoted-printable (RFC 2045 §6.7), lines of at most 76 characters.

    Text mode (default): CRLF, LF and lone CR are line breaks and become ``linesep``
    hard breaks (rule 4); binary mode encodes CR and LF as ``=0D``/``=0A``. "=",
    non-printable and 8-bit bytes are escaped (rules 1-2), white space before a line
    end is escaped (rule 3), long lines get soft breaks that never split an escape
    (rule 5). For safety a "." or "From " at the start of a line is escaped too.
    """
    if not data:
        return b""
    if not binary and b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            data = data.replace(b"\r", b"\n")  # lone CR: a line break too
    out = binascii.b2a_qp(data, quotetabs=False, istext=not binary, header=False)
    if binary and b"\r\n" in out:
        # binascii copies the data's first line ending for its soft breaks ("=\r\n"
        # when the data starts with CRLF); every real CR is already escaped as =0D, so
        # any CRLF here is a soft break: make it LF before linesep goes in, or the
        # result holds "=\r\r\n" (a bare CR, RFC 5322 §2.3).
        out = out.replace(b"\r\n", b"\n")
    # Cheap substring tests first: the fix-up regex only runs when it can match
    # (binascii only exceeds 76 characters when it escapes white space before a
    # line end, which always leaves "=20" or "=09" right before the LF).
    if (
        out[:1] == b"."
        or out[:5] == b"From "
        or b"\n." in out
        or b"\nFrom " in out
        or b"=20\n" in out
        or b"=09\n" in out
    ):
        out = _QP_FIX.sub(_qp_fix, out)
    if linesep != b"\n":
        out = out.replace(b"\n", linesep)
    return out


def qp_decode(data: bytes, defects: list[Defect] | None = None) -> bytes:
    """Decode quoted-printable leniently (RFC 2045 §6.7); never raises.

    Soft breaks end in LF or CRLF and may have white space after the "=" (added by
    transports, rule 3). An "=" not followed by two hex digits is kept literally and
    recorded as an ``InvalidQuotedPrintable`` defect; lower-case hex is accepted.
    Hard line endings are kept as they are in the input.
    """
    if b"=" not in data:
        return bytes(data)
    if _QP_SOFT_WS.search(data) is not None:
        data = _QP_SOFT_WS.sub(b"=", data)
    bad = _QP_BAD.search(data)
    if bad is not None:
        _add(
            defects,
            "InvalidQuotedPrintable",
            f"'=' not followed by two hex digits at offset {bad.start()} kept literally",
        )
    return binascii.a2b_qp(data)


# --- uuencode -------------------------------------------------------------------------

# Patterns are written so that no input makes them backtrack quadratically.
_UU_BEGIN = re.compile(rb"^begin[ \t]+([0-7]{3,4})[ \t]([^\r\n]*)", re.MULTILINE)
_UU_END = re.compile(rb"end[ \t]*(?:\r?\n|\r|\Z)")
_UU_RUN = re.compile(rb"(?:[\x20-\x60\t]*\r?\n)*")  # consecutive uuencode-alphabet lines


def _uu_line(line: bytes) -> bytes:
    try:
        return binascii.a2b_uu(line)
    except binascii.Error:
        # Extra characters (some encoders add a checksum) or a short line: cut or pad
        # to the length the first character announces.
        n = (line[0] - 32) & 0o77
        need = 1 + (n + 2) // 3 * 4
        fixed = line[:need].ljust(need, b" ")
        try:
            return binascii.a2b_uu(fixed)
        except binascii.Error:
            return b""


def uu_decode(lines: list[bytes], defects: list[Defect] | None = None) -> bytes:
    """Decode uuencoded data lines (without ``begin``/``end``); repairs bad lines."""
    out: list[bytes] = []
    damaged = 0
    for raw in lines:
        line = raw.rstrip(b"\r\n")
        if not line:
            continue
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            damaged += 1
            out.append(_uu_line(line))
    if damaged:
        _add(defects, "InvalidUuencode", f"{damaged} malformed uuencode lines repaired")
    return b"".join(out)


def find_uuencoded(data: bytes) -> list[tuple[str, int, bytes, int, int]]:
    """Inline uuencoded files in a text body: ``begin 644 name`` ... ``end`` blocks.

    Returns ``(filename, mode, decoded bytes, start offset, end offset)`` per block,
    where ``data[start:end]`` is the block from ``begin`` through the line ending
    after ``end``. A ``begin`` line whose following lines are not uuencode (ordinary
    prose) is not a block. The filename is decoded as UTF-8, else Latin-1.
    """
    found: list[tuple[str, int, bytes, int, int]] = []
    if b"begin " not in data and b"begin\t" not in data:
        return found
    pos = 0
    while True:
        m = _UU_BEGIN.search(data, pos)
        if m is None:
            return found
        pos = m.end()
        body_start = m.end() + (2 if data[pos : pos + 2] == b"\r\n" else 1)
        run = _UU_RUN.match(data, body_start)
        end = _UU_END.match(data, run.end()) if run is not None else None
        if run is None or end is None or run.end() == body_start:
            continue  # prose after a "begin" line, or no "end" right after the data
        lines = data[body_start : run.end()].splitlines()
        raw_name = m.group(2).strip(b" \t")
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            name = raw_name.decode("latin-1")
        found.append((name, int(m.group(1), 8), uu_decode(lines), m.start(), end.end()))
        pos = end.end()


# --- bodies ---------------------------------------------------------------------------

_CTE_ALIASES = {
    "7bit": "7bit",
    "7-bit": "7bit",
    "8bit": "8bit",
    "8-bit": "8bit",
    "binary": "binary",
    "base64": "base64",
    "quoted-printable": "quoted-printable",
    "x-uuencode": "x-uuencode",
    "uuencode": "x-uuencode",
    "x-uue": "x-uuencode",
    "uue": "x-uuencode",
    "": "7bit",
}


def normalize_cte(cte: str | None) -> str | None:
    """Canonical lower-case name of a Content-Transfer-Encoding, None when unknown.

    Matching ignores case, surrounding white space and quotes, and a trailing
    comment (RFC 2045 §6.1 allows CFWS around the token); ``uuencode`` and ``x-uue``
    are ``x-uuencode``; an empty value is ``7bit`` (RFC 2045 §6.1 default).
    """
    if cte is None:
        return "7bit"
    key = cte.strip().strip('"').strip().lower()
    paren = key.find("(")
    if paren > 0:
        key = key[:paren].rstrip()
    return _CTE_ALIASES.get(key)


def decode_body(data: bytes, cte: str, defects: list[Defect] | None = None) -> bytes:
    """The content of a body encoded with ``cte``; never raises.

    Identity encodings (7bit, 8bit, binary) return the bytes as they are; an
    unknown encoding does too, with an ``UnknownTransferEncoding`` defect.
    """
    name = normalize_cte(cte)
    if name == "base64":
        return b64_decode(data, defects)
    if name == "quoted-printable":
        return qp_decode(data, defects)
    if name == "x-uuencode":
        blocks = find_uuencoded(data)
        if blocks:
            return blocks[0][2]
        _add(defects, "InvalidUuencode", "no 'begin' line: body decoded as bare uuencode lines")
        return uu_decode(
            [ln for ln in data.splitlines() if ln.strip() and ln.strip() != b"end"], defects
        )
    if name is None:
        _add(defects, "UnknownTransferEncoding", f"unknown transfer encoding {cte.strip()!r}")
    return data


_MAX_LINE = 998  # RFC 5322 §2.1.1 / RFC 2045 §2.8: 998 octets without the CRLF
_LONG_LINE = re.compile(rb"[^\r\n]{999}")


def _has_long_line(data: bytes) -> bool:
    """True if a line (split at CR or LF) exceeds 998 octets; split-based, fast."""
    if len(data) <= _MAX_LINE:
        return False
    longest = max(data.split(b"\n"), key=len)
    if len(longest) <= _MAX_LINE:
        return False
    return _LONG_LINE.search(longest) is not None

def crlf_only(data: bytes) -> bool:
    """True if every CR and every LF in ``data`` is part of a CRLF pair (RFC 5322 §2.3:
    CR and LF occur only together); no copy is made."""
    crlf = data.count(b"\r\n")
    return crlf == data.count(b"\n") and crlf == data.count(b"\r")


def to_crlf(data: bytes) -> bytes:
    """``data`` with every CR, LF or CRLF line end made CRLF (``data`` itself when it
    has only CRLF already)."""
    if crlf_only(data):
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


_BARE_CR = re.compile(rb"\r(?!\n)")
_QP_SAFE = bytes(range(0x21, 0x7F)).replace(b"=", b"") + b" \t\r\n"


def _looks_binary(data: bytes) -> bool:
    if b"\0" in data:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def encode_body(
    data: bytes, cte: str, linesep: bytes = b"\r\n", *, binary: bool | None = None
) -> bytes:
    """Encode content for transfer with ``cte``.

    7bit/8bit normalise every line ending to ``linesep``; they raise
    :class:`EncodingError` when the data cannot be sent that way (RFC 2045 §2.7/2.8:
    8-bit bytes under 7bit, NUL, or a line over 998 octets), so a mislabelled body
    is never written. ``binary`` passes bytes through only when they already fit in a
    message: every line break CRLF (``linesep``) and no line over 998 octets; anything
    else raises :class:`EncodingError` (RFC 5322 §2.1.1 / §2.3 hold for the whole
    message; mimekit never writes a body that breaks them). For quoted-printable,
    ``binary=True`` encodes CR/LF (lossless, for non-text content), ``False`` makes
    line endings hard breaks (text), and ``None`` (default) picks binary mode for
    data holding NUL or invalid UTF-8, so arbitrary bytes always come back exactly.
    """
    name = normalize_cte(cte)
    if name == "base64":
        return b64_encode(data, linesep)
    if name == "quoted-printable":
        if binary is None:
            binary = _looks_binary(data)
        return qp_encode(data, linesep, binary=binary)
    if name == "binary":
        if linesep == b"\r\n":
            breaks_ok = crlf_only(data)
        else:
            breaks_ok = b"\r" not in data
        if not breaks_ok or _has_long_line(data):
            raise EncodingError(
                "binary content with bare CR/LF or a line over 998 octets cannot be written "
                "in a message (RFC 5322 §2.1.1, §2.3): use base64")
        return data
    if name in ("7bit", "8bit"):
        if name == "7bit" and not data.isascii():
            raise EncodingError("8-bit data cannot be sent as 7bit (RFC 2045 §2.7)")
        if b"\0" in data:
            raise EncodingError(f"NUL bytes cannot be sent as {name} (RFC 2045 §2.7/2.8)")
        if _has_long_line(data):
            raise EncodingError(
                f"a line longer than 998 octets cannot be sent as {name} (RFC 5322 §2.1.1)"
            )
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return data.replace(b"\n", linesep) if linesep != b"\n" else data
    raise EncodingError(f"cannot encode with transfer encoding {cte!r}")


def choose_cte(data: bytes, *, text: bool, allow_8bit: bool = False) -> str:
    """The transfer encoding to send ``data`` with.

    ``7bit`` for ASCII text with lines of at most 998 octets and no NUL or bare CR
    (RFC 2045 §2.7); ``8bit`` for such text with 8-bit bytes when the path allows it
    (RFC 6152); otherwise for text the shorter of quoted-printable and base64
    (estimated by counting the bytes QP must escape); ``base64`` for non-text.
    """
    if not text:
        return "base64"
    plain = b"\0" not in data and not _has_long_line(data) and (
        b"\r" not in data or _BARE_CR.search(data) is None
    )
    if plain:
        if data.isascii():
            return "7bit"
        if allow_8bit:
            return "8bit"
    n = len(data)
    escaped = len(data.translate(None, _QP_SAFE))
    lines = data.count(b"\n") + 1
    qp_size = n + 2 * escaped + 3 * (n + 2 * escaped) // (_QP_MAX - 1) + lines
    b64_size = (n + 2) // 3 * 4 * (_B64_LINE + 2) // _B64_LINE
    return "quoted-printable" if qp_size <= b64_size else "base64"
