"""Tests for mimekit.sniff: with libmagic and without (loader monkeypatched away)."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterator

import pytest

import mimekit
from mimekit import sniff
from mimekit.sniff import guess_type

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _zip(members: dict[str, bytes], stored_first: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            kind = zipfile.ZIP_STORED if stored_first else zipfile.ZIP_DEFLATED
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=kind)
            stored_first = False
    return buf.getvalue()


SAMPLES: dict[str, tuple[bytes, str]] = {
    "pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17, "image/png"),
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 20, "image/jpeg"),
    "gif": (b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 20, "image/gif"),
    "gzip": (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "application/gzip"),
    "docx": (_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}), DOCX),
    "zip": (_zip({"a.txt": b"hello"}), "application/zip"),
    "ics": (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nEND:VCALENDAR\r\n",
            "text/calendar"),
}


@pytest.fixture(params=["magic", "no-magic"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "no-magic":
        monkeypatch.setattr(sniff, "_load_magic", lambda: None)
    elif sniff._load_magic() is None:
        pytest.skip("libmagic is not installed here; the no-magic variant covers the fallback")
    yield str(request.param)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_signatures_without_names(mode: str, kind: str) -> None:
    data, expected = SAMPLES[kind]
    assert guess_type(data, None) == expected


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_signatures_with_misleading_name(mode: str, kind: str) -> None:
    data, expected = SAMPLES[kind]
    # Content wins over a wrong extension for specific formats.
    if kind in ("zip", "ics"):
        return
    assert guess_type(data, "report.txt") == expected


def test_builtin_table_more_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff, "_load_magic", lambda: None)
    cases = {
        b"RIFF\x00\x00\x00\x00WEBPVP8 ": "image/webp",
        b"RIFF\x00\x00\x00\x00WAVEfmt ": "audio/wav",
        b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00" + b"\x00" * 10: "image/bmp",
        b"II*\x00\x08\x00\x00\x00": "image/tiff",
        b"MM\x00*\x00\x00\x00\x08": "image/tiff",
        b"ID3\x04\x00\x00\x00\x00\x00\x00": "audio/mpeg",
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00": "video/mp4",
        b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00": "audio/mp4",
        b"OggS\x00\x02" + b"\x00" * 20: "audio/ogg",
        b"BEGIN:VCARD\r\nVERSION:4.0\r\n": "text/vcard",
        b"<!DOCTYPE html><html></html>": "text/html",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>': "image/svg+xml",
        b'<?xml version="1.0"?><root/>': "application/xml",
    }
    for data, expected in cases.items():
        assert guess_type(data, None) == expected, data[:12]


def test_odf_mimetype_member(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff, "_load_magic", lambda: None)
    odt = _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"},
               stored_first=True)
    assert guess_type(odt, None) == "application/vnd.oasis.opendocument.text"


def test_zip_container_refined_by_name(mode: str) -> None:
    data = _zip({"a.txt": b"hello"})
    assert guess_type(data, "book.epub") == "application/epub+zip"
    assert guess_type(data, "archive.zip") == "application/zip"


def test_ole2_refined_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff, "_load_magic", lambda: None)
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100
    assert guess_type(ole, "old.doc") == "application/msword"
    assert guess_type(ole, None) == "application/x-ole-storage"


def test_names_only(mode: str) -> None:
    assert guess_type(None, "photo.JPG") == "image/jpeg"
    assert guess_type(b"", "C:\\Users\\x\\letter.pdf") == "application/pdf"
    assert guess_type(None, "dir/sub/table.csv") == "text/csv"
    assert guess_type(None, "backup.tar.gz") == "application/gzip"
    assert guess_type(None, "invite.ics") == "text/calendar"
    assert guess_type(None, "noextension") == "application/octet-stream"
    assert guess_type(None, None) == "application/octet-stream"


def test_text_and_unknown_binary(mode: str) -> None:
    assert guess_type(b"just some words\nand more\n", None) == "text/plain"
    assert guess_type("Grüße, bis bald\n".encode(), None) == "text/plain"
    assert guess_type(b"just some words\n", "data.csv") == "text/csv"
    assert guess_type(b"\x00\x01\x02\x03\xfe\xff" * 50, None) == "application/octet-stream"


def test_text_cut_by_the_window_but_not_invalid_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libmagic: a character cut at the 2 KB window is still text, but a short
    body ending (or holding) an incomplete or invalid UTF-8 sequence is not."""
    monkeypatch.setattr(sniff, "_load_magic", lambda: None)
    assert guess_type(("a" * 2047 + "é" * 10).encode(), None) == "text/plain"
    assert guess_type(b"ab\xc3", None) == "application/octet-stream"
    assert guess_type(b"x\x9f>", None) == "application/octet-stream"


def test_magic_failure_is_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes) -> str:
        raise RuntimeError("libmagic exploded")

    monkeypatch.setattr(sniff, "_load_magic", lambda: broken)
    assert guess_type(SAMPLES["pdf"][0], None) == "application/pdf"


def test_magic_specific_answer_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff, "_load_magic", lambda: (lambda data: "image/x-portable-pixmap"))
    assert guess_type(b"P6\n1 1\n255\n\x00\x00\x00", "x.bin") == "image/x-portable-pixmap"
    monkeypatch.setattr(sniff, "_load_magic", lambda: (lambda data: "application/octet-stream"))
    assert guess_type(b"\x89PNG\r\n\x1a\n", None) == "image/png"


