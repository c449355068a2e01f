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
