"""TNEF contents surfaced by the tree: Part.tnef, Message.attachments entries (source
"tnef"), the inspect JSON attachments list (``"from": "tnef"``), and the winmail.dat
part left untouched (exact round trip)."""

from __future__ import annotations

import base64
import hashlib
import os
import pathlib
import struct

from corpus import corpus_bytes

from mimekit._derived import DerivedPart
from mimekit.parser import parse

_REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(os.environ.get("MIMEKIT_CORPUS", _REPO.parent / "shared" / "corpus"))


_corpus = corpus_bytes


# A minimal TNEF stream (MS-OXTNEF §2.1.3): signature, key, version, one attachment.
def _attr(level: int, attr_id: int, data: bytes) -> bytes:
    return struct.pack("<BII", level, attr_id, len(data)) + data + struct.pack(
        "<H", sum(data) & 0xFFFF)


def _tnef(*files: tuple[str, bytes]) -> bytes:
    out = [struct.pack("<IH", 0x223E9F78, 1), _attr(1, 0x00089006, struct.pack("<I", 0x10000))]
    for name, data in files:
        out += [_attr(2, 0x00069002, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 32, 32, 0)),
                _attr(2, 0x00018010, name.encode() + b"\x00"),
                _attr(2, 0x0006800F, data)]
    return b"".join(out)


def _message(ctype: bytes, tnef: bytes) -> bytes:
    return (
        b"From: a@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b\r\nContent-Type: " + ctype + b"\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="winmail.dat"\r\n\r\n'
        + base64.encodebytes(tnef).replace(b"\n", b"\r\n") + b"--b--\r\n"
    )


def test_corpus_rich_text_winmail() -> None:
    data = _corpus("jstedfast-MimeKit/tnef/rich-text.eml")
    msg = parse(data)
    files = [(a.filename, a.mime_type, len(a.get_content())) for a in msg.attachments]
    assert files == [
        ("winmail.dat", "application/ms-tnef", 821421),
        ("kitten-playing-with-a-christmas-tree.jpg", "image/jpeg", 375081),
        # Embedded messages (attach method 5) come out as their nested TNEF stream.
        ("Build a train table", "application/vnd.ms-tnef", 6508),
        ("Christmas Celebration!", "application/vnd.ms-tnef", 385301),
    ]
    kitten = msg.attachments[1]
    assert isinstance(kitten, DerivedPart)
    assert kitten.source == "tnef" and kitten.id == "2" and kitten.origin is msg.children[1]
    assert kitten.get_content()[:3] == b"\xff\xd8\xff"  # a JPEG
    assert hashlib.sha256(kitten.get_content()).hexdigest().startswith("f79d79bf20d19d17")
    tnef = msg.children[1].tnef
    assert tnef is not None and len(tnef.attachments) == 3
    doc = msg.to_dict()
    assert [(a["part"], a["filename"], a["size"], a.get("from")) for a in doc["attachments"]] == [
        ("2", "winmail.dat", 821421, None),
        ("2", "kitten-playing-with-a-christmas-tree.jpg", 375081, "tnef"),
        ("2", "Build a train table", 6508, "tnef"),
        ("2", "Christmas Celebration!", 385301, "tnef"),
    ]
    assert msg.to_bytes() == data


def test_corpus_ukrainian_winmail_has_no_files() -> None:
    msg = parse(_corpus("jstedfast-MimeKit/tnef/ukr.eml"))
    assert [a.filename for a in msg.attachments] == ["winmail.dat"]
    tnef = msg.children[-1].tnef if msg.children else msg.tnef
    assert tnef is not None and tnef.attachments == ()


def test_octet_stream_winmail_dat_and_sniffed_type() -> None:
    data = _message(b"application/octet-stream", _tnef(("report.pdf", b"%PDF-1.4 x"),
                                                       ("notes.txt", b"hello")))
    msg = parse(data)
    got = [(a.filename, a.mime_type, a.get_content()) for a in msg.attachments]
    assert got == [
        ("winmail.dat", "application/octet-stream", _tnef(("report.pdf", b"%PDF-1.4 x"),
                                                          ("notes.txt", b"hello"))),
        ("report.pdf", "application/pdf", b"%PDF-1.4 x"),
        ("notes.txt", "text/plain", b"hello"),
    ]
    assert msg.attachments[1].disposition_kind == "attachment"
    assert msg.to_bytes() == data


def test_octet_stream_named_winmail_without_signature_is_left_alone() -> None:
    msg = parse(_message(b"application/octet-stream", b"not tnef at all"))
    assert msg.children[1].tnef is None
    assert [a.filename for a in msg.attachments] == ["winmail.dat"]
    assert msg.defects == []


def test_hostile_names_and_broken_streams_never_raise() -> None:
    evil = _tnef(("a\r\nBcc: x@example.com.txt", b"data"))
    msg = parse(_message(b"application/ms-tnef", evil))
    (_, att) = msg.attachments
    assert att.filename == "a Bcc: x@example.com.txt"
    assert att.get_content() == b"data"
    broken = parse(_message(b"application/ms-tnef", evil[:40]))
    assert broken.children[1].tnef is not None
    assert "MalformedTnef" in [d.kind for d in broken.defects]
    assert all(d.part == "2" for d in broken.defects if d.kind == "MalformedTnef")
