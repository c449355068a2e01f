"""What the synchronous and asyncio SMTP drivers share: the whole send flow
except the I/O (:class:`SendJob`: envelope and DSN handling, retry decisions,
back-off, result building; :func:`send_flow`, :func:`send_many_flow`, the pool
rules) and turning a protocol :class:`~.protocol.Transaction` into a
:class:`~mimekit.transports.base.SendResult`.

The options and their validation live in :mod:`.settings` (re-exported here).
No I/O here either.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, cast

import attrs
from mimekit.transports.base import (
    Envelope,
    RecipientResult,
    SendResult,
    check_message_type,
    prepare,
)
from mimekit.transports.errors import (
    AuthenticationError,
    ConnectionLost,
    RecipientsRefused,
    SMTPResponseError,
    TLSError,
    TransportError,
)
from mimekit.transports.smtp.downgrade import to_7bit
from mimekit.transports.smtp.protocol import (
    TLS_HINT,
    Batch,
    ConnectionRefused,
    DeliveryStatusUnknown,
    DSNOptions,
    GreetingTimeout,
    NotSMTPServer,
    Receive,
    SMTPClientProtocol,
    Step,
    Transaction,
    TxRequest,
    normalize_line_endings,
    parse_queue_id,
)
from mimekit.transports.smtp.settings import (
    SECURITY_MODES,
    Settings,
    SMTPOptions,
    checked_pool_size,
    default_local_hostname,
    make_settings,
)

if TYPE_CHECKING:
    from mimekit.model import Message

__all__ = [
    "SECURITY_MODES",
    "Abort",
    "Acquire",
    "Flow",
    "ManyFlow",
    "Pause",
    "PoolOp",
    "PoolRules",
    "PooledConnection",
    "Quit",
    "Release",
    "SMTPOptions",
    "SendJob",
    "Settings",
    "Transact",
    "all_transient",
    "backoff",
    "check_raw",
    "checked_pool_size",
    "default_local_hostname",
    "implicit_tls_failed",
    "io_failure",
    "is_retriable",
    "lost",
    "make_jobs",
    "make_settings",
    "prepare_send",
    "receive_wait",
    "send_flow",
    "send_many_flow",
    "to_result",
]


def receive_wait(action: Receive, settings: Settings, deadline: float,
                 now: float) -> tuple[float, float]:
    """(seconds the read ``action`` asks for may wait, the deadline of the reply it is
    part of), for both drivers: a reply must arrive whole within ``timeout``
    (``data_timeout`` after the message data) of its first read (``action.continued``
    keeps that read's deadline), so a server that drips a reply, or sends one without
    end, cannot hold the client longer. A wait of 0 or less: the time is up."""
    if action.continued:
        return deadline - now, deadline
    wait = settings.data_timeout if action.data_phase else settings.timeout
    return wait, now + wait


def is_retriable(exc: BaseException, committed: bool) -> bool:
    """Retry only what cannot have delivered the message: 4xx replies, which say
    the action did not occur (RFC 5321 §4.2.1; a 4xx to the end of the data
    included), and connection failures before the end of the data was sent (after
    it, without a reply, the server may have accepted the message and a resend
    would duplicate it)."""
    if isinstance(exc, (DeliveryStatusUnknown, ConnectionRefused, NotSMTPServer)):
        return False  # may have delivered / nothing listens there / not SMTP: fail fast
    if isinstance(exc, AuthenticationError):
        return False  # retrying a failed login locks accounts; never automatic
    if isinstance(exc, SMTPResponseError):
        return exc.is_transient  # a reply was read: the outcome is known
    if committed:
        return False
    return isinstance(exc, ConnectionLost)


def backoff(settings: Settings, attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): exponential."""
    return float(settings.retry_backoff * (2**attempt))


def to_result(tx: Transaction, envelope: Envelope, message_id: str | None) -> SendResult:
    """The :class:`SendResult` for a transaction; raises
    :class:`RecipientsRefused` (carrying every reply) when nobody was accepted."""
    recipients = tuple(
        RecipientResult(r.address, r.reply.ok, r.reply.code, r.reply.enhanced, r.reply.text)
        for r in tx.recipients
    )
    final = tx.final
    result = SendResult(
        message_id,
        envelope,
        recipients,
        queue_id=parse_queue_id(final.text) if final is not None else None,
        response=str(final) if final is not None else "",
    )
    if final is None:
        raise RecipientsRefused(result)
    return result


def all_transient(tx: Transaction) -> bool:
    """True when every recipient was refused with a 4xx reply (worth a retry)."""
    return tx.final is None and all(400 <= r.reply.code < 500 for r in tx.recipients)


@attrs.frozen
class PoolRules:
    """When a pooled connection may carry the next message: the one set of
    rules both drivers' pools follow (no I/O; each driver performs the verdict).

    Defaults shared by both drivers: ``idle_timeout=60.0`` seconds,
    ``max_messages_per_connection=1000`` (:func:`make_settings`),
    ``noop_after=30.0`` seconds.
    """

    settings: Settings
    idle_timeout: float = attrs.field(default=60.0)

    @idle_timeout.validator
    def _check(self, attribute: object, value: float) -> None:
        if not value > 0:
            raise ValueError("idle_timeout must be positive")

    def on_take(self, *, closed: bool, quiet: bool, idle_for: float) -> str:
        """The verdict on an idle connection about to be reused:

        - ``"drop"``: closed, or the server sent something unasked (an EOF, or a
          421 before an idle disconnect, RFC 5321 §3.8): never start a
          (pipelined) transaction on it; close it without a word;
        - ``"quit"``: idle longer than ``idle_timeout``: QUIT and close it
          (servers drop idle clients after a few minutes, RFC 5321 §4.5.3.2.7);
        - ``"noop"``: idle longer than ``noop_after``: check it with NOOP
          (RFC 5321 §4.1.1.9) first;
        - ``"use"``."""
        if closed or not quiet:
            return "drop"
        if idle_for > self.idle_timeout:
            return "quit"
        if idle_for > self.settings.noop_after:
            return "noop"
        return "use"

    def on_release(self, *, closed: bool, messages: int, shutting_down: bool) -> str:
        """The verdict on a connection given back: ``"drop"`` (broken),
        ``"quit"`` (the transport is closing, or it carried
        ``max_messages_per_connection`` messages) or ``"keep"`` (idle in the pool)."""
        if closed:
            return "drop"
        limit = self.settings.max_messages_per_connection
        if shutting_down or (limit is not None and messages >= limit):
            return "quit"
        return "keep"

    def expired(self, idle_for: float) -> bool:
        """True if an idle connection should be closed (QUIT) now."""
        return idle_for > self.idle_timeout


def lost(proto: SMTPClientProtocol, what: str) -> ConnectionLost:
    """The error for a connection that failed: :class:`DeliveryStatusUnknown`
    once the end of the data was sent (a resend could deliver twice),
    else a plain (retriable) :class:`ConnectionLost`."""
    if proto.data_committed:
        return DeliveryStatusUnknown(
            what + " after the message data was sent: it may or may not have been "
            "delivered (not resent)"
        )
    return ConnectionLost(what)


def implicit_tls_failed(settings: Settings, exc: BaseException) -> TLSError:
    """The error for a failed implicit-TLS handshake (RFC 8314 §3.3). A TLS
    error that is no certificate problem usually means the port speaks plain
    SMTP (its "220" greeting is no TLS record): the message says so."""
    hint = ""
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLCertVerificationError):
        hint = (" (a plain-text or STARTTLS port? use security='starttls', or "
                "smtp+starttls:// in a URL)")
    return TLSError(f"TLS handshake with {settings.host}:{settings.port} failed: {exc}{hint}")


