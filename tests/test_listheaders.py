"""List-Id (RFC 2919) and the RFC 2369 List-* URL fields, RFC 8058 one-click."""

from __future__ import annotations

import os
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.errors import Defect
from mimekit.listheaders import ListHeaders, ListId, list_headers, parse_list_id, parse_list_uris
from mimekit.parser import parse

_REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(os.environ.get("MIMEKIT_CORPUS", _REPO.parent / "shared" / "corpus"))


def test_uri_lists() -> None:
    assert parse_list_uris("<mailto:list@host.com?subject=help> (List Instructions)") == [
        "mailto:list@host.com?subject=help"
    ]
    assert parse_list_uris("<http://www.host.com/list.cgi?cmd=unsub&lst=list>,\r\n "
                           "<mailto:list-request@host.com?subject=unsubscribe>") == [
        "http://www.host.com/list.cgi?cmd=unsub&lst=list",
        "mailto:list-request@host.com?subject=unsubscribe",
    ]
    # RFC 2369 §2: white space a broken MTA put inside the brackets is ignored.
    assert parse_list_uris("<http://www.host.com/list.cgi?cmd=unsub\r\n   &lst=list>") == [
        "http://www.host.com/list.cgi?cmd=unsub&lst=list"
    ]
    assert parse_list_uris("NO (posting not allowed on this list)") == []
    d: list[Defect] = []
    assert parse_list_uris("mailto:bare@example.org, junk, <>, <http://x", d) == [
        "mailto:bare@example.org", "http://x"
    ]
    assert [x.kind for x in d] == ["InvalidListHeader"] * 4


def test_list_id() -> None:
    assert parse_list_id("List Header Mailing List <list-header.nisto.com>") == ListId(
        "list-header.nisto.com", "List Header Mailing List"
    )
    assert parse_list_id("<commonspace-users.list-id.within.com>") == ListId(
        "commonspace-users.list-id.within.com"
    )
    assert parse_list_id('"Ana \\"A\\" list" <a.example.org> (comment)') == ListId(
        "a.example.org", 'Ana "A" list'
    )
    assert parse_list_id("=?utf-8?q?Gr=C3=BC=C3=9Fe?= <g.example.org>") == ListId(
        "g.example.org", "Grüße"
    )
    d: list[Defect] = []
    assert parse_list_id("bare.example.org", d) == ListId("bare.example.org")
    assert parse_list_id("no label here", d) is None
    assert parse_list_id("<>", d) is None
    assert len(d) == 3
    assert str(ListId("a.b", "Desc")) == "Desc <a.b>"


def test_message_accessor_and_one_click() -> None:
    msg = parse(
        b"List-Id: Example list <ex.lists.example.org>\r\n"
        b"List-Unsubscribe: <mailto:leave@example.org>, <https://example.org/u/123>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        b"List-Post: <mailto:ex@lists.example.org>\r\n"
        b"List-Archive: <https://example.org/archive/>\r\n"
        b"list-help: <mailto:ex-request@lists.example.org?subject=help>\r\n"
        b"Subject: x\r\n\r\nbody\r\n"
    )
    lh = msg.list_headers
    assert lh == ListHeaders(
        id=ListId("ex.lists.example.org", "Example list"),
        help=("mailto:ex-request@lists.example.org?subject=help",),
        unsubscribe=("mailto:leave@example.org", "https://example.org/u/123"),
        post=("mailto:ex@lists.example.org",),
        archive=("https://example.org/archive/",),
        post_allowed=True,
        one_click_unsubscribe=True,
    )
    assert lh.first("unsubscribe", "https") == "https://example.org/u/123"
    assert lh.first("unsubscribe", "mailto:") == "mailto:leave@example.org"
    assert lh.first("subscribe", "mailto") is None
    assert parse(b"Subject: x\r\n\r\n").list_headers is None
    # RFC 8058 §3.1: one-click needs an HTTPS URI.
    no_https = parse(b"List-Unsubscribe: <mailto:a@b.example>\r\n"
                     b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n")
    assert no_https.list_headers is not None
    assert no_https.list_headers.one_click_unsubscribe is False
    closed = parse(b"List-Post: NO (read-only announcements)\r\n\r\n").list_headers
    assert closed is not None and closed.post_allowed is False and closed.post == ()


def test_defects_carry_the_header_name() -> None:
    msg = parse(b"List-Unsubscribe: mailto:a@b.example\r\n\r\n")
    d: list[Defect] = []
    lh = list_headers(msg.headers, d)
    assert lh is not None and lh.unsubscribe == ("mailto:a@b.example",)
    assert [(x.kind, x.header) for x in d] == [("InvalidListHeader", "List-Unsubscribe")]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>(),; \t\"\\:@.=?aN0O")), max_size=40))
def test_never_raises(text: str) -> None:
    parse_list_uris(text, [])
    parse_list_id(text, [])


@pytest.mark.corpus
def test_corpus_mailman_list() -> None:
    path = CORPUS / "jstedfast-MimeKit/openpgp/Announce_GnuPG_2.1.20_released.eml"
    if not path.is_file():
        pytest.skip(f"corpus not found at {CORPUS} (set MIMEKIT_CORPUS)")
    lh = parse(path.read_bytes()).list_headers
    assert lh is not None
    assert lh.id == ListId("gnupg-announce.gnupg.org", "Important GnuPG announcements")
    assert lh.help == ("mailto:gnupg-announce-request@gnupg.org?subject=help",)
    assert lh.unsubscribe == (
        "http://lists.gnupg.org/mailman/options/gnupg-announce",
        "mailto:gnupg-announce-request@gnupg.org?subject=unsubscribe",
    )
    assert lh.archive == ("/pipermail/",)  # a relative reference, kept as written
    assert lh.post_allowed is None  # no List-Post field


def test_hostile_input_gives_bounded_defects() -> None:
    d: list[Defect] = []
    assert parse_list_uris("<" * 20000 + " junk " * 5000, d) == []
    # One "not closed", one "empty", one "not a URL": not one per item.
    assert sorted(x.detail for x in d) == ["URL without closing '>'", "empty '<>'", "not a URL: 'junk'"]
    # An unclosed "<" ends at white space: it never swallows the rest of the field.
    assert parse_list_uris("<mailto:a@b.example <https://x.example/u>") == [
        "mailto:a@b.example", "https://x.example/u"
    ]
