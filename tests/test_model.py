"""Model accessors: content types, names, attachments, bodies, addresses, defects."""

from __future__ import annotations

import datetime as dt

import pytest

import mimekit
from mimekit.errors import Defect, ParseError
from mimekit.headers import Headers
from mimekit.model import Message, Part
from mimekit.parser import parse
from mimekit.policy import STRICT

MAIL = (
    "From: =?utf-8?q?Ana_L=C3=ADma?= <ana@xn--mnchen-3ya.de>\r\n"
    "Sender: list@example.org\r\n"
    "Reply-To: team: bo@example.org, cy@example.org;\r\n"
    "To: Bo <bo@example.org>\r\n"
    "To: dan@example.org\r\n"
    "Cc: eve@example.org\r\n"
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    " aus Köln\r\n"
    "Date: Fri, 01 Mar 2024 01:47:09 +0100\r\n"
    "Message-ID: <abc@example.com>\r\n"
    "In-Reply-To: <p1@example.com>\r\n"
    "References: <p0@example.com> <p1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=mix\r\n"
    "\r\n"
    "--mix\r\n"
    "Content-Type: multipart/alternative; boundary=alt\r\n"
    "\r\n"
    "--alt\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=FC=DFe\r\n"
    "--alt\r\n"
    "Content-Type: multipart/related; boundary=rel\r\n"
    "\r\n"
    "--rel\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<img src=\"cid:logo\">\r\n"
    "--rel\r\n"
    "Content-Type: image/png\r\n"
    "Content-ID: <logo>\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "iVBORw0KGgo=\r\n"
    "--rel--\r\n"
    "--alt--\r\n"
    "--mix\r\n"
    "Content-Type: application/pdf; name=\"=?utf-8?q?R=C3=A9sum=C3=A9.pdf?=\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--mix\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Disposition: attachment; filename*=utf-8''notes%20%C3%A9.txt\r\n"
    "\r\n"
    "notes\r\n"
    "--mix\r\n"
    "Content-Type: image/jpeg\r\n"
    "Content-Disposition: inline\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "/9j/\r\n"
    "--mix\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: fwd\r\n"
    "From: x@example.com\r\n"
    "\r\n"
    "forwarded body\r\n"
    "--mix--\r\n"
).encode()


@pytest.fixture()
def msg() -> Message:
    return parse(MAIL)


def test_ids_and_walk(msg: Message) -> None:
    assert [(p.id, p.mime_type) for p in msg.walk()] == [
        ("", "multipart/mixed"),
        ("1", "multipart/alternative"),
        ("1.1", "text/plain"),
        ("1.2", "multipart/related"),
        ("1.2.1", "text/html"),
        ("1.2.2", "image/png"),
        ("2", "application/pdf"),
        ("3", "text/plain"),
        ("4", "image/jpeg"),
        ("5", "message/rfc822"),
        ("5", "text/plain"),
    ]
    assert [pid for _, pid in msg.walk_ids()] == [p.id for p in msg.walk()]


