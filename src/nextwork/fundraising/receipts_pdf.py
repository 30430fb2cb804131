"""The PDF of a tax receipt (reçu fiscal), drawn from the receipt's frozen ``snapshot`` only, so
the same receipt gives the same document whenever it is downloaded, whatever became of the
donor's or the beneficiary's rows since.

- An association of general interest: the fields of the official form, Cerfa n° 11580
  (« Reçu au titre des dons à certains organismes d'intérêt général », CGI art. 200, 238 bis
  and 978).
- A party (its financing association) or a campaign (its mandataire financier): the fields of
  the CNCCFP's receipt model (reçu-don): who received the gift, the donor, the amount, the
  date, the method, the legal cap, and the donor's certification of being a natural person
  (and, for a party, of French nationality or resident in France).

The amount is written in figures and in French words (``amount_in_words``), as both forms ask.
"""

from __future__ import annotations

import datetime

from django.template.loader import render_to_string
from django.utils import timezone, translation

from nextwork.fundraising import rules
from nextwork.fundraising.models import BeneficiaryKind, Method, Receipt

_UNITS = (
    "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze "
    "seize dix-sept dix-huit dix-neuf"
).split()
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}


def _below_100(n: int) -> str:
    if n < 20:
        return _UNITS[n]
    tens, unit = divmod(n, 10)
    if tens in (7, 9):  # soixante-dix…, quatre-vingt-dix…: 60 or 80 plus 10 to 19
        head = "soixante" if tens == 7 else "quatre-vingt"
        rest = 10 + unit
        if tens == 7 and unit == 1:
            return "soixante et onze"
        return f"{head}-{_UNITS[rest]}"
    if tens == 8:
        return "quatre-vingts" if unit == 0 else f"quatre-vingt-{_UNITS[unit]}"
    if unit == 0:
        return _TENS[tens]
    if unit == 1:
        return f"{_TENS[tens]} et un"
    return f"{_TENS[tens]}-{_UNITS[unit]}"


def _below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return _below_100(rest)
    head = "cent" if hundreds == 1 else f"{_UNITS[hundreds]} cent"
    if rest == 0:
        return head if hundreds == 1 else head + "s"
    return f"{head} {_below_100(rest)}"


def number_in_words(n: int) -> str:
    """A whole number in French words, traditional spelling (``quatre-vingts``, ``deux cents``,
    ``mille`` invariable; ``vingt`` and ``cent`` lose their *s* when a number follows, and
    before ``mille``, which is an adjective; ``million`` and ``milliard`` are nouns)."""
    if n < 0:
        raise ValueError("a negative amount has no receipt")
    if n == 0:
        return "zéro"
    parts = []
    for value, singular, plural in (
        (10**9, "milliard", "milliards"),
        (10**6, "million", "millions"),
    ):
        count, n = divmod(n, value)
        if count:
            parts.append(f"{number_in_words(count)} {singular if count == 1 else plural}")
    thousands, n = divmod(n, 1000)
    if thousands:
        if thousands == 1:
            parts.append("mille")
        else:
            words = _below_1000(thousands)
            # « quatre-vingt mille », « deux cent mille »: no plural s before mille.
            if words.endswith(("vingts", "cents")):
                words = words[:-1]
            parts.append(f"{words} mille")
    if n:
        parts.append(_below_1000(n))
    return " ".join(parts)


def amount_in_words(cents: int) -> str:
    """``125030`` → ``mille deux cent cinquante euros et trente centimes``."""
    euros_part, centimes = divmod(cents, 100)
    words = []
    if euros_part or not centimes:
        words_euros = number_in_words(euros_part)
        # « un million d'euros », « deux millions d'euros »: a noun takes « de ».
        if euros_part and euros_part % 10**6 == 0:
            unit = "d'euros"
        else:
            unit = "euro" if euros_part in (0, 1) else "euros"
        words.append(f"{words_euros} {unit}")
    if centimes:
        words.append(f"{number_in_words(centimes)} centime{'s' if centimes > 1 else ''}")
    return " et ".join(words)


