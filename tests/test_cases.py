"""The bug reproductions of ../shared/cases, end to end through the public API.

Each input is written out here (the cases folder is reference material, not a
test fixture), with the right values the case names.
"""

from __future__ import annotations

import email
import email.policy
import re

import mimekit

C01 = b"""From: Ana Lima <ana@example.com>
To: Bo Chen <bo@example.org>
Subject: Unterlagen
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="sep-01"

--sep-01
Content-Type: text/plain; charset=utf-8

Anbei die Datei.
--sep-01
Content-Type: application/pdf
Content-Disposition: attachment;
 filename*0*=UTF-8''Rechnung%20M%C3%A4rz%20;
 filename*1*=%C3%9Cbersicht%20K%C3%B6ln.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--sep-01--
"""

C03 = b"""From: Stadtwerke Demo <info@example.com>
To: Bo Chen <bo@example.org>
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3?=
 =?UTF-8?Q?=B6ln?=
X-Campaign: =?UTF-8?B?R3LDvMOfZSBhdXMgS8M=?=
 =?UTF-8?B?tmxu?=
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Seasonal greetings.
"""

C04 = b"""From: Ana Lima <ana@example.com>
To: (team):
Subject: broken parameters
MIME-Version: 1.0
Content-Type: text/plain; name*

hello
"""

C05 = b"""From: ana@example.org)<ceo@example.com>
Reply-To: ana@example.org(<ceo@example.com>
Cc: ana@example.org]<ceo@example.com>
To: Bo Chen <bo@example.org>
Subject: Please wire the money
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Urgent.
"""

C08 = b"""MIME-Version: 1.0
From: Ana Lima <ana@example.com>
To: Bo Chen <bo@example.org>
Subject: truncated transfer
Content-Type: multipart/mixed; boundary="zz-08"

--zz-08
Content-Type: text/plain; charset=us-ascii

first part
--zz-08
Content-Type: text/plain; charset=us-ascii
Content-Disposition: attachment; filename=notes.txt

second part
"""

C11 = (
    b"MIME-Version: 1.0\n"
    b"From: Ana Lima <ana@example.com>\n"
    b"To: Bo Chen <bo@example.org>\n"
    b"Subject: menu\n"
    b'Content-Type: text/plain; charset="uft-8"\n'
    b"Content-Transfer-Encoding: 8bit\n"
    b"\n"
    b"Caf\xc3\xa9 opens at 8.\n"
)


def test_c01_rfc2231_continuation_filename() -> None:
    msg = mimekit.parse(C01)
    assert len(msg.attachments) == 1
    att = msg.attachments[0]
    assert att.content_type.mime_type == "application/pdf"
    assert att.filename == "Rechnung März Übersicht Köln.pdf"
    assert att.get_content() == b"%PDF-1.4\n"
    assert msg.text is not None and msg.text.strip() == "Anbei die Datei."
    assert msg.to_bytes() == C01


def test_c03_split_multibyte_encoded_word() -> None:
    msg = mimekit.parse(C03)
    assert msg.subject == "Grüße aus Köln"
    assert msg.headers.get("X-Campaign") == "Grüße aus Köln"
    assert "\ufffd" not in msg.subject


def test_c04_malformed_params_do_not_crash() -> None:
    msg = mimekit.parse(C04)
    for part in msg.walk():
        for header in part.headers:
            assert isinstance(header.value, str)
    assert msg.content_type.mime_type == "text/plain"
    assert msg.content_type.get("name") in (None, "")
    assert msg.to == [] or all(getattr(g, "members", ()) == () for g in msg.to)
    kinds = {(d.header or "").lower() for d in msg.defects}
    assert "content-type" in kinds and "to" in kinds
    assert msg.text is not None and msg.text.rstrip("\r\n") == "hello"


def test_c05_address_confusion_never_yields_the_hidden_mailbox() -> None:
    msg = mimekit.parse(C05)
    for field in ("from_", "reply_to", "cc"):
        addrs = [a.address for a in getattr(msg, field) if hasattr(a, "address")]
        assert "ceo@example.com" not in addrs
    headers_with_defects = {(d.header or "").lower() for d in msg.defects}
    assert {"from", "reply-to", "cc"} <= headers_with_defects
    doc = msg.to_dict()
    for field in ("from", "reply_to", "cc"):
        assert "ceo@example.com" not in str(doc[field])


def test_c08_missing_close_boundary() -> None:
    msg = mimekit.parse(C08)
    assert msg.content_type.mime_type == "multipart/mixed"
    assert len(msg.children) == 2
    assert msg.children[0].get_text().rstrip("\r\n") == "first part"
    second = msg.children[1]
    assert second.filename == "notes.txt" and second.is_attachment
    assert second.get_text().rstrip("\r\n") == "second part"
    assert any(d.kind == "MissingCloseBoundary" and d.part == "" for d in msg.defects)
    assert msg.to_bytes() == C08


def test_c11_unknown_charset_fallback() -> None:
    msg = mimekit.parse(C11)
    assert msg.text == "Café opens at 8.\n"
    assert any("uft-8" in d.detail for d in msg.defects)


def test_c14_adjacent_encoded_words_are_separated() -> None:
    subject = ("Re: Auftrag 2024-118 - Rücksendung angefragt - Kundin Hannelore "
               "Brinkmann-Ostermeier - Abo Nachrichten digital für zwölf Wochen, Gazette, "
               "Kurier de Genève et tous les titres")
    raw = (mimekit.compose().from_("a@example.com").to("b@example.org").subject(subject)
           .text("x").build().to_bytes())
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"?==?" not in head
    assert not re.search(rb"=\?[^?]+\?[QqBb]\?\?=", head)
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert mimekit.parse(raw).subject == subject
    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == subject


def test_c16_long_address_list_folding() -> None:
    rcpts = [f"Mitglied {i:03d} <member-{i:03d}@example.org>" for i in range(60)]
    raw = (mimekit.compose().from_("Newsletter <news@example.com>").to(*rcpts)
           .subject("Monthly").text("hi").build().to_bytes())
    head = raw.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    assert all(len(line) <= 78 for line in lines)
    to_start = next(i for i, line in enumerate(lines) if line.startswith(b"To:"))
    to_lines = [lines[to_start]]
    for line in lines[to_start + 1:]:
        if not line[:1].isspace():
            break
        to_lines.append(line)
    for line in to_lines:  # folds only between addresses: every address whole on one line
        assert line.count(b"<") == line.count(b">")
    msg = mimekit.parse(raw)
    assert [a.address for a in msg.to] == [f"member-{i:03d}@example.org" for i in range(60)]


def test_c17_long_body_lines_are_never_sent_as_is() -> None:
    b = mimekit.compose().from_("a@example.com").to("b@example.org").subject("x")
    text = "Grüße " + "w" * 1400
    raw = b.text(text).build().to_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert mimekit.parse(raw).text == text
