"""Received fields (RFC 5321 §4.4, RFC 5322 §3.6.7): the common server styles, the
messy ones, the corpus, and robustness on arbitrary text."""

from __future__ import annotations

import os
import pathlib
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.errors import Defect
from mimekit.parser import parse
from mimekit.received import Received, TLSInfo, parse_received

_REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(os.environ.get("MIMEKIT_CORPUS", _REPO.parent / "shared" / "corpus"))
_META = {"MANIFEST.md", "manifest.tsv", "stdlib-check.tsv", ".gitattributes"}
UTC = timezone.utc


def _tz(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def test_postfix_with_tls_comment() -> None:
    text = (
        "from mx.example.org (mx.example.org [192.0.2.10])\t(using TLSv1.3 with cipher "
        "TLS_AES_256_GCM_SHA384 (256/256 bits))\t(No client certificate requested)\t"
        "by mail.example.net (Postfix) with ESMTPS id 4F1A2B3C4D\tfor <ana@example.net>; "
        "Tue,  5 Mar 2024 10:01:02 +0100 (CET)"
    )
    defects: list[Defect] = []
    r = parse_received(text, defects)
    assert defects == []
    assert r.from_ == "mx.example.org"
    assert r.from_ip == "192.0.2.10"
    assert r.from_info == (
        "mx.example.org [192.0.2.10]; using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
        "(256/256 bits); No client certificate requested"
    )
    assert (r.by, r.with_, r.id, r.for_, r.via) == (
        "mail.example.net", "ESMTPS", "4F1A2B3C4D", "ana@example.net", None
    )
    assert r.date == datetime(2024, 3, 5, 10, 1, 2, tzinfo=_tz(1))
    assert r.tls == TLSInfo(
        "TLSv1.3", "TLS_AES_256_GCM_SHA384", "256/256",
        "using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
    )
    assert r.by_info == "Postfix"
    assert r.comments[-1] == "Postfix"  # the date's own comment "(CET)" is not a clause
    assert r.raw.startswith("from mx.example.org (mx.example.org [192.0.2.10]) (using")


def test_gmail_style() -> None:
    r = parse_received(
        "from mail-wr1-f41.google.com (mail-wr1-f41.google.com. [2a00:1450:4864:20::441])"
        "        by mx.google.com with ESMTPS id a1si2345678wrb.12.2024.03.05.01.02.03"
        "        for <bo@example.com>        (version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256 "
        "bits=128/128);        Tue, 05 Mar 2024 01:02:03 -0800 (PST)"
    )
    assert r.from_ == "mail-wr1-f41.google.com"
    assert r.from_ip == "2a00:1450:4864:20::441"
    assert r.by == "mx.google.com" and r.with_ == "ESMTPS"
    assert r.id == "a1si2345678wrb.12.2024.03.05.01.02.03"
    assert r.for_ == "bo@example.com"
    assert r.tls is not None and (r.tls.version, r.tls.cipher, r.tls.bits) == (
        "TLS1_3", "TLS_AES_128_GCM_SHA256", "128/128"
    )
    assert r.date == datetime(2024, 3, 5, 1, 2, 3, tzinfo=_tz(-8))
    # Gmail's internal hops: only "by", "with", "id".
    r = parse_received("by 2002:a05:6000:1a8b:b0:33d:1234:5678 with SMTP id x1csp123; "
                       "Tue, 5 Mar 2024 01:02:04 -0800 (PST)")
    assert (r.from_, r.by, r.with_, r.id) == (
        None, "2002:a05:6000:1a8b:b0:33d:1234:5678", "SMTP", "x1csp123"
    )


def test_exchange_style_with_via_and_tls() -> None:
    r = parse_received(
        "from AM0PR01MB1234.eurprd01.prod.exchangelabs.com (2603:10a6:208:1::10) by "
        "AM0PR01MB5678.eurprd01.prod.exchangelabs.com (2603:10a6:208:2::20) with "
        "Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)"
        " id 15.20.7339.30 via Frontend Transport; Tue, 5 Mar 2024 09:00:00 +0000"
    )
    assert r.from_ == "AM0PR01MB1234.eurprd01.prod.exchangelabs.com"
    assert r.from_ip == "2603:10a6:208:1::10"
    assert r.by == "AM0PR01MB5678.eurprd01.prod.exchangelabs.com"
    assert r.with_ == "Microsoft SMTP Server"
    assert r.id == "15.20.7339.30"
    assert r.via == "Frontend Transport"
    assert r.tls == TLSInfo(
        "TLS1_2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", None,
        "version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    )
    assert r.date == datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
    r = parse_received("from a.example (10.0.0.1) by b.example (10.0.0.2) with Microsoft "
                       "SMTP Server (TLS) id 15.0.1044.25; Tue, 21 Jul 2022 11:00:55 -0400")
    assert r.tls == TLSInfo(None, None, None, "TLS") and r.with_ == "Microsoft SMTP Server"


def test_exim_style() -> None:
    r = parse_received(
        "from host.example ([198.51.100.7] helo=client.example) by relay.example with esmtps "
        "(TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256) (Exim 4.96) (envelope-from "
        "<list-bounces@example.org>) id 1rhXyz-0001Ab-2C for cy@example.org; "
        "Tue, 05 Mar 2024 10:00:00 +0000"
    )
    assert (r.from_, r.from_ip, r.from_info) == (
        "host.example", "198.51.100.7", "[198.51.100.7] helo=client.example"
    )
    assert (r.by, r.with_, r.id, r.for_) == (
        "relay.example", "esmtps", "1rhXyz-0001Ab-2C", "cy@example.org"
    )
    assert r.tls == TLSInfo("TLS1.2", "ECDHE_RSA_AES_256_GCM_SHA384", "256",
                            "TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256")
    assert "Exim 4.96" in r.comments


def test_messy_forms() -> None:
    # qmail: a comment and a date, no clause at all.
    d: list[Defect] = []
    r = parse_received("(qmail 5683 invoked from network); 19 Nov 2014 08:46:08 -0000", d)
    assert r == Received(date=datetime(2014, 11, 19, 8, 46, 8, tzinfo=UTC),
                         comments=("qmail 5683 invoked from network",), raw=r.raw)
    assert d == []
    # Old Netscape server: no ";" before the date.
    d = []
    r = parse_received("from a.example ([192.0.2.1]) by b.example (Netscape Mail Server "
                       "v1.1) with ESMTP id AAA1 for <x@b.example> Sun, 21 Jul 1996 "
                       "16:59:17 -0700", d)
    assert (r.for_, r.date) == ("x@b.example", datetime(1996, 7, 21, 16, 59, 17, tzinfo=_tz(-7)))
    assert [x.detail for x in d] == ["date not preceded by ';'"]
    # A ";" inside the clauses (IBM gateway banner): the date is after the last one.
    r = parse_received("from a (192.0.2.1) by b (192.0.2.2) with IBM ESMTP SMTP Gateway: "
                       "Authorized Use Only! Violators will be prosecuted; (version=TLSv1/"
                       "SSLv3 cipher=AES128-GCM-SHA256 bits=128/128); Wed, 8 Mar 2017 "
                       "09:46:09 -0700")
    assert r.with_ == "IBM ESMTP SMTP Gateway: Authorized Use Only! Violators will be prosecuted;"
    assert r.tls is not None and r.tls.cipher == "AES128-GCM-SHA256"
    assert r.date == datetime(2017, 3, 8, 9, 46, 9, tzinfo=_tz(-7))
    # No date, unclosed comment, junk before the first clause.
    d = []
    r = parse_received("junk from a (unclosed by b", d)
    assert r.date is None and r.from_ == "a" and r.by is None
    assert {x.kind for x in d} == {"InvalidReceived"} and len(d) == 3
    # Empty.
    assert parse_received("") == Received()
    # Keywords are case-insensitive; a repeated keyword is part of the value.
    r = parse_received("FROM a BY b WITH smtp ID 1 FOR <c@d> for e; 1 Jan 2024 00:00 +0000")
    assert (r.from_, r.by, r.with_, r.id, r.for_) == ("a", "b", "smtp", "1", "c@d")


def test_message_received_order() -> None:
    msg = parse(
        b"Received: from b by c; Tue, 5 Mar 2024 10:00:02 +0000\r\n"
        b"Received: from a by b; Tue, 5 Mar 2024 10:00:01 +0000\r\n"
        b"Subject: x\r\n\r\nbody\r\n"
    )
    hops = msg.received
    assert [(h.from_, h.by) for h in hops] == [("b", "c"), ("a", "b")]  # most recent first
    assert hops[0].date is not None and hops[1].date is not None
    assert hops[0].date > hops[1].date
    assert parse(b"Subject: x\r\n\r\n").received == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("fromby withid;()<>[]:.0123456789 \t,\\\"") +
                                ["from ", "by ", " for ", "; 1 Jan 2024 00:00 +0000"]),
                max_size=40))
