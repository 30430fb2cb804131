"""The fundraising admin opens; money rows cannot be edited there."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_admin_reads_donations_and_cannot_change_them(client, give, make_member):
    gift = give("association", cents=2500)
    admin = make_member("Admin")
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(admin)
    paths = [
        "/admin/fundraising/beneficiary/",
        "/admin/fundraising/donation/",
        f"/admin/fundraising/donation/{gift.pk}/change/",
        "/admin/fundraising/receipt/",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "camille.donne@example.org" not in response.content.decode()
    response = client.post(f"/admin/fundraising/donation/{gift.pk}/change/", {"amount_cents": 1})
    assert response.status_code == 403
    gift.refresh_from_db()
    assert gift.amount_cents == 2500
