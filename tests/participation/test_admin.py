"""The participation admin pages open, and list no member's name or address."""

from __future__ import annotations

import pytest

from nextwork.participation import moderation

pytestmark = pytest.mark.django_db


def test_admin_pages_open_without_personal_data(client, propose, old_member, consultation):
    author = old_member("Josiane")
    proposal = propose(author)
    report = moderation.report_create(
        kind="proposal", target_id=proposal.pk, reason="spam", by=old_member("Rep")
    )
    admin = old_member("Admin")
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(admin)
    for path in (
        "/admin/participation/consultation/",
        f"/admin/participation/consultation/{consultation.pk}/change/",
        "/admin/participation/proposal/",
        f"/admin/participation/proposal/{proposal.pk}/change/",
        "/admin/participation/report/",
        f"/admin/participation/report/{report.pk}/change/",
        "/admin/participation/newsitem/",
        "/admin/participation/newsitem/add/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        if path.endswith("/participation/proposal/") or path.endswith("/report/"):
            html = response.content.decode()
            assert author.email not in html and author.last_name not in html
