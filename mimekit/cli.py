"""The ``mimekit`` command: compose, send, inspect, extract (see docs/cli.md).

A thin layer over the public API. Exit status: 0 success, 1 the job failed
(a send refused, a file unreadable), 2 a usage error. Errors are one sentence
on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import MimekitError

if TYPE_CHECKING:
    from .builder import Builder
    from .model import Message, Part

__all__ = ["main"]

DEFAULT_TRANSPORT = "file:./outbox"


class UsageError(Exception):
    """Bad command-line use: exit status 2."""


class JobFailed(Exception):
    """The job could not be done: exit status 1."""


# ---------------------------------------------------------------------- parsing
def _add_compose_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("message")
    g.add_argument("--from", dest="from_", metavar="ADDR", help='author: "Name" <addr> or addr')
    g.add_argument("--sender", metavar="ADDR")
    g.add_argument("--reply-to", metavar="ADDR")
    for name in ("to", "cc", "bcc"):
        g.add_argument(f"--{name}", action="append", default=[], metavar="ADDR",
                       help="repeatable; each value may be a comma-separated list")
    g.add_argument("--subject", metavar="TEXT")
    g.add_argument("--text", metavar="TEXT")
    g.add_argument("--text-file", metavar="PATH", help="plain-text body from a file (- for stdin)")
    g.add_argument("--html", metavar="TEXT")
    g.add_argument("--html-file", metavar="PATH", help="HTML body from a file (- for stdin)")
    g.add_argument("--attach", action="append", default=[], metavar="PATH")
    g.add_argument("--inline", action="append", default=[], metavar="PATH[:CID]",
                   help="inline image referenced as cid:CID (default CID: the file name)")
    g.add_argument("--header", action="append", default=[], metavar='"Name: value"')
    g.add_argument("--date", metavar="RFC5322-DATE")
    g.add_argument("--message-id", metavar="ID")


def _parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="mimekit",
                                  description="Compose, send, inspect and extract email.")
    top.add_argument("--debug", action="store_true", help="show tracebacks")
    top.add_argument("--version", action="store_true", help="print the version and exit")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("compose", help="build a message and write its bytes")
    _add_compose_options(c)
    c.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")

    s = sub.add_parser("send", help="compose (or read) a message and send it")
    _add_compose_options(s)
    s.add_argument("--eml", action="append", default=[], metavar="FILE",
                   help="send this raw message instead of composing (repeatable)")
    s.add_argument("raw", nargs="?", metavar="-", help="read a raw message from stdin")
    s.add_argument("--transport", metavar="URL",
                   help=f"where to send (default $MIMEKIT_TRANSPORT or {DEFAULT_TRANSPORT})")
    s.add_argument("--envelope-from", metavar="ADDR")
    s.add_argument("--envelope-to", action="append", default=[], metavar="ADDR")
    s.add_argument("--cafile", metavar="PATH", help="also trust this CA for TLS")
    s.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")

    i = sub.add_parser("inspect", help="show a message's tree, or its JSON")
    i.add_argument("--json", action="store_true", help="JSON (one object per message per line)")
    i.add_argument("files", nargs="+", metavar="FILE", help=".eml, mbox, Maildir folder, or -")

    lt = sub.add_parser("lint", help="list what would break in real mail clients")
    lt.add_argument("--json", action="store_true", help="one JSON object per finding per line")
    lt.add_argument("files", nargs="+", metavar="FILE", help=".eml, mbox, Maildir folder, or -")

    e = sub.add_parser("extract", help="write every attachment into a folder")
    e.add_argument("file", metavar="FILE")
    e.add_argument("--dir", required=True, metavar="DIR")
    return top


# ---------------------------------------------------------------------- compose
def _read_text_arg(text: str | None, path: str | None, what: str) -> str | None:
    if text is not None and path is not None:
        raise UsageError(f"give --{what} or --{what}-file, not both")
    if path is None:
        return text
    if path == "-":
        data = sys.stdin.buffer.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JobFailed(f"standard input is not UTF-8 text (byte {exc.start})") from exc
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise JobFailed(f"{path} is not UTF-8 text (byte {exc.start}): convert it first, "
                        "or attach it with --attach") from exc
    except IsADirectoryError as exc:
        raise JobFailed(f"cannot read {path}: it is a folder") from exc
    except OSError as exc:
        raise JobFailed(f"cannot read {path}: {exc.strerror}") from exc


def _builder(args: argparse.Namespace) -> Builder:
    from .builder import compose

    b = compose()
    if args.from_:
        b.from_(args.from_)
    if args.sender:
        b.sender(args.sender)
    if args.reply_to:
        b.reply_to(args.reply_to)
    for field in ("to", "cc", "bcc"):
        for value in getattr(args, field):
            getattr(b, field)(value)
    if args.subject is not None:
        b.subject(args.subject)
    text = _read_text_arg(args.text, args.text_file, "text")
    html = _read_text_arg(args.html, args.html_file, "html")
    if text is not None:
        b.text(text)
    if html is not None:
        b.html(html)
    for path in args.attach:
        _need_file(path)
        b.attach(path)
    for spec in args.inline:
        path, cid = spec, os.path.basename(spec)
        if not os.path.exists(spec) and ":" in spec:
            path, _, cid = spec.rpartition(":")
        _need_file(path)
        b.inline(path, cid=cid or os.path.basename(path))
    for line in args.header:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise UsageError(f'--header wants "Name: value", got {line!r}')
        b.header(name.strip(), value.strip())
    if args.date:
        b.date(args.date)
    if args.message_id:
        b.message_id(args.message_id)
    return b


def _need_file(path: str) -> None:
    if os.path.isdir(path):
        raise JobFailed(f"cannot attach {path}: it is a folder")
    if not os.path.isfile(path):
        raise JobFailed(f"cannot read {path}: no such file")


def _cmd_compose(args: argparse.Namespace) -> int:
    data = _builder(args).build().to_bytes()
    if args.output:
        with open(args.output, "wb") as fh:
            fh.write(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


# ------------------------------------------------------------------------- send
def _cmd_send(args: argparse.Namespace) -> int:
    from . import parse

    if args.eml and args.raw:
        raise UsageError("give --eml FILE or -, not both")
    if args.raw not in (None, "-"):
        raise UsageError(f"unexpected argument {args.raw!r} (use --eml FILE or - for stdin)")
    sources: list[tuple[str, Message]] = []
    if args.eml:
        sources = [(path, parse(_read_bytes(path))) for path in args.eml]
    elif args.raw == "-":
        sources = [("-", parse(sys.stdin.buffer.read()))]
    else:
        sources = [("", _builder(args).build())]

    from mimekit.transports import from_url
    from mimekit.transports.errors import RecipientsRefused, SMTPResponseError

    url = args.transport or os.environ.get("MIMEKIT_TRANSPORT") or DEFAULT_TRANSPORT
    options: dict[str, Any] = {}
    if url.lower().startswith("smtp"):
        if args.cafile:
            options["cafile"] = args.cafile
        if args.insecure:
            options["insecure"] = True
    elif args.cafile or args.insecure:
        raise UsageError("--cafile and --insecure only apply to smtp:// transports")
    failed = 0
    many = len(sources) > 1
    progress = many and sys.stderr.isatty()
    with from_url(url, **options) as transport:
        for n, (label, message) in enumerate(sources, 1):
            if progress:
                _progress(n - 1, len(sources), label)
            prefix = f"{label}: " if many else ""
            try:
                result = transport.send(message, envelope=_envelope(args, message))
            except RecipientsRefused as exc:
                _print_recipients(exc.result.recipients, prefix)
                if not many:
                    raise JobFailed(f"every recipient was refused: {exc}") from exc
                failed += 1
                continue
            except SMTPResponseError as exc:
                if not many:
                    raise JobFailed(str(exc)) from exc
                print(f"{prefix}failed {exc}")
                failed += 1
                continue
            _print_recipients(result.recipients, prefix)
            if result.queue_id:
                print(f"{prefix}queued as {result.queue_id}")
            failed += not result.accepted
    if progress:
        _progress(len(sources), len(sources), "done")
        sys.stderr.write("\n")
    if many and failed:
        print(f"mimekit: {failed} of {len(sources)} messages failed", file=sys.stderr)
    return 1 if failed else 0


def _envelope(args: argparse.Namespace, message: Message) -> Any:
    """The envelope the flags ask for, or None to take it from the headers."""
    from mimekit.transports import Envelope

    if args.envelope_from is None and not args.envelope_to:
        return None
    default = Envelope.from_message(message)
    rcpts: list[str] = []
    for value in args.envelope_to:
        rcpts.extend(v.strip() for v in value.split(",") if v.strip())
    return Envelope(
        args.envelope_from if args.envelope_from is not None else default.mail_from,
        tuple(rcpts) if rcpts else default.rcpt_to,
    )


def _progress(done: int, total: int, label: str) -> None:
    width = 30
    filled = width * done // max(total, 1)
    bar = "#" * filled + "-" * (width - filled)
    sys.stderr.write(f"\r[{bar}] {done}/{total} {os.path.basename(label)[:40]:<40}")
    sys.stderr.flush()


def _print_recipients(recipients: Sequence[Any], prefix: str = "") -> None:
    for r in recipients:
        state = "accepted" if r.accepted else "refused"
        reply = " ".join(str(x) for x in (r.code, r.enhanced, r.text) if x)
        print(f"{prefix}{state} {r.address} {reply}".rstrip())


# ---------------------------------------------------------------------- inspect
def _read_bytes(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except IsADirectoryError as exc:
        raise JobFailed(f"cannot read {path}: it is a folder, not a Maildir") from exc
    except OSError as exc:
        raise JobFailed(f"cannot read {path}: {exc.strerror}") from exc


def _messages(path: str) -> Iterator[tuple[str, Message]]:
    """Every message in an .eml, an mbox, a Maildir folder, or stdin."""
    from . import parse
    from .mailbox import read_maildir, read_mbox

    if path != "-" and os.path.isdir(path):
        if not (os.path.isdir(os.path.join(path, "cur")) or
                os.path.isdir(os.path.join(path, "new"))):
            raise JobFailed(f"cannot read {path}: a folder that is not a Maildir (no cur/ or new/)")
        for n, msg in enumerate(read_maildir(path), 1):
            yield f"{path}#{n}", msg
        return
    data = _read_bytes(path)
    if data.startswith(b"From ") and _looks_like_mbox(data):
        for n, msg in enumerate(read_mbox(data), 1):
            yield f"{path}#{n}", msg
        return
    yield path, parse(data)


def _looks_like_mbox(data: bytes) -> bool:
    """An mbox starts with a "From " separator line followed by a header line."""
    first, _, rest = data.partition(b"\n")
    return b":" in rest.partition(b"\n")[0] and not first.rstrip().endswith(b":")


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .summary import inspect_text

    out = sys.stdout
    first = True
    for path in args.files:
        for label, msg in _messages(path):
            if args.json:
                out.write(json.dumps(msg.to_dict(), ensure_ascii=False) + "\n")
            else:
                if not first:
                    out.write("\n")
                out.write(inspect_text(msg, label))
            first = False
    out.flush()
    return 0


# ------------------------------------------------------------------------- lint
def _cmd_lint(args: argparse.Namespace) -> int:
    from .lint import lint

    errors = 0
    for path in args.files:
        for label, msg in _messages(path):
            for issue in lint(msg):
                errors += issue.severity == "error"
                if args.json:
                    print(json.dumps({"file": label, **issue.to_dict()}, ensure_ascii=False))
                else:
                    print(f"{label}: {issue}")
    return 1 if errors else 0


# ---------------------------------------------------------------------- extract
def safe_filename(name: str | None, fallback: str) -> str:
    """A file name that cannot leave the target folder or hide (no separators,
    no traversal, no control characters, no leading dot)."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    name = name.strip().lstrip(".").strip()
    if name in ("", ".", ".."):
        name = fallback
    # File systems limit names in bytes (255 on most): keep the extension, cut the stem.
    if len(name.encode("utf-8")) > 200:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext.encode("utf-8")) <= 20 else ""
        budget = 200 - len(ext.encode("utf-8"))
        stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
        name = stem + ext
    return name


