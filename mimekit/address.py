"""Mailboxes and groups (RFC 5322 §3.4, obsolete forms §4.4; RFC 6532 UTF-8; IDNA).

``parse_address_list`` reads real-world address lists: display names with commas in
quotes, comments, obsolete routes, empty groups (``undisclosed-recipients:;``), quoted
local parts, domain literals, RFC 2047 words in display names (also inside quotes, as
clients do). It is lenient by default (defects recorded) and strict on request.

Security: an item whose display-name part contains anything a phrase cannot contain
(a stray ``)`` or ``]``, a ``<``...) is dropped with a defect instead of being guessed
at, so ``ana@example.org)<ceo@example.com>`` never yields ``ceo@example.com``
(CVE-2023-27043, case c05).

Domains are stored in Unicode (A-labels decoded); ``Address.ascii_domain`` gives the
IDNA form for the wire. Formatting a UTF-8 local part needs ``policy.smtputf8``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

import attrs

from mimekit.errors import AddressError, Defect, HeaderInjectionError
from mimekit.policy import Policy

__all__ = [
    "Address",
    "Group",
    "address_tokens",
    "coerce_addresses",
    "mailboxes",
    "parse_address_list",
]

_INJECTION = re.compile(r"[\r\n\0]")
# RFC 5322 §3.2.3 atext; RFC 6532 §3.2 adds every non-ASCII character.
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
_DOT_ATOM_ASCII = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*\Z")
_DOT_ATOM_UTF8 = re.compile(rf"[{_ATEXT}\u0080-\U0010ffff]+(?:\.[{_ATEXT}\u0080-\U0010ffff]+)*\Z")
_PHRASE_ASCII = re.compile(rf"[{_ATEXT}]+(?: [{_ATEXT}]+)*\Z")
# Readers treat Unicode white space (NBSP, NEL, U+2028, U+3000, ...) as a word break,
# so a name holding one is quoted rather than written as a bare RFC 6532 atom.
_UTF8_ATOM = rf"(?:(?!\s)[{_ATEXT}\u0080-\U0010ffff])+"
_PHRASE_UTF8 = re.compile(rf"{_UTF8_ATOM}(?: {_UTF8_ATOM})*\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_DOMAIN_LITERAL = re.compile(r"\[[!-Z^-~]*\]\Z")  # RFC 5322 §3.4.1 dtext, no FWS
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9_\-\u0080-\U0010ffff]+\Z")


def _to_ascii_domain(domain: str) -> str:
    """IDNA A-labels for a Unicode domain (RFC 5890), per label.

    Uses the standard library codec (IDNA 2003 nameprep); a label it refuses (e.g. an
    emoji) falls back to plain Punycode of the lower-cased label, which is what UTS #46
    processing gives for such labels. Raises AddressError when even that fails.
    """
    if domain.isascii() or domain.startswith("["):
        return domain
    labels = []
    for label in domain.split("."):
        if label.isascii():
            labels.append(label)
            continue
        try:
            labels.append(label.encode("idna").decode("ascii"))
        except UnicodeError:
            try:
                alabel = "xn--" + label.lower().encode("punycode").decode("ascii")
            except UnicodeError as exc:  # pragma: no cover - punycode encodes anything
                raise AddressError(f"domain {domain!r} cannot be written in IDNA: {exc}") from None
            if len(alabel) > 63:
                raise AddressError(f"domain label {label!r} too long for IDNA (RFC 5890)")
            labels.append(alabel)
    return ".".join(labels)


def _to_unicode_domain(domain: str, defects: list[Defect] | None) -> str:
    if "xn--" not in domain.lower():
        return domain
    labels = []
    for label in domain.split("."):
        if label[:4].lower() == "xn--":
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                try:
                    label = label[4:].encode("ascii").decode("punycode")
                except UnicodeError:
                    if defects is not None:
                        defects.append(Defect("InvalidDomain", f"bad IDNA label {label!r} kept"))
        labels.append(label)
    return ".".join(labels)


def _quote(text: str) -> str:
    """RFC 5322 §3.2.4 quoted-string: backslash-escape DQUOTE and backslash."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@attrs.frozen
