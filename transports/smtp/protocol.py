"""Sans-I/O SMTP client: the whole protocol, no sockets.

This module owns every rule of the SMTP dialogue (RFC 5321 and its service
extensions) and performs no I/O: it imports no ``socket``, ``ssl`` or
``asyncio`` (a test checks this), so the synchronous and the asyncio drivers
share one implementation and the protocol can be tested byte by byte.

Each operation (:meth:`SMTPClientProtocol.open_session`,
:meth:`~SMTPClientProtocol.transaction`, ...) is a generator that *yields
actions* for the driver and receives the I/O results back:

- :class:`Send` -- write these bytes; the driver sends back ``b""``;
- :class:`Receive` -- read some bytes; the driver sends back what it read
  (``b""`` means the server closed the connection);
- :class:`StartTLS` -- wrap the connection in TLS now; the driver sends back ``b""``.

The generator's return value (``StopIteration.value``) is the operation's result.
Errors are raised as :mod:`mimekit.transports.errors` exceptions.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Generator, Sequence
from typing import TypeVar

import attrs
from mimekit.transports.errors import (
    AuthenticationError,
    ConnectionLost,
    InvalidEnvelope,
    SMTPResponseError,
    TLSError,
)
from mimekit.transports.smtp import sasl
from mimekit.transports.smtp.batch import (
    BDAT_PIPELINE_LIMIT,
    PIPELINE_WINDOW,
    Batch,
    TxRequest,
    run_transactions,
)
from mimekit.transports.smtp.envelope import prepare_envelope
from mimekit.transports.smtp.envelope import size_limit as _size_limit
from mimekit.transports.smtp.wire import (
    ConnectionRefused,
    DeliveryStatusUnknown,
    DSNOptions,
    GreetingTimeout,
    NotSMTPServer,
    RcptReply,
    Reply,
    ReplyParser,
    SMTPNotSupportedError,
    SMTPProtocolError,
    Transaction,
    check_param,
    dot_stuff,
    has_8bit_headers,
    normalize_line_endings,
    parse_queue_id,
    xtext,
)

__all__ = [
    "BDAT_PIPELINE_LIMIT",
    "PIPELINE_WINDOW",
    "Batch",
    "ConnectionRefused",
    "DSNOptions",
    "DeliveryStatusUnknown",
    "GreetingTimeout",
    "NotSMTPServer",
    "RcptReply",
    "Receive",
    "Reply",
    "ReplyParser",
    "SMTPClientProtocol",
    "SMTPNotSupportedError",
    "SMTPProtocolError",
    "Send",
    "StartTLS",
    "Transaction",
    "TxRequest",
    "check_local_hostname",
    "check_param",
    "dot_stuff",
    "has_8bit_headers",
    "normalize_line_endings",
    "parse_queue_id",
    "xtext",
]

#: Hints naming both the Python keyword and the transport URL form of an option.
TLS_HINT = "smtps:// / security='tls'"
PLAINTEXT_AUTH_HINT = (
    "allow_plaintext_auth=True, or smtp://...?allow_plaintext_auth=1 in a URL"
)

log = logging.getLogger("mimekit.smtp")

T = TypeVar("T")


# ---------------------------------------------------------------- actions


@attrs.frozen
class Send:
    """Write ``data`` to the connection."""

    data: bytes


@attrs.frozen
class Receive:
    """Read bytes from the server. ``data_phase`` is true while waiting for the
    reply to the end of the message data (RFC 5321 §4.5.3.2.6 allows that one
    10 minutes), so the driver can apply its longer data timeout.

    ``continued`` is true when this read is not the first for the same reply:
    the driver then keeps the deadline the first read of that reply set
    instead of starting a new one, so the timeout bounds the whole reply, not
    each read (a server that drips a reply a byte at a time, or an endless
    multiline reply, must not hold the client for longer than the timeout)."""

    data_phase: bool = False
    continued: bool = False


@attrs.frozen
class StartTLS:
    """Upgrade the connection to TLS now (RFC 3207 §4)."""


Action = Send | Receive | StartTLS
Step = Generator[Action, bytes, T]

# ---------------------------------------------------------------- the state machine


def check_local_hostname(name: str) -> str:
    """``name`` if it can follow EHLO/HELO, else :class:`InvalidEnvelope`:
    no CR, LF, NUL or white space (command injection, RFC 5321 §2.3.8), and
    ASCII only (RFC 5321 §4.1.1.1 / RFC 6531 §3.2: a domain in A-labels or an
    address literal, never raw UTF-8)."""
    check_param(name, "local host name")
    if not name or not name.isascii():
        raise InvalidEnvelope(f"local host name {name!r} must be ASCII "
                              "(an IDNA A-label or an address literal)")
    return name


class SMTPClientProtocol:
    """One SMTP client connection's protocol state.

    ``local_hostname`` is the name sent with EHLO/HELO. ``tls_active`` is true
    from the start for implicit TLS (RFC 8314 §3.3).
    """

    def __init__(self, local_hostname: str, *, tls_active: bool = False) -> None:
        check_local_hostname(local_hostname)
        self.local_hostname = local_hostname
        self.tls_active = tls_active
        #: TLS is active but no reply came over it yet: a server that requires a
        #: client certificate ends the session here (TLS 1.3 tells the client
        #: only after the client's side of the handshake completed)
        self.tls_unconfirmed = tls_active
        self.parser = ReplyParser()
        self.esmtp = False
        self.capabilities: dict[str, str] = {}
        self.authenticated = False
        self.closed = False
        self.data_committed = False
        #: true while an AUTH exchange is under way: a connection failure then
        #: must not be retried (a retry would send the credentials again)
        self.authenticating = False
        self.greeting: Reply | None = None

    # -- low level ---------------------------------------------------------

    def _read(self, *, data_phase: bool = False) -> Step[Reply]:
        continued = False
        while True:
            reply = self.parser.next_reply()
            if reply is not None:
                break
            chunk = yield Receive(data_phase, continued)
            continued = True
            if not chunk:
                self.closed = True
                raise ConnectionLost("the server closed the connection")
            self.parser.feed(chunk)
            if self.greeting is None:
                self._check_greeting_bytes()
        self.tls_unconfirmed = False
        if log.isEnabledFor(logging.DEBUG):
            pre = f"{reply.enhanced} " if reply.enhanced else ""
            last = len(reply.lines) - 1
            for i, line in enumerate(reply.lines):
                log.debug("S: %d%s%s%s", reply.code, " " if i == last else "-", pre, line)
        if reply.code == 421:
            # RFC 5321 §3.8: 421 may come in reply to any command; the server closes
            self.closed = True
            raise reply.error()
        return reply

    def _check_greeting_bytes(self) -> None:
        """Before the greeting: refuse bytes that are no SMTP reply but say what
        the peer is (RFC 5321 §4.2: a reply starts with three digits), so the
        error names the likely fix instead of "malformed reply" or a timeout
        waiting for a line end a binary record never has."""
        head = self.parser.head(8)
        # RFC 8446 §5.1 / RFC 5246 §6.2.1: a TLS record starts with its content
        # type (22 handshake, 21 alert) and the legacy version 3.x.
        if not self.tls_active and len(head) >= 2 and head[0] in (21, 22) and head[1] == 3:
            self.closed = True
            raise NotSMTPServer(
                "sent a TLS record instead of an SMTP greeting (an implicit-TLS port? "
                f"use {TLS_HINT})"
            )
        if head.startswith(b"HTTP/"):  # RFC 9112 §4: status-line = HTTP-version SP ...
            self.closed = True
            raise NotSMTPServer(
                "sent an HTTP reply instead of an SMTP greeting (an HTTP port, not "
                "an SMTP server: check the host and port)"
            )

    def _send(self, data: bytes, shown: str | None = None) -> Send:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "C: %s", shown if shown is not None else data.decode("utf-8", "replace").rstrip()
            )
        return Send(data)

    def _encode(self, line: str) -> bytes:
        # RFC 6531 §3.2: UTF-8 in commands only once SMTPUTF8 is used; callers check
        return line.encode("utf-8") + b"\r\n"

    def command(self, line: str, *, shown: str | None = None) -> Step[Reply]:
        """Send one command line and read its reply."""
        yield self._send(self._encode(line), shown)
        return (yield from self._read())

    def has(self, keyword: str) -> bool:
        """True if the last EHLO advertised ``keyword`` (upper case)."""
        return keyword in self.capabilities

    @property
    def size_limit(self) -> int | None:
        """The SIZE the server declared (RFC 1870 §4), ``None`` if none or 0 (no limit)."""
        return _size_limit(self.capabilities)

    @property
    def auth_mechanisms(self) -> tuple[str, ...]:
        """SASL mechanisms offered with AUTH (RFC 4954 §3)."""
        return tuple(self.capabilities.get("AUTH", "").upper().split())

    # -- session setup -----------------------------------------------------

    def read_greeting(self) -> Step[Reply]:
        """Read the 220 greeting (RFC 5321 §4.3.1; 554 means no service)."""
        reply = yield from self._read()
        self.greeting = reply
        if reply.code != 220:
            self.closed = True
            raise reply.error()
        return reply

    def ehlo(self) -> Step[Reply]:
        """EHLO, falling back to HELO when the server does not know EHLO
        (RFC 5321 §3.2). Fills :attr:`capabilities` from scratch."""
        self.capabilities = {}
        self.esmtp = False
        reply = yield from self.command(f"EHLO {self.local_hostname}")
        if reply.ok:
            self.esmtp = True
            self.capabilities = _parse_ehlo(reply)
            return reply
        if reply.code in (500, 501, 502, 504, 550):
            reply = yield from self.command(f"HELO {self.local_hostname}")
            if reply.ok:
                return reply
        raise reply.error()

    def starttls(self) -> Step[None]:
        """STARTTLS (RFC 3207 §4). After the 220, every byte already buffered
        from the server is discarded and the capabilities forgotten; EHLO is
        sent again inside TLS (§4.2; case c22: injected plaintext replies are
        never read)."""
        reply = yield from self.command("STARTTLS")
        if reply.code != 220:
            raise TLSError(f"the server refused STARTTLS: {reply}")
        if self.parser.buffered:
            log.warning(
                "discarding %d bytes the server sent after its 220 to STARTTLS",
                self.parser.buffered,
            )
        self.parser.clear()
        self.capabilities = {}
        self.esmtp = False
        yield StartTLS()
        self.tls_active = True
        self.tls_unconfirmed = True
        yield from self.ehlo()

    def open_session(
        self,
        *,
        security: str,
        credentials: sasl.Credentials | None = None,
        allow_plaintext_auth: bool = False,
        auth_mechanism: str | None = None,
    ) -> Step[None]:
        """Greeting, EHLO, STARTTLS as ``security`` demands, then AUTH.

        ``security``: ``"tls"`` (already encrypted), ``"starttls"`` (required:
        :class:`TLSError` and nothing else sent when not offered),
        ``"starttls-opportunistic"`` (used when offered) or ``"none"``.
        """
        yield from self.read_greeting()
        yield from self.ehlo()
        if security in ("starttls", "starttls-opportunistic") and not self.tls_active:
            if self.has("STARTTLS"):
                try:
                    yield from self.starttls()
                except TLSError:
                    if security == "starttls":
                        raise
                    log.warning("STARTTLS refused; mail goes out in plain text "
                                "(opportunistic; smtp+starttls:// requires TLS)")
            elif security == "starttls":
                raise TLSError(
                    "the server does not offer STARTTLS and security='starttls' requires it "
                    "(nothing was sent; to allow plain text use "
                    "security='starttls-opportunistic', or "
                    "smtp://...?security=starttls-opportunistic in a URL)"
                )
            else:
                # An on-path attacker can strip STARTTLS from EHLO: say so where it shows.
                log.warning("the server does not offer STARTTLS; mail goes out in plain text "
                            "(opportunistic; smtp+starttls:// requires TLS)")
        if credentials is not None:
            yield from self.authenticate(
                credentials, allow_plaintext=allow_plaintext_auth, mechanism=auth_mechanism
            )

    # -- AUTH ----------------------------------------------------------------

    def authenticate(
        self,
        credentials: sasl.Credentials,
        *,
        allow_plaintext: bool = False,
        mechanism: str | None = None,
    ) -> Step[Reply]:
        """AUTH with the best mechanism both sides support (RFC 4954).

        Never over an unencrypted connection unless ``allow_plaintext``. The
        protocol log shows neither the credentials nor our SASL responses.
        """
        if not self.tls_active and not allow_plaintext:
            raise TLSError(
                "refusing to send credentials over an unencrypted connection "
                f"(use TLS, or {PLAINTEXT_AUTH_HINT})"
            )
        offered = self.auth_mechanisms
        if not offered:
            raise AuthenticationError(0, None, "the server does not offer AUTH (RFC 4954)")
        mech = sasl.choose(
            offered,
            credentials,
            encrypted=self.tls_active,
            preferred=mechanism,
            host=credentials.host,
        )
        initial = mech.initial_response()
        self.authenticating = True  # reset only when the exchange is over (see io_failure)
        line = f"AUTH {mech.name}"
        if initial is not None:
            # RFC 4954 §4: a zero-length initial response is sent as "="
            line += " " + (base64.b64encode(initial).decode("ascii") or "=")
        try:
            reply = yield from self._sasl_exchange(mech, line)
        except SMTPResponseError as exc:
            if isinstance(exc, AuthenticationError):
                raise
            # A 421 in the middle of AUTH (RFC 5321 §3.8; "too many failed logins"):
            # the credentials were sent, so it is an authentication failure, never
            # retried (a retry would send them again; see common.io_failure).
            raise AuthenticationError(exc.code, exc.enhanced, exc.text) from None
        self.authenticating = False
        if reply.code != 235:
            detail = mech.failure_detail()
            text = f"{reply.text} ({mech.name}: {detail})" if detail else reply.text
            raise AuthenticationError(reply.code, reply.enhanced, text)
        try:
            mech.success(_maybe_b64(reply.text))
        except sasl.SASLError as exc:
            self.closed = True  # we do not trust this server: drop the connection
            raise AuthenticationError(reply.code, reply.enhanced, str(exc)) from exc
        self.authenticated = True
        return reply

    def _sasl_exchange(self, mech: sasl.Mechanism, line: str) -> Step[Reply]:
        """Send the AUTH command ``line`` and answer each 334 challenge of
        ``mech`` (RFC 4954 §4); returns the final reply."""
        reply = yield from self.command(line, shown=f"AUTH {mech.name} [redacted]")
        rounds = 0
        while reply.code == 334:
            rounds += 1
            if rounds > 10:
                raise AuthenticationError(0, None, "too many SASL challenges")
            raw = reply.lines[-1].strip() if reply.lines else ""
            try:
                challenge = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                yield from self.command("*")  # RFC 4954 §4: cancel the exchange
                raise AuthenticationError(0, None, "the server sent a challenge that is not base64")
            try:
                answer = mech.respond(challenge)
            except sasl.SASLError as exc:
                yield from self.command("*")
                raise AuthenticationError(0, None, str(exc)) from exc
            reply = yield from self.command(
                base64.b64encode(answer).decode("ascii"), shown="[redacted SASL response]"
            )
        return reply

    # -- mail transaction --------------------------------------------------------

    def transaction(
        self,
        data: bytes,
        mail_from: str,
        rcpt_to: Sequence[str],
        *,
        dsn: DSNOptions | None = None,
        downgrade: Callable[[bytes, bool], bytes] | None = None,
        chunking: bool = True,
        crlf: bool = False,
    ) -> Step[Transaction]:
        """One mail transaction (RFC 5321 §3.3): MAIL, RCPT..., DATA.

        ``data`` gets CRLF line ends (RFC 5321 §2.3.8) unless ``crlf`` says the
        caller already made them so (``send()`` does, before it looks for Bcc):
        that skips a pass over the data, and must never be claimed otherwise.

        With PIPELINING (RFC 2920 §3.1) MAIL, every RCPT and DATA go in one
        write (in groups of :data:`PIPELINE_WINDOW` commands when there are
        more recipients). The message is refused before MAIL when it exceeds the
        advertised SIZE (RFC 1870 §6). 8-bit data is declared BODY=8BITMIME
        (RFC 6152 §3) or, without that extension, re-encoded by ``downgrade``.
        Any failure before the data is sent leaves the session reset (RSET) and
        reusable. :attr:`data_committed` becomes true just before the end of
        the data is written: from then on a resend could duplicate the message.
        """
        self.data_committed = False
        body = data if crlf else normalize_line_endings(data)
        params, rcpt_lines, body = prepare_envelope(
            self.capabilities, body, mail_from, rcpt_to, dsn, downgrade)
        mail_line = f"MAIL FROM:<{mail_from}>" + "".join(" " + p for p in params)
        if chunking and self.has("CHUNKING"):
            return (yield from self._bdat(mail_line, rcpt_lines, rcpt_to, body))
        if self.has("PIPELINING"):
            mail_reply, replies, data_reply = yield from self._pipelined(
                mail_line, rcpt_lines, "DATA"
            )
        else:
            mail_reply = yield from self.command(mail_line)
            replies = []
            if mail_reply.ok:
                for line in rcpt_lines:
                    replies.append((yield from self.command(line)))
            data_reply = None
            if mail_reply.ok and any(r.ok for r in replies):
                data_reply = yield from self.command("DATA")
        rcpts = tuple(RcptReply(a, r) for a, r in zip(rcpt_to, replies))
        if (
            not mail_reply.ok
            or not any(r.reply.ok for r in rcpts)
            or (data_reply is not None and data_reply.code != 354)
        ):
            if data_reply is not None and data_reply.code == 354:
                # RFC 2920 §3.1: DATA was accepted though nothing else was; end it empty
                yield self._send(b".\r\n")
                yield from self._read(data_phase=True)
            yield from self.rset()
            if not mail_reply.ok:
                raise mail_reply.error()
            if any(r.reply.ok for r in rcpts) and data_reply is not None:
                raise data_reply.error()
            return Transaction(rcpts, None)
        # RFC 5321 §4.5.2 transparency + §4.1.1.4 terminator
        self.data_committed = True
        yield self._send(dot_stuff(body), f"[{len(body)} octets of message data]\n   .")
        final = yield from self._read(data_phase=True)
        if not final.ok:
            raise final.error()
        return Transaction(rcpts, final)

    def _pipelined(
        self, mail_line: str, rcpt_lines: Sequence[str], last: str | None
    ) -> Step[tuple[Reply, list[Reply], Reply | None]]:
        """MAIL, the RCPTs and ``last`` (``DATA``, or ``None``) pipelined
        (RFC 2920 §3.1) in groups of at most :data:`PIPELINE_WINDOW` commands,
        each group's replies read before the next group is written (no
        deadlock with a server that stops reading while its replies are
        unread). ``DATA`` ends the last group, as RFC 2920 §3.1 requires.
        Once MAIL is refused, no further group is sent (each would be refused:
        RFC 5321 §4.1.4, no transaction). Returns the replies to MAIL, to the
        RCPTs that were sent and to ``last`` (``None`` if it was not sent)."""
        lines = [mail_line, *rcpt_lines, *((last,) if last is not None else ())]
        got: list[Reply] = []
        for start in range(0, len(lines), PIPELINE_WINDOW):
            group = lines[start : start + PIPELINE_WINDOW]
            yield self._send(b"".join(map(self._encode, group)), "\n   ".join(group))
            for _ in group:
                got.append((yield from self._read()))
            if not got[0].ok:
                break
        rcpts = got[1 : 1 + len(rcpt_lines)]
        final = got[len(lines) - 1] if last is not None and len(got) == len(lines) else None
        return got[0], rcpts, final

    def _bdat(
        self, mail_line: str, rcpt_lines: list[str], rcpt_to: Sequence[str], body: bytes
    ) -> Step[Transaction]:
        """The transaction with ``BDAT <size> LAST`` (RFC 3030 §2): the data is
        length-delimited, so no dot-stuffing. With PIPELINING the whole
        transaction is one write (RFC 3030 §4.2 allows pipelining BDAT): one
        round trip per message. The server reads the chunk even when it
        refused the sender or every recipient, and then refuses the BDAT.
        A body larger than :data:`BDAT_PIPELINE_LIMIT` waits for the MAIL and
        RCPT replies (sent in one write with PIPELINING) and is sent only if
        a recipient was accepted."""
        bdat = f"BDAT {len(body)} LAST"
        shown = f"{bdat}\n   [{len(body)} octets of message data]"
        replies: list[Reply] = []
        pipelining = self.has("PIPELINING")
        if (
            pipelining
            and len(body) <= BDAT_PIPELINE_LIMIT
            and len(rcpt_lines) + 2 <= PIPELINE_WINDOW
        ):
            head = b"".join(self._encode(x) for x in (mail_line, *rcpt_lines, bdat))
            self.data_committed = True
            yield self._send(head + body, "\n   ".join((mail_line, *rcpt_lines, shown)))
            try:
                mail_reply = yield from self._read()
                for _ in rcpt_lines:
                    replies.append((yield from self._read()))
            except SMTPResponseError as exc:
                if exc.code == 421:
                    # the server closed before its reply to BDAT: nothing was accepted
                    self.data_committed = False
                raise
            final: Reply | None = yield from self._read(data_phase=True)
        else:
            if pipelining:  # RFC 2920 §3.1: MAIL and the RCPTs in groups
                mail_reply, replies, _ = yield from self._pipelined(mail_line, rcpt_lines, None)
            else:
                mail_reply = yield from self.command(mail_line)
                if mail_reply.ok:
                    for line in rcpt_lines:
                        replies.append((yield from self.command(line)))
            final = None
            if mail_reply.ok and any(r.ok for r in replies):
                self.data_committed = True
                yield self._send(self._encode(bdat) + body, shown)
                final = yield from self._read(data_phase=True)
        rcpts = tuple(RcptReply(a, r) for a, r in zip(rcpt_to, replies))
        if not mail_reply.ok:
            self.data_committed = False  # refused: the chunk was read and discarded
            yield from self.rset()
            raise mail_reply.error()
        if not any(r.reply.ok for r in rcpts):
            self.data_committed = False
            yield from self.rset()
            return Transaction(rcpts, None)
        assert final is not None
        if not final.ok:
            # RFC 3030 §2: after an error reply to BDAT the transaction state is
            # indeterminate, so RSET before any other command, or give the connection up.
            try:
                yield from self.rset()
            except Exception:  # noqa: BLE001 - the refusal below is what the caller needs
                self.closed = True
            raise final.error()
        return Transaction(rcpts, final)

    def transactions(self, requests: Sequence[TxRequest], batch: Batch) -> Step[None]:
        """Several transactions on this connection, pipelined across messages:
        see :func:`mimekit.transports.smtp.batch.run_transactions`."""
        return (yield from run_transactions(self, requests, batch))

    # -- other commands --------------------------------------------------------

    def rset(self) -> Step[Reply]:
        """RSET: abort the current transaction (RFC 5321 §4.1.1.5)."""
        reply = yield from self.command("RSET")
        if not reply.ok:
            raise reply.error()
        return reply

    def noop(self) -> Step[Reply]:
        """NOOP: a health check (RFC 5321 §4.1.1.9)."""
        reply = yield from self.command("NOOP")
        if not reply.ok:
            raise reply.error()
        return reply

    def quit(self) -> Step[Reply]:
        """QUIT (RFC 5321 §4.1.1.10)."""
        self.closed = True
        return (yield from self.command("QUIT"))


def _parse_ehlo(reply: Reply) -> dict[str, str]:
    """Extensions from an EHLO reply (RFC 5321 §4.1.1.1): keyword -> parameters.
    The first line is the server's name. ``AUTH=`` (a pre-standard form) is
    merged into ``AUTH``."""
    caps: dict[str, str] = {}
    for line in reply.lines[1:]:
        keyword, _, rest = line.strip().partition(" ")
        keyword = keyword.upper()
        if not keyword:
            continue
        if keyword.startswith("AUTH="):
            rest = keyword[5:] + " " + rest
            keyword = "AUTH"
        if keyword in caps and keyword == "AUTH":
            caps[keyword] = (caps[keyword] + " " + rest).strip()
        else:
            caps[keyword] = rest.strip()
    return caps


def _maybe_b64(text: str) -> bytes | None:
    text = text.strip()
    if not text or " " in text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
