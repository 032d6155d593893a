"""What a file is, from its bytes: never from its name or the browser's Content-Type.

Only kinds that are evidence and that a browser will not run are accepted:
images (PNG, JPEG, GIF, WebP, HEIC/HEIF), PDF, plain text and saved e-mails
(RFC 822). Markup (HTML, SVG, XML) is refused even though it is text: opened
from a download it runs scripts, and it is never what a threat looks like.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.errors import N_


@dataclass(frozen=True)
class FileKind:
    media_type: str  # what the file is served as
    extensions: tuple[str, ...]  # first one is added when the name lacks a fitting one
    label: str  # English msgid for the interface


PNG = FileKind("image/png", (".png",), N_("PNG image"))
JPEG = FileKind("image/jpeg", (".jpg", ".jpeg", ".jfif"), N_("JPEG image"))
GIF = FileKind("image/gif", (".gif",), N_("GIF image"))
WEBP = FileKind("image/webp", (".webp",), N_("WebP image"))
HEIC = FileKind("image/heic", (".heic", ".heif"), N_("HEIC image"))
PDF = FileKind("application/pdf", (".pdf",), N_("PDF document"))
TEXT = FileKind("text/plain", (".txt", ".text", ".log"), N_("Text file"))
EMAIL = FileKind("message/rfc822", (".eml",), N_("E-mail"))

KINDS = (PNG, JPEG, GIF, WEBP, HEIC, PDF, TEXT, EMAIL)
BY_MEDIA_TYPE = {kind.media_type: kind for kind in KINDS}

# ISO base media file brands of HEIF still images (an MP4 video has others).
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"}
# A header field name: printable ASCII except the colon (RFC 5322 section 2.2).
_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
# Headers of which a saved message carries several; one is not enough to say "e-mail".
_MAIL_HEADERS = {
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"received",
    b"return-path",
    b"mime-version",
    b"content-type",
    b"reply-to",
    b"delivered-to",
}
_MARKUP = re.compile(rb"<\s*(!doctype|html|svg|script|\?xml|body|head|iframe|object|embed)\b", re.I)
_STARTS_AS_MARKUP = re.compile(r"^[\ufeff\s]*<[A-Za-z!?/]")
# Control characters that never occur in a text file (tab, LF, FF and CR excepted);
# the same bytes in UTF-8 and cp1252.
_BINARY_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def detect(content: bytes) -> FileKind | None:
    """The kind of file ``content`` is, or None when it is none of the accepted kinds."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return WEBP
    if content[4:8] == b"ftyp" and _is_heif(content):
        return HEIC
    if content.startswith(b"%PDF-"):
        return PDF
    if _is_email(content):
        return EMAIL
    if _is_plain_text(content):
        return TEXT
    return None


def _is_heif(content: bytes) -> bool:
    box_size = int.from_bytes(content[0:4], "big")
    if box_size < 16 or box_size > len(content) or box_size > 4096:
        return False
    brands = [content[8:12]] + [content[i : i + 4] for i in range(16, box_size, 4)]
    return any(brand in _HEIF_BRANDS for brand in brands)


def _is_email(content: bytes) -> bool:
    """A saved message: a block of header fields, then a blank line, then the body.

    Checked line by line rather than with the email package alone, which takes
    almost anything as a message with no headers.
    """
    if b"\x00" in content:
        return False
    head, separator, _body = content.partition(b"\n\n")
    if not separator:
        head, separator, _body = content.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    if lines[0].startswith(b"From "):
        lines = lines[1:]  # the envelope line of a message saved from an mbox
    if not lines or not _HEADER_LINE.match(lines[0]):
        return False
    names: set[bytes] = set()
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            continue  # a folded continuation of the previous field
        if not _HEADER_LINE.match(line):
            return False
        names.add(line.split(b":", 1)[0].strip().lower())
    # A sender and at least two more of the usual fields.
    return b"from" in names and len(names & _MAIL_HEADERS) >= 3


def _is_plain_text(content: bytes) -> bool:
    if not content or _BINARY_CONTROLS.search(content):
        return False
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        # Windows Notepad's ANSI files: Swedish letters in cp1252.
        try:
            text = content.decode("cp1252")
        except UnicodeDecodeError:
            return False
    # Markup is text too, but not evidence, and a browser would run it.
    return _MARKUP.search(content) is None and _STARTS_AS_MARKUP.match(text) is None
