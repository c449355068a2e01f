"""`mimekit send` at its edges: passwords in URL errors, TLS errors, an empty
--transport or --envelope-from, every URL kind, and many files with a progress bar."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from mimekit.transports import MboxTransport
from mimekit.transports.memory import Outbox
from smtp_server import PASSWORD, USER, aiosmtpd_server
from test_cli import cli

from mimekit.cli import main

ADDRS = ("--from", "a@example.org", "--to", "b@example.org", "--bcc", "c@example.org",
         "--subject", "S", "--text", "x")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIMEKIT_TRANSPORT", raising=False)
    return tmp_path


@pytest.mark.parametrize("url,detail", [
    ("smtp://user:s3cr3t@mail.example.org?bogus=1", "unknown option 'bogus'"),
    ("smtp://user:s3cr3t@mail.example.org:99999", "invalid port"),
    ("smtp://user:s3/cr3t@mail.example.org", "has no path"),
    ("smtp://user:s3?cr3t@mail.example.org", "an '@' after '?'"),
    ("smtps://user:s3cr3t@[::1", "an IPv6 host must be a [literal]"),
])
def test_url_errors_never_show_the_password(
        workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        url: str, detail: str) -> None:
    """Regression: the error named the URL as given, password included
    ("--transport 'smtp://user:s3cr3t@...': unknown option 'bogus'")."""
    code, out, err = cli(capsys, "send", *ADDRS, "--transport", url)
    assert (code, out) == (1, "")
    assert "s3" not in err and "cr3t" not in err and detail in err
    assert err.startswith(f"mimekit: --transport '{url.split('://')[0]}://user:***@")
    monkeypatch.setenv("MIMEKIT_TRANSPORT", url)
    code, out, err = cli(capsys, "send", *ADDRS)
    assert code == 1 and "s3" not in err and "cr3t" not in err
    assert err.startswith("mimekit: MIMEKIT_TRANSPORT='")
    assert not list(workdir.iterdir())


def test_a_failed_certificate_check_is_not_called_permission_denied(
        tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: ssl.SSLCertVerificationError has errno 1, and the CLI turned it into
    "TLS handshake with localhost:PORT failed: permission denied"."""
    with aiosmtpd_server(tmp_path, auth=False) as srv:
        code, out, err = cli(capsys, "send", *ADDRS, "--transport",
                             f"smtp+starttls://localhost:{srv.port}?timeout=10")
        assert not srv.handler.messages
    assert (code, out) == (1, "")
    assert "permission denied" not in err
    assert "certificate verify failed" in err and err.count("\n") == 1


