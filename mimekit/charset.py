"""Charsets: MIME labels to Python codecs, and decoding text that lies about itself.

Mail declares its charset with labels Python does not know (``windows-874``,
``ks_c_5601-1987``, ``x-mac-cyrillic``, ``iso-8859-8-i``), misspells them
(``uft-8``), or declares one and sends another. :func:`lookup` maps labels to
Python codecs through an alias table (modelled on the WHATWG Encoding Standard's
label list, which is what real mail clients follow), and :func:`decode_bytes`
decodes with a fixed, documented fallback order, recording a defect whenever the
declared charset was not the one used.

This is the only module that imports ``chardet`` (lazily: detection is the rare,
slow path).
"""

from __future__ import annotations

import codecs
import functools
import re
from typing import Any

from mimekit.errors import Defect
from mimekit.errors import add_defect as _add

__all__ = ["canonical_name", "decode_bytes", "decode_iso2022jp_ms", "lookup"]

# --- private codecs ----------------------------------------------------------------
# WHATWG "x-user-defined": 0x00-0x7F as ASCII, 0x80-0xFF to U+F780..U+F7FF.
# WHATWG "windows-1252": cp1252 whose five holes (0x81 0x8D 0x8F 0x90 0x9D) map to
# the C1 code points, so it decodes every byte (Python's cp1252 rejects them).
_XUD_NAME = "mimekit-x-user-defined"
_W1252_NAME = "mimekit-windows-1252"


def _make_charmap_codec(name: str, table: str) -> codecs.CodecInfo:
    enc_table = codecs.charmap_build(table)

    def encode(text: str, errors: str = "strict", /) -> tuple[bytes, int]:
        return codecs.charmap_encode(text, errors, enc_table)

    def decode(data: Any, errors: str = "strict", /) -> tuple[str, int]:
        return codecs.charmap_decode(data, errors, table)

    class _Incr(codecs.IncrementalDecoder):
        def decode(self, input: Any, final: bool = False) -> str:
            return codecs.charmap_decode(input, self.errors, table)[0]

    class _IncrE(codecs.IncrementalEncoder):
        def encode(self, input: str, final: bool = False) -> bytes:
            return codecs.charmap_encode(input, self.errors, enc_table)[0]

    return codecs.CodecInfo(
        name=name,
        encode=encode,
        decode=decode,
        incrementalencoder=_IncrE,
        incrementaldecoder=_Incr,
    )


def _w1252_table() -> str:
    chars = []
    for b in range(256):
        try:
            chars.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            chars.append(chr(b))
    return "".join(chars)


_PRIVATE: dict[str, codecs.CodecInfo] = {}


def _search(name: str) -> codecs.CodecInfo | None:
    # Python normalises the name (lower case, hyphens may become underscores).
    key = name.replace("_", "-")
    if key not in (_XUD_NAME, _W1252_NAME):
        return None
    info = _PRIVATE.get(key)
    if info is None:
        if key == _XUD_NAME:
            table = "".join(chr(b) if b < 0x80 else chr(0xF780 + b - 0x80) for b in range(256))
        else:
            table = _w1252_table()
        info = _make_charmap_codec(key, table)
        _PRIVATE[key] = info
    return info


codecs.register(_search)

