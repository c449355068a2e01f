"""RFC 2047 encoded words: lenient decoding and size-aware encoding.

Decoding follows what real mail clients accept rather than the letter of RFC 2047:
encoded words glued to each other or to text, white space between adjacent encoded
words dropped (RFC 2047 §6.2), the bytes of adjacent words in the same charset joined
before decoding (so a UTF-8 character split across two words still decodes, case c03),
encoded words inside quoted strings, RFC 2231 §5 language suffixes
(``=?utf-8*en?Q?...?=``) and unknown or misspelled charsets (delegated to
:func:`mimekit.charset.decode_bytes`). It never raises on bad input; it records
:class:`~mimekit.errors.Defect` values instead.

Encoding produces words of at most 75 characters (RFC 2047 §2), picks Q or B per word
by size, never emits an empty word and never splits a character (nor, where cheap, a
combining mark from its base).
"""

from __future__ import annotations

import binascii
import re
import unicodedata

from mimekit.errors import Defect, EncodingError
from mimekit.errors import add_defect as _add

__all__ = ["decode_header_text", "encode_words", "needs_encoding"]

# RFC 2047 §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?="
# charset may carry an RFC 2231 §5 language suffix ("*en"). The encoded text may not
# contain "?"; we tolerate spaces in it (some mailers leave them in Q text).
_EW_RE = re.compile(r"=\?([^?\s*]+)(?:\*([^?\s]*))?\?([QqBb])\?([^?\r\n]*)\?=")

_B64_JUNK_RE = re.compile(rb"[^A-Za-z0-9+/]")

# Python codecs we trust to decode without help (the common, unambiguous labels).
_FAST_CODECS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "us-ascii": "ascii",
    "ascii": "ascii",
    # iso-8859-1 goes through charset.decode_bytes: C1 bytes (0x80-0x9F) are read as
    # windows-1252 there, as in bodies (curly quotes, not control characters).
    "iso-8859-15": "iso-8859-15",
    "iso-8859-2": "iso-8859-2",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
}



def _decode_b(text: str, defects: list[Defect] | None) -> bytes | None:
    """Base64 encoded text to bytes, tolerant of missing padding and stray characters."""
    raw = text.encode("ascii", "replace")
    clean = _B64_JUNK_RE.sub(b"", raw.rstrip(b"="))
    if len(clean) != len(raw.rstrip(b"=")):
        _add(defects, "InvalidEncodedWord", "non-base64 characters in a B encoded word ignored")
    if len(clean) % 4 == 1:
        _add(defects, "InvalidEncodedWord", "base64 encoded word has a dangling character")
        clean = clean[:-1]
    padded = clean + b"=" * (-len(clean) % 4)
    if padded != raw and len(clean) == len(raw.rstrip(b"=")):
        _add(defects, "InvalidEncodedWord", "base64 encoded word with wrong padding")
    try:
        return binascii.a2b_base64(padded)
    except binascii.Error:  # pragma: no cover - cleaned input always decodes
        _add(defects, "InvalidEncodedWord", "undecodable base64 encoded word kept as is")
        return None


def _decode_q(text: str) -> bytes:
    """Q encoded text (RFC 2047 §4.2: "_" is a space, "=XX" an octet) to bytes.

    binascii keeps malformed "=" escapes as they are, which is what clients do.
    """
    data = text.encode("utf-8", "surrogateescape")
    if data.endswith(b"="):
        # A final "=" is no escape (RFC 2047 §4.2 needs two hex digits); binascii would
        # read it as a soft line break and drop it, so keep it literally.
        return binascii.a2b_qp(data[:-1], header=True) + b"="
    return binascii.a2b_qp(data, header=True)


