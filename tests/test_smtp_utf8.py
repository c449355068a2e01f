"""SMTPUTF8 for UTF-8 headers (RFC 6531 §3.4, RFC 6532): declared on MAIL FROM
when the header section holds raw 8-bit bytes (or an envelope address is not
ASCII) and the server offers it; refused before MAIL, with the session kept,
when the server does not. Against aiosmtpd (with and without SMTPUTF8), the
fake server (no SMTPUTF8) and the sans-I/O protocol."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mimekit.transports.base import Envelope
from mimekit.transports.smtp import SMTPTransport
from mimekit.transports.smtp.protocol import (
    Receive,
    Send,
    SMTPClientProtocol,
    SMTPNotSupportedError,
)
from mimekit.transports.smtp.wire import has_8bit_headers, header_section
from smtp_server import ENV, MSG, PASSWORD, USER, FakeSMTPServer, aiosmtpd_server, aplain, plain

UTF8_HEADERS = (
    "From: Jörg <a@example.test>\r\nTo: b@example.test\r\nSubject: Grüße aus Köln\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\nschöne Grüße\r\n"
).encode()
UTF8_BODY_ONLY = (
    "From: a@example.test\r\nTo: b@example.test\r\nSubject: plain\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "schöne Grüße\r\n"
).encode()


def test_header_section_rules() -> None:
    assert header_section(b"A: 1\r\n B\r\n\r\nbody\r\n") == b"A: 1\r\n B\r\n"
    assert header_section(b"A: 1\r\nno colon here\r\nC: 3\r\n") == b"A: 1\r\n"
    assert header_section(b"\r\nX: not a header\r\n") == b""
    assert header_section(b"A: 1") == b"A: 1"
    assert has_8bit_headers("Subject: é\r\n\r\nx\r\n".encode())
    assert has_8bit_headers("Subject: a\r\n é\r\n\r\nx\r\n".encode())  # folded line
    assert not has_8bit_headers("Subject: a\r\n\r\né\r\n".encode())
    assert not has_8bit_headers("héllo\r\n".encode())  # no field: the body


def _transaction(caps: str, data: bytes) -> list[bytes]:
    """Run one transaction against scripted replies; the writes made."""
    proto = SMTPClientProtocol("client.test")
    proto.capabilities = {c: "" for c in caps.split()}
    proto.esmtp = True
    gen = proto.transaction(data, "a@x", ["b@x"])
    replies = [b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n", b"250 ok\r\n"]
    sent: list[bytes] = []
    value: bytes | None = None  # a generator starts with None
    try:
        while True:
            action = gen.send(value)
            if isinstance(action, Send):
                sent.append(action.data)
                value = b""
            else:
                assert isinstance(action, Receive)
                value = replies.pop(0)
    except StopIteration:
        pass
    return sent


def test_protocol_declares_smtputf8_only_for_header_bytes() -> None:
    sent = _transaction("8BITMIME SMTPUTF8", UTF8_HEADERS)
    assert sent[0] == b"MAIL FROM:<a@x> BODY=8BITMIME SMTPUTF8\r\n"
    assert sent[-1].endswith(b"\xc3\xbc\xc3\x9fe\r\n.\r\n")  # sent as is, no downgrade
    sent = _transaction("8BITMIME SMTPUTF8", UTF8_BODY_ONLY)
    assert sent[0] == b"MAIL FROM:<a@x> BODY=8BITMIME\r\n"  # 8-bit body only: no SMTPUTF8
    assert _transaction("8BITMIME SMTPUTF8", MSG)[0] == b"MAIL FROM:<a@x>\r\n"


def test_protocol_refuses_utf8_headers_without_smtputf8() -> None:
    proto = SMTPClientProtocol("client.test")
    proto.capabilities = {"8BITMIME": "", "PIPELINING": ""}
    gen = proto.transaction(UTF8_HEADERS, "a@x", ["b@x"], downgrade=lambda d, _8: d)
    with pytest.raises(SMTPNotSupportedError, match="header bytes.*SMTPUTF8.*nothing was sent"):
        next(gen)  # before the first write


def test_aiosmtpd_receives_utf8_headers_with_smtputf8(tmp_path: Path) -> None:
    with (
        aiosmtpd_server(tmp_path) as srv,
        SMTPTransport(
            "127.0.0.1", srv.port, username=USER, password=PASSWORD, cafile=srv.cafile
        ) as t,
    ):
        result = t.send(UTF8_HEADERS, envelope=ENV)
        t.send(UTF8_BODY_ONLY, envelope=ENV)
    assert result.ok
    first, second = srv.handler.messages
    assert first.content == UTF8_HEADERS  # byte for byte: headers not re-encoded
    assert "SMTPUTF8" in first.mail_options and "BODY=8BITMIME" in first.mail_options
    assert "SMTPUTF8" not in second.mail_options and "BODY=8BITMIME" in second.mail_options


def test_aiosmtpd_without_smtputf8_nothing_sent(tmp_path: Path) -> None:
    with (
        aiosmtpd_server(tmp_path, smtputf8=False) as srv,
        SMTPTransport(
            "127.0.0.1", srv.port, username=USER, password=PASSWORD, cafile=srv.cafile
        ) as t,
    ):
        with pytest.raises(SMTPNotSupportedError, match="SMTPUTF8"):
            t.send(UTF8_HEADERS, envelope=ENV)
        assert t.send(UTF8_BODY_ONLY, envelope=ENV).ok  # same session, next message
        assert t.connections_opened == 1
    assert [m.content for m in srv.handler.messages] == [UTF8_BODY_ONLY]


def test_fake_server_without_smtputf8_refused_before_mail() -> None:
    with FakeSMTPServer() as srv, plain(srv, retries=3) as t:
        with pytest.raises(SMTPNotSupportedError, match="does not offer SMTPUTF8"):
            t.send_raw(UTF8_HEADERS, ENV)
        with pytest.raises(SMTPNotSupportedError, match="envelope address"):
            t.send_raw(MSG, Envelope("jörg@example.test", ("b@example.test",)))
        assert not any(c.startswith("MAIL") for c in srv.sessions[0].commands)
        assert t.send_raw(MSG, ENV).ok
    assert len(srv.sessions) == 1 and [d.content for d in srv.deliveries] == [MSG]


def test_fake_server_with_smtputf8_sync_and_async() -> None:
    exts = ("PIPELINING", "8BITMIME", "SMTPUTF8", "CHUNKING")
    with FakeSMTPServer(extensions=exts) as srv:
        with plain(srv) as t:
            t.send_raw(UTF8_HEADERS, ENV)

        async def main() -> None:
            async with aplain(srv) as at:
                await at.asend_raw(UTF8_HEADERS, ENV)

        asyncio.run(main())
    mails = [c for s in srv.sessions for c in s.commands if c.startswith("MAIL")]
    assert mails == ["MAIL FROM:<a@example.test> BODY=8BITMIME SMTPUTF8"] * 2
    assert [d.content for d in srv.deliveries] == [UTF8_HEADERS] * 2


def test_async_refused_without_smtputf8() -> None:
    async def main() -> None:
        with FakeSMTPServer() as srv:
            async with aplain(srv) as t:
                with pytest.raises(SMTPNotSupportedError, match="SMTPUTF8"):
                    await t.asend_raw(UTF8_HEADERS, ENV)
                assert (await t.asend_raw(MSG, ENV)).ok
            assert len(srv.sessions) == 1 and len(srv.deliveries) == 1
            assert sum(c.startswith("MAIL") for c in srv.sessions[0].commands) == 1

    asyncio.run(main())


def test_downgrade_of_a_non_mime_message_makes_it_mime() -> None:
    """Regression (review): re-encoding a message without MIME headers added only a
    Content-Transfer-Encoding, which means nothing without MIME-Version (RFC 2045 §4)."""
    from mimekit.transports.smtp.downgrade import to_7bit

    import mimekit

    raw = "From: a@example.org\r\nTo: b@example.org\r\nSubject: s\r\n\r\nGrüße\r\n".encode()
    out = to_7bit(raw)
    assert out.isascii()
    msg = mimekit.parse(out)
    assert msg.headers.get("MIME-Version") == "1.0"
    assert msg.content_type.charset == "utf-8"
    assert msg.text is not None
    assert msg.text.replace("\r\n", "\n") == "Grüße\n"  # with or without CRLF -> LF in .text


def test_nul_in_a_body_is_reencoded_never_sent_raw() -> None:
    """Review: NUL is not allowed in 7bit or 8bit data (RFC 2045 §2.7-2.8); without
    BINARYMIME the part is re-encoded."""
    from mimekit.transports.smtp.downgrade import to_7bit

    import mimekit

    raw = (b"From: a@example.org\r\nTo: b@example.org\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=us-ascii\r\n\r\nnul\x00here\r\n")
    out = to_7bit(raw, True)
    assert b"\x00" not in out
    assert mimekit.parse(out).get_content() == b"nul\x00here\r\n"
