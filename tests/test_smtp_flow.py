"""The drivers' shared send loop (``common.send_flow``), sans I/O: which
pool operations it asks for after each outcome, and when it retries. The
drivers only perform these operations (tests/test_smtp_transport.py and
tests/test_smtp_async.py run them against real servers)."""

from __future__ import annotations

from typing import Any

import pytest
from mimekit.transports.errors import ConnectionLost, RecipientsRefused, SMTPResponseError
from mimekit.transports.smtp.common import (
    Abort,
    Acquire,
    Pause,
    Quit,
    Release,
    SendJob,
    Transact,
    make_settings,
    send_flow,
)
from mimekit.transports.smtp.protocol import (
    DeliveryStatusUnknown,
    RcptReply,
    Reply,
    SMTPClientProtocol,
    SMTPNotSupportedError,
    Transaction,
)
from smtp_server import ENV, MSG


class Conn:
    def __init__(self, name: str) -> None:
        self.name = name
        self.proto = SMTPClientProtocol("client.test")
        self.messages = 0

    def __repr__(self) -> str:
        return self.name


def _tx(code: int) -> Transaction:
    reply = Reply(code, ("x",), None)
    final = Reply(250, ("ok queued as Q9",), "2.0.0") if code < 300 else None
    return Transaction((RcptReply(ENV.rcpt_to[0], reply),), final)


def run(outcomes: list[Any], retries: int = 2) -> tuple[list[str], Any]:
    """Drive a flow: each Transact gets the next outcome (a Transaction, or an
    exception to throw in). Returns the operations seen and the result or error."""
    settings = make_settings("127.0.0.1", 25, security="none", retries=retries)
    flow = send_flow(SendJob(settings, MSG, ENV, None, "m@x"))
    seen: list[str] = []
    conns = 0
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            return seen, stop.value
        except BaseException as exc:  # noqa: BLE001 - the flow's verdict
            return seen, exc
        value, error = None, None
        if isinstance(op, Acquire):
            conns += 1
            value = Conn(f"c{conns}")
            seen.append("acquire")
        elif isinstance(op, Transact):
            seen.append(f"transact {op.conn}")
            outcome = outcomes.pop(0)
            if isinstance(outcome, BaseException):
                error = outcome
            else:
                value = outcome
        elif isinstance(op, Pause):
            seen.append(f"pause {op.seconds:g}")
        else:
            assert isinstance(op, (Release, Quit, Abort))
            seen.append(f"{type(op).__name__.lower()} {op.conn} ({op.conn.messages})")


def test_success_counts_and_releases() -> None:
    seen, result = run([_tx(250)])
    assert seen == ["acquire", "transact c1", "release c1 (1)"]
    assert result.ok and result.queue_id == "Q9" and result.message_id == "m@x"


def test_connection_lost_before_data_is_retried_on_a_fresh_session() -> None:
    seen, result = run([ConnectionLost("reset"), _tx(250)])
    assert seen == [
        "acquire",
        "transact c1",
        "quit c1 (0)",
        "release c1 (0)",
        "pause 0.5",
        "acquire",
        "transact c2",
        "release c2 (1)",
    ]
    assert result.ok


def test_retries_are_bounded_and_backoff_doubles() -> None:
    seen, error = run([SMTPResponseError(451, "4.3.0", "later")] * 3, retries=2)
    assert [s for s in seen if s.startswith("pause")] == ["pause 0.5", "pause 1"]
    assert isinstance(error, SMTPResponseError) and error.code == 451
    assert seen[-1] == "release c3 (0)"  # the last failure: no QUIT, back to the pool


def test_never_retried_after_the_data() -> None:
    seen, error = run([DeliveryStatusUnknown("dropped")])
    assert seen == ["acquire", "transact c1", "release c1 (0)"]
    assert isinstance(error, DeliveryStatusUnknown)


def test_refused_before_sending_keeps_the_connection() -> None:
    seen, error = run([SMTPNotSupportedError("no SMTPUTF8")])
    assert seen == ["acquire", "transact c1", "release c1 (0)"]
    assert isinstance(error, SMTPNotSupportedError)


def test_unexpected_error_drops_the_connection() -> None:
    seen, error = run([KeyboardInterrupt()])
    assert seen == ["acquire", "transact c1", "abort c1 (0)"]
    assert isinstance(error, KeyboardInterrupt)


def test_all_recipients_4xx_retried_then_refused() -> None:
    seen, error = run([_tx(451), _tx(451), _tx(451)], retries=2)
    assert seen.count("acquire") == 3 and seen.count("pause 0.5") == 1
    assert isinstance(error, RecipientsRefused) and error.code == 451


def test_bad_envelope_refused_before_any_operation() -> None:
    from mimekit.transports.base import Envelope
    from mimekit.transports.errors import InvalidEnvelope

    settings = make_settings("127.0.0.1", 25, security="none")
    with pytest.raises(InvalidEnvelope):
        SendJob(settings, MSG, Envelope("a@x", ("b@x\r\nRSET",)), None, None)


def test_options_are_one_list_for_both_drivers() -> None:
    from mimekit.transports.smtp import AsyncSMTPTransport, SMTPTransport

    for cls in (SMTPTransport, AsyncSMTPTransport):
        with pytest.raises(TypeError, match="unknown SMTP transport option.*bogus"):
            cls("127.0.0.1", 25, security="none", bogus=1)
        t = cls("127.0.0.1", 25, security="none", retries=0, chunking=False, pool_size=2)
        assert (t.settings.retries, t.settings.chunking, t.pool_size) == (0, False, 2)
    # one pool behaviour (common.PoolRules): the same defaults for both drivers
    for cls in (SMTPTransport, AsyncSMTPTransport):
        t = cls("127.0.0.1")
        assert t.settings.max_messages_per_connection == 1000 and t.idle_timeout == 60.0
        assert cls("127.0.0.1", max_messages_per_connection=None).settings.max_messages_per_connection is None
        with pytest.raises(ValueError, match="idle_timeout"):
            cls("127.0.0.1", idle_timeout=0)
    with pytest.raises(ValueError, match="pool_size"):
        SMTPTransport("127.0.0.1", pool_size=0)
