"""Pure rules for attached documents: what a file really is (from its first bytes, never its name), size limits,
and a display name safe to show and to send back in a header."""

from __future__ import annotations

import re
import unicodedata

MAX_BYTES = 10 * 1024 * 1024  # a scanned multi-page record, not a whole chart
TARGETS = ("item", "claim", "appeal", "patient")

# (magic prefix, content type, extension): PDF, PNG, JPEG and both TIFF byte orders.
SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"II*\x00", "image/tiff", "tif"),
    (b"MM\x00*", "image/tiff", "tif"),
)
ALLOWED = "PDF, PNG, JPEG or TIFF"


def sniff(data: bytes) -> str | None:
    """The content type the bytes say they are, or None for anything we do not accept."""
    for magic, content_type, _ in SIGNATURES:
        if data.startswith(magic):
            return content_type
    return None


def extension(content_type: str) -> str:
    return next(ext for _, kind, ext in SIGNATURES if kind == content_type)


def upload_problem(filename: str, data: bytes) -> str | None:
    """Why this upload is refused (naming the field), or None."""
    if not data:
        return "file: the file is empty"
    if len(data) > MAX_BYTES:
        return f"file: {len(data) / 1024 / 1024:.1f} MB is over the {MAX_BYTES // 1024 // 1024} MB limit"
    if sniff(data) is None:
        return f"file: not a {ALLOWED} file (the content is checked, not the name)"
    if not display_name(filename):
        return "file: the file has no usable name"
    return None


def display_name(filename: str) -> str:
    """The uploaded name reduced to plain letters, digits, dots, dashes, underscores and spaces (≤ 120)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", ascii_name).strip(" ._")
    return cleaned[:120]
