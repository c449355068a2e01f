"""send_many / asend_many against real servers, both drivers: in order, one
result per message, pipelined across messages (RFC 2920 §3.1) with DATA and
with BDAT, and the failure rules: a reply is attributed to its message, a
refused message's data is never sent, a message whose end of data got no
reply is never resent, nothing is delivered twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from mimekit.transports.errors import (
    ConnectionLost,
    InvalidEnvelope,
    RecipientsRefused,
    SMTPResponseError,
)
from mimekit.transports.smtp import DeliveryStatusUnknown
from smtp_server import (
    DRIVERS,
    DROP,
    PASSWORD,
    USER,
    Delivery,
    Driver,
    FakeSMTPServer,
    Session,
    aiosmtpd_server,
    client,
)

PIPE_DATA = ("PIPELINING", "8BITMIME", "SIZE 10000000")
PIPE_BDAT = ("PIPELINING", "8BITMIME", "CHUNKING")
NO_PIPE = ("8BITMIME",)


def msg(n: int, to: str | None = None) -> bytes:
    to = to or f"r{n}@example.test"
    return (b"From: a@example.test\r\nTo: %s\r\nSubject: m%d\r\n\r\nbody %d\r\n.dot\r\n"
            % (to.encode(), n, n))


@pytest.fixture(params=DRIVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=[PIPE_DATA, PIPE_BDAT, NO_PIPE], ids=["data", "bdat", "nopipe"])
def exts(request: pytest.FixtureRequest) -> tuple[str, ...]:
    return tuple(request.param)


def bodies(srv: FakeSMTPServer) -> list[bytes]:
    return [d.content for d in srv.deliveries]


def test_aiosmtpd_pipelined_in_order_exact_bytes(tmp_path: Path, kind: str) -> None:
    msgs = [msg(i) for i in range(6)]
    with (
        aiosmtpd_server(tmp_path, pipelining=True) as srv,
        Driver(kind, "127.0.0.1", srv.port, cafile=srv.cafile, username=USER,
               password=PASSWORD, timeout=5, local_hostname="client.test") as t,
    ):
        results = t.send_many(msgs)
        assert t.connections_opened == 1
    stored = srv.handler.messages
    assert [s.content for s in stored] == msgs  # in order, exact (dot-unstuffed)
    assert [s.rcpt_tos for s in stored] == [[f"r{i}@example.test"] for i in range(6)]
    assert [r.accepted for r in results] == [(f"r{i}@example.test",) for i in range(6)]
    assert all(r.queue_id == "QID42" for r in results)


def test_in_order_one_connection_one_result_each(kind: str, exts: tuple[str, ...]) -> None:
    msgs = [msg(i) for i in range(5)]
    with FakeSMTPServer(extensions=exts) as srv, client(kind, srv) as t:
        results = t.send_many(msgs)
    assert bodies(srv) == msgs and len(srv.sessions) == 1 and srv.errors == []
    assert [r.queue_id for r in results] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert [r.message_id for r in results] == [None] * 5
    cmds = srv.sessions[0].commands
    assert cmds[-1] == "QUIT" and sum(c.startswith("MAIL") for c in cmds) == 5


def test_refused_recipient_on_message_2(kind: str, exts: tuple[str, ...]) -> None:
    def on_rcpt(session: Session, addr: str) -> object:
        return "550 5.1.1 no such user" if addr.startswith("gone") else None

    msgs = [msg(0), msg(1, "r1@example.test, gone@example.test"), msg(2)]
    with FakeSMTPServer(extensions=exts, on_rcpt=on_rcpt) as srv, client(kind, srv) as t:
        results = t.send_many(msgs)
    assert [r.accepted for r in results] == [
        ("r0@example.test",), ("r1@example.test",), ("r2@example.test",)]
    assert results[1].refused == ("gone@example.test",)
    assert results[1].recipients[1].code == 550 and results[0].refused == ()
    assert bodies(srv) == msgs and [d.rcpt_to for d in srv.deliveries][1] == ["r1@example.test"]


def test_all_recipients_of_message_2_refused_stops_before_its_data(
    kind: str, exts: tuple[str, ...]
) -> None:
    def on_rcpt(session: Session, addr: str) -> object:
        return "550 5.1.1 no such user" if addr.startswith("gone") else None

    msgs = [msg(0), msg(1, "gone@example.test"), msg(2)]
    with FakeSMTPServer(extensions=exts, on_rcpt=on_rcpt) as srv, client(kind, srv) as t:
        with pytest.raises(RecipientsRefused) as info:
            t.send_many(msgs)
        assert info.value.replies == {"gone@example.test": (550, "5.1.1", "no such user")}
        assert t.send_many([msg(3)])[0].ok  # the connection is still usable
    assert bodies(srv) == [msgs[0], msg(3)]
    assert b"body 1" not in srv.all_received and b"body 2" not in srv.all_received
    assert len(srv.sessions) == 1


def test_5xx_on_message_1s_data_is_message_1s(kind: str, exts: tuple[str, ...]) -> None:
    def on_data_end(session: Session, delivery: Delivery) -> object:
        return "554 5.7.1 rejected as spam" if b"body 0" in delivery.content else None

    msgs = [msg(0), msg(1), msg(2)]
    with FakeSMTPServer(extensions=exts, on_data_end=on_data_end) as srv, client(kind, srv) as t:
        with pytest.raises(SMTPResponseError) as info:
            t.send_many(msgs)
        assert info.value.code == 554 and info.value.text == "rejected as spam"
        results = t.send_many(msgs[1:])  # the caller goes on with the rest
    assert [r.queue_id for r in results] == ["Q1", "Q2"]
    assert bodies(srv) == msgs[1:]  # each once, message 0 never
    assert srv.all_received.count(b"body 1") == 1 and srv.all_received.count(b"body 0") == 1


def test_4xx_on_message_1s_data_retried_in_order(kind: str, exts: tuple[str, ...]) -> None:
    seen: list[int] = []

    def on_data_end(session: Session, delivery: Delivery) -> object:
        if b"body 1" in delivery.content and not seen:
            seen.append(1)
            return "451 4.3.0 try again later"
        return None

    msgs = [msg(0), msg(1), msg(2)]
    with FakeSMTPServer(extensions=exts, on_data_end=on_data_end) as srv, client(kind, srv) as t:
        results = t.send_many(msgs)
    assert bodies(srv) == msgs  # in order, each once
    assert [r.accepted for r in results] == [(f"r{i}@example.test",) for i in range(3)]
    assert len(srv.sessions) == 2  # the retry used a fresh session
    assert srv.all_received.count(b"body 2") == 1


def test_drop_after_message_1s_end_of_data_is_unknown_never_resent(
    kind: str, exts: tuple[str, ...]
) -> None:
    def on_data_end(session: Session, delivery: Delivery) -> object:
        return DROP if b"body 1" in delivery.content else None

    msgs = [msg(0), msg(1), msg(2)]
    with (
        FakeSMTPServer(extensions=exts, on_data_end=on_data_end) as srv,
        client(kind, srv) as t,
        pytest.raises(DeliveryStatusUnknown),
    ):
        t.send_many(msgs)
    assert bodies(srv) == [msgs[0]]
    assert srv.all_received.count(b"body 1") == 1  # sent once, never again
    assert b"body 2" not in srv.all_received and len(srv.sessions) == 1


def test_drop_between_messages_next_one_retried_on_a_new_connection(
    kind: str, exts: tuple[str, ...]
) -> None:
    """The server answers message 1's data, then drops when message 2's MAIL
    arrives (pipelined behind message 1's data): message 2's data was never
    sent, so it goes again on a fresh connection."""

    def on_command(session: Session, line: str) -> object:
        mails = sum(c.startswith("MAIL") for c in session.commands)
        return DROP if session.number == 0 and mails == 2 and line.startswith("MAIL") else None

    msgs = [msg(0), msg(1), msg(2)]
    with FakeSMTPServer(extensions=exts, on_command=on_command) as srv, client(kind, srv) as t:
        results = t.send_many(msgs)
    assert bodies(srv) == msgs  # each exactly once, in order
    assert [r.queue_id for r in results] == ["Q1", "Q2", "Q3"]
    assert len(srv.sessions) == 2
    assert srv.all_received.count(b"body 1") == 1


def test_drop_with_retries_off_raises_for_the_right_message(kind: str) -> None:
    def on_command(session: Session, line: str) -> object:
        mails = sum(c.startswith("MAIL") for c in session.commands)
        return DROP if mails == 2 and line.startswith("MAIL") else None

    with FakeSMTPServer(extensions=PIPE_DATA, on_command=on_command) as srv, \
            client(kind, srv, retries=0) as t:
        with pytest.raises(ConnectionLost) as info:
            t.send_many([msg(0), msg(1)])
        assert not isinstance(info.value, DeliveryStatusUnknown)  # message 1: nothing sent
    assert bodies(srv) == [msg(0)]


def test_max_messages_per_connection(kind: str, exts: tuple[str, ...]) -> None:
    msgs = [msg(i) for i in range(5)]
    with FakeSMTPServer(extensions=exts) as srv, \
            client(kind, srv, max_messages_per_connection=2) as t:
        t.send_many(msgs)
    assert bodies(srv) == msgs
    assert [sum(c.startswith("MAIL") for c in s.commands) for s in srv.sessions] == [2, 2, 1]
    assert all(s.commands[-1] == "QUIT" for s in srv.sessions)


def test_unsendable_message_sends_the_ones_before_it(kind: str) -> None:
    no_rcpt = b"From: a@example.test\r\nSubject: none\r\n\r\nx\r\n"
    with (
        FakeSMTPServer(extensions=PIPE_DATA) as srv,
        client(kind, srv) as t,
        pytest.raises(InvalidEnvelope),
    ):
        t.send_many([msg(0), msg(1), no_rcpt, msg(3)])
    assert bodies(srv) == [msg(0), msg(1)]


def test_empty_batch(kind: str) -> None:
    with FakeSMTPServer() as srv, client(kind, srv) as t:
        assert t.send_many([]) == []
    assert srv.sessions == []


def test_message_envelope_pairs(kind: str) -> None:
    from mimekit.transports.base import Envelope

    env = Envelope("bounce@example.test", ("x@example.test", "y@example.test"))
    with FakeSMTPServer(extensions=PIPE_DATA) as srv, client(kind, srv) as t:
        results = t.send_many([(msg(0), env), msg(1)])
    assert [d.rcpt_to for d in srv.deliveries] == [["x@example.test", "y@example.test"],
                                                   ["r1@example.test"]]
    assert srv.deliveries[0].mail_from == "bounce@example.test"
    assert results[0].accepted == ("x@example.test", "y@example.test")
