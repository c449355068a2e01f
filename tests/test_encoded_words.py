"""RFC 2047 encoded words: lenient decoding (c03) and size-aware encoding."""

from __future__ import annotations

import email.header
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.encoded_words import decode_header_text, encode_words, needs_encoding
from mimekit.errors import Defect

EW = re.compile(r"=\?([^?]+)\?([QqBb])\?([^?]*)\?=")


def test_c03_split_multibyte_q() -> None:
    defects: list[Defect] = []
    text = "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3?=\r\n =?UTF-8?Q?=B6ln?="
    assert decode_header_text(text, defects) == "Grüße aus Köln"
    assert defects == []


def test_c03_split_multibyte_b() -> None:
    defects: list[Defect] = []
    text = "=?UTF-8?B?R3LDvMOfZSBhdXMgS8M=?= =?UTF-8?B?tmxu?="
    out = decode_header_text(text, defects)
    assert out == "Grüße aus Köln"
    assert "\ufffd" not in out
    assert defects == []


def test_plain_text_untouched() -> None:
    assert decode_header_text("Hello = world ?= x") == "Hello = world ?= x"


def test_whitespace_between_words_dropped_but_kept_around_text() -> None:
    assert decode_header_text("=?utf-8?q?a?=   =?utf-8?q?b?= c =?utf-8?q?d?=") == "ab c d"


def test_adjacent_words_without_space_and_glued_to_text() -> None:
    assert decode_header_text("Re:=?utf-8?q?J=C3=B6rg?==?utf-8?q?!?=x") == "Re:Jörg!x"


def test_different_charsets_not_joined() -> None:
    text = "=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?="
    assert decode_header_text(text) == "éé"


def test_rfc2231_language_suffix() -> None:
    assert decode_header_text("=?utf-8*en?Q?hello_world?=") == "hello world"
    assert decode_header_text("=?US-ASCII*EN?B?aGk=?=") == "hi"


def test_words_inside_quoted_string() -> None:
    assert decode_header_text('"=?utf-8?q?J=C3=B6rg?=" <j@example.com>') == '"Jörg" <j@example.com>'


def test_b_missing_padding_recorded() -> None:
    defects: list[Defect] = []
    assert decode_header_text("=?utf-8?B?aGk?=", defects) == "hi"
    assert [d.kind for d in defects] == ["InvalidEncodedWord"]


def test_b_garbage_does_not_raise() -> None:
    defects: list[Defect] = []
    out = decode_header_text("=?utf-8?B?a!G@k#?=", defects)
    assert out == "hi"
    assert defects


def test_q_bad_escape_kept() -> None:
    assert decode_header_text("=?utf-8?q?50=ZZ_off?=") == "50=ZZ off"


def test_unknown_charset_does_not_raise() -> None:
    defects: list[Defect] = []
    out = decode_header_text("=?x-unknown-cs?q?caf=C3=A9?=", defects)
    assert out == "café"
    assert defects  # the declared charset was not used


def test_misspelled_utf8_label() -> None:
    assert decode_header_text("=?utf8?q?caf=C3=A9?=") == "café"


def test_8bit_in_us_ascii_word_does_not_raise() -> None:
    out = decode_header_text("=?us-ascii?q?caf=C3=A9?=", [])
    assert out == "café"


def test_needs_encoding() -> None:
    assert not needs_encoding("Hello world, 100% plain")
    assert needs_encoding("Grüße")
    assert needs_encoding("looks =?like?= a word")
    assert needs_encoding("bell\x07")
    assert not needs_encoding("tab\tok")


def test_encode_short_ascii_is_q() -> None:
    assert encode_words("hi there") == ["=?utf-8?Q?hi_there?="]


def test_encode_empty() -> None:
    assert encode_words("") == []


def test_encode_picks_b_for_cjk() -> None:
    words = encode_words("日本語のテキスト")
    assert words == ["=?utf-8?B?5pel5pys6Kqe44Gu44OG44Kt44K544OI?="]


def test_encode_first_len_shortens_first_word() -> None:
    words = encode_words("é" * 60, first_len=40)
    assert len(words[0]) <= 35
    assert all(len(w) <= 75 for w in words)
    assert decode_header_text(" ".join(words)) == "é" * 60


def test_encode_first_len_too_big_gives_full_word() -> None:
    words = encode_words("é", first_len=74)
    assert words == ["=?utf-8?B?w6k=?="]


def test_encode_keeps_combining_marks_with_base() -> None:
    text = "e\u0301" * 50
    for word in encode_words(text):
        decoded = decode_header_text(word)
        assert decoded.startswith("e") and decoded.endswith("\u0301")


def test_encode_other_charset() -> None:
    assert encode_words("café", charset="iso-8859-1") == ["=?iso-8859-1?Q?caf=E9?="]


def _decode_words_independently(words: list[str]) -> list[str]:
    return [decode_header_text(w) for w in words]


unicode_text = st.text(
    alphabet=st.characters(codec="utf-8", blacklist_characters="\r\n\0"),
    min_size=1,
    max_size=300,
)
mixed_text = st.lists(
    st.sampled_from(
        ["a", "Z", " ", "é", "e\u0301", "ß", "שלום", "مرحبا", "日本語", "😀", "👩\u200d💻",
         "🇩🇪", "=?", "?=", "_", "=", "\u200f", "x" * 40, "\t"]
    ),
    min_size=1,
    max_size=60,
).map("".join)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.one_of(unicode_text, mixed_text), st.integers(min_value=0, max_value=60))
def test_encode_round_trip(text: str, first_len: int) -> None:
    words = encode_words(text, first_len=first_len)
    assert words
    for i, word in enumerate(words):
        assert len(word) <= 75
        m = EW.fullmatch(word)
        assert m is not None and m.group(3) != ""
        # Every word decodes on its own: no character is split across words.
        decoded = word.encode("ascii")  # encoded words are pure ASCII
        assert decoded
        defects: list[Defect] = []
        part = decode_header_text(word, defects)
        assert defects == []
        assert "\ufffd" not in part or "\ufffd" in text
        if i == 0 and first_len and 75 - first_len >= 30:
            assert len(word) <= 75 - first_len
    assert decode_header_text(" ".join(words)) == text
    assert decode_header_text("\r\n ".join(words)) == text
    # The standard library agrees.
    std = "".join(
        part.decode(cs or "ascii") if isinstance(part, bytes) else part
        for part, cs in email.header.decode_header(" ".join(words))
    )
    assert std == text


_ew_fuzz = st.lists(
    st.sampled_from(
        ["=?", "?=", "?Q?", "?B?", "utf-8", "x-bogus", "*en", "=C3", "=A9", "_", " ", "\r\n ",
         "aGk", "=", "!", "é", "\udcff", "iso-2022-jp", "?q?", "GyRC"]
    ),
    max_size=30,
).map("".join)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(_ew_fuzz)
def test_decode_never_raises(text: str) -> None:
    defects: list[Defect] = []
    out = decode_header_text(text, defects)
    assert isinstance(out, str)
    if "=?" not in text:
        assert out == text


def test_iso_8859_1_words_read_c1_bytes_as_windows_1252_like_bodies() -> None:
    """Regression (review): words took a latin-1 fast path and gave C1 controls."""
    assert decode_header_text("=?iso-8859-1?Q?=93hi=94_caf=E9?=") == "\u201chi\u201d café"
