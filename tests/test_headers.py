"""Header and Headers: raw bytes kept, lazy decoding, case-insensitive multi-map."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.errors import HeaderInjectionError
from mimekit.headers import Header, Headers, unfold


def test_header_parse_keeps_raw_and_name() -> None:
    raw = b"Subject :  hello\r\n\tworld  \r\n"
    h = Header.parse(raw)
    assert h.name == "Subject"
    assert h.raw == raw
    assert h.raw_value == b"  hello\r\n\tworld  \r\n"
    assert h.unfolded == "hello\tworld"
    assert h.value == "hello\tworld"


def test_unfold_rules() -> None:
    assert unfold(b" a\r\n b\r\n") == b" a b"
    assert unfold(b" a\n\tb\n") == b" a\tb"
    assert unfold(b" a\njunk\n") == b" a junk"  # a non-continuation line: one space
    assert unfold(b" no ending") == b" no ending"


def test_value_decodes_encoded_words_lazily_and_caches() -> None:
    h = Header("Subject", b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?iso-8859-1?q?K=F6ln?=\r\n")
    assert h.unfolded == "=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?iso-8859-1?q?K=F6ln?="
    assert h.value == "Grüße aus Köln"
    assert h.decode() is not None and h.value_defects == ()


def test_eight_bit_header_values() -> None:
    assert Header("Subject", "Subject: Grüße\n".encode()).value == "Grüße"
    assert Header("Subject", b"Subject: Gr\xfc\xdfe\n").value == "Grüße"  # not UTF-8: Latin-1


def test_header_equality_by_raw() -> None:
    a = Header("X", b"X: 1\r\n")
    assert a == Header("x", b"X: 1\r\n")
    assert a != Header("X", b"X: 2\r\n")
    assert len({a, Header("X", b"X: 1\r\n")}) == 1


def test_create_refuses_injection() -> None:
    for value in ("a\r\nBcc: evil@example.com", "a\nb", "a\rb", "a\x00b"):
        with pytest.raises(HeaderInjectionError):
            Header.create("Subject", value)
    for name in ("Bad Name", "Bad:Name", "X\r\nY", ""):
        with pytest.raises(HeaderInjectionError):
            Header.create(name, "v")


def test_create_formats_with_folding() -> None:
    h = Header.create("Subject", "hello world")
    assert h.raw == b"Subject: hello world\r\n"
    assert h.value == "hello world"
    long = Header.create("Subject", "word " * 40)
    assert all(len(line) <= 78 for line in long.raw.split(b"\r\n"))
    assert long.value.split() == ["word"] * 40


def test_headers_multimap() -> None:
    hs = Headers([Header.parse(b"Received: a\r\n"), Header.parse(b"To: x@example.com\r\n"),
                  Header.parse(b"Received: b\r\n")])
    assert len(hs) == 3
    assert "received" in hs and "RECEIVED" in hs and "cc" not in hs
    assert hs["to"] == "x@example.com"
    assert hs.get("Received") == "a"
    assert hs.get_all("received") == ["a", "b"]
    assert hs.get("cc") is None and hs.get("cc", "d") == "d"
    with pytest.raises(KeyError):
        hs["cc"]
    assert [h.raw for h in hs.get_headers("RECEIVED")] == [b"Received: a\r\n", b"Received: b\r\n"]
    assert hs.items() == [("Received", "a"), ("To", "x@example.com"), ("Received", "b")]
    assert hs.to_bytes() == b"Received: a\r\nTo: x@example.com\r\nReceived: b\r\n"


def test_headers_mutation_and_on_change() -> None:
    calls: list[int] = []
    hs = Headers([Header.parse(b"A: 1\r\n"), Header.parse(b"B: 2\r\n"), Header.parse(b"A: 3\r\n")],
                 on_change=lambda: calls.append(1))
    hs.set("a", "new")
    assert hs.to_bytes() == b"a: new\r\nB: 2\r\n"
    hs.add("C", "3")
    assert hs.get_all("c") == ["3"]
    hs.replace("B", "two")
    assert hs["b"] == "two"
    with pytest.raises(KeyError):
        hs.replace("missing", "x")
    assert hs.remove("a") == 1 and hs.remove("zzz") == 0
    hs.set("D", "4")  # set appends when absent
    hs.append_header(Header.parse(b"E: 5\r\n"))
    assert [h.name for h in hs] == ["B", "C", "D", "E"]
    assert len(calls) == 6
    with pytest.raises(HeaderInjectionError):
        hs.add("X", "a\r\nB: c")
    assert len(hs) == 4


def test_headers_from_pairs() -> None:
    hs = Headers([("Subject", "hi"), ("To", "a@example.com")])
    assert hs.to_bytes() == b"Subject: hi\r\nTo: a@example.com\r\n"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\x00"),
               max_size=200))
def test_create_value_round_trips(text: str) -> None:
    h = Header.create("Subject", text)
    assert h.raw.endswith(b"\r\n")
    parsed = Header.parse(h.raw)
    assert parsed.name == "Subject"
    # Folding and RFC 2047 may change white space runs at fold points, never the words.
    assert parsed.value.split() == text.split()


# -- defects of decoding a value ----------------------------------------------------------


def _value_defects(data: bytes) -> list[tuple[str, str | None, str, int | None]]:
    from mimekit.parser import parse

    return [(d.kind, d.header, d.detail, d.offset) for d in parse(data).defects]


def test_bare_cr_in_a_header_is_a_defect() -> None:
    # RFC 5322 §2.2/§2.3: CR occurs only in CRLF. The value keeps it as sent (builders
    # refuse CR/LF), flagged; the raw bytes round-trip.
    from mimekit.parser import parse

    data = b"Subject: x\rBcc: evil@example.org\r\n\r\nbody"
    msg = parse(data)
    assert msg.subject == "x\rBcc: evil@example.org"
    assert "bcc" not in msg.headers
    assert _value_defects(data) == [
        ("BareCarriageReturn", "Subject",
         "bare CR in the Subject field (RFC 5322 §2.2, §2.3: CR only in CRLF)", 0)]
    assert msg.to_bytes() == data
    # CRLF line endings and folds are not bare CRs.
    assert _value_defects(b"Subject: a\r\n b\r\nTo: c@d.e\r\n\r\nx") == []
    # A bare CR in a folded field, and in the last line of the input (no line end).
    assert [k for k, *_ in _value_defects(b"Subject: a\r\n b\rc\r\n\r\nx")] == [
        "BareCarriageReturn"]
    assert [k for k, *_ in _value_defects(b"Subject: x\rY")] == ["BareCarriageReturn"]


def test_crlf_decoded_from_an_encoded_word_is_a_defect() -> None:
    # RFC 2047 §5: only printable and white space characters should be encoded.
    from mimekit.parser import parse

    data = (b"Subject: =?utf-8?Q?hello=0D=0ABcc:_x?=\r\n"
            b"From: =?utf-8?Q?Ann=0D=0AB?= <a@example.org>\r\n\r\nbody")
    msg = parse(data)
    assert msg.subject == "hello\r\nBcc: x"
    assert msg.from_[0].name == "Ann\r\nB"  # type: ignore[union-attr]
    assert _value_defects(data) == [
        ("LineBreakInEncodedWord", "Subject",
         "an encoded word in the Subject field decodes to CR or LF", 0),
        ("LineBreakInEncodedWord", "From",
         "an encoded word in the From field decodes to CR or LF", 40)]
    with pytest.raises(HeaderInjectionError):
        Header.create("Subject", msg.subject)


def test_undecodable_raw_header_bytes_are_a_defect() -> None:
    # A UTF-8 file name cut inside a character (corpus russian-attachment-yahoo.eml):
    # decoding stays lenient (U+FFFD), with a defect naming the field.
    from mimekit.parser import parse

    data = (b"Content-Type: image/png; name=\"\xd0\x9a\xd0\xb0\xd1\x80\xd1\x82\xd0\"\r\n"
            b"\r\nx")
    msg = parse(data)
    assert msg.filename == "\u041a\u0430\u0440\u0442\ufffd"
    assert _value_defects(data) == [
        ("UndecodableHeaderBytes", "Content-Type",
         "undecodable bytes in the Content-Type field replaced by U+FFFD", 0)]
    # A U+FFFD sent as valid UTF-8 is no defect.
    assert _value_defects("Subject: a\ufffd\r\n\r\nx".encode()) == []


def test_undecodable_encoded_word_and_rfc2231_bytes_are_defects() -> None:
    from mimekit.parser import parse

    data = (b"Subject: =?utf-8?B?0JrQsNGA0YLQuNC90LrQsNA=?=\r\n"
            b"Content-Type: image/png\r\n"
            b"Content-Disposition: attachment; filename*=utf-8''%D0%9A%D0%B0%D1%80%D1%82%D0"
            b"%B8%D0%BD%D0%BA%D0%B0%D0\r\n\r\nx")
    msg = parse(data)
    assert msg.subject == "\u041a\u0430\u0440\u0442\u0438\u043d\u043a\u0430\ufffd"
    assert msg.filename == "\u041a\u0430\u0440\u0442\u0438\u043d\u043a\u0430\ufffd"
    assert _value_defects(data) == [
        ("CharsetMismatch", "Subject", "declared charset 'utf-8' cannot decode the data", 0),
        ("UndecodableHeaderBytes", "Subject",
         "undecodable bytes in an encoded word of the Subject field replaced by U+FFFD", 0),
        ("CharsetMismatch", "Content-Disposition",
         "declared charset 'utf-8' cannot decode the data", 72),
        ("UndecodableHeaderBytes", "Content-Disposition",
         ("undecodable bytes in an RFC 2231 value of the Content-Disposition field "
          "replaced by U+FFFD"), 72)]


def test_undecodable_bytes_corpus_russian_attachment() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from corpus import corpus_bytes

    from mimekit.parser import parse

    msg = parse(corpus_bytes("mailgun-flanker/russian-attachment-yahoo.eml"))
    part = msg.children[1]
    assert part.filename is not None and part.filename.endswith("\u0447\u0442\ufffd")
    assert [(d.kind, d.part, d.header) for d in msg.defects
            if d.kind == "UndecodableHeaderBytes"] == [
        ("UndecodableHeaderBytes", "2", "Content-Type"),
        ("UndecodableHeaderBytes", "2", "Content-Disposition")]


def test_raw_header_with_a_line_over_998_octets_is_refused() -> None:
    """Regression: a caller-built Header with one 1,200-octet line was written as is
    (RFC 5322 §2.1.1: 998 at most, whatever the caller forces)."""
    import pytest

    from mimekit.errors import EncodingError
    from mimekit.headers import Header, Headers

    long = Header("X-Long", b"X-Long: " + b"a" * 1200 + b"\r\n")
    headers = Headers()
    with pytest.raises(EncodingError, match="998"):
        headers.append_header(long)
    with pytest.raises(EncodingError, match="998"):
        headers.set("X-Long", long)
    with pytest.raises(EncodingError, match="998"):
        Headers([long])
    assert len(headers) == 0
    folded = Header("X-Long", b"X-Long: " + b"a" * 990 + b"\r\n " + b"b" * 990 + b"\r\n")
    headers.append_header(folded)  # every line within the limit
    assert headers.get_header("x-long") is folded


def test_fold_long_lines_keeps_the_value_and_the_other_fields() -> None:
    import mimekit

    long = b"X-Long: " + b" ".join(b"w%d" % i for i in range(400)) + b"\r\n"
    short = b"Subject: hi\r\n"
    hs = mimekit.parse(short + long + b"\r\nbody\r\n").headers  # as received
    before = hs.get("X-Long")
    assert hs.fold_long_lines() is True
    assert hs.get("X-Long") == before and hs.get_header("Subject").raw == short  # type: ignore[union-attr]
    assert all(len(line) <= 998 for line in hs.to_bytes().split(b"\r\n"))
    assert all(line[:1] in b" \t" for line in hs.get_header("X-Long").raw.split(b"\r\n")[1:-1])  # type: ignore[union-attr]
    word = mimekit.parse(b"X-W: " + b"y" * 1200 + b"\r\n\r\n").headers
    assert word.fold_long_lines() is False
    assert word.to_bytes() == b"X-W: " + b"y" * 1200 + b"\r\n"


def test_a_replacement_character_the_sender_encoded_is_no_defect() -> None:
    """Regression (hypothesis, builder shapes): a header value holding U+FFFD itself,
    sent as an RFC 2047 word (=?utf-8?b?77+9?=), was flagged UndecodableHeaderBytes:
    the check counted U+FFFD after decoding instead of asking whether decoding put it
    there. Bytes that really are not UTF-8 are still flagged, once per field."""
    import mimekit

    msg = (mimekit.compose().from_("a@example.org").to("b@example.org")
           .header("X-0", "\ufffd").header("X-1", "a \ufffd b").text("x").build())
    back = mimekit.parse(msg.to_bytes())
    assert (back.headers["X-0"], back.headers["X-1"]) == ("\ufffd", "a \ufffd b")
    assert back.defects == []
    mostly = "ärger " * 10  # mostly UTF-8: read with replacement characters
    import base64

    word = base64.b64encode(mostly.encode() + b"\xff\xfe").decode()
    bad = mimekit.parse(f"From: a@example.org\r\nSubject: =?utf-8?b?{word}?=\r\n\r\nx\r\n"
                        .encode())
    assert bad.subject == mostly + "\ufffd\ufffd"
    assert [(d.kind, d.header) for d in bad.defects] == [
        ("CharsetMismatch", "Subject"), ("UndecodableHeaderBytes", "Subject")]


def test_fold_long_lines_keeps_lf_line_ends() -> None:
    """Review finding: fold_long_lines split and joined on CRLF, so with LF line ends
    (a policy with linesep=b"\\n") a multi-line field was taken as one long line and
    got CRs put into it."""
    import mimekit

    raw = (b"X-Long: " + b" ".join(b"w%d" % i for i in range(400)) + b"\nX-Multi: a\n "
           + b"b " * 600 + b"\n\nbody\n")
    hs = mimekit.parse(raw).headers
    before = (hs["X-Long"], hs["X-Multi"])
    assert hs.fold_long_lines() is True
    out = hs.to_bytes()
    assert b"\r" not in out and max(len(line) for line in out.split(b"\n")) <= 998
    again = mimekit.parse(out + b"\nbody\n").headers
    assert (again["X-Long"], again["X-Multi"]) == before


def test_a_replacement_character_read_after_a_charset_fallback_is_no_defect() -> None:
    """Review finding: the check asked the declared charset, not the one that decoded:
    EF BF BD declared us-ascii (or an unknown charset) reads as UTF-8 U+FFFD, on purpose
    in the data, and was flagged UndecodableHeaderBytes besides the charset defect."""
    import mimekit

    for word, kind in (("=?us-ascii?q?=EF=BF=BD?=", "CharsetMismatch"),
                       ("=?x-unknown?q?=EF=BF=BD?=", "UnknownCharset")):
        msg = mimekit.parse(f"Subject: {word}\r\n\r\nx".encode())
        assert msg.subject == "\ufffd"
        assert [d.kind for d in msg.defects] == [kind]
