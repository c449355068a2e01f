"""Reply, reply-all and forward: a builder pre-filled from a parsed message.

Threading follows RFC 5322 §3.6.4: In-Reply-To names the parent's Message-ID;
References is the parent's References (or its In-Reply-To when it has none)
followed by the parent's Message-ID. Replies go to Reply-To when present, else
From (RFC 5322 §3.6.2-3); reply-all adds To and Cc, never the replier's own
addresses and never the same mailbox twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .builder import Builder, compose
from .errors import BuildError
from .policy import DEFAULT, Policy

if TYPE_CHECKING:
    from .address import Address, Group
    from .model import Message, Part

__all__ = ["forward", "normalize_subject", "reply"]

# Prefixes clients put in front of a subject: English, German, Nordic, Dutch, French,
# Spanish, Italian, Polish, Finnish, Turkish, ... and localized Outlook's Chinese,
# Korean, Greek and Hebrew ones, optionally counted ("Re[2]:") or bracketed; a colon
# may be the full-width one. Reply and forward prefixes are told apart so that a reply
# to "Fwd: x" says "Re: Fwd: x", as Outlook, Gmail and Thunderbird write it.
_REPLY_WORDS = r"re|aw|sv|vs|antw|ref|rif|res|r|odp|vá|ynt|回复|回覆|答复|答覆|회신|απ|σχετ|השב"
_FORWARD_WORDS = r"fw|fwd|wg|tr|rv|enc|i|doorst|vb|vl|pd|ilt|转发|轉寄|轉發|전달|πρθ|הועבר"


def _prefix_pattern(words: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*(?:(?:{words})\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
                      re.IGNORECASE)


_REPLY_PREFIX = _prefix_pattern(_REPLY_WORDS)
_FORWARD_PREFIX = _prefix_pattern(_FORWARD_WORDS)


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]+")


def _clean(text: str | None) -> str | None:
    """Decoded header text can hold CR/LF (an encoded ``=0D=0A``): fold it to a space so
    it can never become a second header line in the reply (RFC 5322 §2.2)."""
    return _CONTROL.sub(" ", text) if text is not None else None


def normalize_subject(subject: str | None, prefix: str) -> str:
    """``prefix`` followed by the subject without the leading prefixes of the same kind.

    A reply prefix (``Re:``, ``AW:``, ``Re[2]:``, ``回复:`` ...) replaces the reply prefixes
    a subject starts with, a forward prefix (``Fwd:``, ``WG:``, ``转发:`` ...) the forward
    ones; prefixes of the other kind stay, so the subject still tells the story:
    ``Re: Fwd: x`` answers a forwarded message, ``Fwd: Re: x`` forwards a reply.
    """
    pattern = _FORWARD_PREFIX if _FORWARD_PREFIX.fullmatch(prefix + " ") else _REPLY_PREFIX
    base = pattern.sub("", _clean(subject) or "").strip()
    return f"{prefix} {base}".rstrip() if base else prefix.rstrip(":") + ":"


def _mailboxes(items: Iterable[Address | Group]) -> list[Address]:
    import attrs

    from .address import mailboxes

    return [attrs.evolve(a, name=_clean(a.name)) if a.name else a
            for a in mailboxes(list(items))]


def _key(addr: Address) -> str:
    return addr.address.lower()


def _own_keys(me: Sequence[Address | Group] | None) -> set[str]:
    return {_key(a) for a in _mailboxes(me or ())}


def _coerce(value: object) -> list[Address | Group]:
    from .address import coerce_addresses

    return coerce_addresses(value) if value is not None else []


_GOOD_ID = re.compile(r"[!-;=?-~]+@[!-;=?-~]+")  # printable ASCII, no "<", ">" or space
_GOOD_CID = re.compile(r"[!-;=?-~]+")  # a Content-ID, "@" optional (clients omit it)


def _thread(builder: Builder, original: Message) -> None:
    # Ids a lenient parse let through but no header can carry (8-bit, controls, no
    # "@") are left out rather than failing the whole reply (RFC 5322 §3.6.4 msg-id).
    parent = original.message_id
    if parent is not None and not _GOOD_ID.fullmatch(parent):
        parent = None
    refs = [r for r in (list(original.references) or list(original.in_reply_to)[:1])
            if _GOOD_ID.fullmatch(r)]
    if parent:
        builder.in_reply_to(f"<{parent}>")
        refs.append(parent)
    if refs:
        builder.references(*(f"<{r}>" for r in _dedupe(refs)))


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _quote(text: str) -> str:
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    return "\n".join(">" + ("" if line.startswith(">") or not line else " ") + line
                     for line in lines) + "\n"


def _plain(original: Message) -> str:
    """The text a reply quotes or an inline forward repeats: the text body, else the
    html body rendered as text (an html-only message would otherwise be quoted as
    nothing), else nothing."""
    text = original.text
    if text is None and original.html is not None:
        from .html2text import html_to_text

        text = html_to_text(original.html)
    return text or ""


def _who(original: Message) -> str:
    people = _mailboxes(original.from_)
    if not people:
        return "someone"
    return str(people[0])


def reply(
    original: Message,
    *,
    from_: object = None,
    to: object = None,
    reply_all: bool = False,
    text: str | None = None,
    html: str | None = None,
    quote: bool = True,
    policy: Policy = DEFAULT,
) -> Builder:
    """A builder answering ``original``: recipients, ``Re:`` subject, threading
    headers and (unless ``quote=False``) the quoted original below your answer.

    ``from_`` is you: it becomes From and is left out of the recipients. The
    recipients are the original's Reply-To, else From, else Sender (with
    ``reply_all``, its To and Cc as Cc too); ``to`` replaces the computed To, e.g.
    for a message that names nobody else to answer.

    ``text`` alone gives a plain-text reply quoting the original's text with ``>``.
    With ``html``, the reply is text + html as mail clients write it: the html
    answer, then the original's html body (or its text, escaped) in a
    ``<blockquote type="cite">``, with the images that body shows attached again
    under their Content-IDs; the text part is ``text`` (or ``html`` rendered as
    text) over the ``>``-quoted original.
    """
    me = _coerce(from_)
    mine = _own_keys(me)
    targets = original.reply_to or original.from_ or original.sender
    computed = [a for a in _mailboxes(targets) if _key(a) not in mine]
    if not computed and not reply_all:
        # Replying to your own message: answer its recipients, as clients do.
        computed = [a for a in _mailboxes(original.to) if _key(a) not in mine]
    recipients = _mailboxes(_coerce(to)) if to is not None else computed
    seen = {_key(a) for a in recipients}
    cc: list[Address] = []
    if reply_all:
        for a in _mailboxes([*computed, *original.to, *original.cc]):
            if _key(a) not in mine and _key(a) not in seen:
                seen.add(_key(a))
                cc.append(a)
        if not recipients and cc:
            recipients, cc = cc[:1], cc[1:]
    if not recipients:
        raise BuildError("nobody to reply to: the message names no other mailbox "
                         "(give the recipients with to=)")

    b = compose(policy)
    if me:
        b.from_(me)
    b.to(recipients)
    if cc:
        b.cc(cc)
    b.subject(normalize_subject(original.subject, "Re:"))
    _thread(b, original)
    when = original.date.strftime("%a, %d %b %Y at %H:%M") if original.date else None
    intro = f"On {when}, {_who(original)} wrote:" if when else f"{_who(original)} wrote:"
    body = text
    if body is None and html is not None:
        from .html2text import html_to_text

        body = html_to_text(html)
    body = body or ""
    if quote:
        quoted = _quote(_plain(original))
        body = (body.rstrip("\n") + "\n\n" if body else "") + intro + "\n" + quoted
    b.text(body)
    if html is not None:
        b.html(_html_reply(html, original, intro) if quote else html)
        if quote and original.html is not None:
            _attach_inline_resources(b, original)
    return b


def _html_reply(answer: str, original: Message, intro: str) -> str:
    """``answer`` with the original below it in a ``<blockquote type="cite">`` (the
    form mail clients quote and collapse): the original's html body without its
    ``<html>``/``<head>``/``<body>`` wrapper, or its text escaped."""
    from html import escape

    if original.html is not None:
        inner = _html_body(original.html)
    else:
        inner = "<div>" + escape(_plain(original)).replace("\n", "<br>\n") + "</div>"
    quoted = (f'<div class="mimekit-quote">{escape(intro)}</div>\n'
              '<blockquote type="cite" style="margin:0 0 0 .8ex;'
              f'border-left:1px solid #ccc;padding-left:1ex">\n{inner}\n</blockquote>\n')
    end = None
    for end in re.finditer(r"</body\s*>", answer, re.IGNORECASE):
        pass
    if end is None:
        return answer.rstrip("\n") + "\n<br>\n" + quoted
    return answer[: end.start()] + "<br>\n" + quoted + answer[end.start():]


# "[^<>]*", not "[^>]*": with the latter, "<body <body <body ..." (no ">") made each
# try scan to the end of the input: quadratic on hostile html.
_BODY_OPEN = re.compile(r"<body\b[^<>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)
_WRAPPER_TAG = re.compile(r"<!doctype\b[^<>]*>|</?html\b[^<>]*>", re.IGNORECASE)


def _without_elements(html: str, name: str) -> str:
    """``html`` without its ``<name ...>...</name>`` elements (an unclosed one runs to
    the end). One forward scan: a lazy ``.*?`` regex would rescan the rest of the
    input for each unclosed opening tag."""
    low = html.lower()
    opening = re.compile(rf"<{name}\b[^<>]*>", re.IGNORECASE)
    out, pos = [], 0
    while True:
        found = opening.search(html, pos)
        if found is None:
            out.append(html[pos:])
            return "".join(out)
        out.append(html[pos : found.start()])
        close = low.find(f"</{name}", found.end())
        if close < 0:
            return "".join(out)
        end = low.find(">", close)
        pos = len(html) if end < 0 else end + 1


def _html_body(html: str) -> str:
    """What goes inside a quote of ``html``: its body's content (or the document
    without its doctype, ``<html>`` and ``<head>`` when it has no ``<body>``), with no
    ``<style>`` or ``<script>`` element, which would restyle or run in the reply
    around it."""
    opened = _BODY_OPEN.search(html)
    if opened is not None:
        closed = _BODY_CLOSE.search(html, opened.end())
        inner = html[opened.end() : closed.start() if closed else len(html)]
    else:
        inner = _WRAPPER_TAG.sub("", _without_elements(html, "head"))
    for name in ("style", "script"):
        inner = _without_elements(inner, name)
    return inner.strip("\r\n")


def _attach_inline_resources(b: Builder, original: Message) -> None:
    """The images the original's html shows (cid: URLs, RFC 2392), under the same
    Content-ID, or the quoted or forwarded html shows broken images."""
    for part in _inline_resources(original):
        cid = (part.headers.get("Content-ID") or "").strip().strip("<>")
        b.inline(part.get_content(), cid=cid, filename=_clean(part.filename),
                 content_type=_leaf_type(part))


def forward(
    original: Message,
    *,
    from_: object = None,
    to: object = None,
    text: str | None = None,
    inline: bool = False,
    policy: Policy = DEFAULT,
) -> Builder:
    """A builder forwarding ``original``: ``Fwd:`` subject and either the whole
    message attached as ``message/rfc822`` (default: nothing is lost, signatures
    stay checkable) or, with ``inline=True``, its text under a forwarded-message
    block with its attachments attached again."""
    b = compose(policy)
    if from_ is not None:
        b.from_(from_)
    if to is not None:
        b.to(to)
    b.subject(normalize_subject(original.subject, "Fwd:"))
    intro = (text or "").rstrip("\n")
    if not inline:
        b.text(intro + "\n" if intro else "")
        b.attach_message(original)
        return b
    head = ["---------- Forwarded message ----------"]
    for label, value in (("From", _format(original.from_)), ("Date", _date(original)),
                         ("Subject", _clean(original.subject) or ""),
                         ("To", _format(original.to)),
                         ("Cc", _format(original.cc))):
        if value:
            head.append(f"{label}: {value}")
    body = "\n".join(head) + "\n\n" + _plain(original)
    b.text((intro + "\n\n" if intro else "") + body)
    if original.html is not None:
        b.html(_html_with_block(original.html, head, intro))
        _attach_inline_resources(b, original)
    for part in original.attachments:
        if getattr(part, "source", ""):
            continue  # found inside another part (TNEF, uuencode): that part travels itself
        if part.message is not None:
            # An enclosed message (a bounce's original, a forwarded mail) stays a
            # message/rfc822 part (RFC 2046 §5.2.1), not bytes.
            b.attach_message(part.message, filename=_clean(part.filename))
            continue
        b.attach(part.get_content(), filename=_clean(part.filename),
                 content_type=_leaf_type(part))
    return b


def _leaf_type(part: Part) -> str:
    """The Content-Type to attach ``part``'s content again with: its type, and for
    text the charset it was read with (RFC 2046 §4.1.2: the bytes mean nothing
    without it; guessing again could pick another one)."""
    mime = part.content_type.mime_type
    if part.content_type.maintype in ("multipart", "message"):
        return "application/octet-stream"  # a leaf only by damage: bytes, not a tree
    charset = part.charset if part.content_type.maintype == "text" else None
    return f"{mime}; charset={charset}" if charset else mime


def _inline_resources(original: Message) -> list[Part]:
    """The leaves with a Content-ID an html body refers to (not attachments, not the
    bodies themselves), not looking into attached messages."""
    bodies = {id(original.text_part), id(original.html_part)}
    found: list[Part] = []
    stack: list[Part] = [original]
    seen: set[str] = set()
    while stack:
        part = stack.pop()
        if part.is_multipart:
            stack.extend(reversed(part.children))
            continue
        if part.message is not None or part.is_attachment or id(part) in bodies:
            continue
        cid = (part.headers.get("Content-ID") or "").strip().strip("<>")
        # A Content-ID a lenient parse let through but no header can carry (8-bit,
        # controls) is left out rather than failing the whole forward.
        if cid and cid not in seen and _GOOD_CID.fullmatch(cid):
            seen.add(cid)
            found.append(part)
    return found


def _html_with_block(html: str, head: list[str], intro: str) -> str:
    """``html`` with the forwarded-message block (and the forwarder's text) in front,
    as the text body has it: escaped, placed right after ``<body>`` when there is one."""
    from html import escape

    lines = "<br>\n".join(escape(line) for line in head)
    block = f'<div class="mimekit-forward">{lines}</div><br>\n'
    if intro:
        block = "<div>" + escape(intro).replace("\n", "<br>\n") + "</div><br>\n" + block
    found = _BODY_OPEN.search(html)
    if found is None:
        return block + html
    return html[: found.end()] + block + html[found.end():]


def _format(items: Sequence[Address | Group]) -> str:
    # Address.__str__ quotes a display name with specials ("Doe, John" <x@y>).
    return ", ".join(str(a) for a in _mailboxes(items))


def _date(original: Message) -> str:
    from .dates import format_date

    return format_date(original.date) if original.date else ""
