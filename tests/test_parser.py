"""Parser structure: header blocks, boundaries, defects, limits, FeedParser."""

from __future__ import annotations

import attrs
import pytest

from mimekit.errors import ParseError
from mimekit.model import Message, Part
from mimekit.parser import FeedParser, parse, parse_file, parse_stream
from mimekit.policy import DEFAULT, Policy


def kinds(part: Part) -> list[str]:
    return [d.kind for d in part._defects]


def structure(part: Part) -> list[tuple[str, str, bytes]]:
    """(id, mime type, encoded body of leaves) for every part, depth first."""
    out = []
    for p, pid in part.walk_ids():
        leaf = p._children is None and p._message is None
        out.append((pid, p.mime_type, p._body if leaf else b""))
    return out


SIMPLE = (
    b"From: a@example.com\r\n"
    b"Subject: hi\r\n"
    b" there\r\n"
    b"\r\n"
    b"body line\r\n"
)

MULTI = (
    b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"one\r\n"
    b"--b1  \r\n"
    b"\r\n"
    b"two\r\n"
    b"--b1--\r\n"
    b"epilogue\r\n"
)


def test_simple_header_block_and_body() -> None:
    msg = parse(SIMPLE)
    assert [h.name for h in msg.headers] == ["From", "Subject"]
    assert msg.headers.get_header("subject").raw == b"Subject: hi\r\n there\r\n"  # type: ignore[union-attr]
    assert msg.headers.get_header("subject").unfolded == "hi there"  # type: ignore[union-attr]
    assert msg._sep == b"\r\n"
    assert msg.body == b"body line\r\n"
    assert msg.to_bytes() == SIMPLE
    assert kinds(msg) == []


def test_multipart_pieces_and_crlf_belongs_to_delimiter() -> None:
    msg = parse(MULTI)
    assert msg.is_multipart
    assert msg.preamble == b"preamble"
    assert msg._delims == [b"\r\n--b1\r\n", b"\r\n--b1  \r\n"]
    assert msg._close == b"\r\n--b1--\r\n"
    assert msg.epilogue == b"epilogue\r\n"
    one, two = msg.children
    assert one.body == b"one" and two.body == b"two"
    assert one.id == "1" and two.id == "2"
    assert two.headers.to_bytes() == b"" and two.mime_type == "text/plain"
    assert msg.to_bytes() == MULTI


def test_lf_and_mixed_line_endings() -> None:
    data = MULTI.replace(b"\r\n", b"\n")
    msg = parse(data)
    assert [c.body for c in msg.children] == [b"one", b"two"]
    assert msg.to_bytes() == data
    mixed = b"Content-Type: multipart/mixed; boundary=x\n\r\n--x\r\nA: b\n\nbody\n--x--\n"
    msg = parse(mixed)
    assert msg.children[0].body == b"body"
    assert msg.children[0].headers["a"] == "b"
    assert msg.to_bytes() == mixed


def test_boundary_prefix_of_another_is_not_a_delimiter() -> None:
    data = (
        b"Content-Type: multipart/mixed; boundary=ab\n\n"
        b"--ab\n\n--abc\nnot a delimiter\n--ab--x\n--ab--\n"
    )
    msg = parse(data)
    assert len(msg.children) == 1
    assert msg.children[0].body == b"--abc\nnot a delimiter\n--ab--x"
    assert msg.to_bytes() == data


def test_outer_boundary_closes_inner_part() -> None:
    data = (
        b"Content-Type: multipart/mixed; boundary=outer\n\n"
        b"--outer\n"
        b"Content-Type: multipart/alternative; boundary=inner\n\n"
        b"--inner\n\ninner one\n"
        b"--outer\n\nouter two\n"
        b"--outer--\n"
    )
    msg = parse(data)
    assert structure(msg) == [
        ("", "multipart/mixed", b""),
        ("1", "multipart/alternative", b""),
        ("1.1", "text/plain", b"inner one"),
        ("2", "text/plain", b"outer two"),
    ]
    assert kinds(msg.children[0]) == ["MissingCloseBoundary"]
    assert msg.to_bytes() == data


