"""mimekit: compose, parse and send email.

The public face. Everything a user needs is importable from here::

    import mimekit
    msg = mimekit.compose().from_("a@example.org").to("b@example.org").text("hi").build()
    back = mimekit.parse(msg.to_bytes())

Transports live in :mod:`mimekit.transports`, which this module never imports.
"""

from .address import Address, Group, parse_address_list
from .builder import Builder, compose
from .errors import (
    AddressError,
    BuildError,
    Defect,
    EncodingError,
    HeaderInjectionError,
    MimekitError,
    ParseError,
)
from .headers import Header, Headers
from .mailbox import read_maildir, read_mbox
from .model import Message, Part
from .params import ContentDisposition, ContentType
from .parser import FeedParser, parse, parse_file, parse_stream
from .policy import DEFAULT, SMTPUTF8, STRICT, Policy

__version__ = "0.1.0"

__all__ = [  # noqa: RUF022 - plain sorted() order, pinned by tests/test_public_api.py
    "Address",
    "AddressError",
    "BuildError",
    "Builder",
    "ContentDisposition",
    "ContentType",
    "DEFAULT",
    "Defect",
    "EncodingError",
    "FeedParser",
    "Group",
    "Header",
    "HeaderInjectionError",
    "Headers",
    "Message",
    "MimekitError",
    "ParseError",
    "Part",
    "Policy",
    "SMTPUTF8",
    "STRICT",
    "__version__",
    "compose",
    "parse",
    "parse_address_list",
    "parse_file",
    "parse_stream",
    "read_maildir",
    "read_mbox",
]
