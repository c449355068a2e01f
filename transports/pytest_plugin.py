"""pytest plugin (registered through the ``pytest11`` entry point as ``mimekit``).

Fixtures:

- ``outbox``: a fresh :class:`~mimekit.transports.memory.MemoryTransport` per
  test. Hand it to the code under test as its transport, then assert::

      def test_welcome(outbox):
          send_welcome(outbox, "bo@example.net")
          outbox.assert_sent(count=1, to="bo@example.net", subject="Welcome")

- ``shared_outbox``: a MemoryTransport whose outbox is a temporary directory,
  with ``MIMEKIT_TRANSPORT`` set to ``memory:<that directory>`` for the test,
  so messages sent by a subprocess (``mimekit send``, a worker) appear in it.

Imports of mimekit happen inside the fixtures, so merely having the plugin
installed never imports (or breaks) anything in an unrelated test run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

if TYPE_CHECKING:
    from mimekit.transports.memory import MemoryTransport

__all__ = ["outbox", "shared_outbox"]


@pytest.fixture
def outbox() -> Iterator[MemoryTransport]:
    """A fresh in-memory transport whose sends are kept for assertions."""
    from mimekit.transports.memory import MemoryTransport

    transport = MemoryTransport()
    try:
        yield transport
    finally:
        transport.close()


@pytest.fixture
def shared_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryTransport]:
    """A directory-backed MemoryTransport; ``MIMEKIT_TRANSPORT`` points at it."""
    from mimekit.transports.memory import MemoryTransport

    directory = tmp_path / "mimekit-outbox"
    transport = MemoryTransport(path=directory)
    # Percent-encoded: a base temp directory holding "#", "?" or "%" must not be
    # read as a URL fragment, a query or an escape by the process that parses it.
    monkeypatch.setenv("MIMEKIT_TRANSPORT", f"memory:{quote(str(directory))}")
    try:
        yield transport
    finally:
        transport.close()
