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
from typing import TYPE_CHECKING, NoReturn

from ._cli_common import (
    JobFailed,
    UsageError,
    _file_error,
    _folder_problem,
    _looks_like_mbox,
    _read_bytes,
    _sentence,
)
from ._cli_compose import _add_compose_options, _check_text_options, _cmd_compose
from ._cli_send import DEFAULT_TRANSPORT, _cmd_send
from .errors import MimekitError

if TYPE_CHECKING:
    from .model import Message, Part

__all__ = ["main"]






def _parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="mimekit",
                                  description="Compose, send, inspect, lint and extract email.")
    top.add_argument("--debug", action="store_true", help="show tracebacks")
    top.add_argument("--version", action="store_true", help="print the version and exit")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("compose", help="build a message and write its bytes")
    _add_compose_options(c)
    c.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    c.set_defaults(command_parser=c)

    s = sub.add_parser("send", help="compose (or read) a message and send it")
    _add_compose_options(s)
    s.add_argument("--eml", action="append", default=[], metavar="FILE",
                   help="send the message in FILE as it is instead of composing (an mbox: "
                        "each of its messages; repeatable)")
    s.add_argument("raw", nargs="?", metavar="-", help="read a raw message from stdin")
    s.add_argument("--transport", metavar="URL",
                   help=f"where to send (default $MIMEKIT_TRANSPORT or {DEFAULT_TRANSPORT})")
    s.add_argument("--envelope-from", metavar="ADDR")
    s.add_argument("--envelope-to", action="append", default=[], metavar="ADDR")
    s.add_argument("--cafile", metavar="PATH", help="also trust this CA for TLS")
    s.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    s.set_defaults(command_parser=s)

    i = sub.add_parser("inspect", help="show a message's tree, or its JSON")
    i.add_argument("--json", action="store_true", help="JSON (one object per message per line)")
    i.add_argument("files", nargs="+", metavar="FILE", help=".eml, mbox, Maildir folder, or -")
    i.set_defaults(command_parser=i)

    lt = sub.add_parser("lint", help="list what would break in real mail clients")
    lt.add_argument("--json", action="store_true", help="one JSON object per finding per line")
    lt.add_argument("files", nargs="+", metavar="FILE", help=".eml, mbox, Maildir folder, or -")
    lt.set_defaults(command_parser=lt)

    e = sub.add_parser("extract", help="write every attachment into a folder")
    e.add_argument("file", metavar="FILE")
    e.add_argument("--dir", required=True, metavar="DIR",
                   help="created if missing (its parent folder must exist)")
    e.set_defaults(command_parser=e)
    return top


def _unrecognized(parser: argparse.ArgumentParser, extras: Sequence[str]) -> NoReturn:
    """The usage error for arguments no option takes, from the command's own parser (so
    its usage line is shown, not the top-level one), with the option probably meant."""
    import difflib

    known = [opt for action in parser._actions for opt in action.option_strings]
    hints = [f"{arg} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(
        arg.partition("=")[0], known, n=1)) and arg.startswith("--") else arg for arg in extras]
    parser.error(f"unrecognized arguments: {' '.join(hints)}")


def _messages(path: str) -> Iterator[tuple[str, Message]]:
    """Every message in an .eml, an mbox, a Maildir folder, or stdin."""
    from . import parse
    from .mailbox import iter_mbox_raw, read_maildir

    if path != "-" and os.path.isdir(path):
        if not (os.path.isdir(os.path.join(path, "cur")) or
                os.path.isdir(os.path.join(path, "new"))):
            raise JobFailed(f"cannot read {path}: it is a folder but not a Maildir (no cur/ or "
                            "new/)")
        for n, msg in enumerate(read_maildir(path), 1):
            yield f"{path}#{n}", msg
        return
    data = _read_bytes(path)
    if not data.strip():
        # Not "the envelope has no sender": there is no message at all.
        raise JobFailed(f"no message in {'standard input' if path == '-' else path}: it is empty")
    if _looks_like_mbox(data):
        raws = [raw for _, raw in iter_mbox_raw(data)]
        if len(raws) > 1:
            for n, raw in enumerate(raws, 1):
                yield f"{path}#{n}", parse(raw)
            return
    # One message, with or without a "From " line: read as parse_file() reads it, so
    # the JSON is Message.to_dict() exactly (offsets in the file, UnixFromLine kept).
    yield path, parse(data)


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

    if os.path.isdir(args.file):
        raise JobFailed(f"cannot read {args.file}: it is a folder")
    problem = _folder_problem(args.dir)
    if problem is not None:
        raise JobFailed(f"--dir: {problem}")
    msg = parse(_read_bytes(args.file))
    try:
        os.makedirs(args.dir, exist_ok=True)
    except OSError as exc:
        raise _file_error("write", args.dir, exc) from exc
    for n, part in enumerate(_attachment_parts(msg), 1):
        name = safe_filename(part.filename, f"attachment-{n}.bin")
        path = os.path.join(args.dir, name)
        try:
            path = _unique_path(args.dir, name)
            with open(path, "wb") as fh:
                fh.write(part.get_content())
        except OSError as exc:
            raise _file_error("write", path, exc) from exc
        print(os.path.basename(path))
    return 0


def _fail(message: str, code: int) -> NoReturn:
    print(f"mimekit: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = _parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        _unrecognized(getattr(args, "command_parser", parser), extras)
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
        _check_text_options(args)
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