def test_header_accessors(msg: Message) -> None:
    assert msg.subject == "Grüße aus Köln"
    from mimekit.address import Address, Group

    (sender,) = msg.from_
    assert isinstance(sender, Address)
    assert sender.name == "Ana Líma" and sender.address == "ana@münchen.de"
    assert [a.address for a in msg.sender] == ["list@example.org"]  # type: ignore[union-attr]
    (group,) = msg.reply_to
    assert isinstance(group, Group) and group.name == "team" and len(group.members) == 2
    assert [a.address for a in msg.to] == ["bo@example.org", "dan@example.org"]  # type: ignore[union-attr]
    assert [a.address for a in msg.cc] == ["eve@example.org"]  # type: ignore[union-attr]
    assert msg.bcc == []
    assert msg.date == dt.datetime(2024, 3, 1, 1, 47, 9, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert msg.message_id == "abc@example.com"
    assert msg.in_reply_to == ["p1@example.com"]
    assert msg.references == ["p0@example.com", "p1@example.com"]


def test_bodies_and_charset(msg: Message) -> None:
    assert msg.text == "Grüße"
    assert msg.text_part is not None and msg.text_part.charset == "iso-8859-1"
    assert msg.html == '<img src="cid:logo">'
    assert msg.html_part is not None and msg.html_part.id == "1.2.1"


def test_attachment_rule(msg: Message) -> None:
    parts = {p.id: p for p in msg.walk() if p.parent is None or p.parent.message is not p}
    assert not parts["1.2.2"].is_attachment  # cid resource inside related
    assert parts["2"].is_attachment  # non-text leaf without disposition
    assert parts["3"].is_attachment  # explicit attachment
    assert not parts["4"].is_attachment  # inline image without a file name
    assert parts["5"].is_attachment  # attached message
    assert not parts["1.1"].is_attachment
    assert [p.id for p in msg.attachments] == ["2", "3", "5"]


def test_filenames_and_dispositions(msg: Message) -> None:
    pdf, notes = msg.children[1], msg.children[2]
    assert pdf.filename == "Résumé.pdf"  # Content-Type name, RFC 2047 decoded
    assert pdf.disposition is None and pdf.disposition_kind is None
    assert notes.filename == "notes é.txt"  # RFC 2231
    assert notes.disposition_kind == "attachment"
    assert pdf.transfer_encoding == "base64"
    assert pdf.get_content() == b"%PDF-1.4\n"
    assert msg.children[0].transfer_encoding == "7bit"


def test_content_type_defaults() -> None:
    msg = parse(b"Subject: x\n\nbody")
    assert msg.mime_type == "text/plain"
    assert msg.content_type.mime_type == "text/plain"
    assert msg.get_text() == "body"
    bad = parse(b"Content-Type: garbage\n\nbody")
    assert bad.mime_type == "text/plain"
    assert any(d.kind.startswith("Malformed") for d in bad.defects)


def test_embedded_message(msg: Message) -> None:
    fwd = msg.children[4]
    inner = fwd.message
    assert isinstance(inner, Message)
    assert inner.subject == "fwd"
    assert inner.text == "forwarded body"  # the CRLF before the delimiter is not content
    assert fwd.get_content() == b"Subject: fwd\r\nFrom: x@example.com\r\n\r\nforwarded body"
    assert not inner.is_attachment


def test_defects_complete_and_labelled() -> None:
    data = (
        b"Subject: =?bogus-charset?q?x?=\n"
        b"Date: not a date\n"
        b"Content-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        b"@@@notbase64\n"
        b"--b\n\nok\n"
    )
    msg = parse(data)
    kinds = {(d.part, d.kind) for d in msg.defects}
    assert ("", "MissingCloseBoundary") in kinds
    assert any(part == "1" for part, _ in kinds)  # the body defect is on part 1
    assert any(part == "" and d.header == "Date" for d in msg.defects for part in [d.part])
    # Stable: asking again gives the same list.
    assert msg.defects == msg.defects
    assert all(d.part == "1" for d in msg.children[0].defects)


def test_strict_policy_raises_on_lazy_defects() -> None:
    msg = parse(b"Date: nonsense\n\nx", STRICT)
    with pytest.raises(ParseError):
        _ = msg.date


def test_constructors_and_children_list() -> None:
    a = Part.leaf(Headers(), b"a")
    b = Part.leaf(Headers(), b"b")
    root = Message.multipart(Headers([("Content-Type", 'multipart/mixed; boundary="z"')]), [a])
    assert isinstance(root, Message) and a.parent is root and a.id == "1"
    root.children.insert(0, b)
    assert b.parent is root and [c.id for c in root.children] == ["1", "2"]
    root.children = [a]
    assert root.children == [a]
    assert Part.leaf(Headers(), b"x").children == []
    assert root.body.startswith(b"--z")


def test_headers_setter_marks_dirty() -> None:
    msg = parse(b"A: 1\n\nbody")
    msg.headers = Headers([("B", "2")])
    assert msg.to_bytes() == b"B: 2\r\n\nbody"
    msg.headers.add("C", "3")
    assert msg.to_bytes() == b"B: 2\r\nC: 3\r\n\nbody"


def test_digest_default_content_type() -> None:
    data = b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: s\n\nx\n--d--\n"
    msg = parse(data)
    child = msg.children[0]
    assert child.content_type.mime_type == "message/rfc822"
    assert child.message is not None and child.message.subject == "s"


def test_to_dict_round_trips_through_json(msg: Message) -> None:
    import json

    from mimekit.summary import schema_errors

    data = json.loads(json.dumps(msg.to_dict()))
    assert schema_errors(data) == []


def test_encoded_message_rfc822_is_readable_but_kept_raw() -> None:
    import base64

    inner = b"Subject: inside\r\n\r\nhello\r\n"
    data = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(inner).replace(b"\n", b"\r\n") + b"--b--\r\n")
    msg = parse(data)
    part = msg.children[0]
    assert part.message is not None and part.message.subject == "inside"
    assert part.message.id == "1"
    assert [p.id for p in msg.walk()] == ["", "1", "1"]
    assert msg.to_dict()["root"]["parts"][0]["message"]["headers"] == [["Subject", "inside"]]
    assert msg.to_bytes() == data


