"""Headers API: case-insensitive multi-map operations, raw bytes kept until a change,
8-bit value decoding, and no path that turns a decoded CR/LF into a second header line
(RFC 5322 §2.2: a field body holds no CR or LF)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.encoded_words import decode_header_text
from mimekit.errors import HeaderInjectionError, MimekitError
from mimekit.headers import Header, Headers
from mimekit.parser import parse

RAW = (
    b"Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    b"SUBJECT:   =?utf-8?q?a=0D=0ABcc:_x@evil.example?=\r\n"
    b"X-Thing:  one \r\n"
    b"x-thing: two\r\n"
    b"To: Ana <ana@example.org>\r\n"
    b"\r\n"
    b"body\r\n"
)


def _headers() -> Headers:
    return parse(RAW).headers


def test_lookups_are_case_insensitive_and_ordered() -> None:
    h = _headers()
    assert h.get("x-THING") == "one"
    assert h.get_all("X-Thing") == ["one", "two"]
    assert [x.name for x in h.get_headers("X-THING")] == ["X-Thing", "x-thing"]
    assert "subject" in h and "Subject" in h and "nope" not in h
    assert h.get("nope") is None and h.get("nope", "d") == "d"
    assert h["to"] == "Ana <ana@example.org>"
    with pytest.raises(KeyError):
        h["nope"]
    assert h.get_all("nope") == []


def test_set_add_remove_replace() -> None:
    h = _headers()
    h.set("X-THING", "three")  # replaces the first in place, drops the rest
    assert h.get_all("x-thing") == ["three"]
    assert [x.name.lower() for x in h][:3] == ["received", "subject", "x-thing"]
    h.add("x-thing", "four")
    assert h.get_all("X-Thing") == ["three", "four"]
    assert h.remove("X-THING") == 2 and "x-thing" not in h
    assert h.remove("x-thing") == 0
    with pytest.raises(KeyError):
        h.replace("x-missing", "v")
    h.replace("TO", "Bo <bo@example.org>")
    assert h.get("to") == "Bo <bo@example.org>"
    h.set("X-New", "appended")
    assert list(h)[-1].name == "X-New"


def test_raw_bytes_kept_until_a_header_changes() -> None:
    msg = parse(RAW)
    assert msg.to_bytes() == RAW
    _ = msg.headers.items()  # reading decodes, changes nothing
    assert msg.to_bytes() == RAW
    untouched = msg.headers.get_header("received")
    msg.headers.set("X-Thing", "changed")
    out = msg.to_bytes()
    assert out.startswith(b"Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n")
    assert msg.headers.get_header("received") is untouched
    assert b"X-Thing: changed\r\n" in out and b"x-thing" not in out
    assert b"SUBJECT:   =?utf-8?q?a=0D=0ABcc:_x@evil.example?=\r\n" in out


def test_on_change_called_for_every_mutation() -> None:
    calls: list[int] = []
    h = Headers([("A", "1")], on_change=lambda: calls.append(1))
    h.add("B", "2")
    h.set("a", "3")
    h.replace("b", "4")
    h.remove("a")
    h.remove("zzz")  # nothing removed: no change
    assert len(calls) == 4


def test_decoded_crlf_cannot_become_a_header_line() -> None:
    h = _headers()
    header = h.get_header("subject")
    assert header is not None
    assert header.value == "a\r\nBcc: x@evil.example"  # the decoded text, as sent
    for op in (h.set, h.add, h.replace):
        with pytest.raises(HeaderInjectionError):
            op("Subject", header.value)
    with pytest.raises(HeaderInjectionError):
        Header.create("Subject", header.value)
    with pytest.raises(HeaderInjectionError):
        Headers([("Subject", header.value)])
    with pytest.raises(HeaderInjectionError):
        Headers(h.items())  # rebuilding from decoded values refuses, never folds it in
    # Re-serialising untouched keeps the encoded form: still one line.
    assert parse(RAW).to_bytes().count(b"Bcc") == 1
    assert b"\r\nBcc" not in parse(RAW).to_bytes()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab :\r\n\x00\u00e9\u2028"), max_size=20))
def test_no_created_header_has_a_bare_line_break(value: str) -> None:
    for name in ("Subject", "X-Any", "To", "Message-ID", "Date"):
        try:
            raw = Header.create(name, value).raw
        except (MimekitError, ValueError):
            continue  # refused: CR/LF/NUL, or not a valid address/id/date
        assert "\r" not in value and "\n" not in value and "\x00" not in value
        body = raw[:-2]
        # Every line after the first is a fold (starts with white space).
        for line in body.split(b"\r\n")[1:]:
            assert line[:1] in (b" ", b"\t"), raw


def test_eight_bit_values() -> None:
    assert Header("S", "S: Grüße\n".encode()).value == "Grüße"  # RFC 6532 UTF-8
    assert Header("S", b"S: Gr\xfc\xdfe\n").value == "Grüße"  # not UTF-8: windows-1252
    assert Header("S", b"S: Exchange\x85\n").value == "Exchange…"  # 0x85 is '…' there
    assert Header("S", b"S: a\x81b\n").value == "a\x81b"  # undefined in 1252: Latin-1
    # Mostly UTF-8, cut inside the last character: the UTF-8 text survives.
    assert Header("S", "S: Юникод".encode() + b"\xd1\n").value == "Юникод\ufffd"


def test_iso_2022_jp_with_microsoft_extensions() -> None:
    # Outlook writes CP932's NEC row 13 ("№") inside JIS X 0208 escapes.
    word = "=?iso-2022-jp?B?GyRCJygnJS1iGyhCNDEgGyRCJ2AnZBsoQiAyOC4wOS4yMDE2?="
    assert decode_header_text(word) == "ЖД№41 от 28.09.2016"
    plain = "日本語のテキスト、ｶﾀｶﾅ".encode("iso2022_jp_ext")
    import base64

    word = "=?ISO-2022-JP?B?" + base64.b64encode(plain).decode() + "?="
    assert decode_header_text(word) == "日本語のテキスト、ｶﾀｶﾅ"


def test_header_objects_must_be_exactly_one_field() -> None:
    h = Headers()
    for raw in (
        b"Subject: a\r\nBcc: x@evil.example\r\n",  # a second field line
        b"Subject: a\rBcc: x\r\n",  # bare CR
        b"Subject: a",  # no line ending: the next field would be glued on
        b"Subject: a\x00b\r\n",
        b"no colon here\r\n",
    ):
        bad = Header("Subject", raw)
        with pytest.raises(HeaderInjectionError):
            h.append_header(bad)
        with pytest.raises(HeaderInjectionError):
            h.add("Subject", bad)
        with pytest.raises(HeaderInjectionError):
            h.set("Subject", bad)
        with pytest.raises(HeaderInjectionError):
            Headers([bad])
    assert len(h) == 0
    folded = Header("Subject", b"Subject: a\r\n b\r\n")  # a fold is fine
    h.add("Subject", folded)
    assert h.get("subject") == "a b"


def test_decoded_values_through_structured_paths_are_refused() -> None:
    from mimekit.address import Address

    value = decode_header_text("=?utf-8?q?Ana=0D=0ABcc:_x@evil.example?=")
    with pytest.raises(HeaderInjectionError):
        Header.create("To", Address(value, "ana", "example.org"))
    with pytest.raises(HeaderInjectionError):
        Header.create("To", [(value, "ana@example.org")])
    with pytest.raises(HeaderInjectionError):
        Header.create("Content-Type", f"text/plain; name={value}")


def test_builder_paths_refuse_a_decoded_crlf() -> None:
    from mimekit.builder import compose

    value = parse(RAW).headers.get_header("subject")
    assert value is not None
    evil = value.value
    attempts: list[Callable[[], object]] = [
        lambda: compose().from_("a@example.org").to("b@example.org").subject(evil).build(),
        lambda: compose().from_("a@example.org").to("b@example.org").header("X-Y", evil).build(),
        lambda: compose().from_((evil, "a@example.org")).to("b@example.org").build(),
        lambda: compose().from_("a@example.org").to("b@example.org").in_reply_to(evil).build(),
    ]
    for attempt in attempts:
        with pytest.raises(HeaderInjectionError):
            attempt()


def test_found_by_probing_against_the_stdlib() -> None:
    from datetime import datetime, timezone

    from mimekit.dates import parse_date

    # RFC 2047 §4.2: a final "=" is not an escape; it stays (binascii would drop it).
    assert decode_header_text("=?utf-8?q?=?=") == "="
    assert decode_header_text("=?utf-8?q?a=?=") == "a="
    # RFC 2047 §6.2: the space inside the second word stays, the one between goes.
    assert decode_header_text("=?utf-8?b?QW5h?= =?utf-8?b?IEI=?=") == "Ana B"
    # RFC 5322 §3.3 allows zones up to ±9959: the same instant, in UTC.
    assert parse_date("Mon, 1 Jan 2024 10:00:00 +2400") == datetime(
        2023, 12, 31, 10, 0, tzinfo=timezone.utc
    )
    assert parse_date("Mon, 1 Jan 2024 10:00:00 -9959") == datetime(
        2024, 1, 5, 13, 59, tzinfo=timezone.utc
    )
    assert parse_date("Mon, 1 Jan 0001 00:00:00 +9959") is None  # before year 1


def test_msgid_keeps_white_space_inside_a_quoted_local_part() -> None:
    from mimekit.dates import parse_msgid_list

    # RFC 5322 §4.5.4 obs-id-left: a quoted string keeps its spaces; folding white
    # space elsewhere in the id is dropped.
    assert parse_msgid_list('<"a b"@example.org>') == ['"a b"@example.org']
    assert parse_msgid_list("<abc\r\n def@example.org>") == ["abcdef@example.org"]


def test_a_header_whose_raw_names_another_field_is_refused() -> None:
    """Regression (review): Header("X-Note", b"Bcc: ...") passed the check, and
    exclude_headers=("bcc",) filters by name, so the Bcc went out."""
    import mimekit
    from mimekit.errors import HeaderInjectionError
    from mimekit.headers import Header

    msg = mimekit.parse(b"From: a@example.org\r\nTo: b@example.org\r\n\r\nx\r\n")
    with pytest.raises(HeaderInjectionError):
        msg.headers.append_header(Header("X-Note", b"Bcc: secret@example.org\r\n"))
    assert b"secret" not in msg.to_bytes(exclude_headers=("bcc",))