def connect_timed_out(settings: Settings) -> ConnectionLost:
    """The error for a connection not made within ``connect_timeout`` (the TCP
    connection, plus the handshake with implicit TLS): a :class:`ConnectionLost`,
    retried as any connection failure before the data is."""
    s = settings
    return ConnectionLost(
        f"could not connect to {s.host}:{s.port} within {s.connect_timeout:g} s "
        "(connect_timeout)"
    )


def io_failure(
    proto: SMTPClientProtocol, settings: Settings, exc: BaseException, *, timed_out: bool
) -> TransportError:
    """What a driver raises when running a protocol step failed with ``exc``.

    An I/O error (``timed_out``, a TLS error, any ``OSError``) marks the
    connection closed and becomes :class:`ConnectionLost`; a
    :class:`ConnectionLost` from the protocol is kept. Either is
    :class:`DeliveryStatusUnknown` once the end of the data was sent (see
    :func:`lost`). During an AUTH exchange it is an :class:`AuthenticationError`
    (``code`` 0), which is never retried: the credentials were sent, and a
    retry would send them again (a server that delays or drops a failed login
    on purpose would count every retry as another failure). May return
    ``exc`` itself (re-raise it then, without ``from``)."""
    where = f"{settings.host}:{settings.port}"
    if proto.authenticating:
        proto.closed = True
        why = "timed out" if timed_out else str(exc) or type(exc).__name__
        return AuthenticationError(
            0,
            None,
            f"no reply to AUTH from {where} ({why}); not retried, as a retry would "
            "send the credentials again",
        )
    if isinstance(exc, NotSMTPServer) and proto.greeting is None:
        return NotSMTPServer(f"{where} {exc}")
    if proto.tls_unconfirmed and not timed_out:
        # The handshake completed on our side, then the server ended the session
        # before its first reply: typically our client certificate is missing or
        # not accepted (RFC 8446 §4.4.2.4: the alert comes after our Finished).
        proto.closed = True
        return TLSError(
            f"the server {where} ended the TLS session before its first reply "
            f"({str(exc) or type(exc).__name__}): does it require a client certificate? "
            "(give an ssl_context with ctx.load_cert_chain(certfile, keyfile))"
        )
    if isinstance(exc, ConnectionLost):
        if proto.data_committed and not isinstance(exc, DeliveryStatusUnknown):
            return lost(proto, str(exc))
        return exc
    proto.closed = True
    if timed_out and proto.greeting is None:
        # RFC 5321 §3.1/§4.3.1: the server speaks first (220). Silence after the
        # TCP connection is typically a plain client on an implicit-TLS port
        # (RFC 8314 §3.3): the server waits for a TLS ClientHello.
        hint = (
            "is it an SMTP server?" if settings.security == "tls"
            else f"an implicit-TLS port? use {TLS_HINT}"
        )
        return GreetingTimeout(
            f"no SMTP greeting from {where} within {settings.timeout:g} s ({hint})"
        )
    if timed_out:
        return lost(proto, f"timed out talking to {where}")
    if isinstance(exc, ssl.SSLError):
        return lost(proto, f"TLS error talking to {where}: {exc}")
    return lost(proto, f"connection to {where} failed: {exc}")