def test_missing_close_boundary_c08_shape() -> None:
    data = b"Content-Type: multipart/mixed; boundary=z\n\n--z\n\nfirst\n--z\n\nsecond\n"
    msg = parse(data)
    assert [c.body for c in msg.children] == [b"first", b"second\n"]
    assert kinds(msg) == ["MissingCloseBoundary"]
    assert msg._defects[0].offset == len(data)
    assert msg.to_bytes() == data


def test_missing_boundary_parameter_is_a_leaf() -> None:
    data = b"Content-Type: multipart/mixed\n\n--x\n\nbody\n--x--\n"
    msg = parse(data)
    assert not msg.is_multipart
    assert msg.body == b"--x\n\nbody\n--x--\n"
    assert kinds(msg) == ["MissingBoundary"]
    assert msg.to_bytes() == data


def test_no_start_boundary() -> None:
    data = b"Content-Type: multipart/mixed; boundary=q\n\njust text\n"
    msg = parse(data)
    assert msg.is_multipart and msg.children == []
    assert msg.preamble == b"just text\n"
    assert kinds(msg) == ["StartBoundaryNotFound"]
    assert msg.to_bytes() == data


def test_empty_parts_and_adjacent_delimiters() -> None:
    data = b"Content-Type: multipart/mixed; boundary=e\n\n--e\n--e\n\nx\n--e--"
    msg = parse(data)
    assert [c.body for c in msg.children] == [b"", b"x"]
    assert msg._close == b"\n--e--"
    assert msg.to_bytes() == data


def test_quoted_boundary_with_escapes_and_folded_content_type() -> None:
    data = (
        b'Content-Type: multipart/mixed;\r\n\tboundary="a\\"b c"\r\n\r\n'
        b'--a"b c\r\n\r\nx\r\n--a"b c--\r\n'
    )
    msg = parse(data)
    assert [c.body for c in msg.children] == [b"x"]
    assert msg.to_bytes() == data


def test_message_rfc822_embedded_and_ids() -> None:
    data = (
        b"Content-Type: multipart/mixed; boundary=m\n\n"
        b"--m\n\nhello\n"
        b"--m\nContent-Type: message/rfc822\n\n"
        b"Subject: inner\n"
        b"Content-Type: multipart/alternative; boundary=n\n\n"
        b"--n\n\ninner text\n--n\nContent-Type: text/html\n\n<p>x</p>\n--n--\n"
        b"--m--\n"
    )
    msg = parse(data)
    rfc = msg.children[1]
    assert rfc.mime_type == "message/rfc822"
    inner = rfc.message
    assert isinstance(inner, Message)
    assert inner.id == "2"
    assert inner.headers["subject"] == "inner"
    assert [c.id for c in inner.children] == ["2.1", "2.2"]
    assert [pid for _, pid in msg.walk_ids()] == ["", "1", "2", "2", "2.1", "2.2"]
    assert [p.id for p in msg.walk()] == ["", "1", "2", "2", "2.1", "2.2"]
    assert msg.to_bytes() == data


def test_message_global_parsed_and_partial_left_as_leaf() -> None:
    data = b"Content-Type: message/global\n\nSubject: x\n\nbody\n"
    assert parse(data).message is not None
    data = b"Content-Type: message/partial; id=1; number=1\n\nSubject: x\n\nbody\n"
    msg = parse(data)
    assert msg.message is None and msg.body == b"Subject: x\n\nbody\n"
    data = b"Content-Type: message/external-body; access-type=x\n\nA: b\n\n"
    assert parse(data).message is None


def test_digest_children_default_to_message_rfc822() -> None:
    data = (
        b"Content-Type: multipart/digest; boundary=d\n\n"
        b"--d\n\nSubject: one\n\nfirst\n"
        b"--d\nContent-Type: text/plain\n\nplain\n"
        b"--d--\n"
    )
    msg = parse(data)
    first, second = msg.children
    assert first.mime_type == "message/rfc822"
    assert first.message is not None and first.message.headers["subject"] == "one"
    assert second.mime_type == "text/plain" and second.message is None
    assert msg.to_bytes() == data


def test_encoded_message_rfc822_is_kept_as_leaf() -> None:
    data = b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoK\n"
    msg = parse(data)
    assert msg._message is None and msg.body == b"U3ViamVjdDogeAoK\n"  # kept raw, encoded
    assert "InvalidMessageEncoding" in kinds(msg)
    assert msg.message is not None and msg.message.headers["subject"] == "x"  # decoded view
    assert msg.to_bytes() == data