class Address:
    """One mailbox: optional display name, local part, domain (Unicode).

    ``local`` is the semantic value (unquoted); quoting happens when formatting.
    """

    name: str | None
    local: str
    domain: str

    @property
    def address(self) -> str:
        """``local@domain`` as people read it (domain in Unicode, local part quoted only
        when it is not a dot-atom)."""
        local = self.local
        if not _DOT_ATOM_UTF8.match(local):
            local = _quote(local)
        return f"{local}@{self.domain}" if self.domain else local

    @property
    def ascii_domain(self) -> str:
        """The domain with IDNA A-labels (RFC 5890), for SMTP without SMTPUTF8."""
        return _to_ascii_domain(self.domain)

    def to_dict(self) -> dict[str, object]:
        """The inspect-json shape: ``{"name": ..., "address": ...}``."""
        return {"name": self.name, "address": self.address}

    @classmethod
    def parse(cls, text: str, *, strict: bool = True) -> Address:
        """Exactly one mailbox from ``text``; AddressError otherwise (in lenient mode the
        first mailbox found is returned, defects ignored)."""
        defects: list[Defect] = []
        items = parse_address_list(text, defects, strict=strict)
        boxes = [i for i in items if isinstance(i, Address)]
        if (strict and (len(boxes) != 1 or len(items) != 1)) or not boxes:
            raise AddressError(f"expected exactly one mailbox in {text[:80]!r}")
        return boxes[0]

    def __str__(self) -> str:
        if not self.name:
            return self.address
        name = self.name
        if not _PHRASE_UTF8.match(name):
            name = _quote(name)
        return f"{name} <{self.address}>"


@attrs.frozen
class Group:
    """An RFC 5322 §3.4 group: ``name: member, member;`` (members may be empty)."""

    name: str
    members: tuple[Address, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The inspect-json shape: ``{"group": ..., "members": [...]}``."""
        return {"group": self.name, "members": [m.to_dict() for m in self.members]}

    def __str__(self) -> str:
        name = self.name if _PHRASE_UTF8.match(self.name) else _quote(self.name)
        return f"{name}: " + ", ".join(str(m) for m in self.members) + ";"


# ---------------------------------------------------------------------------
# Tokenizer (RFC 5322 §3.2: quoted strings, comments, domain literals, specials)

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<ew>=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=)
  | "(?P<qs>(?:[^"\\]|\\.)*)(?P<qend>"?)
  | \[(?P<dl>(?:[^\[\]\\]|\\.)*)(?P<dlend>\]?)
  | (?P<atom>[^\s()<>\[\]:;@\\,."]+)
  | (?P<sp>[<>:;@,.])
  | (?P<bad>[)\]\\])
  | (?P<cm>\()
    """,
    re.VERBOSE | re.DOTALL,
)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)

# A token: (kind, text). kind is "ws", "qs", "dl", "atom", "cm" (comment) or the
# special character itself, or "bad" for a stray ")", "]" or "\".
_Tok = tuple[str, str]


_MAX_DEFECTS = 100


# The lenient reading's "...; item dropped" endings, cut from a strict refusal.
_DROPPED = re.compile(r"[;,]? *(?:(?:item|address) )?dropped$")


class _Ctx:
    """Defect sink that raises in strict mode."""

    def __init__(self, defects: list[Defect] | None, strict: bool, text: str = "") -> None:
        self.defects = defects
        self.strict = strict
        self.count = 0
        self.text = text

    def add(self, kind: str, detail: str) -> None:
        self.count += 1
        if self.strict:
            # Strict reading refuses instead of dropping: say so, naming the input.
            reason = _DROPPED.sub("", detail)
            raise AddressError(f"not a valid address: {self.text[:80]!r} ({reason})",
                               defect=Defect(kind, detail))
        if self.defects is None or self.count > _MAX_DEFECTS + 1:
            return
        if self.count > _MAX_DEFECTS:
            # Hostile input: bound the memory spent on reporting it.
            self.defects.append(Defect("TooManyDefects", "further address defects not recorded"))
            return
        self.defects.append(Defect(kind, detail))


