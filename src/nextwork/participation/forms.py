"""What the participation pages read from their forms, and the services' errors in French.

The services speak English (the API shows their messages as they are); the pages show a French
sentence next to the field at fault. ``french`` finds it in ``FRENCH`` by the error's field and
the start of its message; an error not listed is shown as the service wrote it, which a test
would notice.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from nextwork.common import messages
from nextwork.common.errors import DomainError
from nextwork.common.ratelimit import RateLimited
from nextwork.participation.models import AnswerStatus

PARIS = ZoneInfo("Europe/Paris")

# (field or None for any, regular expression on the English message, French text).
FRENCH = [
    (None, r"NUL character", gettext_lazy(
        "Le texte contient un caractère invalide (NUL) : retirez-le.")),
    ("title", r"is required", gettext_lazy("Donnez un titre.")),
    ("body", r"is required", gettext_lazy("Écrivez le texte.")),
    ("text", r"is required", gettext_lazy("Écrivez le texte.")),
    (None, r"is (?P<n>[\d,]+) characters long; at most (?P<max>[\d,]+)", gettext_lazy(
        "Ce texte compte %(n)s caractères : %(max)s au plus sont acceptés. Raccourcissez-le.")),
    (None, r"^Only members with a confirmed email address", gettext_lazy(
        "Confirmez d'abord votre adresse électronique (avec le lien reçu par courriel) pour "
        "participer.")),
    (None, r"^This consultation is not published", gettext_lazy(
        "Cette consultation n'est pas encore publiée.")),
    (None, r"^This consultation is for members living in (?P<name>.+) \((?P<code>[^)]+)\)",
     gettext_lazy(
        "Cette consultation est réservée aux membres qui habitent %(name)s (%(code)s) ; votre "
        "profil vous situe ailleurs.")),
    (None, r"^This consultation opens on (?P<when>[\d/]+ [\d:]+)", gettext_lazy(
        "Cette consultation ouvrira le %(when)s : revenez à ce moment-là.")),
    (None, r"^The time for proposals is over", gettext_lazy(
        "Le temps des propositions est terminé dans cette consultation.")),
    (None, r"^This consultation is closed", gettext_lazy("Cette consultation est close.")),
    ("area", r"^Unknown area '(?P<code>[^']*)'", gettext_lazy(
        "Territoire « %(code)s » inconnu : indiquez une circonscription (75-02), un "
        "département (75) ou une région (R11).")),
    (None, r"^No current grant allows you to open a consultation", gettext_lazy(
        "Vos rôles ne vous permettent pas d'ouvrir une consultation ici : l'équipe nationale "
        "ouvre les consultations nationales, chaque coordinateur celles de son territoire.")),
    (None, r"give a date between 2000 and 2200", gettext_lazy(
        "Indiquez une date entre 2000 et 2200.")),
    ("opens_at", r"", gettext_lazy("Indiquez la date et l'heure d'ouverture.")),
    ("closes_at", r"^The consultation must close after", gettext_lazy(
        "La clôture doit venir après l'ouverture.")),
    ("closes_at", r"", gettext_lazy("Indiquez la date et l'heure de clôture.")),
    ("proposals_close_at", r"", gettext_lazy(
        "La fin des propositions doit se situer entre l'ouverture et la clôture.")),
    ("supports_per_member", r"", gettext_lazy(
        "Soutiens par membre : laissez vide (sans limite) ou indiquez un nombre de 1 à 10 000.")),
    ("attachments", r"", gettext_lazy("Trois fichiers au plus par proposition.")),
    ("file", r"^The file is empty", gettext_lazy("Ce fichier est vide.")),
    ("file", r"^The file is (?P<size>[\d.]+) MB", gettext_lazy(
        "Ce fichier pèse %(size)s Mo : 5 Mo au plus sont acceptés.")),
    ("file", r"^Only ", gettext_lazy(
        "Seuls les fichiers PDF, PNG, JPEG et WebP sont acceptés.")),
    ("file", r"^(?P<name>.+) is not what its extension says", gettext_lazy(
        "« %(name)s » n'est pas ce qu'annonce son extension : choisissez un vrai fichier PDF, "
        "PNG, JPEG ou WebP.")),
    (None, r"^Only its author may edit a proposal", gettext_lazy(
        "Seul son auteur peut modifier une proposition.")),
    (None, r"^A hidden (proposal|comment) cannot be edited", gettext_lazy(
        "Un contenu masqué ne peut pas être modifié : demandez plutôt un réexamen.")),
    (None, r"^This proposal has been merged or answered", gettext_lazy(
        "Cette proposition a été regroupée ou a reçu une réponse : son texte ne change plus.")),
    (None, r"^No proposal (?P<n>\d+)", gettext_lazy("La proposition n° %(n)s n'existe pas.")),
    (None, r"^No comment", gettext_lazy("Ce commentaire n'existe pas.")),
    (None, r"^This proposal is not public: it cannot be supported", gettext_lazy(
        "Cette proposition n'est pas publique : elle ne peut pas être soutenue.")),
    (None, r"^This proposal is not public: it cannot be commented", gettext_lazy(
        "Cette proposition n'est pas publique : elle ne peut pas être commentée.")),
    (None, r"^This proposal was merged into proposal (?P<n>\d+): support", gettext_lazy(
        "Cette proposition a été regroupée avec la proposition n° %(n)s : soutenez plutôt "
        "celle-ci.")),
    (None, r"^You have used your (?P<n>\d+) supports", gettext_lazy(
        "Vous avez utilisé vos %(n)s soutiens dans cette consultation : retirez-en un pour en "
        "soutenir une autre.")),
    (None, r"^You already support", gettext_lazy("Vous soutenez déjà cette proposition.")),
    (None, r"^You do not support", gettext_lazy("Vous ne soutenez pas cette proposition.")),
    ("parent", r"", gettext_lazy("Ce commentaire n'est pas dans cette discussion.")),
    (None, r"^Only its author may change a comment", gettext_lazy(
        "Seul son auteur peut modifier un commentaire.")),
    (None, r"^This comment was deleted", gettext_lazy("Ce commentaire a été supprimé.")),
    (None, r"^A proposal cannot be merged into itself", gettext_lazy(
        "Une proposition ne peut pas être regroupée avec elle-même.")),
    (None, r"^Only proposals of the same consultation", gettext_lazy(
        "Seules les propositions d'une même consultation peuvent être regroupées.")),
    (None, r"^Proposal (?P<n>\d+) is already merged", gettext_lazy(
        "La proposition n° %(n)s est déjà regroupée.")),
    (None, r"^Proposal (?P<n>\d+) was itself merged into (?P<m>\d+)", gettext_lazy(
        "La proposition n° %(n)s a elle-même été regroupée avec la n° %(m)s : choisissez "
        "celle-ci.")),
    (None, r"^Only public proposals", gettext_lazy(
        "Seules les propositions publiées peuvent être regroupées ou recevoir une réponse.")),
    (None, r"^This proposal was merged into (?P<n>\d+): answer", gettext_lazy(
        "Cette proposition a été regroupée avec la n° %(n)s : répondez à celle-ci.")),
    (None, r"^Only this consultation's organisers", gettext_lazy(
        "Seuls les organisateurs de cette consultation peuvent le faire.")),
    ("status", r"", gettext_lazy("Choisissez un statut dans la liste.")),
    ("reason", r"^Unknown reason", gettext_lazy("Choisissez un motif dans la liste.")),
    ("reason", r"^Give the reason", gettext_lazy(
        "Indiquez le motif affiché à la place du contenu (500 caractères au plus).")),
    ("note", r"^The note holds", gettext_lazy("La note compte 1 000 caractères au plus.")),
    ("note", r"^Say in at most", gettext_lazy(
        "Dites en 1 000 caractères au plus pourquoi ce contenu devrait être visible.")),
    (None, r"^You cannot report your own", gettext_lazy(
        "Vous ne pouvez pas signaler votre propre contribution : modifiez-la ou supprimez-la.")),
    (None, r"^You already reported", gettext_lazy(
        "Vous avez déjà signalé ce contenu ; un modérateur va l'examiner.")),
    (None, r"^Only staff and coordinators moderate", gettext_lazy(
        "Seuls l'équipe nationale et les coordinateurs modèrent.")),
    (None, r"^Only this consultation's moderators", gettext_lazy(
        "Seuls les modérateurs de cette consultation décident de son contenu.")),
    (None, r"^Moderators cannot moderate their own", gettext_lazy(
        "Un modérateur ne décide pas de ses propres contributions.")),
    (None, r"is not waiting for approval", gettext_lazy("Ce contenu n'attend pas de validation.")),
    (None, r"is already hidden", gettext_lazy("Ce contenu est déjà masqué.")),
    (None, r"is not hidden", gettext_lazy("Ce contenu n'est pas masqué.")),
    (None, r"has no open report", gettext_lazy("Ce contenu n'a aucun signalement en cours.")),
    (None, r"^Only its author may ask for a review", gettext_lazy(
        "Seul son auteur peut demander un réexamen.")),
    (None, r"^A review was already asked for", gettext_lazy(
        "Un réexamen a déjà été demandé : chaque décision n'est réexaminée qu'une fois.")),
    ("q", r"at most", gettext_lazy("Cherchez 200 caractères au plus.")),
    ("q", r"at least one word", gettext_lazy("Cherchez au moins un mot.")),
    # The relay's meeting list (``meetings``).
    (None, r"^Only the relay of this meeting", gettext_lazy(
        "Seul le relais de cette rencontre choisit les propositions qu'il y porte.")),
    (None, r"^This action day is not open", gettext_lazy(
        "Cette journée d'action n'est pas ouverte : sa liste de propositions ne change plus.")),
    (None, r"^Proposal (?P<n>\d+) was merged into proposal (?P<m>\d+): bring", gettext_lazy(
        "La proposition n° %(n)s a été regroupée avec la n° %(m)s : portez plutôt celle-ci.")),
    (None, r"^Proposal (?P<n>\d+) is already on this meeting", gettext_lazy(
        "La proposition n° %(n)s est déjà sur la liste de cette rencontre.")),
    (None, r"^Proposal (?P<n>\d+) is not on this meeting", gettext_lazy(
        "La proposition n° %(n)s n'est pas sur la liste de cette rencontre.")),
    ("proposal", r"^Give the proposal's number", gettext_lazy(
        "Indiquez le numéro de la proposition (par exemple 42).")),
]  # fmt: skip


def french(exc: DomainError) -> str:
    """The French sentence for a domain error (its English message when none is known)."""
    if isinstance(exc, RateLimited):
        return _("Trop d'essais en peu de temps : réessayez dans une heure.")
    found = messages.lookup(exc, FRENCH)
    if found is None:
        return exc.message
    text, values = found
    values = {k: v.replace(",", "\u202f") for k, v in values.items() if v}
    return text % values if values else text


# Where a service's field shows on the page.
FIELD_PLACE = {"file": "attachments", "target": "merge", "parent": "body"}


def place(exc: DomainError, fields: tuple[str, ...]) -> str:
    """The form field an error goes next to: its own when the form has it, else the top."""
    field = FIELD_PLACE.get(exc.field or "", exc.field or "")
    return field if field in fields else "form"


def proposal_precheck(form: dict, *, max_title: int, max_body: int) -> dict[str, str]:
    """Every obvious fault of a proposal form at once (the service stops at the first one,
    and stays the judge: this only spares members a round trip per field)."""
    from nextwork.network.selectors import area_by_code

    errors: dict[str, str] = {}
    for name, limit in (("title", max_title), ("body", max_body)):
        value = form.get(name, "").strip()
        if not value:
            errors[name] = _("Donnez un titre.") if name == "title" else _("Écrivez le texte.")
        elif len(value) > limit:
            errors[name] = _(
                "Ce texte compte %(n)s caractères : %(max)s au plus sont acceptés. "
                "Raccourcissez-le."
            ) % {
                "n": f"{len(value):,}".replace(",", "\u202f"),
                "max": f"{limit:,}".replace(",", "\u202f"),
            }
    code = form.get("area", "").strip()
    if code and (len(code) > 20 or area_by_code(code) is None):
        errors["area"] = _(
            "Territoire « %(code)s » inconnu : indiquez une circonscription (75-02), un "
            "département (75) ou une région (R11)."
        ) % {"code": code[:20]}
    return errors


# -- values ---------------------------------------------------------------------------------------


def text_of(data, name: str, limit: int = 20_000) -> str:
    """A text field, cut far above what any service accepts (the service says what is too
    long; a megabyte of text is not echoed back into the page)."""
    return (data.get(name) or "")[:limit]


def local_input(moment: datetime.datetime | None) -> str:
    """A datetime as a datetime-local input shows it, in Paris time."""
    if moment is None:
        return ""
    return moment.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def parse_local(value: str) -> datetime.datetime | None:
    """A datetime-local input ('2026-12-05T18:30') read in Paris time; None when unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=None).replace(tzinfo=PARIS)


def parse_quota(value: str) -> tuple[int | None, bool]:
    """The supports per member: (number or None, readable)."""
    value = (value or "").strip()
    if not value:
        return None, True
    try:
        return int(value), True
    except ValueError:
        return None, False


ANSWER_CHOICES = AnswerStatus.choices
