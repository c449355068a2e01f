"""Content sniffing: a MIME type for an attachment from its first bytes and name.

Order: libmagic (through python-magic, when it imports and gives a specific
answer) -> a small built-in signature table -> :mod:`mimetypes` by file name ->
``text/plain`` for data that looks like text -> ``application/octet-stream``.

This is the only module that imports ``magic``, lazily: python-magic raises at
import time when the libmagic shared library is missing, and mimekit must work
without it. Container formats (ZIP, OLE2) are refined by the file name, because
``.docx``, ``.xlsx``, ``.odt``, ``.epub``, ``.jar`` are all ZIP files and ``.doc``,
``.xls``, ``.msg`` all OLE2 files. A TNEF answer is checked against the data
(see :func:`_is_tnef`): its 4-byte signature alone proves nothing.
"""

from __future__ import annotations

import codecs
import functools
import mimetypes
from collections.abc import Callable

__all__ = ["guess_type"]

OCTET = "application/octet-stream"
_SNIFF_BYTES = 2048
_TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"  # MS-OXTNEF §2.1.3, 0x223E9F78 little-endian

# Answers that say "I don't know" or only name a container: the file name may do better.
_GENERIC = frozenset(
    {
        OCTET,
        "text/plain",
        "application/zip",
        "application/x-zip-compressed",
        "application/x-ole-storage",
        "application/cdfv2",
        "application/vnd.ms-office",
        "application/encrypted",
        "inode/x-empty",
        "application/x-empty",
        "application/x-empty-file",
        # libmagic's weak guesses, known false positives on arbitrary binary data
        "image/x-tga",
        "application/x-dbf",
        "audio/x-mp4a-latm",
        "application/x-tex-tfm",
    }
)
_ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})
_OLE_TYPES = frozenset(
    {"application/x-ole-storage", "application/cdfv2", "application/vnd.ms-office"}
)
# TNEF is named by its 4-byte signature (libmagic and the table below) or by the name
# winmail.dat, neither of which says the bytes are a stream the reader accepts.
_TNEF_TYPES = frozenset({"application/vnd.ms-tnef", "application/ms-tnef", "application/x-tnef"})


@functools.lru_cache(maxsize=1)
def _load_magic() -> Callable[[bytes], str] | None:
    """A function giving libmagic's MIME type for a buffer, or None without libmagic."""
    try:
        import magic
    except (ImportError, OSError):
        return None
    try:
        detector = magic.Magic(mime=True)
    except Exception:  # noqa: BLE001 - libmagic present but its database is not
        return None

    def from_buffer(data: bytes) -> str:
        return str(detector.from_buffer(data))

    return from_buffer


def _magic_type(data: bytes) -> str | None:
    detect = _load_magic()
    if detect is None or not data:
        return None
    try:
        answer = detect(data[:_SNIFF_BYTES]).strip().lower()
    except Exception:  # noqa: BLE001 - a libmagic failure must not break composing a message
        return None
    if "/" not in answer:
        return None
    return answer.split(";", 1)[0].strip()