def test_body_defects_carry_the_body_offset_and_are_recorded_once() -> None:
    head = b"Content-Type: text/plain; charset=nonexistent; name==?bogus?q?x?=\n\n"
    msg = parse(head + b"caf\xc3\xa9\n")
    for _ in range(3):
        msg.get_text()
        _ = msg.filename
    kinds = [(d.kind, d.offset) for d in msg.defects]
    assert ("UnknownCharset", len(head)) in kinds
    assert len(kinds) == len(set(kinds))


def test_clean_base64_fast_path_agrees_with_lenient_decoder() -> None:
    # The no-copy decoder (_b64.clean_base64) either declines (None) or returns
    # exactly what codecs.b64_decode returns, and only when that records no defect.
    import base64
    import random

    from mimekit._b64 import clean_base64
    from mimekit.codecs import b64_decode

    rng = random.Random(4)
    taken = 0
    for _ in range(1500):
        enc = base64.encodebytes(rng.randbytes(rng.randint(0, 200)))
        if rng.random() < 0.5:
            enc = enc.replace(b"\n", b"\r\n")
        if rng.random() < 0.5 and enc:
            mutated = bytearray(enc)
            mutated[rng.randrange(len(mutated))] = rng.choice(b" \t!*=\r\nA-_")
            enc = bytes(mutated)
        if rng.random() < 0.2:
            enc = enc.rstrip(b"\r\n")
        defects: list[Defect] = []
        expected = b64_decode(enc, defects)
        got = clean_base64(b"xx" + enc + b"yy", 2, 2 + len(enc))
        if got is not None:
            taken += 1
            assert got == expected and defects == [], enc
    assert taken > 500  # clean bodies do take the fast path


def test_base64_leaf_decoded_without_copying_the_body() -> None:
    import base64

    payload = bytes(range(256)) * 400
    data = (b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(payload).replace(b"\n", b"\r\n"))
    msg = parse(data)
    assert msg.get_content() == payload
    assert msg._src is not None  # still a span of the input, never sliced out
    assert msg.defects == [] and msg.to_bytes() == data