class SendJob:
    """One message on its way through the send loop (:func:`send_flow`), without I/O.

    It holds what the attempts share (data, checked envelope, DSN options)
    and makes the per-message decisions: :meth:`transaction` (the protocol
    step for a connection), :meth:`retry_after` (after an error),
    :meth:`result` (after a completed transaction; ``None`` means "all
    recipients got 4xx, try again") and :meth:`next_delay` (the back-off).
    """

    def __init__(
        self,
        settings: Settings,
        data: bytes,
        envelope: Envelope,
        dsn: DSNOptions | None,
        message_id: str | None,
        *,
        crlf: bool = False,
    ) -> None:
        envelope.check()  # CR/LF/NUL in an address: refused before connecting
        self.settings = settings
        self.data = data
        self.crlf = crlf  # data already has CRLF line ends (from prepare_send)
        self.envelope = envelope
        self.dsn = dsn if dsn is not None else settings.dsn
        self.message_id = message_id
        self.attempt = 0
        self.greeting_timeouts = 0

    def transaction(self, proto: SMTPClientProtocol) -> Step[Transaction]:
        """The protocol operation that sends this message on ``proto``."""
        return self.request().run(proto)

    def request(self) -> TxRequest:
        """This message as one item of :meth:`SMTPClientProtocol.transactions`."""
        s = self.settings
        return TxRequest(
            self.data,
            self.envelope.mail_from,
            tuple(self.envelope.rcpt_to),
            self.dsn,
            to_7bit if s.downgrade_8bit else None,
            s.chunking,
            self.crlf,
        )

    def retry_after(self, exc: BaseException, proto: SMTPClientProtocol | None) -> bool:
        """True if the attempt that raised ``exc`` on ``proto`` (``None``: no
        connection was made) should be repeated on a fresh session."""
        committed = proto is not None and proto.data_committed
        if isinstance(exc, GreetingTimeout):
            # Silence is not a transient 4xx (RFC 5321 §4.2.1): one more try at
            # most, so a wrong port fails after two timeouts, not retries + 1.
            self.greeting_timeouts += 1
            if self.greeting_timeouts > 1:
                return False
        return is_retriable(exc, committed) and self.attempt < self.settings.retries

    def result(self, tx: Transaction) -> SendResult | None:
        """The result of a completed transaction, or ``None`` when every
        recipient got a 4xx and nothing was sent (worth another attempt)."""
        if all_transient(tx) and self.attempt < self.settings.retries:
            return None
        return to_result(tx, self.envelope, self.message_id)

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt (counts the attempt)."""
        delay = backoff(self.settings, self.attempt)
        self.attempt += 1
        return delay


# The fast path of prepare_send: a header section that starts with a field
# (no mbox "From " line, no byte order mark: RFC 5322 §2.1 they are not part
# of the message), ends at an empty line, has no bare CR (a line end the regexes
# below would not see), and no Bcc/Resent-Bcc field (RFC 5322 §3.6.3).
_FIRST_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
_HEADER_END = re.compile(rb"\n\r?\n")
_BCC = re.compile(rb"^(?:resent-)?bcc[ \t]*:", re.IGNORECASE | re.MULTILINE)
_MESSAGE_ID = re.compile(
    rb"^message-id[ \t]*:((?:[^\r\n]*)(?:\r?\n[ \t][^\r\n]*)*)", re.IGNORECASE | re.MULTILINE
)


def _fast_wire(data: bytes) -> tuple[bool, str | None]:
    """``(True, Message-ID)`` when ``data`` can go on the wire exactly as
    given: what :func:`~mimekit.transports.base.prepare` would send is then
    ``data`` itself (nothing to strip). ``(False, None)`` when in doubt: the
    caller parses."""
    end = _HEADER_END.search(data)
    if end is None or not _FIRST_FIELD.match(data):
        return False, None
    head = data[: end.start() + 1]
    if _BCC.search(head) or (b"\r" in head and head.count(b"\r") != head.count(b"\r\n")):
        return False, None
    m = _MESSAGE_ID.search(head)
    if m is None:
        return True, None
    raw = m.group(1)
    if not raw.isascii() or b"=?" in raw:
        return False, None  # RFC 2047 / 8-bit: decode it the parser's way
    value = raw.replace(b"\r", b"").replace(b"\n", b"").decode("ascii").strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return True, value or None


def prepare_send(
    message: Message | bytes, envelope: Envelope | None
) -> tuple[bytes, Envelope, str | None]:
    """``(wire bytes, envelope, Message-ID)`` for ``send()``/``asend()``, as
    :func:`~mimekit.transports.base.prepare` gives them (Bcc removed, the
    envelope derived and checked), with the line ends the wire will have.

    Cheap in the common case: raw bytes without a Bcc/Resent-Bcc field, mbox
    line or byte order mark already are the wire bytes (not copied); with an
    explicit envelope they are not parsed at all, without one only their
    header section is (the envelope comes from the fields). Line ends are made CRLF
    *before* Bcc is looked for: a bare CR or LF inside a field would become a
    line end on the wire (RFC 5321 §2.3.8) and could turn the rest of the
    field into a Bcc line the parser never saw."""
    check_message_type(message)
    if isinstance(message, (bytes, bytearray, memoryview)):
        data = normalize_line_endings(message if isinstance(message, bytes) else bytes(message))
        ok, message_id = _fast_wire(data)
        if not ok:
            return prepare(data, envelope)
        if envelope is None:
            # the envelope comes from the header fields only: parse just the
            # header section (with its empty line), never a large body
            end = _HEADER_END.search(data)
            assert end is not None
            _, envelope, message_id = prepare(data[: end.end()], None)
        elif not isinstance(envelope, Envelope):
            raise TransportError(f"envelope must be an Envelope, not {type(envelope).__name__}")
        # an explicit envelope is checked in SendJob (send -> send_raw), before any I/O
        return data, envelope, message_id
    wire, env, message_id = prepare(message, envelope)
    normalized = normalize_line_endings(wire)
    if normalized is not wire and not _fast_wire(normalized)[0]:
        # a bare CR/LF in a field became a line end: strip again on the wire form
        normalized = prepare(normalized, env)[0]
    return normalized, env, message_id


# ---------------------------------------------------------------- the send loop, sans I/O


class PooledConnection(Protocol):
    """What the send loop needs of a driver's connection."""

    proto: SMTPClientProtocol
    messages: int