_OOXML = (
    (b"word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (b"ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)


def _zip_type(head: bytes) -> str:
    # ODF and EPUB store an uncompressed "mimetype" member first: the type follows
    # the 30-byte local header and the 8-byte name, at offset 38.
    if head[30:38] == b"mimetype":
        end = head.find(b"PK", 38)
        declared = head[38 : end if end > 0 else 38 + 80]
        if declared.isascii() and b"/" in declared:
            return declared.decode("ascii").strip()
    if b"[Content_Types].xml" in head or b"_rels/.rels" in head:
        for marker, mime in _OOXML:
            if marker in head:
                return mime
    return "application/zip"


def _ftyp(head: bytes) -> str:
    brand = head[8:12]
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return "audio/mp4"
    if brand == b"qt  ":
        return "video/quicktime"
    if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
        return "image/heic"
    if brand in (b"avif", b"avis"):
        return "image/avif"
    if brand in (b"3gp4", b"3gp5", b"3gp6", b"3gg6"):
        return "video/3gpp"
    return "video/mp4"


_NETPBM = {
    b"1": "image/x-portable-bitmap",
    b"4": "image/x-portable-bitmap",
    b"2": "image/x-portable-graymap",
    b"5": "image/x-portable-graymap",
    b"3": "image/x-portable-pixmap",
    b"6": "image/x-portable-pixmap",
}


def _signature(head: bytes) -> str | None:
    """Built-in magic numbers for the formats mail actually carries."""
    prefixes: tuple[tuple[bytes, str], ...] = (
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"\x1f\x8b", "application/gzip"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
        (b"ID3", "audio/mpeg"),
        (b"OggS", "audio/ogg"),
        (b"fLaC", "audio/flac"),
        (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
        (b"Rar!\x1a\x07", "application/vnd.rar"),
        (b"BZh", "application/x-bzip2"),
        (b"\xfd7zXZ\x00", "application/x-xz"),
        (b"\x28\xb5\x2f\xfd", "application/zstd"),
        (b"%!", "application/postscript"),
        (_TNEF_SIGNATURE, "application/vnd.ms-tnef"),  # winmail.dat; see _is_tnef
        (b".snd", "audio/basic"),
        (b"{\\rtf", "application/rtf"),
        (b"wOFF", "font/woff"),
        (b"wOF2", "font/woff2"),
        (b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
        (b"\x7fELF", "application/x-executable"),
        (b"MZ", "application/vnd.microsoft.portable-executable"),
        (b"BEGIN:VCALENDAR", "text/calendar"),
        (b"BEGIN:VCARD", "text/vcard"),
    )
    for magic_bytes, mime in prefixes:
        if head.startswith(magic_bytes):
            if mime == "audio/ogg" and b"theora" in head[:128]:
                return "video/ogg"
            return mime
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _zip_type(head)
    if head[:4] == b"RIFF" and len(head) >= 12:
        kind = head[8:12]
        if kind == b"WEBP":
            return "image/webp"
        if kind == b"WAVE":
            return "audio/wav"
        if kind == b"AVI ":
            return "video/x-msvideo"
    if head[4:8] == b"ftyp":
        return _ftyp(head)
    if head[:2] == b"BM" and len(head) >= 26 and head[6:10] == b"\0\0\0\0":
        return "image/bmp"
    if head[:1] == b"P" and head[1:2] in b"123456" and head[2:3] in (b"\n", b"\r", b" ", b"#"):
        return _NETPBM[head[1:2]]
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if text.startswith((b"<?xml", b"<svg")):
        return "image/svg+xml" if b"<svg" in head[:1024].lower() else "application/xml"
    return None


_OOXML_BASE = "application/vnd.openxmlformats-officedocument."
# Extensions mail carries, answered the same on every system (mimetypes reads
# /etc/mime.types, which differs between machines or is missing in containers).
_EXTENSIONS: dict[str, str] = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".html": "text/html",
    ".htm": "text/html",
    ".ics": "text/calendar",
    ".vcf": "text/vcard",
    ".md": "text/markdown",
    ".json": "application/json",
    ".xml": "application/xml",
    ".eml": "message/rfc822",
    ".msg": "application/vnd.ms-outlook",
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".ppt": "application/vnd.ms-powerpoint",
    ".docx": _OOXML_BASE + "wordprocessingml.document",
    ".xlsx": _OOXML_BASE + "spreadsheetml.sheet",
    ".pptx": _OOXML_BASE + "presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".epub": "application/epub+zip",
    ".rtf": "application/rtf",
    ".zip": "application/zip",
    ".7z": "application/x-7z-compressed",
    ".rar": "application/vnd.rar",
    ".tar": "application/x-tar",
    ".gz": "application/gzip",
    ".tgz": "application/gzip",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".heic": "image/heic",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".ico": "image/vnd.microsoft.icon",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".p7s": "application/pkcs7-signature",
    ".asc": "application/pgp-signature",
}

_COMPRESSION = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}


def _by_name(filename: str | None) -> str | None:
    if not filename:
        return None
    # Only the last path component: names from mail may carry either separator.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if "." not in name:
        return None
    ext = "." + name.rsplit(".", 1)[-1].lower()
    if name.lower() == "winmail.dat":
        return "application/vnd.ms-tnef"
    known = _EXTENSIONS.get(ext)
    if known is not None:
        return known
    mime, encoding = mimetypes.guess_type("file" + ext, strict=False)
    if encoding is not None:
        return _COMPRESSION.get(encoding, OCTET)
    # mimetypes keeps the case of its tables (e.g. "application/vnd.ms-excel.addin.macroEnabled.12").
    return mime.lower() if mime is not None else None


def _looks_like_text(head: bytes, cut: bool) -> bool:
    """Whether ``head`` is UTF-8 text without NUL. ``cut``: more data follows, so a
    multibyte character cut by the 2 KB window still counts as text; without a cut an
    incomplete or invalid sequence anywhere (``b'x\\x9f>"'``) is binary, since a text
    part that does not decode comes back with a charset defect."""
    if not head or b"\0" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=not cut)
    except UnicodeDecodeError:
        return False
    return True


