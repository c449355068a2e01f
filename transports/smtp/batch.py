"""Several messages on one connection, pipelined across messages (RFC 2920 §3.1).

:func:`run_transactions` is the sans-I/O operation behind ``send_many``: it drives an
:class:`~mimekit.transports.smtp.protocol.SMTPClientProtocol` through a batch of
:class:`TxRequest` values, writing the next message's commands behind this message's
data, and records each outcome in a :class:`Batch`. Like the protocol, it performs no
I/O: it yields the protocol's actions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs
from mimekit.transports.errors import SMTPResponseError, TransportError
from mimekit.transports.smtp.envelope import prepare_envelope
from mimekit.transports.smtp.wire import (
    DSNOptions,
    RcptReply,
    Reply,
    Transaction,
    dot_stuff,
    normalize_line_endings,
)

if TYPE_CHECKING:
    from mimekit.transports.smtp.protocol import Send, SMTPClientProtocol, Step

__all__ = ["BDAT_PIPELINE_LIMIT", "PIPELINE_WINDOW", "Batch", "TxRequest", "run_transactions"]

#: With PIPELINING, a ``BDAT ... LAST`` chunk up to this size goes in the same
#: write as MAIL and RCPT (RFC 3030 §4.2 allows it: one round trip). A larger
#: body waits for the MAIL/RCPT replies first, so it is never uploaded only to
#: be refused because every recipient was: one extra round trip, which is small
#: next to the time such a body takes to transfer (64 KiB is already more than
#: a fresh TCP connection's initial window, RFC 6928: 10 segments).
BDAT_PIPELINE_LIMIT = 64 * 1024

#: At most this many commands go in one pipelined write; the replies to one
#: group are read before the next group is written. RFC 2920 §3.1 leaves
#: avoiding deadlock to the client: a server may stop reading while its
#: replies wait to be read, and a client that only writes (thousands of RCPT
#: in one write) then blocks forever. 100 is the number of recipients a
#: server must accept in one transaction (RFC 5321 §4.5.3.1.8); the replies
#: to 100 commands fit in any socket buffer.
PIPELINE_WINDOW = 100


@attrs.frozen
class TxRequest:
    """One message for :func:`run_transactions`: the arguments
    of :meth:`SMTPClientProtocol.transaction`."""

    data: bytes
    mail_from: str
    rcpt_to: tuple[str, ...]
    dsn: DSNOptions | None = None
    downgrade: Callable[[bytes, bool], bytes] | None = attrs.field(default=None, eq=False)
    chunking: bool = True
    crlf: bool = False

    def run(self, proto: SMTPClientProtocol) -> Step[Transaction]:
        """:meth:`SMTPClientProtocol.transaction` for this message on ``proto``."""
        return proto.transaction(
            self.data,
            self.mail_from,
            self.rcpt_to,
            dsn=self.dsn,
            downgrade=self.downgrade,
            chunking=self.chunking,
            crlf=self.crlf,
        )


@attrs.define
class Batch:
    """The progress of :func:`run_transactions`, kept outside the
    generator so the caller still has it when the operation failed.

    ``done``: one :class:`Transaction` per message whose outcome is known, in
    order (a refused one, ``final is None``, is the last). ``failure``: the
    error of message number ``len(done)``, set as soon as its reply is read,
    *before* any clean-up of the next message: if the clean-up then fails,
    the error the caller sees is still attributed to the right message.
    """

    done: list[Transaction] = attrs.Factory(list)
    failure: TransportError | None = None


@attrs.frozen
class _Prepared:
    """A message ready for the wire: its commands and its data."""

    rcpt_to: tuple[str, ...]
    mail_line: str
    rcpt_lines: tuple[str, ...]
    chunking: bool
    body: bytes  # dot-stuffed with the terminator (DATA), or as is (BDAT)

    @property
    def head(self) -> tuple[str, ...]:
        """The commands before the data; with DATA, DATA itself is the last of
        the group (RFC 2920 §3.1: the client waits for 354 before the data)."""
        if self.chunking:
            return (self.mail_line, *self.rcpt_lines)
        return (self.mail_line, *self.rcpt_lines, "DATA")


def run_transactions(proto: SMTPClientProtocol, requests: Sequence[TxRequest],
                     batch: Batch) -> Step[None]:
    """Several mail transactions in order on this connection, recording
    each outcome in ``batch`` (see :class:`Batch`); stops after the first
    message that is not accepted (its error is raised, or, when every
    recipient was refused, its :class:`Transaction` with ``final=None`` is
    the last of ``batch.done``).

    With PIPELINING the next message's commands go in the same write as
    this message's data: RFC 2920 §3.1 allows the message content as the
    first "command" of a group, so the group is ``<data of N> MAIL RCPT...
    DATA`` (or ``BDAT <N> LAST + data, MAIL, RCPT...`` with CHUNKING,
    RFC 3030 §4.2): one round trip per message with DATA or BDAT. Replies
    are read in order, so each belongs to exactly one message:

    - the reply to the end of N's data is N's (a 4xx/5xx fails N only);
    - a message's data is sent only after its MAIL and RCPT replies (and
      the 354 to DATA) were read, so a refused sender or recipients never
      get its data, and at most one message is ever "sent, reply pending":
      :attr:`data_committed` is true exactly while that is so;
    - a message refused before anything is sent (SIZE, SMTPUTF8,
      8BITMIME: :class:`TransportError`) is found before its commands are
      written; the message before it still completes.

    When N fails while N+1's commands are already on the wire, N+1 is
    abandoned: RSET (after the lone "." of RFC 2920 §3.1 when its DATA got
    354 with no recipient accepted). If its DATA got 354 *with* accepted
    recipients, ending the data would deliver an empty message, so the
    connection is marked closed instead (the driver drops it; without the
    end-of-data indication, RFC 5321 §4.1.1.4, there is no message).
    Without PIPELINING, or when a message has more recipients than fit in
    one group (:data:`PIPELINE_WINDOW`), the messages go one
    :meth:`SMTPClientProtocol.transaction` at a time.
    """
    proto.data_committed = False
    if not proto.has("PIPELINING") or any(
        len(r.rcpt_to) + 2 > PIPELINE_WINDOW for r in requests
    ):
        # one transaction at a time (each pipelined on its own, in windows)
        for req in requests:
            tx = yield from req.run(proto)
            batch.done.append(tx)
            if tx.final is None:
                return
        return
    if not requests:
        return
    nxt: _Prepared | None = _prepared(proto, requests[0])  # raises before any I/O
    pending: _Prepared | None = None  # accepted; its data leads the next write
    pending_rcpts: tuple[RcptReply, ...] = ()
    refused_early: TransportError | None = None  # the message after it, not sendable
    index = 0
    assert nxt is not None
    out, shown = _encode_head(proto, nxt)
    tail: Send | None = None  # the next commands, written apart from a large body
    while True:
        if pending is not None:
            proto.data_committed = True  # the end of pending's data goes out now
        yield proto._send(out, shown)
        if tail is not None:
            yield tail
            tail = None
        if pending is not None:
            final = yield from proto._read(data_phase=True)
            proto.data_committed = False  # its outcome is known
            if not final.ok:
                error = final.error()
                batch.failure = error  # pending's, whatever the clean-up below does
                if nxt is not None:
                    yield from _abandon(proto, nxt)
                elif pending.chunking:
                    # RFC 3030 §2: after an error reply to BDAT the state is
                    # indeterminate: RSET before anything else
                    yield from proto.rset()
                raise error
            batch.done.append(Transaction(pending_rcpts, final))
            pending = None
        if nxt is None:
            if refused_early is not None:
                batch.failure = refused_early
                raise refused_early
            return
        mail_reply, replies, data_reply = yield from _read_head(proto, nxt)
        rcpts = _zip_rcpts(nxt, replies)
        if (
            not mail_reply.ok
            or not any(r.reply.ok for r in rcpts)
            or (data_reply is not None and data_reply.code != 354)
        ):
            refusal: SMTPResponseError | None = None
            if not mail_reply.ok:
                refusal = mail_reply.error()
            elif any(r.reply.ok for r in rcpts) and data_reply is not None:
                refusal = data_reply.error()
            if refusal is not None:
                batch.failure = refusal
            else:
                batch.done.append(Transaction(rcpts, None))  # every recipient refused
            yield from _end_refused(proto, data_reply)
            if refusal is not None:
                raise refusal
            return
        # nxt is accepted: its data leads the next write, behind it the
        # commands of the message after it (if that one can be sent at all)
        pending, pending_rcpts = nxt, rcpts
        nxt = None
        index += 1
        if index < len(requests):
            try:
                nxt = _prepared(proto, requests[index])
            except TransportError as exc:
                refused_early = exc
        data_shown = f"[{len(pending.body)} octets of message data]" + (
            "" if pending.chunking else "\n   ."
        )
        if nxt is None:
            out, shown = pending.body, data_shown
        else:
            head, head_shown = _encode_head(proto, nxt)
            if len(pending.body) > BDAT_PIPELINE_LIMIT:
                # two writes, no copy of a large body; still no wait in between
                out, shown = pending.body, data_shown
                tail = proto._send(head, head_shown)
            else:
                out, shown = pending.body + head, data_shown + "\n   " + head_shown

def _prepared(proto: SMTPClientProtocol, req: TxRequest) -> _Prepared:
    """``req`` checked and encoded for this server (raises what
    :func:`~mimekit.transports.smtp.envelope.prepare_envelope` raises, before anything is sent)."""
    body = req.data if req.crlf else normalize_line_endings(req.data)
    params, rcpt_lines, body = prepare_envelope(
        proto.capabilities, body, req.mail_from, req.rcpt_to, req.dsn, req.downgrade
    )
    mail_line = f"MAIL FROM:<{req.mail_from}>" + "".join(" " + p for p in params)
    if req.chunking and proto.has("CHUNKING"):
        # RFC 3030 §2: length-delimited, no dot-stuffing
        wire = proto._encode(f"BDAT {len(body)} LAST") + body
        return _Prepared(tuple(req.rcpt_to), mail_line, tuple(rcpt_lines), True, wire)
    # RFC 5321 §4.5.2 transparency + §4.1.1.4 terminator
    return _Prepared(tuple(req.rcpt_to), mail_line, tuple(rcpt_lines), False, dot_stuff(body))

def _encode_head(proto: SMTPClientProtocol, p: _Prepared) -> tuple[bytes, str]:
    return b"".join(map(proto._encode, p.head)), "\n   ".join(p.head)

def _read_head(proto: SMTPClientProtocol,
               p: _Prepared) -> Step[tuple[Reply, list[Reply], Reply | None]]:
    """The replies to ``p``'s MAIL, each RCPT and (with DATA) DATA, in order."""
    mail_reply = yield from proto._read()
    replies = []
    for _ in p.rcpt_lines:
        replies.append((yield from proto._read()))
    data_reply = None if p.chunking else (yield from proto._read())
    return mail_reply, replies, data_reply

