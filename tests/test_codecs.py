"""Tests for mimekit.codecs: base64, quoted-printable, uuencode, CTE choice."""

from __future__ import annotations

import base64
import binascii
import os
import quopri

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.codecs import (
    b64_decode,
    b64_encode,
    choose_cte,
    decode_body,
    encode_body,
    find_uuencoded,
    normalize_cte,
    qp_decode,
    qp_encode,
)
from mimekit.errors import Defect, EncodingError

FAST = settings(max_examples=200, deadline=None)


def _lines(data: bytes, sep: bytes = b"\r\n") -> list[bytes]:
    assert not data or data.endswith(sep)
    return data.split(sep)[:-1] if data else []


# --- base64 ---------------------------------------------------------------------------


def test_b64_encode_lines_of_76_with_trailing_linesep() -> None:
    data = bytes(range(256)) * 3
    out = b64_encode(data)
    lines = _lines(out)
    assert all(len(ln) == 76 for ln in lines[:-1])
    assert 0 < len(lines[-1]) <= 76
    assert b"".join(lines) == base64.b64encode(data)
    assert b64_encode(b"") == b""
    assert b64_encode(b"abc") == b"YWJj\r\n"
    assert b64_encode(b"abc", b"\n") == b"YWJj\n"


@pytest.mark.parametrize("size", [1, 56, 57, 58, 57 * 64, 57 * 64 * 64, 57 * 64 * 64 + 5,
                                  57 * 64 * 64 * 2 - 1])
def test_b64_encode_chunk_boundaries_match_stdlib(size: int) -> None:
    data = os.urandom(size)
    assert b64_encode(data) == base64.encodebytes(data).replace(b"\n", b"\r\n")


def test_b64_encode_other_width() -> None:
    out = b64_encode(b"x" * 100, b"\n", width=64)
    assert [len(x) for x in _lines(out, b"\n")] == [64, 64, 8]
    with pytest.raises(ValueError):
        b64_encode(b"x", width=2)


@FAST
@given(st.binary(max_size=2000), st.sampled_from([b"\r\n", b"\n"]))
def test_b64_round_trip_and_stdlib_agrees(data: bytes, sep: bytes) -> None:
    out = b64_encode(data, sep)
    assert all(len(ln) <= 76 for ln in out.split(sep))
    defects: list[Defect] = []
    assert b64_decode(out, defects) == data
    assert defects == []
    assert base64.b64decode(out.replace(sep, b"")) == data


def test_b64_decode_repairs_garbage_and_padding() -> None:
    defects: list[Defect] = []
    assert b64_decode(b"YW*Jj!", defects) == b"abc"
    assert [d.kind for d in defects] == ["InvalidBase64"]
    defects.clear()
    assert b64_decode(b"YWJjZA", defects) == b"abcd"  # missing padding
    assert defects[0].kind == "InvalidBase64"
    defects.clear()
    assert b64_decode(b"YWJjZ", defects) == b"abc"  # a lone trailing sextet
    assert defects[0].kind == "InvalidBase64"
    defects.clear()
    # Two encodings glued together: the second is not lost.
    assert b64_decode(b"YQ==\r\nYWJj\r\n", defects) == b"aabc"
    assert defects[0].kind == "InvalidBase64"
    defects.clear()
    assert b64_decode(b"YWJj\r\nZGVm\r\n\r\n", defects) == b"abcdef"
    assert defects == []


@FAST
@given(st.binary(max_size=300))
def test_b64_decode_never_raises(data: bytes) -> None:
    assert isinstance(b64_decode(data, []), bytes)


# --- quoted-printable -------------------------------------------------------------------


def test_qp_rules() -> None:
    # rule 2/1: "=" and 8-bit bytes escaped; rule 3: trailing white space escaped
    assert qp_encode("a=b é".encode()) == b"a=3Db =C3=A9"
    assert qp_encode(b"end \nx\t\n") == b"end=20\r\nx=09\r\n"
    assert qp_encode(b"trailing ") == b"trailing=20"
    # text mode: any line ending becomes linesep
    assert qp_encode(b"a\r\nb\nc\rd", b"\n") == b"a\nb\nc\nd"
    # binary mode encodes CR and LF
    assert qp_encode(b"a\r\nb", binary=True) == b"a=0D=0Ab"
    # a leading "." or "From " is escaped for safety
    assert qp_encode(b".\n.x\nFrom me\nFromage") == b"=2E\r\n=2Ex\r\n=46rom me\r\nFromage"
    assert qp_encode(b"") == b""


