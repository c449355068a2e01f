"""Reply, reply-all and forward from a parsed message."""

from __future__ import annotations

import email
import email.policy

import pytest

import mimekit
from mimekit.reply import forward, normalize_subject, reply

ORIGINAL = (
    b"From: Ana Lima <ana@example.org>\r\n"
    b"Reply-To: Ana Desk <desk@example.org>\r\n"
    b"To: Bo Chen <bo@example.net>, me@example.com\r\n"
    b"Cc: Chlo\xc3\xa9 <chloe@example.net>, ME@example.com\r\n"
    b"Subject: Re: AW: Quarterly report\r\n"
    b"Date: Fri, 01 Mar 2024 01:47:09 +0000\r\n"
    b"Message-ID: <m3@example.org>\r\n"
    b"In-Reply-To: <m2@example.org>\r\n"
    b"References: <m1@example.org> <m2@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNumbers attached.\r\n> old\r\n"
    b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=r.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
)


def test_normalize_subject() -> None:
    assert normalize_subject("Re: AW: hello", "Re:") == "Re: hello"
    # a reply keeps a forward prefix and a forward keeps a reply prefix (as Outlook,
    # Gmail and Thunderbird write them): only prefixes of the same kind collapse
    assert normalize_subject("Re: AW: Fwd: hello", "Re:") == "Re: Fwd: hello"
    assert normalize_subject("Fwd: hello", "Re:") == "Re: Fwd: hello"
    assert normalize_subject("Re: hello", "Fwd:") == "Fwd: Re: hello"
    assert normalize_subject("WG: FW: Fwd[2]: Re: hello", "Fwd:") == "Fwd: Re: hello"
    assert normalize_subject("RE[2]: hello", "Re:") == "Re: hello"
    assert normalize_subject("hello", "Fwd:") == "Fwd: hello"
    assert normalize_subject(None, "Re:") == "Re:"


def test_reply_threads_and_quotes() -> None:
    orig = mimekit.parse(ORIGINAL)
    msg = reply(orig, from_="me@example.com", text="Thanks!").build()
    std = email.message_from_bytes(msg.to_bytes(), policy=email.policy.default)
    assert std["To"].addresses[0].addr_spec == "desk@example.org"
    assert std["Cc"] is None
    assert std["Subject"] == "Re: Quarterly report"
    assert std["In-Reply-To"] == "<m3@example.org>"
    assert std["References"].split() == ["<m1@example.org>", "<m2@example.org>",
                                         "<m3@example.org>"]
    body = std.get_content().replace("\r\n", "\n")
    assert body.startswith("Thanks!\n\nOn Fri, 01 Mar 2024 at 01:47, Ana Lima <ana@example.org>")
    assert "> Numbers attached.\n>> old\n" in body


def test_reply_all_drops_own_address_and_duplicates() -> None:
    orig = mimekit.parse(ORIGINAL)
    msg = reply(orig, from_="Me <me@example.com>", reply_all=True).build()
    back = mimekit.parse(msg.to_bytes())
    assert [a.address for a in back.to] == ["desk@example.org"]
    assert [a.address for a in back.cc] == ["bo@example.net", "chloe@example.net"]


def test_forward_attached_keeps_the_original_bytes() -> None:
    orig = mimekit.parse(ORIGINAL)
    msg = forward(orig, from_="me@example.com", to="zoe@example.net", text="FYI").build()
    std = email.message_from_bytes(msg.to_bytes(), policy=email.policy.default)
    assert std["Subject"] == "Fwd: Re: AW: Quarterly report"  # forwarding a reply
    kinds = [p.get_content_type() for p in std.walk()]
    assert kinds[:3] == ["multipart/mixed", "text/plain", "message/rfc822"]
    assert ORIGINAL in msg.to_bytes()


def test_forward_inline_reattaches_files() -> None:
    orig = mimekit.parse(ORIGINAL)
    msg = forward(orig, from_="me@example.com", to="zoe@example.net", inline=True).build()
    back = mimekit.parse(msg.to_bytes())
    assert back.text is not None and "---------- Forwarded message ----------" in back.text
    assert "Subject: Re: AW: Quarterly report" in back.text
    assert [(a.filename, a.get_content()) for a in back.attachments] == [("r.pdf", b"%PDF-1.4\n")]


