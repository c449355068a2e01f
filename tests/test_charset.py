"""Tests for mimekit.charset: alias table and the decode fallback chain."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.charset import canonical_name, decode_bytes, lookup
from mimekit.errors import Defect


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("windows-874", "cp874"),
        ("iso-8859-8-i", "iso8859-8"),
        ("ks_c_5601-1987", "cp949"),
        ("KS_C_5601-1987", "cp949"),
        ("x-mac-cyrillic", "mac-cyrillic"),
        ("x-mac-ce", "mac-latin2"),
        ("x-mac-roman", "mac-roman"),
        ("utf8", "utf-8"),
        ("UTF-8", "utf-8"),
        ('"utf-8"', "utf-8"),
        (" utf-8 ", "utf-8"),
        ("utf-8*en", "utf-8"),
        ("us-ascii (Plain text)", "ascii"),
        ("utf-8;format=flowed", "utf-8"),
        ("latin1", "latin-1"),
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("ansi_x3.4-1968", "ascii"),
        ("us-ascii", "ascii"),
        ("unicode-1-1-utf-7", "utf-7"),
        ("iso-2022-jp", "iso2022_jp_ext"),
        ("csISO2022JP", "iso2022_jp_ext"),
        ("iso-8859-15", "iso8859-15"),
        ("koi8-r", "koi8-r"),
        ("shift_jis", "cp932"),
    ],
)
def test_lookup_aliases(label: str, codec: str) -> None:
    assert lookup(label) == codec


@pytest.mark.parametrize(
    "label", ["uft-8", "", None, "base64", "rot13", "hex", "zlib", "unicode_escape", "idna",
              "x" * 100, "ütf-8"]
)
def test_lookup_refuses_unknown_and_non_text_codecs(label: str | None) -> None:
    assert lookup(label) is None


def test_x_user_defined_maps_high_bytes_to_private_use() -> None:
    assert lookup("x-user-defined") is not None
    text, used = decode_bytes(b"a\x80\xff", "x-user-defined")
    assert text == "a\uf780\uf7ff"
    assert used == "x-user-defined"


def test_c11_unknown_charset_falls_back_to_utf8() -> None:
    # cases/c11: charset="uft-8" on UTF-8 bytes.
    defects: list[Defect] = []
    text, used = decode_bytes(b"Caf\xc3\xa9 opens at 8.\n", '"uft-8"', defects)
    assert text == "Café opens at 8.\n"
    assert used == "utf-8"
    assert [d.kind for d in defects] == ["UnknownCharset"]
    assert "uft-8" in defects[0].detail


def test_declared_and_valid_records_nothing() -> None:
    defects: list[Defect] = []
    assert decode_bytes("Grüße".encode(), "UTF-8", defects) == ("Grüße", "utf-8")
    assert decode_bytes(b"plain", "us-ascii", defects) == ("plain", "us-ascii")
    assert decode_bytes("Привет".encode("koi8-r"), "koi8-r", defects) == ("Привет", "koi8-r")
    assert decode_bytes("日本".encode("iso-2022-jp"), "ISO-2022-JP", defects) == (
        "日本",
        "iso-2022-jp",
    )
    assert decode_bytes("한국어".encode("cp949"), "ks_c_5601-1987", defects)[0] == "한국어"
    assert defects == []


def test_us_ascii_with_8bit_is_a_mismatch_then_utf8() -> None:
    defects: list[Defect] = []
    text, used = decode_bytes("naïve".encode(), "us-ascii", defects)
    assert (text, used) == ("naïve", "utf-8")
    assert [d.kind for d in defects] == ["CharsetMismatch"]


def test_mismatch_falls_back_to_latin1_when_nothing_else_fits() -> None:
    defects: list[Defect] = []
    text, used = decode_bytes(b"caf\xe9", "us-ascii", defects)
    assert text == "café"
    assert used == "iso-8859-1"
    assert [d.kind for d in defects] == ["CharsetMismatch"]


def test_undeclared_utf8_is_guessed() -> None:
    defects: list[Defect] = []
    assert decode_bytes("Grüße".encode(), None, defects) == ("Grüße", "utf-8")
    assert [d.kind for d in defects] == ["CharsetGuessed"]


def test_undeclared_ascii_needs_no_guess() -> None:
    defects: list[Defect] = []
    assert decode_bytes(b"hello", None, defects) == ("hello", "us-ascii")
    assert decode_bytes(b"hello", "", defects) == ("hello", "us-ascii")
    assert defects == []


def test_undeclared_cyrillic_is_detected() -> None:
    raw = (
        "Привет мир, как дела? Всё хорошо. Сегодня мы пойдём в кино, "
        "а завтра поедем на дачу к бабушке."
    ).encode("koi8-r")
    defects: list[Defect] = []
    text, used = decode_bytes(raw, None, defects)
    assert used == "koi8-r"
    assert text.startswith("Привет мир")
    assert [d.kind for d in defects] == ["CharsetGuessed"]


def test_undeclared_iso2022jp_is_recognised() -> None:
    defects: list[Defect] = []
    assert decode_bytes("日本語".encode("iso-2022-jp"), None, defects) == ("日本語", "iso-2022-jp")
    assert [d.kind for d in defects] == ["CharsetGuessed"]


def test_latin1_with_c1_bytes_reads_as_windows_1252() -> None:
    text, used = decode_bytes(b"\x93quoted\x94 \x80 5", "iso-8859-1")
    assert text == "\u201cquoted\u201d \u20ac 5"
    assert used == "windows-1252"
    # cp1252's undefined bytes still decode (WHATWG mapping), never an error.
    assert decode_bytes(b"\x81\x8d", "windows-1252") == ("\x81\x8d", "windows-1252")


def test_mostly_utf8_with_a_broken_byte_keeps_utf8() -> None:
    defects: list[Defect] = []
    text, used = decode_bytes("Grüße aus Köln, schöne Größe".encode() + b"\xff", "utf-8", defects)
    assert used == "utf-8"
    assert text == "Grüße aus Köln, schöne Größe\ufffd"
    assert [d.kind for d in defects] == ["CharsetMismatch"]


def test_fallback_option_and_bad_fallback() -> None:
    assert decode_bytes(b"\xe9", "bogus", fallback="cp1252")[0] == "é"
    assert decode_bytes(b"\xe9\xff", "bogus", fallback="ascii")[0] == "\ufffd\ufffd"
    assert decode_bytes(b"\xe9", "bogus", fallback="no-such")[0] == "é"


def test_canonical_names() -> None:
    assert canonical_name("cp1252") == "windows-1252"
    assert canonical_name("iso8859-2") == "iso-8859-2"
    assert canonical_name("latin-1") == "iso-8859-1"
    assert canonical_name("cp874") == "windows-874"
    assert canonical_name("ascii") == "us-ascii"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([None, "utf-8", "us-ascii", "bogus", "koi8-r",
                                                 "shift_jis", "iso-2022-jp", "utf-16"]))
def test_never_raises_and_always_returns_a_name(data: bytes, declared: str | None) -> None:
    defects: list[Defect] = []
    text, used = decode_bytes(data, declared, defects)
    assert isinstance(text, str)
    assert used
    if declared is not None and lookup(declared) is not None and defects:
        assert defects[0].kind == "CharsetMismatch"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_utf8_round_trip(text: str) -> None:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return
    defects: list[Defect] = []
    # strip_bom=False: every character kept (by default a leading U+FEFF, a byte order
    # mark, is dropped from body text, so text="\ufeff" would decode to "").
    assert decode_bytes(data, "utf-8", defects, strip_bom=False)[0] == text
    assert decode_bytes(data, "utf-8")[0] == (text[1:] if text[:1] == "\ufeff" else text)
    assert defects == []


def test_byte_order_marks() -> None:
    assert decode_bytes(b"\xef\xbb\xbfHall\xc3\xb6", "utf-8") == ("Hallö", "utf-8")
    assert decode_bytes(b"\xef\xbb\xbfHall\xc3\xb6", None)[0] == "Hallö"
    defects: list[Defect] = []
    assert decode_bytes("Hallö".encode("utf-16"), None, defects) == ("Hallö", "utf-16")
    assert [d.kind for d in defects] == ["CharsetGuessed"]


def test_hostile_labels_are_unknown_not_errors() -> None:
    """Regression (fuzz finding): a NUL in a declared charset made codecs.lookup raise
    ValueError from get_text()."""
    from mimekit.charset import decode_bytes, lookup

    for label in ("utf\x00-8", "utf-8\x00", "a b", "\x7f", "ut\tf8", "é"):
        assert lookup(label) is None
        defects: list[Defect] = []
        assert decode_bytes(b"caf\xc3\xa9", label, defects) == ("café", "utf-8")
        assert [d.kind for d in defects] == ["UnknownCharset"]


def test_parse_with_a_nul_in_the_charset_gives_text() -> None:
    import mimekit

    msg = mimekit.parse(b'Content-Type: text/plain; charset="utf\x00-8"\n\ncaf\xc3\xa9\n')
    assert msg.text == "café\n"
    assert any(d.kind == "UnknownCharset" for d in msg.defects)


def test_iso_2022_jp_bodies_with_microsoft_extensions_decode() -> None:
    """Outlook writes NEC row 13 ("№", circled digits) inside JIS X 0208 escapes;
    Python's ISO-2022-JP codecs refuse them. The header decoder handled it; bodies
    now do too, as the declared charset (no defect)."""
    defects: list[Defect] = []
    data = b"\x1b$B\x2d\x62\x2d\x21\x1b(B abc"  # "№①" then ASCII
    assert decode_bytes(data, "iso-2022-jp", defects) == ("№① abc", "iso-2022-jp")
    assert defects == []


def test_guessed_charset_defect_names_the_charset_used() -> None:
    # RFC 2045 §5.2 defaults to us-ascii; undeclared 8-bit data with a C1 byte (0x80,
    # the euro sign) is read as windows-1252, and the defect says so (not iso-8859-1).
    from mimekit.parser import parse

    msg = parse(b"Content-Type: text/plain\r\n\r\ncaf\xe9 \x80uro")
    assert msg.text == "caf\u00e9 \u20acuro"
    assert [(d.kind, d.detail) for d in msg.defects] == [
        ("CharsetGuessed", "undeclared 8-bit data decoded as windows-1252")]
    defects: list[Defect] = []
    assert decode_bytes(b"caf\xe9 \x80uro", None, defects) == ("caf\u00e9 \u20acuro", "windows-1252")
    assert [d.detail for d in defects] == ["undeclared 8-bit data decoded as windows-1252"]
