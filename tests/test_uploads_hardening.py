"""Uploads: every entry point goes through the content checks of common/uploads.py, which refuse
oversized, disguised and active files; the whole request is capped before it is read."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
from PIL import Image

import nextwork
from nextwork.common.errors import InvalidInput
from nextwork.common.uploads import IMAGES_AND_PDF, checked_upload

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def image(fmt: str = "PNG", size=(20, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, fmt)
    return buffer.getvalue()


def check(name: str, data: bytes, max_bytes: int = 2**20):
    return checked_upload(name, data, types=IMAGES_AND_PDF, max_bytes=max_bytes, field="file")


@pytest.mark.parametrize(
    ("name", "data", "mime"),
    [
        ("tract.pdf", PDF, "application/pdf"),
        ("carte.png", image("PNG"), "image/png"),
        ("photo.jpg", image("JPEG"), "image/jpeg"),
        ("photo.webp", image("WEBP"), "image/webp"),
    ],
)
def test_genuine_files_are_accepted(name, data, mime):
    assert check(name, data) == (name, mime, data)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("rapport.pdf", EXE, "(this one is application/x-msdownload)"),
        ("rapport.pdf", HTML, "Only PDF, PNG, JPEG and WebP files are accepted."),
        ("rapport.pdf", b"%PDF-1.4\n" + HTML + b"\n%%EOF\n", "web page markup"),
        ("carte.png", image("PNG")[:16] + HTML, "web page markup"),
        ("carte.png", image("PNG")[:8] + EXE, "damaged or not an image"),
        ("photo.jpg", image("JPEG")[:40], "damaged or not an image"),
        ("rapport.pdf", PDF[:-7], "truncated or damaged"),
        (
            "rapport.pdf",
            b"%PDF-1.4\n1 0 obj<</OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\n%%EOF\n",
            "holds scripts",
        ),
        ("rapport.pdf", b"%PDF-1.4\n1 0 obj<</S/Launch/F(cmd.exe)>>endobj\n%%EOF\n", "holds"),
        ("carte.pdf", image("PNG"), "not what its extension says"),
        ("vide.pdf", b"", "empty"),
    ],
    ids=[
        "exe-as-pdf",
        "html-as-pdf",
        "pdf-with-html",
        "png-with-html",
        "png-magic-then-exe",
        "truncated-jpeg",
        "pdf-without-end",
        "pdf-with-javascript",
        "pdf-with-launch",
        "png-named-pdf",
        "empty",
    ],
)
def test_disguised_damaged_and_active_files_are_refused(name, data, message):
    with pytest.raises(InvalidInput) as caught:
        check(name, data)
    assert message in caught.value.message
    assert caught.value.field == "file"


def test_oversized_files_and_pixel_bombs_are_refused(monkeypatch):
    with pytest.raises(InvalidInput, match="at most 1 MB"):
        check("gros.pdf", PDF + b" " * 2**20)
    from nextwork.common import uploads

    monkeypatch.setattr(uploads, "MAX_PIXELS", 100)
    with pytest.raises(InvalidInput, match="megapixels"):
        check("grand.png", image("PNG", (20, 10)))


# -- every entry point goes through checked_upload ----------------------------------------------

SOURCE = Path(nextwork.__file__).parent
UPLOAD_MARKERS = ("request.FILES", "UploadedFile")


def modules_taking_uploads() -> list[Path]:
    return [
        p
        for p in SOURCE.rglob("*.py")
        if "migrations" not in p.parts
        and p.name != "uploads.py"
        and any(m in p.read_text(encoding="utf-8") for m in UPLOAD_MARKERS)
    ]


def calls_to(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return names


# Where each upload entry point hands its file over: the service that calls checked_upload.
CHECKED_BY = {
    "campaigns/views.py": ("campaigns/services.py", "attachment_add"),
    "campaigns/apis.py": ("campaigns/services.py", "attachment_add"),
    "participation/views.py": ("participation/services.py", "proposal_submit"),
    "fundraising/views.py": ("fundraising/pages.py", "page_create"),
}


def test_every_upload_entry_point_reaches_the_content_checks():
    entry_points = {str(p.relative_to(SOURCE)) for p in modules_taking_uploads()}
    assert entry_points == set(CHECKED_BY), entry_points
    for entry, (service, function) in CHECKED_BY.items():
        assert function in calls_to(SOURCE / entry), (entry, function)
        assert "checked_upload" in calls_to(SOURCE / service), service


# -- the request as a whole ----------------------------------------------------------------------


def test_a_request_over_the_cap_is_refused_before_it_is_read(client, registry, settings):
    settings.NEXTWORK_MAX_REQUEST_MB = 1
    big = b"x" * (2**20 + 10)
    response = client.post("/api/v1/members", big, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    page = client.post("/inscription/", big, content_type="application/octet-stream")
    assert page.status_code == 413
    small = client.post("/api/v1/members", "{}", content_type="application/json")
    assert small.status_code == 400
