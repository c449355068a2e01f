"""HTML to text for generated alternatives."""

from __future__ import annotations

import mimekit
from mimekit.html2text import html_to_text


def test_structure_links_entities() -> None:
    html = ("<html><head><style>p{}</style><title>t</title></head><body><h1>Title</h1>"
            "<p>Hello <b>Bo</b>,<br>see <a href='https://x.org/a'>the report</a>.</p>"
            "<ul><li>one</li><li>two</li></ul><ol><li>a</li><li>b</li></ol>"
            "<p>Gr&uuml;&szlig;e &amp; <a href='mailto:a@x.org'>a@x.org</a></p>"
            "<script>alert(1)</script></body></html>")
    assert html_to_text(html) == ("Title\n\nHello Bo,\nsee the report (https://x.org/a).\n\n"
                                  "- one\n- two\n\n1. a\n2. b\n\nGrüße & a@x.org\n")


def test_pre_keeps_whitespace_and_empty_is_empty() -> None:
    assert html_to_text("<pre>a  b\n  c</pre>") == "a  b\n  c\n"
    assert html_to_text("") == ""


def test_builder_generates_the_alternative() -> None:
    msg = (mimekit.compose().from_("a@example.org").to("b@example.org")
           .html("<p>Hi <i>there</i></p>", generate_text=True).build())
    assert msg.content_type.mime_type == "multipart/alternative"
    assert msg.text == "Hi there\r\n" or msg.text == "Hi there\n"


class _CountingList(list[str]):
    """The renderer's output list, counting how many pieces are read back from it."""

    looked = 0

    def __reversed__(self):  # type: ignore[no-untyped-def]
        for item in super().__reversed__():
            _CountingList.looked += 1
            yield item

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        got = super().__getitem__(index)
        if isinstance(index, slice):
            _CountingList.looked += len(got)
        return got


def test_many_blocks_and_nested_links_take_linear_time() -> None:
    """Regression: every block tag joined the whole output so far, and every closing
    link tag the whole link text, so html_to_text was quadratic (40,000 paragraphs,
    320 KB, took about 13 s). Counted work, not wall-clock: a bounded number of output
    pieces is read back per tag."""
    from mimekit.html2text import _Renderer

    n = 20_000
    html = "<p>x</p>" * n + "<a href=u>" * 2_000 + "y" + "</a>" * 2_000
    renderer = _Renderer()
    renderer.out = _CountingList()
    _CountingList.looked = 0
    renderer.feed(html)
    renderer.close()
    assert _CountingList.looked < 10 * (2 * n + 4_000)  # quadratic would be ~10**8
    text = html_to_text(html)
    assert text.startswith("x\n\nx\n\n") and text.count("x") == n
    assert text.endswith("x\n\ny (u)" + " (u)" * 1_999 + "\n")


def test_unclosed_tags_and_comments_reach_the_parser_as_text() -> None:
    """Review finding: the standard library's HTMLParser rescans the rest of the input
    for each "<" that no ">" closes and for each unclosed "<!--" (120 KB of "<body "
    took 23 s, a reply to such an html-only message as long). They are made text
    first; what the parser is given then holds no unclosed one (the property that
    keeps it linear), and the text keeps them."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mimekit import html2text

    fed: list[str] = []

    class Spy(html2text._Renderer):
        def feed(self, data: str) -> None:
            fed.append(data)
            super().feed(data)

    real = html2text._Renderer
    html2text._Renderer = Spy  # type: ignore[misc]
    try:
        @settings(max_examples=300, deadline=None)
        @given(st.lists(st.sampled_from(["<", ">", "<!--", "-->", "a", " ", "<p>", "</p>",
                                         "<body ", '"', "<!x", "<?"]), max_size=60))
        def prop(pieces: list[str]) -> None:
            fed.clear()
            html_to_text("".join(pieces))
            (data,) = fed
            assert not re.search(r"<(?!!--)(?=[^<>]*(?:<|\Z))", data)
            last = data.rfind("-->")
            assert "<!--" not in data[last + 3 if last >= 0 else 0:]

        prop()
    finally:
        html2text._Renderer = real  # type: ignore[misc]
    assert html_to_text("<body " * 3).startswith("<body <body <body")
    assert html_to_text("<p>a < b</p><!-- c < d --><p>e</p><!-- open") == (
        "a < b\n\ne\n\n<!-- open\n")