def test_qp_soft_breaks_never_split_escapes() -> None:
    for prefix in range(5):
        data = b"x" * prefix + "é".encode() * 60
        out = qp_encode(data)
        for line in out.split(b"\r\n"):
            assert len(line) <= 76
            body = line[:-1] if line.endswith(b"=") else line
            # every "=" starts a whole escape within the line
            i = body.find(b"=")
            while i >= 0:
                assert len(body) >= i + 3
                int(body[i + 1 : i + 3], 16)
                i = body.find(b"=", i + 3)
        assert qp_decode(out) == data


def test_qp_trailing_space_at_line_limit_stays_within_76() -> None:
    # binascii.b2a_qp would write 78 characters here; the fix-up re-splits.
    out = qp_encode(b"x" * 75 + b" \nabc")
    assert all(len(ln) <= 76 for ln in out.split(b"\r\n"))
    assert qp_decode(out) == b"x" * 75 + b" \r\nabc"


def test_qp_leading_dot_after_soft_break() -> None:
    data = b"y" * 75 + b".hidden dot"
    out = qp_encode(data)
    assert not any(ln.startswith(b".") for ln in out.split(b"\r\n"))
    assert qp_decode(out) == data


@FAST
@given(st.binary(max_size=1500))
def test_qp_binary_round_trip_and_stdlib_agrees(data: bytes) -> None:
    out = qp_encode(data, binary=True)
    lines = out.split(b"\r\n")
    assert all(len(ln) <= 76 for ln in lines)
    assert not any(ln.startswith((b".", b"From ")) for ln in lines)
    assert all(not ln.endswith((b" ", b"\t")) for ln in lines)
    defects: list[Defect] = []
    assert qp_decode(out, defects) == data
    assert defects == []
    assert quopri.decodestring(out) == data
    assert binascii.a2b_qp(out) == data


@FAST
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n", codec="utf-8"),
                        max_size=200),
                max_size=8))
def test_qp_text_round_trip(lines: list[str]) -> None:
    data = "\n".join(lines).encode("utf-8")
    out = qp_encode(data)
    assert all(len(ln) <= 76 for ln in out.split(b"\r\n"))
    expected = data.replace(b"\n", b"\r\n")
    assert qp_decode(out) == expected
    assert quopri.decodestring(out) == expected


def test_qp_decode_lenient() -> None:
    defects: list[Defect] = []
    assert qp_decode(b"a=3d=3Db=\r\nc=e9", defects) == b"a==bc\xe9"
    assert defects == []
    # soft break with white space after "=" (added by transports), LF or CRLF
    assert qp_decode(b"ab= \t\r\ncd=  \nef", defects) == b"abcdef"
    assert defects == []
    # bad escapes kept literally
    assert qp_decode(b"50=ZZ off = now", defects) == b"50=ZZ off = now"
    assert [d.kind for d in defects] == ["InvalidQuotedPrintable"]
    assert qp_decode(b"no escapes\r\n") == b"no escapes\r\n"


# --- uuencode ---------------------------------------------------------------------------

_UU = b"begin 644 hello.txt\n" + binascii.b2a_uu(b"Hello, world!\n") + b"`\nend\n"


def test_find_uuencoded_in_text() -> None:
    text = b"See attached:\n\n" + _UU + b"\nBye\n"
    blocks = find_uuencoded(text)
    assert len(blocks) == 1
    name, mode, data, start, end = blocks[0]
    assert (name, mode, data) == ("hello.txt", 0o644, b"Hello, world!\n")
    assert text[start:end] == _UU
    assert text[end:] == b"\nBye\n"


def test_find_uuencoded_ignores_prose() -> None:
    assert find_uuencoded(b"begin 644 is a number\nthis is just text, {not} uu\nend\n") == []
    assert find_uuencoded(b"nothing here") == []
    assert find_uuencoded(b"begin 644 x\nno end line") == []


def test_find_uuencoded_crlf_and_two_blocks() -> None:
    block2 = b"begin 600 b.bin\r\n" + binascii.b2a_uu(b"\x00\x01\x02").replace(b"\n", b"\r\n")
    block2 += b"`\r\nend\r\n"
    text = _UU + b"middle\n" + block2
    blocks = find_uuencoded(text)
    assert [(b[0], b[1], b[2]) for b in blocks] == [
        ("hello.txt", 0o644, b"Hello, world!\n"),
        ("b.bin", 0o600, b"\x00\x01\x02"),
    ]
    assert text[blocks[1][3] : blocks[1][4]] == block2


