"""Header formatting: validation, RFC 2047 encoding and folding (RFC 5322 §2.2, §3.2.2).

``format_header(name, value, policy)`` turns a caller's value into one folded header
field, ``Name: value`` plus ``policy.linesep``. It refuses CR, LF or NUL in the name or
value before producing anything (:class:`~mimekit.errors.HeaderInjectionError`), picks
the value's syntax by header name (address lists, message ids, dates, content type /
disposition, unstructured text), and folds only at white space between tokens: never
inside an encoded word, a quoted string or an addr-spec. Lines stay within
``policy.max_line_length`` (78) where a fold point exists and never exceed
``policy.hard_line_limit`` (998 octets). The result is checked to be exactly one field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from mimekit.address import Address, Group, address_tokens, coerce_addresses
from mimekit.dates import format_date, parse_date, parse_msgid_list
from mimekit.encoded_words import encode_words, needs_encoding
from mimekit.errors import BuildError, EncodingError, HeaderInjectionError
from mimekit.params import ContentDisposition, ContentType
from mimekit.policy import Policy

__all__ = ["ADDRESS_HEADERS", "address_field", "fold_tokens", "format_header"]

# RFC 5322 §2.2: field-name = 1*ftext; ftext = %d33-57 / %d59-126 (printable, no colon).
_FIELD_NAME = re.compile(r"[!-9;-~]+\Z")
_INJECTION = re.compile(r"[\r\n\0]")

ADDRESS_HEADERS = frozenset(
    {
        "from", "sender", "reply-to", "to", "cc", "bcc",
        "resent-from", "resent-sender", "resent-to", "resent-cc", "resent-bcc",
        "disposition-notification-to", "return-receipt-to", "mail-followup-to",
        "mail-reply-to", "errors-to", "original-recipient-address",
    }
)  # fmt: skip
_ID_HEADERS = frozenset({"message-id", "resent-message-id", "content-id"})
_ID_LIST_HEADERS = frozenset({"in-reply-to", "references"})
_DATE_HEADERS = frozenset({"date", "resent-date"})
_PARAM_HEADERS = frozenset({"content-type", "content-disposition"})
# RFC 2369 §2 / RFC 2919: angle-bracketed URI lists, never RFC 2047 encoded.
_LIST_HEADERS = frozenset({"list-help", "list-unsubscribe", "list-subscribe", "list-post",
                           "list-owner", "list-archive"})
_URI_LIST = re.compile(r"[ \t]*<[!-;=?-~]+>[ \t]*(?:,[ \t]*<[!-;=?-~]+>[ \t]*)*")
_URI_ITEM = re.compile(r"<[!-;=?-~]+>")

# RFC 2047 §2: lines that contain an encoded word are limited to 76 characters.
_EW_LINE = 76

# Unstructured text split into (white space before, word).
_WORD_RE = re.compile(r"([ \t]*)([^ \t]+)")


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _FIELD_NAME.match(name):
        raise HeaderInjectionError(
            f"invalid header field name {name!r} (RFC 5322 §2.2: printable ASCII, no colon)"
        )


def _check_text(name: str, text: str) -> None:
    # RFC 5322 §2.2: a field body has no CR or LF; NUL is never allowed (§3.2.3 via VCHAR).
    if _INJECTION.search(text):
        raise HeaderInjectionError(f"CR, LF or NUL in the value of {name}: {text[:60]!r}")


def _check_value(name: str, value: Any) -> None:
    """Refuse CR/LF/NUL anywhere in a caller's value (strings, sequences of strings)."""
    if isinstance(value, str):
        _check_text(name, value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_value(name, item)


def _octets(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class _Folder:
    """Builds the physical lines of one field, folding before a token's white space
    (RFC 5322 §2.2.3: a fold is a CRLF inserted before existing WSP)."""

    def __init__(self, name: str, policy: Policy, *, fold_first: bool = True) -> None:
        self.policy = policy
        # Fold between the colon and the first token when that helps? Structured values
        # yes; unstructured no (the standard library would keep the space as content).
        self.fold_first = fold_first
        self.soft = policy.max_line_length
        self.hard = policy.hard_line_limit
        self.lines: list[str] = []
        self.cur = name + ":"
        self.cur_len = len(name) + 1
        self.tokens_on_line = 0

    def room(self, sep: str = " ") -> int:
        """Octets left on the current line for a token after ``sep``."""
        return self.soft - self.cur_len - len(sep)

    def add(self, token: str, sep: str = " ") -> None:
        n = _octets(token)
        # Fold before this token's white space. For the first token that is the white
        # space after the colon, used only when it brings the line within the limit.
        if self.cur_len + len(sep) + n > self.soft and (
            self.tokens_on_line > 0
            or (self.fold_first and not self.lines and len(sep) + n <= self.soft)
        ):
            self.lines.append(self.cur)
            self.cur = ""
            self.cur_len = 0
            self.tokens_on_line = 0
        self.cur += sep + token
        self.cur_len += len(sep) + n
        self.tokens_on_line += 1
        if self.cur_len > self.hard:
            # RFC 5322 §2.1.1: lines MUST be no more than 998 characters.
            raise BuildError(
                f"header token of {n} octets cannot be folded within {self.hard} octets"
            )

    def result(self) -> bytes:
        sep = self.policy.linesep
        text = "\r\n".join(self.lines + [self.cur]) if self.lines else self.cur
        data = text.encode("utf-8")
        if sep != b"\r\n":
            data = data.replace(b"\r\n", sep)
        return data + sep


def _verify(name: str, data: bytes, policy: Policy) -> bytes:
    """Cheap generator-side check: the bytes are exactly one field (RFC 5322 §2.2)."""
    sep = policy.linesep
    body = data[: -len(sep)]
    lines = body.split(sep)
    for i, line in enumerate(lines):
        if b"\r" in line or b"\n" in line:
            raise BuildError(f"internal error: bare CR or LF in header {name}")
        if i and (not line or line[0] not in b" \t" or not line.strip(b" \t")):
            raise BuildError(f"internal error: header {name} would not re-parse as one field")
        if len(line) > policy.hard_line_limit:
            raise BuildError(f"internal error: header {name} line over the hard limit")
    return data


def fold_tokens(name: str, tokens: list[str], policy: Policy) -> bytes:
    """``Name: tok tok ...`` folded at the spaces between tokens (each token stays on one
    line), ending with ``policy.linesep``. Raises BuildError when a token cannot fit in
    the hard line limit."""
    _check_name(name)
    joined = " ".join(tokens)
    if _INJECTION.search(joined):
        for tok in tokens:
            _check_text(name, tok)  # raises, naming the offending token
    if tokens and joined.isascii() and len(name) + 2 + len(joined) <= min(
        policy.max_line_length, policy.hard_line_limit
    ):
        # Fast path: the whole field fits on one line, so there is nothing to fold and
        # the result is what the folder would build (tokens joined by single spaces).
        return f"{name}: {joined}".encode("ascii") + policy.linesep
    folder = _Folder(name, policy)
    for tok in tokens:
        folder.add(tok)
    return _verify(name, folder.result(), policy)


# ---------------------------------------------------------------------------
# Unstructured text (RFC 5322 §3.2.5, RFC 2047 §5(1))


def _unstructured(name: str, value: str, policy: Policy) -> bytes:
    folder = _Folder(name, policy, fold_first=False)
    word_max = min(75, max(policy.max_line_length - 1, 24))  # RFC 2047 §2: <= 75
    # A word longer than this cannot be placed even on a line of its own.
    too_long = policy.hard_line_limit - len(name) - 2

    def must_encode(word: str) -> bool:
        if policy.smtputf8:
            if "=?" in word or any(ch < " " or ch == "\x7f" for ch in word if ch != "\t"):
                return True
        elif needs_encoding(word):
            return True
        return _octets(word) > too_long

    pieces = [(m.group(1), m.group(2)) for m in _WORD_RE.finditer(value)]
    if not value:
        folder.add("")
        return _verify(name, folder.result(), policy)
    # Leading and trailing white space is lost by readers that strip the field body
    # (the standard library strips the leading part, many strip both): carry it
    # inside an encoded word so the value survives exactly.
    if not pieces:
        pieces = [("", value)]
        tail = ""
    else:
        tail = value[len(value.rstrip(" \t")) :]
    lead = pieces[0][0]
    n = len(pieces)

    def encode_at(i: int) -> bool:
        return (
            must_encode(pieces[i][1])
            or (i == 0 and (bool(lead) or pieces[0][1].isspace()))
            or (i == n - 1 and bool(tail))
        )

    if any(encode_at(k) for k in range(n)):
        # RFC 2047 §2: a line holding an encoded word is at most 76 characters.
        folder.soft = min(folder.soft, _EW_LINE)
    i = 0
    while i < n:
        ws, word = pieces[i]
        # The value's own white space is kept: a fold goes before it. Only the first
        # word gets the conventional space after the colon.
        sep = ws if i else " "
        if not encode_at(i):
            folder.add(word, sep)
            i += 1
            continue
        # A run of words that need encoding becomes one encoded text: the white
        # space between them goes inside it (decoders drop white space between
        # adjacent encoded words, RFC 2047 §6.2).
        j = i + 1
        run = [lead + word if i == 0 else word]
        while j < n and encode_at(j):
            run.append(pieces[j][0] + pieces[j][1])
            j += 1
        if j == n:
            run.append(tail)
        text = "".join(run)
        words = encode_words(text, maxlen=word_max)
        room = folder.room(sep)
        first = folder.tokens_on_line == 0 and not folder.lines
        if (len(words) > 1 or first) and room >= 20 and _octets(words[0]) > room:
            # A long run (or the first token, which cannot be folded before): fill the
            # rest of the current line with its first word. A later run that fits in
            # one word is kept whole and simply folded.
            words = encode_words(text, first_len=max(word_max - room, 0), maxlen=word_max)
        for k, ew in enumerate(words):
            folder.add(ew, sep if k == 0 else " ")
        i = j
    return _verify(name, folder.result(), policy)


# ---------------------------------------------------------------------------
# Structured values


_ID_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


def _norm_id(name: str, value: str, policy: Policy) -> str:
    ident = value.strip()
    if ident.startswith("<") and ident.endswith(">"):
        ident = ident[1:-1].strip()
    # RFC 5322 §3.6.4: id-left and id-right are dot-atom-text (or a no-fold-literal),
    # printable characters only; a control character (ESC, DEL, C1) is no id and would
    # be written raw into the header.
    if not ident or any(ch in ident for ch in " \t<>") or _ID_CONTROL.search(ident):
        raise BuildError(f"invalid message id for {name}: {value!r} (RFC 5322 §3.6.4)")
    if not policy.smtputf8 and not ident.isascii():
        raise BuildError(f"non-ASCII message id for {name} needs SMTPUTF8 (RFC 6532)")
    return f"<{ident}>"


def _id_list(name: str, value: Any, policy: Policy) -> list[str]:
    if isinstance(value, str):
        ids = parse_msgid_list(value)
    elif isinstance(value, Iterable):
        ids = []
        for item in value:
            if not isinstance(item, str):
                raise TypeError(f"{name} takes message ids as strings")
            ids.append(item)
    else:
        raise TypeError(f"{name} takes a string or a sequence of message ids")
    if not ids:
        # RFC 5322 §3.6.4: In-Reply-To and References hold 1*msg-id; an empty field
        # says nothing and some threaders choke on it.
        raise BuildError(f"no message id found in {name}: {str(value)[:60]!r}")
    return [_norm_id(name, i, policy) for i in ids]


def _date_value(name: str, value: Any) -> str:
    if isinstance(value, datetime):
        return format_date(value)
    if isinstance(value, str):
        parsed = parse_date(value)
        if parsed is None:
            raise BuildError(f"{name} is not a date (RFC 5322 §3.3): {value[:60]!r}")
        return format_date(parsed)
    raise TypeError(f"{name} takes a datetime or a string")


def _param_tokens(name: str, value: Any, policy: Policy) -> list[str]:
    if isinstance(value, str):
        cls: Any = ContentType if name == "content-type" else ContentDisposition
        value = cls.parse(value, [])
    tokens = value.header_tokens(policy)
    if not isinstance(tokens, list):
        raise TypeError(f"{name} value gave no header tokens")
    return [str(t) for t in tokens]


def format_header(name: str, value: Any, policy: Policy) -> bytes:
    """One header field as bytes: ``Name: value`` folded, ending in ``policy.linesep``.

    Dispatch by lower-cased name: address headers take a string (parsed strictly) or
    Address/Group values; Message-ID, Resent-Message-ID and Content-ID an id (angle
    brackets added if missing); In-Reply-To and References a string or a sequence of
    ids; Date and Resent-Date a datetime or a date string; Content-Type and
    Content-Disposition a string or the :mod:`mimekit.params` values; everything else
    unstructured text with RFC 2047 words only where needed (raw UTF-8 with
    ``policy.smtputf8``). Raises HeaderInjectionError for CR, LF or NUL anywhere.
    """
    _check_name(name)
    _check_value(name, value)
    try:
        return _format(name, name.lower(), value, policy)
    except UnicodeEncodeError as exc:
        # Lone surrogates (str decoded with surrogateescape) have no encoding at all.
        raise EncodingError(f"the value of {name} cannot be encoded: {exc}") from None


def address_field(name: str, items: list[Address | Group], policy: Policy) -> bytes:
    """An address-list field (RFC 5322 §3.4) from address values, folded between
    addresses; ``name`` must already be a valid field name."""
    tokens = address_tokens(items, policy)
    if policy.max_line_length > _EW_LINE and any("=?" in t for t in tokens):
        # RFC 2047 §2: a line holding an encoded word is at most 76 characters.
        policy = attrs.evolve(policy, max_line_length=_EW_LINE)
        tokens = address_tokens(items, policy)
    return fold_tokens(name, tokens, policy)


def _format(name: str, key: str, value: Any, policy: Policy) -> bytes:
    if key in ADDRESS_HEADERS:
        if isinstance(value, list) and all(type(v) is Address for v in value):
            items = value  # already values (the builder's lists): address_tokens checks them
        else:
            items = coerce_addresses(value)
        return address_field(name, items, policy)
    if key in _ID_HEADERS:
        if not isinstance(value, str):
            raise TypeError(f"{name} takes a message id string")
        return fold_tokens(name, [_norm_id(name, value, policy)], policy)
    if key in _ID_LIST_HEADERS:
        return fold_tokens(name, _id_list(name, value, policy), policy)
    if key in _DATE_HEADERS:
        return fold_tokens(name, _date_value(name, value).split(" "), policy)
    if key in _LIST_HEADERS and isinstance(value, str) and _URI_LIST.fullmatch(value):
        # RFC 2369 §2: a list of <URI>s (commas between them); a URI is written as it
        # is, whatever it holds ("=?" included), and folds only between URIs.
        uris = _URI_ITEM.findall(value)
        return fold_tokens(name, [u + "," for u in uris[:-1]] + uris[-1:], policy)
    if key in _PARAM_HEADERS:
        return fold_tokens(name, _param_tokens(key, value, policy), policy)
    if isinstance(value, datetime):
        value = format_date(value)
    if not isinstance(value, str):
        raise TypeError(f"{name} takes a string, not {type(value).__name__}")
    if (
        len(name) + 2 + len(value) <= policy.max_line_length
        and _SIMPLE_UNSTRUCTURED.fullmatch(value)
        and "=?" not in value
    ):
        # Fast path: short printable ASCII with single inner spaces needs neither
        # encoding nor folding (RFC 5322 §2.2.1 unstructured field body as written).
        return f"{name}: {value}".encode("ascii") + policy.linesep
    return _unstructured(name, value, policy)


_SIMPLE_UNSTRUCTURED = re.compile(r"[!-~]+(?: [!-~]+)*")
