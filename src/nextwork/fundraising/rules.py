"""The legal rules of giving, per beneficiary type, with their references.

Checked when a donation is taken and at every monthly payment (``services``). The amounts can
be changed by settings (the law changes); the defaults are the law in force in 2026:

- **Political party** (its financing association or mandataire, loi n° 88-227 du 11 mars
  1988, art. 11-4): gifts from natural persons only — legal persons may not give; the donor of
  French nationality or resident in France; at most **€7,500 per person and calendar year to
  all parties together** (the platform can only count what its own beneficiaries receive);
  any gift over **€150** paid by cheque, transfer, direct debit or card, never in cash.
- **Electoral campaign** (the candidate's mandataire financier, code électoral art. L52-8):
  natural persons only; at most **€4,600 per person for one election**, all rounds together;
  over €150 never in cash.
- **Association of general interest** (code général des impôts, art. 200 and 238 bis): no cap;
  receipts give the donor a tax reduction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings

from nextwork.common.errors import DomainError
from nextwork.fundraising.models import Beneficiary, BeneficiaryKind, Method


class RuleBroken(DomainError):
    """A donation the law does not allow; the message says which rule and what is possible."""

    code = "rule_broken"
    status = 422


@dataclass(frozen=True)
class Rule:
    natural_persons_only: bool
    french_or_resident_only: bool
    cap_cents: int | None
    cash_max_cents: int | None
    reference: str


def rule_for(kind: str) -> Rule:
    if kind == BeneficiaryKind.PARTY:
        return Rule(
            natural_persons_only=True,
            french_or_resident_only=True,
            cap_cents=settings.NEXTWORK_PARTY_CAP_EUROS * 100,
            cash_max_cents=settings.NEXTWORK_CASH_MAX_EUROS * 100,
            reference="loi n° 88-227 du 11 mars 1988, art. 11-4",
        )
    if kind == BeneficiaryKind.CAMPAIGN:
        return Rule(
            natural_persons_only=True,
            french_or_resident_only=False,
            cap_cents=settings.NEXTWORK_CAMPAIGN_CAP_EUROS * 100,
            cash_max_cents=settings.NEXTWORK_CASH_MAX_EUROS * 100,
            reference="code électoral, art. L52-8",
        )
    return Rule(
        natural_persons_only=False,
        french_or_resident_only=False,
        cap_cents=None,
        cash_max_cents=None,
        reference="code général des impôts, art. 200",
    )


def donor_key(email: str) -> str:
    """Caps are per person; the platform knows a person by their email address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def cap_scope(beneficiary: Beneficiary, year: int) -> str | None:
    """Where a gift counts: all parties together for a calendar year, or one election."""
    if beneficiary.kind == BeneficiaryKind.PARTY:
        return f"parties:{year}"
    if beneficiary.kind == BeneficiaryKind.CAMPAIGN:
        return f"campaign:{beneficiary.election}"
    return None


def euros(cents: int) -> str:
    value = f"{cents / 100:,.2f}".replace(",", " ").replace(".", ",")
    return f"{value.removesuffix(',00')} €"


def check_donor(
    beneficiary: Beneficiary, *, natural_person: bool, french_or_resident: bool, method: str,
    amount_cents: int,
) -> None:  # fmt: skip
    """The rules that do not depend on earlier gifts."""
    rule = rule_for(beneficiary.kind)
    if rule.natural_persons_only and not natural_person:
        raise RuleBroken(
            f"{beneficiary.name} may receive gifts from natural persons only: a company, an "
            f"association or any legal person may not give ({rule.reference}).",
            field="natural_person",
        )
    if rule.french_or_resident_only and not french_or_resident:
        raise RuleBroken(
            f"Gifts to a political party must come from a person of French nationality or "
            f"living in France ({rule.reference}).",
            field="french_or_resident",
        )
    if rule.cash_max_cents is not None and method == Method.CASH:
        if amount_cents > rule.cash_max_cents:
            raise RuleBroken(
                f"In cash, a gift may not exceed {euros(rule.cash_max_cents)}: give the rest by "
                f"cheque, transfer or card ({rule.reference}).",
                field="amount",
            )


def cap_message(beneficiary: Beneficiary, *, scope: str, cap: int, committed: int, amount: int):
    rule = rule_for(beneficiary.kind)
    left = max(0, cap - committed)
    what = (
        f"your gifts to political parties in {scope.split(':')[1]}"
        if scope.startswith("parties:")
        else f"your gifts to the campaigns of the election {beneficiary.election}"
    )
    return (
        f"This gift of {euros(amount)} would bring {what} to {euros(committed + amount)}, "
        f"above the legal cap of {euros(cap)} ({rule.reference}). "
        + (f"You may still give {euros(left)}." if left else "You have reached the cap.")
    )