@pytest.mark.parametrize("cte", ["x-uuencode", "uuencode", "X-UUE", " x-uuencode "])
def test_decode_body_uuencode(cte: str) -> None:
    assert decode_body(_UU, cte, []) == b"Hello, world!\n"


def test_decode_body_uuencode_without_begin_and_damaged_lines() -> None:
    defects: list[Defect] = []
    line = binascii.b2a_uu(b"abc").rstrip(b"\n") + b"XX\n"  # trailing checksum junk
    assert decode_body(line + b"end\n", "x-uuencode", defects) == b"abc"
    assert {d.kind for d in defects} == {"InvalidUuencode"}


# --- decode_body / encode_body / choose_cte -------------------------------------------


@pytest.mark.parametrize("cte", ["7bit", "8bit", "binary", "7BIT", " 8bit ", '"binary"', ""])
def test_decode_body_identity(cte: str) -> None:
    defects: list[Defect] = []
    assert decode_body(b"a\r\nb\xff", cte, defects) == b"a\r\nb\xff"
    assert defects == []


def test_decode_body_dispatch_and_unknown() -> None:
    assert decode_body(b"YWJj\r\n", "Base64") == b"abc"
    assert decode_body(b"a=3Db", " Quoted-Printable ") == b"a=b"
    defects: list[Defect] = []
    assert decode_body(b"zzz", "x-gzip64", defects) == b"zzz"
    assert [d.kind for d in defects] == ["UnknownTransferEncoding"]
    assert normalize_cte("7bit (comment)") == "7bit"
    assert normalize_cte(None) == "7bit"
    assert normalize_cte("bogus") is None


def test_encode_body() -> None:
    assert encode_body(b"a\nb\r\nc\rd", "7bit") == b"a\r\nb\r\nc\r\nd"
    assert encode_body(b"a\r\nb", "8bit", b"\n") == b"a\nb"
    assert encode_body(b"\x00\xff", "binary") == b"\x00\xff"
    assert encode_body(b"abc", "base64") == b"YWJj\r\n"
    assert encode_body(b"a=b\n", "quoted-printable") == b"a=3Db\r\n"
    assert encode_body(b"a\nb", "quoted-printable", binary=True) == b"a=0Ab"
    with pytest.raises(EncodingError):
        encode_body("é".encode(), "7bit")
    with pytest.raises(EncodingError):
        encode_body(b"x" * 999, "8bit")
    with pytest.raises(EncodingError):
        encode_body(b"a\0b", "8bit")
    with pytest.raises(EncodingError):
        encode_body(b"a", "x-unknown")


def test_choose_cte() -> None:
    assert choose_cte(b"Hello\r\nworld\r\n", text=True) == "7bit"
    assert choose_cte(b"x" * 998 + b"\r\n" + b"y" * 998, text=True) == "7bit"
    assert choose_cte(b"x" * 999, text=True) == "quoted-printable"
    assert choose_cte(b"bare\rcr", text=True) == "quoted-printable"
    assert choose_cte(b"nul\0", text=True) == "quoted-printable"
    german = "Sehr geehrte Damen und Herren, anbei die Unterlagen für Montag.\n".encode()
    assert choose_cte(german, text=True) == "quoted-printable"
    assert choose_cte("Grüße\n".encode(), text=True) == "base64"  # shorter when tiny
    assert choose_cte("Grüße\n".encode(), text=True, allow_8bit=True) == "8bit"
    assert choose_cte("Grüße".encode() + b"w" * 1400, text=True, allow_8bit=True) == (
        "quoted-printable"
    )
    assert choose_cte("Привет, как дела?".encode() * 5, text=True) == "base64"
    assert choose_cte(b"plain ascii", text=False) == "base64"
    assert choose_cte(b"", text=True) == "7bit"


