"""What the ``mimekit`` subcommands share: their two error kinds, and the sentences
that file and transport failures are turned into (one line on stderr, naming the
option, file or setting at fault; never a traceback)."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence


class UsageError(Exception):
    """Bad command-line use: exit status 2."""


class JobFailed(Exception):
    """The job could not be done: exit status 1."""


def _option(dest: str) -> str:
    """The command-line spelling of an argparse dest: from_ -> --from."""
    return "--" + dest.rstrip("_").replace("_", "-")


def _and_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


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


def _read_bytes(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise _file_error("read", path, exc) from exc


def _looks_like_mbox(data: bytes) -> bool:
    """An mbox starts with a "From " separator line followed by a header line.

    A UTF-8 byte order mark before it does not count (editors on Windows add one, and
    :func:`mimekit.mailbox.iter_mbox_raw` skips it too)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.startswith(b"From "):
        return False
    first, _, rest = data.partition(b"\n")
    return b":" in rest.partition(b"\n")[0] and not first.rstrip().endswith(b":")


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