def _end_refused(proto: SMTPClientProtocol, data_reply: Reply | None) -> Step[None]:
    """Leave a refused transaction: the lone "." when DATA was accepted
    anyway (RFC 2920 §3.1; only called when no recipient was accepted or
    the sender was refused), then RSET (RFC 5321 §4.1.1.5)."""
    if data_reply is not None and data_reply.code == 354:
        yield proto._send(b".\r\n")
        yield from proto._read(data_phase=True)
    yield from proto.rset()

def _abandon(proto: SMTPClientProtocol, p: _Prepared) -> Step[None]:
    """Read the replies to ``p``'s commands, already sent, and cancel its
    transaction without sending its data (see :func:`run_transactions`)."""
    mail_reply, replies, data_reply = yield from _read_head(proto, p)
    accepted = mail_reply.ok and any(r.ok for r in replies)
    if data_reply is not None and data_reply.code == 354 and accepted:
        # the only ways out of the data phase are the end of data (which
        # would deliver an empty message) or closing the connection
        proto.closed = True
        return
    yield from _end_refused(proto, data_reply)


def _zip_rcpts(p: _Prepared, replies: Sequence[Reply]) -> tuple[RcptReply, ...]:
    return tuple(RcptReply(a, r) for a, r in zip(p.rcpt_to, replies))
