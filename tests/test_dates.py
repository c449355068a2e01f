"""Dates (RFC 5322 §3.3, §4.3) and message ids (§3.6.4)."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.dates import format_date, make_msgid, parse_date, parse_msgid_list
from mimekit.errors import Defect, HeaderInjectionError


def tz(hours: int, minutes: int = 0) -> timezone:
    return timezone(timedelta(hours=hours, minutes=minutes))


@pytest.mark.parametrize(
    ("text", "expected", "n_defects"),
    [
        ("Fri, 21 Nov 1997 09:55:06 -0600", datetime(1997, 11, 21, 9, 55, 6, tzinfo=tz(-6)), 0),
        ("21 Nov 1997 09:55:06 +0530", datetime(1997, 11, 21, 9, 55, 6, tzinfo=tz(5, 30)), 0),
        ("Fri, 21 Nov 1997 09:55 -0600", datetime(1997, 11, 21, 9, 55, tzinfo=tz(-6)), 0),
        (
            "Fri, 21 Nov 1997 09:55:06 -0600 (CST)",
            datetime(1997, 11, 21, 9, 55, 6, tzinfo=tz(-6)),
            0,
        ),
        (
            "Thu, 13 Feb 1969 23:32:54 -0330",
            datetime(1969, 2, 13, 23, 32, 54, tzinfo=tz(-3, -30)),
            0,
        ),
        ("Fri, 21 Nov 97 09:55:06 GMT", datetime(1997, 11, 21, 9, 55, 6, tzinfo=timezone.utc), 1),
        ("Mon, 1 Jan 24 10:00:00 UT", datetime(2024, 1, 1, 10, tzinfo=timezone.utc), 1),
        ("Fri, 21 Nov 1997 09:55:06 EST", datetime(1997, 11, 21, 9, 55, 6, tzinfo=tz(-5)), 0),
        ("Fri, 21 Nov 1997 09:55:06 PDT", datetime(1997, 11, 21, 9, 55, 6, tzinfo=tz(-7)), 0),
        ("Fri, 21 Nov 1997 09:55:06 Z", datetime(1997, 11, 21, 9, 55, 6, tzinfo=timezone.utc), 0),
        ("Fri, 21 Nov 1997 09:55:06 Q", datetime(1997, 11, 21, 9, 55, 6, tzinfo=timezone.utc), 1),
        (
            "Fri, 21 Nov 1997 09:55:06 -0000",
            datetime(1997, 11, 21, 9, 55, 6, tzinfo=timezone.utc),
            0,
        ),
        ("21 Nov 097 09:55:06 +0000", datetime(1997, 11, 21, 9, 55, 6, tzinfo=timezone.utc), 1),
        ("Fri, 21 Nov 1997 09:55:06", datetime(1997, 11, 21, 9, 55, 6, tzinfo=timezone.utc), 1),
        (
            "Fri, 21 Nov 1997 09:55:06 +0100 junk here",
            datetime(1997, 11, 21, 9, 55, 6, tzinfo=tz(1)),
            1,
        ),
        ("Friday, 21-Nov-1997 09:55:06 CET", datetime(1997, 11, 21, 9, 55, 6, tzinfo=tz(1)), 1),
        ("Fri Nov 21 09:55:06 1997", datetime(1997, 11, 21, 9, 55, 6, tzinfo=timezone.utc), 1),
        ("2024-03-01T01:47:09+00:00", datetime(2024, 3, 1, 1, 47, 9, tzinfo=timezone.utc), 0),
        ("Mon, 10 Jun 2013 09:00:00 GMT+0200", datetime(2013, 6, 10, 9, tzinfo=tz(2)), 1),
        ("Mon, 10 Jun 2013 09:00:00 UTC-05:30", datetime(2013, 6, 10, 9, tzinfo=tz(-5, -30)), 1),
        (
            "Sat, 31 Dec 2016 23:59:60 +0000",
            datetime(2016, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
            0,
        ),
    ],
)
def test_parse_date(text: str, expected: datetime, n_defects: int) -> None:
    defects: list[Defect] = []
    got = parse_date(text, defects)
    assert got == expected
    assert got is not None and got.utcoffset() == expected.utcoffset()
    assert len(defects) == n_defects, defects


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "32 Jan 2024 10:00 +0000",
        "1 Foo 2024 10:00 +0000",
        "1 Jan 2024 25:00 +0000",
    ],
)
def test_parse_date_bad(text: str) -> None:
    defects: list[Defect] = []
    assert parse_date(text, defects) is None
    assert defects and defects[0].kind == "InvalidDate"


def test_format_date_given() -> None:
    dt = datetime(1997, 11, 21, 9, 55, 6, tzinfo=tz(-6))
    assert format_date(dt) == "Fri, 21 Nov 1997 09:55:06 -0600"
    assert (
        format_date(datetime(2024, 3, 1, 1, 47, 9, tzinfo=tz(5, 30)))
        == "Fri, 01 Mar 2024 01:47:09 +0530"
    )


def test_format_date_now_and_naive_are_local() -> None:
    now = format_date()
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", now)
    naive = datetime(2024, 6, 1, 12, 0, 0)
    parsed = parse_date(format_date(naive))
    assert parsed is not None and parsed == naive.astimezone()


@pytest.fixture()
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time = US Eastern (POSIX rule, no tz database needed): -0500, DST -0400."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset() is POSIX only")
    monkeypatch.setenv("TZ", "EST+05EDT,M3.2.0,M11.1.0")
    time.tzset()
    yield None
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("new_york")
def test_format_date_naive_is_local_time_with_its_dst_offset() -> None:
    """Review finding: a naive Date was written "+0000" (the test machines run in UTC).
    Naive is local wall-clock time (datetime.now()), so it gets the local offset in
    force at that date; never "-0000", which RFC 5322 §3.3 reserves for a time given
    in UTC whose local zone is unknown."""
    assert format_date(datetime(2024, 6, 1, 12, 0, 0)) == "Sat, 01 Jun 2024 12:00:00 -0400"
    assert format_date(datetime(2024, 1, 15, 12, 0, 0)) == "Mon, 15 Jan 2024 12:00:00 -0500"
    now = format_date()
    assert now.endswith((" -0400", " -0500")), now
    # Aware values keep their own offset whatever the local zone.
    assert format_date(datetime(2024, 6, 1, 12, tzinfo=timezone.utc)).endswith(" +0000")
    back = parse_date(format_date(datetime(2024, 6, 1, 12, 0, 0)))
    assert back is not None and back == datetime(2024, 6, 1, 16, 0, tzinfo=timezone.utc)


def test_format_date_offset_rounding_and_cache() -> None:
    odd = timezone(timedelta(hours=-2, minutes=-29, seconds=-40))  # -2:29:40 -> -0230
    dt = datetime(2024, 3, 1, 1, 47, 9, tzinfo=odd)
    assert format_date(dt) == format_date(dt) == "Fri, 01 Mar 2024 01:47:09 -0230"
    assert format_date(datetime(999, 1, 1, tzinfo=tz(1))) == "Tue, 01 Jan 0999 00:00:00 +0100"


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
def test_date_round_trip(dt: datetime, offset: int) -> None:
    aware = dt.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset)))
    text = format_date(aware)
    defects: list[Defect] = []
    back = parse_date(text, defects)
    assert back == aware and back is not None and back.utcoffset() == aware.utcoffset()
    assert defects == []
    assert email.utils.parsedate_to_datetime(text) == aware


def test_make_msgid() -> None:
    a, b = make_msgid(), make_msgid("example.com")
    assert re.fullmatch(r"<[0-9a-f]+\.[0-9a-f]{24}@mimekit\.invalid>", a)
    assert b.endswith("@example.com>")
    assert a != make_msgid()
    assert make_msgid("bücher.example").endswith("@xn--bcher-kva.example>")
    with pytest.raises(HeaderInjectionError):
        make_msgid("example.com\r\nBcc: x@example.net")
    with pytest.raises(ValueError):
        make_msgid("bad domain")


def test_parse_msgid_list() -> None:
    defects: list[Defect] = []
    text = "<a@example.com> (comment <x@y>)\r\n <b@exa\r\n mple.com>,c@example.org"
    assert parse_msgid_list(text, defects) == ["a@example.com", "b@example.com", "c@example.org"]
    assert [d.kind for d in defects] == ["InvalidMessageId"]


def test_parse_msgid_list_lenient() -> None:
    defects: list[Defect] = []
    assert parse_msgid_list("Your message of Monday <x@y", defects) == ["x@y"]
    assert parse_msgid_list("<>", defects) == []
    assert parse_msgid_list("", []) == []
    assert len(defects) == 2
