"""Exact round trip: parse(data).to_bytes() == data for any bytes, never raising."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimekit.model import Part
from mimekit.parser import FeedParser, parse

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes biased towards mail syntax so the interesting paths are hit.
_ATOMS = [
    b"\r\n", b"\n", b"\r", b" ", b"\t", b":", b"--", b"--b", b"--b--", b"From ", b"Subject: x",
    b"Content-Type: multipart/mixed; boundary=b", b"Content-Type: message/rfc822",
    b"Content-Type: multipart/digest; boundary=b", b"Content-Transfer-Encoding: base64",
    b"=?utf-8?q?x?=", b"\xef\xbb\xbf", b"\x00", b"\xff", b"a", b"body",
]
mailish = st.lists(st.one_of(st.sampled_from(_ATOMS), st.binary(max_size=8)), max_size=40).map(
    b"".join
)


@FAST
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_round_trip(data: bytes) -> None:
    msg = parse(data)
    assert msg.to_bytes() == data


@FAST
@given(mailish)
def test_mailish_bytes_round_trip(data: bytes) -> None:
    msg = parse(data)
    assert msg.to_bytes() == data
    for part in msg.walk():  # every part serializes and its defects are well-formed
        part.to_bytes()
        for d in part._defects:
            assert d.offset is None or 0 <= d.offset <= len(data)


# -- generated multipart structures ----------------------------------------------------

_eol = st.sampled_from([b"\r\n", b"\n"])
_text = st.binary(max_size=30).map(lambda b: b.replace(b"-", b"_"))


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> bytes:
    eol = draw(_eol)
    headers = draw(st.lists(st.sampled_from([b"X-A: 1", b"Subject: s", b"X-B:\tfolded" + eol + b" more"]), max_size=3))
    kind = draw(st.sampled_from(["leaf", "multi", "rfc822"] if depth < 3 else ["leaf"]))
    if kind == "leaf":
        head = b"".join(h + eol for h in headers)
        return head + eol + draw(_text)
    if kind == "rfc822":
        head = b"".join(h + eol for h in headers) + b"Content-Type: message/rfc822" + eol
        return head + eol + draw(trees(depth + 1))
    boundary = b"bd" + str(depth).encode() + draw(st.sampled_from([b"", b"x", b"'()+_,./:=?"]))
    head = b"".join(h + eol for h in headers)
    head += b'Content-Type: multipart/mixed; boundary="' + boundary + b'"' + eol
    children = draw(st.lists(trees(depth + 1), min_size=0, max_size=3))
    out = head + eol + draw(_text)
    for child in children:
        pad = draw(st.sampled_from([b"", b" ", b"\t  "]))
        out += eol + b"--" + boundary + pad + draw(_eol) + child
    if draw(st.booleans()):
        out += eol + b"--" + boundary + b"--" + draw(st.sampled_from([b"", eol])) + draw(_text)
    return out


def _shape(part: Part) -> list[tuple[str, str, bool]]:
    return [(pid, p.mime_type, p.is_multipart) for p, pid in part.walk_ids()]


@FAST
@given(trees())
def test_generated_structures_round_trip(data: bytes) -> None:
    msg = parse(data)
    assert msg.to_bytes() == data
    # Every part's own bytes re-parse to the same shape.
    for part in msg.walk():
        raw = part.to_bytes()
        assert parse(raw).to_bytes() == raw


@FAST
@given(trees(), st.lists(st.integers(min_value=1, max_value=50), max_size=30))
def test_feedparser_split_invariance(data: bytes, cuts: list[int]) -> None:
    expected = _shape(parse(data))
    fp = FeedParser()
    i = 0
    for n in cuts:
        fp.feed(data[i : i + n])
        i += n
    fp.feed(data[i:])
    msg = fp.close()
    assert _shape(msg) == expected
    assert msg.to_bytes() == data


@FAST
@given(trees(), st.integers(min_value=0, max_value=1000), st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=20))
def test_editing_one_part_leaves_the_others_byte_identical(
    data: bytes, which: int, value: str
) -> None:
    msg = parse(data)
    parts = [p for p in msg.walk()]
    before = {id(p): p.to_bytes() for p in parts}
    target = parts[which % len(parts)]
    target.headers.set("X-Edited", value)
    out = msg.to_bytes()
    again = parse(out)
    assert again.to_bytes() == out
    # Every part that is neither the target nor one of its ancestors serializes as before,
    # and still appears verbatim in the output.
    ancestors = set()
    node: Part | None = target
    while node is not None:
        ancestors.add(id(node))
        node = node.parent
    for part in parts:
        if id(part) not in ancestors:
            assert part.to_bytes() == before[id(part)]
            assert before[id(part)] in out
    assert target.headers["x-edited"].strip() == value.strip()
