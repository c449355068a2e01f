"""SMTPTransport (sync driver) against real servers on 127.0.0.1: aiosmtpd
(STARTTLS, implicit TLS, AUTH PLAIN/LOGIN/CRAM-MD5) and a scripted fake
server for c20/c22/c24 and fault injection. Every fault test checks that
nothing was delivered twice and nothing was lost."""

from __future__ import annotations

import base64
import logging
import ssl
import time
from pathlib import Path

import pytest
from mimekit.transports.base import Envelope
from mimekit.transports.errors import (
    AuthenticationError,
    ConnectionLost,
    InvalidEnvelope,
    MessageTooLarge,
    RecipientsRefused,
    SMTPResponseError,
    TLSError,
)
from mimekit.transports.smtp import DeliveryStatusUnknown, SMTPTransport
from smtp_server import (
    DRIVERS,
    DROP,
    ENV,
    MSG,
    PASSWORD,
    USER,
    Delivery,
    FakeSMTPServer,
    Session,
    aiosmtpd_server,
    aplain,
    client,
    make_cert,
    plain,
    tls_pair,
)


@pytest.fixture(params=DRIVERS)
def kind(request: pytest.FixtureRequest) -> str:
    """The driver a fault test runs on: every such test holds for both."""
    return str(request.param)


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, str]:
    return tls_pair(tmp_path / "srv")


# ------------------------------------------------------------------ aiosmtpd


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5", None])
def test_starttls_auth_exact_bytes(tmp_path: Path, mech: str | None) -> None:
    with (
        aiosmtpd_server(tmp_path) as srv,
        SMTPTransport(
            "127.0.0.1",
            srv.port,
            username=USER,
            password=PASSWORD,
            cafile=srv.cafile,
            auth_mechanism=mech,
            local_hostname="client.test",
        ) as t,
    ):
        assert t.settings.security == "starttls"
        env = Envelope("a@example.test", ("b@example.test", "c@example.test"))
        result = t.send_raw(MSG, env)
        assert result.ok and result.accepted == ("b@example.test", "c@example.test")
        assert result.queue_id == "QID42"
        assert result.response == "250 2.0.0 Ok: queued as QID42"
        assert [r.code for r in result.recipients] == [250, 250]
        stored = srv.handler.messages
        assert len(stored) == 1
        assert stored[0].content == MSG
        assert (stored[0].mail_from, stored[0].rcpt_tos) == (
            "a@example.test",
            ["b@example.test", "c@example.test"],
        )
        assert stored[0].login == USER.encode()
        assert f"SIZE={len(MSG)}" in stored[0].mail_options


def test_implicit_tls(tmp_path: Path) -> None:
    with (
        aiosmtpd_server(tmp_path, implicit_tls=True) as srv,
        SMTPTransport(
            "127.0.0.1",
            srv.port,
            security="tls",
            username=USER,
            password=PASSWORD,
            cafile=srv.cafile,
        ) as t,
    ):
        t.send_raw(MSG, ENV)
        assert srv.handler.messages[0].content == MSG


def test_port_465_defaults_to_tls() -> None:
    assert SMTPTransport("127.0.0.1", 465).settings.security == "tls"
    assert SMTPTransport("127.0.0.1").settings.port == 587
    assert SMTPTransport("127.0.0.1").settings.ssl_context.verify_mode == ssl.CERT_REQUIRED  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="in the clear"):
        SMTPTransport("127.0.0.1", 25, security="none", username="u", password="p")
    with pytest.raises(ValueError):
        SMTPTransport("127.0.0.1", 25, security="bogus")


def test_wrong_ca_fails_verification(tmp_path: Path) -> None:
    other, _ = make_cert(tmp_path / "other", "other.test")
    with aiosmtpd_server(tmp_path) as srv:
        t = SMTPTransport("127.0.0.1", srv.port, username=USER, password=PASSWORD, cafile=other)
        with pytest.raises(TLSError, match="CERTIFICATE_VERIFY_FAILED|certificate verify"):
            t.send_raw(MSG, ENV)
        assert srv.handler.messages == []
        # the explicit opt-out works
        with SMTPTransport(
            "127.0.0.1", srv.port, username=USER, password=PASSWORD, insecure=True
        ) as t2:
            t2.send_raw(MSG, ENV)
        assert len(srv.handler.messages) == 1


