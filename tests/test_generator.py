"""Generator: untouched parts byte for byte, edits re-emitted only where made."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.headers import Header, Headers
from mimekit.model import Message, Part
from mimekit.parser import parse
from mimekit.policy import Policy

DATA = (
    b"From: a@example.com\r\n"
    b"Subject: original\r\n"
    b"Bcc: hidden@example.com\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256;\r\n"
    b"\tb=abc\r\n"
    b"Content-Type: multipart/mixed;\r\n"
    b" boundary=\"outer\"\r\n"
    b"\r\n"
    b"preamble text\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain;  charset=us-ascii\r\n"
    b"\r\n"
    b"first body \r\n"
    b"--outer \r\n"
    b"Content-Type: multipart/alternative; boundary=inner\r\n"
    b"\r\n"
    b"--inner\r\n"
    b"\r\n"
    b"alt one\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<b>alt two</b>\r\n"
    b"--inner--\r\n"
    b"--outer\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAEC\r\n"
    b"--outer--\r\n"
    b"epilogue\r\n"
)


def test_unmodified_round_trip_and_streaming() -> None:
    msg = parse(DATA)
    assert msg.to_bytes() == DATA
    out = io.BytesIO()
    msg.write(out)
    assert out.getvalue() == DATA
    for part in msg.walk():
        assert part.to_bytes() in DATA


def test_changing_a_root_header_keeps_everything_else() -> None:
    msg = parse(DATA)
    children_before = [c.to_bytes() for c in msg.children]
    msg.headers.set("Subject", "changed")
    out = msg.to_bytes()
    assert out == DATA.replace(b"Subject: original\r\n", b"Subject: changed\r\n")
    assert [c.to_bytes() for c in msg.children] == children_before
    assert parse(out).headers["subject"] == "changed"


def test_adding_and_removing_headers() -> None:
    msg = parse(DATA)
    msg.headers.add("X-New", "yes")
    msg.headers.remove("dkim-signature")
    out = msg.to_bytes()
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.endswith(b"X-New: yes")
    assert b"DKIM" not in head
    assert body == DATA.partition(b"\r\n\r\n")[2]


def test_changing_a_child_header_only_touches_that_child() -> None:
    msg = parse(DATA)
    alt = msg.children[1]
    alt.children[1].headers.set("Content-Type", "text/html; charset=utf-8")
    out = msg.to_bytes()
    assert out == DATA.replace(b"Content-Type: text/html\r\n",
                               b"Content-Type: text/html; charset=utf-8\r\n")


def test_replacing_a_part_keeps_siblings_byte_identical() -> None:
    msg = parse(DATA)
    first, alt, _blob = msg.children
    first_raw, alt_raw = first.to_bytes(), alt.to_bytes()
    new = Part.leaf(Headers([("Content-Type", "text/plain")]), b"replacement\r\n")
    msg.children[2] = new
    out = msg.to_bytes()
    assert first_raw in out and alt_raw in out
    # Root header block untouched.
    assert out.startswith(DATA.partition(b"\r\n\r\n")[0] + b"\r\n\r\n")
    again = parse(out)
    assert [c.to_bytes() for c in again.children] == [first_raw, alt_raw, new.to_bytes()]
    assert again.children[2].body == b"replacement\r\n"
    assert again.epilogue == b"epilogue\r\n"


def test_removing_and_appending_children() -> None:
    msg = parse(DATA)
    alt = msg.children[1]
    del msg.children[0]
    assert msg.children[0] is alt and alt.id == "1"
    msg.children.append(Part.leaf(Headers(), b"tail"))
    assert msg.children[-1].parent is msg
    again = parse(msg.to_bytes())
    assert [c.mime_type for c in again.children] == [
        "multipart/alternative", "application/octet-stream", "text/plain"]
    assert again.children[0].to_bytes() == alt.to_bytes()


def test_changing_the_boundary_regenerates_delimiters() -> None:
    msg = parse(DATA)
    bodies = [c.to_bytes() for c in msg.children]
    msg.headers.set("Content-Type", 'multipart/mixed; boundary="newb"')
    out = msg.to_bytes()
    assert b"--outer\r\n" not in out.replace(b"--outer--\r\n--inner", b"")  # only inner text
    again = parse(out)
    assert [c.to_bytes() for c in again.children] == bodies


def test_strip_prefix_for_the_wire() -> None:
    data = b"\xef\xbb\xbfFrom a@b Thu Jan  1 00:00:00 2024\nSubject: x\nBcc: c@d\n\nbody\n"
    msg = parse(data)
    assert msg.prefix == b"\xef\xbb\xbfFrom a@b Thu Jan  1 00:00:00 2024\n"
    assert msg.to_bytes() == data
    assert msg.to_bytes(exclude_headers=("bcc",), strip_prefix=True) == b"Subject: x\n\nbody\n"
    stream = io.BytesIO()
    from mimekit import generator

    generator.write(msg, stream, strip_prefix=True)
    assert stream.getvalue() == b"Subject: x\nBcc: c@d\n\nbody\n"


def test_exclude_headers() -> None:
    msg = parse(DATA)
    out = msg.to_bytes(exclude_headers=("bcc", "Resent-Bcc"))
    assert out == DATA.replace(b"Bcc: hidden@example.com\r\n", b"")
    assert msg.to_bytes() == DATA  # not a mutation
    stream = io.BytesIO()
    from mimekit import generator

    generator.write(msg, stream, exclude_headers=["BCC"])
    assert stream.getvalue() == DATA.replace(b"Bcc: hidden@example.com\r\n", b"")


def test_set_body_and_set_content() -> None:
    msg = parse(DATA)
    blob = msg.children[2]
    blob.set_content(b"\x00\x01\x02\x03")
    assert blob.transfer_encoding == "base64"
    assert blob.get_content() == b"\x00\x01\x02\x03"
    again = parse(msg.to_bytes())
    assert again.children[2].get_content() == b"\x00\x01\x02\x03"
    assert again.children[0].to_bytes() == msg.children[0].to_bytes()
    first = msg.children[0]
    first.set_body(b"raw new body")
    assert parse(msg.to_bytes()).children[0].body == b"raw new body"


def test_edit_adds_separator_when_needed() -> None:
    msg = parse(b"no headers here\nsecond line\n")
    assert len(msg.headers) == 0
    msg.headers.add("Subject", "now")
    out = msg.to_bytes()
    assert out == b"Subject: now\r\n\r\nno headers here\nsecond line\n"
    again = parse(out)
    assert again.headers["subject"] == "now" and again.body == b"no headers here\nsecond line\n"


def test_edit_after_unterminated_last_header() -> None:
    msg = parse(b"A: 1")
    msg.headers.add("B", "2")
    assert msg.to_bytes() == b"A: 1\r\nB: 2\r\n"  # no body: no blank line needed


def test_built_tree() -> None:
    text = Part.leaf(Headers([("Content-Type", "text/plain")]), b"hello\r\n")
    html = Part.leaf(Headers([("Content-Type", "text/html")]), b"<p>hello</p>\r\n")
    alt = Part.multipart(Headers([("Content-Type", 'multipart/alternative; boundary="alt"')]),
                         [text, html])
    inner = Message.leaf(Headers([("Subject", "inner")]), b"inner body\r\n")
    fwd = Part.rfc822(Headers([("Content-Type", "message/rfc822")]), inner)
    root = Message.multipart(
        Headers([("Subject", "built"), ("Content-Type", 'multipart/mixed; boundary="mix"')]),
        [alt, fwd], preamble=b"preamble", epilogue=b"epilogue\r\n")
    assert isinstance(root, Message)
    out = root.to_bytes()
    mix_ct = root.headers.get_header("content-type").raw  # type: ignore[union-attr]
    alt_ct = alt.headers.get_header("content-type").raw  # type: ignore[union-attr]
    assert out == (
        b"Subject: built\r\n" + mix_ct + b"\r\n"
        b"preamble\r\n--mix\r\n" + alt_ct + b"\r\n"
        b"--alt\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        b"\r\n--alt\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n"
        b"\r\n--alt--\r\n"
        b"\r\n--mix\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n"
        b"\r\n--mix--\r\nepilogue\r\n"
    )
    again = parse(out)
    assert again.to_bytes() == out
    assert [p.id for p in again.walk()] == ["", "1", "1.1", "1.2", "2", "2"]
    assert again.children[0].children[0].body == b"hello\r\n"
    assert again.children[1].message is not None
    assert again.children[1].message.headers["subject"] == "inner"
    assert fwd.message is inner and inner.parent is fwd and inner.id == "2"


def test_built_multipart_without_boundary_gets_one() -> None:
    a = Part.leaf(Headers(), b"a")
    root = Message.multipart(Headers([("Content-Type", "multipart/mixed")]), [a])
    out = root.to_bytes()
    boundary = root.content_type.boundary
    assert boundary
    assert b"--" + boundary.encode() + b"\r\n" in out
    assert parse(out).children[0].body == b"a"


def test_linesep_policy_for_new_structure() -> None:
    import attrs

    from mimekit.policy import DEFAULT

    lf = attrs.evolve(DEFAULT, linesep=b"\n")
    a = Part.leaf(Headers([("X", "1")], policy=lf), b"a", policy=lf)
    root = Message.multipart(Headers([("Content-Type", 'multipart/mixed; boundary="b"')],
                                     policy=lf), [a], policy=lf)
    ct = root.headers.get_header("content-type").raw  # type: ignore[union-attr]
    assert ct.endswith(b"\n") and not ct.endswith(b"\r\n")
    assert root.to_bytes() == ct + b"\n--b\nX: 1\n\na\n--b--\n"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=40).map(  # CRLF line ends only: Part.leaf makes them so
    lambda b: b.replace(b"-", b"_").replace(b"\r", b"").replace(b"\n", b"\r\n")),
    min_size=1, max_size=5),
       st.integers(min_value=0, max_value=4))
def test_replace_child_property(bodies: list[bytes], which: int) -> None:
    root = Message.multipart(Headers([("Content-Type", 'multipart/mixed; boundary="p"')]),
                             [Part.leaf(Headers(), b) for b in bodies])
    parsed = parse(root.to_bytes())
    assert [c.body for c in parsed.children] == bodies
    which %= len(bodies)
    raws = [c.to_bytes() for c in parsed.children]
    parsed.children[which] = Part.leaf(Headers([("X", "new")]), b"new")
    again = parse(parsed.to_bytes())
    for i, child in enumerate(again.children):
        if i != which:
            assert child.to_bytes() == raws[i]
    assert again.children[which].body == b"new"


def test_header_objects_are_reusable() -> None:
    h = Header.parse(b"X-Keep: raw   spacing\r\n")
    leaf = Part.leaf(Headers([h]), b"x")
    assert leaf.to_bytes() == b"X-Keep: raw   spacing\r\n\r\nx"


def test_new_content_containing_the_boundary_gets_a_new_boundary() -> None:
    msg = parse(DATA)
    first = msg.children[0]
    first.set_body(b"evil\r\n--outer--\r\nafter\r\n")
    out = msg.to_bytes()
    again = parse(out)
    assert len(again.children) == 3
    assert again.children[0].body == b"evil\r\n--outer--\r\nafter\r\n"
    assert again.children[1].to_bytes() == msg.children[1].to_bytes()
    assert msg.content_type.boundary != "outer"


def test_writing_a_large_attachment_makes_no_second_copy() -> None:
    """Issue 5: the generator streams; writing a message with a 4 MiB attachment to a
    stream allocates almost nothing (the encoded body, ~5.6 MB, is held once, by the
    part), while to_bytes() makes exactly one output-sized buffer. Memory, not time."""
    import os
    import tracemalloc

    import mimekit

    data = os.urandom(4 << 20)
    msg = (mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
           .attach(data, filename="a.bin").build())

    class Sink:
        written = 0

        def write(self, chunk: bytes | memoryview) -> int:
            self.written += len(chunk)
            return len(chunk)

    sink = Sink()
    tracemalloc.start()
    try:
        msg.write(sink)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.written == len(msg.to_bytes()) > 5_500_000
    assert peak < 256 * 1024


def test_a_forced_body_never_breaks_the_line_rules() -> None:
    """Regression: set_body() and Part.leaf() wrote any bytes: a 2,000-octet line (RFC
    5322 §2.1.1 allows 998) and bare LF / CR line ends (§2.3) reached the output."""
    import pytest

    from mimekit.errors import EncodingError

    msg = parse(DATA)
    first = msg.children[0]
    with pytest.raises(EncodingError, match="998"):
        first.set_body(b"y" * 2000 + b"\r\n")
    with pytest.raises(EncodingError, match="998"):
        Part.leaf(Headers([("Content-Type", "text/plain")]), b"z" * 999)
    before = msg.to_bytes()
    assert before == DATA  # the refused edit changed nothing
    first.set_body(b"a\nb\rc\r\n")
    out = first.to_bytes()
    assert out.count(b"\n") == out.count(b"\r\n") == out.count(b"\r")
    assert parse(msg.to_bytes()).children[0].body == b"a\r\nb\r\nc\r\n"
    leaf = Part.leaf(Headers([("Content-Type", "text/plain")]), b"one\ntwo")
    assert leaf.body == b"one\r\ntwo"
    binary = Headers([("Content-Type", "application/octet-stream"),
                      ("Content-Transfer-Encoding", "binary")])
    with pytest.raises(EncodingError, match="bare CR or LF"):
        Part.leaf(binary, b"\x00\n\xff")
    assert Part.leaf(binary, b"\x00\r\n\xff").body == b"\x00\r\n\xff"
    # A 998-octet line is allowed; an LF policy (local files) writes its line ends as given.
    assert Part.leaf(Headers(), b"w" * 998).body == b"w" * 998
    lf = Policy(linesep=b"\n")
    assert Part.leaf(Headers(policy=lf), b"a\nb", policy=lf).body == b"a\nb"