def _skip_comment(text: str, pos: int, ctx: _Ctx) -> tuple[int, str]:
    """From just after "(" return (end position, comment text); comments nest
    (RFC 5322 §3.2.2). An unterminated comment swallows the rest, with a defect."""
    depth = 1
    start = pos
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "\\":
            pos += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return pos + 1, text[start:pos]
        pos += 1
    ctx.add("UnterminatedComment", "comment not closed; the rest of the value is ignored")
    return n, text[start:]


def _tokenize(text: str, ctx: _Ctx) -> list[_Tok]:
    """Lexical tokens of an address list. One regex pass (finditer), restarted only
    after a comment, which needs a hand-written scan because comments nest."""
    toks: list[_Tok] = []
    append = toks.append
    pos = 0
    n = len(text)
    while pos < n:
        for m in _TOKEN_RE.finditer(text, pos):
            kind = m.lastgroup
            if kind == "atom" or kind == "ws":
                append((kind, m.group()))
            elif kind == "ew":
                # An RFC 2047 word is one atom even when broken senders put specials
                # ("," ":" "." "@") in its Q text.
                append(("atom", m.group()))
            elif kind == "sp":
                ch = m.group()
                append((ch, ch))
            elif kind == "qend":
                if not m.group("qend"):
                    ctx.add("UnterminatedQuotedString", "quoted string not closed")
                qs = m.group("qs")
                append(("qs", _UNESCAPE.sub(r"\1", qs) if "\\" in qs else qs))
            elif kind == "dlend":
                if not m.group("dlend"):
                    # Not closed: unusable (never complete it into an address).
                    ctx.add("UnterminatedDomainLiteral", "domain literal not closed")
                    append(("bad", "[" + m.group("dl")))
                else:
                    append(("dl", "[" + m.group("dl") + "]"))
            elif kind == "cm":
                pos, comment = _skip_comment(text, m.end(), ctx)
                append(("cm", comment))
                break
            else:
                append(("bad", m.group()))
        else:
            break
    return toks


# ---------------------------------------------------------------------------
# Parser


def _phrase(toks: list[_Tok], ctx: _Ctx, what: str) -> str | None:
    """Display name / group name from phrase tokens; None when the tokens are not a
    phrase (then the caller drops the item: never guess an address from junk)."""
    parts: list[str] = []
    space = False
    for kind, text in toks:
        if kind in ("ws", "cm"):
            space = bool(parts)
            continue
        if kind in ("atom", "qs", "."):
            pass  # RFC 5322 §4.1 obs-phrase also allows "." (John Q. Public)
        elif kind == "@":
            # Unquoted "@" in a display name (``a@b.c <a@b.c>``) is common in real mail.
            ctx.add("InvalidDisplayName", f"unquoted '@' in {what}")
        else:
            ctx.add("InvalidDisplayName", f"{text!r} cannot appear in {what}; item dropped")
            return None
        if space:
            parts.append(" ")
        space = False
        parts.append(text)
    raw = "".join(parts)
    if "=?" in raw:
        from mimekit.encoded_words import decode_header_text

        raw = decode_header_text(raw, ctx.defects if not ctx.strict else None)
    return raw