def test_eight_bit_and_binary_content() -> None:
    body = bytes(range(256)) * 4
    data = b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n" + body
    msg = parse(data)
    assert msg.body == body
    assert msg.to_bytes() == data


# -- header block edge cases -----------------------------------------------------------


def test_no_headers_blank_first() -> None:
    msg = parse(b"\r\nbody")
    assert len(msg.headers) == 0 and msg._sep == b"\r\n" and msg.body == b"body"
    assert kinds(msg) == []


def test_first_line_not_a_header_means_no_headers() -> None:
    data = b"hello world\nSubject: not really\n\nmore"
    msg = parse(data)
    assert len(msg.headers) == 0
    assert msg.body == data
    assert kinds(msg) == ["MalformedHeader"]
    assert msg.to_bytes() == data


def test_malformed_line_inside_header_block_is_kept_with_previous_field() -> None:
    data = b"Subject: one\nthis has no colon\nTo: b@example.com\n\nbody"
    msg = parse(data)
    assert [h.name for h in msg.headers] == ["Subject", "To"]
    assert msg.headers.get_header("subject").raw == b"Subject: one\nthis has no colon\n"  # type: ignore[union-attr]
    assert msg.headers["subject"] == "one this has no colon"
    assert kinds(msg) == ["MalformedHeader"]
    assert msg._defects[0].offset == len(b"Subject: one\n")
    assert msg._defects[0].header == "Subject"
    assert msg.to_bytes() == data


def test_whitespace_before_colon_tolerated() -> None:
    msg = parse(b"Subject : spaced\n\n")
    assert msg.headers["subject"] == "spaced"
    assert msg.headers.get_header("SUBJECT").name == "Subject"  # type: ignore[union-attr]


def test_unix_from_line_kept_raw() -> None:
    data = b"From someone@example.com Thu Jan  1 00:00:00 2024\nSubject: x\n\nbody\n"
    msg = parse(data)
    assert msg._prefix == b"From someone@example.com Thu Jan  1 00:00:00 2024\n"
    assert msg.headers["subject"] == "x"
    assert kinds(msg) == ["UnixFromLine"]
    assert msg.to_bytes() == data
    # "From :" with space before the colon is a header, not an envelope line.
    msg = parse(b"From : a@example.com\n\n")
    assert msg.headers["from"] == "a@example.com" and kinds(msg) == []


def test_an_mbox_given_to_parse_says_so_in_its_defect() -> None:
    """parse()/parse_file() read one message: an mbox comes out as one long body, and
    the UnixFromLine defect says where to look (the new-user trial found only the kind)."""
    one = b"From a@example.com Thu Jan  1 00:00:00 2024\nSubject: x\n\nbody\n"
    (only,) = parse(one).defects
    assert only.detail == "mbox 'From ' line before the headers"
    (first,) = parse(one + b"\n" + one).defects
    assert first.kind == "UnixFromLine" and first.detail.endswith(
        "more 'From ' lines follow: if this is an mbox, read it with mimekit.read_mbox()")


def test_bom_and_leading_whitespace_lines_kept_raw() -> None:
    data = b"\xef\xbb\xbfSubject: bom\n\nx"
    msg = parse(data)
    assert msg.headers["subject"] == "bom" and "ByteOrderMark" in kinds(msg)
    assert msg.to_bytes() == data
    data = b"     \nSubject: indented junk first\n\nx"
    msg = parse(data)
    assert msg.headers["subject"] == "indented junk first"
    assert msg.to_bytes() == data


def test_headers_without_body_and_without_final_newline() -> None:
    for data in (b"Subject: x", b"Subject: x\n", b"Subject: x\n y", b"A: 1\nB: 2"):
        msg = parse(data)
        assert msg.to_bytes() == data
        assert msg.body == b""
    assert parse(b"A: 1\nB: 2").headers["b"] == "2"


def test_empty_input() -> None:
    msg = parse(b"")
    assert len(msg.headers) == 0 and msg.body == b"" and msg.to_bytes() == b""


