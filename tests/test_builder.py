"""The builder: tree shapes, encodings, header safety, and agreement with the stdlib."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdlib_defects import std_defects

import mimekit
from mimekit.errors import HeaderInjectionError

PDF = (Path(__file__).resolve().parent.parent / "docs" / "examples" / "report.pdf").read_bytes()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def _lines(raw: bytes) -> list[bytes]:
    body = raw[:-2] if raw.endswith(b"\r\n") else raw
    # CRLF everywhere: no bare CR or LF anywhere in the output (RFC 5322 §2.1).
    assert body.count(b"\n") == body.count(b"\r\n") == body.count(b"\r")
    return body.split(b"\r\n")


def _stdlib(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def _all_defects(msg: email.message.EmailMessage, *, legacy: bool = True) -> list[object]:
    return [defect for _, defect in std_defects(msg, legacy=legacy)]


def test_text_only_is_a_single_leaf() -> None:
    msg = (mimekit.compose().from_("Ana <ana@example.org>").to("bo@example.net")
           .subject("hi").text("Hello\nworld\n").build())
    raw = msg.to_bytes()
    _lines(raw)
    std = _stdlib(raw)
    assert std.get_content_type() == "text/plain"
    assert std.get_content().replace("\r\n", "\n") == "Hello\nworld\n"
    assert std["Message-ID"] and std["Date"] and std["MIME-Version"] == "1.0"
    assert _all_defects(std) == []
    back = mimekit.parse(raw)
    assert back.text is not None and back.text.replace("\r\n", "\n") == "Hello\nworld\n"
    assert back.subject == "hi"


def test_shapes_alternative_related_mixed() -> None:
    msg = (mimekit.compose().from_("ana@example.org").to("bo@example.net").subject("s")
           .text("plain").html("<p>html <img src='cid:logo'></p>")
           .inline(PNG, cid="logo", filename="logo.png").attach(PDF, filename="r.pdf").build())
    std = _stdlib(msg.to_bytes())
    shape = [p.get_content_type() for p in std.walk()]
    assert shape == ["multipart/mixed", "multipart/alternative", "text/plain",
                     "multipart/related", "text/html", "image/png", "application/pdf"]
    assert _all_defects(std) == []
    parts = list(std.walk())
    assert parts[5]["Content-ID"] == "<logo>"
    assert parts[5].get_payload(decode=True) == PNG
    assert parts[6].get_filename() == "r.pdf"
    assert parts[6].get_payload(decode=True) == PDF
    back = mimekit.parse(msg.to_bytes())
    assert [a.filename for a in back.attachments] == ["r.pdf"]
    assert back.html is not None and "cid:logo" in back.html


def test_attachment_type_detected_from_content_then_name() -> None:
    msg = (mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
           .attach(PDF, filename="noext").attach(b"\x00\x01binary", filename="data.csv")
           .attach(b"\x00\x01\x02", filename=None).build())
    types = [p.get_content_type() for p in _stdlib(msg.to_bytes()).walk()][2:]
    assert types[0] == "application/pdf"
    assert types[1] == "text/csv"
    assert types[2] == "application/octet-stream"


def test_attach_from_path_and_file_object(tmp_path: Path) -> None:
    path = tmp_path / "Bericht März.pdf"
    path.write_bytes(PDF)
    with open(path, "rb") as fh:
        msg = (mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
               .attach(path).attach(fh, filename="copy.pdf").build())
    std = _stdlib(msg.to_bytes())
    atts = list(std.iter_attachments())
    assert [a.get_filename() for a in atts] == ["Bericht März.pdf", "copy.pdf"]
    assert all(a.get_payload(decode=True) == PDF for a in atts)
    assert _all_defects(std) == []


def test_without_the_legacy_name_the_stdlib_sees_no_defect_at_all() -> None:
    policy = mimekit.Policy(legacy_filename=False)
    msg = (mimekit.compose(policy).from_("a@example.org").to("b@example.org").text("x")
           .attach(PDF, filename="Übersicht März \"Q1\".pdf").build())
    std = _stdlib(msg.to_bytes())
    assert _all_defects(std, legacy=False) == []
    assert next(iter(std.iter_attachments())).get_filename() == 'Übersicht März "Q1".pdf'
    legacy = (mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
              .attach(PDF, filename="Übersicht März.pdf").build().to_bytes())
    assert b'name="=?utf-8?' in legacy and b"filename*=utf-8''" in legacy
    assert b'filename="' not in legacy and b" name*=" not in legacy


def test_non_ascii_headers_are_encoded_and_lines_bounded() -> None:
    subject = "Grüße aus Köln – " + "sehr " * 40 + "lang"
    msg = (mimekit.compose().from_(("Zoë Ünal", "zoe@example.org"))
           .to("Bo Chen <bo@example.net>").subject(subject).text("x").build())
    raw = msg.to_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    for line in _lines(raw):
        assert len(line) <= 78
    std = _stdlib(raw)
    assert std["Subject"] == subject
    assert std["From"].addresses[0].display_name == "Zoë Ünal"
    assert mimekit.parse(raw).subject == subject


def test_c17_long_html_line_is_encoded() -> None:
    html = ('<html><body><a href="https://example.com/r?u=' + "q" * 1400
            + '">Weiter</a></body></html>')
    msg = mimekit.compose().from_("a@example.com").to("b@example.org").subject("x").html(html)
    raw = msg.build().to_bytes()
    head, body = raw.split(b"\r\n\r\n", 1)
    assert re.search(rb"Content-Transfer-Encoding: (quoted-printable|base64)", head)
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert _stdlib(raw).get_content() == html


@pytest.mark.parametrize("case", ["subject", "display_name", "header", "filename"])
def test_c18_header_injection_refused(case: str) -> None:
    from mimekit.transports import MemoryTransport

    transport = MemoryTransport()
    b = mimekit.compose().from_("a@example.com").to("ana@example.org").text("x")
    with pytest.raises(HeaderInjectionError):
        if case == "subject":
            b.subject("Invoice 42\r\nBcc: attacker@example.net")
        elif case == "display_name":
            b.to(("Ana\r\nBcc: attacker@example.net", "ana@example.org"))
        elif case == "header":
            b.header("X-Ref", "abc\nBcc: attacker@example.net")
        else:
            b.attach(b"data", filename='a.txt"\r\nBcc: attacker@example.net')
        transport.send(b.build())
    assert len(transport.outbox) == 0
    raw = b.build().to_bytes()
    assert not any(line.lower().startswith(b"bcc:") for line in raw.split(b"\r\n"))


def test_bcc_is_kept_for_the_envelope_but_never_transmitted() -> None:
    from mimekit.transports import MemoryTransport

    msg = (mimekit.compose().from_("a@example.com").to("b@example.org")
           .bcc("secret@example.org").text("x").build())
    transport = MemoryTransport()
    result = transport.send(msg)
    assert set(result.accepted) == {"b@example.org", "secret@example.org"}
    assert b"secret@example.org" not in transport.outbox[0].data


def test_date_and_message_id_overrides() -> None:
    msg = (mimekit.compose().from_("a@example.com").to("b@example.org").text("x")
           .date("Fri, 01 Mar 2024 01:47:09 +0000").message_id("<abc@example.com>").build())
    std = _stdlib(msg.to_bytes())
    assert std["Message-ID"] == "<abc@example.com>"
    assert std["Date"].datetime.isoformat() == "2024-03-01T01:47:09+00:00"
    assert mimekit.parse(msg.to_bytes()).message_id == "abc@example.com"


# ------------------------------------------------------------------- properties
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85"),
    max_size=120,
)
_local = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True).filter(
    lambda s: ".." not in s and not s.endswith(".")
)
# Display names as people write them: no leading/trailing or doubled white space (a
# phrase's runs of white space mean one space, RFC 5322 §3.2.2).
_name = _text.map(lambda s: " ".join(s.split()))
_addr = st.builds(lambda n, l, d: (n, f"{l}@{d}.example"), _name, _local,
                  st.sampled_from(["mail", "b\u00fccher", "xn--ls8h", "a-b"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=_text.map(str.strip),
    sender=_addr,
    rcpts=st.lists(_addr, min_size=1, max_size=4),
    text=st.text(max_size=400).map(lambda s: s.replace("\r", "")),
    html=st.one_of(st.none(), st.text(max_size=200).map(lambda s: s.replace("\r", ""))),
    files=st.lists(st.tuples(st.binary(max_size=600), _name.filter(bool)), max_size=3),
)
def test_round_trip_through_stdlib(subject: str, sender: tuple[str, str],
                                   rcpts: list[tuple[str, str]], text: str, html: str | None,
                                   files: list[tuple[bytes, str]]) -> None:
    b = mimekit.compose().from_(sender).to(*rcpts).subject(subject).text(text)
    if html is not None:
        b.html(html)
    for data, name in files:
        b.attach(data, filename=name, content_type="application/octet-stream")
    raw = b.build().to_bytes()
    lines = _lines(raw)
    assert max(len(line) for line in lines) <= 998

    std = _stdlib(raw)
    assert _all_defects(std) == []
    assert str(std["Subject"]) == subject
    std_to = [(a.display_name, a.addr_spec) for a in std["To"].addresses]
    def wire(addr: str) -> str:  # IDNA A-labels on the wire (no SMTPUTF8)
        local, _, domain = addr.partition("@")
        return f"{local}@{domain.encode('idna').decode('ascii')}"

    assert [a for _, a in std_to] == [wire(a) for _, a in rcpts]
    # The stdlib keeps the white space between two adjacent encoded words in a phrase
    # (RFC 2047 §6.2 says to drop it), so a name long enough to need two words gains a
    # space there; mimekit's own parser is checked exactly below.
    assert [n.replace(" ", "") for n, _ in std_to] == [n.replace(" ", "") for n, _ in rcpts]
    body = std.get_body(("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == text
    if html is not None:
        hbody = std.get_body(("html",))
        assert hbody is not None and hbody.get_content().replace("\r\n", "\n") == html
    atts = list(std.iter_attachments())
    assert [a.get_payload(decode=True) for a in atts] == [d for d, _ in files]
    # The stdlib's get_filename() strips one pair of surrounding quotes even from a
    # decoded RFC 2231 value (email.utils.unquote), so '""' reads as ''; mimekit's own
    # parser is checked exactly below.
    assert [a.get_filename() for a in atts] == [email.utils.unquote(n) for _, n in files]

    back = mimekit.parse(raw)
    assert back.subject == subject
    assert back.defects == []
    assert [(a.name or "", f"{a.local}@{a.ascii_domain}") for a in back.to] == [
        (n, wire(a)) for n, a in rcpts]
    assert [a.get_content() for a in back.attachments] == [d for d, _ in files]
    assert [a.filename for a in back.attachments] == [n for _, n in files]
    assert (back.text or "").replace("\r\n", "\n") == text


# ------------------------------------------------------------- issue 5 features
ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mimekit//test//EN\r\nMETHOD:REQUEST\r\n"
       "BEGIN:VEVENT\r\nUID:1@example.org\r\nDTSTAMP:20240301T000000Z\r\n"
       "DTSTART:20240302T100000Z\r\nSUMMARY:Review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def test_calendar_invitation_layout() -> None:
    msg = (mimekit.compose().from_("a@example.org").to("b@example.org").subject("Review")
           .text("Invitation").calendar(ICS).build())
    std = _stdlib(msg.to_bytes())
    kinds = [p.get_content_type() for p in std.walk()]
    assert kinds == ["multipart/mixed", "multipart/alternative", "text/plain", "text/calendar",
                     "application/ics"]
    cal = list(std.walk())[3]
    assert cal.get_param("method") == "REQUEST"
    assert cal.get_content().replace("\r\n", "\n") == ICS.replace("\r\n", "\n")
    assert list(std.walk())[4].get_filename() == "invite.ics"
    with pytest.raises(mimekit.BuildError):
        mimekit.compose().calendar(ICS, method="CANCEL")


def test_calendar_without_method_gets_the_one_given() -> None:
    """Regression: without METHOD in the calendar, method= was asked for and then
    refused ("the calendar must carry METHOD:REQUEST")."""
    no_method = ICS.replace("METHOD:REQUEST\r\n", "")
    with pytest.raises(mimekit.BuildError, match="pass method="):
        mimekit.compose().calendar(no_method)
    msg = (mimekit.compose().from_("a@example.org").to("b@example.org").text("Invitation")
           .calendar(no_method, method="request").build())
    cal = next(p for p in mimekit.parse(msg.to_bytes()).walk() if p.mime_type == "text/calendar")
    assert cal.content_type.get("method") == "REQUEST"
    assert cal.get_text().startswith("BEGIN:VCALENDAR\nMETHOD:REQUEST\nVERSION:2.0\n")
    with pytest.raises(mimekit.BuildError, match="BEGIN:VCALENDAR"):
        mimekit.compose().calendar("VERSION:2.0\r\n", method="REQUEST")
    with pytest.raises(mimekit.BuildError, match="iTIP method"):
        mimekit.compose().calendar(no_method, method="RE QUEST")


def test_calendar_method_with_parameters_is_read() -> None:
    """Regression: ``METHOD;X-P=1:CANCEL`` (RFC 5545 §3.1 property parameters) was not
    recognised, so the calendar read as one without a METHOD."""
    ics = ICS.replace("METHOD:REQUEST", 'METHOD;X-SRC="a:b";X-N=1:CANCEL')
    msg = (mimekit.compose().from_("a@example.org").to("b@example.org").text("Cancelled")
           .calendar(ics).build())
    cal = next(p for p in mimekit.parse(msg.to_bytes()).walk() if p.mime_type == "text/calendar")
    assert cal.content_type.get("method") == "CANCEL"
    assert cal.get_text().count("METHOD") == 1
    with pytest.raises(mimekit.BuildError, match="agree|REQUEST"):
        mimekit.compose().calendar(ics, method="REQUEST")


def test_priority_and_list_unsubscribe() -> None:
    msg = (mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
           .priority("high").list_unsubscribe("https://example.org/u?id=1",
                                              "mailto:u@example.org", one_click=True).build())
    std = _stdlib(msg.to_bytes())
    assert std["X-Priority"] == "1 (Highest)" and std["Importance"] == "high"
    assert std["List-Unsubscribe"] == "<https://example.org/u?id=1>, <mailto:u@example.org>"
    assert std["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with pytest.raises(mimekit.BuildError):
        mimekit.compose().list_unsubscribe("mailto:u@example.org", one_click=True)


def test_deterministic_mode_gives_identical_bytes() -> None:
    def build() -> bytes:
        return (mimekit.compose(deterministic=True).from_("a@example.org").to("b@example.org")
                .subject("s").text("t").html("<p>t</p>").attach(b"x", filename="x.bin")
                .build().to_bytes())

    first = build()
    assert first == build()
    assert b"Date: Sat, 01 Jan 2000 00:00:00 +0000\r\n" in first
    assert b"=_mimekit_001" in first


def test_attach_message_as_rfc822() -> None:
    inner = (mimekit.compose().from_("x@example.org").to("y@example.org").subject("inner")
             .text("hello").build())
    msg = (mimekit.compose().from_("a@example.org").to("b@example.org").text("fwd")
           .attach_message(inner).build())
    std = _stdlib(msg.to_bytes())
    part = list(std.walk())[2]
    assert part.get_content_type() == "message/rfc822"
    assert part.get_content()["Subject"] == "inner"
    assert inner.to_bytes() in msg.to_bytes()


def test_never_a_long_line_even_with_8bit_allowed() -> None:
    text = "Grüße " + "w" * 1400
    raw = (mimekit.compose(mimekit.SMTPUTF8).from_("a@example.com").to("b@example.org")
           .text(text).build().to_bytes())
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert mimekit.parse(raw).text == text


@pytest.mark.parametrize("name", ["From", "to", "Content-Type", "content-transfer-encoding",
                                  "MIME-Version", "Bcc", "Subject", "Message-ID"])
def test_header_refuses_fields_the_builder_writes(name: str) -> None:
    """Regression (new-user review): header("From", ...) produced a second From that
    mimekit and the stdlib read differently."""
    with pytest.raises(mimekit.BuildError, match="written by the builder"):
        mimekit.compose().header(name, "x@example.org")


def test_build_needs_an_author_and_a_sender_for_several() -> None:
    with pytest.raises(mimekit.BuildError, match="author"):
        mimekit.compose().to("b@example.org").text("x").build()
    with pytest.raises(mimekit.BuildError, match="Sender"):
        mimekit.compose().from_("a@example.org", "c@example.org").to("b@example.org").build()
    msg = (mimekit.compose().from_("a@example.org", "c@example.org").sender("a@example.org")
           .to("b@example.org").text("x").build())
    assert [a.address for a in msg.from_] == ["a@example.org", "c@example.org"]
    assert [a.address for a in msg.sender] == ["a@example.org"]


@pytest.mark.parametrize("ctype", ["not a type", "multipart/mixed", "message/rfc822", "text/"])
def test_attachment_types_that_cannot_be_leaves_are_refused(ctype: str) -> None:
    """Regression (new-user review): these were replaced silently or built a defective
    part (a multipart without a boundary, random bytes as a message)."""
    with pytest.raises(mimekit.BuildError):
        mimekit.compose().attach(b"data", filename="x.bin", content_type=ctype)
    msg = (mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
           .attach(b"a,b\r\n", filename="x.csv", content_type="Text/CSV; charset=us-ascii")
           .build())
    assert msg.attachments[0].content_type.mime_type == "text/csv"


def test_boundaries_never_occur_in_the_parts() -> None:
    """Regression (review): deterministic boundaries could occur in a text body, and a
    leaf appended to a parsed multipart could hold its delimiter line."""
    text = "before\r\n--=_mimekit_001\r\nContent-Type: text/html\r\n\r\nsmuggled\r\n"
    msg = (mimekit.compose(deterministic=True).from_("a@example.org").to("b@example.org")
           .text(text).attach(b"x", filename="x.bin").build())
    back = mimekit.parse(msg.to_bytes())
    assert len(back.children) == 2 and back.text == text.replace("\r\n", "\n")
    parsed = mimekit.parse(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n"
                           b"--b--\r\n")
    extra = mimekit.Headers()
    extra.add("Content-Type", "text/plain")
    parsed.children.append(mimekit.Part.leaf(extra, b"two\r\n--b\r\n\r\nthree\r\n"))
    again = mimekit.parse(parsed.to_bytes())
    assert len(again.children) == 2
    assert again.children[1].get_content() == b"two\r\n--b\r\n\r\nthree\r\n"


# --- regressions found by the random-shape test (tests/test_builder_shapes.py) -------


def _mk() -> mimekit.Builder:
    return mimekit.compose().from_("a@example.org").to("b@example.org").text("x")


def test_non_utf8_text_attachment_declares_a_charset() -> None:
    data = "Grüße".encode("latin-1")
    raw = _mk().attach(data, filename="gruss.txt", content_type="text/csv").build().to_bytes()
    back = mimekit.parse(raw)
    (att,) = back.attachments
    assert att.content_type.charset == "iso-8859-1"
    assert att.get_content() == data
    assert back.defects == []


def test_guessed_message_type_becomes_octet_stream() -> None:
    raw = _mk().attach(b"Subject: hi\r\n\r\nbody\r\n", filename="mail.eml").build().to_bytes()
    back = mimekit.parse(raw)
    (att,) = back.attachments
    assert att.mime_type == "application/octet-stream"
    assert att.filename == "mail.eml"
    assert att.get_content() == b"Subject: hi\r\n\r\nbody\r\n"
    assert back.defects == []


def test_charset_is_written_before_the_name() -> None:
    raw = _mk().attach("Grüße".encode(), filename="x\\", content_type="text/plain").build().to_bytes()
    std = email.message_from_bytes(raw, policy=email.policy.default)
    (att,) = std.iter_attachments()
    assert att.get_content_charset() == "utf-8"
    assert att.get_content() == "Grüße"


@pytest.mark.parametrize("name", ["a\tb.bin", "a\x7fb.bin", "a\x01b.bin"])
def test_control_character_in_a_file_name_is_refused(name: str) -> None:
    with pytest.raises(mimekit.BuildError, match="control character"):
        _mk().attach(b"data", filename=name)
    with pytest.raises(mimekit.BuildError, match="control character"):
        _mk().attach_message(_mk().build(), filename=name)


def test_name_from_a_path_with_a_control_character_is_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "a\tb.bin"
    path.write_bytes(b"data")
    (att,) = mimekit.parse(_mk().attach(path).build().to_bytes()).attachments
    assert att.filename == "a_b.bin"


def test_control_character_in_a_display_name_is_refused() -> None:
    with pytest.raises(mimekit.AddressError, match="control character"):
        _mk().cc(("a\x01b", "c@example.org")).build()


@pytest.mark.parametrize("name", ["a\xa0b", "a\x85b", "a\u2028b", "a\u3000b"])
def test_unicode_space_in_a_utf8_display_name_is_quoted(name: str) -> None:
    raw = (mimekit.compose(mimekit.SMTPUTF8).from_((name, "a@example.org")).to("b@example.org")
           .text("x").build().to_bytes())
    assert f'From: "{name}" <a@example.org>'.encode() in raw
    assert [a.name for a in mimekit.parse(raw).from_] == [name]


def test_unsubscribe_uris_are_written_as_given() -> None:
    uris = ("https://example.org/u?t=?1", "mailto:u@example.org?subject=?x")
    raw = _mk().list_unsubscribe(*uris).build().to_bytes()
    assert b"List-Unsubscribe: <https://example.org/u?t=?1>,\r\n <mailto:u@example.org?subject=?x>\r\n" in raw
    back = mimekit.parse(raw)
    assert back.list_headers is not None
    assert back.list_headers.unsubscribe == uris


def test_file_name_derived_from_a_subject_drops_del() -> None:
    inner = mimekit.compose().from_("x@example.org").to("y@example.org").subject("a\x7fb").text("t")
    back = mimekit.parse(_mk().attach_message(inner.build()).build().to_bytes())
    (part,) = back.attachments
    assert part.filename == "a_b.eml"
    assert back.defects == []


def test_message_id_override_must_be_left_at_right() -> None:
    for bad in ("no-at-sign", "<a b@example.org>", "a@b@c", "@example.org"):
        with pytest.raises(mimekit.BuildError, match="not a message id"):
            _mk().message_id(bad)
    raw = _mk().message_id("1234.abcd@example.org").build().to_bytes()
    assert b"Message-ID: <1234.abcd@example.org>\r\n" in raw


def test_a_content_id_names_one_part() -> None:
    b = _mk().html('<img src="cid:logo">').inline(b"\x89PNG\r\n", cid="logo")
    with pytest.raises(mimekit.BuildError, match="already used"):
        b.inline(b"\x89PNG\r\n", cid="<logo>")
    with pytest.raises(mimekit.BuildError, match="already used"):
        b.attach(b"x", content_id="logo")


def test_attach_message_from_a_path(tmp_path: Path) -> None:
    inner = mimekit.compose().from_("x@example.org").to("y@example.org").subject("s").text("t")
    path = tmp_path / "fwd.eml"
    path.write_bytes(inner.build().to_bytes())
    back = mimekit.parse(_mk().attach_message(path).build().to_bytes())
    (part,) = back.attachments
    assert part.filename == "fwd.eml"
    assert part.message is not None and part.message.subject == "s"


def test_message_id_domain_comes_from_the_policy() -> None:
    policy = mimekit.Policy(message_id_domain="corp.example")
    msg = mimekit.compose(policy).from_("a@example.org").to("b@example.org").text("x").build()
    assert re.fullmatch(r"[0-9a-f]+\.[0-9a-f]{24}@corp\.example", msg.message_id or "")
    idn = mimekit.Policy(message_id_domain="bücher.example")
    msg = mimekit.compose(idn).from_("a@example.org").to("b@example.org").text("x").build()
    assert (msg.message_id or "").endswith("@xn--bcher-kva.example")


@pytest.mark.parametrize("bad", ["\x1b", "\x7f", "\x85", "\x0b"])
def test_control_characters_in_message_ids_are_refused(bad: str) -> None:
    """Regression: message_id(), in_reply_to(), references() and a Content-ID took
    "<a\\x1bb@x>" and wrote the ESC byte raw into the header (RFC 5322 §3.6.4 ids are
    printable characters)."""
    with pytest.raises(mimekit.BuildError):
        _mk().message_id(f"<a{bad}b@example.org>")
    with pytest.raises(mimekit.BuildError):
        _mk().in_reply_to(f"<a{bad}b@example.org>")
    with pytest.raises(mimekit.BuildError):
        _mk().references("<ok@example.org>", f"<a{bad}b@example.org>")
    with pytest.raises(mimekit.BuildError):
        _mk().attach(b"x", content_id=f"a{bad}b@example.org").build()


def test_empty_threading_ids_are_refused_when_set() -> None:
    """Regression: in_reply_to("") wrote an empty "In-Reply-To:" field (RFC 5322 §3.6.4
    wants at least one msg-id)."""
    for value in ("", "  "):
        with pytest.raises(mimekit.BuildError, match="no message id"):
            _mk().in_reply_to(value)
        with pytest.raises(mimekit.BuildError, match="no message id"):
            _mk().references(value)
    raw = _mk().in_reply_to("<a@example.org>").references("a@example.org", "<b@x.org>").build()
    assert raw.in_reply_to == ["a@example.org"]
    assert raw.references == ["a@example.org", "b@x.org"]
    assert "in-reply-to" not in _mk().in_reply_to().build().headers


def test_deterministic_message_id_with_an_idn_domain() -> None:
    """Regression: deterministic mode put the domain in unconverted, so a non-ASCII
    message_id_domain made build() fail (make_msgid() used the A-label)."""
    policy = mimekit.Policy(message_id_domain="bücher.example")
    msg = (mimekit.compose(policy, deterministic=True).from_("a@example.org")
           .to("b@example.org").text("x").build())
    assert re.fullmatch(r"[0-9a-f]{32}@xn--bcher-kva\.example", msg.message_id or "")


def test_unsubscribe_uris_are_ascii_uris() -> None:
    """Regression: a control character or a non-ASCII character in a List-Unsubscribe
    URI made the field one RFC 2047 word (``=?utf-8?B?PGh0dHBz...?=``), which no
    client reads as a URI list (RFC 2369 §2). Non-ASCII is percent-encoded as UTF-8
    (RFC 3987 §3.1); control characters are refused."""
    raw = (_mk().list_unsubscribe("https://example.org/ä?x=ü", "mailto:u@bücher.example",
                                  one_click=True).build().to_bytes())
    assert (b"List-Unsubscribe: <https://example.org/%C3%A4?x=%C3%BC>,\r\n"
            b" <mailto:u@b%C3%BCcher.example>\r\n") in raw
    back = mimekit.parse(raw).list_headers
    assert back is not None and back.unsubscribe == (
        "https://example.org/%C3%A4?x=%C3%BC", "mailto:u@b%C3%BCcher.example")
    assert back.one_click_unsubscribe
    for bad in ("https://example.org/a\x1bb", "https://example.org/a\x7f",
                "https://example.org/a\x85", "https://example.org/\ud800"):
        with pytest.raises(mimekit.BuildError):
            _mk().list_unsubscribe(bad)


def test_content_type_parameters_keep_their_case() -> None:
    """Regression: attach(content_type=...) lower-cased the whole value, parameters
    included (``name=MyFile.TXT`` became ``name=myfile.txt``); only type/subtype are
    case-insensitive (RFC 2045 §5.1)."""
    raw = (_mk().attach(b"abc", content_type='Application/X-Foo; Name="MyFile.TXT"; v=ABC')
           .build().to_bytes())
    assert b"Content-Type: application/x-foo; name=MyFile.TXT; v=ABC\r\n" in raw
    part = mimekit.parse(raw).attachments[0]
    assert part.mime_type == "application/x-foo" and part.content_type.get("v") == "ABC"


def test_file_names_that_are_not_unicode(tmp_path: Path) -> None:
    """Regression: a lone surrogate in a file name was written with surrogatepass, as
    bytes declared UTF-8 that no reader decodes (stdlib: 'a\\ufffd\\ufffd\\ufffdb.txt').
    An explicit name is refused; a name a path gave as undecodable bytes (PEP 383) is
    read as windows-1252."""
    with pytest.raises(mimekit.BuildError, match="lone surrogate"):
        _mk().attach(b"x", filename="a\ud800b.txt")
    import os

    path = os.path.join(os.fsdecode(bytes(tmp_path)), os.fsdecode(b"caf\xe9.txt"))
    with open(path, "wb") as fh:
        fh.write(b"hi\r\n")
    raw = _mk().attach(path).build().to_bytes()
    assert mimekit.parse(raw).attachments[0].filename == "café.txt"
    assert next(iter(_stdlib(raw).iter_attachments())).get_filename() == "café.txt"


def test_sender_is_exactly_one_mailbox() -> None:
    """Regression: sender("a@x, b@y") wrote two mailboxes into Sender (RFC 5322
    §3.6.2: exactly one)."""
    for bad in ("s1@example.org, s2@example.org", "team: s1@example.org;", ""):
        with pytest.raises(mimekit.BuildError, match="exactly one mailbox"):
            _mk().sender(bad)
    msg = _mk().sender("x@example.org").sender(("S", "s@example.org")).build()
    assert [a.address for a in msg.sender] == ["s@example.org"]  # the last one wins


def _attached(raw_inner: bytes, policy: mimekit.Policy = mimekit.DEFAULT) -> tuple[bytes, mimekit.Part]:
    msg = (mimekit.compose(policy).from_("a@example.org").to("b@example.org").text("x")
           .attach_message(raw_inner).build())
    raw = msg.to_bytes()
    _lines(raw)  # CRLF only
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert msg.lint() == [] or all(i.code == "NonAsciiHeader" for i in msg.lint())
    back = mimekit.parse(raw)
    assert back.defects == []
    (part,) = back.attachments
    return raw, part


def test_attached_message_with_8bit_and_long_lines_is_made_transportable() -> None:
    """Regression: attach_message() wrote the enclosed message as it was, so a message
    with an 8bit body line of 1,206 octets went out inside a part labelled 7bit (no
    Content-Transfer-Encoding), with a line over the 998-octet limit (RFC 5322
    §2.1.1) and 8-bit data on a 7-bit policy. The enclosed leaves that need it are
    re-encoded (RFC 2046 §5.2.1 forbids encoding the message/rfc822 part itself)."""
    body = "Grüße " + "w" * 1200
    inner = ("From: c@example.org\r\nSubject: s\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n").encode()
    raw, part = _attached(inner)
    assert raw.isascii()
    assert part.headers.get("Content-Transfer-Encoding") is None
    assert part.message is not None and part.message.text == body + "\n"
    assert part.message.text_part is not None
    assert part.message.text_part.transfer_encoding in ("quoted-printable", "base64")
    std = next(p for p in _stdlib(raw).walk() if p.get_content_type() == "message/rfc822")
    inner_std = std.get_payload()[0]
    assert inner_std.get_content() == body + "\r\n"


def test_attached_message_without_a_content_type_gets_its_charset() -> None:
    inner = "From: c@example.org\r\nSubject: s\r\n\r\nGrüße\r\n".encode("latin-1")
    _raw, part = _attached(inner)
    assert part.message is not None and part.message.text == "Grüße\n"
    assert part.message.content_type.charset == "iso-8859-1"


def test_attached_message_with_lf_line_ends_gets_crlf() -> None:
    """Regression: an .eml file with LF line ends went into the message as is: bare LF
    in the output (RFC 5322 §2.3)."""
    raw, part = _attached(b"From: c@example.org\nSubject: s\n\nhello\nworld\n")
    assert b"\r\nhello\r\nworld\r\n" in raw
    assert part.message is not None and part.message.subject == "s"


def test_attached_message_that_fits_stays_byte_identical() -> None:
    inner = b"From: c@example.org\r\nSubject: s\r\n\r\nhello\r\n"
    raw, part = _attached(inner)
    assert inner in raw and part.headers.get("Content-Transfer-Encoding") is None
    # 8-bit data with an 8BITMIME policy: kept as it is, and labelled 8bit (RFC 2046 §5.2.1).
    inner8 = ("From: c@example.org\r\nSubject: s\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n").encode()
    raw, part = _attached(inner8, mimekit.SMTPUTF8)
    assert inner8 in raw and part.headers.get("Content-Transfer-Encoding") == "8bit"
    # Raw UTF-8 header bytes cannot be re-encoded: kept, and the part says 8bit.
    inner_h = "From: Jörg <c@example.org>\r\nSubject: s\r\n\r\nhello\r\n".encode()
    raw, part = _attached(inner_h)
    assert inner_h in raw and part.headers.get("Content-Transfer-Encoding") == "8bit"
    with pytest.raises(mimekit.BuildError, match="998"):
        _mk().attach_message(b"From: c@example.org\r\nX-Long: " + b"a" * 1200 + b"\r\n\r\nx\r\n").build()


def test_attached_message_name_is_also_in_content_type() -> None:
    """Regression: the builder's own output failed its lint (NoLegacyFilename): an
    attached message's non-ASCII file name was written only as RFC 2231
    ``filename*=`` in Content-Disposition, which older Outlook does not read."""
    inner = mimekit.compose().from_("c@example.org").subject("Grüße").text("x").build()
    msg = _mk().attach_message(inner).build()
    assert msg.lint() == []
    raw = msg.to_bytes()
    assert b'Content-Type: message/rfc822; name="=?utf-8?' in raw
    assert mimekit.parse(raw).attachments[0].filename == "Grüße.eml"
    assert next(iter(_stdlib(raw).iter_attachments())).get_filename() == "Grüße.eml"


def test_calendar_that_is_not_utf8_is_refused() -> None:
    """Regression: calendar(bytes) decoded with errors="replace": a Latin-1 "Réunion"
    went out as "R\\ufffdunion" in the text/calendar part (RFC 5545 §6: UTF-8)."""
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:1@x\r\n"
           "SUMMARY:Réunion\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    with pytest.raises(mimekit.BuildError, match="not UTF-8"):
        _mk().calendar(ics.encode("latin-1"))
    msg = _mk().calendar(ics.encode("utf-8")).build()
    (cal,) = [p for p in msg.walk() if p.mime_type == "text/calendar"]
    assert "SUMMARY:Réunion\n" in cal.get_text()


def test_display_name_atom_longer_than_a_line_is_encoded() -> None:
    """Regression: a display name holding one atom of 2,000 characters raised
    BuildError ("header token of 2000 octets cannot be folded"); it is written as
    RFC 2047 words, which fold (the standard library keeps a space between adjacent
    words in a phrase, RFC 2047 §6.2 drops it: only mimekit's reading is checked)."""
    for name in ("n" * 2000, "a " + "n" * 1500 + " b"):
        raw = mimekit.compose().from_((name, "a@example.com")).to("b@example.org").text("x")
        out = raw.build().to_bytes()
        assert max(len(line) for line in _lines(out)) <= 78
        assert mimekit.parse(out).from_[0].name == name


def test_date_is_checked_when_set() -> None:
    """Regression: date(12345) or date("garbage") only failed in build(), the first
    with a TypeError."""
    with pytest.raises(mimekit.BuildError, match="datetime or a string"):
        _mk().date(12345)  # type: ignore[arg-type]
    with pytest.raises(mimekit.BuildError, match="not a date"):
        _mk().date("yesterday-ish")
    assert _mk().date("Mon, 1 Jan 2024 00:00:00 +0100").build().headers.get("Date") == \
        "Mon, 01 Jan 2024 00:00:00 +0100"


def test_header_replaces_a_single_use_field_the_methods_wrote() -> None:
    """Regression: list_unsubscribe() then header("List-Unsubscribe", ...) wrote two
    List-Unsubscribe fields (RFC 2369: one), and so on for the priority fields."""
    b = (_mk().list_unsubscribe("https://x.example/u", one_click=True).priority("high")
         .header("List-Unsubscribe", "<https://y.example/u>").header("X-Priority", "2")
         .header("Received", "from a by b; Mon, 1 Jan 2024 00:00:00 +0000")
         .header("Received", "from c by d; Mon, 1 Jan 2024 00:00:00 +0000"))
    msg = b.build()
    assert msg.headers.get_all("List-Unsubscribe") == ["<https://y.example/u>"]
    assert msg.headers.get_all("X-Priority") == ["2"]
    assert msg.headers.get_all("Importance") == ["high"]
    assert len(msg.headers.get_all("Received")) == 2  # a trace field may repeat


def test_inline_image_without_html_is_an_attachment() -> None:
    """Regression: inline(cid=...) without html went into multipart/mixed still marked
    ``Content-Disposition: inline`` with its Content-ID: the stdlib listed it as an
    attachment, mimekit did not (an in-place resource), and lint flagged the builder's
    own output (UnreferencedInlineImage)."""
    msg = _mk().inline(PNG, cid="logo@x", filename="logo.png").build()
    assert msg.lint() == []
    raw = msg.to_bytes()
    assert b"Content-Disposition: attachment; filename=logo.png\r\n" in raw
    assert [a.filename for a in mimekit.parse(raw).attachments] == ["logo.png"]
    assert [a.get_filename() for a in _stdlib(raw).iter_attachments()] == ["logo.png"]


def test_empty_file_name_is_refused() -> None:
    """Regression: filename="" wrote ``filename=""``: no name for mimekit, "" for the
    standard library."""
    with pytest.raises(mimekit.BuildError, match="cannot be empty"):
        _mk().attach(b"abc", filename="")


def test_attached_message_read_from_an_mbox_leaves_its_envelope_line_out() -> None:
    """Regression: a message read from an mbox (or a file with a byte order mark) kept
    its ``From `` envelope line / BOM when attached or forwarded, so the enclosed
    message began with a line that is no header field."""
    from mimekit.reply import forward

    for prefix in (b"From x@example.org Mon Jan  1 00:00:00 2024\r\n", b"\xef\xbb\xbf"):
        inner = mimekit.parse(prefix + b"From: c@example.org\r\nSubject: s\r\n\r\nbody\r\n")
        assert inner.prefix == prefix
        for msg in (_mk().attach_message(inner).build(),
                    forward(inner, from_="a@example.org", to="b@example.org").build()):
            raw = msg.to_bytes()
            assert prefix not in raw
            assert b"\r\n\r\nFrom: c@example.org\r\nSubject: s\r\n\r\nbody\r\n" in raw
            part = mimekit.parse(raw).attachments[0]
            assert part.message is not None and part.message.defects == []
            assert part.message.subject == "s"


def test_one_click_without_an_https_uri_left_is_refused() -> None:
    """Review finding: list_unsubscribe(https, one_click=True) then header("List-
    Unsubscribe", "<mailto:...>") replaced the list but kept List-Unsubscribe-Post, a
    one-click promise with no https URI (RFC 8058 §3.1)."""
    base = mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
    b = base.list_unsubscribe("https://example.org/u?id=1", one_click=True)
    b.header("List-Unsubscribe", "<mailto:u@example.org>")
    with pytest.raises(mimekit.BuildError, match="RFC 8058"):
        b.build()
    b.header("List-Unsubscribe", "<mailto:u@example.org>, <https://example.org/u?id=2>")
    std = _stdlib(b.build().to_bytes())
    assert std["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    alone = (mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
             .header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    with pytest.raises(mimekit.BuildError, match="RFC 8058"):
        alone.build()
