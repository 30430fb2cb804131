"""A restore erases again who was erased after the backup (``privacy.ledger.reapply``).

The drill runs the real commands in subprocesses, as tests/test_backup.py does: back up, erase
a member, restore → the member is gone again, the ledger row is back, and the other counts are
the backup's. The joins of the file and the restored table are tested in process."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from tests.test_backup import PG_URL, members, prepare, run, scratch_database, shell  # noqa: F401

ERASE_EDEN = (
    "from nextwork.network.models import Member\n"
    "from nextwork.privacy.erasure import member_erase\n"
    "member_erase(member=Member.objects.get(email='eden@example.org'), by=None, "
    "reason='request')"
)


def erasure_drill(env: dict, tmp: Path) -> None:
    before = members(env)
    out = json.loads(run(env, "backup", "--output", str(tmp / "b.tar.gz"), "--json").stdout)
    manifest = out["manifest"]
    shell(env, ERASE_EDEN)
    assert "eden@example.org" not in members(env)
    ledger = Path(env["NEXTWORK_HOME"]) / "erasure-ledger.jsonl"
    lines = ledger.read_text().splitlines()
    assert len(lines) == 1 and "eden" not in lines[0]

    report = json.loads(run(env, "restore", out["path"], "--yes", "--json").stdout)
    assert report["steps"] == ["1 erasures re-applied"]
    assert members(env) == [m for m in before if m != "eden@example.org"]
    differ = {
        c["table"]: (c["expected"], c["actual"])
        for c in report["counts"]
        if c["expected"] != c["actual"]
    }
    expected_members = manifest["counts"]["network_member"]
    assert differ.pop("network_member") == (expected_members, expected_members - 1)
    assert differ.pop("privacy_erasurerecord") == (0, 1)
    assert differ.pop("privacy_auditevent")  # the erasure done again is audited
    assert differ == {}
    assert ledger.read_text().splitlines() == lines  # nothing appended twice

    # A second restore of the same backup erases her again; the ledger still has one line.
    again = json.loads(run(env, "restore", out["path"], "--yes", "--json").stdout)
    assert again["steps"] == ["1 erasures re-applied"]
    assert "eden@example.org" not in members(env)
    assert len(ledger.read_text().splitlines()) == 1


def test_sqlite_restore_erases_again(tmp_path):
    erasure_drill(prepare(tmp_path / "home", None), tmp_path)


@pytest.mark.skipif(not PG_URL.startswith("postgres"),
                    reason="DATABASE_URL does not point at PostgreSQL")  # fmt: skip
def test_postgresql_restore_erases_again(tmp_path, scratch_database):  # noqa: F811
    erasure_drill(prepare(tmp_path / "home", scratch_database), tmp_path)


# -- the join of the file and the table, in process --------------------------------------------


@pytest.fixture
def ledger_file(settings, tmp_path):
    settings.NEXTWORK_ERASURE_LEDGER = str(tmp_path / "ledger.jsonl")
    return tmp_path / "ledger.jsonl"


def test_a_member_named_by_the_file_is_erased_and_the_row_comes_back(make_member, ledger_file):
    from nextwork.messaging.consent import is_suppressed
    from nextwork.network.models import Member
    from nextwork.privacy import ledger
    from nextwork.privacy.models import ErasureRecord

    alive, newcomer = make_member("Eden"), make_member("Newcomer")
    entry = ledger.Entry(member_id=alive.pk, public_id=str(alive.public_id),
                         erased_at=timezone.now().isoformat(), reason="self", by_self=True,
                         email_hmac=ledger.address_hmac("email", alive.email),
                         suppressed=["email"])  # fmt: skip
    # An erased member whose id SQLite gave again to someone else: matched by public id only.
    reused = ledger.Entry(member_id=newcomer.pk, public_id=str(uuid.uuid4()),
                          erased_at=timezone.now().isoformat(), reason="request")  # fmt: skip
    ledger.append([entry, reused])
    with ledger_file.open("a") as fh:
        fh.write('{"member_id": 1, "public_id": "cut by a cra')  # a line cut by a crash
    line = ledger.reapply()
    assert line.startswith("1 erasures re-applied") and "1 unreadable" in line
    assert not Member.objects.filter(pk=alive.pk).exists()
    # She had unsubscribed before her erasure, not yet in the backup: suppressed again.
    assert is_suppressed("email", alive.email)
    assert Member.objects.filter(pk=newcomer.pk).exists()
    rows = ErasureRecord.objects.order_by("member_ref")
    assert {str(r.public_id) for r in rows} == {entry.public_id, reused.public_id}
    assert all(r.filed_at for r in rows)


def test_rows_of_the_restored_table_missing_from_the_file_are_filed(make_member, ledger_file):
    from nextwork.privacy import ledger
    from nextwork.privacy.models import ErasureRecord

    row = ErasureRecord.objects.create(member_ref=41, public_id=uuid.uuid4(), reason="retention")
    assert not ledger_file.exists()
    assert ledger.reapply() == "0 erasures re-applied"
    assert [e.public_id for e in ledger.read().entries] == [str(row.public_id)]
    assert ledger.reapply() == "0 erasures re-applied"
    assert len(ledger.read().entries) == 1  # filed once