def test_header_offsets_recorded() -> None:
    msg = parse(SIMPLE)
    assert msg.header_offsets() == [0, len(b"From: a@example.com\r\n")]
    msg = parse(b"From x@y Thu Jan  1 00:00:00 2024\nA: 1\nB: 2\n\n")
    assert msg.header_offsets() == [34, 39]
    msg.headers.add("C", "3")
    assert msg.header_offsets() is None


# -- limits ----------------------------------------------------------------------------


def nested(depth: int, boundary_prefix: bytes = b"b") -> bytes:
    head: list[bytes] = []
    tail: list[bytes] = []
    for i in range(depth):
        b = boundary_prefix + str(i).encode()
        head.append(b"Content-Type: multipart/mixed; boundary=" + b + b"\n\n--" + b + b"\n")
        tail.append(b"\n--" + b + b"--\n")
    return b"".join(head) + b"\nleaf" + b"".join(reversed(tail))


def test_nesting_limit_records_defect_and_keeps_rest_raw() -> None:
    data = nested(200)
    msg = parse(data)
    assert msg.to_bytes() == data
    depth = 0
    part: Part = msg
    while part.children:
        part = part.children[0]
        depth += 1
    assert depth == DEFAULT.max_depth
    assert kinds(part) == ["NestingTooDeep"]
    assert part.body.startswith(b"--b64\n")


def test_nesting_within_limit_fully_parsed() -> None:
    data = nested(30)
    msg = parse(data)
    assert sum(1 for _ in msg.walk()) == 31
    assert msg.to_bytes() == data


def test_custom_depth_limit() -> None:
    msg = parse(nested(5), attrs.evolve(DEFAULT, max_depth=2))
    assert [k for p in msg.walk() for k in kinds(p)] == ["NestingTooDeep"]


def test_too_many_parts() -> None:
    data = b"Content-Type: multipart/mixed; boundary=p\n\n" + b"--p\n\nx\n" * 50 + b"--p--\n"
    msg = parse(data, attrs.evolve(DEFAULT, max_parts=10))
    assert kinds(msg) == ["TooManyParts"]
    # The parts up to the limit (the root counts as one) are children; the rest is raw.
    assert len(msg.children) == 9
    assert msg.epilogue == b"\n--p\n\nx" * 41 + b"\n--p--\n"
    assert msg.to_bytes() == data
    msg = parse(data)
    assert len(msg.children) == 50


def test_too_many_parts_keeps_the_first_parts() -> None:
    # A multipart/mixed with 10,001 parts, over the default limit of 10,000 parts
    # (Policy.max_parts; RFC 2046 §5.1.1 sets none): the first 9,999 (the root is one)
    # are parsed children, the text of part 1 is found, the rest stays raw and the
    # output is byte-identical.
    body = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i
                    for i in range(1, 10_002))
    data = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + body + b"--b--\r\n"
    msg = parse(data)
    assert DEFAULT.max_parts == 10_000
    assert len(msg.children) == 9_999
    assert msg.text == "part 1"
    assert msg.children[-1].body == b"part 9999"
    assert msg.epilogue is not None
    assert msg.epilogue.startswith(b"\r\n--b\r\nContent-Type: text/plain\r\n\r\npart 10000\r\n")
    assert msg.epilogue.endswith(b"part 10001\r\n--b--\r\n")
    assert [(d.kind, d.part, d.detail) for d in msg.defects] == [
        ("TooManyParts", "", ("more than 10000 parts; the parts after part 9999 of this "
                              "multipart are kept raw (as its epilogue)"))]
    assert msg.to_bytes() == data


def test_too_many_headers() -> None:
    data = b"".join(b"X-H%d: v\n" % i for i in range(100)) + b"\nbody"
    msg = parse(data, attrs.evolve(DEFAULT, max_headers=10))
    assert len(msg.headers) == 10
    assert kinds(msg) == ["TooManyHeaders"]
    assert msg.body.startswith(b"X-H10: v\n")
    assert msg.to_bytes() == data


def test_header_line_too_long() -> None:
    data = b"A: 1\nB: " + b"x" * 5000 + b"\nC: 3\n\nbody"
    msg = parse(data, attrs.evolve(DEFAULT, max_header_line=1000))
    assert [h.name for h in msg.headers] == ["A"]
    assert kinds(msg) == ["HeaderTooLong"]
    assert msg.to_bytes() == data