def test_c17_long_html_line() -> None:
    # cases/c17 message A: one 1,471-character HTML line.
    html = (
        b'<html><body><a href="https://example.com/r?u=' + b"q" * 1400 + b'">Weiter</a></body></html>'
    )
    assert len(html) == 1471
    cte = choose_cte(html, text=True)
    assert cte in ("quoted-printable", "base64")
    body = encode_body(html, cte)
    assert all(len(ln) <= 76 for ln in body.split(b"\r\n"))
    assert decode_body(body, cte) == html
    # message B: caller asks for 8bit on a 1,400+ octet line: refused, never sent as is.
    text_b = "Grüße ".encode() + b"w" * 1400
    with pytest.raises(EncodingError):
        encode_body(text_b, "8bit")
    assert choose_cte(text_b, text=True, allow_8bit=True) != "8bit"


@pytest.mark.slow
def test_b64_encode_speed_is_measured() -> None:
    """Throughput is reported, not asserted (no wall-clock assertions)."""
    import time

    data = os.urandom(20_000_000)
    start = time.perf_counter()
    out = b64_encode(data)
    elapsed = time.perf_counter() - start
    print(f"b64_encode: {len(out) / elapsed / 1e6:.0f} MB/s output")
    assert b64_decode(out) == data


def test_hostile_inputs_stay_linear() -> None:
    # Inputs that made earlier patterns backtrack quadratically; each must return promptly.
    assert find_uuencoded(b"begin 644" + b" " * 50_000 + b"\rX") == []
    assert find_uuencoded(b"begin 644 x\n{junk}\n" * 50_000 + b"end\n") == []
    assert find_uuencoded(b"begin 644 x\n" + b" " * 500_000 + b"\tzz\nend\n") == []
    assert qp_decode(b"=" + b" " * 100_000 + b"x" * 10) == b"=" + b" " * 100_000 + b"x" * 10
    assert b64_decode(b"QQ==" * 50_000) == b"A" * 50_000
    assert qp_encode(b"." * 10_000 + b"\n")[:6] == b"=2E..."


def _canonical(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


@FAST
@given(
    st.one_of(st.binary(max_size=1500), st.text(max_size=600).map(lambda t: t.encode("utf-8",
                                                                                     "replace"))),
    st.booleans(),
    st.booleans(),
)
def test_chosen_cte_always_encodes_and_decodes_back(data: bytes, text: bool, allow_8bit: bool
                                                    ) -> None:
    cte = choose_cte(data, text=text, allow_8bit=allow_8bit)
    body = encode_body(data, cte)
    if cte in ("7bit", "quoted-printable", "base64"):
        assert body.isascii()
    lines = body.split(b"\r\n")
    assert all(len(ln) <= 998 for ln in lines)
    if cte in ("quoted-printable", "base64"):
        assert all(len(ln) <= 76 for ln in lines)
    defects: list[Defect] = []
    back = decode_body(body, cte, defects)
    assert defects == []
    try:
        data.decode("utf-8")
        binary_qp = b"\0" in data
    except UnicodeDecodeError:
        binary_qp = True
    exact = cte == "base64" or (cte == "quoted-printable" and binary_qp)
    assert back == (data if exact else _canonical(data))


def test_encode_body_qp_mode_is_lossless_for_binary_data() -> None:
    binary = b"\x89PNG\r\n\x1a\n\x00\x00\r\x0a\xff"
    out = encode_body(binary, "quoted-printable")
    assert b"=0D=0A" in out
    assert decode_body(out, "quoted-printable") == binary
    assert encode_body(b"a\nb", "quoted-printable") == b"a\r\nb"  # UTF-8 text: hard breaks
    assert encode_body(b"a\nb", "quoted-printable", binary=False) == b"a\r\nb"


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 3647, 3648, 3649, 204_800, 233_472, 233_473,
                                  500_000])
def test_b64_encode_matches_the_stdlib_at_every_block_edge(size: int) -> None:
    import base64
    import random

    data = random.Random(size).randbytes(size)
    assert b64_encode(data) == base64.encodebytes(data).replace(b"\n", b"\r\n")


def test_qp_binary_soft_breaks_never_hold_a_bare_cr() -> None:
    """Regression (review): data starting with CRLF made binascii write "=\\r\\n" soft
    breaks, which the linesep step turned into "=\\r\\r\\n"."""
    data = b"\r\n" + b"\xff" * 40 + b"\r\nend"
    out = qp_encode(data, binary=True)
    assert out.count(b"\r") == out.count(b"\r\n") and out.count(b"\n") == out.count(b"\r\n")
    assert qp_decode(out) == data
    assert max(len(line) for line in out.split(b"\r\n")) <= 76
