"""Hostile and slow servers, both drivers: the client's time and memory stay
bounded whatever a server sends (replies dripped a line at a time, endless
or huge replies, a flood on an idle connection), while a server that is
merely slow (it reads a large message at a steady trickle) still gets the
message, once. Counts and sizes are asserted, never durations."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from mimekit.transports.base import Envelope
from mimekit.transports.errors import ConnectionLost
from mimekit.transports.smtp import aio
from mimekit.transports.smtp.wire import MAX_REPLY_BYTES, MAX_REPLY_LINES, SMTPProtocolError
from smtp_server import DRIVERS, ENV, MSG, FakeSMTPServer, RawServer, client

pytestmark = pytest.mark.parametrize("kind", DRIVERS)


def _drip(lines_sent: list[int], *, bytewise: bool) -> RawServer:
    """Greets, reads EHLO, then answers it with a reply that never ends:
    a continuation line (or a single byte of one) every 20 ms."""

    def handler(sock: socket.socket) -> None:
        sock.sendall(b"220 mx.example.test ESMTP\r\n")
        sock.recv(1000)
        sock.sendall(b"250-mx.example.test\r\n")
        while True:
            if bytewise:
                sock.sendall(b"2")  # "2222...": a line that never ends
            else:
                sock.sendall(b"250-X-DRIP\r\n")
            lines_sent[0] += 1
            time.sleep(0.02)

    return RawServer(handler)


@pytest.mark.parametrize("bytewise", [False, True])
def test_a_dripped_reply_is_bounded_by_the_timeout(kind: str, bytewise: bool) -> None:
    """Each read comes within the timeout, but the reply as a whole must too:
    the client gives up at the timeout, not after MAX_REPLY_LINES lines
    (1000 x 20 ms) or MAX_REPLY_LINE bytes (16384 x 20 ms)."""
    sent = [0]
    with _drip(sent, bytewise=bytewise) as srv:
        with client(kind, srv, timeout=0.5, retries=0) as t, pytest.raises(ConnectionLost) as info:
            t.send_raw(MSG, ENV)
        assert not isinstance(info.value, SMTPProtocolError)  # not ended by a size limit
        assert str(info.value) == f"timed out talking to 127.0.0.1:{srv.port}"
        assert 0 < sent[0] < MAX_REPLY_LINES
        assert srv.connections == 1


def test_an_endless_multiline_reply_is_cut_at_the_line_limit(kind: str) -> None:
    def handler(sock: socket.socket) -> None:
        sock.sendall(b"220 mx.example.test ESMTP\r\n")
        sock.recv(1000)
        sock.sendall(b"250-mx.example.test\r\n" + b"250-X\r\n" * 100_000)

    with (
        RawServer(handler) as srv,
        client(kind, srv, retries=0) as t,
        pytest.raises(SMTPProtocolError, match="reply from the server has too many lines"),
    ):
        t.send_raw(MSG, ENV)


def test_a_huge_capability_list_is_refused_at_the_size_limit(kind: str) -> None:
    """Short enough lines, few enough of them, but 640 KiB in all: refused
    (the client neither keeps nor joins 16 MB of AUTH keywords)."""
    big = tuple(f"AUTH X{i}" + "Y" * 16000 for i in range(40))
    with (
        FakeSMTPServer(extensions=big) as srv,
        client(kind, srv, retries=0) as t,
        pytest.raises(
            SMTPProtocolError, match=f"reply from the server is larger than {MAX_REPLY_BYTES}"
        ),
    ):
        t.send_raw(MSG, ENV)
    assert srv.deliveries == []


def test_one_long_line_in_one_write_is_refused(kind: str) -> None:
    """The line limit holds for a complete line too, not only while waiting
    for its end (the asyncio driver can read a 100 kB line in one go)."""
    with (
        FakeSMTPServer(extensions=("X" * 100_000,)) as srv,
        client(kind, srv, retries=0) as t,
        pytest.raises(SMTPProtocolError, match="reply line from the server is too long"),
    ):
        t.send_raw(MSG, ENV)


def test_garbage_instead_of_a_reply(kind: str) -> None:
    def handler(sock: socket.socket) -> None:
        sock.sendall(b"220 mx.example.test ESMTP\r\n")
        sock.recv(1000)
        sock.sendall(b"\x00\xff garbage \x1b[2J\r\n")

    with (
        RawServer(handler) as srv,
        client(kind, srv, retries=0) as t,
        pytest.raises(SMTPProtocolError, match="malformed reply line"),
    ):
        t.send_raw(MSG, ENV)


def test_a_flood_on_an_idle_connection_is_bounded_and_dropped(kind: str) -> None:
    """A server that floods a pooled connection while it is idle: the asyncio
    driver stops reading at its buffer limit (no unbounded growth), and the
    next send of either driver drops that connection and delivers on a new one."""
    with FakeSMTPServer() as srv, client(kind, srv) as t:
        t.send_raw(MSG, ENV)
        io = srv._ios[0]
        sent = [0]

        def flood() -> None:
            junk = b"250-FLOOD\r\n" * 100_000  # 1.1 MB
            try:
                for _ in range(60):
                    io.send(junk)
                    sent[0] += len(junk)
            except OSError:
                pass

        flooder = threading.Thread(target=flood, daemon=True)
        flooder.start()
        t.pause(0.5)
        if kind == "async":
            assert isinstance(t.t, aio.AsyncSMTPTransport)
            (conn,) = t.t._idle
            assert sent[0] > 2 * aio._READ_LIMIT  # the server did flood
            # at most the limit plus one read of the transport (256 KiB)
            assert aio._READ_LIMIT <= len(conn.wire.buffer) <= aio._READ_LIMIT + 256 * 1024
        assert t.send_raw(MSG, ENV).ok
        assert t.connections_opened == 2
    assert [d.content for d in srv.deliveries] == [MSG, MSG]


@pytest.mark.slow
@pytest.mark.parametrize("chunking", [False, True])
def test_a_large_message_to_a_slow_reader_is_delivered_once(kind: str, chunking: bool) -> None:
    """6 MB to a server that reads 16 KiB at a time, 5 ms apart: the whole
    transfer takes many times the 0.3 s timeout, each piece much less. The
    timeout bounds progress (RFC 5321 §4.5.3.2.5), so the message goes
    through; before, it was a DeliveryStatusUnknown after 0.3 s."""
    body = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: big\r\n\r\n" + (
        b"x" * 76 + b"\r\n"
    ) * 80_000
    exts = ("PIPELINING", "8BITMIME", "CHUNKING") if chunking else ("PIPELINING", "8BITMIME")
    with (
        FakeSMTPServer(extensions=exts, data_read_delay=0.005, rcvbuf=16384) as srv,
        client(kind, srv, timeout=0.3, retries=0) as t,
    ):
        result = t.send_raw(body, ENV)
    assert result.ok and result.queue_id == "Q1"
    assert [d.content for d in srv.deliveries] == [body]
    verbs = [c.split(" ")[0] for c in srv.sessions[0].commands]
    assert verbs.count("BDAT" if chunking else "DATA") == 1


@pytest.mark.parametrize("chunking", [False, True])
def test_more_recipients_than_one_pipelined_group(kind: str, chunking: bool) -> None:
    """250 recipients: every reply lands on its recipient, also in send_many (how the
    commands are grouped is checked by the next test)."""
    rcpts = tuple(f"user{i:03d}@example.test" for i in range(250))
    env = Envelope("a@example.test", rcpts)
    refused = {"user007@example.test", "user150@example.test", "user249@example.test"}
    exts = ("PIPELINING", "8BITMIME", "CHUNKING") if chunking else ("PIPELINING", "8BITMIME")

    def on_rcpt(session: object, addr: str) -> object:
        return "550 5.1.1 no such user" if addr in refused else None

    with FakeSMTPServer(extensions=exts, on_rcpt=on_rcpt) as srv, client(kind, srv) as t:
        result = t.send_raw(MSG, env)
        # send_many with such a message: one transaction at a time, in order
        results = t.send_many([(MSG, env), (MSG, ENV)])
    assert [r.address for r in result.recipients] == list(rcpts)
    assert {r.address for r in result.recipients if not r.accepted} == refused
    assert [d.rcpt_to for d in srv.deliveries] == [
        [a for a in rcpts if a not in refused]
    ] * 2 + [["b@example.test"]]
    assert [len(r.recipients) for r in results] == [250, 1]
    assert len(srv.sessions) == 1


def _group_recorder(groups: list[int]) -> RawServer:
    """A pipelining server that answers only once the client stops writing: each
    batch of commands it read before answering is one pipelined group; ``groups``
    gets their sizes (commands before the message data)."""
    import select

    def handler(sock: socket.socket) -> None:
        sock.sendall(b"220 mx.example.test ESMTP\r\n")
        buf = b""
        pending: list[bytes] = []
        in_data = False
        while True:
            ready, _, _ = select.select([sock], [], [], 0.2)
            if ready:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
                if in_data:
                    end = buf.find(b"\r\n.\r\n")
                    if end < 0:
                        continue
                    buf, in_data = buf[end + 5 :], False
                    sock.sendall(b"250 2.0.0 queued as Q1\r\n")
                while b"\r\n" in buf:
                    line, buf = buf.split(b"\r\n", 1)
                    pending.append(line)
                continue
            if not pending:  # idle, nothing to answer
                continue
            # the client stopped writing: it waits for these replies
            replies = []
            for line in pending:
                verb = line.split(b" ", 1)[0].upper()
                if verb == b"EHLO":
                    replies.append(b"250-mx.example.test\r\n250 PIPELINING\r\n")
                elif verb == b"DATA":
                    replies.append(b"354 go ahead\r\n")
                    in_data = True
                elif verb == b"QUIT":
                    sock.sendall(b"".join(replies) + b"221 bye\r\n")
                    return
                else:
                    replies.append(b"250 2.1.0 ok\r\n")
            if pending[0].split(b" ", 1)[0].upper() != b"EHLO":
                groups.append(len(pending))
            pending = []
            sock.sendall(b"".join(replies))

    return RawServer(handler)


def test_pipelined_commands_go_in_groups_the_server_answers_in_turn(kind: str) -> None:
    """Review finding: the 250-recipient test above passed against the code that
    wrote every RCPT in one go. This server answers only when the client stops
    writing, so it sees each group the client wrote before waiting: MAIL and 249
    RCPT, then DATA, go as 100 + 100 + 51 commands, never more than
    PIPELINE_WINDOW unanswered (RFC 2920 §3.1: the client avoids the deadlock)."""
    from mimekit.transports.smtp.protocol import PIPELINE_WINDOW

    rcpts = tuple(f"user{i:03d}@example.test" for i in range(249))
    groups: list[int] = []
    with _group_recorder(groups) as srv, client(kind, srv, retries=0) as t:
        result = t.send_raw(MSG, Envelope("a@example.test", rcpts))
    assert result.ok and len(result.accepted) == 249
    assert groups == [PIPELINE_WINDOW, PIPELINE_WINDOW, 51]
