"""``mimekit compose`` and the message options that ``send`` shares with it: each
option checked and turned into a :class:`~mimekit.builder.Builder` call, every error
naming the option (see docs/cli.md)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._cli_common import JobFailed, UsageError, _file_error, _need_file, _option

if TYPE_CHECKING:
    from .builder import Builder
    from .model import Message


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