# --- alias table ------------------------------------------------------------------
# MIME / WHATWG label -> Python codec name. Only labels Python gets wrong or does not
# know need an entry; everything else goes through codecs.lookup.
_ALIASES: dict[str, str] = {
    # UTF-8 and friends
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "unicode11utf8": "utf-8",
    "unicode20utf8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "unicode-2-0-utf-7": "utf-7",
    "x-unicode20utf7": "utf-7",
    "utf7": "utf-7",
    "ucs-2": "utf-16",
    "unicode": "utf-16",
    "unicodefffe": "utf-16-be",
    # ASCII
    "us-ascii": "ascii",
    "ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "ansi_x3.4-1986": "ascii",
    "iso-ir-6": "ascii",
    "iso646-us": "ascii",
    "us": "ascii",
    "cp367": "ascii",
    "ibm367": "ascii",
    "csascii": "ascii",
    "646": "ascii",
    # Latin-1 (C1 bytes are re-read as windows-1252 in decode_bytes)
    "latin1": "latin-1",
    "latin-1": "latin-1",
    "iso-8859-1": "latin-1",
    "iso8859-1": "latin-1",
    "iso88591": "latin-1",
    "iso_8859-1": "latin-1",
    "iso_8859-1:1987": "latin-1",
    "iso-ir-100": "latin-1",
    "l1": "latin-1",
    "cp819": "latin-1",
    "ibm819": "latin-1",
    "csisolatin1": "latin-1",
    # Windows code pages: decode every byte like browsers do
    "windows-1252": _W1252_NAME,
    "cp1252": _W1252_NAME,
    "x-cp1252": _W1252_NAME,
    "windows-874": "cp874",
    "dos-874": "cp874",
    "iso-8859-11": "cp874",
    "iso8859-11": "cp874",
    "iso885911": "cp874",
    "tis-620": "cp874",
    "x-cp1250": "cp1250",
    "x-cp1251": "cp1251",
    # Hebrew logical/visual order: same bytes
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-8-e": "iso8859-8",
    "iso_8859-8-i": "iso8859-8",
    "csiso88598i": "iso8859-8",
    "logical": "iso8859-8",
    "visual": "iso8859-8",
    "iso-8859-6-i": "iso8859-6",
    "iso-8859-6-e": "iso8859-6",
    # Korean: Outlook's ks_c_5601-1987 is really Windows-949 (a superset of EUC-KR)
    "ks_c_5601-1987": "cp949",
    "ks_c_5601-1989": "cp949",
    "ks_c_5601": "cp949",
    "ksc_5601": "cp949",
    "ksc5601": "cp949",
    "korean": "cp949",
    "csksc56011987": "cp949",
    "iso-ir-149": "cp949",
    "euc-kr": "cp949",
    "windows-949": "cp949",
    "x-windows-949": "cp949",
    # Chinese: GB2312 / GBK labels decode as GB18030, a superset (as browsers do)
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "x-gbk": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "windows-936": "gb18030",
    "chinese": "gb18030",
    "iso-ir-58": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "cn-big5": "big5hkscs",
    "csbig5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "hz-gb-2312": "hz",
    # Japanese
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "csshiftjis": "cp932",
    "windows-31j": "cp932",
    "ms932": "cp932",
    "euc-jp": "euc_jis_2004",
    "x-euc-jp": "euc_jis_2004",
    "cseucpkdfmtjapanese": "euc_jis_2004",
    "iso-2022-jp": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    "iso-2022-jp-1": "iso2022_jp_1",
    "iso-2022-jp-2": "iso2022_jp_2",
    "iso-2022-jp-3": "iso2022_jp_3",
    "iso-2022-jp-2004": "iso2022_jp_2004",
    "iso-2022-jp-ext": "iso2022_jp_ext",
    # Cyrillic
    "koi8": "koi8-r",
    "koi": "koi8-r",
    "cskoi8r": "koi8-r",
    "koi8_r": "koi8-r",
    "koi8-ru": "koi8-u",
    "ibm866": "cp866",
    "866": "cp866",
    "csibm866": "cp866",
    # Macintosh
    "macintosh": "mac-roman",
    "mac": "mac-roman",
    "csmacintosh": "mac-roman",
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-ukrainian": "mac-cyrillic",
    "x-mac-ce": "mac-latin2",
    "x-mac-centraleurroman": "mac-latin2",
    "x-mac-greek": "mac-greek",
    "x-mac-turkish": "mac-turkish",
    "x-mac-icelandic": "mac-iceland",
    "x-mac-iceland": "mac-iceland",
    "x-mac-croatian": "mac-croatian",
    "x-mac-romanian": "mac-romanian",
    "x-mac-arabic": "mac-arabic",
    "x-mac-farsi": "mac-farsi",
    # Other WHATWG oddities
    "x-user-defined": _XUD_NAME,
    "iso-8859-16": "iso8859-16",
    "cp-850": "cp850",
    "x-ibm850": "cp850",
}

