"""The transport examples in docs/index.md ("SMTP options", "asyncio:
AsyncSMTPTransport") run as written: the only change is the server's address
(a loopback STARTTLS server whose certificate the default context trusts
through SSL_CERT_FILE)."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest
from smtp_server import FakeSMTPServer, make_cert, server_context

REPO = Path(__file__).resolve().parent.parent


def _blocks() -> list[str]:
    text = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
    section = text.split("### SMTP options", 1)[1].split("### Testing code that sends mail", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_two_examples() -> None:
    assert len(_blocks()) == 2


def test_options_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = make_cert(tmp_path / "certs")
    shutil.copy(cert, tmp_path / "client.pem")
    shutil.copy(key, tmp_path / "client.key")
    monkeypatch.chdir(tmp_path)
    ns: dict[str, object] = {}
    exec(compile(_blocks()[0], "docs/index.md", "exec"), ns)  # noqa: S102 - our own docs
    smtp, relay = ns["smtp"], ns["relay"]
    assert smtp.settings.security == "tls"  # type: ignore[attr-defined]
    assert smtp.settings.ssl_context is ns["ctx"]  # type: ignore[attr-defined]
    assert (smtp.settings.timeout, smtp.settings.retries) == (10, 1)  # type: ignore[attr-defined]
    rs = relay.settings  # type: ignore[attr-defined]
    assert (rs.host, rs.port, rs.security, rs.allow_plaintext_auth, rs.timeout) == (
        "relay.internal", 2525, "none", True, 10.0
    )
    assert relay.pool_size == 2  # type: ignore[attr-defined]


def test_async_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = make_cert(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # ssl.create_default_context() trusts it
    with FakeSMTPServer(
        tls_context=server_context(cert, key),
        auth_mechanisms=("PLAIN",),
        credentials=("ana", "..."),
    ) as srv:
        code = _blocks()[1]
        assert code.count('"smtp.example.org", 587') == 1
        code = code.replace('"smtp.example.org", 587', f'"127.0.0.1", {srv.port}')
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "docs/index.md", "exec"), {"__name__": "docs"})  # noqa: S102
        assert out.getvalue() == "('bo@example.net',) 3 2\n"
        assert len(srv.deliveries) == 6
        assert all(s.tls for s in srv.sessions)
