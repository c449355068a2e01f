"""The ``mimekit`` command: compose, send, inspect, extract (see docs/cli.md).

A thin layer over the public API. Exit status: 0 success, 1 the job failed
(a send refused, a file unreadable), 2 a usage error. Errors are one sentence
on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
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
    g.add_argument("--attach", action="append", default=[], metavar="PATH",
                   help="attach this file (repeatable)")
    g.add_argument("--inline", action="append", default=[], metavar="PATH[:CID]",
                   help="inline image referenced as cid:CID (default CID: the file name; "
                        "repeatable, each CID once)")
    g.add_argument("--header", action="append", default=[], metavar='"Name: value"',
                   help="an extra header (repeatable)")
    g.add_argument("--date", metavar="RFC5322-DATE")
    g.add_argument("--message-id", metavar="ID", help="<left@right> (RFC 5322 section 3.6.4)")


# The compose options (argparse dest names), in the order --help shows them.
_COMPOSE_DESTS = ("from_", "sender", "reply_to", "to", "cc", "bcc", "subject", "text",
                  "text_file", "html", "html_file", "attach", "inline", "header", "date",
                  "message_id")


def _option(dest: str) -> str:
    """The command-line spelling of an argparse dest: from_ -> --from."""
    return "--" + dest.rstrip("_").replace("_", "-")


def _and_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


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


# ---------------------------------------------------------------------- compose
def _os_reason(exc: OSError, writing: bool = False) -> str:
    """A short, lower-case reason for a file error (the same words in every command)."""
    if exc.errno == errno.ENOENT:
        return "its folder does not exist" if writing else "no such file"
    reasons = {errno.EISDIR: "it is a folder", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.ENOTDIR: "a part of the path is not a folder",
               errno.EEXIST: "it already exists", errno.ENOSPC: "no space left on the device",
               errno.EROFS: "the file system is read-only"}
    if exc.errno in reasons:
        return reasons[exc.errno]
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def _file_error(verb: str, path: str, exc: OSError) -> JobFailed:
    """``cannot read PATH: reason``, the one wording of file errors."""
    return JobFailed(f"cannot {verb} {path}: {_os_reason(exc, writing=verb == 'write')}")


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
    except OSError as exc:
        raise _file_error("read", path, exc) from exc


# RFC 5322 §3.6.4: msg-id = "<" id-left "@" id-right ">"; id-left is a dot-atom-text,
# id-right a dot-atom-text or a no-fold-literal ("[" dtext "]").
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM_TEXT = rf"{_ATEXT}(?:\.{_ATEXT})*"
_MSG_ID = re.compile(rf"{_DOT_ATOM_TEXT}@(?:{_DOT_ATOM_TEXT}|\[[\x21-\x5a\x5e-\x7e]*\])")
# An --inline Content-ID (RFC 2392 §2: what a cid: URL names): printable ASCII but "<", ">".
_CID = re.compile(r"[!-;=?-~]+")

# Headers the command writes itself, and the option that sets each.
_HEADER_OPTIONS = {"from": "--from", "sender": "--sender", "reply-to": "--reply-to",
                   "to": "--to", "cc": "--cc", "bcc": "--bcc", "subject": "--subject",
                   "date": "--date", "message-id": "--message-id"}


def _check_message_id(value: str) -> None:
    inner = value.strip()
    if inner.startswith("<") and inner.endswith(">"):
        inner = inner[1:-1]
    if not _MSG_ID.fullmatch(inner):
        raise JobFailed(f"--message-id: {value!r} is not a message id: RFC 5322 section 3.6.4 "
                        "wants <left@right>, e.g. <20240101.1234@example.org>")


def _add_address(b: Builder, dest: str, value: str) -> None:
    """``b.to(value)`` etc., with errors naming the option and the value."""
    from .address import Group, coerce_addresses
    from .errors import AddressError, HeaderInjectionError

    opt = _option(dest)
    try:
        items = coerce_addresses(value)
    except HeaderInjectionError as exc:
        raise JobFailed(f"{opt}: {exc}") from exc
    except AddressError as exc:
        raise JobFailed(f"{opt}: {value!r} is not an email address{_address_reason(exc, value)}"
                        ) from exc
    boxes = [addr for item in items
             for addr in (item.members if isinstance(item, Group) else (item,))]
    if dest in ("from_", "sender") and items and not boxes:
        # RFC 5322 §3.6.2: the author (or sender) is a mailbox; an empty group such as
        # "Undisclosed:;" names nobody the message could come from.
        raise JobFailed(f"{opt}: {value!r} is a group with no mailbox in it, and a message "
                         "needs an address to come from (RFC 5322 section 3.6.2)")
    for addr in boxes:
        if not addr.local.isascii():
            raise JobFailed(
                f"{opt}: {addr.address!r} is not ASCII before the '@', and mimekit compose "
                "writes ASCII mail only (such an address needs SMTPUTF8, RFC 6531)")
        try:
            addr.ascii_domain  # noqa: B018 - the IDNA conversion the message will need
        except AddressError as exc:
            raise JobFailed(f"{opt}: {addr.address!r} is not an email address "
                            f"({exc})") from exc
    getattr(b, dest)(value)


def _address_reason(exc: Exception, value: str) -> str:
    """`` (REASON)`` from a strict-parsing AddressError, or "" when it only repeats the
    value: the defect's detail, without the lenient reading's "...; dropped" ending."""
    defect = getattr(exc, "defect", None)
    detail = defect.detail if defect is not None else str(exc).splitlines()[0]
    detail = re.sub(r"[;,]? *(?:(?:address|item) )?dropped$", "", detail).strip()
    if not detail or value.strip() in detail:
        return ""
    return f" ({detail})"


_FIELD_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 §2.2 ftext


def _check_header(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    # Only blanks are trimmed: a line break (`$'X-A\n: ok'`) is refused below or by the
    # builder, never dropped (RFC 5322 §2.2: a field name is printable ASCII, no colon).
    name = name.strip(" \t")
    if sep and name and not _FIELD_NAME.fullmatch(name):
        raise UsageError(f"--header {line!r}: {name!r} is not a header field name (RFC 5322 "
                         "section 2.2: printable ASCII without spaces or ':')")
    if not sep or not name:
        raise UsageError(f'--header wants "Name: value", got {line!r}')
    key = name.lower()
    if key in _HEADER_OPTIONS:
        raise UsageError(f"--header {line!r}: mimekit writes {name} itself, use "
                         f"{_HEADER_OPTIONS[key]}")
    if key.startswith("content-"):
        raise UsageError(f"--header {line!r}: mimekit writes {name} itself, from --text, "
                         "--html, --attach and --inline")
    if key in ("mime-version", "in-reply-to", "references"):
        raise UsageError(f"--header {line!r}: mimekit compose writes {name} itself or not "
                         "at all, and has no option for it")
    return name, value.strip(" \t")


def _inline_specs(specs: Sequence[str]) -> list[tuple[str, str]]:
    """(path, cid) for each --inline value; each Content-ID must be unique."""
    out: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for spec in specs:
        path, cid = spec, os.path.basename(spec)
        if not os.path.exists(spec) and ":" in spec:
            path, _, cid = spec.rpartition(":")
        cid = cid.strip(" \t").strip("<>").strip(" \t") or os.path.basename(path)
        _need_utf8(cid, f"--inline {spec!r}: the Content-ID")
        if not _CID.fullmatch(cid):
            # RFC 2392 §2: a cid: URL names a Content-ID, an RFC 5322 §3.6.4 msg-id, so
            # printable ASCII without spaces or angle brackets (mimekit writes ASCII mail).
            raise JobFailed(f"--inline {spec!r}: the Content-ID {cid!r} must be printable "
                            "ASCII without spaces, line breaks or angle brackets; give one "
                            "as PATH:CID, e.g. logo.png:logo")
        if cid in seen:
            raise UsageError(f"--inline {spec!r}: the Content-ID {cid!r} is already used by "
                             f"--inline {seen[cid]!r}; give each image its own PATH:CID")
        seen[cid] = spec
        out.append((path, cid))
    return out


# Options whose values are text written into the message or an SMTP command (file
# paths are not: a file name may be any bytes).
_TEXT_DESTS = ("from_", "sender", "reply_to", "to", "cc", "bcc", "subject", "text", "html",
               "header", "date", "message_id", "envelope_from", "envelope_to")


def _need_utf8(value: str, what: str) -> None:
    """Refuse text that is not UTF-8, naming ``what``. Python keeps the bytes of a
    non-UTF-8 argument as lone surrogates (PEP 383), which no charset can encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        byte = (f"the byte 0x{ord(bad) - 0xDC00:02x}" if 0xDC80 <= ord(bad) <= 0xDCFF
                else f"the lone surrogate U+{ord(bad):04X}")
        shown = value.encode("utf-8", "surrogateescape" if byte.startswith("the byte")
                             else "backslashreplace")
        text = shown.decode("utf-8", "backslashreplace")
        raise JobFailed(f"{what} '{text[:60]}' is not UTF-8 text ({byte}): give UTF-8, or "
                        "set the terminal or script to a UTF-8 locale") from None