def _addr_spec(toks: list[_Tok], ctx: _Ctx) -> tuple[str, str] | None:
    """(local, domain) from addr-spec tokens (RFC 5322 §3.4.1, obs forms §4.4)."""
    toks = [t for t in toks if t[0] not in ("ws", "cm")]
    ats = [i for i, t in enumerate(toks) if t[0] == "@"]
    if not ats:
        if toks:
            ctx.add("InvalidAddress", "address without '@' dropped")
        return None
    if len(ats) > 1:
        ctx.add("InvalidAddress", "address with more than one '@' dropped")
        return None
    at = ats[0]
    local_toks, domain_toks = toks[:at], toks[at + 1 :]
    # RFC 5322 §3.4.1 / §4.4: words are joined by "."; two words side by side
    # ("ana evil@x") are not one local part: never glue them into a new address.
    for part in (local_toks, domain_toks):
        if any(a[0] != "." and b[0] != "." for a, b in pairwise(part)):
            ctx.add("InvalidAddress", "words without '.' between them in an address; dropped")
            return None
    local_parts: list[str] = []
    for kind, text in local_toks:
        if kind not in ("atom", "qs", "."):
            ctx.add("InvalidAddress", f"{text!r} cannot appear in a local part; address dropped")
            return None
        local_parts.append(text)
    local = "".join(local_parts)
    if not local:
        ctx.add("InvalidAddress", "empty local part; address dropped")
        return None
    if (
        local_toks[0][0] == "."
        or local_toks[-1][0] == "."
        or any(a[0] == "." and b[0] == "." for a, b in pairwise(local_toks))
    ):
        ctx.add("ObsoleteLocalPart", "dots at the edge of or doubled in a local part")
    if not domain_toks:
        ctx.add("InvalidAddress", "address without a domain dropped")
        return None
    if len(domain_toks) == 1 and domain_toks[0][0] == "dl":
        return local, domain_toks[0][1]  # RFC 5322 §3.4.1 domain-literal
    domain_parts: list[str] = []
    for kind, text in domain_toks:
        if kind not in ("atom", "."):
            ctx.add("InvalidAddress", f"{text!r} cannot appear in a domain; address dropped")
            return None
        domain_parts.append(text)
    domain = "".join(domain_parts)
    labels = domain.split(".")
    if not all(_DOMAIN_LABEL.match(label) for label in labels):
        ctx.add("InvalidDomain", f"unusual domain {domain!r}")
    if ctx.strict:
        _check_host_labels(domain, labels, ctx)
    return local, _to_unicode_domain(domain, ctx.defects)


def _check_host_labels(domain: str, labels: list[str], ctx: _Ctx) -> None:
    """Host name rules for an address being composed (strict reading only).

    RFC 1035 §2.3.4 (labels of at most 63 octets), RFC 1123 §2.1 (a label starts and
    ends with a letter or digit, so never with "-") and RFC 5321 §4.5.3.1.2 (a domain
    of at most 255 octets): mail to such a domain cannot be delivered, so composing
    refuses it. The lenient reading keeps such addresses of real mail as they are.
    """
    for label in labels:
        if label.startswith("-") or label.endswith("-"):
            ctx.add("InvalidDomain",
                    f"the domain label {label[:70]!r} starts or ends with '-', which RFC 1123 "
                    "§2.1 forbids")
        # A non-ASCII label is measured as its A-label (what DNS holds); the IDNA
        # conversion of the whole domain checks those when the address is written.
        if label.isascii() and len(label) > 63:
            ctx.add("InvalidDomain",
                    f"the domain label {label[:20] + '...'!r} is {len(label)} characters "
                    "long, over the 63 of RFC 1035 §2.3.4")
    if domain.isascii() and len(domain) > 255:
        ctx.add("InvalidDomain",
                f"the domain is {len(domain)} characters long, over the 255 of RFC 5321 "
                "§4.5.3.1.2")


