"""The `mimekit` command, run as a user would (a subprocess) and in process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