def _check_text_options(args: argparse.Namespace) -> None:
    for dest in _TEXT_DESTS:
        value = getattr(args, dest, None)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                _need_utf8(item, _option(dest))


def _builder(args: argparse.Namespace) -> Builder:
    from .builder import compose
    from .errors import BuildError

    if args.text_file == "-" and args.html_file == "-":
        raise UsageError("--text-file - and --html-file - cannot both read standard input")
    inline = _inline_specs(args.inline)
    headers = [_check_header(line) for line in args.header]
    if args.message_id is not None:
        _check_message_id(args.message_id)
    if args.date:
        from .dates import parse_date

        if re.search(r"[\r\n\0]", args.date):
            raise JobFailed(f"--date: {args.date!r} holds a line break or NUL, which a header "
                            "cannot (RFC 5322 section 2.2)")
        if parse_date(args.date) is None:
            raise JobFailed(f"--date: {args.date!r} is not an RFC 5322 date, e.g. "
                            "'Thu, 01 Feb 2024 10:00:00 +0100'")
    b = compose()
    for dest in ("from_", "sender", "reply_to"):
        if getattr(args, dest):
            _add_address(b, dest, getattr(args, dest))
    for dest in ("to", "cc", "bcc"):
        for value in getattr(args, dest):
            _add_address(b, dest, value)
    if args.subject is not None:
        try:
            b.subject(args.subject)
        except BuildError as exc:
            raise JobFailed(f"--subject: {exc}") from exc
    text = _read_text_arg(args.text, args.text_file, "text")
    html = _read_text_arg(args.html, args.html_file, "html")
    if text is not None:
        b.text(text)
    if html is not None:
        b.html(html)
    for path in args.attach:
        _need_file(path)
        b.attach(path)
    for spec, (path, cid) in zip(args.inline, inline, strict=True):
        _need_file(path)
        try:
            b.inline(path, cid=cid)
        except BuildError as exc:
            raise JobFailed(f"--inline {spec!r}: {exc}") from exc
    for name, value in headers:
        try:
            b.header(name, value)
        except BuildError as exc:
            raise JobFailed(f"--header {name + ': ' + value!r}: {exc}") from exc
    if args.date:
        b.date(args.date)
    if args.message_id:
        b.message_id(args.message_id)
    return b