def test_header_block_too_big() -> None:
    data = b"".join(b"X-H%d: %s\n" % (i, b"v" * 50) for i in range(200)) + b"\nbody"
    msg = parse(data, attrs.evolve(DEFAULT, max_header_bytes=2000))
    assert 0 < len(msg.headers) < 200
    assert kinds(msg) == ["HeaderTooLong"]
    assert msg.to_bytes() == data


@pytest.mark.slow
def test_hostile_sizes_are_bounded() -> None:
    # 100,000 nested multiparts, a million headers, a 100 MB line: no RecursionError,
    # defects recorded, exact round trip.
    data = nested(100_000)
    msg = parse(data)
    assert msg.to_bytes() == data
    assert any(d.kind == "NestingTooDeep" for p in msg.walk() for d in p._defects)
    data = b"X: y\n" * 1_000_000 + b"\nbody"
    msg = parse(data)
    assert any(d.kind in ("TooManyHeaders", "HeaderTooLong") for d in msg._defects)
    assert msg.to_bytes() == data
    data = b"Subject: " + b"x" * 100_000_000
    msg = parse(data)
    assert kinds(msg) == ["HeaderTooLong"]
    assert msg.to_bytes() == data
    data = b"Content-Type: multipart/mixed; boundary=z\n\n--z\n\n" + b"y" * 100_000_000
    msg = parse(data)
    assert len(msg.children[0].body) == 100_000_000
    # The same boundary at every level, and 100,000 nested message/rfc822 parts.
    same = b"Content-Type: multipart/mixed; boundary=s\n\n--s\n" * 100_000 + b"\nx\n--s--\n"
    msg = parse(same)
    assert msg.to_bytes() == same
    assert [d.kind for d in msg._defects] == ["TooManyParts"]
    rfc = b"Content-Type: message/rfc822\n\n" * 100_000 + b"Subject: deep\n\nx"
    msg = parse(rfc)
    assert msg.to_bytes() == rfc
    assert any(d.kind == "NestingTooDeep" for p in msg.walk() for d in p._defects)
    msg.to_dict()


def test_colon_heavy_junk_is_linear() -> None:
    # A regex over header fields must not backtrack exponentially on junk lines full of
    # colons (this input hung an earlier version).
    data = b"A: b\n" + b"x:" * 20_000 + b" \n junk\nno colon here " + b":a" * 5000 + b"\n\nbody"
    msg = parse(data)
    assert msg.to_bytes() == data
    data = b"Subject: " + b"a:" * 50_000 + b"\nfoo\n\nbody"
    msg = parse(data)
    assert msg.to_bytes() == data and kinds(msg) == ["MissingHeaderBodySeparator"]
    # Many lines without a colon before one last field: still linear.
    data = b"A: b\n" + b"no colon\n" * 20_000 + b"Z: z\n\nbody"
    msg = parse(data)
    assert msg.to_bytes() == data and msg.headers.get("z") == "z"


def test_moderate_hostile_inputs() -> None:
    data = nested(5000)
    assert parse(data).to_bytes() == data
    rfc = b"Content-Type: message/rfc822\n\n" * 2000 + b"Subject: deep\n\nx"
    msg = parse(rfc)
    assert msg.to_bytes() == rfc
    assert sum(1 for _ in msg.walk()) == DEFAULT.max_depth + 1
    assert msg.to_dict()["root"]["message"]["id"] == ""
    data = b"X: y\n" * 50_000 + b"\nbody"
    msg = parse(data)
    assert kinds(msg) == ["TooManyHeaders"]
    assert len(msg.headers) == DEFAULT.max_headers
    assert msg.to_bytes() == data
    data = b"Subject: " + b"x" * 3_000_000 + b"\n\nbody"
    msg = parse(data)
    assert kinds(msg) == ["HeaderTooLong"]
    assert msg.to_bytes() == data


# -- strict ----------------------------------------------------------------------------


def test_strict_raises_with_offset() -> None:
    data = b"Content-Type: multipart/mixed; boundary=z\n\n--z\n\nfirst\n"
    with pytest.raises(ParseError) as info:
        parse(data, Policy(strict=True))
    assert info.value.defect is not None
    assert info.value.defect.kind == "MissingCloseBoundary"
    assert info.value.offset == len(data)
    parse(SIMPLE, Policy(strict=True))  # clean input parses