@attrs.frozen
class Acquire:
    """Take a working connection from the pool, or open one; send it back."""


@attrs.frozen
class Transact:
    """Run ``step`` (the job's transaction) on ``conn``; send back its :class:`Transaction`."""

    conn: PooledConnection
    step: Step[object] = attrs.field(eq=False)


@attrs.frozen
class Release:
    """Give ``conn`` back to the pool (the pool closes it if it is spent or broken)."""

    conn: PooledConnection


@attrs.frozen
class Quit:
    """QUIT and close ``conn`` (a fresh session for the retry)."""

    conn: PooledConnection


@attrs.frozen
class Abort:
    """Drop ``conn`` without a word (an unexpected error: its state is unknown)."""

    conn: PooledConnection


@attrs.frozen
class Pause:
    """Wait ``seconds`` before the next attempt (the retry back-off)."""

    seconds: float


PoolOp = Acquire | Transact | Release | Quit | Abort | Pause
Flow = Generator[PoolOp, object, SendResult]
ManyFlow = Generator[PoolOp, object, list[SendResult]]


def send_flow(job: SendJob) -> Flow:
    """The send loop of both drivers as a generator of :data:`PoolOp`: the
    driver performs each operation, sends back its value (the connection for
    :class:`Acquire`, the :class:`Transaction` for :class:`Transact`, else
    ``None``) or throws in the exception it raised. Returns the result.

    Rules: a retriable failure (see :func:`is_retriable`) is retried on a
    fresh session after a back-off, at most ``retries`` times; a refusal
    before anything was sent (:class:`TransportError`: SIZE, 8BITMIME,
    SMTPUTF8) keeps the connection for the next message; anything unexpected
    drops it. A connection is counted (``messages``) after each completed
    transaction."""
    while True:
        conn: PooledConnection | None = None
        try:
            conn = cast(PooledConnection, (yield Acquire()))
            tx = cast(Transaction, (yield Transact(conn, job.transaction(conn.proto))))
        except (ConnectionLost, SMTPResponseError) as exc:
            retry = job.retry_after(exc, conn.proto if conn is not None else None)
            if conn is not None:
                if retry and not conn.proto.closed:
                    yield Quit(conn)
                yield Release(conn)
            if not retry:
                raise
            yield Pause(job.next_delay())
            continue
        except TransportError:
            if conn is not None:
                yield Release(conn)  # refused before anything was sent: the session is clean
            raise
        except GeneratorExit:
            raise
        except BaseException:
            if conn is not None:
                yield Abort(conn)
            raise
        conn.messages += 1
        yield Release(conn)
        result = job.result(tx)
        if result is not None:
            return result
        yield Pause(job.next_delay())  # every recipient got 4xx: try again later