def test_never_raises(pieces: list[str]) -> None:
    text = "".join(pieces)
    r = parse_received(text, [])
    assert isinstance(r, Received)


def _corpus_message(rel: str) -> bytes:
    path = CORPUS / rel
    if not path.is_file():
        pytest.skip(f"corpus not found at {CORPUS} (set MIMEKIT_CORPUS)")
    return path.read_bytes()


@pytest.mark.corpus
def test_corpus_exchange_and_postfix_hops() -> None:
    hops = parse(_corpus_message("jstedfast-MimeKit/messages/bounce.txt")).received
    assert len(hops) == 6
    assert (hops[2].from_, hops[2].from_ip, hops[2].by, hops[2].with_, hops[2].id, hops[2].via) == (
        "LO2GBR01FT016.eop-gbr01.prod.protection.outlook.com", "2603:10a6:600:197:cafe::98",
        "LO4P123CA0318.outlook.office365.com", "Microsoft SMTP Server", "15.20.4930.15",
        "Frontend Transport",
    )
    assert hops[2].tls is not None and hops[2].tls.version == "TLS1_2"
    assert (hops[4].from_, hops[4].from_ip, hops[4].by, hops[4].id, hops[4].for_) == (
        "hmail.jitbit.com", "52.4.102.94", "mx1-eu1.ppe-hosted.com", "F1BA29C0092",
        "helpdesk@netecgc.com",
    )
    assert hops[4].tls is not None and (hops[4].tls.version, hops[4].tls.bits) == ("TLSv1.2", "256/256")
    assert hops[5].from_ is None and hops[5].by == "hmail.jitbit.com" and hops[5].id == "12632412E9"
    assert hops[5].date == datetime(2022, 1, 26, 4, 6, 48, tzinfo=_tz(-5))


