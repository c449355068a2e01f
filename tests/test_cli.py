"""The `mimekit` command, run as a user would (a subprocess) and in process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st

from mimekit.cli import main, safe_filename

REPO = Path(__file__).resolve().parent.parent
PDF = REPO / "docs" / "examples" / "report.pdf"


def run(*args: str, cwd: Path, stdin: bytes | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if k != "MIMEKIT_TRANSPORT"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "mimekit", *args], cwd=cwd, input=stdin,
                          capture_output=True, env=full_env, timeout=60, check=False)


def test_quickstart_job(tmp_path: Path) -> None:
    """Compose with an attachment, send to ./outbox, inspect it back."""
    r = run("send", "--from", "Ana Lima <ana@example.org>", "--to", "Bo Chen <bo@example.net>",
            "--subject", "Grüße: the report", "--text", "Hi Bo.", "--attach", str(PDF),
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines()[0].startswith("accepted bo@example.net")
    emls = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(emls) == 1
    r = run("inspect", str(emls[0]), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "Subject: Grüße: the report" in out
    assert "multipart/mixed" in out and "application/pdf" in out and '"report.pdf"' in out
    r = run("inspect", "--json", str(emls[0]), cwd=tmp_path)
    doc = json.loads(r.stdout)
    assert doc["schema"] == 1
    assert doc["subject"] == "Grüße: the report"
    assert doc["from"] == [{"name": "Ana Lima", "address": "ana@example.org"}]
    assert doc["text"].strip() == "Hi Bo."
    assert [(a["filename"], a["content_type"], a["size"]) for a in doc["attachments"]] == [
        ("report.pdf", "application/pdf", PDF.stat().st_size)]


def test_compose_to_file_and_stdout(tmp_path: Path) -> None:
    out = tmp_path / "m.eml"
    assert main(["compose", "--from", "a@example.org", "--to", "b@example.org,c@example.org",
                 "--cc", "d@example.org", "--subject", "s", "--text", "t",
                 "--header", "X-Tag: blue", "--message-id", "<id1@example.org>",
                 "-o", str(out)]) == 0
    raw = out.read_bytes()
    assert b"\r\nX-Tag: blue\r\n" in raw
    assert b"Message-ID: <id1@example.org>\r\n" in raw
    r = run("compose", "--from", "a@example.org", "--to", "b@example.org", "--text", "t",
            cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith(b"Date: ")


def test_send_raw_eml_and_stdin_strip_bcc(tmp_path: Path) -> None:
    raw = (b"From: a@example.org\r\nTo: b@example.org\r\nBcc: hidden@example.org\r\n"
           b"Subject: raw\r\n\r\nbody\r\n")
    src = tmp_path / "in.eml"
    src.write_bytes(raw)
    r = run("send", "--eml", str(src), "--transport", "file:./sent", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert [line.split()[:2] for line in lines[:2]] == [
        ["accepted", "b@example.org"], ["accepted", "hidden@example.org"]]
    sent = list((tmp_path / "sent").glob("*.eml"))
    assert len(sent) == 1
    assert b"hidden@example.org" not in sent[0].read_bytes()
    r = run("send", "-", cwd=tmp_path, stdin=raw, env={"MIMEKIT_TRANSPORT": "file:./env"})
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "env").glob("*.eml"))) == 1


def test_inspect_mbox_is_json_lines(tmp_path: Path) -> None:
    mbox = tmp_path / "box.mbox"
    mbox.write_bytes(b"From a@example.org Thu Jan  1 00:00:00 2024\nSubject: one\n\nx\n\n"
                     b"From b@example.org Thu Jan  1 00:00:00 2024\nSubject: two\n\n>From y\n")
    r = run("inspect", "--json", str(mbox), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    docs = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [d["subject"] for d in docs] == ["one", "two"]


def test_extract_uses_safe_unique_names(tmp_path: Path) -> None:
    import mimekit

    msg = (mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
           .attach(b"one", filename="../../etc/passwd").attach(b"two", filename="passwd")
           .attach(b"three", filename="..").build())
    src = tmp_path / "m.eml"
    src.write_bytes(msg.to_bytes())
    out = tmp_path / "out"
    r = run("extract", str(src), "--dir", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    names = r.stdout.decode().split()
    assert names == ["passwd", "passwd-2", "attachment-3.bin"]
    assert (out / "passwd").read_bytes() == b"one"
    assert (out / "passwd-2").read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.rglob("passwd*")) == ["passwd", "passwd-2"]


@pytest.mark.parametrize("name,expected", [
    ("a/b/c.txt", "c.txt"), ("..\\..\\x.exe", "x.exe"), (".hidden", "hidden"),
    ("", "fallback"), (None, "fallback"), ("a\x00b\x1fc", "abc"), ("..", "fallback"),
])
def test_safe_filename(name: str | None, expected: str) -> None:
    assert safe_filename(name, "fallback") == expected


def test_errors_are_one_sentence_with_exit_codes(tmp_path: Path) -> None:
    r = run("inspect", str(tmp_path / "missing.eml"), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.decode().count("\n") == 1 and "missing.eml" in r.stderr.decode()
    r = run("bogus", cwd=tmp_path)
    assert r.returncode == 2
    r = run("compose", "--from", "a@example.org", "--subject", "x\ny", cwd=tmp_path)
    assert r.returncode == 1
    assert b"Traceback" not in r.stderr and b"line break" in r.stderr
    r = run("send", "--from", "a@example.org", "--to", "b@example.org", "--text", "x",
            "--transport", "gopher://x", cwd=tmp_path)
    assert r.returncode in (1, 2) and b"gopher" in r.stderr


def test_send_many_files_reports_each(tmp_path: Path) -> None:
    files = []
    for n in range(3):
        f = tmp_path / f"m{n}.eml"
        f.write_bytes(b"From: a@example.org\r\nTo: b%d@example.org\r\nSubject: %d\r\n\r\nx\r\n"
                      % (n, n))
        files += ["--eml", str(f)]
    r = run("send", *files, "--transport", "maildir:./md", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert [line.split(": ", 1)[1].split()[:2] for line in lines if "accepted" in line] == [
        ["accepted", "b0@example.org"], ["accepted", "b1@example.org"],
        ["accepted", "b2@example.org"]]
    assert len(list((tmp_path / "md" / "new").iterdir())) == 3
    r = run("send", "--eml", files[1], "--transport", "file:./x", "--insecure", cwd=tmp_path)
    assert r.returncode == 2


def test_non_utf8_input_is_one_sentence_not_a_traceback(tmp_path: Path) -> None:
    """Regression (new-user review): these printed a UnicodeDecodeError traceback."""
    latin = tmp_path / "l.txt"
    latin.write_bytes(b"caf\xe9\n")
    r = run("compose", "--from", "a@example.org", "--to", "b@example.org", "--text-file",
            str(latin), cwd=tmp_path)
    assert r.returncode == 1 and b"Traceback" not in r.stderr and b"not UTF-8" in r.stderr
    r = run("compose", "--from", "a@example.org", "--to", "b@example.org", "--text-file", "-",
            cwd=tmp_path, stdin=b"caf\xe9\n")
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "mimekit", "compose", "--from", "a@example.org",
                        "--to", "b@example.org", "--text", b"caf\xe9"], cwd=tmp_path,
                       capture_output=True, timeout=60, check=False)
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    r = run("compose", "--from", "a@example.org", "--to", "b@example.org", "--text", "x",
            "--attach", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 1 and b"folder" in r.stderr


def test_safe_filename_fits_the_file_system_in_bytes() -> None:
    name = safe_filename("é" * 200 + ".txt", "x")
    assert name.endswith(".txt") and len(name.encode("utf-8")) <= 200
    assert name.startswith("é" * 98)


def test_send_to_a_remote_file_url_is_refused_naming_the_host(tmp_path: Path) -> None:
    """Regression (review): ``file://server/out`` wrote to the relative folder server/out.
    RFC 8089: ``file:///abs`` and ``file://localhost/abs`` are local, other hosts are not."""
    args = ("send", "--from", "a@example.org", "--to", "b@example.org", "--text", "x")
    r = run(*args, "--transport", "file://server/out", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    err = r.stderr.decode()
    assert "'server'" in err and err.count("\n") == 1 and "Traceback" not in err
    assert not list(tmp_path.rglob("*.eml"))
    target = tmp_path / "abs"
    r = run(*args, "--transport", f"file://localhost{target}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(list(target.glob("*.eml"))) == 1


# ------------------------------------------------------- new-user trial (regressions)
def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``mimekit ARGS`` in process: (exit status, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIMEKIT_TRANSPORT", raising=False)
    return tmp_path


MBOX = (b"From a@example.org Thu Jan  1 00:00:00 2024\n"
        b"From: a@example.org\nTo: b@example.org\nSubject: one\n\nx\n\n"
        b"From a@example.org Thu Jan  1 00:00:00 2024\n"
        b"From: a@example.org\nTo: c@example.org\nSubject: two\n\n>From y\n")
MBOX_MESSAGES = [b"From: a@example.org\nTo: b@example.org\nSubject: one\n\nx\n",
                 b"From: a@example.org\nTo: c@example.org\nSubject: two\n\nFrom y\n"]
MBOX_OUT = ("box.mbox#1: accepted b@example.org 250 2.0.0 appended to mbox\n"
            "box.mbox#1: queued as out.mbox\n"
            "box.mbox#2: accepted c@example.org 250 2.0.0 appended to mbox\n"
            "box.mbox#2: queued as out.mbox\n")


def test_send_mbox_sends_each_message_without_the_from_line(
        workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (new-user trial): an mbox given to --eml went out as ONE message, its
    envelope "From " line on the wire."""
    from mimekit.mailbox import iter_mbox_raw

    (workdir / "box.mbox").write_bytes(MBOX)
    assert cli(capsys, "send", "--eml", "box.mbox", "--transport",
               "mbox:out.mbox?envelope_headers=0") == (0, MBOX_OUT, "")
    stored = (workdir / "out.mbox").read_bytes()
    assert [raw for _, raw in iter_mbox_raw(stored)] == MBOX_MESSAGES
    assert stored.count(b"From a@example.org ") == 2 and b"\n>From y\n" in stored
    # Stored as they are by the file transport: no "From " line, quoting undone.
    code, out, err = cli(capsys, "send", "--eml", "box.mbox", "--transport", "file:sent")
    assert (code, err) == (0, "")
    assert [line.split()[:3] for line in out.splitlines()] == [
        ["box.mbox#1:", "accepted", "b@example.org"], ["box.mbox#1:", "queued", "as"],
        ["box.mbox#2:", "accepted", "c@example.org"], ["box.mbox#2:", "queued", "as"]]
    sent = sorted((workdir / "sent").glob("*.eml"), key=lambda p: p.name.split("-")[-1])
    assert [p.read_bytes() for p in sent] == [m.replace(b"\n", b"\r\n") for m in MBOX_MESSAGES]
    # The same from standard input.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MBOX)))
    assert cli(capsys, "send", "-", "--transport", "mbox:in.mbox?envelope_headers=0") == (
        0, MBOX_OUT.replace("box.mbox#", "-#").replace("out.mbox", "in.mbox"), "")
    stored = (workdir / "in.mbox").read_bytes()
    assert [raw for _, raw in iter_mbox_raw(stored)] == MBOX_MESSAGES


def test_compose_options_with_eml_or_stdin_are_a_usage_error(
        workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (new-user trial): --from/--text/... were silently ignored with --eml."""
    (workdir / "m.eml").write_bytes(b"From: a@example.org\nTo: b@example.org\n\nx\n")
    assert cli(capsys, "send", "--eml", "m.eml", "--from", "z@example.org", "--text", "hi",
               "--transport", "file:out") == (
        2, "", ("mimekit: --from and --text cannot be used with --eml, which sends a message "
               "as it is (only the --envelope-* options apply)\n"))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"From: a@example.org\n")))
    assert cli(capsys, "send", "-", "--subject", "s", "--attach", "m.eml", "--to", "c@x.org",
               "--transport", "file:out") == (
        2, "", ("mimekit: --to, --subject and --attach cannot be used with - (standard input), "
               "which sends a message as it is (only the --envelope-* options apply)\n"))
    assert not (workdir / "out").exists()
    # The envelope options stay allowed.
    assert cli(capsys, "send", "--eml", "m.eml", "--envelope-from", "bounce@example.org",
               "--envelope-to", "r@example.org", "--transport", "mbox:o.mbox") == (
        0, "accepted r@example.org 250 2.0.0 appended to mbox\nqueued as o.mbox\n", "")
    stored = (workdir / "o.mbox").read_bytes()
    assert b"\nReturn-Path: <bounce@example.org>\nX-Original-To: r@example.org\n" in stored


def test_text_file_and_html_file_cannot_both_read_stdin(
        workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"hello\n")))
    assert cli(capsys, "compose", "--from", "a@example.org", "--text-file", "-",
               "--html-file", "-") == (
        2, "", "mimekit: --text-file - and --html-file - cannot both read standard input\n")


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(text: str) -> list[str]:
    """What a terminal shows for ``text`` (\\r, \\n and ESC [ K, erase to end of line)."""
    lines: list[list[str]] = [[]]
    col, i = 0, 0
    while i < len(text):
        if text.startswith("\x1b[K", i):
            del lines[-1][col:]
            i += 3
            continue
        ch = text[i]
        i += 1
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append([])
            col = 0
        else:
            line = lines[-1]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    return ["".join(line) for line in lines]


