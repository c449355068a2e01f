"""Integration fixtures: a real Postfix on loopback.

The ``mta`` fixture (session scoped) uses, in order:

1. an already running instance described by ``MTA_*`` environment variables
   (``.ci/run`` starts one: ``set -a; eval "$(postfix-loopback.sh start)"; set +a``);
2. with ``MIMEKIT_START_POSTFIX=1`` (root only), an instance it starts itself
   with ``postfix-loopback.sh`` from ``$MIMEKIT_SHARED/mta`` or ``../shared/mta``,
   stopped at the end of the session;
3. otherwise every integration test is skipped, with the reason.

With ``MIMEKIT_REQUIRE_MTA=1`` (set by ``.ci/run``) a missing MTA or SMTP
transport fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

REQUIRED = (
    "MTA_HOST",
    "MTA_SMTP_PORT",
    "MTA_SUBMISSION_PORT",
    "MTA_SMTPS_PORT",
    "MTA_USER",
    "MTA_PASSWORD",
    "MTA_MAILDIR",
    "MTA_CA_FILE",
    "MTA_SIZE_LIMIT",
)
# Postfix prepends these to every delivered message (see ../shared/mta/README.md).
ADDED = (b"return-path:", b"x-original-to:", b"delivered-to:", b"received:")
POLL_SECONDS = 15.0


def split_added(data: bytes) -> tuple[bytes, bytes]:
    """(headers Postfix prepended, the rest): the rest is what the client sent."""
    lines = data.split(b"\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line[:1] in (b" ", b"\t") and i > 0:  # continuation of a prepended header
            i += 1
            continue
        if line.lower().startswith(ADDED):
            i += 1
            continue
        break
    return b"\n".join(lines[:i]) + b"\n", b"\n".join(lines[i:])


def _head(path: Path, size: int = 1 << 16) -> bytes:
    """The first bytes of a delivered file: tags live in the headers, and some
    test messages are ~10 MB."""
    with open(path, "rb") as fh:
        return fh.read(size)


@attrs.frozen
class MTA:
    """A running Postfix: where to connect and where deliveries land."""

    host: str
    smtp_port: int
    submission_port: int
    smtps_port: int
    user: str
    password: str
    maildir: Path
    ca_file: str
    size_limit: int

    @classmethod
    def from_env(cls, env: dict[str, str]) -> MTA:
        return cls(
            host=env["MTA_HOST"],
            smtp_port=int(env["MTA_SMTP_PORT"]),
            submission_port=int(env["MTA_SUBMISSION_PORT"]),
            smtps_port=int(env["MTA_SMTPS_PORT"]),
            user=env["MTA_USER"],
            password=env["MTA_PASSWORD"],
            maildir=Path(env["MTA_MAILDIR"]),
            ca_file=env["MTA_CA_FILE"],
            size_limit=int(env["MTA_SIZE_LIMIT"]),
        )

    def files_with(self, tag: str) -> list[Path]:
        """Delivered files that contain ``tag`` (now, no waiting)."""
        needle = tag.encode()
        new = self.maildir / "new"
        if not new.is_dir():
            return []
        return [p for p in sorted(new.iterdir()) if needle in _head(p)]

    def wait_for(self, tag: str, count: int = 1) -> list[bytes]:
        """Poll the Maildir (delivery is asynchronous) until ``count`` messages
        mentioning ``tag`` arrived, for up to 15 s; return their contents
        without the headers Postfix prepended."""
        deadline = time.monotonic() + POLL_SECONDS
        while True:
            files = self.files_with(tag)
            if len(files) >= count or time.monotonic() > deadline:
                return [split_added(p.read_bytes())[1] for p in files]
            time.sleep(0.05)

    def received_headers(self, tag: str) -> list[bytes]:
        """The prepended headers of each delivered copy (Delivered-To etc.)."""
        return [split_added(p.read_bytes())[0] for p in self.files_with(tag)]


def _require() -> bool:
    return os.environ.get("MIMEKIT_REQUIRE_MTA") == "1"


def _unavailable(reason: str) -> None:
    if _require():
        pytest.fail(f"MIMEKIT_REQUIRE_MTA=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _shared_dir() -> Path | None:
    candidates = []
    if os.environ.get("MIMEKIT_SHARED"):
        candidates.append(Path(os.environ["MIMEKIT_SHARED"]))
    root = Path(__file__).resolve().parents[2]
    candidates += [root.parent / "shared", Path("/work/shared")]
    for c in candidates:
        if (c / "mta" / "postfix-loopback.sh").is_file():
            return c
    return None


def _parse_env_lines(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("MTA_"):
            parts = shlex.split(value)
            env[key] = parts[0] if parts else ""
    return env


@pytest.fixture(scope="session")
def mta() -> Iterator[MTA]:
    """The Postfix to test against (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("MTA_")}
    if all(k in env for k in REQUIRED):
        yield MTA.from_env(env)
        return
    if os.environ.get("MIMEKIT_START_POSTFIX") != "1":
        missing = ", ".join(k for k in REQUIRED if k not in env) if env else "MTA_*"
        _unavailable(
            f"no MTA: {missing} not set. Run .ci/run, or start Postfix first "
            '(set -a; eval "$(../shared/mta/postfix-loopback.sh start)"; set +a), '
            "or set MIMEKIT_START_POSTFIX=1 as root"
        )
    shared = _shared_dir()
    if shared is None:
        _unavailable(
            "MIMEKIT_START_POSTFIX=1 but postfix-loopback.sh was not found (set MIMEKIT_SHARED)"
        )
    if os.geteuid() != 0:
        _unavailable("MIMEKIT_START_POSTFIX=1 needs root to run Postfix")
    assert shared is not None
    script = shared / "mta" / "postfix-loopback.sh"
    proc = subprocess.run(
        ["bash", str(script), "start"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        _unavailable(f"postfix-loopback.sh start failed: {proc.stderr.strip()[-500:]}")
    started = _parse_env_lines(proc.stdout)
    try:
        yield MTA.from_env(started)
    finally:
        subprocess.run(
            ["bash", str(script), "stop"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "MTA_STATE_DIR": started.get("MTA_STATE_DIR", "/tmp/mimekit-mta")},
            check=False,
            timeout=120,
        )


@pytest.fixture(scope="session")
def smtp_classes(mta: MTA) -> tuple[type, type]:
    """(SMTPTransport, AsyncSMTPTransport), or skip/fail if not importable."""
    try:
        from mimekit.transports import SMTPTransport
        from mimekit.transports.smtp import AsyncSMTPTransport
    except ImportError as exc:
        _unavailable(f"the SMTP transport is not importable: {exc}")
        raise
    return SMTPTransport, AsyncSMTPTransport


@pytest.fixture
def tag() -> str:
    """A unique marker to find this test's messages in the shared Maildir."""
    return f"mk-{uuid.uuid4().hex}"


NO_8BITMIME_PORT_OFFSET = 1  # next to MTA_SMTP_PORT (2525 -> 2526)


def _ehlo_keywords(host: str, port: int) -> set[str] | None:
    """The EHLO keywords a listener advertises, or None when it does not answer yet."""
    import smtplib

    try:
        with smtplib.SMTP(host, port, timeout=5) as client:
            code, _ = client.ehlo("probe.mimekit.test")
            return {k.lower() for k in client.esmtp_features} if code == 250 else None
    except OSError:
        return None


@pytest.fixture(scope="session")
def mta_without_8bitmime(mta: MTA) -> int:
    """The port of an extra Postfix listener that does not advertise 8BITMIME.

    The shared script's Postfix advertises 8BITMIME everywhere, so this adds one smtpd
    listener to the running (throwaway) instance's master.cf with
    ``smtpd_discard_ehlo_keywords = 8bitmime`` and reloads it; Postfix still accepts
    what it is sent, so the test sees exactly what the client chose to send.
    """
    state = Path(os.environ.get("MTA_STATE_DIR", "/tmp/mimekit-mta"))
    master = state / "conf" / "master.cf"
    if not master.is_file():
        _unavailable(f"no Postfix configuration at {master} (MTA_STATE_DIR)")
    if os.geteuid() != 0:
        _unavailable("adding a Postfix listener needs root")
    port = mta.smtp_port + NO_8BITMIME_PORT_OFFSET
    keywords = _ehlo_keywords(mta.host, port)
    if keywords is None:
        service = f"{mta.host}:{port} inet n - n - - smtpd"
        text = master.read_text()
        if service not in text:
            master.write_text(text.rstrip("\n") + "\n" + service + "\n"
                              "  -o syslog_name=postfix/no8bitmime\n"
                              "  -o smtpd_discard_ehlo_keywords=8bitmime\n")
        proc = subprocess.run(["postfix", "-c", str(master.parent), "reload"],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              check=False, timeout=60)
        if proc.returncode != 0:
            _unavailable(f"postfix reload failed: {proc.stderr.strip()[-300:]}")
        deadline = time.monotonic() + POLL_SECONDS
        while keywords is None and time.monotonic() < deadline:
            time.sleep(0.1)
            keywords = _ehlo_keywords(mta.host, port)
    if keywords is None:
        _unavailable(f"the added listener {mta.host}:{port} does not answer")
    assert keywords is not None
    if "8bitmime" in keywords:
        _unavailable(f"{mta.host}:{port} still advertises 8BITMIME: {sorted(keywords)}")
    return port
