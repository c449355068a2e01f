"""What the standard library complains about in a message: shared by the builder tests.

With policy.legacy_filename (the default) a non-ASCII Content-Type ``name`` is written in
the RFC 2047 form older Outlook reads; RFC 2047 §5 does not allow encoded words in a
quoted string, so the stdlib notes exactly these complaints about that one parameter,
and nothing else is allowed.
"""

from __future__ import annotations

import email.message
from typing import Any

LEGACY_NAME_COMPLAINTS = {"encoded word inside quoted string",
                          "missing trailing whitespace after encoded-word"}


def std_defects(msg: email.message.EmailMessage, *, legacy: bool = True) -> list[tuple[str, Any]]:
    """(header name or "", defect) for every part (walk) and every header object."""
    found: list[tuple[str, Any]] = []
    for part in msg.walk():
        found.extend(("", d) for d in part.defects)
        for name, value in part.items():
            for defect in getattr(value, "defects", ()):
                if legacy and name.lower() == "content-type" and \
                        str(defect) in LEGACY_NAME_COMPLAINTS:
                    continue
                found.append((name, defect))
    return found
