"""Sans-I/O tests of cross-message pipelining (``SMTPClientProtocol.transactions``,
RFC 2920 §3.1): exactly what is written in each write, which reply belongs to
which message, and when ``data_committed`` (the "a resend could duplicate"
flag) is set -- byte by byte, without a socket."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from mimekit.transports.errors import ConnectionLost, MessageTooLarge, SMTPResponseError
from mimekit.transports.smtp.protocol import (
    BDAT_PIPELINE_LIMIT,
    Batch,
    Receive,
    Send,
    SMTPClientProtocol,
    TxRequest,
)

BODY = b"Subject: %d\r\n\r\nbody %d\r\n.dot\r\n"
STUFFED = b"Subject: %d\r\n\r\nbody %d\r\n..dot\r\n.\r\n"
OK = b"250 2.0.0 ok\r\n"
GO = b"354 go ahead\r\n"


def queued(n: int) -> bytes:
    return b"250 2.0.0 Ok: queued as Q%d\r\n" % n


class Script:
    """Answers each Receive with the next canned chunk (``b""`` = the server
    closed); records every write, and ``data_committed`` at each read."""

    def __init__(self, proto: SMTPClientProtocol, *chunks: bytes) -> None:
        self.proto = proto
        self.chunks = list(chunks)
        self.sent: list[bytes] = []
        self.committed: list[bool] = []
        self.events: list[str] = []

    def run(self, gen: Generator[Any, bytes, Any]) -> Any:
        value = b""
        try:
            action = next(gen)
            while True:
                if isinstance(action, Send):
                    self.sent.append(action.data)
                    self.events.append("send")
                    value = b""
                else:
                    assert isinstance(action, Receive)
                    self.committed.append(self.proto.data_committed)
                    self.events.append("recv")
                    value = self.chunks.pop(0) if self.chunks else b""
                action = gen.send(value)
        except StopIteration as stop:
            return stop.value


def proto(*extensions: str) -> SMTPClientProtocol:
    p = SMTPClientProtocol("client.test")
    p.esmtp = True
    p.capabilities = {e.split()[0]: " ".join(e.split()[1:]) for e in extensions}
    return p


def req(n: int, *rcpts: str) -> TxRequest:
    return TxRequest(BODY % (n, n), "a@x.test", rcpts or (f"r{n}@x.test",), crlf=True)


def head(n: int, *rcpts: str, data: bool = True) -> bytes:
    lines = [b"MAIL FROM:<a@x.test>\r\n"]
    lines += [b"RCPT TO:<%s>\r\n" % r.encode() for r in (rcpts or (f"r{n}@x.test",))]
    return b"".join(lines) + (b"DATA\r\n" if data else b"")


def bdat(n: int) -> bytes:
    body = BODY % (n, n)
    return b"BDAT %d LAST\r\n" % len(body) + body


def stuffed(n: int) -> bytes:
    return STUFFED % (n, n)


def test_data_one_write_per_message_the_next_commands_behind_the_data() -> None:
    p = proto("PIPELINING")
    s = Script(p, OK + OK + GO, queued(1) + OK + OK + GO, queued(2) + OK + OK + GO, queued(3))
    batch = Batch()
    s.run(p.transactions([req(1), req(2), req(3)], batch))
    # RFC 2920 §3.1: the message content is the first "command" of the next group
    assert s.sent == [
        head(1),
        stuffed(1) + head(2),
        stuffed(2) + head(3),
        stuffed(3),
    ]
    assert [tx.final.text for tx in batch.done if tx.final] == [
        "Ok: queued as Q1", "Ok: queued as Q2", "Ok: queued as Q3"]
    assert [[r.address for r in tx.recipients] for tx in batch.done] == [
        ["r1@x.test"], ["r2@x.test"], ["r3@x.test"]]
    assert batch.failure is None and not p.data_committed
    # replies read in order; "committed" only while an end of data awaits its reply
    assert s.committed == [False, True, True, True]
    assert s.events == ["send", "recv"] * 4  # one round trip per message (+ the first MAIL)


def test_bdat_body_never_before_its_mail_and_rcpt_replies() -> None:
    p = proto("PIPELINING", "CHUNKING")
    s = Script(p, OK + OK, queued(1) + OK + OK, queued(2))
    batch = Batch()
    s.run(p.transactions([req(1), req(2)], batch))
    assert s.sent == [head(1, data=False), bdat(1) + head(2, data=False), bdat(2)]
    assert [tx.final.code for tx in batch.done if tx.final] == [250, 250]


def test_refused_recipient_on_message_2_is_message_2s_and_partial_still_sent() -> None:
    p = proto("PIPELINING")
    refused = b"550 5.1.1 no such user\r\n"
    s = Script(
        p,
        OK + OK + GO,
        queued(1) + OK + OK + refused + GO,
        queued(2),
    )
    batch = Batch()
    s.run(p.transactions([req(1), req(2, "a@x.test", "gone@x.test")], batch))
    assert s.sent[2] == stuffed(2)
    assert [r.reply.code for r in batch.done[0].recipients] == [250]
    assert [(r.address, r.reply.code) for r in batch.done[1].recipients] == [
        ("a@x.test", 250), ("gone@x.test", 550)]


def test_all_recipients_of_message_2_refused_its_data_never_sent() -> None:
    p = proto("PIPELINING")
    refused = b"550 5.1.1 no such user\r\n"
    s = Script(
        p,
        OK + OK + GO,
        queued(1) + OK + refused + b"554 5.5.1 no valid recipients\r\n",
        OK,  # RSET
    )
    batch = Batch()
    s.run(p.transactions([req(1), req(2), req(3)], batch))
    assert s.sent == [head(1), stuffed(1) + head(2), b"RSET\r\n"]
    assert b"body 2" not in b"".join(s.sent) and b"r3@x.test" not in b"".join(s.sent)
    assert batch.done[0].final is not None and batch.done[1].final is None
    assert batch.failure is None


def test_data_354_without_any_recipient_gets_the_lone_dot() -> None:
    # RFC 2920 §3.1: DATA accepted although no recipient was: end it empty, then RSET
    p = proto("PIPELINING")
    s = Script(p, OK + b"550 5.1.1 no\r\n" + GO, b"554 5.5.1 no valid recipients\r\n", OK)
    batch = Batch()
    s.run(p.transactions([req(1), req(2)], batch))
    assert s.sent == [head(1), b".\r\n", b"RSET\r\n"]
    assert batch.done[0].final is None and len(batch.done) == 1


def test_5xx_on_message_1s_data_is_message_1s_and_message_2_is_abandoned() -> None:
    p = proto("PIPELINING")
    s = Script(p, OK + OK + GO, b"554 5.7.1 spam\r\n" + OK + OK + GO)
    batch = Batch()
    with pytest.raises(SMTPResponseError) as info:
        s.run(p.transactions([req(1), req(2)], batch))
    assert info.value.code == 554 and batch.failure is info.value and batch.done == []
    # message 2 got 354 with an accepted recipient: no lone "." (that would
    # deliver an empty message); the connection is given up instead
    assert s.sent == [head(1), stuffed(1) + head(2)]
    assert p.closed and not p.data_committed


def test_5xx_on_message_1s_data_message_2_refused_anyway_is_reset() -> None:
    p = proto("PIPELINING")
    s = Script(p, OK + OK + GO, b"554 5.7.1 spam\r\n" + OK + OK + b"451 4.3.0 later\r\n", OK)
    batch = Batch()
    with pytest.raises(SMTPResponseError, match="554"):
        s.run(p.transactions([req(1), req(2)], batch))
    assert s.sent[-1] == b"RSET\r\n" and not p.closed


def test_bdat_error_resets_after_reading_message_2s_replies() -> None:
    p = proto("PIPELINING", "CHUNKING")
    s = Script(p, OK + OK, b"552 5.3.4 too big\r\n" + OK + OK, OK)
    batch = Batch()
    with pytest.raises(SMTPResponseError, match="552"):
        s.run(p.transactions([req(1), req(2)], batch))
    assert s.sent == [head(1, data=False), bdat(1) + head(2, data=False), b"RSET\r\n"]
    assert b"body 2" not in b"".join(s.sent)


def test_drop_before_message_1s_reply_is_unknown_for_message_1() -> None:
    p = proto("PIPELINING")
    s = Script(p, OK + OK + GO)  # then the server closes
    batch = Batch()
    with pytest.raises(ConnectionLost):
        s.run(p.transactions([req(1), req(2)], batch))
    assert p.data_committed and batch.done == []  # message 1: sent, outcome unknown


def test_drop_after_message_1s_reply_message_2_not_committed() -> None:
    p = proto("PIPELINING")
    s = Script(p, OK + OK + GO, queued(1))  # message 2's replies never come
    batch = Batch()
    with pytest.raises(ConnectionLost):
        s.run(p.transactions([req(1), req(2)], batch))
    assert len(batch.done) == 1 and not p.data_committed  # message 2 may be retried


def test_message_refused_before_sending_lets_the_previous_one_finish() -> None:
    p = proto("PIPELINING", "SIZE 100")
    big = TxRequest(b"Subject: big\r\n\r\n" + b"x" * 200 + b"\r\n", "a@x.test", ("b@x.test",))
    s = Script(p, OK + OK + GO, queued(1))
    batch = Batch()
    with pytest.raises(MessageTooLarge):
        s.run(p.transactions([TxRequest(b"Subject: 1\r\n\r\nx\r\n", "a@x.test", ("r@x.test",)),
                              big], batch))
    assert len(batch.done) == 1 and batch.done[0].final is not None
    assert isinstance(batch.failure, MessageTooLarge)
    assert len(s.sent) == 2 and not s.sent[1].endswith(b"DATA\r\n")  # nothing of "big"


def test_without_pipelining_one_command_at_a_time() -> None:
    p = proto("8BITMIME")
    s = Script(p, OK, OK, GO, queued(1), OK, OK, GO, queued(2))
    batch = Batch()
    s.run(p.transactions([req(1), req(2)], batch))
    assert s.sent[:4] == [b"MAIL FROM:<a@x.test>\r\n", b"RCPT TO:<r1@x.test>\r\n", b"DATA\r\n",
                          stuffed(1)]
    assert len(batch.done) == 2


def test_single_large_bdat_waits_for_the_replies() -> None:
    body = b"Subject: big\r\n\r\n" + (b"y" * 70 + b"\r\n") * (BDAT_PIPELINE_LIMIT // 70 + 1)
    p = proto("PIPELINING", "CHUNKING")
    s = Script(p, OK + b"550 5.1.1 no\r\n", OK)
    tx = s.run(p.transaction(body, "a@x.test", ["b@x.test"], crlf=True))
    assert tx.final is None
    assert s.sent == [b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n", b"RSET\r\n"]
    # accepted: the body follows the replies, in a second write
    p = proto("PIPELINING", "CHUNKING")
    s = Script(p, OK + OK, queued(1))
    tx = s.run(p.transaction(body, "a@x.test", ["b@x.test"], crlf=True))
    assert tx.final is not None and s.sent[1] == b"BDAT %d LAST\r\n" % len(body) + body
    # a small one still goes in one write (one round trip)
    p = proto("PIPELINING", "CHUNKING")
    s = Script(p, OK + OK + queued(1))
    s.run(p.transaction(BODY % (1, 1), "a@x.test", ["b@x.test"], crlf=True))
    assert len(s.sent) == 1


def test_large_data_and_the_next_commands_in_two_writes_without_a_wait() -> None:
    big = TxRequest(b"Subject: big\r\n\r\n" + (b"z" * 70 + b"\r\n") * 2000, "a@x.test",
                    ("r1@x.test",), crlf=True)
    p = proto("PIPELINING")
    s = Script(p, OK + OK + GO, queued(1) + OK + OK + GO, queued(2))
    batch = Batch()
    s.run(p.transactions([big, req(2)], batch))
    assert len(s.sent) == 4 and s.sent[2] == head(2) and s.sent[1].endswith(b"\r\n.\r\n")
    assert len(batch.done) == 2
    # both writes happen before the reply to the end of data is read
    assert s.events == ["send", "recv", "send", "send", "recv", "send", "recv"]
    assert s.committed == [False, True, True]
