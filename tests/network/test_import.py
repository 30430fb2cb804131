"""Importing members from spreadsheet exports, and exporting them within the caller's grants."""

import io
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from nextwork.common.errors import InvalidInput
from nextwork.network.imports import import_members
from nextwork.network.models import Member, MemberLocation
from nextwork.network.selectors import members_for_export
from nextwork.privacy.models import AuditEvent

ROWS = [
    ("Courriel", "Prénom", "Nom", "Code postal", "Téléphone"),
    ("Camille@Example.org", "Camille", "Dupré", "48000", "06 12 34 56 78"),
    ("lou@example.org", "Lou", "Lefèvre", "23000", ""),
    ("noe@example.org", "Noé", "Martin", "31000", ""),  # Toulouse: several seats
]


def csv_bytes(rows, *, delimiter=",", encoding="utf-8", bom=False) -> bytes:
    text = "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


@pytest.mark.parametrize(
    ("delimiter", "encoding", "bom"),
    [(",", "utf-8", False), (";", "utf-8", True), (";", "cp1252", False), ("\t", "utf-8", False)],
)
def test_spreadsheet_exports_import(registry, delimiter, encoding, bom):
    report = import_members(csv_bytes(ROWS, delimiter=delimiter, encoding=encoding, bom=bom))
    assert (report.rows, report.created, report.updated, report.errors) == (3, 3, 0, [])
    assert report.delimiter == delimiter
    camille = Member.objects.get(email="camille@example.org")
    assert (camille.first_name, camille.last_name, camille.phone) == (
        "Camille",
        "Dupré",
        "+33612345678",
    )
    assert not camille.is_active and camille.confirmed_at is None  # until they opt in
    assert MemberLocation.objects.get(member=camille).constituency.code == "48-01"
    # An ambiguous place is not guessed: the member waits without a constituency, but in their
    # department, where its coordinators see them.
    assert (report.without_constituency, report.department_only) == (1, 1)
    noe = MemberLocation.objects.get(member__email="noe@example.org")
    assert (noe.constituency, noe.department.code, noe.postcode) == (None, "31", "31000")


def test_one_bad_row_writes_nothing_and_every_error_is_reported(registry):
    rows = [
        *ROWS[:2],
        ("not-an-email", "X", "Y", "48000", ""),
        ("z@example.org", "Z", "Z", "4800", ""),
        ("w@example.org", "W", "W", "48000", "12"),
    ]
    report = import_members(csv_bytes(rows))
    assert [(e.row, e.field) for e in report.errors] == [
        (3, "email"),
        (4, "postcode"),
        (5, "phone"),
    ]
    assert not Member.objects.exists()


def test_known_emails_are_updated_not_duplicated(registry):
    import_members(csv_bytes(ROWS))
    again = [
        ROWS[0],
        ("camille@example.org", "Camille", "Dupré-Martin", "23000", ""),
        ("CAMILLE@example.org", "Camille", "Dupré-Martin", "23000", ""),
    ]
    report = import_members(csv_bytes(again))
    assert (report.created, report.updated, report.duplicates_in_file) == (0, 1, 1)
    assert Member.objects.filter(email="camille@example.org").count() == 1
    camille = Member.objects.get(email="camille@example.org")
    assert camille.last_name == "Dupré-Martin"
    # Moving home keeps the history.
    locations = MemberLocation.objects.filter(member=camille).order_by("valid_from")
    assert [(loc.constituency.code, loc.valid_to is None) for loc in locations] == [
        ("48-01", False),
        ("23-01", True),
    ]


def test_imported_rows_read_back_as_the_orm_writes_them(registry):
    before = timezone.now()
    import_members(csv_bytes(ROWS))
    members = list(Member.objects.order_by("email"))
    assert len({m.public_id for m in members}) == 3
    assert all(isinstance(m.public_id, uuid.UUID) and m.public_id.version == 4 for m in members)
    assert all(before <= m.created_at <= timezone.now() for m in members)
    assert all(not m.has_usable_password() and not m.is_staff for m in members)
    location = MemberLocation.objects.get(member__email="camille@example.org")
    # 48000 serves Mende and its neighbours: one seat, no single commune.
    assert (location.postcode, location.precision, location.commune) == ("48000", "postcode", None)
    assert before <= location.valid_from <= timezone.now()


