"""Transport URLs at their edges: IPv6 zones, decoded control characters in a host,
unencoded passwords that must not be echoed, typed overrides of ``from_url``, and the
maildir:/mbox: query."""

from __future__ import annotations

from pathlib import Path

import pytest
from mimekit.transports import InvalidURL, from_url, parse_url
from mimekit.transports.url import _resolve, smtp_kwargs


# ------------------------------------------------------------------ IPv6 zones
def test_ipv6_zone_is_decoded_for_the_socket_layer() -> None:
    """Regression: ``[fe80::1%25eth0]`` (RFC 6874) gave the host "fe80::1%25eth0",
    which getaddrinfo cannot resolve; the zone is "eth0"."""
    u = parse_url("smtp://[fe80::1%25eth0]:2525")
    assert (u.host, u.port) == ("fe80::1%eth0", 2525)
    # redacted() writes it back in the URL form, and that parses to the same host
    assert u.redacted() == "smtp://[fe80::1%25eth0]:2525"
    assert parse_url(u.redacted()).host == "fe80::1%eth0"


@pytest.mark.parametrize("url", ["smtp://[fe80::1%eth0]", "smtp://[fe80::1%25]",
                                 "smtp://[fe80::1%25a%20b]"])
def test_bad_ipv6_zones_are_refused(url: str) -> None:
    with pytest.raises(InvalidURL, match="IPv6"):
        parse_url(url)


def test_plain_ipv6_literal_unchanged() -> None:
    assert parse_url("smtps://[::1]:465").host == "::1"


# ------------------------------------------------------------------ hosts
@pytest.mark.parametrize("host", ["h%00st", "h%01st", "h%7Fst", "mail%0Bexample"])
def test_percent_encoded_control_characters_in_the_host_are_refused(host: str) -> None:
    """Regression: ``smtp://h%00st`` parsed to the host "h\\x00st" (it would reach
    getaddrinfo, the TLS server name and log lines)."""
    with pytest.raises(InvalidURL, match="host .*control characters"):
        parse_url(f"smtp://{host}:25")


# ------------------------------------------------------------------ secrets
def test_unencoded_question_mark_in_a_password_is_not_echoed() -> None:
    """Regression: ``smtp://u:25?cd=ef@host`` (password "25?cd=ef" not encoded) was
    read as host "u", port 25 and the option "cd", and the error quoted "cd", a
    piece of the password."""
    with pytest.raises(InvalidURL) as info:
        parse_url("smtp://u:25?cd=secret@mail.example.org")
    text = str(info.value)
    assert "cd" not in text and "secret" not in text
    assert "%3F" in text and "%40" in text
    with pytest.raises(InvalidURL) as info:
        parse_url("smtp://u:x?y z=1@mail.example.org")  # before the host is checked
    assert "y z" not in str(info.value)


def test_an_encoded_at_in_an_option_value_is_fine() -> None:
    assert parse_url("smtp://h?cafile=%2Fetc%2Fa%40b.pem").cafile == "/etc/a@b.pem"


# ------------------------------------------------------------------ overrides
def test_a_false_string_override_never_turns_verification_off() -> None:
    """Regression: ``from_url(url, insecure="no")`` (say, straight from an environment
    variable) stored the string "no", which smtp_kwargs treated as true: certificate
    verification was turned off."""
    for text, wanted in (("no", False), ("0", False), ("false", False), ("yes", True)):
        config = _resolve("smtp://mail.example.org", {"insecure": text})
        assert config.insecure is wanted
        assert ("insecure" in smtp_kwargs(config)) is wanted
    assert _resolve("smtp://h?insecure=1", {"insecure": False}).insecure is False
    with pytest.raises(InvalidURL, match="insecure must be True or False"):
        _resolve("smtp://h", {"insecure": 1})
    with pytest.raises(InvalidURL, match="1/0, true/false or yes/no"):
        _resolve("smtp://h", {"insecure": "maybe"})