def _build(args: argparse.Namespace) -> Message:
    """The composed message; the builder's missing-option errors name the option."""
    from .errors import BuildError

    b = _builder(args)
    try:
        return b.build()
    except BuildError as exc:
        text = str(exc)
        if "call from_()" in text:
            raise UsageError("give --from: a message needs an author (RFC 5322 section "
                             "3.6.2)") from exc
        if "call sender()" in text:
            raise UsageError("give --sender: a message with several --from authors needs "
                             "one (RFC 5322 section 3.6.2)") from exc
        raise


def _parent(path: str) -> str:
    """The folder that holds ``path`` as written ("." for a bare name)."""
    return os.path.dirname(path.rstrip("/")) or ("/" if path.startswith("/") else ".")


def _folder_problem(path: str) -> str | None:
    """Why ``path`` cannot be the folder a command writes into, or None.

    The one rule of every command that writes into a folder (``extract --dir``, the
    ``file:``, ``maildir:`` and ``memory:`` outboxes): an existing folder is used, a
    missing one is created, but only the last level of the path, like ``compose -o``
    needs its file's folder to exist, so a typo in a parent never grows a new tree.
    """
    if os.path.isdir(path):
        return None
    if os.path.lexists(path):
        return f"{path} is not a folder"
    parent = _parent(path)
    if os.path.isdir(parent):
        return None
    if os.path.lexists(parent):
        return f"cannot create the folder {path}: {parent} is not a folder"
    return (f"cannot create the folder {path}: its parent {parent} does not exist (only the "
            "last folder of a path is created)")


