"""Files members and staff upload: the type is read from the content, never trusted from the
name, and the name must agree with it."""

from __future__ import annotations

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
    clean_name = re.sub(r"[^\w.\- ]", "_", (name or "").strip())[:150] or "fichier"
    if not clean_name.lower().endswith(types[mime]):
        raise InvalidInput(
            f"{clean_name} is not what its extension says: its content is {mime}.", field=field
        )
    return clean_name, mime, data
