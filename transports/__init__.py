"""mimekit.transports: deliver messages (SMTP, files, memory)."""

from __future__ import annotations