def _mailbox(toks: list[_Tok], ctx: _Ctx) -> Address | None:
    """A mailbox from the tokens of one list item (no top-level ",", ":" or ";")."""
    lt = next((i for i, t in enumerate(toks) if t[0] == "<"), None)
    if lt is None:
        if any(t[0] == ">" for t in toks):
            ctx.add("InvalidAddress", "stray '>'; item dropped")
            return None
        spec = _addr_spec(toks, ctx)
        return None if spec is None else Address(None, spec[0], spec[1])
    name = _phrase(toks[:lt], ctx, "a display name")
    if name is None:
        return None
    gt = next((i for i in range(lt + 1, len(toks)) if toks[i][0] == ">"), None)
    if gt is None:
        ctx.add("InvalidAddress", "angle address without '>'")
        gt = len(toks)
    inner = [t for t in toks[lt + 1 : gt] if t[0] not in ("ws", "cm")]
    for kind, text in toks[gt + 1 :]:
        if kind not in ("ws", "cm"):
            ctx.add("InvalidAddress", f"{text!r} after an angle address; item dropped")
            return None
    if any(t[0] == "<" for t in inner):
        ctx.add("InvalidAddress", "nested '<' in an angle address; item dropped")
        return None
    if inner and inner[0][0] == "@":
        # RFC 5322 §4.4 obs-route: "@a,@b:" before the addr-spec; ignored.
        colon = next((i for i, t in enumerate(inner) if t[0] == ":"), None)
        if colon is None:
            ctx.add("InvalidAddress", "obsolete route without ':'; item dropped")
            return None
        ctx.add("ObsoleteRoute", "obsolete source route ignored")
        inner = inner[colon + 1 :]
    if not inner:
        ctx.add("InvalidAddress", "empty angle address '<>' dropped")
        return None
    spec = _addr_spec(inner, ctx)
    if spec is None:
        return None
    return Address(name or None, spec[0], spec[1])


_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

#: Longest address-list text parsed (about 6,000 typical addresses).
MAX_ADDRESS_LIST_CHARS = 256 * 1024


def parse_address_list(
    text: str, defects: list[Defect] | None = None, *, strict: bool = False
) -> list[Address | Group]:
    """Parse an RFC 5322 §3.4 address-list (mailboxes and groups).

    Lenient: malformed items are dropped with a defect, never reinterpreted (no
    mailbox is ever produced that was not written as one). ``strict=True`` raises
    :class:`~mimekit.errors.AddressError` at the first problem.
    """
    if len(text) <= 4096 and not _CONTROLS.search(text):
        fast = _simple_list(text)
        if fast is not None:
            return fast
    ctx = _Ctx(defects, strict, text)
    if _CONTROLS.search(text):
        # RFC 5322 §3.2.3-4: atoms and quoted strings hold no control characters; the
        # lenient reading keeps going, but the value cannot be written back as is.
        ctx.add("ControlCharacter", "control characters in an address list")
    if len(text) > MAX_ADDRESS_LIST_CHARS:
        # Bounded work on hostile input: thousands of recipients fit well within the
        # limit; past it the list is cut at an address boundary and a defect says so.
        cut = text.rfind(",", 0, MAX_ADDRESS_LIST_CHARS)
        ctx.add("TooManyAddresses", f"address list of {len(text):,} characters: only the "
                f"first {MAX_ADDRESS_LIST_CHARS:,} are read")
        text = text[: cut if cut > 0 else MAX_ADDRESS_LIST_CHARS]
    toks = _tokenize(text, ctx)
    out: list[Address | Group] = []
    group_name: str | None = None
    group_ok = True
    members: list[Address] = []
    cur: list[_Tok] = []
    in_angle = False

    def finish() -> None:
        if any(t[0] not in ("ws", "cm") for t in cur):
            box = _mailbox(cur, ctx)
            if box is not None:
                (members if group_name is not None else out).append(box)
        cur.clear()

    def close_group() -> None:
        nonlocal group_name
        if group_name is not None:
            if group_ok:
                out.append(Group(group_name, tuple(members)))
            else:
                out.extend(members)
        group_name = None
        members.clear()

    for tok in toks:
        kind = tok[0]
        if in_angle:
            cur.append(tok)
            if kind == ">":
                in_angle = False
            continue
        if kind == "<":
            in_angle = True
            cur.append(tok)
        elif kind == ",":
            finish()
        elif kind == ":":
            if group_name is not None:
                ctx.add("InvalidAddress", "':' inside a group; item dropped")
                cur.clear()
                continue
            if any(t[0] == "@" for t in cur):
                ctx.add("InvalidAddress", "':' after an address; item dropped")
                cur.clear()
                continue
            # RFC 5322 §3.4 group = display-name ":" [group-list] ";"
            name = _phrase(cur, ctx, "a group name")
            cur.clear()
            group_ok = bool(name)
            if name is not None and not name:
                ctx.add("InvalidGroup", "group without a name")
            group_name = name or ""
        elif kind == ";":
            finish()
            if group_name is None:
                ctx.add("InvalidAddress", "';' outside a group")
            close_group()
        else:
            cur.append(tok)
    if in_angle:
        pass  # reported by _mailbox
    finish()
    if group_name is not None:
        ctx.add("InvalidGroup", f"group {group_name!r} not closed with ';'")
        close_group()
    return out


