"""The in-memory transport: an outbox for tests.

:class:`MemoryTransport` runs the same :func:`~mimekit.transports.base.prepare`
step as the real transports (Bcc removed, the envelope derived and checked,
bad envelopes refused with the same errors), then keeps what "was sent" in an
:class:`Outbox` with assertion helpers. Refusals can be simulated per
recipient, producing the same partial :class:`SendResult` or
:class:`RecipientsRefused` an SMTP server would.

With ``path=DIR`` the outbox lives in a directory instead (one ``.eml`` plus
one ``.json`` per message, written atomically), so a message sent by another
process (a CLI run with ``MIMEKIT_TRANSPORT=memory:DIR``, a worker) can be
asserted on by the test process. Every read lists the directory again (so new
messages from other processes show up at once) but reads and parses each
stored file only once: entries are cached by file name and
``(mtime, size, inode)``, and a :class:`SentMessage` parses its bytes only
when ``.message`` is first used.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, overload

import attrs
from mimekit.transports.base import (
    AsyncTransport,
    Envelope,
    RecipientResult,
    SendResult,
    Transport,
    check_message_type,
    prepare_wire,
)
from mimekit.transports.errors import MessageTooLarge, RecipientsRefused, TransportError
from mimekit.transports.file import atomic_write, ensure_folder

if TYPE_CHECKING:
    from mimekit.model import Message

__all__ = ["MemoryTransport", "Outbox", "SentMessage"]

Refusal = tuple[int, "str | None", str]


def _parse(data: bytes) -> Message:
    from mimekit.parser import parse

    return parse(data)


# Serializes the lazy parse in SentMessage.message, so two threads reading the same
# item get the same Message object (and the bytes are parsed once).
_PARSE_LOCK = threading.Lock()


@attrs.frozen
class SentMessage:
    """One message in an :class:`Outbox`.

    ``data`` is the exact wire bytes (no Bcc), ``message`` those bytes parsed
    (what a recipient would see), ``envelope`` the envelope used and
    ``result`` the :class:`SendResult` the sender got back.

    ``message`` may be given as None: the bytes are then parsed on first use
    of ``.message`` and kept, so filters on the envelope or the result (and
    ``len(outbox)``) never parse anything. Equality ignores the parsed form
    (it is a function of ``data``).
    """

    _message: Message | None = attrs.field(eq=False, repr=False)
    data: bytes
    envelope: Envelope
    result: SendResult

    @property
    def message(self) -> Message:
        """``data`` parsed (once; later reads return the same object)."""
        parsed = self._message
        if parsed is None:
            with _PARSE_LOCK:
                parsed = self._message
                if parsed is None:
                    parsed = _parse(self.data)
                    object.__setattr__(self, "_message", parsed)  # a cache, not a change
        return parsed

    @property
    def subject(self) -> str | None:
        """The decoded Subject, or None."""
        value = self.message.headers.get("subject")
        return value if isinstance(value, str) else None

    @property
    def recipients(self) -> tuple[str, ...]:
        """Envelope recipients that were accepted (Bcc included, refused ones not)."""
        return self.result.accepted


def _matches_text(actual: str | None, wanted: object) -> bool:
    if actual is None:
        return False
    if isinstance(wanted, re.Pattern):
        return wanted.search(actual) is not None
    if callable(wanted):
        return bool(wanted(actual))
    return actual == wanted


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value]
    raise TypeError(f"expected an address or a list of addresses, not {type(value).__name__}")


def _body_text(message: Message) -> str:
    chunks: list[str] = []
    for part in message.walk():
        if part.is_multipart or part.is_attachment:
            continue
        if part.content_type.maintype == "text":
            try:
                chunks.append(part.get_text())
            except Exception:  # noqa: BLE001, S112 - a broken part in a test message: skip it
                continue
    return "\n".join(chunks)


_FILTERS = ("subject", "to", "from_", "mail_from", "contains", "header", "where")


def _check_filters(filters: Mapping[str, object]) -> None:
    """Refuse a misspelt or malformed filter before any message is looked at: checked
    per message only, ``assert_not_sent(subjet="x")`` on an empty outbox (or one whose
    messages fail an earlier filter) would pass without ever reading the typo."""
    for key, wanted in filters.items():
        if key not in _FILTERS:
            raise TypeError(f"unknown filter {key!r}; use one of {', '.join(_FILTERS)}")
        if key == "header" and not (isinstance(wanted, tuple) and len(wanted) == 2):
            raise TypeError("header= takes a (name, value) pair")
        if key == "to":
            _as_list(wanted)
        if key == "where" and not callable(wanted):
            raise TypeError("where= takes a predicate on the SentMessage")


def _match(item: SentMessage, filters: Mapping[str, object]) -> bool:
    for key, wanted in filters.items():
        if key == "subject":
            if not _matches_text(item.subject, wanted):
                return False
        elif key == "to":
            got = {a.lower() for a in item.result.accepted}
            if not all(w.lower() in got for w in _as_list(wanted)):
                return False
        elif key == "mail_from":
            if item.envelope.mail_from.lower() != str(wanted).lower():
                return False
        elif key == "from_":
            from_value = item.message.headers.get("from") or ""
            if str(wanted).lower() not in from_value.lower():
                return False
        elif key == "contains":
            if str(wanted) not in _body_text(item.message):
                return False
        elif key == "header":
            if not isinstance(wanted, tuple) or len(wanted) != 2:
                raise TypeError("header= takes a (name, value) pair")
            name, value = wanted
            if not any(_matches_text(v, value) for v in item.message.headers.get_all(str(name))):
                return False
        elif key == "where":
            if not callable(wanted) or not wanted(item):
                return False
        else:
            raise TypeError(f"unknown filter {key!r}; use one of {', '.join(_FILTERS)}")
    return True


def _describe(item: SentMessage) -> str:
    refused = item.result.refused
    return (
        f"subject={item.subject!r} from={item.envelope.mail_from!r} "
        f"to={list(item.result.accepted)!r}" + (f" refused={list(refused)!r}" if refused else "")
    )


#: At most this many messages are described in an assertion failure (half from each end).
LISTED = 20


def _listing(items: Sequence[SentMessage]) -> str:
    """One line per message for an AssertionError; a long outbox is shown by its first
    and last ``LISTED // 2`` messages, so a failure in a big test stays readable."""
    shown = list(enumerate(items))
    if len(shown) > LISTED:
        half = LISTED // 2
        skipped = len(shown) - 2 * half
        lines = [f"  {i}: {_describe(it)}" for i, it in shown[:half]]
        lines.append(f"  ... {skipped} more ...")
        lines.extend(f"  {i}: {_describe(it)}" for i, it in shown[-half:])
        return "\n".join(lines)
    return "\n".join(f"  {i}: {_describe(it)}" for i, it in shown)