def _mbox_problem(path: str) -> str | None:
    """Why ``path`` cannot be an mbox to append to, or None: the file is created when
    missing, but its folder must exist (the rule of ``compose -o``)."""
    if os.path.isdir(path):
        return f"{path} is a folder, not an mbox file"
    parent = _parent(path)
    if os.path.isdir(parent):
        return None
    if os.path.lexists(parent):
        return f"cannot create the mbox {path}: {parent} is not a folder"
    return f"cannot create the mbox {path}: its folder {parent} does not exist"


def _need_file(path: str) -> None:
    if os.path.isdir(path):
        raise JobFailed(f"cannot read {path}: it is a folder")
    if not os.path.isfile(path):
        raise JobFailed(f"cannot read {path}: no such file")


def _cmd_compose(args: argparse.Namespace) -> int:
    data = _build(args).to_bytes()
    if args.output:
        try:
            with open(args.output, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise _file_error("write", args.output, exc) from exc
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


# ------------------------------------------------------------------------- send
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
        if (config.kind == "smtp" and config.password is not None
                and config.security == "none" and not config.allow_plaintext_auth):
            # SMTPTransport refuses it too, in words for Python callers (a keyword
            # argument); here the fix is in the URL.
            raise InvalidURL("a user name and password with ?security=none would be sent in "
                             "the clear; use TLS (drop security=none), or add "
                             "&allow_plaintext_auth=1 to allow it")
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
            # A setting the transport refuses (not a TransportError): an error about the
            # URL, named below, never a traceback.
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


# ---------------------------------------------------------------------- inspect
def _read_bytes(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise _file_error("read", path, exc) from exc


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


def _looks_like_mbox(data: bytes) -> bool:
    """An mbox starts with a "From " separator line followed by a header line.

    A UTF-8 byte order mark before it does not count (editors on Windows add one, and
    :func:`mimekit.mailbox.iter_mbox_raw` skips it too)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.startswith(b"From "):
        return False
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


# ------------------------------------------------------------------------- main
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


def _is_ssl_error(exc: BaseException | None) -> bool:
    """An ``ssl.SSLError``: an OSError whose errno is an OpenSSL code, not an errno
    (a failed certificate check has errno 1, which is EPERM), so it keeps its text."""
    ssl = sys.modules.get("ssl")  # if ssl was never imported, no SSLError exists
    return ssl is not None and isinstance(exc, ssl.SSLError)


def _sentence(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__
    if _is_ssl_error(cause) or _is_ssl_error(exc):
        return text.splitlines()[0]
    if isinstance(cause, OSError) and cause.strerror and str(cause) and text.endswith(str(cause)):
        if cause.errno is not None and cause.strerror == os.strerror(cause.errno):
            # "cannot append to mbox 'o': [Errno 21] Is a directory: 'o'" -> "...: it is
            # a folder"
            reason = _os_reason(cause, writing=True)
        else:
            # The library's own sentence ("cannot create the dot-lock ... (No such file
            # or directory)"): more precise than a reason guessed from the errno alone.
            reason = cause.strerror[:1].lower() + cause.strerror[1:]
        text = text[: -len(str(cause))] + reason
    if isinstance(exc, OSError) and exc.strerror:
        text = (f"cannot use {exc.filename}: {_os_reason(exc)}" if exc.filename
                else _os_reason(exc))
    return text.splitlines()[0]