def mailboxes(items: Iterable[Address | Group]) -> list[Address]:
    """All mailboxes, group members flattened in order."""
    out: list[Address] = []
    for item in items:
        if isinstance(item, Group):
            out.extend(item.members)
        else:
            out.append(item)
    return out


# ---------------------------------------------------------------------------
# Builder side


def _check(text: str | None, what: str) -> None:
    # RFC 5322 §2.2: a field body never contains CR or LF.
    if text is not None and _INJECTION.search(text):
        raise HeaderInjectionError(f"CR, LF or NUL in {what}: {text[:60]!r}")


def _check_name(name: str | None, what: str) -> None:
    _check(name, what)
    # RFC 5322 §3.2.5: a phrase holds no control characters (only white space between
    # its words); an encoded word could carry one, but readers flag it (the standard
    # library's NonPrintableDefect) or drop it, so it is refused like CR/LF.
    if name is not None and _CONTROL.search(name):
        raise AddressError(f"control character in {what}: {name[:60]!r}")


def _check_address(item: Address | Group) -> None:
    if isinstance(item, Group):
        _check_name(item.name, "a group name")
        for m in item.members:
            _check_address(m)
    else:
        _check_name(item.name, "a display name")
        _check(item.local, "a local part")
        _check(item.domain, "a domain")


def _from_pair(name: str | None, addr: str) -> Address:
    _check(name, "a display name")
    _check(addr, "an address")
    ctx = _Ctx(None, True, addr)
    toks = _tokenize(addr.strip(), ctx)
    if toks and toks[0][0] == "<" and toks[-1][0] == ">":
        toks = toks[1:-1]
    spec = _addr_spec(toks, ctx)
    if spec is None:
        raise AddressError(f"not an address: {addr[:80]!r}")
    return Address(name or None, spec[0], spec[1])


_ATOM_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LDH_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
_SIMPLE_MAILBOX = re.compile(
    rf"[ \t]*(?:([A-Za-z0-9]+(?: [A-Za-z0-9]+)*) <({_ATOM_LOCAL})@({_LDH_DOMAIN})>"
    rf"|({_ATOM_LOCAL})@({_LDH_DOMAIN}))[ \t]*"
)


def _simple_list(text: str) -> list[Address | Group] | None:
    """The everyday address lists, without tokenizing: every comma-separated item is
    ``Name Words <local@domain>`` or ``local@domain`` (plain atoms, dot-atom local
    part, LDH domain, no IDNA label). Gives exactly what the full RFC 5322 §3.4 parser
    gives for them (no defects); None sends anything else to the full parser."""
    if "xn--" in text.lower():
        return None
    out: list[Address | Group] = []
    for item in text.split(","):
        simple = _SIMPLE_MAILBOX.fullmatch(item)
        if simple is None:
            return None
        name, local, domain = simple.group(1, 2, 3)
        if local is None:
            local, domain = simple.group(4, 5)
        if len(domain) > 255:
            return None  # the full parser says why (RFC 5321 §4.5.3.1.2)
        out.append(Address(name, local, domain))
    return out


