"""A member's export (``privacy.export.member_export``): their data from every app, in JSON
and CSV, and nothing of another member's."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from tests.privacy.test_erasure import cast  # noqa: F401  (the fixture: two seeded members)

EXPECTED = {
    "network": {"account", "memberlocation", "relayapplication", "consent"},
    "messaging": {"consentevent", "consentstate", "communitymembership", "delivery"},
    "events": {"rsvp"},
    "participation": {"proposal", "comment", "support", "follow", "report"},
    "fundraising": {"donor", "donation", "fundraisingpage"},
    "mobilisation": {
        "votingsituation",
        "registrationanswer",
        "turnout",
        "proxyrequest",
        "proxyoffer",
        "proxymatch",
    },
    "monitoring": {"channel"},
}


def _open(content: bytes) -> tuple[dict, dict[str, bytes]]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files["data.json"]), files


def test_export_holds_every_app_and_nothing_of_another_member(cast):  # noqa: F811
    from nextwork.privacy.export import member_export
    from nextwork.privacy.models import AuditEvent

    ana, bo = cast["ana"], cast["bo"]
    data, files = _open(member_export(ana.member))
    for app, tables in EXPECTED.items():
        assert tables <= set(data["apps"].get(app, {})), (app, set(data["apps"].get(app, {})))
        for table in tables:
            assert f"{app}/{table}.csv" in files
    assert "README.txt" in files and "Vos données" in files["README.txt"].decode()
    everything = b"\n".join(files.values()).lower()
    # Ana's own data is there, private texts included…
    assert ana.member.email.lower().encode() in everything
    assert ana.marker.encode() in everything
    # …the rows are hers (ids of what the seed made for her)…
    proposals = {row["id"] for row in data["apps"]["participation"]["proposal"]}
    assert proposals == set(ana.ids["proposal_id"])
    matches = data["apps"]["mobilisation"]["proxymatch"]
    assert [m["id"] for m in matches] == ana.ids["match_id"]
    # …and nothing of Bo's, of the holder of her proxy, or of the staff who proposed it.
    for secret in bo.personal.values():
        assert secret.encode() not in everything, secret
    for other in (ana.holder, cast["staff"], bo.member):
        assert other.email.lower().encode() not in everything
        assert other.last_name.lower().encode() not in everything
        assert str(other.public_id).encode() not in everything
    assert "holder_id" not in matches[0] and "proposed_by_id" not in matches[0]
    # No credentials.
    assert ana.member.password.lower().encode() not in everything
    assert "password" not in data["apps"]["network"]["account"][0]
    # Audited, with counts only.
    event = AuditEvent.objects.filter(action="privacy.export").latest("id")
    assert event.actor_ref == ana.member.pk
    assert event.details["rows"] > 20 and ana.member.email not in json.dumps(event.details)


def test_dates_are_iso_and_csv_cells_are_not_formulas(make_member):
    from nextwork.privacy.export import member_export

    member = make_member("Zed")
    member.first_name = '=HYPERLINK("http://evil.example")'
    member.save(update_fields=["first_name"])
    data, files = _open(member_export(member))
    account = data["apps"]["network"]["account"][0]
    assert account["first_name"] == member.first_name  # the JSON keeps the value as it is
    assert account["created_at"].startswith(str(member.created_at.year))
    assert "T" in account["created_at"]
    rows = list(csv.DictReader(io.StringIO(files["network/account.csv"].decode())))
    assert rows[0]["first_name"] == "'" + member.first_name
    assert rows[0]["email"] == member.email


def test_page_and_api_give_the_zip_to_its_member_only(client, make_member):
    ana, bo = make_member("Ana"), make_member("Bo")
    assert client.get("/api/v1/me/export").status_code == 401
    assert client.post("/espace/donnees/export/").status_code == 302  # to the login page
    client.force_login(ana)
    assert client.get("/espace/donnees/export/").status_code == 405  # a POST, not a link
    response = client.post("/espace/donnees/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    data, files = _open(response.content)
    assert data["apps"]["network"]["account"][0]["email"] == ana.email
    assert bo.email.encode() not in b"".join(files.values())
    api = client.get("/api/v1/me/export")
    assert api.status_code == 200 and api["Content-Type"] == "application/zip"
    assert _open(api.content)[0]["member"] == str(ana.public_id)
    assert 'href="/espace/donnees/"' in client.get("/espace/").content.decode()
