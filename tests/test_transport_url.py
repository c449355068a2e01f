"""Transport URLs: parsing (thoroughly) and building transports."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mimekit.transports import (
    FileTransport,
    InvalidURL,
    MaildirTransport,
    MboxTransport,
    MemoryTransport,
    TransportError,
    TransportURL,
    from_url,
    parse_url,
)
from mimekit.transports.url import smtp_kwargs


# ------------------------------------------------------------------ SMTP forms
def test_smtp_defaults_to_opportunistic_starttls_on_25() -> None:
    u = parse_url("smtp://mail.example.org")
    assert (u.kind, u.scheme, u.host, u.port, u.security) == (
        "smtp",
        "smtp",
        "mail.example.org",
        25,
        "starttls-opportunistic",
    )
    assert u.username is None and u.password is None
    assert (u.timeout, u.pool_size, u.insecure, u.cafile, u.local_hostname) == (
        None,
        None,
        False,
        None,
        None,
    )


def test_smtp_starttls_required_defaults_to_587() -> None:
    u = parse_url("smtp+starttls://ana:pw@mail.example.org")
    assert (u.security, u.port, u.username, u.password) == ("starttls", 587, "ana", "pw")


def test_smtps_is_implicit_tls_on_465() -> None:
    u = parse_url("SMTPS://mail.example.org")
    assert (u.scheme, u.security, u.port) == ("smtps", "tls", 465)


def test_explicit_port_and_trailing_slash() -> None:
    assert parse_url("smtp://h.example:2525/").port == 2525


def test_credentials_are_percent_decoded() -> None:
    u = parse_url("smtps://ana%40example.org:p%3Ass%2Fw%40rd%20%C3%A9@mail.example.org:465")
    assert u.username == "ana@example.org"
    assert u.password == "p:ss/w@rd é"


def test_unencoded_at_in_password_splits_at_last_at() -> None:
    u = parse_url("smtp://user:p@ss@mail.example.org")
    assert (u.username, u.password, u.host) == ("user", "p@ss", "mail.example.org")


def test_empty_password_is_allowed() -> None:
    u = parse_url("smtp://user:@h.example")
    assert (u.username, u.password) == ("user", "")


def test_ipv6_literal_host() -> None:
    u = parse_url("smtp://[::1]:2525")
    assert (u.host, u.port) == ("::1", 2525)
    assert parse_url("smtps://u:p@[2001:db8::25]").host == "2001:db8::25"


def test_ipv4_host_and_case() -> None:
    assert parse_url("smtp://127.0.0.1:1025").host == "127.0.0.1"
    assert parse_url("smtp://MAIL.Example.ORG").host == "mail.example.org"


def test_query_options() -> None:
    u = parse_url(
        "smtp+starttls://h.example?timeout=2.5&pool_size=4&insecure=1&cafile=/etc/ca%20x.pem"
        "&local_hostname=client.example"
    )
    assert u.timeout == 2.5
    assert u.pool_size == 4
    assert u.insecure is True
    assert u.cafile == "/etc/ca x.pem"
    assert u.local_hostname == "client.example"


@pytest.mark.parametrize(
    "value,expected", [("1", True), ("true", True), ("YES", True), ("0", False), ("no", False)]
)
def test_insecure_values(value: str, expected: bool) -> None:
    assert parse_url(f"smtp://h.example?insecure={value}").insecure is expected


def test_password_hidden_from_repr_and_redacted() -> None:
    u = parse_url("smtps://ana:hunter2@h.example:465")
    assert "hunter2" not in repr(u)
    assert "***" in repr(u)
    assert u.redacted() == "smtps://ana:***@h.example:465"
    assert parse_url("smtp://[::1]:25").redacted() == "smtp://[::1]:25"


@pytest.mark.parametrize(
    "url,fragment",
    [
        ("gopher://h.example", "unknown transport scheme 'gopher'"),
        ("smtp+ssl://h.example", "unknown transport scheme"),
        ("h.example:25", "unknown transport scheme"),
        ("mail.example.org", "not a transport URL"),
        ("", "not a transport URL"),
        ("smtp:h.example", "smtp://"),
        ("smtp://", "no host"),
        ("smtp://h.example:99999", "invalid port"),
        ("smtp://h.example:abc", "invalid port"),
        ("smtp://h.example:0", "port 0"),
        ("smtp://h.example?timeout=0", "positive"),
        ("smtp://h.example?timeout=soon", "seconds"),
        ("smtp://h.example?timeout=inf", "positive"),
        ("smtp://h.example?pool_size=0", "positive integer"),
        ("smtp://h.example?pool_size=-1", "positive integer"),
        ("smtp://h.example?insecure=maybe", "insecure"),
        ("smtp://h.example?verify=0", "unknown option 'verify'"),
        ("smtp://h.example?timeout=1&timeout=2", "given twice"),
        ("smtp://h.example?local_hostname=a%0d%0aMAIL", "control characters"),
        ("smtp://h.example?local_hostname=a%20b", "white space"),
        ("smtp://h.example/path", "no path"),
        ("smtp://h.example#frag", "fragment"),
        ("smtp://user@h.example", "without a password"),
        ("smtp://:pw@h.example", "empty user name"),
        ("smtp://u:p%0d%0aQUIT@h.example", "CR, LF or NUL"),
        ("smtp://[::1", "IPv6"),
        ("smtp://[nothex]:25", "IPv6"),
        ("smtp://h ost.example", "invalid host"),
        ("file:", "needs a path"),
        ("maildir:", "needs a path"),
        ("mbox:", "needs a path"),
        ("file:./out?x=1", "take no options"),
    ],
)
def test_invalid_urls_are_clear_errors(url: str, fragment: str) -> None:
    with pytest.raises(InvalidURL) as info:
        parse_url(url)
    assert fragment in str(info.value)
    assert isinstance(info.value, TransportError) and isinstance(info.value, ValueError)


def test_control_characters_anywhere_in_smtp_url_refused() -> None:
    with pytest.raises(InvalidURL):
        parse_url("smtp://h.example?cafile=/x%00y")
    with pytest.raises(InvalidURL):
        parse_url("smtp://h.exa\nmple")


# ------------------------------------------------------------------ path forms
@pytest.mark.parametrize(
    "url,path",
    [
        ("file:./outbox", "./outbox"),
        ("file:outbox", "outbox"),
        ("file:/var/mail/out", "/var/mail/out"),
        ("file:///var/mail/out", "/var/mail/out"),
        ("file://localhost/var/out", "/var/out"),
        ("file://LOCALHOST/var/out", "/var/out"),
        ("maildir:///home/u/Maildir", "/home/u/Maildir"),
        ("mbox://localhost/var/mail/sent", "/var/mail/sent"),
        ("memory:///tmp/box", "/tmp/box"),
        ("file:./my%20box", "./my box"),
        ("maildir:/home/u/Maildir", "/home/u/Maildir"),
        ("mbox:./sent.mbox", "./sent.mbox"),
        ("memory:/tmp/box", "/tmp/box"),
    ],
)
def test_path_urls(url: str, path: str) -> None:
    u = parse_url(url)
    assert u.path == path
    assert u.kind == url.split(":")[0]


def test_home_is_expanded() -> None:
    assert parse_url("mbox:~/sent.mbox").path == os.path.expanduser("~/sent.mbox")


def test_memory_without_path() -> None:
    assert parse_url("memory:") == TransportURL(scheme="memory", kind="memory")


# ------------------------------------------------------------------ building
def test_from_url_builds_path_transports(tmp_path: Path) -> None:
    f = from_url(f"file:{tmp_path}/out")
    assert isinstance(f, FileTransport) and f.directory == tmp_path / "out"
    m = from_url(f"maildir:{tmp_path}/md")
    assert isinstance(m, MaildirTransport) and m.directory == tmp_path / "md"
    b = from_url(f"mbox:{tmp_path}/x.mbox")
    assert isinstance(b, MboxTransport) and b.path == tmp_path / "x.mbox"
    mem = from_url("memory:")
    assert isinstance(mem, MemoryTransport) and mem.outbox.path is None


def test_default_cli_transport_writes_relative_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with from_url("file:./outbox") as t:
        t.send(b"From: a@example.org\r\nTo: b@example.net\r\nSubject: x\r\n\r\nhi\r\n")
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_from_url_tls_overrides_ignored_for_files(tmp_path: Path) -> None:
    assert isinstance(from_url(f"file:{tmp_path}", insecure=True, cafile="/x"), FileTransport)


def test_from_url_unknown_override_refused() -> None:
    with pytest.raises(InvalidURL, match="unknown transport option"):
        from_url("memory:", verify=False)


def test_smtp_kwargs_mapping() -> None:
    u = parse_url("smtps://ana:pw@h.example:465?timeout=3&insecure=yes&local_hostname=me.example")
    assert smtp_kwargs(u) == {
        "security": "tls",
        "username": "ana",
        "password": "pw",
        "timeout": 3.0,
        "insecure": True,
        "local_hostname": "me.example",
    }
    assert smtp_kwargs(parse_url("smtp://h.example")) == {"security": "starttls-opportunistic"}


def test_from_url_builds_smtp_transport_without_connecting() -> None:
    smtp = pytest.importorskip("mimekit.transports.smtp")
    SMTPTransport = getattr(smtp, "SMTPTransport", None)
    if SMTPTransport is None:
        pytest.skip("SMTPTransport not available yet")
    # port 9 (discard) on loopback: construction must not connect.
    t = from_url("smtp+starttls://ana:pw@127.0.0.1:9?timeout=1", cafile=None, insecure=True)
    assert isinstance(t, SMTPTransport)
    assert "pw" not in repr(t)
    t.close()


# ------------------------------------------------------------ end to end on loopback
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_smtp_url_sends_through_a_loopback_server() -> None:
    # A plain aiosmtpd server (no STARTTLS offered): smtp:// is opportunistic, so it
    # sends in plain text; smtp+starttls:// must refuse with TLSError, nothing sent.
    pytest.importorskip("mimekit.transports.smtp")
    controller_mod = pytest.importorskip("aiosmtpd.controller")
    from mimekit.transports import TLSError

    received: list[tuple[str, list[str], bytes]] = []

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            e: Any = envelope
            received.append((e.mail_from, list(e.rcpt_tos), bytes(e.original_content)))
            return "250 2.0.0 Ok: queued as TESTQ1"

    port = _free_port()
    controller = controller_mod.Controller(
        Handler(), hostname="127.0.0.1", port=port, server_hostname="mx.test"
    )
    controller.start()
    try:
        data = b"From: a@example.org\r\nTo: b@example.net\r\nBcc: c@example.net\r\nSubject: u\r\n\r\n.x\r\n"
        with from_url(f"smtp://127.0.0.1:{port}?timeout=5&local_hostname=client.test") as t:
            result = t.send(data)
        assert result.accepted == ("b@example.net", "c@example.net")
        assert received == [
            (
                "a@example.org",
                ["b@example.net", "c@example.net"],
                b"From: a@example.org\r\nTo: b@example.net\r\nSubject: u\r\n\r\n.x\r\n",
            )
        ]
        with pytest.raises(TLSError), from_url(f"smtp+starttls://127.0.0.1:{port}?timeout=5") as t:
            t.send(data)
        assert len(received) == 1
    finally:
        controller.stop()


def test_pool_size_reaches_only_the_async_transport() -> None:
    smtp = pytest.importorskip("mimekit.transports.smtp")
    from mimekit.transports import from_url_async

    sync = from_url("smtps://u:p@127.0.0.1:9?pool_size=3&timeout=1")
    assert isinstance(sync, smtp.SMTPTransport)
    sync.close()
    aio = from_url_async("smtps://u:p@127.0.0.1:9?pool_size=3&timeout=1")
    assert isinstance(aio, smtp.AsyncSMTPTransport)
    assert aio.pool_size == 3


def test_from_url_async_kinds(tmp_path: Path) -> None:
    import asyncio

    from mimekit.transports import AsyncTransport, from_url_async

    assert isinstance(from_url_async("memory:"), MemoryTransport)
    t = from_url_async(f"file:{tmp_path}/out")
    assert isinstance(t, AsyncTransport)

    async def main() -> str | None:
        async with t:
            r = await t.asend(b"From: a@example.org\r\nTo: b@example.net\r\n\r\nhi\r\n")
        return r.queue_id

    name = asyncio.run(main())
    assert name is not None and (tmp_path / "out" / name).read_bytes().endswith(b"\r\n\r\nhi\r\n")
    mbox = from_url_async(f"mbox:{tmp_path}/x.mbox")
    asyncio.run(mbox.asend(b"From: a@example.org\r\nTo: b@example.net\r\n\r\nhi\r\n"))
    assert (tmp_path / "x.mbox").read_bytes().startswith(b"From a@example.org ")


# ------------------------------------------------------------------ properties
_secret = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
)


@given(user=_secret, password=st.one_of(st.just(""), _secret), port=st.integers(1, 65535))
def test_any_percent_encoded_credentials_round_trip(user: str, password: str, port: int) -> None:
    url = f"smtps://{quote(user, safe='')}:{quote(password, safe='')}@mail.example.org:{port}"
    u = parse_url(url)
    assert (u.username, u.password, u.host, u.port) == (user, password, "mail.example.org", port)
    # the repr does not depend on the password at all
    assert repr(u) == repr(attrs.evolve(u, password="something else"))


@given(st.text(max_size=60))
def test_parse_url_never_raises_anything_but_invalid_url(text: str) -> None:
    try:
        u = parse_url(text)
    except InvalidURL:
        return
    assert u.kind in ("smtp", "file", "maildir", "mbox", "memory")
    if u.kind == "smtp":
        assert u.host and 0 < (u.port or 0) < 65536


@pytest.mark.parametrize("url", ["smtp://user:secret", "smtp://user:se/cret@host",
                                 "smtp://user:se?cret@host", "smtp://user:s[ecret@host",
                                 "smtps://u:secret@host:notaport"])
def test_invalid_url_errors_never_quote_the_password(url: str) -> None:
    """Regression (review): the error text quoted pieces of the password."""
    from mimekit.transports.url import parse_url

    with pytest.raises(Exception) as err:
        parse_url(url)
    assert "ecret" not in str(err.value) and "cret" not in repr(err.value)


# ------------------------------------------------------------------ RFC 8089 hosts (review)
@pytest.mark.parametrize(
    "url,host",
    [
        ("file://host/path", "host"),
        ("file://mail.example.org/var/out", "mail.example.org"),
        ("file://./outbox", "."),  # was read as the relative path ./outbox
        ("maildir://server/Maildir", "server"),
        ("mbox://localhost:8/x.mbox", "localhost:8"),
        ("file://h%6Fst/x", "host"),
    ],
)
def test_file_url_with_a_remote_host_is_an_error_naming_it(url: str, host: str) -> None:
    """Regression (review): ``file://host/path`` became the relative path ``host/path``.
    RFC 8089: only an empty host or ``localhost`` is this machine."""
    with pytest.raises(InvalidURL) as info:
        parse_url(url)
    assert f"host {host!r}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_file_url_empty_host_and_localhost_are_absolute() -> None:
    assert parse_url("file:///var/out").path == "/var/out"
    assert parse_url("file://localhost/var/out").path == "/var/out"
    assert parse_url("file:/var/out").path == "/var/out"
    assert parse_url("file:var/out").path == "var/out"
    with pytest.raises(InvalidURL, match="needs a path"):
        parse_url("file://localhost")


def test_from_url_file_triple_slash_writes_to_the_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    target = tmp_path / "abs-out"
    with from_url(f"file://{target}") as t:  # file:// + "/tmp/..." = file:///tmp/...
        assert isinstance(t, FileTransport) and t.directory == target
        t.send(b"From: a@example.org\r\nTo: b@example.net\r\nSubject: x\r\n\r\nhi\r\n")
    assert len(list(target.glob("*.eml"))) == 1
    assert not list(elsewhere.rglob("*.eml"))


@pytest.mark.parametrize(
    "url,what",
    [
        ("file:%ff", "path"),
        ("file://%ff/x", "host"),
        ("smtp://u%ff:pw@h.example", "user name"),
        ("smtp://u:secr%ffet@h.example", "password"),
        ("smtp://h%ff.example", "host"),
        ("smtp://h.example?cafile=%ff", "query string"),
    ],
)
def test_bad_percent_encoding_is_an_invalid_url(url: str, what: str) -> None:
    """Regression (review): a UnicodeDecodeError escaped (its repr held the password's
    bytes), or the host silently became U+FFFD."""
    with pytest.raises(InvalidURL) as info:
        parse_url(url)
    assert what in str(info.value)
    assert "secr" not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_query_error_chains_nothing_that_quotes_the_password() -> None:
    """Regression (review): ``from exc`` chained parse_qsl's "bad query field: 'cret@host'",
    so a traceback (``--debug``, logging.exception) showed part of the password."""
    with pytest.raises(InvalidURL, match="an '@' after '\\?'") as info:
        parse_url("smtp://us?er:secret@host")  # the query is "er:secret@host"
    assert "secret" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_pool_size_takes_only_ascii_digits() -> None:
    """Regression (review): ``pool_size=²`` passed isdigit() and int() raised a bare ValueError."""
    with pytest.raises(InvalidURL, match="pool_size"):
        parse_url("smtp://h.example?pool_size=%C2%B2")
    assert parse_url("smtp://h.example?pool_size=4").pool_size == 4


# ------------------------------------------------- options named by error hints


@pytest.mark.parametrize(
    ("url", "security", "port"),
    [
        ("smtp://h.example?security=none", "none", 25),
        ("smtp://h.example?security=starttls", "starttls", 25),
        ("smtp+starttls://h.example?security=starttls-opportunistic", "starttls-opportunistic", 587),
        ("smtps://h.example?security=tls", "tls", 465),
        ("smtp://h.example:2525?security=tls", "tls", 2525),
    ],
)
def test_security_option_replaces_the_scheme_mode(url: str, security: str, port: int) -> None:
    u = parse_url(url)
    assert (u.security, u.port) == (security, port)  # the port still follows the scheme
    assert smtp_kwargs(u)["security"] == security


def test_allow_plaintext_auth_option() -> None:
    u = parse_url("smtp://u:p@h.example?security=none&allow_plaintext_auth=1")
    assert u.allow_plaintext_auth is True
    assert smtp_kwargs(u) == {
        "security": "none",
        "username": "u",
        "password": "p",
        "allow_plaintext_auth": True,
    }
    assert parse_url("smtp://h.example?allow_plaintext_auth=no").allow_plaintext_auth is False
    assert "allow_plaintext_auth" not in smtp_kwargs(parse_url("smtp://h.example"))
    t = from_url("smtp://u:p@h.example?security=none&allow_plaintext_auth=true")
    assert t.settings.allow_plaintext_auth is True  # type: ignore[attr-defined]
    assert t.settings.security == "none"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("smtp://h.example?security=ssl", ("option security='ssl' must be one of starttls, "
         "starttls-opportunistic, tls, none")),
        ("smtp://h.example?security=", "option security='' must be one of"),
        ("smtp://h.example?allow_plaintext_auth=maybe", ("option allow_plaintext_auth='maybe' "
         "must be 1/0")),
        ("smtp://h.example?security=none&security=tls", "option 'security' given twice"),
    ],
)
def test_new_option_errors(url: str, message: str) -> None:
    with pytest.raises(InvalidURL) as info:
        parse_url(url)
    assert str(info.value).startswith(message)


def test_new_options_as_overrides() -> None:
    t = from_url("smtp://u:p@h.example", security="none", allow_plaintext_auth=True)
    assert t.settings.security == "none"  # type: ignore[attr-defined]
    assert t.settings.allow_plaintext_auth is True  # type: ignore[attr-defined]


def test_redacted_shows_security_overrides() -> None:
    u = parse_url("smtp://u:p@h.example?security=none&allow_plaintext_auth=1&timeout=3")
    assert u.redacted() == "smtp://u:***@h.example:25?security=none&allow_plaintext_auth=1"
    assert parse_url(u.redacted().replace("***", "p")) == attrs.evolve(u, timeout=None)
    assert parse_url("smtps://h.example?security=tls").redacted() == "smtps://h.example:465"


@pytest.mark.parametrize("url", ["smtp://-bad-.example", "smtp://a..b", "smtp://host-.example:25",
                                 "smtp://.example"])
def test_host_names_follow_rfc1123(url: str) -> None:
    with pytest.raises(InvalidURL, match="invalid host"):
        parse_url(url)


def test_ordinary_host_names_are_accepted() -> None:
    for host in ("mail.example.org", "mail.example.org.", "a-b.example", "mail_srv", "127.0.0.1",
                 "bücher.example"):
        assert parse_url(f"smtp://{host}").host == host


def test_connect_timeout_option_reaches_the_transport() -> None:
    u = parse_url("smtp://127.0.0.1:2525?connect_timeout=2.5&timeout=10")
    assert u.connect_timeout == 2.5
    assert smtp_kwargs(u)["connect_timeout"] == 2.5
    for bad in ("0", "-1", "x", "inf"):
        with pytest.raises(InvalidURL, match="connect_timeout"):
            parse_url(f"smtp://127.0.0.1?connect_timeout={bad}")