# Python codecs that are not text encodings of mail, or that turn attacker bytes into
# something surprising (escape interpreters): never used for a declared label.
_REFUSED = frozenset(
    {
        "unicode_escape",
        "raw_unicode_escape",
        "idna",
        "punycode",
        "undefined",
        "charmap",
        "mbcs",
        "oem",
        "utf_8_sig",
    }
)

# Python codec name -> preferred MIME name reported as "charset actually used".
_MIME_NAMES: dict[str, str] = {
    "utf-8": "utf-8",
    "ascii": "us-ascii",
    "iso8859-1": "iso-8859-1",
    "latin-1": "iso-8859-1",
    _W1252_NAME: "windows-1252",
    _XUD_NAME: "x-user-defined",
    "cp949": "ks_c_5601-1987",
    "cp932": "shift_jis",
    "euc_jis_2004": "euc-jp",
    "iso2022_jp_ext": "iso-2022-jp",
    "big5hkscs": "big5",
    "mac-roman": "macintosh",
    "mac-cyrillic": "x-mac-cyrillic",
    "hz": "hz-gb-2312",
    "utf-7": "utf-7",
}

_QUOTES = "\"' \t\r\n"


_LABEL_END = re.compile(r"[\s;,()*\"']")


def _normalise(label: str) -> str:
    key = label.strip(_QUOTES).lower()
    # Cut at what cannot be part of a label: RFC 2231 §5 language suffix ("utf-8*en"),
    # a comment ("us-ascii (plain)"), or a parameter swallowed by a broken header.
    m = _LABEL_END.search(key)
    return key[: m.start()] if m is not None else key


_CHARSET_NAME = re.compile(r"[A-Za-z0-9!#$%&'+\-^_`{}~.:]+")


@functools.lru_cache(maxsize=512)
def _lookup(key: str) -> str | None:
    name = _ALIASES.get(key)
    if name is None:
        name = _ALIASES.get(key.replace("_", "-"))
    if name is None:
        # RFC 2978 §2.3: a charset name is printable ASCII without specials; anything
        # else (NUL, spaces, controls from a hostile header) is simply unknown.
        if not key or len(key) > 40 or not _CHARSET_NAME.fullmatch(key):
            return None
        try:
            info = codecs.lookup(key)
        except (LookupError, ValueError):
            return None
        name = info.name
    try:
        info = codecs.lookup(name)
    except LookupError:  # pragma: no cover - table entry Python lacks
        return None
    # bytes-to-bytes / str-to-str transforms (base64_codec, rot13, zlib...) are not
    # charsets; neither are the escape interpreters.
    if not getattr(info, "_is_text_encoding", True):
        return None
    if info.name.replace("-", "_") in _REFUSED:
        return None
    return name


def lookup(label: str | None) -> str | None:
    """Python codec name for a MIME charset label, or None when unknown.

    Case, surrounding quotes and white space are ignored, as is an RFC 2231 language
    suffix (``utf-8*en``). Labels Python lacks or gets wrong come from the alias
    table; Python's own aliases cover the rest. Non-text codecs (``base64``,
    ``rot13``, ``unicode_escape``...) are refused: a header must not be able to pick
    them.
    """
    if not label:
        return None
    return _lookup_label(label)


@functools.lru_cache(maxsize=512)
def _lookup_label(label: str) -> str | None:
    return _lookup(_normalise(label))