def test_reply_to_a_hostile_message_never_injects_headers() -> None:
    raw = (b"From: =?utf-8?q?Eve=0D=0ABcc:_x@evil.example?= <eve@example.org>\r\n"
           b"To: me@example.com\r\nSubject: =?utf-8?q?hi=0D=0ABcc:_x@evil.example?=\r\n"
           b"Message-ID: <h@example.org>\r\n\r\nbody\r\n")
    orig = mimekit.parse(raw)
    assert "\n" in (orig.subject or "")
    out = reply(orig, from_="me@example.com").build().to_bytes()
    assert not any(line.lower().startswith(b"bcc:") for line in out.split(b"\r\n"))
    back = mimekit.parse(out)
    assert back.subject == "Re: hi Bcc: x@evil.example"
    assert [a.address for a in back.to] == ["eve@example.org"]


def test_forward_inline_does_not_duplicate_files_found_inside_the_text() -> None:
    import binascii

    block = binascii.b2a_uu(b"hello uu\n").replace(b"\n", b"\r\n")
    raw = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: uu\r\n\r\ntext before\r\n"
           b"begin 644 hi.txt\r\n" + block + b"`\r\nend\r\n")
    orig = mimekit.parse(raw)
    assert [(a.filename, a.get_content()) for a in orig.attachments] == [("hi.txt", b"hello uu\n")]
    fwd = forward(orig, from_="c@example.org", to="d@example.org", inline=True).build()
    back = mimekit.parse(fwd.to_bytes())
    assert [a.filename for a in back.attachments] == ["hi.txt"]  # once: inside the quoted text
    assert not back.is_multipart


def test_reply_skips_ids_no_header_can_carry() -> None:
    """Regression (review): an 8-bit or NUL-holding Message-ID made reply() raise."""
    raw = ("From: a@example.org\r\nTo: me@example.com\r\nSubject: x\r\n"
           "Message-ID: <grüße@example.org>\r\nReferences: <ok@example.org> <b\x00d@x.org>\r\n"
           "\r\nbody\r\n").encode()
    out = reply(mimekit.parse(raw), from_="me@example.com").build()
    assert out.in_reply_to == []
    assert out.references == ["ok@example.org"]


def test_forward_inline_keeps_an_enclosed_message_as_a_message() -> None:
    """Regression: a message holding a message/rfc822 part (a bounce, a forwarded
    mail) could not be forwarded inline (BuildError from attach())."""
    inner = (mimekit.compose().from_("a@example.org").to("b@example.org").subject("inner")
             .text("x").build())
    outer = (mimekit.compose().from_("a@example.org").to("b@example.org").text("y")
             .attach_message(inner).build())
    fwd = forward(mimekit.parse(outer.to_bytes()), from_="me@example.org", to="x@example.org",
                  inline=True).build()
    back = mimekit.parse(fwd.to_bytes())
    assert [p.mime_type for p in back.walk()] == [
        "multipart/mixed", "text/plain", "message/rfc822", "text/plain"]
    (att,) = back.attachments
    assert att.message is not None and att.message.subject == "inner"
    assert att.filename == "inner.eml"


def test_forward_inline_block_cannot_be_spoofed_by_decoded_line_breaks() -> None:
    """Regression: a subject decoded to CR/LF (=0D=0A in an encoded word) put a fake
    "Bcc:" line into the forwarded-message block of the body."""
    raw = (b"From: a@example.org\r\nTo: b@example.org\r\n"
           b"Subject: =?utf-8?Q?hello=0D=0ABcc:_victim@example.org?=\r\n\r\nbody\r\n")
    text = forward(mimekit.parse(raw), from_="me@example.org", to="x@example.org",
                   inline=True).build().text
    assert text is not None
    assert "Subject: hello Bcc: victim@example.org\n" in text
    assert "\nBcc:" not in text


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256))
HTML_ONLY = (
    mimekit.compose(deterministic=True).from_("Ana <ana@example.org>").to("me@example.com")
    .subject("Plan")
    .html('<html><body><p>Hello <b>there</b></p><img src="cid:logo@x"></body></html>')
    .inline(PNG, cid="logo@x", filename="logo.png")
    .attach("Příliš žluťoučký kůň".encode("cp1250"), filename="n.txt",
            content_type="text/plain; charset=windows-1250")
    .build().to_bytes()
)


def test_reply_to_an_html_only_message_quotes_its_text() -> None:
    """Regression: the quote of an html-only message was a lone ">"."""
    body = reply(mimekit.parse(HTML_ONLY), from_="me@example.com").build().text
    assert body is not None
    assert body.endswith(" Ana <ana@example.org> wrote:\n> Hello there\n")


