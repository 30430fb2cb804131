"""Files members and staff upload: the type is read from the content, never trusted from the
name, and the name must agree with it. The content must also be what its type promises: an
image that decodes, a PDF that ends like one and carries no script, and never markup a browser
could be tricked into running."""

from __future__ import annotations

import io
import re

import filetype

from nextwork.common.errors import InvalidInput

# Content type -> the extensions a file of that type may carry.
IMAGES_AND_PDF = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/webp": (".webp",),
}

NAMES = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP"}

# What browsers sniff at the start of a file: markup there makes a polyglot (a "PNG" or "PDF"
# that a browser ignoring its type would run as a page).
MARKUP = re.compile(rb"<\s*(?:script|html|body|iframe|svg|!doctype\s+html)\b", re.I)
# PDF features that run code or open other files in a reader.
PDF_ACTIVE = re.compile(rb"/(?:JavaScript|JS|Launch|EmbeddedFile|RichMedia|XFA)\b")
PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
MAX_PIXELS = 40_000_000  # 40 megapixels: beyond, a "photo" is a decompression bomb


def checked_upload(
    name: str, data: bytes, *, types: dict[str, tuple[str, ...]], max_bytes: int, field: str
) -> tuple[str, str, bytes]:
    """``(clean name, content type, data)`` of an accepted file; ``InvalidInput`` naming
    ``field`` for an empty, oversized, unknown or mislabelled one."""
    if not data:
        raise InvalidInput("The file is empty.", field=field)
    if len(data) > max_bytes:
        raise InvalidInput(
            f"The file is {len(data) / 2**20:.1f} MB; at most {max_bytes / 2**20:g} MB are "
            "accepted.",
            field=field,
        )
    kind = filetype.guess(data)
    mime = kind.mime if kind else None
    if mime not in types:
        names = [NAMES.get(m, m) for m in types]
        accepted = " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]
        raise InvalidInput(
            f"Only {accepted} files are accepted" + (f" (this one is {mime})." if mime else "."),
            field=field,
        )
    _check_content(data, mime, field)
    clean_name = re.sub(r"[^\w.\- ]", "_", (name or "").strip())[:150] or "fichier"
    if not clean_name.lower().endswith(types[mime]):
        raise InvalidInput(
            f"{clean_name} is not what its extension says: its content is {mime}.", field=field
        )
    return clean_name, mime, data


def _check_content(data: bytes, mime: str, field: str) -> None:
    """``InvalidInput`` unless ``data`` really is a harmless file of type ``mime``."""
    if MARKUP.search(data[:1024]):
        raise InvalidInput(
            "The file starts with web page markup (HTML or script): it is refused.", field=field
        )
    if mime == "application/pdf":
        if b"%%EOF" not in data[-1024:]:
            raise InvalidInput(
                "The PDF is truncated or damaged: it has no end marker.", field=field
            )
        if PDF_ACTIVE.search(data):
            raise InvalidInput(
                "The PDF holds scripts, embedded files or actions that open other programs: "
                "print it to a new PDF first.",
                field=field,
            )
    elif mime in PILLOW_FORMATS:
        _check_image(data, PILLOW_FORMATS[mime], field)


def _check_image(data: bytes, expected: str, field: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected:
                raise InvalidInput(f"The image is not a valid {expected} file.", field=field)
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInput(
                    f"The image is {image.width}×{image.height} pixels; at most "
                    f"{MAX_PIXELS // 1_000_000} megapixels are accepted.",
                    field=field,
                )
            image.verify()
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidInput("The image is damaged or not an image at all.", field=field) from None