def coerce_addresses(value: Any) -> list[Address | Group]:
    """Addresses for the builder from a string (an address list, parsed strictly), an
    ``Address``/``Group``, a ``(name, address)`` pair, or a sequence of those.

    A tuple of two strings is always a (name, address) pair (as in
    ``email.utils.formataddr``); pass several addresses as a list. CR, LF or NUL anywhere raises HeaderInjectionError;
    something that is not an address raises AddressError.
    """
    if isinstance(value, (Address, Group)):
        _check_address(value)
        return [value]
    if isinstance(value, str):
        _check(value, "an address list")
        if not value.strip():
            return []
        return parse_address_list(value, strict=True)
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and (value[0] is None or isinstance(value[0], str))
        and isinstance(value[1], str)
    ):
        return [_from_pair(value[0], value[1])]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray)):
        out: list[Address | Group] = []
        for item in value:
            out.extend(coerce_addresses(item))
        return out
    raise TypeError(f"cannot use {type(value).__name__} as an address")


def _phrase_tokens(name: str, policy: Policy) -> list[str]:
    """Tokens for a display name / group name (RFC 5322 §3.2.5 phrase).

    Atoms as they are; a quoted string when ASCII specials appear; RFC 2047 words for
    the words that need them (non-ASCII without SMTPUTF8, controls, ``=?``), never an
    encoded word inside a quoted string (RFC 2047 §5(3)). Only runs of consecutive
    words needing encoding are encoded, the other words stay atoms or quoted strings:
    decoders disagree about the space between two adjacent encoded words in a phrase
    (the standard library keeps it, RFC 2047 §6.2 drops it), so we avoid producing
    that situation where the name allows.
    """
    from mimekit.encoded_words import encode_words, needs_encoding

    word_max = min(75, max(policy.max_line_length - 1, 24))
    phrase = _PHRASE_UTF8 if policy.smtputf8 else _PHRASE_ASCII

    def must_encode(text: str) -> bool:
        if "=?" in text or any(ch < " " or ch == "\x7f" for ch in text):
            return True
        return not policy.smtputf8 and needs_encoding(text)

    def plain(word: str) -> str:
        return word if phrase.match(word) else _quote(word)

    if "=?" not in name and phrase.match(name):
        atoms = name.split(" ")
        if all(len(atom) <= policy.hard_line_limit - 40 for atom in atoms):
            return atoms
        # An atom too long for any line (RFC 5322 §2.1.1) cannot be folded: RFC 2047
        # words can, and decode to the same name.
        return encode_words(name, maxlen=word_max)
    if not must_encode(name):
        quoted = _quote(name)
        if len(quoted.encode("utf-8")) <= policy.hard_line_limit - 40:
            return [quoted]
        return encode_words(name, maxlen=word_max)
    words = name.split(" ")
    if "" in words or "\t" in name:
        return encode_words(name, maxlen=word_max)  # irregular white space: keep it exact
    out: list[str] = []
    run: list[str] = []
    for word in words:
        if must_encode(word):
            run.append(word)
            continue
        if run:
            out.extend(encode_words(" ".join(run), maxlen=word_max))
            run = []
        out.append(plain(word))
    if run:
        out.extend(encode_words(" ".join(run), maxlen=word_max))
    return out


