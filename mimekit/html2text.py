"""A plain-text rendering of HTML, for the text alternative of an html-only message.

Mail clients and spam filters expect ``multipart/alternative`` to carry a real
text version (RFC 2046 §5.1.4); this produces a readable one: paragraphs and
line breaks kept, lists bulleted, links written as ``text (url)``, scripts and
styles dropped, entities decoded, white space collapsed as a browser would.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

_BLOCK = frozenset(
    (
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    )
)  # fmt: skip
_SKIP = frozenset(("script", "style", "head", "title", "template", "noscript"))
_SPACE = re.compile(r"[ \t\r\n\f\v]+")


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0
        self.links: list[str | None] = []
        self.link_text: list[int] = []
        self.lists: list[list[int]] = []  # [counter or -1 for bullets]
        # How far out[] has been searched for visible text, and whether it was found:
        # each piece is looked at once, so many block tags stay linear in time.
        self._scanned = 0
        self._seen_text = False

    def _newline(self, count: int = 1) -> None:
        """End the current line so that ``count`` newlines trail the output (none before
        any visible text). Looks only at the last pieces, never joins the whole output:
        a page of many thousand blocks must not take quadratic time."""
        if not self._seen_text:
            out = self.out
            while self._scanned < len(out):
                self._scanned += 1
                if out[self._scanned - 1].strip():
                    self._seen_text = True
                    break
            if not self._seen_text:
                return
        have = 0
        for piece in reversed(self.out):
            stripped = piece.rstrip("\n")
            have += len(piece) - len(stripped)
            if stripped or have >= count:
                break
        if have < count:
            self.out.append("\n" * (count - have))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
            return
        if tag == "br":
            self.out.append("\n")
        elif tag in ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table",
                     "ul", "ol", "pre"):
            self._newline(2 if tag not in ("div",) else 1)
        elif tag in _BLOCK:
            self._newline(1)
        if tag == "pre":
            self.pre += 1
        elif tag in ("ul", "ol"):
            self.lists.append([0 if tag == "ol" else -1])
        elif tag == "li":
            indent = "  " * max(0, len(self.lists) - 1)
            if self.lists and self.lists[-1][0] >= 0:
                self.lists[-1][0] += 1
                self.out.append(f"{indent}{self.lists[-1][0]}. ")
            else:
                self.out.append(f"{indent}- ")
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))
            self.link_text.append(len(self.out))
        elif tag in ("td", "th"):
            self.out.append("\t")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        if tag == "a" and self.links:
            href = self.links.pop()
            start = self.link_text.pop()
            shown = self._shown(start, len(href or ""))
            if href and not href.startswith(("#", "cid:", "javascript:")) and href != shown \
                    and href.removeprefix("mailto:") != shown:
                self.out.append(f" ({href})")
        if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol",
                   "pre"):
            self._newline(2)
        elif tag in _BLOCK:
            self._newline(1)

    def _shown(self, start: int, limit: int) -> str:
        """The text of the link that began at ``out[start]``, compared with its href
        only: collected up to a little more than the href's length (nested links
        would otherwise join the same long tail again at every closing tag)."""
        pieces: list[str] = []
        size = 0
        for piece in self.out[start:start + limit + 64]:
            pieces.append(piece)
            size += len(piece)
            if size > limit + 64:
                return "".join(pieces)  # longer than the href whatever the white space
        return "".join(pieces).strip()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            self.out.append(data)
            return
        text = _SPACE.sub(" ", data)
        if not text.strip():
            if self.out and not self.out[-1].endswith((" ", "\n", "\t")):
                self.out.append(" ")
            return
        if self.out and self.out[-1].endswith(("\n", "\t", " ")) and text.startswith(" "):
            text = text.lstrip(" ")
        self.out.append(text)


# A "<" that no ">" closes before the next "<" (or the end) starts no tag. The standard
# library's HTMLParser rescans the rest of the input for each such "<" (quadratic:
# 120 KB of "<body " took 23 s), so they are written as text first, in one pass.
_UNCLOSED_LT = re.compile(r"<(?!!--)(?=[^<>]*(?:<|\Z))")


def html_to_text(html: str) -> str:
    """Readable plain text for ``html``; ends with one newline unless empty."""
    r = _Renderer()
    # the same for comments: a "<!--" that no "-->" follows is text, not a comment
    last = html.rfind("-->")
    cut = 0 if last < 0 else last + 3
    html = html[:cut] + html[cut:].replace("<!--", "&lt;!--")
    r.feed(_UNCLOSED_LT.sub("&lt;", html))
    r.close()
    lines = [line.rstrip() for line in "".join(r.out).split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
    return text + "\n" if text else ""