def _decode_charset(data: bytes, charset: str, defects: list[Defect] | None) -> str:
    """Bytes of one run of encoded words to text in their declared charset."""
    low = charset.lower()
    codec = _FAST_CODECS.get(low)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    elif low in ("iso-2022-jp", "csiso2022jp") and b"\x1b" in data:
        try:
            return data.decode("iso2022_jp_ext")
        except UnicodeDecodeError:
            from mimekit.charset import decode_iso2022jp_ms

            text = decode_iso2022jp_ms(data)
            if text is not None:
                return text
    try:
        from mimekit.charset import decode_bytes
    except ImportError:  # pragma: no cover - charset.py is part of the package
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            _add(defects, "UnknownCharset", f"charset {charset!r} not usable; decoded leniently")
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                return data.decode("latin-1")
    text, used = decode_bytes(data, charset, defects)
    if "\ufffd" in text and _replaced(data, used, text):
        # The word's bytes are not text in its charset: what could not be read became
        # U+FFFD (lenient). A U+FFFD the sender encoded on purpose is no defect.
        _add(defects, "UndecodableHeaderBytes",
             "undecodable bytes in an encoded word replaced by U+FFFD")
    return text


def _replaced(data: bytes, charset: str, text: str) -> bool:
    """Whether ``text`` holds U+FFFD that decoding ``data`` put in (the charset it was
    read with does not give exactly ``text`` strictly)."""
    from mimekit.charset import lookup

    codec = lookup(charset)
    if codec is None:
        return True
    try:
        return data.decode(codec) != text
    except (LookupError, UnicodeDecodeError):
        return True


def decode_header_text(text: str, defects: list[Defect] | None = None) -> str:
    """Decode every RFC 2047 encoded word in an (unfolded) header value, leniently.

    Text outside encoded words is returned as is; white space that only separates two
    encoded words is dropped (RFC 2047 §6.2); adjacent words sharing a charset are
    decoded together so multibyte characters split across words survive.
    """
    if "=?" not in text:
        return text
    if "\n" in text:
        # RFC 5322 §2.2.3 unfolding: a line break followed by WSP is removed.
        text = re.sub(r"\r?\n(?=[ \t])", "", text)
    out: list[str] = []
    pos = 0
    run = bytearray()
    run_charset: str | None = None
    for m in _EW_RE.finditer(text):
        between = text[pos : m.start()]
        charset = m.group(1)
        if m.group(3) in "Bb":
            data = _decode_b(m.group(4), defects)
            if data is None:
                # Undecodable: keep the word literally, ending any run.
                if run_charset is not None:
                    out.append(_decode_charset(bytes(run), run_charset, defects))
                    run.clear()
                    run_charset = None
                out.append(between)
                out.append(m.group(0))
                pos = m.end()
                continue
        else:
            data = _decode_q(m.group(4))
        adjacent = run_charset is not None and (not between or between.isspace())
        if adjacent and run_charset is not None and run_charset.lower() == charset.lower():
            run += data
        else:
            if run_charset is not None:
                out.append(_decode_charset(bytes(run), run_charset, defects))
                run.clear()
            if not adjacent:
                out.append(between)
            run += data
            run_charset = charset
        pos = m.end()
    if run_charset is not None:
        out.append(_decode_charset(bytes(run), run_charset, defects))
    out.append(text[pos:])
    return "".join(out)


# ---------------------------------------------------------------------------
# Encoding

# RFC 2047 §5(3): in a phrase only letters, digits and "!*+-/" may appear unencoded in
# Q text ("=" and "_" have meanings). Using this strict set everywhere makes a word
# valid in every position (unstructured text, phrases, comments).
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_SAFE_BYTES = bytes(sorted(_Q_SAFE)) + b" "
_Q_TABLE = [chr(b) if b in _Q_SAFE else ("_" if b == 0x20 else f"={b:02X}") for b in range(256)]

# RFC 5322 §3.2.5 unstructured text is VCHAR and WSP; anything else (controls, DEL,
# non-ASCII) or something a decoder would take for an encoded word needs encoding.
_NEEDS_RE = re.compile(r"[^\t\x20-\x7e]|=\?")


def needs_encoding(text: str) -> bool:
    """True when ``text`` cannot go into a 7-bit header as is: non-ASCII or control
    characters, or a ``=?`` that a decoder could take for an encoded word."""
    return _NEEDS_RE.search(text) is not None