class Outbox(Sequence[SentMessage]):
    """What a :class:`MemoryTransport` has sent, oldest first (list-like).

    ``outbox[0].message.subject``, ``len(outbox)``, ``outbox.messages``,
    ``outbox.find(subject="Hi", to="bo@example.net")``,
    ``outbox.assert_sent(count=1, to="bo@example.net")``, ``outbox.clear()``.

    Filters (all must match): ``subject`` (exact string, compiled regex or
    predicate), ``to`` (an address or list: each must be an accepted envelope
    recipient, so Bcc recipients count), ``mail_from`` (envelope sender),
    ``from_`` (substring of the From header), ``contains`` (substring of the
    text parts), ``header=(name, value)``, ``where`` (a predicate on the
    :class:`SentMessage`).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._items: list[SentMessage] = []
        self._lock = threading.Lock()
        # Directory mode: file name -> ((mtime_ns, size, inode) of the .eml, its item).
        # Files are written once under unique names, so an entry stays valid until
        # its file is removed or replaced (which changes the key).
        self._cache: dict[str, tuple[tuple[int, int, int], SentMessage]] = {}
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            ensure_folder(self.path)

    # -- storage ---------------------------------------------------------
    def _new_name(self) -> str:
        """The file stem for the next message in directory mode: ordered by time, unique
        across processes (pid and random bits), so it also serves as the queue id."""
        return f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"

    def _add(self, item: SentMessage, stem: str | None = None) -> None:
        if self.path is None:
            with self._lock:
                self._items.append(item)
            return
        stem = stem or self._new_name()
        meta = {
            "envelope": item.envelope.to_dict(),
            "result": item.result.to_dict(),
        }
        # The .json first: an .eml is only listed once its metadata exists.
        meta_path = self.path / f"{stem}.json"
        atomic_write(meta_path, json.dumps(meta).encode("utf-8"), durable=False)
        eml = self.path / f"{stem}.eml"
        try:
            atomic_write(eml, item.data, durable=False)
        except BaseException:
            try:
                meta_path.unlink()  # ours, just written: no metadata without its message
            except OSError:
                pass
            raise
        try:
            key = _stat_key(eml)
        except OSError:
            return  # cleared by another process already
        with self._lock:
            self._cache[eml.name] = (key, item)  # the sender never re-reads its own message

    def _snapshot(self) -> list[SentMessage]:
        if self.path is None:
            with self._lock:
                return list(self._items)
        # Listed afresh every time (other processes add and clear files); a file
        # already read, unchanged since, is not read or parsed again.
        with os.scandir(self.path) as it:
            entries = sorted(
                (e for e in it if e.name.endswith(".eml") and not e.name.startswith(".")),
                key=lambda e: e.name,
            )
        with self._lock:
            cache = self._cache
        fresh: dict[str, tuple[tuple[int, int, int], SentMessage]] = {}
        items: list[SentMessage] = []
        for entry in entries:
            try:
                st = entry.stat()
                key = (st.st_mtime_ns, st.st_size, st.st_ino)
                cached = cache.get(entry.name)
                if cached is not None and cached[0] == key:
                    item = cached[1]
                else:
                    # Keyed by the stat taken before reading: a file replaced meanwhile
                    # mismatches next time and is read again, never kept stale.
                    item = _load(Path(entry.path))
            except (OSError, ValueError):
                continue  # removed by clear() meanwhile
            fresh[entry.name] = (key, item)
            items.append(item)
        with self._lock:
            self._cache = fresh  # entries of removed files are dropped
        return items

    def clear(self) -> None:
        """Forget everything sent so far."""
        if self.path is None:
            with self._lock:
                self._items.clear()
            return
        with self._lock:
            self._cache.clear()
        for child in self.path.iterdir():
            if child.suffix in (".eml", ".json"):
                try:
                    child.unlink()
                except OSError:
                    pass

    # -- sequence --------------------------------------------------------
    def __len__(self) -> int:
        return len(self._snapshot())

    @overload
    def __getitem__(self, index: int) -> SentMessage: ...

    @overload
    def __getitem__(self, index: slice) -> list[SentMessage]: ...

    def __getitem__(self, index: int | slice) -> SentMessage | list[SentMessage]:
        return self._snapshot()[index]

    def __iter__(self) -> Iterator[SentMessage]:
        return iter(self._snapshot())

    def __repr__(self) -> str:
        return f"<Outbox of {len(self)} message(s)>"

    # -- helpers ---------------------------------------------------------
    @property
    def messages(self) -> list[Message]:
        """The sent messages as parsed from their wire bytes (no Bcc header)."""
        return [item.message for item in self._snapshot()]

    @property
    def last(self) -> SentMessage:
        """The most recent message; AssertionError if nothing was sent."""
        __tracebackhide__ = True
        items = self._snapshot()
        if not items:
            raise AssertionError("the outbox is empty")
        return items[-1]

    def find(self, **filters: object) -> list[SentMessage]:
        """Sent messages matching every filter (see the class docstring). An unknown
        or malformed filter is a TypeError, whatever the outbox holds."""
        _check_filters(filters)
        return [item for item in self._snapshot() if _match(item, filters)]

    def assert_sent(self, count: int | None = None, **filters: object) -> list[SentMessage]:
        """Assert that messages matching ``filters`` were sent: exactly ``count`` of
        them, or at least one when ``count`` is None. Returns the matches; the
        AssertionError lists what was sent, to make failures readable."""
        __tracebackhide__ = True  # pytest shows the test's line, not this one
        _check_filters(filters)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or count < 0):
            raise ValueError(f"count must be a non-negative int or None, not {count!r}")
        items = self._snapshot()
        found = [item for item in items if _match(item, filters)]
        ok = len(found) >= 1 if count is None else len(found) == count
        if not ok:
            wanted = "at least 1" if count is None else str(count)
            listing = _listing(items)
            crit = ", ".join(f"{k}={v!r}" for k, v in filters.items()) or "no filter"
            raise AssertionError(
                f"expected {wanted} message(s) matching {crit}, found {len(found)}; "
                f"the outbox holds {len(items)}:" + ("\n" + listing if listing else " nothing")
            )
        return found

    def assert_not_sent(self, **filters: object) -> None:
        """Assert that no message matches ``filters``."""
        __tracebackhide__ = True
        self.assert_sent(count=0, **filters)


def _stat_key(path: Path) -> tuple[int, int, int]:
    """What identifies one version of a stored file: mtime (ns), size and inode."""
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _load(eml: Path) -> SentMessage:
    """One stored message: its bytes and its ``.json`` (parsed lazily, see SentMessage)."""
    data = eml.read_bytes()
    meta = json.loads(eml.with_suffix(".json").read_text("utf-8"))
    envelope = _envelope_from_dict(meta["envelope"])
    result = _result_from_dict(meta["result"], envelope)
    return SentMessage(None, data, envelope, result)


def _envelope_from_dict(data: Mapping[str, object]) -> Envelope:
    rcpt = data.get("rcpt_to", [])
    mail_from = str(data.get("mail_from", ""))
    return Envelope(
        mail_from,
        tuple(str(r) for r in rcpt) if isinstance(rcpt, list) else (),
        # Only a null-sender envelope (MAIL FROM:<>, RFC 5321 §4.5.5) is stored with
        # an empty sender: Envelope.check refuses it otherwise.
        null_sender=not mail_from,
    )


def _result_from_dict(data: Mapping[str, object], envelope: Envelope) -> SendResult:
    raw = data.get("recipients", [])
    recipients: list[RecipientResult] = []
    if isinstance(raw, list):
        for r in raw:
            recipients.append(
                RecipientResult(
                    str(r["address"]),
                    bool(r["accepted"]),
                    int(r["code"]),
                    r.get("enhanced"),
                    str(r.get("text", "")),
                )
            )
    message_id = data.get("message_id")
    queue_id = data.get("queue_id")
    return SendResult(
        message_id if isinstance(message_id, str) else None,
        envelope,
        tuple(recipients),
        queue_id=queue_id if isinstance(queue_id, str) else None,
        response=str(data.get("response", "")),
    )


def _fresh_copy(exc: BaseException) -> BaseException:
    """A new exception equal to ``exc`` (type, ``args``, attributes, cause), without its
    traceback. Raising one object again and again chains every raise's traceback onto
    it and shares it between threads and tasks. ``copy.copy`` rebuilds it the way
    pickling does (``__reduce__``); an exception whose constructor cannot be called
    that way is built with ``__new__`` and given ``args`` and ``__dict__`` directly."""
    try:
        fresh = copy.copy(exc)
    except Exception:  # noqa: BLE001 - a constructor that __reduce__ cannot call
        fresh = type(exc).__new__(type(exc), *exc.args)
        fresh.args = exc.args
        fresh.__dict__.update(getattr(exc, "__dict__", {}))
    if fresh is exc:  # pragma: no cover - a __copy__ that returns self
        return exc.with_traceback(None)
    fresh.__traceback__ = None
    fresh.__cause__ = exc.__cause__
    fresh.__suppress_context__ = exc.__suppress_context__
    return fresh


class MemoryTransport(Transport, AsyncTransport):
    """A transport that keeps what it sends, for tests (sync and asyncio).

    ``refuse`` maps recipient addresses (case-insensitive) to the reply a
    server would give, e.g. ``{"x@example.net": (550, "5.1.1", "no such
    user")}``: those recipients come back refused in the :class:`SendResult`;
    if every recipient is refused, :class:`RecipientsRefused` is raised and
    nothing is stored, as with SMTP. ``fail`` (an exception) is raised by every
    send until set back to None, to simulate an outage: each send raises a fresh
    copy of it (same type, arguments and attributes; see :func:`_fresh_copy`), so
    tracebacks do not pile up on one shared object and concurrent sends never
    raise the same instance. ``max_size`` simulates
    a server's SIZE limit (:class:`MessageTooLarge`, nothing stored). ``path``
    keeps the outbox in a directory shared between processes. The result's
    ``queue_id`` is ``mem-1``, ``mem-2``, ... per transport in memory, and
    ``mem-<file stem>`` in a directory (unique across the processes sharing it).
    """

    def __init__(
        self,
        *,
        refuse: Mapping[str, Refusal] | None = None,
        path: str | os.PathLike[str] | None = None,
        fail: BaseException | None = None,
        max_size: int | None = None,
    ) -> None:
        self.outbox = Outbox(path)
        self.max_size = max_size
        self.refuse: dict[str, Refusal] = {k.lower(): v for k, v in (refuse or {}).items()}
        self.fail = fail
        self.closed = False
        self._counter = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = f"path={str(self.outbox.path)!r}" if self.outbox.path else "in memory"
        return f"<MemoryTransport {where}>"

    def send(self, message: Message | bytes, *, envelope: Envelope | None = None) -> SendResult:
        """Prepare like a real transport, apply simulated refusals, store, return the result."""
        check_message_type(message)
        _, wire, env, message_id = prepare_wire(message, envelope)
        if self.fail is not None:
            raise _fresh_copy(self.fail)
        if self.max_size is not None and len(wire) > self.max_size:
            # RFC 1870: an SMTP client refuses before MAIL FROM when SIZE is exceeded.
            raise MessageTooLarge(
                f"message of {len(wire)} octets exceeds the server's SIZE {self.max_size}",
                size=len(wire),
                limit=self.max_size,
            )
        recipients = []
        for rcpt in env.rcpt_to:
            refusal = self.refuse.get(rcpt.lower())
            if refusal is None:
                recipients.append(RecipientResult(rcpt, True, 250, "2.1.5", "OK"))
            else:
                code, enhanced, text = refusal
                recipients.append(RecipientResult(rcpt, False, code, enhanced, text))
        if not any(r.accepted for r in recipients):
            # RFC 5321 §3.3: with no accepted RCPT the transaction has no DATA.
            raise RecipientsRefused(SendResult(message_id, env, tuple(recipients)))
        stem: str | None = None
        if self.outbox.path is not None:
            # A directory outbox is shared by processes: a per-instance counter would
            # hand every process "mem-1". The file name is unique, so it is the id.
            stem = self.outbox._new_name()
            queue_id = f"mem-{stem}"
        else:
            with self._lock:
                self._counter += 1  # only stored messages get an id: mem-1, mem-2, ...
                queue_id = f"mem-{self._counter}"
        result = SendResult(
            message_id,
            env,
            tuple(recipients),
            queue_id=queue_id,
            response=f"250 2.0.0 queued as {queue_id}",
        )
        try:
            self.outbox._add(SentMessage(None, wire, env, result), stem)  # parsed when read
        except OSError as exc:  # a directory outbox that cannot be written
            raise TransportError(
                f"cannot store the message in {str(self.outbox.path)!r}: {exc}"
            ) from exc
        return result

    async def asend(
        self, message: Message | bytes, *, envelope: Envelope | None = None
    ) -> SendResult:
        """The asyncio twin of :meth:`send` (same behaviour)."""
        check_message_type(message, "asend()")
        return self.send(message, envelope=envelope)

    def close(self) -> None:
        """Mark closed (the outbox stays readable; sending again is allowed)."""
        self.closed = True

    async def aclose(self) -> None:
        """Mark closed (see :meth:`close`)."""
        self.close()

    # Convenience: the transport itself offers the outbox helpers, so the
    # pytest ``outbox`` fixture (a MemoryTransport) reads naturally.
    @property
    def messages(self) -> list[Message]:
        """``outbox.messages``."""
        return self.outbox.messages

    def find(self, **filters: object) -> list[SentMessage]:
        """``outbox.find``."""
        return self.outbox.find(**filters)

    def assert_sent(self, count: int | None = None, **filters: object) -> list[SentMessage]:
        """``outbox.assert_sent``."""
        __tracebackhide__ = True
        return self.outbox.assert_sent(count, **filters)

    def assert_not_sent(self, **filters: object) -> None:
        """``outbox.assert_not_sent``."""
        __tracebackhide__ = True
        self.outbox.assert_not_sent(**filters)

    def clear(self) -> None:
        """``outbox.clear``."""
        self.outbox.clear()

    def __len__(self) -> int:
        return len(self.outbox)

    def __bool__(self) -> bool:
        # A transport is always truthy, even with an empty outbox.
        return True

    def __iter__(self) -> Iterator[SentMessage]:
        return iter(self.outbox)

    def __getitem__(self, index: int) -> SentMessage:
        return self.outbox[index]
