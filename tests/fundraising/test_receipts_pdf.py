"""Receipt PDFs: the legal mentions of each form, the amount in words, who may download."""

from __future__ import annotations

import subprocess

import pytest

from nextwork.fundraising import receipts_pdf, services
from nextwork.fundraising.receipts_pdf import amount_in_words, number_in_words


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())  # one line: mentions wrap anywhere


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zéro"),
        (1, "un"),
        (17, "dix-sept"),
        (21, "vingt et un"),
        (71, "soixante et onze"),
        (75, "soixante-quinze"),
        (80, "quatre-vingts"),
        (81, "quatre-vingt-un"),
        (91, "quatre-vingt-onze"),
        (100, "cent"),
        (180, "cent quatre-vingts"),
        (200, "deux cents"),
        (201, "deux cent un"),
        (1000, "mille"),
        (1001, "mille un"),
        (4600, "quatre mille six cents"),
        (7500, "sept mille cinq cents"),
        (80_000, "quatre-vingt mille"),
        (200_000, "deux cent mille"),
        (1_000_000, "un million"),
        (200_000_000, "deux cents millions"),
        (1_234_567, "un million deux cent trente-quatre mille cinq cent soixante-sept"),
    ],
)
def test_numbers_in_french_words(n, words):
    assert number_in_words(n) == words


@pytest.mark.parametrize(
    ("cents", "words"),
    [
        (100, "un euro"),
        (5000, "cinquante euros"),
        (1, "un centime"),
        (125_030, "mille deux cent cinquante euros et trente centimes"),
        (100_000_000, "un million d'euros"),
        (750_000, "sept mille cinq cents euros"),
    ],
)
def test_amounts_in_words(cents, words):
    assert amount_in_words(cents) == words


def test_association_receipt_has_the_cerfa_fields(give):
    donation = give("association", cents=125_030, method="cheque")
    receipt = services.receipt_issue(donation_id=donation.pk)
    text = pdf_text(receipts_pdf.render(receipt))
    for mention in [
        "Reçu au titre des dons à certains organismes d'intérêt général",
        "Cerfa n° 11580",
        f"{receipt.year}-{receipt.number:06d}",
        "Association C (association de financement)",
        "1 rue de la République, 75011 Paris",
        "Objet",
        "AF-0001",
        "Œuvre ou organisme d'intérêt général",
        "DONNE",
        "Camille",
        "3 place du Marché, 48000 Mende",
        "1 250,30 €",
        "mille deux cent cinquante euros et trente centimes",
        "Date du versement ou du don",
        "☒ 200 du CGI",
        "☐ 238 bis du CGI",
        "☐ 978 du CGI",
        "☒ Autres",
        "☒ Numéraire",
        "☒ Chèque",
        "signature",
    ]:
        assert mention in text, mention
    assert "ANNULÉ" not in text


def test_party_receipt_has_the_cnccfp_mentions(give):
    donation = give("party", cents=15_000, method="card")
    receipt = services.receipt_issue(donation_id=donation.pk)
    text = pdf_text(receipts_pdf.render(receipt))
    for mention in [
        "Association de financement du parti",
        "Parti A (association de financement)",
        "150 €",
        "cent cinquante euros",
        "carte bancaire",
        "7 500 €",
        "loi n° 88-227 du 11 mars 1988, art. 11-4",
        "certifie sur l'honneur être une personne physique",
        "de nationalité française ou résider en France",
        "article 200 du code général des impôts",
    ]:
        assert mention in text, mention
    assert "Cerfa" not in text


def test_campaign_receipt_names_its_cap_and_election(give):
    receipt = services.receipt_issue(donation_id=give("campaign", cents=2000).pk)
    text = pdf_text(receipts_pdf.render(receipt))
    assert "Mandataire financier du candidat" in text
    assert "legislatives-2027" in text
    assert "4 600 €" in text and "code électoral, art. L52-8" in text
    assert "vingt euros" in text
    assert "nationalité française" not in text  # a party's condition, not a campaign's


