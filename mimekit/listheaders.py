"""Mailing-list header fields: List-Id (RFC 2919) and the RFC 2369 URL fields
(List-Help, List-Unsubscribe, List-Subscribe, List-Post, List-Owner, List-Archive),
plus RFC 8058 one-click unsubscription (``List-Unsubscribe-Post``).

RFC 2369 §2: each of these fields is a comma-separated list of URLs in angle brackets,
in order of preference; comments may follow; white space inside the brackets was put
there by a broken MTA and is ignored. ``List-Post: NO`` means posting is not allowed
(§3.4). RFC 2919 §2: ``List-Id: [phrase] <list-label>``, the label a dot-atom.

Parsing is lenient: a URL written without brackets is taken when it looks like one
(``scheme:...``), with a defect.
"""

from __future__ import annotations

import re

import attrs

from mimekit.errors import Defect
from mimekit.headers import Headers

__all__ = ["ListHeaders", "ListId", "list_headers", "parse_list_id", "parse_list_uris"]

_COMMENT_RE = re.compile(r"\((?:[^()\\]|\\.)*\)")
# RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
_BARE_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+\Z")
# A closed <...> (inner white space is dropped), an unclosed "<" up to white space or
# a comma (never the rest of the field), or a bare word.
_ITEM_RE = re.compile(r"<([^<>]*)>|<([^<>\s,]*)|([^\s,<>]+)")
_URL_FIELDS = ("help", "unsubscribe", "subscribe", "post", "owner", "archive")


def _add(defects: list[Defect] | None, detail: str, header: str) -> None:
    if defects is not None:
        defects.append(Defect("InvalidListHeader", detail, header=header))


@attrs.frozen
class ListId:
    """An RFC 2919 list identifier: ``id`` (the list-label, e.g.
    ``gnupg-announce.gnupg.org``) and the optional description phrase, decoded."""

    id: str
    description: str | None = None

    def __str__(self) -> str:
        return f"{self.description} <{self.id}>" if self.description else f"<{self.id}>"


@attrs.frozen
class ListHeaders:
    """The list fields of a message. Each URL field is a tuple of URLs in the order
    given (RFC 2369 §2: order of preference); ``post_allowed`` is False for
    ``List-Post: NO`` (§3.4) and None when there is no List-Post;
    ``one_click_unsubscribe`` is True when ``List-Unsubscribe-Post:
    List-Unsubscribe=One-Click`` is present with an HTTPS unsubscribe URL (RFC 8058 §3.1).
    """

    id: ListId | None = None
    help: tuple[str, ...] = ()
    unsubscribe: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    post: tuple[str, ...] = ()
    owner: tuple[str, ...] = ()
    archive: tuple[str, ...] = ()
    post_allowed: bool | None = None
    one_click_unsubscribe: bool = False

    def first(self, field: str, scheme: str) -> str | None:
        """The first URL of ``field`` (e.g. ``"unsubscribe"``) with ``scheme``
        (``"mailto"``, ``"https"``...), or None."""
        prefix = scheme.lower().rstrip(":") + ":"
        urls: tuple[str, ...] = getattr(self, field)
        return next((u for u in urls if u.lower().startswith(prefix)), None)


def parse_list_uris(
    text: str, defects: list[Defect] | None = None, *, header: str = "List-*"
) -> list[str]:
    """The URLs of an RFC 2369 field, in order, white space inside brackets removed.

    ``NO`` (List-Post, §3.4) and comments yield nothing; a bare ``scheme:...`` word is
    accepted with a defect; anything else is skipped with a defect (one per kind of
    problem, so hostile input cannot make the defect list grow with its size).
    """
    text = _COMMENT_RE.sub(" ", text)
    out: list[str] = []
    seen: set[str] = set()

    def note(kind: str, detail: str) -> None:
        if kind not in seen:
            seen.add(kind)
            _add(defects, detail, header)

    for m in _ITEM_RE.finditer(text):
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        if inner is not None:
            if m.group(2) is not None:
                note("open", "URL without closing '>'")
            url = "".join(inner.split())  # RFC 2369 §2: ignore white space inside
            if url:
                out.append(url)
            else:
                note("empty", "empty '<>'")
            continue
        word = m.group(3)
        if word.upper() == "NO":
            continue
        if _BARE_URI_RE.match(word):
            note("bare", f"URL {word[:40]!r} not in angle brackets (RFC 2369 §2)")
            out.append(word)
        else:
            note("junk", f"not a URL: {word[:40]!r}")
    return out


def parse_list_id(text: str, defects: list[Defect] | None = None) -> ListId | None:
    """An RFC 2919 List-Id value: ``[phrase] <list-label>``; None when no label.

    The phrase may hold RFC 2047 words (decoded) or be a quoted string (unquoted).
    A label without brackets (seen in the wild) is accepted with a defect.
    """
    header = "List-Id"
    stripped = _COMMENT_RE.sub(" ", text).strip()
    lt = stripped.rfind("<")
    if lt < 0:
        words = stripped.split()
        if len(words) == 1 and "." in words[0]:
            _add(defects, "list-label not in angle brackets (RFC 2919 §2)", header)
            return ListId(words[0])
        _add(defects, "no <list-label>", header)
        return None
    gt = stripped.find(">", lt)
    if gt < 0:
        _add(defects, "list-label without closing '>'", header)
        gt = len(stripped)
    label = "".join(stripped[lt + 1 : gt].split())
    if not label:
        _add(defects, "empty list-label", header)
        return None
    phrase = stripped[:lt].strip()
    if len(phrase) >= 2 and phrase[0] == phrase[-1] == '"':
        phrase = re.sub(r"\\(.)", r"\1", phrase[1:-1])
    if "=?" in phrase:
        from mimekit.encoded_words import decode_header_text

        phrase = decode_header_text(phrase, defects)
    return ListId(label, " ".join(phrase.split()) or None)


def list_headers(headers: Headers, defects: list[Defect] | None = None) -> ListHeaders | None:
    """The list fields of a header block, or None when it has none of them.

    Each field is read from its first occurrence (RFC 2369 §2 has one of each).
    """
    found: dict[str, tuple[str, ...]] = {}
    present = False
    for field in _URL_FIELDS:
        header = headers.get_header(f"list-{field}")
        if header is None:
            continue
        present = True
        found[field] = tuple(parse_list_uris(header.unfolded, defects, header=header.name))
    id_header = headers.get_header("list-id")
    list_id = None
    if id_header is not None:
        present = True
        list_id = parse_list_id(id_header.unfolded, defects)
    one_click_header = headers.get_header("list-unsubscribe-post")
    if one_click_header is not None:
        present = True
    if not present:
        return None
    post_allowed: bool | None = None
    post_header = headers.get_header("list-post")
    if post_header is not None:
        bare = _COMMENT_RE.sub(" ", post_header.unfolded).strip()
        post_allowed = bare.upper() != "NO"
    # RFC 8058 §3.1: one-click needs the POST body marker and an HTTPS URI.
    one_click = (
        one_click_header is not None
        and one_click_header.unfolded.replace(" ", "").lower() == "list-unsubscribe=one-click"
        and any(u.lower().startswith("https:") for u in found.get("unsubscribe", ()))
    )
    return ListHeaders(
        id=list_id,
        help=found.get("help", ()),
        unsubscribe=found.get("unsubscribe", ()),
        subscribe=found.get("subscribe", ()),
        post=found.get("post", ()),
        owner=found.get("owner", ()),
        archive=found.get("archive", ()),
        post_allowed=post_allowed,
        one_click_unsubscribe=one_click,
    )