def test_forward_inline_keeps_images_charsets_and_the_block_in_html() -> None:
    """Regression: forwarding inline dropped the html's cid: images (lint:
    MissingCidTarget), attached a windows-1250 text file again as iso-8859-1
    ("Pøíliš žlu\\x9douèký"), and left the forwarded-message block out of the html and
    the original's text out of an html-only forward."""
    fwd = forward(mimekit.parse(HTML_ONLY), from_="me@example.com", to="zoe@example.net",
                  text="See <below>", inline=True).build()
    assert fwd.lint() == []
    back = mimekit.parse(fwd.to_bytes())
    assert back.defects == []
    assert [p.mime_type for p in back.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "multipart/related",
        "text/html", "image/png", "text/plain"]
    image = back.children[0].children[1].children[1]
    assert image.headers.get("Content-ID") == "<logo@x>" and image.get_content() == PNG
    (att,) = back.attachments
    assert att.filename == "n.txt" and att.content_type.charset == "windows-1250"
    assert att.get_text() == "Příliš žluťoučký kůň"
    assert back.text is not None
    assert back.text.startswith("See <below>\n\n---------- Forwarded message ----------\n")
    assert back.text.endswith("Subject: Plan\nTo: me@example.com\n\nHello there\n")
    assert back.html is not None
    assert back.html.startswith('<html><body><div>See &lt;below&gt;</div><br>\n'
                                '<div class="mimekit-forward">---------- Forwarded message')
    assert "From: Ana &lt;ana@example.org&gt;<br>" in back.html
    assert back.html.endswith('<p>Hello <b>there</b></p><img src="cid:logo@x"></body></html>')
    std = email.message_from_bytes(fwd.to_bytes(), policy=email.policy.default)
    (std_att,) = std.iter_attachments()
    assert std_att.get_content() == "Příliš žluťoučký kůň"


def test_localized_prefixes_of_outlook_and_others() -> None:
    for subject in ("回复: x", "회신: x", "ΑΠ: x", "ΣΧΕΤ: x", "השב: x", "YNT: x",
                    "Antw: AW: x", "SV: VS: x", "Re[3]: RES: x", "答覆：x"):
        assert normalize_subject(subject, "Re:") == "Re: x", subject
    for subject in ("转发：x", "轉寄: x", "전달: x", "ΠΡΘ: x", "הועבר: x", "İLT: x", "PD: x",
                    "WG: x", "TR: x", "RV: x", "ENC: x", "I: x", "Doorst: x", "VB: x", "VL: x"):
        assert normalize_subject(subject, "Fwd:") == "Fwd: x", subject
        assert normalize_subject(subject, "Re:") == f"Re: {subject}", subject
    assert normalize_subject("Re: 10:30 meeting", "Re:") == "Re: 10:30 meeting"


def test_forward_folds_a_header_line_over_998_octets_of_the_original() -> None:
    """Review finding (regression of this session): forward() of received mail with a
    header line over 998 octets raised BuildError; the line is folded at white space
    inside the attached copy (the unfolded value is the same, RFC 5322 §2.2.3). Only
    a line with no white space to fold at is refused, with a way out."""
    long = b"X-Long: " + b" ".join(b"word%d" % i for i in range(300))
    orig = mimekit.parse(b"From: a@example.org\r\nTo: b@example.org\r\nSubject: s\r\n"
                         + long + b"\r\n\r\nbody\r\n")
    raw = forward(orig, from_="me@example.org", to="c@example.org").build().to_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    back = mimekit.parse(raw)
    (inner,) = [p.message for p in back.walk() if p.message is not None]
    assert inner is not None and inner.headers["X-Long"] == orig.headers["X-Long"]
    assert back.defects == [] and inner.text == "body\n"
    std = email.message_from_bytes(raw, policy=email.policy.default)
    (att,) = std.iter_attachments()
    assert att.get_content()["X-Long"] == orig.headers["X-Long"]
    word = mimekit.parse(b"From: a@example.org\r\nX-W: " + b"y" * 1200 + b"\r\n\r\nb\r\n")
    with pytest.raises(mimekit.BuildError, match="no white space to fold it at.*attach"):
        forward(word, from_="me@example.org", to="c@example.org").build()


HTML_ORIGINAL = (
    b"From: Ana Lima <ana@example.org>\r\nTo: me@example.com\r\nSubject: Plan\r\n"
    b"Date: Thu, 01 Feb 2024 10:00:00 +0000\r\nMessage-ID: <plan@example.org>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
    b"--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><head><style>p{color:red}</style></head><body><p>See the <b>plan</b>"
    b"</p><img src=\"cid:logo@x\"></body></html>\r\n"
    b"--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n")


