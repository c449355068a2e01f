"""The ``inspect --json`` view of a message (schema 1, see docs: inspect-json contract).

``message_to_dict(message)`` is what :meth:`mimekit.model.Message.to_dict` returns and
what the CLI prints: plain dicts, lists, strings, ints and None, JSON-serializable as
is. Every field of the contract is always present. Built without recursion (an explicit
stack), so deep trees cannot hit Python's recursion limit.

The two text views are renderings of that same dict: ``inspect_text`` (the readable tree
``mimekit inspect`` prints) and ``tree_text`` (the compact form of the golden files).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from mimekit._derived import DerivedPart

if TYPE_CHECKING:  # pragma: no cover
    from mimekit.address import Address, Group
    from mimekit.model import Message, Part

__all__ = [
    "SCHEMA",
    "address_to_dict",
    "inspect_text",
    "message_to_dict",
    "part_to_dict",
    "tree_text",
]

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
        out["text"] = part._text_of(data)
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
        "report": None,
    }
    if part._children is None:
        _leaf_fields(part, out)
        report = part.report
        if report is not None:
            out["report"] = report.to_dict()
    return out


def part_to_dict(root: Part, collect: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The part object of the contract for ``root`` and everything below it
    (``collect``, when given, gathers each part's dict by ``id(part)``)."""
    result = _one_part(root, root.id)
    # (part, its dict) pairs whose children/message still need filling.
    stack: list[tuple[Part, dict[str, Any]]] = [(root, result)]
    filled: list[tuple[Part, dict[str, Any]]] = []
    while stack:
        part, out = stack.pop()
        filled.append((part, out))
        if collect is not None:
            collect[id(part)] = out
        pid = out["id"]
        embedded = part.message if part._children is None else None
        if embedded is not None:
            child_out = _one_part(embedded, pid)
            out["message"] = child_out
            stack.append((embedded, child_out))
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


def _attachment(part: Part, pid: str, known: dict[str, Any] | None) -> dict[str, Any]:
    if known is not None and known["sha256"] is not None:
        size, digest = known["size"], known["sha256"]  # decoded once, for the tree
    else:
        data = part.get_content()
        size, digest = len(data), hashlib.sha256(data).hexdigest()
    out = {
        "part": pid,
        "filename": part.filename,
        "content_type": part.mime_type,
        "size": size,
        "sha256": digest,
        "disposition": part.disposition_kind,
    }
    if isinstance(part, DerivedPart):
        # Added field: a file found inside part ``pid`` ("tnef", "uuencode").
        out["from"] = part.source
    return out