def test_wrong_password_535(tmp_path: Path) -> None:
    with aiosmtpd_server(tmp_path) as srv:
        t = SMTPTransport(
            "127.0.0.1", srv.port, username=USER, password="wrong", cafile=srv.cafile, retries=3
        )
        with pytest.raises(AuthenticationError) as info:
            t.send_raw(MSG, ENV)
        assert info.value.code == 535
        assert srv.handler.messages == []


def test_protocol_log_has_no_password(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mimekit.smtp")
    for mech in ("PLAIN", "LOGIN"):
        with (
            aiosmtpd_server(tmp_path) as srv,
            SMTPTransport(
                "127.0.0.1",
                srv.port,
                username=USER,
                password=PASSWORD,
                cafile=srv.cafile,
                auth_mechanism=mech,
            ) as t,
        ):
            t.send_raw(MSG, ENV)
    text = caplog.text
    assert "C: STARTTLS" in text and "S: 235" in text and "C: MAIL FROM:<a@example.test>" in text
    for secret in (
        PASSWORD,
        base64.b64encode(PASSWORD.encode()).decode(),
        base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
    ):
        assert secret not in text
    assert "password" not in repr(t.settings.credentials).lower().replace("password=***", "")


def test_send_message_object_drops_bcc(tmp_path: Path) -> None:
    raw = (
        b"From: a@example.test\r\nTo: b@example.test\r\nBcc: hidden@example.test\r\n"
        b"Subject: x\r\nMessage-ID: <m1@example.test>\r\n\r\nbody\r\n"
    )
    with (
        aiosmtpd_server(tmp_path, pipelining=True) as srv,
        SMTPTransport(
            "127.0.0.1",
            srv.port,
            username=USER,
            password=PASSWORD,
            cafile=srv.cafile,
        ) as t,
    ):
        result = t.send(raw)
    assert result.message_id is not None and result.message_id.strip("<>") == "m1@example.test"
    stored = srv.handler.messages[0]
    assert stored.rcpt_tos == ["b@example.test", "hidden@example.test"]
    assert b"hidden" not in stored.content and b"Bcc" not in stored.content


# ------------------------------------------------------------------ c20, c22, c24


def test_c20_dot_stuffing_on_the_wire(kind: str) -> None:
    body = b"From: a@example.com\r\nSubject: dots\r\n\r\nConfig follows\n.\n..hidden\n.signature\nend\n"
    with FakeSMTPServer() as srv, client(kind, srv) as t:
        t.send_raw(body, Envelope("a@example.com", ("b@example.org",)))
    d = srv.deliveries[0]
    lines = d.raw.split(b"\r\n")
    assert b".." in lines and b"...hidden" in lines and b"..signature" in lines
    assert d.raw.endswith(b"end\r\n.\r\n") and d.raw.count(b"\r\n.\r\n") == 1
    assert d.content == (
        b"From: a@example.com\r\nSubject: dots\r\n\r\nConfig follows\r\n.\r\n"
        b"..hidden\r\n.signature\r\nend\r\n"
    )


def test_c22_injected_lines_after_starttls(tls: tuple[ssl.SSLContext, str]) -> None:
    ctx, ca = tls
    with FakeSMTPServer(
        extensions=("8BITMIME",),
        tls_context=ctx,
        auth_mechanisms=(),
        after_starttls_220=b"250-mx.example.net\r\n250 AUTH PLAIN\r\n",
    ) as srv:
        t = SMTPTransport("127.0.0.1", srv.port, cafile=ca, retries=0)
        try:
            t.connect()
        except TLSError:
            pass  # the injected bytes arrived after our read: the handshake broke (acceptable)
        else:
            assert set(t._idle[0].proto.capabilities) == {"8BITMIME"}
            t.send_raw(MSG, ENV)
            t.close()
            assert len(srv.deliveries) == 1
        assert not any(c.startswith("AUTH") for s in srv.sessions for c in s.commands)


def test_c24_non_ascii_credentials(tls: tuple[ssl.SSLContext, str]) -> None:
    ctx, ca = tls
    user, pw = "jörg@example.org", "Pässwört€42"
    for mech in ("PLAIN", "LOGIN"):
        with FakeSMTPServer(
            tls_context=ctx, auth_mechanisms=("PLAIN", "LOGIN"), credentials=(user, pw)
        ) as srv:
            with SMTPTransport(
                "127.0.0.1", srv.port, cafile=ca, username=user, password=pw, auth_mechanism=mech
            ) as t:
                assert t.send_raw(MSG, ENV).ok
            if mech == "PLAIN":
                assert srv.auth_log == [b"\0" + user.encode() + b"\0" + pw.encode()]
            else:
                assert srv.auth_log == [user.encode(), pw.encode()]


# ------------------------------------------------------------------ TLS faults


def test_starttls_stripped_nothing_sent(tls: tuple[ssl.SSLContext, str]) -> None:
    ctx, ca = tls
    with FakeSMTPServer(tls_context=ctx, strip_starttls=True, auth_mechanisms=("PLAIN",)) as srv:
        t = SMTPTransport("127.0.0.1", srv.port, cafile=ca, username=USER, password=PASSWORD)
        with pytest.raises(TLSError, match="STARTTLS"):
            t.send_raw(MSG, ENV)
        assert [c.split()[0] for s in srv.sessions for c in s.commands] == ["EHLO"]
        assert PASSWORD.encode() not in srv.all_received
        assert srv.deliveries == []


def test_failed_tls_handshake(tmp_path: Path, tls: tuple[ssl.SSLContext, str]) -> None:
    ctx, _ = tls
    other, _k = make_cert(tmp_path / "other", "other.test")
    with FakeSMTPServer(tls_context=ctx, auth_mechanisms=("PLAIN",)) as srv:
        t = SMTPTransport(
            "127.0.0.1", srv.port, cafile=other, username=USER, password=PASSWORD, retries=3
        )
        with pytest.raises(TLSError):
            t.send_raw(MSG, ENV)
        assert len(srv.sessions) == 1  # not retried
        assert [c.split()[0] for c in srv.sessions[0].commands] == ["EHLO", "STARTTLS"]
        assert PASSWORD.encode() not in srv.all_received and srv.deliveries == []


# ------------------------------------------------------------------ delivery faults


def test_connection_reused_across_sends(kind: str) -> None:
    with FakeSMTPServer() as srv, client(kind, srv) as t:
        results = [t.send_raw(MSG + b"%d\r\n" % i, ENV) for i in range(5)]
    assert len(srv.sessions) == 1
    assert [r.queue_id for r in results] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert [d.content[-3:] for d in srv.deliveries] == [b"%d\r\n" % i for i in range(5)]
    assert srv.sessions[0].commands[-1] == "QUIT"


def test_noop_health_check_when_idle(kind: str) -> None:
    with FakeSMTPServer() as srv, client(kind, srv, noop_after=0.0) as t:
        t.send_raw(MSG, ENV)
        t.send_raw(MSG, ENV)
    verbs = [c.split()[0] for c in srv.sessions[0].commands]
    assert verbs.count("NOOP") == 1 and len(srv.deliveries) == 2


def test_421_mid_session_retried_once_delivered_once(kind: str) -> None:
    hits: list[int] = []

    def on_command(session: Session, line: str) -> object:
        if line.startswith("MAIL") and session.number == 0:
            hits.append(1)
            return "421 4.3.2 Service shutting down"
        return None

    with FakeSMTPServer(on_command=on_command) as srv, client(kind, srv) as t:
        result = t.send_raw(MSG, ENV)
    assert result.ok and hits == [1]
    assert len(srv.sessions) == 2 and len(srv.deliveries) == 1


def test_dropped_before_data_retried(kind: str) -> None:
    def on_data_start(session: Session) -> object:
        return DROP if session.number == 0 else None

    with FakeSMTPServer(on_data_start=on_data_start) as srv, client(kind, srv) as t:
        assert t.send_raw(MSG, ENV).ok
    assert len(srv.sessions) == 2 and len(srv.deliveries) == 1
    assert srv.deliveries[0].content == MSG


def test_dropped_after_data_not_resent(kind: str) -> None:
    got: list[Delivery] = []

    def on_data_end(session: Session, d: Delivery) -> object:
        got.append(d)  # the server has the message, then the connection dies
        return DROP

    with FakeSMTPServer(on_data_end=on_data_end) as srv, client(kind, srv, retries=5) as t:
        with pytest.raises(DeliveryStatusUnknown):
            t.send_raw(MSG, ENV)
        assert len(got) == 1 and len(srv.sessions) == 1  # never resent
        # the transport recovers for the next message on a new connection
        srv.on_data_end = None
        assert t.send_raw(MSG, ENV).ok
    assert len(srv.sessions) == 2


def test_final_4xx_after_data_is_retried_because_nothing_was_accepted(kind: str) -> None:
    """RFC 5321 §4.2.1: a 4yz reply means the action did not occur, so a resend
    cannot duplicate the message (review: it was given up at once)."""
    with (
        FakeSMTPServer(on_data_end=lambda s, d: "451 4.3.0 try later") as srv,
        client(kind, srv, retries=2) as t,
        pytest.raises(SMTPResponseError) as info,
    ):
        t.send_raw(MSG, ENV)
    assert info.value.code == 451
    mails = sum([c.split()[0] for c in s.commands].count("MAIL") for s in srv.sessions)
    assert mails == 3  # the first attempt and two retries, each refused
    answers = iter(["451 4.3.0 try later", None])
    with FakeSMTPServer(on_data_end=lambda s, d: next(answers)) as srv, \
            client(kind, srv, retries=2) as t:
        assert t.send_raw(MSG, ENV).ok


def test_slow_server_timeout(kind: str) -> None:
    with FakeSMTPServer(reply_delay=0.5) as srv:
        t = client(kind, srv, timeout=0.1, retries=0)
        with pytest.raises(ConnectionLost, match="timed out"):
            t.send_raw(MSG, ENV)
        t.close()
    assert srv.deliveries == []


def test_data_timeout_is_delivery_unknown(kind: str) -> None:
    import time

    def slow_final(session: Session, d: Delivery) -> object:
        time.sleep(0.6)
        return None

    with FakeSMTPServer(on_data_end=slow_final) as srv:
        t = client(kind, srv, data_timeout=0.2, retries=3)
        with pytest.raises(DeliveryStatusUnknown):
            t.send_raw(MSG, ENV)
        t.close()
        assert len(srv.sessions) == 1


def test_one_recipient_4xx_partial_result(kind: str) -> None:
    def on_rcpt(session: Session, addr: str) -> object:
        return "450 4.2.1 mailbox busy" if addr.startswith("busy") else None

    env = Envelope("a@x.test", ("ok@x.test", "busy@x.test", "ok2@x.test"))
    with FakeSMTPServer(on_rcpt=on_rcpt) as srv, client(kind, srv) as t:
        result = t.send_raw(MSG, env)
    assert result.accepted == ("ok@x.test", "ok2@x.test")
    assert result.refused == ("busy@x.test",)
    busy = result.recipients[1]
    assert (busy.code, busy.enhanced, busy.text) == (450, "4.2.1", "mailbox busy")
    assert len(srv.deliveries) == 1 and srv.deliveries[0].rcpt_to == ["ok@x.test", "ok2@x.test"]


def test_all_refused_5xx(kind: str) -> None:
    def on_rcpt(session: Session, addr: str) -> object:
        return f"550 5.1.1 <{addr}>: unknown"

    env = Envelope("a@x.test", ("u1@x.test", "u2@x.test"))
    with FakeSMTPServer(on_rcpt=on_rcpt) as srv, client(kind, srv, retries=3) as t:
        with pytest.raises(RecipientsRefused) as info:
            t.send_raw(MSG, env)
        assert info.value.replies == {
            "u1@x.test": (550, "5.1.1", "<u1@x.test>: unknown"),
            "u2@x.test": (550, "5.1.1", "<u2@x.test>: unknown"),
        }
        assert str(info.value) == (
            "all recipients refused: <u1@x.test>: 550 5.1.1 <u1@x.test>: unknown; "
            "<u2@x.test>: 550 5.1.1 <u2@x.test>: unknown"
        )
        assert srv.deliveries == [] and len(srv.sessions) == 1
        assert MSG not in srv.all_received
        srv.on_rcpt = None
        assert t.send_raw(MSG, ENV).ok
    assert len(srv.sessions) == 1


def test_all_refused_4xx_retried_then_refused(kind: str) -> None:
    with (
        FakeSMTPServer(on_rcpt=lambda s, a: "451 4.7.1 greylisted") as srv,
        client(kind, srv, retries=2) as t,
        pytest.raises(RecipientsRefused) as info,
    ):
        t.send_raw(MSG, ENV)
    assert info.value.code == 451
    mails = [c for s in srv.sessions for c in s.commands if c.startswith("MAIL")]
    assert len(mails) == 3 and srv.deliveries == []


def test_server_closed_idle_connection_reconnects(kind: str) -> None:
    with FakeSMTPServer() as srv, client(kind, srv) as t:
        t.send_raw(MSG, ENV)
        srv.kill_sessions()  # the server times the idle connection out
        assert t.send_raw(MSG, ENV).ok
    assert len(srv.deliveries) == 2 and len(srv.sessions) == 2


def test_size_limit_refused_before_mail(kind: str) -> None:
    with FakeSMTPServer(extensions=("PIPELINING", "SIZE 100")) as srv, client(kind, srv) as t:
        with pytest.raises(MessageTooLarge) as info:
            t.send_raw(MSG + b"x" * 200 + b"\r\n", ENV)
        assert t.send_raw(MSG, ENV).ok  # the same session carries the next message
    assert info.value.limit == 100
    assert len(srv.sessions) == 1
    assert sum(c.startswith("MAIL") for c in srv.sessions[0].commands) == 1


@pytest.mark.parametrize(
    "env",
    [
        Envelope("a@x.test\r\nRCPT TO:<evil@x.test>", ("b@x.test",)),
        Envelope("a@x.test", ("b@x.test>\r\nDATA",)),
        Envelope("a@x.test", ("b@x.test\nRSET",)),
        Envelope("a@x.test", ("b\x00@x.test",)),
    ],
)
def test_command_injection_nothing_sent(env: Envelope, kind: str) -> None:
    with FakeSMTPServer() as srv, client(kind, srv) as t, pytest.raises(InvalidEnvelope):
        t.send_raw(MSG, env)
    assert srv.sessions == []  # refused before even connecting


@pytest.mark.parametrize("name", ["c.test\r\nMAIL FROM:<x@y>", "c.test x", "c\x00", "hôte.test"])
def test_bad_local_hostname_refused_when_the_transport_is_made(kind: str, name: str) -> None:
    """The EHLO name is checked by the constructor (not at the first send,
    after a connection was opened): no CR/LF/NUL/space, ASCII only."""
    make = plain if kind == "sync" else aplain
    with FakeSMTPServer() as srv:
        with pytest.raises(InvalidEnvelope, match="local host name"):
            make(srv, local_hostname=name)
        assert srv.sessions == []


def test_ipv6_loopback() -> None:
    try:
        srv = FakeSMTPServer(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    with srv, SMTPTransport("[::1]", srv.port, security="none") as t:
        assert t.send_raw(MSG, ENV).ok
    assert srv.sessions[0].commands[0] in ("EHLO [IPv6:::1]",) or srv.sessions[0].commands[
        0
    ].startswith("EHLO ")


def test_max_messages_per_connection(kind: str) -> None:
    with FakeSMTPServer() as srv, client(kind, srv, max_messages_per_connection=2) as t:
        for _ in range(5):
            t.send_raw(MSG, ENV)
    assert len(srv.sessions) == 3 and all(s.commands[-1] == "QUIT" for s in srv.sessions)


EIGHT = (
    "From: a@x.test\r\nTo: b@x.test\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "héllo wörld\r\n"
).encode()


def test_8bit_declared_with_8bitmime(kind: str) -> None:
    with FakeSMTPServer() as srv, client(kind, srv) as t:
        t.send_raw(EIGHT, ENV)
    assert srv.deliveries[0].content == EIGHT
    assert any(
        c.startswith("MAIL FROM:<a@example.test> BODY=8BITMIME") for c in srv.sessions[0].commands
    )


def test_8bit_downgraded_without_8bitmime(kind: str) -> None:
    with FakeSMTPServer(extensions=("PIPELINING",)) as srv, client(kind, srv) as t:
        t.send_raw(EIGHT, ENV)
    content = srv.deliveries[0].content
    assert content.isascii()
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in content
    assert content.endswith(b"\r\n\r\nh=C3=A9llo w=C3=B6rld\r\n")
    assert not any("BODY=" in c for c in srv.sessions[0].commands)


def test_8bit_refused_when_downgrade_off(kind: str) -> None:
    from mimekit.transports.smtp.protocol import SMTPNotSupportedError

    with (
        FakeSMTPServer(extensions=("PIPELINING",)) as srv,
        client(kind, srv, downgrade_8bit=False) as t,
        pytest.raises(SMTPNotSupportedError, match="8BITMIME"),
    ):
        t.send_raw(EIGHT, ENV)
    assert srv.deliveries == []
    assert not any(c.startswith("MAIL") for c in srv.sessions[0].commands)


def test_dsn_end_to_end(kind: str) -> None:
    from mimekit.transports.smtp import DSNOptions

    with FakeSMTPServer(extensions=("PIPELINING", "DSN")) as srv, client(kind, srv) as t:
        t.send_raw(MSG, ENV, dsn=DSNOptions(notify=("FAILURE",), ret="HDRS", envid="e1"))
    cmds = srv.sessions[0].commands
    assert "MAIL FROM:<a@example.test> RET=HDRS ENVID=e1" in cmds
    assert "RCPT TO:<b@example.test> NOTIFY=FAILURE" in cmds


# ------------------------------------------------------------------ CHUNKING (RFC 3030)


def test_bdat_pipelined_one_write(kind: str) -> None:
    body = b"Subject: dots\r\n\r\nConfig follows\n.\n..hidden\nend"
    with (
        FakeSMTPServer(extensions=("PIPELINING", "CHUNKING", "8BITMIME", "SIZE 1000")) as srv,
        client(kind, srv) as t,
    ):
        result = t.send_raw(body, ENV)
        t.send_raw(body, ENV)
    assert result.ok and result.queue_id == "Q1"
    wire = b"Subject: dots\r\n\r\nConfig follows\r\n.\r\n..hidden\r\nend\r\n"  # no stuffing
    assert [d.content for d in srv.deliveries] == [wire, wire]
    cmds = srv.sessions[0].commands
    assert f"BDAT {len(wire)} LAST" in cmds and "DATA" not in cmds
    assert not any(c.startswith("RSET") for c in cmds)


def test_bdat_all_refused_and_partial(kind: str) -> None:
    def on_rcpt(session: Session, addr: str) -> object:
        return "550 5.1.1 unknown" if addr.startswith("bad") else None

    with (
        FakeSMTPServer(extensions=("PIPELINING", "CHUNKING"), on_rcpt=on_rcpt) as srv,
        client(kind, srv) as t,
    ):
        with pytest.raises(RecipientsRefused):
            t.send_raw(MSG, Envelope("a@x.test", ("bad1@x.test",)))
        r = t.send_raw(MSG, Envelope("a@x.test", ("bad2@x.test", "good@x.test")))
        assert r.accepted == ("good@x.test",) and r.refused == ("bad2@x.test",)
    assert [d.rcpt_to for d in srv.deliveries] == [["good@x.test"]]
    assert len(srv.sessions) == 1


def test_bdat_421_on_mail_is_retried(kind: str) -> None:
    def on_command(session: Session, line: str) -> object:
        if line.startswith("MAIL") and session.number == 0:
            return "421 4.3.2 bye"
        return None

    with (
        FakeSMTPServer(extensions=("PIPELINING", "CHUNKING"), on_command=on_command) as srv,
        client(kind, srv) as t,
    ):
        assert t.send_raw(MSG, ENV).ok
    assert len(srv.deliveries) == 1 and len(srv.sessions) == 2


def test_bdat_drop_after_chunk_not_resent(kind: str) -> None:
    with (
        FakeSMTPServer(extensions=("CHUNKING",), on_data_end=lambda s, d: DROP) as srv,
        client(kind, srv, retries=3) as t,
        pytest.raises(DeliveryStatusUnknown),
    ):
        t.send_raw(MSG, ENV)
    assert len(srv.sessions) == 1


def test_chunking_can_be_disabled(kind: str) -> None:
    with (
        FakeSMTPServer(extensions=("PIPELINING", "CHUNKING")) as srv,
        client(kind, srv, chunking=False) as t,
    ):
        t.send_raw(MSG, ENV)
    assert "DATA" in srv.sessions[0].commands


def test_long_line_reencoded(kind: str) -> None:
    long_text = ("é" + "z" * 1500).encode()
    msg = (
        b"From: a@x.test\r\nTo: b@x.test\r\nSubject: long\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + long_text
        + b"\r\n"
    )
    with FakeSMTPServer() as srv, client(kind, srv) as t:
        t.send_raw(msg, ENV)
    content = srv.deliveries[0].content
    assert max(len(line) for line in content.split(b"\r\n")) <= 78
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in content
    import quopri

    assert quopri.decodestring(content.split(b"\r\n\r\n", 1)[1]).rstrip(b"\r\n") == long_text


def test_stale_connection_with_bdat_reconnects_not_unknown(kind: str) -> None:
    """A server that closed the idle connection (or sent an idle-timeout 421)
    must not turn the next pipelined BDAT send into "delivery status unknown"."""
    exts = ("PIPELINING", "CHUNKING")
    with FakeSMTPServer(extensions=exts) as srv, client(kind, srv) as t:
        t.send_raw(MSG, ENV)
        srv.kill_sessions()
        t.pause(0.05)
        assert t.send_raw(MSG, ENV).ok
        srv.kill_sessions(b"421 4.4.2 idle timeout\r\n")
        t.pause(0.05)
        assert t.send_raw(MSG, ENV).ok
    assert len(srv.deliveries) == 3
    assert len(srv.sessions) == 3


def test_stale_tls_connection_detected(tls: tuple[ssl.SSLContext, str]) -> None:
    ctx, ca = tls
    with FakeSMTPServer(extensions=("PIPELINING", "CHUNKING"), tls_context=ctx) as srv:
        with SMTPTransport("127.0.0.1", srv.port, cafile=ca, retry_backoff=0) as t:
            t.send_raw(MSG, ENV)
            t.send_raw(MSG, ENV)  # TLS session tickets are not mistaken for a dead server
            assert len(srv.sessions) == 1
            srv.kill_sessions()
            time.sleep(0.05)
            assert t.send_raw(MSG, ENV).ok
        assert len(srv.deliveries) == 3 and len(srv.sessions) == 2


def test_smtputf8_with_aiosmtpd(tmp_path: Path) -> None:
    env = Envelope("jörg@example.test", ("zoë@example.test",))
    with (
        aiosmtpd_server(tmp_path) as srv,
        SMTPTransport(
            "127.0.0.1", srv.port, username=USER, password=PASSWORD, cafile=srv.cafile
        ) as t,
    ):
        assert t.send_raw(MSG, env).ok
    stored = srv.handler.messages[0]
    assert (stored.mail_from, stored.rcpt_tos) == ("jörg@example.test", ["zoë@example.test"])
    assert "SMTPUTF8" in stored.mail_options


def test_from_url_builds_this_transport() -> None:
    from mimekit.transports import from_url

    with FakeSMTPServer() as srv:
        t = from_url(f"smtp://127.0.0.1:{srv.port}?timeout=5")
        assert isinstance(t, SMTPTransport)
        assert t.settings.security == "starttls-opportunistic"
        with t:
            assert t.send_raw(MSG, ENV).ok  # no STARTTLS offered: plain text allowed
    assert len(srv.deliveries) == 1


def test_data_refused_after_recipients_accepted(kind: str) -> None:
    with (
        FakeSMTPServer(on_data_start=lambda s: "554 5.7.1 policy: no data today") as srv,
        client(kind, srv, retries=3) as t,
    ):
        with pytest.raises(SMTPResponseError) as info:
            t.send_raw(MSG, ENV)
        assert (info.value.code, info.value.enhanced) == (554, "5.7.1")
        assert srv.deliveries == [] and MSG not in srv.all_received
        srv.on_data_start = None
        assert t.send_raw(MSG, ENV).ok  # the session was reset (RSET) and reused
    assert len(srv.sessions) == 1 and "RSET" in srv.sessions[0].commands


def test_garbage_reply_is_protocol_error(kind: str) -> None:
    from mimekit.transports.smtp.protocol import SMTPProtocolError

    with (
        FakeSMTPServer(
            on_command=lambda s, line: "hello?" if line.startswith("MAIL") else None
        ) as srv,
        client(kind, srv, retries=1) as t,
        pytest.raises(SMTPProtocolError),
    ):
        t.send_raw(MSG, ENV)
    assert srv.deliveries == [] and len(srv.sessions) == 2  # retried once on a new connection
