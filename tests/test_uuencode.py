"""Uuencoded files: inline ``begin 644 name`` ... ``end`` blocks in text/plain bodies
surface as attachments (source "uuencode"), and the x-uuencode transfer encoding is
decoded by get_content."""

from __future__ import annotations

import binascii
import os
import pathlib

import pytest

from mimekit._derived import DerivedPart
from mimekit.parser import parse

_REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(os.environ.get("MIMEKIT_CORPUS", _REPO.parent / "shared" / "corpus"))


def _uu(data: bytes) -> bytes:
    return b"".join(binascii.b2a_uu(data[i:i + 45]) for i in range(0, len(data), 45))


PAYLOAD = bytes(range(256)) * 3
INLINE = (
    b"From: a@example.com\r\nSubject: old school\r\n\r\n"
    b"Here is the file:\r\n\r\n"
    b"begin 644 table.bin\r\n" + _uu(PAYLOAD).replace(b"\n", b"\r\n") + b"`\r\nend\r\n"
    b"\r\nand a note:\r\n"
    b"begin 600 note.txt\n" + _uu(b"hi there\n") + b"`\nend\n"
    b"bye\r\n"
)


def test_inline_blocks_become_attachments() -> None:
    msg = parse(INLINE)
    got = [(a.filename, a.mime_type, a.get_content()) for a in msg.attachments]
    assert got == [("table.bin", "application/octet-stream", PAYLOAD),
                   ("note.txt", "text/plain", b"hi there\n")]
    first = msg.attachments[0]
    assert isinstance(first, DerivedPart) and first.source == "uuencode" and first.id == ""
    doc = msg.to_dict()
    assert [(a["part"], a["filename"], a["size"], a["from"]) for a in doc["attachments"]] == [
        ("", "table.bin", 768, "uuencode"), ("", "note.txt", 9, "uuencode")]
    assert msg.text is not None and "begin 644 table.bin" in msg.text  # body unchanged
    assert msg.to_bytes() == INLINE


def test_inline_block_in_quoted_printable_multipart_body() -> None:
    data = (
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n'
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"look=3A\r\nbegin 644 a.txt\r\n" + _uu(b"abc").replace(b"\n", b"\r\n")
        + b"`\r\nend\r\n--x--\r\n"
    )
    msg = parse(data)
    assert [(a.id, a.filename, a.get_content()) for a in msg.attachments] == [("1", "a.txt", b"abc")]


def test_prose_begin_is_not_a_block() -> None:
    msg = parse(b"Subject: x\r\n\r\nbegin 644 is how it starts, they said\r\nend of story\r\n")
    assert msg.attachments == []


def test_text_attachment_is_not_scanned() -> None:
    data = (
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n\r\nbody\r\n--x\r\n'
        b'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="f.uue"\r\n\r\n'
        b"begin 644 a.txt\r\n" + _uu(b"abc").replace(b"\n", b"\r\n") + b"`\r\nend\r\n--x--\r\n"
    )
    assert [a.filename for a in parse(data).attachments] == ["f.uue"]


def test_corpus_x_uuencode_transfer_encoding() -> None:
    path = CORPUS / "php-mime-mail-parser" / "uuencode.eml"
    if not path.is_file():
        pytest.skip(f"corpus file not found at {path} (set MIMEKIT_CORPUS)")
    data = path.read_bytes()
    msg = parse(data)
    (att,) = msg.attachments
    assert att.transfer_encoding == "uuencode"
    assert (att.filename, att.get_content()) == (
        "wikipedia-url.txt", b"http://www.wikipedia.org\r\n")
    assert not isinstance(att, DerivedPart)  # the part itself, decoded; no second copy
    assert msg.defects == []
    assert msg.to_bytes() == data


@pytest.mark.parametrize("cte", [b"x-uuencode", b"X-UUE", b"uuencode"])
def test_uuencode_transfer_encodings(cte: bytes) -> None:
    data = (b"Content-Type: application/octet-stream; name=t.bin\r\n"
            b"Content-Transfer-Encoding: " + cte + b"\r\n\r\n"
            b"begin 644 t.bin\r\n" + _uu(PAYLOAD).replace(b"\n", b"\r\n") + b"`\r\nend\r\n")
    msg = parse(data)
    assert msg.get_content() == PAYLOAD
    assert [(a.filename, a.get_content()) for a in msg.attachments] == [("t.bin", PAYLOAD)]
    assert msg.defects == [] and msg.to_bytes() == data


def test_uuencode_transfer_encoding_without_begin_line() -> None:
    data = (b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n"
            b"\r\n" + _uu(b"bare lines"))
    msg = parse(data)
    assert msg.get_content() == b"bare lines"
    assert [d.kind for d in msg.defects] == ["InvalidUuencode"]