def _is_tnef(head: bytes, size: int) -> bool:
    """Whether the ``size``-byte body starting with ``head`` is a TNEF stream the
    reader accepts (see :func:`mimekit.tnef.looks_like_tnef`; bounded by ``head``).

    A TNEF label on anything else makes the receiving side, mimekit's own parse
    included, record ``MalformedTnef``. Imported lazily: most data is not TNEF.
    """
    if head[:4] != _TNEF_SIGNATURE:
        return False
    from mimekit.tnef import looks_like_tnef

    return looks_like_tnef(head, size)


def guess_type(data: bytes | None, filename: str | None) -> str:
    """The MIME type for ``data`` named ``filename``; never raises.

    libmagic's answer wins when it is specific; a generic one (octet-stream,
    text/plain, a bare ZIP/OLE2 container) lets the built-in signatures and then
    the file name refine it. Without data or libmagic the built-in table and the
    file name decide. The result is lower case ``type/subtype``.

    TNEF (by libmagic, the signature or the name ``winmail.dat``) is answered only
    for data that is a TNEF stream (:func:`_is_tnef`), since a part so labelled is
    parsed as one; otherwise the next guess applies. Without data the name decides.
    """
    head = bytes(data[:_SNIFF_BYTES]) if data else b""
    size = len(data) if data else 0
    not_tnef = not _is_tnef(head, size)  # cheap unless the data starts with the signature
    by_name = _by_name(filename)
    if data is not None and by_name in _TNEF_TYPES and not_tnef:
        by_name = None  # "winmail.dat" holding something else

    magic = _magic_type(head)
    if magic in _TNEF_TYPES and not_tnef:
        magic = OCTET  # libmagic matched the signature only: "I don't know"
    if magic is not None and magic not in _GENERIC:
        return magic

    sig = _signature(head) if head else None
    if sig in _TNEF_TYPES and not_tnef:
        sig = None
    if sig is not None:
        if by_name is not None and (
            (sig in _ZIP_TYPES and by_name not in _ZIP_TYPES)
            or (sig in _OLE_TYPES and by_name != OCTET)
        ):
            return by_name  # a container refined by its name (.docx, .epub, .msg)
        return sig
    if magic in _ZIP_TYPES or magic in _OLE_TYPES:
        return by_name or magic or OCTET
    if by_name is not None:
        return by_name
    if magic == "text/plain" or (magic is None and _looks_like_text(head, size > len(head))):
        return "text/plain"
    return OCTET
