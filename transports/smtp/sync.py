"""Synchronous SMTP transport: a thin ``socket`` + ``ssl`` driver for the
sans-I/O :mod:`~mimekit.transports.smtp.protocol` and the sans-I/O send loop
(:func:`~mimekit.transports.smtp.common.send_flow`).

Connections are pooled (up to ``pool_size``, one per concurrently sending
thread) and reused across sends (a NOOP checks one after ``noop_after`` idle
seconds; a 421 or a dropped connection makes the next send reconnect).
Retries happen only while a resend cannot duplicate the message (see
:func:`~mimekit.transports.smtp.common.is_retriable`).
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, TypeVar, cast

from mimekit.transports.base import Envelope, SendResult, Transport, check_message_type
from mimekit.transports.errors import ConnectionLost, SMTPResponseError, TLSError
from mimekit.transports.smtp.common import (
    Acquire,
    Pause,
    PoolOp,
    PoolRules,
    Quit,
    Release,
    SendJob,
    Settings,
    Transact,
    check_raw,
    checked_pool_size,
    connect_timed_out,
    default_local_hostname,
    implicit_tls_failed,
    io_failure,
    make_jobs,
    make_settings,
    prepare_send,
    receive_wait,
    send_flow,
    send_many_flow,
)
from mimekit.transports.smtp.protocol import (
    ConnectionRefused,
    DSNOptions,
    Receive,
    Send,
    SMTPClientProtocol,
    Step,
)

if TYPE_CHECKING:
    from mimekit.transports.smtp.common import SMTPOptions
    from typing_extensions import Unpack

    from mimekit.model import Message

log = logging.getLogger("mimekit.smtp")

__all__ = ["SMTPTransport"]

T = TypeVar("T")
_RECV = 65536


#: Writes larger than this go out in pieces of this size, each of which must be
#: taken within ``timeout``: since Python 3.5 ``sendall``'s timeout bounds the
#: whole call, which would fail a large message on a slow but working link
#: (RFC 5321 §4.5.3.2.5 times each TCP send of a data block, not the total).
_SEND_PIECE = 128 * 1024


def _send_all(sock: socket.socket, data: bytes) -> None:
    """``sock.sendall(data)``, with the socket timeout bounding each
    :data:`_SEND_PIECE` rather than the whole of ``data``."""
    if len(data) <= _SEND_PIECE:
        sock.sendall(data)
        return
    with memoryview(data) as view:
        for start in range(0, len(data), _SEND_PIECE):
            sock.sendall(view[start : start + _SEND_PIECE])


class _Connection:
    """One socket and its protocol state."""

    def __init__(self, settings: Settings, sock: socket.socket, proto: SMTPClientProtocol) -> None:
        self.settings = settings
        self.sock = sock
        self.proto = proto
        self.messages = 0
        self.last_used = time.monotonic()

    def run(self, gen: Step[T]) -> T:
        """Pump one protocol operation, doing the I/O it asks for.

        Each reply must arrive whole within ``timeout`` (``data_timeout`` after
        the message data) of the first read for it (:attr:`Receive.continued`);
        a write must make progress within ``timeout`` (:func:`_send_all`)."""
        s = self.settings
        value = b""
        deadline = 0.0
        try:
            action = next(gen)
            while True:
                if isinstance(action, Send):
                    _send_all(self.sock, action.data)
                    value = b""
                elif isinstance(action, Receive):
                    wait, deadline = receive_wait(action, s, deadline, time.monotonic())
                    if wait <= 0:
                        raise TimeoutError("the reply did not arrive whole in time")
                    if wait == s.timeout:
                        value = self.sock.recv(_RECV)
                    else:
                        self.sock.settimeout(wait)
                        try:
                            value = self.sock.recv(_RECV)
                        finally:
                            self.sock.settimeout(s.timeout)
                else:
                    self._start_tls()
                    value = b""
                action = gen.send(value)
        except StopIteration as stop:
            self.last_used = time.monotonic()
            result: T = stop.value
            return result
        except (OSError, ConnectionLost) as exc:  # TimeoutError, ssl.SSLError are OSErrors
            error = io_failure(self.proto, s, exc, timed_out=isinstance(exc, TimeoutError))
            if error is exc:
                raise
            raise error from exc
        finally:
            gen.close()

    def quiet(self) -> bool:
        """True if the server sent nothing since its last reply. A closed
        connection (EOF) or unsolicited data (typically a 421 before an idle
        disconnect) means the connection must not carry the next transaction:
        with PIPELINING+BDAT the whole message would be written before the
        failure shows, and could then only be reported as "status unknown"."""
        # poll(), not select(): select() refuses descriptors >= 1024, which would drop
        # every pooled connection in a process with many open files.
        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN)
            readable = poller.poll(0)
        except (OSError, ValueError):
            return False
        if not readable:
            return True
        if isinstance(self.sock, ssl.SSLSocket):
            # readable may be a TLS record without application data (a session ticket)
            self.sock.setblocking(False)
            try:
                data = self.sock.recv(4096)
            except (ssl.SSLWantReadError, BlockingIOError):
                return True
            except OSError:
                return False
            finally:
                self.sock.settimeout(self.settings.timeout)
            if data:
                log.info("unsolicited data from the server on an idle connection: %r", data[:100])
            return False
        return False

    def _start_tls(self) -> None:
        s = self.settings
        assert s.ssl_context is not None
        try:
            self.sock = s.ssl_context.wrap_socket(self.sock, server_hostname=s.tls_server_name)
        except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
            self.proto.closed = True
            raise TLSError(f"TLS handshake with {s.host}:{s.port} failed: {exc}") from exc

    def close(self, *, polite: bool) -> None:
        """QUIT (when ``polite`` and still usable) and close the socket."""
        if polite and not self.proto.closed:
            try:
                self.sock.settimeout(min(self.settings.timeout, 5.0))
                self.run(self.proto.quit())
            except Exception as exc:  # noqa: BLE001 - closing anyway
                log.debug("QUIT failed while closing: %r", exc)
        self.proto.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


def connect(settings: Settings) -> _Connection:
    """Open a connection and run the session setup (greeting, EHLO, TLS, AUTH)."""
    s = settings
    try:
        # connect_timeout bounds opening the connection; timeout, every command after it
        sock = socket.create_connection(
            (s.host, s.port), timeout=s.connect_timeout, source_address=s.source_address
        )
    except ConnectionRefusedError as exc:
        raise ConnectionRefused(f"cannot connect to {s.host}:{s.port}: {exc}") from exc
    except TimeoutError as exc:
        raise connect_timed_out(s) from exc
    except OSError as exc:
        raise ConnectionLost(f"cannot connect to {s.host}:{s.port}: {exc}") from exc
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        local = s.local_hostname or default_local_hostname(sock.getsockname()[0])
        if s.security == "tls":
            assert s.ssl_context is not None
            try:
                sock = s.ssl_context.wrap_socket(sock, server_hostname=s.tls_server_name)
            except TimeoutError as exc:  # as the asyncio driver: part of connecting
                raise connect_timed_out(s) from exc
            except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
                raise implicit_tls_failed(s, exc) from exc
        sock.settimeout(s.timeout)
        proto = SMTPClientProtocol(local, tls_active=s.security == "tls")
    except BaseException:
        sock.close()
        raise
    conn = _Connection(s, sock, proto)
    try:
        conn.run(
            proto.open_session(
                security=s.security,
                credentials=s.credentials,
                allow_plaintext_auth=s.allow_plaintext_auth,
                auth_mechanism=s.auth_mechanism,
            )
        )
    except BaseException:
        conn.close(polite=False)
        raise
    return conn


class SMTPTransport(Transport):
    """Send messages through an SMTP server (RFC 5321), securely by default.

    ``security``: ``"starttls"`` (the default except on port 465: STARTTLS is
    required, :class:`TLSError` and nothing sent if missing),
    ``"starttls-opportunistic"``, ``"tls"`` (implicit TLS, default on 465) or
    ``"none"``. Certificates are verified with ``ssl_context`` (default
    :func:`ssl.create_default_context`, plus ``cafile``); ``insecure=True`` is
    the explicit opt-out. AUTH (``username`` with ``password`` or an
    ``oauth_token`` callable) is never sent unencrypted unless
    ``allow_plaintext_auth=True``. ``connect_timeout`` (default: ``timeout``)
    bounds opening the connection (TCP, plus the TLS handshake with implicit
    TLS; "could not connect ... within N s", a :class:`ConnectionLost` retried
    as other connection failures), ``timeout`` the greeting and each command,
    ``data_timeout`` the reply after the message data.
    ``local_hostname`` is the EHLO name (default: the FQDN host name if it has
    one, else our address literal; never a DNS lookup).

    Keyword options (:class:`~mimekit.transports.smtp.common.SMTPOptions`,
    shared with the asyncio transport) and their defaults: ``security=None``,
    ``username=None``, ``password=None``, ``oauth_token=None``,
    ``ssl_context=None``, ``cafile=None``, ``insecure=False``, ``timeout=30.0``,
    ``connect_timeout=timeout``, ``data_timeout=600.0``, ``local_hostname=None``, ``source_address=None``,
    ``allow_plaintext_auth=False``, ``auth_mechanism=None``, ``retries=2``,
    ``retry_backoff=0.5``, ``noop_after=30.0``, ``dsn=None``,
    ``downgrade_8bit=True``, ``max_messages_per_connection=1000``,
    ``chunking=True``; an unknown one is a :class:`TypeError`.

    Connections are reused across sends: up to ``pool_size`` of them, one per
    concurrently sending thread (thread-safe), each replaced after
    ``max_messages_per_connection`` messages and closed (QUIT) once idle for
    more than ``idle_timeout`` seconds (:class:`~.common.PoolRules`, the same
    rules as the asyncio pool; without a background thread, an idle
    connection is closed when the pool is next used). Use as a context
    manager or call :meth:`close`.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int | None = None,
        *,
        pool_size: int = 1,
        idle_timeout: float = 60.0,
        **options: Unpack[SMTPOptions],
    ) -> None:
        self.settings = make_settings(host, port, **options)
        self.pool_size = checked_pool_size(pool_size)
        self.idle_timeout = idle_timeout
        self._rules = PoolRules(self.settings, idle_timeout)
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()  # guards _idle
        self._slots = threading.BoundedSemaphore(pool_size)
        self._closed = False
        self.connections_opened = 0
        #: replaced in tests; the pause between retries
        self._sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        s = self.settings
        return f"SMTPTransport({s.host!r}, {s.port}, security={s.security!r})"

    # -- connection management ---------------------------------------------------

    def connect(self) -> None:
        """Open a connection now (otherwise the first send does) and keep it."""
        with self._slots:
            self._release(self._acquire())

    def _acquire(self) -> _Connection:
        """An idle connection that still works, or a new one (caller holds a slot)."""
        self._reap()
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = connect(self.settings)
                with self._lock:
                    self.connections_opened += 1
                return conn
            closed = conn.proto.closed
            verdict = self._rules.on_take(
                closed=closed,
                quiet=not closed and conn.quiet(),
                idle_for=time.monotonic() - conn.last_used,
            )
            if verdict == "noop":
                try:
                    conn.run(conn.proto.noop())  # RFC 5321 §4.1.1.9: is it still there?
                except (ConnectionLost, SMTPResponseError):
                    verdict = "drop"
            if verdict == "drop":
                conn.close(polite=False)
            elif verdict == "quit":
                conn.close(polite=True)
            else:
                return conn

    def _release(self, conn: _Connection) -> None:
        verdict = self._rules.on_release(
            closed=conn.proto.closed, messages=conn.messages, shutting_down=self._closed
        )
        if verdict == "drop":
            conn.close(polite=False)
        elif verdict == "quit":
            conn.close(polite=True)
        else:
            conn.last_used = time.monotonic()
            with self._lock:
                self._idle.append(conn)

    def _reap(self) -> None:
        """QUIT and close the idle connections past ``idle_timeout`` (what the
        asyncio pool's timer does; here whenever a sender takes a connection)."""
        now = time.monotonic()
        with self._lock:
            expired = [c for c in self._idle if self._rules.expired(now - c.last_used)]
            self._idle = [c for c in self._idle if c not in expired]
        for conn in expired:
            conn.close(polite=not conn.proto.closed)

    def close(self) -> None:
        """QUIT and close the idle connections (idempotent); connections in use
        by other threads close when their send ends. The transport can be
        used again afterwards (it reconnects)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close(polite=True)

    # -- sending -------------------------------------------------------------------

    def send(
        self,
        message: Message | bytes,
        *,
        envelope: Envelope | None = None,
        dsn: DSNOptions | None = None,
    ) -> SendResult:
        """Deliver one message (see :class:`~mimekit.transports.base.Transport`).

        Returns the per-recipient result (partial acceptance included, with
        the queue id from the final reply); raises
        :class:`~mimekit.transports.errors.RecipientsRefused` when every
        recipient was refused.
        """
        check_message_type(message)
        data, env, message_id = prepare_send(message, envelope)
        return self._deliver(SendJob(self.settings, data, env, dsn, message_id, crlf=True))

    def send_raw(
        self,
        data: bytes,
        envelope: Envelope,
        *,
        dsn: DSNOptions | None = None,
        message_id: str | None = None,
    ) -> SendResult:
        """Send ``data`` exactly as given (line endings normalized to CRLF and
        dot-stuffed on the wire) to ``envelope``; no parsing, no Bcc removal.
        For relays and benchmarks; :meth:`send` is the safe default."""
        check_raw(data, "send_raw()")
        return self._deliver(SendJob(self.settings, data, envelope, dsn, message_id))

    def send_many(
        self, messages: Iterable[Message | bytes | tuple[Message | bytes, Envelope]]
    ) -> list[SendResult]:
        """Deliver several messages in order over one connection (see
        :meth:`~mimekit.transports.base.Transport.send_many`: stops at the
        first failure, which is raised; the messages before it were sent, none
        after it). With PIPELINING the next message's commands travel with the
        previous message's data (RFC 2920 §3.1): one round trip per message
        (:func:`~.common.send_many_flow` has the failure rules). An item may
        be a ``(message, envelope)`` pair, as ``send(message, envelope=...)``:
        raw bytes without a Bcc field are then not parsed at all."""
        jobs, error = make_jobs(self.settings, messages)
        results = self._run_flow(send_many_flow(jobs)) if jobs else []
        if error is not None:
            raise error
        return results

    def _deliver(self, job: SendJob) -> SendResult:
        """Run the send loop for ``job`` on a pool slot."""
        return self._run_flow(send_flow(job))

    def _run_flow(self, flow: Generator[PoolOp, object, T]) -> T:
        with self._slots:
            return self._pump(flow)

    def _pump(self, flow: Generator[PoolOp, object, T]) -> T:
        """Perform the operations of a :func:`~.common.send_flow` (which makes
        every decision): the I/O half of the send loop."""
        value: object = None
        error: BaseException | None = None
        while True:
            try:
                op = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                result: T = stop.value
                return result
            value, error = None, None
            try:
                if isinstance(op, Acquire):
                    value = self._acquire()
                elif isinstance(op, Pause):
                    self._sleep(op.seconds)
                else:
                    conn = cast(_Connection, op.conn)
                    if isinstance(op, Transact):
                        value = conn.run(op.step)
                    elif isinstance(op, Release):
                        self._release(conn)
                    else:
                        conn.close(polite=isinstance(op, Quit))  # Quit or Abort
            except BaseException as exc:  # noqa: BLE001 - handed to the flow, which decides
                error = exc