@pytest.mark.corpus
def test_corpus_exim_and_gmail_hops() -> None:
    hops = parse(_corpus_message("jstedfast-MimeKit/openpgp/Announce_GnuPG_2.1.20_released.eml")).received
    assert len(hops) == 12
    exim = hops[8]
    assert (exim.from_, exim.from_ip, exim.from_info, exim.by, exim.with_, exim.id) == (
        "localhost", "127.0.0.1", "[127.0.0.1] helo=trithemius.gnupg.org", "lists.gnupg.org",
        "esmtp", "1cv8aR-0001hQ-QE",
    )
    assert exim.date == datetime(2017, 4, 3, 22, 28, 27, tzinfo=_tz(2))
    hops = parse(_corpus_message("jstedfast-MimeKit/dkim/gmail.msg")).received
    g = hops[1]
    assert (g.from_, g.from_ip, g.by, g.with_, g.for_) == (
        "mail-la0-x241.google.com", "2a00:1450:4010:c03::241", "mx.google.com", "ESMTPS",
        "jeff@xamarin.com",
    )
    assert g.tls is not None and (g.tls.version, g.tls.cipher, g.tls.bits) == (
        "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "128/128"
    )


@pytest.mark.corpus
def test_every_corpus_received_field() -> None:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in _META)
    if not files:
        pytest.skip(f"corpus not found at {CORPUS} (set MIMEKIT_CORPUS)")
    total = dated = with_by = 0
    for path in files:
        for part in parse(path.read_bytes()).walk():
            for header in part.headers.get_headers("received"):
                r = parse_received(header.unfolded, [])
                total += 1
                dated += r.date is not None
                with_by += r.by is not None
                assert r.raw == " ".join(header.unfolded.split())
                if r.date is not None:
                    assert r.date.tzinfo is not None
    assert total > 300
    assert dated >= total - 3  # only three corpus fields have no date at all
    assert with_by >= total - 35  # qmail-style and old CMU fields have no "by"


def test_hostile_input_gives_bounded_defects() -> None:
    d: list[Defect] = []
    r = parse_received("x; " * 20000 + "(" * 1000, d)
    assert r.date is None and len(d) <= 3