def check_raw(data: object, where: str) -> None:
    """``send_raw``/``asend_raw`` take the bytes of a message only."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"{where} takes bytes, bytearray or memoryview, not {type(data).__name__}"
            " (send()/asend() take a Message)"
        )


def make_jobs(
    settings: Settings,
    messages: Iterable[Message | bytes | tuple[Message | bytes, Envelope]],
    where: str = "send_many()",
) -> tuple[list[SendJob], TransportError | None]:
    """The :class:`SendJob` of each message for ``send_many``, in order, up to
    the first one that cannot be sent at all (no envelope, a bad address):
    ``(jobs before it, its error)``. Like ``[send(m) for m in messages]``, the
    messages before it are sent, then its error is raised. An item may be a
    ``(message, envelope)`` pair, like ``send(message, envelope=envelope)``.
    An item of another type is a :class:`TypeError` at once, before anything
    is sent (:func:`~mimekit.transports.base.check_message_type`)."""
    items = [item if isinstance(item, tuple) else (item, None) for item in messages]
    for message, _ in items:
        check_message_type(message, where)
    jobs: list[SendJob] = []
    for message, envelope in items:
        try:
            data, env, message_id = prepare_send(message, envelope)
            jobs.append(SendJob(settings, data, env, None, message_id, crlf=True))
        except TransportError as exc:
            return jobs, exc
    return jobs, None


def send_many_flow(jobs: Sequence[SendJob]) -> ManyFlow:
    """The loop of ``send_many`` (both drivers), as a generator of
    :data:`PoolOp` like :func:`send_flow`: every message in order, pipelined
    across messages on one connection when the server offers PIPELINING
    (:meth:`SMTPClientProtocol.transactions`). Returns the results in order.

    The contract of :meth:`Transport.send_many` holds: it stops at the first
    message that fails (its error is raised; the messages before it were
    sent, none after it was). Each message is retried under the rules of
    :func:`send_flow` (its own attempts and back-off), so the messages are
    delivered in order: a failure is attributed to the message whose reply
    it is (:class:`Batch`); a connection lost while a message's end of data
    waits for its reply makes *that* message :class:`DeliveryStatusUnknown`
    (never resent), and the next one, whose data was not sent, is not
    delivered either. A connection lost before a message's data went out is
    retried on a fresh connection from that message on. At most
    ``max_messages_per_connection`` messages go over one connection."""
    results: list[SendResult] = []
    while len(results) < len(jobs):
        first = len(results)
        conn: PooledConnection | None = None
        batch = Batch()
        error: BaseException | None = None
        try:
            conn = cast(PooledConnection, (yield Acquire()))
            limit = jobs[first].settings.max_messages_per_connection
            room = len(jobs) - first if limit is None else max(1, limit - conn.messages)
            requests = [job.request() for job in jobs[first : first + room]]
            yield Transact(conn, conn.proto.transactions(requests, batch))
        except GeneratorExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - attributed below
            error = exc
        if conn is not None:
            conn.messages += len(batch.done)
        stop: TransportError | None = None
        again = False  # every recipient of a message got a 4xx: that one again
        for tx in batch.done:
            job = jobs[len(results)]
            try:
                result = job.result(tx)
            except TransportError as exc:  # RecipientsRefused
                stop = exc
                break
            if result is None:
                again = True
                break
            results.append(result)
        if stop is None and not again and batch.failure is None and error is None:
            if conn is not None:
                yield Release(conn)  # this connection's share is done (or it is spent)
            continue
        job = jobs[len(results)]
        known = stop is not None or again or batch.failure is not None
        if known and error is not None and error is not batch.failure:
            # The message's outcome was read; what failed after it is the clean-up
            # of the message after it: that costs the connection, not the verdict.
            if not isinstance(error, TransportError):
                if conn is not None:
                    yield Abort(conn)
                raise error
            if conn is not None:
                conn.proto.closed = True
        if stop is not None:
            if conn is not None:
                yield Release(conn)
            raise stop
        if again:
            if conn is not None:
                yield Release(conn)
            yield Pause(job.next_delay())
            continue
        failure = batch.failure if batch.failure is not None else error
        assert failure is not None
        if isinstance(failure, (ConnectionLost, SMTPResponseError)):
            retry = job.retry_after(failure, conn.proto if conn is not None else None)
            if conn is not None:
                if retry and not conn.proto.closed:
                    yield Quit(conn)
                yield Release(conn)
            if not retry:
                raise failure
            yield Pause(job.next_delay())
            continue
        if isinstance(failure, TransportError):
            if conn is not None:
                yield Release(conn)  # refused before anything of it was sent
            raise failure
        if conn is not None:
            yield Abort(conn)
        raise failure
    return results