def _attachments(
    message: Message, index: dict[int, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    # Section ids from one top-down walk (Part.id per part would be quadratic).
    ids = {id(p): pid for p, pid in message.walk_ids()}
    return [
        _attachment(p, ids[id(p.origin if isinstance(p, DerivedPart) else p)],
                    None if isinstance(p, DerivedPart) or index is None else index.get(id(p)))
        for p in message.attachments
    ]


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
        "attachments": [],
        "defects": [],
    }
    index: dict[int, dict[str, Any]] = {}
    result["root"] = part_to_dict(message, index)
    result["attachments"] = _attachments(message, index)
    # Every defect of the tree in tree order: the per-part lists the tree just made
    # (Message.all_defects would analyse every part a second time).
    defects: list[dict[str, Any]] = []
    for part, _pid in message.walk_ids():
        node = index.get(id(part))
        defects.extend(node["defects"] if node is not None else
                       (d.to_dict() for d in part.defects_as(_pid)))
    result["defects"] = defects
    return result


# -- text forms -------------------------------------------------------------------------
#
# Two renderings of one walk: ``tree_text`` (compact and stable, for golden files) and
# ``inspect_text`` (what ``mimekit inspect`` prints for people). Both read the dict
# ``message_to_dict`` builds, so each leaf is decoded and hashed once and the text views
# always agree with ``inspect --json``.


class _TreeNode(NamedTuple):
    """One part met by ``_tree_nodes``: the part, its ``inspect --json`` part object
    (``info``), its depth below the root, and whether it is the root of an embedded
    message (the content of a message/rfc822 part, which shares that part's id)."""

    part: Part
    info: dict[str, Any]
    depth: int
    embedded: bool


def _tree_nodes(message: Message, doc: dict[str, Any]) -> Iterator[_TreeNode]:
    """Every part of ``message`` in tree order (pre-order, into embedded messages),
    paired with its part object from ``doc`` (``message_to_dict(message)``).
    Iterative, so deep trees cannot hit the recursion limit."""
    stack = [_TreeNode(message, doc["root"], 0, False)]
    while stack:
        node = stack.pop()
        yield node
        part, info, depth = node.part, node.info, node.depth + 1
        if info["message"] is not None:
            inner = part.message  # cached by the part: the very object the dict came from
            assert inner is not None
            stack.append(_TreeNode(inner, info["message"], depth, True))
        elif part._children is not None:
            pairs = list(zip(part._children, info["parts"]))
            stack.extend(_TreeNode(child, child_info, depth, False)
                         for child, child_info in reversed(pairs))


def _q(text: str | None) -> str:
    return "-" if text is None else json.dumps(text, ensure_ascii=False)


def tree_text(message: Message) -> str:
    """A compact, stable text summary of the tree (for golden files and eyeballing):
    one line per part (section id, type, charset, disposition, file name, transfer
    encoding, decoded size, SHA-256 prefix, defect kinds), reports, then attachments."""
    doc = message_to_dict(message)
    lines: list[str] = []
    for node in _tree_nodes(message, doc):
        info, indent = node.info, "  " * node.depth
        pid = info["id"]
        fields = [indent + ("message " if node.embedded else "part ") + (pid or "root"),
                  info["content_type"]]
        if info["size"] is not None:  # a leaf: its content was decoded
            if info["text"] is not None:  # a text leaf (not an embedded message)
                fields.append(f"charset={info['charset']}")
            fields.append(f"size={info['size']} sha={info['sha256'][:12]}")
        if info["disposition"] is not None:
            fields.append(f"disp={info['disposition']}")
        if info["filename"] is not None:
            fields.append(f"name={_q(info['filename'])}")
        if info["transfer_encoding"] != "7bit":
            fields.append(f"cte={info['transfer_encoding']}")
        if info["size"] is None:  # a multipart
            fields.append(f"parts={len(info['parts'])}")
        kinds = sorted({d["kind"] for d in info["defects"]})
        if kinds:
            fields.append("defects=" + ",".join(kinds))
        lines.append(" ".join(fields))
        if info["report"] is not None:
            lines.append(indent + f"  report {type(node.part.report).__name__}")
    for att in doc["attachments"]:
        lines.append(
            f"attachment {att['part'] or 'root'} {att.get('from', 'mime')} "
            f"{_q(att['filename'])} {att['content_type']} size={att['size']} "
            f"sha={att['sha256'][:12]}"
        )
    return "\n".join(lines) + "\n"


def _addresses_text(items: list[dict[str, Any]]) -> str:
    """Address objects of the JSON as a header would show them (groups as ``name: ...;``)."""
    out = []
    for item in items:
        if "group" in item:
            out.append(f"{item['group']}: {_addresses_text(item['members'])};")
        elif item["name"]:
            out.append(f"{item['name']} <{item['address']}>")
        else:
            out.append(item["address"])
    return ", ".join(out)


def _human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def inspect_text(message: Message, label: str) -> str:
    """What ``mimekit inspect FILE`` prints for one message (docs/cli.md): ``label``,
    the Subject, From, To, Cc and Date, one indented line per part (section id, type,
    charset, disposition, file name, size, transfer encoding, defect count), then every
    defect with where it was found."""
    doc = message_to_dict(message)
    lines = [label]
    if doc["subject"] is not None:
        lines.append(f"  Subject: {doc['subject']}")
    for field, title in (("from", "From"), ("to", "To"), ("cc", "Cc")):
        if doc[field]:
            lines.append(f"  {title}: {_addresses_text(doc[field])}")
    if doc["date"]:
        lines.append(f"  Date: {doc['date']}")
    lines.append("")
    located: list[tuple[dict[str, Any], str]] = []  # each defect, with its part's label
    for node in _tree_nodes(message, doc):
        info = node.info
        # the message inside a message/rfc822 part shares that part's section id
        label = (info["id"] or "root") + (" (message)" if node.embedded else "")
        located.extend((d, label) for d in info["defects"])
        bits = [label, info["content_type"]]
        if info["charset"]:
            bits.append(f"charset={info['charset']}")
        if info["disposition"]:
            bits.append(info["disposition"])
        if info["filename"]:
            bits.append(json.dumps(info["filename"], ensure_ascii=False))
        if info["size"] is not None:
            bits.append(_human_size(info["size"]))
        if info["transfer_encoding"] not in ("7bit", ""):
            bits.append(info["transfer_encoding"])
        count = len(info["defects"])
        if count:
            bits.append(f"[{count} defect{'s' if count > 1 else ''}]")
        lines.append("  " * node.depth + "  ".join(bits))
    if doc["defects"]:
        lines.append("")
        lines.append(f"defects ({len(doc['defects'])}):")
        if len(located) != len(doc["defects"]):  # defects not tied to a part: as listed
            located = [(d, d["part"] or "root") for d in doc["defects"]]
        for defect, label in located:
            where = f"part {label}"
            if defect["header"]:
                where += f", {defect['header']}"
            if defect["offset"] is not None:
                where += f", byte {defect['offset']}"
            lines.append(f"  {defect['kind']} ({where}): {defect['detail']}")
    return "\n".join(lines) + "\n"


# -- schema check ---------------------------------------------------------------------

# docs/inspect-json.md: a disposition is "inline", "attachment" or null (an unknown
# type is reported as attachment, RFC 2183 §2.8, with an UnknownDisposition defect).
_DISPOSITION_VALUES = ("inline", "attachment", None)
_ADDRESS_KEYS = {"name", "address"}
_GROUP_KEYS = {"group", "members"}
_DEFECT_KEYS = {"part", "kind", "detail", "header", "offset"}
_ATTACHMENT_KEYS = {"part", "filename", "content_type", "size", "sha256", "disposition"}
_PART_KEYS = {
    "id", "content_type", "params", "disposition", "filename", "transfer_encoding", "headers",
    "charset", "size", "sha256", "text", "parts", "message", "defects",
}
_TOP_KEYS = {
    "schema", "subject", "from", "sender", "reply_to", "to", "cc", "bcc", "date", "message_id",
    "in_reply_to", "references", "text", "html", "attachments", "defects", "root",
}


def _is(value: Any, *types: type) -> bool:
    return any(
        (value is None) if t is type(None) else (isinstance(value, t) and not (
            t is int and isinstance(value, bool)))
        for t in types
    )


def _check_keys(obj: Any, keys: set[str], where: str, errors: list[str]) -> bool:
    if not isinstance(obj, dict):
        errors.append(f"{where}: not an object")
        return False
    missing = keys - obj.keys()
    if missing:
        errors.append(f"{where}: missing {sorted(missing)}")
        return False
    return True


def _check_address(obj: Any, where: str, errors: list[str]) -> None:
    if isinstance(obj, dict) and "group" in obj:
        if _check_keys(obj, _GROUP_KEYS, where, errors):
            if not _is(obj["group"], str) or not isinstance(obj["members"], list):
                errors.append(f"{where}: bad group")
            else:
                for i, member in enumerate(obj["members"]):
                    if _check_keys(member, _ADDRESS_KEYS, f"{where}.members[{i}]", errors):
                        _check_mailbox(member, f"{where}.members[{i}]", errors)
        return
    if _check_keys(obj, _ADDRESS_KEYS, where, errors):
        _check_mailbox(obj, where, errors)


def _check_mailbox(obj: dict[str, Any], where: str, errors: list[str]) -> None:
    if not _is(obj["name"], str, type(None)) or not _is(obj["address"], str):
        errors.append(f"{where}: bad address types")


def _check_defect(obj: Any, where: str, errors: list[str]) -> None:
    if _check_keys(obj, _DEFECT_KEYS, where, errors) and not (
        _is(obj["part"], str) and _is(obj["kind"], str) and _is(obj["detail"], str)
        and _is(obj["header"], str, type(None)) and _is(obj["offset"], int, type(None))
    ):
        errors.append(f"{where}: bad defect types")


def _check_part(root: Any, where: str, errors: list[str]) -> None:
    stack: list[tuple[Any, str]] = [(root, where)]
    while stack:
        obj, at = stack.pop()
        if not _check_keys(obj, _PART_KEYS, at, errors):
            continue
        checks = [
            _is(obj["id"], str), _is(obj["content_type"], str), isinstance(obj["params"], dict),
            _is(obj["disposition"], str, type(None)), _is(obj["filename"], str, type(None)),
            _is(obj["transfer_encoding"], str), isinstance(obj["headers"], list),
            _is(obj["charset"], str, type(None)), _is(obj["size"], int, type(None)),
            _is(obj["sha256"], str, type(None)), _is(obj["text"], str, type(None)),
            isinstance(obj["parts"], list), isinstance(obj["defects"], list),
        ]
        if not all(checks):
            errors.append(f"{at}: bad field types")
            continue
        if obj["content_type"] != obj["content_type"].lower():
            errors.append(f"{at}: content_type not lower case")
        if obj["disposition"] not in _DISPOSITION_VALUES:
            errors.append(f"{at}.disposition: not inline, attachment or null")
        for key, value in obj["params"].items():
            if not (_is(key, str) and _is(value, str)) or key != key.lower():
                errors.append(f"{at}.params: bad entry {key!r}")
        for i, pair in enumerate(obj["headers"]):
            if not (isinstance(pair, list) and len(pair) == 2 and all(_is(x, str) for x in pair)):
                errors.append(f"{at}.headers[{i}]: not [name, value]")
        for i, defect in enumerate(obj["defects"]):
            _check_defect(defect, f"{at}.defects[{i}]", errors)
        if not isinstance(obj.get("report"), (dict, type(None))):
            errors.append(f"{at}.report: not an object or null")
        if obj["message"] is not None:
            stack.append((obj["message"], f"{at}.message"))
        for i, child in enumerate(obj["parts"]):
            stack.append((child, f"{at}.parts[{i}]"))


def schema_errors(obj: Any) -> list[str]:
    """Where ``obj`` (e.g. ``json.loads`` of ``inspect --json``) breaks the schema-1
    contract: every field present with its type, recursively; empty when valid."""
    errors: list[str] = []
    if not _check_keys(obj, _TOP_KEYS, "$", errors):
        return errors
    if obj["schema"] != SCHEMA:
        errors.append("$.schema: not 1")
    for key in ("subject", "date", "message_id", "text", "html"):
        if not _is(obj[key], str, type(None)):
            errors.append(f"$.{key}: not a string or null")
    for key in ("from", "sender", "reply_to", "to", "cc", "bcc"):
        if not isinstance(obj[key], list):
            errors.append(f"$.{key}: not a list")
            continue
        for i, item in enumerate(obj[key]):
            _check_address(item, f"$.{key}[{i}]", errors)
    for key in ("in_reply_to", "references"):
        if not (isinstance(obj[key], list) and all(_is(x, str) for x in obj[key])):
            errors.append(f"$.{key}: not a list of strings")
    if isinstance(obj["attachments"], list):
        for i, att in enumerate(obj["attachments"]):
            if _check_keys(att, _ATTACHMENT_KEYS, f"$.attachments[{i}]", errors) and not (
                _is(att["part"], str) and _is(att["content_type"], str)
                and _is(att["size"], int) and _is(att["sha256"], str)
                and _is(att["filename"], str, type(None))
                and _is(att["disposition"], str, type(None))
            ):
                errors.append(f"$.attachments[{i}]: bad types")
            elif att["disposition"] not in _DISPOSITION_VALUES:
                errors.append(f"$.attachments[{i}].disposition: not inline, attachment or null")
            elif isinstance(att, dict) and not _is(att.get("from"), str, type(None)):
                errors.append(f"$.attachments[{i}].from: not a string")
    else:
        errors.append("$.attachments: not a list")
    if isinstance(obj["defects"], list):
        for i, defect in enumerate(obj["defects"]):
            _check_defect(defect, f"$.defects[{i}]", errors)
    else:
        errors.append("$.defects: not a list")
    _check_part(obj["root"], "$.root", errors)
    return errors
