"""mimekit's SMTP transport against a real Postfix on loopback.

Every delivered message is read back from Postfix's Maildir and compared byte
for byte with the wire bytes we produced (Postfix stores LF line ends and
prepends four headers, which are stripped).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from mimekit.transports import (
    AuthenticationError,
    Envelope,
    MessageTooLarge,
    RecipientsRefused,
    SMTPResponseError,
    TLSError,
    TransportError,
    from_url,
    from_url_async,
    prepare,
)

pytestmark = pytest.mark.integration


def message(
    tag: str,
    *,
    to: str = "Rcpt <rcpt@example.test>",
    body: bytes = b"Hello from mimekit.\r\n",
    extra: bytes = b"",
) -> bytes:
    return (
        b"From: Sender <sender@example.test>\r\n"
        b"To: " + to.encode() + b"\r\n"
        b"Subject: " + tag.encode() + b" \xc3\xa9t\xc3\xa9\r\n"  # raw UTF-8 in a header
        b"Date: Wed, 03 Dec 2025 12:00:00 +0000\r\n"
        b"Message-ID: <" + tag.encode() + b"@mimekit.test>\r\n" + extra + b"\r\n" + body
    )


def lf(data: bytes) -> bytes:
    """What Postfix stores for CRLF-normalized data: LF line ends."""
    return data.replace(b"\r\n", b"\n")


def assert_delivered(mta: Any, tag: str, wire: bytes, rcpts: tuple[str, ...]) -> None:
    got = mta.wait_for(tag, count=len(rcpts))
    assert len(got) == len(rcpts), f"expected {len(rcpts)} Maildir copies of {tag}, got {len(got)}"
    for body in got:
        assert body == lf(wire)
    delivered_to = sorted(
        line.split(b":", 1)[1].strip().decode()
        for head in mta.received_headers(tag)
        for line in head.split(b"\n")
        if line.lower().startswith(b"delivered-to:")
    )
    assert delivered_to == sorted(rcpts)


@pytest.fixture
def SMTP(smtp_classes: tuple[type, type]) -> type:
    return smtp_classes[0]


@pytest.fixture
def AsyncSMTP(smtp_classes: tuple[type, type]) -> type:
    return smtp_classes[1]


# ------------------------------------------------------------ submission: STARTTLS + AUTH
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_starttls_auth_delivers_byte_for_byte(
    mta: Any, SMTP: type, tag: str, mechanism: str
) -> None:
    data = message(
        tag,
        to="Rcpt <rcpt@example.test>, other@example.test",
        extra=b"Bcc: hidden@example.test\r\n",
        body=b"Line one\r\n.leading dot\r\n..two dots\r\n.\r\n\xc3\xa9 8-bit body\r\n",
    )
    wire, env, mid = prepare(data, None)
    assert b"hidden@" not in wire
    with SMTP(
        mta.host,
        mta.submission_port,
        security="starttls",
        cafile=mta.ca_file,
        username=mta.user,
        password=mta.password,
        auth_mechanism=mechanism,
        timeout=10,
    ) as smtp:
        result = smtp.send(data)
    assert result.ok
    assert result.accepted == ("rcpt@example.test", "other@example.test", "hidden@example.test")
    assert all(r.code == 250 for r in result.recipients)
    assert result.message_id == mid == f"{tag}@mimekit.test"
    assert result.queue_id  # Postfix: "250 2.0.0 Ok: queued as XXXX"
    assert_delivered(mta, tag, wire, env.rcpt_to)


def test_implicit_tls_with_auth(mta: Any, SMTP: type, tag: str) -> None:
    data = message(tag)
    wire, env, _ = prepare(data, None)
    with SMTP(
        mta.host,
        mta.smtps_port,
        security="tls",
        cafile=mta.ca_file,
        username=mta.user,
        password=mta.password,
        timeout=10,
    ) as smtp:
        result = smtp.send(data)
    assert result.accepted == ("rcpt@example.test",)
    assert_delivered(mta, tag, wire, env.rcpt_to)


def test_wrong_password_is_535_and_nothing_delivered(mta: Any, SMTP: type, tag: str) -> None:
    data = message(tag)
    with (
        pytest.raises(AuthenticationError) as info,
        SMTP(
            mta.host,
            mta.submission_port,
            security="starttls",
            cafile=mta.ca_file,
            username=mta.user,
            password="wrong-" + mta.password,
            timeout=10,
            retries=0,
        ) as smtp,
    ):
        smtp.send(data)
    assert info.value.code == 535
    assert info.value.enhanced == "5.7.8"
    assert str(info.value).startswith("535 5.7.8 ")
    assert "wrong-" not in str(info.value)  # the secret never reaches the message
    # A message sent afterwards arrives; the refused one never does.
    later = f"{tag}-after"
    with SMTP(mta.host, mta.smtp_port, security="starttls", cafile=mta.ca_file, timeout=10) as smtp:
        smtp.send(message(later))
    assert len(mta.wait_for(later)) == 1
    assert [p for p in mta.files_with(tag) if later.encode() not in p.read_bytes()] == []


def test_submission_without_auth_refuses_recipients(mta: Any, SMTP: type, tag: str) -> None:
    with (
        pytest.raises(RecipientsRefused) as info,
        SMTP(
            mta.host,
            mta.submission_port,
            security="starttls",
            cafile=mta.ca_file,
            timeout=10,
            retries=0,
        ) as smtp,
    ):
        smtp.send(message(tag))
    assert info.value.code == 530
    assert info.value.result.refused == ("rcpt@example.test",)


def test_message_over_size_refused_before_data(mta: Any, SMTP: type, tag: str) -> None:
    big = b"".join(b"%07d " % i + b"x" * 68 + b"\r\n" for i in range(mta.size_limit // 78 + 1000))
    data = message(tag, body=big)
    assert len(data) > mta.size_limit
    with (
        pytest.raises((MessageTooLarge, SMTPResponseError)) as info,
        SMTP(
            mta.host, mta.smtp_port, security="starttls", cafile=mta.ca_file, timeout=10, retries=0
        ) as smtp,
    ):
        smtp.send(data)
    if isinstance(info.value, SMTPResponseError):  # refused at MAIL FROM ... SIZE=
        assert info.value.code == 552
    later = f"{tag}-after"
    with SMTP(mta.host, mta.smtp_port, security="starttls", cafile=mta.ca_file, timeout=10) as smtp:
        smtp.send(message(later))
    assert len(mta.wait_for(later)) == 1
    assert [p for p in mta.files_with(tag) if later.encode() not in p.read_bytes()] == []


def chunking_kw(smtp_class: type, chunking: bool) -> dict[str, bool]:
    """``chunking=`` for the transport (False forces DATA with dot-stuffing, the path
    SMTP smuggling attacks; Postfix offers CHUNKING, so BDAT is the default)."""
    return {"chunking": chunking}


@pytest.mark.parametrize("chunking", [False, True], ids=["DATA", "BDAT"])
def test_bare_lf_and_bare_cr_arrive_as_one_message(
    mta: Any, SMTP: type, tag: str, chunking: bool
) -> None:
    # The classic smuggling payload: <LF>.<LF> then a second transaction. It must
    # stay inside the one message (RFC 5321 §2.3.8, §4.5.2).
    smuggled = f"{tag}-smuggled"
    body = (
        b"first line\nsecond line\rthird line\r\n"
        b".\n"
        b"MAIL FROM:<evil@example.test>\r\nRCPT TO:<rcpt@example.test>\r\nDATA\r\n"
        b"Subject: " + smuggled.encode() + b"\r\n\r\nsmuggled\r\n"
        b".\rlast\n"
    )
    data = message(tag, body=body)
    wire, _env, _ = prepare(data, None)
    with SMTP(
        mta.host,
        mta.smtp_port,
        security="starttls",
        cafile=mta.ca_file,
        timeout=10,
        **chunking_kw(SMTP, chunking),
    ) as smtp:
        result = smtp.send(data)
    assert result.ok
    got = mta.wait_for(tag)
    assert len(got) == 1  # exactly one message, whose body holds the "smuggled" text
    expected = wire.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    assert got[0] == expected
    assert got[0].endswith(
        b"first line\nsecond line\nthird line\n.\nMAIL FROM:<evil@example.test>\n"
        b"RCPT TO:<rcpt@example.test>\nDATA\nSubject: "
        + smuggled.encode()
        + b"\n\nsmuggled\n.\nlast\n"
    )
    # Nothing was delivered as a separate message: every file with the marker is ours.
    assert all(tag.encode() + b"@mimekit.test" in p.read_bytes() for p in mta.files_with(smuggled))


def test_opportunistic_starttls_on_plain_port_and_send_many(mta: Any, SMTP: type, tag: str) -> None:
    msgs = [message(f"{tag}-{i}") for i in range(3)]
    with SMTP(
        mta.host, mta.smtp_port, security="starttls-opportunistic", cafile=mta.ca_file, timeout=10
    ) as smtp:
        results = smtp.send_many(msgs)
    assert [r.ok for r in results] == [True, True, True]
    assert len({r.queue_id for r in results}) == 3
    for i, data in enumerate(msgs):
        wire, env, _ = prepare(data, None)
        assert_delivered(mta, f"{tag}-{i}", wire, env.rcpt_to)


def test_explicit_envelope_overrides_headers(mta: Any, SMTP: type, tag: str) -> None:
    data = message(tag)
    env = Envelope("bounces@example.test", ("elsewhere@example.test",))
    with SMTP(mta.host, mta.smtp_port, security="starttls", cafile=mta.ca_file, timeout=10) as smtp:
        result = smtp.send(data, envelope=env)
    assert result.accepted == ("elsewhere@example.test",)
    assert len(mta.wait_for(tag)) == 1
    (head,) = mta.received_headers(tag)
    assert b"Return-Path: <bounces@example.test>" in head
    assert b"Delivered-To: elsewhere@example.test" in head


def test_certificate_is_verified_by_default(mta: Any, SMTP: type, tag: str) -> None:
    # The loopback CA is not in the system store: verification must fail, nothing sent.
    with (
        pytest.raises(TLSError),
        SMTP(
            mta.host,
            mta.smtps_port,
            security="tls",
            username=mta.user,
            password=mta.password,
            timeout=10,
            retries=0,
        ) as smtp,
    ):
        smtp.send(message(tag))
    with (  # the STARTTLS path too
        pytest.raises(TLSError),
        SMTP(mta.host, mta.smtp_port, security="starttls", timeout=10, retries=0) as smtp,
    ):
        smtp.send(message(tag))
    assert mta.files_with(tag) == []


def test_from_url_end_to_end(mta: Any, tag: str, smtp_classes: tuple[type, type]) -> None:
    url = (
        f"smtp+starttls://{quote(mta.user, safe='')}:{quote(mta.password, safe='')}"
        f"@{mta.host}:{mta.submission_port}?timeout=10&cafile={quote(mta.ca_file)}"
    )
    data = message(tag)
    wire, env, _ = prepare(data, None)
    with from_url(url) as transport:
        assert isinstance(transport, smtp_classes[0])
        result = transport.send(data)
    assert result.ok
    assert_delivered(mta, tag, wire, env.rcpt_to)


def test_async_transport_implicit_tls(mta: Any, tag: str, smtp_classes: tuple[type, type]) -> None:
    url = (
        f"smtps://{quote(mta.user, safe='')}:{quote(mta.password, safe='')}"
        f"@{mta.host}:{mta.smtps_port}?timeout=10&pool_size=2&cafile={quote(mta.ca_file)}"
    )
    msgs = [message(f"{tag}-{i}") for i in range(2)]

    async def main() -> list[object]:
        async with from_url_async(url) as transport:
            assert isinstance(transport, smtp_classes[1])
            return list(await asyncio.gather(*(transport.asend(m) for m in msgs)))

    results = asyncio.run(main())
    assert len(results) == 2
    for i, data in enumerate(msgs):
        wire, env, _ = prepare(data, None)
        assert_delivered(mta, f"{tag}-{i}", wire, env.rcpt_to)


def test_cli_send_through_postfix(
    mta: Any, tag: str, smtp_classes: tuple[type, type], tmp_path: Path
) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(message(tag))
    url = f"smtp://{mta.host}:{mta.smtp_port}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mimekit",
            "send",
            "--eml",
            str(eml),
            "--transport",
            url,
            "--cafile",
            mta.ca_file,
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "accepted rcpt@example.test" in proc.stdout
    wire, env, _ = prepare(message(tag), None)
    assert_delivered(mta, tag, wire, env.rcpt_to)


def test_transport_errors_share_a_root(mta: Any) -> None:
    assert issubclass(AuthenticationError, TransportError)
    assert issubclass(TLSError, TransportError)


def test_eml_file_is_exactly_what_smtp_delivers(
    mta: Any, SMTP: type, tag: str, tmp_path: Path
) -> None:
    # The file transport's .eml must be the bytes SMTP transmits (before dot-stuffing).
    from mimekit.transports import FileTransport

    data = message(tag, extra=b"Bcc: hidden@example.test\r\n", body=b".dot\r\nplain\r\n")
    name = FileTransport(tmp_path).send(data).queue_id
    assert name is not None
    eml = (tmp_path / name).read_bytes()
    with SMTP(mta.host, mta.smtp_port, security="starttls", cafile=mta.ca_file, timeout=10) as smtp:
        smtp.send(data)
    got = mta.wait_for(tag, count=2)  # To + Bcc: one copy per envelope recipient
    assert len(got) == 2
    assert all(body == lf(eml) for body in got)


def test_resent_message_goes_to_resent_recipients_only(mta: Any, SMTP: type, tag: str) -> None:
    data = message(
        tag,
        extra=(
            b"Resent-From: fwd@example.test\r\n"
            b"Resent-Date: Thu, 04 Dec 2025 09:00:00 +0000\r\n"
            b"Resent-To: new@example.test\r\n"
            b"Resent-Bcc: secret@example.test\r\n"
        ),
    )
    wire, env, _ = prepare(data, None)
    assert env == Envelope("fwd@example.test", ("new@example.test", "secret@example.test"))
    assert b"Resent-Bcc" not in wire
    with SMTP(mta.host, mta.smtp_port, security="starttls", cafile=mta.ca_file, timeout=10) as smtp:
        result = smtp.send(data)
    assert result.accepted == env.rcpt_to
    assert_delivered(mta, tag, wire, env.rcpt_to)


def test_idna_recipient_domain_is_sent_as_a_label(mta: Any, SMTP: type, tag: str) -> None:
    data = message(tag, to="Jö <jo@bücher.example>")
    wire, env, _ = prepare(data, None)
    assert env.rcpt_to == ("jo@xn--bcher-kva.example",)
    with SMTP(mta.host, mta.smtp_port, security="starttls", cafile=mta.ca_file, timeout=10) as smtp:
        result = smtp.send(data)
    assert result.accepted == ("jo@xn--bcher-kva.example",)
    assert_delivered(mta, tag, wire, env.rcpt_to)


def test_smtputf8_addresses(mta: Any, SMTP: type, tag: str) -> None:
    # RFC 6531: UTF-8 local parts need SMTPUTF8; domains still travel as A-labels.
    data = (
        "From: Jö <jö@exämple.test>\r\nTo: Zoë <zoë@bücher.example>\r\n"
        f"Subject: {tag}\r\nMessage-ID: <{tag}@mimekit.test>\r\n\r\nhallo\r\n"
    ).encode()
    wire, env, _ = prepare(data, None)
    assert env == Envelope("jö@xn--exmple-cua.test", ("zoë@xn--bcher-kva.example",))
    with SMTP(mta.host, mta.smtp_port, security="starttls", cafile=mta.ca_file, timeout=10) as smtp:
        result = smtp.send(data)
    assert result.accepted == env.rcpt_to
    assert_delivered(mta, tag, wire, env.rcpt_to)
    (head,) = mta.received_headers(tag)
    assert "Return-Path: <jö@xn--exmple-cua.test>".encode() in head


def test_message_just_under_size_is_accepted(mta: Any, SMTP: type, tag: str) -> None:
    # Postfix counts its own overhead too (README pitfall 8): stay ~5% under.
    lines = int(mta.size_limit * 0.95) // 78
    data = message(tag, body=b"".join(b"%07d " % i + b"y" * 68 + b"\r\n" for i in range(lines)))
    assert len(data) < mta.size_limit
    wire, env, _ = prepare(data, None)
    with SMTP(mta.host, mta.smtp_port, security="starttls", cafile=mta.ca_file, timeout=30) as smtp:
        result = smtp.send(data)
    assert result.ok
    assert_delivered(mta, tag, wire, env.rcpt_to)


@pytest.mark.parametrize("chunking", [False, True], ids=["DATA", "BDAT"])
def test_c20_dot_stuffing_round_trip(mta: Any, SMTP: type, tag: str, chunking: bool) -> None:
    # shared case c20: lines ".", "..hidden", ".signature" survive byte for byte.
    data = message(tag, body=b"Config follows\r\n.\r\n..hidden\r\n.signature\r\nend\r\n")
    wire, env, _ = prepare(data, None)
    with SMTP(
        mta.host,
        mta.smtp_port,
        security="starttls",
        cafile=mta.ca_file,
        timeout=10,
        **chunking_kw(SMTP, chunking),
    ) as smtp:
        assert smtp.send(data).ok
    assert_delivered(mta, tag, wire, env.rcpt_to)
    (body,) = mta.wait_for(tag)
    assert body.endswith(b"\n\nConfig follows\n.\n..hidden\n.signature\nend\n")


@pytest.mark.parametrize("chunking", [False, True], ids=["DATA", "BDAT"])
def test_send_many_pipelined_across_messages(
    mta: Any, SMTP: type, AsyncSMTP: type, tag: str, chunking: bool
) -> None:
    """RFC 2920 §3.1 cross-message pipelining against Postfix: every message
    once, byte for byte, over one connection, sync and asyncio; the dot-stuffed
    lines of c20 included (DATA)."""
    body = b"Config follows\r\n.\r\n..hidden\r\n.signature\r\nend\r\n"
    msgs = [message(f"{tag}-s{i}", body=body) for i in range(6)]
    amsgs = [message(f"{tag}-a{i}", body=body) for i in range(6)]
    kw = {"security": "starttls", "cafile": mta.ca_file, "timeout": 10, "chunking": chunking}
    with SMTP(mta.host, mta.smtp_port, **kw) as smtp:
        results = smtp.send_many(msgs)
        assert smtp.connections_opened == 1

    async def main() -> list[Any]:
        async with AsyncSMTP(mta.host, mta.smtp_port, **kw) as t:
            out: list[Any] = await t.asend_many(amsgs)
            assert t.connections_opened == 1
            return out

    aresults = asyncio.run(main())
    assert all(r.ok for r in results + aresults)
    assert len({r.queue_id for r in results + aresults}) == 12
    for name, data in [*((f"{tag}-s{i}", m) for i, m in enumerate(msgs)),
                       *((f"{tag}-a{i}", m) for i, m in enumerate(amsgs))]:
        wire, env, _ = prepare(data, None)
        assert_delivered(mta, name, wire, env.rcpt_to)


def test_send_many_stops_at_a_message_too_large(mta: Any, SMTP: type, tag: str) -> None:
    """Message 2 of 3 exceeds the SIZE Postfix declares: message 1 is delivered,
    message 2 refused before any of it is sent, message 3 never sent."""
    big = b"".join(b"%07d " % i + b"x" * 68 + b"\r\n" for i in range(mta.size_limit // 78 + 1000))
    msgs = [message(f"{tag}-1"), message(f"{tag}-2", body=big), message(f"{tag}-3")]
    with (
        SMTP(mta.host, mta.smtp_port, security="starttls", cafile=mta.ca_file, timeout=10) as smtp,
        pytest.raises(MessageTooLarge),
    ):
        smtp.send_many(msgs)
    assert len(mta.wait_for(f"{tag}-1")) == 1
    assert mta.files_with(f"{tag}-2") == [] and mta.files_with(f"{tag}-3") == []


# ------------------------------------------------- a server without 8BITMIME (RFC 6152)
@pytest.mark.parametrize("chunking", [False, True], ids=["DATA", "BDAT"])
def test_8bit_mail_to_a_server_without_8bitmime_arrives_7bit_clean(
    mta: Any, mta_without_8bitmime: int, SMTP: type, tag: str, chunking: bool
) -> None:
    """Issue 6: the 8-bit parts are re-encoded before sending (RFC 6152 §3: no 8-bit
    data to a server that did not advertise 8BITMIME); what Postfix stores is 7-bit
    and decodes to the same content."""
    import mimekit

    text = "Grüße aus Köln – 8-bit body\n" * 3
    html = "<p>Grüße aus Köln – ünïcödé</p>\n"
    msg = (mimekit.compose(mimekit.SMTPUTF8).from_("sender@example.test")
           .to("rcpt@example.test").subject(tag).text(text).html(html)
           .attach("naïve café\n".encode(), filename="note.txt", content_type="text/plain")
           .build())
    raw = msg.to_bytes()
    assert b"Content-Transfer-Encoding: 8bit" in raw and not raw.isascii()
    with SMTP(mta.host, mta_without_8bitmime, security="starttls", cafile=mta.ca_file,
              timeout=10, **chunking_kw(SMTP, chunking)) as smtp:
        result = smtp.send(msg)
    assert result.ok
    (got,) = mta.wait_for(tag)
    assert got.isascii()
    assert b"Content-Transfer-Encoding: 8bit" not in got
    back = mimekit.parse(got)
    assert back.subject == tag
    assert back.text == text
    assert back.html == html
    assert [a.get_content() for a in back.attachments] == ["naïve café\n".encode()]
    assert back.defects == []
