"""The organisers' CSV export: public proposals only, no personal data, audited, guarded."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from nextwork.common.errors import Forbidden
from nextwork.participation import exports
from nextwork.participation.models import Proposal, State
from nextwork.privacy.models import AuditEvent

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_export_holds_public_proposals_without_personal_data(
    consultation, propose, old_member, people
):
    author = old_member()
    shown = propose(author, title='=HYPERLINK("http://x")', body="Formule")
    hidden = propose(old_member(), title="Masquée", body="Secret")
    held = propose(old_member(), title="En attente", body="Attente")
    Proposal.objects.filter(pk=hidden.pk).update(state=State.HIDDEN)
    Proposal.objects.filter(pk=held.pk).update(state=State.PENDING)
    request = RequestFactory().get("/x")
    request.user = people["staff"]
    table = _csv(exports.export_view(request, consultation.pk))
    assert table[0] == exports.COLUMNS
    assert [row[0] for row in table[1:]] == [str(shown.pk)]
    assert table[1][1].startswith("'=")  # never a live formula in a spreadsheet
    flat = "\n".join(",".join(row) for row in table)
    for secret in ("Masquée", "En attente", author.email, author.last_name, author.first_name):
        assert secret not in flat
    assert AuditEvent.objects.filter(action="consultation.export").count() == 1


def test_export_is_for_the_consultations_organisers(consultation, people):
    for outsider in (people["member"], people["coord75"], people["camille"]):
        with pytest.raises(Forbidden):
            next(exports.rows(consultation, by=outsider))
        request = RequestFactory().get("/x")
        request.user = outsider
        with pytest.raises(PermissionDenied):
            exports.export_view(request, consultation.pk)
    assert not AuditEvent.objects.filter(action="consultation.export").exists()