@functools.lru_cache(maxsize=256)
def canonical_name(codec: str) -> str:
    """The preferred MIME name for a Python codec name returned by :func:`lookup`."""
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return codec.lower()
    mime = _MIME_NAMES.get(name)
    if mime is not None:
        return mime
    if name.startswith("iso8859-"):
        return "iso-8859-" + name[8:]
    if name.startswith("cp125") and len(name) == 6:
        return "windows-" + name[2:]
    if name == "cp874":
        return "windows-874"
    return name.replace("_", "-")


_C1_RE = re.compile(rb"[\x80-\x9f]")
_CHARDET_BYTES = 65536
_CHARDET_MIN_CONFIDENCE = 0.3



def _try(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(data: bytes) -> str | None:
    """chardet's answer for 8-bit data, when it is confident and decodes the data."""
    try:
        import chardet
    except ImportError:  # pragma: no cover - chardet is a dependency
        return None
    try:
        result = chardet.detect(data[:_CHARDET_BYTES])
    except Exception:  # noqa: BLE001 - pragma: no cover - never let detection break parsing
        return None
    enc = result.get("encoding")
    conf = result.get("confidence") or 0.0
    if not enc or conf < _CHARDET_MIN_CONFIDENCE:
        return None
    return lookup(str(enc))


# RFC 1468 ISO-2022-JP designations: ASCII, JIS X 0201 Roman, JIS X 0201 katakana (not
# in RFC 1468, but Microsoft's CP50221 writes it), JIS X 0208-1978 and -1983.
_ISO2022JP_ESC = re.compile(rb"\x1b(\([BJI]|\$[@B])")


def decode_iso2022jp_ms(data: bytes) -> str | None:
    """ISO-2022-JP as Microsoft writes it (CP50220/CP50221), or None.

    Outlook puts the NEC and IBM extension rows of CP932 (circled digits, "№", roman
    numerals...) inside JIS X 0208 escapes; Python's ISO-2022-JP codecs refuse them.
    Each two-byte JIS code is mapped to its Shift_JIS form (the standard arithmetic
    mapping) and the whole is decoded as CP932, which holds those rows.
    """
    pieces = _ISO2022JP_ESC.split(data)
    out = bytearray()
    mode = b"(B"
    for i, piece in enumerate(pieces):
        if i % 2:
            mode = piece
            continue
        if mode in (b"(B", b"(J"):
            if not piece.isascii():
                return None
            out += piece
        elif mode == b"(I":  # half-width katakana, GL form
            if any(not 0x21 <= b <= 0x5F for b in piece):
                return None
            out += bytes(b + 0x80 for b in piece)
        else:
            if len(piece) % 2:
                return None
            for j in range(0, len(piece), 2):
                j1, j2 = piece[j], piece[j + 1]
                if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
                    return None
                s1 = ((j1 + 1) >> 1) + (0x70 if j1 <= 0x5E else 0xB0)
                if j1 % 2:
                    s2 = j2 + 0x1F + (1 if j2 >= 0x60 else 0)
                else:
                    s2 = j2 + 0x7E
                out += bytes((s1, s2))
    try:
        return bytes(out).decode("cp932")
    except UnicodeDecodeError:
        return None


def decode_bytes(
    data: bytes,
    declared: str | None,
    defects: list[Defect] | None = None,
    *,
    fallback: str = "latin-1",
    strip_bom: bool = True,
) -> tuple[str, str]:
    """Decode text bytes; return ``(text, charset actually used)``. Never raises.

    ``strip_bom`` drops a leading UTF-8 byte order mark from body text (it is not
    content); values such as parameters keep every character (``strip_bom=False``).

    Order: the declared charset (via :func:`lookup`) if it decodes strictly, else
    UTF-8 if the bytes are valid UTF-8, else chardet's confident guess for 8-bit
    data, else ``fallback`` (Latin-1 by default, which decodes anything). A defect
    is appended whenever the declared charset was not used: ``UnknownCharset``
    (label unknown), ``CharsetMismatch`` (it could not decode the bytes; this
    includes 8-bit bytes declared ``us-ascii``) or ``CharsetGuessed`` (8-bit data
    with no declaration). The charset returned is a preferred MIME name.

    Latin-1 declared data holding C1 bytes (0x80-0x9F) is read as windows-1252, as
    browsers and mail clients do: those bytes are always curly quotes, dashes or the
    euro sign in practice, never C1 control codes.
    """
    codec: str | None = None
    if declared is not None and declared.strip(_QUOTES):
        codec = lookup(declared)
        if codec is not None:
            # Fast path: one decode call for the common (declared and valid) case.
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                text = None
            if text is None and canonical_name(codec) == "iso-2022-jp":
                # The same charset as Microsoft writes it (CP50220/CP50221 extensions).
                text = _try(data, "iso2022_jp_ext") or decode_iso2022jp_ms(data)
            if text is not None:
                name = canonical_name(codec)
                if name == "iso-8859-1" and _C1_RE.search(data):
                    return data.decode(_W1252_NAME), "windows-1252"
                if strip_bom and name == "utf-8" and text[:1] == "\ufeff":
                    text = text[1:]  # a byte order mark is not content
                return text, name
            _add(
                defects,
                "CharsetMismatch",
                f"declared charset {declared.strip(_QUOTES)!r} cannot decode the data",
            )
        else:
            _add(defects, "UnknownCharset", f"unknown charset {declared.strip(_QUOTES)!r}")
        reported = True
    else:
        reported = False

    if data[:2] in (b"\xff\xfe", b"\xfe\xff") and not reported:
        # A UTF-16 byte order mark on undeclared data (Windows tools attach such files).
        text = _try(data, "utf-16")
        if text is not None:
            _add(defects, "CharsetGuessed", "undeclared data with a UTF-16 byte order mark")
            return text, "utf-16"

    if data.isascii():
        # ISO-2022-JP and friends are 7-bit: recognise their escape sequences.
        if b"\x1b$" in data or b"\x1b(" in data:
            text = _try(data, "iso2022_jp_ext") or _try(data, "iso2022_jp_2")
            if text is not None:
                if not reported:
                    _add(defects, "CharsetGuessed", "undeclared ISO-2022-JP data detected")
                return text, "iso-2022-jp"
        return data.decode("ascii"), "us-ascii"

    text = _try(data, "utf-8")
    if text is not None:
        if strip_bom and text[:1] == "\ufeff":
            text = text[1:]  # a byte order mark is not content
        if not reported:
            _add(defects, "CharsetGuessed", "undeclared 8-bit data decoded as UTF-8")
        return text, "utf-8"

    guess = _detect(data)
    if guess is not None:
        text = _try(data, guess)
        if text is not None:
            name = canonical_name(guess)
            if not reported:
                _add(defects, "CharsetGuessed", f"undeclared 8-bit data detected as {name}")
            return text, name

    # Data declared UTF-8 that is mostly UTF-8 with a few broken sequences (truncated
    # or spliced text) reads better with replacement characters than as Latin-1.
    if codec == "utf-8":
        text = data.decode("utf-8", "replace")
        bad = text.count("\ufffd")
        good = len(text) - len(text.encode("ascii", "ignore")) - bad
        if good >= 4 * bad:
            return text, "utf-8"

    fb = lookup(fallback) or "latin-1"
    if canonical_name(fb) == "iso-8859-1" and _C1_RE.search(data):
        # C1 bytes in "Latin-1" data are windows-1252 (the WHATWG encoding standard
        # maps the iso-8859-1 label to windows-1252); the defect names what was used.
        text, name = data.decode(_W1252_NAME), "windows-1252"
    else:
        name = canonical_name(fb)
        try:
            text = data.decode(fb)
        except UnicodeDecodeError:
            text = data.decode(fb, "replace")
    if not reported:
        _add(defects, "CharsetGuessed", f"undeclared 8-bit data decoded as {name}")
    return text, name