def test_consolidated_receipt_lists_every_gift(give):
    from nextwork.fundraising.models import Receipt

    gifts = [give("association", cents=c) for c in (1000, 1500, 2550)]
    donor = gifts[0].donor
    snapshot = services._snapshot(donor, gifts[0].beneficiary, gifts)
    receipt = Receipt.objects.create(
        beneficiary=gifts[0].beneficiary, year=2026, number=7, donor=donor,
        amount_cents=5050, consolidated=True, snapshot=snapshot,
    )  # fmt: skip
    text = pdf_text(receipts_pdf.render(receipt))
    assert "Reçu récapitulatif annuel des dons de 2026" in text
    assert "Total (3 versements)" in text
    assert "cinquante euros et cinquante centimes" in text
    for amount in ("10 €", "15 €", "25,50 €", "50,50 €"):
        assert amount in text, amount


def test_cancelled_and_replacement_receipts_say_so(give, db):
    from nextwork.network.models import Grant, Role

    staff = _member("staff")
    Grant.objects.create(member=staff, role=Role.STAFF)
    old = services.receipt_issue(donation_id=give("association").pk)
    new = services.receipt_reissue(
        receipt_id=old.pk, reason="adresse erronée", donor=None, by=staff
    )
    old.refresh_from_db()
    text = pdf_text(receipts_pdf.render(old))
    assert "ANNULÉ" in text and "Motif : adresse erronée" in text
    text = pdf_text(receipts_pdf.render(new))
    assert f"annule et remplace le reçu n° {old.year}-{old.number:06d}" in text
    assert "ANNULÉ" not in text


def test_the_pdf_shows_the_snapshot_not_todays_rows(give):
    donation = give("association")
    receipt = services.receipt_issue(donation_id=donation.pk)
    donation.donor.last_name = "Autrenom"
    donation.donor.save(update_fields=["last_name"])
    donation.beneficiary.legal_name = "Nouveau nom"
    donation.beneficiary.save(update_fields=["legal_name"])
    receipt.refresh_from_db()
    text = pdf_text(receipts_pdf.render(receipt))
    assert "DONNE" in text and "AUTRENOM" not in text
    assert "Nouveau nom" not in text


# -- who may download ---------------------------------------------------------------------------


def _member(name, *, confirmed=True):
    from django.utils import timezone

    from nextwork.network.models import Member

    return Member.objects.create_user(
        f"{name}@example.org", "correct horse battery staple", first_name=name.title(),
        is_active=True, confirmed_at=timezone.now() if confirmed else None,
    )  # fmt: skip


@pytest.fixture
def receipt_of_member(give, db):
    donation = give("association", cents=4200)
    owner = _member("donatrice")
    donation.donor.member = owner
    donation.donor.save(update_fields=["member"])
    return services.receipt_issue(donation_id=donation.pk), owner


def test_the_donor_downloads_their_receipt(client, receipt_of_member):
    receipt, owner = receipt_of_member
    client.force_login(owner)
    response = client.get(f"/espace/dons/recus/{receipt.pk}.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "quarante-deux euros" in pdf_text(response.content)


def test_staff_download_any_receipt(client, receipt_of_member):
    from nextwork.network.models import Grant, Role

    staff = _member("equipe")
    Grant.objects.create(member=staff, role=Role.STAFF)
    client.force_login(staff)
    assert client.get(f"/espace/dons/recus/{receipt_of_member[0].pk}.pdf").status_code == 200


def test_others_get_404(client, receipt_of_member):
    receipt, _ = receipt_of_member
    client.force_login(_member("curieux"))
    assert client.get(f"/espace/dons/recus/{receipt.pk}.pdf").status_code == 404
    assert client.get("/espace/dons/recus/999999.pdf").status_code == 404


def test_anonymous_is_sent_to_login(client, receipt_of_member):
    response = client.get(f"/espace/dons/recus/{receipt_of_member[0].pk}.pdf")
    assert response.status_code == 302 and "/espace/dons/recus/" in response["Location"]


def test_the_donor_lists_their_receipts_only(client, receipt_of_member, give):
    receipt, owner = receipt_of_member
    other = services.receipt_issue(donation_id=give("association", cents=999).pk)
    client.force_login(owner)
    html = client.get("/espace/dons/recus/").content.decode()
    assert f"/espace/dons/recus/{receipt.pk}.pdf" in html and "42 €" in html
    assert f"/espace/dons/recus/{other.pk}.pdf" not in html
