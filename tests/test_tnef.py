"""mimekit.tnef: real winmail.dat parts from the corpus, synthetic streams for every
attribute the reader understands, and hostile streams that must cost a defect, not an
exception or an allocation."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import struct
import zlib
from datetime import datetime, timezone

import pytest
from corpus import corpus_dir
from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.errors import Defect
from mimekit.tnef import (
    MAX_DEPTH,
    Tnef,
    decompress_rtf,
    looks_like_tnef,
    parse_tnef,
)

# ---------------------------------------------------------------------------------------
# Corpus




def tnef_part(name: str) -> bytes:
    """The decoded application/ms-tnef part of a corpus message, via the stdlib."""
    raw = (corpus_dir() / name).read_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        if part.get_content_type() == "application/ms-tnef":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError(f"no application/ms-tnef part in {name}")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.corpus
def test_rich_text_winmail_attachments_and_embedded_messages() -> None:
    data = tnef_part("jstedfast-MimeKit/tnef/rich-text.eml")
    assert sha(data).startswith("ee87ed34b7b4df2b")
    defects: list[Defect] = []
    tnef = parse_tnef(data, defects)
    assert defects == []  # every checksum and the RTF CRC verify
    assert tnef.message_class == "IPM.Microsoft Mail.Note"
    assert tnef.codepage == 1252
    assert tnef.internet_codepage == 20127

    names = [a.filename for a in tnef.attachments]
    assert names == ["kitten-playing-with-a-christmas-tree.jpg", "Build a train table",
                     "Christmas Celebration!"]
    kitten, task, appointment = tnef.attachments
    # attAttachTitle says KITTEN~1.JPG; PR_ATTACH_LONG_FILENAME wins.
    assert len(kitten.data) == 375081
    assert kitten.data[:3] == b"\xff\xd8\xff" and kitten.data.endswith(b"\xff\xd9")
    assert sha(kitten.data) == "f79d79bf20d19d17f4bbc92bc59485be362df93deaa92b71cc0d490d3b7ac935"
    assert kitten.attach_method == 1 and kitten.embedded is None

    # Two embedded messages (ATTACH_EMBEDDED_MSG), each a nested TNEF stream.
    assert task.attach_method == 5 and appointment.attach_method == 5
    assert len(task.data) == 6508
    assert sha(task.data) == "ffaf277cb2d598c5235ff295852dfc941bca0f500f487fc4699147482f34bf0b"
    assert task.embedded is not None
    assert task.embedded.message_class == "IPM.Task"
    assert task.embedded.subject == "Build a train table"
    assert task.embedded.body == "Build my nephew an HO-scale train table for Christmas.\r\n\r\n"
    assert task.embedded.date_sent == datetime(2018, 12, 15, 9, 37, 31)
    assert appointment.embedded is not None
    assert appointment.embedded.message_class == "IPM.Appointment"
    assert appointment.embedded.subject == "Christmas Celebration!"
    inner = appointment.embedded.attachments
    assert [(a.filename, len(a.data)) for a in inner] == [
        ("kitten-playing-with-a-christmas-tree.jpg", 375081)]
    assert inner[0].data == kitten.data

    # PR_RTF_COMPRESSED, LZFu: decompressed with the CRC checked.
    assert tnef.rtf is not None and len(tnef.rtf) == 15237
    assert tnef.rtf.startswith(b"{\\rtf1\\adeflang1025\\ansi\\ansicpg1252")
    assert tnef.rtf.rstrip(b"\x00").endswith(b"\\par }}")
    assert sha(tnef.rtf) == "3716ee1ced39726b038a01a003ff26cbef59d5d37d2c65e38a323ee4db9d7901"
    json.dumps(tnef.to_dict())


@pytest.mark.corpus
def test_ukrainian_winmail_codepages_and_html_body() -> None:
    defects: list[Defect] = []
    tnef = parse_tnef(tnef_part("jstedfast-MimeKit/tnef/ukr.eml"), defects)
    assert defects == []
    assert tnef.subject == "rr test 7"
    assert tnef.message_class == "IPM.Note"
    assert tnef.codepage == 1251  # attOemCodepage: 8-bit strings are windows-1251
    assert tnef.internet_codepage == 20866  # PR_INTERNET_CPID: koi8-u for the HTML
    assert tnef.date_sent == datetime(2017, 11, 13, 8, 1, 13)
    assert tnef.attachments == ()
    assert tnef.html is not None and len(tnef.html) == 830
    assert "<p>шостий</p>" in tnef.html.decode("koi8-u")
    preview = tnef.get_property(0x3FD9)  # PR_PREVIEW, PtypString8 in windows-1251
    assert preview is not None and isinstance(preview.value, str)
    assert preview.value.startswith("шостий\r\n")
    assert tnef.message_id is not None
    assert tnef.message_id.startswith("<AM0PR0702MB3522C04E8C4950FA9976EC23E12B0@")
    assert tnef.sender == ("RR Tester 1", "rrtest1@xink.io")


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["jstedfast-MimeKit/tnef/rich-text.eml",
                                  "jstedfast-MimeKit/tnef/ukr.eml"])
def test_real_streams_are_sniffed_as_tnef(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mimekit import sniff

    data = tnef_part(name)
    assert looks_like_tnef(data[:2048], len(data))
    assert sniff.guess_type(data, None) == "application/vnd.ms-tnef"
    monkeypatch.setattr(sniff, "_load_magic", lambda: None)
    assert sniff.guess_type(data, None) == "application/vnd.ms-tnef"


# ---------------------------------------------------------------------------------------
# Synthetic streams (MS-OXTNEF §2.1.3)

SIG = struct.pack("<IH", 0x223E9F78, 0x0001)
LVL_MSG, LVL_ATT = 1, 2


def attr(level: int, attr_id: int, data: bytes, *, checksum: int | None = None,
         length: int | None = None) -> bytes:
    if checksum is None:
        checksum = sum(data) & 0xFFFF
    size = len(data) if length is None else length
    return struct.pack("<BII", level, attr_id, size) + data + struct.pack("<H", checksum)


def stream(*attrs: bytes) -> bytes:
    version = attr(LVL_MSG, 0x00089006, struct.pack("<I", 0x00010000))
    return SIG + version + b"".join(attrs)


def pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def p_long(pid: int, value: int) -> bytes:
    return struct.pack("<HHi", 0x0003, pid, value)


def p_var(ptype: int, pid: int, value: bytes) -> bytes:
    return struct.pack("<HHII", ptype, pid, 1, len(value)) + pad(value)


def p_str8(pid: int, text: str, codec: str = "cp1252") -> bytes:
    return p_var(0x001E, pid, text.encode(codec) + b"\x00")


def p_unicode(pid: int, text: str) -> bytes:
    return p_var(0x001F, pid, text.encode("utf-16-le") + b"\x00\x00")


def props(*items: bytes) -> bytes:
    return struct.pack("<I", len(items)) + b"".join(items)


REND_DATA = struct.pack("<HIHHI", 1, 0xFFFFFFFF, 32, 32, 0)


def attachment(title: str, data: bytes, *extra_props: bytes) -> bytes:
    parts = [attr(LVL_ATT, 0x00069002, REND_DATA),
             attr(LVL_ATT, 0x00018010, title.encode() + b"\x00"),
             attr(LVL_ATT, 0x0006800F, data)]
    if extra_props:
        parts.append(attr(LVL_ATT, 0x00069005, props(*extra_props)))
    return b"".join(parts)


def date_attr(attr_id: int, dt: datetime) -> bytes:
    value = struct.pack("<7H", dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second,
                        dt.isoweekday() % 7)
    return attr(LVL_MSG, attr_id, value)


def rtf_compress(tokens: list[bytes | tuple[int, int]]) -> bytes:
    """An LZFu stream from literal runs and (offset, length) dictionary references,
    ending with the reference to the write position (MS-OXRTFCP §2.1.3.1.4)."""
    flat: list[bytes | tuple[int, int]] = []
    wpos = 207
    raw = 0
    for token in tokens:
        if isinstance(token, bytes):
            for byte in token:
                flat.append(bytes([byte]))
            wpos = (wpos + len(token)) % 4096
            raw += len(token)
        else:
            flat.append(token)
            wpos = (wpos + token[1]) % 4096
            raw += token[1]
    flat.append((wpos, 2))  # end marker
    out = bytearray()
    for start in range(0, len(flat), 8):
        group = flat[start:start + 8]
        control = 0
        body = bytearray()
        for bit, item in enumerate(group):
            if isinstance(item, bytes):
                body += item
            else:
                control |= 1 << bit
                body += struct.pack(">H", (item[0] << 4) | (item[1] - 2))
        out.append(control)
        out += body
    crc = zlib.crc32(bytes(out), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return struct.pack("<4I", len(out) + 12, raw, 0x75465A4C, crc) + bytes(out)


def test_every_message_attribute() -> None:
    rtf = rtf_compress([(0, 11), b" hello}"])  # "{\rtf1\ansi" from the primed dictionary
    data = stream(
        attr(LVL_MSG, 0x00069007, struct.pack("<II", 1252, 0)),
        attr(LVL_MSG, 0x00078008, b"IPM.Note\x00"),
        attr(LVL_MSG, 0x00018004, "Caf\u00e9 menu".encode("cp1252") + b"\x00"),
        date_attr(0x00038005, datetime(2024, 2, 29, 13, 5, 9)),
        attr(LVL_MSG, 0x0002800C, b"Plain body\r\n"),
        attr(LVL_MSG, 0x00069003, props(p_var(0x0102, 0x1009, rtf),
                                        p_var(0x0102, 0x1013, b"<p>hi</p>"),
                                        p_long(0x3FDE, 65001))),
    )
    defects: list[Defect] = []
    tnef = parse_tnef(data, defects)
    assert defects == []
    assert tnef.key == 1 and tnef.codepage == 1252
    assert tnef.message_class == "IPM.Note"
    assert tnef.subject == "Café menu"
    assert tnef.body == "Plain body\r\n"
    assert tnef.date_sent == datetime(2024, 2, 29, 13, 5, 9)
    assert tnef.rtf == b"{\\rtf1\\ansi hello}"
    assert tnef.html == b"<p>hi</p>"
    assert tnef.internet_codepage == 65001
    assert tnef.attachments == ()


def test_encapsulated_properties_win_over_legacy_attributes() -> None:
    data = stream(
        attr(LVL_MSG, 0x00018004, b"legacy subject\x00"),
        attr(LVL_MSG, 0x0002800C, b"legacy body"),
        attr(LVL_MSG, 0x00069003, props(p_unicode(0x0037, "Grüße ✓"),
                                        p_unicode(0x1000, "Unicode body"),
                                        p_str8(0x001A, "IPM.Note.Custom"))),
    )
    tnef = parse_tnef(data)
    assert tnef.subject == "Grüße ✓"
    assert tnef.body == "Unicode body"
    assert tnef.message_class == "IPM.Note.Custom"
    assert tnef.sender is None and tnef.message_id is None

    tnef = parse_tnef(stream(attr(LVL_MSG, 0x00069003, props(
        p_str8(0x0C1F, "/O=EXAMPLE/CN=ANA"), p_str8(0x1035, "<id@example.org>")))))
    assert tnef.sender == (None, "/O=EXAMPLE/CN=ANA")  # no SMTP address: the X.500 DN
    assert tnef.message_id == "<id@example.org>"
    assert tnef.to_dict()["sender"] == [None, "/O=EXAMPLE/CN=ANA"]


def test_attachment_names_data_and_mime_tag() -> None:
    data = stream(
        attachment("REPORT~1.PDF", b"%PDF-1.4 legacy",
                   p_str8(0x3707, "Quarterly report.pdf"),
                   p_str8(0x3704, "REPORT~1.PDF"),
                   p_str8(0x370E, "application/pdf"),
                   p_str8(0x3712, "part1@example"),
                   p_long(0x3705, 1),
                   p_var(0x0102, 0x3701, b"%PDF-1.4 real")),
        attachment("notes.txt", b"just the legacy data"),
        attachment("", b"x", p_str8(0x3704, "SHORT.TXT")),
    )
    defects: list[Defect] = []
    tnef = parse_tnef(data, defects)
    assert defects == []
    first, second, third = tnef.attachments
    assert first.filename == "Quarterly report.pdf"
    assert first.data == b"%PDF-1.4 real"  # PR_ATTACH_DATA_BIN wins over attAttachData
    assert first.mime_type == "application/pdf"
    assert first.content_id == "part1@example"
    assert first.attach_method == 1
    assert (second.filename, second.data, second.mime_type) == (
        "notes.txt", b"just the legacy data", None)
    assert third.filename == "SHORT.TXT"
    assert json.loads(json.dumps(tnef.to_dict()))["attachments"][0]["size"] == 13


def test_named_multivalued_and_fixed_properties() -> None:
    guid = bytes(range(16))
    name = pad("Keywords".encode("utf-16-le") + b"\x00\x00")
    named_string = (struct.pack("<HH", 0x101F, 0x8001) + guid
                    + struct.pack("<II", 1, len("Keywords".encode("utf-16-le")) + 2) + name
                    + struct.pack("<I", 2)
                    + struct.pack("<I", 4) + pad("a\x00".encode("utf-16-le"))
                    + struct.pack("<I", 4) + pad("b\x00".encode("utf-16-le")))
    named_id = (struct.pack("<HH", 0x000B, 0x8002) + guid + struct.pack("<II", 0, 0x8503)
                + struct.pack("<HH", 1, 0))
    filetime = (struct.pack("<HH", 0x0040, 0x0039)
                + struct.pack("<Q", 132_000_000_000_000_000))
    multi_long = struct.pack("<HHI", 0x1003, 0x6000, 3) + struct.pack("<3i", 1, -2, 3)
    short = struct.pack("<HHhH", 0x0002, 0x0017, -5, 0)
    data = stream(attr(LVL_MSG, 0x00069003,
                       props(named_string, named_id, filetime, multi_long, short)))
    defects: list[Defect] = []
    tnef = parse_tnef(data, defects)
    assert defects == []
    keywords, reminder, sent, numbers, importance = tnef.properties
    assert (keywords.name, keywords.guid, keywords.values) == ("Keywords", guid, ("a", "b"))
    assert keywords.tag == (0x8001 << 16) | 0x101F
    assert (reminder.name, reminder.value) == (0x8503, True)
    # FILETIME 132e15 (100 ns ticks since 1601) is 1555526400 s after the Unix epoch.
    assert sent.value == datetime(2019, 4, 17, 18, 40, tzinfo=timezone.utc)
    assert sent.value == datetime.fromtimestamp(1555526400, tz=timezone.utc)
    assert numbers.values == (1, -2, 3)
    assert importance.value == -5


def test_recipient_table() -> None:
    table = (struct.pack("<I", 2)
             + props(p_unicode(0x3001, "Ana Lima"), p_str8(0x3002, "SMTP"),
                     p_str8(0x3003, "ana@example.org"), p_long(0x0C15, 1))
             + props(p_str8(0x3001, "Bo"), p_str8(0x3002, "EX"),
                     p_str8(0x3003, "/O=EXAMPLE/CN=BO"), p_str8(0x39FE, "bo@example.net"),
                     p_long(0x0C15, 2)))
    defects: list[Defect] = []
    tnef = parse_tnef(stream(attr(LVL_MSG, 0x00069004, table)), defects)
    assert defects == []
    ana, bo = tnef.recipients
    assert (ana.name, ana.address, ana.address_type, ana.kind) == (
        "Ana Lima", "ana@example.org", "SMTP", "to")
    assert (bo.name, bo.address, bo.address_type, bo.kind) == (
        "Bo", "bo@example.net", "EX", "cc")  # PR_SMTP_ADDRESS beats the X.500 DN
    assert json.loads(json.dumps(tnef.to_dict()))["recipients"][1]["kind"] == "cc"

    for bad in (struct.pack("<I", 0xFFFFFFFF), table[:-3], b""):
        defects = []
        tnef = parse_tnef(stream(attr(LVL_MSG, 0x00069004, bad)), defects)
        assert kinds(defects) == ["MalformedTnef"]
    assert [r.name for r in tnef.recipients] == []
    defects = []
    tnef = parse_tnef(stream(attr(LVL_MSG, 0x00069004, table[:-3])), defects)
    assert [r.name for r in tnef.recipients] == ["Ana Lima", "Bo"]  # the row up to the cut


def test_embedded_message_is_parsed_recursively() -> None:
    inner = stream(attr(LVL_MSG, 0x00018004, b"Inner\x00"),
                   attachment("deep.txt", b"deep data"))
    iid_imessage = bytes.fromhex("0703020000000000c000000000000046")
    data = stream(attachment("Untitled Attachment", b"placeholder",
                             p_long(0x3705, 5),
                             p_str8(0x3001, "Inner"),
                             p_var(0x000D, 0x3701, iid_imessage + inner)))
    tnef = parse_tnef(data)
    (att,) = tnef.attachments
    assert att.filename == "Inner"  # display name beats the placeholder title
    assert att.data == inner
    assert att.embedded is not None and att.embedded.subject == "Inner"
    assert [(a.filename, a.data) for a in att.embedded.attachments] == [
        ("deep.txt", b"deep data")]


def test_embedded_nesting_is_bounded() -> None:
    iid_imessage = bytes.fromhex("0703020000000000c000000000000046")
    data = stream(attr(LVL_MSG, 0x00018004, b"bottom\x00"))
    for _ in range(MAX_DEPTH + 3):
        data = stream(attachment("m", b"", p_long(0x3705, 5),
                                 p_var(0x000D, 0x3701, iid_imessage + data)))
    defects: list[Defect] = []
    tnef: Tnef | None = parse_tnef(data, defects)
    depth = 0
    while tnef is not None and tnef.attachments:
        tnef = tnef.attachments[0].embedded
        depth += 1
    assert depth == MAX_DEPTH + 1
    assert [d.kind for d in defects] == ["MalformedTnef"]
    assert "nested deeper" in defects[0].detail


# ---------------------------------------------------------------------------------------
# Hostile and broken streams


def kinds(defects: list[Defect]) -> list[str]:
    return [d.kind for d in defects]


def test_not_tnef() -> None:
    for junk in (b"", b"x", b"\x78\x9f\x3e", b"PK\x03\x04 zip file"):
        defects: list[Defect] = []
        assert parse_tnef(junk, defects) == Tnef()
        assert kinds(defects) == ["MalformedTnef"]


def test_huge_attribute_length_stops_with_defect() -> None:
    good = attr(LVL_MSG, 0x00018004, b"kept\x00")
    data = stream(good) + struct.pack("<BII", LVL_MSG, 0x0002800C, 0xFFFFFFFF) + b"tiny"
    defects: list[Defect] = []
    tnef = parse_tnef(data, defects)
    assert tnef.subject == "kept" and tnef.body is None
    assert kinds(defects) == ["MalformedTnef"]
    assert "4294967295" in defects[0].detail


def test_bad_checksum_is_a_defect_and_the_data_is_kept() -> None:
    data = stream(attr(LVL_MSG, 0x00018004, b"Subject\x00", checksum=0x1234))
    defects: list[Defect] = []
    assert parse_tnef(data, defects).subject == "Subject"
    assert kinds(defects) == ["TnefChecksumMismatch"]


def test_truncated_at_every_offset_never_raises() -> None:
    full = stream(attr(LVL_MSG, 0x00018004, b"S\x00"),
                  attachment("a.txt", b"0123456789", p_str8(0x3707, "long a.txt")))
    assert parse_tnef(full).attachments[0].filename == "long a.txt"
    boundaries = {len(full)}  # cuts between whole attributes leave a valid, shorter stream
    pos = 6
    while pos < len(full):
        pos += 9 + int.from_bytes(full[pos + 5:pos + 9], "little") + 2
        boundaries.add(pos)
    for cut in range(len(full)):
        defects: list[Defect] = []
        parse_tnef(full[:cut], defects)
        assert bool(defects) == (cut not in boundaries), cut


def test_hostile_property_counts_and_lengths() -> None:
    cases = {
        "count": struct.pack("<I", 0xFFFFFFFF) + p_long(0x0E20, 7),
        "value length": props(p_long(0x0E20, 7),
                              struct.pack("<HHII", 0x0102, 0x3701, 1, 0xFFFFFFFF) + b"ab"),
        "value count": props(p_long(0x0E20, 7),
                             struct.pack("<HHI", 0x101E, 0x3701, 0x7FFFFFFF)),
        "unknown type": props(p_long(0x0E20, 7), struct.pack("<HHI", 0x0999, 0x3701, 0)),
        "named kind": props(p_long(0x0E20, 7),
                            struct.pack("<HH", 0x0003, 0x8000) + bytes(16)
                            + struct.pack("<II", 9, 0)),
        "name length": props(p_long(0x0E20, 7),
                             struct.pack("<HH", 0x0003, 0x8000) + bytes(16)
                             + struct.pack("<II", 1, 0xFFFFFFF0)),
    }
    for label, blob in cases.items():
        data = stream(attr(LVL_ATT, 0x00069002, REND_DATA),
                      attr(LVL_ATT, 0x00069005, blob))
        defects: list[Defect] = []
        tnef = parse_tnef(data, defects)
        assert kinds(defects) == ["MalformedTnef"], label
        (att,) = tnef.attachments
        assert [p.value for p in att.properties] == [7], label


def test_attachment_attribute_before_rend_data_and_unknown_level() -> None:
    data = stream(attr(LVL_ATT, 0x00018010, b"orphan.txt\x00"),
                  attr(LVL_ATT, 0x0006800F, b"data"),
                  attr(7, 0x00018004, b"odd level\x00"))
    defects: list[Defect] = []
    tnef = parse_tnef(data, defects)
    assert [(a.filename, a.data) for a in tnef.attachments] == [("orphan.txt", b"data")]
    assert tnef.subject == "odd level"
    assert kinds(defects) == ["MalformedTnef", "MalformedTnef"]


def test_unknown_codepage_falls_back_to_windows_1252() -> None:
    data = stream(attr(LVL_MSG, 0x00069007, struct.pack("<II", 99999, 0)),
                  attr(LVL_MSG, 0x00018004, b"\xe9t\xe9\x00"))
    tnef = parse_tnef(data)
    assert tnef.codepage == 99999 and tnef.subject == "été"


def test_odd_values() -> None:
    data = stream(
        attr(LVL_MSG, 0x00069007, struct.pack("<II", 65001, 0)),
        attr(LVL_MSG, 0x00018004, "naïve ✓".encode() + b"\x00"),
        attr(LVL_MSG, 0x00038005, struct.pack("<7H", 2024, 13, 40, 0, 0, 0, 0)),
        attr(LVL_MSG, 0x00069003, props(
            struct.pack("<HHf", 0x0004, 0x6001, 1.5),
            struct.pack("<HHQ", 0x0040, 0x0039, 0xFFFFFFFFFFFFFFFF),
            struct.pack("<HHI", 0x0001, 0x6002, 0),
        )),
        attr(LVL_ATT, 0x00069002, REND_DATA),
        attr(LVL_ATT, 0x00069005, b""),
    )
    defects: list[Defect] = []
    tnef = parse_tnef(data, defects)
    assert tnef.subject == "naïve ✓"  # code page 65001 is UTF-8
    assert tnef.date_sent is None  # month 13
    assert [p.value for p in tnef.properties] == [1.5, None, None]  # FILETIME overflow
    assert tnef.attachments[0].properties == ()
    details = [d.detail for d in defects]
    assert len(details) == 2
    assert "not a valid date" in details[0] and "without a count" in details[1]


# ---------------------------------------------------------------------------------------
# Compressed RTF (MS-OXRTFCP)


def test_rtf_literals_references_and_wraparound() -> None:
    text = b"{\\rtf1 " + b"abcdefgh" * 700 + b"}"  # > 4096 bytes: the window wraps
    assert decompress_rtf(rtf_compress([text])) == text
    # A reference back into text just written: offset 207 is where output starts.
    assert decompress_rtf(rtf_compress([b"xyz", (207, 3), (207, 6)])) == b"xyzxyzxyzxyz"


def test_rtf_output_is_cut_at_rawsize() -> None:
    stream_ = bytearray(rtf_compress([b"{\\rtf1 " + b"x" * 100 + b"}"]))
    stream_[4:8] = struct.pack("<I", 10)  # RAWSIZE says 10
    assert decompress_rtf(bytes(stream_)) == b"{\\rtf1 xxx"
    defects: list[Defect] = []
    truncated = rtf_compress([b"ab", (0, 5)])
    assert decompress_rtf(truncated[:-1], defects) == b"ab{\\rtf"
    assert any("inside a reference" in d.detail for d in defects)


def test_rtf_uncompressed_and_broken_headers() -> None:
    body = b"{\\rtf1 plain}"
    mela = struct.pack("<4I", len(body) + 12, len(body), 0x414C454D, 0) + body
    assert decompress_rtf(mela) == body

    defects: list[Defect] = []
    assert decompress_rtf(b"short", defects) is None
    assert decompress_rtf(struct.pack("<4I", 12, 0, 0x12345678, 0), defects) is None
    assert kinds(defects) == ["MalformedTnef", "MalformedTnef"]

    good = rtf_compress([b"{\\rtf1 hi}"])
    defects = []
    bad_crc = good[:12] + struct.pack("<I", 0xDEADBEEF) + good[16:]
    assert decompress_rtf(bad_crc, defects) == b"{\\rtf1 hi}"
    assert kinds(defects) == ["TnefChecksumMismatch"]

    defects = []
    huge = struct.pack("<I", 0xFFFFFFF0) + good[4:]
    assert decompress_rtf(huge, defects) == b"{\\rtf1 hi}"
    assert "runs past" in defects[0].detail


# ---------------------------------------------------------------------------------------
# Property tests


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    defects: list[Defect] = []
    assert isinstance(parse_tnef(data, defects), Tnef)
    assert isinstance(parse_tnef(SIG + data, defects), Tnef)
    decompress_rtf(data, defects)
    decompress_rtf(struct.pack("<4I", len(data) + 12, 1 << 20, 0x75465A4C, 0) + data, defects)


SAMPLE = stream(
    attr(LVL_MSG, 0x00018004, b"S\x00"),
    attr(LVL_MSG, 0x00069003, props(p_unicode(0x0037, "x"), p_long(0x0E20, 1))),
    attachment("a.txt", b"0123456789", p_str8(0x3707, "long a.txt"), p_long(0x3705, 5),
               p_var(0x000D, 0x3701, bytes(16) + SIG + b"\x00" * 12)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(SAMPLE) - 1), st.integers(0, 255)),
                max_size=8))
def test_mutated_stream_never_raises(edits: list[tuple[int, int]]) -> None:
    data = bytearray(SAMPLE)
    for offset, byte in edits:
        data[offset] = byte
    tnef = parse_tnef(bytes(data))
    json.dumps(tnef.to_dict())


# ---------------------------------------------------------------------------------------
# looks_like_tnef (content sniffing)


def test_looks_like_tnef_on_a_whole_body_agrees_with_the_reader() -> None:
    full = stream(attr(LVL_MSG, 0x00018004, b"S\x00"),
                  attachment("a.txt", b"0123456789", p_str8(0x3707, "long a.txt")))
    for cut in range(len(full) + 1):
        defects: list[Defect] = []
        parse_tnef(full[:cut], defects)
        assert looks_like_tnef(full[:cut]) == (not defects), cut
    bad_sum = stream(attr(LVL_MSG, 0x00018004, b"S\x00", checksum=7))
    assert not looks_like_tnef(bad_sum)


def test_looks_like_tnef_on_a_prefix() -> None:
    """Past the prefix only the announced lengths are checked against the size."""
    full = stream(attr(LVL_MSG, 0x00018004, b"S\x00"), attachment("a.bin", bytes(5000)))
    first_header_end = 6 + 9
    for n in range(first_header_end, 2048):
        assert looks_like_tnef(full[:n], len(full)), n
    for n in range(first_header_end):
        assert not looks_like_tnef(full[:n], len(full)), n  # no attribute seen
    # The attachment data crosses the prefix: its length is checked against the size,
    # what may follow it is not looked at (bounded work).
    assert not looks_like_tnef(full[:2048], len(full) - 1)
    assert looks_like_tnef(full[:2048], len(full) + 5)
    # A header that the size leaves no room for ends the stream truncated.
    small = stream(attr(LVL_MSG, 0x00018004, b"S\x00"))
    assert looks_like_tnef(small[:-3], len(small))
    assert not looks_like_tnef(small + b"\x01", len(small) + 2)
    # Damage inside the prefix: a level that is not 1 or 2, a wrong checksum.
    assert not looks_like_tnef(full[:6] + b"\x03" + full[7:2048], len(full))
    assert not looks_like_tnef(full[:20] + b"\xff" + full[21:2048], len(full))


@pytest.mark.parametrize("data", [b"\x78\x9f\x3e\x22", b"\x78\x9f\x3e\x22" + bytes(range(40)),
                                  b"", b"PK\x03\x04 zip file"])
def test_the_signature_alone_does_not_look_like_tnef(data: bytes) -> None:
    assert not looks_like_tnef(data)
    assert not looks_like_tnef(data, len(data) + 4096)