def _addr_spec_text(addr: Address, policy: Policy) -> str:
    if not addr.local:
        raise AddressError("empty local part")
    if not policy.smtputf8 and not addr.local.isascii():
        raise AddressError(
            f"the local part of {addr.address!r} is not ASCII: it needs an SMTPUTF8 path "
            "(RFC 6531/6532); use policy SMTPUTF8 or an ASCII address"
        )
    local = addr.local
    if _CONTROL.search(local):
        raise AddressError(f"control character in the local part {local!r}")
    dot_atom = _DOT_ATOM_UTF8 if policy.smtputf8 else _DOT_ATOM_ASCII
    if not dot_atom.match(local):
        local = _quote(local)  # RFC 5322 §3.4.1: quoted-string local part
    domain = addr.domain if policy.smtputf8 else addr.ascii_domain
    if not domain:
        raise AddressError(f"address {addr.local!r} without a domain")
    # RFC 5322 §3.4.1: domain = dot-atom / domain-literal (no white space written).
    if not (dot_atom.match(domain) or _DOMAIN_LITERAL.match(domain)):
        raise AddressError(f"invalid domain {addr.domain!r} (RFC 5322 §3.4.1)")
    return f"{local}@{domain}"


def _mailbox_tokens(addr: Address, policy: Policy) -> list[str]:
    """Tokens of one mailbox. A mailbox short enough for a line of its own is one
    token (with its inner spaces), so folds fall between addresses, not inside one."""
    spec = _addr_spec_text(addr, policy)
    if not addr.name:
        return [spec]
    toks = _phrase_tokens(addr.name, policy) + [f"<{spec}>"]
    joined = " ".join(toks)
    if len(joined.encode("utf-8")) <= policy.max_line_length - 2:
        return [joined]
    return toks


def _plain_mailbox(addr: Address, room: int) -> str | None:
    """The one-token form of an everyday mailbox, or None when the general path is
    needed: an atom-only display name (RFC 5322 §3.2.3) or none, a dot-atom local part
    and an ASCII dot-atom domain (§3.4.1) are written as they are, which is exactly what
    :func:`_mailbox_tokens` gives for them. The patterns exclude CR, LF and NUL, so the
    injection check is implied; under any policy an ASCII mailbox is written the same."""
    name = addr.name
    if not (_DOT_ATOM_ASCII.match(addr.local) and _DOT_ATOM_ASCII.match(addr.domain)):
        return None
    if name is None or name == "":
        token = f"{addr.local}@{addr.domain}"
    elif "=?" not in name and _PHRASE_ASCII.match(name):
        token = f"{name} <{addr.local}@{addr.domain}>"
    else:
        return None
    return token if len(token) <= room else None


def address_tokens(items: Iterable[Address | Group], policy: Policy) -> list[str]:
    """Foldable tokens for an address-list header value (RFC 5322 §3.4).

    Display names are atoms, quoted strings, or RFC 2047 words; an addr-spec or quoted
    string is always inside a single token, and a whole mailbox is one token when it
    fits on a line; each "," is attached to the token before it so folding (between
    tokens) falls only between addresses, or between the words of a long one.
    """
    out: list[str] = []
    items = list(items)
    room = policy.max_line_length - 2
    for idx, item in enumerate(items):
        if type(item) is Address:
            token = _plain_mailbox(item, room)
            if token is not None:
                out.append(token + "," if idx < len(items) - 1 else token)
                continue
        _check_address(item)
        if isinstance(item, Group):
            if not item.name:
                raise AddressError("a group needs a name (RFC 5322 §3.4)")
            toks = _phrase_tokens(item.name, policy)
            if toks[-1].endswith("?="):
                # RFC 2047 §5(3): an encoded word is separated from a special by space.
                toks.append(":")
            else:
                toks[-1] += ":"
            if item.members:
                for j, member in enumerate(item.members):
                    mt = _mailbox_tokens(member, policy)
                    if j < len(item.members) - 1:
                        mt[-1] += ","
                    toks.extend(mt)
                toks[-1] += ";"
            else:
                toks[-1] += ";"
        else:
            toks = _mailbox_tokens(item, policy)
        if idx < len(items) - 1:
            toks[-1] += ","
        out.extend(toks)
    return out