def test_filename_control_characters_replaced() -> None:
    # An encoded word can carry a line break into a file name (php-mime-mail-parser
    # issue250); a name with CR/LF would break every header built from it.
    data = (b"Content-Type: image/png\r\nContent-Disposition: attachment; filename=\"=?UTF-8?b?"
            b"YQpiLnBkZg==?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    msg = parse(data)
    assert msg.filename == "a b.pdf"
    assert msg.filename == "a b.pdf"
    kinds = [(d.kind, d.header) for d in msg.defects]
    # The value reading flags the LF the encoded word decodes to (RFC 2047 §5).
    assert kinds == [("InvalidFilename", "Content-Disposition"),
                     ("LineBreakInEncodedWord", "Content-Disposition")]
    assert msg.to_bytes() == data


def test_rfc2231_filename_is_not_rfc2047_decoded_again() -> None:
    """Regression (review): an RFC 2231 value spelling out "=?utf-8?B?...?=" became
    'evil.exe' (a spoofed name); plain values keep the legacy decoding."""
    from mimekit.parser import parse

    spelled = parse(b"Content-Type: application/pdf\nContent-Disposition: attachment; "
                    b"filename*=utf-8''%3D%3Futf-8%3FB%3FZXZpbC5leGU%3D%3F%3D\n\nx")
    assert spelled.filename == "=?utf-8?B?ZXZpbC5leGU=?="
    legacy = parse(b'Content-Type: application/pdf; name="=?utf-8?B?w5xiZXJzaWNodC5wZGY=?="'
                   b"\n\nx")
    assert legacy.filename == "Übersicht.pdf"


def test_transfer_encoding_ignores_comments_before_or_after() -> None:
    """Regression (review): "(c) base64" was read as 7bit and the body left encoded."""
    from mimekit.parser import parse

    for cte in (b"(c) base64", b"base64 (c)", b'"base64"', b"BASE64"):
        msg = parse(b"Content-Transfer-Encoding: " + cte + b"\n\naGk=\n")
        assert (msg.transfer_encoding, msg.get_content()) == ("base64", b"hi")


# -- header defects follow header edits (review finding: id() reuse) -------------------


def test_header_value_defects_survive_many_header_replacements() -> None:
    """Regression: the part remembered checked headers by id(); once a replaced Header
    was collected, a new one could get its id and its defects were never reported,
    while defects of headers long gone stayed in the list."""
    from mimekit.headers import Header

    msg = parse(b"Subject: hi\r\nFrom: a@example.org\r\n\r\nbody\r\n")
    for i in range(2000):
        msg.headers.set("X-Test", Header.parse(b"X-Test: =?bogus-%d?q?abc?=\r\n" % i))
        found = [d.detail for d in msg.defects if d.header == "X-Test"]
        # Exactly the defect of the field now in place: none missing, none stale.
        assert found == [f"unknown charset 'bogus-{i}'"], (i, found)
    msg.headers.set("X-Test", "clean")
    assert [d for d in msg.defects if d.header == "X-Test"] == []
    # The bookkeeping holds current fields only (bounded however many edits).
    assert len(msg._checked or {}) <= 2 * len(msg.headers)


def test_header_defects_leave_with_their_field_and_come_back_with_it() -> None:
    data = b"Subject: =?bogus?q?x?=\r\nX-A: 1\r\n\r\nbody\r\n"
    msg = parse(data)
    assert [(d.kind, d.header, d.offset) for d in msg.defects] == [
        ("UnknownCharset", "Subject", 0)]
    subject = msg.headers.get_header("subject")
    assert subject is not None
    msg.headers.remove("Subject")
    assert msg.defects == []
    msg.headers.append_header(subject)  # the same field again: checked again, reported once
    assert [(d.kind, d.header) for d in msg.defects] == [("UnknownCharset", "Subject")]
    assert [(d.kind, d.header) for d in msg.defects] == [("UnknownCharset", "Subject")]


def test_content_type_defect_recorded_once_across_unrelated_edits() -> None:
    msg = parse(b"Content-Type: text/plain; charset=utf-8; charset=latin1\r\n\r\nx\r\n")
    before = [d.kind for d in msg.defects]
    assert before.count("DuplicateParameter") == 1
    for i in range(5):
        msg.headers.set("X-Other", str(i))  # drops the Content-Type cache, not the field
        _ = msg.content_type
    assert [d.kind for d in msg.defects].count("DuplicateParameter") == 1
    msg.headers.set("Content-Type", "text/plain; charset=utf-8")
    assert "DuplicateParameter" not in [d.kind for d in msg.defects]


def test_address_defects_follow_the_field() -> None:
    msg = parse(b"From: a@@example.org\r\n\r\nx\r\n")
    assert any(d.header == "From" for d in msg.defects)
    for i in range(300):
        msg.headers.set("From", f"ok{i}@example.org")
        assert msg.from_[0].address == f"ok{i}@example.org"  # type: ignore[union-attr]
    assert [d for d in msg.defects if d.header == "From"] == []
    cache = msg.__dict__.get("_value_cache", {})
    assert len(cache) <= 2 * len(msg.headers)


# -- text accessors: "\n" line breaks (review finding) ---------------------------------

CRLF_ALT = (
    b"Content-Type: multipart/alternative; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nline 1\r\nline 2\r\n"
    b"--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + __import__("base64").b64encode(b"<p>a</p>\r\n<p>b</p>\r\n") + b"\r\n"
    b"--b--\r\n"
)


def test_text_and_html_use_newline_line_breaks() -> None:
    """RFC 2046 §4.1.1: CRLF is the line break of MIME text on the wire; decoded text
    uses Python's "\\n". The decoded bytes (get_content) stay as sent."""
    msg = parse(CRLF_ALT)
    assert msg.text == "line 1\nline 2"  # the CRLF before the delimiter belongs to it
    assert msg.html == "<p>a</p>\n<p>b</p>\n"  # base64-encoded CRLF too
    assert msg.children[0].get_text() == "line 1\nline 2"
    assert msg.children[0].get_content() == b"line 1\r\nline 2"
    assert msg.children[1].get_content() == b"<p>a</p>\r\n<p>b</p>\r\n"
    assert msg.to_bytes() == CRLF_ALT


def test_text_lone_cr_and_lf_only_input() -> None:
    msg = parse(b"Content-Type: text/plain\n\na\rb\r\nc\nd\n")
    assert msg.text == "a\nb\nc\nd\n"
    assert msg.get_content() == b"a\rb\r\nc\nd\n"
    assert msg.to_dict()["text"] == "a\nb\nc\nd\n"


# -- Content-Type without a type (review finding) --------------------------------------


def _untyped(ctype: bytes, extra: bytes = b"") -> Message:
    return parse(
        b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        b"--XX\r\nContent-Type: " + ctype + b"\r\n" + extra
        + b"Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRgABAQ==\r\n--XX--\r\n")


def test_missing_type_with_a_file_name_is_an_attachment_of_the_named_type() -> None:
    """RFC 2045 §5.2 defaults an invalid Content-Type to text/plain, but a part naming
    a file is a file: attachment, that name, the type the name implies, one defect."""
    msg = _untyped(b"; name=x.jpg")
    part = msg.children[1]
    assert part.mime_type == "image/jpeg"
    assert part.content_type.mime_type == "image/jpeg"
    assert part.content_type.get("name") == "x.jpg"
    assert part.filename == "x.jpg" and part.is_attachment
    assert msg.attachments == [part]
    assert msg.text == "hello"
    offset = msg.to_bytes().index(b"Content-Type: ; name")
    assert [(d.kind, d.part, d.header, d.offset) for d in msg.defects] == [
        ("MalformedContentType", "2", "Content-Type", offset)]
    assert "image/jpeg" in msg.defects[0].detail
    assert part.charset is None  # not read as text (no CharsetGuessed defect)
    assert part.get_content().startswith(b"\xff\xd8\xff")
    assert msg.to_bytes() == _untyped(b"; name=x.jpg").to_bytes()


def test_missing_type_name_from_disposition_or_unknown_or_composite() -> None:
    by_disp = _untyped(b"bogus", b"Content-Disposition: attachment; filename=r.pdf\r\n")
    assert by_disp.children[1].mime_type == "application/pdf"
    assert by_disp.children[1].filename == "r.pdf"
    unknown = _untyped(b"; name=blob.zzqq")
    assert unknown.children[1].mime_type == "application/octet-stream"
    assert unknown.attachments == [unknown.children[1]]
    # A composite type is never guessed: the parser read the part as a leaf.
    eml = _untyped(b"; name=fwd.eml")
    assert eml.children[1].mime_type == "application/octet-stream"
    assert eml.children[1].message is None


def test_missing_type_without_a_name_stays_text_plain() -> None:
    """RFC 2045 §5.2: without a file name the default is text/plain (the parameters
    that could be read still count)."""
    msg = _untyped(b"; charset=iso-8859-2")
    part = msg.children[1]
    assert part.mime_type == "text/plain" and not part.is_attachment
    assert part.content_type.charset == "iso-8859-2" and part.charset == "iso-8859-2"
    assert [(d.kind, d.detail) for d in part.own_defects] == [
        ("MalformedContentType", "no type/subtype; text/plain assumed")]


def test_missing_type_on_the_root_part() -> None:
    msg = parse(b"From: a@example.org\r\nContent-Type: ; name=x.jpg\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRgABAQ==\r\n")
    assert msg.mime_type == "image/jpeg"
    assert msg.text is None  # not a body to show: a file
    assert msg.attachments == [msg]
    assert [d.kind for d in msg.defects] == ["MalformedContentType"]


def test_missing_type_in_a_digest_without_a_name_is_a_message() -> None:
    """RFC 2046 §5.1.5: inside multipart/digest the default is message/rfc822."""
    msg = parse(b"Content-Type: multipart/digest; boundary=d\r\n\r\n"
                b"--d\r\nContent-Type: ;\r\n\r\nSubject: inner\r\n\r\nbody\r\n--d--\r\n")
    part = msg.children[0]
    assert part.mime_type == "message/rfc822"
    assert part.message is not None and part.message.subject == "inner"
    assert [d.kind for d in part.own_defects] == ["MalformedContentType"]


def test_missing_type_strict_policy_raises() -> None:
    with pytest.raises(ParseError):
        parse(b"Content-Type: ; name=x.jpg\r\n\r\nx\r\n", STRICT)


def test_defects_are_complete_before_the_accessors_run() -> None:
    """Message.defects promises every defect of the tree: the InvalidFilename of a
    control character in a file name is there before ``filename`` is read, for a
    message/rfc822 part (it used to appear only afterwards) and every other kind of
    part. The builder refuses such names, so the names are put into its output."""
    import mimekit

    inner = (mimekit.compose().from_("x@example.org").to("y@example.org").subject("s")
             .text("t").build())

    def base() -> mimekit.Builder:
        return mimekit.compose().from_("a@example.org").to("b@example.org").text("x")

    builders = {
        "message/rfc822": base().attach_message(inner, filename="a\u00e9b.eml"),
        "text/plain": base().attach(b"t", filename="a\u00e9b.txt", content_type="text/plain"),
        "image/png": base().attach(b"\x89PNG\r\n\x1a\n", filename="a\u00e9b.png"),
        "application/pdf": base().attach(b"%PDF-1.4\n", filename="a\u00e9b.pdf"),
    }
    for mime, builder in builders.items():
        raw = builder.build().to_bytes()
        assert b"filename*=utf-8''a%C3%A9b." in raw
        back = parse(raw.replace(b"a%C3%A9b.", b"a%09b."))  # filename "a\tb.eml" etc.
        assert back.attachments[0].mime_type == mime
        before = list(back.defects)
        assert [d.kind for d in before] == ["InvalidFilename"], mime
        names = [part.filename for part in back.walk()]
        assert back.attachments[0].filename is not None and "\t" not in names
        assert back.defects == before, mime


def test_unknown_disposition_type_is_attachment_with_a_defect() -> None:
    # RFC 2183 §2.8: "Unrecognized disposition types should be treated as attachment".
    msg = parse(b"Content-Type: image/png\r\nContent-Disposition: Form-Data; name=x\r\n\r\nxx")
    assert msg.disposition is not None
    assert msg.disposition.kind == "attachment"
    assert msg.disposition.get("name") == "x"
    assert msg.disposition_kind == "attachment"
    assert msg.headers["Content-Disposition"] == "Form-Data; name=x"  # raw field kept
    assert [(d.kind, d.header, d.detail) for d in msg.defects] == [
        ("UnknownDisposition", "Content-Disposition",
         "unknown disposition type 'form-data'; treated as attachment (RFC 2183 §2.8)")]
    for kind in (b"inline", b"ATTACHMENT"):
        msg = parse(b"Content-Disposition: " + kind + b"\r\n\r\nxx")
        assert msg.disposition_kind == kind.decode().lower()
        assert msg.defects == []


def test_set_content_wants_bytes() -> None:
    part = Part(Headers([("Content-Type", "text/plain; charset=utf-8")]))
    with pytest.raises(TypeError, match=r"^set_content\(\) takes bytes \(the decoded content\), "
                       r"not str; encode the text first, e\.g\. text\.encode\('utf-8'\)$"):
        part.set_content("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^set_content\(\) takes bytes \(the decoded content\), "
                       r"not int$"):
        part.set_content(5)  # type: ignore[arg-type]
    part.set_content(bytearray(b"caf\xc3\xa9"))
    assert part.get_content() == b"caf\xc3\xa9"


# --- issue 5: 8bit/binary only where the policy allows; never a long line or bare CR/LF


def _built(policy: mimekit.Policy) -> mimekit.Message:
    return (mimekit.compose(policy).from_("a@example.org").to("b@example.org").text("x")
            .attach(b"data", filename="a.bin").build())


@pytest.mark.parametrize("cte", ["8bit", "binary"])
def test_set_content_refuses_8bit_and_binary_without_the_policy(cte: str) -> None:
    part = _built(mimekit.DEFAULT).attachments[0]
    with pytest.raises(mimekit.EncodingError, match="allow_8bit"):
        part.set_content(b"ok\r\n", cte=cte)


@pytest.mark.parametrize("data", [b"y" * 3000, b"a\rb", b"a\nb", b"y" * 999 + b"\r\n"])
def test_binary_never_writes_a_long_line_or_a_bare_line_break(data: bytes) -> None:
    msg = _built(mimekit.SMTPUTF8)
    with pytest.raises(mimekit.EncodingError, match="use base64"):
        msg.attachments[0].set_content(data, cte="binary")
    assert all(len(line) <= 998 for line in msg.to_bytes().split(b"\r\n"))


def test_binary_allowed_when_it_fits_and_the_policy_allows_it() -> None:
    msg = _built(mimekit.SMTPUTF8)
    msg.attachments[0].set_content(b"\xff\x00ok\r\n", cte="binary")
    back = mimekit.parse(msg.to_bytes())
    assert back.attachments[0].get_content() == b"\xff\x00ok\r\n"
    assert back.attachments[0].transfer_encoding == "binary"


def test_builder_parts_carry_the_builder_policy() -> None:
    msg = _built(mimekit.SMTPUTF8)
    assert all(part.policy is mimekit.SMTPUTF8 for part in msg.walk())