# How a method is named on each form.
_CERFA_METHOD = {
    Method.CASH: "cash",
    Method.CHEQUE: "cheque",
    Method.TRANSFER: "other",
    Method.SEPA: "other",
    Method.CARD: "other",
}


def _day(iso: str) -> datetime.date:
    return datetime.date.fromisoformat(iso)


def context(receipt: Receipt) -> dict:
    """What the template shows, all from the snapshot (plus the receipt's own number, dates
    and cancellation, which are the receipt's and never change once set)."""
    snap = receipt.snapshot
    beneficiary, donor = snap["beneficiary"], snap["donor"]
    gifts = [
        {
            "date": _day(g["date"]),
            "amount": rules.euros(g["amount_cents"]),
            "method": str(Method(g["method"]).label),
            "method_key": g["method"],
        }
        for g in snap["gifts"]
    ]
    kind = beneficiary["kind"]
    rule = rules.rule_for(kind)
    methods = {g["method_key"] for g in gifts}
    # The tax articles the gift qualifies under: a natural person's gift, art. 200 (income
    # tax); a company's, art. 238 bis. Art. 978 (IFI) is for foundations and the few bodies
    # it lists, never for an ordinary association of general interest: left unticked.
    natural = donor.get("natural_person", receipt.donor.natural_person)
    replaced = receipt.replaces
    return {
        "receipt": receipt,
        "number": f"{receipt.year}-{receipt.number:06d}",
        "replaces_number": (f"{replaced.year}-{replaced.number:06d}" if replaced else ""),
        "kind": kind,
        "is_association": kind == BeneficiaryKind.ASSOCIATION,
        "is_party": kind == BeneficiaryKind.PARTY,
        "is_campaign": kind == BeneficiaryKind.CAMPAIGN,
        "beneficiary": beneficiary,
        "object": beneficiary.get("object", ""),
        "donor": donor,
        "gifts": gifts,
        "consolidated": receipt.consolidated or len(gifts) > 1,
        "first_day": min(g["date"] for g in gifts),
        "last_day": max(g["date"] for g in gifts),
        "amount": rules.euros(receipt.amount_cents),
        "amount_words": amount_in_words(receipt.amount_cents),
        "cerfa_methods": {_CERFA_METHOD[Method(m)] for m in methods},
        "art_200": natural,
        "art_238": not natural,
        "cap": rules.euros(rule.cap_cents) if rule.cap_cents else "",
        "cash_max": rules.euros(rule.cash_max_cents) if rule.cash_max_cents else "",
        "reference": rule.reference,
        "issued_on": timezone.localtime(receipt.issued_at).date(),
        "cancelled": receipt.cancelled_at is not None,
        "cancelled_on": (
            timezone.localtime(receipt.cancelled_at).date() if receipt.cancelled_at else None
        ),
        # Signed for the beneficiary: the legal entity that received the gift.
        "organisation": beneficiary.get("legal_name") or beneficiary.get("name", ""),
    }


def render(receipt: Receipt) -> bytes:
    """The receipt as an A4 PDF, in French (the forms' language, whatever the reader's)."""
    from weasyprint import HTML

    with translation.override("fr"):
        html = render_to_string("fundraising/receipt.html", context(receipt))
    return HTML(string=html, base_url=None).write_pdf()


def access_receipt(member, receipt_id: int) -> Receipt:
    """The receipt, for its donor (a member whose donor record it is) or staff; anyone else
    is told it does not exist, so receipt numbers cannot be probed."""
    from nextwork.common.errors import NotFound
    from nextwork.network.permissions import is_staff

    found = (
        Receipt.objects.select_related("donor", "replaces").filter(pk=receipt_id).first()
        if member is not None and member.is_authenticated
        else None
    )
    if found is None or (found.donor.member_id != member.pk and not is_staff(member)):
        raise NotFound(f"No receipt {receipt_id}.", field="receipt")
    return found


def receipts_of(member) -> list[Receipt]:
    """The receipts of the gifts a member made while logged in, newest first."""
    return list(
        Receipt.objects.filter(donor__member=member)
        .select_related("beneficiary")
        .order_by("-year", "-issued_at")
    )