def test_progress_bar_is_cleared_before_result_lines_and_warnings(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (new-user trial): result lines and warnings were printed on the bar's
    line. Both streams go to one fake terminal here, as in a shell."""
    import warnings

    import mimekit._cli_send as cli_module  # where send lives

    names = []
    for n in range(3):
        (workdir / f"m{n}.eml").write_bytes(
            b"From: a@example.org\r\nTo: b%d@example.org\r\n\r\nx\r\n" % n)
        names += ["--eml", f"m{n}.eml"]
    tty = FakeTty()
    monkeypatch.setattr(sys, "stdout", tty)
    monkeypatch.setattr(sys, "stderr", tty)
    real_envelope = cli_module._envelope

    def envelope_with_warning(args: Any, message: Any) -> Any:
        if message.headers.get("To") == "b1@example.org":
            warnings.warn("slow server", UserWarning, stacklevel=1)
        return real_envelope(args, message)

    monkeypatch.setattr(cli_module, "_envelope", envelope_with_warning)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["send", *names, "--transport", "mbox:out.mbox"]) == 0
    raw = tty.getvalue()
    assert "] 0/3 m0.eml" in raw and "] 2/3 m2.eml" in raw  # the bar was drawn
    shown = screen(raw)
    warning = [line for line in shown if "UserWarning: slow server" in line]
    assert len(warning) == 1 and "]" not in warning[0].partition("UserWarning")[0][-3:]
    assert [line for line in shown if line.startswith("m")] == [
        "m0.eml: accepted b0@example.org 250 2.0.0 appended to mbox",
        "m0.eml: queued as out.mbox",
        "m1.eml: accepted b1@example.org 250 2.0.0 appended to mbox",
        "m1.eml: queued as out.mbox",
        "m2.eml: accepted b2@example.org 250 2.0.0 appended to mbox",
        "m2.eml: queued as out.mbox"]
    assert not any("/3 " in line for line in shown)  # no bar left over or mixed in
    assert shown[-1] == ""


ADDRS = ("--from", "a@example.org", "--to", "b@example.org", "--text", "x")


@pytest.mark.parametrize("args,code,message", [
    (("compose", "--to", "b@example.org", "--text", "x"), 2,
     "give --from: a message needs an author (RFC 5322 section 3.6.2)"),
    (("compose", "--from", "a@example.org, c@example.org", "--text", "x"), 2,
     "give --sender: a message with several --from authors needs one (RFC 5322 section 3.6.2)"),
    (("compose", *ADDRS, "--header", "Bcc: x@example.org"), 2,
     "--header 'Bcc: x@example.org': mimekit writes Bcc itself, use --bcc"),
    (("compose", *ADDRS, "--header", "subject: hi"), 2,
     "--header 'subject: hi': mimekit writes subject itself, use --subject"),
    (("compose", *ADDRS, "--header", "Content-Type: text/html"), 2,
     ("--header 'Content-Type: text/html': mimekit writes Content-Type itself, from --text, "
     "--html, --attach and --inline")),
    (("compose", *ADDRS, "--header", "MIME-Version: 2.0"), 2,
     ("--header 'MIME-Version: 2.0': mimekit compose writes MIME-Version itself or not at all, "
     "and has no option for it")),
    (("compose", "--from", "not an address", "--to", "b@example.org", "--text", "x"), 1,
     "--from: 'not an address' is not an email address (address without '@')"),
    (("compose", "--from", "a@example.org", "--cc", "a@", "--text", "x"), 1,
     "--cc: 'a@' is not an email address (address without a domain)"),
    (("compose", "--from", "a@example.org", "--to", "Bö <bö@exämple.org>", "--text", "x"), 1,
     ("--to: 'bö@exämple.org' is not ASCII before the '@', and mimekit compose writes ASCII "
     "mail only (such an address needs SMTPUTF8, RFC 6531)")),
    (("compose", *ADDRS, "--date", "yesterday"), 1,
     "--date: 'yesterday' is not an RFC 5322 date, e.g. 'Thu, 01 Feb 2024 10:00:00 +0100'"),
    (("compose", *ADDRS, "--subject", "a\nBcc: x@example.org"), 1,
     "--subject: subject contains '\\n': a header value cannot hold a line break or NUL"),
    (("compose", *ADDRS, "--message-id", "no-at-sign"), 1,
     ("--message-id: 'no-at-sign' is not a message id: RFC 5322 section 3.6.4 wants "
     "<left@right>, e.g. <20240101.1234@example.org>")),
    (("compose", *ADDRS, "--message-id", "<a b@example.org>"), 1,
     ("--message-id: '<a b@example.org>' is not a message id: RFC 5322 section 3.6.4 wants "
     "<left@right>, e.g. <20240101.1234@example.org>")),
    (("compose", *ADDRS, "--message-id", "a@"), 1,
     ("--message-id: 'a@' is not a message id: RFC 5322 section 3.6.4 wants "
     "<left@right>, e.g. <20240101.1234@example.org>")),
])
def test_errors_name_the_cli_option(workdir: Path, capsys: pytest.CaptureFixture[str],
                                    args: tuple[str, ...], code: int, message: str) -> None:
    """Regression (new-user trial): errors named Python calls (from_(), bcc() instead of
    header(), policy SMTPUTF8) or neither the option nor the value."""
    assert cli(capsys, *args, "-o", "out.eml") == (code, "", f"mimekit: {message}\n")
    assert not (workdir / "out.eml").exists()


def test_good_message_ids_are_kept(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for given, written in [("<1.2@example.org>", b"<1.2@example.org>"),
                           ("x@example.org", b"<x@example.org>"),
                           ("<a.b@[192.0.2.1]>", b"<a.b@[192.0.2.1]>")]:
        assert cli(capsys, "compose", *ADDRS, "--message-id", given, "-o", "m.eml")[0] == 0
        assert b"\r\nMessage-ID: " + written + b"\r\n" in (workdir / "m.eml").read_bytes()


def test_cafile_errors_name_the_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (new-user trial): "No such file or directory" without the name, and a
    raw "[X509: NO_CERTIFICATE_OR_CRL_FOUND]" for a file that is not a certificate."""
    (workdir / "t1.eml").write_bytes(b"From: a@example.org\n\nx\n")
    send = ("send", *ADDRS, "--transport", "smtp://127.0.0.1:1")
    assert cli(capsys, *send, "--cafile", "nosuch.pem") == (
        1, "", "mimekit: cannot read --cafile nosuch.pem: no such file\n")
    assert cli(capsys, *send, "--cafile", str(workdir)) == (
        1, "", f"mimekit: cannot read --cafile {workdir}: it is a folder\n")
    assert cli(capsys, *send, "--cafile", "t1.eml") == (
        1, "", ("mimekit: --cafile t1.eml holds no CA certificate in PEM form "
               "(BEGIN CERTIFICATE)\n"))


def test_transport_url_errors_name_their_source(
        workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    expected = ("is not a transport URL (expected smtp://, smtps://, smtp+starttls://, "
                "file:, maildir:, mbox: or memory:)")
    monkeypatch.setenv("MIMEKIT_TRANSPORT", "nope")
    assert cli(capsys, "send", *ADDRS) == (
        1, "", f"mimekit: MIMEKIT_TRANSPORT='nope' {expected}\n")
    assert cli(capsys, "send", *ADDRS, "--transport", "nope") == (
        1, "", f"mimekit: --transport 'nope' {expected}\n")
    assert not list(workdir.iterdir())


def test_file_errors_have_one_wording_naming_the_path(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (new-user trial): "no such file", "No such file or directory" and
    "Is a directory: adir" across commands."""
    (workdir / "adir").mkdir()
    (workdir / "m.eml").write_bytes(b"From: a@example.org\n\nx\n")
    cases = [
        (("inspect", "nosuch"), "cannot read nosuch: no such file"),
        (("inspect", "adir"), ("cannot read adir: it is a folder but not a Maildir "
                              "(no cur/ or new/)")),
        (("lint", "nosuch"), "cannot read nosuch: no such file"),
        (("extract", "nosuch", "--dir", "out"), "cannot read nosuch: no such file"),
        (("extract", "adir", "--dir", "out"), "cannot read adir: it is a folder"),
        # Regression (new-user trial, item 8): "cannot write m.eml: it already exists".
        (("extract", "m.eml", "--dir", "m.eml"), "--dir: m.eml is not a folder"),
        (("send", "--eml", "nosuch"), "cannot read nosuch: no such file"),
        (("send", "--eml", "adir"), "cannot read adir: it is a folder"),
        (("compose", *ADDRS[:4], "--text-file", "nosuch"), "cannot read nosuch: no such file"),
        (("compose", *ADDRS[:4], "--html-file", "adir"), "cannot read adir: it is a folder"),
        (("compose", *ADDRS, "--attach", "nosuch"), "cannot read nosuch: no such file"),
        (("compose", *ADDRS, "--attach", "adir"), "cannot read adir: it is a folder"),
        (("compose", *ADDRS, "--inline", "nosuch.png"), "cannot read nosuch.png: no such file"),
        (("compose", *ADDRS, "-o", "adir"), "cannot write adir: it is a folder"),
        (("compose", *ADDRS, "-o", "nodir/m.eml"),
         "cannot write nodir/m.eml: its folder does not exist"),
        (("send", "--eml", "m.eml", "--envelope-to", "b@example.org", "--transport",
          "mbox:adir"), "--transport 'mbox:adir': adir is a folder, not an mbox file"),
        (("send", "--eml", "m.eml", "--envelope-to", "b@example.org", "--transport",
          "maildir:m.eml"), "--transport 'maildir:m.eml': m.eml is not a folder"),
    ]
    for args, message in cases:
        assert cli(capsys, *args) == (1, "", f"mimekit: {message}\n"), args
    assert sorted(p.name for p in workdir.iterdir()) == ["adir", "m.eml"]


def test_attach_help_says_repeatable(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "compose", "--help")[0] == 0
    with pytest.raises(SystemExit):
        main(["send", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--attach PATH attach this file (repeatable)" in help_text


def test_duplicate_inline_content_id_is_refused(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    html = ("--from", "a@example.org", "--to", "b@example.org", "--html", "<img src=cid:a>")
    assert cli(capsys, "compose", *html, "--inline", "logo.png:a", "--inline", "logo.png:a",
               "-o", "m.eml") == (
        2, "", ("mimekit: --inline 'logo.png:a': the Content-ID 'a' is already used by "
               "--inline 'logo.png:a'; give each image its own PATH:CID\n"))
    assert cli(capsys, "compose", *html, "--inline", "logo.png", "--inline", "./logo.png",
               "-o", "m.eml") == (
        2, "", ("mimekit: --inline './logo.png': the Content-ID 'logo.png' is already used by "
               "--inline 'logo.png'; give each image its own PATH:CID\n"))
    assert not (workdir / "m.eml").exists()
    assert cli(capsys, "compose", *html, "--inline", "logo.png:a", "--inline", "logo.png:b",
               "-o", "m.eml")[0] == 0
    # An empty CID is the file name's, as when none is given.
    assert cli(capsys, "compose", *html, "--inline", "logo.png:<>", "-o", "m2.eml")[0] == 0
    assert b"\r\nContent-ID: <logo.png>\r\n" in (workdir / "m2.eml").read_bytes()


def test_one_bad_message_in_an_mbox_does_not_stop_the_others(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A message without recipients fails alone; the next one is still sent."""
    (workdir / "box.mbox").write_bytes(
        b"From a@example.org Thu Jan  1 00:00:00 2024\nFrom: a@example.org\nSubject: none\n\n"
        b"x\n\nFrom a@example.org Thu Jan  1 00:00:00 2024\nFrom: a@example.org\n"
        b"To: c@example.org\nSubject: two\n\ny\n")
    assert cli(capsys, "send", "--eml", "box.mbox", "--transport", "mbox:out.mbox") == (
        1, ("box.mbox#1: failed the envelope has no recipients: the message has no To, Cc or "
            "Bcc header and no envelope was given\n"
            "box.mbox#2: accepted c@example.org 250 2.0.0 appended to mbox\n"
            "box.mbox#2: queued as out.mbox\n"),
        "mimekit: 1 of 2 messages failed\n")


def test_bad_envelope_options_are_refused_once_naming_the_option(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "m.eml").write_bytes(b"From: a@example.org\nTo: b@example.org\n\nx\n")
    send = ("send", "--eml", "m.eml", "--eml", "m.eml", "--transport", "mbox:out.mbox")
    assert cli(capsys, *send, "--envelope-from", "a b@example.org") == (
        1, "", ("mimekit: --envelope-from: envelope sender 'a b@example.org' contains white "
               "space\n"))
    assert cli(capsys, *send, "--envelope-to", "ok@example.org, a<b@example.org") == (
        1, "", ("mimekit: --envelope-to: envelope recipient 'a<b@example.org' contains CR, LF, "
               "NUL, '<' or '>'\n"))
    assert not (workdir / "out.mbox").exists()


# ------------------------------------------------- new-user trial, second round
def test_inspect_reads_an_mbox_that_starts_with_a_byte_order_mark(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 6): the CLI tested ``data.startswith(b"From ")`` before the BOM
    was skipped, so an mbox saved by a Windows editor was shown as one message."""
    (workdir / "bom.mbox").write_bytes(
        b"\xef\xbb\xbfFrom a@example.org Thu Feb  1 10:00:00 2024\n"
        b"From: a@example.org\nSubject: one\n\n1\n\n"
        b"From a@example.org Thu Feb  1 10:01:00 2024\nFrom: a@example.org\nSubject: two\n\n2\n")
    code, out, err = cli(capsys, "inspect", "--json", "bom.mbox")
    assert (code, err) == (0, "")
    assert [json.loads(line)["subject"] for line in out.splitlines()] == ["one", "two"]


def test_inspect_the_corpus_mbox_with_a_byte_order_mark(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The trial's file: iter_mbox_raw gives 2 messages, so must the CLI."""
    from corpus import CORPUS, corpus_bytes

    from mimekit.mailbox import iter_mbox_raw

    relative = "jstedfast-MimeKit/mbox/unmunged.mbox.txt"
    data = corpus_bytes(relative)
    assert data.startswith(b"\xef\xbb\xbfFrom ")
    assert len(list(iter_mbox_raw(data))) == 2
    code, out, _ = cli(capsys, "inspect", "--json", str(CORPUS / relative))
    assert code == 0 and len(out.splitlines()) == 2


def test_extract_creates_only_the_last_folder(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 9): ``extract --dir a/b/c`` created the whole missing tree;
    (item 8) ``--dir FILE`` said "cannot write FILE: it already exists"."""
    run_compose = ("compose", "--from", "a@example.org", "--text", "x", "--attach", str(PDF),
                   "-o", "m.eml")
    assert cli(capsys, *run_compose)[0] == 0
    assert cli(capsys, "extract", "m.eml", "--dir", "a/b/c") == (
        1, "", ("mimekit: --dir: cannot create the folder a/b/c: its parent a/b does not exist "
                "(only the last folder of a path is created)\n"))
    assert cli(capsys, "extract", "m.eml", "--dir", "m.eml/x") == (
        1, "", "mimekit: --dir: cannot create the folder m.eml/x: m.eml is not a folder\n")
    assert sorted(p.name for p in workdir.iterdir()) == ["m.eml"]
    assert cli(capsys, "extract", "m.eml", "--dir", "a") == (0, "report.pdf\n", "")
    assert cli(capsys, "extract", "m.eml", "--dir", "a/b/") == (0, "report.pdf\n", "")
    assert (workdir / "a" / "b" / "report.pdf").read_bytes() == PDF.read_bytes()


@pytest.mark.parametrize("args,message", [
    (("--subject", "caf\udce9"),
     ("--subject 'caf\\xe9' is not UTF-8 text (the byte 0xe9): give UTF-8, or set the "
      "terminal or script to a UTF-8 locale")),
    (("--to", "b@example.org", "--to", "j\udcf6rg@example.org"),
     ("--to 'j\\xf6rg@example.org' is not UTF-8 text (the byte 0xf6): give UTF-8, or set the "
      "terminal or script to a UTF-8 locale")),
    (("--header", "X-Tag: \ud800"),
     ("--header 'X-Tag: \\ud800' is not UTF-8 text (the lone surrogate U+D800): give UTF-8, "
      "or set the terminal or script to a UTF-8 locale")),
    (("--date", "Thu, 01 Feb 2024 10:00:00 +0100\nBcc: x@example.org"),
     ("--date: 'Thu, 01 Feb 2024 10:00:00 +0100\\nBcc: x@example.org' holds a line break or "
      "NUL, which a header cannot (RFC 5322 section 2.2)")),
    (("--html", "<img src=cid:a>", "--inline", "logo.png:a\nb"),
     ("--inline 'logo.png:a\\nb': the Content-ID 'a\\nb' must be printable ASCII without "
      "spaces, line breaks or angle brackets; give one as PATH:CID, e.g. logo.png:logo")),
    (("--html", "x", "--inline", "my logo.png"),
     ("--inline 'my logo.png': the Content-ID 'my logo.png' must be printable ASCII without "
      "spaces, line breaks or angle brackets; give one as PATH:CID, e.g. logo.png:logo")),
    (("--html", "x", "--inline", "café.png"),
     ("--inline 'café.png': the Content-ID 'café.png' must be printable ASCII without "
      "spaces, line breaks or angle brackets; give one as PATH:CID, e.g. logo.png:logo")),
    (("--html", "x", "--inline", "logo.png:caf\udce9"),
     ("--inline 'logo.png:caf\\udce9': the Content-ID 'caf\\xe9' is not UTF-8 text (the byte "
      "0xe9): give UTF-8, or set the terminal or script to a UTF-8 locale")),
])
def test_bad_text_errors_name_the_option(
        workdir: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
        message: str) -> None:
    """Regression (item 10): "text cannot be encoded in utf-8: ... surrogates not
    allowed", "date contains '\\n'...", "cid contains '\\n'...": no option named."""
    for name in ("logo.png", "my logo.png", "café.png"):
        (workdir / name).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    full = ("compose", "--from", "a@example.org", "--text", "x", *args, "-o", "m.eml")
    assert cli(capsys, *full) == (1, "", f"mimekit: {message}\n")
    assert not (workdir / "m.eml").exists()


def test_a_non_utf8_argument_from_the_shell_names_the_option(tmp_path: Path) -> None:
    """The same as a user's shell passes it: raw Latin-1 bytes in argv."""
    r = subprocess.run([sys.executable, "-m", "mimekit", "compose", "--from", "a@example.org",
                        "--subject", b"caf\xe9", "--text", "x"], cwd=tmp_path,
                       capture_output=True, timeout=60, check=False)
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr == (b"mimekit: --subject 'caf\\xe9' is not UTF-8 text (the byte 0xe9): "
                        b"give UTF-8, or set the terminal or script to a UTF-8 locale\n")


@pytest.mark.parametrize("line", ["X-A\n: ok", "X-A\r: ok", "\nX-A: ok", "X A: ok",
                                  "X-Ä: ok"])
def test_a_header_name_with_a_line_break_is_refused(
        workdir: Path, capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Regression (item 15): ``--header $'X-A\\n: ok'`` was written as ``X-A: ok`` (the
    line break stripped from the name); it is refused as 'X A' is."""
    name = line.partition(":")[0].strip(" \t")
    assert cli(capsys, "compose", *ADDRS, "--header", line, "-o", "m.eml") == (
        2, "", (f"mimekit: --header {line!r}: {name!r} is not a header field name (RFC 5322 "
                "section 2.2: printable ASCII without spaces or ':')\n"))
    assert not (workdir / "m.eml").exists()


def test_a_header_value_keeps_its_blanks_trimmed_only(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Blanks around the name and value are still trimmed (``X-A : ok``); a line break
    in the value is refused by the builder, never dropped."""
    assert cli(capsys, "compose", *ADDRS, "--header", " X-A :  ok ", "-o", "m.eml")[0] == 0
    assert b"\r\nX-A: ok\r\n" in (workdir / "m.eml").read_bytes()
    code, out, err = cli(capsys, "compose", *ADDRS, "--header", "X-B: ok\n", "-o", "n.eml")
    assert (code, out) == (1, "") and err.startswith("mimekit: --header 'X-B: ok\\n': ")
    assert not (workdir / "n.eml").exists()


def test_a_from_group_without_mailbox_is_named(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 15): ``--from 'Undisclosed:;'`` said "give --from" though it
    was given."""
    for opt in ("--from", "--sender"):
        args = ("--from", "a@example.org", "--sender", "Undisclosed:;") if opt == "--sender" \
            else ("--from", "Undisclosed:;")
        assert cli(capsys, "compose", *args, "--text", "x") == (
            1, "", (f"mimekit: {opt}: 'Undisclosed:;' is a group with no mailbox in it, and a "
                    "message needs an address to come from (RFC 5322 section 3.6.2)\n"))
    # An empty group is fine where RFC 5322 allows it (To: address-list).
    assert cli(capsys, "compose", "--from", "a@example.org", "--to", "Undisclosed:;",
               "--text", "x", "-o", "m.eml")[0] == 0
    assert b"\r\nTo: Undisclosed:;\r\n" in (workdir / "m.eml").read_bytes()


_HYPHEN = "starts or ends with '-', which RFC 1123 §2.1 forbids"


@pytest.mark.parametrize("domain,reason", [
    ("a" * 64 + ".net",
     f"the domain label '{'a' * 20}...' is 64 characters long, over the 63 of RFC 1035 §2.3.4"),
    ("-bad-.net", f"the domain label '-bad-' {_HYPHEN}"),
    ("bad-.net", f"the domain label 'bad-' {_HYPHEN}"),
    ("x.-y", f"the domain label '-y' {_HYPHEN}"),
    (".".join(["a" * 63] * 4) + ".net",
     "the domain is 259 characters long, over the 255 of RFC 5321 §4.5.3.1.2"),
])
def test_composing_refuses_domains_no_dns_can_hold(
        workdir: Path, capsys: pytest.CaptureFixture[str], domain: str, reason: str) -> None:
    """Regression (item 15): a 300-character label and ``bo@-bad-.net`` were accepted
    when composing. Only strict parsing (caller input) refuses them: the lenient
    reading of received mail keeps the address as written."""
    from mimekit import AddressError, parse, parse_address_list

    for value in (f"bo@{domain}", f"Bo <bo@{domain}>"):
        assert cli(capsys, "compose", "--from", value, "--text", "x") == (
            1, "", f"mimekit: --from: {value!r} is not an email address ({reason})\n")
        with pytest.raises(AddressError):
            parse_address_list(value, strict=True)
        [box] = parse_address_list(value)
        assert box.address == f"bo@{domain}"  # type: ignore[union-attr]
        msg = parse(f"From: {value}\r\n\r\nx\r\n".encode())
        assert [a.address for a in msg.from_] == [f"bo@{domain}"]  # type: ignore[union-attr]


def test_composing_keeps_every_rfc1123_host_name() -> None:
    """The limits themselves are allowed: a 63-character label, inner hyphens, digits
    first, A-labels (kept as U-labels), a domain of 254 characters."""
    from mimekit.address import coerce_addresses

    long_domain = ".".join(["a" * 63] * 3 + ["b" * 61 + "c"])
    for given, stored in [("a" * 63 + ".net", "a" * 63 + ".net"),
                          ("a-b--c.example", "a-b--c.example"),
                          ("3com.example", "3com.example"),
                          ("xn--bcher-kva.example", "bücher.example"),
                          ("bücher.example", "bücher.example"),
                          (long_domain, long_domain)]:
        [box] = coerce_addresses(f"bo@{given}")
        assert box.address == f"bo@{stored}"  # type: ignore[union-attr]


_LDH = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=90)


@hypothesis.given(label=_LDH)
@hypothesis.settings(max_examples=200, deadline=None)
def test_strict_label_rule_property(label: str) -> None:
    """Strict parsing accepts a label exactly when RFC 1035/1123 do (1..63 characters,
    no '-' at either end); lenient parsing always keeps the address."""
    from mimekit import AddressError, parse_address_list

    ok = len(label) <= 63 and not label.startswith("-") and not label.endswith("-")
    value = f"bo@{label}.example"
    try:
        parse_address_list(value, strict=True)
        accepted = True
    except AddressError:
        accepted = False
    assert accepted == ok
    assert [b.address for b in parse_address_list(value)] == [value]  # type: ignore[union-attr]


def test_a_mistyped_option_shows_the_command_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 15): ``mimekit compose --frm x`` printed the top-level usage."""
    code, out, err = cli(capsys, "compose", "--frm", "x")
    assert (code, out) == (2, "")
    assert err.startswith("usage: mimekit compose ")
    assert err.endswith("mimekit compose: error: unrecognized arguments: --frm (did you mean "
                        "--from?) x\n")
    code, _, err = cli(capsys, "inspect", "--jsn", "m.eml")
    assert code == 2 and err.startswith("usage: mimekit inspect ")
    assert err.endswith("error: unrecognized arguments: --jsn (did you mean --json?)\n")


def test_top_level_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (item 15): the description left out lint."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "Compose, send, inspect, lint and extract email." in out


def test_annotations_is_not_a_public_name() -> None:
    """Regression (item 15): ``from __future__ import annotations`` in __init__ put
    ``annotations`` in dir(mimekit) (and dir(mimekit.transports))."""
    import mimekit.transports

    import mimekit

    assert "annotations" not in dir(mimekit)
    assert "annotations" not in dir(mimekit.transports)


# ------------------------------------------------- new-user trial, third round
def test_inspect_json_of_one_message_with_a_from_line_is_its_to_dict(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: a single .eml starting with a ``From `` line was read as a one-message
    mbox, so its JSON lost the UnixFromLine defect and every offset was counted from
    after that line, unlike ``parse_file(...).to_dict()`` (the README's promise)."""
    import mimekit

    data = (b"From a@example.org Thu Feb  1 10:00:00 2024\nFrom: a@example.org\n"
            b"Subject: one\nContent-Disposition: form-data\n\nbody\n")
    (workdir / "one.eml").write_bytes(data)
    code, out, err = cli(capsys, "inspect", "--json", "one.eml")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc == json.loads(json.dumps(mimekit.parse_file(workdir / "one.eml").to_dict()))
    kinds = {d["kind"]: d["offset"] for d in doc["defects"]}
    assert "UnixFromLine" in kinds
    assert kinds["UnknownDisposition"] == data.index(b"Content-Disposition")