def test_every_smtp_url_kind_with_a_percent_encoded_password(
        tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    user, password = quote(USER, safe=""), quote(PASSWORD, safe="")
    (tmp_path / "tls").mkdir()
    with aiosmtpd_server(tmp_path) as starttls, \
            aiosmtpd_server(tmp_path / "tls", implicit_tls=True) as tls:
        for url in (f"smtp+starttls://{user}:{password}@localhost:{starttls.port}",
                    f"smtp://{user}:{password}@127.0.0.1:{starttls.port}?timeout=10"):
            code, out, err = cli(capsys, "send", *ADDRS, "--transport", url,
                                 "--cafile", starttls.cafile)
            assert (code, err) == (0, ""), err
            assert out.splitlines()[:2] == ["accepted b@example.org 250 OK",
                                            "accepted c@example.org 250 OK"]
        monkeypatch.setenv("MIMEKIT_TRANSPORT", f"smtps://{user}:{password}@localhost:"
                           f"{tls.port}?cafile={quote(tls.cafile, safe='')}")
        code, out, err = cli(capsys, "send", *ADDRS)
        assert (code, err) == (0, ""), err
        code, out, err = cli(capsys, "send", *ADDRS, "--transport",
                             f"smtps://{user}:wrong@localhost:{tls.port}",
                             "--cafile", tls.cafile)
        assert code == 1 and err.startswith("mimekit: 535 ") and "wrong" not in err
        assert len(starttls.handler.messages) == 2 and len(tls.handler.messages) == 1
        for stored in (*starttls.handler.messages, *tls.handler.messages):
            assert stored.rcpt_tos == ["b@example.org", "c@example.org"]
            assert b"c@example.org" not in stored.content  # the Bcc never on the wire
    assert not (workdir / "outbox").exists()


def test_every_local_url_kind(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for url in ("file:./o", "maildir:./md", "maildir:./md0?envelope_headers=0", "mbox:./mb",
                "memory:", "memory:./mem", f"file://{workdir}/o2"):
        code, out, err = cli(capsys, "send", *ADDRS, "--transport", url)
        assert (code, err) == (0, ""), (url, err)
        assert out.splitlines()[1].startswith("accepted c@example.org 250 ")
        assert out.splitlines()[2].startswith("queued as ")
    assert len(list((workdir / "o").glob("*.eml"))) == 1
    assert len(list((workdir / "o2").glob("*.eml"))) == 1
    assert len(os.listdir(workdir / "md" / "new")) == 1
    assert [s.envelope.rcpt_to for s in MboxTransport(workdir / "mb").read()
            if s.envelope] == [("b@example.org", "c@example.org")]
    assert [m.envelope.rcpt_to for m in Outbox(workdir / "mem")] == [
        ("b@example.org", "c@example.org")]


def test_an_empty_transport_is_a_usage_error(
        workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: ``--transport "$URL"`` with URL unset wrote to ./outbox and exited 0,
    so mail meant for a server was silently kept on disk."""
    assert cli(capsys, "send", *ADDRS, "--transport", "") == (
        2, "", ("mimekit: --transport is empty (give a transport URL, e.g. file:./outbox or "
                "smtp://host)\n"))
    assert not list(workdir.iterdir())
    monkeypatch.setenv("MIMEKIT_TRANSPORT", "")  # an empty variable is an unset one
    code, _, err = cli(capsys, "send", *ADDRS)
    assert (code, err) == (0, "") and (workdir / "outbox").is_dir()


def test_an_empty_envelope_from_is_named(workdir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: ``--envelope-from ""`` said "the message has no Sender or From header
    and no envelope was given" (it has a From header). It now also says how to ask for
    the null reverse-path, which an empty value does not mean (an unset variable)."""
    assert cli(capsys, "send", *ADDRS, "--envelope-from", "") == (
        1, "", ("mimekit: --envelope-from is empty: give an address, or '<>' for the null "
                "reverse-path of a bounce (RFC 5321 section 4.5.5)\n"))
    assert not list(workdir.iterdir())


def _many(workdir: Path, n: int) -> list[str]:
    args = []
    for i in range(n):
        path = workdir / f"m{i:02d}.eml"
        path.write_bytes(f"From: a@example.org\r\nTo: b@example.org\r\nSubject: n{i}\r\n"
                         f"\r\nx\r\n".encode())
        args += ["--eml", str(path)]
    return args


def test_many_files_on_a_terminal_draw_a_progress_bar(workdir: Path) -> None:
    """A pty as stderr and stdout (as a person runs it): the bar is drawn before each
    message and erased before each result line; every message is sent once."""
    argv = [sys.executable, "-m", "mimekit", "send", "--transport", "mbox:./mb",
            *_many(workdir, 12)]
    env = {k: v for k, v in os.environ.items() if k != "MIMEKIT_TRANSPORT"}
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(workdir)
        os.execve(sys.executable, argv, env)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the pty
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    screen = b"".join(chunks).decode()
    assert os.waitstatus_to_exitcode(status) == 0, screen
    assert "\r[------------------------------] 0/12 m00.eml" in screen
    assert "] 11/12 m11.eml\r\x1b[K" in screen
    assert screen.count("queued as mb") == 12
    assert [s.message.subject for s in MboxTransport(workdir / "mb").read()] == [
        f"n{i}" for i in range(12)]


def test_many_files_without_a_terminal_print_no_bar(workdir: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "mimekit", "send", "--transport", "memory:./mem",
                        *_many(workdir, 40)], cwd=workdir, capture_output=True, timeout=120,
                       check=False, env={k: v for k, v in os.environ.items()
                                         if k != "MIMEKIT_TRANSPORT"})
    assert r.returncode == 0, r.stderr
    assert b"\r" not in r.stdout + r.stderr and r.stderr == b""
    assert len(Outbox(workdir / "mem")) == 40


def test_an_empty_input_is_named(workdir: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: an empty file or stdin said "the envelope has no sender: the message
    has no Sender or From header"."""
    (workdir / "empty.eml").write_bytes(b"\n")
    assert cli(capsys, "send", "--eml", "empty.eml") == (
        1, "", "mimekit: no message in empty.eml: it is empty\n")
    import io

    class Stdin:
        buffer = io.BytesIO(b"")

    monkeypatch.setattr(sys, "stdin", Stdin())
    assert cli(capsys, "send", "-") == (
        1, "", "mimekit: no message in standard input: it is empty\n")
    assert not (workdir / "outbox").exists()


# ------------------------------------------------- new-user trial, second round
def test_credentials_over_security_none_are_one_sentence(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 2): ``smtp://ana:pw@host?security=none`` (and smtps://) ended in a
    ValueError traceback with exit 1; it is one sentence naming the URL and the way out."""
    for scheme in ("smtp", "smtps", "smtp+starttls"):
        url = f"{scheme}://ana:s3cr3t@mail.example.org?security=none"
        code, out, err = cli(capsys, "send", *ADDRS, "--transport", url)
        assert (code, out) == (1, "")
        # the transport's own sentence (one check, in make_settings), naming the URL
        assert err == (f"mimekit: --transport '{scheme}://ana:***@mail.example.org?"
                       "security=none': credentials with security='none' would be sent in "
                       "the clear; use TLS, or allow_plaintext_auth=True, or "
                       "smtp://...?allow_plaintext_auth=1 in a URL\n")
    assert not list(workdir.iterdir())


def test_allow_plaintext_auth_still_sends_over_security_none(
        tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The way out the error names works (a loopback server without TLS or AUTH)."""
    from smtp_server import FakeSMTPServer

    user, password = quote(USER, safe=""), quote(PASSWORD, safe="")
    with FakeSMTPServer(auth_mechanisms=("PLAIN",)) as srv:
        code, out, err = cli(capsys, "send", *ADDRS, "--transport",
                             f"smtp://{user}:{password}@127.0.0.1:{srv.port}?security=none"
                             "&allow_plaintext_auth=1&timeout=10")
    assert (code, err) == (0, ""), err
    assert out.startswith("accepted b@example.org 250")


def test_a_null_reverse_path_is_sent_as_mail_from_empty(
        tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 7): ``--envelope-from '<>'`` was refused ("contains ... '<' or
    '>'"), so a bounce could not be sent with the null reverse-path of RFC 5321 §4.5.5."""
    (workdir / "bounce.eml").write_bytes(b"From: MAILER-DAEMON@example.org\r\n"
                                         b"To: a@example.org\r\nSubject: failed\r\n\r\nx\r\n")
    with aiosmtpd_server(tmp_path, auth=False) as srv:
        code, _, err = cli(capsys, "send", "--eml", "bounce.eml", "--envelope-from", "<>",
                             "--transport", f"smtp+starttls://localhost:{srv.port}?timeout=10",
                             "--cafile", srv.cafile)
        assert (code, err) == (0, ""), err
        assert [(m.mail_from, m.rcpt_tos) for m in srv.handler.messages] == [
            ("<>", ["a@example.org"])]
    code, _, err = cli(capsys, "send", "--eml", "bounce.eml", "--envelope-from", " <> ",
                         "--envelope-to", "z@example.org", "--transport", "mbox:./mb")
    assert (code, err) == (0, ""), err
    [stored] = MboxTransport(workdir / "mb").read()
    assert stored.envelope is not None
    assert (stored.envelope.mail_from, stored.envelope.rcpt_to) == ("", ("z@example.org",))
    assert stored.envelope.null_sender


@pytest.mark.parametrize("value", ["", " ", ",", " , "])
def test_an_empty_envelope_to_is_an_error(
        workdir: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    """Regression (item 15): ``--envelope-to ""`` was ignored, and the message went to
    the header recipients instead."""
    assert cli(capsys, "send", *ADDRS, "--envelope-to", value) == (
        1, "", ("mimekit: --envelope-to is empty: give one or more addresses (a "
                "comma-separated list)\n"))
    assert not list(workdir.iterdir())


def _bom_mbox(workdir: Path) -> Path:
    path = workdir / "bom.mbox"
    path.write_bytes(b"\xef\xbb\xbfFrom a@example.org Thu Feb  1 10:00:00 2024\n"
                     b"From: a@example.org\nTo: b@example.org\nSubject: one\n\n1\n\n"
                     b"From a@example.org Thu Feb  1 10:01:00 2024\n"
                     b"From: a@example.org\nTo: b@example.org\nSubject: two\n\n2\n")
    return path


def test_an_mbox_with_a_byte_order_mark_is_sent_as_its_messages(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 6): a UTF-8 BOM before the first ``From `` line made the file one
    message (the BOM, the envelope line and both messages sent as one)."""
    _bom_mbox(workdir)
    code, out, err = cli(capsys, "send", "--eml", "bom.mbox", "--transport", "memory:./mem")
    assert (code, err) == (0, ""), err
    assert out.splitlines()[0] == "bom.mbox#1: accepted b@example.org 250 2.1.5 OK"
    assert [m.message.subject for m in Outbox(workdir / "mem")] == ["one", "two"]


def test_a_path_transport_on_a_file_says_not_a_folder(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 8): ``memory:FILE`` said "cannot use FILE: it already exists",
    ``mbox:/proc/version`` "its folder does not exist" (/proc exists)."""
    (workdir / "m.eml").write_bytes(b"From: a@example.org\nTo: b@example.org\n\nx\n")
    for kind in ("file", "maildir", "memory"):
        assert cli(capsys, "send", *ADDRS, "--transport", f"{kind}:m.eml") == (
            1, "", f"mimekit: --transport '{kind}:m.eml': m.eml is not a folder\n")
    if os.path.isfile("/proc/version"):
        code, out, err = cli(capsys, "send", *ADDRS, "--transport", "mbox:/proc/version")
        assert (code, out) == (1, "")
        assert "does not exist" not in err and err.count("\n") == 1
        assert err.startswith("mimekit: cannot append to mbox '/proc/version': cannot create "
                              "the dot-lock '/proc/version.lock'")
    assert sorted(p.name for p in workdir.iterdir()) == ["m.eml"]
    # From Python too: mkdir's "File exists" said nothing of what was wrong.
    from mimekit.transports import TransportError

    with pytest.raises(TransportError, match=r"^outbox '.*m\.eml' is not a folder$"):
        Outbox(workdir / "m.eml")


def test_a_path_transport_creates_only_the_last_folder(
        workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (item 9): ``file:/a/b/c`` created the whole missing tree, while
    ``compose -o a/b.eml`` refused a missing folder. One rule now: the last level is
    created, a missing parent is an error naming it."""
    for kind in ("file", "maildir", "memory"):
        assert cli(capsys, "send", *ADDRS, "--transport", f"{kind}:a/b/c") == (
            1, "", (f"mimekit: --transport '{kind}:a/b/c': cannot create the folder a/b/c: "
                    "its parent a/b does not exist (only the last folder of a path is "
                    "created)\n"))
    assert cli(capsys, "send", *ADDRS, "--transport", "mbox:a/b.mbox") == (
        1, "", ("mimekit: --transport 'mbox:a/b.mbox': cannot create the mbox a/b.mbox: its "
                "folder a does not exist\n"))
    monkeypatch.setenv("MIMEKIT_TRANSPORT", f"file://{workdir}/x/y")
    assert cli(capsys, "send", *ADDRS) == (
        1, "", (f"mimekit: MIMEKIT_TRANSPORT='file://{workdir}/x/y': cannot create the "
                f"folder {workdir}/x/y: its parent {workdir}/x does not exist (only the last "
                "folder of a path is created)\n"))
    assert not list(workdir.iterdir())
    for url in ("file:o", "maildir:md/", "memory:mem", "mbox:mb"):
        code, _, err = cli(capsys, "send", *ADDRS, "--transport", url)
        assert (code, err) == (0, ""), (url, err)
    assert sorted(p.name for p in workdir.iterdir()) == ["mb", "md", "mem", "o"]


def test_the_file_outbox_names_its_file_once(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 15): ``accepted b 250 2.0.0 written to NAME`` then ``queued as
    NAME``: the name twice per message."""
    code, out, err = cli(capsys, "send", *ADDRS, "--transport", "file:o")
    assert (code, err) == (0, "")
    [name] = [p.name for p in (workdir / "o").glob("*.eml")]
    assert out.splitlines() == ["accepted b@example.org 250 2.0.0 written to outbox",
                                "accepted c@example.org 250 2.0.0 written to outbox",
                                f"queued as {name}"]


def test_mbox_without_a_path_suggests_a_file(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 15): ``mbox:`` suggested ``mbox:./outbox`` (a folder name)."""
    assert cli(capsys, "send", *ADDRS, "--transport", "mbox:") == (
        1, "", "mimekit: --transport 'mbox:': mbox: needs a path, e.g. mbox:./sent.mbox\n")


def test_a_cafile_query_option_is_named_in_words(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 15): ``?cafile=/nonexist`` said "cannot read cafile= /nonexist"."""
    (workdir / "not.pem").write_text("x")
    url = "smtp://127.0.0.1:1?cafile="
    assert cli(capsys, "send", *ADDRS, "--transport", url + "nosuch.pem") == (
        1, "", ("mimekit: cannot read nosuch.pem (the cafile option of the transport URL): "
                "no such file\n"))
    assert cli(capsys, "send", *ADDRS, "--transport", url + "not.pem") == (
        1, "", ("mimekit: not.pem (the cafile option of the transport URL) holds no CA "
                "certificate in PEM form (BEGIN CERTIFICATE)\n"))


@pytest.mark.parametrize("url", ["smtp:u:SECRETPW@host", "smtp:/u:SECRETPW@host:x",
                                 "file://u:SECRETPW@remote/x"])
def test_a_url_without_two_slashes_never_shows_its_password(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str) -> None:
    """Review finding: the CLI's URL errors redacted only 'scheme://user:pw@' URLs."""

    with pytest.raises(SystemExit) as exit_:
        main(["send", "--from", "a@example.org", "--to", "b@example.org", "--text", "x",
              "--transport", url])
    err = capsys.readouterr().err
    assert exit_.value.code != 0 and "SECRETPW" not in err and "***" in err, err