# -- entry points ----------------------------------------------------------------------


def test_parse_file_and_types(tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "m.eml"
    path.write_bytes(MULTI)
    assert parse_file(path).to_bytes() == MULTI
    assert parse(bytearray(SIMPLE)).to_bytes() == SIMPLE  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse("text")  # type: ignore[arg-type]


def test_parse_stream_binary_files(tmp_path: object) -> None:
    import io
    import pathlib

    assert parse_stream(io.BytesIO(MULTI)).to_bytes() == MULTI
    path = pathlib.Path(str(tmp_path)) / "m.eml"
    path.write_bytes(MULTI)
    with open(path, "rb", buffering=0) as raw:
        assert structure(parse_stream(raw)) == structure(parse(MULTI))
    with open(path, "rb") as buffered:
        assert parse_stream(buffered).to_bytes() == MULTI
    with pytest.raises(TypeError):
        parse_stream(io.StringIO("text"))  # type: ignore[arg-type]


def test_parse_file_copies_a_large_attachment_at_most_once(tmp_path: object) -> None:
    # One read of the file, the body decoded straight from it: what parse_file plus
    # get_content allocate stays under 2x the file (1x file + 0.75x decoded content).
    import base64
    import pathlib
    import tracemalloc

    payload = bytes(range(256)) * 8192  # 2 MiB
    data = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(payload).replace(b"\n", b"\r\n") + b"--b--\r\n")
    path = pathlib.Path(str(tmp_path)) / "big.eml"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        msg = parse_file(path)
        assert msg.attachments[0].get_content() == payload
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.9 * len(data)


def test_feedparser_chunkings_give_same_tree() -> None:
    import random

    for data in (SIMPLE, MULTI, nested(10), MULTI.replace(b"\r\n", b"\n")):
        whole = FeedParser()
        whole.feed(data)
        expected = structure(whole.close())
        byte = FeedParser()
        for i in range(len(data)):
            byte.feed(data[i : i + 1])
        msg = byte.close()
        assert structure(msg) == expected
        assert msg.to_bytes() == data
        rng = random.Random(len(data))
        for _ in range(5):
            fp = FeedParser()
            i = 0
            while i < len(data):
                n = rng.randint(1, 17)
                fp.feed(data[i : i + n])
                i += n
            msg = fp.close()
            assert structure(msg) == expected and msg.to_bytes() == data
    fp = FeedParser()
    fp.close()
    with pytest.raises(ValueError):
        fp.feed(b"x")


def test_missing_blank_line_before_body() -> None:
    # A line without a colon that no header field follows starts the body (issue 1189
    # of MimeKit: an attachment's base64 right after its headers); one that is followed
    # by more fields is a broken continuation of the field before it.
    data = (b"Content-Type: application/zip; name=a.zip\r\nContent-Transfer-Encoding: base64\r\n"
            b"UEsDBA==\r\n\r\n")
    msg = parse(data)
    assert msg.filename == "a.zip" and msg.get_content() == b"PK\x03\x04"
    assert [(d.kind, d.offset) for d in msg.defects] == [("MissingHeaderBodySeparator", 78)]
    assert msg.to_bytes() == data
    broken = b"Subject: one\r\ntwo\r\nFrom: a@example.com\r\n\r\nbody\r\n"
    msg = parse(broken)
    assert msg.subject == "one two" and msg.get_content() == b"body\r\n"
    assert [d.kind for d in msg.defects] == ["MalformedHeader"]
    assert msg.to_bytes() == broken


def test_tree_is_split_on_the_boundary_content_type_reports() -> None:
    """Regression (review): "boundary=" inside another parameter's quoted value was
    taken by the fast path, so the tree and Part.content_type disagreed."""
    from mimekit.parser import parse

    raw = (b'Content-Type: multipart/mixed; foo="a boundary=evil"; boundary="real"\r\n\r\n'
           b"--evil\r\n\r\nnot a part\r\n--real\r\n\r\none\r\n--real\r\n\r\ntwo\r\n--real--\r\n")
    msg = parse(raw)
    assert msg.content_type.boundary == "real"
    assert [c.get_content() for c in msg.children] == [b"one", b"two"]
    assert msg.to_bytes() == raw