def _q_len(data: bytes) -> int:
    # Every unsafe octet becomes "=XX" (3 characters).
    return len(data) + 2 * len(data.translate(None, _Q_SAFE_BYTES))


def _b_len(nbytes: int) -> int:
    return 4 * ((nbytes + 2) // 3)


def _is_extender(ch: str) -> bool:
    """Characters that belong to the preceding one (combining marks, joiners, variation
    selectors, emoji modifiers): keep them in the same encoded word when cheap."""
    o = ord(ch)
    return (
        unicodedata.combining(ch) != 0
        or o == 0x200D
        or 0xFE00 <= o <= 0xFE0F
        or 0x1F3FB <= o <= 0x1F3FF
        or 0xE0020 <= o <= 0xE007F
    )


def _clusters(text: str) -> list[str]:
    """Split text into approximate grapheme clusters (base + extenders, ZWJ sequences)."""
    if text.isascii():
        return list(text)
    out: list[str] = []
    join_next = False
    for ch in text:
        if out and (join_next or _is_extender(ch)):
            out[-1] += ch
        else:
            out.append(ch)
        join_next = ch == "\u200d"
    return out


def _make_word(prefix: str, data: bytes, use_b: bool) -> str:
    if use_b:
        return prefix + "B?" + binascii.b2a_base64(data, newline=False).decode("ascii") + "?="
    return prefix + "Q?" + "".join([_Q_TABLE[b] for b in data]) + "?="


def encode_words(
    text: str, *, charset: str = "utf-8", first_len: int = 0, maxlen: int = 75
) -> list[str]:
    """Encode ``text`` as RFC 2047 encoded words, each at most ``maxlen`` characters.

    The first word is kept to ``maxlen - first_len`` characters when at least one
    character fits there (so it can share a line with what precedes it); otherwise it
    gets the full ``maxlen`` and the caller folds before it. Each word uses Q or B,
    whichever is shorter for its content. Words never split a character and avoid
    separating combining marks from their base. White space between the returned
    words is dropped by decoders (RFC 2047 §6.2), so the words decode back to ``text``.
    An empty ``text`` gives an empty list.
    """
    if not text:
        return []
    try:
        "".encode(charset)
    except LookupError:
        raise EncodingError(f"unknown charset {charset!r} for encoded words") from None
    prefix = f"=?{charset}?"
    overhead = len(prefix) + 4  # "Q?" + "?="
    budget_full = maxlen - overhead
    if budget_full < 12:  # room for at least one 4-octet character in Q or B
        raise ValueError(f"maxlen {maxlen} too small for encoded words in {charset}")
    try:
        pieces = [(c, c.encode(charset)) for c in _clusters(text)]
    except UnicodeEncodeError as exc:
        raise EncodingError(f"text cannot be encoded in {charset}: {exc}") from None

    words: list[str] = []
    budget = maxlen - first_len - overhead
    cur = bytearray()
    qlen = 0
    i = 0
    n = len(pieces)
    while i < n:
        chars, data = pieces[i]
        nq = qlen + _q_len(data)
        nb = _b_len(len(cur) + len(data))
        if min(nq, nb) <= budget:
            cur += data
            qlen = nq
            i += 1
            continue
        if cur:
            words.append(_make_word(prefix, bytes(cur), _b_len(len(cur)) < qlen))
            cur.clear()
            qlen = 0
            budget = budget_full
            continue
        if budget < budget_full:
            # Nothing fits on the first line: give the first word a full line.
            budget = budget_full
            continue
        # A single cluster longer than a word: split it into code points.
        if len(chars) > 1:
            pieces[i : i + 1] = [(c, c.encode(charset)) for c in chars]
            n = len(pieces)
            continue
        raise ValueError(f"character {chars!r} does not fit in an encoded word")  # pragma: no cover
    if cur:
        words.append(_make_word(prefix, bytes(cur), _b_len(len(cur)) < qlen))
    return words
