"""Postfix accepts every shape the builder makes, and what lands in the Maildir is
exactly what mimekit sent (issue 5)."""

from __future__ import annotations

from typing import Any

import pytest
from mimekit.transports.base import prepare

import mimekit

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mimekit//test//EN\r\nMETHOD:REQUEST\r\n"
       "BEGIN:VEVENT\r\nUID:1@example.test\r\nDTSTAMP:20240301T000000Z\r\n"
       "DTSTART:20240302T100000Z\r\nSUMMARY:Review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def shapes(tag: str) -> dict[str, mimekit.Builder]:
    def base() -> mimekit.Builder:
        return (mimekit.compose().from_("Zoë Ünal <sender@example.test>")
                .to("Rcpt <rcpt@example.test>").subject(f"{tag} Grüße aus Köln"))

    inner = base().text("the forwarded one").build()
    return {
        "text": base().text("Hello\n.\n..dots\nGrüße " + "w" * 1200 + "\n"),
        "html": base().html("<p>only html</p>", generate_text=False),
        "alternative": base().text("plain").html("<p>html</p>"),
        "related": base().text("plain").html("<p><img src='cid:logo'></p>")
        .inline(PNG, cid="logo", filename="logo.png"),
        "mixed": base().text("see files").attach(PDF, filename="Übersicht März.pdf")
        .attach(b"a,b\r\n1,2\r\n", filename="data.csv"),
        "calendar": base().text("Invitation").calendar(ICS),
        "rfc822": base().text("forwarding").attach_message(inner),
        "everything": base().cc("Chloé <cc@example.test>").bcc("hidden@example.test")
        .reply_to("desk@example.test").priority("high")
        .list_unsubscribe("https://example.test/u", one_click=True)
        .text("t").html("<p>h <img src='cid:i'></p>", generate_text=False)
        .inline(PNG, cid="i").attach(PDF, filename="r.pdf").attach_message(inner),
    }


def test_every_builder_shape_is_accepted_and_delivered_exactly(
    mta: Any, smtp_classes: tuple[type, type], tag: str
) -> None:
    smtp_class = smtp_classes[0]
    built = {name: b.build() for name, b in shapes(tag).items()}
    with smtp_class(mta.host, mta.submission_port, security="starttls", cafile=mta.ca_file,
                    username=mta.user, password=mta.password, timeout=10) as smtp:
        for name, msg in built.items():
            result = smtp.send(msg)
            assert result.ok, (name, result)
    for name, msg in built.items():
        wire, env, _ = prepare(msg, None)
        marker = msg.message_id
        assert marker is not None
        got = mta.wait_for(marker, count=len(env.rcpt_to))
        # DATA ends with CRLF "." CRLF: a message not ending in a line break gains one.
        expected = (wire if wire.endswith(b"\r\n") else wire + b"\r\n").replace(b"\r\n", b"\n")
        assert got and all(g == expected for g in got), name
        back = mimekit.parse(got[0].replace(b"\n", b"\r\n"))  # Maildir stores LF
        assert back.subject == f"{tag} Grüße aus Köln"
        assert [a.get_content() for a in back.attachments] == \
            [a.get_content() for a in msg.attachments], name
        assert back.text == msg.text, name
