"""``mimekit send``: one message composed from the options, or ``--eml`` files and
mboxes, through the transport a URL names (``--transport``, ``MIMEKIT_TRANSPORT``,
default ``file:./outbox``), with a progress bar for many (see docs/cli.md)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._cli_common import (
    JobFailed,
    UsageError,
    _and_list,
    _folder_problem,
    _looks_like_mbox,
    _mbox_problem,
    _option,
    _read_bytes,
)
from ._cli_compose import _COMPOSE_DESTS, _build

if TYPE_CHECKING:
    from .model import Message

DEFAULT_TRANSPORT = "file:./outbox"


def _raw_messages(path: str) -> list[tuple[str, bytes]]:
    """(label, raw bytes) of each message in an .eml, an mbox or stdin (``-``).

    An mbox (a ``From `` envelope line, then a header) gives its messages in order,
    labelled ``PATH#N``, without the envelope lines and with ``>From`` quoting undone.
    """
    from .mailbox import iter_mbox_raw

    if path != "-" and os.path.isdir(path):
        raise JobFailed(f"cannot read {path}: it is a folder")
    data = _read_bytes(path)
    if not data.strip():
        # Not "the envelope has no sender": there is no message at all.
        raise JobFailed(f"no message in {'standard input' if path == '-' else path}: it is empty")
    if _looks_like_mbox(data):
        return [(f"{path}#{n}", raw) for n, (_, raw) in enumerate(iter_mbox_raw(data), 1)]
    return [(path, data)]


def _transport_url(args: argparse.Namespace) -> tuple[str, str]:
    """The transport URL and where it came from (for error messages)."""
    if args.transport is not None:
        if not args.transport.strip():
            # `--transport "$URL"` with URL unset: never fall back to the default
            # outbox silently (mail meant for a server would land in ./outbox).
            raise UsageError("--transport is empty (give a transport URL, e.g. "
                             f"{DEFAULT_TRANSPORT} or smtp://host)")
        return args.transport, "--transport"
    env = os.environ.get("MIMEKIT_TRANSPORT")
    if env:
        return env, "MIMEKIT_TRANSPORT"
    return DEFAULT_TRANSPORT, "the default transport"


def _open_transport(args: argparse.Namespace) -> Any:
    import ssl

    from mimekit.transports import from_url
    from mimekit.transports.url import InvalidURL, parse_url, redact_url

    url, origin = _transport_url(args)
    options: dict[str, Any] = {}
    try:
        config = parse_url(url)
        if config.kind == "smtp":
            if args.cafile:
                options["cafile"] = args.cafile
            if args.insecure:
                options["insecure"] = True
        elif args.cafile or args.insecure:
            raise UsageError("--cafile and --insecure only apply to smtp:// transports")
        if config.path is not None:
            problem = (_mbox_problem if config.kind == "mbox" else _folder_problem)(config.path)
            if problem is not None:
                raise InvalidURL(problem)
        cafile = options.get("cafile", config.cafile)
        # The CA file named as the user gave it: the flag, or the URL's query option.
        what = (f"--cafile {cafile}" if args.cafile else
                f"{cafile} (the cafile option of the transport URL)")
        if cafile is not None and not os.path.isfile(cafile):
            reason = "it is a folder" if os.path.isdir(cafile) else "no such file"
            raise JobFailed(f"cannot read {what}: {reason}")
        try:
            return from_url(url, **options)
        except ssl.SSLError as exc:
            if cafile is None:
                raise
            raise JobFailed(f"{what} holds no CA certificate in PEM form (BEGIN "
                            "CERTIFICATE)") from exc
        except InvalidURL:
            raise
        except ValueError as exc:
            # A setting the transport refuses (not a TransportError: credentials with
            # ?security=none, say; its sentence names the URL option that allows it): an
            # error about the URL, named below, never a traceback.
            raise InvalidURL(str(exc)) from exc
    except InvalidURL as exc:
        # The URL as the user wrote it, but never its password.
        text, raw, quoted = str(exc), repr(url.strip()), repr(redact_url(url.strip()))
        name = f"MIMEKIT_TRANSPORT={quoted}" if origin == "MIMEKIT_TRANSPORT" else (
            f"{origin} {quoted}")
        if text.startswith(raw):
            raise JobFailed(name + text[len(raw):]) from exc
        raise JobFailed(f"{name}: {text}") from exc


class _Progress:
    """A one-line progress bar on a terminal; cleared before any other output."""

    def __init__(self, total: int, stream: Any) -> None:
        self.total = total
        self.stream = stream
        self.shown = False

    def draw(self, done: int, label: str) -> None:
        width = 30
        filled = width * done // max(self.total, 1)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r[{bar}] {done}/{self.total} {os.path.basename(label)[:40]}")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")  # back to column 0, erase the line
            self.stream.flush()
            self.shown = False


def _cmd_send(args: argparse.Namespace) -> int:
    import warnings

    from . import parse

    if args.eml and args.raw:
        raise UsageError("give --eml FILE or -, not both")
    if args.raw not in (None, "-"):
        raise UsageError(f"unexpected argument {args.raw!r} (use --eml FILE or - for stdin)")
    if args.eml or args.raw:
        given = [_option(d) for d in _COMPOSE_DESTS if getattr(args, d) not in (None, [])]
        if given:
            source = "--eml" if args.eml else "- (standard input)"
            raise UsageError(f"{_and_list(given)} cannot be used with {source}, which sends "
                             "a message as it is (only the --envelope-* options apply)")
    _check_envelope_options(args)
    sources: list[tuple[str, Message]] = []
    if args.eml or args.raw:
        raws = [item for path in (args.eml or ["-"]) for item in _raw_messages(path)]
        sources = [(label, parse(raw)) for label, raw in raws]
    else:
        sources = [("", _build(args))]
    if not sources:
        raise JobFailed(f"no message in {_and_list(args.eml or ['standard input'])}")

    from mimekit.transports.errors import (
        InvalidEnvelope,
        MessageTooLarge,
        RecipientsRefused,
        SMTPResponseError,
    )

    failed = 0
    many = len(sources) > 1
    progress = _Progress(len(sources), sys.stderr) if many and sys.stderr.isatty() else None

    def say(line: str, stream: Any = None) -> None:
        if progress is not None:
            progress.clear()
        print(line, file=stream or sys.stdout, flush=True)

    def show_warning(message: Any, category: Any, filename: str, lineno: int,
                     file: Any = None, line: str | None = None) -> None:
        if progress is not None:
            progress.clear()
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            with _open_transport(args) as transport:
                for n, (label, message) in enumerate(sources, 1):
                    if progress is not None:
                        progress.draw(n - 1, label)
                    prefix = f"{label}: " if many else ""
                    try:
                        result = transport.send(message, envelope=_envelope(args, message))
                    except RecipientsRefused as exc:
                        for line in _recipient_lines(exc.result.recipients, prefix):
                            say(line)
                        if not many:
                            raise JobFailed(f"every recipient was refused: {exc}") from exc
                        failed += 1
                        continue
                    except (SMTPResponseError, InvalidEnvelope, MessageTooLarge) as exc:
                        # A failure of this message only: the others are still sent.
                        if not many:
                            raise JobFailed(str(exc)) from exc
                        say(f"{prefix}failed {exc}")
                        failed += 1
                        continue
                    for line in _recipient_lines(result.recipients, prefix):
                        say(line)
                    if result.queue_id:
                        say(f"{prefix}queued as {result.queue_id}")
                    failed += not result.accepted
        finally:
            if progress is not None:
                progress.clear()
    if many and failed:
        say(f"mimekit: {failed} of {len(sources)} messages failed", sys.stderr)
    return 1 if failed else 0


# RFC 5321 §4.5.5: bounces and other notifications go out with the null reverse-path
# MAIL FROM:<>, so nothing answers them; `--envelope-from '<>'` asks for it.
_NULL_PATH = "<>"


def _envelope_recipients(args: argparse.Namespace) -> list[str]:
    """The --envelope-to addresses (each value a comma-separated list)."""
    return [v.strip() for value in args.envelope_to for v in value.split(",") if v.strip()]


def _check_envelope_options(args: argparse.Namespace) -> None:
    """--envelope-from/--envelope-to are the same for every message: check them once."""
    from mimekit.transports.base import check_address
    from mimekit.transports.errors import InvalidEnvelope

    values: list[tuple[str, str, str]] = []
    if args.envelope_from is not None:
        sender = args.envelope_from.strip()
        if not sender:
            # Most often `--envelope-from "$VAR"` with VAR unset: not the null path.
            raise JobFailed("--envelope-from is empty: give an address, or '<>' for the "
                            "null reverse-path of a bounce (RFC 5321 section 4.5.5)")
        if sender != _NULL_PATH:
            values.append(("--envelope-from", "sender", sender))
    for value in args.envelope_to:
        if not value.strip(" \t,"):
            raise JobFailed("--envelope-to is empty: give one or more addresses (a "
                            "comma-separated list)")
    values.extend(("--envelope-to", "recipient", v) for v in _envelope_recipients(args))
    for option, what, value in values:
        try:
            check_address(value, what=what)
        except InvalidEnvelope as exc:
            raise JobFailed(f"{option}: {exc}") from exc


def _envelope(args: argparse.Namespace, message: Message) -> Any:
    """The envelope the flags ask for, or None to take it from the headers."""
    from mimekit.transports import Envelope

    if args.envelope_from is None and not args.envelope_to:
        return None
    default = Envelope.from_message(message)
    rcpts = tuple(_envelope_recipients(args)) or default.rcpt_to
    if args.envelope_from is not None and args.envelope_from.strip() == _NULL_PATH:
        return Envelope.null_sender_for(rcpts)
    return Envelope(
        args.envelope_from.strip() if args.envelope_from is not None else default.mail_from,
        rcpts,
    )


def _recipient_lines(recipients: Sequence[Any], prefix: str = "") -> list[str]:
    lines = []
    for r in recipients:
        state = "accepted" if r.accepted else "refused"
        reply = " ".join(str(x) for x in (r.code, r.enhanced, r.text) if x)
        lines.append(f"{prefix}{state} {r.address} {reply}".rstrip())
    return lines