def test_common_extensions_do_not_depend_on_the_system_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mimetypes

    monkeypatch.setattr(mimetypes, "guess_type", lambda *a, **k: (None, None))
    assert guess_type(None, "report.docx") == DOCX
    assert guess_type(None, "invite.ics") == "text/calendar"
    assert guess_type(None, "book.epub") == "application/epub+zip"
    assert guess_type(None, "mail.eml") == "message/rfc822"
    assert guess_type(None, "odd.unknownext") == "application/octet-stream"


def test_mail_specific_signatures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff, "_load_magic", lambda: None)
    assert guess_type(_tnef_stream(), None) == TNEF
    assert guess_type(None, "WINMAIL.DAT") == TNEF
    assert guess_type(b".snd\x00\x00\x00\x18", None) == "audio/basic"
    assert guess_type(b"%!\n/Helvetica findfont", None) == "application/postscript"
    assert guess_type(b"P6\n1 1\n255\n\x00\x00\x00", None) == "image/x-portable-pixmap"
    assert guess_type(b"P1\n1 1\n0\n", None) == "image/x-portable-bitmap"


# -- TNEF: the signature alone is not a stream ------------------------------------------

TNEF = "application/vnd.ms-tnef"
TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"


def _tnef_attr(level: int, attr_id: int, data: bytes) -> bytes:
    """One TNEF attribute (MS-OXTNEF §2.1.3): level, id, length, data, checksum."""
    return struct.pack("<BII", level, attr_id, len(data)) + data + struct.pack(
        "<H", sum(data) & 0xFFFF)


def _tnef_stream(*attrs: bytes) -> bytes:
    """Signature, key, attTnefVersion, then ``attrs`` (as tests/test_tnef.py builds them)."""
    version = _tnef_attr(1, 0x00089006, struct.pack("<I", 0x00010000))
    return TNEF_SIGNATURE + b"\x01\x00" + version + b"".join(attrs)


def _tnef_with_file(size: int) -> bytes:
    """A TNEF stream with a subject and one ``size``-byte attachment."""
    rend = struct.pack("<HIHHI", 1, 0xFFFFFFFF, 32, 32, 0)
    return _tnef_stream(
        _tnef_attr(1, 0x00018004, b"hi\x00"),
        _tnef_attr(2, 0x00069002, rend),
        _tnef_attr(2, 0x00018010, b"a.bin\x00"),
        _tnef_attr(2, 0x0006800F, bytes(range(256)) * (size // 256)),
    )


@pytest.mark.parametrize("data", [TNEF_SIGNATURE, TNEF_SIGNATURE + bytes(range(40))])
def test_tnef_signature_alone_is_not_tnef(mode: str, data: bytes) -> None:
    """The 4 signature bytes (libmagic too says vnd.ms-tnef for them) and nothing of a
    stream after them: a TNEF label would make the reader record MalformedTnef. Found by
    hypothesis in tests/test_builder_shapes.py, these exact bytes."""
    assert guess_type(data, None) == "application/octet-stream"
    assert guess_type(data, "winmail.dat") == "application/octet-stream"
    assert guess_type(data, "x.pdf") == "application/pdf"  # the next guess applies


def test_tnef_streams_are_still_tnef(mode: str) -> None:
    small = _tnef_stream(_tnef_attr(1, 0x00018004, b"hi\x00"))
    large = _tnef_with_file(64 * 1024)  # past the sniffed prefix
    for data in (small, large):
        assert guess_type(data, None) == TNEF
        assert guess_type(data, "winmail.dat") == TNEF
        assert guess_type(data, "x.bin") == TNEF
    # Cut inside the attachment: its length runs past the end of the data.
    assert guess_type(large[:3000], None) == "application/octet-stream"
    # A bad checksum inside the whole stream, a level that is not 1 or 2, no attribute.
    broken = small[:-1] + bytes([small[-1] ^ 1])
    assert guess_type(broken, None) == "application/octet-stream"
    assert guess_type(small[:6] + b"\x07" + small[7:], None) == "application/octet-stream"
    assert guess_type(small[:6], None) == "application/octet-stream"


def test_tnef_check_reads_a_prefix_only(mode: str) -> None:
    """Bounded work: past the first 2 KB only the lengths are used, so damage there
    (a wrong checksum at the end of a 1 MB attachment) does not change the answer."""
    data = _tnef_with_file(1 << 20)
    assert guess_type(data[:-1] + bytes([data[-1] ^ 1]), None) == TNEF


@pytest.mark.parametrize("data", [TNEF_SIGNATURE, TNEF_SIGNATURE + bytes(range(40))])
def test_tnef_signature_alone_round_trips_without_defects(data: bytes) -> None:
    raw = (mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
           .attach(data).build().to_bytes())
    back = mimekit.parse(raw)
    assert [(a.mime_type, a.get_content()) for a in back.attachments] == [
        ("application/octet-stream", data)]
    assert back.defects == []


def test_tnef_stream_attached_is_written_and_read_as_tnef() -> None:
    data = _tnef_with_file(4096)
    raw = (mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
           .attach(data, filename="winmail.dat").build().to_bytes())
    back = mimekit.parse(raw)
    part = back.attachments[0]  # then the files found inside it
    assert part.mime_type == TNEF
    assert part.tnef is not None and [a.filename for a in part.tnef.attachments] == ["a.bin"]
    assert back.defects == []


def test_types_from_the_name_are_lower_case() -> None:
    """mimetypes keeps mixed case in its tables; guess_type promises lower case."""
    assert guess_type(None, "book.xlam") == "application/vnd.ms-excel.addin.macroenabled.12"
