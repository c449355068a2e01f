"""The ``inspect --json`` view of a message (schema 1, see docs: inspect-json contract).

``message_to_dict(message)`` is what :meth:`mimekit.model.Message.to_dict` returns and
what the CLI prints: plain dicts, lists, strings, ints and None, JSON-serializable as
is. Every field of the contract is always present. Built without recursion (an explicit
stack), so deep trees cannot hit Python's recursion limit.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from mimekit.address import Address, Group
    from mimekit.model import Message, Part

__all__ = ["SCHEMA", "address_to_dict", "message_to_dict", "part_to_dict"]

SCHEMA = 1


def address_to_dict(item: Address | Group) -> dict[str, Any]:
    """``{"name", "address"}`` for a mailbox, ``{"group", "members"}`` for a group."""
    return dict(item.to_dict())


def _addresses(items: list[Address | Group]) -> list[dict[str, Any]]:
    return [address_to_dict(item) for item in items]


def _leaf_fields(part: Part, out: dict[str, Any]) -> None:
    """size/sha256 of the decoded content; charset/text for text leaves."""
    data = part.get_content()
    out["size"] = len(data)
    out["sha256"] = hashlib.sha256(data).hexdigest()
    if part._message is None and part.mime_type.startswith("text/"):
        out["text"] = part.get_text()
        out["charset"] = part.charset


def _one_part(part: Part, pid: str) -> dict[str, Any]:
    ctype = part.content_type
    params: dict[str, str] = {}
    for name, value in ctype.params:
        params.setdefault(name.lower(), value)
    out: dict[str, Any] = {
        "id": pid,
        "content_type": part.mime_type,
        "params": params,
        "disposition": part.disposition_kind,
        "filename": part.filename,
        "transfer_encoding": part.transfer_encoding,
        "headers": [[h.name, h.value] for h in part.headers],
        "charset": None,
        "size": None,
        "sha256": None,
        "text": None,
        "parts": [],
        "message": None,
        "defects": [],
    }
    if part._children is None:
        _leaf_fields(part, out)
    return out


def part_to_dict(root: Part) -> dict[str, Any]:
    """The part object of the contract for ``root`` and everything below it."""
    result = _one_part(root, root.id)
    # (part, its dict) pairs whose children/message still need filling.
    stack: list[tuple[Part, dict[str, Any]]] = [(root, result)]
    filled: list[tuple[Part, dict[str, Any]]] = []
    while stack:
        part, out = stack.pop()
        filled.append((part, out))
        pid = out["id"]
        if part._message is not None:
            child_out = _one_part(part._message, pid)
            out["message"] = child_out
            stack.append((part._message, child_out))
        elif part._children is not None:
            for index, child in enumerate(part._children, 1):
                cid = f"{pid}.{index}" if pid else str(index)
                child_out = _one_part(child, cid)
                out["parts"].append(child_out)
                stack.append((child, child_out))
    # Defects last, once everything has been decoded (lazy decoding adds defects).
    for part, out in filled:
        out["defects"] = [d.to_dict() for d in part.defects_as(out["id"])]
    return result


def _attachment(part: Part) -> dict[str, Any]:
    data = part.get_content()
    return {
        "part": part.id,
        "filename": part.filename,
        "content_type": part.mime_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "disposition": part.disposition_kind,
    }


def message_to_dict(message: Message) -> dict[str, Any]:
    """The whole ``inspect --json`` object for ``message``."""
    date = message.date
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "subject": message.subject,
        "from": _addresses(message.from_),
        "sender": _addresses(message.sender),
        "reply_to": _addresses(message.reply_to),
        "to": _addresses(message.to),
        "cc": _addresses(message.cc),
        "bcc": _addresses(message.bcc),
        "date": date.isoformat() if date is not None else None,
        "message_id": message.message_id,
        "in_reply_to": message.in_reply_to,
        "references": message.references,
        "text": message.text,
        "html": message.html,
        "attachments": [_attachment(p) for p in message.attachments],
        "defects": [],
    }
    result["root"] = part_to_dict(message)
    result["defects"] = [d.to_dict() for d in message.all_defects]
    return result