def _unique_path(directory: str, name: str) -> str:
    stem, ext = os.path.splitext(name)
    candidate, n = name, 1
    while True:
        path = os.path.join(directory, candidate)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            n += 1
            candidate = f"{stem}-{n}{ext}"
            continue
        os.close(fd)
        return path


def _attachment_parts(msg: Message) -> list[Part]:
    return list(msg.attachments)


def _cmd_extract(args: argparse.Namespace) -> int:
    from . import parse

    msg = parse(_read_bytes(args.file))
    os.makedirs(args.dir, exist_ok=True)
    for n, part in enumerate(_attachment_parts(msg), 1):
        name = safe_filename(part.filename, f"attachment-{n}.bin")
        path = _unique_path(args.dir, name)
        with open(path, "wb") as fh:
            fh.write(part.get_content())
        print(os.path.basename(path))
    return 0


# ------------------------------------------------------------------------- main
def _fail(message: str, code: int) -> NoReturn:
    print(f"mimekit: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    handler = {"compose": _cmd_compose, "send": _cmd_send, "inspect": _cmd_inspect,
               "lint": _cmd_lint, "extract": _cmd_extract}[args.command]
    try:
        return handler(args)
    except UsageError as exc:
        if args.debug:
            raise
        _fail(str(exc), 2)
    except BrokenPipeError:  # pragma: no cover - `mimekit inspect x | head`
        return 0
    except (JobFailed, MimekitError, OSError) as exc:
        if args.debug:
            raise
        _fail(_sentence(exc), 1)
    except UnicodeError as exc:
        # An argument that is not valid UTF-8 (the shell passed raw bytes).
        if args.debug:
            raise
        reason = getattr(exc, "reason", str(exc))
        _fail(f"an argument or file is not valid UTF-8 text ({reason})", 1)


def _sentence(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return text.splitlines()[0]