@pytest.mark.parametrize("overrides,message", [
    ({"timeout": "abc"}, "not a number of seconds"),
    ({"timeout": -1}, "must be a positive number"),
    ({"timeout": float("nan")}, "must be a positive number"),
    ({"timeout": True}, "must be a number of seconds, not bool"),
    ({"connect_timeout": 0}, "must be a positive number"),
    ({"pool_size": 0}, "must be a positive integer"),
    ({"pool_size": 2.5}, "must be an int"),
    ({"security": "bogus"}, "must be one of"),
    ({"local_hostname": "a\r\nb"}, "control characters"),
    ({"local_hostname": "a b"}, "white space"),
    ({"cafile": ""}, "is empty"),
    ({"cafile": 3}, "must be a string"),
])
def test_overrides_are_checked_like_url_options(overrides: dict[str, object],
                                                message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        from_url("smtp://mail.example.org", **overrides)


def test_good_overrides_apply() -> None:
    config = _resolve("smtp://mail.example.org?timeout=9", {
        "timeout": 2, "connect_timeout": 0.5, "pool_size": 3, "security": "tls",
        "cafile": Path("/etc/ca.pem"), "local_hostname": "client.example.org",
        "allow_plaintext_auth": True, "insecure": None,
    })
    assert (config.timeout, config.connect_timeout, config.pool_size, config.security,
            config.cafile, config.local_hostname, config.allow_plaintext_auth,
            config.insecure) == (2.0, 0.5, 3, "tls", "/etc/ca.pem", "client.example.org",
                                 True, False)


# ------------------------------------------------------------------ path options
def test_a_second_path_option_is_named() -> None:
    """Regression: ``maildir:DIR?envelope_headers=0&x=1`` said the value "0&x=1" was
    not a boolean, instead of naming the unknown option."""
    with pytest.raises(InvalidURL, match=r"envelope_headers=0 or =1 \(got 'x' in"):
        parse_url("maildir:/tmp/m?envelope_headers=0&x=1")
    with pytest.raises(InvalidURL, match="given twice"):
        parse_url("mbox:/tmp/m?envelope_headers=0&envelope_headers=1")
    with pytest.raises(InvalidURL, match="'lock_timeout'"):
        parse_url("mbox:/tmp/m?lock_timeout=1")
    assert parse_url("mbox:/tmp/m?envelope_headers=0").envelope_headers is False


@pytest.mark.parametrize(("url", "shown"), [
    ("smtp:u:SECRETPW@host", "smtp:u:***@host"),
    ("smtp:/u:SECRETPW@host", "smtp:/u:***@host"),
    ("smtps:///u:SECRETPW@host", "smtps:///u:***@host"),
    ("smtp+starttls:u:SECRETPW@host", "smtp+starttls:u:***@host"),
    ("SMTP://u:SECRETPW@host", "SMTP://u:***@host"),
    ("SMTP//u:SECRETPW@host", "***@host"),  # no scheme: all before the last @ hidden
    ("u:SECRETPW@host", "***@host"),
    ("smtp://u:p@SECRETPW@host:25", "smtp://u:***@host:25"),
    ("smtp://host:25", "smtp://host:25"),
    # review finding: no "@" (the host forgotten): the password looked like a port
    ("smtp://user:SECRETPW", "smtp://user:***"),
    ("smtps://alice:SECRETPW/", "smtps://alice:***/"),
    ("smtp+starttls://alice:SECRETPW?timeout=5", "smtp+starttls://alice:***?timeout=5"),
    ("smtp://host:2x5", "smtp://host:***"),
])
def test_redact_url_hides_the_password_of_urls_without_two_slashes(url: str,
                                                                 shown: str) -> None:
    """Review finding: redact_url only looked after '://', so 'smtp:u:PW@host' (a typo a
    user makes) was echoed whole in the CLI's error."""
    from mimekit.transports.url import redact_url

    assert redact_url(url) == shown
    assert "SECRETPW" not in redact_url(url)
    assert "SECRETPW" not in redact_url(url.replace("SECRETPW", "SEC:RETPW"))


@pytest.mark.parametrize("scheme", ["file", "maildir", "mbox", "memory"])
@pytest.mark.parametrize("userinfo", ["u:SECRETPW", "u:SEC?RETPW", "u:SECRETPW@x"])
def test_user_information_in_a_path_url_is_never_echoed(scheme: str, userinfo: str) -> None:
    """Review findings: 'file://u:PW@host/x' said "the host 'u:PW@host' ..."; with a '?'
    in the password the query error echoed the rest of it."""
    with pytest.raises(InvalidURL) as info:
        parse_url(f"{scheme}://{userinfo}@localhost/x")
    assert "SEC" not in str(info.value) and "RETPW" not in str(info.value)
    assert str(info.value) == (f"a {scheme}: URL names a local file and takes no user "
                               f"or password (write {scheme}:PATH)")


def test_mbox_dotlock_option() -> None:
    """Review finding: the dot-lock error says 'needs dotlock=False', which no URL or
    CLI flag could set: mbox:FILE?dotlock=0 does."""
    from mimekit.transports import MboxTransport
    from mimekit.transports.url import from_url

    config = parse_url("mbox:/tmp/x.mbox?dotlock=0&envelope_headers=0")
    assert (config.dotlock, config.envelope_headers) == (False, False)
    assert config.redacted() == "mbox:/tmp/x.mbox?envelope_headers=0&dotlock=0"
    t = from_url("mbox:/tmp/x.mbox?dotlock=0")
    assert isinstance(t, MboxTransport) and t.dotlock is False
    assert parse_url("mbox:/tmp/x.mbox").dotlock is True
    for bad in ("maildir:/tmp/m?dotlock=0", "mbox:/tmp/x?dotlock=0&dotlock=1",
                "mbox:/tmp/x?dotlock=maybe"):
        with pytest.raises(InvalidURL):
            parse_url(bad)
