"""Issue 6 on both drivers against a loopback server: STARTTLS stripped in
opportunistic mode (plain text without credentials; with credentials, AUTH
is refused rather than sent in clear), the capabilities read again inside
TLS, and SMTP smuggling: whatever line ends and dots the caller's bytes
hold (bytes, bytearray, memoryview or a Message; DATA or BDAT), the server
gets exactly one message with CRLF lines and no command of the caller's
making."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from mimekit.transports.errors import TLSError
from mimekit.transports.smtp.wire import normalize_line_endings
from smtp_server import (
    DRIVERS,
    ENV,
    PASSWORD,
    USER,
    FakeSMTPServer,
    client,
    make_cert,
    server_context,
)

from mimekit.builder import Builder
from mimekit.parser import parse


@pytest.fixture(params=DRIVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def certs(tmp_path: Path) -> tuple[str, str]:
    return make_cert(tmp_path / "srv")


def _verbs(srv: FakeSMTPServer) -> list[str]:
    return [c.split(" ")[0].upper() for s in srv.sessions for c in s.commands]


# ------------------------------------------------------------------ STARTTLS modes


def test_stripped_starttls_opportunistic_goes_plain_with_a_warning(
    kind: str, certs: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mimekit.smtp")
    msg = b"From: a@example.test\r\nTo: b@example.test\r\n\r\nplain\r\n"
    with (
        FakeSMTPServer(tls_context=server_context(*certs), strip_starttls=True) as srv,
        client(kind, srv, security="starttls-opportunistic", cafile=certs[0]) as t,
    ):
        assert t.send_raw(msg, ENV).ok
    assert _verbs(srv)[:4] == ["EHLO", "MAIL", "RCPT", "DATA"]
    assert [d.content for d in srv.deliveries] == [msg] and not srv.sessions[0].tls
    assert "does not offer STARTTLS; mail goes out in plain text" in caplog.text


def test_stripped_starttls_opportunistic_never_sends_credentials(
    kind: str, certs: tuple[str, str]
) -> None:
    """An on-path attacker strips STARTTLS: opportunistic TLS may go plain,
    but AUTH is refused (TLSError) and nothing after EHLO is sent."""
    with (
        FakeSMTPServer(
            tls_context=server_context(*certs), strip_starttls=True, auth_mechanisms=("PLAIN",)
        ) as srv,
        client(
            kind, srv, security="starttls-opportunistic", cafile=certs[0],
            username=USER, password=PASSWORD, retries=2,
        ) as t,
        pytest.raises(TLSError, match="refusing to send credentials over an unencrypted"),
    ):
        t.send_raw(b"x\r\n", ENV)
    assert _verbs(srv) == ["EHLO"] and len(srv.sessions) == 1
    assert PASSWORD.encode() not in srv.all_received and srv.auth_log == []


def test_capabilities_are_those_given_inside_tls(kind: str, certs: tuple[str, str]) -> None:
    """RFC 3207 §4.2: what EHLO said before TLS is forgotten. Before TLS the
    server says SIZE 10 and no AUTH; inside TLS, AUTH PLAIN and SIZE 10000:
    the client logs in and sends a 60-octet message."""
    msg = b"From: a@example.test\r\nTo: b@example.test\r\n\r\n" + b"x" * 16 + b"\r\n"
    with (
        FakeSMTPServer(
            tls_context=server_context(*certs),
            extensions=("SIZE 10",),
            post_tls_extensions=("SIZE 10000", "AUTH PLAIN"),
        ) as srv,
        client(kind, srv, security="starttls", cafile=certs[0], username=USER,
               password=PASSWORD) as t,
    ):
        assert t.send_raw(msg, ENV).ok
    assert _verbs(srv) == ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"]
    assert srv.sessions[0].commands[4] == f"MAIL FROM:<a@example.test> SIZE={len(msg)}"
    assert srv.auth_log == [b"\0" + USER.encode() + b"\0" + PASSWORD.encode()]


# ------------------------------------------------------------------ smuggling

SMUGGLE = [
    # bare LF end of data, then a second transaction of the attacker's
    b"x\n.\nMAIL FROM:<evil@example.test>\nRCPT TO:<victim@example.test>\nDATA\nforged\n.\n",
    # bare CR end of data
    b"x\r.\rMAIL FROM:<evil@example.test>\r.\r",
    # mixed: CR LF around a lone dot, a dot at the very start, no final line end
    b".\r\nstarts with a dot\n\r.\n\r\r\n.\r\n.",
    # the real terminator inside the data
    b"body\r\n.\r\nQUIT\r\n",
]


def _as(kind_of_input: str, data: bytes) -> Any:
    if kind_of_input == "bytearray":
        return bytearray(data)
    if kind_of_input == "memoryview":
        return memoryview(data)
    return data


@pytest.mark.parametrize("chunking", [False, True])
@pytest.mark.parametrize("form", ["bytes", "bytearray", "memoryview"])
@pytest.mark.parametrize("how", ["send", "send_raw"])
def test_no_smuggling_whatever_the_bytes(kind: str, chunking: bool, form: str, how: str) -> None:
    head = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: s\r\n\r\n"
    exts = ("PIPELINING", "8BITMIME", "CHUNKING") if chunking else ("PIPELINING", "8BITMIME")
    with FakeSMTPServer(extensions=exts) as srv, client(kind, srv) as t:
        for body in SMUGGLE:
            data = _as(form, head + body)
            if how == "send":
                t.send(data, envelope=ENV)
            else:
                t.send_raw(data, ENV)
    assert len(srv.deliveries) == len(SMUGGLE)  # one message each, nothing forged
    assert {d.mail_from for d in srv.deliveries} == {"a@example.test"}
    assert {tuple(d.rcpt_to) for d in srv.deliveries} == {("b@example.test",)}
    for d, body in zip(srv.deliveries, SMUGGLE):
        assert d.content == normalize_line_endings(head + body)  # every line end CRLF
        assert b"\n" not in d.content.replace(b"\r\n", b"")
        assert b"\r" not in d.content.replace(b"\r\n", b"")
        if not chunking:
            assert d.raw.endswith(b"\r\n.\r\n") and d.raw.count(b"\r\n.\r\n") == 1
    verbs = set(_verbs(srv))
    assert verbs <= {"EHLO", "MAIL", "RCPT", "DATA", "BDAT", "QUIT"}
    assert verbs & {"BDAT", "DATA"} == ({"BDAT"} if chunking else {"DATA"})


@pytest.mark.parametrize("chunking", [False, True])
def test_no_smuggling_from_a_message(kind: str, chunking: bool) -> None:
    """Message objects holding the same tricks, composed or parsed from bytes
    with bare CR/LF: one message each, CRLF lines, no forged command."""
    text = "Config follows\n.\n..hidden\r.\rMAIL FROM:<evil@example.test>\r\n.\r\nend"
    composed = Builder().from_("a@example.test").to("b@example.test").subject("dots").text(text)
    parsed = parse(b"From: a@example.test\nTo: b@example.test\n\n" + SMUGGLE[0] + SMUGGLE[1])
    exts = ("PIPELINING", "8BITMIME", "CHUNKING") if chunking else ("PIPELINING", "8BITMIME")
    with FakeSMTPServer(extensions=exts) as srv, client(kind, srv) as t:
        t.send(composed.build())
        t.send(parsed)
    assert len(srv.deliveries) == 2
    for d in srv.deliveries:
        assert (d.mail_from, d.rcpt_to) == ("a@example.test", ["b@example.test"])
        assert b"\n" not in d.content.replace(b"\r\n", b"")
        assert b"\r" not in d.content.replace(b"\r\n", b"")
        if not chunking:
            assert d.raw.count(b"\r\n.\r\n") == 1
    if not chunking:  # the attacker's lone dot arrives stuffed, as text
        assert b"\r\n..\r\nMAIL FROM:<evil@example.test>\r\n" in srv.deliveries[1].raw
    assert set(_verbs(srv)) <= {"EHLO", "MAIL", "RCPT", "DATA", "BDAT", "QUIT"}