def test_html_reply_quotes_the_original_html_as_clients_do() -> None:
    """New-user trial: replies were text only. With html=, the reply is text + html,
    the original's body in a blockquote, its cid: images attached again."""
    orig = mimekit.parse(HTML_ORIGINAL)
    msg = reply(orig, from_="me@example.com", html="<p>Looks <i>good</i>!</p>").build()
    back = mimekit.parse(msg.to_bytes())
    assert back.subject == "Re: Plan" and [a.address for a in back.to] == ["ana@example.org"]
    html = back.html or ""
    assert html.startswith("<p>Looks <i>good</i>!</p>\n<br>\n"
                           '<div class="mimekit-quote">On Thu, 01 Feb 2024 at 10:00, '
                           "Ana Lima &lt;ana@example.org&gt; wrote:</div>\n"
                           '<blockquote type="cite"')
    assert '<p>See the <b>plan</b></p><img src="cid:logo@x">\n</blockquote>' in html
    assert "<style>" not in html and "<body" not in html
    assert (back.text or "").startswith("Looks good!\n\nOn Thu, 01 Feb 2024 at 10:00, ")
    assert "> See the plan" in (back.text or "")
    (logo,) = [p for p in back.walk() if p.mime_type == "image/png"]
    assert logo.headers["Content-ID"] == "<logo@x>" and logo.get_content() == (
        b"\x89PNG\r\n\x1a\n")
    assert back.defects == [] and msg.lint() == []
    std = email.message_from_bytes(msg.to_bytes(), policy=email.policy.default)
    assert std["In-Reply-To"] == "<plan@example.org>"


def test_html_reply_to_a_text_message_and_into_a_full_document() -> None:
    orig = mimekit.parse(ORIGINAL)
    msg = reply(orig, from_="me@example.com", text="Fine.",
                html="<html><body><p>Fine.</p></body></html>").build()
    back = mimekit.parse(msg.to_bytes())
    html = back.html or ""
    assert html.startswith("<html><body><p>Fine.</p><br>\n<div class=\"mimekit-quote\">")
    assert html.endswith("</blockquote>\n</body></html>")
    assert "Numbers attached.<br>\n&gt; old" in html.split("<blockquote")[1]  # escaped
    assert (back.text or "").startswith("Fine.\n\n")
    assert reply(orig, from_="me@example.com", html="<p>x</p>", quote=False).build().html == (
        "<p>x</p>")


def test_reply_to_gives_the_recipients_when_the_message_names_nobody() -> None:
    """New-user trial: reply() raised 'nobody to reply to' for a message without
    From, and had no to= (forward has one)."""
    orig = mimekit.parse(b"Subject: note\r\nMessage-ID: <n@example.org>\r\n\r\nhi\r\n")
    with pytest.raises(mimekit.BuildError, match="to="):
        reply(orig, from_="me@example.com")
    msg = reply(orig, from_="me@example.com", to="bo@example.net", text="ok").build()
    assert [a.address for a in msg.to] == ["bo@example.net"] and msg.subject == "Re: note"
    # to= replaces the computed To; with reply_all the others still go to Cc
    full = mimekit.parse(ORIGINAL)
    both = reply(full, from_="me@example.com", to="boss@example.org", reply_all=True).build()
    assert [a.address for a in both.to] == ["boss@example.org"]
    assert "desk@example.org" in [a.address for a in both.cc]  # its Reply-To


def test_the_quoted_html_brings_no_head_style_or_script_along() -> None:
    """Review finding: an original with no <body> was quoted whole, so its <head> and
    <style> landed in the reply and could restyle (here: hide) the answer."""
    orig = mimekit.parse(
        b"From: a@example.org\r\nTo: me@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<!DOCTYPE html><html><head>"
        b"<style>p{display:none}</style></head><p>original</p><script>x()</script>"
        b"<STYLE>b{}</STYLE></html>\r\n")
    html = reply(orig, from_="me@example.com", html="<p>my answer</p>").build().html or ""
    quoted = html.split("<blockquote", 1)[1]
    assert "<p>original</p>" in quoted
    for gone in ("<style", "<STYLE", "<script", "<head", "<html", "DOCTYPE", "display:none"):
        assert gone not in html


def test_hostile_html_is_quoted_in_linear_work() -> None:
    """Review finding: '<body <body ...' made the body search quadratic (and the text
    rendering far worse). Counted, not timed: the quote holds the text as given."""
    from mimekit.reply import _html_body

    hostile = "<body " * 30_000
    assert _html_body(hostile) == hostile.strip("\r\n")
    assert _html_body("<head>" * 30_000) == "" and _html_body("<style>" * 30_000) == ""
    orig = mimekit.parse(("From: a@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
                          "Content-Type: text/html\r\n\r\n" + "<body " * 5_000).encode())
    msg = reply(orig, from_="me@example.com", html="<p>x</p>").build()
    assert (msg.text or "").count("> <body <body") == 1
