"""Content-Type and Content-Disposition values and their parameters.

Parsing follows RFC 2045 §5.1 (``type/subtype; name=value``), RFC 2183 (disposition)
and RFC 2231 (continuations ``name*0*=``, charsets and languages ``utf-8'en'...``),
leniently: real mail has unquoted values with spaces, unterminated quotes,
duplicate parameters, sections out of order or missing, bare ``name*`` with no
value, and RFC 2047 encoded words inside quoted values (Outlook's legacy form).
Nothing here raises on bad input; every repair appends a
:class:`~mimekit.errors.Defect`.

Formatting produces foldable tokens (``["text/plain;", "charset=utf-8"]``) for the
header folder: values quoted when RFC 2045 tspecials require it, RFC 2231 encoding
(with continuations that keep every token short) for non-ASCII or very long
values, plus the legacy RFC 2047 ``filename="=?utf-8?B?...?="`` form for clients
that read nothing else. Caller values with CR, LF or NUL raise
:class:`~mimekit.errors.HeaderInjectionError`.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Iterable, Mapping
from urllib.parse import quote_from_bytes, unquote_to_bytes

import attrs

from mimekit.errors import BuildError, Defect, HeaderInjectionError
from mimekit.errors import add_defect as _add
from mimekit.policy import DEFAULT, Policy

__all__ = [
    "ContentDisposition",
    "ContentType",
    "make_boundary",
    "param_tokens",
    "parse_params",
]

Params = tuple[tuple[str, str], ...]
ParamsInput = Mapping[str, str] | Iterable[tuple[str, str]] | None

# RFC 2045 §5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>
_TOKEN = r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+"
_TOKEN_RE = re.compile(_TOKEN + r"\Z")
_NAME_OK_RE = re.compile(r"[!#$&+\-.^_`{|}~0-9A-Za-z]+\Z")  # token minus * ' %
_SAFE_TOKEN_RE = re.compile(r"[!#$&+\-.^_`{|}~0-9A-Za-z]+\Z")
_TYPE_RE = re.compile(r"\s*(" + _TOKEN + r")\s*/\s*(" + _TOKEN + r")\s*")
# RFC 2231 §7: attribute-char excludes "*", "'", "%" and tspecials.
_ATTR_SAFE = b"!#$&+-.^_`|~"
_NAME_RE = re.compile(r"[^\s=;\"]+")
_SKIP_RE = re.compile(r"[ \t\r\n;]+")
_WS_RE = re.compile(r"[ \t\r\n]*")
_EXT_RE = re.compile(r"(.+?)\*(?:(\d{1,6})(\*)?)?\Z")
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_QUOTED_LOOSE_RE = re.compile(r'"(.*?)"\s*(?=;|\Z)', re.DOTALL)
_UNESCAPE_RE = re.compile(r'\\(["\\])')
_CHARSET_LANG_RE = re.compile(r"([A-Za-z0-9_\-:.]*)'([A-Za-z0-9\-]*)'")
_TRAILING_COMMENT_RE = re.compile(r"^(\S+)\s+\([^()]*\)\Z")
_UNSAFE_RE = re.compile(r"[\r\n\0]")
_CTL_RE = re.compile(r"[\x00-\x1f\x7f]")
_MAX_TOKEN = 75  # with its ";" a token fits a folded line of 78 (RFC 5322 §2.1.1)
_MAX_SECTIONS = 1000  # bound work on hostile input
_DISPOSITION_KINDS = frozenset({"inline", "attachment", "form-data"})
# Structural parameters that many readers only understand in the plain form: written
# as one token whatever their length (a header line may hold 998 octets).
_NEVER_SPLIT = frozenset(
    {"boundary", "charset", "protocol", "micalg", "type", "start", "start-info",
     "report-type", "method", "format", "delsp", "access-type", "id"}
)



# --- parsing ----------------------------------------------------------------------------


def _read_quoted(text: str, i: int) -> tuple[str, int, bool]:
    """Read a quoted string starting at ``text[i] == '"'``: (value, end, well-formed)."""
    m = _QUOTED_RE.match(text, i)
    if m is not None:
        rest = text[m.end() : m.end() + 200].lstrip()
        if not rest or rest[0] == ";":
            return _UNESCAPE_RE.sub(r"\1", m.group(1)), m.end(), True
    # Inner unescaped quotes (``"my "best" file.pdf"``): the closing quote is the
    # first one followed by ";" or the end. The search stops at the first ";" after
    # the strict reading so hostile input stays linear.
    end = len(text)
    strict = m
    if strict is not None:
        semi = text.find(";", strict.end())
        end = end if semi < 0 else semi
    m = _QUOTED_LOOSE_RE.match(text, i, end)
    if m is not None:
        return _UNESCAPE_RE.sub(r"\1", m.group(1)), m.end(), False
    if strict is not None:  # ``"abc"def``: the caller appends the trailing text
        return _UNESCAPE_RE.sub(r"\1", strict.group(1)), strict.end(), False
    # Unterminated: the rest of the value.
    return _UNESCAPE_RE.sub(r"\1", text[i + 1 :].rstrip()), len(text), False


def _skip_ws(text: str, i: int) -> int:
    m = _WS_RE.match(text, i)
    return m.end() if m is not None else i


def _tokenize(
    text: str, defects: list[Defect] | None, header: str | None, skip_head: bool
) -> list[tuple[str, str, bool]]:
    """Split a parameter list into (lower-case name, raw value, was quoted)."""
    out: list[tuple[str, str, bool]] = []
    i, n = 0, len(text)
    first = skip_head
    while i < n:
        skip = _SKIP_RE.match(text, i)
        if skip is not None and skip.end() > i:
            if ";" in skip.group():
                first = False
            i = skip.end()
            continue
        m = _NAME_RE.match(text, i)
        if m is None:  # a stray '=' or '"': skip to the next ';'
            j = text.find(";", i)
            j = n if j < 0 else j
            _add(defects, "InvalidParameter", f"junk {text[i:j].strip()[:40]!r} ignored", header)
            i = j
            continue
        name = m.group()
        i = m.end()
        i = _skip_ws(text, i)
        if i >= n or text[i] != "=":
            # A segment before the first ';' holding a type or disposition kind is the
            # head of a whole header value: callers may pass one; skip it quietly.
            if not (first and ("/" in name or name.lower() in _DISPOSITION_KINDS)):
                _add(defects, "InvalidParameter", f"parameter {name!r} has no value; dropped", header)
            first = False
            continue
        first = False
        i = _skip_ws(text, i + 1)
        if i < n and text[i] == '"':
            value, i, ok = _read_quoted(text, i)
            if not ok:
                _add(defects, "InvalidParameter", f"badly quoted value of {name!r}", header)
            j = text.find(";", i)
            j = n if j < 0 else j
            junk = text[i:j].strip()
            if junk:  # ``name="abc"def``: keep the text, as most clients do
                value += junk
                _add(defects, "InvalidParameter", f"text after the quoted value of {name!r}", header)
            i = j
            out.append((name.lower(), value, True))
        else:
            j = text.find(";", i)
            j = n if j < 0 else j
            value = text[i:j].strip()
            i = j
            lname = name.lower()
            if lname.split("*", 1)[0] not in ("name", "filename"):
                c = _TRAILING_COMMENT_RE.match(value)
                if c is not None:  # RFC 2045 §5.1 allows comments: charset=us-ascii (Plain)
                    value = c.group(1)
            out.append((lname, value, False))
    return out


def _decode_words(value: str, defects: list[Defect] | None, header: str | None) -> str:
    """RFC 2047 encoded words inside a parameter value (not standard, but common)."""
    if "=?" not in value or "?=" not in value:
        return value
    try:
        from mimekit.encoded_words import decode_header_text
    except ImportError:  # pragma: no cover - sibling module is part of the package
        return value
    found: list[Defect] = []
    try:
        text = decode_header_text(value, found)
    except Exception:  # noqa: BLE001 - never let a sibling's bug break parsing
        return value
    if any(d.kind == "UndecodableHeaderBytes" for d in found):
        # Bytes the word's charset cannot decode became U+FFFD (lenient): say so, once,
        # naming the field. The same words read through Header.value give this very
        # defect (recorded once).
        from mimekit.headers import _undecodable

        found = [d for d in found if d.kind != "UndecodableHeaderBytes"]
        found.append(_undecodable(header or "parameter", "an encoded word of "))
    if defects is not None:
        defects.extend(attrs.evolve(d, header=header) for d in found)
    return text


def _decode_text(data: bytes, charset: str | None, defects: list[Defect] | None,
                 header: str | None) -> str:
    from mimekit.charset import decode_bytes

    found: list[Defect] = []
    text, _ = decode_bytes(data, charset or None, found, fallback="latin-1", strip_bom=False)
    if "\ufffd" in text and text.count("\ufffd") > data.count(b"\xef\xbf\xbd"):
        # RFC 2231 §4: the octets are text in the named charset; octets it cannot
        # decode became U+FFFD (lenient), with this defect.
        found.append(Defect("UndecodableHeaderBytes", f"undecodable bytes in an RFC 2231 "
                            f"value of the {header or 'parameter'} field replaced by U+FFFD"))
    if defects is not None:
        defects.extend(attrs.evolve(d, header=header) for d in found)
    return text


def _join_sections(
    name: str,
    sections: dict[int, tuple[str, bool]],
    defects: list[Defect] | None,
    header: str | None,
) -> str:
    """RFC 2231 §3-4: join continuation sections in numeric order; percent-decode the
    encoded ones as bytes (a character may span sections) in the charset of the
    first section."""
    order = sorted(sections)
    if order != list(range(len(order))):
        _add(defects, "InvalidParameter",
             f"RFC 2231 sections of {name!r} missing or misnumbered: {order[:12]}", header)
    charset: str | None = None
    pieces: list[str] = []
    pending = bytearray()
    for k, idx in enumerate(order):
        value, encoded = sections[idx]
        if not encoded:
            if pending:
                pieces.append(_decode_text(bytes(pending), charset, defects, header))
                pending.clear()
            pieces.append(value)
            continue
        m = _CHARSET_LANG_RE.match(value)
        if k == 0:
            if m is not None:
                charset = m.group(1) or None
                value = value[m.end() :]
            else:
                _add(defects, "InvalidParameter",
                     f"RFC 2231 value of {name!r} has no charset'language' prefix", header)
        elif m is not None and m.group(1) and charset and m.group(1).lower() == charset.lower():
            value = value[m.end() :]  # some senders repeat the prefix in every section
        pending += unquote_to_bytes(value)
    if pending:
        pieces.append(_decode_text(bytes(pending), charset, defects, header))
    return "".join(pieces)


def parse_params(
    text: str, defects: list[Defect] | None = None, *, header: str | None = None
) -> list[tuple[str, str]]:
    """Parameters of a Content-Type / Content-Disposition value, decoded; never raises.

    ``text`` is the parameter list (what follows the type or disposition kind, with
    or without the leading ``;``; a leading ``type/subtype`` or disposition kind is
    skipped). Names come back lower case in order of first appearance. RFC 2231
    sections are joined in numeric order whatever their order in the text, and an
    RFC 2231 form wins over a plain parameter of the same name (senders write both
    for old clients). A repeated parameter keeps the first value (defect
    ``DuplicateParameter``); a name with no value (``name*``) is dropped (defect
    ``InvalidParameter``). ``header`` names the header in the defects.
    """
    return _parse_params(text, defects, header, skip_head=True)


def _parse_params(
    text: str, defects: list[Defect] | None, header: str | None, *, skip_head: bool
) -> list[tuple[str, str]]:
    """parse_params; ``skip_head`` allows a leading type or disposition kind."""
    plain: dict[str, str] = {}
    ext: dict[str, dict[int, tuple[str, bool]]] = {}
    order: dict[str, None] = {}  # names in order of first appearance (O(1) lookups)
    for name, value, quoted in _tokenize(text, defects, header, skip_head):
        m = _EXT_RE.match(name)
        base_name = m.group(1) if m is not None else name
        if not _NAME_OK_RE.match(base_name):
            # RFC 2045 §5.1 / RFC 2231 §7: not a parameter name; keeping it would make
            # the value impossible to write back.
            _add(defects, "InvalidParameter", f"invalid parameter name {name[:40]!r} dropped",
                 header)
            continue
        if m is not None:
            # RFC 2231 §3-4: name*N (plain section), name*N* / name* (encoded). A
            # quoted encoded value is not standard but is read the same way.
            base = m.group(1)
            idx = int(m.group(2)) if m.group(2) is not None else 0
            encoded = m.group(2) is None or m.group(3) is not None
            sections = ext.setdefault(base, {})
            if base not in order:
                order[base] = None
            if idx in sections:
                _add(defects, "DuplicateParameter", f"RFC 2231 section {name!r} repeated", header)
            elif len(sections) < _MAX_SECTIONS:
                sections[idx] = (value, encoded)
            continue
        if name in plain:
            if plain[name] != value:
                _add(defects, "DuplicateParameter",
                     f"parameter {name!r} repeated; the first value is kept", header)
            continue
        plain[name] = value
        if name not in order:
            order[name] = None
    result: list[tuple[str, str]] = []
    for name in order:
        if name in ext:
            result.append((name, _join_sections(name, ext[name], defects, header)))
        elif name in ("boundary", "charset"):
            result.append((name, plain[name]))
        else:
            result.append((name, _decode_words(plain[name], defects, header)))
    return result


# --- formatting -------------------------------------------------------------------------


def _check_value(name: str, value: str) -> None:
    # RFC 5322 §2.2: a field body holds no CR or LF; NUL is never allowed (§3.5 / 2.2).
    if _UNSAFE_RE.search(name) or _UNSAFE_RE.search(value):
        raise HeaderInjectionError(
            f"parameter {name[:40]!r} contains CR, LF or NUL: refused (header injection)"
        )
    if not name or not _TOKEN_RE.match(name) or any(c in name for c in "*'%"):
        raise BuildError(f"invalid parameter name {name[:40]!r} (RFC 2045 §5.1, RFC 2231 §7)")


def _quote(value: str) -> str:
    """A token as is, anything else as a quoted string (RFC 2045 §5.1 tspecials).

    "*", "'" and "%" are token characters, but RFC 2231-aware readers (Python's
    email among them) misread them in bare values, so those values are quoted too.
    """
    if value and _SAFE_TOKEN_RE.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pct(text: str) -> list[str]:
    """RFC 2231 §4 percent-encoding of UTF-8, one string per character."""
    out: list[str] = []
    for ch in text:
        out.append(quote_from_bytes(ch.encode("utf-8", "surrogatepass"), safe=_ATTR_SAFE))
    return out


def _rfc2231_tokens(name: str, value: str) -> list[str]:
    chars = _pct(value)
    single = f"{name}*=utf-8''" + "".join(chars)
    if len(single) <= _MAX_TOKEN:
        return [single]
    # RFC 2231 §3: continuations, split between characters so that decoders which
    # (wrongly) decode each section alone still see whole characters.
    tokens: list[str] = []
    current = ""
    prefix = f"{name}*0*=utf-8''"
    for piece in chars:
        if current and len(prefix) + len(current) + len(piece) + 1 > _MAX_TOKEN:
            tokens.append(prefix + current + ";")
            prefix = f"{name}*{len(tokens)}*="
            current = ""
        current += piece
    tokens.append(prefix + current)
    return tokens


def _ascii_continuations(name: str, value: str) -> list[str]:
    """Long ASCII values: RFC 2231 §3 plain continuations ``name*0="..."``."""
    tokens: list[str] = []
    i = 0
    while i < len(value):
        prefix = f"{name}*{len(tokens)}="
        room = _MAX_TOKEN - len(prefix) - 3
        chunk = value[i : i + room]
        tokens.append(prefix + _quote(chunk) + ";")
        i += len(chunk)
    tokens[-1] = tokens[-1][:-1]
    return tokens


def _legacy_words(name: str, value: str) -> list[str]:
    """Outlook's form: ``name="=?utf-8?B?...?="`` split into encoded words of at most
    75 characters (RFC 2047 §2) that never split a character; the words are separate
    tokens so the header may fold between them (white space between words is
    dropped on decoding, RFC 2047 §6.2)."""
    words: list[str] = []
    chunk = b""
    # Each token, quote and name included, stays within _MAX_TOKEN characters.
    room = min(75, _MAX_TOKEN - len(name) - 3) - 12
    for ch in value:
        data = ch.encode("utf-8", "surrogatepass")
        if chunk and (len(chunk) + len(data) + 2) // 3 * 4 > room:
            words.append("=?utf-8?B?" + binascii.b2a_base64(chunk, newline=False).decode() + "?=")
            chunk = b""
        chunk += data
    words.append("=?utf-8?B?" + binascii.b2a_base64(chunk, newline=False).decode() + "?=")
    words[0] = f'{name}="' + words[0]
    words[-1] += '"'
    return words


def param_tokens(name: str, value: str, policy: Policy = DEFAULT) -> list[str]:
    """Foldable tokens for one parameter; ``;`` separates tokens of one parameter.

    Printable ASCII that fits: ``name=value`` (quoted when needed). Non-ASCII or
    control characters, quotes and backslashes, ``=?`` (which readers would take for
    an RFC 2047 word), or values too long for one line:
    RFC 2231 (``name*=utf-8''...`` or ``name*0*=`` continuations, each token at most
    76 characters). With ``policy.legacy_filename`` the Content-Type ``name``
    parameter is written *only* in the legacy RFC 2047 form (``name="=?utf-8?B?...?="``,
    what older Outlook reads), while ``filename`` keeps the standard RFC 2231 form:
    each header then carries one form of its parameter, never a duplicate that
    parsers resolve differently. With ``policy.smtputf8``
    UTF-8 values that fit are written raw in a quoted string (RFC 6532 §3.2).
    Raises :class:`HeaderInjectionError` for CR, LF or NUL.
    """
    _check_value(name, value)
    legacy = policy.legacy_filename and name.lower() == "name"
    # The reader decodes RFC 2047 words in plain values (the legacy form above), so a
    # value that merely holds "=?" (a file name "=?utf-8?q?x?=") would come back
    # changed: such a value is written in a form that is never decoded again.
    word_like = "=?" in value and name.lower() not in ("boundary", "charset")
    simple = (value.isascii() and not _CTL_RE.search(value) and '"' not in value
              and "\\" not in value and not word_like)
    if simple:
        tok = f"{name}={_quote(value)}"
        if len(tok) <= _MAX_TOKEN or name.lower() in _NEVER_SPLIT:
            return [tok]
        if legacy and len(tok) <= policy.hard_line_limit - 40:
            return [tok]  # one long quoted value for clients without RFC 2231
        return _ascii_continuations(name, value)
    if policy.smtputf8 and not _CTL_RE.search(value) and not word_like:
        tok = f"{name}={_quote(value)}"
        if len(tok.encode("utf-8", "surrogatepass")) <= _MAX_TOKEN:
            return [tok]
    if legacy and value:
        return _legacy_words(name, value)
    return _rfc2231_tokens(name, value)


def _params_tokens(head: str, params: Params, policy: Policy) -> list[str]:
    tokens = [head]
    for name, value in params:
        tokens[-1] += ";"
        tokens.extend(param_tokens(name, value, policy))
    return tokens


def _to_params(value: ParamsInput) -> Params:
    """Normalise a mapping or pairs to a tuple of (lower-case name, value)."""
    if value is None:
        return ()
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k).lower(), str(v)) for k, v in items if v is not None)


def _lower(value: str) -> str:
    return value.strip().lower()


def _get(params: Params, name: str, default: str | None) -> str | None:
    key = name.lower()
    for k, v in params:
        if k == key:
            return v
    return default


def _with(params: Params, kw: Mapping[str, str | None]) -> Params:
    items = list(params)
    for raw, value in kw.items():
        key = raw.lower().replace("_", "-")
        pos = next((i for i, (k, _) in enumerate(items) if k == key), None)
        if value is None:
            if pos is not None:
                del items[pos]
        elif pos is None:
            items.append((key, str(value)))
        else:
            items[pos] = (key, str(value))
    return tuple(items)


@attrs.frozen
class ContentType:
    """A Content-Type value (RFC 2045 §5.1): lower-case type and subtype, and the
    parameters as (lower-case name, decoded value) pairs in order."""

    maintype: str = attrs.field(converter=_lower)
    subtype: str = attrs.field(converter=_lower)
    params: Params = attrs.field(default=(), converter=_to_params)

    @property
    def mime_type(self) -> str:
        """``maintype/subtype``."""
        return f"{self.maintype}/{self.subtype}"

    def get(self, name: str, default: str | None = None) -> str | None:
        """A parameter's value by case-insensitive name."""
        return _get(self.params, name, default)

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter, lower case and trimmed, or None."""
        value = self.get("charset")
        value = value.strip().strip("\"'").strip().lower() if value is not None else None
        return value or None

    @property
    def boundary(self) -> str | None:
        """The ``boundary`` parameter as written (case matters), or None."""
        return self.get("boundary")

    def with_params(self, **kw: str | None) -> ContentType:
        """A copy with parameters set (replaced in place or appended) or removed
        (``None``); underscores in keyword names become hyphens (``report_type``)."""
        return attrs.evolve(self, params=_with(self.params, kw))

    @classmethod
    def of(cls, mime_type: str, **params: str | None) -> ContentType:
        """Build from ``"type/subtype"`` and keyword parameters (for composing)."""
        if _UNSAFE_RE.search(mime_type):
            raise HeaderInjectionError("content type contains CR, LF or NUL")
        m = _TYPE_RE.fullmatch(mime_type)
        if m is None:
            raise BuildError(f"invalid content type {mime_type[:60]!r} (RFC 2045 §5.1)")
        return cls(m.group(1), m.group(2), _with((), params))

    @classmethod
    def parse(cls, text: str, defects: list[Defect] | None = None) -> ContentType:
        """Parse a Content-Type value leniently; never raises.

        A missing or invalid type becomes ``text/plain`` with an
        ``InvalidContentType`` defect (RFC 2045 §5.2); the parameters are still read.
        A missing ``;`` before the first parameter is tolerated.
        """
        header = "Content-Type"
        text = text or ""
        head, _sep, rest = text.partition(";")
        m = _TYPE_RE.match(head)
        if m is not None:
            maintype, subtype = m.group(1), m.group(2)
            tail = head[m.end() :].strip()
            if tail:
                if "=" in tail:
                    rest = tail + ";" + rest
                    _add(defects, "InvalidContentType", "missing ';' before parameters", header)
                else:
                    _add(defects, "InvalidContentType", f"junk {tail[:40]!r} after type", header)
        else:
            word = head.strip()
            if "=" in word:  # parameters only
                rest = head + ";" + rest
            _add(defects, "InvalidContentType",
                 f"invalid or missing type {word[:40]!r}; text/plain assumed", header)
            maintype, subtype = "text", "plain"
        return cls(maintype, subtype, _parse_params(rest, defects, header, skip_head=False))

    def header_tokens(self, policy: Policy = DEFAULT) -> list[str]:
        """Foldable tokens for the header value: ``["text/plain;", "charset=utf-8"]``."""
        return _params_tokens(self.mime_type, self.params, policy)

    def __str__(self) -> str:
        return " ".join(self.header_tokens())


@attrs.frozen
class ContentDisposition:
    """A Content-Disposition value (RFC 2183): the kind (``inline``, ``attachment``,
    lower case) and the parameters as (lower-case name, decoded value) pairs."""

    kind: str = attrs.field(converter=_lower)
    params: Params = attrs.field(default=(), converter=_to_params)

    @property
    def filename(self) -> str | None:
        """The ``filename`` parameter (RFC 2183 §2.3), decoded, or None."""
        return self.get("filename")

    @property
    def is_attachment(self) -> bool:
        """True unless the kind is ``inline`` (RFC 2183 §2.8: unknown kinds are
        treated as attachment)."""
        return self.kind != "inline"

    def get(self, name: str, default: str | None = None) -> str | None:
        """A parameter's value by case-insensitive name."""
        return _get(self.params, name, default)

    def with_params(self, **kw: str | None) -> ContentDisposition:
        """A copy with parameters set or removed (``None``)."""
        return attrs.evolve(self, params=_with(self.params, kw))

    @classmethod
    def of(cls, kind: str, **params: str | None) -> ContentDisposition:
        """Build from a kind and keyword parameters (for composing)."""
        if _UNSAFE_RE.search(kind):
            raise HeaderInjectionError("disposition contains CR, LF or NUL")
        if not _TOKEN_RE.match(kind.strip()):
            raise BuildError(f"invalid disposition {kind[:60]!r} (RFC 2183 §2)")
        return cls(kind, _with((), params))

    @classmethod
    def parse(cls, text: str, defects: list[Defect] | None = None) -> ContentDisposition:
        """Parse a Content-Disposition value leniently; never raises. A missing or
        invalid kind becomes ``attachment`` (RFC 2183 §2.8) with a defect."""
        header = "Content-Disposition"
        text = text or ""
        head, _sep, rest = text.partition(";")
        kind = head.strip()
        if not _TOKEN_RE.match(kind):
            if "=" in kind:  # parameters only
                rest = head + ";" + rest
            _add(defects, "InvalidContentDisposition",
                 f"invalid or missing disposition {kind[:40]!r}; attachment assumed", header)
            kind = "attachment"
        return cls(kind, _parse_params(rest, defects, header, skip_head=False))

    def header_tokens(self, policy: Policy = DEFAULT) -> list[str]:
        """Foldable tokens: ``["attachment;", "filename*=utf-8''..."]``."""
        return _params_tokens(self.kind, self.params, policy)

    def __str__(self) -> str:
        return " ".join(self.header_tokens())


def make_boundary() -> str:
    """A fresh multipart boundary (RFC 2046 §5.1.1): 34 characters from the safe set,
    random, starting with ``=_`` (a sequence base64 and quoted-printable output never
    contain, so no encoded body line can match it)."""
    return "=_" + secrets.token_urlsafe(24)