def test_an_empty_cell_keeps_what_a_known_member_had(registry):
    import_members(csv_bytes(ROWS))
    report = import_members(csv_bytes([("email", "nom"), ("camille@example.org", "")]))
    assert report.updated == 1
    camille = Member.objects.get(email="camille@example.org")
    assert (camille.first_name, camille.last_name, camille.phone) == (
        "Camille",
        "Dupré",
        "+33612345678",
    )
    # No place in the file: the known place stays current.
    assert MemberLocation.objects.get(member=camille, valid_to__isnull=True).constituency.code == (
        "48-01"
    )


def test_dry_run_counts_and_writes_nothing(registry):
    report = import_members(csv_bytes(ROWS), dry_run=True)
    assert report.created == 3 and not Member.objects.exists()


def test_columns_can_be_mapped(registry):
    rows = [("Adresse mail", "Given"), ("a@example.org", "Ada")]
    report = import_members(
        csv_bytes(rows), mapping={"Adresse mail": "email", "Given": "first_name"}
    )
    assert report.created == 1 and Member.objects.get().first_name == "Ada"


@pytest.mark.parametrize(
    ("data", "mapping", "field"),
    [
        (b"", None, "file"),
        (b"name,age\nx,1\n", None, "file"),  # no email column
        (b"email\n\x81\x8d\x8f\x90\n", None, "file"),  # not text
        (b"email\na@example.org\n", {"email": "shoe_size"}, "map"),
        (b"email\na@example.org\n", {"Mail": "email"}, "map"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(registry, data, mapping, field):
    with pytest.raises(InvalidInput) as error:
        import_members(data, mapping=mapping)
    assert error.value.field == field


def test_the_command_reports_rows_and_exits_non_zero_on_errors(registry, tmp_path):
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(ROWS, delimiter=";", encoding="cp1252"))
    out = io.StringIO()
    call_command("members", "import", str(good), stdout=out)
    assert "3 rows" in out.getvalue() and Member.objects.count() == 3
    assert AuditEvent.objects.filter(action="members.import").count() == 1
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([ROWS[0], ("oops", "", "", "", "")]))
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("members", "import", str(bad), stdout=io.StringIO(), stderr=io.StringIO())


def test_exports_stay_within_the_caller_s_grants_and_are_audited(people, area, registry):
    import_members(csv_bytes([*ROWS, ("p@example.org", "P", "P", "75007", "")]))
    seen_by_75 = {loc.member.email for loc in members_for_export(caller=people["coord75"])}
    assert seen_by_75 == {"p@example.org"}
    assert not list(members_for_export(caller=people["camille"]))  # a relay exports nothing
    assert not list(members_for_export(caller=people["member"]))
    # Noé (31000, seat to choose) is counted in Haute-Garonne, outside coord75's grants.
    assert len(list(members_for_export(caller=people["staff"]))) == 4
    out = io.StringIO()
    call_command("members", "export", "--area", "48", stdout=out)
    assert out.getvalue().splitlines()[1].startswith("camille@example.org,")
    event = AuditEvent.objects.get(action="members.export")
    assert event.details == {"count": 1, "format": "csv"} and event.area_code == "48"


def test_export_areas_distinguish_departments_from_regions(registry):
    import_members(csv_bytes(ROWS))
    # 75 is Paris as a department; the region with code 75 (Nouvelle-Aquitaine) is R75.
    assert {loc.member.email for loc in members_for_export(area_code="R76")} == {
        "camille@example.org",  # Lozère is in Occitanie
        "noe@example.org",  # so is Toulouse, though Noé's seat is still to choose
    }
    assert [loc.member.email for loc in members_for_export(area_code="31")] == ["noe@example.org"]
    assert list(members_for_export(area_code="31-01")) == []
    assert {loc.member.email for loc in members_for_export(area_code="R75")} == {
        "lou@example.org"
    }  # Creuse is in Nouvelle-Aquitaine
    assert list(members_for_export(area_code="75")) == []


def test_large_files_stay_under_the_database_s_parameter_limit(registry, monkeypatch):
    # Slices of 2 rows stand for the 5,000-row slices of a file of a million rows.
    monkeypatch.setattr("nextwork.network.imports.CHUNK", 2)
    rows = [ROWS[0]] + [(f"m{i}@example.org", "M", f"N{i}", "48000", "") for i in range(7)]
    assert import_members(csv_bytes(rows)).created == 7
    again = import_members(csv_bytes(rows))
    assert (again.created, again.updated) == (0, 7)
    assert MemberLocation.objects.filter(valid_to__isnull=True).count() == 7
    assert MemberLocation.objects.count() == 14
